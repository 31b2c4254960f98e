"""mozaik's storage API on cldata: a mozaik analysis script runs after changing its imports.

mozaik (CSNG-MFF/mozaik) keeps a simulation's neo segments, one per sheet and stimulus, beside
parametrised analysis data structures (ADS), and selects them with queries. cldata's store is
modelled on it; this package gives it mozaik's names, signatures and meaning:

- ``from mozaik.storage.queries import *`` becomes ``from cldata.mozaik import *`` (or
  ``from cldata.mozaik import queries``): :mod:`cldata.mozaik.queries`, every query function
  and class, the misspelt names included (``partition_by_stimulus_paramter_query``,
  ``excpt=``), with correctly spelt aliases;
- ``from mozaik.storage.datastore import PickledDataStore`` becomes
  ``from cldata.mozaik import PickledDataStore``: :mod:`cldata.mozaik.store`, stores made as
  mozaik makes them, with ``save()``, and views with mozaik's methods
  (``get_segments(null=, ordered=)``, ``print_content(full_recordings=, full_ADS=)``, ...);
- the stimulus of a CL recording is its stimulation design (:mod:`cldata.mozaik.stimuli`),
  and its one sheet is ``"MEA"``.

Every name of mozaik's storage API, its counterpart here and each intended difference are
in ``docs/mozaik.md``.

Examples
--------
>>> from cldata.mozaik import PickledDataStore, param_filter_query, queries           # doctest: +SKIP
>>> data_store = PickledDataStore(load=True, parameters=ParameterSet(
...     {"root_directory": "lab-store", "store_stimuli": False}))                      # doctest: +SKIP
>>> dsv = param_filter_query(data_store, st_name="PulseTrain", sheet_name="MEA")      # doctest: +SKIP
>>> for part in queries.partition_by_stimulus_paramter_query(dsv, ["amplitude"]):      # doctest: +SKIP
...     assert queries.equal_stimulus(part, ["amplitude"])
"""

from typing import Any

from cldata.errors import ParameterError
from cldata.mozaik import queries, stimuli, store
from cldata.mozaik.queries import (
    KIND_NAMES,
    ParamFilterQuery,
    PartitionAnalysisResultsByParameterNameQuery,
    PartitionAnalysisResultsByStimulusParameterQuery,
    PartitionByStimulusParameterQuery,
    PartitionByStimulusParamterQuery,
    PartitionRecordingsBySheetQuery,
    Query,
    QueryParameters,
    TagBasedQuery,
    ads_parameters,
    ads_with_equal_stimuli,
    ads_with_equal_stimulus_type,
    equal_ads,
    equal_ads_except,
    equal_ads_type,
    equal_stimulus,
    equal_stimulus_type,
    param_filter_query,
    partition_analysis_results_by_parameters_query,
    partition_analysis_results_by_stimulus_parameters_query,
    partition_by_stimulus_parameter_query,
    partition_by_stimulus_paramter_query,
    partition_recordings_by_sheet_query,
    select_result_sheet_query,
    select_stimuli_type_query,
    tag_based_query,
)
from cldata.mozaik.store import (
    SENSORY_STIMULUS,
    SHEET,
    DataStore,
    Hdf5DataStore,
    MozaikView,
    PickledDataStore,
    as_view,
    identify_unpresented_stimuli,
    load,
    save,
)


def print_content(dsv: Any, full_recordings: bool = False, full_ADS: bool = False) -> None:  # noqa: N803
    """mozaik's ``dsv.print_content(...)`` for any cldata store or view (see :meth:`MozaikView.print_content`)."""
    as_view(dsv).print_content(full_recordings=full_recordings, full_ADS=full_ADS)


def get_segments(dsv: Any, null: bool = False, ordered: bool = False, lazy: bool = False) -> list[Any]:
    """mozaik's ``dsv.get_segments(...)`` for any cldata store or view (:meth:`MozaikView.get_segments`)."""
    return as_view(dsv).get_segments(null=null, ordered=ordered, lazy=lazy)


def get_stimuli(dsv: Any, null: bool = False, ordered: bool = False) -> list[dict[str, Any]]:
    """mozaik's ``dsv.get_stimuli(...)``: each recording's stimulus, in :func:`get_segments` order."""
    return as_view(dsv).get_stimuli(null=null, ordered=ordered)


def get_analysis_result(dsv: Any, **kwargs: Any) -> list[Any]:
    """mozaik's ``dsv.get_analysis_result(**kwargs)`` (mozaik's keyword names) for any cldata store or view."""
    return as_view(dsv).get_analysis_result(**kwargs)


def sheets(dsv: Any) -> list[str]:
    """mozaik's ``dsv.sheets()``: ``["MEA"]`` for CL data."""
    return as_view(dsv).sheets()


def get_neuron_positions(dsv: Any) -> dict[str, Any]:
    """mozaik's ``dsv.get_neuron_positions()``: ``{sheet: positions}``."""
    return as_view(dsv).get_neuron_positions()


def get_neuron_annotations(dsv: Any) -> dict[str, Any]:
    """mozaik's ``dsv.get_neuron_annotations()``: ``{sheet: annotations}``."""
    return as_view(dsv).get_neuron_annotations()


def add_stimulus(store_: Any, data: Any, stimulus: Any) -> str | None:
    """mozaik's ``data_store.add_stimulus(data, stimulus)`` (a :class:`DataStore` of this package)."""
    if not isinstance(store_, DataStore):
        raise ParameterError("add_stimulus needs a cldata.mozaik DataStore (it knows store_stimuli); "
                        "open the store with cldata.mozaik.load()")
    return store_.add_stimulus(data, stimulus)


__all__ = [
    "queries", "stimuli", "store", "param_filter_query", "tag_based_query", "partition_by_stimulus_paramter_query",
    "partition_by_stimulus_parameter_query", "partition_analysis_results_by_parameters_query",
    "partition_analysis_results_by_stimulus_parameters_query", "equal_stimulus_type", "equal_stimulus", "equal_ads",
    "equal_ads_except", "equal_ads_type", "ads_with_equal_stimuli", "ads_with_equal_stimulus_type",
    "select_stimuli_type_query", "select_result_sheet_query", "partition_recordings_by_sheet_query",
    "ads_parameters", "Query", "QueryParameters", "ParamFilterQuery", "TagBasedQuery", "PartitionByStimulusParamterQuery",
    "PartitionByStimulusParameterQuery", "PartitionAnalysisResultsByParameterNameQuery",
    "PartitionAnalysisResultsByStimulusParameterQuery", "PartitionRecordingsBySheetQuery", "KIND_NAMES",
    "SENSORY_STIMULUS", "SHEET", "DataStore", "Hdf5DataStore", "MozaikView", "PickledDataStore", "as_view",
    "identify_unpresented_stimuli", "load", "save", "print_content", "get_segments", "get_stimuli",
    "get_analysis_result", "sheets", "get_neuron_positions", "get_neuron_annotations", "add_stimulus",
]
