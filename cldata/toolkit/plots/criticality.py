"""The criticality plots (spec §7.9): exponents, DCC, branching ratio and shape collapse.

The model: each plot reads an :class:`~cldata.toolkit.criticality.AnalysisResultCriticality`
and nothing else; what it draws that is not a field is derived from the fields.

- Sizes / durations: the empirical distribution (histogram over integer edges ``0 … max+1``,
  normalised to sum 1, dots at the left edges) and, where the fit exists, the power law
  ``(x / xmin)^(−exponent)`` dashed over the integers ``max(1, int(lo)) … int(hi)`` of the
  exclusion bounds; log–log.
- DCC: the mean avalanche size at each duration ``T`` of ``scaling_relation_time_values``
  (derived from the sizes and durations) and the fitted ``exp(intercept)·T^slope``; log–log. A
  non-finite DCC prints a message and returns the given ``ax`` (``None`` by default) undrawn.
- Branching ratio: the multistep-regression slopes ``r_k`` against the lag ``k`` and the fit
  ``|A|·|b|^k``.
- Shape collapse (three panels): ``V·T^(2β)`` against ``T`` (flat at a perfect collapse), the
  spread ``s(β)`` over the β grid with β marked, and the profiles scaled ``P·T^β`` with their mean.

Official bug not reproduced (§7.9, §14.12): the official shape-collapse plot raises
``NameError`` at its legend; this one draws. Given an ``ax`` and no ``save_path``, nothing is
written (the official plots write ``None.png``).

Examples
--------
>>> ax = plot_avalanche_sizes(result, save_path="sizes.png")   # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from cldata.toolkit.criticality.shape import profile_variances
from cldata.toolkit.plots.common import figure_and_axes, finish, pyplot

if TYPE_CHECKING:  # (typing only: the result's methods import this module)
    from cldata.toolkit.criticality.result import AnalysisResultCriticality

__all__ = ["mean_sizes_by_duration", "plot_avalanche_durations", "plot_avalanche_shape_collapse_analysis",
           "plot_avalanche_sizes", "plot_branching_ratio", "plot_deviation_from_criticality_coefficient",
           "resampled_profile"]

PathLike = str | os.PathLike[str] | None
#: Points of the common t/T grid the shape-collapse mean is resampled on.
COLLAPSE_POINTS = 100


def _finite(*values: float) -> bool:
    return all(math.isfinite(float(v)) for v in values)


def _distribution(values: np.ndarray, bounds: tuple[float, float], xmin: float, exponent: float, *,
                  what: str, xlabel: str, default_title: str, figsize: tuple[float, float],
                  title: str | None, save_path: PathLike, ax: Any) -> Any:
    """The sizes or durations plot: empirical distribution and the fitted power law, log–log."""
    fig, ax, own = figure_and_axes(ax, figsize, what)
    values = np.asarray(values)
    if values.size:
        counts, edges = np.histogram(values, bins=np.arange(0, int(values.max()) + 2))
        ax.plot(edges[:-1], counts / counts.sum(), "o", markersize=4, label="data")
        lo, hi = bounds
        if _finite(lo, hi, xmin, exponent) and xmin > 0:
            x = np.arange(max(1, int(lo)), int(hi) + 1, dtype=np.float64)
            if x.size:
                ax.plot(x, (x / xmin) ** (-exponent), "--", label="power-law fit")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Probability")
    ax.set_title(title if title is not None else default_title)
    finish(fig, own=own, save_path=save_path)
    return ax


def plot_avalanche_sizes(result: AnalysisResultCriticality, *, figsize: tuple[float, float] = (5, 4),
                         title: str | None = None, save_path: PathLike = None, ax: Any = None) -> Any:
    """Avalanche-size distribution and its power law, log–log; title "Size Exponent: {τ:.2f}".

    Examples
    --------
    >>> ax = plot_avalanche_sizes(result, save_path="sizes.png")   # doctest: +SKIP
    """
    tau = result.tau_exponent_spike_counts
    return _distribution(result.avalanche_spike_counts, result.exclusion_bounds_spike_counts,
                         result.ks_min_bound_spike_counts, tau, what="plot_avalanche_sizes",
                         xlabel="Avalanche size (spikes)", default_title=f"Size Exponent: {tau:.2f}",
                         figsize=figsize, title=title, save_path=save_path, ax=ax)


def plot_avalanche_durations(result: AnalysisResultCriticality, *, figsize: tuple[float, float] = (5, 4),
                             title: str | None = None, save_path: PathLike = None, ax: Any = None) -> Any:
    """Avalanche-duration distribution and its power law, log–log; title "Duration Exponent: {α:.2f}".

    Examples
    --------
    >>> ax = plot_avalanche_durations(result)   # shown   # doctest: +SKIP
    """
    alpha = result.alpha_exponent_durations
    return _distribution(result.avalanche_durations, result.exclusion_bounds_durations,
                         result.ks_min_bound_durations, alpha, what="plot_avalanche_durations",
                         xlabel="Avalanche duration (bins)", default_title=f"Duration Exponent: {alpha:.2f}",
                         figsize=figsize, title=title, save_path=save_path, ax=ax)


def mean_sizes_by_duration(sizes: np.ndarray, durations: np.ndarray, times: np.ndarray) -> np.ndarray:
    """The mean size of the avalanches of each duration in ``times`` (NaN where there is none).

    Examples
    --------
    >>> mean_sizes_by_duration(np.array([2, 4, 9]), np.array([2, 2, 3]), np.array([2, 3])).tolist()
    [3.0, 9.0]
    """
    sizes = np.asarray(sizes, dtype=np.float64)
    durations = np.asarray(durations)
    out = np.full(len(times), np.nan)
    for i, t in enumerate(np.asarray(times)):
        chosen = durations == t
        if chosen.any():
            out[i] = sizes[chosen].mean()
    return out


def plot_deviation_from_criticality_coefficient(result: AnalysisResultCriticality, *,
                                                figsize: tuple[float, float] = (5, 4), title: str | None = None,
                                                save_path: PathLike = None, ax: Any = None) -> Any:
    """Mean size against duration and the fitted scaling law, log–log; title "DCC: {dcc:.2f}".

    When the DCC is not finite (no scaling fit) it prints why and returns ``ax`` as given
    (``None`` by default), drawing nothing, as the official plot does.

    Examples
    --------
    >>> ax = plot_deviation_from_criticality_coefficient(result, save_path="dcc.png")   # doctest: +SKIP
    """
    dcc = float(result.deviation_from_criticality_coefficient)
    params = np.asarray(result.scaling_relation_fitted_params, dtype=np.float64)
    if not math.isfinite(dcc) or params.size != 2:
        print(f"The deviation from criticality coefficient is {dcc}: no scaling relation to plot.")
        return ax
    fig, ax, own = figure_and_axes(ax, figsize, "plot_deviation_from_criticality_coefficient")
    times = np.asarray(result.scaling_relation_time_values, dtype=np.float64)
    means = mean_sizes_by_duration(result.avalanche_spike_counts, result.avalanche_durations, times)
    slope, intercept = params
    ax.plot(times, means, "o", label="mean size")
    ax.plot(times, math.exp(intercept) * times ** slope, "--", label=f"fit (slope {slope:.2f})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("Avalanche duration T (bins)")
    ax.set_ylabel("Mean avalanche size (spikes)")
    ax.set_title(title if title is not None else f"DCC: {dcc:.2f}")
    finish(fig, own=own, save_path=save_path)
    return ax


def plot_branching_ratio(result: AnalysisResultCriticality, *, figsize: tuple[float, float] = (5, 4),
                         title: str | None = None, save_path: PathLike = None, ax: Any = None) -> Any:
    """Multistep-regression slopes against lag and the fit ``|A|·|b|^k`` (legend "MR Estimation (BR = b)").

    A result without a branching-ratio estimate (empty lag arrays) gives labelled, empty axes.

    Examples
    --------
    >>> ax = plot_branching_ratio(result, save_path="br.png")   # doctest: +SKIP
    """
    fig, ax, own = figure_and_axes(ax, figsize, "plot_branching_ratio")
    lags = np.asarray(result.time_lags_k, dtype=np.float64)
    slopes = np.asarray(result.time_lags_slopes, dtype=np.float64)
    params = np.asarray(result.time_lags_fit_parameters, dtype=np.float64)
    if lags.size:
        ax.plot(lags, slopes, "o", markersize=4, label="Regression slopes")
    if lags.size and params.size == 2:
        amplitude, ratio = params
        ax.plot(lags, abs(amplitude) * abs(ratio) ** lags,
                label=f"MR Estimation (BR = {float(result.branching_ratio):.4f})")
    if lags.size:
        ax.legend()
    ax.set_xlabel("Time lag k (bins)")
    ax.set_ylabel("Regression slope r_k")
    ax.set_title(title if title is not None else "Autocorrelation with Mean-Response Estimation")
    finish(fig, own=own, save_path=save_path)
    return ax


def resampled_profile(profile: np.ndarray, points: int = COLLAPSE_POINTS) -> np.ndarray:
    """``profile`` padded with 0 at t/T = 0 and 1 and linearly resampled on ``points`` in [0, 1].

    The profile's ``D`` values sit evenly inside (0, 1), at ``t/(D+1)``, between the padding.

    Examples
    --------
    >>> resampled_profile(np.array([1.0]), 3).tolist()
    [0.0, 1.0, 0.0]
    """
    padded = np.concatenate(([0.0], np.asarray(profile, dtype=np.float64), [0.0]))
    return np.interp(np.linspace(0, 1, points), np.linspace(0, 1, padded.size), padded)


def _collapse_axes(axes: Sequence[Any] | None, figsize: tuple[float, float]) -> tuple[Any, list[Any], bool]:
    """The figure, three Axes and whether the figure is the plot's own."""
    if axes is None:
        fig, made = pyplot("plot_avalanche_shape_collapse_analysis").subplots(3, 1, figsize=figsize)
        return fig, list(made), True
    given = list(np.asarray(axes, dtype=object).ravel())
    if len(given) < 3:
        raise ValueError(f"the shape-collapse plot draws 3 panels; axes has {len(given)}: give 3 Axes or None")
    return given[0].figure, given[:3], False


def plot_avalanche_shape_collapse_analysis(result: AnalysisResultCriticality, *,
                                           figsize: tuple[float, float] = (4.5, 12), title: str | None = None,
                                           save_path: PathLike = None, axes: Sequence[Any] | None = None) -> list[Any]:
    """Three panels: ``V·T^(2β)`` against ``T``; ``s(β)`` with β marked; scaled profiles and their mean.

    Official bug fixed: the official plot raises ``NameError`` at its legend; this one draws.

    Examples
    --------
    >>> top, middle, bottom = plot_avalanche_shape_collapse_analysis(result, save_path="collapse.png")  # doctest: +SKIP
    """
    fig, (ax_var, ax_spread, ax_shapes), own = _collapse_axes(axes, figsize)
    beta = float(result.beta_exponent)
    profiles = [np.asarray(p, dtype=np.float64) for p in result.mean_spike_counts_per_bin_by_duration]
    durations, variances = profile_variances(profiles)
    if profiles and math.isfinite(beta):
        ax_var.plot(durations, variances * durations.astype(np.float64) ** (2 * beta), "o-")
        resampled = []
        for duration, profile in zip(durations, profiles, strict=True):
            scaled = profile * float(duration) ** beta
            ax_shapes.plot(np.arange(1, duration + 1) / (duration + 1), scaled, "o-", alpha=0.6,
                           markersize=3, label=f"T = {duration}")
            resampled.append(resampled_profile(scaled))
        ax_shapes.plot(np.linspace(0, 1, COLLAPSE_POINTS), np.mean(resampled, axis=0), color="black",
                       linewidth=2, label="mean")
        ax_shapes.legend(fontsize=7)
    ax_var.set_xlabel("Avalanche duration T (bins)")
    ax_var.set_ylabel("V · T^(2β)")
    ax_var.set_title("Profile variance scaling")
    ax_spread.plot(result.beta_range, result.beta_candidates_over_range)
    if math.isfinite(beta):
        ax_spread.axvline(beta, color="red", linestyle="--", label=f"β = {beta:.3f}")
        ax_spread.legend()
    ax_spread.set_xlabel("β")
    ax_spread.set_ylabel("s(β) = std(ln V + 2β ln T)")
    ax_spread.set_title("Collapse error over β")
    ax_shapes.set_xlabel("t / T")
    ax_shapes.set_ylabel("P · T^β")
    ax_shapes.set_title("Scaled avalanche profiles")
    fig.suptitle(title if title is not None else "Avalanche Shape Collapse Analysis")
    if own:
        fig.tight_layout()
    finish(fig, own=own, save_path=save_path)
    return [ax_var, ax_spread, ax_shapes]
