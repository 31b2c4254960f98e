"""Appending entries to one data stream of a recording being written: ``DataStreamWriter``.

A recording writer (:class:`cldata.format.writer.RecordingWriter`) and its stream writers
share one :class:`PendingWrites`: the lock every append takes, whether the writer is closed,
the bytes buffered since the last flush and the flush that writes them. A stream writer
checks and encodes each entry at once (nothing changes when one is refused) and buffers the
msgpack bytes end to end with their end offsets and timestamps; the recording writer takes
them as the stream's value of the next batch (:meth:`DataStreamWriter.take_batch`).

Examples
--------
>>> score = writer.create_data_stream("score", {"player": "culture-7"})  # doctest: +SKIP
>>> score.extend([2, 3], [1, 2])                                         # doctest: +SKIP
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from cldata.errors import InvalidDataError, TimestampOrderError, WriterClosedError
from cldata.format.attributes import check_attribute_value
from cldata.format.codec import Encoder
from cldata.format.timestamps import MAX_TIMESTAMP, check_timestamp, checked_frames

__all__ = ["DataStreamWriter", "PendingWrites"]


class PendingWrites:
    """What a recording writer shares with its stream writers.

    Attributes
    ----------
    path : Path
        The recording being written (for messages).
    lock : threading.RLock
        Taken by every append, flush and close.
    closed : bool
        Whether the writer takes no more data.
    pending_bytes, flush_bytes : int
        Bytes buffered since the last flush, and how many make a flush on their own.
    flush_locked, queue : callable
        The writer's flush (called with ``lock`` held) and its queue of attribute and stream
        records (records that take effect in order with the entries around them).
    """

    __slots__ = ("path", "lock", "closed", "pending_bytes", "flush_bytes", "flush_locked", "queue")

    def __init__(self, path: Path, flush_bytes: int, flush_locked: Callable[[], None],
                 queue: Callable[[dict[str, Any]], None]):
        self.path = path
        self.lock = threading.RLock()
        self.closed = True
        self.pending_bytes = 0
        self.flush_bytes = flush_bytes
        self.flush_locked = flush_locked
        self.queue = queue

    def check_open(self) -> None:
        """Raise :class:`~cldata.errors.WriterClosedError` once the writer has closed."""
        if self.closed:
            raise WriterClosedError(f"{self.path} has been closed; open a new RecordingWriter to write more")

    def added(self, nbytes: int) -> None:
        """Count ``nbytes`` more buffered; flush when the buffers have grown past ``flush_bytes``."""
        self.pending_bytes += nbytes
        if self.pending_bytes >= self.flush_bytes:
            self.flush_locked()


class DataStreamWriter:
    """Appends entries to one data stream of a :class:`RecordingWriter`.

    Get one from :meth:`RecordingWriter.create_data_stream`. Timestamps are frames and
    must strictly increase; values are anything the codec accepts
    (:data:`cldata.format.codec.SUPPORTED_TYPES`).

    Examples
    --------
    >>> score = writer.create_data_stream("score", {"player": "culture-7"})  # doctest: +SKIP
    >>> score.append(1, 0)                                                   # doctest: +SKIP
    >>> score.extend([2, 3], [1, 2])                                         # doctest: +SKIP
    >>> score.set_attribute("final", True)                                   # doctest: +SKIP
    """

    def __init__(self, writes: PendingWrites, name: str, attributes: dict[str, Any]):
        self._writes = writes
        self.name = name
        self._attributes = attributes
        self._encoder = Encoder()
        self._pack = self._encoder.pack
        self._buf = bytearray()
        # single appends collect in lists, extends in arrays; _seal() keeps their order
        self._ends: list[int] = []
        self._ts: list[int] = []
        self._ends_parts: list[np.ndarray] = []
        self._ts_parts: list[np.ndarray] = []
        self._pending = 0
        self._last = -1
        self._count = 0  # entries already handed to the file

    @property
    def attributes(self) -> dict[str, Any]:
        """A copy of the stream's current ``application`` attributes."""
        return dict(self._attributes)

    @property
    def last_timestamp(self) -> int | None:
        """The timestamp of the last entry appended (``None`` before the first)."""
        return None if self._last < 0 else self._last

    def __len__(self) -> int:
        return self._count + self._pending

    def _seal(self) -> None:
        if self._ts:
            self._ts_parts.append(np.array(self._ts, dtype=np.int64))
            self._ends_parts.append(np.array(self._ends, dtype=np.int64))
            self._ts = []
            self._ends = []

    def append(self, timestamp: int, value: Any) -> None:
        """Append one entry.

        Raises
        ------
        cldata.errors.TimestampOrderError
            If ``timestamp`` is not an int greater than the previous one.
        cldata.errors.UnsupportedValueError
            If the codec cannot store ``value`` (the stream is unchanged).
        """
        w = self._writes
        with w.lock:
            if w.closed:
                raise WriterClosedError(f"{w.path} is closed; stream {self.name!r} takes no more entries")
            if type(timestamp) is not int or timestamp < 0:
                timestamp = check_timestamp(timestamp)
            if timestamp <= self._last:
                raise TimestampOrderError(
                    f"stream {self.name!r}: timestamp {timestamp} does not follow the previous one "
                    f"({self._last}); timestamps must strictly increase within a stream"
                )
            if timestamp > MAX_TIMESTAMP:
                check_timestamp(timestamp)
            packed = self._pack(value)
            buf = self._buf
            buf += packed
            self._ends.append(len(buf))
            self._ts.append(timestamp)
            self._pending += 1
            self._last = timestamp
            w.pending_bytes += len(packed)
            if w.pending_bytes >= w.flush_bytes:
                w.flush_locked()

    def extend(self, timestamps: Iterable[int] | np.ndarray, values: Iterable[Any]) -> None:
        """Append many entries at once (all or none: on any error the stream is unchanged).

        Raises
        ------
        cldata.errors.TimestampOrderError
            If the timestamps are not ints strictly increasing from after the last entry.
        cldata.errors.InvalidDataError
            If ``timestamps`` and ``values`` differ in length.
        cldata.errors.UnsupportedValueError
            If the codec cannot store one of the values (none are added).
        """
        w = self._writes
        ts = np.asarray(timestamps)
        if ts.ndim != 1 or (ts.size and ts.dtype.kind not in "iu"):
            raise TimestampOrderError(
                f"timestamps must be a 1-d sequence of int frames (got dtype {ts.dtype}, shape {ts.shape})"
            )
        ts = checked_frames(ts, "timestamps")
        values = values if isinstance(values, (list, tuple)) else list(values)
        if len(values) != ts.size:
            raise InvalidDataError(f"extend() got {ts.size} timestamps but {len(values)} values")
        if ts.size == 0:
            return
        if ts.size > 1:
            # compare neighbours, never subtract: a difference of int64 values can wrap
            bad = np.flatnonzero(ts[1:] <= ts[:-1])
            if bad.size:
                i = int(bad[0])
                raise TimestampOrderError(
                    f"stream {self.name!r}: timestamps must strictly increase, but position {i + 1} "
                    f"({ts[i + 1]}) follows {ts[i]}"
                )
        part, ends = self._encoder.pack_many(values)  # all encoded before the stream changes
        with w.lock:
            if w.closed:
                raise WriterClosedError(f"{w.path} is closed; stream {self.name!r} takes no more entries")
            if int(ts[0]) <= self._last:
                raise TimestampOrderError(
                    f"stream {self.name!r}: timestamp {int(ts[0])} does not follow the previous one "
                    f"({self._last}); timestamps must strictly increase within a stream"
                )
            self._seal()
            ends += len(self._buf)
            self._buf += part
            self._ends_parts.append(ends)
            self._ts_parts.append(ts.copy())
            self._pending += ts.size
            self._last = int(ts[-1])
            w.pending_bytes += len(part)
            if w.pending_bytes >= w.flush_bytes:
                w.flush_locked()

    def set_attribute(self, key: str, value: Any) -> None:
        """Set one key of the stream's ``application`` attributes."""
        self.update_attributes({key: value})

    def update_attributes(self, attributes: Mapping[str, Any]) -> None:
        """Merge ``attributes`` into the stream's ``application`` attributes."""
        check_attribute_value(dict(attributes))
        with self._writes.lock:
            self._writes.check_open()
            self._attributes.update(attributes)
            self._writes.queue({"op": "attrs", "stream": self.name, "attrs": {"application": dict(self._attributes)}})

    def take_batch(self) -> dict[str, Any] | None:
        """The entries appended since the last call, as a batch's value for this stream
        (``{"ts", "ends", "data"}``), or ``None``; they count as handed to the file."""
        if not self._pending:
            return None
        self._seal()
        part = {
            "ts": np.concatenate(self._ts_parts),
            "ends": np.concatenate(self._ends_parts),
            "data": bytes(self._buf),
        }
        self._count += self._pending
        self._pending = 0
        self._buf = bytearray()
        self._ends_parts = []
        self._ts_parts = []
        return part

    def __repr__(self) -> str:
        n = len(self)
        return f"<DataStreamWriter {self.name!r}: {n} entr{'y' if n == 1 else 'ies'}>"
