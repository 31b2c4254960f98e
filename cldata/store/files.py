"""The open parts of a store: its backend, its catalog engine and its locks, opened and released together.

Opening a store directory (see :mod:`cldata.store.layout` for what lives in it) goes:

1. a reader needs the marker (a directory without one is not a store); a writer takes the
   writer's lock first — creating the directory if needed, but never inside a directory
   that holds somebody else's files — and reads the marker with the lock held (another
   writer may have just created the store);
2. the backend opens (the one the marker names, or the one asked for);
3. a new store, or ``mode="w"``, is laid out (:func:`~cldata.store.layout.create_store`);
4. the catalog engine opens (none for a store of the old layout that keeps it so); a reader
   takes the readers' lock, shared; a writer of an old-layout store moves its catalog into
   the engine first (:mod:`cldata.store.migration`).

A failure at any step releases what was taken. A file (not a directory) opens as a store
export, read-only, through :class:`~cldata.backends.export.ExportBackend`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cldata.backends.export import ExportBackend
from cldata.backends.registry import get_backend
from cldata.core.gc_pause import paused_gc
from cldata.core.locking import FileLock
from cldata.errors import ReadOnlyStoreError, StoreFormatError, StoreLockedError
from cldata.model.catalog import Catalog
from cldata.model.engines import DEFAULT_ENGINE, LEGACY, EngineCatalog, get_catalog_engine
from cldata.store.layout import (
    MARKER,
    READERS_LOCK,
    WRITER_LOCK,
    acquire,
    backend_name,
    create_store,
    engine_name,
    read_marker,
)
from cldata.store.migration import checked_catalog, migrate

__all__ = ["StoreFiles", "open_files"]


class StoreFiles:
    """A store's backend, catalog engine (``None``: the backend keeps the catalog) and locks."""

    __slots__ = ("root", "mode", "backend", "engine", "lock", "readers")

    def __init__(self, root: Path, mode: str):
        self.root, self.mode = root, mode
        self.backend: Any = None
        self.engine: Any = None
        self.lock: FileLock | None = None  # the writer's
        self.readers: FileLock | None = None  # a reader's share of the readers' lock

    @property
    def writable(self) -> bool:
        return self.mode != "r"

    def load_catalog(self) -> Catalog:
        """The catalog: the writer sees the last commit and its own changes; a reader, the commit it opened at."""
        if self.engine is not None:
            return EngineCatalog(self.engine, None if self.writable else self.engine.generation())
        with paused_gc():
            return checked_catalog(self.root, self.backend.load())

    def release(self, close_backend: bool = True) -> None:
        """Close the engine (uncommitted changes are rolled back) and the backend, release the locks."""
        if self.engine is not None:
            self.engine.close()
        if close_backend and self.backend is not None:
            self.backend.close()
        for lock in (self.readers, self.lock):
            if lock is not None:
                lock.release()


def _lock_for_writing(files: StoreFiles, marker: dict[str, Any] | None) -> dict[str, Any] | None:
    """Take the writer's lock (creating the directory); return the marker read with it held."""
    root = files.root
    # A directory being created by another process already holds its lock file (made first):
    # only a directory without one is somebody else's, where not even a lock file is created.
    # Whether a store can be created is decided with the lock held (create_store), so two
    # processes creating the same store end in one store and, for the other, StoreLockedError
    # or a normal open.
    # (one listing: the lock file, made first and never removed, is in any listing that shows
    # what a creation made after it)
    names = os.listdir(root) if marker is None and root.is_dir() else []
    if names and WRITER_LOCK not in names:
        raise StoreFormatError(f"{root} is not empty and not a cldata store; choose an empty or new directory")
    root.mkdir(parents=True, exist_ok=True)
    lock = FileLock(root / WRITER_LOCK)
    if not acquire(lock, exclusive=True):
        raise StoreLockedError(f"{root} is open for writing elsewhere; only one writer at a time "
                               "(readers can open it with mode='r')")
    files.lock = lock
    return read_marker(root)  # another writer may have created the store meanwhile


def _open_parts(files: StoreFiles, marker: dict[str, Any] | None, backend: str | None, catalog: str | None,
                options: dict[str, Any]) -> None:
    root, mode = files.root, files.mode
    name = backend_name(root, marker, backend, mode)
    files.backend = get_backend(name)(root, writable=files.writable, **options)
    if mode == "w" or marker is None:
        engine = catalog or DEFAULT_ENGINE
        create_store(root, files.backend, name, engine, wipe=marker is not None)
    else:
        engine = engine_name(root, marker, catalog, mode)
    if engine != LEGACY:
        files.engine = get_catalog_engine(engine)(root, writable=files.writable)
        files.backend.catalog_in_backend = False
    if mode == "r":
        readers = FileLock(root / READERS_LOCK)
        acquire(readers, exclusive=False, blocking=True)
        files.readers = readers
    if files.engine is not None:
        if mode == "a" and marker is not None and marker.get("catalog", LEGACY) == LEGACY:
            migrate(root, marker, files.backend, files.engine)
        files.engine.open()


def open_files(root: Path, mode: str, backend: str | None, catalog: str | None,
               options: dict[str, Any]) -> StoreFiles:
    """Open the store (or export file) at ``root`` (see module doc and :class:`~cldata.DataStore`)."""
    files = StoreFiles(root, mode)
    if root.is_file():
        if mode != "r":
            raise ReadOnlyStoreError(f"{root} is a file (a store export?), which opens read-only: use mode='r'")
        files.backend = ExportBackend(root, writable=False)
        return files
    if os.path.lexists(root) and not root.is_dir():
        raise StoreFormatError(f"{root} is neither a store directory nor an export file "
                               "(a FIFO, a device, a dangling link?)")
    marker = read_marker(root)
    if mode == "r" and marker is None:
        raise StoreFormatError(f"{root} is not a cldata store (no {MARKER}); open it with mode='a' to create one")
    if mode != "r":
        marker = _lock_for_writing(files, marker)
    try:
        _open_parts(files, marker, backend, catalog, options)
    except BaseException:
        files.release(close_backend=False)
        raise
    return files
