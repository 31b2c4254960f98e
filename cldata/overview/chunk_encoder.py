"""A hand-made HDF5 chunk writer for the overview's level arrays: whole chunks, encoded here.

What it replaces: ``EArray.append`` of each writer step's few rows, with HDF5 running its
filter pipeline (shuffle, deflate, Fletcher-32) under its global lock and keeping partial
chunks in its chunk cache. :class:`ChunkWriter` instead hands HDF5 whole chunks only, in
bursts (a level's chunks then lie together in the file: a cold read of a coarse level is
one read, not one seek per chunk), and for the zlib-compressed spike counts encodes each
chunk itself, byte for byte as HDF5's filters would (shuffle, Python's zlib, and
:func:`fletcher32`), then stores it with PyTables' direct chunk write (3.10+). Python's
zlib runs at about twice HDF5's speed and outside HDF5's lock, which the reads of the
recording then do not wait for; the build stays read-bound.

What it costs: this module must produce exactly the bytes HDF5's filter pipeline would
(``tests/test_overview_build.py`` compares the stored chunks with those of plain appends,
byte for byte, and reads them back through HDF5, which verifies every Fletcher-32), and the
array's final length is set up front. Without ``write_chunk`` (older PyTables) or for
filters it does not reproduce, it falls back to whole-chunk appends through HDF5.

Examples
--------
>>> hex(fletcher32(b"abcde"))   # HDF5 reads 16-bit words big-endian (the usual Fletcher-32 gives 0xf04fc729)
'0x4ff029c7'
"""

from __future__ import annotations

import threading
import zlib
from typing import Any

import numpy as np
import tables

__all__ = ["ChunkWriter", "fletcher32"]

def fletcher32(data: bytes) -> int:
    """HDF5's Fletcher-32 checksum of ``data`` (``H5_checksum_fletcher32``), which its
    ``fletcher32`` filter appends, little-endian, to each stored chunk.

    Big-endian 16-bit words are summed in runs of 360 (so that 32-bit sums cannot
    overflow), folding both sums to 16 bits after each run; an odd last byte counts as a
    word's high byte.
    """
    n_words = len(data) // 2
    words = np.frombuffer(data, dtype=">u2", count=n_words).astype(np.int64)
    s1 = s2 = 0
    full = n_words // 360 * 360
    if full:
        blocks = words[:full].reshape(-1, 360)
        sums = blocks.sum(axis=1).tolist()
        weighted = (blocks @ np.arange(360, 0, -1, dtype=np.int64)).tolist()
    else:
        sums = weighted = []
    tails = []
    if full < n_words:
        rest = words[full:]
        tails.append((len(rest), int(rest.sum()), int(rest @ np.arange(len(rest), 0, -1, dtype=np.int64))))
    if len(data) % 2:
        tails.append((1, data[-1] << 8, data[-1] << 8))
    for t, a, w in [*((360, a, w) for a, w in zip(sums, weighted)), *tails]:
        s2 += t * s1 + w
        s1 += a
        s1 = (s1 & 0xFFFF) + (s1 >> 16)
        s2 = (s2 & 0xFFFF) + (s2 >> 16)
    s1 = (s1 & 0xFFFF) + (s1 >> 16)
    s2 = (s2 & 0xFFFF) + (s2 >> 16)
    return (s2 << 16) | s1


class ChunkWriter:
    """Writes the rows of one level array a whole number of its chunks at a time.

    HDF5 then writes each chunk once, straight from the rows given, instead of keeping a
    partial chunk in its cache across many small appends; and there are fewer calls
    (each costs tens of microseconds of Python). Rows wait here until a chunk is complete
    or :meth:`flush`.

    Complete chunks may also wait (``defer_bytes``: up to that many bytes, then all at
    once, and the rest at :meth:`flush`), so that a level's chunks lie together in the
    file: a request reads a few neighbouring chunks of one coarse level, which a cold
    disk then serves in one read instead of one seek each. (HDF5's chunk cache did this
    by accident; the overview file is written without one.)

    A zlib-compressed array (the spike counts) is written chunk by chunk with HDF5's
    direct chunk write when PyTables has it (3.10+): the chunk is shuffled and deflated
    here as HDF5's filters would (the same bytes, given the same zlib; any reader of the
    file sees the same filters and data), but by Python's zlib at about twice the speed,
    and outside HDF5's global lock, which the reads of the recording then do not wait
    for. The array is given its final length up front (chunks not yet written are not
    stored); the last chunk is padded as HDF5 pads it (with the fill value).

    Examples
    --------
    >>> writer = ChunkWriter(h5.root.counts, n_rows=1000, lock=threading.Lock())   # doctest: +SKIP
    >>> writer.add(rows[:300]); writer.add(rows[300:])                             # doctest: +SKIP
    >>> writer.flush()                                                             # doctest: +SKIP
    """

    def __init__(self, array: tables.EArray, n_rows: int, lock: threading.Lock, defer_bytes: int = 0,
                 crc_array: tables.EArray | None = None):
        self.array = array
        self.n_rows = n_rows
        self.lock = lock
        self.defer_bytes = defer_bytes
        self.dtype = np.dtype(array.atom.dtype)
        self.rows = int(array.chunkshape[0])
        self.parts: list[np.ndarray] = []  # rows not yet in a complete chunk
        self.n = 0
        self.done: list[Any] = []  # complete chunks not yet written: row arrays, or encoded chunks
        self.done_bytes = 0
        self.written = 0  # rows handed to done
        f = array.filters
        self.level = int(f.complevel)
        self.direct = (self.level > 0 and f.complib == "zlib" and not f.bitshuffle
                       and f.least_significant_digit is None and hasattr(array, "write_chunk"))
        self.fletcher32 = bool(f.fletcher32)
        self.shuffle = bool(f.shuffle) and self.dtype.itemsize > 1
        self.stored = 0  # rows stored in the file
        # the CRC-32 of every chunk's rows, kept beside the array ("<name>_crc"): a read checks
        # them, so that a chunk that is lost (read as fill values) or replaced by another whole
        # chunk of valid bytes (which Fletcher-32 passes, zeros included) is never drawn
        self.crc_array = crc_array
        self.crcs: list[int] = []
        if self.direct and n_rows:
            with lock:
                array.truncate(n_rows)

    def add(self, x: np.ndarray) -> None:
        if x.shape[0]:
            self.parts.append(x)
            self.n += x.shape[0]
            if self.n >= self.rows:
                self._take(self.n // self.rows * self.rows)

    def _encode(self, rows: np.ndarray) -> bytes:
        if rows.shape[0] < self.rows:  # the last, partial chunk: stored whole, padded as HDF5 pads it
            pad = np.full((self.rows - rows.shape[0],) + rows.shape[1:], self.array.atom.dflt, rows.dtype)
            rows = np.concatenate([rows, pad])
        raw = np.ascontiguousarray(rows).view(np.uint8)
        if self.shuffle:  # HDF5's shuffle: the first byte of every value, then the second, ...
            raw = np.ascontiguousarray(raw.reshape(-1, self.dtype.itemsize).T)
        chunk = zlib.compress(raw, self.level)
        if self.fletcher32:  # the last filter of the pipeline: its checksum covers the deflated bytes
            chunk += fletcher32(chunk).to_bytes(4, "little")
        return chunk

    def _take(self, n: int) -> None:
        """Move the first ``n`` waiting rows (whole chunks, or the last rows) to ``done``."""
        x = self.parts[0] if len(self.parts) == 1 else np.concatenate(self.parts)
        rows = x[:n].astype(self.dtype, copy=False)
        if self.crc_array is not None:
            self.crcs.extend(zlib.crc32(np.ascontiguousarray(rows[r:r + self.rows])) for r in range(0, n, self.rows))
        if self.direct:
            for r in range(0, n, self.rows):
                chunk = self._encode(rows[r:r + self.rows])
                self.done.append(chunk)
                self.done_bytes += len(chunk)
        else:
            self.done.append(rows)
            self.done_bytes += rows.nbytes
        self.written += n
        self.parts = [x[n:]] if n < x.shape[0] else []
        self.n = x.shape[0] - n
        if self.done_bytes >= self.defer_bytes:
            self._store()

    def _store(self) -> None:
        done, self.done, self.done_bytes = self.done, [], 0
        crcs, self.crcs = self.crcs, []
        with self.lock:
            if crcs:
                self.crc_array.append(np.asarray(crcs, dtype=np.uint32))
            if self.direct:
                for chunk in done:
                    self.array.write_chunk((self.stored,) + (0,) * (len(self.array.shape) - 1), chunk)
                    self.stored = min(self.n_rows, self.stored + self.rows)
            elif done:
                self.array.append(done[0] if len(done) == 1 else np.concatenate(done))
                self.stored = int(self.array.nrows)

    def flush(self) -> None:
        if self.n:
            self._take(self.n)
        self._store()
        if self.written != self.n_rows or self.stored != self.n_rows:  # pragma: no cover - a bug
            raise AssertionError(f"{self.array._v_pathname}: {self.stored} rows stored, expected {self.n_rows}")
