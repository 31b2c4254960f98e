"""Query classes: every query as a ``Query`` built from a ParameterSet, and chains of them.

A parameter file names queries by class and gives their parameters as data::

    "query": [
        {"class": "ParamFilterQuery", "params": {"params": {"culture": "C7"}}},
        {"class": "StreamQuery", "params": {"stream_names": ["score"]}},
        {"class": "TimeWindowQuery", "params": {"start": 0, "stop": {"$quantity": [2, "s"]}}},
    ]

:func:`run_query_chain` applies such a list; a partition query in the chain turns the
result into a list of views, and the queries after it apply to each. Classes are looked
up by name in :data:`QUERIES` (nothing is imported or evaluated from a file).

Parameter values may spell predicates and quantities as one-key dicts:
``{"$range": [lo, hi]}``, ``{"$not": v}``, ``{"$any_of": [...]}``,
``{"$approx": v, "rel": 1e-3}``, ``{"$exists": true}``, ``{"$quantity": [1.5, "s"]}``.

Examples
--------
>>> q = ParamFilterQuery({"params": {"culture": "C7"}, "rec_unique": True})   # doctest: +SKIP
>>> view = q.query(store)                                                     # doctest: +SKIP
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import quantities as pq

from cldata.core.param_check import check_parameters
from cldata.errors import ParameterError
from cldata.query import equal as _equal  # noqa: F401 - re-exported helpers live there

if TYPE_CHECKING:
    from parameters import ParameterSet
from cldata.query.params import filter_recordings, filter_results, param_filter_query
from cldata.query.partitions import (
    partition_by_parameters,
    partition_by_stimulation_parameters,
    partition_results_by_parameters,
    partition_results_by_stimulation_parameters,
)
from cldata.query.predicates import AnyOf, Approx, Exists, Not, Range
from cldata.query.streams import stream_query
from cldata.query.tags import tag_based_query
from cldata.query.time import time_window_query

__all__ = ["Query", "QUERIES", "register_query", "query_from_spec", "run_query_chain", "decode_value"]


def _is_parameter_set(value: Any) -> bool:
    # ``parameters`` imports scipy (half a second, and scipy registers pickle reducers): a
    # ParameterSet can only exist once its caller imported the module, so cldata never imports
    # it just to ask
    module = sys.modules.get("parameters")
    return module is not None and isinstance(value, module.ParameterSet)

_UNIT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _quantity(spec: Any) -> pq.Quantity:
    if (not isinstance(spec, (list, tuple)) or len(spec) != 2 or isinstance(spec[0], bool)
            or not isinstance(spec[0], (int, float)) or not isinstance(spec[1], str) or not _UNIT.match(spec[1])):
        raise ParameterError(f'a quantity is written {{"$quantity": [number, "unit"]}}, not {spec!r}')
    try:
        return pq.Quantity(spec[0], pq.unit_registry[spec[1]])
    except LookupError:
        raise ParameterError(f"unknown unit {spec[1]!r}") from None


def decode_value(value: Any) -> Any:
    """Turn the ``{"$...": ...}`` spellings of predicates and quantities into objects (recursively)."""
    if isinstance(value, Mapping):
        keys = [k for k in value if isinstance(k, str) and k.startswith("$")]
        if len(keys) == 1:
            op = keys[0]
            arg = value[op]
            rest = {k: v for k, v in value.items() if k != op}
            if op == "$quantity" and not rest:
                return _quantity(arg)
            if op == "$range" and set(rest) <= {"inclusive"}:
                lo, hi = (decode_value(a) for a in (arg if isinstance(arg, (list, tuple)) else [arg, None]))
                return Range(lo, hi, **({"inclusive": tuple(rest["inclusive"])} if rest else {}))
            if op == "$not" and not rest:
                return Not(decode_value(arg))
            if op == "$any_of" and not rest:
                return AnyOf(*[decode_value(a) for a in (arg if isinstance(arg, (list, tuple)) else [arg])])
            if op == "$approx" and set(rest) <= {"rel", "abs"}:
                return Approx(decode_value(arg), **rest)
            if op == "$exists" and not rest and arg is True:
                return Exists()
            raise ParameterError(f"unknown or malformed query value {dict(value)!r}")
        if keys:
            raise ParameterError(f"a query value has several $-operators: {dict(value)!r}")
        return {k: decode_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    return value


class Query:
    """Base of the query classes: parameters checked against ``required_parameters``.

    Subclasses set ``function`` (the query function), ``required_parameters`` and
    ``optional_parameters`` (name -> type, or tuple of types; optional ones map to
    ``(type, default)``).

    Raises
    ------
    cldata.errors.ParameterError
        Naming every missing, unexpected and mistyped parameter.
    """

    required_parameters: ClassVar[dict[str, Any]] = {}
    optional_parameters: ClassVar[dict[str, tuple[Any, Any]]] = {}
    function: ClassVar[Callable[..., Any]]

    def __init__(self, parameters: Mapping[str, Any] | ParameterSet | None = None, **kw: Any):
        if _is_parameter_set(parameters):
            given = parameters.as_dict()
        else:
            given = dict(parameters or {})
        given.update(kw)
        given = check_parameters(type(self).__name__, self.required_parameters, self.optional_parameters, given)
        self.parameters: dict[str, Any] = given

    def arguments(self) -> dict[str, Any]:
        """The keyword arguments the query function gets (predicates and quantities decoded)."""
        return {k: decode_value(v) for k, v in self.parameters.items()}

    def query(self, dsv: Any) -> Any:
        """Apply the query to a view."""
        return type(self).function(dsv, **self.arguments())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.parameters!r})"


QUERIES: dict[str, type[Query]] = {}


def register_query(cls: type[Query]) -> type[Query]:
    """Class decorator: make a query class nameable in parameter files."""
    QUERIES[cls.__name__] = cls
    return cls


_NAMES = (str, list, tuple)


@register_query
class ParamFilterQuery(Query):
    """:func:`~cldata.query.param_filter_query`: ``params`` (dict of conditions), ``ads_unique``, ``rec_unique``."""

    required_parameters = {"params": Mapping}
    optional_parameters = {"ads_unique": (bool, False), "rec_unique": (bool, False)}

    @staticmethod
    def function(dsv: Any, params: Mapping[str, Any], ads_unique: bool, rec_unique: bool) -> Any:
        return param_filter_query(dsv, ads_unique=ads_unique, rec_unique=rec_unique, **params)


@register_query
class FilterRecordingsQuery(Query):
    """:func:`~cldata.query.filter_recordings`: ``params``, ``rec_unique``."""

    required_parameters = {"params": Mapping}
    optional_parameters = {"rec_unique": (bool, False)}

    @staticmethod
    def function(dsv: Any, params: Mapping[str, Any], rec_unique: bool) -> Any:
        return filter_recordings(dsv, rec_unique=rec_unique, **params)


@register_query
class FilterResultsQuery(Query):
    """:func:`~cldata.query.filter_results`: ``params``, ``ads_unique``."""

    required_parameters = {"params": Mapping}
    optional_parameters = {"ads_unique": (bool, False)}

    @staticmethod
    def function(dsv: Any, params: Mapping[str, Any], ads_unique: bool) -> Any:
        return filter_results(dsv, ads_unique=ads_unique, **params)


@register_query
class StreamQuery(Query):
    """:func:`~cldata.query.streams.stream_query`: ``stream_names`` (name, glob or list), ``attributes``."""

    optional_parameters = {"stream_names": ((str, list, tuple, type(None)), None), "attributes": (Mapping, {})}

    @staticmethod
    def function(dsv: Any, stream_names: Any, attributes: Mapping[str, Any]) -> Any:
        return stream_query(dsv, stream_names, **attributes)


@register_query
class TimeWindowQuery(Query):
    """:func:`~cldata.query.time.time_window_query`: ``start``, ``stop`` (frames or quantities)."""

    optional_parameters = {"start": ((int, Mapping, pq.Quantity, type(None)), None),
                           "stop": ((int, Mapping, pq.Quantity, type(None)), None)}
    function = staticmethod(time_window_query)


@register_query
class TagBasedQuery(Query):
    """:func:`~cldata.query.tags.tag_based_query`: ``tags``, ``any``."""

    required_parameters = {"tags": _NAMES}
    optional_parameters = {"any": (bool, False)}
    function = staticmethod(tag_based_query)


@register_query
class PartitionByParametersQuery(Query):
    """:func:`~cldata.query.partitions.partition_by_parameters`: ``parameter_names``."""

    required_parameters = {"parameter_names": _NAMES}

    @staticmethod
    def function(dsv: Any, parameter_names: Any) -> Any:
        return partition_by_parameters(dsv, parameter_names)


@register_query
class PartitionByStimulationParametersQuery(Query):
    """:func:`~cldata.query.partitions.partition_by_stimulation_parameters`: ``except_names``."""

    optional_parameters = {"except_names": (_NAMES, ())}
    function = staticmethod(partition_by_stimulation_parameters)


@register_query
class PartitionResultsByParametersQuery(Query):
    """:func:`~cldata.query.partitions.partition_results_by_parameters`: ``parameter_names``, ``except_``."""

    required_parameters = {"parameter_names": _NAMES}
    optional_parameters = {"except_": (bool, False)}

    @staticmethod
    def function(dsv: Any, parameter_names: Any, except_: bool) -> Any:
        return partition_results_by_parameters(dsv, parameter_names, except_=except_)


@register_query
class PartitionResultsByStimulationParametersQuery(Query):
    """:func:`~cldata.query.partitions.partition_results_by_stimulation_parameters`: ``parameter_names``, ``except_``."""

    optional_parameters = {"parameter_names": (_NAMES, ()), "except_": (bool, True)}

    @staticmethod
    def function(dsv: Any, parameter_names: Any, except_: bool) -> Any:
        return partition_results_by_stimulation_parameters(dsv, parameter_names, except_=except_)


def query_from_spec(spec: Mapping[str, Any] | Query) -> Query:
    """A query from ``{"class": name, "params": {...}}`` (or a Query, returned as is).

    Raises
    ------
    cldata.errors.ParameterError
        For an unknown class name (listing the known ones) or a malformed entry.
    """
    if isinstance(spec, Query):
        return spec
    if _is_parameter_set(spec):
        spec = spec.as_dict()
    if not isinstance(spec, Mapping) or "class" not in spec or set(spec) - {"class", "params"}:
        raise ParameterError(f'a query is {{"class": name, "params": {{...}}}}, not {spec!r:.100}')
    cls = QUERIES.get(spec["class"])
    if cls is None:
        raise ParameterError(f"unknown query class {spec['class']!r}; known: {sorted(QUERIES)}")
    return cls(spec.get("params") or {})


def run_query_chain(dsv: Any, chain: Sequence[Mapping[str, Any] | Query]) -> Any:
    """Apply queries in order; after a partition, the rest applies to each part (a list comes back)."""
    queries = [query_from_spec(q) for q in chain]
    result = dsv
    for q in queries:
        result = [_apply(q, v) for v in result] if isinstance(result, list) else _apply(q, result)
        if isinstance(result, list) and result and isinstance(result[0], list):
            result = [v for part in result for v in part]
    return result


def _apply(q: Query, view: Any) -> Any:
    return q.query(view)
