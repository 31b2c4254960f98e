"""Information entropy (spec §8): binary Shannon entropy of the fraction of active channels per bin.

The model (Shannon 1948): bin the window with the **rounded** width
``max(1, int(round(bin_size_sec * fs)))`` frames (official quirk §14.14: the other methods
truncate), count per bin the channels with at least one spike, ``a_j``, and take
``p_j = a_j / C`` with ``C`` the number of rows of the count matrix (all channels, 64 on a CL
MEA — so at most 59/64 on simulator data, whose ground and reference channels never spike).
Each bin's entropy is that of a Bernoulli variable with success probability ``p_j``:
``H = -p·g(p) - (1-p)·g(1-p)``, 0 when ``p`` is 0 or 1, with ``g = ln`` (nats) or
``g(x) = ln x / ln(log_base)`` applied to each term.

Examples
--------
>>> r = analyse_information_entropy(rec.analysis_data(), bin_size_sec=0.1, log_base=2)  # doctest: +SKIP
>>> r.information_entropy_per_time_bin.shape                                        # doctest: +SKIP
(100,)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cldata.toolkit.preprocess import SpikeData, count_matrix, require_spike_table, rounding_width
from cldata.toolkit.results import FloatArray, ToolkitResult, metadata_of


@dataclass(eq=False)
class AnalysisResultInformationEntropy(ToolkitResult):
    """Entropy of the active-channel fraction per time bin (spec §8).

    Examples
    --------
    >>> result.information_entropy_per_time_bin[:3]   # doctest: +SKIP
    array([0.        , 0.08048484, 0.18920898])
    """

    bin_size_sec: float
    information_entropy_per_time_bin: FloatArray


def bernoulli_entropy(p: np.ndarray, log_base: float | None = None) -> np.ndarray:
    """``-p·g(p) - (1-p)·g(1-p)`` elementwise, 0 where ``p`` is 0 or 1 (``g`` = ln or log in ``log_base``).

    Examples
    --------
    >>> bernoulli_entropy(np.array([0.0, 0.5, 1.0]), log_base=2)
    array([0., 1., 0.])
    """
    p = np.asarray(p, dtype=np.float64)
    h = np.zeros_like(p)
    inner = (p > 0) & (p < 1)
    q = p[inner]
    if log_base is None:
        h[inner] = -q * np.log(q) - (1 - q) * np.log(1 - q)
    else:
        base = np.log(log_base)
        h[inner] = -q * (np.log(q) / base) - (1 - q) * (np.log(1 - q) / base)
    return h


def analyse_information_entropy(data: SpikeData, bin_size_sec: float, fillna: float | None = 0.0,
                                log_base: float | None = None) -> AnalysisResultInformationEntropy:
    """Binary Shannon entropy of the fraction of channels active in each time bin.

    Parameters
    ----------
    data
        The recording's spikes and window.
    bin_size_sec
        Bin width in seconds, rounded to whole frames (at least one).
    fillna
        Replaces NaN entropies when not ``None`` (none arise for a sensible ``log_base``, so it
        changes nothing in practice; kept for the official signature).
    log_base
        Logarithm base; ``None`` for nats.

    Returns
    -------
    AnalysisResultInformationEntropy
        ``information_entropy_per_time_bin`` (float64, one per bin; empty for a zero-length
        window).

    Raises
    ------
    ValueError
        Without a spikes table.

    Examples
    --------
    >>> analyse_information_entropy(data, 0.01).information_entropy_per_time_bin.size  # doctest: +SKIP
    1000
    """
    require_spike_table(data)
    counts, rows = count_matrix(data, rounding_width(bin_size_sec, data.fs))
    active = np.count_nonzero(counts > 0, axis=0)
    # p = a / C with C the number of rows (official: the count matrix's rows, not active channels)
    p = active / max(rows.size, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = bernoulli_entropy(p, log_base)
    if fillna is not None:
        h = np.where(np.isnan(h), fillna, h)
    return AnalysisResultInformationEntropy(metadata=metadata_of(data), bin_size_sec=bin_size_sec,
                                            information_entropy_per_time_bin=h.astype(np.float64))
