"""The catalog of a store made before version 2: reading it checked, and moving it into SQLite.

A version-1 store keeps its catalog in the backend's segment log (``catalog/``). Opened for
writing (or by ``cldata upgrade``), it moves that catalog into the catalog engine once,
crash-safe in three steps: the engine's catalog is written whole under a temporary name and
renamed into place; then the marker names the engine (an atomic rename); then the old
segments go. Killed before the marker changes, the store is still a version-1 store and the
next writer migrates again; after, it is a version-2 one.

Examples
--------
>>> checked_catalog(Path("lab-store"), []).n_recordings
0
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from cldata.backends.base import Backend
from cldata.core.fsutil import atomic_write_bytes
from cldata.core.gc_pause import paused_gc
from cldata.core.locking import FileLock
from cldata.errors import StoreFormatError
from cldata.model.catalog import Catalog
from cldata.store.layout import MARKER, READERS_LOCK, acquire, now

__all__ = ["checked_catalog", "migrate"]


def checked_catalog(root: Path, records: list[dict[str, Any]]) -> Catalog:
    """The in-memory catalog of ``records``; a malformed or crafted record (an id that is a path...)
    raises :class:`~cldata.errors.StoreFormatError`."""
    try:
        return Catalog.from_records(records)
    except StoreFormatError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StoreFormatError(
            f"the catalog of {root} holds a malformed record ({type(exc).__name__}: {exc}); "
            "`cldata check` says more"
        ) from None


def migrate(root: Path, marker: dict[str, Any], backend: Backend, engine: Any) -> None:
    """Move a version-1 store's catalog (the backend's segment log) into ``engine``, once (see module doc)."""
    with paused_gc():
        # a damaged or crafted catalog is refused as a read would refuse it, before anything changes
        # (the engine stores records as they are: an id that is a path must not reach it); the engine
        # gets the records as the catalog read them (optional fields a version-1 record may lack, such
        # as tags or summary, filled in)
        catalog = checked_catalog(root, backend.load())
    engine.create(catalog.records())
    new = {**marker, "version": 2, "catalog": engine.name, "migrated_utc": now()}
    atomic_write_bytes(root / MARKER, json.dumps(new, indent=1).encode())
    # the old segments go now if no reader has the store open (one may still read them, and refresh()
    # from them); otherwise garbage collection removes them once the last reader is gone
    readers = FileLock(root / READERS_LOCK)
    if acquire(readers, exclusive=True):
        try:
            shutil.rmtree(root / "catalog", ignore_errors=True)
        finally:
            readers.release()
