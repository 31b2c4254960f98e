"""``cldata query`` and ``cldata export``: a selection of a store, printed or written to one file.

Both take the same view options (``--filter``, ``--streams``, ``--tag``, ``--between``,
``--chain``), parsed and checked before the store is opened (:func:`view_spec`) and then
applied as the view's chain methods (:func:`apply_filters`); both steps are
:mod:`cldata.batch.query_syntax`, which the viewer's query box shares. ``query`` prints what matches
(``--values``: each result's fields on one line; ``--json``: as JSON).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import quantities as pq

import cldata
from cldata.app.cli.errors import CliError
from cldata.app.cli.paths import missing_error, open_for_reading
from cldata.batch.query_syntax import apply_view_options, view_options
from cldata.format.attributes import to_plain
from cldata.model.results import units_text

__all__ = ["query_command", "export_command", "view_spec", "apply_filters"]


def view_spec(args: argparse.Namespace) -> dict[str, Any]:
    """Every view option, parsed and checked before the store is opened
    (:func:`cldata.batch.query_syntax.view_options`, which the viewer's query box shares)."""
    chain = getattr(args, "chain", None)
    if chain and not Path(chain).exists():
        raise missing_error(Path(chain), "a parameter file with a 'query' entry")
    options = view_options(filter=args.filter, streams=getattr(args, "streams", None), tags=getattr(args, "tag", None),
                           between=getattr(args, "between", None), chain=chain)
    spec: dict[str, Any] = {"filter": options.filter, "options": options}
    if options.between is not None:
        spec["between"] = options.between
    if options.chain is not None:
        spec["chain"] = options.chain
    return spec


def apply_filters(store: Any, args: argparse.Namespace, spec: dict[str, Any]) -> Any:
    """The store narrowed by the view options of :func:`view_spec`."""
    return apply_view_options(store, spec["options"])


def json_value(value: Any) -> Any:
    """A result's field as JSON: numbers, lists, and ``{"values", "units"}`` for quantities."""

    if isinstance(value, pq.Quantity):
        return {"values": np.asarray(value.magnitude).tolist(), "units": units_text(value)}
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


def value_text(value: Any) -> str:
    """A result's field on one line: numbers with their units, long arrays abridged."""

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


def print_values(view: Any) -> None:
    results = view.analysis_results
    if not results:
        print("no results")
    for r in results:
        params = ", ".join(f"{k}={v!r}" for k, v in r.parameters.items())
        print(f"{r.id}  {type(r).__name__} {r.identifier!r}  ({params})  from {', '.join(r.sources)}")
        for name in type(r).fields:
            print(f"    {name} = {value_text(getattr(r, name))}")


def query_command(args: argparse.Namespace) -> int:
    spec = view_spec(args)
    with open_for_reading(args.store) as store:
        view = apply_filters(store, args, spec)
        views = view if isinstance(view, list) else [view]
        if args.json:
            out = []
            for v in views:
                results = []
                for r in v.analysis_results:
                    entry = {"id": r.id, "kind": type(r).__name__, "identifier": r.identifier,
                             "parameters": r.parameters, "sources": list(r.sources), "tags": list(r.tags)}
                    if args.values:
                        entry["values"] = {name: json_value(getattr(r, name)) for name in type(r).fields}
                    results.append(entry)
                out.append({"recordings": [{"id": r.id, "parameters": to_plain(dict(r.parameters))}
                                           for r in v.recordings], "results": results})
            print(json.dumps(out if isinstance(view, list) else out[0], indent=1, default=str))
        else:
            for v in views:
                v.print_content()
                if args.values:
                    print_values(v)
    return 0


def export_command(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.is_dir():
        raise CliError(f"{out} is a directory; an export is one file: name a file, e.g. {out / 'export.h5'}"
                       + (" (--overwrite replaces a file, never a directory)" if args.overwrite else ""))
    if os.path.lexists(out) and not args.overwrite:
        raise CliError(f"{out} exists; pass --overwrite to replace it")
    spec = view_spec(args)
    with open_for_reading(args.store) as store:
        view = apply_filters(store, args, spec)
        if isinstance(view, list):
            raise CliError("the --chain query splits the store into parts; export takes one selection: end the "
                           "chain without a partition", 2)
        path = view.export(out, overwrite=args.overwrite, progress=not args.quiet)
    with cldata.open(path) as shared:  # what the file holds (results from outside the view are left out)
        n, m = len(shared.recording_ids), len(shared.analysis_results)
    print(f"exported {n} recording{'s' if n != 1 else ''} and {m} result{'s' if m != 1 else ''} to {path}")
    return 0
