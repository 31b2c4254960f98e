"""Small file-system helpers for durable, atomic updates that never follow planted links.

The model: cldata changes a file by writing a **new** file beside it and renaming that
into place (``os.replace``), so a crash leaves the old content or the new, never a mix.
A directory cldata writes into may hold files crafted by somebody else (a store received
from a stranger), so every file cldata creates is created **exclusively**
(``O_CREAT | O_EXCL | O_NOFOLLOW``): a symbolic link, FIFO or file planted at that name
makes the creation fail instead of being followed or overwritten. Temporary names carry an
unpredictable random part, so nothing can be planted at them in advance; a name that is
taken is simply not used (another random name is drawn).

Reading works the same way: :func:`read_regular_bytes` and :func:`open_regular` refuse
symbolic links and anything that is not a regular file (a FIFO planted where a small JSON
file is expected would otherwise block the reader for ever) before reading a byte.

Files that PyTables writes (HDF5 segments, payload files, overviews, exports) are opened
by PyTables by name; :func:`new_temporary` reserves such a name (creating the file
exclusively, empty) so that PyTables then writes into the file cldata created. Only a
process writing into the same directory *while* cldata writes could swap the file between
the two steps; files planted beforehand cannot.

Examples
--------
>>> from cldata.core.fsutil import atomic_write_bytes, read_regular_bytes
>>> atomic_write_bytes(tmp / "catalog.bin", b"...")   # doctest: +SKIP
>>> read_regular_bytes(tmp / "catalog.bin")           # doctest: +SKIP
b'...'
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import socket
import stat
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

__all__ = ["fsync_dir", "fsync_file", "is_regular", "atomic_write_bytes", "temporary_beside", "new_temporary", "create_new",
           "replaced_on_success",
           "open_regular", "read_regular_bytes", "remove_stale_temporaries", "safe_child", "NOT_REGULAR", "HOST_TAG"]

# temporaries name their host, so that a directory shared between machines never has one
# machine's live temporary taken for another machine's dead process
HOST_TAG = f"{zlib.crc32(socket.gethostname().encode()):08x}"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)
_ATTEMPTS = 16

NOT_REGULAR = errno.EINVAL
"""The ``errno`` of the :class:`OSError` raised for a path that is not a regular file."""


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return name
    return "not a regular file"


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make a directory's entries (creations, renames, deletions) durable."""
    try:
        fd = os.open(path, os.O_RDONLY | _NONBLOCK)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def fsync_file(path: str | os.PathLike[str]) -> None:
    """Make a file's content durable (the file is opened without following links or blocking)."""
    fd = open_regular(path)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def is_regular(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a regular file itself (a symbolic link to one is not).

    Examples
    --------
    >>> is_regular("/etc/hostname"), is_regular("/nonexistent")    # doctest: +SKIP
    (True, False)
    """
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def open_regular(path: str | os.PathLike[str], flags: int = os.O_RDONLY) -> int:
    """Open an existing regular file and return its descriptor, never following a link nor blocking.

    The file is opened with ``O_NOFOLLOW | O_NONBLOCK`` (a FIFO then opens at once instead of
    waiting for a writer) and checked with ``fstat`` before anything is read.

    Raises
    ------
    FileNotFoundError
        If there is nothing at ``path``.
    OSError
        If ``path`` is a symbolic link (``errno.ELOOP``) or not a regular file
        (``errno`` :data:`NOT_REGULAR`, the message says what it is).

    Examples
    --------
    >>> fd = open_regular("store/catalog/CURRENT")     # doctest: +SKIP
    """
    fd = os.open(path, flags | _NOFOLLOW | _NONBLOCK | _CLOEXEC | _BINARY)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(NOT_REGULAR, f"{_kind(mode)}, where a regular file was expected", str(path))
        if _NONBLOCK:
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular_bytes(path: str | os.PathLike[str], limit: int | None = None) -> bytes:
    """The content of the regular file ``path`` (see :func:`open_regular`), at most ``limit`` bytes.

    Raises
    ------
    FileNotFoundError
        If there is nothing at ``path``.
    OSError
        For a symbolic link, a file that is not regular, or one larger than ``limit``.

    Examples
    --------
    >>> read_regular_bytes("store/cldata-store.json", limit=1 << 20)[:1]   # doctest: +SKIP
    b'{'
    """
    fd = open_regular(path)
    with os.fdopen(fd, "rb") as f:
        if limit is None:
            return f.read()
        data = f.read(limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than the {limit:,} bytes such a file can hold", str(path))
    return data


def create_new(path: str | os.PathLike[str], mode: int = 0o644) -> BinaryIO:
    """Create ``path`` exclusively (``O_CREAT | O_EXCL | O_NOFOLLOW``) and return it open for writing.

    Whatever is at ``path`` already — a file, a symbolic link (dangling or not), a FIFO —
    makes this fail with :class:`FileExistsError`: nothing is followed or overwritten.

    Examples
    --------
    >>> with create_new(tmp / "00000001-1a2b3c4d.seg") as f:     # doctest: +SKIP
    ...     f.write(b"...")
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC | _BINARY, mode)
    return os.fdopen(fd, "wb")


def temporary_beside(path: str | os.PathLike[str]) -> Path:
    """A new, unpredictable name beside ``path`` to write it under before renaming it into place.

    The name records this host and process, so that :func:`remove_stale_temporaries` can
    tell one left by a process that was killed from one still being written, and ends in
    64 random bits, so that nothing can be planted at it in advance. Only a name: create
    the file with :func:`create_new` (or use :func:`new_temporary`, which does).

    Examples
    --------
    >>> temporary_beside("/data/c7.h5").name.startswith(".c7.h5.tmp-")
    True
    """
    path = Path(path)
    return path.with_name(f".{path.name}.tmp-{HOST_TAG}-{os.getpid()}-{secrets.token_hex(8)}")


def new_temporary(path: str | os.PathLike[str], mode: int = 0o644, suffix: str = "") -> Path:
    """Create an empty temporary file beside ``path`` exclusively and return its name.

    For writers that open files by name (PyTables): the name is unpredictable
    (:func:`temporary_beside`) and was free when the file was created, so the writer
    writes into this new file, never through a link planted beside ``path``. Rename it
    into place when complete; remove it on failure (:func:`replaced_on_success` does both).
    ``suffix`` ends the name (for writers that want one, such as pynwb's ``.nwb``).

    Examples
    --------
    >>> tmp = new_temporary("store/overviews/rec_1.h5")    # doctest: +SKIP
    >>> tables.open_file(str(tmp), "w")                    # doctest: +SKIP
    """
    for _ in range(_ATTEMPTS):
        tmp = Path(f"{temporary_beside(path)}{suffix}")
        try:
            create_new(tmp, mode).close()
        except FileExistsError:
            continue  # taken (planted, or astronomically unlucky): draw again
        return tmp
    raise FileExistsError(errno.EEXIST, "no free temporary name beside it (the directory is full of them?)",
                          str(path))


@contextmanager
def replaced_on_success(path: str | os.PathLike[str], *, suffix: str = "") -> Iterator[Path]:
    """A new temporary file beside ``path`` to write; ``path`` once the block succeeds.

    Yields the name of an empty file created exclusively (:func:`new_temporary`) for a
    writer that opens files by name (PyTables, pynwb). When the block ends without an
    error the file is synced to disk, renamed over ``path`` and the folder synced: a
    crash leaves the old ``path`` or the new one, never a part. On an error (or a
    ``KeyboardInterrupt``) the temporary file is removed and ``path`` left as it was. A
    check to make just before the rename goes at the end of the block.

    Examples
    --------
    >>> with replaced_on_success("out/rec.h5") as tmp:              # doctest: +SKIP
    ...     with tables.open_file(str(tmp), "w") as h5:
    ...         fill(h5)
    """
    path = Path(path)
    tmp = new_temporary(path, suffix=suffix)
    try:
        yield tmp
        fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves either the old or the new content.

    The data go to a new temporary file beside ``path`` (created exclusively under an
    unpredictable name, see :func:`new_temporary`), which is fsynced, renamed over ``path``
    (a symbolic link at ``path`` is replaced, never followed), and the directory fsynced.

    Examples
    --------
    >>> atomic_write_bytes(tmp / "CURRENT", b"{}")     # doctest: +SKIP
    """
    path = Path(path)
    for _ in range(_ATTEMPTS):
        tmp = temporary_beside(path)
        try:
            f = create_new(tmp, mode)
        except FileExistsError:
            continue
        break
    else:
        raise FileExistsError(errno.EEXIST, "no free temporary name beside it", str(path))
    try:
        with f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def safe_child(directory: str | os.PathLike[str], name: str) -> Path:
    """``directory / name`` for a ``name`` that is one plain file name, never a path.

    The inside-the-directory check for names that come from files (a catalog's recording
    ids, say) when the directory is not a store (the user's cache directory): ``name`` must
    not be empty, ``.`` or ``..``, start with a dot, or hold a path separator or a NUL.

    Raises
    ------
    ValueError
        For any other ``name``.

    Examples
    --------
    >>> safe_child("/cache", "rec_1.h5")
    PosixPath('/cache/rec_1.h5')
    """
    if (not isinstance(name, str) or not name or name.startswith(".") or "/" in name or "\\" in name
            or "\x00" in name or len(name.encode("utf-8", "surrogatepass")) > 255):
        raise ValueError(f"{name!r:.80} is not a plain file name")
    path = Path(directory) / name
    if path.parent != Path(directory) or path.name != name:
        raise ValueError(f"{name!r:.80} is not a plain file name")
    return path


def remove_stale_temporaries(path: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporaries of ``path`` (see :func:`temporary_beside`) whose process has ended.

    Only temporaries made on this host are considered, and only on POSIX (where asking
    whether a process lives is harmless). Returns what was deleted.

    Examples
    --------
    >>> remove_stale_temporaries("/data/c7.h5")      # doctest: +SKIP
    [PosixPath('/data/.c7.h5.tmp-1a2b3c4d-4242-9f8e7d6c5b4a3928')]
    """
    path = Path(path)
    if os.name != "posix" or not path.parent.is_dir():
        return []
    # 8 random hex digits in names made before temporaries had 16
    pattern = re.compile(re.escape(f".{path.name}.tmp-{HOST_TAG}-") + r"(\d+)-(?:[0-9a-f]{8}|[0-9a-f]{16})")
    removed = []
    for candidate in path.parent.iterdir():
        match = pattern.fullmatch(candidate.name)
        if match is None or _process_lives(int(match.group(1))):
            continue
        try:
            if candidate.is_symlink() or candidate.is_file():
                candidate.unlink()
                removed.append(candidate)
        except FileNotFoundError:
            pass  # another process cleaned it first
    return removed


def _process_lives(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's process (or a number we cannot ask about): leave it
    return True
