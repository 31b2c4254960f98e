"""The criticality analysis on a count matrix: avalanches → profiles → exponents → scaling → BR.

The model (spec §7): the count matrix of the 59 non-ground, non-reference channels, binned to
the last spike of the file, gives a network activity trace; avalanches above a quantile of it
(§7.1) yield the shape-collapse exponent β (§7.2), the size and duration exponents τ and α with
their KS-chosen bounds (§7.3–§7.5), the scaling relation and the DCC (§7.6); the number of active
channels per bin gives the multistep-regression branching ratio (§7.7). This module strings them
together into the result's fields, in the result's field order, without any I/O.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cldata.toolkit.criticality.avalanches import find_avalanches, network_activity
from cldata.toolkit.criticality.branching import branching_ratio
from cldata.toolkit.criticality.exponents import fit_exponent
from cldata.toolkit.criticality.scaling import scaling_relation
from cldata.toolkit.criticality.shape import (
    BETA_RANGE,
    beta_bootstrap_std,
    beta_search,
    mean_profiles,
    profile_variances,
)


def criticality_fields(counts: np.ndarray, bin_size_sec: float, percentile_threshold: float,
                       max_lags_branching_ratio: int = 40,
                       duration_thresholds: tuple[int, int] = (2, 5),
                       min_spike_count_threshold: int = 10, n_bootstraps: int = 100,
                       random_seed: int = 42) -> dict[str, Any]:
    """Every field of the criticality result but ``metadata``, from a count matrix.

    Parameters
    ----------
    counts : numpy.ndarray
        int64 counts, channels × bins (at least one bin).
    bin_size_sec, percentile_threshold, max_lags_branching_ratio, duration_thresholds, \
min_spike_count_threshold, n_bootstraps, random_seed
        As for :func:`analyse_criticality`.

    Examples
    --------
    >>> rng = np.random.RandomState(1)
    >>> fields = criticality_fields(rng.poisson(0.3, size=(10, 300)), 0.004, 0.5)
    >>> fields["time_lags_k"].size, fields["beta_range"].size
    (39, 1001)
    """
    if not 0 <= percentile_threshold <= 1:
        raise ValueError(f"percentile_threshold must lie in [0, 1], not {percentile_threshold}")
    d_min, d_max = (int(d) for d in duration_thresholds)
    found = find_avalanches(network_activity(counts), percentile_threshold)
    unique, profiles = mean_profiles(found.shapes, found.sizes, found.durations, (d_min, d_max))
    profile_d, profile_v = profile_variances(profiles)
    beta, spread = beta_search(profile_d, profile_v)
    beta_std = beta_bootstrap_std(profile_d, profile_v, n_bootstraps, random_seed)
    size_fit = fit_exponent(found.sizes, min_spike_count_threshold)
    duration_fit = fit_exponent(found.durations, d_min)
    scaling = scaling_relation(found.sizes, found.durations, size_fit.exponent,
                               duration_fit.exponent, duration_fit.bounds[0], beta)
    branching = branching_ratio(counts, max_lags_branching_ratio)
    return {
        "bin_size_sec": float(bin_size_sec),
        "percentile_threshold": float(percentile_threshold),
        "activity_threshold": found.threshold,
        "duration_thresholds": (d_min, d_max),
        "random_seed": int(random_seed),
        "n_bootstraps": int(n_bootstraps),
        "avalanche_spike_counts": found.sizes,
        "avalanche_spike_counts_per_bin": found.shapes,
        "avalanche_durations": found.durations,
        "avalanche_shape_collapse_error": scaling.shape_collapse_error,
        "inter_avalanche_durations": found.gaps,
        "unique_durations_within_threshold": unique,
        "mean_spike_counts_per_bin_by_duration": profiles,
        "beta_exponent": beta,
        "beta_exponent_std": beta_std,
        "beta_range": BETA_RANGE.copy(),
        "beta_candidates_over_range": spread,
        "tau_exponent_spike_counts": size_fit.exponent,
        "alpha_exponent_durations": duration_fit.exponent,
        "ks_min_bound_spike_counts": size_fit.ks_min_bound,
        "ks_min_bound_durations": duration_fit.ks_min_bound,
        "ks_statistic_spike_counts": size_fit.ks_statistic,
        "ks_statistic_duration": duration_fit.ks_statistic,
        "exclusion_bounds_spike_counts": size_fit.bounds,
        "exclusion_bounds_durations": duration_fit.bounds,
        "scaling_relation_exponent_predicted": scaling.predicted,
        "scaling_relation_exponent_fitted": scaling.fitted,
        "scaling_relation_time_values": scaling.time_values,
        "scaling_relation_fitted_params": scaling.fitted_params,
        "deviation_from_criticality_coefficient": scaling.dcc,
        "branching_ratio": branching.ratio,
        "time_lags_k": branching.lags,
        "time_lags_slopes": branching.slopes,
        "time_lags_fit_parameters": branching.params,
    }
