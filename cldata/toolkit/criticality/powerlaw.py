"""Discrete power-law fits with KS-chosen bounds (after Clauset, Shalizi & Newman 2009).

The model: values ``x ≥ xmin`` follow ``P(x) ∝ x^(−p)``. The exponent is the maximum-likelihood
``p`` found by Nelder–Mead (``scipy.optimize.fmin`` from 2.3) on the negative log-likelihood
``L(p) = p·Σ ln x + m·ln Σ_U u^(−p)``; ``xmin`` is the candidate with the smallest
Kolmogorov–Smirnov distance between the empirical and the model CDF (spec §7.3). Exclusion
bounds (§7.4) trim the largest values until the fit's KS distance drops below
``min(1/√c, 0.1)`` or stops changing.

Official quirks reproduced (§14.5), so that the numbers agree:

- the normalisation runs over the **distinct observed values** ``U``, not over all integers
  (no zeta function), so the model CDF can exceed 1;
- ``xmin`` is searched only up to ``limit`` (``min_spike_count_threshold`` / ``d_min``);
- the returned upper bound is one trim below the last one used in a KS distance.

On degenerate data (one distinct value) the likelihood is flat and the exponent is whatever
Nelder–Mead's first simplex gives (2.3 or 2.415), decided by rounding (§7.10).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import fmin


@dataclass(frozen=True)
class PowerLawFit:
    """``exponent`` (NaN when no fit), ``xmin`` and the KS distance (+inf when no fit)."""

    exponent: float
    xmin: int
    ks: float


@dataclass(frozen=True)
class ExclusionBounds:
    """Bounds ``[lo, hi]`` found by trimming, with the last KS distance."""

    lo: float
    hi: float
    ks: float


def _positive(data: np.ndarray) -> np.ndarray:
    values = np.asarray(data)
    return values[np.isfinite(values) & (values > 0)]


def _neg_log_likelihood(log_sum: float, m: int, distinct: np.ndarray):
    def objective(p):
        z = np.sum(distinct ** (-p))
        if not (np.isfinite(z) and z > 0):
            return np.inf
        return p * log_sum + m * np.log(z)
    return objective


def _fit_at(values: np.ndarray, x0: int, xmax: int) -> tuple[float, float] | None:
    """``(p̂, KS)`` for one candidate ``xmin``, or None when the fit is not finite."""
    tail = values[values >= x0]
    m = tail.size
    distinct = np.unique(tail)
    log_sum = float(np.sum(np.log(tail)))
    objective = _neg_log_likelihood(log_sum, m, distinct)
    p_hat = fmin(objective, x0=2.3, disp=False)[0]
    if not np.all(np.isfinite(-objective(p_hat))):
        return None
    empirical = np.cumsum(np.histogram(tail, bins=np.arange(x0, xmax + 2))[0] / m)
    model = np.cumsum(np.arange(x0, xmax + 1) ** (-p_hat) / np.sum(distinct ** (-p_hat)))
    ks = np.max(np.abs(empirical - model))
    if not np.isfinite(ks):
        return None
    return float(p_hat), float(ks)


def fit_power_law(data: np.ndarray, limit: float) -> PowerLawFit:
    """``PL(data, limit)``: the discrete power-law fit with ``xmin`` in ``1 … limit``.

    Examples
    --------
    >>> fit = fit_power_law(np.array([1, 1, 1, 2, 2, 3, 5]), 2)
    >>> fit.xmin, round(fit.exponent, 2)
    (1, 0.76)
    """
    values = _positive(data)
    fallback = PowerLawFit(float("nan"), max(1, int(limit)), float("inf"))
    if values.size == 0 or limit < 1:
        return fallback
    xmax = int(values.max())
    best = None
    for x0 in range(1, min(max(1, int(limit)), xmax) + 1):
        fitted = _fit_at(values, x0, xmax)
        if fitted is not None and (best is None or fitted[1] < best.ks):
            best = PowerLawFit(fitted[0], x0, fitted[1])
    return fallback if best is None else best


def _ks_between(values: np.ndarray, lo: int, hi: float, p: float) -> float | None:
    """``max|E − T|`` of the fit on ``[lo, hi]``, or None where the official step fails."""
    tail = values[values >= lo]
    distinct = np.unique(values[(values >= lo) & (values <= hi)])
    if tail.size == 0 or distinct.size == 0 or int(hi) < lo:
        return None
    norm = np.sum(distinct ** (-p))
    if not (np.isfinite(norm) and norm > 0):
        return None
    empirical = np.cumsum(np.histogram(tail, bins=np.arange(lo, int(hi) + 2))[0] / tail.size)
    model = np.cumsum(np.arange(lo, int(hi) + 1) ** (-p) / norm)
    if empirical.size == 0 or empirical.size != model.size:
        return None
    ks = float(np.max(np.abs(empirical - model)))
    return ks if math.isfinite(ks) else None


def exclusion_bounds(data: np.ndarray, limit: float) -> ExclusionBounds | None:
    """``EB(data, limit)``: trim the largest values until the power law fits; None on failure.

    Examples
    --------
    >>> bounds = exclusion_bounds(np.array([1, 1, 1, 1, 2, 2, 3, 4, 8]), 2)
    >>> bounds is None or bounds.lo >= 1
    True
    """
    values = _positive(data)
    if values.size == 0:
        return None
    count_above_one = int(np.count_nonzero(values > 1))
    if count_above_one == 0:
        return None
    ks_threshold = min(1 / math.sqrt(count_above_one), 0.1)
    ks, delta, lo, hi = 1.0, 1.0, 1, float(values.max())
    while ks > ks_threshold and delta > 0.0005:
        fit = fit_power_law(values, limit)
        if not math.isfinite(fit.exponent):
            return None
        lo = fit.xmin
        new_ks = _ks_between(values, lo, hi, fit.exponent)
        if new_ks is None:
            return None
        delta, ks = abs(ks - new_ks), new_ks
        values = values[values < hi]
        if values.size == 0:
            break
        hi = float(values.max())
    return ExclusionBounds(float(lo), hi, ks)
