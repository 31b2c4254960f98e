"""Network-burst detection: :class:`NetworkBursts`.

The analysed window (the view's window clipped to the recording) is cut into bins of
``bin_ms`` from its start. A bin is *active* when at least
``ceil(min_channels_fraction * channel_count)`` distinct channels (at least one) fire in
it; runs of active bins are bursts, bursts whose gap is shorter than ``merge_ms`` are
merged, and merged bursts shorter than ``min_duration_ms`` are dropped. The fraction is of
the recording's ``channel_count`` (all electrodes, silent ones included), so the
threshold does not depend on what happened to fire in the window.

Burst edges are bin edges (start of the first active bin, end of the last; the last bin
of the window may be shorter than ``bin_ms``), so they are exact to within one bin. A
burst that runs over an edge of the window is cut there. Times are in seconds from the
recording start (not from the window start), so bursts of windowed and whole-recording
runs line up.

Everything is vectorised: distinct (bin, channel) pairs through ``np.unique``, runs by
differencing the active mask.

Examples
--------
>>> NetworkBursts(bin_ms=10, min_channels_fraction=0.3).perform_analysis(store)   # doctest: +SKIP
>>> store.filter(analysis="NetworkBursts", identifier="burst_rate").analysis_results[0].value  # doctest: +SKIP
array(0.52) * Hz
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import quantities as pq

from cldata.analysis.base import Analysis
from cldata.analysis.common import NUMBER, analysed_window, check_values, read_spike_frames
from cldata.model.results import Data, SingleValue

if TYPE_CHECKING:  # pragma: no cover
    from cldata.model.results import AnalysisResult
    from cldata.store.view import RecordingHandle

__all__ = ["NetworkBursts", "active_runs"]


def active_runs(active: np.ndarray, merge_bins: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """``(starts, stops)`` of the runs of True in ``active`` (stop exclusive).

    Runs separated by a gap of fewer than ``merge_bins`` False entries are merged.

    Examples
    --------
    >>> active_runs(np.array([0, 1, 1, 0, 1, 0, 0, 1], dtype=bool))
    (array([1, 4, 7]), array([3, 5, 8]))
    >>> active_runs(np.array([0, 1, 1, 0, 1, 0, 0, 1], dtype=bool), merge_bins=2)
    (array([1, 7]), array([5, 8]))
    """
    edges = np.diff(np.concatenate(([0], active.astype(np.int8), [0])))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    if starts.size > 1 and merge_bins > 0:
        keep_gap = (starts[1:] - stops[:-1]) >= merge_bins  # gaps that still separate bursts
        starts = starts[np.concatenate(([True], keep_gap))]
        stops = stops[np.concatenate((keep_gap, [True]))]
    return starts, stops


class NetworkBursts(Analysis):
    """Detect network bursts: moments when a large part of the array fires together.

    Parameters
    ----------
    bin_ms : float, default 10
        Bin width.
    min_channels_fraction : float, default 0.25
        A bin is active when at least this fraction of the recording's channels fire in it
        (``0 < fraction <= 1``).
    merge_ms : float, default 20
        Bursts separated by a gap shorter than this are merged into one.
    min_duration_ms : float, default 0
        Merged bursts shorter than this are dropped.

    Results
    -------
    ``network_bursts`` : Data
        A dict: ``start``, ``stop`` (s, quantity arrays, from the recording start),
        ``duration`` (ms), ``n_spikes`` (spikes in each burst, all channels),
        ``n_channels`` (distinct channels firing in each burst), ``n_bursts``,
        ``threshold_channels`` (the distinct-channel threshold of a bin) and ``window_s``
        (the analysed window).
    ``burst_rate`` : SingleValue, Hz
        Bursts per second of window (NaN for an empty window).
    ``burst_fraction`` : SingleValue, dimensionless
        Fraction of the window's spikes that fall in bursts (NaN without spikes).
    """

    optional_parameters = {
        "bin_ms": (NUMBER, 10.0),
        "min_channels_fraction": (NUMBER, 0.25),
        "merge_ms": (NUMBER, 20.0),
        "min_duration_ms": (NUMBER, 0.0),
    }

    def __init__(self, parameters: Any = None, **kw: Any):
        super().__init__(parameters, **kw)
        p = self.parameters
        check_values(self.name, [
            (not p["bin_ms"] > 0, f"'bin_ms' should be > 0, not {p['bin_ms']}"),
            (not 0 < p["min_channels_fraction"] <= 1,
             f"'min_channels_fraction' should be in (0, 1], not {p['min_channels_fraction']}"),
            (not p["merge_ms"] >= 0, f"'merge_ms' should be >= 0, not {p['merge_ms']}"),
            (not p["min_duration_ms"] >= 0, f"'min_duration_ms' should be >= 0, not {p['min_duration_ms']}"),
        ])

    def compute(self, recording: RecordingHandle) -> list[AnalysisResult]:
        p = self.parameters
        view = recording.view()
        fps, n_ch = view.frames_per_second, view.channel_count
        start, stop = analysed_window(view)
        ts, ch = read_spike_frames(view)
        bin_ms = float(p["bin_ms"])
        bin_frames = bin_ms * fps / 1000.0
        n_bins = math.ceil((stop - start) / bin_frames - 1e-9) if stop > start else 0
        threshold = max(1, math.ceil(float(p["min_channels_fraction"]) * n_ch - 1e-9))

        spike_bin = np.floor((ts - start) / bin_frames + 1e-9).astype(np.int64)
        spike_bin = np.clip(spike_bin, 0, max(n_bins - 1, 0))
        pairs = np.unique(spike_bin * n_ch + ch)  # distinct (bin, channel)
        distinct = np.bincount(pairs // n_ch, minlength=n_bins)[:n_bins]
        starts, stops = active_runs(distinct >= threshold, float(p["merge_ms"]) / bin_ms - 1e-9)

        # bin edges in frames from the recording start; the last bin ends at the window's end
        t0 = start + starts * bin_frames
        t1 = np.minimum(start + stops * bin_frames, stop)
        long_enough = (t1 - t0) * (1000.0 / fps) >= float(p["min_duration_ms"]) - 1e-9
        starts, stops, t0, t1 = starts[long_enough], stops[long_enough], t0[long_enough], t1[long_enough]

        # burst of each bin (-1 outside bursts), then of each spike
        marks = np.zeros(n_bins + 1, dtype=np.int64)
        np.add.at(marks, starts, 1)
        np.add.at(marks, stops, -1)
        inside = np.cumsum(marks)[:n_bins] > 0
        burst_of_bin = np.where(inside, np.cumsum(np.isin(np.arange(n_bins), starts)) - 1, -1)
        spike_burst = burst_of_bin[spike_bin] if ts.size and n_bins else np.empty(0, dtype=np.int64)
        in_burst = spike_burst >= 0
        n_bursts = int(starts.size)
        sizes = np.bincount(spike_burst[in_burst], minlength=n_bursts)
        members = np.unique(spike_burst[in_burst] * n_ch + ch[in_burst])
        channels = np.bincount(members // n_ch, minlength=n_bursts)

        seconds = (stop - start) / fps
        bursts = {
            "start": (t0 / fps) * pq.s,
            "stop": (t1 / fps) * pq.s,
            "duration": ((t1 - t0) * (1000.0 / fps)) * pq.ms,
            "n_spikes": sizes.astype(np.int64),
            "n_channels": channels.astype(np.int64),
            "n_bursts": n_bursts,
            "threshold_channels": int(threshold),
            "window_s": [start / fps, stop / fps],
        }
        rate = n_bursts / seconds if seconds > 0 else math.nan
        fraction = float(in_burst.sum()) / ts.size if ts.size else math.nan
        return [
            self.result(Data, "network_bursts", bursts, recording=recording),
            self.result(SingleValue, "burst_rate", rate * pq.Hz, recording=recording),
            self.result(SingleValue, "burst_fraction", fraction * pq.dimensionless, recording=recording),
        ]
