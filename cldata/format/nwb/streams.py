"""Data streams in NWB: how a stream's entries are kept, decided from the entries themselves.

The model: a CL data stream is a list of ``(frame, entry)``. In NWB each stream becomes one
object of the processing module ``"data_streams"`` (:mod:`cldata.format.nwb.layout`), by the
first rule its entries all meet:

- numbers (all ints, all floats or all bools) or numpy arrays of one shape and dtype → a
  ``TimeSeries`` (``data`` stacked, ``timestamps`` in s);
- dicts with the same keys (valid column names, not ``timestamp``/``frame``/``id``) whose values
  are, key by key, all ints, all floats, all bools or all strings → a ``DynamicTable``
  (``timestamp`` in s, ``frame``, one column per key);
- anything else (mixed types, nested values, ``None``...) → a ``DynamicTable`` of ``timestamp``,
  ``frame`` and ``value``: the entry's msgpack bytes (cldata's codec) as a ragged uint8 column.

The index table ``"stream_index"`` lists every stream, empty ones included (kind ``"empty"``,
no object), with its attributes as msgpack bytes. :func:`stream_objects` builds the pynwb
objects; reading back is :func:`decode_entries`. Nothing is dropped, nothing runs code.

Examples
--------
>>> classify([1, 2, 3]), classify([{"x": 1.0}, {"x": 2.0}]), classify([{"x": [1]}])
('timeseries', 'table', 'msgpack')
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from cldata.format.codec import decode, encode
from cldata.format.nwb import layout

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESERVED = {layout.STREAM_TIME, layout.STREAM_FRAME, "id"}
_SCALARS = (bool, int, float, str)


_INT64 = np.iinfo(np.int64)


def _scalar_kind(value: Any) -> type | None:
    """The one of bool/int/float/str a value is (numpy scalars included), else None.

    Only values an HDF5 column keeps as they are: ints within int64, strings without NUL
    (HDF5's strings end there) that encode as UTF-8.
    """
    if isinstance(value, (bool, np.bool_)):
        return bool
    if isinstance(value, (int, np.integer)):
        return int if _INT64.min <= int(value) <= _INT64.max else None
    if isinstance(value, (float, np.floating)):
        return float
    if isinstance(value, (str, np.str_)):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return None
        return str if "\x00" not in value else None
    return None


def _series_match(entries: list[Any], first: Any) -> bool:
    """Whether every entry is a number of ``first``'s kind, or an array of its shape and numeric dtype."""
    if isinstance(first, np.ndarray):
        return first.dtype.kind in "biuf" and first.ndim > 0 and first.size > 0 and all(
            isinstance(e, np.ndarray) and e.shape == first.shape and e.dtype == first.dtype for e in entries)
    kind = _scalar_kind(first)
    return kind in (bool, int, float) and all(
        not isinstance(e, np.ndarray) and _scalar_kind(e) is kind for e in entries)


def _table_signature(first: Any) -> dict[str, type] | None:
    """The column kinds a table of entries like ``first`` (a dict of scalars) would have, else None."""
    if not isinstance(first, dict) or not first:
        return None
    if not all(isinstance(k, str) and _NAME.match(k) and k not in _RESERVED for k in first):
        return None
    kinds = {k: _scalar_kind(v) for k, v in first.items()}
    return None if None in kinds.values() else kinds  # type: ignore[return-value]


def _table_match(entries: list[Any], kinds: dict[str, type]) -> bool:
    """Whether every entry is a dict with exactly ``kinds``' keys, in order, and values of those kinds."""
    keys = list(kinds)
    return all(isinstance(e, dict) and list(e) == keys and all(_scalar_kind(e[k]) is kinds[k] for k in keys)
               for e in entries)


class StreamShape:
    """What a pass over a stream's entries found: its kind, its entries, the dtypes to store them in.

    Built block by block (:meth:`add`), so that a stream of any length is classified in bounded
    memory; :func:`classify` is the one-block case.

    Examples
    --------
    >>> shape = StreamShape()
    >>> shape.add([1.5, 2.0]); shape.add([np.float32(3)])
    >>> shape.kind, shape.entries, shape.series_dtype
    ('timeseries', 3, dtype('float64'))
    """

    def __init__(self) -> None:
        self.entries = 0
        self.first: Any = None
        self._series = True
        self._table: dict[str, type] | None = None
        self.series_dtype: np.dtype | None = None
        self.column_dtypes: dict[str, np.dtype] = {}

    def add(self, entries: list[Any]) -> None:
        """Take the next block of entries into account."""
        if not entries:
            return
        if not self.entries:  # (the first entry may itself be None)
            self.first = entries[0]
            self._table = _table_signature(self.first)
        self.entries += len(entries)
        if self._series and _series_match(entries, self.first):
            block = np.stack([np.asarray(e) for e in entries])
            self.series_dtype = block.dtype if self.series_dtype is None else np.result_type(self.series_dtype,
                                                                                            block.dtype)
        else:
            self._series = False
        if self._table is not None and _table_match(entries, self._table):
            for k, kind in self._table.items():
                if kind is not str:
                    dt = np.asarray([e[k] for e in entries]).dtype
                    self.column_dtypes[k] = np.result_type(self.column_dtypes.get(k, dt), dt)
        else:
            self._table = None

    @property
    def kind(self) -> str:
        """One of ``layout.STREAM_KINDS``."""
        if not self.entries:
            return layout.STREAM_EMPTY
        if self._series:
            return layout.STREAM_TIMESERIES
        if self._table is not None:
            return layout.STREAM_TABLE
        return layout.STREAM_MSGPACK

    @property
    def columns(self) -> dict[str, type]:
        """A table stream's columns and the kind of their values."""
        return dict(self._table or {})


def classify(entries: list[Any]) -> str:
    """The way a stream with these entries is kept: one of ``layout.STREAM_KINDS``."""
    shape = StreamShape()
    shape.add(entries)
    return shape.kind


def _ragged_bytes(blobs: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Blobs as one uint8 array and the end offsets of each (an NWB ragged column)."""
    ends = np.cumsum([len(b) for b in blobs], dtype=np.int64)
    data = np.frombuffer(b"".join(blobs), dtype=np.uint8) if blobs else np.zeros(0, np.uint8)
    return data, ends


def bytes_column(name: str, description: str, blobs: list[bytes]) -> list[Any]:
    """A ragged uint8 column (``VectorData`` + ``VectorIndex``) holding msgpack blobs."""
    # why here: hdmf is the nwb extra, loaded when a file is written
    from hdmf.common import VectorData, VectorIndex

    data, ends = _ragged_bytes(blobs)
    column = VectorData(name=name, description=description, data=data)
    return [column, VectorIndex(name=f"{name}_index", data=ends, target=column)]


def _time_columns(ts: np.ndarray, fps: int) -> list[Any]:
    # why here: hdmf is the nwb extra, loaded when a file is written
    from hdmf.common import VectorData

    return [VectorData(name=layout.STREAM_TIME, description="time of the entry, s from the recording start",
                       data=ts.astype(np.float64) / fps),
            VectorData(name=layout.STREAM_FRAME, description="frame of the entry (exact)", data=ts.astype(np.int64))]


def stream_object(name: str, ts: np.ndarray, blocks: Callable[[], Iterator[list[Any]]], shape: StreamShape,
                  fps: int) -> Any:
    """The pynwb object of one non-empty stream (its kind: ``shape.kind``, see :class:`StreamShape`).

    ``blocks()`` gives the entries again, block by block in order, each time it is called: a
    time series' data and a msgpack stream's bytes are written from them a chunk at a time (hdmf
    iterates), so a long stream is never held whole; a table's columns are filled block by block
    (numbers: their own arrays; strings: lists).
    """
    # why here: pynwb and hdmf are the nwb extra, loaded when a file is written
    from hdmf.common import DynamicTable, VectorData, VectorIndex
    from pynwb import TimeSeries

    kind, n = shape.kind, shape.entries
    if kind == layout.STREAM_TIMESERIES:
        dtype = shape.series_dtype
        row = np.asarray(shape.first).shape
        data = row_iterator(n, row, dtype, lambda: (np.stack([np.asarray(e) for e in b]).astype(dtype)
                                                    for b in blocks()))
        return TimeSeries(name=name, data=data, unit="n/a", timestamps=ts.astype(np.float64) / fps,
                          description=f"the CL data stream {name!r}: one entry per timestamp",
                          comments=f"dtype={np.dtype(dtype).str}; frame = round(timestamp * {fps})")
    columns = _time_columns(ts, fps)
    if kind == layout.STREAM_TABLE:
        values: dict[str, Any] = {k: ([] if kind_ is str else np.empty(n, shape.column_dtypes[k]))
                                  for k, kind_ in shape.columns.items()}
        at = 0
        for block in blocks():
            for k, column in values.items():
                if isinstance(column, list):
                    column.extend(e[k] for e in block)
                else:
                    column[at:at + len(block)] = [e[k] for e in block]
            at += len(block)
        for k, column in values.items():
            columns.append(VectorData(name=k, description=f"the entries' {k!r}", data=column))
        what = "one column per key of the entries (dicts of scalars)"
    else:
        ends = np.cumsum(np.concatenate([[len(encode(e)) for e in b] for b in blocks()]).astype(np.int64))
        data = row_iterator(int(ends[-1]), (), np.dtype(np.uint8), lambda: (
            np.frombuffer(b"".join(encode(e) for e in b), np.uint8) for b in blocks()))
        value = VectorData(name=layout.STREAM_VALUE, description="the entry, msgpack bytes (cldata's codec)",
                           data=data)
        # (the index before its column: hdmf sets a column of iterated data aside as it meets it)
        columns += [VectorIndex(name=f"{layout.STREAM_VALUE}_index", data=ends, target=value), value]
        what = "each entry as msgpack bytes (cldata's codec) in 'value'"
    return DynamicTable(name=name, description=f"the CL data stream {name!r}: {what}", columns=columns)


def row_iterator(rows: int, row_shape: tuple[int, ...], dtype: Any,
                 blocks: Callable[[], Iterator[np.ndarray]]) -> Any:
    """An hdmf chunk iterator over ``rows`` rows that ``blocks()`` yields in order, a block at a time.

    hdmf asks for the rows in order; a block is read once and its rows are dropped when written
    (asked for rows already dropped, the blocks are read again from the start). Memory: a block
    and a chunk (about 1 MB).

    Examples
    --------
    >>> rows = row_iterator(5, (), np.int64, lambda: iter([np.arange(3), np.arange(3, 5)]))
    >>> rows._get_data((slice(1, 4),)).tolist()
    [1, 2, 3]
    """
    # why here: hdmf is the nwb extra, loaded when a file is written
    from hdmf.data_utils import GenericDataChunkIterator

    dtype = np.dtype(dtype)
    per_row = max(1, int(np.prod(row_shape, dtype=np.int64)) * dtype.itemsize)
    chunk_rows = int(min(rows, max(1, (1 << 20) // per_row)))

    class Rows(GenericDataChunkIterator):
        def __init__(self) -> None:
            self._restart()
            super().__init__(chunk_shape=(chunk_rows, *row_shape), buffer_shape=(chunk_rows, *row_shape),
                             display_progress=False)

        def _restart(self) -> None:
            self._source = blocks()
            self._held = np.empty((0, *row_shape), dtype)
            self._held_from = 0

        def _get_data(self, selection: tuple[slice, ...]) -> np.ndarray:
            a, b = selection[0].start or 0, selection[0].stop
            if a < self._held_from:  # (rows already given away: read the blocks again)
                self._restart()
            drop = min(a - self._held_from, len(self._held))  # rows before a are not needed any more
            self._held, self._held_from = self._held[drop:], self._held_from + drop
            while self._held_from + len(self._held) < b:
                block = next(self._source)
                if not len(self._held):  # (the held rows end before a: skip to it)
                    skip = min(a - self._held_from, len(block))
                    block, self._held_from = block[skip:], self._held_from + skip
                self._held = np.concatenate([self._held, block]) if len(self._held) else block
            out, self._held, self._held_from = self._held[:b - a], self._held[b - a:], b
            return out[(slice(None), *selection[1:])]

        def _get_maxshape(self) -> tuple[int, ...]:
            return (rows, *row_shape)

        def _get_dtype(self) -> np.dtype:
            return dtype

        def __len__(self) -> int:  # (hdmf's VectorIndex asks its target's length)
            return rows

    return Rows()


def stream_frames(kind: str, group: Any, fps: int) -> np.ndarray:
    """The frames of a stream object's entries (``group``: its HDF5 group, read with h5py).

    Examples
    --------
    >>> stream_frames("table", f["processing/data_streams/ball_position"], 25_000)[:3]   # doctest: +SKIP
    array([ 5, 15, 25])
    """
    if kind == layout.STREAM_TIMESERIES:
        return np.rint(group["timestamps"][()] * fps).astype(np.int64)
    return group[layout.STREAM_FRAME][()].astype(np.int64)


def decode_entries(kind: str, group: Any, fps: int, i: int = 0, j: int | None = None) -> tuple[np.ndarray, list[Any]]:
    """The ``(frames, entries)`` of rows ``[i, j)`` of a stream object read with h5py (``group``: its HDF5 group).

    Only those rows are read: a window of a long stream costs its own entries.
    """
    if kind == layout.STREAM_TIMESERIES:
        data = group["data"][i:j]
        frames = np.rint(group["timestamps"][i:j] * fps).astype(np.int64)
        if data.ndim == 1:
            return frames, [v.item() for v in data]
        return frames, list(data)
    frames = group[layout.STREAM_FRAME][i:j].astype(np.int64)
    if kind == layout.STREAM_MSGPACK:
        return frames, read_blobs(group, layout.STREAM_VALUE, i, j)
    keys = [k for k in _colnames(group) if k not in (layout.STREAM_TIME, layout.STREAM_FRAME)]
    columns = {}
    for k in keys:
        values = group[k][i:j]
        columns[k] = [v.decode() if isinstance(v, bytes) else v.item() for v in values]
    return frames, [{k: columns[k][r] for k in keys} for r in range(len(frames))]


def _colnames(group: Any) -> list[str]:
    return [c.decode() if isinstance(c, bytes) else str(c) for c in group.attrs["colnames"]]


def read_blobs(group: Any, column: str, i: int = 0, j: int | None = None) -> list[Any]:
    """The decoded values of rows ``[i, j)`` of a ragged msgpack column of a table read with h5py."""
    index = group[f"{column}_index"]
    j = len(index) if j is None else min(j, len(index))
    if j <= i:
        return []
    ends = index[max(i - 1, 0):j].astype(np.int64)
    if i == 0:
        ends = np.concatenate([[0], ends])
    data = group[column][int(ends[0]):int(ends[-1])].tobytes()
    offsets = ends - ends[0]
    return [decode(data[int(a):int(b)]) for a, b in zip(offsets[:-1], offsets[1:])]
