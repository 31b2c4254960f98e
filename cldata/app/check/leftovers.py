"""Files left over from interrupted commits: what no commit refers to (payloads, segments,
copies, a killed migration's or creation's temporary catalog). Repair removes them as entries,
never following a link, with the writer lock held and only once no reader has the store open.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cldata.app.check.report import CheckReport, Problem, counted, is_directory
from cldata.core.locking import FileLock
from cldata.errors import CldataError
from cldata.store.layout import READERS_LOCK, WRITER_LOCK, acquire

__all__ = ["check_leftovers"]


def check_leftovers(store: Any, report: CheckReport, repair: bool, stray: dict[Path, Problem],
                    planted: dict[Path, Problem]) -> None:
    """Files of interrupted commits: unreferenced payloads, segments, copies and temp files.

    ``stray`` and ``planted``: entries already reported (journals beside copies; links and
    odd files there), removed with the rest; the problems of ``stray`` ones are marked
    repaired once they are gone, those of ``planted`` ones stay reported.
    """

    backend = store.backend
    referenced = _referenced(store)
    # everything but directories: symbolic links and FIFOs too (removed as entries, never followed or opened);
    # a store whose catalog is an engine's has no catalog/ directory (one left by a migration is garbage)
    left = [p for d in (backend.catalog_dir, backend.payload_dir, backend.root / "recordings") if d.is_dir()
            for p in sorted(d.iterdir()) if p not in referenced and not is_directory(p)]
    if store.engine is not None:  # a catalog written by a migration or creation that was killed
        left += [p for p in sorted(store.root.iterdir()) if p.name.startswith(".catalog.sqlite.tmp-")]
    if not left:
        return
    others = [p for p in left if p not in stray and p not in planted]
    if others:
        problem = report.add(str(store.root), f"{counted(len(others), 'files')} left over from interrupted commits "
                                              f"({', '.join(p.name for p in others[:5])}"
                                              f"{' ...' if len(others) > 5 else ''})", repairable=True)
    else:
        problem = Problem(str(store.root), "stray files beside copies")  # reported above, not again
    if not repair:
        problem.message += f"; repair removes {'it' if len(others) == 1 else 'them'}"
        return
    writer = FileLock(store.root / WRITER_LOCK)
    try:
        if not acquire(writer):
            problem.message += "; not removed: a writer has the store open"
            return
    except CldataError as exc:  # a lock file that is a link or a FIFO
        problem.message += f"; not removed: {exc}"
        return
    try:
        _remove(store, problem, left, stray, planted)
    finally:
        writer.release()


def _referenced(store: Any) -> set[Path]:
    """The files the last commit refers to: recordings' copies, payload files and (for a segment
    log) its segments."""
    backend = store.backend
    if store.engine is not None:
        # the recordings and the payload files the results name, without decoding every result (a
        # malformed one is reported by the check of results, not raised here)
        engine = store.engine
        live = [*engine.recordings(store.catalog.gen),
                *({"payload": {"file": name}} for name in sorted(engine.payload_files()))]
    else:
        live = list(store.catalog.records())
    referenced = set()
    for rec in live:
        payload = rec.get("payload")
        if isinstance(payload, dict) and "file" in payload:
            referenced.add(backend.payload_dir / str(payload["file"]))
        location = rec.get("location") or {}
        if location.get("kind") == "copy":
            referenced.add(backend.root / str(location["path"]))
    if store.engine is None:
        _, segments = backend.read_current()
        referenced |= {backend.catalog_dir / s for s in segments} | {backend.catalog_dir / "CURRENT"}
    return referenced


def _remove(store: Any, problem: Problem, left: list[Path], stray: dict[Path, Problem],
            planted: dict[Path, Problem]) -> None:
    """Remove the left-overs, with the store's writer lock held and once no reader has it open."""
    backend = store.backend
    readers = FileLock(store.root / READERS_LOCK)
    engine = store.engine
    if engine is not None:
        # what the last commit refers to, read again now that no writer can commit: the recordings
        # and the payload files the results name (the segment log's load(), for an engine's catalog)
        committed = [*engine.recordings(engine.generation()),
                     *({"payload": {"file": name}} for name in sorted(engine.payload_files()))]
    # this check itself reads the store: its own reader lock is released first
    store.close()
    try:
        if not acquire(readers, exclusive=True):
            problem.message += "; not removed: a reader has the store open"
            return
    except CldataError as exc:
        problem.message += f"; not removed: {exc}"
        return
    try:
        if engine is None:
            removed = backend.collect_garbage(backend.load())
        else:
            removed = backend.collect_garbage(committed)
            # the backend keeps no catalog here: a killed migration's segment log and a killed
            # creation's temporary catalog are removed as entries (never followed)
            catalog_dir = backend.catalog_dir
            for path in left:
                inside_log = path.parent == catalog_dir and not os.path.islink(catalog_dir)
                if (inside_log or path.parent == store.root) and os.path.lexists(path) and not is_directory(path):
                    path.unlink()
                    removed.append(path)
        problem.message += f"; removed {len(removed)}"
        problem.repaired = True
        for path, reported in stray.items():
            if not os.path.lexists(path):
                reported.repaired = True
                reported.message = reported.message.replace("(repair removes it)", "— removed")
        for path, reported in planted.items():
            if not os.path.lexists(path):
                reported.message += "; the entry was removed"
    finally:
        readers.release()
