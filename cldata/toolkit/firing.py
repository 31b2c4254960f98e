"""Firing statistics (spec §5): spike counts per channel and bin, their summaries, and inter-spike intervals.

The model: the count matrix ``K`` (all channels, truncated bin width ``int(bin_size_sec*fs)``,
the window's bins, the last one possibly short) and each channel's spike train (window-relative
frames in table order, duplicates collapsed). Descriptive statistics; no published method.

Official quirks reproduced (spec §14.4):

- ``channel_mean_firing_rates`` / ``channel_var_firing_rates`` are the mean and population
  variance of the **counts** per bin, not divided by ``bin_size_sec`` (rates in Hz only when
  ``bin_size_sec == 1``); ``firing_rates`` divides the last, partial bin by the full width too;
- ``culture_var_firing_rates`` is the mean of the channel variances, not the variance over
  all bins; ``culture_max_firing_rates`` is the largest count (as a float);
- ``culture_ISI_mean`` / ``culture_ISI_var`` are the mean / population variance of the
  per-channel ISI **means** over channels with at least two spikes (NaN if none).

Examples
--------
>>> result = analyse_firing_stats(rec.analysis_data(), bin_size_sec=0.25)   # doctest: +SKIP
>>> result.firing_counts.shape                                          # doctest: +SKIP
(64, 40)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cldata.toolkit.preprocess import (
    SpikeData,
    count_matrix,
    require_spike_table,
    spike_train,
    truncating_width,
)
from cldata.toolkit.results import FloatArray, IntArray, ToolkitResult, metadata_of


@dataclass(eq=False)
class AnalysisResultFiringStats(ToolkitResult):
    """Firing statistics of a recording's window (fields in the official order, spec §5).

    Examples
    --------
    >>> result.culture_mean_firing_rates   # doctest: +SKIP
    1.13125
    """

    bin_size_sec: float
    firing_counts: IntArray
    firing_rates: FloatArray
    channel_mean_firing_rates: list[float]
    channel_var_firing_rates: list[float]
    culture_mean_firing_rates: float
    culture_var_firing_rates: float
    culture_max_firing_rates: float
    channel_ISI: list[list[float]]
    channel_ISI_mean: list[float]
    channel_ISI_var: list[float]
    culture_ISI_mean: float
    culture_ISI_var: float


def _isi_stats(data: SpikeData) -> tuple[list[list[float]], np.ndarray, np.ndarray, float, float]:
    """Per-channel ISIs (s), their means and population variances, and the culture summaries."""
    train = spike_train(data)
    channels = data.channel_count
    isi = [(np.diff(train[c]) / data.fs) for c in range(channels)]
    means = np.zeros(channels)
    variances = np.zeros(channels)
    with_isi = np.array([v.size > 0 for v in isi], dtype=bool)
    for c in np.flatnonzero(with_isi):
        means[c] = np.mean(isi[c])
        variances[c] = np.var(isi[c])
    if with_isi.any():
        culture_mean = float(np.mean(means[with_isi]))
        culture_var = float(np.var(means[with_isi]))
    else:
        culture_mean = culture_var = float("nan")
    return [v.tolist() for v in isi], means, variances, culture_mean, culture_var


def analyse_firing_stats(data: SpikeData, bin_size_sec: float = 1.0) -> AnalysisResultFiringStats:
    """Spike counts and rates per channel and bin, their summaries and inter-spike intervals.

    Parameters
    ----------
    data
        The recording's spikes and window (:meth:`RecordingView.analysis_data`).
    bin_size_sec
        Bin width in seconds; the width in frames is ``int(bin_size_sec * fs)`` (truncated).

    Returns
    -------
    AnalysisResultFiringStats
        ``firing_counts`` (int64, C×n), ``firing_rates`` (``counts / bin_size_sec``),
        per-channel mean/variance of the counts per bin, culture summaries, per-channel ISIs
        (s, table order, ``[]`` for a silent channel), their mean/variance (0.0 with < 2
        spikes) and the culture ISI mean/variance over per-channel means (NaN if no channel
        has 2 spikes). See the module docstring for the official quirks reproduced.

    Raises
    ------
    ValueError
        Without a spikes table, for a bin width under one frame, or for a zero-length window
        (the official code takes the maximum of an empty array).

    Examples
    --------
    >>> analyse_firing_stats(data).channel_ISI_mean[1]   # doctest: +SKIP
    0.7874436363636363
    """
    require_spike_table(data)
    counts, _ = count_matrix(data, truncating_width(bin_size_sec, data.fs))
    if counts.shape[1] == 0:
        raise ValueError("zero-length analysis window: no bins to take firing statistics over")
    rates = counts / bin_size_sec
    channel_means = counts.mean(axis=1)
    channel_vars = counts.var(axis=1)
    isi, isi_means, isi_vars, culture_isi_mean, culture_isi_var = _isi_stats(data)
    return AnalysisResultFiringStats(
        metadata=metadata_of(data),
        bin_size_sec=bin_size_sec,
        firing_counts=counts,
        firing_rates=rates,
        channel_mean_firing_rates=channel_means.tolist(),
        channel_var_firing_rates=channel_vars.tolist(),
        culture_mean_firing_rates=float(np.mean(channel_means)),
        culture_var_firing_rates=float(np.mean(channel_vars)),
        culture_max_firing_rates=float(counts.max()),
        channel_ISI=isi,
        channel_ISI_mean=isi_means.tolist(),
        channel_ISI_var=isi_vars.tolist(),
        culture_ISI_mean=culture_isi_mean,
        culture_ISI_var=culture_isi_var,
    )
