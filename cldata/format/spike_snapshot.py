"""The spikes the CL analysis toolkit reads: one recording's spike table as a :class:`SpikeData`.

The model: the toolkit's analyses (:mod:`cldata.toolkit`) are functions of a snapshot of the
whole ``/spikes`` table (timestamp and channel of every row, in file order) plus the
recording's extent and an analysis window. This module makes that snapshot from a
:class:`~cldata.RecordingView`: the table is read **once per open file** (views made with
``between`` share it; it is dropped with the file) and every analysis of the recording, on any
window, reuses it. The window of the snapshot is the view's window (clipped to the recording),
or the whole recording; :func:`cldata.toolkit.preprocess.with_window` gives any other without
reading again. Stims are read here too, for the raster plot.

Examples
--------
>>> data = spike_snapshot(cldata.RecordingView("recording.h5").between(25_000, 50_000))  # doctest: +SKIP
>>> data.lo, data.hi, data.timestamps.size                                              # doctest: +SKIP
(25000, 50000, 4213)
"""

from __future__ import annotations

import dataclasses
import weakref
from typing import TYPE_CHECKING

import numpy as np

from cldata.format.parts import SPIKE_PART, STIM_PART
from cldata.toolkit.preprocess import GROUND_CHANNELS, SpikeData, checked_window

if TYPE_CHECKING:  # (typing only: the reader imports this module)
    from cldata.format.reader import RecordingView

__all__ = ["spike_snapshot", "stim_events", "view_window"]

# frames of raw samples read at a time when counting non-zero samples on the ground channels
_SAMPLE_BLOCK = 1 << 18
# the whole-table snapshot of each open file, by group: read once, dropped with the file
_SNAPSHOTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def view_window(view: RecordingView) -> tuple[int | None, int | None]:
    """A windowed view's ``[start, stop)`` within the recording (``None`` for an open side).

    Examples
    --------
    >>> view_window(rec.between(100, 10**12))   # doctest: +SKIP
    (100, 250000)
    """
    start, stop = view.window
    if start is None and stop is None:
        return None, None
    return view.clipped_window


def _ground_nonzero(view: RecordingView, channel_count: int) -> int | None:
    """Non-zero raw samples on the ground channels (``None`` without samples), block by block."""
    samples = view.samples
    if samples is None:
        return None
    columns = [c for c in GROUND_CHANNELS if c < min(channel_count, samples.shape[1])]
    total = 0
    for a in range(0, int(samples.nrows), _SAMPLE_BLOCK):
        block = samples[a:a + _SAMPLE_BLOCK]
        total += int(np.count_nonzero(block[:, columns]))
    return total


def _read_whole(view: RecordingView) -> SpikeData:
    """Every row of the spike table, the window the whole recording."""
    duration = int(view.duration_frames)
    table = view.event_tables.get(SPIKE_PART.name)
    if table is None:
        timestamps = np.empty(0, dtype=np.int64)
        channels = np.empty(0, dtype=np.int64)
    else:
        rows = table.read(fields=("timestamp", "channel"))
        timestamps = np.asarray(rows["timestamp"], dtype=np.int64)
        channels = np.asarray(rows["channel"], dtype=np.int64)
    channel_count = int(view.channel_count)
    ground_spikes = bool(np.isin(channels, GROUND_CHANNELS).any())
    # the samples decide the layout only when the spikes alone do not make it valid
    ground = _ground_nonzero(view, channel_count) if table is None or ground_spikes else None
    for a in (timestamps, channels):
        a.flags.writeable = False  # shared by every analysis of the file: nobody may change it
    return SpikeData(timestamps=timestamps, channels=channels, fs=float(view.frames_per_second),
                     channel_count=channel_count, duration_frames=duration, lo=0, hi=duration,
                     has_spike_table=table is not None, ground_nonzero=ground, file_path=str(view.path))


def spike_snapshot(view: RecordingView, lo: int | None = None, hi: int | None = None) -> SpikeData:
    """A recording's spike table, read once per open file, with the analysis window ``[lo, hi)``.

    Parameters
    ----------
    view
        The recording. A windowed view (``view.between(a, b)``) gives the default window (its
        window within the recording); without one it is the whole recording.
    lo, hi
        The window in frames of the recording (as ``analysis_timestamp_limit`` takes them),
        overriding the view's window; ``None`` for the default.

    Raises
    ------
    ValueError
        If the window is invalid (:func:`cldata.toolkit.preprocess.checked_window`).

    Examples
    --------
    >>> data = spike_snapshot(cldata.RecordingView("recording.h5"), 25_000, 212_500)  # doctest: +SKIP
    """
    per_group = _SNAPSHOTS.setdefault(view.file, {})
    whole = per_group.get(view.group)
    if whole is None:
        whole = per_group[view.group] = _read_whole(view)
    default_lo, default_hi = view_window(view)
    lo, hi = checked_window(whole.duration_frames, default_lo if lo is None else lo,
                            default_hi if hi is None else hi)
    return whole if (lo, hi) == (whole.lo, whole.hi) else dataclasses.replace(whole, lo=lo, hi=hi)


def stim_events(view: RecordingView) -> tuple[np.ndarray, np.ndarray]:
    """Timestamps and channels (int64) of every stim of the recording, whatever the view's window.

    Examples
    --------
    >>> ts, ch = stim_events(rec)   # doctest: +SKIP
    """
    table = view.event_tables.get(STIM_PART.name)
    if table is None:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    rows = table.read(fields=("timestamp", "channel"))
    return np.asarray(rows["timestamp"], np.int64), np.asarray(rows["channel"], np.int64)
