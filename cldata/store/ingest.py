"""What enters a store: a CL file or analysis results made into catalog entries, checked storable.

A recording is stored under an id made from its content (its root attributes and its
summary), so the same file added twice is the same recording. Its parameters are the file's
root attributes, overridden by the ``application`` values the file carries, overridden by
the user's parameters. Its summary (duration, rates, counts per stream) lets the catalog
answer questions without opening the file. Parameters (of recordings and results) are
checked storable by every backend before anything changes in the store. A result's id is
made from its identity (kind, identifier, parameters, sources): the same result added twice
is a duplicate.

Examples
--------
>>> check_storable({"culture": "C7"}, "recording parameters")
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cldata.core.canonical import canonical, digest, plain
from cldata.errors import (
    DuplicateResultError,
    NotFoundError,
    ParameterError,
    UnsupportedValueError,
    ValueOutOfRangeError,
)
from cldata.format.attributes import to_plain
from cldata.format.codec import encode
from cldata.format.parts import EVENT_PARTS
from cldata.format.reader import RecordingView
from cldata.format.writer import RecordingWriter
from cldata.model.catalog import Catalog
from cldata.model.entries import ResultEntry
from cldata.model.results import AnalysisResult, get_result_kind, result_id_for
from cldata.store.layout import now

__all__ = ["check_storable", "source_path", "user_parameters", "read_recording", "result_entries",
           "duplicate_result"]


def check_storable(params: Mapping[str, Any], what: str) -> None:
    """Refuse parameters that cannot be indexed or stored by every backend (before anything changes)."""
    canonical(params)
    try:
        encode(params)
    except (UnsupportedValueError, ValueOutOfRangeError) as exc:
        raise type(exc)(f"{what}: {exc}") from None


def source_path(source: Any) -> Path:
    """The file of what ``add_recording`` was given: a path, a :class:`~cldata.RecordingWriter`
    (closed first) or a :class:`~cldata.RecordingView`."""
    if isinstance(source, RecordingWriter):
        source.close()
        return source.path
    if isinstance(source, RecordingView):
        return source.path
    return Path(source)


def user_parameters(parameters: Any) -> dict[str, Any]:
    """The user's recording parameters as plain, storable values."""
    if parameters is not None and not isinstance(parameters, Mapping):
        raise ParameterError(f"recording parameters are a dict, not {type(parameters).__name__}")
    user = plain(dict(parameters or {}))
    check_storable(user, "recording parameters")  # before any file is copied
    return user


def _parameters(view: RecordingView, user: Mapping[str, Any]) -> dict[str, Any]:
    """Root attributes < the file's ``application`` values < the user's parameters."""
    root = to_plain(view.attributes.to_dict(plain=False))
    params: dict[str, Any] = dict(root)
    application = root.get("application")
    if isinstance(application, Mapping):
        params.update(application)
    params.update(plain(dict(user)))
    return params


def read_recording(path: Path, user: Mapping[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Read the CL file at ``path``: its id, parameters, indexed stream attributes and summary."""
    with RecordingView(path) as view:
        params = _parameters(view, user)
        # a stream's application attributes are indexed when they are a dict, as CL writes
        # them; another value (bytes, a list) stays in the file, unindexed
        streams = {name: to_plain(dict(app)) if isinstance(app := s.attributes.get("application"), Mapping) else {}
                   for name, s in view.data_streams.items()}
        application = view.attributes.get("application")
        summary = {
            "duration_s": view.duration_seconds,
            "frames_per_second": view.frames_per_second,
            "channel_count": view.channel_count,
            # every table of events (cldata.format.parts), counted by its part's name
            **{p.name: len(view.event_tables[p.name]) if p.name in view.event_tables else 0 for p in EVENT_PARTS},
            "sample_frames": int(view.samples.nrows) if view.samples is not None else 0,
            "streams": {name: len(s) for name, s in view.data_streams.items()},
            # which parameters came from the file's root attributes (not the user's)
            "root_keys": sorted(set(view.attributes) - set(user)
                                - set(application if isinstance(application, Mapping) else ())),
        }
        identity = to_plain(view.attributes.to_dict(plain=False))
    return "rec_" + digest(identity, summary), params, streams, summary


def duplicate_result(result: AnalysisResult) -> DuplicateResultError:
    """The error for a result already stored (or given twice)."""
    return DuplicateResultError(
        f"a {type(result).__name__} {result.identifier!r} with parameters {result.parameters} from "
        f"{list(result.sources)} is already stored; open the store with replace=True to replace it")


def result_entries(results: list[AnalysisResult], catalog: Catalog) -> list[ResultEntry]:
    """The catalog entries of ``results`` (payloads not yet written), each checked: a registered
    kind, sources in ``catalog``, storable parameters, no result given twice."""
    staged: list[ResultEntry] = []
    keys: set[str] = set()
    for result in results:
        if not isinstance(result, AnalysisResult):
            raise UnsupportedValueError(f"add_analysis_result takes an AnalysisResult, not {type(result).__name__}")
        kind = type(result).__name__
        if get_result_kind(kind) is not type(result):
            raise UnsupportedValueError(f"result kind {kind} is not registered (use cldata.register_result_kind)")
        missing = [s for s in result.sources if s not in catalog.recording_rows]
        if missing:
            raise NotFoundError(f"result {result.identifier!r} comes from {missing}, which are not in the store")
        check_storable(result.parameters, f"parameters of result {result.identifier!r}")
        rid = result_id_for(result.key)  # the id is the identity
        if rid in keys:
            raise duplicate_result(result)
        keys.add(rid)
        staged.append(ResultEntry(rid, kind, result.identifier, result.parameters,
                                  result.sources, result.tags, None, result.summary(), now()))
    return staged
