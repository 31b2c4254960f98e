"""Queries over datastore views, one module per family (see each module's documentation).

Every query is a function ``f(dsv, **params)`` returning a view (or a list of views) and
a class ``FQuery(parameters)`` for parameter files; views also offer them as chainable
methods (``store.filter(...).streams(...).between(...)``).
"""

from cldata.queries.params import filter_recordings, filter_results, param_filter_query
from cldata.queries.predicates import AnyOf, Approx, Exists, Not, Predicate, Range

__all__ = [
    "param_filter_query",
    "filter_recordings",
    "filter_results",
    "Predicate",
    "Range",
    "Not",
    "AnyOf",
    "Approx",
    "Exists",
]
