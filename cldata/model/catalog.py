"""The catalog of a store: every recording and result entry, and the indexes queries use.

A catalog answers the questions queries ask — which rows hold a parameter value, which
results come from a recording or carry a tag, the entry at a row — so that a query is a
pure function of (catalog, selection), whatever keeps the entries. Entries live in rows
(their insertion order, which is also the order of every query result).

A catalog is made of two parts, each with its own indexes:

- :class:`RecordingTable`, the recordings: few (one per culture and session), so always
  in memory, with a :class:`~cldata.model.param_index.ParamIndex` over their parameters
  and one over their streams' attributes;
- the results, which may be millions: :class:`ResultTable` keeps them in memory (this
  module), :class:`cldata.model.engines.EngineCatalog` reads them from an on-disk catalog
  engine when asked.

:class:`Catalog` is the in-memory catalog (a ``RecordingTable`` and a ``ResultTable``).
It and ``EngineCatalog`` answer the same questions, listed in :class:`CatalogQueries`;
queries use only those.

Examples
--------
>>> cat = Catalog()
>>> row = cat.add_recording(RecordingEntry("rec-1", {"culture": "C7"}, {}, {}, {}))
>>> cat.recording_index.equal("culture", "C7") == {row}
True
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from typing import Any, Protocol

from cldata.model.entries import (
    MAX_ID,
    NOT_ID_CHAR,
    RecordingEntry,
    ResultEntry,
    bad_id,
    bad_result,
    check_record,
    is_record_id,
    recording_entry,
)
from cldata.model.param_index import ParamIndex

# (the entries are in cldata.model.entries, the index in cldata.model.param_index; the 0.2 path
# cldata.catalog still finds them here, as this module imports them)
__all__ = ["CatalogQueries", "RecordingTable", "ResultTable", "TableRows", "Catalog"]


class CatalogQueries(Protocol):
    """The questions a catalog answers, which queries and views ask (both catalogs answer them).

    Rows are ints; the sets returned must not be modified. ``results[row]`` is the result
    entry at a row (``None`` once removed); ``result_rows[id]`` a result's row.
    """

    recordings: Sequence[RecordingEntry | None]
    recording_rows: Mapping[str, int]
    streams: Mapping[str, set[int]]
    recording_index: ParamIndex
    stream_index: ParamIndex
    results: Any  # row -> ResultEntry | None, iterable over the live entries
    result_rows: Mapping[str, int]
    results_by_source: Mapping[str, set[int]]
    tags: Mapping[str, set[int]]
    result_index: Any  # the questions of ParamIndex
    result_field_index: Any  # the questions of ParamIndex, over "identifier" and "kind"

    @property
    def n_recordings(self) -> int: ...

    @property
    def n_results(self) -> int: ...

    def live_recording_rows(self) -> Iterator[int]: ...

    def live_result_rows(self) -> Iterator[int]: ...

    def result_entries(self, rows: Sequence[int]) -> dict[int, ResultEntry]: ...

    def existing_result_ids(self, ids: Iterable[str]) -> set[str]: ...

    def results_without_own(self, path: str, recording_ids: Iterable[str]) -> set[int]: ...


def _add_row(index: MutableMapping[str, set[int]], names: Iterable[str], row: int) -> None:
    for name in names:
        rows = index.get(name)
        if rows is None:
            index[name] = {row}
        else:
            rows.add(row)


def _drop_row(index: MutableMapping[str, set[int]], names: Iterable[str], row: int) -> None:
    for name in names:
        rows = index.get(name)
        if rows is not None:
            rows.discard(row)
            if not rows:
                del index[name]


class RecordingTable:
    """The recordings of a catalog, in memory, by row, with their indexes.

    Examples
    --------
    >>> table = RecordingTable()
    >>> table.add(RecordingEntry("rec-1", {"culture": "C7"}, {"score": {}}, {}, {}))
    0
    >>> table.streams, len(table)
    ({'score': {0}}, 1)
    """

    def __init__(self) -> None:
        self.recordings: list[RecordingEntry | None] = []
        self.recording_rows: dict[str, int] = {}
        self.streams: dict[str, set[int]] = {}
        self.recording_index = ParamIndex(lambda r: self.recordings[r].parameters, self.live_rows)  # type: ignore[union-attr]
        # stream attributes, addressed as "<stream name>.<attribute path>"
        self.stream_index = ParamIndex(lambda r: self.recordings[r].streams, self.live_rows)  # type: ignore[union-attr]

    def __len__(self) -> int:
        return len(self.recording_rows)

    def live_rows(self) -> Iterator[int]:
        return (i for i, e in enumerate(self.recordings) if e is not None)

    def add(self, entry: RecordingEntry) -> int:
        row = len(self.recordings)
        self.recordings.append(entry)
        self.recording_rows[entry.id] = row
        self.recording_index.add(row, entry.parameters)
        self.stream_index.add(row, entry.streams)
        _add_row(self.streams, entry.streams, row)
        return row

    def remove(self, recording_id: str) -> RecordingEntry:
        row = self.recording_rows.pop(recording_id)
        entry = self.recordings[row]
        assert entry is not None
        self.recording_index.remove(row, entry.parameters)
        self.stream_index.remove(row, entry.streams)
        _drop_row(self.streams, entry.streams, row)
        self.recordings[row] = None
        return entry

    def records(self) -> Iterator[dict[str, Any]]:
        return (e.to_record() for e in self.recordings if e is not None)


def _fields(entry: ResultEntry) -> dict[str, Any]:
    return {"identifier": entry.identifier, "kind": entry.kind}


class ResultTable:
    """The results of a catalog, in memory, by row, with their indexes.

    Parameter postings are built per path on the first query of it (:class:`ParamIndex`);
    sources and tags are indexed from the start.
    """

    def __init__(self) -> None:
        self.results: list[ResultEntry | None] = []
        self.result_rows: dict[str, int] = {}
        self.results_by_source: dict[str, set[int]] = {}
        self.tags: dict[str, set[int]] = {}
        self.result_index = ParamIndex(lambda r: self.results[r].parameters, self.live_rows)  # type: ignore[union-attr]
        self.result_field_index = ParamIndex(lambda r: _fields(self.results[r]), self.live_rows)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(self.result_rows)

    def live_rows(self) -> Iterator[int]:
        return (i for i, e in enumerate(self.results) if e is not None)

    def add(self, entry: ResultEntry) -> int:
        row = len(self.results)
        self.results.append(entry)
        self.result_rows[entry.id] = row
        if self.result_index.active:  # only paths already queried are kept up to date
            self.result_index.add(row, entry.parameters)
        if self.result_field_index.active:
            self.result_field_index.add(row, _fields(entry))
        _add_row(self.results_by_source, entry.sources, row)
        _add_row(self.tags, entry.tags, row)
        return row

    def remove(self, result_id: str) -> ResultEntry:
        row = self.result_rows.pop(result_id)
        entry = self.results[row]
        assert entry is not None
        self.result_index.remove(row, entry.parameters)
        self.result_field_index.remove(row, _fields(entry))
        _drop_row(self.results_by_source, entry.sources, row)
        _drop_row(self.tags, entry.tags, row)
        self.results[row] = None
        return entry

    def entries(self, rows: Iterable[int]) -> dict[int, ResultEntry]:
        results = self.results
        return {r: e for r in rows if (e := results[r]) is not None}

    def without_own(self, path: str, recording_ids: Iterable[str]) -> set[int]:
        present = self.result_index.present(path)
        out: set[int] = set()
        for rid in recording_ids:
            out |= self.results_by_source.get(rid, set()) - present
        return out

    def records(self) -> Iterator[dict[str, Any]]:
        return (e.to_record() for e in self.results if e is not None)

    def load(self, records: Iterable[Any], other: Any) -> None:
        """Add persisted records, results in bulk; ``other(rec)`` takes every record that is not a result.

        Opening a store builds 100,000s of results: :meth:`add` inlined, without the parameter
        indexes (built per path on first query). Equal kinds, identifiers, source and tag tuples
        and commit times are shared by the entries that hold them: fewer objects to keep, and
        for the garbage collector to walk.

        Raises
        ------
        cldata.errors.StoreFormatError
            For a record that is not what a catalog holds (a damaged or foreign store).
        """
        results, result_rows = self.results, self.result_rows
        by_source, by_tag = self.results_by_source, self.tags
        shared: dict[Any, Any] = {}
        for rec in records:
            if type(rec) is not dict or type(rec.get("kind")) is not str or rec["kind"] != "result":
                other(rec)
                continue
            rid, params = rec.get("id"), rec.get("parameters")
            if type(rid) is not str or type(params) is not dict:
                check_record(rec)
            sources, tags = rec.get("sources", ()), rec.get("tags", ())
            kind, identifier, added = rec.get("type"), rec.get("identifier"), rec.get("added_utc", "")
            summary = rec.get("summary", {})
            # cheap checks only (100,000s of results): the element types of sources and tags
            # are checked below, all at once
            if type(sources) not in (list, tuple) or type(tags) not in (list, tuple) or type(kind) is not str \
                    or type(identifier) is not str or type(added) is not str or type(summary) is not dict:
                raise bad_result(rid, "its type, identifier, sources, tags, summary or added_utc has the wrong type")
            sources, tags = tuple(sources), tuple(tags)
            entry = ResultEntry(rid, shared.setdefault(kind, kind), shared.setdefault(identifier, identifier), params,
                                shared.setdefault(sources, sources), shared.setdefault(tags, tags),
                                rec.get("payload"), summary, shared.setdefault(added, added))
            row = len(results)
            results.append(entry)
            result_rows[rid] = row
            _add_row(by_source, entry.sources, row)
            _add_row(by_tag, entry.tags, row)
        # every result id checked at once: one search over all of them (a third of the cost of one
        # match per id, and opening a store is mostly this loop)
        if result_rows and (NOT_ID_CHAR.search("".join(result_rows)) or "" in result_rows
                            or max(map(len, result_rows)) > MAX_ID):
            raise bad_id("result", next(r for r in result_rows if not is_record_id(r)))
        # sources and tags are shared tuples (few distinct ones): their elements checked once each
        for value in shared.values():
            if type(value) is tuple and not all(type(x) is str for x in value):
                rid = next(e.id for e in results if e is not None and (e.sources is value or e.tags is value))
                raise bad_result(rid, "its sources and tags are not all strings")


class TableRows:
    """The row questions of :class:`CatalogQueries`, answered by a catalog's two parts.

    A catalog made of a recording table (``recording_table``) and a result part
    (``result_table``: a :class:`ResultTable` in memory, or an engine's results) asks them;
    :class:`Catalog` and :class:`~cldata.model.engines.EngineCatalog` share these answers.
    """

    recording_table: RecordingTable
    result_table: Any

    def live_recording_rows(self) -> Iterator[int]:
        return self.recording_table.live_rows()

    def live_result_rows(self) -> Iterator[int]:
        return self.result_table.live_rows()

    @property
    def n_recordings(self) -> int:
        return len(self.recording_table)

    @property
    def n_results(self) -> int:
        return len(self.result_table)

    def result_entries(self, rows: Iterable[int]) -> dict[int, ResultEntry]:
        """The live entries at ``rows`` (an engine's results read them in batches)."""
        return self.result_table.entries(rows)

    def results_without_own(self, path: str, recording_ids: Iterable[str]) -> set[int]:
        """Rows of results from these recordings that have no parameter ``path`` of their own."""
        return self.result_table.without_own(path, recording_ids)


class Catalog(TableRows):
    """All entries of a store, in memory: a :class:`RecordingTable` and a :class:`ResultTable`.

    It answers :class:`CatalogQueries` with its parts' own containers (the same objects, so
    a query pays nothing for the composition).

    Examples
    --------
    >>> cat = Catalog.from_records([{"kind": "result", "id": "res_1", "type": "SingleValue",
    ...                              "identifier": "rate", "parameters": {"bin": 1}, "sources": ["rec_1"],
    ...                              "tags": ["final"], "payload": None}])
    >>> cat.n_results, cat.tags
    (1, {'final': {0}})
    """

    def __init__(self) -> None:
        self.recording_table = RecordingTable()
        self.result_table = ResultTable()
        recs, res = self.recording_table, self.result_table
        self.recordings, self.recording_rows, self.streams = recs.recordings, recs.recording_rows, recs.streams
        self.recording_index, self.stream_index = recs.recording_index, recs.stream_index
        self.results, self.result_rows = res.results, res.result_rows
        self.results_by_source, self.tags = res.results_by_source, res.tags
        self.result_index, self.result_field_index = res.result_index, res.result_field_index

    # -- rows (the others: TableRows) ----------------------------------------------------------------

    def existing_result_ids(self, ids: Iterable[str]) -> set[str]:
        """Which of ``ids`` are results of the catalog."""
        return {i for i in ids if i in self.result_rows}


    # -- changes ---------------------------------------------------------------------------------

    def add_recording(self, entry: RecordingEntry) -> int:
        return self.recording_table.add(entry)

    def remove_recording(self, recording_id: str) -> RecordingEntry:
        return self.recording_table.remove(recording_id)

    def add_result(self, entry: ResultEntry) -> int:
        return self.result_table.add(entry)

    def add_results(self, entries: Iterable[ResultEntry]) -> list[int]:
        """Add many result entries; return their rows."""
        return [self.result_table.add(e) for e in entries]

    def remove_result(self, result_id: str) -> ResultEntry:
        return self.result_table.remove(result_id)

    def set_payload_refs(self, refs: Mapping[str, Any]) -> None:
        """Record where the backend put each result's payload (at commit)."""
        for rid, ref in refs.items():
            self.results[self.result_rows[rid]].payload = ref  # type: ignore[union-attr]

    # -- persistence ---------------------------------------------------------------------------

    def records(self) -> Iterator[dict[str, Any]]:
        """Every live entry as a plain record (recordings first, then results, in row order)."""
        yield from self.recording_table.records()
        yield from self.result_table.records()

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]]) -> Catalog:
        """Build a catalog from records as :meth:`records` yields them.

        Raises
        ------
        cldata.errors.StoreFormatError
            For a record that is not what a catalog holds (a damaged or foreign store).
        """
        cat = cls()
        cat.result_table.load(records, cat.add_record)
        return cat

    def add_record(self, rec: Mapping[str, Any]) -> None:
        """Add one persisted record (recording or result).

        Raises
        ------
        cldata.errors.StoreFormatError
            For a record that is not what a catalog holds (a damaged or foreign store).
        """
        check_record(rec)
        if rec["kind"] == "recording":
            self.add_recording(recording_entry(rec))
        else:  # (check_record refuses other kinds)
            one = ResultTable()
            one.load([rec], check_record)  # the same checks as a whole catalog's
            self.add_result(one.results[0])  # type: ignore[arg-type]

