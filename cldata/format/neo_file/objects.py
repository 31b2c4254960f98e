"""Reading the objects of a neo-segment file, whole or within a time window ``[t0, t1)``.

A :class:`NeoFile` is the open file: its segment attributes and, for every object, its
``meta`` (small: read when the file is opened) and the shapes of its arrays. :meth:`NeoFile.load`
builds one neo object, reading from disk only the rows that lie in the window.

Windows are half-open everywhere: a sample, spike, event, irregular sample or epoch (by its
start time) is kept when ``t0 <= t < t1``, in seconds on the segment's own time axis; a sample
at ``t_start + k / rate`` counts as lying at that time up to 1e-9 of a sample period (the
rounding of the arithmetic). A spike train keeps ``t_start = max(t_start, t0)`` and ``t_stop =
min(t_stop, t1)``; a windowed analog signal starts at its first kept sample.

Examples
--------
>>> f = NeoFile("seg.h5")                                               # doctest: +SKIP
>>> f.load("spiketrains", 0, (1.0, 2.0)).times                         # doctest: +SKIP
array([1.2, 1.7]) * s
"""

from __future__ import annotations

import datetime as _dt
import math
import os
from pathlib import Path
from typing import Any

import neo
import numpy as np
import quantities as pq
import tables

from cldata.errors import CldataError, CorruptRecordingError, NotARecordingError
from cldata.format.attributes import read_attributes
from cldata.format.hdf5_open import open_hdf5
from cldata.format.neo_file.layout import (
    COMMON_META,
    KINDS,
    LAYOUT,
    LAYOUT_ATTR,
    LAYOUT_VERSION,
    META,
    SEGMENT_META,
    SEGMENT_NODE,
    VERSION_ATTR,
    member_name,
)
from cldata.format.neo_file.values import unpack
from cldata.format.node_guard import check_declared_size, is_object_node

__all__ = ["NeoFile", "Span", "layout_of", "seconds"]

#: A window in seconds, ``(t0, t1)``; ``None`` on a side leaves it open.
Span = tuple[float | None, float | None]
_TOLERANCE = 1e-9


def seconds(q: Any) -> float:
    """A time quantity as float seconds."""
    return float(pq.Quantity(q).rescale(pq.s).magnitude)


def layout_of(h5: tables.File) -> tuple[str | None, int | None]:
    """The ``(layout, version)`` the root attributes declare (``None`` where absent or not plain)."""
    attrs = read_attributes(h5.root, h5.filename)  # pickled attributes only through cldata's allow-list
    layout, version = attrs.get(LAYOUT_ATTR), attrs.get(VERSION_ATTR)
    layout = layout if isinstance(layout, str) else None
    version = int(version) if isinstance(version, (int, np.integer)) else None
    return layout, version


def _when(value: Any) -> Any:
    if value is None:
        return None
    kind, text = value
    return _dt.datetime.fromisoformat(text) if kind == "datetime" else _dt.date.fromisoformat(text)


def _mask(times: np.ndarray, span: Span) -> np.ndarray | None:
    t0, t1 = span
    if t0 is None and t1 is None:
        return None
    keep = np.ones(times.shape, dtype=bool)
    if t0 is not None:
        keep &= times >= t0
    if t1 is not None:
        keep &= times < t1
    return keep


def _take_arrays(arrays: dict[str, np.ndarray], keep: np.ndarray | None) -> dict[str, np.ndarray]:
    if keep is None:
        return dict(arrays)
    return {k: np.asarray(v)[keep] for k, v in arrays.items()}


def _read_kept(node: tables.Array, keep: np.ndarray) -> np.ndarray:
    # the rows from the first kept to the last, then the mask: one contiguous read, not a point selection
    idx = np.flatnonzero(keep)
    if idx.size == 0:
        return np.zeros((0, *node.shape[1:]), node.atom.dtype)
    return node[idx[0]:idx[-1] + 1][keep[idx[0]:idx[-1] + 1]]


class NeoFile:
    """An open neo-segment file (read-only): attributes at hand, arrays read on demand.

    Parameters
    ----------
    path
        The file.

    Raises
    ------
    cldata.errors.NotARecordingError
        If the file is not HDF5, or not of the neo-segment layout (a CL recording, say).
    cldata.errors.CorruptRecordingError
        If it declares the layout but a part of it cannot be read.
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.h5 = open_hdf5(self.path)
        try:
            layout, version = layout_of(self.h5)
            if layout != LAYOUT:
                raise NotARecordingError(f"{self.path} is not a neo recording file: its root attribute "
                                         f"{LAYOUT_ATTR} is {layout!r}, not {LAYOUT!r} (a CL recording opens "
                                         "with cldata.RecordingView; other neo files go through neo_segments)")
            if version != LAYOUT_VERSION:
                raise NotARecordingError(f"{self.path} has neo-segment layout version {version!r}; this cldata "
                                         f"reads version {LAYOUT_VERSION}: upgrade cldata")
            try:
                self.segment_meta = self._checked(self._unpack(self.h5.get_node("/", SEGMENT_NODE), "/segment"),
                                                  SEGMENT_META, (), "/segment")
                self.members: dict[str, list[dict[str, Any]]] = {kind: self._members(kind) for kind in KINDS}
            except (tables.NoSuchNodeError, tables.HDF5ExtError) as exc:
                raise CorruptRecordingError(f"{self.path}: a part of the neo layout is missing or unreadable "
                                            f"({type(exc).__name__}: {exc})") from None
        except BaseException:
            self.h5.close()
            raise

    def _leaf(self, node: Any, where: str) -> tables.Array:
        """``node`` if it is a plain numeric dataset no larger than the file can hold."""
        if not isinstance(node, tables.Array) or is_object_node(node) or node.atom.dtype.kind not in "biufc":
            raise CorruptRecordingError(f"{self.path}: {where} is not a numeric dataset as the neo layout defines "
                                        f"it ({type(node).__name__})")
        check_declared_size(node, str(self.path), CorruptRecordingError)
        return node

    def _unpack(self, node: Any, where: str) -> Any:
        node = self._leaf(node, where)
        if node.atom.dtype != np.uint8 or node.ndim != 1:
            raise CorruptRecordingError(f"{self.path}: {where} is not a byte array as the neo layout defines it")
        try:
            return unpack(node.read())
        except CldataError as exc:
            raise CorruptRecordingError(f"{self.path}: {where} cannot be decoded: {exc}") from None

    def _checked(self, meta: Any, keys: tuple[str, ...], quantities: tuple[str, ...], where: str) -> dict:
        missing = [k for k in keys + quantities if not isinstance(meta, dict) or k not in meta]
        wrong = [k for k in quantities if not missing and not isinstance(meta[k], pq.Quantity)]
        if missing or wrong or not isinstance(meta.get("annotations"), dict):
            raise CorruptRecordingError(f"{self.path}: {where} lacks or mangles {missing or wrong or ['annotations']} "
                                        "of the neo layout")
        return meta

    def _members(self, kind: str) -> list[dict[str, Any]]:
        group = self.h5.get_node("/", kind)
        found = []
        for i in range(group._v_nchildren):
            member = self.h5.get_node(group, member_name(i))
            where = f"{member._v_pathname}/{META}"
            meta = self._checked(self._unpack(self.h5.get_node(member, META), where), COMMON_META,
                                 KINDS[kind].quantities, where)
            self._check_arrays(kind, member)
            meta["_node"] = member
            found.append(meta)
        return found

    def _check_arrays(self, kind: str, member: tables.Group) -> None:
        """Every array the layout requires is there, a plain dataset, of a consistent shape."""
        shapes = {}
        for name in KINDS[kind].arrays:
            if name in member:
                leaf = self._leaf(member._f_get_child(name), f"{member._v_pathname}/{name}")
                shapes[name] = tuple(int(n) for n in leaf.shape)
            elif name != "waveforms":
                raise CorruptRecordingError(f"{self.path}: {member._v_pathname} has no {name!r} dataset")
        ndim = {"values": (2,), "times": (1,), "durations": (1,), "waveforms": (2, 3), "labels": (1,)}
        rows = {shape[0] for name, shape in shapes.items() if name != "labels"}  # labels: msgpack bytes
        if any(len(shape) not in ndim[name] for name, shape in shapes.items()) or len(rows) > 1:
            raise CorruptRecordingError(f"{self.path}: the datasets of {member._v_pathname} have inconsistent "
                                        f"shapes {shapes}")

    def close(self) -> None:
        """Close the file."""
        self.h5.close()

    # -- arrays ---------------------------------------------------------------------------

    def _array(self, kind: str, index: int, name: str, rows: Any = None) -> np.ndarray | None:
        member = self.members[kind][index]["_node"]
        if name not in member:
            return None
        node = member._f_get_child(name)
        if name == "labels":
            return np.asarray(self._unpack(node, node._v_pathname))
        return node.read() if rows is None else node[rows]

    def shape(self, kind: str, index: int, name: str) -> tuple[int, ...]:
        """The shape of an object's array (``(0,)`` for a missing one)."""
        member = self.members[kind][index]["_node"]
        return tuple(int(n) for n in member._f_get_child(name).shape) if name in member else (0,)

    def dtype(self, kind: str, index: int, name: str) -> np.dtype:
        """The dtype of an object's array."""
        return self.members[kind][index]["_node"]._f_get_child(name).atom.dtype

    # -- objects --------------------------------------------------------------------------

    def load(self, kind: str, index: int, span: Span = (None, None), *, waveforms: bool = True) -> Any:
        """The ``index``-th object of ``kind`` as a neo object, restricted to ``span`` (seconds).

        Examples
        --------
        >>> f.load("analogsignals", 0, (1.0, None)).t_start                  # doctest: +SKIP
        array(1.) * s
        """
        meta = self.members[kind][index]
        return getattr(self, f"_load_{kind}")(index, meta, span, waveforms)

    def _named(self, meta: dict[str, Any]) -> dict[str, Any]:
        return {"name": meta["name"], "description": meta["description"], "file_origin": meta["file_origin"]}

    def _annotate(self, obj: Any, meta: dict[str, Any], keep: np.ndarray | None, rows: slice | None = None) -> Any:
        obj.annotations.update(meta["annotations"])
        arrays = {}
        for key, value in meta["array_annotations"].items():
            value = np.asarray(value) if not isinstance(value, np.ndarray) else value
            arrays[key] = value[keep] if keep is not None else (value[rows] if rows is not None else value)
        obj.array_annotations = arrays
        return obj

    def kept(self, kind: str, index: int, span: Span) -> np.ndarray:
        """Which times of an irregular signal, spike train, event or epoch lie in ``span``."""
        meta = self.members[kind][index]
        units = meta["time_units"] if kind == "irregularlysampledsignals" else meta["units"]
        times = self._array(kind, index, "times") * float(units.rescale(pq.s).magnitude)
        keep = _mask(times, span)
        return np.ones(times.shape, dtype=bool) if keep is None else keep

    def sample_rows(self, index: int, span: Span) -> slice:
        """The rows of analog signal ``index`` whose times lie in ``span`` (seconds)."""
        meta = self.members["analogsignals"][index]
        n = self.shape("analogsignals", index, "values")[0]
        t_start, rate = seconds(meta["t_start"]), float(meta["sampling_rate"].rescale(pq.Hz).magnitude)
        i, j = 0, n
        if span[0] is not None:
            i = min(max(math.ceil((span[0] - t_start) * rate - _TOLERANCE), 0), n)
        if span[1] is not None:
            j = min(max(math.ceil((span[1] - t_start) * rate - _TOLERANCE), i), n)
        return slice(i, j)

    def _load_analogsignals(self, index: int, meta: dict, span: Span, waveforms: bool) -> neo.AnalogSignal:
        rows = self.sample_rows(index, span)
        values = self._array("analogsignals", index, "values", rows)
        t_start = meta["t_start"]
        if rows.start:
            t_start = t_start + (rows.start / meta["sampling_rate"]).rescale(t_start.units)
        sig = neo.AnalogSignal(values, units=meta["units"].units, sampling_rate=meta["sampling_rate"],
                               t_start=t_start, dtype=values.dtype, **self._named(meta))
        return self._annotate(sig, meta, None)

    def _load_irregularlysampledsignals(self, index: int, meta: dict, span: Span, waveforms: bool) -> Any:
        times = self._array("irregularlysampledsignals", index, "times")
        keep = _mask(times * float(meta["time_units"].rescale(pq.s).magnitude), span)
        values = self._array("irregularlysampledsignals", index, "values")
        if keep is not None:
            times, values = times[keep], values[keep]
        sig = neo.IrregularlySampledSignal(times, values, units=meta["units"].units,
                                           time_units=meta["time_units"].units, dtype=values.dtype,
                                           **self._named(meta))
        return self._annotate(sig, meta, None)

    def _load_spiketrains(self, index: int, meta: dict, span: Span, waveforms: bool) -> neo.SpikeTrain:
        times = self._array("spiketrains", index, "times")
        scale = float(meta["units"].rescale(pq.s).magnitude)
        keep = _mask(times * scale, span)
        t_start, t_stop = meta["t_start"], meta["t_stop"]
        if span[0] is not None and span[0] > seconds(t_start):
            t_start = (span[0] * pq.s).rescale(t_start.units)
        if span[1] is not None and span[1] < seconds(t_stop):
            t_stop = (span[1] * pq.s).rescale(t_stop.units)
        wave = None
        if waveforms and "waveforms" in meta["_node"]:
            node = meta["_node"]._f_get_child("waveforms")
            wave = node.read() if keep is None else _read_kept(node, keep)
            if meta["waveform_units"] is not None:
                wave = pq.Quantity(wave, meta["waveform_units"].units)
        if keep is not None:
            times = times[keep]
        st = neo.SpikeTrain(times, t_stop=t_stop, units=meta["units"].units, dtype=times.dtype,
                            sampling_rate=meta["sampling_rate"], t_start=t_start, waveforms=wave,
                            left_sweep=meta["left_sweep"], **self._named(meta))
        return self._annotate(st, meta, keep)

    def _load_events(self, index: int, meta: dict, span: Span, waveforms: bool) -> neo.Event:
        times = self._array("events", index, "times")
        labels = self._array("events", index, "labels")
        keep = _mask(times * float(meta["units"].rescale(pq.s).magnitude), span)
        if keep is not None:
            times, labels = times[keep], labels[keep]
        ev = neo.Event(times=pq.Quantity(times, meta["units"].units), labels=labels,
                       units=meta["units"].units, **self._named(meta))
        return self._annotate(ev, meta, keep)

    def _load_epochs(self, index: int, meta: dict, span: Span, waveforms: bool) -> neo.Epoch:
        times = self._array("epochs", index, "times")
        durations = self._array("epochs", index, "durations")
        labels = self._array("epochs", index, "labels")
        keep = _mask(times * float(meta["units"].rescale(pq.s).magnitude), span)
        if keep is not None:
            times, durations, labels = times[keep], durations[keep], labels[keep]
        ep = neo.Epoch(times=pq.Quantity(times, meta["units"].units),
                       durations=pq.Quantity(durations, meta["duration_units"].units),
                       labels=labels, units=meta["units"].units, **self._named(meta))
        return self._annotate(ep, meta, keep)

    # -- the segment ----------------------------------------------------------------------

    def empty_segment(self) -> neo.Segment:
        """A segment with this file's attributes and annotations (and block, if stored), no objects."""
        meta = self.segment_meta
        seg = neo.Segment(name=meta["name"], description=meta["description"], file_origin=meta["file_origin"],
                          rec_datetime=_when(meta["rec_datetime"]), index=meta["index"])
        seg.annotations.update(meta["annotations"])
        block = meta.get("block")
        if block is not None:
            blk = neo.Block(name=block["name"], description=block["description"], file_origin=block["file_origin"],
                            rec_datetime=_when(block["rec_datetime"]), index=block["index"])
            blk.annotations.update(block["annotations"])
            blk.segments.append(seg)
            seg.block = blk
        return seg
