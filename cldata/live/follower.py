"""Following a recording while it is written: :func:`follow`, one generator for every case.

HDF5 files cannot be read while a PyTables writer has them open, and the CL tools refuse
to open a recording before it stops. cldata can do better: a
:class:`~cldata.RecordingWriter` in one process, and in another
``for event in follow("rec.h5", streams=["ball*"], spikes=True): ...``. :func:`follow`
yields every data-stream entry (and, if asked, spikes, stims and raw samples) from the
beginning of the recording, in order, each exactly once, as the writer flushes them, and
ends when the writer closes the recording. The same call reads a finished recording, so
code written for the live case also runs after the fact.

What it follows depends on what is at the path: a journal (``<recording>.journal``, kept
by a live writer or left by a dead one) is tailed (:mod:`cldata.live.tail`); a file
without a journal is a finished recording and is replayed in one-second windows
(:mod:`cldata.live.replay`); nothing yet is waited for (``start_timeout``). A
:class:`~cldata.RecordingView`, or a store's recording (anything that is a
:class:`SelectedRecording`), is replayed through its window and visible streams. Both
ways give :class:`~cldata.live.events.Batch` objects, which :func:`follow` yields as they
are (``batch=True``) or as events. The journal's layout, the guarantees a follower relies
on, how following ends, and a live-plot recipe are in ``docs/LIVE.md``.

Examples
--------
>>> from cldata.live import StreamEntry, follow
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
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from cldata.core.fsutil import open_regular
from cldata.errors import CorruptRecordingError, RecordingInProgressError, UnfinishedRecordingError
from cldata.format.journal import journal_path
from cldata.format.reader import RecordingView
from cldata.live.events import Batch, Event
from cldata.live.replay import replay
from cldata.live.selection import Kinds, StreamSelector
from cldata.live.tail import JournalTail

__all__ = ["follow", "SelectedRecording"]


@runtime_checkable
class SelectedRecording(Protocol):
    """A finished recording seen through a selection: what a store's recording handle is.

    :func:`follow` replays any object with these two members: ``view()``, an open
    :class:`~cldata.RecordingView` (its window limits what is replayed; the caller keeps
    it), and ``stream_names``, the streams that may be replayed. The store layer's
    :class:`~cldata.RecordingHandle` has them, so ``follow(handle)`` works without this
    layer knowing the store.

    Examples
    --------
    >>> isinstance(store.recordings[0], SelectedRecording)   # doctest: +SKIP
    True
    """

    @property
    def stream_names(self) -> list[str]: ...  # noqa: D102 - the protocol's member

    def view(self) -> RecordingView: ...  # noqa: D102 - the protocol's member


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
    stop: threading.Event | None = None,
) -> Iterator[Any]:
    """Yield a recording's data as its writer flushes it, from the beginning, until it closes.

    Parameters
    ----------
    source
        A recording path (being written, about to be written, or finished), a
        :class:`~cldata.RecordingView`, or a finished recording seen through a selection
        (a :class:`SelectedRecording`, such as a store's :class:`~cldata.RecordingHandle`);
        the last two are read through their window and stream selection. A path with a
        file but no journal is a finished recording and is read as such (even if a writer
        is about to overwrite it: remove the old file first to follow the new recording).
    streams
        Which data streams: a name, a glob pattern (``"ball*"``), a list of either, or
        ``None`` for all (the rule of :mod:`cldata.format.stream_names`). Streams created
        later in the recording are matched when they appear.
    spikes, stims
        Also yield :class:`~cldata.live.events.Spikes` / :class:`~cldata.live.events.Stims`
        events (vectorised, one per batch).
    samples
        Also yield :class:`~cldata.live.events.Samples` events: each batch's raw sample
        frames (int16 ``(frames, channels)`` with the first frame's timestamp; µV through
        ``Samples.scaled()``). Off by default: 64 channels at 25 kHz are 3.2 MB/s.
    poll_interval
        Seconds between two looks at the journal when nothing new has arrived.
    start_timeout
        Seconds to wait for the recording (or its journal) to appear at ``source``.
    idle_timeout
        Seconds without a new record from a live writer after which to give up with
        :class:`TimeoutError` (``None``: wait as long as the writer lives).
    batch
        Yield one :class:`~cldata.live.events.Batch` per flushed batch instead of
        individual events.
    stop
        A ``threading.Event`` another thread sets to end the follow early: the generator
        returns at its next look at the journal (within ``poll_interval`` while the writer is
        quiet), without an error. For a consumer thread that must stop while waiting for the
        writer's next flush (closing the generator can only happen between two yields).

    Returns
    -------
    iterator
        A generator of ``StreamEntry``, ``Spikes``, ``Stims`` and ``Samples`` events
        (:mod:`cldata.live.events`), in that order within a batch, and ``AttributesUpdated``
        events (a selected stream's whole ``application`` attributes after an update, in
        order with its entries; a replay gives the final ones after its last window), or
        of ``Batch`` objects. Closing it early (``break``) releases the journal.

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
    select = StreamSelector(streams)
    for name, value in (("poll_interval", poll_interval), ("start_timeout", start_timeout)):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number of seconds >= 0, not {value!r}")
    if idle_timeout is not None and (not isinstance(idle_timeout, (int, float)) or idle_timeout < 0):
        raise ValueError(f"idle_timeout must be None or a number of seconds >= 0, not {idle_timeout!r}")
    kinds = Kinds(bool(spikes), bool(stims), bool(samples))
    batches = _batches(_resolve(source), select, kinds, float(poll_interval), float(start_timeout),
                       idle_timeout, stop)  # fmt: skip
    return batches if batch else _events(batches)



def _events(batches: Iterator[Batch]) -> Iterator[Event]:
    with closing(batches):  # closing this generator releases the journal at once
        for b in batches:
            yield from b.events()


@dataclass
class _Finished:
    """A finished recording to replay: its view, the streams it shows (None: all), and
    whether closing it at the end is ours to do."""

    view: RecordingView
    names: list[str] | None
    owned: bool


def _resolve(source: Any) -> Path | _Finished:
    if isinstance(source, RecordingView):
        return _Finished(source, None, owned=False)
    if isinstance(source, (str, os.PathLike)):
        return Path(source)
    if isinstance(source, SelectedRecording):
        return _Finished(source.view(), list(source.stream_names), owned=False)
    raise TypeError(
        f"follow() takes a recording path, a store RecordingHandle or a RecordingView, not {type(source).__name__}"
    )


def _replay(source: _Finished, select: StreamSelector, kinds: Kinds) -> Iterator[Batch]:
    try:
        yield from replay(source.view, source.names, select, kinds)
    finally:
        if source.owned:
            source.view.close()


def _open_journal(jpath: Path) -> Any:
    """The journal open for reading (held across yields), or None if there is none."""
    try:
        # never through a link, never blocking on a FIFO planted as the journal
        return os.fdopen(open_regular(jpath), "rb", buffering=0)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CorruptRecordingError(f"{jpath} is not a journal cldata wrote ({exc.strerror or exc}); "
                                    "not followed") from None


def _batches(source: Path | _Finished, select: StreamSelector, kinds: Kinds, poll: float, start_timeout: float,
             idle_timeout: float | None, stop: threading.Event | None = None) -> Iterator[Batch]:  # fmt: skip
    if isinstance(source, _Finished):
        yield from _replay(source, select, kinds)
        return
    path = source
    jpath = journal_path(path)
    deadline = time.monotonic() + start_timeout
    while True:
        f = _open_journal(jpath)
        if f is not None:
            try:
                yield from JournalTail(f, jpath, select, kinds).run(poll, deadline, idle_timeout, stop)
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
        if stop is not None and stop.is_set():
            return
        if time.monotonic() >= deadline:
            raise FileNotFoundError(
                f"no recording appeared at {path} (nor its journal {jpath.name}) within {start_timeout:g} s"
            )
        if stop is None:
            time.sleep(poll)
        elif stop.wait(poll):
            return
