"""The crackling-noise scaling relation and the deviation from criticality coefficient (§7.6).

The model (Sethna et al. 2001; Friedman et al. 2012; Ma et al. 2019): at criticality the mean
size of avalanches of duration ``T`` grows as ``T^γ`` with ``γ = (α − 1)/(τ − 1)``. ``γ`` is
fitted as the slope of ``ln ⟨S⟩(T)`` against ``ln T`` over the durations
``lo_D < T < lo_D + 60`` that occur; the DCC is ``|γ_predicted − γ_fitted|`` and the shape
collapse error ``|β − γ_fitted|``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

NAN = float("nan")


@dataclass(frozen=True)
class Scaling:
    """The §7.6 fields (NaN and an empty parameter array when the relation cannot be fitted)."""

    time_values: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    fitted_params: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    predicted: float = NAN
    fitted: float = NAN
    dcc: float = NAN
    shape_collapse_error: float = NAN


def scaling_relation(sizes: np.ndarray, durations: np.ndarray, tau: float, alpha: float,
                     duration_lo: float, beta: float) -> Scaling:
    """Fit ``⟨S⟩(T) ∝ T^γ`` and compare it with ``(α − 1)/(τ − 1)`` and β.

    Examples
    --------
    >>> s = scaling_relation(np.array([2, 4, 9, 3]), np.array([2, 3, 4, 2]), 2.0, 2.5, 1.0, 0.5)
    >>> s.time_values.tolist(), round(s.fitted, 3), s.predicted
    ([2, 3, 4], 1.803, 1.5)
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    durations = np.asarray(durations, dtype=np.int64)
    if durations.size == 0 or not (math.isfinite(tau) and math.isfinite(alpha)) or tau == 1:
        return Scaling()
    times = np.arange(1, int(durations.max()) + 1)
    times = times[(times > duration_lo) & (times < duration_lo + 60)]
    counts = np.bincount(durations, minlength=int(durations.max()) + 1)
    totals = np.bincount(durations, weights=sizes.astype(np.float64), minlength=counts.size)
    times = times[counts[times] > 0].astype(np.int64)
    means = totals[times] / counts[times]
    if times.size < 2 or not np.all(means > 0):
        return Scaling(time_values=times)
    params = np.polyfit(np.log(times), np.log(means), 1)
    fitted = float(params[0])
    predicted = (alpha - 1) / (tau - 1)
    return Scaling(times, params.astype(np.float64), predicted, fitted,
                   abs(predicted - fitted), abs(beta - fitted) if math.isfinite(beta) else NAN)
