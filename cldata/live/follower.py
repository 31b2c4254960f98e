"""Following a recording while it is written: :func:`follow` and its adapters.

HDF5 files cannot be read while a PyTables writer has them open, and the CL tools refuse
to open a recording before it stops. cldata can do better: a
:class:`~cldata.RecordingWriter` in one process, and in another::

    from cldata.live.follower import follow

    for event in follow("rec.h5", streams=["ball*", "score"], spikes=True):
        ...  # StreamEntry(stream, timestamp, value) | Spikes(...) as the writer flushes them

:func:`follow` yields every data-stream entry (and, if asked, spikes, stims and raw
samples) from the beginning of the recording, in order, each exactly once, as the writer
flushes them, and ends when the writer closes the recording. The same call reads a
finished recording (so code written for the live case also runs after the fact).

The live channel: the recording's journal
-----------------------------------------
The writer keeps no second channel for followers: it already keeps one that has every
property a follower needs, the crash-safety journal ``<recording>.journal``
(:mod:`cldata.format.journal`). It is append-only, every record is checksummed, each
``flush()`` appends one ``batch`` record and makes it durable before it returns, and the
writer holds an advisory lock on it for as long as it lives. A follower only ever reads
it; it never writes, locks (beyond a non-blocking probe) or deletes anything, so any
number of followers cost the writer nothing.

Layout (all integers little-endian)::

    header   b"CLDJRNL1"
    record   <u32 payload length> <u32 CRC-32 of the payload> <payload>
    payload  one msgpack map (cldata codec) with an "op" key:

    {"op": "open",   "root": <pickled root attributes>}              always the first record
    {"op": "stream", "name": str, "attrs": <pickled attributes>}     a data stream was created
    {"op": "attrs",  "stream": str | None, "attrs": <pickled dict>}  attributes changed
    {"op": "batch",  "streams": {name: {"ts": int64[n], "ends": int64[n], "data": bytes}},
                     "spikes":  {"ts": int64[m], "ch": uint8[m], "wf": float32[m, 75]} | None,
                     "stims":   {"ts": int64[k], "ch": uint8[k]} | None,
                     "samples": int16[frames, channels] | None}      one per flush()
    {"op": "close",  "root": <pickled closing attributes>}           always the last record

In a ``batch``, ``data`` holds the stream's entries encoded end to end exactly as the
CL file stores them, ``ends[i]`` is the end offset of entry ``i`` in ``data``
(:func:`cldata.format.codec.decode_span` decodes them all in one pass). ``samples`` holds
every raw sample frame appended (``append_samples``) since the previous flush, in sample
units, one row per frame: the batches' ``samples`` laid end to end are the file's
``/samples``, so a batch's first row is frame "rows in all earlier batches" (frames
count from the recording's start, like every timestamp). Pickled attributes are read only
through :func:`cldata.format.writer.attrs_from_journal` (an allow-list); :func:`follow`
reads only the ``open`` record's (for ``uV_per_sample_unit`` and ``channel_count``), and
only when asked for samples.

What a follower may rely on:

- **Order.** Records appear in the order the writer performed the operations. A stream's
  ``stream`` record precedes its first entries; within a stream, timestamps strictly
  increase across all batches; spikes and stims never go back in time; samples are
  contiguous (each batch's rows follow the previous batch's last row).
- **Completeness.** Every ``flush()`` that returned is a complete, checksum-valid record.
  Everything appended before a ``flush()`` is in that flush's record or an earlier one.
- **Torn tails.** A record the reader sees only in part (it is being written, or the
  writer died while writing it) is incomplete or fails its checksum: it means "not yet".
  A follower consumes only complete, valid records and re-reads the rest on the next poll.
- **Visibility before durability.** A batch becomes readable when the writer has written
  it to the operating system, which is just *before* its ``fsync`` (and so before
  ``flush()`` returns). A follower may therefore see a batch a little before the writer's
  ``flush()`` returns; it survives the death of the writer's process from that moment,
  and a power loss once ``flush()`` has returned.
- **The end.** A clean close appends the ``close`` record, then deletes the journal, then
  drops the lock. A follower that has the journal open keeps reading it after the delete
  (POSIX keeps an unlinked file readable while it is open), so it always sees ``close``.
- **A dead writer.** The kernel drops the lock when the writer's process ends, however it
  ends. An unlocked journal (past its header) without a ``close`` record belongs to a
  writer that died: nothing more will be appended, and :func:`cldata.recover` will
  rebuild the file from exactly the records a follower has seen.
- **Unknown operations** are skipped, so a follower keeps working with later writers
  that journal more kinds of records.

Following needs a local POSIX file system (flock, unlink of open files); on Windows a
follower holding the journal open would make the writer's final delete fail.

Events
------
By default :func:`follow` yields per-entry :class:`StreamEntry` events (a value is one
Python object anyway, decoded one by one, so a small tuple per entry costs little next to
the decode), and vectorised :class:`Spikes` and :class:`Stims` events, one per flushed
batch: spikes come by the thousand per second across 64 channels with a 75-sample
waveform each, and numpy arrays of a batch are what analyses want (per-spike objects
would cost more than reading them). With ``samples=True`` it also yields one
:class:`Samples` event per batch that holds raw samples: the batch's first frame and its
int16 ``(frames, channels)`` array, as the writer appended it (:meth:`Samples.scaled`
gives µV, as ``RecordingView.read_samples(scaled=True)`` does). Samples are off by
default: 64 channels at 25 kHz are 3.2 MB/s, more than everything else together, so a
follower that does not want them should not pay for them. With ``batch=True`` it yields
one :class:`Batch` per journal ``batch`` record instead (the stream entries as
``(timestamps array, values list)``, the rest in ``spikes``, ``stims`` and ``samples``),
which is what the adapters and high-rate consumers use.

Within a batch, events come stream by stream in the order the writer created the
streams, then spikes, then stims, then samples; batches come in the order they were
flushed (samples come last: they are the bulk of a batch, and a consumer that reacts to
entries or spikes sees those first). A stream's entries are therefore always in timestamp
order; entries of different streams are in flush order (an entry of stream B flushed
after one of stream A comes after it, whatever the timestamps). Samples are contiguous:
each :class:`Samples` starts at the frame after the previous one's last.

A finished recording is replayed from the HDF5 file in one-second windows (by
timestamp) that play the role of batches: every selected stream's entries in the window,
then its spikes, then its stims, then its sample frames (one :class:`Samples` event of at
most one second, read from disk window by window: memory stays bounded by the window
however long the recording). A window starts at the earliest timestamp still to come
among what was asked for, so asking for samples (which start at frame 0 and have no gaps)
can move the window boundaries of the other events; each one still arrives exactly once,
in order.

How it ends
-----------
- the writer closed the recording: the generator returns after the last batch;
- the writer died (its journal is unlocked and has no ``close`` record): everything it
  flushed is yielded, then :class:`cldata.errors.UnfinishedRecordingError` is raised. An
  error rather than a warning, because a consumer must not mistake a truncated recording
  for a complete one; catch it to keep what arrived (``cldata.recover(path)`` makes the
  file whole with exactly that data);
- nothing appeared at the path within ``start_timeout`` seconds: :class:`FileNotFoundError`;
- ``idle_timeout`` seconds passed without a new record from a live writer:
  :class:`TimeoutError`.

Live plots (optional extra)
---------------------------
:func:`follow_dataframes` yields one pandas DataFrame per flushed batch (pandas is the
optional extra ``cldata[pandas]``). Fed to a holoviews ``Buffer`` it draws a live plot in
a notebook. holoviews, bokeh and tornado are *not* cldata dependencies; install them
yourself (``pip install holoviews bokeh``). The follower blocks while it waits, so it runs
in a thread, and a periodic callback on the notebook's IOLoop hands its frames to the
plot (holoviews streams must be driven from the IOLoop)::

    import queue, threading
    import pandas as pd
    import holoviews as hv
    from holoviews.streams import Buffer
    from tornado.ioloop import PeriodicCallback
    from cldata.live.follower import follow_dataframes

    hv.extension("bokeh")
    example = pd.DataFrame({"timestamp": pd.Series(dtype="int64"),
                            "x": pd.Series(dtype="float64"), "y": pd.Series(dtype="float64")})
    buffer = Buffer(example, length=5_000, index=False)   # keeps the last 5,000 rows
    frames = queue.SimpleQueue()

    def pump():                                            # runs until the writer closes
        for df in follow_dataframes("rec.h5", "ball_position"):
            frames.put(df.reset_index()[["timestamp", "x", "y"]])

    threading.Thread(target=pump, daemon=True).start()

    def drain():
        parts = []
        while not frames.empty():
            parts.append(frames.get())
        if parts:
            buffer.send(pd.concat(parts, ignore_index=True))

    PeriodicCallback(drain, 100).start()                   # 10 plot updates per second
    hv.DynamicMap(lambda data: hv.Curve(data, "timestamp", "y"), streams=[buffer])

With streamz instead, make ``source = streamz.Stream()`` and
``sdf = streamz.dataframe.DataFrame(source, example=example)``, call
``source.emit(pd.concat(parts, ignore_index=True))`` in ``drain()``, and plot
``hv.DynamicMap(hv.Curve, streams=[Buffer(sdf.y, length=5_000)])`` (or
``sdf.hvplot()`` with hvplot).

Examples
--------
>>> from cldata.live.follower import StreamEntry, follow
>>> for event in follow("rec.h5", streams="ball*", spikes=True):   # doctest: +SKIP
...     if isinstance(event, StreamEntry):
...         print(event.stream, event.timestamp, event.value)
...     else:
...         print(len(event.timestamps), "spikes")
>>> for b in follow("rec.h5", batch=True):                        # doctest: +SKIP
...     ts, values = b.streams.get("score", ((), []))
>>> for e in follow("rec.h5", streams=[], samples=True):          # doctest: +SKIP
...     print(e.timestamp, e.samples.shape, e.scaled().max())     # frame, (frames, 64), µV
"""

from __future__ import annotations

import math
import os
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from cldata.core.fsutil import open_regular
from cldata.core.locking import is_locked_fd
from cldata.errors import (
    CorruptRecordingError,
    RecordingInProgressError,
    UnfinishedRecordingError,
)
from cldata.format.codec import decode_span
from cldata.format.journal import FRAME, MAGIC, MAX_RECORD, decode_record, journal_path
from cldata.format.layout import UV_PER_SAMPLE_UNIT
from cldata.format.reader import RecordingView, samples_to_uV
from cldata.format.writer import attrs_from_journal
from cldata.query.streams import matching_stream_names

__all__ = ["follow", "follow_dataframes", "StreamEntry", "Spikes", "Stims", "Samples", "Batch"]

_MAX_TIMESTAMP = 2**63 - 1
_READ_CHUNK = 64 << 20  # bytes of journal read at once (more only for a record that is larger)


# -- events ------------------------------------------------------------------------------------


class StreamEntry(NamedTuple):
    """One data-stream entry: the stream's name, its timestamp (frames) and its decoded value."""

    stream: str
    timestamp: int
    value: Any


class Spikes(NamedTuple):
    """The spikes of one flushed batch, vectorised.

    Attributes
    ----------
    timestamps : numpy.ndarray
        int64 frames, non-decreasing.
    channels : numpy.ndarray
        uint8 channel numbers.
    waveforms : numpy.ndarray
        float32 ``(n, 75)`` waveforms in µV (25 samples before the spike, 50 from it).
    """

    timestamps: np.ndarray
    channels: np.ndarray
    waveforms: np.ndarray

    def __len__(self) -> int:  # type: ignore[override]
        return int(self.timestamps.size)


class Stims(NamedTuple):
    """The stimulations of one flushed batch: int64 ``timestamps`` and uint8 ``channels``."""

    timestamps: np.ndarray
    channels: np.ndarray

    def __len__(self) -> int:  # type: ignore[override]
        return int(self.timestamps.size)


class Samples(NamedTuple):
    """The raw samples of one flushed batch (or one replayed window), vectorised.

    Attributes
    ----------
    timestamp : int
        The frame of the first row: row ``i`` is frame ``timestamp + i`` (frames since the
        recording started, like every timestamp; the file's ``/samples`` row number).
    samples : numpy.ndarray
        int16 ``(frames, channels)`` in sample units, exactly as the writer appended them.
    uV_per_sample_unit : float
        The recording's scale from sample units to µV (CL: 0.195).

    Examples
    --------
    >>> import numpy as np
    >>> s = Samples(25000, np.array([[10, -20], [12, 0]], np.int16), 0.5)
    >>> len(s), s.stop, s.scaled().tolist()
    (2, 25002, [[5.0, -10.0], [6.0, 0.0]])
    """

    timestamp: int
    samples: np.ndarray
    uV_per_sample_unit: float

    def __len__(self) -> int:  # type: ignore[override]
        return int(self.samples.shape[0])

    @property
    def stop(self) -> int:
        """One past the last frame (the next batch's ``timestamp``)."""
        return self.timestamp + len(self)

    def scaled(self) -> np.ndarray:
        """The samples in µV as float32, as ``RecordingView.read_samples(scaled=True)`` gives them."""
        return samples_to_uV(self.samples, self.uV_per_sample_unit)


@dataclass(frozen=True)
class Batch:
    """What one journal ``batch`` record (one ``flush()``) holds for the selection.

    Attributes
    ----------
    number : int
        The batch's position among the recording's batches (0-based; batches holding nothing
        selected are skipped, so numbers can jump). For a finished recording, the number of
        the one-second window it replays.
    streams : dict
        Stream name → ``(timestamps, values)``: an int64 array and the list of decoded values,
        in timestamp order; streams in the order the writer created them (for a finished
        recording, in the file's order).
    spikes : Spikes or None
        The batch's spikes, if spikes were asked for and there are any.
    stims : Stims or None
        The batch's stims, likewise.
    live : bool
        Whether the batch was read from a live journal (else from a finished file).
    samples : Samples or None
        The batch's raw samples, if samples were asked for and the batch has any (last, so
        that ``Batch(number, streams, spikes, stims, live)`` keeps its meaning).
    """

    number: int
    streams: dict[str, tuple[np.ndarray, list[Any]]] = field(default_factory=dict)
    spikes: Spikes | None = None
    stims: Stims | None = None
    live: bool = True
    samples: Samples | None = None

    @property
    def entry_count(self) -> int:
        """How many data-stream entries the batch holds."""
        return sum(len(values) for _, values in self.streams.values())

    def __bool__(self) -> bool:
        return bool(self.streams) or any(x is not None for x in (self.spikes, self.stims, self.samples))

    def events(self) -> Iterator[StreamEntry | Spikes | Stims | Samples]:
        """The batch as events: every stream's entries, then spikes, then stims, then samples."""
        for name, (ts, values) in self.streams.items():
            for t, v in zip(ts.tolist(), values):
                yield StreamEntry(name, t, v)
        if self.spikes is not None:
            yield self.spikes
        if self.stims is not None:
            yield self.stims
        if self.samples is not None:
            yield self.samples


# -- the public generators ------------------------------------------------------------------------


def follow(
    source: Any,
    streams: str | Iterable[str] | None = None,
    *,
    spikes: bool = False,
    stims: bool = False,
    samples: bool = False,
    poll_interval: float = 0.005,
    start_timeout: float = 30.0,
    idle_timeout: float | None = None,
    batch: bool = False,
) -> Iterator[Any]:
    """Yield a recording's data as its writer flushes it, from the beginning, until it closes.

    Parameters
    ----------
    source
        A recording path (being written, about to be written, or finished), a store's
        :class:`~cldata.RecordingHandle`, or a :class:`~cldata.RecordingView` (both finished
        recordings, read through their window and stream selection). A path with a file
        but no journal is a finished recording and is read as such (even if a writer is
        about to overwrite it: remove the old file first to follow the new recording).
    streams
        Which data streams: a name, a glob pattern (``"ball*"``), a list of either, or
        ``None`` for all (the rules of ``cldata.query.streams.matching_stream_names``).
        Streams created later in the recording are matched when they appear.
    spikes, stims
        Also yield :class:`Spikes` / :class:`Stims` events (vectorised, one per batch).
    samples
        Also yield :class:`Samples` events: each batch's raw sample frames (int16
        ``(frames, channels)`` with the first frame's timestamp; µV through
        :meth:`Samples.scaled`). Off by default: 64 channels at 25 kHz are 3.2 MB/s.
    poll_interval
        Seconds between two looks at the journal when nothing new has arrived.
    start_timeout
        Seconds to wait for the recording (or its journal) to appear at ``source``.
    idle_timeout
        Seconds without a new record from a live writer after which to give up with
        :class:`TimeoutError` (``None``: wait as long as the writer lives).
    batch
        Yield one :class:`Batch` per flushed batch instead of individual events.

    Returns
    -------
    iterator
        A generator of :class:`StreamEntry`, :class:`Spikes`, :class:`Stims` and
        :class:`Samples` events, in that order within a batch (or of :class:`Batch`
        objects). Closing it early (``break``) releases the journal.

    Raises
    ------
    cldata.errors.UnfinishedRecordingError
        After everything flushed has been yielded, if the writer died without closing.
    FileNotFoundError
        If nothing appeared at ``source`` within ``start_timeout``.
    TimeoutError
        If ``idle_timeout`` passed without news from a live writer.
    cldata.errors.ParameterError
        For a ``streams`` argument that is not a name, pattern or list of them (at once).
    cldata.errors.CorruptRecordingError
        If the journal is not a cldata journal or holds a record that does not decode (or,
        with ``samples``, a batch whose samples are not int16 ``(frames, channel_count)``).

    Examples
    --------
    >>> for e in follow("rec.h5", ["ball_position"]):      # doctest: +SKIP
    ...     print(e.timestamp, e.value["x"])
    >>> for e in follow("rec.h5", [], samples=True):       # doctest: +SKIP
    ...     print(e.timestamp, len(e), e.scaled()[:, 0].mean())
    """
    select = _Selector(streams)
    for name, value in (("poll_interval", poll_interval), ("start_timeout", start_timeout)):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number of seconds >= 0, not {value!r}")
    if idle_timeout is not None and (not isinstance(idle_timeout, (int, float)) or idle_timeout < 0):
        raise ValueError(f"idle_timeout must be None or a number of seconds >= 0, not {idle_timeout!r}")
    kinds = _Kinds(bool(spikes), bool(stims), bool(samples))
    batches = _batches(_resolve(source), select, kinds, float(poll_interval), float(start_timeout),
                       idle_timeout)  # fmt: skip
    return batches if batch else _events(batches)


def follow_dataframes(source: Any, stream: str, **kwargs: Any) -> Iterator[Any]:
    """Follow one data stream (a name or glob pattern) as pandas DataFrames, one per batch.

    Each DataFrame holds the entries one flush brought for one stream: indexed by
    ``timestamp`` (frames), with a column per key when the entries are dicts (keys missing
    from an entry are NaN; nested values stay Python objects), else a single ``value``
    column. ``df.attrs["stream"]`` names the stream. Other keyword arguments are those of
    :func:`follow` (``poll_interval``, ``start_timeout``, ``idle_timeout``). See the module
    documentation for a live holoviews plot fed by it.

    Raises
    ------
    ImportError
        If pandas is not installed (``pip install 'cldata[pandas]'``).

    Examples
    --------
    >>> for df in follow_dataframes("rec.h5", "ball_position"):   # doctest: +SKIP
    ...     print(df["x"].mean())
    """
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("follow_dataframes() needs pandas: pip install 'cldata[pandas]'") from None
    for key in ("batch", "spikes", "stims", "samples", "streams"):
        if key in kwargs:
            raise TypeError(f"follow_dataframes() does not take {key!r}: it follows data streams as DataFrames")
    if not isinstance(stream, str):
        raise TypeError(f"follow_dataframes() follows one stream name or glob pattern, not {stream!r}")
    batches = follow(source, [stream], batch=True, **kwargs)
    return _dataframes(pd, batches)


def _dataframes(pd: Any, batches: Iterator[Batch]) -> Iterator[Any]:
    with closing(batches):  # closing this generator releases the journal at once
        yield from _frames(pd, batches)


def _frames(pd: Any, batches: Iterator[Batch]) -> Iterator[Any]:
    for b in batches:
        for name, (ts, values) in b.streams.items():
            index = pd.Index(ts, name="timestamp")
            if values and all(isinstance(v, dict) for v in values):
                df = pd.DataFrame(values, index=index)
            else:
                column = np.empty(len(values), dtype=object)
                for i, v in enumerate(values):  # arrays and lists stay whole cells
                    column[i] = v
                df = pd.DataFrame({"value": column}, index=index)
            df.attrs["stream"] = name
            yield df


def _events(batches: Iterator[Batch]) -> Iterator[StreamEntry | Spikes | Stims | Samples]:
    with closing(batches):  # closing this generator releases the journal at once
        for b in batches:
            yield from b.events()


# -- the source ---------------------------------------------------------------------------------


class _Selector:
    """Whether a stream name is selected (memoised: a live recording asks once per batch)."""

    def __init__(self, patterns: str | Iterable[str] | None):
        if patterns is not None and not isinstance(patterns, str):
            patterns = list(patterns)
        matching_stream_names((), patterns)  # raises ParameterError for a malformed selection
        self.patterns = patterns
        self._known: dict[str, bool] = {}

    def __call__(self, name: str) -> bool:
        hit = self._known.get(name)
        if hit is None:
            hit = self._known[name] = bool(matching_stream_names((name,), self.patterns))
        return hit


class _Kinds(NamedTuple):
    """Which vectorised events were asked for besides the stream entries."""

    spikes: bool
    stims: bool
    samples: bool


@dataclass
class _Finished:
    view: RecordingView
    names: list[str] | None  # the streams visible through a store handle (None: all)
    owned: bool  # close the view at the end


def _resolve(source: Any) -> Path | _Finished:
    from cldata.store.view import RecordingHandle

    if isinstance(source, RecordingHandle):
        return _Finished(source.view(), list(source.stream_names), owned=False)
    if isinstance(source, RecordingView):
        return _Finished(source, None, owned=False)
    if isinstance(source, (str, os.PathLike)):
        return Path(source)
    raise TypeError(
        f"follow() takes a recording path, a store RecordingHandle or a RecordingView, not {type(source).__name__}"
    )


def _batches(source: Path | _Finished, select: _Selector, kinds: _Kinds, poll: float, start_timeout: float,
             idle_timeout: float | None) -> Iterator[Batch]:  # fmt: skip
    if isinstance(source, _Finished):
        yield from _replay(source, select, kinds)
        return
    path = source
    jpath = journal_path(path)
    deadline = time.monotonic() + start_timeout
    while True:
        try:
            # never through a link, never blocking on a FIFO planted as the journal
            f = os.fdopen(open_regular(jpath), "rb", buffering=0)  # held open across yields, closed below
        except FileNotFoundError:
            f = None
        except OSError as exc:
            raise CorruptRecordingError(f"{jpath} is not a journal cldata wrote ({exc.strerror or exc}); "
                                        "not followed") from None
        if f is not None:
            try:
                yield from _Tail(f, jpath, select, kinds).run(poll, deadline, idle_timeout)
            finally:
                f.close()
            return
        if path.exists():
            # no journal: a finished recording (or one whose writer just closed it)
            try:
                view = RecordingView(path)
            except (RecordingInProgressError, UnfinishedRecordingError):
                continue  # a journal appeared meanwhile: follow it
            yield from _replay(_Finished(view, None, owned=True), select, kinds)
            return
        if time.monotonic() >= deadline:
            raise FileNotFoundError(
                f"no recording appeared at {path} (nor its journal {jpath.name}) within {start_timeout:g} s"
            )
        time.sleep(poll)


# -- live: tailing the journal --------------------------------------------------------------------


class _Tail:
    """Reads a journal incrementally through one open file and turns its records into batches."""

    def __init__(self, f: Any, path: Path, select: _Selector, kinds: _Kinds):
        self.f = f
        self.fd = f.fileno()
        self.path = path
        self.select = select
        self.spikes = kinds.spikes
        self.stims = kinds.stims
        self.samples = kinds.samples
        self.frames = 0  # sample frames seen in the journal: the next batch's first frame
        self.scale = UV_PER_SAMPLE_UNIT  # the open record's uV_per_sample_unit (read if samples)
        self.channels: int | None = None  # ... and its channel_count
        self.offset = 0  # bytes consumed: the header and every complete record handled
        self.need = len(MAGIC)  # the file size at which reading again can make progress
        self.bad_at: int | None = None  # offset of a complete record failing its checksum
        self.bad_followed = False  # ... with more bytes after it in the same read: damage
        self.closed = False
        self.opened = False
        self.batch_number = 0
        self.last_ts: dict[str, int] = {}  # per stream: the last timestamp yielded
        self.counts: dict[str, int] = {}  # per stream: entries seen in the journal

    # reading ----------------------------------------------------------------------------------

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def read_records(self) -> list[dict[str, Any]]:
        """The complete, valid records appended since the last call (possibly none)."""
        size = self.size()
        if size < self.need:
            return []
        self.f.seek(self.offset)
        # a late follower of a long recording reads the journal a chunk at a time
        data = self.f.read(min(size - self.offset, max(_READ_CHUNK, self.need - self.offset)))
        pos = 0
        if self.offset == 0:
            if len(data) < len(MAGIC):
                return []
            if data[: len(MAGIC)] != MAGIC:
                raise CorruptRecordingError(f"{self.path} is not a cldata recording journal")
            pos = len(MAGIC)
        records = []
        self.bad_at = None
        self.bad_followed = False
        while True:
            if len(data) - pos < FRAME.size:
                self.need = self.offset + pos + FRAME.size
                break
            length, crc = FRAME.unpack_from(data, pos)
            end = pos + FRAME.size + length
            if length > MAX_RECORD:
                # garbage, not a record being written: only a dead writer leaves this
                self.bad_at = self.offset + pos
                self.bad_followed = True
                self.need = self.offset + len(data) + 1
                break
            if end > len(data):
                self.need = self.offset + end
                break
            payload = data[pos + FRAME.size : end]
            if zlib.crc32(payload) != crc:
                # either not fully visible yet (read again) or torn by a dead writer
                self.bad_at = self.offset + pos
                self.bad_followed = end < len(data)
                self.need = self.offset + end
                break
            records.append(decode_record(payload, self.path))
            pos = end
        self.offset += pos
        return records

    def writer_alive(self) -> bool:
        """Whether a writer still holds the journal's lock (probed on our own descriptor,
        so it answers for this journal even after it was deleted or replaced)."""
        return is_locked_fd(self.fd)

    # turning records into batches --------------------------------------------------------------

    def handle(self, record: dict[str, Any]) -> Batch | None:
        op = record["op"]
        if op == "batch":
            number = self.batch_number
            self.batch_number += 1
            return self.take_batch(record, number)
        if op == "open":
            self.opened = True
            if self.samples:
                self.read_geometry(record)
        elif op == "stream":
            self.counts.setdefault(record["name"], 0)
        elif op == "close":
            self.closed = True
        return None  # "attrs" and unknown operations carry no entries

    def read_geometry(self, record: dict[str, Any]) -> None:
        """The scale and channel count of the samples, from the ``open`` record's root attributes."""
        # the restricted unpickler: a journal is data from disk and runs nothing
        root = attrs_from_journal(record["root"])
        try:
            self.scale = float(root.get("uV_per_sample_unit", UV_PER_SAMPLE_UNIT))
            if "channel_count" in root:
                self.channels = int(root["channel_count"])
        except (TypeError, ValueError):
            raise CorruptRecordingError(f"journal {self.path}: its open record holds a malformed "
                                        "uV_per_sample_unit or channel_count") from None  # fmt: skip

    def take_samples(self, raw: Any) -> Samples | None:
        """The batch's samples as an event, checked, numbered after the frames before them."""
        if raw is None:
            return None
        if not isinstance(raw, np.ndarray) or raw.ndim != 2 or raw.dtype != np.int16 \
                or (self.channels is not None and raw.shape[1] != self.channels):
            what = f"{raw.dtype} {raw.shape}" if isinstance(raw, np.ndarray) else type(raw).__name__
            raise CorruptRecordingError(
                f"journal {self.path}: batch {self.batch_number - 1} holds samples that are {what}, "
                f"not int16 (frames, {self.channels if self.channels is not None else 'channels'})"
            )
        first = self.frames
        self.frames += raw.shape[0]
        return Samples(first, raw, self.scale) if raw.shape[0] else None

    def take_batch(self, record: dict[str, Any], number: int) -> Batch | None:
        streams: dict[str, tuple[np.ndarray, list[Any]]] = {}
        for name, part in (record.get("streams") or {}).items():
            ts = np.asarray(part["ts"], dtype=np.int64)
            self.counts[name] = self.counts.get(name, 0) + int(ts.size)
            if not ts.size or not self.select(name):
                continue
            values = decode_span(part["data"], int(ts.size))
            last = self.last_ts.get(name, -1)
            if ts[0] <= last:
                # entries already yielded (a record seen twice): never yield them again
                keep = ts > last
                ts = ts[keep]
                values = [v for v, k in zip(values, keep.tolist()) if k]
                if not ts.size:
                    continue
            self.last_ts[name] = int(ts[-1])
            streams[name] = (ts, values)
        spk = stm = None
        if self.spikes and record.get("spikes") is not None:
            s = record["spikes"]
            if len(s["ts"]):
                spk = Spikes(np.asarray(s["ts"], dtype=np.int64), np.asarray(s["ch"], dtype=np.uint8),
                             np.asarray(s["wf"], dtype=np.float32))  # fmt: skip
        if self.stims and record.get("stims") is not None:
            s = record["stims"]
            if len(s["ts"]):
                stm = Stims(np.asarray(s["ts"], dtype=np.int64), np.asarray(s["ch"], dtype=np.uint8))
        # not even looked at unless asked for: following with samples off costs what it did
        smp = self.take_samples(record.get("samples")) if self.samples else None
        b = Batch(number, streams, spk, stm, live=True, samples=smp)
        return b if b else None

    # the loop -----------------------------------------------------------------------------------

    def handled(self, records: list[dict[str, Any]]) -> Iterator[Batch]:
        """The batches of ``records``, up to the ``close`` record if one is among them."""
        for record in records:
            batch = self.handle(record)
            if batch is not None:
                yield batch
            if self.closed:
                return

    def run(self, poll: float, start_deadline: float, idle_timeout: float | None) -> Iterator[Batch]:
        last_news = time.monotonic()
        while True:
            records = self.read_records()
            if records:
                yield from self.handled(records)
                if self.closed:
                    return
                last_news = time.monotonic()
                continue
            now = time.monotonic()
            if self.offset == 0 and self.size() < len(MAGIC):
                # The writer creates the journal and then locks it; it writes the header only
                # once it holds the lock. Until then the file proves nothing (and probing
                # its lock could race the writer's own non-blocking lock), so just wait.
                if now >= start_deadline and not self.writer_alive():
                    raise UnfinishedRecordingError(
                        f"{self.path} stayed empty for the whole start_timeout and no writer holds it: "
                        "its writer died before writing anything"
                    )
            elif not self.writer_alive():
                # The lock is gone, so is the writer; whatever it wrote is in the file now.
                while records := self.read_records():
                    yield from self.handled(records)
                    if self.closed:
                        return
                if self.bad_at is not None or self.size() > self.offset:
                    torn = f"; {self.size() - self.offset:,} bytes of a torn last record were ignored"
                else:
                    torn = ""
                n = sum(self.counts.values())
                raise UnfinishedRecordingError(
                    f"the writer of {self.path.name.removesuffix('.journal')} stopped without closing it "
                    f"(it crashed or was killed) after {self.batch_number:,} flushed batches "
                    f"({n:,} stream entries in all); everything it flushed has been yielded{torn}; "
                    "cldata.recover() restores the file with exactly that data"
                )
            elif self.bad_at is not None and self.bad_followed:
                # a record fails its checksum although later bytes follow it while the writer
                # lives (a writer only ever appends): the file was damaged, re-reading will not help
                raise CorruptRecordingError(
                    f"journal {self.path}: the record at byte {self.bad_at:,} fails its checksum"
                )
            if idle_timeout is not None and now - last_news > idle_timeout:
                raise TimeoutError(f"no new data in {self.path} for {idle_timeout:g} s although its writer is alive")
            time.sleep(poll)


# -- finished recordings: replay from the file ----------------------------------------------------


def _replay(source: _Finished, select: _Selector, kinds: _Kinds) -> Iterator[Batch]:
    view = source.view
    try:
        yield from _replay_view(view, source.names, select, kinds)
    finally:
        if source.owned:
            view.close()


def _sample_range(view: RecordingView) -> tuple[int, int]:
    """The sample frames ``[lo, hi)`` the view covers: its window within the stored rows."""
    if view.samples is None:
        return 0, 0
    n = int(view.samples.nrows)
    wa, wb = view.window
    lo = 0 if wa is None else min(max(int(wa), 0), n)
    hi = n if wb is None else min(max(int(wb), lo), n)
    return lo, hi


def _replay_view(view: RecordingView, visible: list[str] | None, select: _Selector,
                 kinds: _Kinds) -> Iterator[Batch]:  # fmt: skip
    spikes, stims = kinds.spikes, kinds.stims
    collection = view.data_streams
    names = [n for n in collection if select(n) and (visible is None or n in visible)]
    stream_views = {n: collection[n] for n in names}
    # every source as (timestamps, cursor); a window [a, a + 1 s) at a time, starting at the
    # earliest timestamp still to come, so that long gaps cost nothing
    stamps: dict[Any, np.ndarray] = {n: sv.timestamps for n, sv in stream_views.items()}
    if spikes:
        stamps[Spikes] = view.read_spikes(waveforms=False)["timestamp"].astype(np.int64)
    stim_rows = None
    if stims:
        stim_rows = view.read_stims()
        stamps[Stims] = stim_rows["timestamp"].astype(np.int64)
    cursor = dict.fromkeys(stamps, 0)
    # samples are dense (row = frame), so they get a frame cursor rather than a timestamp
    # array: no per-frame array of the whole recording, only each window's rows are read
    s_next, s_end = _sample_range(view) if kinds.samples else (0, 0)
    scale = view.uV_per_sample_unit
    width = int(view.frames_per_second)
    number = 0
    while True:
        heads = [int(ts[cursor[k]]) for k, ts in stamps.items() if cursor[k] < ts.size]
        if s_next < s_end:
            heads.append(s_next)
        if not heads:
            return
        a = min(heads)
        b = a + width
        streams: dict[str, tuple[np.ndarray, list[Any]]] = {}
        spk = stm = smp = None
        for key, ts in stamps.items():
            i = cursor[key]
            j = ts.size if b > _MAX_TIMESTAMP else int(np.searchsorted(ts, b, side="left"))
            if j <= i:
                continue
            cursor[key] = j
            if key is Spikes:
                rows = view.read_spikes(a, None if b > _MAX_TIMESTAMP else b)
                spk = Spikes(rows["timestamp"].astype(np.int64), rows["channel"].astype(np.uint8),
                             rows["samples"].astype(np.float32))  # fmt: skip
            elif key is Stims:
                rows = stim_rows[i:j]
                stm = Stims(rows["timestamp"].astype(np.int64), rows["channel"].astype(np.uint8))
            else:
                got_ts, values = stream_views[key].read(a, None if b > _MAX_TIMESTAMP else b)
                streams[key] = (got_ts, values)
        if s_next < min(b, s_end):
            j = min(b, s_end)
            smp = Samples(s_next, view.read_samples(s_next, j), scale)
            s_next = j
        yield Batch(number, streams, spk, stm, live=False, samples=smp)
        number += 1
