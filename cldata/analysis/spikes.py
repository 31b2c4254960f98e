"""Per-channel firing statistics: :class:`FiringRate` and :class:`ISIHistogram`.

Both read the spikes through ``recording.view()``, so they honour the view's time window:
rates are spike counts divided by the length of the *analysed window* (the view's window
clipped to the recording, see :func:`window_frames`), not by the file's duration.
Everything is vectorised with numpy (no Python loop over spikes or channels).

The helpers here (:func:`window_frames`, :func:`channel_selection`, :func:`read_spike_frames`,
:func:`check_values`) are shared by the other shipped analyses.

Examples
--------
>>> FiringRate().perform_analysis(store)                               # doctest: +SKIP
>>> store.filter(analysis="FiringRate", identifier="cv_isi").analysis_results[0].values   # doctest: +SKIP
array([0.98, nan, 1.02, ...]) * dimensionless
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import quantities as pq

from cldata.analysis.base import Analysis, register_analysis
from cldata.errors import ParameterError
from cldata.results import PerChannelValue, SingleValue, TimeSeries

if TYPE_CHECKING:  # pragma: no cover
    from cldata.format.reader import RecordingView
    from cldata.results import AnalysisResult
    from cldata.view import RecordingHandle

__all__ = [
    "FiringRate",
    "ISIHistogram",
    "window_frames",
    "channel_selection",
    "read_spike_frames",
    "check_values",
    "channel_list_problem",
    "CHANNELS",
    "NUMBER",
]

#: parameter type of a channel list (``None``: every channel)
CHANNELS = (list, tuple, type(None))
#: parameter type of a number
NUMBER = (int, float)


# -- helpers shared by the shipped analyses -----------------------------------------------------


def check_values(owner: str, problems: Iterable[tuple[bool, str]]) -> None:
    """Raise one :class:`ParameterError` naming every ``message`` whose condition is true."""
    bad = [message for failed, message in problems if failed]
    if bad:
        raise ParameterError(f"{owner}: " + "; ".join(bad))


def channel_list_problem(channels: Any) -> tuple[bool, str]:
    """``(failed, message)`` for :func:`check_values`: is ``channels`` None or a list of channel numbers?"""
    ok = channels is None or all(
        isinstance(c, (int, np.integer)) and not isinstance(c, (bool, np.bool_)) and c >= 0 for c in channels
    )
    return (not ok, f"'channels' should be None or a list of channel numbers (ints >= 0), not {channels!r:.60}")


def window_frames(view: RecordingView) -> tuple[int, int]:
    """The ``[start, stop)`` frames an analysis covers: the view's window within the recording.

    A ``RecordingHandle``'s view is windowed (``(start|None, stop|None)`` frames); an open
    side is the recording's start (frame 0) or end (``duration_frames``), and the window
    is clipped to ``[0, duration_frames]``. Durations (and so rates) are ``stop - start``.

    Examples
    --------
    >>> window_frames(store.between(0, 0.5 * pq.s).recordings[0].view())   # doctest: +SKIP
    (0, 12500)
    """
    end = max(int(view.duration_frames), 0)
    a, b = view.window
    start = 0 if a is None else min(max(int(a), 0), end)
    stop = end if b is None else min(max(int(b), start), end)
    return start, stop


def channel_selection(owner: str, channels: Any, channel_count: int) -> np.ndarray:
    """The analysed channels as an int array: ``channels`` checked against the recording, or all.

    Raises
    ------
    cldata.errors.ParameterError
        If a channel is not one of the recording's ``0 .. channel_count-1``.
    """
    if channels is None:
        return np.arange(channel_count)
    chosen = np.asarray(list(channels), dtype=np.int64)
    outside = sorted(set(chosen[(chosen < 0) | (chosen >= channel_count)].tolist()))
    if outside:
        raise ParameterError(f"{owner}: channel(s) {outside} not in the recording (channels 0..{channel_count - 1})")
    return np.unique(chosen)


def read_spike_frames(view: RecordingView, channels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Spike frames (int64, in time order) and channels (intp) of the analysed window.

    Only the timestamp and channel columns are read (no waveforms). ``channels`` keeps
    only spikes of those channels; spikes on a channel outside the recording's
    ``channel_count``, or outside :func:`window_frames` (past the recording's stated end),
    are dropped.
    """
    start, stop = window_frames(view)
    spikes = view.read_spikes(start, stop, waveforms=False)
    ts = spikes["timestamp"].astype(np.int64, copy=False)
    ch = spikes["channel"].astype(np.intp, copy=False)
    keep = ch < view.channel_count if channels is None else np.isin(ch, channels)
    if not keep.all():
        ts, ch = ts[keep], ch[keep]
    if ts.size > 1 and np.any(ts[1:] < ts[:-1]):  # CL tables are in time order; be safe anyway
        order = np.argsort(ts, kind="stable")
        ts, ch = ts[order], ch[order]
    return ts, ch


def _isis(ts: np.ndarray, ch: np.ndarray, frames_per_second: int) -> tuple[np.ndarray, np.ndarray]:
    """Inter-spike intervals (s) within each channel, and the channel of each interval.

    ``ts`` must be in time order (as :func:`read_spike_frames` gives it): a stable sort by
    channel then keeps each channel's spikes in time order.
    """
    order = np.argsort(ch, kind="stable")
    s_ts, s_ch = ts[order], ch[order]
    same = s_ch[1:] == s_ch[:-1]
    return np.diff(s_ts)[same] / float(frames_per_second), s_ch[1:][same]


def _rate(count: Any, seconds: float) -> Any:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(count, dtype=float) / seconds if seconds > 0 else np.full(np.shape(count), np.nan)


# -- analyses -----------------------------------------------------------------------------------


@register_analysis
class FiringRate(Analysis):
    """Firing rate and inter-spike-interval statistics of every channel.

    Parameters
    ----------
    min_spikes : int, default 3
        A channel needs at least this many spikes (>= 2) in the window for its ISI
        statistics; below that they are NaN.
    active_threshold_hz : float, default 0.1
        A channel firing at least this fast counts as active in ``mean_firing_rate``.

    Results (one recording, its window)
    -----------------------------------
    ``firing_rate`` : PerChannelValue, Hz
        Spike count / window length, for every channel ``0 .. channel_count-1``.
    ``mean_isi`` : PerChannelValue, ms
        Mean inter-spike interval (NaN below ``min_spikes``).
    ``cv_isi`` : PerChannelValue, dimensionless
        Coefficient of variation of the ISIs, ``std / mean`` (population std, ``ddof=0``;
        NaN below ``min_spikes`` or when every ISI is 0). A regular train has CV 0, a
        Poisson train about 1.
    ``mean_firing_rate`` : SingleValue, Hz
        Mean rate over the active channels (NaN if none is active or the window is empty).
    ``active_channels`` : SingleValue, dimensionless
        How many channels are active.
    """

    optional_parameters = {
        "min_spikes": (int, 3),
        "active_threshold_hz": (NUMBER, 0.1),
    }

    def __init__(self, parameters: Any = None, **kw: Any):
        super().__init__(parameters, **kw)
        p = self.parameters
        check_values(self.name, [
            (p["min_spikes"] < 2, f"'min_spikes' should be at least 2 (an ISI needs two spikes), not {p['min_spikes']}"),
            (not p["active_threshold_hz"] >= 0, f"'active_threshold_hz' should be >= 0, not {p['active_threshold_hz']}"),
        ])

    def compute(self, recording: RecordingHandle) -> list[AnalysisResult]:
        view = recording.view()
        fps, n_ch = view.frames_per_second, view.channel_count
        start, stop = window_frames(view)
        seconds = (stop - start) / fps
        ts, ch = read_spike_frames(view)

        counts = np.bincount(ch, minlength=n_ch)
        rates = _rate(counts, seconds)

        isi, isi_ch = _isis(ts, ch, fps)
        n_isi = np.bincount(isi_ch, minlength=n_ch).astype(float)
        enough = counts >= self.parameters["min_spikes"]
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = np.bincount(isi_ch, weights=isi, minlength=n_ch) / n_isi
            dev = isi - mean[isi_ch]  # two passes: exact even for long, regular trains
            std = np.sqrt(np.bincount(isi_ch, weights=dev * dev, minlength=n_ch) / n_isi)
            cv = std / mean
        mean[~enough] = np.nan
        cv[~enough | ~(mean > 0)] = np.nan

        active = rates >= self.parameters["active_threshold_hz"]
        mean_rate = float(rates[active].mean()) if active.any() else math.nan
        channels = np.arange(n_ch)
        return [
            self.result(PerChannelValue, "firing_rate", rates * pq.Hz, channels, recording=recording),
            self.result(PerChannelValue, "mean_isi", (mean * pq.s).rescale(pq.ms), channels, recording=recording),
            self.result(PerChannelValue, "cv_isi", cv * pq.dimensionless, channels, recording=recording),
            self.result(SingleValue, "mean_firing_rate", mean_rate * pq.Hz, recording=recording),
            self.result(SingleValue, "active_channels", int(active.sum()) * pq.dimensionless, recording=recording),
        ]


@register_analysis
class ISIHistogram(Analysis):
    """The distribution of inter-spike intervals, pooled over channels.

    Parameters
    ----------
    bin_ms : float, default 1
        Width of a histogram bin.
    max_ms : float, default 100
        The histogram covers ISIs in ``[0, max_ms)`` (rounded up to whole bins); longer
        ones are not counted.
    channels : list of int or None, default None
        The channels whose ISIs are pooled (``None``: all). ISIs are always taken within
        one channel.

    Results
    -------
    ``isi_histogram`` : TimeSeries
        ``times``: bin centres (ms); ``values``: number of ISIs in each bin (dimensionless).
        A recording without ISIs gives a histogram of zeros.
    """

    optional_parameters = {
        "bin_ms": (NUMBER, 1.0),
        "max_ms": (NUMBER, 100.0),
        "channels": (CHANNELS, None),
    }

    def __init__(self, parameters: Any = None, **kw: Any):
        super().__init__(parameters, **kw)
        p = self.parameters
        check_values(self.name, [
            (not p["bin_ms"] > 0, f"'bin_ms' should be > 0, not {p['bin_ms']}"),
            (not p["max_ms"] > 0, f"'max_ms' should be > 0, not {p['max_ms']}"),
            (p["bin_ms"] > 0 and p["max_ms"] / p["bin_ms"] > 1e7, "'max_ms' / 'bin_ms' makes more than 10 million bins"),
            channel_list_problem(p["channels"]),
        ])

    def compute(self, recording: RecordingHandle) -> list[AnalysisResult]:
        view = recording.view()
        chosen = channel_selection(self.name, self.parameters["channels"], view.channel_count)
        ts, ch = read_spike_frames(view, None if self.parameters["channels"] is None else chosen)
        isi, _ = _isis(ts, ch, view.frames_per_second)
        bin_ms, max_ms = float(self.parameters["bin_ms"]), float(self.parameters["max_ms"])
        n_bins = max(1, math.ceil(max_ms / bin_ms - 1e-9))
        index = np.floor(isi * 1000.0 / bin_ms + 1e-9).astype(np.int64)
        counts = np.bincount(index[index < n_bins], minlength=n_bins)
        centres = (np.arange(n_bins) + 0.5) * bin_ms
        return [self.result(TimeSeries, "isi_histogram", centres * pq.ms, counts.astype(float) * pq.dimensionless,
                            recording=recording)]
