"""Lazy objects of a neo-segment file: neo proxies whose ``load()`` reads only then.

Each proxy is a :class:`neo.io.proxyobjects.BaseProxy` (so a :class:`neo.Segment` accepts it
in the list of the object it stands for, ``proxy_for``) carrying the object's attributes
(name, units, t_start, sampling rate, shape, annotations, array annotations) read from the
file's small ``meta`` records. ``load(time_slice=(t0, t1))`` reads from disk only the rows in
``[t0, t1)`` (half-open, like every window of cldata) within the proxy's own window.

A proxy reads through the view's open file: load it before the view is closed.

Examples
--------
>>> seg = NeoRecordingView("rec.neo.h5").segment(lazy=True)      # doctest: +SKIP
>>> seg.analogsignals[0].load(time_slice=(1 * pq.s, 2 * pq.s))   # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import neo
import numpy as np
import quantities as pq
from neo.io.proxyobjects import BaseProxy

from cldata.format.neo_file.objects import NeoFile, Span, seconds

__all__ = ["proxy", "AnalogSignalProxy", "IrregularSignalProxy", "SpikeTrainProxy", "EventProxy", "EpochProxy"]


def _cut(span: Span, time_slice: Any) -> Span:
    if time_slice is None:
        return span
    t0, t1 = span
    a, b = time_slice
    if a is not None:
        a = seconds(a)
        t0 = a if t0 is None else max(t0, a)
    if b is not None:
        b = seconds(b)
        t1 = b if t1 is None else min(t1, b)
    return t0, t1


class _FileProxy(BaseProxy):
    """A proxy for object ``index`` of list ``kind`` of an open :class:`NeoFile`, within ``span``."""

    kind = ""

    def __init__(self, source: NeoFile, index: int, span: Span, arrays: dict[str, np.ndarray], count: int | None):
        self._source, self._index, self._span = source, index, span
        meta = source.members[self.kind][index]
        name = "times" if self.kind in ("spiketrains", "events", "epochs") else "values"
        shape = source.shape(self.kind, index, name)
        self.shape = shape if count is None else (count, *shape[1:])
        self._describe(meta)
        BaseProxy.__init__(self, array_annotations=dict(arrays), name=meta["name"],
                           description=meta["description"], file_origin=meta["file_origin"],
                           **meta["annotations"])

    def _describe(self, meta: dict[str, Any]) -> None:  # pragma: no cover - every subclass has its own
        raise NotImplementedError

    def load(self, time_slice: Any = None, strict_slicing: bool = True, **kwargs: Any) -> Any:
        """Read the object (only ``[t0, t1)`` of ``time_slice`` when given) from the file."""
        return self._source.load(self.kind, self._index, _cut(self._span, time_slice))


class AnalogSignalProxy(_FileProxy):
    """Stands for a :class:`neo.AnalogSignal`; ``load()`` reads its samples."""

    kind = "analogsignals"
    proxy_for = neo.AnalogSignal
    _parent_objects = ("Segment",)
    _necessary_attrs = neo.AnalogSignal._necessary_attrs

    def _describe(self, meta: dict[str, Any]) -> None:
        rows = self._source.sample_rows(self._index, self._span)
        channels = self._source.shape(self.kind, self._index, "values")[1:]
        self.shape = (rows.stop - rows.start, *channels)
        self.dtype = self._source.dtype(self.kind, self._index, "values")
        self.units = meta["units"]
        self.sampling_rate = meta["sampling_rate"]
        self.sampling_period = 1.0 / self.sampling_rate
        self.t_start = meta["t_start"] + (rows.start / self.sampling_rate).rescale(meta["t_start"].units)

    @property
    def duration(self) -> pq.Quantity:
        """The (windowed) signal's duration."""
        return (self.shape[0] / self.sampling_rate).rescale(self.t_start.units)

    @property
    def t_stop(self) -> pq.Quantity:
        """The time after its last sample."""
        return self.t_start + self.duration


class IrregularSignalProxy(_FileProxy):
    """Stands for a :class:`neo.IrregularlySampledSignal`; ``load()`` reads times and values."""

    kind = "irregularlysampledsignals"
    proxy_for = neo.IrregularlySampledSignal
    _parent_objects = ("Segment",)

    def _describe(self, meta: dict[str, Any]) -> None:
        self.dtype = self._source.dtype(self.kind, self._index, "values")
        self.units = meta["units"]
        self.time_units = meta["time_units"]


class SpikeTrainProxy(_FileProxy):
    """Stands for a :class:`neo.SpikeTrain`; ``load()`` reads its times and (by default) waveforms."""

    kind = "spiketrains"
    proxy_for = neo.SpikeTrain
    _parent_objects = ("Segment",)

    def _describe(self, meta: dict[str, Any]) -> None:
        self.units = meta["units"]
        self.t_start, self.t_stop = meta["t_start"], meta["t_stop"]
        t0, t1 = self._span
        if t0 is not None and t0 > seconds(self.t_start):
            self.t_start = (t0 * pq.s).rescale(self.t_start.units)
        if t1 is not None and t1 < seconds(self.t_stop):
            self.t_stop = (t1 * pq.s).rescale(self.t_stop.units)
        self.sampling_rate = meta["sampling_rate"]
        self.left_sweep = meta["left_sweep"]
        self.dtype = self._source.dtype(self.kind, self._index, "times")

    def load(self, time_slice: Any = None, strict_slicing: bool = True, magnitude_mode: str = "rescaled",
             load_waveforms: bool = True, **kwargs: Any) -> neo.SpikeTrain:
        """Read the spike train (waveforms too unless ``load_waveforms=False``; only ``time_slice``)."""
        return self._source.load(self.kind, self._index, _cut(self._span, time_slice), waveforms=load_waveforms)


class EventProxy(_FileProxy):
    """Stands for a :class:`neo.Event`; ``load()`` reads its times and labels."""

    kind = "events"
    proxy_for = neo.Event
    _parent_objects = ("Segment",)

    def _describe(self, meta: dict[str, Any]) -> None:
        self.units = meta["units"]
        self.dtype = self._source.dtype(self.kind, self._index, "times")


class EpochProxy(EventProxy):
    """Stands for a :class:`neo.Epoch`; ``load()`` reads its times, durations and labels."""

    kind = "epochs"
    proxy_for = neo.Epoch


_PROXIES = {cls.kind: cls for cls in (AnalogSignalProxy, IrregularSignalProxy, SpikeTrainProxy, EventProxy, EpochProxy)}


def proxy(source: NeoFile, kind: str, index: int, span: Span) -> _FileProxy:
    """The lazy stand-in for object ``index`` of ``kind``, restricted to ``span`` (seconds).

    Its shape and array annotations are those of the window: for a windowed irregular signal,
    spike train, event or epoch that needs its times (read here; values, waveforms and labels
    are read only by ``load()``).
    """
    arrays = source.members[kind][index]["array_annotations"]
    count = None
    if kind != "analogsignals" and span != (None, None):
        keep = source.kept(kind, index, span)
        count = int(keep.sum())
        if kind != "irregularlysampledsignals":  # a signal's array annotations are per channel
            arrays = {k: np.asarray(v)[keep] for k, v in arrays.items()}
    return _PROXIES[kind](source, index, span, arrays, count)
