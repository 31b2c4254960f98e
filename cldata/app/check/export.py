"""The check of a store export file: it opens as an export, every recording of its catalog
opens where the catalog says and reads in full, every result's sources are in it and its
payload decodes. An export is read-only: nothing is repaired.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import tables

from cldata.app.check.recording import check_neo_recording, read_recording
from cldata.app.check.report import CheckReport, Clock, OutOfTime, ran_out
from cldata.errors import CldataError, UntidyRecordingWarning
from cldata.format.reader import RecordingView, open_hdf5
from cldata.store.datastore import DataStore

__all__ = ["check_export", "is_export"]


def is_export(path: Path) -> bool:
    """Whether ``path`` is an HDF5 file whose root says it is a cldata export (the attribute's
    name is enough: a hostile value is for :func:`check_export` to report, not to decode here)."""

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

    clock = Clock(budget)
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
            if entry.location.get("layout") == "neo":
                # a neo recording: read through the backend (it copies the group out of the export)
                check_neo_recording(functools.partial(backend.open_recording, entry.location), report, where, clock,
                                    deep)
                continue
            try:
                # the whole group, not only the window: every stored byte is read
                read_recording(functools.partial(RecordingView, path, group=group), f"{Path(path)}:{group}", path, report,
                                where, clock, deep)
            except OutOfTime:
                ran_out(report, clock, f"{where} was not read in full")
            except (CldataError, OSError) as exc:
                report.add(where, f"cannot be read: {exc}")
        for name in sorted(_stored_groups(path) - {g.removeprefix("/recordings/") for g in named}):
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
            except OutOfTime:
                ran_out(report, clock, f"result {entry.id}: its payload was not read")
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


def _stored_groups(path: Path) -> set[str]:
    """The recording groups an export file holds (under ``/recordings``), named by its catalog or not."""
    try:
        with open_hdf5(path) as f:
            return set(f.get_node("/recordings")._v_children)
    except (tables.NoSuchNodeError, AttributeError, CldataError, OSError):
        return set()
