"""The check of a store directory: its catalog, every recording's file (a copy's checksum, a
link's target, what lies beside it) read in full, every result's sources and payload, the
overviews, and the files left over from interrupted commits.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cldata.app.check.leftovers import check_leftovers
from cldata.app.check.overviews import check_overview, rebuild_overviews
from cldata.app.check.recording import check_neo_recording, check_recording
from cldata.app.check.report import CheckReport, Clock, OutOfTime, Problem, ran_out, what_is
from cldata.backends.base import file_crc32
from cldata.backends.segmented import SegmentedBackend
from cldata.core.fsutil import is_regular
from cldata.errors import CldataError
from cldata.format.journal import journal_path
from cldata.format.neo_file import NeoRecordingView
from cldata.store.datastore import DataStore
from cldata.store.layout import MARKER, overview_name

__all__ = ["check_store"]


def check_store(root: Path, *, repair: bool = False, deep: bool = True, budget: float | None = None) -> CheckReport:
    """Check a store directory (see module doc). ``budget``: seconds of reading (``None``: no limit)."""

    clock = Clock(budget)
    report = CheckReport(Path(root), "store", budget=budget, repair=repair)
    try:
        store = DataStore(root, mode="r")
    except (CldataError, OSError) as exc:
        report.add(str(root), f"the store does not open: {exc}")
        return report
    try:
        backend = store.backend
        cat = store.catalog
        report.counts = {"recordings": cat.n_recordings, "results": cat.n_results, "files": 0}
        files: set[Path] = set()  # every file of the store the check opened or read
        if store.engine is not None:
            files |= {store.root / MARKER, *store.engine.files()}
            for problem in store.engine.check():
                report.add("catalog", problem)
        elif isinstance(backend, SegmentedBackend):
            _, segments = backend.read_current()
            files |= {store.root / MARKER, backend.catalog_dir / "CURRENT"}
            files |= {backend.catalog_dir / name for name in segments}
        copies = _Copies()
        for entry in [e for e in cat.recordings if e is not None]:
            _check_entry(store, entry, report, files, copies, repair=repair, deep=deep, clock=clock)
        for entry in result_entries(cat, report):
            _check_result(backend, cat, entry, report, files)
        if isinstance(backend, SegmentedBackend):
            check_leftovers(store, report, repair, copies.stray, copies.planted)
        if repair and copies.rebuild:
            rebuild_overviews(store, copies.rebuild)
        files |= {p for p in (store.root / "overviews" / overview_name(e.id) for e in cat.recordings if e is not None)
                  if is_regular(p)}
        report.counts["files"] = len(files)
    finally:
        store.close()
    report.seconds = clock.seconds
    return report


@dataclass
class _Copies:
    """What the check of recordings leaves for the end: journals beside copies, and overviews to rebuild."""

    #: stray journals beside copies, removed by repair
    stray: dict[Path, Problem] = field(default_factory=dict)
    #: links and odd files there: removed by repair, still reported
    planted: dict[Path, Problem] = field(default_factory=dict)
    #: recording id -> overview problem, recording, finished
    rebuild: dict[str, tuple[Problem, Path, bool]] = field(default_factory=dict)


def _check_entry(store: Any, entry: Any, report: CheckReport, files: set[Path], copies: _Copies, *, repair: bool,
                 deep: bool, clock: Clock) -> None:
    """One recording of the store: its file (a copy's checksum, what lies beside it), the recording
    read in full, and its overview."""
    where = f"recording {entry.id}"
    location = entry.location
    try:
        path = store.backend.recording_path(location)
    except (CldataError, OSError) as exc:
        report.add(where, str(exc))
        return
    # (a changed link raised ChangedLinkError above: recording_path compares size and mtime)
    files.add(path)
    if entry.summary.get("layout") == "neo":
        # a neo segment in cldata's neo layout: its own checks, no CL journal, no overview pyramid
        if location.get("kind") == "link" or _copy_readable(path, location, report, where, copies, deep=deep,
                                                             clock=clock):
            check_neo_recording(functools.partial(NeoRecordingView, path), report, where, clock, deep)
        return
    if location.get("kind") != "link":
        if not _copy_readable(path, location, report, where, copies, deep=deep, clock=clock):
            return
        check_recording(path, repair=repair, report=report, where=where, deep=deep, journal=False, _clock=clock)
    else:
        check_recording(path, repair=repair, report=report, where=where, deep=deep, _clock=clock)
    if not any(p.where == where and not p.repaired for p in report.problems):
        check_overview(store, entry.id, path, location, report, where, deep, clock, copies.rebuild)


def _copy_readable(path: Path, location: Any, report: CheckReport, where: str, copies: _Copies, *, deep: bool,
                   clock: Clock) -> bool:
    """Whether the store's copy of a recording is to be read: it passes its checksum, and no
    stray journal beside it blocks reading it (one that is a link or an odd file is reported)."""
    if deep and report.complete and "crc32" in location:
        try:
            clock.tick()
            damaged = file_crc32(path) != location["crc32"]
        except OutOfTime:
            ran_out(report, clock, f"{where}: the checksum of its copy was not verified")
            damaged = False
        if damaged:
            report.add(where, f"the store's copy {path} fails its checksum (the file was damaged)")
            return False
    # a copy is a finished recording: a journal beside it is a stray file, never recovered
    # over the copy
    jpath = journal_path(path)
    if is_regular(jpath):  # it blocks reading the copy until repair removes it
        copies.stray[jpath] = report.add(
            where, f"a stray file {jpath.name} lies beside the store's copy, which is a finished "
                   "recording: it was not used (repair removes it)", repairable=True)
        return False
    if os.path.lexists(jpath):
        # not marked repaired even once removed: somebody put it there, which is worth a look
        copies.planted[jpath] = report.add(
            where, f"{jpath.name} beside the store's copy is {what_is(jpath)}: cldata never makes one, "
                   "so it was put there; it was neither followed nor used (repair removes the entry, "
                   "never what it leads to; look at where the store came from)")
    return True


def _check_result(backend: Any, cat: Any, entry: Any, report: CheckReport, files: set[Path]) -> None:
    """One result: its sources are in the store, and its payload reads."""
    missing = [s for s in entry.sources if s not in cat.recording_rows]
    if missing:
        report.add(f"result {entry.id} ({entry.identifier})",
                   f"comes from {missing!r:.100}, which {'is' if len(missing) == 1 else 'are'} not in the store "
                   "(remove the result, or add the recording back)")
    if isinstance(entry.payload, dict) and isinstance(entry.payload.get("file"), str):
        files.add(Path(entry.payload["file"]))
    try:
        backend.read_payload(entry.payload)
    except (CldataError, OSError) as exc:
        report.add(f"result {entry.id} ({entry.identifier})", f"its payload cannot be read: {exc}")


def result_entries(cat: Any, report: CheckReport) -> list[Any]:
    """The catalog's result entries. A catalog engine reads them when asked (not when the store opens):
    a malformed one is reported, and the others are still checked."""
    try:
        return [e for e in cat.results if e is not None]
    except CldataError:
        pass
    entries = []
    for row in list(cat.live_result_rows()):  # one by one, to tell the malformed ones from the rest
        try:
            entry = cat.results[row]
        except CldataError as exc:
            report.add("catalog", str(exc))
            continue
        if entry is not None:
            entries.append(entry)
    return entries
