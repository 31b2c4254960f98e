"""Exact bins from a stack of levels: whole blocks from one level, the edges from finer ones.

A request asks for bins of ``per`` frames over ``[a, b)``. Bins are aligned to multiples of
``per`` from the recording start (panning keeps the same bins: no shimmer) and the first
and last are clipped to the window. :func:`from_levels` makes them from level ``i``, whose
blocks divide ``per``: the blocks wholly inside the window are read in one slice and
reduced in runs (:func:`~cldata.overview.kernels.reduce_runs`); the pieces of blocks at the
window's edges are reduced exactly by :func:`exact`, from finer levels down to a *leaf*
(the raw samples, or the spike table) for the last few frames. Every bin's value is then
exactly that of the frames it covers.

Examples
--------
>>> bins(10, 100, 32)          # bins of 32 frames meeting [10, 100): the first and last clipped
(0, array([ 10,  32,  64,  96, 100]))
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cldata.overview.kernels import reduce_runs
from cldata.overview.levels import LevelStack

__all__ = ["Leaf", "bins", "exact", "from_levels"]

Leaf = Callable[[int, int], tuple[np.ndarray, ...]]
"""The reduction of frames ``[a, b)`` read from the source itself (the samples, or the spike table)."""


def bins(a: int, b: int, per: int) -> tuple[int, np.ndarray]:
    """First bin number and clipped edges of the ``per``-frame bins meeting ``[a, b)``."""
    first, last = a // per, (b - 1) // per
    edges = np.arange(first, last + 2, dtype=np.int64) * per
    edges[0], edges[-1] = a, b
    return first, edges


def exact(stack: LevelStack, i: int, a: int, b: int, leaf: Leaf, channels: int) -> list[np.ndarray]:
    """The exact per-channel reduction over ``[a, b)`` from levels finer than ``i`` (and the leaf)."""
    acc = stack.empty(1, channels)
    if a >= b:
        return acc
    if i == 0:
        stack.combine_into(acc, slice(None), tuple(v[None, :] for v in leaf(a, b)))
        return acc
    block = stack.levels[i - 1][1]
    k0, k1 = stack.full_blocks(i - 1, a, b)
    if k0 > k1:  # inside one block of the level below: go finer
        return exact(stack, i - 1, a, b, leaf, channels)
    if k0 < k1:
        parts = stack.read(i - 1, k0, k1)
        stack.combine_into(acc, slice(None), tuple(u.reduce(p, axis=0, keepdims=True)
                                                   for u, p in zip(stack.ufuncs, parts)))
    for fa, fb in ((a, min(k0 * block, b)), (max(min(k1 * block, stack.n_frames), a), b)):
        if fa < fb:
            part = exact(stack, i - 1, fa, fb, leaf, channels)
            stack.combine_into(acc, slice(None), tuple(part))
    return acc


def from_levels(stack: LevelStack, i: int, a: int, b: int, per_point: int, leaf: Leaf,
                channels: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Bins of ``per_point`` frames over ``[a, b)`` from level ``i`` (edges made exact from finer levels).

    Returns the bins' edges and, per array of a level, the ``(bins, channels)`` values.
    """
    block = stack.levels[i][1]
    group = per_point // block
    first, edges = bins(a, b, per_point)
    acc = stack.empty(edges.size - 1, channels)
    k0, k1 = stack.full_blocks(i, a, b)
    if k0 < k1:
        parts = stack.read(i, k0, k1)
        values = tuple(reduce_runs(u, p, (-k0) % group, group) for u, p in zip(stack.ufuncs, parts))
        r0 = k0 // group - first  # the bins are consecutive rows: a slice, not an index array
        stack.combine_into(acc, slice(r0, r0 + values[0].shape[0]), values)
        pieces = [(a, min(k0 * block, b)), (max(min(k1 * block, stack.n_frames), a), b)]
    else:
        pieces = [(a, min(k0 * block, b))] + ([(k0 * block, b)] if k0 == k1 and k0 * block < b else [])
    for fa, fb in pieces:
        if fa < fb:  # a piece of a block: wholly inside one bin (bin edges are block edges)
            part = exact(stack, i, fa, fb, leaf, channels)
            stack.combine_into(acc, fa // per_point - first, tuple(p[0] for p in part))
    return edges, acc
