"""A data stream's index on disk: its shape, what is untidy about it, and bisecting it unread.

A data stream is a group holding an ``index`` table (``timestamp``, ``start_index``,
``end_index``: one row per entry, the entry's bytes ``[start_index, end_index)``) and a 1-d
uint8 ``data`` array. :func:`stream_problem` says why a group cannot be read as one.

On an index cldata's writer checked and marked in time order
(:mod:`cldata.format.index_order`), the first lookups by time need not load it:
:class:`LazyIndex` reads blocks of one HDF5 chunk on demand and narrows down to the row by
interpolation and halving, checking every row it reads; anything out of order raises
:class:`OutOfOrder`, and the stream's store (:class:`cldata.format.stream_store.StreamStore`)
loads the whole index instead. An index that is out of order is described by
:class:`UntidyIndex`.

Examples
--------
>>> stream_problem(rec.file.root.data_stream.score)       # doctest: +SKIP
>>> LazyIndex(rec.file.root.data_stream.score.index, nbytes).find(2500)   # doctest: +SKIP
17
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass

import numpy as np
import tables

from cldata.format.layout import INDEX_DTYPE, STREAM_DATA, STREAM_INDEX

__all__ = ["UntidyIndex", "stream_problem", "OutOfOrder", "read_checked_rows", "LazyIndex"]


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


class OutOfOrder(Exception):
    """Inside :class:`LazyIndex`: a row read is out of time order, points outside the data, or
    could not be read; the store loads the whole index instead (which says what is wrong)."""


def read_checked_rows(node: tables.Table, a: int, b: int, nbytes: int) -> np.ndarray:
    """Rows ``a .. b-1`` of an index table of the standard dtype as a (3, b-a) int64 array
    (timestamps, starts, ends), raising :class:`OutOfOrder` unless the timestamps strictly
    increase and every byte range lies inside the ``nbytes`` of data."""
    try:
        rows = node.read(a, b)
    except tables.HDF5ExtError:
        raise OutOfOrder from None  # (the whole load reports it as CorruptRecordingError)
    if rows.shape != (b - a,):
        raise OutOfOrder
    cols = rows.view("<i8").reshape(-1, 3).T  # offsets above 2**63 turn negative: outside
    ts, starts, ends = cols
    if (ts.size > 1 and bool((ts[1:] <= ts[:-1]).any())) or bool(
            ((starts < 0) | (ends < starts) | (ends > nbytes)).any()):
        raise OutOfOrder
    return cols


class LazyIndex:
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
    the blocks read, byte ranges inside the data. Anything else raises :class:`OutOfOrder`.
    """

    def __init__(self, node: tables.Table, nbytes: int, min_block_rows: int = 256):
        self.node = node
        self.n = int(node.nrows)
        chunk = int(node.chunkshape[0]) if node.chunkshape else 4096
        # blocks of the table's chunk, at least min_block_rows rows
        self.block = min(max(chunk, min_block_rows), 1 << 16)
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
        return read_checked_rows(self.node, a, b, self.nbytes)

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
            raise OutOfOrder
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
            raise OutOfOrder
        return cols
