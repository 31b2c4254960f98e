"""The store directory: what lives where, its marker, its locks, and how a new one is laid out.

A store is a directory holding:

- ``cldata-store.json``, the **marker**: a few lines of JSON naming the format, the backend
  (``"hdf5"``, ``"pickle"``, a plugin) and the catalog engine (``"sqlite"``; a store made
  before version 2 has none: its catalog is the backend's segment log, ``"backend"``);
- ``.lock``, the **writer's lock** (an OS advisory lock held by the one writer; made first
  when a store is created, never removed), and ``.readers``, the **readers' lock** (shared
  by readers; a writer holding it exclusively knows nobody reads, and may remove files);
- the backend's ``recordings/`` and ``payloads/`` (and ``catalog/`` for the old layout), the
  engine's ``catalog.sqlite``, and ``overviews/<recording id>.h5`` (min/max pyramids).

A read-only store never writes inside its directory: the overviews it builds go to the
user's cache (:func:`cache_dir`). Creating a store is crash-safe: killed half-way, the
directory holds only what :func:`empty_or_unfinished` accepts, and the next writer creates
the store there again.

Examples
--------
>>> overview_name("rec_5f2c0d9e8a7b6c5d")
'rec_5f2c0d9e8a7b6c5d.h5'
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cldata.backends.base import Backend
from cldata.core.canonical import digest
from cldata.core.fsutil import atomic_write_bytes, is_regular, read_regular_bytes, safe_child
from cldata.core.locking import FileLock
from cldata.errors import StoreFormatError
from cldata.model.engines import DEFAULT_ENGINE, LEGACY, get_catalog_engine
from cldata.model.entries import is_record_id

__all__ = ["MARKER", "WRITER_LOCK", "READERS_LOCK", "now", "acquire", "read_marker", "write_marker",
           "backend_name", "engine_name", "empty_or_unfinished", "create_store", "overview_name", "cache_dir",
           "overview_path", "overview_build_path"]

MARKER = "cldata-store.json"
WRITER_LOCK = ".lock"
READERS_LOCK = ".readers"
MARKER_LIMIT = 1 << 20  # the marker is a few lines of JSON
# what a creation killed half-way leaves, besides the lock files: the backend's empty skeleton
SKELETON = {"catalog", "payloads", "recordings"}
CATALOG_FILE = "catalog.sqlite"  # the SQLite engine's (cldata.model.engines.sqlite.FILE_NAME)


def now() -> str:
    """The time now, as the catalog and the marker write it (ISO 8601, UTC)."""
    return datetime.now(UTC).isoformat()


def acquire(lock: FileLock, **how: Any) -> bool:
    """``lock.acquire(**how)``; a lock file that cannot be used raises :class:`~cldata.errors.StoreFormatError`."""
    try:
        return lock.acquire(**how)
    except OSError as exc:  # e.g. a lock file planted as a symbolic link (opened with O_NOFOLLOW)
        raise StoreFormatError(f"cannot use the lock file {lock.path}: {exc.strerror or exc}") from None


def read_marker(root: Path) -> dict[str, Any] | None:
    """The store's marker, or ``None`` if ``root`` has none (not a store, or not yet one)."""
    path = root / MARKER
    try:
        # never follows a link nor waits on a FIFO planted as the marker
        data = json.loads(read_regular_bytes(path, limit=MARKER_LIMIT))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise StoreFormatError(f"{path} cannot be read: {exc.strerror or exc} (a store's marker is a small "
                               "regular file)") from None
    except (ValueError, RecursionError) as exc:
        raise StoreFormatError(f"{path} is damaged: {type(exc).__name__}: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != "cldata store":
        raise StoreFormatError(f"{path} is not a cldata store marker")
    if not isinstance(data.get("backend", ""), str):
        raise StoreFormatError(f"{path} names a backend that is not a string: {data.get('backend')!r:.60}")
    return data


def write_marker(root: Path, marker: dict[str, Any]) -> None:
    """Replace the marker atomically (a crash leaves the old one or the new one)."""
    atomic_write_bytes(root / MARKER, json.dumps(marker, indent=1).encode())


def backend_name(root: Path, marker: dict[str, Any] | None, requested: str | None, mode: str) -> str:
    """The backend a store opens with: the one asked for, or the store's own, or ``"hdf5"``."""
    stored = marker.get("backend") if marker else None
    if stored and requested and stored != requested and mode != "w":
        raise StoreFormatError(f"{root} is a {stored!r} store; open it with backend={stored!r} (or None)")
    return requested or stored or "hdf5"


def engine_name(root: Path, marker: dict[str, Any], requested: str | None, mode: str) -> str:
    """The catalog engine an existing store opens with (see :class:`~cldata.DataStore`'s ``catalog``)."""
    stored = marker.get("catalog", LEGACY)
    if type(stored) is not str:
        raise StoreFormatError(f"{root / MARKER} names a catalog engine that is not a string: {stored!r:.60}")
    if requested is None:
        # a store of the old layout moves to SQLite when opened for writing (cldata.store.migration)
        return DEFAULT_ENGINE if stored == LEGACY and mode != "r" else stored
    if requested == stored:
        return stored  # catalog="backend" keeps an old store's segment log, even for writing
    if stored == LEGACY and requested == DEFAULT_ENGINE:
        if mode == "r":
            raise StoreFormatError(f"{root} keeps its catalog in the segment log of a store made before "
                                   "version 2; open it read-only with catalog=None, or move it to SQLite with "
                                   "`cldata upgrade` (or by opening it with mode='a')")
        return requested
    raise StoreFormatError(f"{root} keeps its catalog in {stored!r}; open it with catalog={stored!r} (or None)")


def _is_plain(path: Path, directory: bool) -> bool:
    mode = os.lstat(path).st_mode
    return stat.S_ISDIR(mode) if directory else stat.S_ISREG(mode)


def _leftover(name: str, path: Path) -> bool:
    """Whether one entry of the directory is something a creation leaves (see :func:`empty_or_unfinished`)."""
    if name in (WRITER_LOCK, READERS_LOCK) or name.startswith(f".{MARKER}.tmp-"):
        return True
    if name in (CATALOG_FILE, f"{CATALOG_FILE}-journal") or name.startswith(f".{CATALOG_FILE}.tmp-"):
        return _is_plain(path, False)
    if name not in SKELETON or not _is_plain(path, True):
        return False
    return all(name == "catalog" and _is_plain(inner, False)
               and (inner.name == "CURRENT" or inner.name.startswith(".CURRENT.tmp-")) for inner in path.iterdir())


def empty_or_unfinished(root: Path) -> bool:
    """Whether ``root`` holds nothing but lock files and what a creation killed half-way leaves
    (the backend's empty directories, ``catalog/CURRENT`` and temporaries): a store can be
    created there. Anything else is somebody's data."""
    try:
        return all(_leftover(path.name, path) for path in root.iterdir())
    except OSError:
        return False


def create_store(root: Path, backend: Backend, backend_name: str, engine_name: str, wipe: bool) -> None:
    """Lay out a new, empty store in ``root`` (the writer's lock held); ``wipe``: over an existing one.

    The marker is written last (and, when wiping, removed first): killed half-way, the
    directory is an unfinished store, never a damaged one.
    """
    if not wipe and not empty_or_unfinished(root):
        raise StoreFormatError(f"{root} is not empty and not a cldata store; choose an empty or new directory")
    engine = None if engine_name == LEGACY else get_catalog_engine(engine_name)(root, writable=True)
    if wipe:
        (root / MARKER).unlink(missing_ok=True)
        for name in ("catalog", "payloads", "recordings"):
            # (rmtree refuses a symbolic link: a planted one is left, and then refused by the backend)
            shutil.rmtree(root / name, ignore_errors=True)
        for name in (CATALOG_FILE, f"{CATALOG_FILE}-journal"):
            if is_regular(root / name):
                (root / name).unlink()
    if engine is not None:
        backend.catalog_in_backend = False
    backend.create()
    marker: dict[str, Any] = {"format": "cldata store", "version": 1, "backend": backend_name, "created_utc": now()}
    if engine is not None:
        engine.create()
        marker.update(version=2, catalog=engine_name)
    write_marker(root, marker)


def overview_name(recording_id: str) -> str:
    """The file name of a recording's overview; the one check for every overview path made from a
    catalog id: a plain name, never a path."""
    if not is_record_id(recording_id):
        raise StoreFormatError(f"{recording_id!r:.100} is not a recording id of a store (a plain name such as "
                               "'rec_5f2c0d9e8a7b6c5d'); no overview path is made from it")
    return f"{recording_id}.h5"


def cache_dir(root: Path) -> Path:
    """Where overviews of the store at ``root`` go when the store may not be written (the user's cache)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "cldata" / "overviews" / digest(str(Path(root).resolve()))


def _cached_overview(root: Path, name: str) -> Path:
    try:
        return safe_child(cache_dir(root), name)  # the inside-the-directory check of the cache
    except ValueError:  # pragma: no cover - overview_name made the name
        raise StoreFormatError(f"{name!r:.100} is not a plain file name; no overview path is made from it") from None


def overview_path(root: Path, backend: Backend, writable: bool, recording_id: str) -> Path:
    """Where a recording's overview is read from: in the store (``overviews/<id>.h5``) when the store
    is writable or the file is there; otherwise in the user's cache (see :func:`overview_build_path`)."""
    name = overview_name(recording_id)
    inside = root / "overviews" / name
    if not root.is_file() and (writable or is_regular(inside)):
        return backend.inside(inside)
    return _cached_overview(root, name)


def overview_build_path(root: Path, backend: Backend, writable: bool, recording_id: str) -> Path:
    """Where a recording's overview is (re)built: in the store when it is writable; in the user's cache
    for a read-only store or an export, which writes nothing inside its directory."""
    name = overview_name(recording_id)
    if writable and not root.is_file():
        return backend.inside(root / "overviews" / name)
    return _cached_overview(root, name)
