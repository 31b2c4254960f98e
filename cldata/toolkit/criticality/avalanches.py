"""Neuronal avalanches from binned network activity (Beggs & Plenz 2003).

The model: the network activity ``A_j`` is the number of spikes of all counted channels in bin
``j``. A bin is *active* when its activity exceeds a threshold ``θ`` (a quantile of ``A``); every
maximal run of active bins ``[s, e)`` is an avalanche, runs touching either end of the data
included. An avalanche's size is its total spike count ``Σ A[s:e]`` (not the excess over ``θ``),
its shape the activity profile ``A[s:e]``, its duration ``e − s`` bins; the quiet gaps between
consecutive avalanches are the inter-avalanche durations (spec §7.1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Avalanches:
    """Avalanches found in one activity trace.

    Attributes
    ----------
    threshold : float
        The activity threshold ``θ`` (``numpy.quantile(A, q)``, linear method).
    starts, ends : numpy.ndarray
        int64 bin indices of each run ``[s, e)``.
    sizes, durations, gaps : numpy.ndarray
        int64 total spikes, bins, and bins between consecutive avalanches (one fewer).
    shapes : list of numpy.ndarray
        ``A[s:e]`` of each avalanche (int64).
    """

    threshold: float
    starts: np.ndarray
    ends: np.ndarray
    sizes: np.ndarray
    durations: np.ndarray
    gaps: np.ndarray
    shapes: list[np.ndarray]


def network_activity(counts: np.ndarray) -> np.ndarray:
    """The network activity ``A_j = Σ_c K[c, j]`` (int64) of a count matrix.

    Examples
    --------
    >>> network_activity(np.array([[1, 0, 2], [0, 0, 1]])).tolist()
    [1, 0, 3]
    """
    return np.asarray(counts, dtype=np.int64).sum(axis=0, dtype=np.int64)


def find_avalanches(activity: np.ndarray, percentile_threshold: float) -> Avalanches:
    """The avalanches of ``activity`` above its ``percentile_threshold`` quantile.

    Parameters
    ----------
    activity : numpy.ndarray
        int64 network activity per bin (at least one bin).
    percentile_threshold : float
        The quantile in ``[0, 1]`` (``numpy.quantile``'s default linear method).

    Examples
    --------
    >>> found = find_avalanches(np.array([0, 2, 3, 0, 0, 1]), 0.5)
    >>> found.threshold, found.sizes.tolist(), found.durations.tolist(), found.gaps.tolist()
    (0.5, [5, 1], [2, 1], [2])
    """
    activity = np.asarray(activity, dtype=np.int64)
    if activity.size == 0:
        # the official code fails here with an IndexError (numpy.quantile of no bins)
        raise ValueError("criticality needs at least one bin of activity (no bins in the window)")
    threshold = float(np.quantile(activity, percentile_threshold))
    active = activity > threshold
    edges = np.diff(np.concatenate(([0], active.view(np.int8), [0])).astype(np.int8))
    starts = np.flatnonzero(edges == 1).astype(np.int64)
    ends = np.flatnonzero(edges == -1).astype(np.int64)
    cumulative = np.concatenate(([0], np.cumsum(activity, dtype=np.int64)))
    sizes = (cumulative[ends] - cumulative[starts]).astype(np.int64)
    durations = (ends - starts).astype(np.int64)
    gaps = (starts[1:] - ends[:-1]).astype(np.int64)
    shapes = [activity[s:e] for s, e in zip(starts.tolist(), ends.tolist())]
    return Avalanches(threshold, starts, ends, sizes, durations, gaps, shapes)
