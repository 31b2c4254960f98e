"""The branching ratio by multistep regression (Wilting & Priesemann 2018).

The model: with ``a_t`` the number of active channels in bin ``t`` and branching ratio ``b``,
the regression slope of ``a_{t+k}`` on ``a_t`` decays as ``r_k = A·b^k`` even under subsampling.
Slopes ``r_k`` (``scipy.stats.linregress``'s arithmetic, see :func:`regression_slope`) for ``k = 1 … max_lags − 1`` are fitted by
``|A|·|b|^k`` with ``scipy.optimize.curve_fit`` (Levenberg–Marquardt, ``p0 = [r_1, 1]``,
relative sigma ``σ_k · linspace(1, 10, K)``).

Official quirks reproduced (§14.6): the lags stop at ``max_lags − 1``; ``b`` is returned as
fitted, its sign not normalised (it can be negative). Any failure (fewer than 10 pairs at some
lag, ``max_lags ≤ 1``, constant activity, a failed fit) gives NaN and empty arrays.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import curve_fit


@dataclass(frozen=True)
class BranchingRatio:
    """``b`` (NaN on failure) with the lags, their slopes and the fit's ``[A, b]``."""

    ratio: float = float("nan")
    lags: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    slopes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    params: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))


def _decay(k, amplitude, ratio):
    return np.abs(amplitude) * np.abs(ratio) ** k


def regression_slope(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Slope of ``y`` on ``x`` and its standard error, as ``scipy.stats.linregress`` computes them.

    The same numpy operations in the same order (``numpy.cov`` with ``bias=1``, ``r`` clipped to
    [-1, 1], NaN when ``y`` is constant, the same error for identical ``x``), so the numbers are
    bit-identical; written out because importing ``scipy.stats`` for it costs ~0.5 s on first use.

    Raises
    ------
    ValueError
        If every ``x`` is the same (as ``linregress`` does).

    Examples
    --------
    >>> regression_slope(np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 3.0, 5.0, 7.0]))
    (2.0, 0.0)
    """
    if np.amax(x) == np.amin(x) and len(x) > 1:
        raise ValueError("Cannot calculate a linear regression if all x values are identical")
    ssxm, ssxym, _, ssym = np.cov(x, y, bias=1).flat
    if ssxm == 0.0 or ssym == 0.0:
        r = np.asarray(np.nan if ssxym == 0 else 0.0)[()]
    else:
        r = min(max(ssxym / np.sqrt(ssxm * ssym), -1.0), 1.0)
    slope = ssxym / ssxm
    stderr = 0.0 if len(x) == 2 else np.sqrt((1 - r**2) * ssym / ssxm / (len(x) - 2))
    return float(slope), float(stderr)


def _estimate(active: np.ndarray, max_lags: int) -> BranchingRatio:
    lags = np.arange(1, max_lags)
    if lags.size == 0:
        raise ValueError("no lags")
    slopes = np.empty(lags.size)
    errors = np.empty(lags.size)
    for i, k in enumerate(lags):
        if active.size - k < 10:
            raise ValueError("too few bins for the lag")
        slopes[i], errors[i] = regression_slope(active[:-k], active[k:])
    params, _ = curve_fit(_decay, lags.astype(np.float64), slopes, p0=[slopes[0], 1.0],
                          maxfev=50000, sigma=errors * np.linspace(1, 10, lags.size))
    params = np.asarray(params, dtype=np.float64)
    return BranchingRatio(float(params[1]), lags.astype(np.float64), slopes, params)


def branching_ratio(counts: np.ndarray, max_lags: int) -> BranchingRatio:
    """The multistep-regression branching ratio of a count matrix (channels × bins).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> result = branching_ratio(rng.poisson(0.5, size=(8, 200)), 5)
    >>> result.lags.tolist()
    [1.0, 2.0, 3.0, 4.0]
    >>> branching_ratio(np.zeros((3, 5), dtype=np.int64), 40).ratio
    nan
    """
    active = np.count_nonzero(np.asarray(counts) > 0, axis=0).astype(np.float64)
    try:
        with warnings.catch_warnings():
            # a degenerate fit warns (covariance not estimable, division by zero); its numbers stand
            warnings.simplefilter("ignore")
            return _estimate(active, max_lags)
    except Exception:  # noqa: BLE001 — the official step turns any failure into NaN (§7.7)
        return BranchingRatio()
