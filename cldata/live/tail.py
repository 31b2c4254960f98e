"""Following a live recording: tailing its journal and turning its records into batches.

A writer keeps no second channel for followers: its crash-safety journal already has every
property a follower needs (append-only, each record checksummed, each ``flush()`` one
``batch`` record made durable before it returns, an advisory lock held for as long as the
writer lives). :class:`JournalTail` reads it through one open file with the journal's own
frame reader (:class:`cldata.format.journal.JournalReader`), polls it when nothing new has
arrived, and turns each ``batch`` record into a :class:`~cldata.live.events.Batch` of what
was asked for. It never writes, locks (beyond a non-blocking probe) or deletes anything,
so any number of followers cost the writer nothing.

How a tail reads the end of the journal (the module docstring of
:mod:`cldata.format.journal` compares it with recovery's reading):

- a record seen only in part, or failing its checksum with nothing after it, is "not
  yet": it is read again on the next poll, once the file has grown;
- a record failing its checksum with bytes after it while the writer lives is damage
  (:class:`~cldata.errors.CorruptRecordingError`): a writer only appends;
- once the writer's lock is gone, everything it wrote is in the file: the tail reads it
  to the end, then raises :class:`~cldata.errors.UnfinishedRecordingError` saying how many
  bytes of a torn last record it left (those recovery discards too);
- the ``close`` record ends the tail (a follower holding the journal open reads it even
  after the writer deleted the file).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from cldata.core.locking import is_locked_fd
from cldata.errors import CorruptRecordingError, UnfinishedRecordingError
from cldata.format.codec import decode_span
from cldata.format.journal import MAGIC, JournalReader
from cldata.format.layout import UV_PER_SAMPLE_UNIT
from cldata.format.records import attrs_from_journal
from cldata.live.events import Batch, Samples, Spikes, Stims
from cldata.live.selection import Kinds, StreamSelector

__all__ = ["JournalTail"]


class JournalTail:
    """Reads a journal incrementally through one open file and turns its records into batches.

    Parameters
    ----------
    f
        The journal, open for binary reading (held open by the caller for as long as the
        tail runs: it stays readable after the writer deletes it).
    path
        The journal's path, for messages.
    select, kinds
        Which streams, and which vectorised events, to put in the batches.

    Examples
    --------
    >>> with open("rec.h5.journal", "rb", buffering=0) as f:                   # doctest: +SKIP
    ...     for batch in JournalTail(f, Path("rec.h5.journal"), StreamSelector(None),
    ...                              Kinds(False, False, False)).run(0.005, time.monotonic() + 30, None):
    ...         print(batch.entry_count)
    """

    def __init__(self, f: BinaryIO, path: Path, select: StreamSelector, kinds: Kinds):
        self.reader = JournalReader(f, path)
        self.fd = f.fileno()
        self.path = path
        self.select = select
        self.kinds = kinds
        self.frames = 0  # sample frames seen in the journal: the next batch's first frame
        self.scale = UV_PER_SAMPLE_UNIT  # the open record's uV_per_sample_unit (read if samples)
        self.channels: int | None = None  # ... and its channel_count
        self.closed = False
        self.batch_number = 0
        self.last_ts: dict[str, int] = {}  # per stream: the last timestamp yielded
        self.counts: dict[str, int] = {}  # per stream: entries seen in the journal
        self.got_news = False  # whether the last look at the journal found a record

    def writer_alive(self) -> bool:
        """Whether a writer still holds the journal's lock (probed on our own descriptor,
        so it answers for this journal even after it was deleted or replaced)."""
        return is_locked_fd(self.fd)

    # turning records into batches --------------------------------------------------------------

    def handle(self, record: dict[str, Any]) -> Batch | None:
        """The batch one record brings (``None`` for other operations, or nothing selected)."""
        op = record["op"]
        if op == "batch":
            number = self.batch_number
            self.batch_number += 1
            return self.take_batch(record, number)
        if op == "open":
            if self.kinds.samples:
                self.read_geometry(record)
        elif op == "stream":
            self.counts.setdefault(record["name"], 0)
        elif op == "attrs":
            return self.take_attributes(record)
        elif op == "close":
            self.closed = True
        return None  # unknown operations carry nothing

    def take_attributes(self, record: dict[str, Any]) -> Batch | None:
        """An ``attrs`` record of a selected stream as a batch of its whole ``application`` attributes."""
        name = record.get("stream")
        if name is None or not self.select(name):
            return None  # the root's attributes, or a stream not selected
        # the restricted unpickler: a journal is data from disk and runs nothing
        attrs = attrs_from_journal(record["attrs"])
        application = attrs.get("application")
        if not isinstance(application, dict):
            return None  # not a stream's application attributes: nothing a follower shows
        return Batch(self.batch_number, attributes={name: application}, live=True)

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

    def take_streams(self, record: dict[str, Any]) -> dict[str, tuple[np.ndarray, list[Any]]]:
        """The selected streams' new entries of a ``batch`` record, decoded."""
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
        return streams

    def take_batch(self, record: dict[str, Any], number: int) -> Batch | None:
        """A ``batch`` record as a :class:`Batch` of what was asked for (``None``: nothing)."""
        spk = stm = None
        if self.kinds.spikes and record.get("spikes") is not None:
            s = record["spikes"]
            if len(s["ts"]):
                spk = Spikes(np.asarray(s["ts"], dtype=np.int64), np.asarray(s["ch"], dtype=np.uint8),
                             np.asarray(s["wf"], dtype=np.float32))  # fmt: skip
        if self.kinds.stims and record.get("stims") is not None:
            s = record["stims"]
            if len(s["ts"]):
                stm = Stims(np.asarray(s["ts"], dtype=np.int64), np.asarray(s["ch"], dtype=np.uint8))
        # not even looked at unless asked for: following with samples off costs what it did
        smp = self.take_samples(record.get("samples")) if self.kinds.samples else None
        b = Batch(number, self.take_streams(record), spk, stm, live=True, samples=smp)
        return b if b else None

    # the loop -----------------------------------------------------------------------------------

    def new_batches(self) -> Iterator[Batch]:
        """The batches of every record appended since the last call, up to ``close`` if it came.

        Sets :attr:`got_news` when at least one record was read.
        """
        self.got_news = False
        for record, _ in self.reader.records():
            self.got_news = True
            batch = self.handle(record)
            if batch is not None:
                yield batch
            if self.closed:
                return

    def run(self, poll: float, start_deadline: float, idle_timeout: float | None,
            stop: Any = None) -> Iterator[Batch]:
        """Yield batches as the writer flushes them until it closes (see the module docstring).

        ``stop``: an event (``threading.Event``) whose setting ends the run quietly at the next
        look at the journal (at most ``poll`` seconds while the writer is quiet).

        Raises
        ------
        cldata.errors.UnfinishedRecordingError
            Once everything is yielded, if the writer died without closing (or before
            writing anything, past ``start_deadline``).
        cldata.errors.CorruptRecordingError
            If the journal is damaged while its writer lives.
        TimeoutError
            If ``idle_timeout`` seconds pass without a new record from a live writer.
        """
        last_news = time.monotonic()
        while True:
            if stop is not None and stop.is_set():
                return
            yield from self.new_batches()
            if self.closed:
                return
            now = time.monotonic()
            if self.got_news:
                last_news = now
                continue
            if self.reader.offset == 0 and self.reader.size() < len(MAGIC):
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
                yield from self.new_batches()
                if self.closed:
                    return
                raise self.unfinished()
            elif self.reader.torn_at is not None and self.reader.bytes_after_torn:
                # a record fails its checksum although later bytes follow it while the writer
                # lives (a writer only ever appends): the file was damaged, re-reading will not help
                raise CorruptRecordingError(
                    f"journal {self.path}: the record at byte {self.reader.torn_at:,} fails its checksum"
                )
            if idle_timeout is not None and now - last_news > idle_timeout:
                raise TimeoutError(f"no new data in {self.path} for {idle_timeout:g} s although its writer is alive")
            if stop is None:
                time.sleep(poll)
            elif stop.wait(poll):  # (a stop ends the wait at once)
                return

    def unfinished(self) -> UnfinishedRecordingError:
        """The error that ends following a writer that died without closing its recording."""
        left = self.reader.size() - self.reader.offset
        if self.reader.torn_at is not None or left > 0:
            torn = f"; {left:,} bytes of a torn last record were ignored"
        else:
            torn = ""
        n = sum(self.counts.values())
        return UnfinishedRecordingError(
            f"the writer of {self.path.name.removesuffix('.journal')} stopped without closing it "
            f"(it crashed or was killed) after {self.batch_number:,} flushed batches "
            f"({n:,} stream entries in all); everything it flushed has been yielded{torn}; "
            "cldata.recover() restores the file with exactly that data"
        )
