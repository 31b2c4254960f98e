"""``EngineResults``: a catalog's results, answered by a catalog engine on disk.

Results may be millions, so nothing is read until asked for: an entry is read when its
row is (and kept in a bounded cache), a parameter condition is one indexed lookup in the
engine, and a view's entries are read in batches (:meth:`EngineResults.entries`). The
answers are the in-memory :class:`cldata.model.catalog.ResultTable`'s questions —
``results[row]``, ``result_rows[id]``, ``results_by_source``, ``tags``, ``result_index``
(the questions of :class:`~cldata.model.param_index.ParamIndex`), ``result_field_index``
— each a small view below that asks the engine at one generation (a reader's snapshot,
or the writer's pending state).

Examples
--------
>>> import cldata, tempfile
>>> store = cldata.open(tempfile.mkdtemp(), mode="a")
>>> part = store.catalog.result_table
>>> type(part).__name__, len(part), part.tags.get("final")
('EngineResults', 0, None)
>>> store.close()
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from cldata.errors import CldataError
from cldata.model.engines.base import CatalogEngine, canon_key, key_canon
from cldata.model.engines.rowset import RowSet
from cldata.model.entries import MISSING, ResultEntry, lookup, result_entry

__all__ = ["EngineResults"]

_CACHE = 200_000  # result entries kept in memory (about 100 MB at most)


_NONE: Any = RowSet(np.empty(0, np.int64))


def _key_or_none(value: Any) -> bytes | None:
    """The key of a queried value, or None for one no stored value can have (an int beyond 64 bits, a
    string that is not UTF-8: nothing in the store was written with it, so nothing matches)."""
    try:
        return canon_key(value)
    except (OverflowError, ValueError, TypeError) as exc:
        if isinstance(exc, CldataError):
            raise  # (a value that is not a parameter at all: the in-memory catalog raises it too)
        return None


class _Results:
    """``catalog.results``: the result entry at a row (None when not visible), read on demand."""

    def __init__(self, cat: EngineResults):
        self._cat = cat
        self.cache: dict[int, ResultEntry | None] = {}

    def __getitem__(self, row: int) -> ResultEntry | None:
        try:
            return self.cache[row]
        except KeyError:
            pass
        self._cat.entries([row])
        return self.cache.get(row)

    def __iter__(self) -> Iterator[ResultEntry]:
        rows = self._cat.engine.result_rows(self._cat.gen)
        for i in range(0, len(rows), 5000):
            part = rows[i:i + 5000]
            entries = self._cat.entries(part)
            yield from (entries[r] for r in part if entries.get(r) is not None)

    def remember(self, row: int, entry: ResultEntry | None) -> None:
        if len(self.cache) >= _CACHE:
            self.cache.clear()
        self.cache[row] = entry


class _ResultIds(Mapping[str, int]):
    """``catalog.result_rows``: result id -> row."""

    def __init__(self, cat: EngineResults):
        self._cat = cat

    def __getitem__(self, result_id: str) -> int:
        row = self._cat.engine.row_of(self._cat.gen, result_id) if type(result_id) is str else None
        if row is None:
            raise KeyError(result_id)
        return row

    def __iter__(self) -> Iterator[str]:
        return (e.id for e in self._cat.results)

    def __len__(self) -> int:
        return len(self._cat)


class _RowsBy(Mapping[str, set[int]]):
    """``catalog.results_by_source`` and ``catalog.tags``: a name -> the rows that have it."""

    def __init__(self, cat: EngineResults, tags: bool):
        self._cat, self._tags = cat, tags

    def __getitem__(self, name: str) -> set[int]:
        engine, gen = self._cat.engine, self._cat.gen
        rows = engine.rows_tagged(gen, name) if self._tags else engine.rows_from(gen, name)
        if not rows:
            raise KeyError(name)
        return rows

    def __iter__(self) -> Iterator[str]:
        if self._tags:
            return iter(self._cat.engine.tags(self._cat.gen))
        return iter(sorted({s for e in self._cat.results for s in e.sources}))

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _ParamIndex:
    """``catalog.result_index``: the questions of :class:`cldata.model.catalog.ParamIndex`, asked of the engine."""

    def __init__(self, cat: EngineResults):
        self._cat = cat

    def equal(self, path: str, value: Any) -> set[int]:
        key = _key_or_none(value)
        return _NONE if key is None else self._cat.engine.rows_with_key(self._cat.gen, path, key)

    def contains(self, path: str, element: Any) -> set[int]:
        key = _key_or_none(element)
        return _NONE if key is None else self._cat.engine.rows_with_key(self._cat.gen, path, key, element=True)

    def present(self, path: str) -> set[int]:
        return self._cat.engine.rows_with_path(self._cat.gen, path)

    def has(self, path: str) -> bool:
        return self._cat.engine.has_path(self._cat.gen, path)

    def paths(self) -> list[str]:
        return self._cat.engine.paths(self._cat.gen)

    def values(self, path: str) -> list[Any]:
        found = self._cat.engine.keys_at(self._cat.gen, path)
        entries = self._cat.entries([row for _, row in found])
        out = []
        for _, row in found:
            value = lookup(entries[row].parameters, path) if row in entries else MISSING
            if value is not MISSING:
                out.append(value)
        return out

    def postings(self, path: str) -> dict[Any, set[int]]:
        out: dict[Any, set[int]] = {}
        for key, row in self._cat.engine.postings(self._cat.gen, path):
            out.setdefault(key_canon(key), set()).add(row)
        return out

    def numeric(self, path: str) -> tuple[np.ndarray, np.ndarray]:
        values, rows = self._cat.engine.numeric(self._cat.gen, path)
        return np.asarray(values, dtype=np.float64), np.asarray(rows, dtype=np.int64)

    def range_rows(self, path: str, lo: float | None, hi: float | None, inclusive: tuple[bool, bool]) -> set[int]:
        return self._cat.engine.range_rows(self._cat.gen, path, lo, hi, inclusive)


class _FieldIndex:
    """``catalog.result_field_index``: ``identifier`` and ``kind`` of results."""

    def __init__(self, cat: EngineResults):
        self._cat = cat

    def equal(self, path: str, value: Any) -> set[int]:
        if type(value) is not str:
            return set()
        return self._cat.engine.rows_with_field(self._cat.gen, path, value)

    def contains(self, path: str, element: Any) -> set[int]:
        return set()

    def present(self, path: str) -> set[int]:
        return set(self._cat.engine.result_rows(self._cat.gen))

    def has(self, path: str) -> bool:
        return len(self._cat) > 0

    def paths(self) -> list[str]:
        return ["identifier", "kind"]

    def values(self, path: str) -> list[Any]:
        return self._cat.engine.field_values(self._cat.gen, path)

    def postings(self, path: str) -> dict[Any, set[int]]:
        return {v: self.equal(path, v) for v in self.values(path)}

    def numeric(self, path: str) -> tuple[np.ndarray, np.ndarray]:
        return np.empty(0, np.float64), np.empty(0, np.int64)

    def range_rows(self, path: str, lo: float | None, hi: float | None, inclusive: tuple[bool, bool]) -> set[int]:
        return set()


class EngineResults:
    """The results of a catalog whose entries live in a catalog engine (see module doc).

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
        self.snapshot = snapshot
        self._added: dict[str, int] = {}  # the rows of the writer's results not committed yet (id -> row)
        self.results = _Results(self)
        self.result_rows = _ResultIds(self)
        self.results_by_source = _RowsBy(self, tags=False)
        self.tags = _RowsBy(self, tags=True)
        self.result_index = _ParamIndex(self)
        self.result_field_index = _FieldIndex(self)

    @property
    def gen(self) -> int:
        """The generation these results are answered at."""
        return self.engine.pending() if self.snapshot is None else self.snapshot

    def __len__(self) -> int:
        return self.engine.result_count(self.gen)

    def live_rows(self) -> Iterator[int]:
        return iter(self.engine.result_rows(self.gen))

    def entries(self, rows: Sequence[int]) -> dict[int, ResultEntry]:
        """The visible entries at ``rows``, read in batches (cached ones from memory)."""
        cache = self.results.cache
        out: dict[int, ResultEntry] = {}
        missing = []
        for r in rows:
            if r in cache:
                if cache[r] is not None:
                    out[r] = cache[r]
            else:
                missing.append(r)
        if missing:
            found = self.engine.results(self.gen, missing)
            for r in missing:
                rec = found.get(r)
                entry = result_entry(rec) if rec is not None else None
                self.results.remember(r, entry)
                if entry is not None:
                    out[r] = entry
            out = {r: out[r] for r in rows if r in out}  # in the order asked for, as the in-memory catalog gives
        return out

    def existing_ids(self, ids: Iterable[str]) -> set[str]:
        """Which of ``ids`` are results (looked up in batches)."""
        return self.engine.existing_ids(self.gen, list(ids))

    def without_own(self, path: str, recording_ids: Iterable[str]) -> set[int]:
        """Rows of results from these recordings that have no parameter ``path`` of their own."""
        return self.engine.rows_from_without(self.gen, list(recording_ids), path)

    # -- changes (the writer's) ----------------------------------------------------------------------

    def add_many(self, entries: Sequence[ResultEntry]) -> list[int]:
        rows = self.engine.add_results([e.to_record() for e in entries])
        for row, entry in zip(rows, entries):
            self.results.remember(row, entry)
            self._added[entry.id] = row
        return rows

    def remove(self, result_id: str) -> ResultEntry:
        row = self.result_rows[result_id]
        entry = self.results[row]
        assert entry is not None
        self.engine.remove_result(row)
        self.results.cache.pop(row, None)
        self._added.pop(result_id, None)
        return entry

    def set_payload_refs(self, refs: Mapping[str, Any]) -> None:
        """Record where the backend put each result's payload (at commit)."""
        by_row = {}
        for rid, ref in refs.items():
            # (the results of this commit were added through this catalog: their rows are known,
            # not looked up one query each)
            row = self._added[rid] if rid in self._added else self.result_rows[rid]
            by_row[row] = ref
            cached = self.results.cache.get(row)
            if cached is not None:
                cached.payload = ref
        self.engine.set_payloads(by_row)
        self._added.clear()  # (called once per commit, with every payload of it)

    def records(self) -> Iterator[dict[str, Any]]:
        return (entry.to_record() for entry in self.results)
