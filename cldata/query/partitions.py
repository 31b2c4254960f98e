"""Partition queries: split a view into one view per distinct combination of parameter values.

- :func:`partition_by_parameters` — recordings by their parameters, results by their own
  parameters or, lacking them, their source recording's (the rule of parameter queries);
- :func:`partition_by_stimulation_parameters` — by every stimulation parameter except the
  ones named (mozaik's ``partition_by_stimulus_paramter_query``, correctly named);
- :func:`partition_results_by_parameters` — only results, by their own parameters (or by
  all of them except the ones named); every partition keeps the view's recordings
  (mozaik's ``partition_analysis_results_by_parameters_query``);
- :func:`partition_results_by_stimulation_parameters` — only results, by the stimulation
  parameters of the recordings they come from.

Entries lacking one of the partitioning parameters belong to no partition. Partitions
come in a stable order (sorted by their values), each a view whose entries all share
the values. A parameter named to partition by that no entry of the store has raises
:class:`~cldata.errors.UnknownParameterError` with a "did you mean", as parameter queries
do (it would otherwise give no partition, silently).

Examples
--------
>>> for part in store.partition_by("culture"):                  # doctest: +SKIP
...     print(part.parameter_values("culture"), len(part.recordings))
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from cldata.core.canonical import canonical, flatten
from cldata.errors import ParameterError, UnknownParameterError
from cldata.model.catalog import Catalog
from cldata.model.entries import MISSING, lookup
from cldata.query.names import raise_unknown
from cldata.query.params import check_known, normalize_keys
from cldata.query.selection import Selectable, Selection

__all__ = [
    "partition_by_parameters",
    "partition_by_stimulation_parameters",
    "partition_results_by_parameters",
    "partition_results_by_stimulation_parameters",
    "split_by_parameters",
    "split_by_stimulation_parameters",
    "split_results_by_parameters",
    "split_results_by_stimulation_parameters",
]

V = TypeVar("V", bound=Selectable)


def _paths(names: str | Iterable[str]) -> list[str]:
    names = [names] if isinstance(names, str) else list(names)
    if not all(isinstance(n, str) and n for n in names):
        raise ParameterError(f"parameter names are non-empty strings, not {names!r}")
    return list(normalize_keys(dict.fromkeys(names)))


def _result_value(cat: Catalog, row: int, path: str) -> Any:
    entry = cat.results[row]
    value = lookup(entry.parameters, path)  # type: ignore[union-attr]
    if value is MISSING:
        for source in entry.sources:  # type: ignore[union-attr]
            rec_row = cat.recording_rows.get(source)
            if rec_row is not None:
                value = lookup(cat.recordings[rec_row].parameters, path)  # type: ignore[union-attr]
                if value is not MISSING:
                    break
    return value


def _key(values: list[Any]) -> tuple | None:
    if any(v is MISSING for v in values):
        return None
    return tuple(canonical(v) for v in values)


def _sorted_groups(groups: dict[tuple, tuple[set[int], set[int]]]) -> list[tuple[set[int], set[int]]]:
    try:
        keys = sorted(groups)
    except TypeError:
        keys = sorted(groups, key=repr)
    return [groups[k] for k in keys]


def partition_by_parameters(dsv: V, names: str | Iterable[str]) -> list[V]:
    """One view per distinct combination of values of ``names`` (recordings and results).

    Raises
    ------
    cldata.errors.UnknownParameterError
        For a name no recording or result of the store has.
    cldata.errors.ParameterError
        If no name is given.

    Examples
    --------
    >>> [len(p.recordings) for p in partition_by_parameters(store, ["culture"])]   # doctest: +SKIP
    [4, 4, 4]
    """
    return [dsv.with_selection(s) for s in split_by_parameters(dsv.catalog, dsv.selection, names)]


def split_by_parameters(catalog: Catalog, selection: Selection, names: str | Iterable[str]) -> list[Selection]:
    """:func:`partition_by_parameters` as a pure function of a catalog and a selection."""
    paths = _paths(names)
    if not paths:
        raise ParameterError("partition_by_parameters needs at least one parameter name")
    cat = catalog
    check_known(cat, dict.fromkeys(paths))
    groups: dict[tuple, tuple[set[int], set[int]]] = {}
    for r, entry in selection.recording_entries(cat):
        key = _key([lookup(entry.parameters, p) for p in paths])
        if key is not None:
            groups.setdefault(key, (set(), set()))[0].add(r)
    for r in selection.live_result_rows(cat):
        key = _key([_result_value(cat, r, p) for p in paths])
        if key is not None:
            groups.setdefault(key, (set(), set()))[1].add(r)
    return [selection.derive(cat, recordings=recs, results=res) for recs, res in _sorted_groups(groups)]


def _stimulation_paths(params_list: Iterable[Mapping[str, Any]], except_names: Iterable[str]) -> list[str]:
    excluded = {f"stimulation.{n}" for n in except_names}
    paths: set[str] = set()
    for params in params_list:
        stim = params.get("stimulation")
        if isinstance(stim, Mapping):
            paths.update(f"stimulation.{p}" for p in flatten(stim))
    return sorted(paths - excluded)


def partition_by_stimulation_parameters(dsv: V, except_names: str | Iterable[str] = ()) -> list[V]:
    """One view per distinct stimulation protocol, ignoring the stimulation parameters named.

    Stimulation parameters are those under ``stimulation`` (``st_<name>`` in queries).
    """
    return [dsv.with_selection(s) for s in split_by_stimulation_parameters(dsv.catalog, dsv.selection, except_names)]


def split_by_stimulation_parameters(catalog: Catalog, selection: Selection,
                                    except_names: str | Iterable[str] = ()) -> list[Selection]:
    """:func:`partition_by_stimulation_parameters` as a pure function of a catalog and a selection."""
    except_list = [except_names] if isinstance(except_names, str) else list(except_names)
    params = [e.parameters for _, e in selection.recording_entries(catalog)]
    paths = _stimulation_paths(params, except_list)
    if not paths:
        return [selection]
    return split_by_parameters(catalog, selection, paths)


def partition_results_by_parameters(dsv: V, names: str | Iterable[str], except_: bool = False) -> list[V]:
    """Results grouped by their own parameters ``names`` (or by all others, with ``except_``).

    Every partition keeps all of the view's recordings. Results lacking a parameter belong
    to no partition.

    Raises
    ------
    cldata.errors.UnknownParameterError
        (without ``except_``) For a name that no result of the store has among its own
        parameters.

    Examples
    --------
    >>> [len(p.analysis_results) for p in partition_results_by_parameters(store, "window_s")]  # doctest: +SKIP
    [12, 12, 12]
    """
    return [dsv.with_selection(s) for s in split_results_by_parameters(dsv.catalog, dsv.selection, names, except_)]


def split_results_by_parameters(catalog: Catalog, selection: Selection, names: str | Iterable[str],
                                except_: bool = False) -> list[Selection]:
    """:func:`partition_results_by_parameters` as a pure function of a catalog and a selection."""
    cat = catalog
    named = _paths(names)
    if not except_ and cat.n_results:
        for path in named:
            if not cat.result_index.has(path):
                known = cat.result_index.paths()  # for the message
                raise_unknown(UnknownParameterError, "no analysis result in the store has a parameter", path,
                              known, "the parameters of the store's results")
    rows = selection.live_result_rows(cat)
    if except_:
        all_paths: set[str] = set()
        for r in rows:
            all_paths.update(flatten(cat.results[r].parameters))  # type: ignore[union-attr]
        paths = sorted(all_paths - set(named))
    else:
        paths = named
    if not paths:
        return [selection]
    groups: dict[tuple, tuple[set[int], set[int]]] = {}
    for r in rows:
        params = cat.results[r].parameters  # type: ignore[union-attr]
        key = _key([lookup(params, p) for p in paths])
        if key is not None:
            groups.setdefault(key, (set(), set()))[1].add(r)
    return [selection.derive(cat, results=res) for _, res in _sorted_groups(groups)]


def partition_results_by_stimulation_parameters(dsv: V, names: str | Iterable[str] = (),
                                                except_: bool = True) -> list[V]:
    """Results grouped by the stimulation parameters of their source recordings.

    By default (``except_=True``) by every stimulation parameter except ``names``; with
    ``except_=False`` by ``names`` only. Every partition keeps the view's recordings.
    """
    return [dsv.with_selection(s) for s in split_results_by_stimulation_parameters(dsv.catalog, dsv.selection,
                                                                                   names, except_)]


def split_results_by_stimulation_parameters(catalog: Catalog, selection: Selection, names: str | Iterable[str] = (),
                                            except_: bool = True) -> list[Selection]:
    """:func:`partition_results_by_stimulation_parameters` as a pure function of a catalog and a selection."""
    cat = catalog
    name_list = [names] if isinstance(names, str) else list(names)
    rows = selection.live_result_rows(cat)
    if except_:
        sources = [cat.recordings[cat.recording_rows[s]].parameters for r in rows  # type: ignore[union-attr]
                   for s in cat.results[r].sources if s in cat.recording_rows]  # type: ignore[union-attr]
        paths = _stimulation_paths(sources, name_list)
    else:
        paths = [f"stimulation.{n}" for n in name_list]
    if not paths:
        return [selection]
    groups: dict[tuple, tuple[set[int], set[int]]] = {}
    for r in rows:
        values = []
        for p in paths:
            value = MISSING
            for s in cat.results[r].sources:  # type: ignore[union-attr]
                if s in cat.recording_rows:
                    value = lookup(cat.recordings[cat.recording_rows[s]].parameters, p)  # type: ignore[union-attr]
                    if value is not MISSING:
                        break
            values.append(value)
        key = _key(values)
        if key is not None:
            groups.setdefault(key, (set(), set()))[1].add(r)
    return [selection.derive(cat, results=res) for _, res in _sorted_groups(groups)]
