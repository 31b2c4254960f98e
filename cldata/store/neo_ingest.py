"""What enters a store from neo: segments, blocks and neo-readable files, made into recordings.

The model: a store holds recordings of two layouts. A CL recording is a CL file
(:mod:`cldata.store.ingest`); a *neo recording* is one :class:`neo.Segment` written in the
neo layout of :mod:`cldata.format.neo_file` (analog and irregular signals, spike trains
with waveforms, events, epochs, every annotation; no pickles), kept by the backend exactly
as a CL file is (copied under ``recordings/<id>.h5``) and opened as a
:class:`~cldata.format.neo_file.NeoRecordingView`. ``add_recording`` accepts a
``neo.Segment``, a ``neo.Block`` (one recording per segment) or a file that is not a CL
recording but that neo can read (``"data.nix"``, ...).

Each segment is written to a temporary file first; what the store records is read back
from that file, so a recording is what the store will return:

- its **id** is made from its content (every object's kind, name, units, times and data
  bytes, and every annotation), so the same segment added twice is the same recording
  (:class:`~cldata.errors.DuplicateRecordingError`);
- its **parameters** are the block's annotations, overridden by the segment's, overridden by
  the user's parameters (annotations that cannot be parameters, such as objects, stay in
  the file but are not indexed; their names are in the summary's ``unindexed``);
- its **summary** says ``layout: "neo"`` and has what the catalog and displays need
  (duration, the timebase's frames per second, channels, spikes, stims — the events
  marked as stimulations —, signal and spike-train counts), so nothing is opened to list or count.

Examples
--------
>>> rid = store.add_recording(segment, {"subject": "rat1"})       # doctest: +SKIP
>>> rids = store.add_recording("session.nix")                    # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import neo
import numpy as np
import quantities as pq

from cldata.core.canonical import digest, plain
from cldata.errors import CldataError, NotARecordingError, UnsafeContentError, UnsupportedValueError
from cldata.format.neo_file import NeoRecordingView, is_neo_recording, neo_segments, write_neo_recording
from cldata.format.parts import EVENT_PARTS
from cldata.store.ingest import check_storable

__all__ = ["NEO_LAYOUT", "is_neo_source", "neo_recordings", "read_neo_recording", "content_digest", "clipped_span"]

#: The ``layout`` of a neo recording's summary (a CL recording's summary has none).
NEO_LAYOUT = "neo"

#: Files neo could read only by unpickling them: refused (nothing read from a file may run code).
_PICKLES = {".pkl", ".pickle"}
#: Suffixes both CL and neo use: such a file is tried as a CL recording first.
_CL_SUFFIXES = {".h5", ".hdf5", ""}


def _neo_suffixes() -> set[str]:
    return {"." + e.lower() for io in neo.io.iolist for e in io.extensions}


def is_neo_source(source: Any) -> bool:
    """Whether ``add_recording`` should take ``source`` through neo: a Segment, a Block, a
    :class:`~cldata.format.neo_file.NeoRecordingView`, a file in the neo layout, or a file
    whose suffix only neo knows (``.nix``...). (Another file is tried as a CL recording first.)"""
    if isinstance(source, (neo.Segment, neo.Block, NeoRecordingView)):
        return True
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            return False
        suffix = path.suffix.lower()
        # a .nix file (HDF5) is neo's, not a damaged CL file: it goes to neo directly
        return is_neo_recording(path) or (suffix not in _CL_SUFFIXES and suffix in _neo_suffixes() | _PICKLES)
    return False


def neo_recordings(source: Any, cl_error: CldataError | None = None) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Each recording of ``source`` as ``(a file in the neo layout, the annotations of its block)``.

    A segment or block is written, segment by segment, to a temporary file that is removed
    when the caller moves on to the next one; a file already in the neo layout is itself.

    ``cl_error`` is why ``source``, a file, is not a CL recording (its type is raised if neo
    cannot read it either).

    Raises
    ------
    cldata.errors.NotARecordingError
        If ``source`` is a file that neither cldata nor neo can read.
    cldata.errors.UnsafeContentError
        For a pickle (neo's PickleIO would run code from the file).
    """
    if isinstance(source, NeoRecordingView) and source.time_window.is_everything:
        source = source.path
    if isinstance(source, (str, os.PathLike)) and is_neo_recording(Path(source)):
        yield Path(source), {}
        return
    if isinstance(source, NeoRecordingView):  # a window of one: what it shows
        segments, block = [source.segment(lazy=False)], None
    elif isinstance(source, neo.Block):
        segments, block = list(source.segments), source
    elif isinstance(source, neo.Segment):
        segments, block = [source], source.block
    else:
        if Path(source).suffix.lower() in _PICKLES:
            raise UnsafeContentError(f"{source} is a pickle, which cldata never reads (unpickling runs code from the "
                                     "file); load it yourself if you trust it and add the neo.Block")
        try:
            segments = neo_segments(source)
        except Exception as exc:  # neo.io raises anything: IOError, ValueError, its own classes...
            why = f"{type(exc).__name__}: {exc}"
            raise (type(cl_error) if cl_error is not None else NotARecordingError)(
                f"{source} is neither a CL recording{f' ({cl_error})' if cl_error else ''} nor a file neo can read "
                f"({why:.300}); add a CL file, a neo.Segment or neo.Block, or a file of a format neo.io reads "
                "(.nix, .smr, ...)"
            ) from None
        block = segments[0].block if segments else None
    if not segments:
        raise NotARecordingError(f"{source} holds no neo segment: nothing to add")
    block_annotations = dict(block.annotations) if block is not None else {}
    with tempfile.TemporaryDirectory(prefix="cldata-neo-") as tmp:
        for k, segment in enumerate(segments):
            path = write_neo_recording(segment, Path(tmp) / f"segment-{k}.h5")
            yield path, block_annotations
            path.unlink(missing_ok=True)


def _indexable(annotations: Mapping[str, Any], unindexed: list[str]) -> dict[str, Any]:
    """The annotations that can be parameters (plain, storable values); the others' names go to ``unindexed``."""
    out: dict[str, Any] = {}
    for key, value in annotations.items():
        try:
            if not isinstance(key, str):
                raise UnsupportedValueError(f"annotation name {key!r} is not a string")
            value = plain(value)
            check_storable({key: value}, "annotation")
        except (UnsupportedValueError, CldataError, TypeError, ValueError):
            unindexed.append(str(key))
            continue
        out[key] = value
    return out


def read_neo_recording(path: Path, block_annotations: Mapping[str, Any],
                       user: Mapping[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A neo-layout file's id, parameters, (no) streams and summary, as :func:`~cldata.store.ingest.read_recording` gives a CL file's."""
    with NeoRecordingView(path) as view:
        segment = view.segment(lazy=False)
        unindexed: list[str] = []
        params = _indexable(block_annotations, unindexed)
        params.update(_indexable(view.annotations, unindexed))
        params.update(user)
        spikes = view.read_spikes(waveforms=False)
        summary: dict[str, Any] = {
            "layout": NEO_LAYOUT,
            "duration_s": float(view.duration_seconds),
            "t_start_s": float(view.t_start.rescale(pq.s).magnitude),
            "frames_per_second": _number(view.frames_per_second),
            "channel_count": int(view.channel_count),
            **{p.name: 0 for p in EVENT_PARTS},
            "spikes": int(len(spikes)),
            "stims": int(len(view.read_stims())),  # events marked as stimulations (see NeoRecordingView)
            "sample_frames": 0,
            "streams": {},
            "signals": int(view.signal_count),
            "irregular_signals": len(segment.irregularlysampledsignals),
            "spike_trains": int(view.spike_train_count),
            "events": len(segment.events),
            "epochs": len(segment.epochs),
            "root_keys": [],
            "unindexed": sorted(set(unindexed) - set(user)),
        }
        content = content_digest(segment)
    return "rec_" + digest({"layout": NEO_LAYOUT, "content": content}, summary), params, {}, summary


def clipped_span(view: NeoRecordingView) -> tuple[float, float]:
    """The view's window in seconds on the segment's axis, within the segment's extent."""
    t_start, t_stop = float(view.t_start.rescale(pq.s).magnitude), float(view.t_stop.rescale(pq.s).magnitude)
    t0, t1 = view.span
    t0 = t_start if t0 is None else min(max(t0, t_start), t_stop)
    t1 = t_stop if t1 is None else min(max(t1, t0), t_stop)
    return t0, t1


def _number(value: Any) -> int | float:
    value = float(value)
    return int(value) if value.is_integer() else value


def content_digest(segment: neo.Segment) -> str:
    """A digest of everything a segment holds: each object's kind, name, units, times, data
    bytes and annotations, in order (the same segment gives the same digest on any machine)."""
    h = hashlib.sha256()

    def feed(*parts: Any) -> None:
        h.update(repr(parts).encode())

    def feed_array(a: Any) -> None:
        arr = np.ascontiguousarray(np.asarray(a))
        feed(arr.dtype.str, arr.shape)
        if arr.dtype.kind == "O":
            feed([repr(x) for x in arr.ravel().tolist()])
        else:
            h.update(arr.tobytes())

    def feed_object(obj: Any) -> None:
        feed(type(obj).__name__, getattr(obj, "name", None), getattr(obj, "description", None),
             sorted((str(k), repr(v)) for k, v in (getattr(obj, "annotations", None) or {}).items()))
        for attr in ("units", "t_start", "t_stop", "sampling_rate", "left_sweep"):
            v = getattr(obj, attr, None)
            if isinstance(v, pq.Quantity):
                feed(attr, str(v.dimensionality))
                feed_array(v.magnitude)
        if isinstance(obj, pq.Quantity):
            feed_array(obj.magnitude)
        for attr in ("times", "durations", "labels", "waveforms"):
            v = getattr(obj, attr, None)
            if v is not None and not (attr == "times" and obj is v):
                feed(attr)
                feed_array(v.magnitude if isinstance(v, pq.Quantity) else v)
        for key, arr in sorted((getattr(obj, "array_annotations", None) or {}).items()):
            feed("array_annotation", key)
            feed_array(arr)

    feed_object(segment)
    for group in ("analogsignals", "irregularlysampledsignals", "spiketrains", "events", "epochs", "imagesequences"):
        for obj in getattr(segment, group, []):
            feed(group)
            feed_object(obj)
    return h.hexdigest()[:32]
