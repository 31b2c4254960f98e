"""HoloViews ``Buffer`` streams of a recording being written: :class:`LiveFeed` and :func:`follow_buffer`.

The model
---------
:func:`cldata.follow` yields what a writer flushes and blocks while it waits, so it runs in
a background daemon thread. HoloViews streams and Bokeh documents belong to the thread of
the loop that serves them (a notebook's or a Panel server's IOLoop), so the follow thread
only *prepares* updates (pandas DataFrames of new rows, min/max bins of the traces,
attribute updates) and puts them in a thread-safe queue; :meth:`LiveFeed.drain`, called
where the plots live (a Panel periodic callback, a few times a second), sends them into
the Buffers in one ``send`` per Buffer. With ``autodrain=True`` (what
:func:`follow_buffer` does) the follow thread drains after every batch itself, which suits
scripts and notebooks (HoloViews schedules the plot refresh on a server document's own
loop when a stream is triggered from another thread).

One follow per file: a :class:`LiveFeed` owns every Buffer of one recording, each with a
bounded backlog (HoloViews keeps only the last ``length`` rows):

- ``feed.stream(name)``: a data stream's entries, columns ``time`` (seconds since the
  recording started) and the stream's numeric fields. A dict entry gives a column per key
  whose value is a number (bools count, as 0/1); any other entry gives a ``value`` column
  if it is a number. The columns are fixed by the first entries (or by ``fields``);
  non-numeric values (strings, arrays, nested containers) are not in the Buffer, where a
  curve cannot show them: they are in ``feed.latest_entries(name)``, the stream's last
  ``table_rows`` entries as they were written, for a table.
- ``feed.spikes`` and ``feed.stims``: columns ``time``, ``channel``.
- ``feed.traces``: the raw samples of the selected channels (``samples=True``) as min/max
  bins: ``bins`` rows spanning the latest ``window`` seconds, columns ``time`` (the bin's
  start) and ``min_<c>``, ``max_<c>`` in µV per channel ``c``: cheap to send and to draw,
  and no spike escapes the envelope.
- attribute updates (:class:`~cldata.live.AttributesUpdated`): ``feed.attributes[name]`` is a
  stream's latest ``application`` attributes; ``feed.attributes_pipe(name)`` is a HoloViews
  ``Pipe`` sent every update in order; ``feed.on_attributes(callback)`` calls
  ``callback(stream, attributes)`` for every update in order. Within one drain the Buffers
  get their rows first, then the updates (a plot refreshes once per drain anyway).

Stopping: ``feed.stop()`` (or leaving ``with feed:``) asks the thread to end; as
:func:`cldata.follow` cannot be interrupted while it waits for the writer, the thread ends at
the writer's next flush (or its close), and being a daemon it never keeps Python alive. An
error in the thread (the writer died: :class:`~cldata.errors.UnfinishedRecordingError`;
nothing appeared: ``FileNotFoundError``) is not lost: it is ``feed.error``, and
:meth:`LiveFeed.drain` raises it once, after delivering everything that arrived before it,
as :meth:`LiveFeed.join` does.

Examples
--------
>>> feed = LiveFeed("rec.h5", spikes=True, samples=True, channels=[0, 1])  # doctest: +SKIP
>>> hv.DynamicMap(hv.Curve, streams=[feed.stream("score", ["points"])])    # doctest: +SKIP
>>> pn.state.add_periodic_callback(feed.drain, 200)                         # doctest: +SKIP
"""

from __future__ import annotations

import numbers
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd  # (holoviews needs it: the view extra brings it)

from cldata.errors import UnsupportedValueError, ValueOutOfRangeError
from cldata.format.layout import DEFAULT_FRAMES_PER_SECOND
from cldata.live import Batch, Samples, follow
from cldata.viz.deps import holoviews

__all__ = ["LiveFeed", "Drained", "follow_buffer", "numeric_fields"]

hv = holoviews()

_SPIKES, _STIMS, _TRACES = "spikes", "stims", "traces"


def _is_number(value: Any) -> bool:
    return isinstance(value, (numbers.Real, np.bool_)) and not isinstance(value, np.datetime64)


def numeric_fields(values: Iterable[Any]) -> list[str]:
    """The Buffer columns of a stream's entries: the keys of dict entries whose values are numbers, else ``value``.

    Examples
    --------
    >>> numeric_fields([{"x": 1.5, "label": "a", "hit": True}, {"y": 2}])
    ['x', 'hit', 'y']
    >>> numeric_fields([3, 4]), numeric_fields(["goal"])
    (['value'], [])
    """
    names: dict[str, None] = {}
    for v in values:
        if isinstance(v, dict):
            names.update((str(k), None) for k, x in v.items() if _is_number(x))
        elif _is_number(v):
            names["value"] = None
    return list(names)


def _number(value: Any) -> float:
    return float(value) if _is_number(value) else np.nan


def _stream_frame(times: np.ndarray, values: list[Any], fields: list[str]) -> pd.DataFrame:
    """One batch of a stream's entries as Buffer rows: ``time`` and each field (NaN where not a number)."""
    data: dict[str, Any] = {"time": times}
    for f in fields:
        if f == "value":
            data[f] = np.array([_number(v.get(f) if isinstance(v, dict) else v) for v in values], np.float64)
        else:
            data[f] = np.array([_number(v.get(f)) if isinstance(v, dict) else np.nan for v in values], np.float64)
    return pd.DataFrame(data, columns=["time", *fields])


def _empty(columns: Sequence[str], ints: Sequence[str] = ()) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c in ints else "float64") for c in columns})


@dataclass
class Drained:
    """What one :meth:`LiveFeed.drain` delivered.

    Attributes
    ----------
    rows : dict
        Buffer key (a stream's name, ``"spikes"``, ``"stims"``, ``"traces"``) → rows sent.
    new_streams : list of str
        Streams whose Buffer was created in this drain (their first entries arrived).
    attributes : list of (str, dict)
        The attribute updates, in order.
    finished : bool
        Whether the follow has ended (the writer closed the recording, it was stopped, or
        it failed) and everything it prepared has been delivered.
    """

    rows: dict[str, int] = field(default_factory=dict)
    new_streams: list[str] = field(default_factory=list)
    attributes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    finished: bool = False

    def __bool__(self) -> bool:
        return bool(self.rows or self.attributes or self.finished)


class _Binner:
    """Min/max bins of the selected channels' samples, carrying a partial bin across batches."""

    def __init__(self, channels: Sequence[int] | int | None, frames_per_bin: int, fps: int) -> None:
        # an int: the first that many channels (fewer if the recording has fewer), known at the first samples
        self.first = int(channels) if isinstance(channels, numbers.Integral) else None
        self.channels = None if channels is None or self.first is not None else [int(c) for c in channels]
        self.per = frames_per_bin
        self.fps = fps
        self.carry: np.ndarray | None = None
        self.start = 0

    def columns(self) -> list[str]:
        return ["time", *(f"{m}_{c}" for c in self.channels or () for m in ("min", "max"))]

    def add(self, s: Samples) -> pd.DataFrame | None:
        if self.channels is None:
            n = s.samples.shape[1]
            self.channels = list(range(n if self.first is None else min(self.first, n)))
        bad = [c for c in self.channels if not 0 <= c < s.samples.shape[1]]
        if bad:
            raise ValueOutOfRangeError(f"channels {bad} are not in this recording of {s.samples.shape[1]} channels; "
                                       f"choose channels from 0 to {s.samples.shape[1] - 1}")
        new = s.samples[:, self.channels].astype(np.float32) * np.float32(s.uV_per_sample_unit)
        if self.carry is None or self.start + len(self.carry) != s.timestamp:
            self.carry, self.start = new[:0], s.timestamp  # samples are contiguous; a gap only at the start
        data = np.concatenate([self.carry, new])
        n = len(data) // self.per * self.per
        self.carry, start = data[n:], self.start
        self.start += n
        return self._frame(start, data[:n].reshape(-1, self.per, data.shape[1])) if n else None

    def flush(self) -> pd.DataFrame | None:
        """The partial last bin, once the recording has ended."""
        if self.carry is None or not len(self.carry):
            return None
        carry, self.carry = self.carry, self.carry[:0]
        return self._frame(self.start, carry[None])

    def _frame(self, start: int, blocks: np.ndarray) -> pd.DataFrame:
        times = (start + np.arange(len(blocks)) * self.per) / self.fps
        lo, hi = blocks.min(axis=1), blocks.max(axis=1)
        data: dict[str, Any] = {"time": times}
        for i, c in enumerate(self.channels or ()):
            data[f"min_{c}"], data[f"max_{c}"] = lo[:, i].astype(np.float64), hi[:, i].astype(np.float64)
        return pd.DataFrame(data, columns=self.columns())


class LiveFeed:
    """The HoloViews Buffers of one recording, fed by one background thread following it.

    Parameters
    ----------
    path
        The recording (being written, about to be, or finished: replayed); anything
        :func:`cldata.follow` accepts.
    streams
        Which data streams get Buffers: a name, a glob pattern, a list of them, or ``None``
        for all (``[]``: none).
    fields
        Stream name → the Buffer's field columns, for streams whose columns should not be
        guessed from their first entries (:func:`numeric_fields`).
    spikes, stims, samples
        Also follow spikes, stims, raw samples (``feed.spikes``, ``feed.stims``,
        ``feed.traces``).
    channels
        The channels of ``feed.traces`` (``None``: all; an int: the first that many).
    length
        Rows kept by each stream, spike and stim Buffer (the oldest are dropped).
    window, bins
        ``feed.traces`` keeps the latest ``window`` seconds as about ``bins`` min/max bins.
    table_rows
        Entries kept per stream for :meth:`latest_entries`.
    frames_per_second
        The recording's frame rate (a live journal does not say it; CL's is 25 kHz).
    autodrain
        Drain from the follow thread after every batch (else call :meth:`drain` yourself,
        from the thread that owns the plots).
    start
        Start following at once (else call :meth:`start`).
    **follow_kwargs
        ``poll_interval``, ``start_timeout``, ``idle_timeout`` of :func:`cldata.follow`.

    Examples
    --------
    >>> with LiveFeed("rec.h5", "score", spikes=True, autodrain=True) as feed:   # doctest: +SKIP
    ...     feed.join(60)
    ...     feed.stream("score").data.tail()
    """

    def __init__(self, path: Any, streams: str | Iterable[str] | None = None, *,
                 fields: dict[str, Sequence[str]] | None = None, spikes: bool = False, stims: bool = False,
                 samples: bool = False, channels: Sequence[int] | None = None, length: int = 5000,
                 window: float = 5.0, bins: int = 1000, table_rows: int = 20,
                 frames_per_second: int = DEFAULT_FRAMES_PER_SECOND, autodrain: bool = False, start: bool = True,
                 **follow_kwargs: Any) -> None:  # fmt: skip
        for name, value in (("length", length), ("bins", bins), ("table_rows", table_rows),
                            ("frames_per_second", frames_per_second)):
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value <= 0:
                raise ValueOutOfRangeError(f"{name} must be a positive int, not {value!r}")
        if not isinstance(window, numbers.Real) or not 0 < window < float("inf"):
            raise ValueOutOfRangeError(f"window must be a positive number of seconds, not {window!r}")
        unknown = set(follow_kwargs) - {"poll_interval", "start_timeout", "idle_timeout"}
        if unknown:
            raise UnsupportedValueError(f"LiveFeed() does not take {sorted(unknown)}: it takes poll_interval, "
                                        "start_timeout and idle_timeout of cldata.follow")
        self.path = path
        self.length, self.table_rows, self.fps = int(length), int(table_rows), int(frames_per_second)
        self._fields = {str(k): list(v) for k, v in (fields or {}).items()}
        self._fixed = set(self._fields)  # the columns given, not guessed: never replaced by the first rows'
        per = max(1, round(float(window) * self.fps / int(bins)))
        self._binner = _Binner(channels, per, self.fps) if samples else None
        self._trace_length = max(1, int(np.ceil(float(window) * self.fps / per)))
        self._gen_args = (streams, {"spikes": bool(spikes), "stims": bool(stims), "samples": bool(samples),
                                    **follow_kwargs})
        if isinstance(path, (str, os.PathLike)):  # (a store's handle would open its file just to check)
            follow(path, streams, **self._gen_args[1]).close()  # bad arguments fail here, not in the thread
        self._buffers: dict[str, hv.streams.Buffer] = {}
        self._pipes: dict[str, hv.streams.Pipe] = {}
        self._latest: dict[str, deque] = {}
        self._callbacks: list[Callable[[str, dict[str, Any]], Any]] = []
        self.attributes: dict[str, dict[str, Any]] = {}
        self.spikes = hv.streams.Buffer(_empty(["time", "channel"], ["channel"]), length=self.length, index=False)
        self.stims = hv.streams.Buffer(_empty(["time", "channel"], ["channel"]), length=self.length, index=False)
        self.traces = hv.streams.Buffer(_empty(["time"]), length=self._trace_length, index=False)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._changed = threading.Condition()
        self._drain_lock = threading.Lock()
        self._stopping = threading.Event()
        self._autodrain = bool(autodrain)
        self._thread: threading.Thread | None = None
        self._ended = False  # the thread has put its last item
        self._finished = False  # ... and drain has delivered it
        self.error: BaseException | None = None
        self._error_raised = False
        if start:
            self.start()

    # -- the consumer's side ---------------------------------------------------------------------

    def stream(self, name: str, fields: Sequence[str] | None = None) -> hv.streams.Buffer:
        """The Buffer of a data stream's entries (created now if its entries have not arrived yet).

        ``fields`` fixes its columns (``time`` plus these; values that are not numbers
        are NaN); else they are the numeric fields of the stream's first entries, and until
        those arrive the Buffer has only ``time``. Give ``fields`` before :meth:`start` for
        them to apply from the first entry.
        """
        if fields is not None and name not in self._fields:
            self._fields[name] = list(fields)
            self._fixed.add(name)
        if name not in self._buffers:
            columns = ["time", *self._fields.get(name, [])]
            self._buffers[name] = hv.streams.Buffer(_empty(columns), length=self.length, index=False)
        return self._buffers[name]

    @property
    def stream_names(self) -> list[str]:
        """The streams that have a Buffer, in the order they got one."""
        return list(self._buffers)

    def attributes_pipe(self, name: str) -> hv.streams.Pipe:
        """A ``Pipe`` sent a stream's whole attributes at every update, in order (its data: the latest)."""
        if name not in self._pipes:
            self._pipes[name] = hv.streams.Pipe(data=dict(self.attributes.get(name, {})))
        return self._pipes[name]

    def on_attributes(self, callback: Callable[[str, dict[str, Any]], Any]) -> None:
        """Call ``callback(stream, attributes)`` for every attribute update, in order, from :meth:`drain`."""
        self._callbacks.append(callback)

    def latest_entries(self, name: str) -> pd.DataFrame:
        """A stream's last ``table_rows`` entries as written: columns ``time`` (s) and ``value``."""
        rows = list(self._latest.get(name, ()))
        return pd.DataFrame({"time": [t for t, _ in rows], "value": [v for _, v in rows]}, columns=["time", "value"])

    @property
    def finished(self) -> bool:
        """Whether the follow has ended and :meth:`drain` has delivered all it brought."""
        return self._finished

    def drain(self, raise_error: bool = True) -> Drained:
        """Send what the follow thread prepared into the Buffers, Pipes and callbacks.

        Call it from the thread that owns the plots (a periodic callback). It raises the
        thread's error once, after delivering everything that arrived before it
        (``raise_error=False``: keep it in ``feed.error`` only).
        """
        with self._drain_lock:
            got, error = self._take()
            if error is not None and raise_error and not self._error_raised:
                self._error_raised = True
                raise error
            return got

    def _take(self) -> tuple[Drained, BaseException | None]:
        got, pending, error = Drained(), {}, None
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            kind = item[0]
            if kind == "rows":
                pending.setdefault(item[1], []).append(item[2])
            elif kind == "entries":
                self._latest.setdefault(item[1], deque(maxlen=self.table_rows)).extend(item[2])
            elif kind == "attrs":
                got.attributes.append((item[1], item[2]))
            elif kind == "error":
                error = item[1]
            elif kind == "end":
                self._finished = got.finished = True
        for key, frames in pending.items():
            self._send(key, pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0], got)
        for name, attributes in got.attributes:
            self.attributes[name] = attributes
            if name in self._pipes:
                self._pipes[name].send(dict(attributes))
            for callback in self._callbacks:
                callback(name, attributes)
        if error is None and self.error is not None and not self._error_raised and self._finished:
            error = self.error
        return got, error

    def _send(self, key: str, df: pd.DataFrame, got: Drained) -> None:
        buffer = {_SPIKES: self.spikes, _STIMS: self.stims, _TRACES: self.traces}.get(key)
        if buffer is None:
            if key not in self._buffers:
                got.new_streams.append(key)
            buffer = self.stream(key)
        columns = list(buffer.data.columns)
        if columns != list(df.columns):
            if len(buffer.data) or key in self._fixed:
                df = df.reindex(columns=columns)  # columns are fixed: extra ones dropped, missing ones NaN
            else:
                # still empty: take the first rows' columns (Buffer.data is constant; Buffer.clear() does the same)
                with hv.core.util.disable_constant(buffer):
                    buffer.data = df.iloc[:0]
        buffer.send(df)
        got.rows[key] = got.rows.get(key, 0) + len(df)

    # -- the follow thread ------------------------------------------------------------------------

    def start(self) -> LiveFeed:
        """Start the follow thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"cldata follow {os.fspath(self.path)!s}"
                                            if isinstance(self.path, (str, os.PathLike)) else "cldata follow",
                                            daemon=True)  # fmt: skip
            self._thread.start()
        return self

    def _run(self) -> None:
        streams, kwargs = self._gen_args
        try:
            with closing(follow(self.path, streams, batch=True, stop=self._stopping, **kwargs)) as batches:
                for b in batches:
                    if self._stopping.is_set():
                        break
                    self._put(self._prepare(b))
                else:
                    # (a stop ends the follow quietly: nothing more is prepared after it)
                    last = self._binner.flush() if self._binner is not None and not self._stopping.is_set() \
                        else None
                    if last is not None:
                        self._put([("rows", _TRACES, last)])
        except BaseException as exc:  # noqa: BLE001 - kept for the consumer, who re-raises it
            self.error = exc
            self._put([("error", exc)])
        finally:
            self._ended = True
            self._put([("end",)])

    def _put(self, items: list[tuple]) -> None:
        for item in items:
            self._queue.put(item)
        if self._autodrain:
            self.drain(raise_error=False)
        with self._changed:
            self._changed.notify_all()

    def _prepare(self, b: Batch) -> list[tuple]:
        items: list[tuple] = []
        for name, (ts, values) in b.streams.items():
            times = ts.astype(np.float64) / self.fps
            if name not in self._fields:
                self._fields[name] = numeric_fields(values)  # the thread's own: fixed by the first entries
            items.append(("rows", name, _stream_frame(times, values, self._fields[name])))
            items.append(("entries", name, list(zip(times.tolist(), values))[-self.table_rows:]))
        for key, events in ((_SPIKES, b.spikes), (_STIMS, b.stims)):
            if events is not None and len(events):
                items.append(("rows", key, pd.DataFrame({"time": events.timestamps / self.fps,
                                                         "channel": events.channels.astype(np.int64)})))
        if b.samples is not None and self._binner is not None:
            traces = self._binner.add(b.samples)
            if traces is not None:
                items.append(("rows", _TRACES, traces))
        items.extend(("attrs", name, dict(attributes)) for name, attributes in b.attributes.items())
        return items

    # -- waiting and stopping ---------------------------------------------------------------------

    def wait(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``condition()`` is true (checked after every batch the thread prepares); whether it is.

        With ``autodrain`` the condition may look at the Buffers; else call :meth:`drain`
        in it.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition():
                left = deadline - time.monotonic()
                if left <= 0 or (self._ended and self._queue.empty() and self._finished):
                    return bool(condition())
                self._changed.wait(min(left, 0.05))  # a short wait: a condition may also change by drain()
        return True

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the follow to end, deliver what is left (:meth:`drain`) and raise its error if any.

        Returns whether it ended within ``timeout``.
        """
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                return False
        self.drain()
        if self.error is not None and not self._error_raised:
            self._error_raised = True
            raise self.error
        return True

    def stop(self, timeout: float | None = 0) -> bool:
        """Ask the follow thread to end (within the follow's poll interval); whether it has ended.

        ``timeout``: seconds to wait for it (``None``: as long as it takes). Nothing more is
        prepared after a stop; what was prepared is still delivered by :meth:`drain`.
        """
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    @property
    def running(self) -> bool:
        """Whether the follow thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> LiveFeed:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def follow_buffer(path: Any, stream: str, *, fields: Sequence[str] | None = None, length: int = 5000,
                  frames_per_second: int = DEFAULT_FRAMES_PER_SECOND, **follow_kwargs: Any) -> hv.streams.Buffer:
    """A HoloViews ``Buffer`` of one data stream of a recording, fed by a background thread following it.

    The Buffer holds a pandas DataFrame: ``time`` (seconds since the recording started) and
    the stream's numeric fields (``fields``, else those of its first entries; see
    :class:`LiveFeed`), its last ``length`` rows. The thread sends each flushed batch as
    it arrives. ``buffer.feed`` is the :class:`LiveFeed` behind it: ``buffer.feed.stop()``
    ends the thread (at the writer's next flush), ``buffer.feed.join(timeout)`` waits for
    the recording to end and raises the thread's error if there was one,
    ``buffer.feed.error`` keeps it, ``buffer.feed.attributes`` has the stream's latest
    attributes. ``follow_kwargs`` are ``poll_interval``, ``start_timeout`` and
    ``idle_timeout`` of :func:`cldata.follow`.

    Examples
    --------
    >>> buffer = follow_buffer("rec.h5", "ball_position", fields=["x", "y"])      # doctest: +SKIP
    >>> hv.DynamicMap(lambda data: hv.Curve(data, "time", "y"), streams=[buffer])  # doctest: +SKIP
    """
    if not isinstance(stream, str):
        raise UnsupportedValueError(f"follow_buffer() follows one stream name, not {stream!r}")
    feed = LiveFeed(path, [stream], fields=None if fields is None else {stream: list(fields)}, length=length,
                    frames_per_second=frames_per_second, autodrain=True, start=False, **follow_kwargs)
    buffer = feed.stream(stream)
    buffer.feed = feed
    feed.start()
    return buffer
