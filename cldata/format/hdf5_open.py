"""Opening an HDF5 file read-only, with each way it can fail turned into a cldata error.

A path given to a reader may be missing, a directory (a store, perhaps), not HDF5 at all,
HDF5 but truncated or damaged, or locked by a live writer. :func:`open_hdf5` says which, in
words a user can act on; :func:`hdf5_reason` picks from HDF5's long error back trace the line
that says what went wrong.

Examples
--------
>>> open_hdf5("notes.txt")                                 # doctest: +SKIP
Traceback (most recent call last):
...
cldata.errors.NotARecordingError: notes.txt is not a CL recording: it is not an HDF5 file
"""

from __future__ import annotations

import os
from pathlib import Path

import tables

from cldata.errors import CorruptRecordingError, NotARecordingError, RecordingInProgressError

__all__ = ["open_hdf5", "hdf5_reason"]

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _has_hdf5_signature(path: Path) -> bool:
    # HDF5 looks for its signature at 0, 512, 1024, 2048, ... (after an optional user block)
    size = path.stat().st_size
    with open(path, "rb") as f:
        offset = 0
        while offset + len(_HDF5_SIGNATURE) <= size:
            f.seek(offset)
            if f.read(len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE:
                return True
            offset = 512 if offset == 0 else offset * 2
    return False


def hdf5_reason(exc: BaseException) -> str:
    """The innermost message of an HDF5 error back trace (the line that says what went wrong)."""
    lines = [ln.strip() for ln in str(exc).splitlines()]
    reasons = [ln for ln in lines if ln and not ln.startswith(("File ", "HDF5 error", "End of HDF5"))]
    inner = [ln for ln in reasons if not ln.startswith("Unable to open")]
    return (inner or reasons or [type(exc).__name__])[-1]


def open_hdf5(path: str | os.PathLike[str]) -> tables.File:
    """Open ``path`` read-only with PyTables, turning failures into specific cldata errors.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    cldata.errors.NotARecordingError
        If the file is not HDF5 at all, or ``path`` is a directory.
    cldata.errors.RecordingInProgressError
        If a live writer holds the file.
    cldata.errors.CorruptRecordingError
        If the file is HDF5 but damaged (truncated, for example).
    """
    path = Path(path)
    if path.is_dir():
        # a directory that exists is not "missing": say what it is and what was expected
        what = ("a cldata store directory (open it with cldata.open)" if (path / "cldata-store.json").exists()
                else "a directory")
        raise NotARecordingError(f"{path} is {what}, not a CL recording file: expected an HDF5 recording (.h5)")
    if not path.is_file():
        raise FileNotFoundError(f"no such recording file: {path}")
    if not _has_hdf5_signature(path):
        raise NotARecordingError(f"{path} is not a CL recording: it is not an HDF5 file")
    try:
        return tables.open_file(str(path), mode="r")
    except (tables.HDF5ExtError, OSError, ValueError, SystemError) as exc:  # SystemError: PyTables on damage
        text = str(exc)
        if "truncated file" in text:
            raise CorruptRecordingError(
                f"{path} is truncated (its end is missing: an interrupted copy or download?)"
            ) from None
        if "unable to lock file" in text:
            raise RecordingInProgressError(
                f"{path} is held open by a writer; read it when the writer has closed it, "
                "or follow it live with cldata.follow()"
            ) from None
        raise CorruptRecordingError(f"{path} is a damaged HDF5 file: {hdf5_reason(exc)}") from None
