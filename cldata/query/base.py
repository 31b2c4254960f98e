"""Query classes: every query as a ``Query`` built from a ParameterSet, and chains of them.

A parameter file names queries by class and gives their parameters as data::

    "query": [
        {"class": "ParamFilterQuery", "params": {"params": {"culture": "C7"}}},
        {"class": "StreamQuery", "params": {"stream_names": ["score"]}},
        {"class": "TimeWindowQuery", "params": {"start": 0, "stop": {"$quantity": [2, "s"]}}},
    ]

:func:`run_query_chain` applies such a list; a partition query in the chain turns the
result into a list of views, and the queries after it apply to each. Classes are looked
up by name in one :class:`~cldata.core.registry.Registry` (:data:`QUERY_KINDS`; nothing is
imported or evaluated from a file): the built-in ones (:mod:`cldata.query.classes`, imported
when first named), those registered in this process (:func:`register_query`), and plugins
declared by an installed package under the entry-point group ``cldata.queries``::

    [project.entry-points."cldata.queries"]
    LongRecordingsQuery = "my_lab_queries:LongRecordingsQuery"

A new query kind is one class (a :class:`Query` subclass with ``function``, or ``select``
for a pure function of a catalog and a selection) plus its registration: the decorator, an
entry point, or a line in :data:`BUILTIN_QUERIES` for one shipped with cldata.

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
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import quantities as pq

from cldata.core.param_check import check_parameters
from cldata.core.paramsets import is_parameter_set, plain_parameters
from cldata.core.registry import Registry
from cldata.errors import ParameterError
from cldata.query.predicates import AnyOf, Approx, Exists, Not, Range
from cldata.query.selection import CatalogView, Selection

if TYPE_CHECKING:
    from parameters import ParameterSet

    from cldata.model.catalog import Catalog

__all__ = ["Query", "QUERIES", "QUERY_KINDS", "BUILTIN_QUERIES", "register_query", "query_from_spec",
           "run_query_chain", "decode_value"]

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

    Subclasses set ``required_parameters`` and ``optional_parameters`` (name -> type, or
    tuple of types; optional ones map to ``(type, default)``), and either ``function``, the
    query on a view (``function(view, **arguments)`` returns a view or a list of views), or
    ``select``, a pure function of a catalog and a selection
    (``select(catalog, selection, **arguments)`` returns a selection or a list of them).

    Raises
    ------
    cldata.errors.ParameterError
        Naming every missing, unexpected and mistyped parameter.
    """

    required_parameters: ClassVar[dict[str, Any]] = {}
    optional_parameters: ClassVar[dict[str, tuple[Any, Any]]] = {}
    function: ClassVar[Callable[..., Any]]
    select: ClassVar[Callable[..., Selection | list[Selection]]]

    def __init__(self, parameters: Mapping[str, Any] | ParameterSet | None = None, **kw: Any):
        given = plain_parameters(parameters, f"the parameters of {type(self).__name__}")
        given.update(kw)
        given = check_parameters(type(self).__name__, self.required_parameters, self.optional_parameters, given)
        self.parameters: dict[str, Any] = given

    def arguments(self) -> dict[str, Any]:
        """The keyword arguments the query function gets (predicates and quantities decoded)."""
        return {k: decode_value(v) for k, v in self.parameters.items()}

    def query(self, dsv: Any) -> Any:
        """Apply the query to a view (a store, a store view or a :class:`~cldata.query.selection.CatalogView`)."""
        cls = type(self)
        if not hasattr(cls, "function"):
            out = cls.select(dsv.catalog, dsv.selection, **self.arguments())
            return [dsv.with_selection(s) for s in out] if isinstance(out, list) else dsv.with_selection(out)
        return cls.function(dsv, **self.arguments())

    def apply(self, catalog: Catalog, selection: Selection) -> Selection | list[Selection]:
        """Apply the query to a selection of ``catalog`` (no store needed)."""
        out = self.query(CatalogView(catalog, selection))
        return [v.selection for v in out] if isinstance(out, list) else out.selection

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.parameters!r})"


#: The query classes shipped with cldata: ``name -> "module:attribute"``, imported when first named.
BUILTIN_QUERIES = {name: f"cldata.query.classes:{name}" for name in (
    "ParamFilterQuery", "FilterRecordingsQuery", "FilterResultsQuery", "StreamQuery", "TimeWindowQuery",
    "TagBasedQuery", "PartitionByParametersQuery", "PartitionByStimulationParametersQuery",
    "PartitionResultsByParametersQuery", "PartitionResultsByStimulationParametersQuery",
    "PartitionResultsByValuesOfQuery",
)}


def _query_class(name: str, obj: Any) -> type[Query]:
    if not (isinstance(obj, type) and issubclass(obj, Query)):
        raise ParameterError(f"query kind {name!r} is {obj!r:.80}, not a subclass of cldata.query.Query")
    return obj


#: Every query kind by name: built in, registered, or from a plugin (entry-point group ``cldata.queries``).
QUERY_KINDS: Registry[type[Query]] = Registry("query class", "cldata.queries", builtins=BUILTIN_QUERIES,
                                              check=_query_class, error=ParameterError)


class _QueryMapping(Mapping[str, type[Query]]):
    """The query classes by name, read-only (a view of :data:`QUERY_KINDS`)."""

    def __getitem__(self, name: str) -> type[Query]:
        if name not in QUERY_KINDS:
            raise KeyError(name)
        return QUERY_KINDS.get(name)

    def __iter__(self) -> Iterator[str]:
        return iter(QUERY_KINDS.names())

    def __len__(self) -> int:
        return len(QUERY_KINDS.names())

    def __contains__(self, name: object) -> bool:
        return name in QUERY_KINDS

    def __repr__(self) -> str:
        return f"QUERIES({', '.join(QUERY_KINDS.names())})"


#: The query classes by name (read-only; add one with :func:`register_query` or an entry point).
QUERIES: Mapping[str, type[Query]] = _QueryMapping()


def register_query(cls: type[Query]) -> type[Query]:
    """Class decorator: make a query class nameable in parameter files (by its class name).

    Registering a name again replaces the class registered before (a re-run notebook cell);
    a built-in name cannot be taken.

    Examples
    --------
    >>> @register_query
    ... class EverythingQuery(Query):
    ...     @staticmethod
    ...     def select(catalog, selection):
    ...         return selection
    >>> query_from_spec({"class": "EverythingQuery"})
    EverythingQuery({})
    """
    QUERY_KINDS.register(cls.__name__, cls, replace=True)
    return cls


def __getattr__(name: str) -> Any:
    # the built-in query classes keep their 0.2 import path (cldata.queries.base.ParamFilterQuery)
    # without base importing every query when it is imported
    if name in BUILTIN_QUERIES:
        return QUERY_KINDS.get(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def query_from_spec(spec: Mapping[str, Any] | Query) -> Query:
    """A query from ``{"class": name, "params": {...}}`` (or a Query, returned as is).

    Raises
    ------
    cldata.errors.ParameterError
        For an unknown class name (listing the known ones) or a malformed entry.
    """
    if isinstance(spec, Query):
        return spec
    if is_parameter_set(spec):
        spec = plain_parameters(spec)
    if not isinstance(spec, Mapping) or "class" not in spec or set(spec) - {"class", "params"}:
        raise ParameterError(f'a query is {{"class": name, "params": {{...}}}}, not {spec!r:.100}')
    name = spec["class"]
    if not isinstance(name, str) or name not in QUERY_KINDS:
        raise ParameterError(f"unknown query class {name!r}; known: {QUERY_KINDS.names()}")
    return QUERY_KINDS.get(name)(spec.get("params") or {})


def run_query_chain(dsv: Any, chain: Sequence[Mapping[str, Any] | Query]) -> Any:
    """Apply queries in order; after a partition, the rest applies to each part (a list comes back)."""
    queries = [query_from_spec(q) for q in chain]
    result = dsv
    for q in queries:
        result = [q.query(v) for v in result] if isinstance(result, list) else q.query(result)
        if isinstance(result, list) and result and isinstance(result[0], list):
            result = [v for part in result for v in part]
    return result
