"""Writing CL recordings: ``RecordingWriter`` and its ``DataStreamWriter``.

Appends are validated at once (a bad timestamp, name or value raises before anything
changes) and buffered in memory. :meth:`RecordingWriter.flush` writes the buffered batch
to the journal, syncs it to disk, and then appends it to the HDF5 file; when ``flush()``
returns, everything appended before it survives a crash of the process or the machine
(see :mod:`cldata.format.journal`). Buffers also flush on their own when they grow past
``flush_bytes``. Nothing is ever dropped: unlike the official simulator, entries that
arrive fast are all kept.

Examples
--------
>>> import numpy as np, cldata
>>> with cldata.RecordingWriter(tmp / "rec.h5", attributes={"culture": "C7"}) as w:  # doctest: +SKIP
...     ball = w.create_data_stream("ball_position", {"units": "px"})
...     for t in range(5, 500, 3):
...         ball.append(t, {"x": t / 2, "y": 200 - t, "hit": t % 21 == 5})
...     w.append_spikes([589, 778], [42, 10], np.zeros((2, 75), np.float32))
...     w.append_stims([2], [8])
...     w.append_samples(np.zeros((12500, 64), np.int16))
"""

from __future__ import annotations

import numbers
import os
import pickle
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from cldata.errors import (
    InvalidDataError,
    InvalidNameError,
    TimestampOrderError,
    UnfinishedRecordingError,
    WriterClosedError,
)
from cldata.format.attributes import check_attribute_value
from cldata.format.codec import Encoder
from cldata.format.hdf5_file import RecordingFile
from cldata.format.journal import JournalWriter, journal_path, journal_state
from cldata.format.layout import (
    DEFAULT_CHANNEL_COUNT,
    DEFAULT_FRAMES_PER_SECOND,
    FILE_FORMAT,
    UV_PER_SAMPLE_UNIT,
    WAVEFORM_LENGTH,
    check_stream_name,
)

__all__ = ["RecordingWriter", "DataStreamWriter", "attrs_to_journal", "attrs_from_journal"]

# frames since the start, and the start itself: 2**62 frames (5.8 million years at 25 kHz)
# keep start + timestamp + 1 (the end a close computes) within int64
_MAX_TIMESTAMP = 2**62 - 1
_DEFAULT_FLUSH_BYTES = 16 << 20


def attrs_to_journal(attrs: Mapping[str, Any]) -> bytes:
    """Attribute values as the journal keeps them: a pickle of allow-listed types only.

    Pickle (not msgpack) so that tuples, sets and numpy scalars come back as themselves;
    :func:`attrs_from_journal` loads it through the restricted unpickler.
    """
    return pickle.dumps(dict(attrs), protocol=2)


def attrs_from_journal(data: bytes) -> dict[str, Any]:
    """Inverse of :func:`attrs_to_journal` (restricted: runs nothing from the file)."""
    from cldata.core.safe_pickle import safe_loads

    value = safe_loads(data, source="recording journal")
    if not isinstance(value, dict):
        raise InvalidDataError("journal attributes are not a dict")
    return value


def _check_timestamp(ts: Any) -> int:
    if type(ts) is not int:
        if isinstance(ts, bool) or not isinstance(ts, (numbers.Integral, np.integer)):
            raise TimestampOrderError(
                f"timestamps are int frame counts, not {type(ts).__name__} ({ts!r:.40})"
            )
        ts = int(ts)
    if ts < 0 or ts > _MAX_TIMESTAMP:
        raise TimestampOrderError(
            f"timestamp {ts} is outside 0 .. 2**62-1 (frames since the recording started)"
        )
    return ts


def _checked_frames(ts: np.ndarray, what: str) -> np.ndarray:
    """Integer frames within 0 .. 2**62-1 as int64 (checked before any cast can wrap)."""
    if ts.ndim != 1 or (ts.size and ts.dtype.kind not in "iu"):
        raise TimestampOrderError(f"{what} must be a 1-d sequence of int frames (got dtype {ts.dtype}, shape {ts.shape})")
    if ts.size:
        lo, hi = int(ts.min()), int(ts.max())
        if lo < 0:
            raise TimestampOrderError(f"{what}: {lo} is negative (frames since the recording started)")
        if hi > _MAX_TIMESTAMP:
            raise TimestampOrderError(f"{what}: {hi} is beyond 2**62-1 frames")
    return ts.astype(np.int64, copy=False)


def _now() -> tuple[str, str]:
    now = datetime.now(UTC)
    return now.isoformat(), now.astimezone().isoformat()


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

    def __init__(self, writer: RecordingWriter, name: str, attributes: dict[str, Any]):
        self._writer = writer
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
        w = self._writer
        with w._lock:
            if w._closed:
                raise WriterClosedError(f"{w.path} is closed; stream {self.name!r} takes no more entries")
            if type(timestamp) is not int or timestamp < 0:
                timestamp = _check_timestamp(timestamp)
            if timestamp <= self._last:
                raise TimestampOrderError(
                    f"stream {self.name!r}: timestamp {timestamp} does not follow the previous one "
                    f"({self._last}); timestamps must strictly increase within a stream"
                )
            if timestamp > _MAX_TIMESTAMP:
                _check_timestamp(timestamp)
            packed = self._pack(value)
            buf = self._buf
            buf += packed
            self._ends.append(len(buf))
            self._ts.append(timestamp)
            self._pending += 1
            self._last = timestamp
            w._pending_bytes += len(packed)
            if w._pending_bytes >= w._flush_bytes:
                w._flush_locked()

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
        w = self._writer
        ts = np.asarray(timestamps)
        if ts.ndim != 1 or (ts.size and ts.dtype.kind not in "iu"):
            raise TimestampOrderError(
                f"timestamps must be a 1-d sequence of int frames (got dtype {ts.dtype}, shape {ts.shape})"
            )
        ts = _checked_frames(ts, "timestamps")
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
        with w._lock:
            if w._closed:
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
            w._pending_bytes += len(part)
            if w._pending_bytes >= w._flush_bytes:
                w._flush_locked()

    def set_attribute(self, key: str, value: Any) -> None:
        """Set one key of the stream's ``application`` attributes."""
        self.update_attributes({key: value})

    def update_attributes(self, attributes: Mapping[str, Any]) -> None:
        """Merge ``attributes`` into the stream's ``application`` attributes."""
        check_attribute_value(dict(attributes))
        with self._writer._lock:
            self._writer._check_open()
            self._attributes.update(attributes)
            self._writer._queue({"op": "attrs", "stream": self.name, "attrs": {"application": dict(self._attributes)}})

    def _take_batch(self) -> dict[str, Any] | None:
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


class RecordingWriter:
    """Write a CL recording file, the way the CL writer lays it out, crash-safely.

    Parameters
    ----------
    path
        The ``.h5`` file to create. It must not exist unless ``overwrite=True``.
    attributes
        The user's attributes, stored as the root ``application`` dict.
    channel_count, frames_per_second, uV_per_sample_unit
        Recording geometry, stored as root attributes (CL: 64, 25000, 0.195).
    start_timestamp
        Frame count at which the recording started (timestamps are relative to it).
    root_attributes
        Further root attributes to store as they are (e.g. ``hostname``, ``project_id``).
    overwrite
        Replace an existing file at ``path``.
    durable
        ``fsync`` the journal on every flush (default). Turn off only for scratch files.
    flush_bytes
        Flush on its own when a buffer reaches this many bytes (default 16 MiB).

    Examples
    --------
    >>> w = cldata.RecordingWriter("rec.h5", attributes={"culture": "C7"})  # doctest: +SKIP
    >>> s = w.create_data_stream("score")                                  # doctest: +SKIP
    >>> s.append(10, {"points": 1}); w.flush()                             # doctest: +SKIP
    >>> w.close()                                                          # doctest: +SKIP
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        attributes: Mapping[str, Any] | None = None,
        *,
        channel_count: int = DEFAULT_CHANNEL_COUNT,
        frames_per_second: int = DEFAULT_FRAMES_PER_SECOND,
        uV_per_sample_unit: float = UV_PER_SAMPLE_UNIT,
        start_timestamp: int = 0,
        root_attributes: Mapping[str, Any] | None = None,
        overwrite: bool = False,
        durable: bool = True,
        flush_bytes: int = _DEFAULT_FLUSH_BYTES,
    ):
        self.path = Path(path)
        self._lock = threading.RLock()
        self._closed = True
        if not isinstance(channel_count, numbers.Integral) or not 1 <= channel_count <= 256:
            raise InvalidDataError(f"channel_count must be an int in 1..256 (channels are uint8), not {channel_count!r}")
        if not isinstance(frames_per_second, numbers.Integral) or frames_per_second <= 0:
            raise InvalidDataError(f"frames_per_second must be a positive int, not {frames_per_second!r}")
        application = dict(attributes or {})
        check_attribute_value(application)
        extra = dict(root_attributes or {})
        check_attribute_value(extra)
        start_timestamp = _check_timestamp(start_timestamp)
        state = journal_state(self.path)
        if state != "none":
            raise UnfinishedRecordingError(
                f"{self.path} has a journal from an earlier writer ({state}); recover it with "
                f"cldata.recover({str(self.path)!r}) or remove {journal_path(self.path)} first"
            )
        if self.path.exists() and not overwrite:
            raise FileExistsError(f"{self.path} exists; pass overwrite=True to replace it")
        if not self.path.parent.is_dir():
            raise FileNotFoundError(f"directory {self.path.parent} does not exist")

        self.channel_count = int(channel_count)
        self.frames_per_second = int(frames_per_second)
        self.start_timestamp = start_timestamp
        self._application = application
        self._flush_bytes = int(flush_bytes)
        created_utc, created_local = _now()
        root = {
            **extra,
            "channel_count": np.int64(channel_count),
            "sampling_frequency": np.int64(frames_per_second),
            "frames_per_second": np.int64(frames_per_second),
            "uV_per_sample_unit": np.float64(uV_per_sample_unit),
            "start_timestamp": np.int64(start_timestamp),
            "created_utc": created_utc,
            "created_localtime": created_local,
            "application": application,
            "file_format": dict(FILE_FORMAT),
        }
        self._streams: dict[str, DataStreamWriter] = {}
        self._pending_ops: list[dict[str, Any]] = []
        self._spikes: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._stims: list[tuple[np.ndarray, np.ndarray]] = []
        self._samples: list[np.ndarray] = []
        self._pending_bytes = 0
        self._last_spike = -1
        self._last_stim = -1

        self._journal = JournalWriter(self.path, durable=durable)
        try:
            open_record = {"op": "open", "root": root}
            # "file": recovery checks that the journal belongs to the recording beside it
            self._journal.append({"op": "open", "root": attrs_to_journal(root), "file": self.path.name})
            self._journal.sync()
            self._file = RecordingFile.create(self.path, open_record)
            self._file.flush()
        except BaseException:
            self._journal.close(remove=True)
            self.path.unlink(missing_ok=True)
            raise
        self._closed = False

    # -- streams and attributes -----------------------------------------------------------

    def create_data_stream(self, name: str, attributes: Mapping[str, Any] | None = None) -> DataStreamWriter:
        """Create a data stream and return its writer.

        Raises
        ------
        cldata.errors.InvalidNameError
            For a name over 64 bytes, with ``/`` or NUL, or already used in this recording.
        """
        check_stream_name(name)
        application = dict(attributes or {})
        check_attribute_value(application)
        with self._lock:
            self._check_open()
            if name in self._streams:
                raise InvalidNameError(f"the recording already has a data stream named {name!r}")
            stream = DataStreamWriter(self, name, application)
            self._streams[name] = stream
            self._queue({"op": "stream", "name": name, "attrs": dict(application)})
            return stream

    @property
    def data_streams(self) -> dict[str, DataStreamWriter]:
        """The stream writers created so far, by name."""
        return dict(self._streams)

    @property
    def attributes(self) -> dict[str, Any]:
        """A copy of the current root ``application`` attributes."""
        return dict(self._application)

    def set_attribute(self, key: str, value: Any) -> None:
        """Set one key of the root ``application`` attributes."""
        self.update_attributes({key: value})

    def update_attributes(self, attributes: Mapping[str, Any]) -> None:
        """Merge ``attributes`` into the root ``application`` attributes."""
        check_attribute_value(dict(attributes))
        with self._lock:
            self._check_open()
            self._application.update(attributes)
            self._queue({"op": "attrs", "stream": None, "attrs": {"application": dict(self._application)}})

    # -- spikes, stims, samples --------------------------------------------------------

    def _check_channels(self, channels: np.ndarray, what: str) -> np.ndarray:
        if channels.size and (channels.dtype.kind not in "iu" or channels.min() < 0 or channels.max() >= self.channel_count):
            raise InvalidDataError(f"{what} channels must be ints in 0..{self.channel_count - 1}")
        return channels.astype(np.uint8)

    def _check_event_times(self, ts: np.ndarray, last: int, what: str) -> np.ndarray:
        if ts.ndim != 1 or (ts.size and ts.dtype.kind not in "iu"):
            raise TimestampOrderError(f"{what} timestamps must be a 1-d sequence of int frames")
        ts = _checked_frames(ts, f"{what} timestamps")
        if ts.size:
            if ts[0] < last or (ts.size > 1 and np.any(ts[1:] < ts[:-1])):
                raise TimestampOrderError(
                    f"{what} must be appended in time order (timestamps may repeat across channels, "
                    f"never go back; the last one written was {last})"
                )
        return ts

    def append_spikes(self, timestamps: Any, channels: Any, waveforms: Any) -> None:
        """Append detected spikes: frames, channels and ``(n, 75)`` waveforms in µV.

        Raises
        ------
        cldata.errors.TimestampOrderError
            If the spikes go back in time.
        cldata.errors.InvalidDataError
            For mismatched lengths, channels out of range, or waveforms not ``(n, 75)``.
        """
        ts = np.atleast_1d(np.asarray(timestamps))
        ch = np.atleast_1d(np.asarray(channels))
        wf = np.asarray(waveforms, dtype=np.float32)
        if wf.ndim == 1 and ts.size == 1:
            wf = wf[None, :]
        if ch.shape != ts.shape or wf.shape != (ts.size, WAVEFORM_LENGTH):
            raise InvalidDataError(
                f"append_spikes needs n timestamps, n channels and (n, {WAVEFORM_LENGTH}) waveforms; "
                f"got {ts.shape}, {ch.shape} and {wf.shape}"
            )
        with self._lock:
            self._check_open()
            ts = self._check_event_times(ts, self._last_spike, "spikes")
            ch = self._check_channels(ch, "spike")
            if ts.size:
                self._spikes.append((ts, ch, wf.copy()))
                self._last_spike = int(ts[-1])
                self._note_pending(ts.nbytes + ch.nbytes + wf.nbytes)

    def append_spike(self, timestamp: int, channel: int, waveform: Any) -> None:
        """Append one spike (see :meth:`append_spikes`)."""
        self.append_spikes([timestamp], [channel], np.asarray(waveform, dtype=np.float32)[None, :])

    def append_stims(self, timestamps: Any, channels: Any) -> None:
        """Append stimulations: frames and channels."""
        ts = np.atleast_1d(np.asarray(timestamps))
        ch = np.atleast_1d(np.asarray(channels))
        if ch.shape != ts.shape:
            raise InvalidDataError(f"append_stims needs as many channels as timestamps; got {ts.shape} and {ch.shape}")
        with self._lock:
            self._check_open()
            ts = self._check_event_times(ts, self._last_stim, "stims")
            ch = self._check_channels(ch, "stim")
            if ts.size:
                self._stims.append((ts, ch))
                self._last_stim = int(ts[-1])
                self._note_pending(ts.nbytes + ch.nbytes)

    def append_stim(self, timestamp: int, channel: int) -> None:
        """Append one stimulation."""
        self.append_stims([timestamp], [channel])

    def append_samples(self, frames: Any) -> None:
        """Append raw samples: an integer array ``(n_frames, channel_count)`` in sample units.

        Row ``i`` of all samples appended is frame ``i`` after the start; µV = value × 0.195.

        Raises
        ------
        cldata.errors.InvalidDataError
            For a wrong shape, a non-integer dtype, or values outside int16.
        """
        a = np.asarray(frames)
        if a.ndim != 2 or a.shape[1] != self.channel_count:
            raise InvalidDataError(
                f"samples must have shape (n_frames, {self.channel_count}), not {a.shape}"
            )
        if a.dtype != np.int16:
            if a.dtype.kind not in "iu":
                raise InvalidDataError(f"samples are integer sample units (int16), not {a.dtype}")
            if a.size and (a.min() < -32768 or a.max() > 32767):
                raise InvalidDataError("sample values must fit in int16 (-32768..32767)")
        a = np.array(a, dtype=np.int16, order="C", copy=True)
        with self._lock:
            self._check_open()
            if a.shape[0]:
                self._samples.append(a)
                self._note_pending(a.nbytes)

    def _note_pending(self, nbytes: int) -> None:
        self._pending_bytes += nbytes
        if self._pending_bytes >= self._flush_bytes:
            self._flush_locked()

    # -- flushing and closing ------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise WriterClosedError(f"{self.path} has been closed; open a new RecordingWriter to write more")

    def _queue(self, op: dict[str, Any]) -> None:
        # attribute and stream operations take effect in order with the entries around them
        self._flush_entries_locked()
        self._pending_ops.append(op)
        if self._pending_bytes >= self._flush_bytes:
            self._flush_locked()

    def _take_batch(self) -> dict[str, Any] | None:
        streams = {}
        for name, stream in self._streams.items():
            part = stream._take_batch()
            if part is not None:
                streams[name] = part
        batch: dict[str, Any] = {"op": "batch", "streams": streams, "spikes": None, "stims": None, "samples": None}
        if self._spikes:
            ts, ch, wf = zip(*self._spikes)
            batch["spikes"] = {"ts": np.concatenate(ts), "ch": np.concatenate(ch), "wf": np.concatenate(wf)}
            self._spikes = []
        if self._stims:
            ts, ch = zip(*self._stims)
            batch["stims"] = {"ts": np.concatenate(ts), "ch": np.concatenate(ch)}
            self._stims = []
        if self._samples:
            batch["samples"] = np.concatenate(self._samples)
            self._samples = []
        if not streams and all(batch[k] is None for k in ("spikes", "stims", "samples")):
            return None
        return batch

    def _flush_entries_locked(self) -> None:
        batch = self._take_batch()
        if batch is not None:
            self._pending_ops.append(batch)

    def _flush_locked(self) -> None:
        self._flush_entries_locked()
        ops, self._pending_ops = self._pending_ops, []
        self._pending_bytes = 0
        if not ops:
            return
        try:
            for op in ops:
                self._journal.append(_journal_form(op))
            self._journal.sync()
        except BaseException:
            self._fail()
            raise
        # the batch is durable now; the HDF5 file follows it
        try:
            for op in ops:
                self._file.apply(op)
            self._file.flush()
        except BaseException:
            self._fail()
            raise

    def _fail(self) -> None:
        # the journal keeps what was flushed; cldata.recover() restores it
        self._closed = True
        self._file.abort()
        self._journal.close(remove=False)

    def flush(self) -> None:
        """Make everything appended so far durable.

        When this returns, the data is in the journal on disk: it survives the writer
        being killed and is restored by :func:`cldata.recover`.
        """
        with self._lock:
            self._check_open()
            self._flush_locked()

    def close(self, end_timestamp: int | None = None) -> None:
        """Flush, set the closing attributes, and close the file (removing the journal).

        Parameters
        ----------
        end_timestamp
            The frame at which the recording ended. By default, the later of the samples'
            end and one frame after the last event or entry written.
        """
        with self._lock:
            if self._closed:
                return
            self._flush_locked()
            duration = None
            if end_timestamp is not None:
                duration = _check_timestamp(end_timestamp) - self.start_timestamp
                if duration < 0:
                    raise InvalidDataError("end_timestamp comes before start_timestamp")
            close_root = self._file.closing_attributes(duration)
            try:
                self._journal.append({"op": "close", "root": attrs_to_journal(close_root)})
                self._journal.sync()
                self._file.finish(close_root)
            except BaseException:
                self._fail()
                raise
            self._closed = True
            self._journal.close(remove=True)

    @property
    def closed(self) -> bool:
        """Whether the writer has been closed."""
        return self._closed

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        # on an exception too: everything appended is kept and the file is completed
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        n = len(self._streams)
        return f"<RecordingWriter {str(self.path)!r} ({state}, {n} stream{'' if n == 1 else 's'})>"


def _journal_form(op: dict[str, Any]) -> dict[str, Any]:
    if op["op"] in ("stream", "attrs"):
        return {**op, "attrs": attrs_to_journal(op["attrs"])}
    return op
