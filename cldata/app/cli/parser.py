"""The argument parser of ``cldata``: every sub-command, its options and its help.

Each sub-command's ``func`` is its function in the modules beside this one, looked up when
the parser is built (so that a test can replace one). argparse's
own errors are one line too (:class:`_Parser`), with exit status 2.

Examples
--------
>>> build_parser().parse_args(["info", "lab-store"]).func.__name__
'info_command'
"""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

from cldata import __version__
from cldata.app.cli import nwb_commands, query_commands, run_commands, store_commands, view_commands
from cldata.app.cli.errors import cli_words
from cldata.batch.runner import MAX_UNITS

__all__ = ["build_parser"]


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (``cldata import: the following arguments are
    required: files (`cldata import --help` lists them)``), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {cli_words(message)} (`{self.prog} --help` lists the options)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``cldata`` command."""
    # --debug is accepted before the command and after it (the subparsers' copy does not
    # overwrite the top-level value unless given)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="on an error, show the Python traceback instead of the one-line message")
    parser = _Parser(
        prog="cldata",
        description="cldata: closed-loop neural recordings (Cortical Labs CL1) in a parametrised datastore. "
                    "Each command has its own --help.",
    )

    parser.add_argument("--version", action="version", version=f"cldata {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="on an error, show the Python traceback instead of the one-line message")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_parser = sub.add_parser

    commands: dict[str, argparse.ArgumentParser] = {}
    parser.set_defaults(commands=commands)  # (main names the command in an "unrecognized arguments" error)

    def add_parser(name: str, **kw: Any) -> argparse.ArgumentParser:
        commands[name] = _add_parser(name, parents=[common], **kw)
        return commands[name]

    sub.add_parser = add_parser  # type: ignore[method-assign]

    demo = sub.add_parser("demo", help="simulate recordings, run the example analyses, print and plot a summary",
                          description="Build a store of simulated CL recordings (written by cldata's own writer: "
                                      "spikes, stims, samples and a pong-like data stream), run the example "
                                      "analyses of param/ over it, print a summary table and write a PNG figure. "
                                      "Running it again reuses the store and computes nothing new.")
    demo.add_argument("--dir", default="cldata-demo", help="directory of the demo (default: ./cldata-demo)")
    demo.add_argument("--recordings", type=int, default=4, help="recordings to simulate (default 4)")
    demo.add_argument("--duration", type=float, default=3.0, help="seconds per recording (default 3)")
    demo.add_argument("--executor", choices=["serial", "processes", "dask"], default="processes",
                      help="where the analyses run (default: local processes)")
    demo.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    demo.add_argument("--no-figure", action="store_true", help="do not write the PNG figure")
    demo.add_argument("--no-progress", action="store_true", help="no progress bar")
    demo.set_defaults(func=run_commands.demo_command)

    simulate = sub.add_parser("simulate", help="write a simulated CL recording to try cldata on",
                              description="Write a realistic sample CL recording (spikes with waveforms, network "
                                          "bursts, stimulations, raw samples at 25 kHz and a pong game's data "
                                          "streams) with cldata's own writer.")
    simulate.add_argument("out", help="the .h5 file to write")
    simulate.add_argument("--seconds", type=float, default=1.0, help="length of the recording (default 1)")
    simulate.add_argument("--channels", type=int, default=64, help="number of channels (default 64, as a CL1)")
    simulate.add_argument("--streams", nargs="*", metavar="NAME",
                          help="data streams to write, of ball_position and score (default both; none: --streams)")
    simulate.add_argument("--no-samples", action="store_true", help="write no raw samples (a smaller file)")
    simulate.add_argument("--seed", type=int, default=0, help="random seed (the same seed, the same recording)")
    simulate.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    simulate.set_defaults(func=run_commands.simulate_command)

    run = sub.add_parser("run", help="run the batch analysis a parameter file describes",
                         description="Open the store the parameter file names, select recordings with its query "
                                     "chain, and compute the analyses (sweeps expand) that are not stored yet, on "
                                     "the executor it names; results are committed as they arrive, so an "
                                     "interrupted run resumes where it stopped.")
    run.add_argument("file", help="parameter file (parameters format, .json or .yaml)")
    run.add_argument("--set", action="append", metavar="KEY=VALUE",
                     help="override a parameter, e.g. --set store.root_directory=/data/store (repeatable)")
    run.add_argument("--executor", choices=["serial", "processes", "dask"], help="override executor.kind")
    run.add_argument("--workers", type=int, help="override executor.workers")
    run.add_argument("--scheduler", metavar="ADDRESS",
                     help="run the units on the dask scheduler at ADDRESS (e.g. tcp://10.0.0.9:8786); implies "
                          "--executor dask. Without it, a dask run uses $CLDATA_DASK_SCHEDULER if set, else a "
                          "local cluster. A parameter file cannot name a scheduler (it could run code here)")
    run.add_argument("--wipe-store", action="store_true",
                     help="empty the store (delete its recordings and results) before the run; a parameter "
                          "file cannot ask for this (store.mode 'w' is refused)")
    run.add_argument("--max-units", type=int, default=MAX_UNITS, metavar="N",
                     help=f"the most units (analysis x parameter combination x recording) the run may have "
                          f"(default {MAX_UNITS:,}); a larger sweep is refused before anything is built")
    run.add_argument("--create", action="store_true",
                     help="make the store the parameter file names if it does not exist (without it, a missing "
                          "store is an error: a mistyped store.root_directory creates nothing)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.set_defaults(func=run_commands.run_command)

    info = sub.add_parser("info", help="describe a recording, a store or a store export",
                          description="Print what a CL recording file, a store directory or an export file holds.")
    info.add_argument("path", help="a CL recording (.h5), a store directory, or a store export file")
    info.set_defaults(func=store_commands.info_command)

    imp = sub.add_parser("import", help="add CL recording files to a store (--create makes a new one)",
                         description="Add recordings to a store, copied in (default) or linked in place. "
                                     "If any file cannot be added, none is, and a store made by the command "
                                     "is removed again.")
    imp.add_argument("store", help="the store directory (with --create, made if it does not exist)")
    imp.add_argument("files", nargs="+", help="CL recording files")
    imp.add_argument("--param", action="append", metavar="KEY=VALUE", help="a parameter for these recordings")
    imp.add_argument("--link", action="store_true", help="link the files in place instead of copying them")
    imp.add_argument("--backend", default=None, help="backend of a new store (default hdf5)")
    imp.add_argument("--replace", action="store_true", help="replace recordings already in the store")
    imp.add_argument("--create", action="store_true",
                     help="make the store if it does not exist (without it, a missing store is an error)")
    imp.add_argument("--quiet", action="store_true", help="no progress bar")
    imp.set_defaults(func=store_commands.import_command)

    def view_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--filter", action="append", metavar="KEY=VALUE",
                       help="parameter condition (repeatable: all must hold); a value with commas, or a list, "
                            "means any of them: culture=C1,C2 or \"session=[1, 2]\" (quote a value holding a "
                            "comma: culture='\"C1,C2\"')")
        p.add_argument("--streams", nargs="+", metavar="NAME", help="only these data streams (globs allowed)")
        p.add_argument("--tag", action="append", help="only results with this tag (repeatable)")
        p.add_argument("--between", nargs=2, metavar=("START", "STOP"),
                       help="time window [START, STOP): frames (25000) or times (1s, 0.5s, 100ms), 'none' for an "
                            "open end, e.g. --between 0 1s")
        p.add_argument("--chain", help="a parameter file whose 'query' entry is a query chain")

    query = sub.add_parser("query", help="list the recordings and results matching a query",
                           description="Select with parameter conditions, streams, tags, a time window or a query "
                                       "chain from a parameter file, and print what matches.")
    query.add_argument("store", help="a store directory or export file")
    view_options(query)
    query.add_argument("--values", action="store_true", help="also print each result's values")
    query.add_argument("--json", action="store_true", help="print JSON (with --values: the values too)")
    query.set_defaults(func=query_commands.query_command)

    export = sub.add_parser("export", help="write a store (or a selection) to one self-contained file",
                            description="Export recordings (links resolved) and results to one HDF5 file that "
                                        "cldata.open() and RecordingView read.")
    export.add_argument("store", help="a store directory or export file")
    export.add_argument("out", help="the file to write")
    view_options(export)
    export.add_argument("--overwrite", action="store_true", help="replace OUT if it is a file that exists")
    export.add_argument("--quiet", action="store_true", help="no progress bar")
    export.set_defaults(func=query_commands.export_command)

    nwb = sub.add_parser("nwb", help="write a recording, or a store's recordings, as NWB files",
                         description="Write a CL recording file as one NWB file (OUT: a file), or every recording of "
                                     "a store (or of a selection: the view options of `cldata query`) as "
                                     "OUT/<recording id>.nwb (OUT: a directory). --link (default): the samples stay in "
                                     "the CL files (an HDF5 virtual dataset by a relative path; move the files "
                                     "together); --no-link: self-contained, compressed files (for DANDI). Needs the "
                                     "nwb extra: pip install 'cldata[nwb]'.")
    nwb.add_argument("source", help="a CL recording (.h5), a store directory or a store export file")
    nwb.add_argument("out", help="the NWB file to write (a recording) or the directory (a store)")
    view_options(nwb)
    linking = nwb.add_mutually_exclusive_group()
    linking.add_argument("--link", dest="link", action="store_true", default=True,
                         help="keep the samples in the CL files, nothing copied (the default)")
    linking.add_argument("--no-link", dest="link", action="store_false",
                         help="copy the samples, compressed: self-contained files")
    nwb.add_argument("--split", metavar="SIZE", default=None,
                     help="with --no-link: write each file as members of at most SIZE (1GB, 500MiB...): "
                          "NAME.00000.nwb, NAME.00001.nwb... (HDF5's family driver)")
    nwb.add_argument("--neo", action="store_true",
                     help="lay the files out for neo's NWBIO: the samples in processing/ecephys (neo refuses their "
                          "conversion factor), the stims also as an AnnotationSeries; neo reads units, stims, window")
    nwb.add_argument("--overwrite", action="store_true", help="replace NWB files that exist")
    nwb.set_defaults(func=nwb_commands.nwb_command)
    view = sub.add_parser("view", help="look at a store, a recording or a recording being written, in the browser",
                          description="Serve a browser viewer (Panel/Bokeh) of PATH at / of --port and print its "
                                      "address: a store (its recordings and results as tables, a query box, click "
                                      "through to a recording), a recording (stacked traces, spikes, stimulations, "
                                      "data streams) or a recording being written (followed live). Ctrl-C stops. "
                                      "Needs the view extra: pip install 'cldata[view]'.")
    view.add_argument("path", help="a store directory, a store export file or a CL recording file")
    view.add_argument("--port", type=int, default=5006, help="the port to serve on (default 5006; 0: any free port)")
    view.add_argument("--address", default="localhost",
                      help="the address to listen on (default localhost: this machine only)")
    view.add_argument("--show", action="store_true", help="also open the viewer in the default browser")
    view.set_defaults(func=view_commands.view_command)

    check = sub.add_parser("check", help="verify a store or a recording, and repair what can be repaired",
                           description="Verify a store (catalog against files, payload checksums, links, "
                                       "journals) or a recording, report problems in plain words, and with "
                                       "--repair recover what can be recovered.")
    check.add_argument("path", help="a store directory, a store export file or a CL recording file")
    check.add_argument("--repair", action="store_true", help="repair what can be repaired")
    check.add_argument("--budget", type=float, default=600, metavar="SECONDS",
                       help="stop reading in full after this many seconds, and say what was not read "
                            "(default 600; 0: no limit). Exit status: 0 healthy, 1 problems, 3 no problem found "
                            "but the budget ran out before everything was read")
    check.add_argument("--quiet", action="store_true", help="no progress bar")
    check.set_defaults(func=store_commands.check_command)

    norm = sub.add_parser("normalize", help="write a copy of a recording with every data stream's index in order",
                          description="Write a copy of a CL recording in which every data stream whose index rows "
                                      "are out of timestamp order (as the CL simulator can write them) holds each "
                                      "entry once, in timestamp order; everything else is copied as it is. The "
                                      "recording itself is never changed.")
    norm.add_argument("path", help="a CL recording file")
    norm.add_argument("out", help="the tidy copy to write")
    norm.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    norm.set_defaults(func=store_commands.normalize_command)

    upgrade = sub.add_parser("upgrade", help="move a store made by cldata before 0.2 to the current layout",
                             description="Move the catalog of a store made before version 2 (a log of segments, "
                                         "loaded whole when the store opens) into an indexed SQLite database, so "
                                         "that the store opens in constant time. Crash-safe; run it again after an "
                                         "interruption. A store opened for writing is upgraded the same way.")
    upgrade.add_argument("path", help="a store directory")
    upgrade.set_defaults(func=store_commands.upgrade_command)
    return parser
