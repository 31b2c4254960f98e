"""The ``cldata`` command line: one entry point, one sub-command per job.

Examples
--------
::

    cldata demo                                  # simulated recordings, analyses, summary and figure
    cldata simulate sample.h5 --seconds 2        # one simulated recording to try things on
    cldata run param/demo_rates.param --set executor.kind=serial
    cldata run param/demo_psth.param --scheduler tcp://10.0.0.9:8786 --max-units 500000
    cldata info lab-store                        # a store (or a recording, or an export)
    cldata import lab-store rec1.h5 rec2.h5 --param culture=C7
    cldata query lab-store --filter culture=C7 --filter "session=[1, 2]" --tag final
    cldata export lab-store shared.h5 --filter culture=C7
    cldata check lab-store --repair
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main", "build_parser"]


def _parse_assignments(items: Sequence[str] | None, what: str) -> dict[str, Any]:
    """``["a.b=1", "c=C7"]`` -> ``{"a.b": 1, "c": "C7"}``, values parsed as safe literals."""
    from cldata.batch.paramfile import parse_value
    from cldata.errors import ParameterError

    out: dict[str, Any] = {}
    for item in items or ():
        key, eq, text = item.partition("=")
        if not eq or not key.strip():
            raise ParameterError(f"{what} {item!r} is not key=value")
        out[key.strip()] = parse_value(text, source=f"{what} {item!r}")
    return out


def _open_any(path: str) -> Any:
    import cldata

    return cldata.open(path)


# -- sub-commands ---------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    from cldata.demo import run_demo

    return run_demo(Path(args.dir), recordings=args.recordings, duration_s=args.duration,
                    executor=args.executor, workers=args.workers, figure=not args.no_figure,
                    progress=not args.no_progress)


def _simulate(args: argparse.Namespace) -> int:
    import os

    from cldata.errors import OutputExistsError
    from cldata.format.reader import RecordingView
    from cldata.simulate import SIMULATED_STREAMS, _check_simulate_arguments, simulate

    streams = SIMULATED_STREAMS if args.streams is None else args.streams
    # checked here too, so that the messages name the flags (--seconds), not the keywords (seconds=)
    _check_simulate_arguments(args.seconds, args.channels, streams, cli=True)
    if os.path.lexists(args.out) and not args.overwrite:
        raise OutputExistsError(f"{args.out} exists; pass --overwrite to replace it")
    path = simulate(args.out, seconds=args.seconds, channels=args.channels, streams=streams,
                    samples=not args.no_samples, seed=args.seed, overwrite=args.overwrite)
    with RecordingView(path) as rec:
        counts = ", ".join(f"{name} ({len(s)} {'entry' if len(s) == 1 else 'entries'})"
                           for name, s in rec.data_streams.items())
        spikes, stims = (len(t) if t is not None else 0 for t in (rec.spikes, rec.stims))
        print(f"wrote {path}: {rec.duration_seconds:g} s, {rec.channel_count} channels, {spikes} spikes, "
              f"{stims} stims, streams: {counts or 'none'}")
    return 0


def _run(args: argparse.Namespace) -> int:
    import os

    from cldata.batch.executors import SCHEDULER_ENV
    from cldata.batch.paramfile import load_parameters
    from cldata.batch.runner import run_batch
    from cldata.errors import ParameterError

    overrides = list(args.set or [])
    if args.scheduler is not None and args.executor not in (None, "dask"):
        raise ParameterError(f"--scheduler runs the units on a dask cluster; it does not go with --executor "
                             f"{args.executor}")
    if args.executor:
        overrides.append(f"executor.kind={args.executor}")
    if args.workers:
        overrides.append(f"executor.workers={args.workers}")
    params = load_parameters(args.file, overrides)
    scheduler = args.scheduler
    if scheduler is None and _executor_kind(params) == "dask":
        # the environment is the caller's too; it is read only when the run is on dask anyway
        scheduler = os.environ.get(SCHEDULER_ENV) or None
    report = run_batch(params, progress=not args.no_progress, echo=print, scheduler=scheduler,
                       wipe_store=args.wipe_store, max_units=args.max_units)
    print(report)
    return 0 if report.ok else 1


def _executor_kind(params: Any) -> Any:
    executor = params.get("executor") if hasattr(params, "get") else None
    return executor.get("kind") if hasattr(executor, "get") else None


def _info(args: argparse.Namespace) -> int:
    from cldata.format.reader import RecordingView
    from cldata.store import MARKER

    path = Path(args.path)
    if path.is_dir() and (path / MARKER).exists() or path.is_file() and _is_export(path):
        with _open_any(str(path)) as store:
            store.print_content()
        return 0
    with RecordingView(path) as rec:
        print(rec)
        for name, value in rec.attributes.to_dict().items():
            print(f"  {name}: {value!r}")
        for name, stream in rec.data_streams.items():
            print(f"  stream {name}: {len(stream)} entries, attributes {stream.attributes.to_dict()}")
    return 0


def _is_export(path: Path) -> bool:
    from cldata.errors import CldataError
    from cldata.format.attributes import read_attributes
    from cldata.format.reader import open_hdf5

    try:
        with open_hdf5(path) as f:
            return read_attributes(f.root).get("cldata_kind") == "cldata export"
    except (CldataError, OSError):
        return False


def _import(args: argparse.Namespace) -> int:
    import cldata

    params = _parse_assignments(args.param, "--param")
    with cldata.open(args.store, backend=args.backend, mode="a", replace=args.replace) as store:
        for f in args.files:
            rid = store.add_recording(f, params, link=args.link)
            print(f"{rid}  {f}")
    return 0


def _apply_filters(store: Any, args: argparse.Namespace) -> Any:
    view = store
    criteria = _parse_assignments(args.filter, "--filter")
    if criteria:
        view = view.filter(**criteria)
    if getattr(args, "streams", None):
        view = view.streams(args.streams)
    if getattr(args, "tag", None):
        view = view.tagged(*args.tag)
    if getattr(args, "between", None):
        from cldata.batch.paramfile import parse_value

        start, stop = (parse_value(x, source="--between") for x in args.between)
        view = view.between(start, stop)
    if getattr(args, "chain", None):
        from cldata.batch.paramfile import load_parameters

        chain = load_parameters(args.chain)
        view = view.query([q.as_dict() if hasattr(q, "as_dict") else q for q in chain["query"]])
    return view


def _query(args: argparse.Namespace) -> int:
    from cldata.format.attributes import to_plain

    with _open_any(args.store) as store:
        view = _apply_filters(store, args)
        views = view if isinstance(view, list) else [view]
        if args.json:
            out = [{"recordings": [{"id": r.id, "parameters": to_plain(dict(r.parameters))} for r in v.recordings],
                    "results": [{"id": r.id, "kind": type(r).__name__, "identifier": r.identifier,
                                 "parameters": r.parameters, "sources": list(r.sources), "tags": list(r.tags)}
                                for r in v.analysis_results]} for v in views]
            print(json.dumps(out if isinstance(view, list) else out[0], indent=1, default=str))
        else:
            for v in views:
                v.print_content()
    return 0


def _export(args: argparse.Namespace) -> int:
    with _open_any(args.store) as store:
        view = _apply_filters(store, args)
        out = view.export(args.out, overwrite=args.overwrite)
        print(f"exported {len(view.recording_ids)} recordings and {len(view.analysis_results)} results to {out}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from cldata.check import check_path
    from cldata.errors import ParameterError

    if args.budget is not None and args.budget < 0:
        raise ParameterError(f"--budget is a number of seconds >= 0 (0: no limit), not {args.budget:g}")
    report = check_path(Path(args.path), repair=args.repair, budget=args.budget or None)
    print(report)
    if not report.healthy:
        return 1
    return 0 if report.complete else 3


def _normalize(args: argparse.Namespace) -> int:
    from cldata.format.normalize import normalize

    if Path(args.out).exists() and Path(args.out).resolve() == Path(args.path).resolve():
        from cldata.errors import ParameterError

        raise ParameterError("OUT is the recording itself: normalize writes a copy and never changes a file in place")
    print(normalize(args.path, args.out, overwrite=args.overwrite))
    return 0


# -- the parser -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``cldata`` command."""
    parser = argparse.ArgumentParser(
        prog="cldata",
        description="cldata: closed-loop neural recordings (Cortical Labs CL1) in a parametrised datastore. "
                    "Each command has its own --help.",
    )
    from cldata import __version__
    from cldata.batch.runner import MAX_UNITS

    parser.add_argument("--version", action="version", version=f"cldata {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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
    demo.set_defaults(func=_demo)

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
    simulate.set_defaults(func=_simulate)

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
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.set_defaults(func=_run)

    info = sub.add_parser("info", help="describe a recording, a store or a store export",
                          description="Print what a CL recording file, a store directory or an export file holds.")
    info.add_argument("path", help="a CL recording (.h5), a store directory, or a store export file")
    info.set_defaults(func=_info)

    imp = sub.add_parser("import", help="add CL recording files to a store (created if missing)",
                         description="Add recordings to a store, copied in (default) or linked in place.")
    imp.add_argument("store", help="the store directory (created if it does not exist)")
    imp.add_argument("files", nargs="+", help="CL recording files")
    imp.add_argument("--param", action="append", metavar="KEY=VALUE", help="a parameter for these recordings")
    imp.add_argument("--link", action="store_true", help="link the files in place instead of copying them")
    imp.add_argument("--backend", default=None, help="backend of a new store (default hdf5)")
    imp.add_argument("--replace", action="store_true", help="replace recordings already in the store")
    imp.set_defaults(func=_import)

    def view_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--filter", action="append", metavar="KEY=VALUE",
                       help="parameter condition (repeatable; a list value means any of)")
        p.add_argument("--streams", nargs="+", metavar="NAME", help="only these data streams (globs allowed)")
        p.add_argument("--tag", action="append", help="only results with this tag (repeatable)")
        p.add_argument("--between", nargs=2, metavar=("START", "STOP"), help="time window in frames")
        p.add_argument("--chain", help="a parameter file whose 'query' entry is a query chain")

    query = sub.add_parser("query", help="list the recordings and results matching a query",
                           description="Select with parameter conditions, streams, tags, a time window or a query "
                                       "chain from a parameter file, and print what matches.")
    query.add_argument("store", help="a store directory or export file")
    view_options(query)
    query.add_argument("--json", action="store_true", help="print JSON")
    query.set_defaults(func=_query)

    export = sub.add_parser("export", help="write a store (or a selection) to one self-contained file",
                            description="Export recordings (links resolved) and results to one HDF5 file that "
                                        "cldata.open() and RecordingView read.")
    export.add_argument("store", help="a store directory or export file")
    export.add_argument("out", help="the file to write")
    view_options(export)
    export.add_argument("--overwrite", action="store_true")
    export.set_defaults(func=_export)

    check = sub.add_parser("check", help="verify a store or a recording, and repair what can be repaired",
                           description="Verify a store (catalog against files, payload checksums, links, "
                                       "journals) or a recording, report problems in plain words, and with "
                                       "--repair recover what can be recovered.")
    check.add_argument("path", help="a store directory or a CL recording file")
    check.add_argument("--repair", action="store_true", help="repair what can be repaired")
    check.add_argument("--budget", type=float, default=600, metavar="SECONDS",
                       help="stop reading in full after this many seconds, and say what was not read "
                            "(default 600; 0: no limit). Exit status: 0 healthy, 1 problems, 3 no problem found "
                            "but the budget ran out before everything was read")
    check.set_defaults(func=_check)

    norm = sub.add_parser("normalize", help="write a copy of a recording with every data stream's index in order",
                          description="Write a copy of a CL recording in which every data stream whose index rows "
                                      "are out of timestamp order (as the CL simulator can write them) holds each "
                                      "entry once, in timestamp order; everything else is copied as it is. The "
                                      "recording itself is never changed.")
    norm.add_argument("path", help="a CL recording file")
    norm.add_argument("out", help="the tidy copy to write")
    norm.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    norm.set_defaults(func=_normalize)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``cldata`` command; return its exit status."""
    from cldata.errors import CldataError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (CldataError, FileNotFoundError, FileExistsError) as exc:
        print(f"cldata {args.command}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like
        return 0


if __name__ == "__main__":
    sys.exit(main())
