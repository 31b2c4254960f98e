"""The commands about one store or recording: ``info``, ``import``, ``check``, ``upgrade``, ``normalize``.

``import`` adds files to a store (all or none; a store made by the command is removed
again when it fails); ``check`` prints :func:`cldata.app.check.check_path`'s report in the
command line's words and returns 0 (healthy), 1 (problems) or 3 (the budget ran out).
"""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path

import cldata
from cldata.app.check import check_path
from cldata.app.cli.errors import CliError
from cldata.app.cli.nwb_commands import nwb_info
from cldata.app.cli.paths import (
    describe,
    described,
    directory_hint,
    missing_error,
    open_for_reading,
    removed_on_failure,
    store_to_write,
)
from cldata.app.cli.values import parse_assignments
from cldata.core.display import progress_bar
from cldata.format.journal import journal_path
from cldata.format.normalize import normalize
from cldata.format.nwb.layout import is_nwb_name
from cldata.format.reader import RecordingView
from cldata.store.opening import upgrade_store

__all__ = ["info_command", "import_command", "check_command", "upgrade_command", "normalize_command"]


def info_command(args: argparse.Namespace) -> int:
    path = Path(args.path)
    expected = "a CL recording file (.h5), a store directory, a store export file or an NWB file cldata wrote"
    if is_nwb_name(path):
        return nwb_info(path)
    what = described(path, expected)
    if what.startswith("neither"):
        raise CliError(f"{path} is {what}: expected {expected}")
    if what in ("a cldata store", "a store export file"):
        with open_for_reading(str(path)) as store:
            store.print_content()
        return 0
    with RecordingView(path) as rec:
        print(rec)
        for name, value in rec.attributes.to_dict().items():
            print(f"  {name}: {value!r}")
        for name, stream in rec.data_streams.items():
            print(f"  stream {name}: {len(stream)} entries, attributes {stream.attributes.to_dict()}")
    return 0


def import_command(args: argparse.Namespace) -> int:
    params = parse_assignments(args.param, "--param")
    for f in map(Path, args.files):  # before the store is opened (or made)
        if not os.path.lexists(f) and not is_nwb_name(f):  # (a split NWB file by its name: its members)
            raise missing_error(f, "a CL recording file")
        if f.is_dir():
            raise CliError(f"{f} is a directory{directory_hint(f)}, not a CL recording file: name the .h5 files")
    root = Path(args.store)
    new = store_to_write(root, args.create, "import")
    with removed_on_failure(root) if new else contextlib.nullcontext():
        added = []
        with cldata.open(root, backend=args.backend, mode="a", replace=args.replace) as store:
            for f in progress_bar(args.files, desc="import", unit="file", enabled=not args.quiet):
                added.append((store.add_recording(f, params, link=args.link, progress=not args.quiet), f))
    for rid, f in added:  # (committed: printed once they are in the store)
        print(f"{rid}  {f}")
    return 0


def check_command(args: argparse.Namespace) -> int:
    if args.budget is not None and args.budget < 0:
        raise CliError(f"--budget is a number of seconds >= 0 (0: no limit), not {args.budget:g}", 2)
    path = Path(args.path)
    what = describe(path)
    if what == "missing" and not os.path.lexists(journal_path(path)) and not is_nwb_name(path):
        raise missing_error(path, "a store directory, a store export, a CL recording file or an NWB file")
    if what == "a directory":
        raise CliError(f"{path} is a directory{directory_hint(path)}, not a cldata store (it has no "
                       "cldata-store.json): expected a store directory, a store export or a CL recording file")
    report = check_path(path, repair=args.repair, budget=args.budget or None, progress=not args.quiet)
    print(report.text(repair=f"cldata check {path} --repair", budget="--budget SECONDS"))
    if not report.healthy:
        return 1
    return 0 if report.complete else 3


def upgrade_command(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if describe(path) == "missing":
        raise missing_error(path, "a store directory")
    print(upgrade_store(path))
    return 0


def normalize_command(args: argparse.Namespace) -> int:
    if Path(args.out).exists() and Path(args.out).resolve() == Path(args.path).resolve():
        raise CliError("OUT is the recording itself: normalize writes a copy and never changes a file in place", 2)
    print(normalize(args.path, args.out, overwrite=args.overwrite))
    return 0
