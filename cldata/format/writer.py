"""Writing CL recordings: ``RecordingWriter`` (its streams' ``DataStreamWriter`` is in :mod:`cldata.format.stream_writer`).

Appends are validated at once (a bad timestamp, name or value raises before anything
changes) and buffered in memory. :meth:`RecordingWriter.flush` writes the buffered batch
to the journal, syncs it to disk, and then appends it to the HDF5 file; when ``flush()``
returns, everything appended before it survives a crash of the process or the machine
(see :mod:`cldata.format.journal`). Buffers also flush on their own when they grow past
``flush_bytes``. Nothing is ever dropped: unlike the official simulator, entries that
arrive fast are all kept.

Each flush makes one *batch* record holding, per part of the recording
(:data:`cldata.format.parts.PARTS`), what was appended since the last: the writer buffers
spikes, stims and samples itself, and each stream writer its own entries.

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
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from cldata.errors import InvalidDataError, InvalidNameError, TimestampOrderError, UnfinishedRecordingError
from cldata.format.attributes import check_attribute_value
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
from cldata.format.parts import PARTS, SAMPLES_PART, SPIKE_PART, STIM_PART, STREAMS, EventPart, empty_batch, part
from cldata.format.records import attrs_from_journal, attrs_to_journal, journal_form
from cldata.format.stream_writer import DataStreamWriter, PendingWrites
from cldata.format.timestamps import check_timestamp, checked_frames

# attrs_to_journal / attrs_from_journal: re-exported where 0.2 had them (cldata.live reads them here)
__all__ = ["RecordingWriter", "DataStreamWriter", "attrs_to_journal", "attrs_from_journal"]

_DEFAULT_FLUSH_BYTES = 16 << 20


def _now() -> tuple[str, str]:
    now = datetime.now(UTC)
    return now.isoformat(), now.astimezone().isoformat()


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
        self._writes = PendingWrites(self.path, int(flush_bytes), self._flush_locked, self._queue)
        if not isinstance(channel_count, numbers.Integral) or not 1 <= channel_count <= 256:
            raise InvalidDataError(f"channel_count must be an int in 1..256 (channels are uint8), not {channel_count!r}")
        if not isinstance(frames_per_second, numbers.Integral) or frames_per_second <= 0:
            raise InvalidDataError(f"frames_per_second must be a positive int, not {frames_per_second!r}")
        application = dict(attributes or {})
        check_attribute_value(application)
        extra = dict(root_attributes or {})
        check_attribute_value(extra)
        start_timestamp = check_timestamp(start_timestamp)
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
        # per part but the streams (their writers buffer their own): the chunks appended since
        # the last batch, and per table of events the last timestamp written
        self._buffered: dict[str, list[Any]] = {p.name: [] for p in PARTS if p is not STREAMS}
        self._last_event: dict[str, int] = {p.name: -1 for p in PARTS if isinstance(p, EventPart)}

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
        self._writes.closed = False

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
        with self._writes.lock:
            self._check_open()
            if name in self._streams:
                raise InvalidNameError(f"the recording already has a data stream named {name!r}")
            stream = DataStreamWriter(self._writes, name, application)
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
        with self._writes.lock:
            self._check_open()
            self._application.update(attributes)
            self._queue({"op": "attrs", "stream": None, "attrs": {"application": dict(self._application)}})

    # -- spikes, stims, samples --------------------------------------------------------

    def _append_events(self, part: EventPart, ts: np.ndarray, ch: np.ndarray, what: str,
                       others: dict[str, np.ndarray]) -> None:
        """Buffer rows of a table of events: times checked against the last written, channels in range."""
        with self._writes.lock:
            self._check_open()
            if ts.ndim != 1 or (ts.size and ts.dtype.kind not in "iu"):
                raise TimestampOrderError(f"{part.name} timestamps must be a 1-d sequence of int frames")
            ts = checked_frames(ts, f"{part.name} timestamps")
            last = self._last_event[part.name]
            if ts.size and (ts[0] < last or (ts.size > 1 and np.any(ts[1:] < ts[:-1]))):
                raise TimestampOrderError(
                    f"{part.name} must be appended in time order (timestamps may repeat across channels, "
                    f"never go back; the last one written was {last})"
                )
            if ch.size and (ch.dtype.kind not in "iu" or ch.min() < 0 or ch.max() >= self.channel_count):
                raise InvalidDataError(f"{what} channels must be ints in 0..{self.channel_count - 1}")
            if ts.size:
                chunk = {"ts": ts, "ch": ch.astype(np.uint8), **others}
                self._buffered[part.name].append(chunk)
                self._last_event[part.name] = int(ts[-1])
                self._writes.added(sum(v.nbytes for v in chunk.values()))

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
        self._append_events(SPIKE_PART, ts, ch, "spike", {"wf": wf.copy()})

    def append_spike(self, timestamp: int, channel: int, waveform: Any) -> None:
        """Append one spike (see :meth:`append_spikes`)."""
        self.append_spikes([timestamp], [channel], np.asarray(waveform, dtype=np.float32)[None, :])

    def append_stims(self, timestamps: Any, channels: Any) -> None:
        """Append stimulations: frames and channels."""
        ts = np.atleast_1d(np.asarray(timestamps))
        ch = np.atleast_1d(np.asarray(channels))
        if ch.shape != ts.shape:
            raise InvalidDataError(f"append_stims needs as many channels as timestamps; got {ts.shape} and {ch.shape}")
        self._append_events(STIM_PART, ts, ch, "stim", {})

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
        with self._writes.lock:
            self._check_open()
            if a.shape[0]:
                self._buffered[SAMPLES_PART.name].append(a)
                self._writes.added(a.nbytes)

    # -- flushing and closing ------------------------------------------------------------

    def _check_open(self) -> None:
        self._writes.check_open()

    def _queue(self, op: dict[str, Any]) -> None:
        # attribute and stream operations take effect in order with the entries around them
        self._flush_entries_locked()
        self._pending_ops.append(op)
        if self._writes.pending_bytes >= self._writes.flush_bytes:
            self._flush_locked()

    def _take_batch(self) -> dict[str, Any] | None:
        """Everything buffered since the last batch, as one batch record (``None``: nothing)."""
        batch = empty_batch()
        streams = {}
        for name, stream in self._streams.items():
            entries = stream.take_batch()
            if entries is not None:
                streams[name] = entries
        batch[STREAMS.name] = streams
        empty = not streams
        for name, chunks in self._buffered.items():
            if chunks:
                batch[name] = part(name).merge(chunks)
                self._buffered[name] = []
                empty = False
        return None if empty else batch

    def _flush_entries_locked(self) -> None:
        batch = self._take_batch()
        if batch is not None:
            self._pending_ops.append(batch)

    def _flush_locked(self) -> None:
        self._flush_entries_locked()
        ops, self._pending_ops = self._pending_ops, []
        self._writes.pending_bytes = 0
        if not ops:
            return
        try:
            for op in ops:
                self._journal.append(journal_form(op))
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
        self._writes.closed = True
        self._file.abort()
        self._journal.close(remove=False)

    def flush(self) -> None:
        """Make everything appended so far durable.

        When this returns, the data is in the journal on disk: it survives the writer
        being killed and is restored by :func:`cldata.recover`.
        """
        with self._writes.lock:
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
        with self._writes.lock:
            if self._writes.closed:
                return
            self._flush_locked()
            duration = None
            if end_timestamp is not None:
                duration = check_timestamp(end_timestamp) - self.start_timestamp
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
            self._writes.closed = True
            self._journal.close(remove=True)

    @property
    def closed(self) -> bool:
        """Whether the writer has been closed."""
        return self._writes.closed

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        # on an exception too: everything appended is kept and the file is completed
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._writes.closed else "open"
        n = len(self._streams)
        return f"<RecordingWriter {str(self.path)!r} ({state}, {n} stream{'' if n == 1 else 's'})>"
