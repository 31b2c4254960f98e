"""Reading data streams of a CL recording: ``DataStreamView`` and ``DataStreamCollection``.

A data stream is an index table (``timestamp``, ``start_index``, ``end_index``) and a byte
array holding the msgpack entries end to end. cldata reads the bytes of a whole range in one
go (small reads through a block cache) and decodes a contiguous span with one msgpack
``Unpacker``. The index is read in one of two ways:

- **bisected on disk** for the first lookups by time (``stream[ts]``, ranges, windowed
  views) on an index that cldata's writer checked and marked in order
  (:mod:`cldata.format.index_order`): a few reads of one HDF5 chunk each, so the first answer
  after opening costs about the same at ten thousand entries or at a million;
- **loaded whole** into three numpy arrays and searched with ``searchsorted`` once lookups
  have read as many blocks as a quarter of the index (from then on each costs microseconds), on
  files without the mark (the CL tools' own), and whenever anything out of order, or
  pointing outside the data, is seen. The load reads blocks of rows straight into the three
  columns: one copy of the index.

Iterating a stream reads its index rows a block at a time and decodes a bounded number of
entries at a time, so memory stays at a block and a chunk of values whatever the length.

Untidy indexes
--------------
The CL format promises index rows in timestamp order, and cldata's writer keeps that
promise. The official CL simulator does not always: when an application appends quickly,
its writer is lapped by its ring buffer and writes a block of earlier rows again after
the last one. cldata reads such streams as the CL reader does, and answers lookups by
time correctly (docs/READER-TOLERANCE.md):

- **in file order**: ``len(stream)``, ``keys()``, ``values()``, ``items()`` and iteration
  of a whole stream give every index row as it is in the file, repeats included (the CL
  reader's numbers);
- **by time**: ``stream[ts]``, ``*_for_range``, ``stream[a:b]``, :meth:`~DataStreamView.read`,
  :attr:`~DataStreamView.timestamps`, windowed views (``between``) and everything built on
  them (``to_columns``, follow's replay, analyses) give each *entry* whose timestamp is in
  the range, in timestamp order: rows that repeat an earlier row exactly (same timestamp,
  same bytes) are one entry. Two rows with the same timestamp and *different* bytes are
  ambiguous: a lookup that meets that timestamp raises
  :class:`~cldata.errors.AmbiguousEntryError` naming both rows.

Reading such a stream gives one :class:`~cldata.errors.UntidyIndexWarning` per stream and
file, when cldata first sees the disorder (a lookup loads the index of an unmarked file and
checks it; iteration checks the rows it reads). A stream in order costs nothing more: the
index is checked as it is read, and lookups use it as it is.

Examples
--------
>>> import cldata
>>> rec = cldata.RecordingView(cldata.example_recording())  # doctest: +SKIP
>>> score = rec.data_streams["score"]                       # doctest: +SKIP
>>> len(score), score[1], list(score.keys_for_range(0, 3))  # doctest: +SKIP
(4, 0, [1, 2])
"""

from __future__ import annotations

import numbers
import warnings
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
import tables

from cldata.core.gc_pause import paused_gc
from cldata.core.timebase import to_window
from cldata.errors import (
    AmbiguousEntryError,
    CorruptRecordingError,
    DecodeError,
    InvalidDataError,
    UntidyIndexWarning,
    UntidyRecordingWarning,
)
from cldata.format.attributes import AttributesView, read_attributes
from cldata.format.codec import decode_span
from cldata.format.index_order import time_order_marked
from cldata.format.layout import INDEX_DTYPE, STREAM_DATA, STREAM_INDEX

__all__ = ["DataStreamView", "DataStreamCollection", "UntidyIndex", "stream_problem"]

_BLOCK_BITS = 16  # 64 KiB blocks for small reads
_BLOCK = 1 << _BLOCK_BITS
_CACHE_BLOCKS = 256  # at most 16 MiB cached per stream
_DIRECT_READ = 1 << 20  # reads this large bypass the cache
# iteration decodes at most this many bytes / entries at a time, starting small (a repr, a
# `next()` decode little) and growing: the decoded values of one chunk are what it holds
_DECODE_CHUNK_BYTES = 1 << 20
_DECODE_CHUNK_ENTRIES = 8192
_FIRST_DECODE_ENTRIES = 64
_SCAN_ROWS = 1 << 14  # index rows read at a time when a range is iterated before the index is loaded
# an index of fewer rows loads whole on first use: that costs a few hundred µs at most, no
# more than bisecting it on disk
_LAZY_MIN_ROWS = 1 << 15
_LOAD_ROWS = 1 << 16  # rows read at a time when loading a whole index (1.5 MiB)
_MIN_BLOCK_ROWS = 256  # the lazy index reads blocks of the table's chunk, at least this many rows



@dataclass(frozen=True)
class UntidyIndex:
    """What is untidy about a data stream's index (``None`` on a stream in order).

    Attributes
    ----------
    stream : str
        The stream's name.
    rows : int
        Index rows in the file.
    entries : int
        Distinct timestamps (rows that repeat an earlier row exactly are not counted).
    repeats : int
        Rows that repeat an earlier row exactly (same timestamp, same bytes).
    late : list of tuple of int
        Runs ``(first, last)`` of rows (file order, inclusive) whose timestamp is not after
        every row before them.
    ambiguous : dict
        Timestamp -> rows (file order) that share it with different bytes.

    Examples
    --------
    >>> rec.data_streams["ball"]._store.untidy          # doctest: +SKIP
    UntidyIndex(stream='ball', rows=6666, entries=6600, repeats=66, late=[(6600, 6665)], ambiguous={})
    """

    stream: str
    rows: int
    entries: int
    repeats: int
    late: list[tuple[int, int]]
    ambiguous: dict[int, list[int]]

    def describe(self) -> str:
        """The untidiness in words, with row numbers."""
        runs = ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in self.late[:5])
        more = f" and {len(self.late) - 5} more runs" if len(self.late) > 5 else ""
        late = sum(b - a + 1 for a, b in self.late)
        text = (f"{late} of its {self.rows} index rows {'is' if late == 1 else 'are'} out of timestamp order "
                f"(rows {runs}{more}); {self.repeats} repeat{'s' if self.repeats == 1 else ''} an earlier row exactly")
        if self.ambiguous:
            shown = "; ".join(f"timestamp {t}: rows {', '.join(map(str, r))}" for t, r in list(self.ambiguous.items())[:5])
            n = len(self.ambiguous)
            text += f"; {n} timestamp{'' if n == 1 else 's'} {'has' if n == 1 else 'have'} rows with different bytes ({shown})"
        return text


def _runs(rows: np.ndarray) -> list[tuple[int, int]]:
    if not rows.size:
        return []
    breaks = np.flatnonzero(np.diff(rows) != 1)
    firsts = np.concatenate([[rows[0]], rows[breaks + 1]])
    lasts = np.concatenate([rows[breaks], [rows[-1]]])
    return [(int(a), int(b)) for a, b in zip(firsts, lasts)]


_WARNED: set[tuple[str, str]] = set()


def _warn_once(source: str, stream: str, untidy: UntidyIndex) -> None:
    # once per stream and file in a process: a notebook re-opening a file is not told again
    key = (source, stream)
    if key in _WARNED:
        return
    _WARNED.add(key)
    warnings.warn(UntidyIndexWarning(
        f"data stream {stream!r} of {source}: {untidy.describe()}. The CL simulator writes such indexes when its "
        "writer is lapped. cldata reads it as the CL reader does: len(), keys(), values(), items() give every row "
        "in file order; lookups by time (stream[ts], *_for_range, between, timestamps) give each entry once, "
        "in timestamp order" + (", and raise AmbiguousEntryError at the ambiguous timestamps" if untidy.ambiguous
                                else "") + ". `cldata normalize` writes a tidy copy."), stacklevel=4)


def stream_problem(group: tables.Group) -> str | None:
    """Why ``group`` cannot be read as a CL data stream (``None`` if it can).

    A data stream is a group holding an ``index`` table of integer ``timestamp``,
    ``start_index`` and ``end_index`` columns and a 1-d uint8 ``data`` array; the reader
    leaves a stream out (with a warning) when this says why it cannot read it.

    Examples
    --------
    >>> stream_problem(rec.file.root.data_stream.score)       # doctest: +SKIP
    >>> stream_problem(rec.file.root.data_stream.broken)      # doctest: +SKIP
    "has no 'data' node (a CL data stream is a group holding an 'index' table and a 'data' byte array)"
    """
    for name in (STREAM_INDEX, STREAM_DATA):
        if name not in group:
            return (f"has no {name!r} node (a CL data stream is a group holding an 'index' table and a "
                    "'data' byte array)")
    index, data = group._f_get_child(STREAM_INDEX), group._f_get_child(STREAM_DATA)
    if (not isinstance(index, tables.Table)
            or set(index.colnames) != set(INDEX_DTYPE.names)
            or any(index.coldtypes.get(c) is None or index.coldtypes[c].kind not in "iu"
                   or index.coldtypes[c].shape != () for c in INDEX_DTYPE.names)):
        return (f"has an index that is not a data-stream index table (columns "
                f"{getattr(index, 'coldtypes', type(index).__name__)}, expected integer {list(INDEX_DTYPE.names)})")
    if not isinstance(data, tables.Array) or data.atom.dtype != np.uint8 or data.ndim != 1:
        return "has a 'data' node that is not a 1-d uint8 array of entry bytes"
    return None




class _OutOfOrder(Exception):
    """Inside :class:`_LazyIndex`: a row read is out of time order, points outside the data, or
    could not be read; the store loads the whole index instead (which says what is wrong)."""


def _read_checked(node: tables.Table, a: int, b: int, nbytes: int) -> np.ndarray:
    """Rows ``a .. b-1`` of an index table of the standard dtype as a (3, b-a) int64 array
    (timestamps, starts, ends), raising :class:`_OutOfOrder` unless the timestamps strictly
    increase and every byte range lies inside the ``nbytes`` of data."""
    try:
        rows = node.read(a, b)
    except tables.HDF5ExtError:
        raise _OutOfOrder from None  # (the whole load reports it as CorruptRecordingError)
    if rows.shape != (b - a,):
        raise _OutOfOrder
    cols = rows.view("<i8").reshape(-1, 3).T  # offsets above 2**63 turn negative: outside
    ts, starts, ends = cols
    if (ts.size > 1 and bool((ts[1:] <= ts[:-1]).any())) or bool(
            ((starts < 0) | (ends < starts) | (ends > nbytes)).any()):
        raise _OutOfOrder
    return cols


class _LazyIndex:
    """Lookups in an index known to be in time order, from blocks read on demand.

    The index table is read in blocks of its own HDF5 chunk (reading one row reads its chunk:
    a whole block costs as much as a row, about 15 µs). A lookup narrows the rows it may be
    at with the blocks already read, then reads blocks in between — by interpolating the
    timestamps at either end, every second step by halving, so a lookup of a stream whose
    timestamps are about regular needs one or two reads and any stream at most two per
    halving — until one block answers. The first lookup starts from the first block (and, with
    nothing read after it, extrapolates its rows per frame). Blocks stay cached; the store loads the whole index once the
    blocks read have paid for it (:meth:`spent`).

    Every row read is checked: timestamps strictly increasing within a block and between
    the blocks read, byte ranges inside the data. Anything else raises :class:`_OutOfOrder`.
    """

    def __init__(self, node: tables.Table, nbytes: int):
        self.node = node
        self.n = int(node.nrows)
        chunk = int(node.chunkshape[0]) if node.chunkshape else 4096
        self.block = min(max(chunk, _MIN_BLOCK_ROWS), 1 << 16)
        self.nblocks = -(-self.n // self.block)
        self.nbytes = nbytes
        # the blocks read, by block number (ascending), with their first and last timestamps
        self.keys: list[int] = []
        self.firsts: list[int] = []
        self.lasts: list[int] = []
        self.cols: dict[int, np.ndarray] = {}  # block -> (3, rows) int64: timestamps, starts, ends
        self.reads = 0  # blocks' worth of rows read for lookups

    def spent(self) -> bool:
        """Whether lookups have read as many blocks as a quarter of the index. One block read
        alone costs what reading a few hundred in bulk does, so by then they have spent about
        what loading the whole index costs — and lookups after it cost microseconds."""
        return self.reads >= max(4, self.nblocks // 4)

    def read_rows(self, a: int, b: int) -> np.ndarray:
        """Rows ``a .. b-1`` as a (3, b-a) int64 array, checked (not cached)."""
        return _read_checked(self.node, a, b, self.nbytes)

    def _ts_at(self, row: int) -> int | None:
        cols = self.cols.get(row // self.block)
        return None if cols is None else int(cols[0][row % self.block])

    def _read_block(self, k: int) -> None:
        a = k * self.block
        cols = np.ascontiguousarray(self.read_rows(a, min(self.n, a + self.block)))
        self.reads += 1
        first, last = int(cols[0][0]), int(cols[0][-1])
        p = bisect_left(self.keys, k)
        if (p and self.lasts[p - 1] >= first) or (p < len(self.keys) and self.firsts[p] <= last):
            raise _OutOfOrder
        self.keys.insert(p, k)
        self.firsts.insert(p, first)
        self.lasts.insert(p, last)
        self.cols[k] = cols

    def find(self, t: int, right: bool = False) -> int:
        """The first row whose timestamp is ``>= t`` (``> t`` with ``right``), as ``np.searchsorted``."""
        if not self.n:
            return 0
        if not self.keys:
            self._read_block(0)
        side = "right" if right else "left"
        cut = bisect_right if right else bisect_left
        halve = False
        while True:
            # the blocks read bracket the answer: after every row of block p-1 (unless it is
            # inside it) and at or before the first row of block p
            p = cut(self.firsts, t)
            lo, hi, t_lo, t_hi, step = 0, self.n, None, None, 0.0
            if p:
                k = self.keys[p - 1]
                ts = self.cols[k][0]
                off = int(np.searchsorted(ts, t, side))
                if off < ts.size:
                    return k * self.block + off
                lo, t_lo = k * self.block + ts.size, int(ts[-1])
                step = (t_lo - int(ts[0])) / max(1, ts.size - 1)  # frames per row there
            if p < len(self.keys):
                hi, t_hi = self.keys[p] * self.block, self.firsts[p]
            if lo >= hi:
                return lo
            if halve or t_lo is None or (t_hi is not None and t_hi <= t_lo) or (t_hi is None and step <= 0):
                row = (lo + hi) // 2
            elif t_hi is None:  # nothing read after: extrapolate the rows per frame of the block before
                row = lo + int(min(float(hi - lo), (t - t_lo) / step))
            else:
                row = lo + int((hi - lo) * min(1.0, max(0.0, (t - t_lo) / (t_hi - t_lo))))
            halve = not halve
            self._read_block(min(max(row, lo), hi - 1) // self.block)

    def span(self, i: int, j: int) -> np.ndarray:
        """Rows ``i .. j-1`` as a (3, j-i) int64 array: from the blocks read, or read and checked
        against them."""
        k0, k1 = i // self.block, (j - 1) // self.block
        if all(k in self.cols for k in range(k0, k1 + 1)):
            if k0 == k1:
                base = k0 * self.block
                return self.cols[k0][:, i - base : j - base]
            whole = np.concatenate([self.cols[k] for k in range(k0, k1 + 1)], axis=1)
            base = k0 * self.block
            return whole[:, i - base : j - base]
        cols = self.read_rows(i, j)
        self.reads += -(-(j - i) // self.block)
        before, after = (self._ts_at(i - 1) if i else None), (self._ts_at(j) if j < self.n else None)
        if (before is not None and before >= cols[0][0]) or (after is not None and after <= cols[0][-1]):
            raise _OutOfOrder
        return cols


class _StreamStore:
    """One stream's index — bisected on disk, or loaded whole — and a cache of its data bytes.

    Shared by every view of the same stream, so a time-windowed view costs nothing more.

    Positions: lookups by time work in *entries* (by time, each once: see the module doc),
    iteration of a whole stream in *rows* (file order); the two are the same on an index in
    order. Until the index is loaded (:meth:`arrays`), lookups on an index marked in order by
    cldata's writer (:mod:`cldata.format.index_order`) bisect it on disk (:class:`_LazyIndex`),
    and iteration reads its rows in blocks; whatever is out of order or outside the data, once
    seen, loads the whole index, which says so and answers from then on.
    """

    def __init__(self, group: tables.Group, source: str, notes: Callable[[str, str], None] | None = None):
        self.source = source
        self.notes = notes  # the reader's warn-once hook, for rows that point outside the data
        problem = stream_problem(group)
        if problem is not None:
            raise CorruptRecordingError(f"data stream {group._v_pathname} in {source} {problem}")
        self.index_node = group._f_get_child(STREAM_INDEX)
        self.data_node = group._f_get_child(STREAM_DATA)
        self.nrows = int(self.index_node.nrows)
        self._bad: tuple[np.ndarray, np.ndarray] | None = None  # rows outside the data: (entries, file order)
        self._raw: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # the rows in file order
        self._entries: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # by time, repeats dropped
        self._ambiguous: np.ndarray = np.empty(0, dtype=np.int64)  # timestamps of rows that disagree
        self.tidy = True  # (known once the index is loaded)
        self.untidy: UntidyIndex | None = None
        self._lazy: _LazyIndex | None = None
        self._lazy_decided = False
        self._lent = False  # positions found by the lazy index were handed out
        self.epoch = 0  # moves (once) when a loaded index voids the positions the lazy one gave
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._nbytes = int(self.data_node.nrows)
        self._name = group._v_name

    # -- index ---------------------------------------------------------------------------

    def arrays(self, entries: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(timestamps, starts, ends)``: of the entries in time order (``entries``), or of the
        index rows in file order. The same arrays for a stream in order. Loads the index."""
        if self._raw is None:
            self._load_index()
        return self._entries if entries else self._raw  # type: ignore[return-value]

    def _lazy_index(self) -> _LazyIndex | None:
        """The on-disk index for lookups, while the index is not loaded and may be bisected."""
        if self._raw is not None:
            return None
        lazy = self._lazy
        if lazy is None:
            if self._lazy_decided:
                return None
            self._lazy_decided = True
            node = self.index_node
            if self.nrows < _LAZY_MIN_ROWS or node.dtype != INDEX_DTYPE or not time_order_marked(node):
                return None
            lazy = self._lazy = _LazyIndex(node, self._nbytes)
        elif lazy.spent():
            self._load_index()  # many lookups: the loaded index answers each in microseconds
            return None
        return lazy

    def _fall_back(self) -> None:
        """The lazy index met something out of order (or unreadable): load the whole index."""
        self._lazy = None
        self._load_index()

    def size(self, entries: bool = True) -> int:
        """How many entries (or index rows) there are."""
        if not entries or self._lazy_index() is not None:
            return self.nrows  # (an index bisected on disk is in order: one entry per row)
        return int(self.arrays()[0].size)

    def find(self, t: int, right: bool = False) -> int:
        """The position of the first entry at or after ``t`` (after ``t`` with ``right``)."""
        if self._entries is not None:
            return int(np.searchsorted(self._entries[0], t, "right" if right else "left"))
        lazy = self._lazy_index()
        if lazy is not None:
            try:
                i = lazy.find(t, right)
            except _OutOfOrder:
                self._fall_back()
            else:
                self._lent = True
                return i
        return int(np.searchsorted(self.arrays()[0], t, "right" if right else "left"))

    def span(self, i: int, j: int, entries: bool = True, *, scan: bool = False,
             after: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(timestamps, starts, ends)`` of entries ``i .. j-1`` (index rows, with ``entries=False``).

        Before the index is loaded, the rows are read from disk; ``scan`` says a range is being
        iterated (read in order, block after block: nothing cached, nothing counted towards
        loading the index), ``after`` the timestamp of the row before ``i`` when known. Rows in
        file order can be read from any index; entries only from one bisected on disk. Rows out
        of order or outside the data load the whole index (said once, as it says it).
        """
        if j <= i:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, empty
        if self._raw is None and (scan or j - i <= max(_LAZY_MIN_ROWS, self.nrows // 4)):
            lazy = self._lazy_index() if entries else None
            if lazy is not None or (not entries and scan):
                try:
                    if scan:
                        if self.index_node.dtype != INDEX_DTYPE:
                            raise _OutOfOrder  # (another column layout: loaded whole, converted)
                        cols = _read_checked(self.index_node, i, j, self._nbytes)
                        if after is not None and after >= cols[0][0]:
                            raise _OutOfOrder
                    else:
                        cols = lazy.span(i, j)  # type: ignore[union-attr]
                except _OutOfOrder:
                    self._fall_back()
                else:
                    if entries:
                        self._lent = True
                    return cols[0], cols[1], cols[2]
        ts, starts, ends = self.arrays(entries)
        return ts[i:j], starts[i:j], ends[i:j]

    def check_unambiguous(self, i: int, j: int) -> None:
        """Raise :class:`AmbiguousEntryError` if entries ``i .. j-1`` meet an ambiguous timestamp."""
        if not self._ambiguous.size or j <= i:
            return
        ts = self.arrays()[0]
        a, b = np.searchsorted(self._ambiguous, [ts[i], ts[j - 1]], side="left")
        if b < self._ambiguous.size and self._ambiguous[b] == ts[j - 1]:
            b += 1
        if b > a:
            t = int(self._ambiguous[a])
            rows = self.untidy.ambiguous[t] if self.untidy is not None else []
            raise AmbiguousEntryError(
                f"data stream {self._name!r} in {self.source} has {len(rows)} index rows at timestamp {t} "
                f"(rows {', '.join(map(str, rows))}) whose entries differ: cldata cannot tell which one is the "
                "entry at that time. Iterate the stream (items(): every row in file order) to see them all; "
                "`cldata check` lists every such timestamp"
            )

    def _read_index(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        node = self.index_node
        try:
            if node.dtype == INDEX_DTYPE:
                # one copy: blocks of rows transposed into the three columns as they are read
                # (offsets above 2**63 turn negative and fail the bounds check, as they should)
                cols = np.empty((3, self.nrows), dtype=np.int64)
                for a in range(0, self.nrows, _LOAD_ROWS):
                    b = min(self.nrows, a + _LOAD_ROWS)
                    cols[:, a:b] = node.read(a, b).view("<i8").reshape(-1, 3).T
                return cols[0], cols[1], cols[2]
            rows = node.read()  # the same columns in another order or byte order
        except tables.HDF5ExtError as exc:
            raise CorruptRecordingError(f"cannot read {node._v_pathname} in {self.source}: {exc}") from None
        return (rows["timestamp"].astype(np.int64), rows["start_index"].astype(np.uint64).astype(np.int64),
                rows["end_index"].astype(np.uint64).astype(np.int64))

    def _load_index(self) -> None:
        self._lazy = None
        self._lazy_decided = True
        ts, starts, ends = self._read_index()
        path = self.index_node._v_pathname
        self._raw = self._entries = (ts, starts, ends)
        bad = self._outside(starts, ends) if ts.size else None
        if ts.size > 1 and (ts[1:] <= ts[:-1]).any():  # (one pass, as the check it replaces)
            self._untidy(ts, starts, ends, bad)
            if self._lent:  # positions found on disk counted rows, not entries
                self.epoch += 1
        if bad is not None:
            # rows pointing outside the data (a truncated file): their timestamps stay readable,
            # reading their entries raises (check_readable); said once
            by_time = self._outside(*self._entries[1:])
            self._bad = (by_time if by_time is not None else np.empty(0, dtype=np.intp), bad)
            shown = ", ".join(str(int(r)) for r in bad[:5]) + (", ..." if bad.size > 5 else "")
            message = (f"data stream {self._name!r}: {bad.size} index rows (rows {shown}) point at bytes outside the "
                       f"{self._nbytes} bytes of entry data (a truncated file?); cldata lists their timestamps, and "
                       "reading their entries raises CorruptRecordingError")
            if self.notes is not None:
                self.notes(f"stream-bounds/{path}", message)
            else:
                warnings.warn(f"{self.source}: {message}", UntidyRecordingWarning, stacklevel=3)

    def _outside(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray | None:
        """Positions of rows whose bytes are not within the data (``None`` if there are none)."""
        bad = np.flatnonzero((starts < 0) | (ends < starts) | (ends > self._nbytes))
        return bad if bad.size else None

    def check_readable(self, i: int, j: int, entries: bool = True) -> None:
        """Raise :class:`CorruptRecordingError` if entries ``i .. j-1`` (or index rows, with
        ``entries=False``) include one whose bytes lie outside the data."""
        if self._bad is None or j <= i:
            return
        bad = self._bad[0 if entries else 1]
        k = int(np.searchsorted(bad, i))
        if k < bad.size and bad[k] < j:
            ts, starts, ends = self.arrays(entries)
            r = int(bad[k])
            raise CorruptRecordingError(
                f"data stream {self._name!r} in {self.source}: the entry at timestamp {int(ts[r])} points at bytes "
                f"[{int(starts[r])}, {int(ends[r])}) outside the {self._nbytes} bytes of entry data (a truncated "
                "file?); its timestamp is listed but its value cannot be read. Read the entries around it with "
                "a time range that leaves it out; `cldata check` lists every such row"
            )

    def _untidy(self, ts: np.ndarray, starts: np.ndarray, ends: np.ndarray, bad: np.ndarray | None) -> None:
        """Index rows out of timestamp order: the entries by time, exact repeats dropped."""
        order = np.argsort(ts, kind="stable")  # equal timestamps keep file order: the first row wins
        sts, sst, sen = ts[order], starts[order], ends[order]
        readable = np.ones(ts.size, dtype=bool)
        if bad is not None:
            readable[bad] = False
            readable = readable[order]
        keep = np.ones(ts.size, dtype=bool)
        ambiguous: dict[int, list[int]] = {}
        repeats = 0
        new_ts = np.concatenate([[True], sts[1:] != sts[:-1]])
        group_first = np.maximum.accumulate(np.where(new_ts, np.arange(ts.size), 0))
        for k in np.flatnonzero(~new_ts):  # rows sharing the timestamp of the row before
            first = int(group_first[k])
            same = (sst[k], sen[k]) == (sst[first], sen[first]) or (
                readable[k] and readable[first] and sen[k] - sst[k] == sen[first] - sst[first]
                and self.read_bytes(int(sst[k]), int(sen[k])) == self.read_bytes(int(sst[first]), int(sen[first])))
            keep[k] = False
            if same:
                repeats += 1
            else:
                ambiguous.setdefault(int(sts[k]), [int(order[first])]).append(int(order[k]))
        self._entries = (sts[keep], sst[keep], sen[keep])
        self._ambiguous = np.array(sorted(ambiguous), dtype=np.int64)
        self.tidy = False
        running = np.maximum.accumulate(ts)
        late = np.flatnonzero(ts[1:] <= running[:-1]) + 1  # rows not after every row before them
        self.untidy = UntidyIndex(self._name, int(ts.size), int(keep.sum()), repeats, _runs(late), ambiguous)
        _warn_once(self.source, self._name, self.untidy)

    # -- bytes ---------------------------------------------------------------------------

    # -- bytes ---------------------------------------------------------------------------

    def read_bytes(self, a: int, b: int, direct: bool = False) -> bytes:
        """Bytes ``[a, b)`` of the data: small reads through the block cache; large ones, and
        ``direct`` ones (iteration: read once, in order), straight from the file."""
        if b <= a:
            return b""
        if direct or b - a >= _DIRECT_READ:
            return self._read_node(a, b)
        first, last = a >> _BLOCK_BITS, (b - 1) >> _BLOCK_BITS
        if first == last:
            base = first << _BLOCK_BITS
            return self._block(first)[a - base : b - base]
        parts = [self._block(k) for k in range(first, last + 1)]
        base = first << _BLOCK_BITS
        return b"".join(parts)[a - base : b - base]

    def _block(self, k: int) -> bytes:
        block = self._blocks.get(k)
        if block is None:
            start = k << _BLOCK_BITS
            block = self._read_node(start, min(start + _BLOCK, self._nbytes))
            self._blocks[k] = block
            if len(self._blocks) > _CACHE_BLOCKS:
                self._blocks.popitem(last=False)
        else:
            self._blocks.move_to_end(k)
        return block

    def _read_node(self, a: int, b: int) -> bytes:
        try:
            return self.data_node.read(a, b).tobytes()
        except tables.HDF5ExtError as exc:
            raise CorruptRecordingError(
                f"cannot read bytes [{a}, {b}) of {self.data_node._v_pathname} in {self.source}: {exc}"
            ) from None

    def decode_rows(self, i: int, j: int, entries: bool = True,
                    cols: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                    direct: bool = False) -> list[Any]:
        """Decode entries ``i .. j-1`` (or index rows, with ``entries=False``): one read and one
        msgpack pass. ``cols`` are their ``(timestamps, starts, ends)`` when the caller has them."""
        if j <= i:
            return []
        ts, starts, ends = cols if cols is not None else self.span(i, j, entries)
        self.check_readable(i, j, entries)
        if j - i > 1 and not np.array_equal(starts[1:], ends[:-1]):
            # not laid out end to end (neither CL nor cldata writes this): one at a time
            return [v for r in range(j - i) for v in self._decode_one_span(ts, starts, ends, r, r + 1)]
        return self._decode_one_span(ts, starts, ends, 0, j - i, direct)

    def _decode_one_span(self, ts: np.ndarray, starts: np.ndarray, ends: np.ndarray, i: int, k: int,
                         direct: bool = False) -> list[Any]:
        data = self.read_bytes(int(starts[i]), int(ends[k - 1]), direct)
        try:
            if k - i > 1000:
                with paused_gc():
                    return decode_span(data, k - i)
            return decode_span(data, k - i)
        except DecodeError as exc:
            where = f"timestamp {ts[i]}" if k - i == 1 else f"timestamps {ts[i]}..{ts[k - 1]}"
            raise type(exc)(f"{self.index_node._v_parent._v_pathname} in {self.source}, {where}: {exc}") from None


def _stream_attributes(group: tables.Group, source: str, notes: Callable[[str, str], None] | None) -> dict[str, Any]:
    attrs = read_attributes(group, source)
    if not attrs and notes is not None:
        # every CL writer gives a stream its ``name`` and ``application``; none at all is a
        # stream written by other means, or attribute messages HDF5 could not list
        notes(f"stream-attributes/{group._v_pathname}",
              f"data stream {group._v_pathname} has no attributes that HDF5 can list (CL writes 'name' and "
              "'application': it was written by other means, or its attribute messages are damaged); cldata "
              f"names it {group._v_name!r}, after its group, with no attributes")
    return attrs




class _RangeView:
    """Base of the keys/values/items views: a lazy range of entries of one stream (or of its
    index rows in file order, for the whole of a stream: see the module doc)."""

    __slots__ = ("_store", "_i", "_j", "_entries", "_epoch")

    def __init__(self, store: _StreamStore, i: int, j: int, entries: bool = True):
        self._store, self._i, self._j, self._entries = store, i, j, entries
        self._epoch = store.epoch
        if entries:
            store.check_unambiguous(i, j)

    def __len__(self) -> int:
        return self._j - self._i

    def _check(self) -> None:
        if self._entries and self._store.epoch != self._epoch:
            # only a file whose index cldata's writer marked in order and another tool then
            # changed in place gets here: the positions of this range were found before that showed
            raise CorruptRecordingError(
                f"data stream {self._store._name!r} in {self._store.source}: its index is marked as written in "
                "timestamp order by cldata but is not (the file was changed in place after cldata wrote it); the "
                "range was found before that showed. Ask for it again: cldata now reads the index as untidy"
            )

    def _timestamps(self) -> np.ndarray:
        self._check()
        ts = self._store.span(self._i, self._j, self._entries)[0]
        self._check()
        return ts

    def _pairs(self) -> Iterator[tuple[np.ndarray, list[Any]]]:
        """``(timestamps, values)`` of the range, chunk after chunk: rows read a block at a time
        (until the index is loaded), decoded a bounded number of entries and bytes at a time."""
        store, i, j, entries = self._store, self._i, self._j, self._entries
        # (a long range starts with a small chunk: a repr or a `next()` decodes little)
        want = _FIRST_DECODE_ENTRIES if j - i > _DECODE_CHUNK_ENTRIES else _DECODE_CHUNK_ENTRIES
        after: int | None = None
        while i < j:
            self._check()
            k = min(j, i + _SCAN_ROWS)
            ts, starts, ends = store.span(i, k, entries, scan=True, after=after)
            self._check()
            after = int(ts[-1])
            if k - i <= want and 0 <= int(ends[-1]) - int(starts[0]) < _BLOCK:
                # a short range laid out end to end (a range query's): one decode, through the cache
                yield ts, store.decode_rows(i, k, entries, (ts, starts, ends))
                i = k
                continue
            sizes = np.cumsum(ends - starts)
            p = 0
            while p < k - i:
                q = min(k - i, p + want)
                # at most _DECODE_CHUNK_BYTES (one entry at least)
                base = int(sizes[p - 1]) if p else 0
                q = max(p + 1, min(q, int(np.searchsorted(sizes[p:q], base + _DECODE_CHUNK_BYTES, "right")) + p))
                # (chunks of a block or more are read straight, once: iteration; smaller ones, a
                # range query's, through the cache)
                direct = int(sizes[q - 1]) - base >= _BLOCK
                values = store.decode_rows(i + p, i + q, entries, (ts[p:q], starts[p:q], ends[p:q]), direct)
                yield ts[p:q], values
                p = q
                want = min(_DECODE_CHUNK_ENTRIES, want * 4)
            i = k

    def __repr__(self) -> str:
        items = list(self) if len(self) <= 20 else [*list(_take(iter(self), 20)), "..."]
        return f"{type(self).__name__}({items})"


def _take(it: Iterator[Any], n: int) -> Iterator[Any]:
    for _ in range(n):
        try:
            yield next(it)
        except StopIteration:
            return


class DataStreamKeysView(_RangeView):
    """The timestamps of a range of entries (frames, as Python ints when iterated)."""

    __slots__ = ()

    def __iter__(self) -> Iterator[int]:
        return iter(self._timestamps().tolist())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._timestamps().astype(dtype) if dtype is not None else self._timestamps().copy()

    def to_numpy(self) -> np.ndarray:
        """The timestamps as an int64 array."""
        return self._timestamps().copy()


class DataStreamValuesView(_RangeView):
    """The decoded values of a range of entries, read lazily in chunks."""

    __slots__ = ()

    def __iter__(self) -> Iterator[Any]:
        # (chained in C: no Python frame resumed per entry)
        return chain.from_iterable(values for _ts, values in self._pairs())


class DataStreamItemsView(_RangeView):
    """``(timestamp, value)`` pairs of a range of entries, read lazily in chunks."""

    __slots__ = ()

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        return chain.from_iterable(zip(ts.tolist(), values) for ts, values in self._pairs())


class DataStreamView:
    """Read-only access to one data stream, optionally restricted to a time window.

    The CL surface: ``len(stream)``, ``keys()``, ``values()``, ``items()``, ``stream[ts]``
    (``KeyError`` if no entry has that timestamp), ``stream[a:b]`` (the values in
    ``[a, b)``), ``keys_for_range / values_for_range / items_for_range(a, b)`` (``b``
    exclusive, ``None`` for open ends) and ``attributes`` (``name``, ``application``).

    Beyond CL: :attr:`timestamps` as a numpy array, :meth:`read` for bulk decoding,
    :meth:`to_columns` / :meth:`to_dataframe` for entries that are dicts of scalars, and
    :meth:`between` for a windowed view. Times are frames (int) or time quantities.

    Examples
    --------
    >>> rec = cldata.RecordingView(path)                       # doctest: +SKIP
    >>> ball = rec.data_streams["ball_position"]               # doctest: +SKIP
    >>> ball.timestamps[:3]                                    # doctest: +SKIP
    array([ 5,  8, 11])
    >>> ball.to_dataframe().head(2)                            # doctest: +SKIP
               x      y    hit
    timestamp
    5        0.0  200.0   True
    8        0.5  199.0  False
    """

    def __init__(
        self,
        group: tables.Group,
        frames_per_second: float,
        *,
        source: str = "",
        window: tuple[Any, Any] | None = None,
        _store: _StreamStore | None = None,
        _attributes: AttributesView | None = None,
        _name: str | None = None,
        notes: Callable[[str, str], None] | None = None,
    ):
        self._fps = frames_per_second
        self._store = _store if _store is not None else _StreamStore(group, source, notes)
        self.attributes = (_attributes if _attributes is not None
                           else AttributesView(_stream_attributes(group, source, notes)))
        self.name: str = _name if _name is not None else str(self.attributes.get("name", group._v_name))
        self._window = to_window(*(window or (None, None)), frames_per_second)
        self._bounds: tuple[int, int, int] | None = None  # (store epoch, first, stop)

    # -- positions -----------------------------------------------------------------------


    # -- positions -----------------------------------------------------------------------

    def _stable(self, fn: Callable[[], Any]) -> Any:
        """``fn()``, asked again if the positions it used were voided meanwhile: a loaded index
        found out of order after lookups on disk (``_StreamStore.epoch`` moves once at most)."""
        if self._store._raw is not None:  # (the index is loaded: positions are final)
            return fn()
        while True:
            epoch = self._store.epoch
            try:
                result = fn()
            except Exception:
                if self._store.epoch != epoch:
                    continue
                raise
            if self._store.epoch == epoch:
                return result

    def _rows(self) -> tuple[int, int]:
        store = self._store
        if self._bounds is None or self._bounds[0] != store.epoch:
            def bounds() -> tuple[int, int]:
                a, b = self._window
                lo = 0 if a is None else store.find(a)
                hi = store.size() if b is None else store.find(b)
                return lo, max(lo, hi)

            lo, hi = self._stable(bounds)
            self._bounds = (store.epoch, lo, hi)
        return self._bounds[1], self._bounds[2]

    def _range_rows(self, start: Any, stop: Any) -> tuple[int, int]:
        a, b = to_window(start, stop, self._fps)

        def rows() -> tuple[int, int]:
            lo, hi = self._rows()
            i = lo if a is None else max(lo, self._store.find(a))
            j = hi if b is None else min(hi, self._store.find(b))
            return i, max(i, j)

        return self._stable(rows)

    @property
    def window(self) -> tuple[int | None, int | None]:
        """The ``[start, stop)`` frame window this view is restricted to (``None`` = open)."""
        return self._window

    def between(self, start: Any = None, stop: Any = None) -> DataStreamView:
        """A view of the entries in ``[start, stop)``, within this view's own window.

        Examples
        --------
        >>> first_tenth = ball.between(0, 0.1 * pq.s)          # doctest: +SKIP
        """
        a, b = to_window(start, stop, self._fps)
        wa, wb = self._window
        a = wa if a is None else (a if wa is None else max(a, wa))
        b = wb if b is None else (b if wb is None else min(b, wb))
        if a is not None and b is not None and b < a:
            b = a
        return DataStreamView(
            None,  # type: ignore[arg-type]
            self._fps,
            window=(a, b),
            _store=self._store,
            _attributes=self.attributes,
            _name=self.name,
        )


    # -- CL surface ----------------------------------------------------------------------

    def _all(self) -> tuple[int, int, bool]:
        # the CL surface of a whole stream is its index rows in file order (the CL reader's
        # numbers, repeats included; on an index in order, its entries): read without loading
        # the index. Of a windowed view: the entries in the window, by time
        if self._window == (None, None):
            return 0, self._store.nrows, False
        return (*self._rows(), True)

    def __len__(self) -> int:
        lo, hi, _ = self._all()
        return hi - lo

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        return iter(self.items())

    def keys(self) -> DataStreamKeysView:
        """All timestamps (frames) in the view (of a whole untidy stream: every index row, in file order)."""
        return DataStreamKeysView(self._store, *self._all())

    def values(self) -> DataStreamValuesView:
        """All decoded values in the view, read lazily (of a whole untidy stream: every index row, in file order)."""
        return DataStreamValuesView(self._store, *self._all())

    def items(self) -> DataStreamItemsView:
        """All ``(timestamp, value)`` pairs in the view, read lazily (of a whole untidy stream: every index
        row, in file order)."""
        return DataStreamItemsView(self._store, *self._all())

    @property
    def untidy(self) -> UntidyIndex | None:
        """What is out of order in this stream's index (``None`` when it is in order). Loads the index."""
        self._store.arrays()
        return self._store.untidy

    def keys_for_range(self, start: Any, stop: Any) -> DataStreamKeysView:
        """Timestamps in ``[start, stop)``."""
        return self._stable(lambda: DataStreamKeysView(self._store, *self._range_rows(start, stop)))

    def values_for_range(self, start: Any, stop: Any) -> DataStreamValuesView:
        """Values of the entries in ``[start, stop)``."""
        return self._stable(lambda: DataStreamValuesView(self._store, *self._range_rows(start, stop)))

    def items_for_range(self, start: Any, stop: Any) -> DataStreamItemsView:
        """``(timestamp, value)`` pairs of the entries in ``[start, stop)``."""
        return self._stable(lambda: DataStreamItemsView(self._store, *self._range_rows(start, stop)))

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice):
            if key.step is not None:
                raise TypeError("data-stream slices take no step: use stream[start:stop]")
            return self.values_for_range(key.start, key.stop)
        if isinstance(key, (numbers.Integral, np.integer)) and not isinstance(key, (bool, np.bool_)):
            if self._store._raw is not None:
                return self._entry(int(key))
            return self._stable(lambda: self._entry(int(key)))
        raise TypeError(f"data streams are indexed by an int timestamp or a slice, not {type(key).__name__}")

    def _entry(self, key: int) -> Any:
        lo, hi = self._rows()
        store = self._store
        if store._raw is not None:  # (the index is loaded: the shortest path, for warm lookups)
            ts, starts, ends = store._entries  # type: ignore[misc]
            i = int(np.searchsorted(ts, key, side="left"))
            if i < lo or i >= hi or ts[i] != key:
                raise KeyError(key)
            store.check_unambiguous(i, i + 1)
            store.check_readable(i, i + 1)
            return store._decode_one_span(ts, starts, ends, i, i + 1)[0]
        i = store.find(key)
        if i < lo or i >= hi:
            raise KeyError(key)
        cols = store.span(i, i + 1)
        if cols[0][0] != key:
            raise KeyError(key)
        store.check_unambiguous(i, i + 1)
        return store.decode_rows(i, i + 1, cols=cols)[0]

    def __contains__(self, key: Any) -> bool:
        try:
            self[key]
        except (KeyError, TypeError):
            return False
        return True

    # -- beyond CL -----------------------------------------------------------------------

    @property
    def timestamps(self) -> np.ndarray:
        """The timestamps (frames) of every entry in the view, as an int64 array, in time order
        (a row that repeats another exactly is one entry)."""
        return self._stable(lambda: self._store.span(*self._rows())[0].copy())

    def read(self, start: Any = None, stop: Any = None) -> tuple[np.ndarray, list[Any]]:
        """Decode every entry in ``[start, stop)`` at once: ``(timestamps, values)``.

        Examples
        --------
        >>> ts, values = ball.read(0, 100)                     # doctest: +SKIP
        """
        def read() -> tuple[np.ndarray, list[Any]]:
            i, j = self._range_rows(start, stop)
            self._store.check_unambiguous(i, j)
            cols = self._store.span(i, j)
            return cols[0].copy(), self._store.decode_rows(i, j, cols=cols)

        return self._stable(read)

    def to_columns(self, start: Any = None, stop: Any = None) -> dict[str, np.ndarray]:
        """Entries that are dicts of scalars, as ``{"timestamp": array, key: array, ...}``.

        Keys missing from some entries are filled with ``None`` (the column then has
        dtype object).

        Raises
        ------
        cldata.errors.InvalidDataError
            If an entry is not a dict, or holds a list, dict or array.
        """
        ts, values = self.read(start, stop)
        keys: dict[Any, None] = {}
        for t, v in zip(ts.tolist(), values):
            if not isinstance(v, dict):
                raise InvalidDataError(
                    f"entry at timestamp {t} of stream {self.name!r} is a {type(v).__name__}, "
                    "not a dict of scalars; use read() or items() for such streams"
                )
            for k, x in v.items():
                if isinstance(x, (dict, list, tuple, np.ndarray)) and not (isinstance(x, np.ndarray) and x.ndim == 0):
                    raise InvalidDataError(
                        f"entry at timestamp {t} of stream {self.name!r} holds a {type(x).__name__} "
                        f"under {k!r}; to_columns() needs dicts of scalars"
                    )
                keys.setdefault(k, None)
        columns = {"timestamp": ts}
        for k in keys:
            column = [v.get(k) for v in values]
            name = k if isinstance(k, str) else str(k)
            columns[name] = np.array(column, dtype=object) if any(c is None for c in column) else np.array(column)
        return columns

    def to_dataframe(self, start: Any = None, stop: Any = None):
        """The :meth:`to_columns` table as a pandas DataFrame indexed by timestamp.

        Needs pandas (``pip install cldata[pandas]``).
        """
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_dataframe() needs pandas: pip install 'cldata[pandas]'") from None
        columns = self.to_columns(start, stop)
        index = pd.Index(columns.pop("timestamp"), name="timestamp")
        return pd.DataFrame(columns, index=index)

    def __repr__(self) -> str:
        from cldata.core.display import plural, window_text

        w = "" if self._window == (None, None) else f", window {window_text(self._window, self._fps)}"
        return f"<DataStreamView {self.name!r}: {plural(len(self), 'entry', 'entries')}{w}>"

    def _repr_html_(self) -> str:
        from cldata.core.display import html_table, plural, short, window_text

        n = len(self)
        shown = 10
        rows = [[ts, f"{ts / self._fps:.6g}", short(value, 120)] for ts, value in _take(iter(self.items()), shown)]
        w = "" if self._window == (None, None) else f", window {window_text(self._window, self._fps)}"
        return html_table(f"DataStreamView {self.name!r}: {plural(n, 'entry', 'entries')}{w}",
                          ["timestamp (frame)", "time (s)", "value"] if rows else [], rows, more=max(0, n - shown))


class DataStreamCollection(Mapping):
    """The data streams of a recording, by name (sorted), as the CL reader offers them.

    Indexing (``streams["score"]``) and attribute access (``streams.score``) both work.
    """

    def __init__(self, streams: dict[str, DataStreamView]):
        self._streams = dict(sorted(streams.items()))

    def __getitem__(self, name: str) -> DataStreamView:
        try:
            return self._streams[name]
        except KeyError:
            raise KeyError(f"no data stream {name!r}; the recording has {list(self._streams)}") from None

    def __getattr__(self, name: str) -> DataStreamView:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._streams[name]
        except KeyError:
            raise AttributeError(f"no data stream {name!r}; the recording has {list(self._streams)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._streams)

    def __len__(self) -> int:
        return len(self._streams)

    def between(self, start: Any = None, stop: Any = None) -> DataStreamCollection:
        """The same streams, each restricted to ``[start, stop)``."""
        return DataStreamCollection({k: v.between(start, stop) for k, v in self._streams.items()})

    def __repr__(self) -> str:
        from cldata.core.display import plural

        body = "".join(f"\n    {name}: {plural(len(view), 'entry', 'entries')}" for name, view in self._streams.items())
        return f"Data Streams:{body}"

    def _repr_html_(self) -> str:
        from cldata.core.display import html_table

        return html_table(f"Data streams ({len(self)})", ["stream", "entries", "application"],
                          [[name, len(view), str(view.attributes.get("application", ""))]
                           for name, view in self._streams.items()])
