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


def _series_kind(entries: list[Any]) -> bool:
    """Whether every entry is a number of one kind, or an array of one shape and numeric dtype."""
    first = entries[0]
    if isinstance(first, np.ndarray):
        return first.dtype.kind in "biuf" and first.ndim > 0 and first.size > 0 and all(
            isinstance(e, np.ndarray) and e.shape == first.shape and e.dtype == first.dtype for e in entries)
    kind = _scalar_kind(first)
    return kind in (bool, int, float) and all(
        not isinstance(e, np.ndarray) and _scalar_kind(e) is kind for e in entries)


def _table_kinds(entries: list[Any]) -> dict[str, type] | None:
    """The column kinds of entries that are dicts of scalars with the same keys, else None."""
    first = entries[0]
    if not isinstance(first, dict) or not first:
        return None
    keys = list(first)
    if not all(isinstance(k, str) and _NAME.match(k) and k not in _RESERVED for k in keys):
        return None
    kinds = {k: _scalar_kind(first[k]) for k in keys}
    if None in kinds.values():
        return None
    for entry in entries:
        if not isinstance(entry, dict) or list(entry) != keys:
            return None
        if any(_scalar_kind(entry[k]) is not kinds[k] for k in keys):
            return None
    return kinds  # type: ignore[return-value]


def classify(entries: list[Any]) -> str:
    """The way a stream with these entries is kept: one of ``layout.STREAM_KINDS``."""
    if not entries:
        return layout.STREAM_EMPTY
    if _series_kind(entries):
        return layout.STREAM_TIMESERIES
    if _table_kinds(entries) is not None:
        return layout.STREAM_TABLE
    return layout.STREAM_MSGPACK


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


def stream_object(name: str, ts: np.ndarray, entries: list[Any], fps: int, kind: str) -> Any:
    """The pynwb object of one non-empty stream of the given kind (see :func:`classify`)."""
    # why here: pynwb and hdmf are the nwb extra, loaded when a file is written
    from hdmf.common import DynamicTable, VectorData
    from pynwb import TimeSeries

    if kind == layout.STREAM_TIMESERIES:
        data = np.stack([np.asarray(e) for e in entries])
        return TimeSeries(name=name, data=data, unit="n/a", timestamps=ts.astype(np.float64) / fps,
                          description=f"the CL data stream {name!r}: one entry per timestamp",
                          comments=f"dtype={data.dtype.str}; frame = round(timestamp * {fps})")
    columns = _time_columns(ts, fps)
    if kind == layout.STREAM_TABLE:
        for key in entries[0]:
            values = [e[key] for e in entries]
            columns.append(VectorData(name=key, description=f"the entries' {key!r}",
                                      data=values if isinstance(values[0], str) else np.asarray(values)))
        what = "one column per key of the entries (dicts of scalars)"
    else:
        columns += bytes_column(layout.STREAM_VALUE, "the entry, msgpack bytes (cldata's codec)",
                                [encode(e) for e in entries])
        what = "each entry as msgpack bytes (cldata's codec) in 'value'"
    return DynamicTable(name=name, description=f"the CL data stream {name!r}: {what}", columns=columns)


def stream_frames(kind: str, group: Any, fps: int) -> np.ndarray:
    """The frames of a stream object's entries (``group``: its HDF5 group, read with h5py)."""
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
