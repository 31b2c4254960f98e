"""The built-in query kinds as classes, for parameter files (``{"class": ..., "params": {...}}``).

Each class wraps one query function of this package and declares its parameters (checked
by :class:`~cldata.query.base.Query`); :data:`~cldata.query.base.BUILTIN_QUERIES` names
them, and the registry imports this module the first time one is named.

Examples
--------
>>> ParamFilterQuery({"params": {"culture": "C7"}, "rec_unique": True})
ParamFilterQuery({'params': {'culture': 'C7'}, 'rec_unique': True})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import quantities as pq

from cldata.query.base import Query
from cldata.query.params import filter_recordings, filter_results, param_filter_query
from cldata.query.partitions import (
    partition_by_parameters,
    partition_by_stimulation_parameters,
    partition_results_by_parameters,
    partition_results_by_stimulation_parameters,
    partition_results_by_values_of,
)
from cldata.query.streams import stream_query
from cldata.query.tags import tag_based_query
from cldata.query.time import time_window_query

__all__ = [
    "ParamFilterQuery",
    "FilterRecordingsQuery",
    "FilterResultsQuery",
    "StreamQuery",
    "TimeWindowQuery",
    "TagBasedQuery",
    "PartitionByParametersQuery",
    "PartitionByStimulationParametersQuery",
    "PartitionResultsByParametersQuery",
    "PartitionResultsByStimulationParametersQuery",
    "PartitionResultsByValuesOfQuery",
]

_NAMES = (str, list, tuple)


class ParamFilterQuery(Query):
    """:func:`~cldata.query.param_filter_query`: ``params`` (dict of conditions), ``ads_unique``, ``rec_unique``."""

    required_parameters = {"params": Mapping}
    optional_parameters = {"ads_unique": (bool, False), "rec_unique": (bool, False)}

    @staticmethod
    def function(dsv: Any, params: Mapping[str, Any], ads_unique: bool, rec_unique: bool) -> Any:
        return param_filter_query(dsv, ads_unique=ads_unique, rec_unique=rec_unique, **params)


class FilterRecordingsQuery(Query):
    """:func:`~cldata.query.filter_recordings`: ``params``, ``rec_unique``."""

    required_parameters = {"params": Mapping}
    optional_parameters = {"rec_unique": (bool, False)}

    @staticmethod
    def function(dsv: Any, params: Mapping[str, Any], rec_unique: bool) -> Any:
        return filter_recordings(dsv, rec_unique=rec_unique, **params)


class FilterResultsQuery(Query):
    """:func:`~cldata.query.filter_results`: ``params``, ``ads_unique``."""

    required_parameters = {"params": Mapping}
    optional_parameters = {"ads_unique": (bool, False)}

    @staticmethod
    def function(dsv: Any, params: Mapping[str, Any], ads_unique: bool) -> Any:
        return filter_results(dsv, ads_unique=ads_unique, **params)


class StreamQuery(Query):
    """:func:`~cldata.query.streams.stream_query`: ``stream_names`` (name, glob or list), ``attributes``."""

    optional_parameters = {"stream_names": ((str, list, tuple, type(None)), None), "attributes": (Mapping, {})}

    @staticmethod
    def function(dsv: Any, stream_names: Any, attributes: Mapping[str, Any]) -> Any:
        return stream_query(dsv, stream_names, **attributes)


class TimeWindowQuery(Query):
    """:func:`~cldata.query.time.time_window_query`: ``start``, ``stop`` (frames or quantities)."""

    optional_parameters = {"start": ((int, Mapping, pq.Quantity, type(None)), None),
                           "stop": ((int, Mapping, pq.Quantity, type(None)), None)}
    function = staticmethod(time_window_query)


class TagBasedQuery(Query):
    """:func:`~cldata.query.tags.tag_based_query`: ``tags``, ``any``."""

    required_parameters = {"tags": _NAMES}
    optional_parameters = {"any": (bool, False)}
    function = staticmethod(tag_based_query)


class PartitionByParametersQuery(Query):
    """:func:`~cldata.query.partitions.partition_by_parameters`: ``parameter_names``."""

    required_parameters = {"parameter_names": _NAMES}

    @staticmethod
    def function(dsv: Any, parameter_names: Any) -> Any:
        return partition_by_parameters(dsv, parameter_names)


class PartitionByStimulationParametersQuery(Query):
    """:func:`~cldata.query.partitions.partition_by_stimulation_parameters`: ``except_names``."""

    optional_parameters = {"except_names": (_NAMES, ())}
    function = staticmethod(partition_by_stimulation_parameters)


class PartitionResultsByParametersQuery(Query):
    """:func:`~cldata.query.partitions.partition_results_by_parameters`: ``parameter_names`` (they vary inside
    each part), ``except_`` (``True``: the default since 0.4; not given: ``True`` with a ``DeprecationWarning``
    that the meaning changed; ``False``: grouped by ``parameter_names``, as :class:`PartitionResultsByValuesOfQuery`)."""

    required_parameters = {"parameter_names": _NAMES}
    optional_parameters = {"except_": ((bool, type(None)), None)}

    @staticmethod
    def function(dsv: Any, parameter_names: Any, except_: bool | None) -> Any:
        return partition_results_by_parameters(dsv, parameter_names, except_=except_)


class PartitionResultsByValuesOfQuery(Query):
    """:func:`~cldata.query.partitions.partition_results_by_values_of`: ``parameter_names`` (constant inside each part)."""

    required_parameters = {"parameter_names": _NAMES}

    @staticmethod
    def function(dsv: Any, parameter_names: Any) -> Any:
        return partition_results_by_values_of(dsv, parameter_names)


class PartitionResultsByStimulationParametersQuery(Query):
    """:func:`~cldata.query.partitions.partition_results_by_stimulation_parameters`: ``parameter_names``, ``except_``."""

    optional_parameters = {"parameter_names": (_NAMES, ()), "except_": (bool, True)}

    @staticmethod
    def function(dsv: Any, parameter_names: Any, except_: bool) -> Any:
        return partition_results_by_stimulation_parameters(dsv, parameter_names, except_=except_)
