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
from typing import TYPE_CHECKING, Any

from cldata.core.canonical import canonical, flatten
from cldata.errors import ParameterError, UnknownParameterError
from cldata.model.catalog import MISSING, Catalog, lookup
from cldata.query.names import raise_unknown
from cldata.query.params import check_known, normalize_keys

if TYPE_CHECKING:  # pragma: no cover
    from cldata.store.view import DataStoreView

__all__ = [
    "partition_by_parameters",
    "partition_by_stimulation_parameters",
    "partition_results_by_parameters",
    "partition_results_by_stimulation_parameters",
]


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


def partition_by_parameters(dsv: DataStoreView, names: str | Iterable[str]) -> list[DataStoreView]:
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
    paths = _paths(names)
    if not paths:
        raise ParameterError("partition_by_parameters needs at least one parameter name")
    cat = dsv.full_datastore.catalog
    check_known(cat, dict.fromkeys(paths))
    groups: dict[tuple, tuple[set[int], set[int]]] = {}
    for r in dsv._recording_rows():
        entry = cat.recordings[r]
        if entry is None:
            continue
        key = _key([lookup(entry.parameters, p) for p in paths])
        if key is not None:
            groups.setdefault(key, (set(), set()))[0].add(r)
    for r in dsv._live_result_rows():
        key = _key([_result_value(cat, r, p) for p in paths])
        if key is not None:
            groups.setdefault(key, (set(), set()))[1].add(r)
    return [dsv._derive(recordings=recs, results=res) for recs, res in _sorted_groups(groups)]


def _stimulation_paths(params_list: Iterable[Mapping[str, Any]], except_names: Iterable[str]) -> list[str]:
    excluded = {f"stimulation.{n}" for n in except_names}
    paths: set[str] = set()
    for params in params_list:
        stim = params.get("stimulation")
        if isinstance(stim, Mapping):
            paths.update(f"stimulation.{p}" for p in flatten(stim))
    return sorted(paths - excluded)


def partition_by_stimulation_parameters(dsv: DataStoreView, except_names: str | Iterable[str] = ()) -> list[DataStoreView]:
    """One view per distinct stimulation protocol, ignoring the stimulation parameters named.

    Stimulation parameters are those under ``stimulation`` (``st_<name>`` in queries).
    """
    except_list = [except_names] if isinstance(except_names, str) else list(except_names)
    cat = dsv.full_datastore.catalog
    params = [cat.recordings[r].parameters for r in dsv._recording_rows() if cat.recordings[r] is not None]  # type: ignore[union-attr]
    paths = _stimulation_paths(params, except_list)
    if not paths:
        return [dsv]
    return partition_by_parameters(dsv, paths)


def partition_results_by_parameters(dsv: DataStoreView, names: str | Iterable[str], except_: bool = False) -> list[DataStoreView]:
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
    cat = dsv.full_datastore.catalog
    named = _paths(names)
    if not except_ and cat.n_results:
        for path in named:
            if not cat.result_index.has(path):
                known = cat.result_index.paths()  # for the message
                raise_unknown(UnknownParameterError, "no analysis result in the store has a parameter", path,
                              known, "the parameters of the store's results")
    rows = dsv._live_result_rows()
    if except_:
        all_paths: set[str] = set()
        for r in rows:
            all_paths.update(flatten(cat.results[r].parameters))  # type: ignore[union-attr]
        paths = sorted(all_paths - set(named))
    else:
        paths = named
    if not paths:
        return [dsv]
    groups: dict[tuple, tuple[set[int], set[int]]] = {}
    for r in rows:
        params = cat.results[r].parameters  # type: ignore[union-attr]
        key = _key([lookup(params, p) for p in paths])
        if key is not None:
            groups.setdefault(key, (set(), set()))[1].add(r)
    return [dsv._derive(results=res) for _, res in _sorted_groups(groups)]


def partition_results_by_stimulation_parameters(dsv: DataStoreView, names: str | Iterable[str] = (),
                                                except_: bool = True) -> list[DataStoreView]:
    """Results grouped by the stimulation parameters of their source recordings.

    By default (``except_=True``) by every stimulation parameter except ``names``; with
    ``except_=False`` by ``names`` only. Every partition keeps the view's recordings.
    """
    cat = dsv.full_datastore.catalog
    name_list = [names] if isinstance(names, str) else list(names)
    rows = dsv._live_result_rows()
    if except_:
        sources = [cat.recordings[cat.recording_rows[s]].parameters for r in rows  # type: ignore[union-attr]
                   for s in cat.results[r].sources if s in cat.recording_rows]  # type: ignore[union-attr]
        paths = _stimulation_paths(sources, name_list)
    else:
        paths = [f"stimulation.{n}" for n in name_list]
    if not paths:
        return [dsv]
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
    return [dsv._derive(results=res) for _, res in _sorted_groups(groups)]
