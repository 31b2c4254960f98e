"""Overviews of neo recordings: min/max envelopes of an analog signal, spike counts per bin.

The model: a CL recording has one sample rate and a stored min/max pyramid
(:mod:`cldata.overview`); a neo recording has signals of any count, rate and units and no
pyramid. Its overview is computed from the signal itself, read through the view's window
(only that slice is loaded): the samples are cut into about ``width`` bins of whole samples,
aligned to multiples of the bin length from 0 s of the segment's axis, and each bin's minimum
and maximum per channel make an :class:`~cldata.overview.results.Envelope` in the signal's own
frames (one per sample, ``frames_per_second`` its sampling rate) and units. Spike activity
counts :meth:`~cldata.format.neo_file.NeoRecordingView.read_spikes` per bin of the timebase.
Both have ``level = -1``: they come from the data, not a pyramid.

Examples
--------
>>> env = store.recordings[0].overview(signal=1, width=500)      # doctest: +SKIP
>>> env.units, env.frames_per_second                             # doctest: +SKIP
('uV', 250)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import quantities as pq

from cldata.errors import OverviewError, ParameterError
from cldata.format.neo_file import NeoRecordingView
from cldata.overview.results import Envelope, SpikeActivity
from cldata.store.neo_ingest import clipped_span

__all__ = ["neo_envelope", "neo_spike_activity"]


def _windowed(view: NeoRecordingView, start: Any, stop: Any) -> NeoRecordingView:
    return view if start is None and stop is None else view.between(start, stop)


def _edges(first: int, last: int, width: int) -> tuple[int, np.ndarray]:
    """Bin length and edges of ``[first, last)`` in about ``width`` bins aligned to multiples of the length."""
    if width < 1:
        raise ParameterError(f"an overview's width is a number of points >= 1, not {width}")
    per = max(1, math.ceil((last - first) / width))
    inner = np.arange((first // per + 1) * per, last, per, dtype=np.int64)
    return per, np.concatenate([[first], inner, [last]]).astype(np.int64) if last > first else np.array([first])


def _columns(channels: Any, count: int, what: str) -> np.ndarray:
    chosen = np.arange(count) if channels is None else np.asarray(list(np.atleast_1d(channels)), dtype=np.int64)
    if chosen.size and (chosen.min() < 0 or chosen.max() >= count):
        raise ParameterError(f"{what} has channels 0..{count - 1}; {chosen.tolist()} asked for")
    return chosen


def neo_envelope(view: NeoRecordingView, channels: Any = None, start: Any = None, stop: Any = None,
                 width: int = 2000, signal: int = 0) -> Envelope:
    """The min/max envelope of analog signal ``signal`` within the view's window (and ``[start, stop)``).

    Raises
    ------
    cldata.errors.OverviewError
        If the recording has no such analog signal.
    cldata.errors.ParameterError
        For channels the signal does not have, or a width below 1.
    """
    if not 0 <= signal < view.signal_count:
        raise OverviewError(f"{view.path}: no analog signal {signal} (the recording has {view.signal_count}); "
                            "pass signal= one of them")
    sig = _windowed(view, start, stop).segment(lazy=True).analogsignals[signal].load()
    rate = float(sig.sampling_rate.rescale(pq.Hz).magnitude)
    fps = int(rate) if rate.is_integer() else rate
    columns = _columns(channels, sig.shape[1], f"analog signal {signal}")
    first = round(float(sig.t_start.rescale(pq.s).magnitude) * rate)
    values = np.asarray(sig.magnitude)[:, columns]
    per, edges = _edges(first, first + values.shape[0], width)
    if values.shape[0]:
        at = edges[:-1] - first
        low, high = np.minimum.reduceat(values, at, axis=0), np.maximum.reduceat(values, at, axis=0)
    else:
        low = high = np.empty((0, columns.size), dtype=values.dtype)
    return Envelope(int(edges[0]), int(edges[-1]), per, edges, pq.Quantity(edges[:-1] / rate, pq.s),
                    low.astype(np.float32), high.astype(np.float32), -1, columns, fps,
                    units=sig.units.dimensionality.string)


def neo_spike_activity(view: NeoRecordingView, channels: Any = None, start: Any = None, stop: Any = None,
                       width: int = 2000) -> SpikeActivity:
    """Spike counts per channel (as :meth:`~cldata.format.neo_file.NeoRecordingView.read_spikes` numbers
    them) in about ``width`` bins of the timebase, within the view's window (and ``[start, stop)``)."""
    view = _windowed(view, start, stop)
    fps = view.frames_per_second
    t0, t1 = clipped_span(view)
    first, last = round(t0 * fps), round(t1 * fps)
    per, edges = _edges(first, last, width)
    spikes = view.read_spikes(first, last, waveforms=False)
    columns = _columns(channels, max(view.channel_count, int(spikes["channel"].max()) + 1 if len(spikes) else 0),
                       "the recording")
    counts = np.zeros((max(edges.size - 1, 0), columns.size), dtype=np.int64)
    if counts.size:
        bins = np.searchsorted(edges, spikes["timestamp"], side="right") - 1
        for k, channel in enumerate(columns):
            mine = bins[(spikes["channel"] == channel) & (bins >= 0) & (bins < counts.shape[0])]
            counts[:, k] = np.bincount(mine, minlength=counts.shape[0])
    return SpikeActivity(int(edges[0]), int(edges[-1]), per, edges, pq.Quantity(edges[:-1] / fps, pq.s), counts,
                         -1, columns, fps)
