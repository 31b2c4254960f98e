"""Fast numpy reductions of the overview: per-block min/max of samples, and runs of rows reduced at once.

What they replace: the obvious numpy, ``ufunc.reduce(x.reshape(-1, block, channels),
axis=1)`` and ``ufunc.reduceat(x, starts, axis=0)``. Both run numpy's inner loop over one
row (``channels`` values) at a time, which costs more than the comparisons themselves.
The kernels here arrange the same reductions as a few calls over long contiguous runs:
:class:`BlockMinMax` (level 0 of a build, several times faster; it makes the build
read-bound), :func:`reduce_groups` (a level from the one below) and :func:`reduce_runs`
(the bins of a request, and ``reduceat`` exactly).

What they cost: views planned ahead and a few lines of index arithmetic that must match
the obvious form exactly; ``tests/test_overview.py`` and ``tests/test_overview_build.py``
check them against it (any block length, alignment, dtype and extreme value).

Examples
--------
>>> import numpy as np
>>> x = np.arange(8)[:, None]
>>> reduce_groups(np.maximum, x, 4)[:, 0].tolist()
[3, 7]
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["BlockMinMax", "reduce_groups", "reduce_runs"]

_KERNEL_FAN_IN = 16  # sub-blocks reduced per step of the kernel (measured: 16 > 8 > 4 > halving > 32)


def reduce_groups(ufunc: np.ufunc, x: np.ndarray, group: int) -> np.ndarray:
    """``ufunc`` over each run of ``group`` rows of ``x`` (rows a multiple of ``group``).

    Halving the groups (first half against second half: long contiguous loops) is several
    times faster than ``ufunc.reduce(x.reshape(-1, group, ch), axis=1)``, whose inner
    loop covers a single row.
    """
    r = x.reshape(x.shape[0] // group, group * x.shape[1])
    ch = x.shape[1]
    while group % 2 == 0:
        group //= 2
        r = ufunc(r[:, : group * ch], r[:, group * ch:])
    return r.reshape(-1, ch) if group == 1 else ufunc.reduce(r.reshape(r.shape[0], group, ch), axis=1, dtype=x.dtype)


def reduce_runs(ufunc: np.ufunc, x: np.ndarray, offset: int, group: int) -> np.ndarray:
    """``ufunc`` over the runs of rows of ``x``: the first ``offset`` rows (when ``offset > 0``),
    then every ``group`` rows (the last run may be shorter), in ``x``'s dtype.

    The same as ``ufunc.reduceat(x, starts, axis=0, dtype=x.dtype)`` with the runs' starts, several times
    faster: ``reduceat`` makes one inner loop per run (a run is a few rows of 64 values),
    while here the aligned runs take ``group - 1`` calls of ``ufunc`` over every run at
    once (rows ``j, j + group, ...`` against the running result).

    Examples
    --------
    >>> x = np.arange(7)[:, None]
    >>> reduce_runs(np.add, x, 1, 3)[:, 0].tolist()   # rows [0], [1, 2, 3], [4, 5, 6]
    [0, 6, 15]
    """
    n = x.shape[0]
    head = min(offset, n)
    full = (n - head) // group
    body = x[head:head + full * group]
    out = []
    if head:
        out.append(ufunc.reduce(x[:head], axis=0, keepdims=True, dtype=x.dtype))
    if full:
        if group == 1:
            out.append(body)
        else:
            acc = ufunc(body[0::group], body[1::group])
            for j in range(2, group):
                ufunc(acc, body[j::group], out=acc)
            out.append(acc)
    if head + full * group < n:
        out.append(ufunc.reduce(x[head + full * group:], axis=0, keepdims=True, dtype=x.dtype))
    return out[0] if len(out) == 1 else np.concatenate(out)


class BlockMinMax:
    """Per-block (``base`` frames) min and max of the samples in one read buffer, fast.

    ``np.min(x.reshape(-1, base, channels), axis=1)`` runs numpy's inner loop over one
    frame (``channels`` values) at a time, which costs more than the comparisons. Instead
    each step reduces groups of up to ``_KERNEL_FAN_IN`` consecutive sub-blocks of every
    block into one (``ufunc.reduce`` over the middle axis of ``(blocks, k, frames/k *
    channels)``: inner loops over ``frames/k * channels`` contiguous values), so that a
    block of 64 frames takes two steps (16, then 4) and the samples are read once per
    chain. The min and max chains take their steps in turn, so that the second finds the
    buffer still in the CPU's cache. The steps' views are made once per buffer and length
    (a "plan"): a piece then costs four ufunc calls and no other Python. Few calls
    matter as much as the arithmetic: each releases and retakes Python's lock, which
    the other threads (reading, writing) then wait for or take. One instance per thread
    and buffer.

    Examples
    --------
    >>> buf = np.arange(12, dtype=np.int16).reshape(6, 2)     # 6 frames of 2 channels
    >>> lo, hi = BlockMinMax(buf, 3)(2)                       # two blocks of 3 frames
    >>> lo.tolist(), hi.tolist()
    ([[0, 1], [6, 7]], [[4, 5], [10, 11]])
    """

    def __init__(self, buf: np.ndarray, base: int):
        self.buf = buf
        self.base = base
        self._plans: dict[int, tuple[list[Callable[[], Any]], np.ndarray, np.ndarray]] = {}

    def _plan(self, n_blocks: int) -> tuple[list[Callable[[], Any]], np.ndarray, np.ndarray]:
        ch, dtype = self.buf.shape[1], self.buf.dtype
        rows = self.buf[: n_blocks * self.base].reshape(n_blocks, self.base * ch)
        outs = (np.empty((n_blocks, ch), dtype), np.empty((n_blocks, ch), dtype))
        chains = []
        for ufunc, out in zip((np.minimum, np.maximum), outs):
            calls: list[Callable[[], Any]] = []
            x, frames = rows, self.base
            while frames > 1:
                # the largest group that divides the frames left (all of them, when prime)
                k = max([d for d in range(2, _KERNEL_FAN_IN + 1) if frames % d == 0] or [frames])
                left = frames // k
                y = out if left == 1 else np.empty((n_blocks, left * ch), dtype)
                if k == 2:  # a binary ufunc beats a reduction of two
                    calls.append(functools.partial(ufunc, x[:, : left * ch], x[:, left * ch:], out=y))
                else:
                    calls.append(functools.partial(ufunc.reduce, x.reshape(n_blocks, k, left * ch), axis=1, out=y))
                x, frames = y, left
            chains.append(calls)
        return [call for pair in zip(*chains) for call in pair], outs[0], outs[1]

    def __call__(self, n_blocks: int) -> tuple[np.ndarray, np.ndarray]:
        """Min and max (``(n_blocks, channels)`` each) of the first ``n_blocks`` blocks of the buffer.

        The arrays returned are the plan's own: overwritten by the next call.
        """
        plan = self._plans.get(n_blocks)
        if plan is None:
            plan = self._plans[n_blocks] = self._plan(n_blocks)
        calls, lo, hi = plan
        for call in calls:
            call()
        return lo, hi
