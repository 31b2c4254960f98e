"""Recovering a recording whose writer died: rebuild it from its journal.

The journal (:mod:`cldata.format.journal`) holds every operation that was flushed. The
HDF5 file beside it may be anything from complete to unreadable, so recovery does not try
to patch it: it replays the journal into a new file through the same code the writer
uses, then atomically replaces the old file and deletes the journal. A recording
recovered this way holds exactly what had been flushed, and carries the root attribute
``cldata_recovered_utc``.

A journal is used only if it belongs to the recording: it must be a regular file (a
symbolic link planted at ``<recording>.journal`` is never followed), start with the
writer's ``open`` record, and that record must name the recording's file (journals
written before the name was recorded are checked instead against the creation time of
the recording, when its file still opens). The new file is written under an unpredictable
temporary name, created exclusively, beside the recording.

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
from typing import Any

from cldata.core.fsutil import fsync_dir, new_temporary, remove_stale_temporaries
from cldata.errors import CorruptRecordingError, RecordingInProgressError
from cldata.format.attributes import read_attributes
from cldata.format.hdf5_file import RecordingFile
from cldata.format.hdf5_open import open_hdf5
from cldata.format.journal import iter_records, journal_path, journal_state
from cldata.format.parts import PARTS, STREAMS
from cldata.format.records import attrs_from_journal, from_journal

__all__ = ["recover", "RecoveryReport"]

# the report's count of each part but the streams (counted per stream, in ``entries``)
_REPORT_FIELDS = {"spikes": "spikes", "stims": "stims", "samples": "sample_frames"}


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

    def count(self, batch: dict[str, Any]) -> None:
        """Add what a batch record holds, part by part (:data:`cldata.format.parts.PARTS`)."""
        for part in PARTS:
            value = batch.get(part.name)
            if part is STREAMS:
                for name, n in STREAMS.count_by_stream(value or {}).items():
                    self.entries[name] = self.entries.get(name, 0) + n
            elif value is not None:
                field_name = _REPORT_FIELDS[part.name]
                setattr(self, field_name, getattr(self, field_name) + part.count(value))

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
        If the journal is not a cldata journal (a symbolic link, a FIFO...), holds an
        undecodable record, or belongs to another recording.
    """
    path = Path(path)
    state = journal_state(path)
    if state == "none":
        return RecoveryReport(path, recovered=False)
    if state == "live":
        raise RecordingInProgressError(f"{path} is still being written by a live writer; nothing to recover")
    jpath = journal_path(path)
    if state == "invalid":
        raise CorruptRecordingError(f"{jpath} is a symbolic link or not a regular file: not a journal cldata "
                                    "wrote, so it was not used (look at it, then remove it)")
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
    root = attrs_from_journal(record["root"])
    _check_identity(path, jpath, record, root)
    # an unpredictable name, created exclusively: a link planted beside the recording is never written
    # through; what an earlier recovery killed half-way left is removed first
    remove_stale_temporaries(path)
    tmp = new_temporary(path)
    try:
        target = RecordingFile.create(tmp, {"root": root})
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    close_root = None
    try:
        for record, offset in records:
            end = offset
            op = record["op"]
            if op == "close":
                close_root = attrs_from_journal(record["root"])
                break
            record = from_journal(record)
            target.apply(record)
            if op == "stream":
                report.entries[record["name"]] = 0
            elif op == "batch":
                report.count(record)
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


def _check_identity(path: Path, jpath: Path, open_record: dict[str, Any], root: dict[str, Any]) -> None:
    """Refuse a journal that was not written for the recording at ``path``."""
    name = open_record.get("file")
    if name is not None:
        if name != path.name:
            raise CorruptRecordingError(
                f"journal {jpath} was written for a recording named {name!r:.100}, not {path.name!r}: it was not "
                f"used. If the recording was renamed, give it (and its journal) its old name back and recover; "
                "otherwise the journal is not this recording's"
            )
        return
    # a journal from before the name was recorded: compare the creation time with the file's, if it opens
    try:
        with open_hdf5(path) as f:
            created = read_attributes(f.root, str(path)).get("created_utc")
    except Exception:  # damaged or missing (what a crash leaves): nothing to compare with
        return
    if created is not None and root.get("created_utc") is not None and str(created) != str(root["created_utc"]):
        raise CorruptRecordingError(
            f"journal {jpath} belongs to a recording created at {root['created_utc']}, but {path} was created at "
            f"{created}: it was not used (the journal is not this recording's)"
        )
