"""The criticality result record, ``AnalysisResultCriticality`` (spec §7.8).

The model: one record holds every number of the criticality analysis in the official field
order — the avalanches (sizes, shapes, durations, gaps), the shape collapse (profiles, β and its
1001 candidate spreads), the power-law exponents with their bounds and KS statistics, the
scaling relation and DCC, and the multistep-regression branching ratio. The ✱ fields of the
spec save NaN/inf as the strings ``"nan"``/``"inf"``; the plain float fields (``beta_exponent``,
the KS minimum bounds, the bounds tuples) save them as bare ``NaN`` tokens (official quirk,
§14.13). Read-only aliases give the common names: ``avalanche_sizes``, ``avalanche_shapes``,
``average_profiles``, ``ks_statistic_size``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from cldata.toolkit.results import FloatArray, IntArray, ToolkitResult


@dataclass(eq=False)
class AnalysisResultCriticality(ToolkitResult):
    """Avalanches, exponents, scaling relation and branching ratio of one recording.

    Examples
    --------
    >>> result = analyse_criticality(data, 0.004, 0.5)       # doctest: +SKIP
    >>> result.avalanche_sizes is result.avalanche_spike_counts  # doctest: +SKIP
    True
    >>> result.save("criticality.json")                        # doctest: +SKIP
    """

    bin_size_sec: float
    percentile_threshold: float
    activity_threshold: float
    duration_thresholds: tuple[int, int]
    random_seed: int
    n_bootstraps: int
    avalanche_spike_counts: IntArray
    avalanche_spike_counts_per_bin: list[IntArray]
    avalanche_durations: IntArray
    avalanche_shape_collapse_error: float
    inter_avalanche_durations: IntArray
    unique_durations_within_threshold: IntArray
    mean_spike_counts_per_bin_by_duration: list[FloatArray]
    beta_exponent: float
    beta_exponent_std: float
    beta_range: FloatArray
    beta_candidates_over_range: FloatArray
    tau_exponent_spike_counts: float
    alpha_exponent_durations: float
    ks_min_bound_spike_counts: float
    ks_min_bound_durations: float
    ks_statistic_spike_counts: float
    ks_statistic_duration: float
    exclusion_bounds_spike_counts: tuple[float, float]
    exclusion_bounds_durations: tuple[float, float]
    scaling_relation_exponent_predicted: float
    scaling_relation_exponent_fitted: float
    scaling_relation_time_values: IntArray
    scaling_relation_fitted_params: FloatArray
    deviation_from_criticality_coefficient: float
    branching_ratio: float
    time_lags_k: FloatArray
    time_lags_slopes: FloatArray
    time_lags_fit_parameters: FloatArray

    special_floats: ClassVar[frozenset[str]] = frozenset({
        "avalanche_shape_collapse_error", "beta_exponent_std", "tau_exponent_spike_counts",
        "alpha_exponent_durations", "ks_statistic_spike_counts", "ks_statistic_duration",
        "scaling_relation_exponent_predicted", "scaling_relation_exponent_fitted",
        "deviation_from_criticality_coefficient", "branching_ratio",
    })

    @property
    def avalanche_sizes(self) -> np.ndarray:
        """Alias of ``avalanche_spike_counts``."""
        return self.avalanche_spike_counts

    @property
    def avalanche_shapes(self) -> list[np.ndarray]:
        """Alias of ``avalanche_spike_counts_per_bin``."""
        return self.avalanche_spike_counts_per_bin

    @property
    def average_profiles(self) -> list[np.ndarray]:
        """Alias of ``mean_spike_counts_per_bin_by_duration``."""
        return self.mean_spike_counts_per_bin_by_duration

    @property
    def ks_statistic_size(self) -> float:
        """Alias of ``ks_statistic_spike_counts``."""
        return self.ks_statistic_spike_counts
