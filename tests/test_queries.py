"""Query semantics: parameters, predicates, streams, time windows, tags, partitions, composition, classes."""

from __future__ import annotations

import numpy as np
import pytest
import quantities as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cldata
from cldata.errors import ForeignViewError, NotFoundError, ParameterError, UniquenessError
from cldata.format.simulate import simulate_recording
from cldata.query import (
    AnyOf,
    Approx,
    Exists,
    Not,
    Range,
    equal_recording_parameters,
    equal_result_kinds,
    equal_results,
    equal_stimulation,
    partition_by_stimulation_parameters,
    partition_results_by_parameters,
    partition_results_by_stimulation_parameters,
    partition_results_by_values_of,
)
from cldata.query.base import ParamFilterQuery, query_from_spec
from cldata.query.params import brute_force_filter

CULTURES = ["C1", "C2", "C3"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A store of 12 real recordings (with streams, spikes, samples) and 36 results."""
    tmp = tmp_path_factory.mktemp("lab")
    store = cldata.open(tmp / "store", mode="a")
    for i in range(12):
        path = tmp / f"r{i}.h5"
        simulate_recording(path, duration_s=0.2, seed=100 + i, samples=i % 3 == 0,
                           attributes={"experiment": "pong" if i % 2 else "rest"})
        params = {
            "culture": CULTURES[i % 3],
            "session": i,
            "div": 14 + (i % 4) * 0.5,  # float-valued
            "electrodes": [i % 5, (i + 1) % 5],
            "stimulation": {"frequency": [4, 8][i % 2], "amplitude": 0.5 + (i % 3) * 0.25, "pattern": "burst" if i < 6 else "single"},
            "gain": (1 + i % 2) * pq.mV,
        }
        rid = store.add_recording(path, params)
        for w in (0.5, 1, 2):
            store.add_analysis_result(cldata.SingleValue(
                "mean_rate", float(i + w) * pq.Hz, parameters={"window_s": w, "method": "count"}, sources=[rid],
                tags=["final"] if w == 1 else ["draft", "fast"] if w == 0.5 else []))
    store.commit()
    yield store
    store.close()


def ids(view):
    return view.recording_ids, [r.id for r in view.analysis_results]


def test_conditions_and_together_and_lists_mean_any_of(lab):
    v = lab.filter(culture="C1", experiment="pong")
    assert {r.parameters["session"] for r in v.recordings} == {3, 9}
    v = lab.filter(culture=["C1", "C2"])
    assert sorted({r.parameters["culture"] for r in v.recordings}) == ["C1", "C2"] and len(v.recordings) == 8
    assert lab.filter(culture=[]).recording_ids == []


def test_dotted_keys_double_underscores_and_st_prefix_reach_nested_parameters(lab):
    a = lab.filter(**{"stimulation.frequency": 8})
    b = lab.filter(stimulation__frequency=8)
    c = lab.filter(st_frequency=8)
    assert ids(a) == ids(b) == ids(c) and len(a.recordings) == 6
    assert {r.parameters["session"] for r in lab.filter(st_pattern="burst", st_frequency=4).recordings} == {0, 2, 4}
    assert lab.filter(application__experiment="rest").recording_ids == lab.filter(experiment="rest").recording_ids


def test_numbers_compare_by_value_and_quantities_by_physical_value(lab):
    assert lab.filter(session=3.0).recording_ids == lab.filter(session=3).recording_ids != []
    assert lab.filter(div=14).recording_ids == lab.filter(div=14.0).recording_ids
    assert lab.filter(gain=0.002 * pq.V).recording_ids == lab.filter(gain=2 * pq.mV).recording_ids != []
    assert lab.filter(window_s=1.0).analysis_results == lab.filter(window_s=1).analysis_results


def test_predicates(lab):
    assert {r.parameters["session"] for r in lab.filter(session=Range(3, 6)).recordings} == {3, 4, 5}
    assert {r.parameters["session"] for r in lab.filter(session=Range(3, 6, inclusive=(False, True))).recordings} == {4, 5, 6}
    assert {r.parameters["session"] for r in lab.filter(session=Range(None, 2)).recordings} == {0, 1}
    assert len(lab.filter(culture=Not("C1")).recordings) == 8
    assert len(lab.filter(culture=Not(["C1", "C2"])).recordings) == 4
    assert {r.parameters["session"] for r in lab.filter(electrodes=AnyOf(0)).recordings} == {0, 4, 5, 9, 10}
    # a tuple matches a list-valued parameter exactly; a list would mean "any of"
    assert {r.parameters["session"] for r in lab.filter(electrodes=(0, 1)).recordings} == {0, 5, 10}
    assert len(lab.filter(div=Approx(14.5000001, rel=1e-6)).recordings) == 3
    assert lab.filter(div=Approx(14.5000001)).recordings == []  # the default tolerance is tight
    assert len(lab.filter(gain=Range(1.5 * pq.mV, 1 * pq.V)).recordings) == 6
    assert len(lab.filter(st_amplitude=Exists()).recordings) == 12


def test_results_filter_by_their_own_parameters_and_their_sources(lab):
    v = lab.filter(culture="C2")
    assert len(v.recordings) == 4 and len(v.analysis_results) == 12
    assert all(r.sources[0] in v.recording_ids for r in v.analysis_results)
    # a result-only parameter leaves no recording (they lack it) and keeps matching results
    w = lab.filter(window_s=2)
    assert w.recording_ids == [] and len(w.analysis_results) == 12
    # identifier and kind concern results only
    assert len(lab.filter(identifier="mean_rate").recordings) == 12
    assert len(lab.filter(kind="SingleValue", window_s=Range(0, 1.5)).analysis_results) == 24
    assert lab.filter(identifier="other").analysis_results == []
    assert lab.filter_recordings(culture="C3").analysis_results == lab.analysis_results
    assert lab.filter_results(culture="C3").recordings == lab.recordings
    assert len(lab.filter_results(culture="C3").analysis_results) == 12


def test_uniqueness_checks(lab):
    one = lab.filter(session=5, window_s=1, ads_unique=True)
    assert one.analysis_results[0].value == 6.0 * pq.Hz
    with pytest.raises(UniquenessError, match="3 analysis results"):
        lab.filter(session=5, ads_unique=True)
    assert lab.filter(session=5, rec_unique=True).recordings[0].parameters["session"] == 5
    with pytest.raises(UniquenessError, match="0 recordings"):
        lab.filter(session=99, rec_unique=True)
    assert lab.get_analysis_result(identifier="mean_rate", session=2, window_s=0.5)[0].value == 2.5 * pq.Hz


def test_unknown_parameters_and_bad_values_raise(lab):
    with pytest.raises(ParameterError, match="cultur"):
        lab.filter(cultur="C1")
    with pytest.raises(ParameterError, match="given twice"):
        lab.filter(**{"st_frequency": 4, "stimulation.frequency": 4})
    with pytest.raises(TypeError):
        Range("a", "b")
    with pytest.raises(ParameterError):
        lab.between("0", 5)
    with pytest.raises(ParameterError, match="attribute"):
        lab.streams(colour="red")


def test_stream_queries(lab):
    only_score = lab.streams("score")
    rec = only_score.recordings[0]
    assert rec.stream_names == ["score"] and list(rec.data_streams) == ["score"]
    assert only_score.stream_names == ["score"]
    assert lab.streams("ball*").stream_names == ["ball_position"]
    assert lab.streams(["ball_position", "score"]).stream_names == ["ball_position", "score"]
    # a name no recording has raises, one the view lacks gives an empty view: tests/test_no_silent_empties.py
    assert lab.streams(units="px").stream_names == ["ball_position"]
    assert lab.streams(final=True).stream_names == ["score"]
    assert lab.streams("ball_position", final=True).recordings == []
    assert list(lab.streams("score").data_streams) == ["score"]


def test_the_time_window_is_honoured_by_every_reader(lab):
    view = lab.filter(session=0).between(0.05 * pq.s, 0.1 * pq.s)  # frames 1250 .. 2500
    rec = view.recordings[0]
    assert rec.window == (1250, 2500)
    ball = rec.data_streams["ball_position"]
    assert ball.timestamps.min() >= 1250 and ball.timestamps.max() < 2500 and len(ball) == 5
    rv = rec.view()
    spikes = rv.read_spikes()
    full = lab.filter(session=0).recordings[0].view().read_spikes()
    expected = full[(full["timestamp"] >= 1250) & (full["timestamp"] < 2500)]
    np.testing.assert_array_equal(spikes["timestamp"], expected["timestamp"])
    assert rv.read_samples().shape == (1250, 64)
    assert all(1250 <= t < 2500 for t in rv.read_stims()["timestamp"])
    seg = rec.segment(lazy=False)
    assert seg.t_start == 0.05 * pq.s and seg.t_stop == 0.1 * pq.s
    assert sum(len(st) for st in seg.spiketrains) == len(expected)
    assert seg.analogsignals[0].shape[0] == 1250
    # windows intersect, in any units
    narrower = view.between(2000, None)
    assert narrower.recordings[0].window == (2000, 2500)
    assert lab.between(0, 0.2 * pq.s).between(0.1 * pq.s, 10**9).recordings[0].window == (2500, 5000)


def test_a_window_reads_only_that_part_of_the_file(lab, monkeypatch):
    from cldata.format import stream_store as streams

    rec = lab.filter(session=0).recordings[0]
    store = rec.view().data_streams["ball_position"]._store
    store._blocks.clear()
    reads = []
    original = streams._StreamStore._read_node
    monkeypatch.setattr(streams._StreamStore, "_read_node", lambda self, a, b: reads.append((a, b)) or original(self, a, b))
    ts, starts, ends = store.arrays()
    lab.filter(session=0).between(4000, 4100).recordings[0].data_streams["ball_position"].read()
    inside = (ts >= 4000) & (ts < 4100)
    lo, hi = starts[inside].min(), ends[inside].max()
    assert reads and all(a <= lo and b >= hi for a, b in reads[:1])
    assert sum(b - a for a, b in reads) <= 2 * 65536  # one cache block or two, never the whole stream


def test_tag_queries(lab):
    assert len(lab.tagged("final").analysis_results) == 12
    assert len(lab.tagged("draft", "fast").analysis_results) == 12
    assert len(lab.tagged("final", "draft", any=True).analysis_results) == 24
    assert lab.tagged("final", "draft").analysis_results == []
    assert len(lab.tagged("final").recordings) == 12  # recordings are unaffected
    with pytest.raises(ParameterError):
        lab.tagged()


def test_partitions(lab):
    parts = lab.partition_by("culture")
    assert [p.parameter_values("culture") for p in parts] == [["C1"], ["C2"], ["C3"]]
    assert all(len(p.recordings) == 4 and len(p.analysis_results) == 12 for p in parts)
    combos = lab.partition_by("culture", "st_frequency")
    assert len(combos) == 6 and sum(len(p.recordings) for p in combos) == 12
    by_window = partition_results_by_values_of(lab, "window_s")
    assert [p.parameter_values("window_s", kind="results") for p in by_window] == [[0.5], [1], [2]]
    assert all(len(p.recordings) == 12 for p in by_window)
    all_but_method = partition_results_by_parameters(lab, ["method"], except_=True)
    assert len(all_but_method) == 3
    stim = partition_by_stimulation_parameters(lab, except_names=["amplitude", "pattern"])
    assert [p.parameter_values("st_frequency".replace("st_", "stimulation.")) for p in stim] == [[4], [8]]
    res_stim = partition_results_by_stimulation_parameters(lab, ["frequency"], except_=False)
    assert len(res_stim) == 2 and all(len(p.analysis_results) == 18 for p in res_stim)
    assert lab.partition_by("window_s")[0].recordings == []  # recordings lack it


def test_equal_helpers(lab):
    one = lab.filter(session=1)
    assert not equal_results(one) and equal_results(one, except_params=["window_s"])
    assert equal_results(lab.filter(window_s=1), names=["method"])
    assert equal_result_kinds(lab)
    assert equal_recording_parameters(lab.filter(culture="C1"), names=["culture"])
    assert not equal_recording_parameters(lab.filter(culture="C1"))
    assert equal_stimulation(lab.filter(st_frequency=4, st_pattern="burst", st_amplitude=0.5))
    assert not equal_stimulation(lab.filter(st_frequency=4))
    assert equal_stimulation(lab.filter(st_frequency=4), except_params=["amplitude", "pattern"])


def test_composition(lab, tmp_path, small_recording):
    a, b = lab.filter(culture="C1"), lab.filter(culture="C2")
    assert sorted((a | b).recording_ids) == sorted(a.recording_ids + b.recording_ids)
    assert (a & b).recording_ids == [] and (a & lab).recording_ids == a.recording_ids
    assert (lab - a).recording_ids == [r for r in lab.recording_ids if r not in a.recording_ids]
    assert (lab.between(0, 100) & lab.between(50, 200)).recordings[0].window == (50, 100)
    with pytest.raises(ParameterError, match="different time windows"):
        a | b.between(0, 10)
    with cldata.open(tmp_path / "other", mode="a") as other:
        other.add_recording(small_recording[0])
        with pytest.raises(ForeignViewError):
            a | other
    with pytest.raises(TypeError):
        a | 3


def test_views_are_immutable_and_deterministic(lab):
    v = lab.filter(culture="C1")
    with pytest.raises(AttributeError):
        v.full_datastore = None
    assert v.recording_ids == lab.filter(culture="C1").recording_ids
    assert v.recording_ids == sorted(v.recording_ids, key=lab.recording_ids.index)
    assert v.full_datastore is lab
    with pytest.raises(NotFoundError):
        v.recording(lab.filter(culture="C2").recording_ids[0])
    assert "C1" in v._repr_html_() and "4 recordings" in repr(v)


def test_query_classes_and_chains(lab):
    q = ParamFilterQuery({"params": {"culture": "C1"}, "rec_unique": False})
    assert q.query(lab).recording_ids == lab.filter(culture="C1").recording_ids
    with pytest.raises(ParameterError) as info:
        ParamFilterQuery({"parms": {}, "ads_unique": "yes"})
    text = str(info.value)
    assert "missing ['params']" in text and "unexpected ['parms']" in text and "'ads_unique' should be bool" in text
    with pytest.raises(ParameterError, match="unknown query class"):
        query_from_spec({"class": "__import__", "params": {}})
    chain = [
        {"class": "ParamFilterQuery", "params": {"params": {"session": {"$range": [0, 6]}, "gain": {"$quantity": [2, "mV"]}}}},
        {"class": "StreamQuery", "params": {"stream_names": "score"}},
        {"class": "TimeWindowQuery", "params": {"start": 0, "stop": {"$quantity": [0.1, "s"]}}},
        {"class": "TagBasedQuery", "params": {"tags": ["final"]}},
        {"class": "PartitionByParametersQuery", "params": {"parameter_names": ["culture"]}},
        {"class": "FilterResultsQuery", "params": {"params": {"window_s": 1}}},
    ]
    parts = lab.query(chain)
    manual = (lab.filter(session=Range(0, 6), gain=2 * pq.mV).streams("score").between(0, 0.1 * pq.s)
              .tagged("final").partition_by("culture"))
    assert [ids(p) for p in parts] == [ids(m) for m in manual] and len(parts) == 3
    with pytest.raises(ParameterError, match="malformed"):
        lab.query([{"class": "ParamFilterQuery", "params": {"params": {"session": {"$between": 1}}}}])


# -- property: the indexed filter returns exactly what a brute-force scan returns ---------------

values_pool = st.one_of(
    st.sampled_from(CULTURES + ["C9"]),
    st.integers(0, 13),
    st.sampled_from([14, 14.5, 15.0, 15.5, 4, 8, 0.5, 0.75, 1, 2, "burst", "single", "pong", "rest"]),
    st.sampled_from([1 * pq.mV, 0.002 * pq.V]),
)
paths = st.sampled_from(["culture", "session", "div", "electrodes", "st_frequency", "st_amplitude", "stimulation.pattern",
                         "gain", "experiment", "window_s", "method", "identifier"])


def conditions():
    return st.one_of(
        values_pool,
        st.lists(values_pool, max_size=3),
        values_pool.map(Not),
        st.tuples(st.integers(0, 14), st.integers(0, 14)).map(lambda ab: Range(min(ab), max(ab))),
        st.lists(st.integers(0, 5), min_size=1, max_size=2).map(lambda v: AnyOf(*v)),
        st.floats(0, 16).map(lambda x: Approx(x, abs=0.3)),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(paths, conditions(), min_size=1, max_size=3), st.sampled_from(["store", "C1|C2", "draft"]))
def test_indexed_filtering_equals_brute_force(lab, criteria, start):
    base = {"store": lab, "C1|C2": lab.filter(culture=["C1", "C2"]), "draft": lab.tagged("draft")}[start]
    view = base.filter(**criteria)
    want_recs, want_results = brute_force_filter(base, **criteria)
    assert view.recording_ids == want_recs
    assert [r.id for r in view.analysis_results] == want_results
