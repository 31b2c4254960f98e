"""The commands that make things: ``cldata demo``, ``cldata simulate`` and ``cldata run``.

``run`` runs the batch analysis a parameter file describes (:func:`cldata.batch.runner.run_batch`),
making its store only with ``--create`` and removing it again if the run fails before it
starts; where the units run (``--executor``, ``--scheduler``) is the command line's to say,
never the file's.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path
from typing import Any

from cldata.app.cli.errors import CliError
from cldata.app.cli.paths import missing_error, removed_on_failure
from cldata.app.demo import run_demo
from cldata.batch.executors import SCHEDULER_ENV
from cldata.batch.runner import run_batch
from cldata.errors import OutputExistsError
from cldata.format.reader import RecordingView
from cldata.format.simulate import SIMULATED_STREAMS, check_simulate_arguments, simulate
from cldata.store.layout import MARKER

__all__ = ["demo_command", "simulate_command", "run_command"]


def demo_command(args: argparse.Namespace) -> int:
    return run_demo(Path(args.dir), recordings=args.recordings, duration_s=args.duration,
                    executor=args.executor, workers=args.workers, figure=not args.no_figure,
                    progress=not args.no_progress)


def simulate_command(args: argparse.Namespace) -> int:
    streams = SIMULATED_STREAMS if args.streams is None else args.streams
    # checked here too, so that the messages name the flags (--seconds), not the keywords (seconds=)
    check_simulate_arguments(args.seconds, args.channels, streams, cli=True)
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


def run_command(args: argparse.Namespace) -> int:
    # (deferred: the parameter-file parsers take 0.6 s to import; `cldata --help` needs none)
    from cldata.batch.paramfile import load_parameters

    overrides = list(args.set or [])
    if args.scheduler is not None and args.executor not in (None, "dask"):
        raise CliError(f"--scheduler runs the units on a dask cluster; it does not go with --executor "
                       f"{args.executor}", 2)
    if args.executor:
        overrides.append(f"executor.kind={args.executor}")
    if args.workers:
        overrides.append(f"executor.workers={args.workers}")
    if not Path(args.file).exists():
        raise missing_error(Path(args.file), "a parameter file")
    params = load_parameters(args.file, overrides)
    scheduler = args.scheduler
    if scheduler is None and _executor_kind(params) == "dask":
        # the environment is the caller's too; it is read only when the run is on dask anyway
        scheduler = os.environ.get(SCHEDULER_ENV) or None
    root = _store_root(params)
    new = root is not None and not (root.is_file() or (root / MARKER).exists())
    # the run checks its description, the store (create=) and the executor before it makes anything
    with removed_on_failure(root) if new and args.create else contextlib.nullcontext():
        try:
            report = run_batch(params, progress=not args.no_progress, echo=print, scheduler=scheduler,
                               wipe_store=args.wipe_store, max_units=args.max_units, create=args.create)
        except ImportError as exc:
            if "dask" not in str(exc):
                raise
            raise _no_dask(args) from None
    print(report)
    if new:
        print(f"made the store {root}, which holds no recordings yet: add some with "
              f"`cldata import {root} FILES`")
    return 0 if report.ok else 1


def _no_dask(args: argparse.Namespace) -> CliError:
    how = ("--scheduler" if args.scheduler is not None else "--executor dask" if args.executor == "dask"
           else f"executor.kind 'dask' in {args.file}")
    return CliError(f"{how} runs the units on dask, and dask.distributed is not installed: "
                    "pip install 'cldata[dask]', or run them here with --executor processes")


def _store_root(params: Any) -> Path | None:
    """The store directory a run description names (``None``: it names none; the runner says so)."""
    store = params.get("store") if hasattr(params, "get") else None
    root = store.get("root_directory") if hasattr(store, "get") else None
    return Path(root) if isinstance(root, (str, os.PathLike)) and str(root) else None


def _executor_kind(params: Any) -> Any:
    executor = params.get("executor") if hasattr(params, "get") else None
    return executor.get("kind") if hasattr(executor, "get") else None
