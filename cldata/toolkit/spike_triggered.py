"""Spike-triggered histograms between the most active channels (CL-ANALYSES §11).

The model: a cross-correlation histogram (Perkel, Gerstein & Moore 1967, Biophys J 7:419) of
one channel's spikes around another's. Spike times are the window's spike train (§2) in seconds,
``frame / fs``. A channel's rate is its spike count in the window divided by the **whole
recording's** duration. The candidates are the non-ground, non-reference channels (all but 0, 4,
7, 56, 63) whose rate reaches ``min_firing_rate_threshold_hz``; the ``num_channels`` fastest are
kept. For each pair ``(a, b)`` of them, and then ``(b, a)``, every spike ``s`` of the base ``a``
collects the lags ``x − s`` of the target's spikes ``x`` with ``s − start_sec ≤ x ≤ s + end_sec``,
histogrammed over ``numpy.arange(-start_sec, end_sec + bin_size_sec, step=bin_size_sec)``.

Official quirks reproduced (§14.10): rates use the whole recording's duration even with a window;
the edges come from that float ``arange`` as is (for −0.05…0.05 by 0.01 the "0" edge is ≈ 7e-18
and a twelfth edge 0.06 exists, so zero-lag coincidences fall in the bin left of 0); ties in rate
at the cut are broken by ``numpy.argsort``'s default sort, as officially. **Bug fixed:** the
official ``save()`` raises ``TypeError`` on the tuple keys of ``histograms``; here they are
written as ``"a,b"`` strings and read back as ``(a, b)`` tuples.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from cldata.toolkit.preprocess import (
    GROUND_CHANNELS,
    REFERENCE_CHANNEL,
    SpikeData,
    check_layout,
    require_spike_table,
    spike_train,
)
from cldata.toolkit.results import FloatArray, IntArray, ToolkitResult, metadata_of

__all__ = ["AnalysisResultSpikeTriggeredHistogram", "analyse_spike_triggered_histogram", "lag_histogram"]


@dataclass(eq=False)
class AnalysisResultSpikeTriggeredHistogram(ToolkitResult):
    """Spike-triggered histograms (§11), fields in the official order.

    ``histograms`` maps ``(base, target)`` to int64 counts, one per bin of ``histogram_bins``
    (whose length is one more). ``num_eligible_channels`` is ``min(num_channels, candidates)``.
    ``save()`` writes the pair keys as ``"a,b"`` (officially a ``TypeError``); ``from_file()``
    reads them back as ``(a, b)`` tuples.
    """

    bin_size_sec: float
    start_sec: float
    end_sec: float
    num_eligible_channels: int
    min_firing_rate_threshold_hz: float
    histogram_bins: FloatArray
    # keys typed bare ``tuple``: the JSON reader hands "a,b" keys over as they are, and
    # __post_init__ turns them into (a, b)
    histograms: dict[tuple, IntArray]

    def __post_init__(self) -> None:
        self.histograms = {_pair(key): value for key, value in self.histograms.items()}

    def to_json_dict(self) -> dict[str, Any]:
        """The object ``save()`` writes, with ``histograms`` keyed ``"a,b"``.

        Examples
        --------
        >>> result.to_json_dict()["histograms"].keys()   # doctest: +SKIP
        dict_keys(['42,53', '53,42', ...])
        """
        out = super().to_json_dict()
        out["histograms"] = {f"{a},{b}": np.asarray(v).tolist() for (a, b), v in self.histograms.items()}
        return out

    def plot(self, figsize: tuple[float, float] = (8, 2), title: str | None = None,
             save_path: str | None = None, axes: Any = None) -> list[Any]:
        """One bar chart per histogram (rows sharing y, ``figsize[1]`` high each), lag 0 marked.

        Panels "Base: Channel a, Target: Channel b", x "Time (secs) relative to base spike",
        y "Spike Count", default title "Spike-triggered Histograms". Draws on ``axes`` (one per
        histogram) or a new figure, saves to ``save_path`` (tight) or, on its own figure, shows
        it; returns the Axes. Given ``axes`` and no ``save_path`` it just draws (the official
        plot writes a stray ``None.png``). Raises :class:`ValueError` when there is no
        histogram. Needs matplotlib (``pip install "cldata[plot]"``).

        Examples
        --------
        >>> axes = result.plot(save_path="sth.png")   # doctest: +SKIP
        """
        # why here: the plots sit above the results they draw (a documented back edge of
        # tests/test_architecture.py) and import matplotlib, an optional extra, when drawing
        from cldata.toolkit.plots.spike_triggered import plot_histograms

        return plot_histograms(self, figsize=figsize, title=title, save_path=save_path, axes=axes)


def _pair(key: Any) -> tuple[int, int]:
    """A histogram key as ``(base, target)``: from a tuple/list or an ``"a,b"`` string."""
    parts = key.split(",") if isinstance(key, str) else key
    try:
        a, b = (int(part) for part in parts)
    except (TypeError, ValueError):
        raise ValueError(f"a histogram key must be a channel pair (a, b) or 'a,b', not {key!r}") from None
    return a, b


def lag_histogram(base: np.ndarray, target: np.ndarray, start_sec: float, end_sec: float,
                  bins: np.ndarray) -> np.ndarray:
    """Histogram of ``x − s`` over every base time ``s`` and target time ``x`` with
    ``s − start_sec ≤ x ≤ s + end_sec`` (the same float comparisons as the spec's loop).

    Vectorised: each base spike's target range comes from two ``searchsorted`` calls on the
    sorted targets (exact comparisons), then all lags are built at once.

    Examples
    --------
    >>> lag_histogram(np.array([1.0]), np.array([0.99, 1.0, 1.2]), 0.05, 0.05, np.array([-0.05, 0.0, 0.05]))
    array([1, 1])
    """
    target = np.sort(np.asarray(target, dtype=np.float64))
    base = np.asarray(base, dtype=np.float64)
    first = np.searchsorted(target, base - start_sec, "left")
    after = np.searchsorted(target, base + end_sec, "right")
    sizes = np.maximum(after - first, 0)
    total = int(sizes.sum())
    if total == 0:
        return np.zeros(max(len(bins) - 1, 0), dtype=np.int64)
    owner = np.repeat(np.arange(len(base)), sizes)
    offsets = np.arange(total) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    lags = target[first[owner] + offsets] - base[owner]
    return np.histogram(lags, bins=bins)[0].astype(np.int64)


def analyse_spike_triggered_histogram(
    data: SpikeData,
    bin_size_sec: float,
    start_sec: float,
    end_sec: float,
    num_channels: int,
    min_firing_rate_threshold_hz: float = 0.1,
    *,
    verbose: bool = True,
) -> AnalysisResultSpikeTriggeredHistogram:
    """Spike-triggered histograms between the ``num_channels`` most active channels (§11).

    Parameters
    ----------
    data : SpikeData
        The recording's spikes and window.
    bin_size_sec : float
        Histogram bin width, seconds.
    start_sec, end_sec : float
        Lags before / after each base spike, seconds (both positive).
    num_channels : int
        How many of the most active candidate channels to pair.
    min_firing_rate_threshold_hz : float
        Least rate (window count / whole-recording duration) of a candidate.
    verbose : bool
        Print the selected channels (or that none qualifies), as the official method does;
        cldata's batch analysis turns it off.

    Returns
    -------
    AnalysisResultSpikeTriggeredHistogram
        With empty ``histogram_bins`` and ``histograms`` when no channel qualifies (the official
        message is printed).

    Raises
    ------
    ValueError
        If the recording does not conform to the common MEA layout, or has no spikes table.

    Notes
    -----
    Quirks kept (§14.10): whole-recording duration in the rates, float ``arange`` edges (zero
    lags land left of 0), ``argsort`` tie-breaking at the cut. Prints the selected channels as
    the official code does. ``save()`` works here (officially a ``TypeError``).

    Examples
    --------
    >>> res = analyse_spike_triggered_histogram(data, 0.01, 0.05, 0.05, num_channels=3)   # doctest: +SKIP
    Selected top channels are: [42, 53, 61]
    >>> sorted(res.histograms)   # doctest: +SKIP
    [(42, 53), (42, 61), (53, 42), (53, 61), (61, 42), (61, 53)]
    """
    check_layout(data)
    require_spike_table(data)
    metadata = metadata_of(data)
    train = spike_train(data)
    excluded = set(GROUND_CHANNELS) | {REFERENCE_CHANNEL}
    channels = [c for c in range(data.channel_count) if c not in excluded]
    counts = np.array([len(train.get(c, ())) for c in channels], dtype=np.int64)
    rates = counts / metadata.duration_seconds
    candidates = np.array(channels, dtype=np.int64)[rates >= min_firing_rate_threshold_hz]
    candidate_rates = rates[rates >= min_firing_rate_threshold_hz]
    eligible = min(num_channels, len(candidates))

    def result(bins: np.ndarray, histograms: dict) -> AnalysisResultSpikeTriggeredHistogram:
        return AnalysisResultSpikeTriggeredHistogram(
            metadata=metadata, bin_size_sec=bin_size_sec, start_sec=start_sec, end_sec=end_sec,
            num_eligible_channels=int(eligible), min_firing_rate_threshold_hz=min_firing_rate_threshold_hz,
            histogram_bins=bins, histograms=histograms)

    if eligible < 1:
        if verbose:
            print("No channels to check that meet the firing rate threshold.")
        return result(np.array([], dtype=np.float64), {})
    top = [int(c) for c in candidates[np.argsort(candidate_rates)[-num_channels:]]]
    if verbose:
        print(f"Selected top channels are: {top}")
    bins = np.arange(-start_sec, end_sec + bin_size_sec, step=bin_size_sec)
    times = {c: np.asarray(train.get(c, ()), dtype=np.int64) / data.fs for c in top}
    histograms: dict[tuple[int, int], np.ndarray] = {}
    for a, b in itertools.combinations(top, 2):
        for base, target in ((a, b), (b, a)):
            histograms[(base, target)] = lag_histogram(times[base], times[target], start_sec, end_sec, bins)
    return result(bins.astype(np.float64), histograms)
