"""What a path on the command line is, and the store behind it: described in a few words, opened
for reading, or checked as a store to write to (made by the command with ``--create``).

The reading commands never create anything; a command that makes a store removes what it
made when it fails (:func:`removed_on_failure`). A path that is not what a command takes
is one line saying what it is instead (a plain directory says what it holds).

Examples
--------
>>> describe(Path("no-such-path"))
'missing'
"""

from __future__ import annotations

import contextlib
import os
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import tables

import cldata
from cldata.app.cli.errors import CliError
from cldata.errors import CldataError
from cldata.format.attributes import read_attributes
from cldata.format.reader import RecordingView, open_hdf5
from cldata.store.layout import MARKER

__all__ = ["describe", "directory_hint", "missing_error", "described", "open_for_reading", "is_recording",
           "is_export", "removed_on_failure", "store_to_write"]


def describe(path: Path) -> str:
    """What ``path`` is, in a few words ("a directory", "a cldata store", ...)."""

    if not os.path.lexists(path):
        return "missing"
    if path.is_dir():
        return "a cldata store" if (path / MARKER).exists() else "a directory"
    if path.is_file():
        if is_export(path):
            return "a store export file"
        return "a file"
    return "neither a file nor a directory (a FIFO, a device or a dangling link?)"


def directory_hint(path: Path) -> str:
    """What a directory that is not a store holds, where that helps ("; it holds 3 .h5 files ...")."""

    for parent in path.resolve().parents:
        if (parent / MARKER).is_file():
            return f" inside the store {parent} (`cldata info {parent}` describes the store)"
    try:
        names = sorted(p.name for p in path.iterdir())
    except OSError:
        return ""
    h5 = [n for n in names if n.endswith((".h5", ".hdf5"))]
    params = [n for n in names if n.endswith((".param", ".json", ".yaml", ".yml"))]
    if h5:
        return (f" holding {len(h5)} .h5 file{'s' if len(h5) != 1 else ''} "
                f"(describe one with `cldata info {path / h5[0]}`)")
    if params:
        return (f" of parameter files (run one with `cldata run {path / params[0]}`)")
    return " that is empty" if not names else ""


def missing_error(path: Path, expected: str) -> CliError:
    return CliError(f"no such file or directory: {path} (expected {expected})")


def described(path: Path, expected: str) -> str:
    """What ``path`` is (:func:`describe`); one line saying so if it is missing or a plain directory."""
    what = describe(path)
    if what == "missing":
        raise missing_error(path, expected)
    if what == "a directory":
        raise CliError(f"{path} is a directory{directory_hint(path)}, not a cldata store (it has no "
                       f"cldata-store.json): expected {expected}")
    return what


def open_for_reading(path_text: str) -> Any:
    """Open a store or an export read-only; anything else is one line saying what it is."""

    path = Path(path_text)
    what = described(path, "a store directory or a store export file")
    if what == "a file" and is_recording(path):
        raise CliError(f"{path} is a CL recording, not a store: `cldata info {path}` describes it, "
                       f"`cldata import STORE {path} --create` puts it in a new store")
    return cldata.open(path)


def is_recording(path: Path) -> bool:
    try:
        with RecordingView(path):
            return True
    except (CldataError, OSError):
        return False


def is_export(path: Path) -> bool:
    try:
        # an NWB file's root has attributes PyTables does not know (hdmf's object references): said elsewhere
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", tables.DataTypeWarning)
            with open_hdf5(path) as f:
                return read_attributes(f.root).get("cldata_kind") == "cldata export"
    except (CldataError, OSError):
        return False


@contextlib.contextmanager
def removed_on_failure(root: Path) -> Iterator[None]:
    """Remove what the block created at ``root`` if the block fails: a failed command leaves
    nothing behind (a missing directory it made, with its parents; the entries it put in an
    empty one)."""
    top = None
    missing = Path(os.path.abspath(root))
    while not os.path.lexists(missing):
        top, missing = missing, missing.parent
    before = None if top is not None or not root.is_dir() else set(os.listdir(root))
    try:
        yield
    except BaseException:
        if top is not None and top.is_dir() and not top.is_symlink():
            shutil.rmtree(top, ignore_errors=True)
        elif before is not None:
            for name in set(os.listdir(root)) - before:
                entry = root / name
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
        raise


def store_to_write(root: Path, create: bool, command: str) -> bool:
    """Check that ``root`` is a store to write to, or may become one (``--create``).

    Returns whether the store is made by this command.
    """

    what = describe(root)
    if what == "a cldata store":
        return False
    if what == "missing":
        if not create:
            raise CliError(f"no store at {root}; pass --create to make one")
        return True
    if what == "a directory":
        if any(root.iterdir()):
            raise CliError(f"{root} is a directory{directory_hint(root)} that is not a cldata store (it has no "
                           f"{MARKER}) and is not empty: name a store directory, or a new one with --create")
        if not create:
            raise CliError(f"{root} is an empty directory, not a cldata store; pass --create to make one there")
        return True
    if what == "a store export file":
        raise CliError(f"{root} is a store export, which is read-only: {command} into a store directory")
    raise CliError(f"{root} is {what}, not a store directory")
