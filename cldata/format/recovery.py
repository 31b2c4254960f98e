"""Recovering a recording whose writer died: rebuild it from its journal.

The journal (:mod:`cldata.format.journal`) holds every operation that was flushed. The
HDF5 file beside it may be anything from complete to unreadable, so recovery does not try
to patch it: it replays the journal into a new file through the same code the writer
uses, then atomically replaces the old file and deletes the journal. A recording
recovered this way holds exactly what had been flushed, and carries the root attribute
``cldata_recovered_utc``.

Examples
--------
>>> report = cldata.recover("rec.h5")    # doctest: +SKIP
>>> print(report)                        # doctest: +SKIP
rec.h5: recovered from its journal: 2 streams (12,000 entries), 640 spikes, 3 stims, 25,000 sample frames
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cldata.errors import CorruptRecordingError, RecordingInProgressError
from cldata.format.hdf5_file import RecordingFile
from cldata.format.journal import iter_records, journal_path, journal_state
from cldata.format.writer import attrs_from_journal
from cldata.fsutil import fsync_dir

__all__ = ["recover", "RecoveryReport"]


@dataclass
class RecoveryReport:
    """What :func:`recover` did."""

    path: Path
    recovered: bool
    entries: dict[str, int] = field(default_factory=dict)
    spikes: int = 0
    stims: int = 0
    sample_frames: int = 0
    ignored_bytes: int = 0
    closed_cleanly: bool = False

    def __str__(self) -> str:
        if not self.recovered:
            return f"{self.path}: nothing to recover (no journal)"
        n = sum(self.entries.values())
        text = (
            f"{self.path}: recovered from its journal: {len(self.entries)} streams ({n:,} entries), "
            f"{self.spikes:,} spikes, {self.stims:,} stims, {self.sample_frames:,} sample frames"
        )
        if self.ignored_bytes:
            text += f"; {self.ignored_bytes:,} bytes of an unfinished last write were discarded"
        return text


def recover(path: str | os.PathLike[str]) -> RecoveryReport:
    """Rebuild the recording at ``path`` from its journal, if its writer died.

    Safe to call on any recording: without a journal it does nothing.

    Raises
    ------
    cldata.errors.RecordingInProgressError
        If the writer is still alive (its journal is locked).
    cldata.errors.CorruptRecordingError
        If the journal is not a cldata journal or holds an undecodable record.
    """
    path = Path(path)
    state = journal_state(path)
    if state == "none":
        return RecoveryReport(path, recovered=False)
    if state == "live":
        raise RecordingInProgressError(f"{path} is still being written by a live writer; nothing to recover")
    jpath = journal_path(path)
    report = RecoveryReport(path, recovered=True)
    records = iter_records(jpath)
    end = 0
    first = next(records, None)
    if first is None:
        # the writer died before its first record reached the disk: nothing was acknowledged
        report.ignored_bytes = jpath.stat().st_size
        jpath.unlink()
        fsync_dir(path.parent)
        return report
    record, end = first
    if record["op"] != "open":
        raise CorruptRecordingError(f"journal {jpath} does not start with the recording's creation")
    tmp = path.with_name(path.name + ".recovering")
    tmp.unlink(missing_ok=True)
    target = RecordingFile.create(tmp, {"root": attrs_from_journal(record["root"])})
    close_root = None
    try:
        for record, offset in records:
            end = offset
            op = record["op"]
            if op == "close":
                close_root = attrs_from_journal(record["root"])
                break
            if op in ("stream", "attrs"):
                record = {**record, "attrs": attrs_from_journal(record["attrs"])}
            target.apply(record)
            if op == "stream":
                report.entries[record["name"]] = 0
            elif op == "batch":
                for name, part in (record.get("streams") or {}).items():
                    report.entries[name] = report.entries.get(name, 0) + len(part["ts"])
                report.spikes += len(record["spikes"]["ts"]) if record.get("spikes") else 0
                report.stims += len(record["stims"]["ts"]) if record.get("stims") else 0
                report.sample_frames += len(record["samples"]) if record.get("samples") is not None else 0
        report.closed_cleanly = close_root is not None
        if close_root is None:
            close_root = target.closing_attributes()
        close_root["cldata_recovered_utc"] = datetime.now(UTC).isoformat()
        target.finish(close_root)
    except BaseException:
        target.abort()
        tmp.unlink(missing_ok=True)
        raise
    report.ignored_bytes = jpath.stat().st_size - end
    os.replace(tmp, path)
    fsync_dir(path.parent)
    jpath.unlink()
    fsync_dir(path.parent)
    return report
