"""Queries: pure functions from a catalog and a selection to a selection, one module per family.

A :class:`~cldata.query.selection.Selection` says which entries of a catalog a view shows,
which data streams and which time window. Each family has a pure function
``select_...(catalog, selection, ...) -> Selection`` (``split_...`` for partitions, a list of
selections) that opens no file and knows no store, and a view-level function
``f(view, **params)`` returning a view of the same kind (a store view, or a store-free
:class:`~cldata.query.selection.CatalogView`); a class ``FQuery(parameters)`` names it in
parameter files (:mod:`cldata.query.base`, :mod:`cldata.query.classes`). Store views also
offer them as chainable methods::

    store.filter(culture="C7").streams("score").between(0, 2 * pq.s).tagged("final")

Families: parameters (:mod:`~cldata.query.params`, with the predicates of
:mod:`~cldata.query.predicates`), streams (:mod:`~cldata.query.streams`), time
(:mod:`~cldata.query.time`), tags (:mod:`~cldata.query.tags`), partitions
(:mod:`~cldata.query.partitions`), the ``equal_*`` preconditions
(:mod:`~cldata.query.equal`), stimuli (:mod:`~cldata.query.stimuli`) and neurons (:mod:`~cldata.query.neurons`). Views combine with ``|``, ``&`` and ``-``.
"""

from cldata.query.base import QUERIES, Query, query_from_spec, register_query, run_query_chain
from cldata.query.equal import equal_recording_parameters, equal_result_kinds, equal_results, equal_stimulation
from cldata.query.params import filter_recordings, filter_results, param_filter_query
from cldata.query.partitions import (
    partition_by_parameters,
    partition_by_stimulation_parameters,
    partition_results_by_parameters,
    partition_results_by_stimulation_parameters,
    partition_results_by_values_of,
)
from cldata.query.predicates import AnyOf, Approx, Exists, Not, Predicate, Range
from cldata.query.selection import CatalogView, Selection, StreamSelection
from cldata.query.stimuli import (
    ads_with_equal_stimuli,
    ads_with_equal_stimulus_type,
    equal_stimulus,
    equal_stimulus_type,
    get_stimuli,
    identify_unpresented_stimuli,
    recording_stimulus,
    stimulus_type,
)
from cldata.query.streams import stream_query
from cldata.query.tags import tag_based_query
from cldata.query.time import time_window_query

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
    "partition_results_by_values_of",
    "equal_results",
    "equal_result_kinds",
    "equal_recording_parameters",
    "equal_stimulation",
    "recording_stimulus",
    "stimulus_type",
    "get_stimuli",
    "equal_stimulus",
    "equal_stimulus_type",
    "ads_with_equal_stimuli",
    "ads_with_equal_stimulus_type",
    "identify_unpresented_stimuli",
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
    "Selection",
    "StreamSelection",
    "CatalogView",
]
