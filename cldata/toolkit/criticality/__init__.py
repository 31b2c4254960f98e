"""Criticality of a recording's network activity: ``analyse_criticality`` (spec §7).

The model: neuronal avalanches (Beggs & Plenz 2003) are runs of bins whose network activity
exceeds a quantile of it. At a critical point their sizes and durations follow power laws
(exponents τ and α, fitted after Clauset, Shalizi & Newman 2009), the mean size grows with
duration as ``T^((α−1)/(τ−1))`` (crackling noise, Sethna et al. 2001; the deviation from it is
the DCC of Ma et al. 2019), avalanche profiles collapse onto one shape (exponent β), and the
branching ratio estimated by multistep regression (Wilting & Priesemann 2018) is 1.

Modules, one idea each: :mod:`.avalanches` (§7.1), :mod:`.shape` (profiles, β, §7.2),
:mod:`.powerlaw` (fits and exclusion bounds, §7.3–7.4), :mod:`.exponents` (§7.5),
:mod:`.scaling` (§7.6), :mod:`.branching` (§7.7), :mod:`.compute` (all of them on a count
matrix), :mod:`.result` (the record, §7.8).
"""

from __future__ import annotations

from cldata.toolkit.criticality.compute import criticality_fields
from cldata.toolkit.criticality.result import AnalysisResultCriticality
from cldata.toolkit.preprocess import (
    GROUND_CHANNELS,
    REFERENCE_CHANNEL,
    SpikeData,
    check_layout,
    count_matrix,
    require_spike_table,
    truncating_width,
)
from cldata.toolkit.results import metadata_of

#: Channels left out of the avalanches: the four ground channels and the reference channel.
EXCLUDED_CHANNELS = tuple(sorted((*GROUND_CHANNELS, REFERENCE_CHANNEL)))

__all__ = ["AnalysisResultCriticality", "analyse_criticality", "criticality_fields"]


def analyse_criticality(data: SpikeData, bin_size_sec: float, percentile_threshold: float,
                        max_lags_branching_ratio: int = 40,
                        duration_thresholds: tuple[int, int] = (2, 5),
                        min_spike_count_threshold: int = 10, n_bootstraps: int = 100,
                        random_seed: int = 42) -> AnalysisResultCriticality:
    """Avalanches, power-law exponents, scaling relation, shape collapse and branching ratio.

    Checks in the official order: the MEA layout, the binning (a bin width of 0 frames raises),
    then ``0 <= percentile_threshold <= 1``. Channels 0, 4, 7, 56 and 63 are left out, and the
    bins run from ``lo`` to the last spike of the file.

    Official quirks reproduced (spec §14): the spike at the last timestamp of the spike table is
    never counted, and that last timestamp is the whole table's even with a window (§14.3); the
    power-law normalisation runs over the distinct observed values, ``xmin`` is searched only up
    to ``min_spike_count_threshold`` / ``duration_thresholds[0]``, the exponent is fitted on all
    values in the bounds (not the capped ones) and the returned upper bound is one trim below
    the last one used (§14.5); the branching-ratio lags stop at ``max_lags − 1`` and ``b`` keeps
    its sign (§14.6); β is searched in ``[0, 1]`` only (§14.7). Where the official code fails
    (no spikes at all: ``IndexError`` reading the last row; no bins in the window:
    ``IndexError`` in ``numpy.quantile``; a bad percentile: ``AssertionError``) this raises
    :class:`ValueError`.

    Parameters
    ----------
    data : SpikeData
        The recording's spikes and window.
    bin_size_sec : float
        Bin width in seconds (``int(bin_size_sec * fs)`` frames).
    percentile_threshold : float
        Quantile of the network activity above which a bin is active, in ``[0, 1]``.
    max_lags_branching_ratio : int
        Lags ``1 … max_lags − 1`` of the multistep regression.
    duration_thresholds : tuple of int
        ``(d_min, d_max)``: avalanche durations (bins) with profiles; ``d_min`` also bounds
        the duration fit's ``xmin`` search.
    min_spike_count_threshold : int
        Largest ``xmin`` tried for the size fit.
    n_bootstraps, random_seed : int
        Bootstrap resamples of the profiles for ``beta_exponent_std`` (legacy ``RandomState``).

    Returns
    -------
    AnalysisResultCriticality

    Raises
    ------
    ValueError
        Recording not in the MEA layout, no spikes table, no spikes, a bin width under one
        frame, no bins, or a percentile outside ``[0, 1]``.

    Examples
    --------
        >>> data = cldata.RecordingView("recording.h5").analysis_data()      # doctest: +SKIP
    >>> result = analyse_criticality(data, 0.004, 0.5)               # doctest: +SKIP
    >>> result.branching_ratio                                       # doctest: +SKIP
    1.01903516903104
    """
    check_layout(data)
    require_spike_table(data)
    counts, _ = count_matrix(data, truncating_width(bin_size_sec, data.fs),
                             exclude=EXCLUDED_CHANNELS, stop_at_last_spike=True)
    fields = criticality_fields(counts, bin_size_sec, percentile_threshold,
                                max_lags_branching_ratio, tuple(duration_thresholds),
                                min_spike_count_threshold, n_bootstraps, random_seed)
    return AnalysisResultCriticality(metadata=metadata_of(data), **fields)
