"""One data stream's index and bytes, shared by every view of the stream: ``StreamStore``.

The index is read in one of two ways: **bisected on disk**
(:class:`cldata.format.stream_index.LazyIndex`) for the first lookups by time on an index
cldata's writer marked in order, or **loaded whole** into three numpy arrays (timestamps,
starts, ends) and searched with ``searchsorted`` once lookups have read as many blocks as a
quarter of it, on files without the mark (the CL tools' own), and whenever anything out of
order or pointing outside the data is seen. The load reads blocks of rows straight into the
three columns: one copy of the index. An index found out of order is read as the CL reader
reads it (rows in file order) and by time (each entry once, exact repeats dropped), and said
once per stream and file as an :class:`~cldata.errors.UntidyIndexWarning`.

The entry bytes are read through a cache of 64 KiB blocks (small reads: lookups) or
straight from the file (iteration and large reads), and a contiguous span is decoded with
one msgpack pass (:func:`cldata.format.codec.decode_span`).

Examples
--------
>>> store = StreamStore(rec.file.root.data_stream.score, "rec.h5")   # doctest: +SKIP
>>> store.decode_rows(0, 2)                                           # doctest: +SKIP
[0, 1]
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import tables

from cldata.core.gc_pause import paused_gc
from cldata.errors import (
    AmbiguousEntryError,
    CorruptRecordingError,
    DecodeError,
    UntidyIndexWarning,
    UntidyRecordingWarning,
)
from cldata.format.codec import decode_span
from cldata.format.index_order import time_order_marked
from cldata.format.layout import INDEX_DTYPE, STREAM_DATA, STREAM_INDEX
from cldata.format.stream_index import LazyIndex, OutOfOrder, UntidyIndex, read_checked_rows, stream_problem

__all__ = ["StreamStore", "BLOCK", "BLOCK_BITS"]

BLOCK_BITS = 16  # 64 KiB blocks for small reads
BLOCK = 1 << BLOCK_BITS
_CACHE_BLOCKS = 256  # at most 16 MiB cached per stream
_DIRECT_READ = 1 << 20  # reads this large bypass the cache
# an index of fewer rows loads whole on first use: that costs a few hundred µs at most, no
# more than bisecting it on disk
_LAZY_MIN_ROWS = 1 << 15
_LOAD_ROWS = 1 << 16  # rows read at a time when loading a whole index (1.5 MiB)
_MIN_BLOCK_ROWS = 256  # the lazy index reads blocks of the table's chunk, at least this many rows
_SCAN_ROWS = 1 << 14  # index rows read at a time when a range is iterated before the index is loaded


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


class StreamStore:
    """One stream's index — bisected on disk, or loaded whole — and a cache of its data bytes.

    Shared by every view of the same stream, so a time-windowed view costs nothing more.

    Positions: lookups by time work in *entries* (by time, each once: see the module doc),
    iteration of a whole stream in *rows* (file order); the two are the same on an index in
    order. Until the index is loaded (:meth:`arrays`), lookups on an index marked in order by
    cldata's writer (:mod:`cldata.format.index_order`) bisect it on disk (:class:`LazyIndex`),
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
        self.entries_by_time: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # by time, repeats dropped
        self._ambiguous: np.ndarray = np.empty(0, dtype=np.int64)  # timestamps of rows that disagree
        self.tidy = True  # (known once the index is loaded)
        self.untidy: UntidyIndex | None = None
        self._lazy: LazyIndex | None = None
        self._lazy_decided = False
        self._lent = False  # positions found by the lazy index were handed out
        self.epoch = 0  # moves (once) when a loaded index voids the positions the lazy one gave
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._nbytes = int(self.data_node.nrows)
        self.name = group._v_name

    # -- index ---------------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        """Whether the whole index is loaded (positions are then final, lookups a searchsorted)."""
        return self._raw is not None

    def arrays(self, entries: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(timestamps, starts, ends)``: of the entries in time order (``entries``), or of the
        index rows in file order. The same arrays for a stream in order. Loads the index."""
        if self._raw is None:
            self._load_index()
        return self.entries_by_time if entries else self._raw  # type: ignore[return-value]

    def _lazy_index(self) -> LazyIndex | None:
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
            lazy = self._lazy = LazyIndex(node, self._nbytes, _MIN_BLOCK_ROWS)
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
        if self.entries_by_time is not None:
            return int(np.searchsorted(self.entries_by_time[0], t, "right" if right else "left"))
        lazy = self._lazy_index()
        if lazy is not None:
            try:
                i = lazy.find(t, right)
            except OutOfOrder:
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
                            raise OutOfOrder  # (another column layout: loaded whole, converted)
                        cols = read_checked_rows(self.index_node, i, j, self._nbytes)
                        if after is not None and after >= cols[0][0]:
                            raise OutOfOrder
                    else:
                        cols = lazy.span(i, j)  # type: ignore[union-attr]
                except OutOfOrder:
                    self._fall_back()
                else:
                    if entries:
                        self._lent = True
                    return cols[0], cols[1], cols[2]
        ts, starts, ends = self.arrays(entries)
        return ts[i:j], starts[i:j], ends[i:j]

    def scan(self, i: int, j: int, entries: bool, after: int | None) -> tuple[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """The next rows of a range ``i .. j-1`` being iterated: ``(k, span(i, k))``, a block of
        rows at most (``after``: the timestamp of the row before ``i``, when known)."""
        k = min(j, i + _SCAN_ROWS)
        return k, self.span(i, k, entries, scan=True, after=after)

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
                f"data stream {self.name!r} in {self.source} has {len(rows)} index rows at timestamp {t} "
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
        self._raw = self.entries_by_time = (ts, starts, ends)
        bad = self._outside(starts, ends) if ts.size else None
        if ts.size > 1 and (ts[1:] <= ts[:-1]).any():  # (one pass, as the check it replaces)
            self._untidy(ts, starts, ends, bad)
            if self._lent:  # positions found on disk counted rows, not entries
                self.epoch += 1
        if bad is not None:
            # rows pointing outside the data (a truncated file): their timestamps stay readable,
            # reading their entries raises (check_readable); said once
            by_time = self._outside(*self.entries_by_time[1:])
            self._bad = (by_time if by_time is not None else np.empty(0, dtype=np.intp), bad)
            shown = ", ".join(str(int(r)) for r in bad[:5]) + (", ..." if bad.size > 5 else "")
            message = (f"data stream {self.name!r}: {bad.size} index rows (rows {shown}) point at bytes outside the "
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
                f"data stream {self.name!r} in {self.source}: the entry at timestamp {int(ts[r])} points at bytes "
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
        self.entries_by_time = (sts[keep], sst[keep], sen[keep])
        self._ambiguous = np.array(sorted(ambiguous), dtype=np.int64)
        self.tidy = False
        running = np.maximum.accumulate(ts)
        late = np.flatnonzero(ts[1:] <= running[:-1]) + 1  # rows not after every row before them
        self.untidy = UntidyIndex(self.name, int(ts.size), int(keep.sum()), repeats, _runs(late), ambiguous)
        _warn_once(self.source, self.name, self.untidy)

    # -- bytes ---------------------------------------------------------------------------

    def read_bytes(self, a: int, b: int, direct: bool = False) -> bytes:
        """Bytes ``[a, b)`` of the data: small reads through the block cache; large ones, and
        ``direct`` ones (iteration: read once, in order), straight from the file."""
        if b <= a:
            return b""
        if direct or b - a >= _DIRECT_READ:
            return self._read_node(a, b)
        first, last = a >> BLOCK_BITS, (b - 1) >> BLOCK_BITS
        if first == last:
            base = first << BLOCK_BITS
            return self._block(first)[a - base : b - base]
        parts = [self._block(k) for k in range(first, last + 1)]
        base = first << BLOCK_BITS
        return b"".join(parts)[a - base : b - base]

    def _block(self, k: int) -> bytes:
        block = self._blocks.get(k)
        if block is None:
            start = k << BLOCK_BITS
            block = self._read_node(start, min(start + BLOCK, self._nbytes))
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
            return [v for r in range(j - i) for v in self.decode_span_of(ts, starts, ends, r, r + 1)]
        return self.decode_span_of(ts, starts, ends, 0, j - i, direct)

    def decode_span_of(self, ts: np.ndarray, starts: np.ndarray, ends: np.ndarray, i: int, k: int,
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


# the 0.2 name (tests patch the class under it)
_StreamStore = StreamStore
