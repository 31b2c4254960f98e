"""``EngineCatalog``: the catalog the store and its queries use, answered by a catalog engine.

Queries talk to a catalog through the questions of
:class:`cldata.model.catalog.CatalogQueries` (``recording_index.equal``, ``results[row]``,
``results_by_source.get``, ``tags``...). The in-memory :class:`~cldata.model.catalog.Catalog`
answers them from dicts and sets; :class:`EngineCatalog` answers the same questions from a
:class:`~cldata.model.engines.base.CatalogEngine` on disk, at one generation (a reader's
snapshot, or the writer's pending state). It is made of two parts:

- **recordings** are few (one per culture and session): they are read when the catalog is
  made and kept in a :class:`~cldata.model.catalog.RecordingTable` in memory, with the same
  indexes as the in-memory catalog; the writer's changes go to the engine and the table;
- **results** may be millions: an :class:`~cldata.model.engines.engine_results.EngineResults`
  reads them from the engine when asked.

Examples
--------
>>> import cldata, tempfile
>>> store = cldata.open(tempfile.mkdtemp(), mode="a")
>>> type(store.catalog).__name__, store.catalog.n_results
('EngineCatalog', 0)
>>> store.close()
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from cldata.errors import StoreFormatError
from cldata.model.catalog import RecordingTable, TableRows
from cldata.model.engines.base import CatalogEngine
from cldata.model.engines.engine_results import EngineResults
from cldata.model.entries import RecordingEntry, ResultEntry, check_record, recording_entry

__all__ = ["EngineCatalog"]


class EngineCatalog(TableRows):
    """The catalog of a store whose entries live in a catalog engine (see module doc).

    Parameters
    ----------
    engine
        The open engine.
    snapshot
        The generation a reader sees; ``None`` for the writer, who sees the last commit and
        its own changes since.
    """

    def __init__(self, engine: CatalogEngine, snapshot: int | None):
        self.engine = engine
        self.recording_table = RecordingTable()
        self.result_table = EngineResults(engine, snapshot)
        for rec in engine.recordings(self.gen):
            try:
                check_record(rec)
                if rec["kind"] != "recording":
                    raise StoreFormatError(f"the catalog holds a {rec['kind']!r} among its recordings")
                self.recording_table.add(recording_entry(rec))  # (in memory only: not written back)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise StoreFormatError(f"the catalog holds a malformed recording ({type(exc).__name__}: {exc}); "
                                       "`cldata check` says more") from None
        recs, res = self.recording_table, self.result_table
        self.recordings, self.recording_rows, self.streams = recs.recordings, recs.recording_rows, recs.streams
        self.recording_index, self.stream_index = recs.recording_index, recs.stream_index
        self.results, self.result_rows = res.results, res.result_rows
        self.results_by_source, self.tags = res.results_by_source, res.tags
        self.result_index, self.result_field_index = res.result_index, res.result_field_index

    @property
    def gen(self) -> int:
        """The generation this catalog answers at."""
        return self.result_table.gen

    # -- rows (the others: TableRows) ----------------------------------------------------------------

    def existing_result_ids(self, ids: Iterable[str]) -> set[str]:
        """Which of ``ids`` are results of the catalog (looked up in batches)."""
        return self.result_table.existing_ids(ids)


    # -- changes (the writer's) ----------------------------------------------------------------------

    def add_recording(self, entry: RecordingEntry) -> int:
        self.engine.add_recording(entry.to_record())
        return self.recording_table.add(entry)

    def remove_recording(self, recording_id: str) -> RecordingEntry:
        self.engine.remove_recording(recording_id)
        return self.recording_table.remove(recording_id)

    def add_result(self, entry: ResultEntry) -> int:
        return self.result_table.add_many([entry])[0]

    def add_results(self, entries: Sequence[ResultEntry]) -> list[int]:
        """Add many result entries; return their rows."""
        return self.result_table.add_many(entries)

    def remove_result(self, result_id: str) -> ResultEntry:
        return self.result_table.remove(result_id)

    def set_payload_refs(self, refs: Mapping[str, Any]) -> None:
        """Record where the backend put each result's payload (at commit)."""
        self.result_table.set_payload_refs(refs)

    def records(self) -> Iterator[dict[str, Any]]:
        """Every visible entry as a plain record (recordings first, then results, in row order)."""
        yield from self.recording_table.records()
        yield from self.result_table.records()
