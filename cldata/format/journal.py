"""The recording journal: an append-only, checksummed log beside a recording being written.

HDF5 is not crash-safe: a process killed while HDF5 updates its metadata can leave a
file that no longer opens. So a :class:`~cldata.RecordingWriter` first appends every
operation (file creation, new streams, attribute changes, each flushed batch of entries,
spikes, stims and samples) to ``<recording>.journal``, and ``flush()`` returns only after
the journal is on disk (``fsync``). Only then is the batch written into the HDF5 file.
When the writer closes cleanly the journal is deleted.

If the writer dies, the journal holds everything that was flushed, and
:func:`cldata.recover` rebuilds the recording from it. A torn last record (the writer
was killed while appending it) is recognised by its checksum and ignored: it was never
acknowledged. The writer holds an advisory lock on the journal while it lives, which
tells readers whether a journal belongs to a live writer or to a dead one; a live
follower (:func:`cldata.follow`) reads the same journal to see new data as it is flushed.

File layout (all integers little-endian)::

    header  b"CLDJRNL1"
    record  <u32 payload length> <u32 CRC-32 of payload> <payload>
    payload one msgpack map (cldata codec): {"op": name, ...}

The first record is always ``{"op": "open", "root": ..., "file": <the recording's file
name>}`` (journals written before the ``file`` key was added lack it and still recover).
Recovery uses it to make sure a journal belongs to the recording beside it; and a journal
path that is a symbolic link or not a regular file is never opened (its
:func:`journal_state` is ``"invalid"``): cldata's writer never makes one. The operations
(``open``, ``stream``, ``attrs``, ``batch``, ``close``) and what a reader may rely on are
described in ``docs/LIVE.md``.

Reading: one frame reader, two callers
--------------------------------------
:class:`JournalReader` is the only code that parses frames. It reads from an offset
through one open file and yields each complete record whose checksum holds, with the
offset where it ends; it stops at the end of the file or at the first record it cannot
take, and then says where the *tail* starts (``offset``), what file size would let it go
on (``need``), and whether the tail is a record that is all there but fails its checksum
(``torn_at``, with ``bytes_after_torn``). A torn tail is what a writer killed while
appending a record leaves, or, while the writer lives, a record it is still writing. The
two callers read the same tail differently:

- **recovery** (:func:`iter_records`, used by :func:`cldata.recover`) runs only once the
  writer is dead, so the tail can only be a torn record: it was never acknowledged (its
  ``flush()`` did not return), so recovery stops there and discards everything from the
  tail on (``RecoveryReport.ignored_bytes``).
- **following** (:mod:`cldata.live`) reads while the writer lives: an incomplete record,
  or one failing its checksum with nothing after it, means "not yet" (it polls again once
  the file reaches ``need``); a record failing its checksum with bytes after it, or
  claiming an impossible length, cannot be a record being written (a writer only
  appends), so the journal is damaged (:class:`~cldata.errors.CorruptRecordingError`).
  Once the writer is dead (its lock is gone), the tail is what recovery will discard, and
  the follower says how many bytes it holds.

Examples
--------
>>> from cldata.format.journal import journal_path, read_journal
>>> journal_path("rec.h5").name
'rec.h5.journal'
"""

from __future__ import annotations

import os
import secrets
import stat
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Literal

from cldata.core.fsutil import fsync_dir, open_regular
from cldata.core.locking import is_locked, lock_fd
from cldata.errors import CorruptRecordingError, DecodeError
from cldata.format.codec import Encoder, decode

__all__ = ["journal_path", "journal_state", "JournalWriter", "JournalReader", "iter_records", "read_journal",
           "decode_record", "MAGIC", "FRAME", "MAX_RECORD"]

MAGIC = b"CLDJRNL1"
FRAME = struct.Struct("<II")
"""The frame before each record: payload length and CRC-32, little-endian u32 each."""
MAX_RECORD = 1 << 31
"""A record length beyond this is corruption, not data."""
_READ_CHUNK = 64 << 20  # bytes a follower reads at once (more only for a larger record)
_RECOVERY_CHUNK = 1 << 20  # bytes recovery reads at once: it holds one record at a time


def journal_path(recording: str | os.PathLike[str]) -> Path:
    """The journal that belongs to ``recording``."""
    p = Path(recording)
    return p.with_name(p.name + ".journal")


def journal_state(recording: str | os.PathLike[str]) -> Literal["none", "live", "orphan", "invalid"]:
    """Whether ``recording`` has no journal, one held by a live writer, or one left by a dead one.

    ``"invalid"``: something that is not a journal cldata wrote sits at the journal's path
    (a symbolic link, a FIFO, a directory...). It is never opened, followed or used.

    Examples
    --------
    >>> journal_state("never-written.h5")
    'none'
    """
    j = journal_path(recording)
    try:
        mode = os.lstat(j).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "none"
    if not stat.S_ISREG(mode):
        return "invalid"
    try:
        return "live" if is_locked(j) else "orphan"
    except FileNotFoundError:
        return "none"  # its writer closed it meanwhile
    except OSError:
        return "invalid"  # replaced by a link or a FIFO between the two looks


class JournalWriter:
    """Appends records to a new journal and makes them durable on :meth:`sync`.

    Parameters
    ----------
    recording
        The recording the journal belongs to; the journal is ``<recording>.journal``.
    durable
        ``fsync`` on :meth:`sync` (the default). Without it, flushed data survives the
        death of the process but not of the machine.
    """

    def __init__(self, recording: str | os.PathLike[str], durable: bool = True):
        self.path = journal_path(recording)
        self.durable = durable
        # The journal appears under its name already locked and with its header, so that a
        # reader probing the lock at any moment sees a live writer: it is made under a
        # temporary name, locked, then linked into place (link, unlike rename, refuses to
        # replace an existing journal, which is somebody's unrecovered data).
        # (an unpredictable name, created exclusively: nothing planted there is followed)
        tmp = self.path.with_name(f".{self.path.name}.new-{os.getpid()}-{secrets.token_hex(8)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0), 0o644)
        try:
            if not lock_fd(fd, exclusive=True):  # pragma: no cover - nobody else knows the name
                raise CorruptRecordingError(f"cannot lock the new journal {tmp}")
            os.write(fd, MAGIC)
            if durable:
                os.fsync(fd)
            os.link(tmp, self.path)
        except BaseException:
            os.close(fd)
            raise
        finally:
            tmp.unlink(missing_ok=True)
        self._file = os.fdopen(fd, "ab", buffering=1 << 20)
        self._encoder = Encoder()
        fsync_dir(self.path.parent)

    def append(self, record: dict[str, Any]) -> None:
        """Append one record (buffered until :meth:`sync`)."""
        payload = self._encoder.pack(record)
        self._file.write(FRAME.pack(len(payload), zlib.crc32(payload)))
        self._file.write(payload)

    def sync(self) -> None:
        """Write buffered records to the file and, if ``durable``, to the disk."""
        self._file.flush()
        if self.durable:
            os.fsync(self._file.fileno())

    def close(self, remove: bool) -> None:
        """Close the journal; with ``remove``, delete it (the recording is complete)."""
        if self._file.closed:
            return
        if remove:
            self.path.unlink(missing_ok=True)
            fsync_dir(self.path.parent)
        self._file.close()  # closing the file releases the lock


def decode_record(payload: bytes, path: str | os.PathLike[str]) -> dict[str, Any]:
    """One record's payload (its checksum already verified) as the operation dict it holds.

    Raises
    ------
    cldata.errors.CorruptRecordingError
        If the payload does not decode, or is not an operation.
    """
    try:
        record = decode(payload)
    except DecodeError as exc:
        raise CorruptRecordingError(f"journal {path} holds an undecodable record: {exc}") from None
    if not isinstance(record, dict) or "op" not in record:
        raise CorruptRecordingError(f"journal {path} holds a record without an operation")
    return record


class JournalReader:
    """Reads a journal's records incrementally through one open file: the one frame reader.

    Each call of :meth:`records` yields the complete, checksum-valid records appended since
    the previous call, reading the file a chunk at a time from :attr:`offset`, and stops at
    the end of the file or at the first record it cannot take. Afterwards the attributes say
    where and why it stopped (the module docstring says what a torn tail means to each
    caller):

    - :attr:`offset`: the end of the last record taken, where the unread tail starts (0
      before the header was read);
    - :attr:`need`: the file size at which reading again can make progress;
    - :attr:`torn_at`: the offset of a record that is all there but fails its checksum (or
      claims an impossible length), else ``None``; :attr:`bytes_after_torn` says whether
      more bytes follow it.

    Parameters
    ----------
    f
        The journal, open for binary reading (it may be deleted meanwhile: an open file
        stays readable).
    path
        Its path, for messages.
    offset
        Where to start: 0 reads and checks the header; else the end of a record already read.
    chunk
        Bytes read at once (default 64 MB; a record larger than that is read whole).

    Examples
    --------
    >>> with open(journal_path("rec.h5"), "rb") as f:        # doctest: +SKIP
    ...     reader = JournalReader(f, journal_path("rec.h5"))
    ...     ops = [record["op"] for record, _ in reader.records()]
    """

    def __init__(self, f: BinaryIO, path: str | os.PathLike[str], offset: int = 0, chunk: int | None = None):
        self.f = f
        self.path = path
        self.offset = offset
        self.need = offset + (len(MAGIC) if offset == 0 else FRAME.size)
        self.torn_at: int | None = None
        self.bytes_after_torn = False
        self.chunk = chunk

    def size(self) -> int:
        """The journal's current size in bytes."""
        return os.fstat(self.f.fileno()).st_size

    def records(self) -> Iterator[tuple[dict[str, Any], int]]:
        """Yield ``(record, end offset)`` for each complete, valid record from :attr:`offset` on.

        Raises
        ------
        cldata.errors.CorruptRecordingError
            If the file does not start with a journal's header, or a record with a valid
            checksum does not decode.
        """
        while True:
            size = self.size()
            if size < self.need:
                return
            start, need = self.offset, self.need
            yield from self._chunk(size)
            if self.torn_at is not None or (self.offset == start and self.need <= need):
                return  # stopped at a torn record, or no progress (the file shrank)

    def _chunk(self, size: int) -> Iterator[tuple[dict[str, Any], int]]:
        """The records of one read of at most a chunk (more only for a larger record)."""
        self.torn_at, self.bytes_after_torn = None, False
        self.f.seek(self.offset)
        chunk = self.chunk or _READ_CHUNK
        data = self.f.read(min(size - self.offset, max(chunk, self.need - self.offset)))
        pos = 0
        if self.offset == 0:
            if len(data) < len(MAGIC):
                return
            if data[: len(MAGIC)] != MAGIC:
                raise CorruptRecordingError(f"{self.path} is not a cldata recording journal")
            pos = self.offset = len(MAGIC)
        base = self.offset - pos  # the file offset of data[0]
        while True:
            if len(data) - pos < FRAME.size:
                self.need = base + pos + FRAME.size
                return
            length, crc = FRAME.unpack_from(data, pos)
            end = pos + FRAME.size + length
            if length > MAX_RECORD:  # garbage, not a record being written
                self.torn_at, self.bytes_after_torn = base + pos, True
                self.need = base + len(data) + 1
                return
            if end > len(data):
                self.need = base + end
                return
            payload = data[pos + FRAME.size : end]
            if zlib.crc32(payload) != crc:  # not all visible yet, or torn
                self.torn_at, self.bytes_after_torn = base + pos, end < len(data)
                self.need = base + end
                return
            record = decode_record(payload, self.path)
            pos = end
            self.offset = base + end
            yield record, self.offset


def iter_records(path: str | os.PathLike[str], offset: int = 0) -> Iterator[tuple[dict[str, Any], int]]:
    """Yield ``(record, end offset)`` for each complete record of the journal at ``path``.

    Stops at the end of the file or at a torn record (incomplete, or failing its checksum),
    which is what a crash mid-append leaves. ``offset`` resumes after a previous call (0
    starts at the beginning and checks the header). This is :class:`JournalReader` over a
    file it opens, reading 1 MB at a time (recovery holds one record at a time).

    Raises
    ------
    cldata.errors.CorruptRecordingError
        If the file is not a cldata journal (or not a regular file: a symbolic link is never
        followed), or a record with a valid checksum does not decode.
    """
    try:
        fd = open_regular(path)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise CorruptRecordingError(f"{path} is not a journal cldata wrote: {exc.strerror or exc}; "
                                    "not used") from None
    with os.fdopen(fd, "rb") as f:
        yield from JournalReader(f, path, offset, chunk=_RECOVERY_CHUNK).records()


def read_journal(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every complete record of a journal, in order (a torn tail is ignored)."""
    return [record for record, _ in iter_records(path)]
