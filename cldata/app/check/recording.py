"""The check of one CL recording file: its journal (a live writer, or an orphan that repair
recovers), then the file opened and read in full, in bounded pieces, within the budget.

What the reader says about an untidy file (streams out of order, rows on unknown
channels) becomes a note; what cannot be read is a problem.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import tables

from cldata.app.check.report import CheckReport, Clock, OutOfTime, ran_out, what_is
from cldata.errors import CldataError, CorruptRecordingError, DecodeError, UntidyIndexWarning, UntidyRecordingWarning
from cldata.format.journal import journal_path, journal_state
from cldata.format.reader import RecordingView
from cldata.format.recovery import recover

__all__ = ["check_recording", "read_recording"]


_SAMPLE_CHUNK = 1 << 18  # frames per read when scanning samples


_TABLE_CHUNK = 1 << 20  # rows per read when scanning the spike and stim tables


def check_recording(path: Path, *, repair: bool = False, report: CheckReport | None = None,
                    where: str | None = None, deep: bool = True, journal: bool = True,
                    budget: float | None = None, _clock: Clock | None = None) -> CheckReport:
    """Check one CL recording file (see module doc).

    ``journal=False``: the file is known to be finished (a store's copy); its journal path
    is not looked at (the caller reports what lies there). ``budget``: seconds of reading
    (``None``: no limit).
    """
    clock = _clock or Clock(budget)

    if report is None:
        report = CheckReport(Path(path), "recording", budget=budget, repair=repair)
    where = where or str(path)
    state = journal_state(path) if journal else "none"
    if state == "invalid":
        report.add(where, f"{journal_path(path).name} beside it is {what_is(journal_path(path))}: not a journal "
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
        read_recording(functools.partial(RecordingView, path, finished=not journal), str(Path(path)), path, report, where,
                        clock, deep)
    except OutOfTime:
        ran_out(report, clock, f"{where} was not read in full")
    except (CldataError, OSError) as exc:
        report.add(where, f"cannot be read: {exc}")
    report.seconds = clock.seconds
    return report


def read_recording(open_view: Callable[[], Any], source: str, path: Path, report: CheckReport, where: str,
                   clock: Clock, deep: bool) -> None:
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


def _read_everything(view: Any, clock: Clock, report: CheckReport, where: str) -> None:
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
    for what, events in view.event_tables.items():  # every table of events (cldata.format.parts)
        table = events.table
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


def check_neo_recording(open_view: Callable[[], Any], report: CheckReport, where: str, clock: Clock,
                        deep: bool) -> None:
    """A recording in the neo-segment layout (docs/NEO-LAYOUT.md): it opens (its nodes are checked
    then), and with ``deep`` every object of its segment is read (each array against its checksum)."""
    try:
        with open_view() as view:
            if deep and report.complete:
                clock.tick()
                view.segment(lazy=False)
            elif deep:
                report.notes.append(f"{where} was not read in full")
    except OutOfTime:
        raise
    except (CldataError, OSError) as exc:
        report.add(where, f"cannot be read as a neo recording: {exc}")
