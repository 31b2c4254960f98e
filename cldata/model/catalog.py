"""The in-memory catalog of a store: every recording and result entry, and the indexes queries use.

Backends persist the catalog; when a store opens, it is loaded here once, so that queries
cost the same on every backend. Entries live in rows (their insertion order, which is
also the order of every query result). Parameter lookups go through :class:`ParamIndex`,
an inverted index ``dotted path -> canonical value -> rows`` built per path the first
time the path is queried and kept up to date afterwards; tags, stream names and result
sources are indexed from the start.

Examples
--------
>>> cat = Catalog()
>>> row = cat.add_recording(RecordingEntry("rec-1", {"culture": "C7"}, {}, {}, {}))
>>> cat.recording_index.equal("culture", "C7") == {row}
True
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cldata.core.canonical import Canon, canonical
from cldata.errors import StoreFormatError

__all__ = ["RecordingEntry", "ResultEntry", "ParamIndex", "Catalog", "lookup", "MISSING", "is_record_id"]

# The ids a store makes are "rec_<hex>" and "res_<hex>" (earlier versions: "rec-<hex>"). Ids name files
# (overviews/<id>.h5, recordings/<id>.h5, the overview cache) and HDF5 groups (exports), so an id read
# from a store's files must be a plain name: 1 to 128 ASCII letters, digits, "_" and "-". No separator,
# no dot, nothing empty, nothing absolute.
_RECORD_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_NOT_ID_CHAR = re.compile(r"[^A-Za-z0-9_-]")
_MAX_ID = 128


def is_record_id(value: object) -> bool:
    """Whether ``value`` is a well-formed catalog record id (a plain name, never a path).

    Examples
    --------
    >>> is_record_id("rec_5f2c0d9e8a7b6c5d"), is_record_id("../../x"), is_record_id("/abs/path")
    (True, False, False)
    """
    return type(value) is str and _RECORD_ID.fullmatch(value) is not None


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


def lookup(params: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted ``path`` in nested parameters, or :data:`MISSING`.

    A key that itself contains dots is found too (``{"a.b": 1}`` answers ``"a.b"``).
    """
    if path in params:
        return params[path]
    head, dot, rest = path.partition(".")
    while dot:
        node = params.get(head, MISSING)
        if isinstance(node, Mapping):
            found = lookup(node, rest)
            if found is not MISSING:
                return found
        nxt, dot, rest = rest.partition(".")
        head = f"{head}.{nxt}"
    return MISSING


@dataclass(slots=True)
class RecordingEntry:
    """A recording in the catalog (everything but its data)."""

    id: str
    parameters: dict[str, Any]
    streams: dict[str, dict[str, Any]]  # stream name -> its attributes (application values)
    location: dict[str, Any]  # where the backend keeps the CL file
    summary: dict[str, Any]  # duration, rates, counts: shown without opening the file
    added_utc: str = ""

    def to_record(self) -> dict[str, Any]:
        return {"kind": "recording", "id": self.id, "parameters": self.parameters, "streams": self.streams,
                "location": self.location, "summary": self.summary, "added_utc": self.added_utc}


@dataclass(slots=True)
class ResultEntry:
    """An analysis result in the catalog; its payload stays with the backend until read.

    Its ``id`` is a digest of its identity (identifier, parameters, sources), so two
    entries with the same identity have the same id.
    """

    id: str
    kind: str
    identifier: str
    parameters: dict[str, Any]
    sources: tuple[str, ...]
    tags: tuple[str, ...]
    payload: Any  # the backend's reference to the payload
    summary: dict[str, Any] = field(default_factory=dict)
    added_utc: str = ""

    def to_record(self) -> dict[str, Any]:
        return {"kind": "result", "id": self.id, "type": self.kind, "identifier": self.identifier,
                "parameters": self.parameters, "sources": list(self.sources), "tags": list(self.tags),
                "payload": self.payload, "summary": self.summary, "added_utc": self.added_utc}


def _elements(value: Any) -> list[Canon] | None:
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    return None


class ParamIndex:
    """An inverted index over one kind of entry: ``path -> canonical value -> rows``.

    Parameters
    ----------
    params_of
        The parameters of a live row.
    live_rows
        The live rows, in order (used to build a path's postings on first use).
    """

    def __init__(self, params_of: Callable[[int], Mapping[str, Any]], live_rows: Callable[[], Iterable[int]]):
        self._params_of = params_of
        self._live_rows = live_rows
        self._postings: dict[str, dict[Canon, set[int]]] = {}
        self._elements: dict[str, dict[Canon, set[int]]] = {}
        self._present: dict[str, set[int]] = {}
        self._examples: dict[str, dict[Canon, Any]] = {}
        self._numeric: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    # -- maintenance -------------------------------------------------------------------------

    def _build(self, path: str) -> None:
        self._postings[path] = {}
        self._elements[path] = {}
        self._present[path] = set()
        self._examples[path] = {}
        for row in self._live_rows():
            self._add_path(path, row, self._params_of(row))

    def _add_path(self, path: str, row: int, params: Mapping[str, Any]) -> None:
        value = lookup(params, path)
        if value is MISSING:
            return
        key = canonical(value)
        self._postings[path].setdefault(key, set()).add(row)
        self._examples[path].setdefault(key, value)
        self._present[path].add(row)
        elements = _elements(value)
        if elements:
            for e in elements:
                self._elements[path].setdefault(e, set()).add(row)
        self._numeric.pop(path, None)

    def add(self, row: int, params: Mapping[str, Any]) -> None:
        """Index a new row (for the paths already indexed)."""
        for path in self._postings:
            self._add_path(path, row, params)

    def remove(self, row: int, params: Mapping[str, Any]) -> None:
        """Forget a row."""
        for path in self._postings:
            value = lookup(params, path)
            if value is MISSING:
                continue
            key = canonical(value)
            rows = self._postings[path].get(key)
            if rows is not None:
                rows.discard(row)
                if not rows:
                    del self._postings[path][key]
                    self._examples[path].pop(key, None)
            self._present[path].discard(row)
            for e in _elements(value) or ():
                erows = self._elements[path].get(e)
                if erows is not None:
                    erows.discard(row)
                    if not erows:
                        del self._elements[path][e]
            self._numeric.pop(path, None)

    # -- lookups (the sets returned must not be modified) ----------------------------------------

    def postings(self, path: str) -> dict[Canon, set[int]]:
        """``canonical value -> rows`` for one path."""
        if path not in self._postings:
            self._build(path)
        return self._postings[path]

    def equal(self, path: str, value: Any) -> set[int]:
        """Rows whose parameter at ``path`` equals ``value`` (by canonical value)."""
        return self.postings(path).get(canonical(value), set())

    def contains(self, path: str, element: Any) -> set[int]:
        """Rows whose parameter at ``path`` is a list holding ``element``."""
        self.postings(path)
        return self._elements[path].get(canonical(element), set())

    def present(self, path: str) -> set[int]:
        """Rows that have a parameter at ``path``."""
        self.postings(path)
        return self._present[path]

    def values(self, path: str) -> list[Any]:
        """The distinct values at ``path`` (one original value per canonical value)."""
        self.postings(path)
        return list(self._examples[path].values())

    def has(self, path: str) -> bool:
        """Whether any row has a parameter at ``path``."""
        return bool(self.present(path))

    def paths(self) -> list[str]:
        """Every parameter path of the live rows (for messages that list what is known)."""
        from cldata.core.canonical import flatten

        out: set[str] = set()
        for row in self._live_rows():
            out.update(flatten(self._params_of(row)))
        return sorted(out)

    def range_rows(self, path: str, lo: float | None, hi: float | None, inclusive: tuple[bool, bool]) -> set[int]:
        """Rows whose numeric value at ``path`` lies between ``lo`` and ``hi`` (None: unbounded)."""
        values, rows = self.numeric(path)
        a = 0 if lo is None else int(np.searchsorted(values, lo, side="left" if inclusive[0] else "right"))
        b = values.size if hi is None else int(np.searchsorted(values, hi, side="right" if inclusive[1] else "left"))
        return set(rows[a:max(a, b)].tolist())

    def numeric(self, path: str) -> tuple[np.ndarray, np.ndarray]:
        """Numeric values at ``path`` sorted, with their rows: for range queries."""
        if path not in self._numeric:
            vals, rows = [], []
            for key, rs in self.postings(path).items():
                if isinstance(key, (int, float)) and not isinstance(key, bool):
                    vals.extend([key] * len(rs))
                    rows.extend(rs)
                elif isinstance(key, tuple) and len(key) == 3 and key[0] == "q" and isinstance(key[1], (int, float)):
                    vals.extend([key[1]] * len(rs))  # quantities compare in base SI units
                    rows.extend(rs)
            v = np.asarray(vals, dtype=np.float64)
            r = np.asarray(rows, dtype=np.int64)
            order = np.argsort(v, kind="stable")
            self._numeric[path] = (v[order], r[order])
        return self._numeric[path]


def _check_record(rec: Any) -> None:
    # cheap checks only (catalogs hold 100,000s of records): the rest of a malformed record
    # fails as a TypeError/KeyError that the store reports as StoreFormatError
    if type(rec) is not dict or type(rec.get("kind")) is not str or rec["kind"] not in ("recording", "result") \
            or type(rec.get("id")) is not str or type(rec.get("parameters")) is not dict:
        raise StoreFormatError(f"a catalog record is not a well-formed recording or result: {rec!r:.100}")
    if not is_record_id(rec["id"]):
        raise _bad_id(rec["kind"], rec["id"])
    if rec["kind"] == "recording":
        _check_recording_record(rec)


_SUMMARY_COUNTS = ("spikes", "stims", "sample_frames")


def _whole(value: Any, low: int = 0) -> bool:
    return type(value) is int and low <= value < 2**63


def _check_recording_record(rec: dict[str, Any]) -> None:
    """Every field of a recording record has the type the store reads (recordings are few: all checked)."""
    problem = None
    streams, summary, location = rec.get("streams", {}), rec.get("summary"), rec.get("location")
    if type(streams) is not dict or not all(type(k) is str and type(v) is dict for k, v in streams.items()):
        problem = "its 'streams' are not a dict of stream name -> attributes"
    elif type(location) is not dict:
        problem = "its 'location' is not a dict"
    elif type(location.get("kind")) is str and location["kind"] in ("copy", "link") and (
            type(location.get("path")) is not str or not location["path"]):
        # (other kinds belong to plugin backends, which check their own)
        problem = f"its {location.get('kind')} location has no path"
    elif not all(type(location.get(k, 0)) is int for k in ("size", "crc32", "mtime_ns")):
        problem = "its location's size, crc32 or mtime_ns is not a whole number"
    elif type(summary) is not dict:
        problem = "its 'summary' is not a dict"
    elif not _whole(summary.get("frames_per_second"), 1) or not _whole(summary.get("channel_count"), 1):
        problem = "its summary has no whole frames_per_second and channel_count"
    elif not all(_whole(summary.get(k, 0)) for k in _SUMMARY_COUNTS):
        problem = f"its summary counts ({', '.join(_SUMMARY_COUNTS)}) are not whole numbers"
    elif type(summary.get("duration_s", 0.0)) not in (int, float):
        problem = "its summary's duration_s is not a number"
    elif type(summary.get("streams", {})) is not dict or not all(
            type(k) is str and _whole(v) for k, v in summary.get("streams", {}).items()):
        problem = "its summary's streams are not a dict of stream name -> entry count"
    elif type(summary.get("root_keys", [])) is not list or not all(type(k) is str for k in summary.get("root_keys", [])):
        problem = "its summary's root_keys are not a list of names"
    elif type(rec.get("added_utc", "")) is not str:
        problem = "its added_utc is not a string"
    if problem:
        raise StoreFormatError(f"catalog recording {rec['id']!r} is malformed: {problem}; the store is damaged "
                               "(`cldata check` says more)")


def _bad_result(rid: str, problem: str) -> StoreFormatError:
    return StoreFormatError(f"catalog result {rid!r:.100} is malformed: {problem}; the store is damaged "
                            "(`cldata check` says more)")


def _bad_id(kind: str, rid: str) -> StoreFormatError:
    return StoreFormatError(
        f"a catalog {kind} has the id {rid!r:.100}, which is not a plain name (ids are 1 to 128 letters, digits, "
        "'_' and '-', like 'rec_5f2c0d9e8a7b6c5d'); the store is damaged or crafted, refused"
    )


def recording_entry(rec: Mapping[str, Any]) -> RecordingEntry:
    """The entry of a recording record checked by ``_check_record`` (records come freshly decoded:
    their dicts are used, not copied)."""
    return RecordingEntry(rec["id"], rec["parameters"], rec.get("streams") or {}, rec.get("location") or {},
                          rec.get("summary") or {}, rec.get("added_utc", ""))


class Catalog:
    """All entries of a store, by row, with their indexes."""

    def __init__(self) -> None:
        self.recordings: list[RecordingEntry | None] = []
        self.results: list[ResultEntry | None] = []
        self.recording_rows: dict[str, int] = {}
        self.result_rows: dict[str, int] = {}
        self.results_by_source: dict[str, set[int]] = {}
        self.tags: dict[str, set[int]] = {}
        self.streams: dict[str, set[int]] = {}
        self.recording_index = ParamIndex(lambda r: self.recordings[r].parameters, self.live_recording_rows)  # type: ignore[union-attr]
        self.result_index = ParamIndex(lambda r: self.results[r].parameters, self.live_result_rows)  # type: ignore[union-attr]
        self.result_field_index = ParamIndex(self._result_fields, self.live_result_rows)
        self.stream_index = ParamIndex(self._stream_params, self.live_recording_rows)

    def _result_fields(self, row: int) -> dict[str, Any]:
        entry = self.results[row]
        return {"identifier": entry.identifier, "kind": entry.kind}  # type: ignore[union-attr]

    def _stream_params(self, row: int) -> dict[str, Any]:
        # stream attributes, addressed as "<stream name>.<attribute path>"
        return self.recordings[row].streams  # type: ignore[union-attr]

    # -- rows ------------------------------------------------------------------------------------

    def live_recording_rows(self) -> Iterator[int]:
        return (i for i, e in enumerate(self.recordings) if e is not None)

    def live_result_rows(self) -> Iterator[int]:
        return (i for i, e in enumerate(self.results) if e is not None)

    @property
    def n_recordings(self) -> int:
        return len(self.recording_rows)

    @property
    def n_results(self) -> int:
        return len(self.result_rows)

    # -- changes ---------------------------------------------------------------------------------

    def add_recording(self, entry: RecordingEntry) -> int:
        row = len(self.recordings)
        self.recordings.append(entry)
        self.recording_rows[entry.id] = row
        self.recording_index.add(row, entry.parameters)
        self.stream_index.add(row, entry.streams)
        for name in entry.streams:
            self.streams.setdefault(name, set()).add(row)
        return row

    def remove_recording(self, recording_id: str) -> RecordingEntry:
        row = self.recording_rows.pop(recording_id)
        entry = self.recordings[row]
        assert entry is not None
        self.recording_index.remove(row, entry.parameters)
        self.stream_index.remove(row, entry.streams)
        for name in entry.streams:
            self.streams[name].discard(row)
            if not self.streams[name]:
                del self.streams[name]
        self.recordings[row] = None
        return entry

    def add_result(self, entry: ResultEntry) -> int:
        row = len(self.results)
        self.results.append(entry)
        self.result_rows[entry.id] = row
        if self.result_index._postings:  # only paths already queried are kept up to date
            self.result_index.add(row, entry.parameters)
        if self.result_field_index._postings:
            self.result_field_index.add(row, {"identifier": entry.identifier, "kind": entry.kind})
        self._index_sources_and_tags(row, entry)
        return row

    def add_results(self, entries: Iterable[ResultEntry]) -> list[int]:
        """Add many result entries; return their rows."""
        return [self.add_result(e) for e in entries]

    def existing_result_ids(self, ids: Iterable[str]) -> set[str]:
        """Which of ``ids`` are results of the catalog."""
        return {i for i in ids if i in self.result_rows}

    def result_entries(self, rows: Iterable[int]) -> dict[int, ResultEntry]:
        """The live entries at ``rows`` (the engine catalog reads them in batches)."""
        results = self.results
        return {r: e for r in rows if (e := results[r]) is not None}

    def results_without_own(self, path: str, recording_ids: Iterable[str]) -> set[int]:
        """Rows of results from these recordings that have no parameter ``path`` of their own."""
        present = self.result_index.present(path)
        out: set[int] = set()
        for rid in recording_ids:
            out |= self.results_by_source.get(rid, set()) - present
        return out

    def set_payload_refs(self, refs: Mapping[str, Any]) -> None:
        """Record where the backend put each result's payload (at commit)."""
        for rid, ref in refs.items():
            self.results[self.result_rows[rid]].payload = ref  # type: ignore[union-attr]

    def _index_sources_and_tags(self, row: int, entry: ResultEntry) -> None:
        by_source, tags = self.results_by_source, self.tags
        for source in entry.sources:
            rows = by_source.get(source)
            if rows is None:
                by_source[source] = {row}
            else:
                rows.add(row)
        for tag in entry.tags:
            rows = tags.get(tag)
            if rows is None:
                tags[tag] = {row}
            else:
                rows.add(row)

    def remove_result(self, result_id: str) -> ResultEntry:
        row = self.result_rows.pop(result_id)
        entry = self.results[row]
        assert entry is not None
        self.result_index.remove(row, entry.parameters)
        self.result_field_index.remove(row, {"identifier": entry.identifier, "kind": entry.kind})
        for source in entry.sources:
            rows = self.results_by_source.get(source)
            if rows is not None:
                rows.discard(row)
                if not rows:
                    del self.results_by_source[source]
        for tag in entry.tags:
            rows = self.tags.get(tag)
            if rows is not None:
                rows.discard(row)
                if not rows:
                    del self.tags[tag]
        self.results[row] = None
        return entry

    # -- persistence ---------------------------------------------------------------------------

    def records(self) -> Iterator[dict[str, Any]]:
        """Every live entry as a plain record (recordings first, then results, in row order)."""
        for e in self.recordings:
            if e is not None:
                yield e.to_record()
        for r in self.results:
            if r is not None:
                yield r.to_record()

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]]) -> Catalog:
        """Build a catalog from records as :meth:`records` yields them.

        Raises
        ------
        cldata.errors.StoreFormatError
            For a record that is not what a catalog holds (a damaged or foreign store).
        """
        cat = cls()
        # Opening a store builds 100,000s of results: :meth:`add_result` inlined, without the
        # parameter indexes (built per path on first query). Equal kinds, identifiers, source
        # and tag tuples and commit times are shared by the entries that hold them: fewer
        # objects to keep, and for the garbage collector to walk.
        results, result_rows, index = cat.results, cat.result_rows, cat._index_sources_and_tags
        shared: dict[Any, Any] = {}
        for rec in records:
            if type(rec) is not dict or type(rec.get("kind")) is not str or rec["kind"] != "result":
                cat.add_record(rec)
                continue
            rid, params = rec.get("id"), rec.get("parameters")
            if type(rid) is not str or type(params) is not dict:
                _check_record(rec)
            sources, tags = rec.get("sources", ()), rec.get("tags", ())
            kind, identifier, added = rec.get("type"), rec.get("identifier"), rec.get("added_utc", "")
            summary = rec.get("summary", {})
            # cheap checks only (100,000s of results): the element types of sources and tags
            # are checked below, all at once
            if type(sources) not in (list, tuple) or type(tags) not in (list, tuple) or type(kind) is not str \
                    or type(identifier) is not str or type(added) is not str or type(summary) is not dict:
                raise _bad_result(rid, "its type, identifier, sources, tags, summary or added_utc has the wrong type")
            sources, tags = tuple(sources), tuple(tags)
            entry = ResultEntry(rid, shared.setdefault(kind, kind), shared.setdefault(identifier, identifier), params,
                                shared.setdefault(sources, sources), shared.setdefault(tags, tags),
                                rec.get("payload"), summary, shared.setdefault(added, added))
            row = len(results)
            results.append(entry)
            result_rows[rid] = row
            index(row, entry)
        # every result id checked at once: one search over all of them (a third of the cost of one
        # match per id, and opening a store is mostly this loop)
        if result_rows and (_NOT_ID_CHAR.search("".join(result_rows)) or "" in result_rows
                            or max(map(len, result_rows)) > _MAX_ID):
            raise _bad_id("result", next(r for r in result_rows if not is_record_id(r)))
        # sources and tags are shared tuples (few distinct ones): their elements checked once each
        for value in shared.values():
            if type(value) is tuple and not all(type(x) is str for x in value):
                rid = next(e.id for e in results if e is not None and (e.sources is value or e.tags is value))
                raise _bad_result(rid, "its sources and tags are not all strings")
        return cat

    def add_record(self, rec: Mapping[str, Any]) -> None:
        """Add one persisted record (recording or result).

        Raises
        ------
        cldata.errors.StoreFormatError
            For a record that is not what a catalog holds (a damaged or foreign store).
        """
        _check_record(rec)
        if rec["kind"] == "recording":
            self.add_recording(recording_entry(rec))
        elif rec["kind"] == "result":
            one = Catalog.from_records([rec])  # the same checks as a whole catalog's
            self.add_result(one.results[0])  # type: ignore[arg-type]
        else:  # pragma: no cover - _check_record refuses other kinds
            raise StoreFormatError(f"unknown catalog record kind {rec['kind']!r}")
