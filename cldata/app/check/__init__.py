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
read-only: there is nothing to repair in it (export again from the store). For an **NWB
file** cldata wrote (``.nwb``, :mod:`cldata.app.check.nwb`) it checks that it opens, that
a linked file's CL source is where the link says (a moved one is the
:class:`~cldata.errors.BrokenLinkError` reported), and reads it in full.

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

import os
from pathlib import Path

from cldata.app.check.export import check_export, is_export
from cldata.app.check.nwb import check_nwb
from cldata.app.check.recording import check_recording
from cldata.app.check.report import CheckReport, Problem, what_is
from cldata.app.check.store import check_store
from cldata.core.display import progress_scope
from cldata.format.journal import journal_path
from cldata.format.nwb.layout import is_nwb_name
from cldata.store.layout import MARKER

__all__ = ["check_path", "check_store", "check_recording", "check_export", "check_nwb", "CheckReport", "Problem"]


def check_path(path: Path, *, repair: bool = False, deep: bool = True, budget: float | None = None,
               progress: bool = True) -> CheckReport:
    """Check a store directory or a recording file, whichever ``path`` is.

    ``budget``: seconds of reading in full (``None``: no limit); when it runs out the report
    says what was not read and is not :attr:`~CheckReport.complete`. ``progress=False``: no
    progress bar for the overviews a repair rebuilds (they show only on a terminal, after a
    second).
    """

    path = Path(path)
    if budget is not None and (not isinstance(budget, (int, float)) or isinstance(budget, bool) or budget < 0):
        raise ValueError(f"budget is a number of seconds >= 0 (or None), not {budget!r}")
    with progress_scope(progress):
        if path.is_dir() and (path / MARKER).exists():
            return check_store(path, repair=repair, deep=deep, budget=budget)
        if is_nwb_name(path):  # (a file, or a split one by its name or a member)
            return check_nwb(path, repair=repair, deep=deep, budget=budget)
        if path.is_file() and is_export(path):
            return check_export(path, repair=repair, deep=deep, budget=budget)
        if path.is_file() or os.path.lexists(journal_path(path)):
            return check_recording(path, repair=repair, deep=deep, budget=budget)
    if not os.path.lexists(path):
        report = CheckReport(path, "missing", repair=repair)
        report.add(str(path), "no such file or directory")
        return report
    report = CheckReport(path, "unknown", repair=repair)
    report.add(str(path), f"is {what_is(path) if not path.is_dir() else 'a directory'}, not a cldata store (it has "
                          f"no {MARKER}) nor a recording file: expected a store directory or a CL recording")
    return report
