"""cldata.mozaik: a mozaik analysis script runs on a cldata store with only its imports changed,
and each mozaik name behaves as mozaik's documentation says (docs/mozaik.md lists the differences)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import quantities as pq
from hypothesis import given, settings
from hypothesis import strategies as st
from parameters import ParameterSet

import cldata
import cldata.mozaik as mozaik
from cldata.errors import (
    DuplicateResultError,
    ParameterError,
    StoreError,
    StoreFormatError,
    UniquenessError,
    UnknownParameterError,
    UnknownTagError,
)

# --- what a mozaik script imports, changed to cldata.mozaik ------------------------------------------
from cldata.mozaik import PickledDataStore, param_filter_query, queries  # noqa: E402  (was mozaik.storage.*)

CONTRASTS = (10, 50)
FREQUENCIES = (2, 4)


def _stimulus(contrast: int, frequency: int) -> dict:
    return {"name": "PulseTrain", "contrast": contrast, "frequency": frequency}


@pytest.fixture(scope="module")
def store_root(tmp_path_factory):
    """A mozaik-style store of simulated CL recordings: four PulseTrain stimuli (contrast x frequency)
    and one spontaneous recording, each with SingleValue and PerChannelValue results."""
    tmp = tmp_path_factory.mktemp("mozaik")
    root = tmp / "store"
    ds = PickledDataStore(load=False, parameters=ParameterSet({"root_directory": str(root), "store_stimuli": True}))
    try:
        designs = [_stimulus(c, f) for c, f in itertools.product(CONTRASTS, FREQUENCIES)] + [{"name": "Spontaneous"}]
        for i, design in enumerate(designs):
            path = cldata.simulate(tmp / f"rec{i}.h5", seconds=0.1, seed=i, samples=False)
            rid = ds.add_recording(path, {"culture": "C7", "stimulation": design}, overview=False)
            for window in (1.0, 2.0):
                ds.add_analysis_result(cldata.SingleValue("mean_rate", (i + window) * pq.Hz,
                                                          parameters={"window_s": window}, sources=[rid],
                                                          tags=["final"] if window == 1.0 else []))
            ds.add_analysis_result(cldata.PerChannelValue("rate", np.arange(4) * pq.Hz, parameters={"window_s": 1.0},
                                                          sources=[rid]))
        ds.save()
    finally:
        ds.close()
    return root


@pytest.fixture(scope="module")
def data_store(store_root):
    ds = PickledDataStore(load=True, parameters=ParameterSet({"root_directory": str(store_root),
                                                              "store_stimuli": False}))
    yield ds
    ds.close(commit=False)


def test_a_mozaik_analysis_script_runs_with_only_its_imports_changed(data_store, capsys):
    # the body below is written as a mozaik analysis script is
    dsv = param_filter_query(data_store, st_name="PulseTrain", sheet_name="MEA")
    assert len(dsv.get_segments()) == 4 and queries.equal_stimulus_type(dsv)

    parts = queries.partition_by_stimulus_paramter_query(dsv, ["contrast"])
    assert len(parts) == len(FREQUENCIES)
    for part in parts:
        assert queries.equal_stimulus(part, ["contrast"])
        assert not queries.equal_stimulus(part, [])
        assert sorted(s["contrast"] for s in part.get_stimuli()) == list(CONTRASTS)
        assert len(part.analysis_results) == len(dsv.analysis_results)  # mozaik copies every ADS to each part

    rates = param_filter_query(dsv, identifier="SingleValue", value_name="mean_rate")
    assert rates.get_segments() == []  # an ADS query keeps no recording
    by_window = queries.partition_analysis_results_by_parameters_query(rates, parameter_list=["window_s"], excpt=True)
    assert [{r.parameters["window_s"] for r in p.analysis_results} for p in by_window] == [{1.0}, {2.0}]
    for part in by_window:
        assert queries.equal_ads(part, except_params=["stimulus_id"])
        assert queries.ads_with_equal_stimulus_type(part)

    one = param_filter_query(dsv, identifier="SingleValue", value_name="mean_rate", window_s=1.0,
                             st_contrast=10, st_frequency=4, ads_unique=True).get_analysis_result()[0]
    assert float(one.value.rescale(pq.Hz)) == pytest.approx(2.0)  # recording 1, window 1 s

    dsv.print_content(full_recordings=True, full_ADS=True)
    out = capsys.readouterr().out
    assert "Number of recordings: 4" in out and "PulseTrain : 4" in out and "ANALYSIS RESULTS" in out
    assert all(seg.annotations["recording_id"] in dsv.recording_ids for seg in dsv.get_segments())


# --- param_filter_query -----------------------------------------------------------------------------------


def test_param_filter_query_identifier_is_the_kind_and_value_name_the_identifier(data_store):
    kinds = param_filter_query(data_store, identifier=["PerNeuronValue"])
    assert {type(r).__name__ for r in kinds.analysis_results} == {"PerChannelValue"} and kinds.recordings == []
    named = param_filter_query(data_store, value_name="mean_rate")
    assert {r.identifier for r in named.analysis_results} == {"mean_rate"} and named.recordings == []
    # a value that is no kind is taken as a cldata identifier
    assert len(param_filter_query(data_store, identifier="rate").analysis_results) == 5
    both = param_filter_query(data_store, identifier=["SingleValue", "rate"])
    assert len(both.analysis_results) == 15


def test_param_filter_query_st_and_lists_select_recordings_and_their_results(data_store):
    dsv = param_filter_query(data_store, st_contrast=[10], st_frequency=list(FREQUENCIES))
    assert len(dsv.recordings) == 2 and len(dsv.analysis_results) == 6
    assert param_filter_query(data_store, sheet_name="V1").recordings == []


def test_param_filter_query_uniqueness_flags(data_store):
    with pytest.raises(UniquenessError, match="single ADS, it contains 10"):
        param_filter_query(data_store, value_name="mean_rate", ads_unique=True)
    with pytest.raises(ValueError):   # what mozaik raises, so ported code that catches it still does
        param_filter_query(data_store, value_name="mean_rate", ads_unique=True)
    with pytest.raises(UniquenessError, match="single Segment"):
        param_filter_query(data_store, st_name="PulseTrain", rec_unique=True)
    assert len(param_filter_query(data_store, st_name="Spontaneous", rec_unique=True).recordings) == 1


def test_get_analysis_result_takes_mozaiks_names(data_store):
    found = mozaik.get_analysis_result(data_store, identifier="SingleValue", window_s=2.0)
    assert len(found) == 5 and all(r.parameters["window_s"] == 2.0 for r in found)
    assert data_store.get_analysis_result(value_name="rate") == mozaik.get_analysis_result(data_store, value_name="rate")


def test_tag_based_query_keeps_recordings_and_needs_every_tag(data_store):
    tagged = queries.tag_based_query(data_store, ["final"])
    assert len(tagged.analysis_results) == 5 and len(tagged.recordings) == 5
    assert len(queries.tag_based_query(data_store, []).analysis_results) == 15
    with pytest.raises(UnknownTagError):
        queries.tag_based_query(data_store, ["fianl"])


# --- partitions ---------------------------------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(listed=st.sets(st.sampled_from(["contrast", "frequency"])))
def test_partition_by_stimulus_parameter_listed_ones_vary_others_constant(data_store, listed):
    dsv = param_filter_query(data_store, st_name="PulseTrain")
    parts = queries.partition_by_stimulus_paramter_query(dsv, sorted(listed))
    assert sum(len(p.recordings) for p in parts) == 4
    others = {"contrast", "frequency"} - listed
    for part in parts:
        stims = part.get_stimuli()
        assert all(all(s[k] == stims[0][k] for k in others) for s in stims)
    # parts differ in what is held constant
    assert len({tuple(p.get_stimuli()[0][k] for k in sorted(others)) for p in parts}) == len(parts)
    assert queries.partition_by_stimulus_parameter_query is queries.partition_by_stimulus_paramter_query


def test_partition_by_stimulus_parameter_refuses_name_and_unknown_parameters(data_store):
    with pytest.raises(ParameterError, match="<name>"):
        queries.partition_by_stimulus_paramter_query(data_store, ["name"])
    with pytest.raises(UnknownParameterError, match="contrst"):
        queries.partition_by_stimulus_paramter_query(data_store, ["contrst"])


def test_partition_analysis_results_by_parameters_listed_vary_and_excpt_inverts(data_store):
    rates = param_filter_query(data_store, value_name="mean_rate")
    # mozaik's meaning: window_s varies inside a part, everything else (the stimulus too) is constant
    parts = queries.partition_analysis_results_by_parameters_query(rates, parameter_list=["window_s"])
    assert len(parts) == 5
    for part in parts:
        assert {r.parameters["window_s"] for r in part.analysis_results} == {1.0, 2.0}
        assert queries.equal_ads(part, except_params=["window_s"]) and not queries.equal_ads(part)
        assert part.recordings == rates.recordings == []  # each part keeps the view's recordings: none here
    final = queries.tag_based_query(data_store, ["final"])  # all the recordings, the SingleValues of 1 s
    (whole,) = queries.partition_analysis_results_by_parameters_query(final, parameter_list=["stimulus_id"])
    assert len(whole.recordings) == 5 and len(whole.analysis_results) == 5
    inverted = queries.partition_analysis_results_by_parameters_query(rates, parameter_list=["window_s"], excpt=True)
    assert len(inverted) == 2 and all(queries.equal_ads(p, params=["window_s"]) for p in inverted)
    with pytest.raises(ParameterError, match="same ADS type"):
        queries.partition_analysis_results_by_parameters_query(data_store, parameter_list=["window_s"], excpt=True)
    with pytest.raises(ParameterError, match="parameter_list"):
        queries.partition_analysis_results_by_parameters_query(data_store)
    assert queries.partition_analysis_results_by_parameters_query(param_filter_query(data_store, culture="C8"),
                                                                  ["window_s"]) == []


def test_partition_analysis_results_by_stimulus_parameters(data_store):
    dsv = param_filter_query(data_store, st_name="PulseTrain", value_name="mean_rate", window_s=1.0)
    parts = queries.partition_analysis_results_by_stimulus_parameters_query(dsv, parameter_list=["contrast"])
    assert len(parts) == 2
    for part in parts:
        assert queries.ads_with_equal_stimuli(part, except_params=["contrast"])
        assert not queries.ads_with_equal_stimuli(part)
    held = queries.partition_analysis_results_by_stimulus_parameters_query(dsv, parameter_list=["contrast"],
                                                                            excpt=True)
    assert [queries.ads_with_equal_stimuli(p, params=["contrast"]) for p in held] == [True, True]


# --- the equal_* checks ----------------------------------------------------------------------------------


def test_equal_checks_follow_mozaik(data_store):
    assert not queries.equal_stimulus_type(data_store)
    assert queries.equal_stimulus_type(param_filter_query(data_store, st_name="PulseTrain"))
    rates = param_filter_query(data_store, value_name="mean_rate")
    assert queries.equal_ads_type(rates) and not queries.equal_ads_type(data_store)
    assert queries.equal_ads_except(rates, ["window_s", "stimulus_id"])
    assert queries.equal_ads(rates, params=["identifier", "value_name"])
    with pytest.raises(ParameterError):
        queries.equal_ads(rates, params=["window_s"], except_params=["window_s"])
    assert not queries.ads_with_equal_stimulus_type(rates)
    assert queries.ads_with_equal_stimulus_type(param_filter_query(rates, st_name="Spontaneous"))


# --- the store and its views -------------------------------------------------------------------------------


def test_views_have_mozaiks_methods(data_store):
    dsv = param_filter_query(data_store, st_name="PulseTrain")
    assert isinstance(dsv, mozaik.MozaikView) and isinstance(dsv, cldata.DataStoreView)
    assert dsv.get_segments(null=True) == [] and dsv.get_stimuli(null=True) == []
    assert [s.annotations["recording_id"] for s in dsv.get_segments(ordered=True)] == dsv.recording_ids
    assert dsv.sheets() == ["MEA"] and mozaik.sheets(dsv) == ["MEA"]
    positions = mozaik.get_neuron_positions(dsv)["MEA"]
    assert positions[0] == (0, 0) and len(positions) == 64
    assert mozaik.get_neuron_annotations(dsv)["MEA"][0]["ground"] is True
    assert mozaik.get_stimuli(dsv) == dsv.get_stimuli() == [_stimulus(c, f) for c, f in
                                                           itertools.product(CONTRASTS, FREQUENCIES)]


def test_load_and_save_open_and_commit(tmp_path):
    with pytest.raises(StoreFormatError, match="load=False"):
        mozaik.load(tmp_path / "nothing-here")
    new = mozaik.DataStore(load=False, parameters={"root_directory": str(tmp_path / "new"), "store_stimuli": True},
                           replace=True)
    try:
        rid = new.add_recording(cldata.simulate(tmp_path / "r.h5", seconds=0.1, samples=False),
                                {"stimulation": _stimulus(10, 2)}, overview=False)
        new.add_analysis_result(cldata.SingleValue("mean_rate", 1 * pq.Hz, sources=[rid]))
        new.add_analysis_result(cldata.SingleValue("mean_rate", 1 * pq.Hz, sources=[rid]))  # replace=True
        assert new.add_stimulus(np.zeros(3), _stimulus(10, 2)) is not None
        assert new.identify_unpresented_stimuli([_stimulus(10, 2), _stimulus(50, 2)]) == [1]
        assert mozaik.identify_unpresented_stimuli(new, [_stimulus(50, 2)]) == [0]
        mozaik.save(new)
        assert not new.dirty
    finally:
        new.close()
    with pytest.raises(StoreError, match="load=True"):
        PickledDataStore(load=False, parameters={"root_directory": str(tmp_path / "new")})
    reopened = mozaik.load(tmp_path / "new")
    try:
        assert len(reopened.analysis_results) == 2  # the rate once, and the stimulus' data
        assert np.array_equal(reopened.get_sensory_stimulus([_stimulus(10, 2)])[0], np.zeros(3))
        assert mozaik.add_stimulus(reopened, np.ones(2), _stimulus(50, 2)) is None  # store_stimuli=False
        with pytest.raises(DuplicateResultError):
            reopened.add_analysis_result(cldata.SingleValue("mean_rate", 2 * pq.Hz, sources=[rid]))
    finally:
        reopened.close(commit=False)


def test_print_content_and_get_segments_work_on_any_cldata_store(store_root, capsys):
    with cldata.open(store_root) as plain:
        mozaik.print_content(plain)
        assert "Number of ADS: 15" in capsys.readouterr().out
        assert len(mozaik.get_segments(plain)) == 5 and mozaik.get_segments(plain, null=True) == []
        assert isinstance(param_filter_query(plain, culture="C7"), mozaik.MozaikView)
    with pytest.raises(ParameterError):
        param_filter_query(object())


# --- the query classes of parameter files ---------------------------------------------------------------


def test_query_classes_take_mozaiks_parameter_sets(data_store):
    pfq = queries.ParamFilterQuery(ParameterSet({"params": {"st_name": "PulseTrain"}, "ads_unique": False,
                                                 "rec_unique": False}))
    dsv = pfq.query(data_store)
    assert len(dsv.recordings) == 4
    parts = queries.PartitionByStimulusParamterQuery(ParameterSet({"parameter_list": ["contrast"]})).query(dsv)
    assert len(parts) == 2
    rparts = queries.PartitionAnalysisResultsByParameterNameQuery(
        {"parameter_list": ["window_s"], "excpt": True}).query(param_filter_query(dsv, value_name="mean_rate"))
    assert len(rparts) == 2
    assert len(queries.TagBasedQuery({"tags": ["final"]}).query(dsv).analysis_results) == 4
    # the names cldata does not have are registered for parameter files
    chain = [{"class": "ParamFilterQuery", "params": {"params": {"st_name": "PulseTrain"}}},
             {"class": "PartitionByStimulusParamterQuery", "params": {"parameter_list": ["frequency"]}}]
    assert len(data_store.query(chain)) == 2
    assert len(queries.PartitionRecordingsBySheetQuery({}).query(data_store)) == 1


def test_older_mozaik_queries(data_store):
    assert len(queries.select_stimuli_type_query(data_store, "PulseTrain", {"contrast": 10}).recordings) == 2
    assert len(queries.select_result_sheet_query(data_store, "MEA").recordings) == 5
    assert queries.select_result_sheet_query(data_store, "V1").recordings == []
    assert [len(p.recordings) for p in queries.partition_recordings_by_sheet_query(data_store)] == [5]


def test_copies_unions_and_removal(tmp_path):
    store = mozaik.DataStore(load=False, parameters={"root_directory": str(tmp_path / "s")})
    try:
        rid = store.add_recording(cldata.simulate(tmp_path / "r.h5", seconds=0.1, samples=False),
                                  {"stimulation": _stimulus(10, 2)}, overview=False)
        for w in (1.0, 2.0, 3.0):
            store.add_analysis_result(cldata.SingleValue("mean_rate", w * pq.Hz, parameters={"window_s": w},
                                                         sources=[rid]))
        one, two = (param_filter_query(store, window_s=w) for w in (1.0, 2.0))
        assert len((one + two).analysis_results) == 2 and len(one.fromDataStoreView()) == 0
        assert len(one.analysis_result_copy()) == 1 and len(mozaik.as_view(store).recordings_copy()) == 1
        (one + two).remove_ads_outside_of_dsv()
        assert sorted(r.parameters["window_s"] for r in store.analysis_results) == [1.0, 2.0]
        one.remove_ads_from_datastore()
        assert [r.parameters["window_s"] for r in store.analysis_results] == [2.0]
    finally:
        store.close(commit=False)


def test_sheet_name_parameters_name_sheets_and_the_rest_are_the_mea(tmp_path):
    store = mozaik.DataStore(load=False, parameters={"root_directory": str(tmp_path / "s")})
    try:
        for i, extra in enumerate([{"sheet_name": "V1"}, {}]):
            rid = store.add_recording(cldata.simulate(tmp_path / f"r{i}.h5", seconds=0.1, seed=i, samples=False),
                                      {"stimulation": _stimulus(10, 2 + i), **extra}, overview=False)
            store.add_analysis_result(cldata.SingleValue("mean_rate", 1 * pq.Hz, sources=[rid]))
        assert store.sheets() == ["V1", "MEA"]
        assert len(param_filter_query(store, sheet_name="MEA").recordings) == 1
        assert len(param_filter_query(store, sheet_name="V1").analysis_results) == 1  # from its source recording
        assert len(param_filter_query(store, sheet_name=["V1", "MEA"]).recordings) == 2
        assert [len(p.recordings) for p in queries.partition_recordings_by_sheet_query(store)] == [1, 1]
        assert store.get_neuron_positions().keys() == {"V1", "MEA"}
        assert mozaik.as_view(store).identify_unpresented_stimuli([_stimulus(10, 3), _stimulus(10, 9)]) == [1]
    finally:
        store.close(commit=False)


_RESULTS = st.lists(st.tuples(st.sampled_from(["mean_rate", "peak_rate"]), st.integers(1, 2), st.integers(1, 3)),
                    min_size=1, max_size=8, unique=True)


@settings(max_examples=20, deadline=None)
@given(results=_RESULTS, listed=st.sets(st.sampled_from(["value_name", "x", "y"]), min_size=1), excpt=st.booleans())
def test_partition_analysis_results_invariant_on_random_stores(tmp_path_factory, results, listed, excpt):
    root = tmp_path_factory.mktemp("random")
    store = mozaik.DataStore(load=False, parameters={"root_directory": str(root / "s")})
    try:
        for identifier, x, y in results:
            store.add_analysis_result(cldata.SingleValue(identifier, 1.0, parameters={"x": x, "y": y}))
        parts = queries.partition_analysis_results_by_parameters_query(store, sorted(listed), excpt=excpt)
        params = [[p for _, p in queries.ads_parameters(part)] for part in parts]
        assert sum(len(p) for p in params) == len(results)  # every result in exactly one part
        constant = set(listed) if excpt else {"value_name", "x", "y"} - listed
        keys = []
        for part in params:
            assert all(all(p[k] == part[0][k] for k in constant) for p in part)
            keys.append(tuple(part[0][k] for k in sorted(constant)))
        assert len(set(keys)) == len(keys)  # parts differ in what they hold constant
    finally:
        store.close(commit=False)


def test_a_query_class_written_for_mozaik_runs(data_store):
    class ContrastQuery(queries.Query):
        required_parameters = ParameterSet({"contrast": int})

        def query(self, dsv):
            return param_filter_query(dsv, st_contrast=self.parameters.contrast)

    dsv = ContrastQuery(ParameterSet({"contrast": 50})).query(data_store)
    assert [s["contrast"] for s in dsv.get_stimuli()] == [50, 50]
    with pytest.raises(ParameterError):
        ContrastQuery({"contrast": "high"})
    assert dsv.get_neuron_postions() == dsv.get_neuron_positions()


def test_mozaik_segments_annotated_with_sheet_and_stimulus(tmp_path):
    """Segments as a mozaik simulation makes them (one per sheet and stimulus, annotated) go through
    cldata.mozaik as in mozaik: sheets, st_ queries, partitions, loaded spike trains."""
    import neo

    store = mozaik.DataStore(load=False, parameters={"root_directory": str(tmp_path / "s")})
    try:
        for sheet, orientation in itertools.product(["V1_Exc_L4", "V1_Inh_L4"], [0.0, 0.5]):
            seg = neo.Segment(sheet_name=sheet, st_name="FullfieldDriftingSinusoidalGrating",
                              st_orientation=orientation)
            seg.spiketrains.append(neo.SpikeTrain([0.1, 0.5] * pq.s, t_stop=1 * pq.s))
            rid = store.add_recording(seg)
            store.add_analysis_result(cldata.SingleValue("rate", 2 * pq.Hz, sources=[rid]))
        assert store.sheets() == ["V1_Exc_L4", "V1_Inh_L4"]
        dsv = param_filter_query(store, sheet_name="V1_Exc_L4", st_name="FullfieldDriftingSinusoidalGrating")
        assert len(dsv.recordings) == 2 and len(dsv.analysis_results) == 2
        (part,) = queries.partition_by_stimulus_paramter_query(dsv, ["orientation"])
        assert queries.equal_stimulus(part, ["orientation"]) and not queries.equal_stimulus(part, [])
        assert len(param_filter_query(store, st_orientation=0.5).analysis_results) == 2
        assert [float(st.times[1]) for seg in dsv.get_segments() for st in seg.spiketrains] == [0.5, 0.5]
        with pytest.raises(UnknownParameterError, match="orientaton"):
            param_filter_query(store, st_orientaton=0.5)
    finally:
        store.close(commit=False)
