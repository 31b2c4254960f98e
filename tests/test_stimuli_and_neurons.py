"""A recording's stimulus (its stimulation parameters) and its neurons (the MEA's channels): mozaik's model, the CL way."""

from __future__ import annotations

import pytest
import quantities as pq

import cldata
from cldata.errors import ParameterError
from cldata.query.neurons import mea_position
from cldata.query.partitions import partition_by_stimulation_parameters
from cldata.query.stimuli import (
    ads_with_equal_stimuli,
    ads_with_equal_stimulus_type,
    equal_stimulus,
    equal_stimulus_type,
    get_stimuli,
    identify_unpresented_stimuli,
    recording_stimulus,
    stimulus_type,
    unpresented_stimulus_indexes,
)
from cldata.toolkit.preprocess import GROUND_CHANNELS, MEA_LAYOUT, REFERENCE_CHANNEL

STIMULI = [
    {"stimulation": {"type": "burst", "frequency": 4, "amplitude": 1.5 * pq.uA}},
    {"stimulation": {"type": "burst", "frequency": 8}, "st_amplitude": 1500 * pq.nA},  # st_ folded in
    {"st_type": "single", "st_frequency": 4.0, "st_amplitude": 1.5 * pq.uA},
    {},  # spontaneous
]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("stim")
    s = cldata.open(root / "store", mode="w")
    ids = []
    for i, params in enumerate(STIMULI):
        path = root / f"r{i}.h5"
        cldata.simulate(path, seconds=0.05, seed=10 + i)
        ids.append(s.add_recording(path, {"culture": "C1", "n": i, **params}))
    for i, rid in enumerate(ids):
        s.add_analysis_result(cldata.SingleValue("rate", float(i) * pq.Hz, parameters={"window_s": 1}, sources=[rid]))
    s.add_analysis_result(cldata.SingleValue("rate", 9.0 * pq.Hz, parameters={"window_s": 2}, sources=[]))
    s.commit()
    yield s
    s.close()


def test_a_recordings_stimulus_is_its_stimulation_parameters_with_st_ones_folded_in(store):
    assert [r.stimulus for r in store.recordings] == get_stimuli(store) == store.get_stimuli()
    first, second, third, spontaneous = store.get_stimuli()
    assert first == {"type": "burst", "frequency": 4, "amplitude": 1.5 * pq.uA}
    assert second["frequency"] == 8 and second["amplitude"] == 1500 * pq.nA
    assert third == {"type": "single", "frequency": 4.0, "amplitude": 1.5 * pq.uA}
    assert spontaneous == {}
    assert [stimulus_type(s) for s in store.get_stimuli()] == ["burst", "burst", "single", None]
    assert stimulus_type({"name": "FullfieldDriftingSinusoidalGrating"}) == "FullfieldDriftingSinusoidalGrating"
    store.recordings[0].stimulus["frequency"] = 99  # a copy: the store is unchanged
    assert store.recordings[0].stimulus["frequency"] == 4


def test_a_stimulus_given_twice_with_different_values_or_not_a_dict_raises():
    with pytest.raises(ParameterError, match="twice"):
        recording_stimulus({"stimulation": {"frequency": 4}, "st_frequency": 8})
    assert recording_stimulus({"stimulation": {"frequency": 4}, "st_frequency": 4.0}) == {"frequency": 4}
    with pytest.raises(ParameterError, match="not a dict"):
        recording_stimulus({"stimulation": "burst"})


def test_equal_stimulus_compares_by_value_except_the_parameters_named(store):
    bursts = store.filter(st_type="burst")
    assert not equal_stimulus(bursts)
    assert equal_stimulus(bursts, except_params=["frequency"])  # 1.5 uA == 1500 nA
    assert bursts.equal_stimulus(except_params=["st_frequency"])
    fours = store.filter(n=[0, 2])  # (st_frequency=4 would not find the third: queries read stimulation.frequency)
    assert not fours.equal_stimulus() and fours.equal_stimulus(except_params=["type"])  # 4 == 4.0
    assert equal_stimulus_type(bursts) and bursts.equal_stimulus_type() and not store.equal_stimulus_type()
    assert equal_stimulus(store.filter(n=3)) and equal_stimulus(store.filter(n=[]))  # one, none


def test_ads_with_equal_stimuli_look_at_the_results_source_recordings(store):
    with_sources = store.filter_results(window_s=1)
    assert not ads_with_equal_stimuli(with_sources)
    bursts = store.filter(st_type="burst")  # their recordings and the results from them
    assert len(bursts.analysis_results) == 2
    assert ads_with_equal_stimulus_type(bursts) and bursts.ads_with_equal_stimulus_type()
    assert not ads_with_equal_stimuli(bursts) and bursts.ads_with_equal_stimuli(except_params=["frequency"])
    # a result without a source recording has no stimulus
    everything = store.root_view
    assert not everything.ads_with_equal_stimulus_type()
    lone = store.filter_results(window_s=2)
    assert not lone.ads_with_equal_stimulus_type() and lone.ads_with_equal_stimulus_type(allow_none=True)
    assert lone.ads_with_equal_stimuli()  # one result: trivially equal


def test_identify_unpresented_stimuli_keeps_those_no_recording_had(store):
    asked = [{"type": "burst", "frequency": 4, "amplitude": 1500 * pq.nA},  # presented (units by value)
             {"type": "burst", "frequency": 16},
             {},  # presented: the spontaneous recording
             {"st_type": "single", "st_frequency": 4, "st_amplitude": 1.5 * pq.uA}]  # presented, st_ spelling
    assert identify_unpresented_stimuli(store, asked) == [{"type": "burst", "frequency": 16}]
    assert store.identify_unpresented_stimuli(asked) == [{"type": "burst", "frequency": 16}]
    assert unpresented_stimulus_indexes(store, asked) == [1]
    assert store.filter(n=0).identify_unpresented_stimuli(asked) == asked[1:]
    with pytest.raises(ParameterError, match="dict"):
        identify_unpresented_stimuli(store, ["burst"])


def test_a_cl_recordings_neurons_are_the_mea_channels_in_grid_units(store):
    rec = store.recordings[0]
    positions = rec.get_neuron_positions()
    assert len(positions) == 64
    for channel, (column, row) in positions.items():
        assert MEA_LAYOUT[row][column] == channel
    assert positions[9] == (1, 1) and positions[63] == (7, 7) and mea_position(8) == (1, 0)
    notes = rec.get_neuron_annotations()
    assert {c for c, a in notes.items() if a["ground"]} == set(GROUND_CHANNELS)
    assert [c for c, a in notes.items() if a["reference"]] == [REFERENCE_CHANNEL]
    assert all((a["column"], a["row"]) == positions[c] for c, a in notes.items())
    view_positions = store.filter(n=[0, 1]).get_neuron_positions()
    assert list(view_positions) == store.recording_ids[:2] and view_positions[rec.id] == positions
    assert store.get_neuron_annotations()[rec.id] == notes
    with pytest.raises(ParameterError, match="MEA layout"):
        mea_position(64)


def test_the_stimulation_partition_reads_the_stimulus_st_parameters_included(store):
    parts = partition_by_stimulation_parameters(store, ["st_frequency"])
    assert [p.recording_ids for p in parts] == [[store.recording_ids[3]], store.recording_ids[:2],
                                                [store.recording_ids[2]]]  # {}, the bursts (1.5 uA == 1500 nA), single
    assert [len(p.analysis_results) for p in parts] == [1, 2, 1]  # the source-less result is in none
