"""Per-channel firing statistics: :class:`FiringRate` and :class:`ISIHistogram`.

Both read the spikes through ``recording.view()``, so they honour the view's time window:
rates are spike counts divided by the length of the *analysed window* (the view's window
clipped to the recording, ``RecordingView.clipped_window``), not by the file's duration.
Everything is vectorised with numpy (no Python loop over spikes or channels).

Helpers shared with the other shipped analyses live in :mod:`cldata.analysis.common`.

Examples
--------
>>> FiringRate().perform_analysis(store)                               # doctest: +SKIP
>>> store.filter(analysis="FiringRate", identifier="cv_isi").analysis_results[0].values   # doctest: +SKIP
array([0.98, nan, 1.02, ...]) * dimensionless
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import quantities as pq

from cldata.analysis.base import Analysis
from cldata.analysis.common import (
    CHANNELS,
    NUMBER,
    analysed_window,
    channel_list_problem,
    check_values,
    read_spike_frames,
    selected_spike_frames,
)
from cldata.model.results import PerChannelValue, SingleValue, TimeSeries

if TYPE_CHECKING:  # pragma: no cover
    from cldata.model.results import AnalysisResult
    from cldata.store.view import RecordingHandle

__all__ = ["FiringRate", "ISIHistogram"]

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
        start, stop = analysed_window(view)
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
        chosen, ts, ch = selected_spike_frames(self.name, view, self.parameters["channels"])
        isi, _ = _isis(ts, ch, view.frames_per_second)
        bin_ms, max_ms = float(self.parameters["bin_ms"]), float(self.parameters["max_ms"])
        n_bins = max(1, math.ceil(max_ms / bin_ms - 1e-9))
        index = np.floor(isi * 1000.0 / bin_ms + 1e-9).astype(np.int64)
        counts = np.bincount(index[index < n_bins], minlength=n_bins)
        centres = (np.arange(n_bins) + 0.5) * bin_ms
        return [self.result(TimeSeries, "isi_histogram", centres * pq.ms, counts.astype(float) * pq.dimensionless,
                            recording=recording)]
