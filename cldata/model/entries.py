"""Catalog entries: what a store knows about a recording or a result without opening its data.

A store's catalog holds two kinds of entry. A :class:`RecordingEntry` is a recording's
parameters, its data streams' attributes, where the backend keeps its file and a summary
(duration, counts) shown without opening it. A :class:`ResultEntry` is an analysis
result's identity (kind, identifier, parameters, sources), its tags and the backend's
reference to its payload. On disk an entry is a plain *record* (a dict, ``to_record()``);
records read from a store's files are checked here (:func:`check_record`) before they
become entries, since a damaged or crafted store may hold anything. Ids are plain names
(:func:`is_record_id`): they name files and HDF5 groups.

:func:`lookup` finds a dotted parameter path in nested parameters (``MISSING`` when
absent); every catalog and query uses it.

Examples
--------
>>> entry = RecordingEntry("rec-1", {"culture": {"name": "C7"}}, {}, {}, {})
>>> lookup(entry.parameters, "culture.name"), lookup(entry.parameters, "session")
('C7', MISSING)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cldata.errors import StoreFormatError
from cldata.format.parts import EVENT_PARTS

__all__ = ["RecordingEntry", "ResultEntry", "lookup", "MISSING", "is_record_id", "check_record",
           "recording_entry", "result_entry", "bad_id", "bad_result", "NOT_ID_CHAR", "MAX_ID"]

# The ids a store makes are "rec_<hex>" and "res_<hex>" (earlier versions: "rec-<hex>"). Ids name files
# (overviews/<id>.h5, recordings/<id>.h5, the overview cache) and HDF5 groups (exports), so an id read
# from a store's files must be a plain name: 1 to 128 ASCII letters, digits, "_" and "-". No separator,
# no dot, nothing empty, nothing absolute.
_RECORD_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
NOT_ID_CHAR = re.compile(r"[^A-Za-z0-9_-]")
MAX_ID = 128


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


def check_record(rec: Any) -> None:
    # cheap checks only (catalogs hold 100,000s of records): the rest of a malformed record
    # fails as a TypeError/KeyError that the store reports as StoreFormatError
    if type(rec) is not dict or type(rec.get("kind")) is not str or rec["kind"] not in ("recording", "result") \
            or type(rec.get("id")) is not str or type(rec.get("parameters")) is not dict:
        raise StoreFormatError(f"a catalog record is not a well-formed recording or result: {rec!r:.100}")
    if not is_record_id(rec["id"]):
        raise bad_id(rec["kind"], rec["id"])
    if rec["kind"] == "recording":
        _check_recording_record(rec)


# every table of events (cldata.format.parts) is counted by its name, and the samples by frames
_SUMMARY_COUNTS = (*(p.name for p in EVENT_PARTS), "sample_frames")


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


def bad_result(rid: str, problem: str) -> StoreFormatError:
    return StoreFormatError(f"catalog result {rid!r:.100} is malformed: {problem}; the store is damaged "
                            "(`cldata check` says more)")


def bad_id(kind: str, rid: str) -> StoreFormatError:
    return StoreFormatError(
        f"a catalog {kind} has the id {rid!r:.100}, which is not a plain name (ids are 1 to 128 letters, digits, "
        "'_' and '-', like 'rec_5f2c0d9e8a7b6c5d'); the store is damaged or crafted, refused"
    )


def recording_entry(rec: Mapping[str, Any]) -> RecordingEntry:
    """The entry of a recording record checked by :func:`check_record` (records come freshly decoded:
    their dicts are used, not copied)."""
    return RecordingEntry(rec["id"], rec["parameters"], rec.get("streams") or {}, rec.get("location") or {},
                          rec.get("summary") or {}, rec.get("added_utc", ""))


def result_entry(rec: Mapping[str, Any]) -> ResultEntry:
    """The entry of a result record an engine returns (checked when it was written)."""
    return ResultEntry(rec["id"], rec["type"], rec["identifier"], rec["parameters"], tuple(rec["sources"]),
                       tuple(rec["tags"]), rec.get("payload"), rec.get("summary") or {}, rec.get("added_utc", ""))
