"""Partition queries: split a view into one view per group of entries.

Two meanings, named apart (mozaik's names follow the first):

- *the listed parameters vary* inside each part, the entries being grouped by everything
  else about them (mozaik's ``colapse``: each entry's identity with the listed parameters
  left out): :func:`partition_by_stimulation_parameters` (mozaik's
  ``partition_by_stimulus_paramter_query``), :func:`partition_results_by_parameters`
  (mozaik's ``partition_analysis_results_by_parameters_query``) and
  :func:`partition_results_by_stimulation_parameters` (its
  ``partition_analysis_results_by_stimulus_parameters_query``);
- *grouped by the values of* the listed parameters, constant inside each part:
  :func:`partition_by_parameters` (recordings by their parameters, results by their own
  or, lacking them, their source recording's: the rule of parameter queries) and
  :func:`partition_results_by_values_of` (results by their own parameters).

``except_`` switches a results partition between the two: ``except_=True`` partitions by
every parameter *except* the ones named (they vary), ``except_=False`` by the named ones.
mozaik's ``excpt`` flag says the opposite (its ``excpt=True`` holds the named ones
constant); :mod:`cldata.mozaik` translates.

.. versionchanged:: 0.4
   :func:`partition_results_by_parameters` follows mozaik: its default became
   ``except_=True`` (the named parameters vary). Until 0.3 it held them constant; that
   meaning is :func:`partition_results_by_values_of`. A call that does not pass ``except_``
   warns (:class:`DeprecationWarning`) for one release.

In a "vary" partition of results a result's identity is its kind, its identifier and its
own parameters — not its source recordings, which are not parameters (use
:func:`partition_results_by_stimulation_parameters` or a filter for them). Results with
different sets of parameters never share a part, and a result lacking a named parameter
simply has nothing to vary (mozaik raises ``KeyError`` there). In a "values of" partition
an entry lacking one of the named parameters belongs to no part. Partitions come in a
stable order (sorted by their values). A parameter named that no entry of the store has
raises :class:`~cldata.errors.UnknownParameterError` with a "did you mean", as parameter
queries do (it would otherwise give no partition, or vary nothing, silently).

Examples
--------
>>> for part in store.partition_by("culture"):                  # doctest: +SKIP
...     print(part.parameter_values("culture"), len(part.recordings))
>>> for part in store.partition_results_by("window_s", except_=True):   # doctest: +SKIP
...     print(part.parameter_values("window_s", kind="results"))         # every window, one setting of the rest
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from cldata.core.canonical import canonical, flatten
from cldata.errors import ParameterError, UnknownParameterError
from cldata.model.catalog import Catalog
from cldata.model.entries import MISSING, lookup
from cldata.query.names import raise_unknown
from cldata.query.params import RESULT_FIELDS, check_known, normalize_keys
from cldata.query.selection import Selectable, Selection
from cldata.query.stimuli import recording_stimulus, result_stimuli, stimulus_key

__all__ = [
    "partition_by_parameters",
    "partition_by_stimulation_parameters",
    "partition_results_by_parameters",
    "partition_results_by_stimulation_parameters",
    "partition_results_by_values_of",
    "results_partition_meaning",
    "stimulation_path",
    "split_by_parameters",
    "split_by_stimulation_parameters",
    "split_results_by_parameters",
    "split_results_by_stimulation_parameters",
    "split_results_by_values_of",
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


def stimulation_path(name: str) -> str:
    """A stimulation parameter's path: ``"frequency"``, ``"st_frequency"`` and
    ``"stimulation.frequency"`` all name ``"stimulation.frequency"``."""
    if not isinstance(name, str) or not name:
        raise ParameterError(f"stimulation parameter names are non-empty strings, not {name!r}")
    if name.startswith("st_"):
        name = name[3:]
    elif name.startswith("stimulation."):
        name = name[len("stimulation."):]
    return "stimulation." + name.replace("__", ".")


def _stimulation_paths(params_list: Iterable[Mapping[str, Any]], except_names: Iterable[str]) -> list[str]:
    excluded = [stimulation_path(n) for n in except_names]
    paths: set[str] = set()
    for params in params_list:
        stim = params.get("stimulation")
        if isinstance(stim, Mapping):
            paths.update(f"stimulation.{p}" for p in flatten(stim))
    return sorted(p for p in paths if not _covered(p, excluded))


def partition_by_stimulation_parameters(dsv: V, except_names: str | Iterable[str] = ()) -> list[V]:
    """One view per stimulus, the stimulation parameters named left free to vary (mozaik's
    ``partition_by_stimulus_paramter_query``).

    A recording's stimulus is :func:`cldata.query.stimuli.recording_stimulus` (its
    ``stimulation`` parameters with top-level ``st_<name>`` ones folded in): recordings whose
    stimuli differ only in the parameters named share a part, and every recording is in
    one (a recording lacking a parameter another has is in a part of its own, as in
    mozaik; a stimulus' ``type`` is a parameter like the others). Results go with the
    stimulus they come from (:func:`cldata.query.stimuli.result_stimuli`: their own, else
    their source recordings'); a result without one, or from sources of different stimuli,
    is in no part. No stimulus in the view: one part, the whole view. Names may be spelt
    ``"frequency"``, ``"st_frequency"`` or ``"stimulation.frequency"``.

    Raises
    ------
    cldata.errors.UnknownParameterError
        For a name that no recording of the store has as a stimulation parameter.

    Examples
    --------
    >>> [p.parameter_values("stimulation.frequency") for p in partition_by_stimulation_parameters(store, ["amplitude"])]  # doctest: +SKIP
    [[4], [8]]
    """
    return [dsv.with_selection(s) for s in split_by_stimulation_parameters(dsv.catalog, dsv.selection, except_names)]


def _check_stimulation_names(cat: Catalog, paths: list[str]) -> None:
    if not cat.n_recordings:
        return
    index = cat.recording_index
    for path in paths:
        name = path[len("stimulation."):]
        if not (index.has(path) or index.has(f"st_{name}")
                or any(p.startswith(path + ".") or p.startswith(f"st_{name}.") for p in index.paths())):
            known = sorted(p for p in index.paths() if p.startswith(("stimulation.", "st_")))
            raise_unknown(UnknownParameterError, "no recording in the store has a stimulation parameter", path,
                          known, "the store's stimulation parameters")


def split_by_stimulation_parameters(catalog: Catalog, selection: Selection,
                                    except_names: str | Iterable[str] = ()) -> list[Selection]:
    """:func:`partition_by_stimulation_parameters` as a pure function of a catalog and a selection."""
    cat = catalog
    except_list = [except_names] if isinstance(except_names, str) else list(except_names)
    _check_stimulation_names(cat, [stimulation_path(n) for n in except_list])
    groups: dict[tuple, tuple[set[int], set[int]]] = {}
    for r, entry in selection.recording_entries(cat):
        groups.setdefault(stimulus_key(recording_stimulus(entry), except_list), (set(), set()))[0].add(r)
    for r in selection.live_result_rows(cat):
        keys = {stimulus_key(s, except_list) for s in result_stimuli(cat, cat.results[r])}  # type: ignore[arg-type]
        if len(keys) == 1:
            groups.setdefault(keys.pop(), (set(), set()))[1].add(r)
    if set(groups) <= {()}:
        return [selection]  # no stimulus (or none left once the names are free): one part
    return [selection.derive(cat, recordings=recs, results=res) for recs, res in _sorted_groups(groups)]


def results_partition_meaning(except_: bool | None, stacklevel: int = 3) -> bool:
    """``except_`` of :func:`partition_results_by_parameters` resolved: ``None`` (not given)
    is the new default ``True`` (mozaik's meaning), with a :class:`DeprecationWarning` that the
    meaning changed in 0.4 (for one release).

    ``stacklevel`` points the warning at the user's call (3: the caller of the caller).
    """
    if except_ is None:
        warnings.warn(
            "partition_results_by_parameters (view.partition_results_by) follows mozaik since cldata 0.4: "
            "the parameters named now VARY inside each part and the results are grouped by all their other "
            "parameters (except_=True, the new default); until 0.3 it grouped by the named parameters. For "
            "that old meaning call partition_results_by_values_of(view, names) "
            "(view.partition_results_by_values_of(*names)); pass except_=True to keep the new meaning "
            "without this warning, which goes in the next release",
            DeprecationWarning, stacklevel=stacklevel)
        return True
    if not isinstance(except_, bool):
        raise ParameterError(f"except_ is True or False, not {except_!r}")
    return except_


def partition_results_by_parameters(dsv: V, names: str | Iterable[str], except_: bool | None = None) -> list[V]:
    """Results grouped so that the parameters ``names`` vary inside each part (mozaik's
    ``partition_analysis_results_by_parameters_query``).

    Each part holds the results sharing their kind, identifier and every other parameter of
    theirs; ``names`` may take any values inside it. With ``except_=False``, the old meaning:
    grouped by the values of ``names`` (:func:`partition_results_by_values_of`). Every part
    keeps all of the view's recordings.

    Parameters
    ----------
    names
        Parameter names (dotted paths; ``"kind"`` and ``"identifier"`` too); a name of a nested
        dict stands for everything under it.
    except_
        ``True``: partition by every parameter except ``names`` (the default since 0.4).
        ``False``: by ``names`` only. Not given: ``True`` with a :class:`DeprecationWarning`
        that the meaning changed (see the module doc), for one release.

    Raises
    ------
    cldata.errors.UnknownParameterError
        For a name that no result of the store has among its own parameters.

    Examples
    --------
    >>> parts = partition_results_by_parameters(store, "window_s", except_=True)     # doctest: +SKIP
    >>> [p.parameter_values("window_s", kind="results") for p in parts]             # doctest: +SKIP
    [[0.5, 1, 2], [0.5, 1, 2]]
    """
    except_ = results_partition_meaning(except_)
    return [dsv.with_selection(s) for s in split_results_by_parameters(dsv.catalog, dsv.selection, names, except_)]


def partition_results_by_values_of(dsv: V, names: str | Iterable[str]) -> list[V]:
    """Results grouped by the values of their own parameters ``names``, constant inside each part.

    What :func:`partition_results_by_parameters` did until cldata 0.3. Results lacking one
    of ``names`` belong to no part; every part keeps all of the view's recordings.

    Raises
    ------
    cldata.errors.UnknownParameterError
        For a name that no result of the store has among its own parameters.

    Examples
    --------
    >>> [len(p.analysis_results) for p in partition_results_by_values_of(store, "window_s")]  # doctest: +SKIP
    [12, 12, 12]
    """
    return [dsv.with_selection(s) for s in split_results_by_values_of(dsv.catalog, dsv.selection, names)]


def _check_result_names(cat: Catalog, named: list[str]) -> None:
    if not cat.n_results:
        return
    for path in named:
        if path not in RESULT_FIELDS and not cat.result_index.has(path):
            known = cat.result_index.paths()  # for the message
            raise_unknown(UnknownParameterError, "no analysis result in the store has a parameter", path,
                          known, "the parameters of the store's results")


def _covered(path: str, named: list[str]) -> bool:
    return any(path == n or path.startswith(n + ".") for n in named)


def _result_identity(cat: Catalog, row: int, named: list[str]) -> tuple:
    entry = cat.results[row]
    fields = {"kind": entry.kind, "identifier": entry.identifier}  # type: ignore[union-attr]
    flat = {**flatten(entry.parameters), **fields}  # type: ignore[union-attr]
    return tuple(sorted((p, canonical(v)) for p, v in flat.items() if not _covered(p, named)))


def split_results_by_parameters(catalog: Catalog, selection: Selection, names: str | Iterable[str],
                                except_: bool | None = None) -> list[Selection]:
    """:func:`partition_results_by_parameters` as a pure function of a catalog and a selection
    (``except_`` not given: ``True``, with the same :class:`DeprecationWarning`)."""
    if not results_partition_meaning(except_):
        return split_results_by_values_of(catalog, selection, names)
    cat = catalog
    named = _paths(names)
    _check_result_names(cat, named)
    groups: dict[tuple, tuple[set[int], set[int]]] = {}
    for r in selection.live_result_rows(cat):
        groups.setdefault(_result_identity(cat, r, named), (set(), set()))[1].add(r)
    if not groups:
        return [selection]
    return [selection.derive(cat, results=res) for _, res in _sorted_groups(groups)]


def split_results_by_values_of(catalog: Catalog, selection: Selection, names: str | Iterable[str]) -> list[Selection]:
    """:func:`partition_results_by_values_of` as a pure function of a catalog and a selection."""
    cat = catalog
    named = _paths(names)
    if not named:
        return [selection]
    _check_result_names(cat, named)
    groups: dict[tuple, tuple[set[int], set[int]]] = {}
    for r in selection.live_result_rows(cat):
        entry = cat.results[r]
        fields = {"kind": entry.kind, "identifier": entry.identifier}  # type: ignore[union-attr]
        key = _key([fields[p] if p in fields else lookup(entry.parameters, p) for p in named])  # type: ignore[union-attr]
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
        paths = [stimulation_path(n) for n in name_list]
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
