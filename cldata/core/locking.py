"""Advisory file locks that vanish with the process holding them.

A recording writer locks its journal, and a store writer locks the store, with the
operating system's advisory locks (``flock`` on POSIX, ``msvcrt.locking`` on Windows).
The kernel drops such a lock when its process ends, however it ends, so a writer killed
with SIGKILL never leaves a lock that blocks the next one: no stale-lock heuristics
(pid files, timeouts) are needed. Locks are not reliable on some network file systems;
keep stores and live recordings on a local disk.

Examples
--------
>>> from cldata.core.locking import FileLock
>>> lock = FileLock(tmp / "store.lock")          # doctest: +SKIP
>>> lock.acquire(exclusive=True)                 # doctest: +SKIP
True
>>> FileLock(tmp / "store.lock").acquire()       # doctest: +SKIP
False
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cldata.core.fsutil import NOT_REGULAR

__all__ = ["FileLock", "is_locked", "lock_fd", "unlock_fd", "is_locked_fd"]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def _check_regular(fd: int, path: str | os.PathLike[str]) -> None:
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        raise OSError(NOT_REGULAR, "not a regular file, which a lock file must be", str(path))

try:
    import fcntl

    def _lock(fd: int, exclusive: bool, blocking: bool = False) -> bool:
        flags = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        try:
            fcntl.flock(fd, flags if blocking else flags | fcntl.LOCK_NB)
        except (BlockingIOError, PermissionError):
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

except ImportError:  # pragma: no cover - Windows
    import msvcrt

    def _lock(fd: int, exclusive: bool, blocking: bool = False) -> bool:
        # Windows has no shared byte-range lock through msvcrt; readers take it briefly
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_LOCK if blocking else msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


class FileLock:
    """An advisory lock on ``path`` (created if missing), released when the process ends.

    Parameters
    ----------
    path
        The file to lock. It is created (empty) if it does not exist.
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object currently holds the lock."""
        return self._fd is not None

    def acquire(self, exclusive: bool = True, blocking: bool = False) -> bool:
        """Take the lock; return whether it was taken (without ``blocking``, never waits).

        Raises
        ------
        OSError
            If the lock file is a symbolic link (``errno.ELOOP``) or not a regular file
            (a FIFO, a directory...): such a file is never followed, created elsewhere or
            waited on.
        """
        if self._fd is not None:
            return True
        # O_NOFOLLOW: a lock file planted as a symlink must not create or lock files elsewhere;
        # O_NONBLOCK and the fstat: one planted as a FIFO must not block the open
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | _NOFOLLOW | _NONBLOCK | _CLOEXEC, 0o644)
        try:
            _check_regular(fd, self.path)
        except BaseException:
            os.close(fd)
            raise
        if _lock(fd, exclusive, blocking):
            self._fd = fd
            return True
        os.close(fd)
        return False

    def release(self) -> None:
        """Release the lock (a no-op if not held)."""
        if self._fd is not None:
            try:
                _unlock(self._fd)
            finally:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> FileLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:
        try:
            self.release()
        except Exception:
            pass


def is_locked(path: str | os.PathLike[str]) -> bool:
    """Whether another open file (any process, this one included) holds a lock on ``path``.

    A missing file is not locked. The check takes and drops a shared lock.

    Raises
    ------
    OSError
        If ``path`` is a symbolic link or not a regular file (never followed nor waited on).
    """
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        _check_regular(fd, path)
        if _lock(fd, exclusive=False):
            _unlock(fd)
            return False
        return True
    finally:
        os.close(fd)


def lock_fd(fd: int, exclusive: bool = True, blocking: bool = False) -> bool:
    """Lock an open file descriptor; return whether the lock was taken (released when it closes)."""
    return _lock(fd, exclusive, blocking)


def unlock_fd(fd: int) -> None:
    """Release a lock taken with :func:`lock_fd`."""
    _unlock(fd)


def is_locked_fd(fd: int) -> bool:
    """Whether another open file holds a lock on the file behind ``fd`` (takes and drops a shared lock)."""
    if _lock(fd, exclusive=False):
        _unlock(fd)
        return False
    return True
