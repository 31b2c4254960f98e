"""Shared preprocessing of the CL analysis toolkit: the spike snapshot, window, binning and MEA layout.

The model (spec §1–§2): a recording's ``/spikes`` table is read once into a :class:`SpikeData`:
the timestamp and channel of every row in file order, the frame rate, channel count and
duration of the whole recording, and the analysis window ``[lo, hi)`` in frames (default the
whole recording). Inside the window every analysis works in frames **relative to** ``lo``.
From the snapshot the analyses derive

- the *spike train* (:func:`spike_train`): per channel, the window-relative frames of its
  spikes in table order, a (channel, frame) pair that occurs twice counted once;
- the *count matrix* (:func:`count_matrix`): spikes per channel and bin of ``w`` frames,
  duplicates counted, the last bin possibly shorter, optionally ending at the table's last row;
- the bin width, truncated (:func:`truncating_width`) or rounded (:func:`rounding_width`)
  depending on the method (official quirk: entropy and Lempel–Ziv round, the others truncate);
- the common 8×8 MEA layout and its check (:func:`check_layout`).

Examples
--------
>>> data = cldata.RecordingView("recording.h5").between(25_000).analysis_data()   # doctest: +SKIP
>>> counts, rows = count_matrix(data, truncating_width(0.1, data.fs))    # doctest: +SKIP
>>> counts.shape                                                         # doctest: +SKIP
(64, 90)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

#: The common MEA layout: ``MEA_LAYOUT[r][c] = 8*c + r`` (channel 0 top-left, channels run down columns).
MEA_LAYOUT: np.ndarray = (8 * np.arange(8)[None, :] + np.arange(8)[:, None]).astype(np.int64)
#: The four ground channels of the common layout.
GROUND_CHANNELS: tuple[int, ...] = (0, 7, 56, 63)
#: The reference channel of the common layout.
REFERENCE_CHANNEL: int = 4

LAYOUT_ERROR = "Recording does not conform to common MEA layout."


@dataclass(frozen=True, eq=False)
class SpikeData:
    """One recording's spikes, read once, and the analysis window.

    Attributes
    ----------
    timestamps, channels : numpy.ndarray
        int64, every row of ``/spikes`` in file order (the whole table, whatever the window).
    fs : float
        Frames per second.
    channel_count : int
        Channels of the recording (``C``).
    duration_frames : int
        The whole recording's length in frames (``Dur``).
    lo, hi : int
        The analysis window ``[lo, hi)`` in frames, ``0 <= lo <= hi <= Dur``.
    has_spike_table : bool
        Whether the file has a spikes table (a recording without one fails in every analysis).
    ground_nonzero : int or None
        Non-zero raw samples on the ground channels, for the layout check; ``None`` when the
        recording has no samples, or when they were not needed (the spike table alone already
        makes the layout valid: no spike on a ground channel).
    file_path : str
        The recording's path as given to the view (the results' metadata).

    Examples
    --------
    >>> data = rec.analysis_data()            # doctest: +SKIP
    >>> data.timestamps.size, data.lo, data.hi  # doctest: +SKIP
    (724, 0, 250000)
    """

    timestamps: np.ndarray
    channels: np.ndarray
    fs: float
    channel_count: int
    duration_frames: int
    lo: int
    hi: int
    has_spike_table: bool
    ground_nonzero: int | None
    file_path: str

    @property
    def duration_seconds(self) -> float:
        """The whole recording's length in seconds."""
        return self.duration_frames / self.fs


def checked_window(duration_frames: int, lo: int | None = None, hi: int | None = None) -> tuple[int, int]:
    """The window ``[lo, hi)`` after the checks of ``analysis_timestamp_limit`` (spec §1).

    ``None`` stands for the default end (0, ``duration_frames``). Checks in the official order:
    ``lo < 0``, then ``hi > duration_frames``, then ``lo > hi`` raise :class:`ValueError`;
    ``lo == hi`` (a zero-length window) is accepted.

    Examples
    --------
    >>> checked_window(100, 10)
    (10, 100)
    >>> checked_window(100, 50, 20)
    Traceback (most recent call last):
    ...
    ValueError: minimum_timestamp 50 is greater than maximum_timestamp 20
    """
    lo = 0 if lo is None else int(lo)
    hi = int(duration_frames) if hi is None else int(hi)
    if lo < 0:
        raise ValueError(f"minimum_timestamp {lo} is negative")
    if hi > duration_frames:
        raise ValueError(f"maximum_timestamp {hi} is beyond the recording's {duration_frames} frames")
    if lo > hi:
        raise ValueError(f"minimum_timestamp {lo} is greater than maximum_timestamp {hi}")
    return lo, hi


def with_window(data: SpikeData, lo: int | None = None, hi: int | None = None) -> SpikeData:
    """The same snapshot with another window (checked as :func:`checked_window`); no re-read.

    Examples
    --------
    >>> later = with_window(data, 25_000, 50_000)   # doctest: +SKIP
    """
    lo, hi = checked_window(data.duration_frames, lo, hi)
    return dataclasses.replace(data, lo=lo, hi=hi)


def require_spike_table(data: SpikeData) -> None:
    """Raise :class:`ValueError` for a recording without a spikes table (every analysis fails on one).

    Examples
    --------
    >>> require_spike_table(data)   # doctest: +SKIP
    """
    if not data.has_spike_table:
        raise ValueError(f"{data.file_path} has no spikes table to analyse")


def _in_window(data: SpikeData, end: int | None = None) -> np.ndarray:
    """Mask of the rows with ``lo <= t < end`` (default ``hi``) on a channel ``0..C-1``."""
    t, ch = data.timestamps, data.channels
    end = data.hi if end is None else end
    return (t >= data.lo) & (t < end) & (ch >= 0) & (ch < data.channel_count)


def spike_train(data: SpikeData) -> dict[int, np.ndarray]:
    """Per channel ``0..C-1``, the window-relative frames of its spikes (spec §2).

    Frames are ``t - lo`` for ``lo <= t < hi``, in the order of the spike table; a (channel,
    frame) pair that occurs more than once is kept once (its first row). Silent channels map
    to empty int64 arrays.

    Examples
    --------
    >>> train = spike_train(data)   # doctest: +SKIP
    >>> train[8][:3]                # doctest: +SKIP
    array([ 487, 5231, 9954])
    """
    mask = _in_window(data)
    frames = data.timestamps[mask] - data.lo
    channels = data.channels[mask]
    span = max(data.hi - data.lo, 1)
    # first row of every distinct (channel, frame), back in table order
    _, first = np.unique(channels * span + frames, return_index=True)
    first.sort()
    frames, channels = frames[first], channels[first]
    order = np.argsort(channels, kind="stable")
    bounds = np.searchsorted(channels[order], np.arange(data.channel_count + 1))
    sorted_frames = frames[order]
    return {c: sorted_frames[bounds[c]:bounds[c + 1]].copy() for c in range(data.channel_count)}


def count_matrix(data: SpikeData, width: int, exclude: Iterable[int] = (),
                 stop_at_last_spike: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Spikes per channel and bin of ``width`` frames over the window (spec §2).

    The end is ``hi``, or with ``stop_at_last_spike`` ``min(hi, timestamp of the table's last
    row)`` (official quirk, criticality: the last row of the **whole** table, whatever the
    window, and the spike at that timestamp is never counted). There are
    ``ceil((end - lo) / width)`` bins; every row with ``lo <= t < end`` (duplicates counted)
    adds one to its channel's bin ``(t - lo) // width``; the last bin may be shorter.

    Parameters
    ----------
    data
        The snapshot.
    width
        Bin width in frames (> 0).
    exclude
        Channels left out of the rows.
    stop_at_last_spike
        End at the table's last row (see above).

    Returns
    -------
    counts : numpy.ndarray
        int64, rows x bins.
    rows : numpy.ndarray
        int64, the channel of each row: ``0..C-1`` minus ``exclude``, ascending.

    Raises
    ------
    ValueError
        If ``width < 1`` (the official code divides by zero), or with ``stop_at_last_spike``
        on an empty spike table (the official code fails reading its last row).

    Examples
    --------
    >>> counts, rows = count_matrix(data, 2500, exclude=(0, 4, 7, 56, 63))  # doctest: +SKIP
    >>> counts.shape                                                        # doctest: +SKIP
    (59, 100)
    """
    width = int(width)
    if width < 1:
        raise ValueError(f"the bin width is {width} frames: bin_size_sec * frames_per_second must be at least 1")
    end = data.hi
    if stop_at_last_spike:
        if data.timestamps.size == 0:
            raise ValueError(f"{data.file_path} has no spikes: there is no last spike to stop at")
        end = max(data.lo, min(data.hi, int(data.timestamps[-1])))
    n_bins = math.ceil((end - data.lo) / width)
    excluded = set(int(c) for c in exclude)
    rows = np.array([c for c in range(data.channel_count) if c not in excluded], dtype=np.int64)
    row_of = np.full(data.channel_count, -1, dtype=np.int64)
    row_of[rows] = np.arange(rows.size)
    mask = _in_window(data, end)
    r = row_of[data.channels[mask]]
    bins = (data.timestamps[mask] - data.lo) // width
    keep = r >= 0
    flat = np.bincount(r[keep] * n_bins + bins[keep], minlength=rows.size * n_bins)
    return flat.astype(np.int64).reshape(rows.size, n_bins), rows


def truncating_width(bin_size_sec: float, fs: float) -> int:
    """Bin width in frames as firing stats, network bursts, criticality and connectivity take it.

    ``int(bin_size_sec * fs)`` (truncation; 0 is possible and makes those methods fail).

    Examples
    --------
    >>> truncating_width(0.004, 25_000), truncating_width(0.00003, 25_000)
    (100, 0)
    """
    return int(bin_size_sec * fs)


def rounding_width(bin_size_sec: float, fs: float) -> int:
    """Bin width in frames as information entropy and Lempel–Ziv take it.

    ``max(1, int(round(bin_size_sec * fs)))`` (Python ``round``: half to even).

    Examples
    --------
    >>> rounding_width(0.00002, 25_000), rounding_width(0.0001, 25_000)
    (1, 2)
    """
    return max(1, int(round(bin_size_sec * fs)))


def check_layout(data: SpikeData) -> None:
    """Check that the recording uses the common MEA layout (spec §2).

    Valid if raw samples exist and at most ``0.1 * Dur`` of them on the ground channels are
    non-zero; otherwise valid if there is a spikes table with no spike on a ground channel
    (the whole table, whatever the window); otherwise invalid.

    Raises
    ------
    ValueError
        ``"Recording does not conform to common MEA layout."`` when invalid.

    Examples
    --------
    >>> check_layout(data)   # doctest: +SKIP
    """
    if data.ground_nonzero is not None and data.ground_nonzero <= 0.1 * data.duration_frames:
        return
    if data.has_spike_table and not np.isin(data.channels, GROUND_CHANNELS).any():
        return
    raise ValueError(LAYOUT_ERROR)
