"""``cldata check``: verify a store or a recording, report problems in plain words, repair what can be.

For a **store** it checks that the catalog loads (every segment present and passing its
checksum), that every recording's file is there — copies intact (size and CRC-32), links
not broken and not changed since they were added — and opens as a CL recording, that
every result's payload is present, passes its checksum and decodes, that no recording
journal was left by a writer that died, and what files are left over from interrupted
commits. For a **recording** it checks for an orphaned journal, opens the file, and reads
every table, stream entry and sample chunk. For a **store export** (:mod:`cldata.store.export`)
it checks that the file opens as an export (its catalog decodes), that every recording of
the catalog opens where the catalog says — through its time window, for a windowed export
— and reads in full as a CL recording, that every result's sources are in the export and
its payload decodes, and notes recording groups the catalog does not name. An export is
read-only: there is nothing to repair in it (export again from the store).

Every recording's **overview** kept in the store (:mod:`cldata.overview`) is checked
against its recording and read in full, so that HDF5 verifies every chunk's checksum; a
damaged or stale one is reported, and rebuilt by repair (one without checksums, format 1,
is noted and rebuilt by repair).

Reading is in bounded pieces (a stream's entries a few MiB at a time, 262,144 sample
frames, 1,048,576 table rows) and within a **time budget** (``budget`` seconds; the
command line's default is 600): when it runs out, the rest is not read in full, and the
report says so and is not complete (:attr:`CheckReport.complete`).

``repair=True`` recovers orphaned recording journals (:func:`cldata.recover`) and removes
files left over from interrupted commits (with the store's writer lock, and only if no
reader has the store open). Broken or changed links and damaged data cannot be repaired
here; the report says what to do.

Repair never follows a link and never uses a journal that is not the recording's own: a
journal path that is a symbolic link or not a regular file is reported and left alone;
recovery checks that the journal was written for that recording (see
:func:`cldata.recover`); and a store's **copy** of a recording is a finished recording
(copied in whole, checksummed), so a journal found beside it is a stray file — reported,
removed by repair with the other left-overs, never recovered over the copy.

Examples
--------
>>> report = check_path(Path("lab-store"))        # doctest: +SKIP
>>> print(report)                                 # doctest: +SKIP
lab-store: healthy — checked 12 recordings, 480 results and 61 files
>>> report.healthy                                # doctest: +SKIP
True

A report says what was checked (counts), each problem (``PROBLEM``) with what to do, what
repair fixed (``REPAIRED``), and in its last line what is left: which problems repair would
fix, or that the rest need a person (each says what to do).
"""

from __future__ import annotations

import functools
import os
import stat
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tables

from cldata.core.fsutil import is_regular
from cldata.errors import CldataError, CorruptRecordingError, DecodeError, UntidyIndexWarning, UntidyRecordingWarning

__all__ = ["check_path", "check_store", "check_recording", "check_export", "CheckReport", "Problem"]

_SAMPLE_CHUNK = 1 << 18  # frames per read when scanning samples
_TABLE_CHUNK = 1 << 20  # rows per read when scanning the spike and stim tables
_OVERVIEW_CHUNK_BYTES = 1 << 24  # bytes per read when scanning an overview's levels


class _OutOfTime(Exception):
    """The check's time budget ran out (caught by the check, which reports it)."""


class _Clock:
    """The time budget of one check: :meth:`tick` between bounded reads raises when it is spent."""

    def __init__(self, budget: float | None):
        self.start = time.monotonic()
        self.budget = budget

    def tick(self) -> None:
        if self.budget is not None and time.monotonic() - self.start > self.budget:
            raise _OutOfTime

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.start


@dataclass
class Problem:
    """One problem found: where, what, whether repair can fix it, and whether it did."""

    where: str
    message: str
    repaired: bool = False
    #: whether ``repair=True`` (``cldata check --repair``) fixes it
    repairable: bool = False

    def __str__(self) -> str:
        return f"{'REPAIRED' if self.repaired else 'PROBLEM'} {self.where}: {self.message}"


#: plural -> singular of the things a report counts
_SINGULAR = {"entries": "entry", "recordings": "recording", "results": "result", "files": "file",
             "data streams": "data stream", "spikes": "spike", "stims": "stim", "sample frames": "sample frame"}


def _n(count: int, plural: str) -> str:
    """``1 recording``, ``2 recordings``, ``12,500 sample frames``."""
    return f"{count:,} {plural if count != 1 else _SINGULAR.get(plural, plural.removesuffix('s'))}"


def _and(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


@dataclass
class CheckReport:
    """What a check found (``healthy`` when nothing is left unrepaired).

    ``str(report)`` is the report in the words of Python (``repair=True``); the command
    line prints :meth:`text` with its own (``cldata check PATH --repair``).

    Examples
    --------
    >>> report = CheckReport(Path("lab-store"), "store", counts={"recordings": 1, "results": 0, "files": 3})
    >>> print(report)
    lab-store: healthy — checked 1 recording, 0 results and 3 files
    >>> report.add("recording rec_1", "a stray file beside it (repair removes it)", repairable=True).repaired
    False
    >>> print(report.text(repair="cldata check lab-store --repair"))
    lab-store: 1 problem found — checked 1 recording, 0 results and 3 files
      PROBLEM recording rec_1: a stray file beside it (repair removes it)
      to do: `cldata check lab-store --repair` repairs it
    """

    path: Path
    kind: str
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    #: whether everything was read in full (False when the time budget ran out)
    complete: bool = True
    #: the time budget in seconds (None: none), and the seconds the check took
    budget: float | None = None
    seconds: float = 0.0
    #: whether the check was asked to repair (``repair=True``)
    repair: bool = False

    @property
    def healthy(self) -> bool:
        """Nothing found is left unrepaired (see :attr:`complete` for whether all was read)."""
        return all(p.repaired for p in self.problems)

    def add(self, where: str, message: str, *, repairable: bool = False) -> Problem:
        """Record a problem (``repairable``: repair fixes it) and return it."""
        problem = Problem(where, message, repairable=repairable)
        self.problems.append(problem)
        return problem

    def checked(self) -> str:
        """What was checked, counted: ``"checked 2 recordings, 5 results and 9 files"``."""
        parts = [_n(n, what) for what, n in self.counts.items()]
        return f"checked {_and(parts)}" if parts else "checked nothing"

    def text(self, repair: str = "check_path(path, repair=True)", budget: str = "budget=SECONDS") -> str:
        """The report, naming ``repair`` as the way to repair and ``budget`` as the way to
        give more time (the command line passes its own words)."""
        if self.kind == "missing":
            return f"{self.path}: no such file or directory; nothing was checked"
        left = [p for p in self.problems if not p.repaired]
        fixed = [p for p in self.problems if p.repaired]
        fixable = [p for p in left if p.repairable and not self.repair]
        if not left and not self.complete:
            head = f"{self.path}: no problem found in what was read"
        elif not left:
            head = f"{self.path}: healthy"
        else:
            head = f"{self.path}: {_n(len(left), 'problems')} {'found' if not self.repair else 'left'}"
        if fixed:
            head = (f"{self.path}: repaired {_n(len(fixed), 'problems')}; "
                    + ("healthy now" if not left else f"{_n(len(left), 'problems')} left")
                    + ("" if self.complete else " (in what was read)"))
        lines = [f"{head} — {self.checked()}", *(f"  {p}" for p in self.problems),
                 *(f"  note: {n}" for n in self.notes)]
        if fixable:
            them = "it" if len(left) == 1 else "them" if len(fixable) == len(left) else f"{len(fixable)} of them"
            rest = "" if len(fixable) == len(left) else "; the others need you: each says what to do"
            lines.append(f"  to do: `{repair}` repairs {them}{rest}")
        elif left and self.kind in ("store", "recording"):
            who = "repair did not fix" if self.repair and any(p.repairable for p in left) else "repair cannot fix"
            lines.append(f"  to do: {who} {'this' if len(left) == 1 else 'these'}; "
                         f"{'it says' if len(left) == 1 else 'each says'} what to do")
        if not self.complete:
            lines.append(f"  INCOMPLETE: the time budget of {self.budget:g} s ran out after {self.seconds:.1f} s, "
                         "before everything was read in full (what was not read is listed above as notes); "
                         f"check again with a larger budget ({budget}, 0 for none)")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()


def check_recording(path: Path, *, repair: bool = False, report: CheckReport | None = None,
                    where: str | None = None, deep: bool = True, journal: bool = True,
                    budget: float | None = None, _clock: _Clock | None = None) -> CheckReport:
    """Check one CL recording file (see module doc).

    ``journal=False``: the file is known to be finished (a store's copy); its journal path
    is not looked at (the caller reports what lies there). ``budget``: seconds of reading
    (``None``: no limit).
    """
    clock = _clock or _Clock(budget)
    from cldata.format.journal import journal_path, journal_state
    from cldata.format.reader import RecordingView
    from cldata.format.recovery import recover

    if report is None:
        report = CheckReport(Path(path), "recording", budget=budget, repair=repair)
    where = where or str(path)
    state = journal_state(path) if journal else "none"
    if state == "invalid":
        report.add(where, f"{journal_path(path).name} beside it is {_what(journal_path(path))}: not a journal "
                          "cldata wrote, so it was neither followed nor used (look at it, then remove it)")
        state = "none"  # the recording itself is still checked
    if state == "live":
        report.notes.append(f"{where} is being written by a live writer; checked nothing else")
        return report
    if state == "orphan":
        problem = report.add(where, f"its writer died without closing it; everything it flushed is in "
                                    f"{journal_path(path).name} (repair recovers it)", repairable=True)
        if repair:
            try:
                problem.message += f" — {recover(path)}"
                problem.repaired = True
            except CldataError as exc:
                problem.message += f" — recovery failed: {exc}"
                return report
            if not Path(path).exists():
                # the writer died before anything reached its journal: nothing was written
                problem.message += "; nothing had been written, so there is no recording"
                return report
        else:
            return report
    try:
        _read_recording(functools.partial(RecordingView, path, finished=not journal), str(Path(path)), path, report, where,
                        clock, deep)
    except _OutOfTime:
        _ran_out(report, clock, f"{where} was not read in full")
    except (CldataError, OSError) as exc:
        report.add(where, f"cannot be read: {exc}")
    report.seconds = clock.seconds
    return report


def _read_recording(open_view: Callable[[], Any], source: str, path: Path, report: CheckReport, where: str,
                    clock: _Clock, deep: bool) -> None:
    """Open a recording with ``open_view()`` and read it (in full with ``deep``); what the reader
    says about an untidy file (its warnings, which start with ``source``) becomes a note."""
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always", UntidyRecordingWarning)
        warnings.simplefilter("ignore", UntidyIndexWarning)  # (reported by _untidy_streams)
        try:
            with open_view() as view:
                _untidy_streams(view, report, where, path)
                if deep and report.complete:
                    _read_everything(view, clock, report, where)
                elif deep:
                    report.notes.append(f"{where} was not read in full")
        finally:
            for w in said:
                if issubclass(w.category, UntidyRecordingWarning):
                    message = str(w.message).removeprefix(f"{source}: ")
                    report.notes.append(f"{where}: {message} (docs/READER-TOLERANCE.md)")
                else:
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _untidy_streams(view: Any, report: CheckReport, where: str, path: Path) -> None:
    """Data streams whose index is out of order: a note (they read correctly), or a problem
    where rows at one timestamp disagree (lookups there raise AmbiguousEntryError)."""
    for name, stream in view.data_streams.items():
        untidy = stream.untidy
        if untidy is None:
            continue
        if untidy.ambiguous:
            report.add(where, f"data stream {name!r}: {untidy.describe()}; lookups at those timestamps raise "
                              "AmbiguousEntryError (which row is right is for whoever wrote the file to say)")
        else:
            report.notes.append(f"{where}: data stream {name!r}: {untidy.describe()}; it reads correctly "
                                f"(docs/READER-TOLERANCE.md); `cldata normalize {path} OUT` writes a tidy copy")


def _ran_out(report: CheckReport, clock: _Clock, what: str) -> None:
    report.complete = False
    report.budget = clock.budget
    report.notes.append(what)


def _read_everything(view: Any, clock: _Clock, report: CheckReport, where: str) -> None:
    """Read every entry, table row and sample of ``view``, in bounded pieces, within the budget.

    A stream whose entries cannot all be read is a problem of its own; the rest is still read.
    A recording's own check counts what it read (a store's counts its recordings and files)."""
    counts = report.counts if report.kind == "recording" else {}
    counts.update({"data streams": len(view.data_streams), "entries": 0})
    for name, stream in view.data_streams.items():
        try:
            for i, _ in enumerate(stream.values()):  # decodes every entry, a chunk at a time
                counts["entries"] += 1
                if i % 4096 == 0:
                    clock.tick()
        except (CorruptRecordingError, DecodeError) as exc:
            report.add(where, f"data stream {name!r}: {exc}")
    for table, what in ((view.spikes, "spikes"), (view.stims, "stims")):
        if table is not None:
            n = int(table.nrows)
            counts[what] = n
            last, back, outside = None, None, 0  # (what the reader says only when these rows are used)
            for a in range(0, n, _TABLE_CHUNK):
                clock.tick()
                try:
                    rows = table.read(a, min(n, a + _TABLE_CHUNK))
                except (tables.HDF5ExtError, ValueError, SystemError) as exc:
                    raise CorruptRecordingError(f"rows {a}.. of {table._v_pathname} cannot be read: {exc}") from None
                ts = rows["timestamp"].astype(np.int64)
                if back is None and ts.size:
                    late = np.flatnonzero(np.concatenate([[last is not None and ts[0] < last], ts[1:] < ts[:-1]]))
                    back = a + int(late[0]) if late.size else None
                    last = int(ts[-1])
                channel = rows["channel"].astype(np.int64)
                outside += int(np.count_nonzero((channel < 0) | (channel >= view.channel_count)))
            if back is not None:
                report.notes.append(f"{where}: {table._v_pathname} is not in time order (from row {back}); it reads "
                                    "correctly, by scanning (docs/READER-TOLERANCE.md)")
            if outside:
                report.notes.append(f"{where}: {outside} rows of {table._v_pathname} are on channels outside "
                                    f"0..{view.channel_count - 1}; the neo segment leaves them out "
                                    "(docs/READER-TOLERANCE.md)")
    if view.samples is not None:
        n = int(view.samples.nrows)
        counts["sample frames"] = n
        for a in range(0, n, _SAMPLE_CHUNK):
            clock.tick()
            view.read_samples(a, a + _SAMPLE_CHUNK)  # (errors become CorruptRecordingError there)


def check_store(root: Path, *, repair: bool = False, deep: bool = True, budget: float | None = None) -> CheckReport:
    """Check a store directory (see module doc). ``budget``: seconds of reading (``None``: no limit)."""
    from cldata.backends.base import SegmentedBackend, file_crc32
    from cldata.format.journal import journal_path
    from cldata.store.datastore import MARKER, DataStore, _overview_name

    clock = _Clock(budget)
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
            _, segments = backend._read_current()
            files |= {store.root / MARKER, backend.catalog_dir / "CURRENT"}
            files |= {backend.catalog_dir / name for name in segments}
        rebuild: dict[str, tuple[Problem, Path, bool]] = {}  # id -> overview problem, recording, finished
        stray: dict[Path, Problem] = {}  # stray journals beside copies, removed by repair
        planted: dict[Path, Problem] = {}  # links and odd files there: removed by repair, still reported
        for entry in [e for e in cat.recordings if e is not None]:
            where = f"recording {entry.id}"
            location = entry.location
            try:
                path = backend.recording_path(location)
            except (CldataError, OSError) as exc:
                report.add(where, str(exc))
                continue
            # (a changed link raised ChangedLinkError above: recording_path compares size and mtime)
            files.add(path)
            if location.get("kind") != "link":
                if deep and report.complete and "crc32" in location:
                    try:
                        clock.tick()
                        damaged = file_crc32(path) != location["crc32"]
                    except _OutOfTime:
                        _ran_out(report, clock, f"{where}: the checksum of its copy was not verified")
                        damaged = False
                    if damaged:
                        report.add(where, f"the store's copy {path} fails its checksum (the file was damaged)")
                        continue
                # a copy is a finished recording: a journal beside it is a stray file, never recovered
                # over the copy
                jpath = journal_path(path)
                if is_regular(jpath):  # it blocks reading the copy until repair removes it
                    stray[jpath] = report.add(
                        where, f"a stray file {jpath.name} lies beside the store's copy, which is a finished "
                               "recording: it was not used (repair removes it)", repairable=True)
                    continue
                if os.path.lexists(jpath):
                    # not marked repaired even once removed: somebody put it there, which is worth a look
                    planted[jpath] = report.add(
                        where, f"{jpath.name} beside the store's copy is {_what(jpath)}: cldata never makes one, "
                               "so it was put there; it was neither followed nor used (repair removes the entry, "
                               "never what it leads to; look at where the store came from)")
                check_recording(path, repair=repair, report=report, where=where, deep=deep, journal=False,
                                _clock=clock)
            else:
                check_recording(path, repair=repair, report=report, where=where, deep=deep, _clock=clock)
            if not any(p.where == where and not p.repaired for p in report.problems):
                _check_overview(store, entry.id, path, location, report, where, deep, clock, rebuild)
        for entry in _result_entries(cat, report):
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
        if isinstance(backend, SegmentedBackend):
            _leftovers(store, report, repair, stray, planted)
        if repair and rebuild:
            _rebuild_overviews(store, rebuild)
        files |= {p for p in (store.root / "overviews" / _overview_name(e.id) for e in cat.recordings if e is not None)
                  if is_regular(p)}
        report.counts["files"] = len(files)
    finally:
        store.close()
    report.seconds = clock.seconds
    return report


def _check_overview(store: Any, recording_id: str, path: Path, location: Any, report: CheckReport, where: str,
                    deep: bool, clock: _Clock, rebuild: dict[str, tuple[Problem, Path, bool]]) -> None:
    """The overview kept in the store for a recording: it belongs to it, and every chunk reads
    (HDF5 verifies each chunk's Fletcher-32 checksum)."""
    from cldata.format.reader import RecordingView
    from cldata.overview import Overview
    from cldata.store.datastore import _overview_name

    inside = store.root / "overviews" / _overview_name(recording_id)
    finished = location.get("kind") == "copy"
    if not os.path.lexists(inside):
        return  # built on demand (or for a store copied without them): nothing to check
    if not is_regular(inside):
        problem = report.add(where, f"its overview {inside.name} is {_what(inside)}; repair replaces it",
                             repairable=True)
        rebuild[recording_id] = (problem, path, finished)
        return
    try:
        with RecordingView(path, finished=finished) as view, Overview(inside, view) as ov:
            ov._open()
            if deep and report.complete:
                ov.verify(clock.tick)
            elif deep:
                report.notes.append(f"{where}: its overview was not read in full")
    except _OutOfTime:
        _ran_out(report, clock, f"{where}: its overview was not read in full")
    except CldataError as exc:
        if "format version 1" in str(exc):
            report.notes.append(f"{where}: its overview has no checksums (format 1); repair rebuilds it, or it is "
                                "rebuilt when next used")
            rebuild[recording_id] = (Problem(where, "overview of format 1"), path, finished)
        else:
            problem = report.add(where, f"its overview cannot be used: {exc} (repair rebuilds it)", repairable=True)
            rebuild[recording_id] = (problem, path, finished)


def _rebuild_overviews(store: Any, rebuild: dict[str, tuple[Problem, Path, bool]]) -> None:
    """Rebuild the overviews found damaged, stale or old (with the store's writer lock)."""
    from cldata.core.display import progress_bar
    from cldata.core.locking import FileLock
    from cldata.format.reader import RecordingView
    from cldata.overview import build_overview
    from cldata.store.datastore import _WRITER_LOCK, _acquire, _overview_name

    writer = FileLock(store.root / _WRITER_LOCK)
    try:
        held = _acquire(writer)
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
                path = store.backend.inside(store.root / "overviews" / _overview_name(recording_id))
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


def _result_entries(cat: Any, report: CheckReport) -> list[Any]:
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


def _leftovers(store: Any, report: CheckReport, repair: bool, stray: dict[Path, Problem],
               planted: dict[Path, Problem]) -> None:
    """Files of interrupted commits: unreferenced payloads, segments, copies and temp files.

    ``stray`` and ``planted``: entries already reported (journals beside copies; links and
    odd files there), removed with the rest; the problems of ``stray`` ones are marked
    repaired once they are gone, those of ``planted`` ones stay reported.
    """
    from cldata.core.locking import FileLock
    from cldata.store.datastore import _READERS_LOCK, _WRITER_LOCK, _acquire

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
        _, segments = backend._read_current()
        referenced |= {backend.catalog_dir / s for s in segments} | {backend.catalog_dir / "CURRENT"}
    # everything but directories: symbolic links and FIFOs too (removed as entries, never followed or opened);
    # a store whose catalog is an engine's has no catalog/ directory (one left by a migration is garbage)
    left = [p for d in (backend.catalog_dir, backend.payload_dir, backend.root / "recordings") if d.is_dir()
            for p in sorted(d.iterdir()) if p not in referenced and not _is_dir(p)]
    if store.engine is not None:  # a catalog written by a migration or creation that was killed
        left += [p for p in sorted(store.root.iterdir()) if p.name.startswith(".catalog.sqlite.tmp-")]
    if not left:
        return
    others = [p for p in left if p not in stray and p not in planted]
    if others:
        problem = report.add(str(store.root), f"{_n(len(others), 'files')} left over from interrupted commits "
                                              f"({', '.join(p.name for p in others[:5])}"
                                              f"{' ...' if len(others) > 5 else ''})", repairable=True)
    else:
        problem = Problem(str(store.root), "stray files beside copies")  # reported above, not again
    if not repair:
        problem.message += f"; repair removes {'it' if len(others) == 1 else 'them'}"
        return
    writer = FileLock(store.root / _WRITER_LOCK)
    readers = FileLock(store.root / _READERS_LOCK)
    try:
        if not _acquire(writer):
            problem.message += "; not removed: a writer has the store open"
            return
    except CldataError as exc:  # a lock file that is a link or a FIFO
        problem.message += f"; not removed: {exc}"
        return
    try:
        engine = store.engine
        if engine is not None:
            # what the last commit refers to, read again now that no writer can commit: the recordings
            # and the payload files the results name (the segment log's load(), for an engine's catalog)
            committed = [*engine.recordings(engine.generation()),
                         *({"payload": {"file": name}} for name in sorted(engine.payload_files()))]
        # this check itself reads the store: its own reader lock is released first
        store.close()
        try:
            if not _acquire(readers, exclusive=True):
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
                    if (inside_log or path.parent == store.root) and os.path.lexists(path) and not _is_dir(path):
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
    finally:
        writer.release()


def _what(path: Path) -> str:
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return "gone"
    if stat.S_ISLNK(mode):
        try:
            return f"a symbolic link (to {os.readlink(path)!r:.200})"
        except OSError:
            return "a symbolic link"
    return "a directory" if stat.S_ISDIR(mode) else "not a regular file (a FIFO, a socket or a device)"


def _is_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except FileNotFoundError:
        return True  # gone meanwhile


def check_path(path: Path, *, repair: bool = False, deep: bool = True, budget: float | None = None,
               progress: bool = True) -> CheckReport:
    """Check a store directory or a recording file, whichever ``path`` is.

    ``budget``: seconds of reading in full (``None``: no limit); when it runs out the report
    says what was not read and is not :attr:`~CheckReport.complete`. ``progress=False``: no
    progress bar for the overviews a repair rebuilds (they show only on a terminal, after a
    second).
    """
    from cldata.core.display import progress_scope
    from cldata.format.journal import journal_path
    from cldata.store.datastore import MARKER

    path = Path(path)
    if budget is not None and (not isinstance(budget, (int, float)) or isinstance(budget, bool) or budget < 0):
        raise ValueError(f"budget is a number of seconds >= 0 (or None), not {budget!r}")
    with progress_scope(progress):
        if path.is_dir() and (path / MARKER).exists():
            return check_store(path, repair=repair, deep=deep, budget=budget)
        if path.is_file() and _is_export(path):
            return check_export(path, repair=repair, deep=deep, budget=budget)
        if path.is_file() or os.path.lexists(journal_path(path)):
            return check_recording(path, repair=repair, deep=deep, budget=budget)
    if not os.path.lexists(path):
        report = CheckReport(path, "missing", repair=repair)
        report.add(str(path), "no such file or directory")
        return report
    report = CheckReport(path, "unknown", repair=repair)
    report.add(str(path), f"is {_what(path) if not path.is_dir() else 'a directory'}, not a cldata store (it has "
                          f"no {MARKER}) nor a recording file: expected a store directory or a CL recording")
    return report


# -- store exports -----------------------------------------------------------------------------


def _is_export(path: Path) -> bool:
    """Whether ``path`` is an HDF5 file whose root says it is a cldata export (the attribute's
    name is enough: a hostile value is for :func:`check_export` to report, not to decode here)."""
    from cldata.format.reader import open_hdf5

    try:
        with open_hdf5(path) as f:
            return "cldata_kind" in f.root._v_attrs._v_attrnamesuser
    except (CldataError, OSError, tables.HDF5ExtError):
        return False


def check_export(path: Path, *, repair: bool = False, deep: bool = True, budget: float | None = None) -> CheckReport:
    """Check a store export file (see module doc): its catalog, every recording read in full, every payload.

    ``budget``: seconds of reading (``None``: no limit). ``repair`` repairs nothing (an
    export is read-only) and says so.

    Examples
    --------
    >>> print(check_export(Path("c7.h5")))                  # doctest: +SKIP
    c7.h5: healthy (2 recordings, 5 results checked)
    """
    from cldata.format.reader import RecordingView
    from cldata.store.datastore import DataStore

    clock = _Clock(budget)
    report = CheckReport(Path(path), "export", budget=budget)
    try:
        store = DataStore(path, mode="r")
    except (CldataError, OSError) as exc:
        report.add(str(path), f"the export does not open: {exc}")
        return report
    try:
        backend, cat = store.backend, store.catalog
        report.counts = {"recordings": cat.n_recordings, "results": cat.n_results}
        named = set()
        for entry in [e for e in cat.recordings if e is not None]:
            where = f"recording {entry.id}"
            group = str(entry.location.get("group", ""))
            named.add(group)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UntidyRecordingWarning)  # (said by the full read below)
                    backend.open_recording(entry.location).close()  # where the catalog says, through its window
            except (CldataError, OSError) as exc:
                report.add(where, f"cannot be opened: {exc}")
                continue
            try:
                # the whole group, not only the window: every stored byte is read
                _read_recording(functools.partial(RecordingView, path, group=group), f"{Path(path)}:{group}", path, report,
                                where, clock, deep)
            except _OutOfTime:
                _ran_out(report, clock, f"{where} was not read in full")
            except (CldataError, OSError) as exc:
                report.add(where, f"cannot be read: {exc}")
        try:
            stored = set(backend._h5.get_node("/recordings")._v_children)
        except (tables.NoSuchNodeError, AttributeError):
            stored = set()
        for name in sorted(stored - {g.removeprefix("/recordings/") for g in named}):
            report.notes.append(f"/recordings/{name} is in the file but not in its catalog: cldata does not show it")
        for entry in [e for e in cat.results if e is not None]:
            missing = [s for s in entry.sources if s not in cat.recording_rows]
            if missing:
                report.add(f"result {entry.id} ({entry.identifier})",
                           f"comes from {missing!r:.100}, which {'is' if len(missing) == 1 else 'are'} not in the "
                           "export (export again from the store)")
            try:
                clock.tick()
                backend.read_payload(entry.payload)
            except _OutOfTime:
                _ran_out(report, clock, f"result {entry.id}: its payload was not read")
                break
            except (CldataError, OSError) as exc:
                report.add(f"result {entry.id} ({entry.identifier})", f"its payload cannot be read: {exc}")
        if repair:
            report.notes.append(f"{path} is a store export, which is read-only: nothing was repaired (export it "
                                "again from the store to replace it)")
    finally:
        store.close()
    report.seconds = clock.seconds
    return report
