"""One stack of stored levels in an open overview file, read with every chunk checked.

An overview holds two pyramids: the samples' per-block minimum and maximum, and the spike
counts per block. A :class:`LevelStack` is one of them as the reader sees it: the levels
(number, block length, array paths), finest first; the ufuncs that combine blocks (min and
max, or a sum) and what an empty bin starts from. Opening an overview stays cheap: a
level's arrays are found and checked (node kind, shape, dtype, one CRC-32 per chunk) only
when first read, and each chunk is checked against its CRC-32 the first time it is read
while the file is open, after checking that the file's chunk index places it inside the
file. Any failure is an :class:`~cldata.errors.OverviewError` saying to rebuild the file.

Examples
--------
>>> stack.coarsest_for(1000)            # the coarsest level with blocks of at most 1000 frames  # doctest: +SKIP
1
>>> minima, maxima = stack.read(1, 0, 10)                                                    # doctest: +SKIP
"""

from __future__ import annotations

import os
import zlib
from typing import Any

import numpy as np
import tables

from cldata.errors import OverviewError
from cldata.format.node_guard import check_leaf
from cldata.format.reader import hdf5_reason
from cldata.overview.layout import OVERVIEW

__all__ = ["LevelStack"]


class LevelStack:
    """One kind of level stack in an overview file: sample min/max, or spike counts.

    Parameters
    ----------
    h5
        The open overview file.
    levels
        ``(level number, block frames, array paths)`` of each level, finest first.
    n_frames
        The frames the levels cover.
    identity, ufuncs
        What an empty bin starts from and how blocks combine, one per array of a level.
    dtype, cast
        The dtype of answers; with ``cast``, what is read is widened to it before reducing.
    channels, stored
        The level arrays' columns and the dtypes they may have (the expected one first).

    Examples
    --------
    >>> stack = LevelStack(h5, [(0, 64, ("/samples/L0/min", "/samples/L0/max"))], n_frames=6400,   # doctest: +SKIP
    ...                    identity=(32767, -32768), ufuncs=(np.minimum, np.maximum),
    ...                    dtype=np.dtype(np.int16), cast=False, channels=64, stored=(np.dtype(np.int16),))
    >>> stack.full_blocks(0, 100, 1000)     # blocks 2..14 lie wholly inside frames [100, 1000)  # doctest: +SKIP
    (2, 15)
    """

    def __init__(self, h5: tables.File, levels: list[tuple[int, int, tuple[str, ...]]], n_frames: int,
                 identity: tuple[Any, ...], ufuncs: tuple[np.ufunc, ...], dtype: np.dtype, cast: bool,
                 channels: int = 0, stored: tuple[np.dtype, ...] = ()):
        self.h5 = h5
        self.channels = channels  # the level arrays' columns
        self.dtypes = stored  # the dtypes the level arrays may have, the expected one first
        self.levels = levels  # (level number, block frames, array paths), finest first
        self._nodes: dict[int, tuple[tables.Array, ...]] = {}  # found on first use: opening stays cheap
        self._crcs: dict[int, tuple[tables.Array, ...]] = {}
        self._verified: set[tuple[int, int, int]] = set()  # (level index, array, chunk) checked while open
        self._file_size = os.stat(h5.filename).st_size
        self.n_frames = n_frames
        self.identity = identity  # of each ufunc: what an empty bin starts from
        self.ufuncs = ufuncs
        self.dtype = dtype
        self.cast = cast  # widen what is read before reducing it (sums of uint16 counts could overflow)

    def coarsest_for(self, frames_per_point: int) -> int | None:
        """Index into ``levels`` of the coarsest level with blocks of at most that many frames."""
        best = None
        for i, (_, block, _) in enumerate(self.levels):
            if block <= frames_per_point:
                best = i
        return best

    def full_blocks(self, i: int, a: int, b: int) -> tuple[int, int]:
        """Blocks of level ``i`` lying wholly inside ``[a, b)``: ``k0 .. k1 - 1`` (maybe empty)."""
        block = self.levels[i][1]
        k0 = -(-a // block)
        k1 = -(-self.n_frames // block) if b >= self.n_frames else b // block
        return k0, k1

    def arrays(self, i: int) -> tuple[tables.Array, ...]:
        nodes = self._nodes.get(i)
        if nodes is None:
            self._load(i)
            nodes = self._nodes[i]
        return nodes

    def _check_chunks(self, arr: tables.Array, rows: int, c0: int, c1: int, i: int) -> None:
        size = self._file_size
        for c in range(c0, c1):
            info = arr.chunk_info((c * rows,) + (0,) * (arr.ndim - 1))
            if info.offset is not None and (info.offset <= 0 or info.size < 5 or info.offset + info.size > size):
                raise OverviewError(f"{self.h5.filename} is damaged: the index of {arr._v_pathname} places chunk {c} "
                                    f"of level {self.levels[i][0]} at bytes {info.offset}+{info.size} of a {size}-byte "
                                    "file; rebuild it with build_overview()")

    def crc_arrays(self, i: int) -> tuple[tables.Array, ...]:
        nodes = self._crcs.get(i)
        if nodes is None:
            self._load(i)
            nodes = self._crcs[i]
        return nodes

    def _load(self, i: int) -> None:
        """Find level ``i``'s arrays and their checksums, and check them before anything is read:
        their kind (the node guard), and the shape and dtype the level needs."""
        source = self.h5.filename
        level, block, paths = self.levels[i]
        try:
            arrays = tuple(self.h5.get_node(path) for path in paths)
            crcs = tuple(self.h5.get_node(path + "_crc") for path in paths)
        except Exception as exc:  # PyTables loads a node's header now: damage raises whatever it raises
            raise OverviewError(f"{source} is damaged: {type(exc).__name__}: {exc}") from None
        for node in (*arrays, *crcs):
            check_leaf(node, OVERVIEW, "/", source)
        shape = (-(-self.n_frames // block), self.channels)
        for arr, crc in zip(arrays, crcs):
            if tuple(arr.shape) != shape or np.dtype(arr.atom.dtype) not in self.dtypes:
                raise OverviewError(f"{arr._v_pathname} in {source} has shape {tuple(arr.shape)} and dtype "
                                    f"{arr.atom.dtype}; level {level} needs {shape} of {self.dtypes[0]} "
                                    "(the file is damaged: rebuild it with build_overview())")
            if tuple(crc.shape) != (-(-shape[0] // max(1, int(arr.chunkshape[0]))),):
                raise OverviewError(f"{crc._v_pathname} in {source} holds {crc.shape[0]} checksums, not one "
                                    "per chunk (the file is damaged: rebuild it with build_overview())")
        self._nodes[i], self._crcs[i] = arrays, crcs

    def read(self, i: int, k0: int, k1: int) -> tuple[np.ndarray, ...]:
        if k1 <= k0:
            return tuple(np.empty((0, arr.shape[1]), arr.atom.dtype) for arr in self.arrays(i))
        try:
            parts = []
            for n, (arr, crc_arr) in enumerate(zip(self.arrays(i), self.crc_arrays(i))):
                rows = int(arr.chunkshape[0])
                c0, c1 = k0 // rows, -(-k1 // rows)
                if all((i, n, c) in self._verified for c in range(c0, c1)):
                    parts.append(arr[k0:k1])
                    continue
                # the first read of a chunk while the file is open reads it whole (HDF5 reads it
                # whole anyway) and checks it against its CRC-32; first, where the index says the
                # chunk lies must be inside the file (HDF5 crashes on some damaged entries: size 0)
                self._check_chunks(arr, rows, c0, c1, i)
                a = c0 * rows
                block = arr[a:min(c1 * rows, int(arr.nrows))]
                stored = crc_arr[c0:c1]
                if stored.shape[0] != c1 - c0 or any(
                        zlib.crc32(block[j * rows:(j + 1) * rows]) != int(stored[j]) for j in range(c1 - c0)):
                    raise OverviewError(f"{self.h5.filename} is damaged: blocks {a}..{c1 * rows} of level "
                                        f"{self.levels[i][0]} ({arr.name}) fail their CRC-32; rebuild it with "
                                        "build_overview()")
                self._verified.update((i, n, c) for c in range(c0, c1))
                parts.append(block[k0 - a:k1 - a])
            parts = tuple(parts)
        except OverviewError:
            raise
        except (tables.HDF5ExtError, OSError, ValueError, SystemError) as exc:  # a chunk failing its checksum, say
            raise OverviewError(f"{self.h5.filename} is damaged: blocks {k0}..{k1} of level {self.levels[i][0]} "
                                f"cannot be read ({hdf5_reason(exc)}); rebuild it with build_overview()") from None
        return tuple(p.astype(self.dtype) for p in parts) if self.cast else parts

    def forget(self) -> None:
        """Drop the node handles (before the file closes: a PyTables node that outlives its
        file fails noisily when collected)."""
        self._nodes.clear()
        self._crcs.clear()

    def empty(self, rows: int, channels: int) -> list[np.ndarray]:
        return [np.full((rows, channels), ident, dtype=self.dtype) for ident in self.identity]

    def combine_into(self, acc: list[np.ndarray], rows: Any, values: tuple[np.ndarray, ...]) -> None:
        for target, ufunc, value in zip(acc, self.ufuncs, values):
            target[rows] = ufunc(target[rows], value)
