"""Parameter queries: ``param_filter_query`` and its relatives (mozaik's semantics, indexed).

Each keyword is a condition on one parameter; all must hold (AND). A condition is a value
(equal by value: ``1 == 1.0``, ``1.5*pq.s == 1500*pq.ms``), a list (any of its values —
to match a list-valued parameter exactly, pass a tuple), or a predicate from
:mod:`cldata.query.predicates`. Keys are dotted paths into nested parameters
(``**{"stimulation.frequency": 4}``); since keyword names cannot hold dots, ``__``
works too (``stimulation__frequency=4``). ``st_<name>`` reaches the stimulation
parameters (``stimulation.<name>``), as mozaik's ``st_`` reaches stimulus parameters.

What is filtered:

- recordings, by their parameters (a recording lacking a parameter does not match);
  ``identifier`` and ``kind`` concern results only and leave recordings alone;
- analysis results, by ``identifier``, ``kind`` (class name) and their own parameters;
  for a parameter a result does not have, by the parameters of the recording(s) it
  came from: ``filter(culture="C7")`` keeps C7 recordings and the results computed from
  them.

Use :func:`filter_recordings` / :func:`filter_results` to filter only one kind. A
parameter that no entry of the store has raises :class:`~cldata.errors.UnknownParameterError`
(a :class:`~cldata.errors.ParameterError`) listing the known parameters with a "did you
mean" (a misspelt key would otherwise silently match nothing). A known parameter with a
value no entry has is a legitimate question whose answer is empty: no error, no warning.

:func:`select_by_parameters` is the query itself, a pure function of a catalog and a
:class:`~cldata.query.selection.Selection`; the other functions take a view (a store view,
or a :class:`~cldata.query.selection.CatalogView`) and return a new one. Nothing is read
from disk, and the cost is about the number of matches (the catalog index answers each
condition).

Examples
--------
>>> from cldata.query import param_filter_query, Range
>>> v = param_filter_query(store, culture=["C7", "C8"], session=Range(2, 5))  # doctest: +SKIP
>>> one = param_filter_query(store, identifier="mean_rate", ads_unique=True)  # doctest: +SKIP
>>> param_filter_query(store, cultre="C7")                                   # doctest: +SKIP
Traceback (most recent call last):
cldata.errors.UnknownParameterError: no recording or analysis result in the store has a parameter 'cultre' (did you mean 'culture'?); ...
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from cldata.errors import ParameterError, UniquenessError, UnknownParameterError
from cldata.model.engines.rowset import intersect_all
from cldata.model.entries import MISSING, lookup
from cldata.query.names import raise_unknown
from cldata.query.predicates import condition_rows, condition_test
from cldata.query.selection import KEEP, Selectable, Selection

if TYPE_CHECKING:  # pragma: no cover
    from cldata.model.catalog import Catalog

__all__ = [
    "param_filter_query",
    "select_by_parameters",
    "recording_rows",
    "result_rows",
    "filter_recordings",
    "filter_results",
    "normalize_keys",
    "stimulus_paths",
    "RESULT_FIELDS",
    "brute_force_filter",
]

#: keys that name fields of results rather than parameters
RESULT_FIELDS = ("identifier", "kind")


def normalize_keys(criteria: Mapping[str, Any]) -> dict[str, Any]:
    """Turn ``st_x`` into ``stimulation.x`` and ``a__b`` into ``a.b``.

    Raises
    ------
    cldata.errors.ParameterError
        For an empty key or two spellings of the same path.
    """
    out: dict[str, Any] = {}
    for key, value in criteria.items():
        if not isinstance(key, str) or not key:
            raise ParameterError(f"parameter names are non-empty strings, not {key!r}")
        path = key.replace("__", ".")
        if path.startswith("st_"):
            path = "stimulation." + path[3:]
        if path in out:
            raise ParameterError(f"parameter {path!r} is given twice ({key!r})")
        out[path] = value
    return out


def _has_path(cat: Catalog, path: str) -> bool:
    return bool(cat.recording_index.has(path) or cat.result_index.has(path))


def stimulus_paths(cat: Catalog, criteria: dict[str, Any]) -> dict[str, Any]:
    """``stimulation.x`` (from ``st_x``) as the top-level parameter ``st_x`` where only that exists.

    A recording's stimulus is its ``stimulation`` parameters with top-level ``st_`` ones folded in
    (:mod:`cldata.query.stimuli`; neo annotations and mozaik-style parameters are often spelt
    ``st_x``): ``st_x=...`` finds them either way. A store holding both spellings of one name
    is searched under ``stimulation.x``.

    Examples
    --------
    >>> from cldata.model.catalog import Catalog
    >>> stimulus_paths(Catalog(), {"stimulation.frequency": 4})
    {'stimulation.frequency': 4}
    """
    out: dict[str, Any] = {}
    for path, cond in criteria.items():
        if path.startswith("stimulation.") and "." not in path[len("stimulation."):]:
            flat = "st_" + path[len("stimulation."):]
            if not _has_path(cat, path) and _has_path(cat, flat) and flat not in criteria:
                path = flat
        out[path] = cond
    return out


def recording_rows(cat: Catalog, within: frozenset[int] | None, criteria: dict[str, Any]) -> set[int]:
    """Recording rows matching ``criteria`` among ``within`` (``None``: all live rows)."""
    keys = [(p, c) for p, c in criteria.items() if p not in RESULT_FIELDS]
    if not keys:
        return set(cat.live_recording_rows()) if within is None else set(within)
    sets: list[Any] = [condition_rows(cat.recording_index, p, c) for p, c in keys]
    if within is not None:
        sets.append(within)
    return intersect_all(sets)


def result_rows(cat: Catalog, within: frozenset[int] | None, criteria: dict[str, Any]) -> set[int]:
    """Result rows matching ``criteria`` among ``within`` (``None``: all live rows), falling back
    to the source recordings' parameters for parameters a result does not have.

    Returns a new set (the index's own sets are never handed out or changed).
    """
    if not criteria:
        return set(cat.live_result_rows()) if within is None else set(within)
    sets: list[Any] = [] if within is None else [within]
    for path, cond in criteria.items():
        if path in RESULT_FIELDS:
            sets.append(condition_rows(cat.result_field_index, path, cond))
            continue
        own = condition_rows(cat.result_index, path, cond)
        extra: set[int] = set()
        recs = condition_rows(cat.recording_index, path, cond)
        if recs:
            ids = [e.id for r in recs if (e := cat.recordings[r]) is not None]
            extra = cat.results_without_own(path, ids)
        sets.append(own | extra if extra else own)
    return intersect_all(sets)


def check_known(cat: Catalog, criteria: Mapping[str, Any], recordings: bool = True, results: bool = True) -> None:
    """Raise :class:`~cldata.errors.UnknownParameterError` for a parameter no entry of the store has.

    A misspelt key would otherwise match nothing, silently. Each key costs one lookup in the
    catalog's parameter index; the known parameters are gathered only to write the message.
    An empty store accepts anything.
    """
    if not (cat.n_recordings or cat.n_results):
        return
    for path in criteria:
        if path in RESULT_FIELDS:
            continue
        if recordings and cat.recording_index.has(path):
            continue
        if results and (cat.result_index.has(path) or cat.recording_index.has(path)):
            continue
        known = sorted(set(cat.recording_index.paths()) | (set(cat.result_index.paths()) if results else set()))
        if results and cat.n_results:
            known = [*known, *RESULT_FIELDS]
        what = ("recording or analysis result" if recordings and results
                else "recording" if recordings else "analysis result (or recording it comes from)")
        raise_unknown(UnknownParameterError, f"no {what} in the store has a parameter", path, known,
                      "known parameters")


def _check_unique(catalog: Catalog, selection: Selection, ads_unique: bool, rec_unique: bool) -> None:
    if ads_unique:
        n = len(selection.live_result_rows(catalog))
        if n != 1:
            raise UniquenessError(f"ads_unique: the query matched {n} analysis results, not exactly one")
    if rec_unique:
        n = len(selection.recording_ids(catalog))
        if n != 1:
            raise UniquenessError(f"rec_unique: the query matched {n} recordings, not exactly one")


def select_by_parameters(catalog: Catalog, selection: Selection, criteria: Mapping[str, Any], *,
                         recordings: bool = True, results: bool = True, ads_unique: bool = False,
                         rec_unique: bool = False) -> Selection:
    """The entries of ``selection`` matching every condition of ``criteria`` (see module doc).

    ``recordings`` / ``results``: whether recordings / results are filtered (those not
    filtered stay as they are).

    Examples
    --------
    >>> from cldata.model.catalog import Catalog
    >>> select_by_parameters(Catalog(), Selection.everything(), {"culture": "C7"}).recordings
    ()
    """
    criteria = stimulus_paths(catalog, normalize_keys(criteria))
    check_known(catalog, criteria, recordings=recordings, results=results)
    out = selection.derive(
        catalog,
        recordings=recording_rows(catalog, selection.within_recordings, criteria) if recordings else KEEP,
        results=result_rows(catalog, selection.within_results, criteria) if results else KEEP,
    )
    _check_unique(catalog, out, ads_unique, rec_unique)
    return out


V = TypeVar("V", bound=Selectable)


def _filtered(dsv: V, kw: Mapping[str, Any], **how: Any) -> V:
    return dsv.with_selection(select_by_parameters(dsv.catalog, dsv.selection, kw, **how))


def param_filter_query(dsv: V, ads_unique: bool = False, rec_unique: bool = False, **kw: Any) -> V:
    """Recordings and results of ``dsv`` matching every condition in ``kw`` (see module doc).

    Parameters
    ----------
    ads_unique, rec_unique
        Raise :class:`~cldata.errors.UniquenessError` unless exactly one analysis result /
        recording matches.

    Raises
    ------
    cldata.errors.UnknownParameterError
        For a parameter no entry of the store has (a :class:`~cldata.errors.ParameterError`).
    cldata.errors.ParameterError
        For malformed keys.
    cldata.errors.UniquenessError
        See ``ads_unique`` and ``rec_unique``.
    """
    return _filtered(dsv, kw, recordings=True, results=True, ads_unique=ads_unique, rec_unique=rec_unique)


def filter_recordings(dsv: V, rec_unique: bool = False, **kw: Any) -> V:
    """Only the recordings are filtered (by their parameters); results stay as they are.

    Raises :class:`~cldata.errors.UnknownParameterError` for a parameter no recording of
    the store has.

    Examples
    --------
    >>> filter_recordings(store, culture="C7").recording_ids   # doctest: +SKIP
    """
    return _filtered(dsv, kw, recordings=True, results=False, rec_unique=rec_unique)


def filter_results(dsv: V, ads_unique: bool = False, **kw: Any) -> V:
    """Only the analysis results are filtered; recordings stay as they are.

    Raises :class:`~cldata.errors.UnknownParameterError` for a parameter that no result
    of the store has, nor any recording (results fall back to their source's parameters).

    Examples
    --------
    >>> filter_results(store, identifier="mean_rate", window_s=1.0)   # doctest: +SKIP
    """
    return _filtered(dsv, kw, recordings=False, results=True, ads_unique=ads_unique)


def brute_force_filter(dsv: V, **kw: Any) -> tuple[list[str], list[str]]:
    """The ids :func:`param_filter_query` must return, found by testing every entry (a reference
    for tests and benchmarks; mozaik works this way)."""
    criteria = normalize_keys(kw)
    cat, selection = dsv.catalog, dsv.selection
    recs = []
    for _, entry in selection.recording_entries(cat):
        if all(condition_test(c, lookup(entry.parameters, p)) for p, c in criteria.items() if p not in RESULT_FIELDS):
            recs.append(entry.id)
    results = []
    for r in selection.result_rows(cat):
        entry = cat.results[r]
        if entry is None:
            continue
        ok = True
        for p, c in criteria.items():
            if p == "identifier":
                ok = condition_test(c, entry.identifier)
            elif p == "kind":
                ok = condition_test(c, entry.kind)
            else:
                own = lookup(entry.parameters, p)
                if own is not MISSING:
                    ok = condition_test(c, own)
                else:
                    sources = [cat.recordings[cat.recording_rows[s]] for s in entry.sources if s in cat.recording_rows]
                    ok = any(condition_test(c, lookup(s.parameters, p)) for s in sources if s is not None)
            if not ok:
                break
        if ok:
            results.append(entry.id)
    return recs, results
