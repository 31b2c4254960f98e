"""Average avalanche profiles and the shape-collapse exponent β (spec §7.2).

The model: avalanches of one duration ``D`` (within the duration thresholds) are normalised to
unit size and averaged into a *profile* ``P``. At criticality the profiles collapse onto one
curve when scaled by ``D^β``; the variance of a profile's time course, ``V = Σ (t − μ)²·P`` with
``t = (1 … D)/D`` and ``μ = Σ t·P``, then scales as ``D^(−2β)``, so ``ln V + 2β ln D`` is
constant across durations. β is the value on the grid ``0, 0.001, …, 1`` that makes its
standard deviation smallest (first on ties); its spread over bootstrap resamples of the profiles
(numpy's legacy ``RandomState``, so the official stream is reproduced) is ``beta_exponent_std``.

Official quirk (§14.7): β is searched in ``[0, 1]`` only; on Poisson-like data it sits at 0.0.
"""

from __future__ import annotations

import numpy as np

BETA_RANGE = np.arange(0, 1.001, step=0.001)


def mean_profiles(shapes: list[np.ndarray], sizes: np.ndarray, durations: np.ndarray,
                  duration_thresholds: tuple[int, int]) -> tuple[np.ndarray, list[np.ndarray]]:
    """The durations with profiles (ascending, int64) and each duration's mean normalised shape.

    Examples
    --------
    >>> d, p = mean_profiles([np.array([1, 3]), np.array([2, 2]), np.array([4])],
    ...                      np.array([4, 4, 4]), np.array([2, 2, 1]), (2, 5))
    >>> d.tolist(), p[0].tolist()
    ([2], [0.375, 0.625])
    """
    d_min, d_max = duration_thresholds
    sizes = np.asarray(sizes)
    durations = np.asarray(durations)
    chosen = (durations >= d_min) & (durations <= d_max) & (sizes > 0)
    unique = np.unique(durations[chosen]).astype(np.int64)
    profiles = []
    for duration in unique:
        members = np.flatnonzero(chosen & (durations == duration))
        normalised = np.array([shapes[i] / sizes[i] for i in members])
        profiles.append(np.mean(normalised, axis=0))
    return unique, profiles


def profile_variances(profiles: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``(D, V)`` of each profile: its duration and the variance of its time course."""
    durations = np.array([len(p) for p in profiles], dtype=np.int64)
    variances = np.empty(len(profiles))
    for i, profile in enumerate(profiles):
        t = np.arange(1, len(profile) + 1) / len(profile)
        mu = np.sum(t * profile)
        variances[i] = np.sum((t - mu) ** 2 * profile)
    return durations, variances


def beta_search(durations: np.ndarray, variances: np.ndarray) -> tuple[float, np.ndarray]:
    """β and the 1001 candidate spreads ``s(β) = std(ln V + 2β ln D)`` over the kept entries.

    Entries with ``D > 0``, ``V > 0`` and ``V`` finite are kept; none → β NaN, all NaN.

    Examples
    --------
    >>> beta, spread = beta_search(np.array([2]), np.array([0.25]))
    >>> beta, spread.shape
    (0.0, (1001,))
    """
    durations = np.asarray(durations)
    variances = np.asarray(variances, dtype=np.float64)
    keep = (durations > 0) & (variances > 0) & np.isfinite(variances)
    if not keep.any():
        return float("nan"), np.full(BETA_RANGE.shape, np.nan)
    log_v = np.log(variances[keep])
    log_d = np.log(durations[keep])
    y = log_v[None, :] + (2 * BETA_RANGE)[:, None] * log_d[None, :]
    spread = np.std(y, axis=1)
    return float(BETA_RANGE[int(np.argmin(spread))]), spread


def beta_bootstrap_std(durations: np.ndarray, variances: np.ndarray, n_bootstraps: int,
                       random_seed: int) -> float:
    """``numpy.std`` of β over ``n_bootstraps`` resamples (with replacement) of the profiles.

    NaN with fewer than two profiles or no bootstraps.

    Examples
    --------
    >>> beta_bootstrap_std(np.array([2]), np.array([0.25]), 100, 42)
    nan
    """
    count = len(durations)
    if count < 2 or n_bootstraps <= 0:
        return float("nan")
    rng = np.random.RandomState(random_seed)
    betas = [beta_search(durations[idx], variances[idx])[0]
             for idx in (rng.choice(np.arange(count), size=count, replace=True)
                         for _ in range(n_bootstraps))]
    return float(np.std(betas))
