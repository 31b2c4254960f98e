"""Queries over datastore views, one module per family (see each module's documentation).

Every query is a function ``f(dsv, **params)`` returning a view (or a list of views) and
a class ``FQuery(parameters)`` for parameter files (:mod:`cldata.queries.base`); views
also offer them as chainable methods::

    store.filter(culture="C7").streams("score").between(0, 2 * pq.s).tagged("final")

Families: parameters (:mod:`~cldata.queries.params`, with the predicates of
:mod:`~cldata.queries.predicates`), streams (:mod:`~cldata.queries.streams`), time
(:mod:`~cldata.queries.time`), tags (:mod:`~cldata.queries.tags`), partitions
(:mod:`~cldata.queries.partitions`) and the ``equal_*`` preconditions
(:mod:`~cldata.queries.equal`). Views combine with ``|``, ``&`` and ``-``.
"""

from cldata.queries.base import QUERIES, Query, query_from_spec, register_query, run_query_chain
from cldata.queries.equal import equal_recording_parameters, equal_result_kinds, equal_results, equal_stimulation
from cldata.queries.params import filter_recordings, filter_results, param_filter_query
from cldata.queries.partitions import (
    partition_by_parameters,
    partition_by_stimulation_parameters,
    partition_results_by_parameters,
    partition_results_by_stimulation_parameters,
)
from cldata.queries.predicates import AnyOf, Approx, Exists, Not, Predicate, Range
from cldata.queries.streams import stream_query
from cldata.queries.tags import tag_based_query
from cldata.queries.time import time_window_query

__all__ = [
    "param_filter_query",
    "filter_recordings",
    "filter_results",
    "stream_query",
    "time_window_query",
    "tag_based_query",
    "partition_by_parameters",
    "partition_by_stimulation_parameters",
    "partition_results_by_parameters",
    "partition_results_by_stimulation_parameters",
    "equal_results",
    "equal_result_kinds",
    "equal_recording_parameters",
    "equal_stimulation",
    "Predicate",
    "Range",
    "Not",
    "AnyOf",
    "Approx",
    "Exists",
    "Query",
    "QUERIES",
    "register_query",
    "query_from_spec",
    "run_query_chain",
]
