"""The build's one pass over a recording, with worker threads reading and reducing the samples.

What it replaces: a loop that reads a piece of samples, reduces it to level-0 blocks, and
writes them, one thing after another. Here ``threads`` workers take turns reading the next
piece of samples (2 MiB; one read at a time, in file order, so that the disk sees one
sequential read) and each reduces the piece it read (:class:`~cldata.overview.kernels.BlockMinMax`)
while the others read or compute: HDF5 and numpy release Python's lock. The calling thread
(the writer) puts the pieces back in order, counts spikes, reduces the coarser levels and
appends them to the overview file (:class:`~cldata.overview.cascade.LevelCascade`), a
chunk (``chunk_frames``) at a time. A build then runs at about the speed of reading the
samples (``benchmarks/bench_overview.py``).

What it costs: threads and a lock. Every HDF5 call, whichever thread and file, is made
under one lock (the library may not be thread-safe). Work is handed over through
``queue.SimpleQueue`` (C, a few hundred nanoseconds an item: thousands of pieces per
recording), which also bounds the pieces computed ahead (memory): a worker takes a token
before claiming a piece, and the writer gives it back when it takes the piece. A worker's
error stops the pass and is raised in the writer; the workers are joined before the pass
returns, whatever happened.

Examples
--------
>>> one_pass(samples, events, n_samples, spike_frames, chunk_frames, 64, 128, 64, np.dtype(np.int16),
...          minmax, counts, threads=None, io_lock=lock)                   # doctest: +SKIP
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import tables

from cldata.format.events import EventTable
from cldata.overview.cascade import LevelCascade
from cldata.overview.kernels import BlockMinMax
from cldata.overview.spike_source import SpikeCursor

__all__ = ["one_pass"]

# samples per read while building (2 MiB): the piece and its reductions stay in the CPU's caches
# (1-2 MiB measured best; 4 MiB is 20 % slower), and per-call costs (HDF5, numpy, Python's lock) stay small
_BUILD_PIECE_BYTES = 1 << 21


class _Workers:
    """Worker threads that read the samples a piece at a time, in order, and reduce each to level-0 blocks."""

    def __init__(self, samples: tables.EArray | None, n_samples: int, channels: int, dtype: np.dtype, base: int,
                 workers: int, chunk_frames: int, io_lock: threading.Lock):
        self.samples, self.n_samples, self.channels, self.dtype, self.base = samples, n_samples, channels, dtype, base
        self.io_lock = io_lock
        self.piece = max(base, _BUILD_PIECE_BYTES // (channels * dtype.itemsize) // base * base)
        self.n_pieces = -(-n_samples // self.piece) if samples is not None else 0
        self.tokens: queue.SimpleQueue[bool] = queue.SimpleQueue()
        # at least a writer step ahead (never more tokens than pieces: a chunk may span them all)
        for _ in range(min(max(4 * workers, 2 * -(-chunk_frames // self.piece)), self.n_pieces + 4 * workers)):
            self.tokens.put(True)
        self.done: queue.SimpleQueue[tuple[int, Any, Any]] = queue.SimpleQueue()  # (piece, min, max) or (-1, error, None)
        self.claimed = 0  # pieces claimed by the workers, in order (under io_lock)
        self.stopped = False  # the writer is done, or failed: the workers leave the tokens they find
        self.computed: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.next = 0  # the next piece the writer takes
        self.pool = [threading.Thread(target=self.work, name=f"cldata-overview-{i}", daemon=True)
                     for i in range(self.n_pieces and workers)]

    def start(self) -> None:
        for t in self.pool:
            t.start()

    def stop(self) -> None:
        self.stopped = True
        for _ in self.pool:  # wake the workers waiting for a token
            self.tokens.put(False)
        for t in self.pool:
            t.join()

    def work(self) -> None:
        """A worker: claim the next piece, read it (one reader at a time), reduce it, hand it over."""
        base, channels, dtype, n_samples = self.base, self.channels, self.dtype, self.n_samples
        try:
            buf = np.empty((min(self.piece, n_samples), channels), dtype=dtype)
            kernel = BlockMinMax(buf, base)
            while self.tokens.get() and not self.stopped:
                with self.io_lock:  # one reader of the recording at a time, in order
                    p = self.claimed
                    if p >= self.n_pieces:
                        return
                    self.claimed = p + 1
                    a = p * self.piece
                    m = min(n_samples, a + self.piece) - a
                    self.samples.read(a, a + m, out=buf[:m])
                whole = m // base
                out_min = np.empty((-(-m // base), channels), dtype=dtype)
                out_max = np.empty_like(out_min)
                if whole:
                    out_min[:whole], out_max[:whole] = kernel(whole)
                if whole * base < m:  # the samples' last, short block
                    buf[whole * base:m].min(axis=0, out=out_min[whole])
                    buf[whole * base:m].max(axis=0, out=out_max[whole])
                self.done.put((p, out_min, out_max))
        except BaseException as exc:
            self.done.put((-1, exc, None))

    def take(self, p: int) -> tuple[np.ndarray, np.ndarray]:
        """Piece ``p``'s blocks, once a worker has made them (a worker's error is raised here)."""
        while p not in self.computed:
            q, lo, hi = self.done.get()
            if q < 0:
                raise lo
            self.computed[q] = (lo, hi)
        self.tokens.put(True)
        return self.computed.pop(p)

    def blocks_before(self, stop: int) -> tuple[np.ndarray, ...] | None:
        """The level-0 blocks of the pieces starting before frame ``stop`` not yet taken, in order."""
        parts = []
        while self.next < self.n_pieces and self.next * self.piece < stop:
            parts.append(self.take(self.next))
            self.next += 1
        if not parts:
            return None
        return tuple(np.concatenate(q) if len(q) > 1 else q[0] for q in zip(*parts))


def _count_spikes(cursor: SpikeCursor | None, a: int, end: int, spike_block: int, channels: int,
                  io_lock: threading.Lock) -> np.ndarray:
    """Spikes per block of ``spike_block`` frames and channel over ``[a, end)``, as uint32."""
    n_blocks = -(-(end - a) // spike_block)
    c = np.zeros((n_blocks, channels), dtype=np.uint32)  # calloc: pages of zeros cost nothing
    if cursor is not None:
        with io_lock:
            ts, ch = cursor.take(a, end)
        if ts.size:
            ok = ch < channels  # (a channel beyond channel_count: not a CL recording's)
            idx = (ts - a) // spike_block * channels + ch.astype(np.int64)
            np.add.at(c.reshape(-1), idx if ok.all() else idx[ok], 1)  # few spikes: no dense pass
    return c


def one_pass(samples: tables.EArray | None, events: EventTable | None, n_samples: int, spike_frames: int,
             chunk_frames: int, base: int, spike_block: int, channels: int, dtype: np.dtype,
             minmax: LevelCascade | None, counts: LevelCascade | None, threads: int | None,
             io_lock: threading.Lock, tick: Callable[[int], None] | None = None) -> None:
    """Read the recording once, in order, feeding level 0 of both pyramids (see the module doc).

    ``minmax`` gets the per-block (``base`` frames) min and max of the samples, ``counts``
    the spikes per block of ``spike_block`` frames; either may be ``None`` (no samples, no
    spike levels). ``tick`` is called with the frames passed after each writer step.
    """
    workers = max(1, threads if threads is not None else min(8, os.cpu_count() or 1))
    pool = _Workers(samples if minmax is not None else None, n_samples, channels, dtype, base, workers,
                    chunk_frames, io_lock)
    cursor = SpikeCursor(events) if events is not None and counts is not None else None
    pool.start()
    try:
        total = max(n_samples, spike_frames)
        for a in range(0, total, chunk_frames):
            b = min(total, a + chunk_frames)
            if minmax is not None and a < n_samples:
                blocks = pool.blocks_before(b)
                if blocks is not None:
                    minmax.push(0, blocks)
            if counts is not None and a < spike_frames:
                counts.push(0, (_count_spikes(cursor, a, min(b, spike_frames), spike_block, channels, io_lock),))
            if tick is not None:
                tick(b - a)
    finally:
        pool.stop()
