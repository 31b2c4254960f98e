"""The check of the overviews a store keeps: each belongs to its recording and reads in full
(HDF5 verifies every chunk's Fletcher-32 checksum); repair rebuilds a damaged, stale or old
one, with the store's writer lock.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cldata.app.check.report import CheckReport, Clock, OutOfTime, Problem, ran_out, what_is
from cldata.core.display import progress_bar
from cldata.core.fsutil import is_regular
from cldata.core.locking import FileLock
from cldata.errors import CldataError
from cldata.format.reader import RecordingView
from cldata.overview import Overview, build_overview
from cldata.store.layout import WRITER_LOCK, acquire, overview_name

__all__ = ["check_overview", "rebuild_overviews"]


def check_overview(store: Any, recording_id: str, path: Path, location: Any, report: CheckReport, where: str,
                   deep: bool, clock: Clock, rebuild: dict[str, tuple[Problem, Path, bool]]) -> None:
    """The overview kept in the store for a recording: it belongs to it, and every chunk reads
    (HDF5 verifies each chunk's Fletcher-32 checksum)."""

    inside = store.root / "overviews" / overview_name(recording_id)
    finished = location.get("kind") == "copy"
    if not os.path.lexists(inside):
        return  # built on demand (or for a store copied without them): nothing to check
    if not is_regular(inside):
        problem = report.add(where, f"its overview {inside.name} is {what_is(inside)}; repair replaces it",
                             repairable=True)
        rebuild[recording_id] = (problem, path, finished)
        return
    try:
        with RecordingView(path, finished=finished) as view, Overview(inside, view) as ov:
            ov.open()
            if deep and report.complete:
                ov.verify(clock.tick)
            elif deep:
                report.notes.append(f"{where}: its overview was not read in full")
    except OutOfTime:
        ran_out(report, clock, f"{where}: its overview was not read in full")
    except CldataError as exc:
        if "format version 1" in str(exc):
            report.notes.append(f"{where}: its overview has no checksums (format 1); repair rebuilds it, or it is "
                                "rebuilt when next used")
            rebuild[recording_id] = (Problem(where, "overview of format 1"), path, finished)
        else:
            problem = report.add(where, f"its overview cannot be used: {exc} (repair rebuilds it)", repairable=True)
            rebuild[recording_id] = (problem, path, finished)


def rebuild_overviews(store: Any, rebuild: dict[str, tuple[Problem, Path, bool]]) -> None:
    """Rebuild the overviews found damaged, stale or old (with the store's writer lock)."""

    writer = FileLock(store.root / WRITER_LOCK)
    try:
        held = acquire(writer)
    except CldataError as exc:
        held, why = False, str(exc)
    else:
        why = "a writer has the store open"
    if not held:
        for problem, _, _ in rebuild.values():
            problem.message += f"; not rebuilt: {why}"
        return
    try:
        for recording_id, (problem, recording, finished) in progress_bar(
                rebuild.items(), total=len(rebuild), desc="rebuilding overviews", unit="overview"):
            try:
                path = store.backend.inside(store.root / "overviews" / overview_name(recording_id))
                with RecordingView(recording, finished=finished) as view:
                    if os.path.lexists(path) and not is_regular(path):
                        os.unlink(path)  # a link or a FIFO: removed as an entry, never followed
                    build_overview(view, path)
            except (CldataError, OSError) as exc:
                problem.message += f"; not rebuilt: {exc}"
                continue
            problem.repaired = True
            problem.message += " — rebuilt"
    finally:
        writer.release()
