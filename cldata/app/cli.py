"""The ``cldata`` command line: one entry point, one sub-command per job.

Examples
--------
::

    cldata demo                                  # simulated recordings, analyses, summary and figure
    cldata simulate sample.h5 --seconds 2        # one simulated recording to try things on
    cldata run param/demo_rates.param --set executor.kind=serial
    cldata run param/demo_psth.param --scheduler tcp://10.0.0.9:8786 --max-units 500000
    cldata info lab-store                        # a store (or a recording, or an export)
    cldata import lab-store rec1.h5 rec2.h5 --param culture=C7 --create   # --create: a new store
    cldata query lab-store --filter culture=C7,C8 --filter "session=[1, 2]" --tag final --values
    cldata export lab-store shared.h5 --filter culture=C7
    cldata check lab-store --repair

Errors
------
Every error is one line on stderr, ``cldata COMMAND: what was wrong`` and, where a flag
fixes it, that flag (``--create``, ``--overwrite``, ``--replace``); ``cldata --debug
COMMAND ...`` shows the traceback instead. The exit status is 2 when what was typed cannot
mean anything (an unknown option, a malformed or unknown value, flags that do not go
together) and 1 when the command was understood but could not be done (a missing file, a
damaged store, a path that already exists); ``cldata check`` also returns 3 when its time
budget ran out. An error the command line did not foresee says "internal error" and asks
for ``--debug``: no traceback reaches the terminal without it.

Nothing is created by mistake: the reading commands (``info``, ``query``, ``export``,
``check``) never create a store, ``import`` and ``run`` make a missing store only with
``--create``, and a command that fails removes what it created.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

__all__ = ["main", "build_parser"]


class CliError(Exception):
    """An error the command line found itself, already in its words.

    ``status`` is the exit status: 2 for what was typed (a value that cannot mean anything,
    flags that do not go together), 1 for what the command could not do.
    """

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


#: Library words -> command-line words, for the messages of errors raised below the CLI
#: (the library speaks Python: ``overwrite=True``; the command line has flags).
_CLI_WORDS: list[tuple[str, str]] = [
    (r"pass overwrite=True \(--overwrite\)", "pass --overwrite"),
    (r"overwrite=True", "--overwrite"),
    (r"open the store with replace=True", "pass --replace"),
    (r"replace=True", "--replace"),
    (r"create=True", "--create"),
    (r"wipe_store=True", "--wipe-store"),
    (r"\(readers can open it with mode='r'\)", "(info, query, export and check can still read it)"),
    (r"open it with backend='([^']*)' \(or None\)", r"pass --backend \1 (or no --backend)"),
    (r"`cldata check --repair (\S+)`", r"`cldata check \1 --repair`"),
]


def cli_words(message: str) -> str:
    """``message`` in the command line's words, on one line.

    Examples
    --------
    >>> cli_words("out.h5 exists; pass overwrite=True to replace it")
    'out.h5 exists; pass --overwrite to replace it'
    """
    for pattern, replacement in _CLI_WORDS:
        message = re.sub(pattern, replacement, message)
    return re.sub(r"\s*\n\s*", " ", message.strip())


def _error_line(exc: BaseException) -> tuple[str, int]:
    """The one line an error becomes, and the exit status."""
    from cldata.errors import CldataError, ParameterError

    if isinstance(exc, CliError):
        return cli_words(str(exc)), exc.status
    if isinstance(exc, CldataError):
        return cli_words(str(exc)), 2 if isinstance(exc, ParameterError) else 1
    if isinstance(exc, OSError):
        if exc.strerror and exc.filename is not None:  # raised by the OS: "[Errno 2] ..." made readable
            text = f"{exc.strerror[:1].lower()}{exc.strerror[1:]}: {exc.filename}"
            if exc.filename2 is not None:
                text += f" -> {exc.filename2}"
            return text, 1
        return cli_words(str(exc) or type(exc).__name__), 1
    if isinstance(exc, ImportError):  # an optional dependency that is not installed
        return cli_words(str(exc)), 1
    return (f"internal error ({type(exc).__name__}: {cli_words(str(exc))[:300]}); this is a bug in cldata: "
            "rerun with --debug to see the traceback, and report it"), 1


def _parse_assignments(items: Sequence[str] | None, what: str, *, lists: bool = False) -> dict[str, Any]:
    """``["a.b=1", "c=C7"]`` -> ``{"a.b": 1, "c": "C7"}``, values parsed as safe literals.

    ``lists``: a value with commas that is not a literal means any of its parts
    (``culture=C1,C2`` -> ``["C1", "C2"]``), as ``--filter`` documents.
    """
    from cldata.batch.paramfile import parse_value

    out: dict[str, Any] = {}
    for item in items or ():
        key, eq, text = item.partition("=")
        if not eq or not key.strip():
            raise CliError(f"{what} {item!r} is not KEY=VALUE (e.g. {what} culture=C7)", 2)
        source = f"{what} {item!r}"
        if lists and "," in text and not text.strip().startswith(("[", "(", "{", "'", '"')):
            parts = [p.strip() for p in text.split(",")]
            if not all(parts):
                raise CliError(f"{source}: an empty value between commas (write {what} {key}=A,B for A or B)", 2)
            value: Any = [parse_value(p, source=source) for p in parts]
        else:
            value = parse_value(text, source=source)
            if lists and isinstance(value, tuple):
                value = list(value)  # 1,2 parses as a tuple: any of them, as a list means
        out[key.strip()] = value
    return out


_TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "min": 60.0}


def _time_value(text: str) -> Any:
    """A ``--between`` bound: frames (``25000``), a time (``1s``, ``0.5 s``, ``100ms``), or
    ``none`` for an open end."""
    import quantities as pq

    stripped = text.strip().lower()
    if stripped in ("none", "-", ""):
        return None
    if re.fullmatch(r"[+]?\d+", stripped):
        return int(stripped)
    match = re.fullmatch(r"([+]?\d+(?:\.\d*)?(?:e[+-]?\d+)?)\s*(s|ms|us|min)", stripped)
    if match:
        return float(match.group(1)) * _TIME_UNITS[match.group(2)] * pq.s
    raise CliError(f"--between {text!r}: a bound is a frame count (25000), a time (1s, 0.5s, 100ms, 2min) "
                   "or none (an open end), e.g. --between 0 1s", 2)


def _describe(path: Path) -> str:
    """What ``path`` is, in a few words ("a directory", "a cldata store", ...)."""
    from cldata.store.datastore import MARKER

    if not os.path.lexists(path):
        return "missing"
    if path.is_dir():
        return "a cldata store" if (path / MARKER).exists() else "a directory"
    if path.is_file():
        if _is_export(path):
            return "a store export file"
        return "a file"
    return "neither a file nor a directory (a FIFO, a device or a dangling link?)"


def _directory_hint(path: Path) -> str:
    """What a directory that is not a store holds, where that helps ("; it holds 3 .h5 files ...")."""
    from cldata.store.datastore import MARKER

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


def _missing(path: Path, expected: str) -> CliError:
    return CliError(f"no such file or directory: {path} (expected {expected})")


def _described(path: Path, expected: str) -> str:
    """What ``path`` is (:func:`_describe`); one line saying so if it is missing or a plain directory."""
    what = _describe(path)
    if what == "missing":
        raise _missing(path, expected)
    if what == "a directory":
        raise CliError(f"{path} is a directory{_directory_hint(path)}, not a cldata store (it has no "
                       f"cldata-store.json): expected {expected}")
    return what


def _open_for_reading(path_text: str) -> Any:
    """Open a store or an export read-only; anything else is one line saying what it is."""
    import cldata

    path = Path(path_text)
    what = _described(path, "a store directory or a store export file")
    if what == "a file" and _is_recording(path):
        raise CliError(f"{path} is a CL recording, not a store: `cldata info {path}` describes it, "
                       f"`cldata import STORE {path} --create` puts it in a new store")
    return cldata.open(path)


def _is_recording(path: Path) -> bool:
    from cldata.errors import CldataError
    from cldata.format.reader import RecordingView

    try:
        with RecordingView(path):
            return True
    except (CldataError, OSError):
        return False


@contextlib.contextmanager
def _removed_on_failure(root: Path) -> Iterator[None]:
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


def _store_to_write(root: Path, create: bool, command: str) -> bool:
    """Check that ``root`` is a store to write to, or may become one (``--create``).

    Returns whether the store is made by this command.
    """
    from cldata.store.datastore import MARKER

    what = _describe(root)
    if what == "a cldata store":
        return False
    if what == "missing":
        if not create:
            raise CliError(f"no store at {root}; pass --create to make one")
        return True
    if what == "a directory":
        if any(root.iterdir()):
            raise CliError(f"{root} is a directory{_directory_hint(root)} that is not a cldata store (it has no "
                           f"{MARKER}) and is not empty: name a store directory, or a new one with --create")
        if not create:
            raise CliError(f"{root} is an empty directory, not a cldata store; pass --create to make one there")
        return True
    if what == "a store export file":
        raise CliError(f"{root} is a store export, which is read-only: {command} into a store directory")
    raise CliError(f"{root} is {what}, not a store directory")


# -- sub-commands ---------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    from cldata.app.demo import run_demo

    return run_demo(Path(args.dir), recordings=args.recordings, duration_s=args.duration,
                    executor=args.executor, workers=args.workers, figure=not args.no_figure,
                    progress=not args.no_progress)


def _simulate(args: argparse.Namespace) -> int:
    import os

    from cldata.errors import OutputExistsError
    from cldata.format.reader import RecordingView
    from cldata.format.simulate import SIMULATED_STREAMS, check_simulate_arguments, simulate

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


def _run(args: argparse.Namespace) -> int:
    from cldata.batch.executors import SCHEDULER_ENV
    from cldata.batch.paramfile import load_parameters
    from cldata.batch.runner import run_batch
    from cldata.store.datastore import MARKER

    overrides = list(args.set or [])
    if args.scheduler is not None and args.executor not in (None, "dask"):
        raise CliError(f"--scheduler runs the units on a dask cluster; it does not go with --executor "
                       f"{args.executor}", 2)
    if args.executor:
        overrides.append(f"executor.kind={args.executor}")
    if args.workers:
        overrides.append(f"executor.workers={args.workers}")
    if not Path(args.file).exists():
        raise _missing(Path(args.file), "a parameter file")
    params = load_parameters(args.file, overrides)
    scheduler = args.scheduler
    if scheduler is None and _executor_kind(params) == "dask":
        # the environment is the caller's too; it is read only when the run is on dask anyway
        scheduler = os.environ.get(SCHEDULER_ENV) or None
    root = _store_root(params)
    new = root is not None and not (root.is_file() or (root / MARKER).exists())
    # the run checks its description, the store (create=) and the executor before it makes anything
    with _removed_on_failure(root) if new and args.create else contextlib.nullcontext():
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


def _info(args: argparse.Namespace) -> int:
    from cldata.format.reader import RecordingView

    path = Path(args.path)
    expected = "a CL recording file (.h5), a store directory or a store export file"
    what = _described(path, expected)
    if what.startswith("neither"):
        raise CliError(f"{path} is {what}: expected {expected}")
    if what in ("a cldata store", "a store export file"):
        with _open_for_reading(str(path)) as store:
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
    from cldata.core.display import progress_bar

    params = _parse_assignments(args.param, "--param")
    for f in map(Path, args.files):  # before the store is opened (or made)
        if not os.path.lexists(f):
            raise _missing(f, "a CL recording file")
        if f.is_dir():
            raise CliError(f"{f} is a directory{_directory_hint(f)}, not a CL recording file: name the .h5 files")
    root = Path(args.store)
    new = _store_to_write(root, args.create, "import")
    with _removed_on_failure(root) if new else contextlib.nullcontext():
        added = []
        with cldata.open(root, backend=args.backend, mode="a", replace=args.replace) as store:
            for f in progress_bar(args.files, desc="import", unit="file", enabled=not args.quiet):
                added.append((store.add_recording(f, params, link=args.link, progress=not args.quiet), f))
    for rid, f in added:  # (committed: printed once they are in the store)
        print(f"{rid}  {f}")
    return 0


def _view_spec(args: argparse.Namespace) -> dict[str, Any]:
    """Every view option, parsed and checked before the store is opened."""
    spec: dict[str, Any] = {"filter": _parse_assignments(args.filter, "--filter", lists=True)}
    if getattr(args, "between", None):
        spec["between"] = tuple(_time_value(x) for x in args.between)
    if getattr(args, "chain", None):
        spec["chain"] = _chain(Path(args.chain))
    return spec


def _chain(path: Path) -> list[Any]:
    """The ``query`` entry of a ``--chain`` parameter file: a list of queries."""
    from cldata.batch.paramfile import load_parameters

    if not path.exists():
        raise _missing(path, "a parameter file with a 'query' entry")
    chain = load_parameters(path)
    example = "{'query': [{'class': 'ParamFilterQuery', 'params': {'params': {'culture': 'C7'}}}]}"
    if not hasattr(chain, "keys") or "query" not in chain:
        keys = ", ".join(map(repr, chain.keys())) if hasattr(chain, "keys") else ""
        raise CliError(f"{path} has no 'query' entry (it has {keys or 'none'}): --chain takes a parameter file "
                       f"whose 'query' is a list of queries, e.g. {example}", 2)
    queries = chain["query"]
    if isinstance(queries, (str, bytes)) or not isinstance(queries, Sequence):
        raise CliError(f"the 'query' entry of {path} is {type(queries).__name__}, not a list of queries: "
                       f"e.g. {example}", 2)
    return [q.as_dict() if hasattr(q, "as_dict") else q for q in queries]


def _apply_filters(store: Any, args: argparse.Namespace, spec: dict[str, Any]) -> Any:
    view = store
    if spec["filter"]:
        view = view.filter(**spec["filter"])
    if getattr(args, "streams", None):
        view = view.streams(args.streams)
    if getattr(args, "tag", None):
        view = view.tagged(*args.tag)
    if "between" in spec:
        view = view.between(*spec["between"])
    if "chain" in spec:
        view = view.query(spec["chain"])
    return view


def _plain(value: Any) -> Any:
    """A result's field as JSON: numbers, lists, and ``{"values", "units"}`` for quantities."""
    import numpy as np
    import quantities as pq

    from cldata.model.results import units_text

    if isinstance(value, pq.Quantity):
        return {"values": np.asarray(value.magnitude).tolist(), "units": units_text(value)}
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _value_text(value: Any) -> str:
    """A result's field on one line: numbers with their units, long arrays abridged."""
    import numpy as np
    import quantities as pq

    from cldata.model.results import units_text

    if isinstance(value, pq.Quantity | np.ndarray):
        array = np.asarray(value.magnitude if isinstance(value, pq.Quantity) else value)
        with np.printoptions(threshold=12, edgeitems=4, precision=4, suppress=True, linewidth=10**6):
            text = str(array.item()) if array.ndim == 0 else np.array2string(array, separator=", ")
        units = units_text(value) if isinstance(value, pq.Quantity) else ""
        units = "" if units in ("", "dimensionless") else f" {units}"
        return f"{text}{units}" + (f"  ({array.size} values)" if array.ndim and array.size > 12 else "")
    if isinstance(value, list) and value and not isinstance(value[0], int | float | str):
        return f"{len(value)} {type(value[0]).__name__}{'s' if len(value) != 1 else ''}"
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _print_values(view: Any) -> None:
    results = view.analysis_results
    if not results:
        print("no results")
    for r in results:
        params = ", ".join(f"{k}={v!r}" for k, v in r.parameters.items())
        print(f"{r.id}  {type(r).__name__} {r.identifier!r}  ({params})  from {', '.join(r.sources)}")
        for name in type(r).fields:
            print(f"    {name} = {_value_text(getattr(r, name))}")


def _query(args: argparse.Namespace) -> int:
    from cldata.format.attributes import to_plain

    spec = _view_spec(args)
    with _open_for_reading(args.store) as store:
        view = _apply_filters(store, args, spec)
        views = view if isinstance(view, list) else [view]
        if args.json:
            out = []
            for v in views:
                results = []
                for r in v.analysis_results:
                    entry = {"id": r.id, "kind": type(r).__name__, "identifier": r.identifier,
                             "parameters": r.parameters, "sources": list(r.sources), "tags": list(r.tags)}
                    if args.values:
                        entry["values"] = {name: _plain(getattr(r, name)) for name in type(r).fields}
                    results.append(entry)
                out.append({"recordings": [{"id": r.id, "parameters": to_plain(dict(r.parameters))}
                                           for r in v.recordings], "results": results})
            print(json.dumps(out if isinstance(view, list) else out[0], indent=1, default=str))
        else:
            for v in views:
                v.print_content()
                if args.values:
                    _print_values(v)
    return 0


def _export(args: argparse.Namespace) -> int:
    import cldata

    out = Path(args.out)
    if out.is_dir():
        raise CliError(f"{out} is a directory; an export is one file: name a file, e.g. {out / 'export.h5'}"
                       + (" (--overwrite replaces a file, never a directory)" if args.overwrite else ""))
    if os.path.lexists(out) and not args.overwrite:
        raise CliError(f"{out} exists; pass --overwrite to replace it")
    spec = _view_spec(args)
    with _open_for_reading(args.store) as store:
        view = _apply_filters(store, args, spec)
        if isinstance(view, list):
            raise CliError("the --chain query splits the store into parts; export takes one selection: end the "
                           "chain without a partition", 2)
        path = view.export(out, overwrite=args.overwrite, progress=not args.quiet)
    with cldata.open(path) as shared:  # what the file holds (results from outside the view are left out)
        n, m = len(shared.recording_ids), len(shared.analysis_results)
    print(f"exported {n} recording{'s' if n != 1 else ''} and {m} result{'s' if m != 1 else ''} to {path}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from cldata.app.check import check_path
    from cldata.format.journal import journal_path

    if args.budget is not None and args.budget < 0:
        raise CliError(f"--budget is a number of seconds >= 0 (0: no limit), not {args.budget:g}", 2)
    path = Path(args.path)
    what = _describe(path)
    if what == "missing" and not os.path.lexists(journal_path(path)):
        raise _missing(path, "a store directory, a store export or a CL recording file")
    if what == "a directory":
        raise CliError(f"{path} is a directory{_directory_hint(path)}, not a cldata store (it has no "
                       "cldata-store.json): expected a store directory, a store export or a CL recording file")
    report = check_path(path, repair=args.repair, budget=args.budget or None, progress=not args.quiet)
    print(report.text(repair=f"cldata check {path} --repair", budget="--budget SECONDS"))
    if not report.healthy:
        return 1
    return 0 if report.complete else 3


def _upgrade(args: argparse.Namespace) -> int:
    from cldata.store.datastore import upgrade_store

    path = Path(args.path)
    if _describe(path) == "missing":
        raise _missing(path, "a store directory")
    print(upgrade_store(path))
    return 0


def _normalize(args: argparse.Namespace) -> int:
    from cldata.format.normalize import normalize

    if Path(args.out).exists() and Path(args.out).resolve() == Path(args.path).resolve():
        raise CliError("OUT is the recording itself: normalize writes a copy and never changes a file in place", 2)
    print(normalize(args.path, args.out, overwrite=args.overwrite))
    return 0


# -- the parser -----------------------------------------------------------------------------


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
    from cldata import __version__
    from cldata.batch.runner import MAX_UNITS

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
    run.add_argument("--create", action="store_true",
                     help="make the store the parameter file names if it does not exist (without it, a missing "
                          "store is an error: a mistyped store.root_directory creates nothing)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.set_defaults(func=_run)

    info = sub.add_parser("info", help="describe a recording, a store or a store export",
                          description="Print what a CL recording file, a store directory or an export file holds.")
    info.add_argument("path", help="a CL recording (.h5), a store directory, or a store export file")
    info.set_defaults(func=_info)

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
    imp.set_defaults(func=_import)

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
    query.set_defaults(func=_query)

    export = sub.add_parser("export", help="write a store (or a selection) to one self-contained file",
                            description="Export recordings (links resolved) and results to one HDF5 file that "
                                        "cldata.open() and RecordingView read.")
    export.add_argument("store", help="a store directory or export file")
    export.add_argument("out", help="the file to write")
    view_options(export)
    export.add_argument("--overwrite", action="store_true", help="replace OUT if it is a file that exists")
    export.add_argument("--quiet", action="store_true", help="no progress bar")
    export.set_defaults(func=_export)

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

    upgrade = sub.add_parser("upgrade", help="move a store made by cldata before 0.2 to the current layout",
                             description="Move the catalog of a store made before version 2 (a log of segments, "
                                         "loaded whole when the store opens) into an indexed SQLite database, so "
                                         "that the store opens in constant time. Crash-safe; run it again after an "
                                         "interruption. A store opened for writing is upgraded the same way.")
    upgrade.add_argument("path", help="a store directory")
    upgrade.set_defaults(func=_upgrade)
    return parser


def _warning_line(command: str) -> Any:
    """Show a warning as one line in the command line's words (``--debug``: as Python does)."""
    def show(message: Any, category: type, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
        print(f"cldata {command}: warning: {cli_words(str(message))}", file=sys.stderr if file is None else file)

    return show


def main(argv: list[str] | None = None) -> int:
    """Run the ``cldata`` command; return its exit status.

    Every error becomes one line on stderr (see the module doc); ``--debug`` raises it
    instead, with its traceback.

    Examples
    --------
    >>> main(["info", "no-such-file.h5"])      # doctest: +SKIP
    cldata info: no such file or directory: no-such-file.h5 (expected a CL recording file (.h5), ...)
    1
    """
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:  # said by the command's parser, so that the message names the command
            args.commands[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as done:  # --help, --version, or a usage error already printed
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 2)
    try:
        with warnings.catch_warnings():  # (restores how warnings are shown when the command ends)
            if not args.debug:
                warnings.showwarning = _warning_line(args.command)
            return args.func(args)
    except BrokenPipeError:  # output piped into `head` and the like
        return 0
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"cldata {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        line, status = _error_line(exc)
        print(f"cldata {args.command}: {line}", file=sys.stderr)
        return status


if __name__ == "__main__":
    sys.exit(main())
