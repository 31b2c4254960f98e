"""Size and duration exponents of the avalanches (spec §7.5).

The model: avalanche sizes follow ``P(S) ∝ S^(−τ)`` and durations ``P(D) ∝ D^(−α)`` between
exclusion bounds found on the values below ``max**0.8``; the exponent is then fitted on **all**
values inside the bounds (an official quirk, §14.5: the candidates are not the capped values).
When the bounds search fails, the bounds fall back to ``(limit, max**0.8)`` and the KS statistic
to +inf; when the lower bound exceeds the upper one, no value is a candidate and the exponent is
NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cldata.toolkit.criticality.powerlaw import exclusion_bounds, fit_power_law


@dataclass(frozen=True)
class Exponent:
    """One exponent with its KS-chosen ``xmin``, the bounds' KS statistic and the bounds."""

    exponent: float
    ks_min_bound: float
    ks_statistic: float
    bounds: tuple[float, float]


def fit_exponent(values: np.ndarray, limit: int) -> Exponent:
    """The power-law exponent of avalanche sizes (or durations) with ``limit`` as lowest xmin.

    Examples
    --------
    >>> fit_exponent(np.array([], dtype=np.int64), 10)
    Exponent(exponent=nan, ks_min_bound=nan, ks_statistic=inf, bounds=(10.0, nan))
    """
    values = np.asarray(values)
    if values.size == 0:
        return Exponent(float("nan"), float("nan"), float("inf"), (float(limit), float("nan")))
    cap = values.max() ** 0.8
    found = exclusion_bounds(values[values < cap], limit)
    if found is None:
        lo, hi, ks = float(limit), float(cap), float("inf")
    else:
        lo, hi, ks = float(found.lo), float(found.hi), float(found.ks)
    candidates = values[(values >= lo) & (values <= hi)]
    if candidates.size == 0:
        return Exponent(float("nan"), float("nan"), ks, (lo, hi))
    fit = fit_power_law(candidates, lo)
    return Exponent(float(fit.exponent), float(fit.xmin), ks, (lo, hi))
