"""The pyramid's levels made as blocks arrive: each level reduced into the next, written chunk by chunk.

A build feeds level 0 (per-block min/max of the samples, or spike counts per block) in
order, a writer step at a time; :class:`LevelCascade` appends those blocks to level 0's
arrays and reduces every ``factor`` of them into one block of level 1, and so on up, so
that every level is made in the same single pass over the recording. Blocks that do not
yet make a whole group wait; :meth:`LevelCascade.finish` turns what is left into each
level's last, short block and flushes the writers (:class:`~cldata.overview.chunk_encoder.ChunkWriter`).

Examples
--------
>>> cascade = LevelCascade(arrays, n_rows, 8, (np.minimum, np.maximum), lock)   # doctest: +SKIP
>>> cascade.push(0, (block_minima, block_maxima))                               # doctest: +SKIP
>>> cascade.finish()                                                            # doctest: +SKIP
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import tables

from cldata.overview.chunk_encoder import ChunkWriter
from cldata.overview.kernels import reduce_groups

__all__ = ["LevelCascade"]

_DEFER_BYTES = 1 << 24  # chunks of a level kept back to be written together (per array; see ChunkWriter)


class LevelCascade:
    """Appends blocks to each level's arrays and reduces ``factor`` of them into the next level.

    ``ufuncs`` combine rows: one per array of a level (min and max; or a sum). Fewer
    than ``factor`` blocks wait in ``pending`` until more arrive or :meth:`finish` turns
    them into the level above's last (short) block.
    """

    def __init__(self, arrays: list[tuple[tables.EArray, ...]], n_rows: list[int], factor: int,
                 ufuncs: tuple[np.ufunc, ...], lock: threading.Lock, check: Callable[[int, tuple], None] | None = None):
        # a level above the finest, or one of compressed chunks, is written in bursts
        # (see ChunkWriter): its chunks then lie together in the file
        self.writers = [tuple(ChunkWriter(a, n, lock, _DEFER_BYTES if i or a.filters.complevel else 0,
                                           a._v_parent._f_get_child(a.name + "_crc")) for a in level)
                        for i, (level, n) in enumerate(zip(arrays, n_rows))]
        self.factor = factor
        self.ufuncs = ufuncs
        self.check = check
        self.pending: list[tuple[np.ndarray, ...] | None] = [None] * len(arrays)

    def push(self, level: int, parts: tuple[np.ndarray, ...]) -> None:
        if self.check is not None:
            self.check(level, parts)
        for writer, part in zip(self.writers[level], parts):
            writer.add(part)
        if level + 1 >= len(self.writers):
            return
        pending = self.pending[level]
        if pending is not None:
            parts = tuple(np.concatenate([p, q]) for p, q in zip(pending, parts))
        whole = parts[0].shape[0] // self.factor * self.factor
        self.pending[level] = tuple(p[whole:].copy() for p in parts) if whole < parts[0].shape[0] else None
        if whole:
            self.push(level + 1, tuple(reduce_groups(u, p[:whole], self.factor) for u, p in zip(self.ufuncs, parts)))

    def finish(self) -> None:
        for level in range(len(self.writers) - 1):
            pending = self.pending[level]
            self.pending[level] = None
            if pending is not None and pending[0].shape[0]:
                self.push(level + 1, tuple(u.reduce(p, axis=0, keepdims=True, dtype=p.dtype)
                                           for u, p in zip(self.ufuncs, pending)))
        for writers in self.writers:
            for writer in writers:
                writer.flush()
