"""Reading data streams of a CL recording: ``DataStreamView`` and ``DataStreamCollection``.

A data stream is an index table (``timestamp``, ``start_index``, ``end_index``) and a byte
array holding the msgpack entries end to end. The CL reader walks the index row by row
through PyTables; cldata loads the index once into numpy arrays, finds ranges with
``searchsorted``, reads the bytes of a whole range in one go (small reads through a block
cache) and decodes a contiguous span with one msgpack ``Unpacker``.

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
file. A stream in order (every file cldata writes) costs nothing more: the index is checked
once when it loads, and lookups use it as it is.

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
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import tables

from cldata.bulk import paused_gc
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
from cldata.format.layout import INDEX_DTYPE, STREAM_DATA, STREAM_INDEX
from cldata.timebase import to_window

__all__ = ["DataStreamView", "DataStreamCollection", "UntidyIndex", "stream_problem"]

_BLOCK_BITS = 16  # 64 KiB blocks for small reads
_BLOCK = 1 << _BLOCK_BITS
_CACHE_BLOCKS = 256  # at most 16 MiB cached per stream
_DIRECT_READ = 1 << 20  # reads this large bypass the cache
_DECODE_CHUNK_BYTES = 4 << 20  # iteration decodes about this many bytes at a time


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


class _StreamStore:
    """The index arrays of one stream (loaded on first use) and a cache of its data bytes.

    Shared by every view of the same stream, so a time-windowed view costs nothing more.
    """

    def __init__(self, group: tables.Group, source: str, notes: Callable[[str, str], None] | None = None):
        self.source = source
        self.notes = notes  # the reader's warn-once hook, for rows that point outside the data
        problem = stream_problem(group)
        if problem is not None:
            raise CorruptRecordingError(f"data stream {group._v_pathname} in {source} {problem}")
        self.index_node = group._f_get_child(STREAM_INDEX)
        self.data_node = group._f_get_child(STREAM_DATA)
        self._bad: tuple[np.ndarray, np.ndarray] | None = None  # rows outside the data: (entries, file order)
        self._raw: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # the rows in file order
        self._entries: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # by time, repeats dropped
        self._ambiguous: np.ndarray = np.empty(0, dtype=np.int64)  # timestamps of rows that disagree
        self.tidy = True  # (known once the index is loaded)
        self.untidy: UntidyIndex | None = None
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._nbytes = int(self.data_node.nrows)
        self._name = group._v_name

    # -- index ---------------------------------------------------------------------------

    def arrays(self, entries: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(timestamps, starts, ends)``: of the entries in time order (``entries``), or of the
        index rows in file order. The same arrays for a stream in order."""
        if self._raw is None:
            self._load_index()
        return self._entries if entries else self._raw  # type: ignore[return-value]

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

    def _load_index(self) -> None:
        try:
            rows = self.index_node.read()
        except tables.HDF5ExtError as exc:
            raise CorruptRecordingError(f"cannot read {self.index_node._v_pathname} in {self.source}: {exc}") from None
        path = self.index_node._v_pathname
        # one transposed copy of the three 8-byte columns (offsets above 2**63 turn negative
        # and fail the bounds check below, as they should)
        if rows.dtype == INDEX_DTYPE:
            cols = np.ascontiguousarray(np.asarray(rows).view(np.int64).reshape(-1, 3).T)
            ts, starts, ends = cols[0], cols[1], cols[2]
        else:  # the same columns in another order or byte order
            ts = rows["timestamp"].astype(np.int64)
            starts = rows["start_index"].astype(np.uint64).astype(np.int64)
            ends = rows["end_index"].astype(np.uint64).astype(np.int64)
        self._raw = self._entries = (ts, starts, ends)
        bad = self._outside(starts, ends) if ts.size else None
        if ts.size > 1 and (ts[1:] <= ts[:-1]).any():  # (one pass, as the check it replaces)
            self._untidy(ts, starts, ends, bad)
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

    def read_bytes(self, a: int, b: int) -> bytes:
        if b <= a:
            return b""
        if b - a >= _DIRECT_READ:
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

    def decode_rows(self, i: int, j: int, entries: bool = True) -> list[Any]:
        """Decode entries ``i .. j-1`` (or index rows, with ``entries=False``): one read and one msgpack pass."""
        if j <= i:
            return []
        self.check_readable(i, j, entries)
        starts, ends = self.arrays(entries)[1:]
        if j - i > 1 and not np.array_equal(starts[i + 1 : j], ends[i : j - 1]):
            # not laid out end to end (neither CL nor cldata writes this): one at a time
            return [v for r in range(i, j) for v in self._decode_one_span(r, r + 1, entries)]
        return self._decode_one_span(i, j, entries)

    def _decode_one_span(self, i: int, k: int, entries: bool = True) -> list[Any]:
        ts, starts, ends = self.arrays(entries)
        a, b = int(starts[i]), int(ends[k - 1])
        data = self.read_bytes(a, b)
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
    index rows in file order, for the whole of an untidy stream: see the module doc)."""

    __slots__ = ("_store", "_i", "_j", "_entries")

    def __init__(self, store: _StreamStore, i: int, j: int, entries: bool = True):
        self._store, self._i, self._j, self._entries = store, i, j, entries
        if entries:
            store.check_unambiguous(i, j)

    def __len__(self) -> int:
        return self._j - self._i

    def _timestamps(self) -> np.ndarray:
        return self._store.arrays(self._entries)[0][self._i : self._j]

    def _values(self) -> Iterator[Any]:
        i, j = self._i, self._j
        ts, starts, ends = self._store.arrays(self._entries)
        while i < j:
            # decode a bounded number of bytes at a time so memory stays bounded by the chunk
            # (searching the starts: in file order or by time, they rise along a contiguous run)
            k = int(np.searchsorted(starts[i:j], starts[i] + _DECODE_CHUNK_BYTES, side="left")) + i \
                if self._store.tidy else i + max(1, min(j - i, 4096))
            k = min(max(k, i + 1), j)
            yield from self._store.decode_rows(i, k, self._entries)
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
        return self._values()


class DataStreamItemsView(_RangeView):
    """``(timestamp, value)`` pairs of a range of entries, read lazily in chunks."""

    __slots__ = ()

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        return zip(self._timestamps().tolist(), self._values())


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
        self._bounds: tuple[int, int] | None = None

    # -- positions -----------------------------------------------------------------------

    def _rows(self) -> tuple[int, int]:
        if self._bounds is None:
            ts = self._store.arrays()[0]
            a, b = self._window
            lo = 0 if a is None else int(np.searchsorted(ts, a, side="left"))
            hi = ts.size if b is None else int(np.searchsorted(ts, b, side="left"))
            self._bounds = (lo, max(lo, hi))
        return self._bounds

    def _range_rows(self, start: Any, stop: Any) -> tuple[int, int]:
        a, b = to_window(start, stop, self._fps)
        lo, hi = self._rows()
        ts = self._store.arrays()[0]
        i = lo if a is None else max(lo, int(np.searchsorted(ts, a, side="left")))
        j = hi if b is None else min(hi, int(np.searchsorted(ts, b, side="left")))
        return i, max(i, j)

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
        # numbers, repeats included); of a windowed view, the entries in the window by time
        if self._window == (None, None) and not self._tidy():
            return 0, self._store.arrays(entries=False)[0].size, False
        return (*self._rows(), True)

    def _tidy(self) -> bool:
        self._store.arrays()  # (the index is loaded, and its order known)
        return self._store.tidy

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
        """What is out of order in this stream's index (``None`` when it is in order)."""
        self._store.arrays()
        return self._store.untidy

    def keys_for_range(self, start: Any, stop: Any) -> DataStreamKeysView:
        """Timestamps in ``[start, stop)``."""
        return DataStreamKeysView(self._store, *self._range_rows(start, stop))

    def values_for_range(self, start: Any, stop: Any) -> DataStreamValuesView:
        """Values of the entries in ``[start, stop)``."""
        return DataStreamValuesView(self._store, *self._range_rows(start, stop))

    def items_for_range(self, start: Any, stop: Any) -> DataStreamItemsView:
        """``(timestamp, value)`` pairs of the entries in ``[start, stop)``."""
        return DataStreamItemsView(self._store, *self._range_rows(start, stop))

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice):
            if key.step is not None:
                raise TypeError("data-stream slices take no step: use stream[start:stop]")
            return self.values_for_range(key.start, key.stop)
        if isinstance(key, (numbers.Integral, np.integer)) and not isinstance(key, (bool, np.bool_)):
            lo, hi = self._rows()
            ts, starts, ends = self._store.arrays()
            i = int(np.searchsorted(ts, key, side="left"))
            if i < lo or i >= hi or ts[i] != key:
                raise KeyError(key)
            self._store.check_unambiguous(i, i + 1)
            return self._store.decode_rows(i, i + 1)[0]
        raise TypeError(f"data streams are indexed by an int timestamp or a slice, not {type(key).__name__}")

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
        lo, hi = self._rows()
        return self._store.arrays()[0][lo:hi].copy()

    def read(self, start: Any = None, stop: Any = None) -> tuple[np.ndarray, list[Any]]:
        """Decode every entry in ``[start, stop)`` at once: ``(timestamps, values)``.

        Examples
        --------
        >>> ts, values = ball.read(0, 100)                     # doctest: +SKIP
        """
        i, j = self._range_rows(start, stop)
        self._store.check_unambiguous(i, j)
        return self._store.arrays()[0][i:j].copy(), self._store.decode_rows(i, j)

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
        from cldata.display import plural, window_text

        w = "" if self._window == (None, None) else f", window {window_text(self._window, self._fps)}"
        return f"<DataStreamView {self.name!r}: {plural(len(self), 'entry', 'entries')}{w}>"

    def _repr_html_(self) -> str:
        from cldata.display import html_table, plural, short, window_text

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
        from cldata.display import plural

        body = "".join(f"\n    {name}: {plural(len(view), 'entry', 'entries')}" for name, view in self._streams.items())
        return f"Data Streams:{body}"

    def _repr_html_(self) -> str:
        from cldata.display import html_table

        return html_table(f"Data streams ({len(self)})", ["stream", "entries", "application"],
                          [[name, len(view), str(view.attributes.get("application", ""))]
                           for name, view in self._streams.items()])
