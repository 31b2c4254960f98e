"""Garbage collection: files of a store that no commit refers to any more, removed when nobody reads.

A writer removes what the last commit does not name (recordings and payloads removed or
replaced, overviews of recordings no longer stored, temporaries, the old segment log of a
migration killed before removing it) only while it holds the readers' lock exclusively: a
reader that opened before the commit may still be reading them. What this process has not
committed is never the reference: a crash keeps what the last commit held.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path
from typing import Any

from cldata.backends.base import Backend
from cldata.core.locking import FileLock
from cldata.store.layout import READERS_LOCK, acquire

__all__ = ["collect_garbage"]


def _committed_references(engine: Any, dirty: bool) -> list[dict[str, Any]]:
    """What garbage collection must keep, as records: the committed recordings and the payload
    files the committed results name (removed entries are purged first: nobody reads them)."""
    if not dirty:
        engine.purge()
    records = engine.recordings(engine.generation())
    return [*records, *({"payload": {"file": name}} for name in sorted(engine.payload_files()))]


def _remove_stale_overviews(root: Path, ids: set[str]) -> None:
    overviews = root / "overviews"
    if overviews.is_dir() and not overviews.is_symlink():
        for path in overviews.iterdir():
            if ((path.suffix == ".h5" and path.stem not in ids or path.name.startswith("."))
                    and not stat.S_ISDIR(os.lstat(path).st_mode)):  # (a link goes as a link)
                path.unlink(missing_ok=True)


def collect_garbage(root: Path, backend: Backend, engine: Any, dirty: bool) -> None:
    """Remove the files of the store at ``root`` that its last commit does not name, if nobody reads it.

    ``engine`` is the catalog engine (``None`` for a store of the old layout, whose backend
    keeps the catalog); ``dirty``: the writer has uncommitted changes.
    """
    readers = FileLock(root / READERS_LOCK)
    if not acquire(readers, exclusive=True):
        return
    try:
        # what the last commit refers to stays, whatever this process did not commit
        if engine is not None:
            committed = _committed_references(engine, dirty)
            leftover = root / "catalog"  # the segment log of a migration killed before removing it
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
        else:
            committed = backend.load()
        backend.collect_garbage(committed)
        _remove_stale_overviews(root, {r["id"] for r in committed if r.get("kind") == "recording"})
    finally:
        readers.release()
