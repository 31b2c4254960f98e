"""Small file-system helpers for durable, atomic updates.

Examples
--------
>>> from cldata.fsutil import atomic_write_bytes
>>> atomic_write_bytes(tmp / "catalog.bin", b"...")   # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import zlib
from pathlib import Path

__all__ = ["fsync_dir", "fsync_file", "atomic_write_bytes", "temporary_beside", "remove_stale_temporaries"]

# temporaries name their host, so that a directory shared between machines never has one
# machine's live temporary taken for another machine's dead process
_HOST = f"{zlib.crc32(socket.gethostname().encode()):08x}"


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make a directory's entries (creations, renames, deletions) durable."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def fsync_file(path: str | os.PathLike[str]) -> None:
    """Make a file's content durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves either the old or the new content."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def temporary_beside(path: str | os.PathLike[str]) -> Path:
    """A new name beside ``path`` to write it under before renaming it into place.

    The name records this host and process, so that :func:`remove_stale_temporaries` can
    tell one left by a process that was killed from one still being written.

    Examples
    --------
    >>> temporary_beside("/data/c7.h5").name.startswith(".c7.h5.tmp-")
    True
    """
    path = Path(path)
    return path.with_name(f".{path.name}.tmp-{_HOST}-{os.getpid()}-{secrets.token_hex(4)}")


def remove_stale_temporaries(path: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporaries of ``path`` (see :func:`temporary_beside`) whose process has ended.

    Only temporaries made on this host are considered, and only on POSIX (where asking
    whether a process lives is harmless). Returns what was deleted.

    Examples
    --------
    >>> remove_stale_temporaries("/data/c7.h5")      # doctest: +SKIP
    [PosixPath('/data/.c7.h5.tmp-1a2b3c4d-4242-9f8e7d6c')]
    """
    path = Path(path)
    if os.name != "posix" or not path.parent.is_dir():
        return []
    pattern = re.compile(re.escape(f".{path.name}.tmp-{_HOST}-") + r"(\d+)-[0-9a-f]{8}")
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
