"""Stimulus-triggered spike histogram (PSTH): :class:`StimulusTriggeredHistogram`.

For every stimulation in the analysed window, the spikes from ``pre_ms`` before to
``post_ms`` after it are binned by their delay to the stim; the histogram is averaged over
stims and channels and given as a firing rate (Hz per channel), so recordings with
different numbers of stims or channels compare directly.

The stim/spike pairs are found with ``np.searchsorted`` and expanded with ``np.repeat``
(no Python loop over stims or spikes), a bounded number of pairs at a time, so memory
stays small even when stims are dense and trials overlap.

Edge cases (chosen so that every recording gives the same set of results, and a batch
run never recomputes a recording just because it had nothing to count):

- Only *whole trials* are used: a stim whose ``[-pre_ms, +post_ms)`` span is not entirely
  inside the analysed window (view window clipped to the recording) is left out, since
  the spikes of the missing part cannot be read and would bias the rate down. It is
  counted in ``psth_info["n_stims_partial"]``.
- Stims at the same frame (one pulse delivered on several channels) are one trial.
- A recording (or window) without usable stims still gives all three results: the PSTH
  and the evoked response are NaN (a rate over zero trials is undefined, and 0 would
  claim "no response"), and ``psth_info["n_stims"]`` is 0.

Examples
--------
>>> StimulusTriggeredHistogram(bin_ms=1, post_ms=50).perform_analysis(store)   # doctest: +SKIP
>>> psth = store.filter(analysis="StimulusTriggeredHistogram", identifier="psth").analysis_results[0]  # doctest: +SKIP
>>> psth.times[psth.values.argmax()]                                          # doctest: +SKIP
array(5.5) * ms
"""

from __future__ import annotations

import math
from collections.abc import Iterator
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
    selected_spike_frames,
)
from cldata.model.results import Data, PerChannelValue, TimeSeries

if TYPE_CHECKING:  # pragma: no cover
    from cldata.model.results import AnalysisResult
    from cldata.store.view import RecordingHandle

__all__ = ["StimulusTriggeredHistogram", "event_pairs"]

_MAX_PAIRS = 4_000_000  # stim/spike pairs expanded at once


def event_pairs(lo: np.ndarray, hi: np.ndarray, max_pairs: int = _MAX_PAIRS) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(trial index, event index)`` pairs for the index ranges ``[lo[i], hi[i])``, in chunks.

    Each chunk holds at most about ``max_pairs`` pairs (a single trial may exceed it).

    Examples
    --------
    >>> [(t.tolist(), e.tolist()) for t, e in event_pairs(np.array([0, 2]), np.array([2, 5]))]
    [([0, 0, 1, 1, 1], [0, 1, 2, 3, 4])]
    """
    counts = np.maximum(hi - lo, 0)
    ends = np.cumsum(counts)
    i = 0
    while i < counts.size:
        # the trials whose pairs fit into this chunk (at least one)
        base = ends[i] - counts[i]
        j = max(i + 1, int(np.searchsorted(ends, base + max_pairs, side="right")))
        c = counts[i:j]
        total = int(c.sum())
        if total:
            trial = np.repeat(np.arange(i, j), c)
            offset = np.arange(total) - np.repeat(np.cumsum(c) - c, c)
            yield trial, np.repeat(lo[i:j], c) + offset
        i = j


class StimulusTriggeredHistogram(Analysis):
    """Peri-stimulus time histogram of the spikes around each stimulation.

    Parameters
    ----------
    pre_ms : float, default 20
        Time before each stim covered by the histogram.
    post_ms : float, default 100
        Time after each stim covered. The bins tile ``[-pre_ms, post_ms)`` from
        ``-pre_ms``; if ``pre_ms + post_ms`` is not a whole number of bins, the last bin
        reaches a little past ``post_ms``.
    bin_ms : float, default 2
        Bin width.
    channels : list of int or None, default None
        The recording channels whose spikes are counted (``None``: all).
    stim_channels : list of int or None, default None
        Only stims delivered on these channels are used (``None``: every stim).
    response_ms : float, default 20
        The evoked response counts spikes in ``[0, response_ms)`` after each stim
        (``response_ms <= post_ms``).

    Results
    -------
    ``psth`` : TimeSeries
        ``times``: bin centres in ms relative to the stim; ``values``: firing rate in Hz
        per channel, averaged over stims and the counted channels (NaN without stims).
    ``evoked_response`` : PerChannelValue, dimensionless
        Spikes per stim in ``[0, response_ms)``, for each counted channel (NaN without stims).
    ``psth_info`` : Data
        ``{"n_stims", "n_stims_partial", "n_channels", "n_spikes", "stim_channels",
        "window_s"}``: trials used (distinct stim frames), trials left out because the
        window cut them, channels counted, spikes counted in the histogram, the distinct stim
        channels used, and the analysed window ``[start, stop)`` in s.
    """

    optional_parameters = {
        "pre_ms": (NUMBER, 20.0),
        "post_ms": (NUMBER, 100.0),
        "bin_ms": (NUMBER, 2.0),
        "channels": (CHANNELS, None),
        "stim_channels": (CHANNELS, None),
        "response_ms": (NUMBER, 20.0),
    }

    def __init__(self, parameters: Any = None, **kw: Any):
        super().__init__(parameters, **kw)
        p = self.parameters
        bin_problem = not p["bin_ms"] > 0
        check_values(self.name, [
            (not p["pre_ms"] >= 0, f"'pre_ms' should be >= 0, not {p['pre_ms']}"),
            (not p["post_ms"] > 0, f"'post_ms' should be > 0, not {p['post_ms']}"),
            (bin_problem, f"'bin_ms' should be > 0, not {p['bin_ms']}"),
            (not bin_problem and (p["pre_ms"] + p["post_ms"]) / p["bin_ms"] > 1e6,
             "'pre_ms' + 'post_ms' over 'bin_ms' makes more than a million bins"),
            (not 0 < p["response_ms"] <= p["post_ms"],
             f"'response_ms' should be > 0 and at most 'post_ms' ({p['post_ms']}), not {p['response_ms']}"),
            channel_list_problem(p["channels"]),
            channel_list_problem(p["stim_channels"]),
        ])

    def compute(self, recording: RecordingHandle) -> list[AnalysisResult]:
        p = self.parameters
        view = recording.view()
        fps = view.frames_per_second
        start, stop = analysed_window(view)
        chosen, ts, ch = selected_spike_frames(self.name, view, p["channels"])

        pre, bin_ms, response = float(p["pre_ms"]), float(p["bin_ms"]), float(p["response_ms"])
        n_bins = max(1, math.ceil((pre + float(p["post_ms"])) / bin_ms - 1e-9))
        span_ms = n_bins * bin_ms
        first = math.floor(-pre * fps / 1000.0)  # frames relative to a stim, wide enough for the bins
        last = math.ceil((span_ms - pre) * fps / 1000.0)

        stims = view.read_stims()
        stim_ts, stim_ch = stims["timestamp"].astype(np.int64), stims["channel"].astype(np.int64)
        if p["stim_channels"] is not None:
            keep = np.isin(stim_ch, np.asarray(p["stim_channels"], dtype=np.int64))
            stim_ts, stim_ch = stim_ts[keep], stim_ch[keep]
        whole = (stim_ts + first >= start) & (stim_ts + last <= stop)
        used_channels = np.unique(stim_ch[whole])
        # a pulse on several channels at once is one trial
        n_partial = int(np.unique(stim_ts[~whole]).size)
        stim_ts = np.unique(stim_ts[whole])

        counts = np.zeros(n_bins, dtype=np.int64)
        evoked = np.zeros(chosen.size, dtype=np.int64)
        lo = np.searchsorted(ts, stim_ts + first, side="left")
        hi = np.searchsorted(ts, stim_ts + last, side="left")
        for trial, spike in event_pairs(lo, hi):
            rel_ms = (ts[spike] - stim_ts[trial]) * (1000.0 / fps)
            index = np.floor((rel_ms + pre) / bin_ms + 1e-9).astype(np.int64)
            inside = (index >= 0) & (index < n_bins)
            counts += np.bincount(index[inside], minlength=n_bins)
            early = inside & (rel_ms >= -1e-9) & (rel_ms < response - 1e-9)
            evoked += np.bincount(np.searchsorted(chosen, ch[spike[early]]), minlength=chosen.size)

        n_stims = int(stim_ts.size)
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = counts / (n_stims * chosen.size * bin_ms / 1000.0) if n_stims and chosen.size else np.full(n_bins, np.nan)
            per_stim = evoked / n_stims if n_stims else np.full(chosen.size, np.nan)
        centres = -pre + (np.arange(n_bins) + 0.5) * bin_ms
        info = {
            "n_stims": n_stims,
            "n_stims_partial": n_partial,
            "n_channels": int(chosen.size),
            "n_spikes": int(counts.sum()),
            "stim_channels": [int(c) for c in used_channels],
            "window_s": [start / fps, stop / fps],
        }
        return [
            self.result(TimeSeries, "psth", centres * pq.ms, rate * pq.Hz, recording=recording),
            self.result(PerChannelValue, "evoked_response", per_stim * pq.dimensionless, chosen, recording=recording),
            self.result(Data, "psth_info", info, recording=recording),
        ]
