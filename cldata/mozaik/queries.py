"""mozaik's queries (``mozaik.storage.queries``) with their names, signatures and meaning, on cldata stores.

Each function takes a cldata store or view and returns :class:`~cldata.mozaik.store.MozaikView` s
(or a bool, for the ``equal_*`` checks); the misspelt names are kept (``partition_by_stimulus_paramter_query``,
``excpt=``), with correctly spelt aliases. mozaik's keyword names are translated to cldata's:

======================  ===========================================================
mozaik                  cldata
======================  ===========================================================
``identifier``          the result's kind (class): ``"SingleValue"``, ``"PerNeuronValue"``
                        (= ``PerChannelValue``); a value that is no kind is taken as a
                        cldata identifier
``value_name``          the result's identifier (``"mean_rate"``)
``analysis_algorithm``  the result's ``analysis`` parameter
``sheet_name``          an entry's ``sheet_name`` parameter; without one, ``"MEA"``
``st_<name>``           the stimulus parameter ``<name>``: ``stimulation.<name>`` or ``st_<name>``
======================  ===========================================================

As in mozaik, a query naming ``identifier`` or ``value_name`` keeps no recording. An
analysis result's parameters, for the partition queries and ``equal_ads``, are mozaik's:
``identifier`` (its kind), ``value_name`` (its identifier), ``sheet_name``, ``stimulus_id``
(its stimulus, :mod:`cldata.mozaik.stimuli`) and its own parameters (dotted paths).
Everything that differs from mozaik is listed in ``docs/mozaik.md``.

Examples
--------
>>> from cldata.mozaik import param_filter_query, partition_by_stimulus_paramter_query  # doctest: +SKIP
>>> dsv = param_filter_query(data_store, st_name="PulseTrain", sheet_name="MEA")          # doctest: +SKIP
>>> for part in partition_by_stimulus_paramter_query(dsv, ["amplitude"]):                  # doctest: +SKIP
...     assert equal_stimulus(part, ["amplitude"])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cldata.core.canonical import canonical, flatten
from cldata.errors import ParameterError, UniquenessError, UnknownParameterError
from cldata.model.entries import MISSING
from cldata.model.results.registry import get_result_kind
from cldata.mozaik import stimuli as stimulus_model
from cldata.mozaik.store import SHEET, MozaikView, as_view, result_sheet
from cldata.query import stimuli as cldata_stimuli
from cldata.query.base import Query as CldataQuery
from cldata.query.base import register_query
from cldata.query.names import raise_unknown
from cldata.query.params import param_filter_query as cldata_param_filter_query
from cldata.query.predicates import Exists, condition_test
from cldata.query.stimuli import TYPE_KEYS, stimulus_key
from cldata.query.tags import tag_based_query as cldata_tag_based_query

__all__ = [
    "param_filter_query", "tag_based_query", "partition_by_stimulus_paramter_query",
    "partition_by_stimulus_parameter_query", "partition_analysis_results_by_parameters_query",
    "partition_analysis_results_by_stimulus_parameters_query", "equal_stimulus_type", "equal_stimulus",
    "equal_ads", "equal_ads_except", "equal_ads_type", "ads_with_equal_stimuli", "ads_with_equal_stimulus_type",
    "select_stimuli_type_query", "select_result_sheet_query", "partition_recordings_by_sheet_query",
    "ads_parameters", "Query", "QueryParameters", "ParamFilterQuery", "TagBasedQuery", "PartitionByStimulusParamterQuery",
    "PartitionByStimulusParameterQuery", "PartitionAnalysisResultsByParameterNameQuery",
    "PartitionAnalysisResultsByStimulusParameterQuery", "PartitionRecordingsBySheetQuery", "KIND_NAMES",
]

#: mozaik's analysis data structures under their cldata kind names
KIND_NAMES = {"PerNeuronValue": "PerChannelValue", "AnalogSignalList": "SignalList", "AnalogSignal": "SignalList"}
#: keywords that concern analysis results only: naming one keeps no recording (mozaik's rule)
_RESULT_ONLY = ("identifier", "value_name", "kind")


def _values(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple, set)) else [value]


def _kind(name: Any) -> str | None:
    name = KIND_NAMES.get(name, name) if isinstance(name, str) else None
    return name if name is not None and get_result_kind(name) is not None else None


def _translate(kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]], Any]:
    """mozaik's keywords as cldata criteria, alternatives to OR (``identifier`` may name kinds
    and identifiers at once), and the ``sheet_name`` condition (``None``: none)."""
    crit: dict[str, Any] = {}
    sheet = kwargs.get("sheet_name")
    for key, value in kwargs.items():
        if key == "value_name":
            crit["identifier"] = value
        elif key == "analysis_algorithm":
            crit["analysis"] = value
        elif key == "kind":
            crit["kind"] = [_kind(v) or v for v in _values(value)]
        elif key not in ("identifier", "sheet_name") and not key.startswith("st_"):
            crit[key] = value
    alternatives: list[dict[str, Any]] = []
    if "identifier" in kwargs:
        given = _values(kwargs["identifier"])
        kinds = [k for k in (_kind(v) for v in given) if k is not None]
        names = [v for v in given if _kind(v) is None]
        if kinds:
            alternatives.append({"kind": kinds})
        if names:
            if "identifier" in crit:  # value_name and identifier both name identifiers: both must hold
                names = [n for n in names if n in _values(crit["identifier"])]
            alternatives.append({"identifier": names})
    return crit, alternatives, sheet


def _stimulus_paths(cat: Any, name: str) -> bool:
    """Whether an entry of the store has stimulus parameter ``name`` (under either spelling)."""
    return any(index.has(path) for path in (f"stimulation.{name}", f"st_{name}")
               for index in (cat.recording_index, cat.result_index))


def _by_stimulus(view: MozaikView, criteria: Mapping[str, Any]) -> MozaikView:
    """The recordings and results whose stimulus (:mod:`cldata.mozaik.stimuli`: ``stimulation``
    parameters and ``st_<name>`` ones) meets every ``st_<name>`` condition, as mozaik's ``st_``."""
    cat = view.catalog
    conditions = {key[3:].replace("__", "."): value for key, value in criteria.items()}
    _check_stimulus_names(view, conditions, "param_filter_query")

    def meets(stim: Mapping[str, Any] | None) -> bool:
        return stim is not None and all(condition_test(c, stim.get(n, MISSING)) for n, c in conditions.items())

    sel = view.selection
    recs = [r for (r, entry) in sel.recording_entries(cat) if meets(stimulus_model.flat_stimulus(entry))]
    results = [r for r, stim in zip(sel.result_entries(cat), stimulus_model.result_stimuli(view)) if meets(stim)]
    return view.with_selection(sel.derive(cat, recordings=recs, results=results))


def _nothing(view: MozaikView, recordings: bool = True, results: bool = True) -> MozaikView:
    sel = view.selection
    return view.with_selection(sel.derive(view.catalog, **({"recordings": ()} if recordings else {}),
                                          **({"results": ()} if results else {})))


def _by_sheet(view: MozaikView, sheet: Any) -> MozaikView:
    names = _values(sheet)
    cat = view.catalog
    if not (cat.recording_index.has("sheet_name") or cat.result_index.has("sheet_name")):
        return view if SHEET in names else _nothing(view)
    out = cldata_param_filter_query(view, sheet_name=names)
    if SHEET in names:  # entries without a sheet_name are the MEA's
        out = out | (view - cldata_param_filter_query(view, sheet_name=Exists()))
    return out


def param_filter_query(dsv: Any, ads_unique: bool = False, rec_unique: bool = False, **kwargs: Any) -> MozaikView:
    """Recordings and results whose parameters match every keyword (mozaik's names, see module doc).

    A list is "any of" its values; ``st_<name>`` matches the stimulus (its ``stimulation``
    parameters and ``st_`` ones, :mod:`cldata.mozaik.stimuli`; a result's: its own or its
    sources'; a result without one never matches). Naming
    ``identifier`` or ``value_name`` keeps no recording (recordings have neither).

    Raises
    ------
    cldata.errors.UniquenessError
        With ``ads_unique`` / ``rec_unique``, unless exactly one result / recording matches
        (mozaik raises ``ValueError``).
    cldata.errors.UnknownParameterError
        For a parameter no entry of the store has (mozaik matches nothing, silently).

    Examples
    --------
    >>> param_filter_query(data_store, identifier="SingleValue", value_name="mean_rate",
    ...                    ads_unique=True).get_analysis_result()[0]                  # doctest: +SKIP
    """
    view = as_view(dsv)
    crit, alternatives, sheet = _translate(kwargs)
    out: MozaikView | None = None
    for alt in alternatives or [{}]:
        part = cldata_param_filter_query(view, **{**crit, **alt})
        out = part if out is None else out | part
    assert out is not None
    stimulus_criteria = {k: v for k, v in kwargs.items() if k.startswith("st_")}
    if stimulus_criteria:
        out = _by_stimulus(out, stimulus_criteria)
    if sheet is not None:
        out = _by_sheet(out, sheet)
    if any(k in kwargs for k in _RESULT_ONLY):
        out = _nothing(out, results=False)
    n_ads, n_rec = len(out.selection.live_result_rows(out.catalog)), len(out.recording_ids)
    if ads_unique and n_ads != 1:
        raise UniquenessError(f"Result was expected to have only single ADS, it contains {n_ads} "
                              f"(ads_unique=True; the query was {kwargs!r})")
    if rec_unique and n_rec != 1:
        raise UniquenessError(f"Result was expected to have only single Segment, it contains {n_rec} "
                              f"(rec_unique=True; the query was {kwargs!r})")
    return out


def tag_based_query(dsv: Any, tags: Iterable[str]) -> MozaikView:
    """The results carrying every tag in ``tags`` (recordings unchanged); no tag: every result.

    A tag no result of the store carries raises :class:`~cldata.errors.UnknownTagError`
    (mozaik gives an empty view).
    """
    view = as_view(dsv)
    tag_list = [tags] if isinstance(tags, str) else list(tags)
    return cldata_tag_based_query(view, tag_list) if tag_list else view


# -- parameters of results, the mozaik way -------------------------------------------------------


def ads_parameters(dsv: Any) -> list[tuple[int, dict[str, Any]]]:
    """``(row, parameters)`` of each result of the view, with mozaik's parameter names:
    ``identifier`` (kind), ``value_name`` (identifier), ``sheet_name``, ``stimulus_id`` and its own."""
    view = as_view(dsv)
    entries = view.selection.result_entries(view.catalog)
    stims = stimulus_model.result_stimuli(view)
    out = []
    for (row, entry), stim in zip(entries.items(), stims):
        params = {**flatten(entry.parameters), "sheet_name": result_sheet(view.catalog, entry), "identifier": entry.kind,
                  "value_name": entry.identifier,
                  "stimulus_id": None if stim is None else stimulus_key(stim)}
        out.append((row, params))
    return out


def _ordered_groups(items: Iterable[tuple[int, Any]]) -> list[list[int]]:
    """Rows grouped by key, groups in the order their first row comes (mozaik's ``colapse``)."""
    groups: dict[Any, list[int]] = {}
    for row, key in items:
        groups.setdefault(key, []).append(row)
    return list(groups.values())


def _key(params: Mapping[str, Any], names: Iterable[str]) -> tuple:
    return tuple((n, canonical(params.get(n))) for n in sorted(names))


def _names(parameter_list: Any, what: str) -> list[str]:
    if parameter_list is None:
        raise ParameterError(f"{what}: parameter_list has to be given (a list of parameter names)")
    names = [parameter_list] if isinstance(parameter_list, str) else list(parameter_list)
    if not all(isinstance(n, str) and n for n in names):
        raise ParameterError(f"{what}: parameter_list holds parameter names, not {parameter_list!r}")
    return names


def _known_stimulus_names(cat: Any) -> list[str]:
    return sorted({p.split(".", 1)[1] if p.startswith("stimulation.") else p[3:]
                   for index in (cat.recording_index, cat.result_index) for p in index.paths()
                   if p.startswith(("stimulation.", "st_"))})


def _check_stimulus_names(view: MozaikView, names: Iterable[str], where: str) -> None:
    """Raise :class:`~cldata.errors.UnknownParameterError` for a stimulus parameter no entry of the store has."""
    cat = view.catalog
    if not (cat.n_recordings or cat.n_results):
        return
    for name in names:
        if not _stimulus_paths(cat, name):
            raise_unknown(UnknownParameterError, f"{where}: no recording or analysis result in the store has a "
                          "stimulus parameter", name, _known_stimulus_names(cat), "the stimulus parameters of the store")


def partition_by_stimulus_paramter_query(dsv: Any, parameter_list: list[str]) -> list[MozaikView]:
    """One view per stimulus, the parameters in ``parameter_list`` set aside: inside a view the
    listed stimulus parameters vary and all others (``name`` too) are the same.

    Every view keeps all the results of ``dsv`` (as mozaik's). Views come in the order of
    their first recording.

    Raises
    ------
    cldata.errors.ParameterError
        If ``name`` is listed (mozaik: "One cannot partition against <name> parameter").
    cldata.errors.UnknownParameterError
        For a listed parameter no recording's stimulus has.
    """
    view = as_view(dsv)
    names = _names(parameter_list, "partition_by_stimulus_paramter_query")
    if set(names) & set(TYPE_KEYS):
        raise ParameterError("One cannot partition against <name> parameter (the stimulus type: 'name' or 'type')")
    _check_stimulus_names(view, names, "partition_by_stimulus_paramter_query")
    cat, sel = view.catalog, view.selection
    keyed = [(row, _key(stim, set(stim) - set(names)))
             for (row, _), stim in zip(sel.recording_entries(cat), stimulus_model.recording_stimuli(view))]
    return [view.with_selection(sel.derive(cat, recordings=rows)) for rows in _ordered_groups(keyed)]


#: the name spelt right
partition_by_stimulus_parameter_query = partition_by_stimulus_paramter_query


def _result_partitions(view: MozaikView, keyed: list[tuple[int, Any]]) -> list[MozaikView]:
    cat, sel = view.catalog, view.selection
    return [view.with_selection(sel.derive(cat, results=rows)) for rows in _ordered_groups(keyed)]


def partition_analysis_results_by_parameters_query(dsv: Any, parameter_list: list[str] | None = None,
                                                   excpt: bool = False) -> list[MozaikView]:
    """Results partitioned by their parameters (mozaik's names, see module doc): inside a view
    the parameters in ``parameter_list`` vary and all others are the same.

    With ``excpt=True`` the other way round: the listed ones (and the kind) are the same
    inside a view, all others vary; every result must then be of one kind. Every view keeps
    all the recordings of ``dsv``; a view without results gives ``[]``.

    Raises
    ------
    cldata.errors.ParameterError
        Without ``parameter_list``; with ``excpt=True`` on results of several kinds.
    """
    view = as_view(dsv)
    params = ads_parameters(view)
    if not params:
        return []
    names = _names(parameter_list, "partition_analysis_results_by_parameters_query")
    if excpt:
        if not equal_ads_type(view):
            raise ParameterError("If excpt==True you have to provide a dsv containing the same ADS type "
                                 "(filter by identifier= first)")
        return _result_partitions(view, [(row, _key(p, {"identifier", *names})) for row, p in params])
    return _result_partitions(view, [(row, _key(p, set(p) - set(names))) for row, p in params])


def partition_analysis_results_by_stimulus_parameters_query(dsv: Any, parameter_list: list[str] | None = None,
                                                            excpt: bool = False) -> list[MozaikView]:
    """Results partitioned by the parameters of their stimuli: inside a view the listed stimulus
    parameters vary and all others are the same (``excpt=True``: the listed ones and the
    stimulus type are the same, all others vary; every stimulus must be of one type).

    Every view keeps all the recordings of ``dsv``; a view without results gives ``[]``.

    Raises
    ------
    cldata.errors.ParameterError
        If a result has no stimulus (mozaik: no ``stimulus_id``), without ``parameter_list``,
        or with ``excpt=True`` on stimuli of several types.
    """
    view = as_view(dsv)
    stims = stimulus_model.result_stimuli(view)
    if not stims:
        return []
    if any(s is None for s in stims):
        raise ParameterError("partition_analysis_results_by_stimulus_parameters_query accepts only results that "
                             "all have a stimulus (their own 'stimulation' parameters, or one recording's)")
    names = _names(parameter_list, "partition_analysis_results_by_stimulus_parameters_query")
    rows = list(view.selection.result_entries(view.catalog))
    if excpt:
        if len({stimulus_model.stimulus_type(st) for st in stims}) > 1:  # type: ignore[arg-type]
            raise ParameterError("If excpt==True you have to provide a dsv whose results all come from stimuli "
                                 "of one type (one st_name)")
        keyed = [(row, _key(s, {*TYPE_KEYS, *names})) for row, s in zip(rows, stims)]  # type: ignore[arg-type]
    else:
        keyed = [(row, _key(s, set(s) - set(names))) for row, s in zip(rows, stims)]  # type: ignore[arg-type]
    return _result_partitions(view, keyed)


# -- the equal_* checks ------------------------------------------------------------------------


def _both(params: Any, except_params: Any) -> None:
    if params is not None and except_params is not None:
        raise ParameterError("give params or except_params, not both")


def equal_stimulus_type(dsv: Any) -> bool:
    """Whether every recording of the view was a response to one type of stimulus (``st_name``)."""
    return cldata_stimuli.equal_stimulus_type(as_view(dsv))


def equal_stimulus(dsv: Any, except_params: list[str]) -> bool:
    """Whether every recording's stimulus has the same parameters, except ``except_params``
    and, as in mozaik, except its type (``name``, and ``type``: check it with :func:`equal_stimulus_type`)."""
    names = [except_params] if isinstance(except_params, str) else list(except_params or ())
    return cldata_stimuli.equal_stimulus(as_view(dsv), [*TYPE_KEYS, *names])


def equal_ads(dsv: Any, params: list[str] | None = None, except_params: list[str] | None = None) -> bool:
    """Whether the results have the same values of ``params`` (or of all parameters but
    ``except_params``; or of all), in mozaik's names (``identifier`` is the kind)."""
    _both(params, except_params)
    return stimulus_model.same_values([p for _, p in ads_parameters(dsv)], params=params, except_params=except_params)


def equal_ads_except(dsv: Any, except_params: list[str]) -> bool:
    """mozaik's older name of ``equal_ads(dsv, except_params=...)``."""
    return equal_ads(dsv, except_params=except_params)


def equal_ads_type(dsv: Any) -> bool:
    """Whether every result of the view is of one kind (mozaik: one ADS type)."""
    return equal_ads(dsv, params=["identifier"])


def ads_with_equal_stimuli(dsv: Any, params: list[str] | None = None, except_params: list[str] | None = None) -> bool:
    """Whether the results' stimuli have the same values of ``params`` (or all but
    ``except_params``; or all). A result without a stimulus counts as an empty one."""
    _both(params, except_params)
    stims = [s or {} for s in stimulus_model.result_stimuli(as_view(dsv))]
    return stimulus_model.same_values(stims, params=params, except_params=except_params)


def ads_with_equal_stimulus_type(dsv: Any, allow_None: bool = False) -> bool:  # noqa: N803 - mozaik's name
    """Whether every result's stimulus is of one type; a result without a stimulus makes it
    false unless ``allow_None`` (then such results are left out)."""
    stims = stimulus_model.result_stimuli(as_view(dsv))
    if not allow_None and any(s is None for s in stims):
        return False
    return len({stimulus_model.stimulus_type(s) for s in stims if s is not None}) <= 1


# -- queries mozaik had before (still found in old scripts) ------------------------------------------


def select_stimuli_type_query(dsv: Any, stimulus_name: str, params: Mapping[str, Any] | None = None) -> MozaikView:
    """Recordings whose stimulus is of type ``stimulus_name`` (and has the values in ``params``);
    results unchanged (an early mozaik query)."""
    view = as_view(dsv)
    crit = {"stimulation.name": stimulus_name, **{f"stimulation.{k}": v for k, v in (params or {}).items()}}
    return view.filter_recordings(**crit)


def select_result_sheet_query(dsv: Any, sheet_name: str) -> MozaikView:
    """Recordings of sheet ``sheet_name`` (``"MEA"`` for CL recordings); results unchanged."""
    view = as_view(dsv)
    sheet = _by_sheet(view, sheet_name)
    return view.with_selection(view.selection.derive(view.catalog, recordings=sheet.selection.recording_rows(
        view.catalog)))


def partition_recordings_by_sheet_query(dsv: Any) -> list[MozaikView]:
    """One view per sheet (:meth:`~cldata.mozaik.store.MozaikView.sheets`), holding its recordings and all results."""
    view = as_view(dsv)
    return [select_result_sheet_query(view, sheet) for sheet in view.sheets()]


# -- the query classes of mozaik's parameter files -----------------------------------------------------


class QueryParameters(dict):
    """A query's parameters: a dict whose keys also read as attributes, as a ParameterSet's
    (``self.parameters.parameter_list`` in a mozaik query's ``query``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            value = self[name]
        except KeyError:
            raise AttributeError(f"the query has no parameter {name!r}; its parameters: {sorted(self)}") from None
        return QueryParameters(value) if isinstance(value, Mapping) and not isinstance(value, QueryParameters) else value


class Query(CldataQuery):
    """mozaik's ``Query``: declare ``required_parameters`` (a ParameterSet or dict of types) and write
    ``query(self, dsv)``; ``self.parameters`` reads by key and by attribute, as in mozaik.

    Examples
    --------
    >>> class ContrastQuery(Query):
    ...     required_parameters = {"contrast": int}
    ...     def query(self, dsv):
    ...         return param_filter_query(dsv, st_contrast=self.parameters.contrast)
    >>> ContrastQuery({"contrast": 10}).parameters.contrast
    10
    """

    def __init__(self, parameters: Any = None, **kw: Any):
        super().__init__(parameters, **kw)
        self.parameters = QueryParameters(self.parameters)



def _class(name: str, function: Callable[..., Any], required: dict[str, Any], optional: dict[str, Any],
           register: bool) -> type[Query]:
    doc = f"mozaik's ``{name}``: :func:`{function.__name__}` as a query class."
    cls = type(name, (Query,), {"__doc__": doc, "required_parameters": required, "optional_parameters": optional,
                                "function": staticmethod(function), "__module__": __name__})
    return register_query(cls) if register else cls


def _param_filter(dsv: Any, params: Mapping[str, Any], ads_unique: bool, rec_unique: bool) -> MozaikView:
    return param_filter_query(dsv, ads_unique=ads_unique, rec_unique=rec_unique, **params)


_LIST = (list, tuple, str)
# ParamFilterQuery and TagBasedQuery are cldata's built-in names too: these classes are for Python
# code; a parameter file naming them gets cldata's (whose ``identifier`` is cldata's identifier)
ParamFilterQuery = _class("ParamFilterQuery", _param_filter, {"params": Mapping},
                          {"ads_unique": (bool, False), "rec_unique": (bool, False)}, register=False)
TagBasedQuery = _class("TagBasedQuery", tag_based_query, {"tags": _LIST}, {}, register=False)
PartitionByStimulusParamterQuery = _class("PartitionByStimulusParamterQuery", partition_by_stimulus_paramter_query,
                                          {"parameter_list": _LIST}, {}, register=True)
PartitionByStimulusParameterQuery = PartitionByStimulusParamterQuery
PartitionAnalysisResultsByParameterNameQuery = _class(
    "PartitionAnalysisResultsByParameterNameQuery", partition_analysis_results_by_parameters_query,
    {"parameter_list": _LIST}, {"excpt": (bool, False)}, register=True)
PartitionAnalysisResultsByStimulusParameterQuery = _class(
    "PartitionAnalysisResultsByStimulusParameterQuery", partition_analysis_results_by_stimulus_parameters_query,
    {"parameter_list": _LIST}, {"excpt": (bool, False)}, register=True)
PartitionRecordingsBySheetQuery = _class("PartitionRecordingsBySheetQuery", partition_recordings_by_sheet_query,
                                         {}, {}, register=True)
