"""A read-only view of a neo-segment file, with the CL recording view's time-window API.

The model: a neo segment has its own time axis (seconds, starting anywhere: ``t_start``
0.5 s is common). Windows are given on that axis, as time quantities, or as integer
**frames** of the view's timebase, where frame ``f`` is the time ``f / frames_per_second``
(frame 0 is time 0 s of the axis, not ``t_start``). The timebase is the highest
analog-signal sampling rate that is a whole number of Hz, else the highest such spike-train
``sampling_rate``, else 1 kHz; ``duration_frames`` counts the frames from 0 to ``t_stop``
(rounded up). Windows are half-open ``[start, stop)``: a sample, spike, event, irregular sample
or epoch (by its start) is kept when ``start <= t < stop`` (see
:mod:`cldata.format.neo_file.objects`), unlike neo's ``time_slice``, which keeps spikes and
events at ``t_stop`` too.

Spike analyses read :meth:`NeoRecordingView.read_spikes`: every spike train's spikes as rows
``(timestamp, channel)``, timestamps in frames of the timebase (``floor(t * fps)``), channels
the spike train's ``channel`` (else ``channel_index``) annotation when it is an int, else its
position in the segment. :meth:`NeoRecordingView.read_stims` reads the events marked as
stimulations: annotated ``stimulation=True``, or named ``"stims"`` (as the neo segments of CL
recordings are); a stim's channel is the event's ``channel`` array annotation, else its label
when that is an integer, else -1.

Examples
--------
>>> with NeoRecordingView("rec.neo.h5") as view:                           # doctest: +SKIP
...     seg = view.between(1 * pq.s, 2 * pq.s).segment(lazy=True)
...     sig = seg.analogsignals[0].load()
"""

from __future__ import annotations

import copy
import math
import os
from pathlib import Path
from typing import Any

import neo
import numpy as np
import quantities as pq
import tables

from cldata.core.window import TimeWindow
from cldata.errors import CldataError
from cldata.format.hdf5_open import open_hdf5
from cldata.format.neo_file.layout import KINDS, LAYOUT
from cldata.format.neo_file.objects import NeoFile, Span, layout_of, seconds
from cldata.format.neo_file.proxies import proxy

__all__ = ["NeoRecordingView", "is_neo_recording", "DEFAULT_FRAMES_PER_SECOND"]

#: The timebase of a segment without an analog signal or spike train of a whole-Hz rate.
DEFAULT_FRAMES_PER_SECOND = 1000
_TOLERANCE = 1e-9
_SPIKE_DTYPE = np.dtype([("timestamp", np.int64), ("channel", np.int64)])


def is_neo_recording(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a file of the neo-segment layout (:func:`write_neo_recording`'s).

    CL recordings, other HDF5 files (NIX files included: read those with
    :func:`~cldata.format.neo_file.neo_segments`), other files and missing paths give False.

    Examples
    --------
    >>> is_neo_recording("rec.neo.h5"), is_neo_recording("cl_recording.h5")   # doctest: +SKIP
    (True, False)
    """
    try:
        h5 = open_hdf5(path)
    except (CldataError, OSError):
        return False
    try:
        return layout_of(h5)[0] == LAYOUT
    except (tables.HDF5ExtError, KeyError, ValueError, TypeError):
        return False
    finally:
        h5.close()


def _whole_hz(rates: list[Any]) -> int | None:
    best = None
    for rate in rates:
        if rate is None:
            continue
        hz = float(pq.Quantity(rate).rescale(pq.Hz).magnitude)
        if hz >= 1 and abs(hz - round(hz)) <= _TOLERANCE * hz:
            best = max(best or 0, int(round(hz)))
    return best


class NeoRecordingView:
    """A neo segment stored by :func:`write_neo_recording`, read lazily, within a time window.

    Parameters
    ----------
    path
        The file.
    window
        ``(start, stop)``: time quantities on the segment's axis or frames of the timebase
        (``None`` on a side: open); ``None``: everything.

    Raises
    ------
    cldata.errors.NotARecordingError
        If the file is not of the neo-segment layout.

    Examples
    --------
    >>> view = NeoRecordingView("rec.neo.h5", window=(1 * pq.s, 2 * pq.s))     # doctest: +SKIP
    >>> view.read_spikes()[:2]                                                   # doctest: +SKIP
    array([(1003, 0), (1250, 1)], dtype=[('timestamp', '<i8'), ('channel', '<i8')])
    """

    def __init__(self, path: str | os.PathLike[str], *, window: tuple[Any, Any] | None = None):
        self.path = Path(path)
        self._file = NeoFile(self.path)  # shared by the views between() makes and the lazy proxies
        try:
            self._measure()
            self._set_window(TimeWindow.of(window))
        except BaseException:
            self._file.close()
            raise

    # -- what the file holds ------------------------------------------------------------------

    def _measure(self) -> None:
        f = self._file
        starts, stops = [], []
        for i, meta in enumerate(f.members["analogsignals"]):
            n = f.shape("analogsignals", i, "values")[0]
            starts.append(seconds(meta["t_start"]))
            stops.append(seconds(meta["t_start"] + (n / meta["sampling_rate"]).rescale(meta["t_start"].units)))
        for meta in f.members["spiketrains"]:
            starts.append(seconds(meta["t_start"]))
            stops.append(seconds(meta["t_stop"]))
        for kind in ("irregularlysampledsignals", "events", "epochs"):
            for i in range(len(f.members[kind])):
                extent = f.time_range(kind, i)
                if extent is not None:
                    starts.append(extent[0])
                    stops.append(extent[1])
        self._t_start = min(starts) if starts else 0.0
        self._t_stop = max(stops) if stops else 0.0
        self.frames_per_second = (_whole_hz([m["sampling_rate"] for m in f.members["analogsignals"]])
                                  or _whole_hz([m["sampling_rate"] for m in f.members["spiketrains"]])
                                  or DEFAULT_FRAMES_PER_SECOND)
        self.duration_frames = max(math.ceil(self._t_stop * self.frames_per_second - _TOLERANCE), 0)

    @property
    def annotations(self) -> dict[str, Any]:
        """The segment's annotations (a new plain dict)."""
        return dict(self._file.segment_meta["annotations"])

    @property
    def t_start(self) -> pq.Quantity:
        """The earliest time of the segment's objects (s)."""
        return self._t_start * pq.s

    @property
    def t_stop(self) -> pq.Quantity:
        """The latest time of the segment's objects (s): the end of the last sample, spike train or epoch."""
        return self._t_stop * pq.s

    @property
    def duration_seconds(self) -> float:
        """``t_stop - t_start`` in seconds: the length of the segment (not of the window)."""
        return self._t_stop - self._t_start

    @property
    def duration(self) -> pq.Quantity:
        """:attr:`duration_seconds` as a quantity."""
        return self.duration_seconds * pq.s

    @property
    def spike_train_count(self) -> int:
        """How many spike trains the segment has."""
        return len(self._file.members["spiketrains"])

    @property
    def signal_count(self) -> int:
        """How many analog signals the segment has (objects, not channels)."""
        return len(self._file.members["analogsignals"])

    @property
    def channel_count(self) -> int:
        """The spike-train count, or the channel count of the widest analog signal if larger."""
        widest = max((self._file.shape("analogsignals", i, "values")[1:2] or (1,))[0]
                     for i in range(self.signal_count)) if self.signal_count else 0
        return max(self.spike_train_count, widest)

    # -- windows ------------------------------------------------------------------------------

    def _set_window(self, window: TimeWindow) -> None:
        self.time_window = window
        self._window = window.frames(self.frames_per_second)
        t0 = t1 = None
        for start, stop in window.bounds:
            a, b = (self._seconds(start), self._seconds(stop))
            t0 = a if t0 is None else (t0 if a is None else max(t0, a))
            t1 = b if t1 is None else (t1 if b is None else min(t1, b))
        if t0 is not None and t1 is not None and t1 < t0:
            t1 = t0
        self._span: Span = (t0, t1)

    def _seconds(self, bound: Any) -> float | None:
        if bound is None:
            return None
        if isinstance(bound, pq.Quantity):
            return seconds(bound)
        return int(bound) / self.frames_per_second

    @property
    def window(self) -> tuple[int | None, int | None]:
        """The ``[start, stop)`` window in frames of the timebase (``None`` = open)."""
        return self._window

    @property
    def clipped_window(self) -> tuple[int, int]:
        """The frames ``[a, b)`` this view covers: its window within the segment's frames
        ``[ceil(t_start * fps), duration_frames)`` (rates over the view divide by ``b - a``).

        Examples
        --------
        >>> view.between(0, 10**9).clipped_window                          # doctest: +SKIP
        (500, 3000)
        """
        first = min(max(math.ceil(self._t_start * self.frames_per_second - _TOLERANCE), 0), self.duration_frames)
        a, b = TimeWindow.from_frames(self._window).clipped(self.frames_per_second, self.duration_frames)
        a = max(a, first)
        return a, max(a, b)

    @property
    def span(self) -> Span:
        """The window in seconds on the segment's axis, ``(t0, t1)`` (``None`` = open)."""
        return self._span

    def between(self, start: Any = None, stop: Any = None) -> NeoRecordingView:
        """A view of the same file restricted to ``[start, stop)`` (within this view's window).

        ``start``/``stop``: time quantities on the segment's axis, or ints (frames of the timebase).

        Examples
        --------
        >>> view.between(1 * pq.s, 2 * pq.s).span                         # doctest: +SKIP
        (1.0, 2.0)
        """
        view = copy.copy(self)
        view._set_window(self.time_window & TimeWindow(start, stop))
        return view

    # -- reading ------------------------------------------------------------------------------

    def segment(self, lazy: bool = True) -> neo.Segment:
        """The segment within this view's window: proxies (``lazy=True``) or loaded objects.

        The objects equal those written, restricted to the window (every object is there,
        also one with nothing in the window). A proxy's ``load(time_slice=...)`` reads only
        that slice; load proxies before closing the view.

        Examples
        --------
        >>> seg = view.segment(lazy=False)                                 # doctest: +SKIP
        """
        seg = self._file.empty_segment()
        for kind in KINDS:
            objects = getattr(seg, kind)
            for i in range(len(self._file.members[kind])):
                obj = proxy(self._file, kind, i, self._span) if lazy else self._file.load(kind, i, self._span)
                objects.append(obj)
                if not lazy:
                    obj.segment = seg
        return seg

    def _clip(self, start: Any, stop: Any) -> Span:
        if start is None and stop is None:
            return self._span
        return self.between(start, stop)._span

    def _frames(self, times_s: np.ndarray) -> np.ndarray:
        return np.floor(times_s * self.frames_per_second + _TOLERANCE).astype(np.int64)

    def _spike_channel(self, index: int) -> int:
        ann = self._file.members["spiketrains"][index]["annotations"]
        for key in ("channel", "channel_index"):
            value = ann.get(key)
            if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
                return int(value)
        return index

    def neuron_annotations(self) -> dict[int, dict[str, Any]]:
        """``channel -> annotations`` of each spike train (a "neuron": its ``read_spikes`` channel),
        with its ``name`` when it has one; what ``get_neuron_annotations()`` of a store gives.

        Examples
        --------
        >>> view.neuron_annotations()[0]                    # doctest: +SKIP
        {'name': 'unit 0', 'position': [10.0, 20.0]}
        """
        out: dict[int, dict[str, Any]] = {}
        for i, meta in enumerate(self._file.members["spiketrains"]):
            ann = dict(meta["annotations"])
            if meta.get("name") is not None:
                ann.setdefault("name", meta["name"])
            out.setdefault(self._spike_channel(i), ann)
        return out

    def neuron_positions(self) -> dict[int, tuple[float, ...]]:
        """``channel -> position`` of the spike trains annotated with one: a ``position`` of 2 or 3
        numbers, or ``x``/``y`` (and ``z``) numbers; trains without are left out.

        Examples
        --------
        >>> view.neuron_positions()                          # doctest: +SKIP
        {0: (10.0, 20.0)}
        """
        out: dict[int, tuple[float, ...]] = {}
        for channel, ann in self.neuron_annotations().items():
            pos = ann.get("position")
            if pos is None and all(isinstance(ann.get(k), (int, float, np.number)) for k in ("x", "y")):
                pos = [ann[k] for k in ("x", "y", "z") if isinstance(ann.get(k), (int, float, np.number))]
            values = np.asarray(pos, dtype=object).reshape(-1) if pos is not None else ()
            if 2 <= len(values) <= 3 and all(isinstance(v, (int, float, np.number)) for v in values):
                out[channel] = tuple(float(v) for v in values)
        return out

    def read_spikes(self, start: Any = None, stop: Any = None, channels: Any = None,
                    waveforms: bool = False) -> np.ndarray:
        """Spikes in ``[start, stop)`` (within the window) as rows ``(timestamp, channel)``, by time.

        With ``waveforms``, a ``samples`` field holds each spike's first waveform channel
        (float32, in the spike train's waveform units); every spike train read must then
        have waveforms of the same length.

        Examples
        --------
        >>> view.read_spikes(0, 1000, channels=[3])                         # doctest: +SKIP
        """
        span = self._clip(start, stop)
        wanted = None if channels is None else {int(c) for c in np.atleast_1d(channels)}
        parts, samples = [], []
        for i in range(self.spike_train_count):
            channel = self._spike_channel(i)
            if wanted is not None and channel not in wanted:
                continue
            st = self._file.load("spiketrains", i, span, waveforms=waveforms)
            rows = np.empty(len(st), dtype=_SPIKE_DTYPE)
            rows["timestamp"] = self._frames(st.times.rescale(pq.s).magnitude)
            rows["channel"] = channel
            parts.append(rows)
            if waveforms:
                samples.append(self._samples(st, i))
        rows = np.concatenate(parts) if parts else np.empty(0, dtype=_SPIKE_DTYPE)
        order = np.argsort(rows["timestamp"], kind="stable")
        if not waveforms:
            return rows[order]
        wave = np.concatenate(samples) if samples else np.empty((0, 0), dtype=np.float32)
        out = np.empty(len(rows), dtype=_SPIKE_DTYPE.descr + [("samples", np.float32, (wave.shape[1],))])
        out["timestamp"], out["channel"], out["samples"] = rows["timestamp"], rows["channel"], wave
        return out[order]

    def _samples(self, st: neo.SpikeTrain, index: int) -> np.ndarray:
        if st.waveforms is None:
            raise CldataError(f"{self.path}: spiketrains[{index}] has no waveforms; read_spikes(waveforms=False)")
        return np.asarray(np.asarray(st.waveforms)[:, 0, :], dtype=np.float32)

    def _is_stims(self, meta: dict[str, Any]) -> bool:
        return meta["annotations"].get("stimulation") is True or meta["name"] == "stims"

    def read_stims(self, start: Any = None, stop: Any = None, channels: Any = None) -> np.ndarray:
        """Stimulations in ``[start, stop)``: rows ``(timestamp, channel)`` of the events marked as
        stims (annotated ``stimulation=True`` or named ``"stims"``), by time; empty if none are."""
        span = self._clip(start, stop)
        parts = []
        for i, meta in enumerate(self._file.members["events"]):
            if not self._is_stims(meta):
                continue
            ev = self._file.load("events", i, span)
            rows = np.empty(len(ev), dtype=_SPIKE_DTYPE)
            rows["timestamp"] = self._frames(ev.times.rescale(pq.s).magnitude)
            rows["channel"] = self._stim_channels(ev)
            parts.append(rows)
        rows = np.concatenate(parts) if parts else np.empty(0, dtype=_SPIKE_DTYPE)
        if channels is not None:
            rows = rows[np.isin(rows["channel"], np.atleast_1d(channels))]
        return rows[np.argsort(rows["timestamp"], kind="stable")]

    @staticmethod
    def _stim_channels(ev: neo.Event) -> np.ndarray:
        channel = ev.array_annotations.get("channel")
        if channel is not None and np.asarray(channel).dtype.kind in "iu":
            return np.asarray(channel, dtype=np.int64)
        out = np.full(len(ev), -1, dtype=np.int64)
        for k, label in enumerate(np.asarray(ev.labels).astype(str)):
            if label.lstrip("-").isdigit():
                out[k] = int(label)
        return out

    # -- life ---------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the file (views made with :meth:`between` share it and close too).

        Without ``close()`` the file closes when the last view or lazy proxy reading it is gone.
        """
        self._file.close()

    def __enter__(self) -> NeoRecordingView:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"NeoRecordingView({str(self.path)!r}, {self.signal_count} signals, {self.spike_train_count} "
                f"spike trains, {self._t_start:g}-{self._t_stop:g} s, window {self._span})")
