"""The criticality result record, ``AnalysisResultCriticality`` (spec §7.8).

The model: one record holds every number of the criticality analysis in the official field
order — the avalanches (sizes, shapes, durations, gaps), the shape collapse (profiles, β and its
1001 candidate spreads), the power-law exponents with their bounds and KS statistics, the
scaling relation and DCC, and the multistep-regression branching ratio. The ✱ fields of the
spec save NaN/inf as the strings ``"nan"``/``"inf"``; the plain float fields (``beta_exponent``,
the KS minimum bounds, the bounds tuples) save them as bare ``NaN`` tokens (official quirk,
§14.13). Read-only aliases give the common names: ``avalanche_sizes``, ``avalanche_shapes``,
``average_profiles``, ``ks_statistic_size``. The ``plot_*`` methods draw it
(:mod:`cldata.toolkit.plots.criticality`, matplotlib imported only then).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from cldata.toolkit.results import FloatArray, IntArray, ToolkitResult


def _plots() -> Any:
    """:mod:`cldata.toolkit.plots.criticality`, imported when a plot is drawn."""
    # why here: the plots sit above the results they draw (a documented back edge of
    # tests/test_architecture.py) and import matplotlib, an optional extra, when drawing
    from cldata.toolkit.plots import criticality

    return criticality


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

    # -- the plots (spec §7.9; matplotlib: ``pip install "cldata[plot]"``) -------------------------

    def plot_avalanche_sizes(self, figsize: tuple[float, float] = (5, 4), title: str | None = None,
                             save_path: str | None = None, ax: Any = None) -> Any:
        """Avalanche-size distribution (dots) and its fitted power law (dashed), log–log.

        The default title is "Size Exponent: {τ:.2f}". Draws on ``ax`` (or a new figure),
        saves to ``save_path`` (tight) or, on its own figure, shows it; returns the Axes. Given
        ``ax`` and no ``save_path`` it just draws (the official plot writes a stray ``None.png``).

        Examples
        --------
        >>> ax = result.plot_avalanche_sizes(save_path="sizes.png")   # doctest: +SKIP
        """
        return _plots().plot_avalanche_sizes(self, figsize=figsize, title=title, save_path=save_path, ax=ax)

    def plot_avalanche_durations(self, figsize: tuple[float, float] = (5, 4), title: str | None = None,
                                 save_path: str | None = None, ax: Any = None) -> Any:
        """Avalanche-duration distribution and its fitted power law, log–log ("Duration Exponent: …").

        Same drawing, saving and showing rule as :meth:`plot_avalanche_sizes`; returns the Axes.

        Examples
        --------
        >>> ax = result.plot_avalanche_durations(ax=my_ax)   # draws only   # doctest: +SKIP
        """
        return _plots().plot_avalanche_durations(self, figsize=figsize, title=title, save_path=save_path, ax=ax)

    def plot_deviation_from_criticality_coefficient(self, figsize: tuple[float, float] = (5, 4),
                                                    title: str | None = None, save_path: str | None = None,
                                                    ax: Any = None) -> Any:
        """Mean avalanche size against duration and the fitted scaling law, log–log ("DCC: …").

        The mean sizes are derived from ``avalanche_spike_counts`` and ``avalanche_durations`` at
        ``scaling_relation_time_values``; the line is ``exp(intercept)·T^slope`` of
        ``scaling_relation_fitted_params``. When the DCC is not finite it prints a message and
        returns ``ax`` as given (``None`` by default) without drawing, as the official one does.

        Examples
        --------
        >>> ax = result.plot_deviation_from_criticality_coefficient(save_path="dcc.png")   # doctest: +SKIP
        """
        return _plots().plot_deviation_from_criticality_coefficient(self, figsize=figsize, title=title,
                                                                 save_path=save_path, ax=ax)

    def plot_branching_ratio(self, figsize: tuple[float, float] = (5, 4), title: str | None = None,
                             save_path: str | None = None, ax: Any = None) -> Any:
        """Regression slopes ``r_k`` against lag ``k`` and the fit ``|A|·|b|^k`` ("MR Estimation (BR = b)").

        Title "Autocorrelation with Mean-Response Estimation"; returns the Axes.

        Examples
        --------
        >>> ax = result.plot_branching_ratio(save_path="br.png")   # doctest: +SKIP
        """
        return _plots().plot_branching_ratio(self, figsize=figsize, title=title, save_path=save_path, ax=ax)

    def plot_avalanche_shape_collapse_analysis(self, figsize: tuple[float, float] = (4.5, 12),
                                               title: str | None = None, save_path: str | None = None,
                                               axes: Any = None) -> list[Any]:
        """Three panels: ``V·T^(2β)`` against ``T``, ``s(β)`` with β marked, the scaled profiles and their mean.

        Official bug fixed (spec §14.12): the official method raises ``NameError`` at its legend
        and draws nothing usable; this one draws the three panels and returns their Axes.
        ``axes`` are three Axes to draw on (or ``None`` for a new figure of ``figsize``).

        Examples
        --------
        >>> top, middle, bottom = result.plot_avalanche_shape_collapse_analysis(save_path="c.png")  # doctest: +SKIP
        """
        return _plots().plot_avalanche_shape_collapse_analysis(self, figsize=figsize, title=title,
                                                            save_path=save_path, axes=axes)
