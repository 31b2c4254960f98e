"""neo-native recordings in a store: neo segments, blocks and neo-readable files added, read back
equal object by object, queried by their annotations, windowed on their own time axis, analysed,
exported and reopened — with both backends; CL recordings beside them unchanged."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import quantities as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cldata
from cldata.analysis import FiringRate, StimulusTriggeredHistogram
from cldata.errors import (
    DuplicateRecordingError,
    NotARecordingError,
    OverviewError,
    UnsafeContentError,
    UnsupportedValueError,
    WindowOutsideRecordingsWarning,
)

neo = pytest.importorskip("neo")

BACKENDS = ["hdf5", "pickle"]
LISTS = ("analogsignals", "irregularlysampledsignals", "spiketrains", "events", "epochs")


def hand_built_block(seed: int = 0, subject: str = "rat1") -> neo.Block:
    """Signals of two rates and dtypes, an irregular signal, spike trains with waveforms, events,
    epochs, annotations and array annotations; the segment starts at 0.5 s."""
    rng = np.random.default_rng(seed)
    block = neo.Block(name="session", experimenter="ada", rig={"name": "mea2", "channels": 4})
    seg = neo.Segment(name="trial 1", subject=subject, trial=1, stimulus={"kind": "grating", "contrast": 0.5})
    block.segments.append(seg)
    t0 = 0.5 * pq.s
    fast = neo.AnalogSignal(rng.normal(size=(3000, 2)).astype(np.float32), units="mV",
                            sampling_rate=1 * pq.kHz, t_start=t0, name="lfp", electrode=3,
                            array_annotations={"channel_names": np.array(["a", "b"])})
    slow = neo.AnalogSignal(rng.normal(size=(750, 1)), units="uV", sampling_rate=250 * pq.Hz, t_start=t0,
                            name="temperature")
    irregular = neo.IrregularlySampledSignal(np.sort(rng.uniform(0.5, 3.5, 40)) * pq.s,
                                             rng.normal(size=(40, 1)), units="mV", name="pressure")
    seg.analogsignals += [fast, slow]
    seg.irregularlysampledsignals.append(irregular)
    for k in range(2):
        times = np.sort(rng.uniform(0.5, 3.5, 30 + 10 * k))
        st = neo.SpikeTrain(times * pq.s, t_start=t0, t_stop=3.5 * pq.s,
                            waveforms=rng.normal(size=(times.size, 1, 8)) * pq.mV,
                            sampling_rate=30 * pq.kHz, name=f"unit {k}", unit=k,
                            array_annotations={"quality": rng.uniform(size=times.size)})
        seg.spiketrains.append(st)
    seg.events.append(neo.Event(np.array([0.7, 1.0, 1.5, 2.0, 3.0]) * pq.s,
                                labels=np.array(["go", "stop", "go", "stop", "go"]), name="cues"))
    seg.epochs.append(neo.Epoch(np.array([0.6, 1.2, 2.5]) * pq.s, durations=np.array([0.2, 0.5, 0.3]) * pq.s,
                                labels=np.array(["rest", "run", "rest"]), name="behaviour"))
    return block


def _loaded(obj):
    return obj.load() if hasattr(obj, "load") else obj


def _same_array(a, b):
    if isinstance(a, pq.Quantity) or isinstance(b, pq.Quantity):
        assert a.dimensionality == b.dimensionality
        a, b = a.magnitude, b.magnitude
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def assert_same_object(got, want):
    assert type(got) is type(want)
    assert got.name == want.name and got.description == want.description
    assert got.annotations == want.annotations
    assert sorted(got.array_annotations) == sorted(want.array_annotations)
    for key, values in want.array_annotations.items():
        np.testing.assert_array_equal(got.array_annotations[key], values)
    if isinstance(want, pq.Quantity):
        _same_array(got, want)
        assert got.dtype == want.dtype
    for attr in ("t_start", "t_stop", "sampling_rate", "times", "durations", "labels", "waveforms"):
        w = getattr(want, attr, None)
        if w is not None:
            _same_array(getattr(got, attr), w)


def assert_same_segment(got, want):
    """Object by object (``recording_id``, the store's own annotation, aside)."""
    annotations = dict(got.annotations)
    annotations.pop("recording_id", None)
    assert annotations == want.annotations
    for name in LISTS:
        mine, theirs = getattr(got, name), getattr(want, name)
        assert len(mine) == len(theirs), name
        for a, b in zip(mine, theirs, strict=True):
            assert_same_object(_loaded(a), b)


def test_a_hand_built_block_is_stored_and_reads_back_equal_with_either_backend(tmp_path):
    for backend in BACKENDS:
        block = hand_built_block()
        root = tmp_path / backend
        with cldata.open(root, backend=backend, mode="a") as store:
            rid = store.add_recording(block, {"session": "s1", "subject": "rat9"})
        store = cldata.open(root)
        rec = store.recordings[0]
        assert rec.id == rid and rec.is_neo
        # the user's parameters win over the annotations; the block's annotations are parameters too
        assert rec.parameters["subject"] == "rat9" and rec.parameters["trial"] == 1
        assert rec.parameters["experimenter"] == "ada" and rec.parameters["stimulus"]["kind"] == "grating"
        want = block.segments[0]
        assert_same_segment(rec.segment(lazy=False), want)
        assert_same_segment(rec.segment(), want)  # lazy: proxies that load the same objects
        assert store.get_segments()[0].annotations["recording_id"] == rid
        store.close()


def test_neo_recordings_are_found_by_their_annotations_and_counted_without_opening(tmp_path):
    with cldata.open(tmp_path / "s", mode="a") as store:
        a = store.add_recording(hand_built_block(0, "rat1"))
        b = store.add_recording(hand_built_block(1, "rat2").segments[0])
        cl = store.add_recording(cldata.simulate(tmp_path / "cl.h5", seconds=0.2), {"subject": "rat1"})
    store = cldata.open(tmp_path / "s")
    assert sorted(r.id for r in store.filter(subject="rat1").recordings) == sorted([a, cl])
    assert [r.id for r in store.filter(stimulus={"kind": "grating", "contrast": 0.5}, subject="rat2").recordings] == [b]
    rec = store.recording(a)
    spikes = sum(len(st) for st in hand_built_block(0).segments[0].spiketrains)
    assert rec.counts() == {"duration_s": pytest.approx(3.0), "spikes": spikes, "stims": 0, "streams": {}}
    assert "(neo)" in repr(rec) and "2 spike trains" in repr(rec)
    assert rec.summary["layout"] == "neo" and rec.summary["signals"] == 2 and rec.summary["irregular_signals"] == 1
    frame = store.recordings_frame()
    assert set(frame["id"]) == {a, b, cl}
    assert frame.set_index("id").loc[a, "spikes"] == spikes
    store.print_content()
    assert "neo" in repr(store.recording(b))
    store.close()


def test_a_window_keeps_exactly_what_lies_in_it_on_the_segments_own_axis(tmp_path):
    block = hand_built_block()
    with cldata.open(tmp_path / "s", mode="a") as store:
        store.add_recording(block)
    store = cldata.open(tmp_path / "s")
    rec = store.between(1 * pq.s, 2 * pq.s).recordings[0]
    seg = rec.segment(lazy=False)
    want = block.segments[0]
    for got, orig in zip(seg.analogsignals, want.analogsignals, strict=True):
        times = orig.times.rescale(pq.s).magnitude
        keep = (times >= 1) & (times < 2)
        np.testing.assert_array_equal(got.magnitude, orig.magnitude[keep])
        assert float(got.t_start.rescale(pq.s)) == pytest.approx(1.0)
    for got, orig in zip(seg.spiketrains, want.spiketrains, strict=True):
        times = orig.times.rescale(pq.s).magnitude
        keep = (times >= 1) & (times < 2)
        np.testing.assert_array_equal(got.times.rescale(pq.s).magnitude, times[keep])
        np.testing.assert_array_equal(got.waveforms.magnitude, orig.waveforms.magnitude[keep])
    got_events = seg.events[0].times.rescale(pq.s).magnitude
    np.testing.assert_array_equal(got_events, [1.0, 1.5])
    spikes = sum(int(((st.times >= 1 * pq.s) & (st.times < 2 * pq.s)).sum()) for st in want.spiketrains)
    assert rec.counts()["spikes"] == spikes
    assert rec.counts()["duration_s"] == pytest.approx(1.0)
    late = store.between(3.2 * pq.s, 4 * pq.s).recordings[0]  # the segment ends at 3.5 s
    assert late.counts()["duration_s"] == pytest.approx(0.3) and "3.2" in repr(late) and "3.5" in repr(late)
    store.close()


def test_a_window_past_frame_duration_but_inside_a_late_segment_does_not_warn(tmp_path):
    with cldata.open(tmp_path / "s", mode="a") as store:
        store.add_recording(hand_built_block())  # [0.5 s, 3.5 s)
        with warnings.catch_warnings():
            warnings.simplefilter("error", WindowOutsideRecordingsWarning)
            assert store.between(3.2 * pq.s, 4 * pq.s).recordings[0].counts()["spikes"] >= 0


def test_spike_analyses_run_over_a_store_of_neo_recordings(tmp_path):
    block = hand_built_block()
    # events named "stims" are the recording's stimulations (as in the neo segments of CL recordings)
    block.segments[0].events.append(neo.Event(np.array([1.0, 2.0]) * pq.s, labels=np.array(["0", "1"]), name="stims"))
    with cldata.open(tmp_path / "s", mode="a") as store:
        rid = store.add_recording(block)
        FiringRate().perform_analysis(store)
        FiringRate().perform_analysis(store.between(1 * pq.s, 2 * pq.s))
        StimulusTriggeredHistogram().perform_analysis(store)
        rates = store.filter(analysis="FiringRate").get_analysis_result(identifier="firing_rate")
        assert store.recording(rid).counts()["stims"] == 2
        assert len(store.filter(analysis="StimulusTriggeredHistogram").analysis_results) > 0
        with pytest.raises(UnsupportedValueError, match="neo recording"):
            store.recording(rid).analyse_firing_stats()
    trains = block.segments[0].spiketrains
    whole = next(r for r in rates if "window" not in r.parameters)  # (the windowed one has its window)
    assert list(whole.sources) == [rid]
    np.testing.assert_allclose(np.asarray(whole.values.rescale(pq.Hz))[:2], [len(t) / 3.0 for t in trains])


def test_an_export_keeps_neo_recordings_whole_and_windowed(tmp_path):
    for backend in BACKENDS:
        block = hand_built_block()
        root = tmp_path / backend
        with cldata.open(root, backend=backend, mode="a") as store:
            store.add_recording(block)
            store.add_recording(cldata.simulate(tmp_path / f"cl-{backend}.h5", seconds=0.2))
        store = cldata.open(root)
        store.export(tmp_path / f"{backend}.h5")
        store.between(1 * pq.s, 2 * pq.s).export(tmp_path / f"{backend}-window.h5")
        with cldata.open(tmp_path / f"{backend}.h5") as shared:
            neo_rec = next(r for r in shared.recordings if r.is_neo)
            assert_same_segment(neo_rec.segment(lazy=False), block.segments[0])
            assert neo_rec.parameters["subject"] == "rat1"
            assert len([r for r in shared.recordings if not r.is_neo]) == 1
            shared.export(tmp_path / f"{backend}-again.h5")  # an export of an export
        with cldata.open(tmp_path / f"{backend}-again.h5") as again:
            assert_same_segment(next(r for r in again.recordings if r.is_neo).segment(lazy=False), block.segments[0])
        original = store.between(1 * pq.s, 2 * pq.s).recordings
        want = next(r for r in original if r.is_neo).segment(lazy=False)
        with cldata.open(tmp_path / f"{backend}-window.h5") as shared:
            neo_rec = next(r for r in shared.recordings if r.is_neo)
            got = neo_rec.segment(lazy=False)
            for name in LISTS:
                for a, b in zip(getattr(got, name), getattr(want, name), strict=True):
                    assert_same_object(_loaded(a), _loaded(b))
            assert neo_rec.counts()["spikes"] == next(r for r in original if r.is_neo).counts()["spikes"]
        store.close()


def test_the_same_segment_twice_is_a_duplicate(tmp_path):
    block = hand_built_block()
    with cldata.open(tmp_path / "s", mode="a") as store:
        store.add_recording(block)
        with pytest.raises(DuplicateRecordingError):
            store.add_recording(hand_built_block())  # built again: the same content
        other = store.add_recording(hand_built_block(seed=1))
        assert len(store.recordings) == 2 and other in store.recording_ids


def test_a_segment_cannot_be_linked_and_a_failed_block_adds_nothing(tmp_path):
    block = hand_built_block()
    block.segments.append(hand_built_block().segments[0])  # the same content twice
    with cldata.open(tmp_path / "s", mode="a") as store:
        with pytest.raises(cldata.errors.ParameterError, match="link=True"):
            store.add_recording(hand_built_block(), link=True)
        with pytest.raises(DuplicateRecordingError, match="twice"):
            store.add_recording(block)
        assert len(store.recordings) == 0


def test_a_block_of_several_segments_gives_one_recording_each(tmp_path):
    block = hand_built_block()
    second = hand_built_block(seed=2).segments[0]
    block.segments.append(second)
    with cldata.open(tmp_path / "s", mode="a") as store:
        ids = store.add_recording(block)
        assert isinstance(ids, list) and len(ids) == 2
        assert_same_segment(store.recording(ids[1]).segment(lazy=False), second)


def test_a_neo_matlab_file_and_a_neo_recording_view_are_added(tmp_path):
    pytest.importorskip("scipy", reason="NeoMatlabIO needs scipy")
    block = hand_built_block()
    for train in block.segments[0].spiketrains:  # (NeoMatlabIO keeps no array annotations of spike
        train.array_annotations.clear()          # trains: the data are compared)
    path = tmp_path / "session.mat"
    neo.io.NeoMatlabIO(str(path)).write_block(block)
    with cldata.open(tmp_path / "s", mode="a") as store:
        rid = store.add_recording(path, {"format": "matlab"})
        got = store.recording(rid).segment(lazy=False)
        for a, b in zip(got.analogsignals, block.segments[0].analogsignals, strict=True):
            _same_array(_loaded(a), b)
        for a, b in zip(got.spiketrains, block.segments[0].spiketrains, strict=True):
            _same_array(_loaded(a).times, b.times)
        assert store.recording(rid).parameters["format"] == "matlab"
        # a store's own neo view, windowed, adds what it shows
        window = store.recording(rid).view().between(1 * pq.s, 2 * pq.s)
        part = store.add_recording(window)
        assert store.recording(part).summary["spikes"] == len(window.read_spikes())


def test_a_file_neither_cl_nor_neo_is_refused_with_a_clear_error(tmp_path):
    junk = tmp_path / "notes.xyz"
    junk.write_text("not a recording")
    pickle_file = tmp_path / "block.pkl"
    pickle_file.write_bytes(b"\x80\x04N.")
    with cldata.open(tmp_path / "s", mode="a") as store:
        with pytest.raises(NotARecordingError, match="neither a CL recording"):
            store.add_recording(junk)
        with pytest.raises(UnsafeContentError, match="pickle"):
            store.add_recording(pickle_file)
        assert len(store.recordings) == 0


def test_overviews_of_neo_recordings_are_envelopes_of_their_signals(tmp_path):
    block = hand_built_block()
    want = block.segments[0]
    with cldata.open(tmp_path / "s", mode="a") as store:
        store.add_recording(block)
        rec = store.recordings[0]
        env = rec.overview(width=100)  # 3000 samples of 2 channels at 1 kHz, from 0.5 s
        assert (env.start, env.stop, env.frames_per_point, env.frames_per_second) == (500, 3500, 30, 1000)
        values = want.analogsignals[0].magnitude  # bins aligned to multiples of 30 frames from 0 s
        assert env.edges[:3].tolist() == [500, 510, 540] and env.edges[-2:].tolist() == [3480, 3500]
        np.testing.assert_array_equal(env.minimum[0], values[:10].min(axis=0))
        np.testing.assert_array_equal(env.maximum[1], values[10:40].max(axis=0))
        np.testing.assert_array_equal(env.maximum[-1], values[2980:].max(axis=0))
        slow = store.between(1 * pq.s, 2 * pq.s).recordings[0].overview(signal=1, width=1000)
        assert (slow.start, slow.stop, slow.frames_per_point, slow.units) == (250, 500, 1, "uV")
        np.testing.assert_array_equal(slow.minimum[:, 0], want.analogsignals[1].magnitude[125:375, 0].astype(np.float32))
        activity = rec.spike_activity(width=3)
        assert activity.counts.sum() == sum(len(st) for st in want.spiketrains)
        assert activity.counts[:, 1].sum() == len(want.spiketrains[1])
        with pytest.raises(OverviewError, match="no analog signal 5"):
            rec.overview(signal=5)


def test_a_nix_file_is_added_read_back_and_queried(tmp_path):
    pytest.importorskip("nixio", reason="NixIO needs the nixio package")
    block = hand_built_block()
    path = tmp_path / "session.nix"
    with neo.io.NixIO(str(path), mode="ow") as io:
        io.write_block(block)
    with neo.io.NixIO(str(path), mode="ro") as io:
        want = io.read_block()
    for backend in BACKENDS:
        root = tmp_path / backend
        with cldata.open(root, backend=backend, mode="a") as store:
            rid = store.add_recording(path)
            with pytest.raises(DuplicateRecordingError):
                store.add_recording(path)
        store = cldata.open(root)
        assert [r.id for r in store.filter(subject="rat1").recordings] == [rid]
        got = store.recordings[0].segment(lazy=False)
        for name in LISTS:  # (NixIO adds annotations of its own: the data are compared)
            for a, b in zip(getattr(got, name), getattr(want.segments[0], name), strict=True):
                a = _loaded(a)
                _same_array(a.times, b.times)
                if isinstance(b, pq.Quantity):
                    _same_array(a, b)
        store.close()


_keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)  # ("a__b" is a path to filter)
_leaves = st.one_of(st.integers(-2**40, 2**40), st.floats(allow_nan=False, allow_infinity=False, width=64),
                    st.text(max_size=12), st.booleans())
_values = st.recursive(_leaves, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                        st.dictionaries(_keys, inner, max_size=3)), max_leaves=6)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(annotations=st.dictionaries(_keys, _values, min_size=1, max_size=4))
def test_any_annotations_become_parameters_a_query_finds(tmp_path_factory, annotations):
    root = tmp_path_factory.mktemp("store")
    seg = neo.Segment()
    seg.annotations.update(annotations)  # (as annotations even when named like a Segment argument: "name"...)
    seg.spiketrains.append(neo.SpikeTrain([0.1, 0.2] * pq.s, t_stop=1 * pq.s))
    with cldata.open(root / "s", mode="a") as store:
        rid = store.add_recording(seg)
        assert dict(store.recording(rid).parameters) == annotations
        for key, value in annotations.items():  # (a list given to filter means "one of these")
            if not isinstance(value, list):
                assert [r.id for r in store.filter(**{key: value}).recordings] == [rid]
        assert_same_segment(store.recording(rid).segment(lazy=False), seg)


def test_cldata_check_reads_neo_recordings_in_a_store_and_in_its_export(tmp_path):
    from cldata.app.check import check_path

    with cldata.open(tmp_path / "s", mode="a") as store:
        store.add_recording(hand_built_block(), {"culture": "n1"})
    report = check_path(tmp_path / "s", deep=True)
    assert report.healthy, [str(p) for p in report.problems]
    with cldata.open(tmp_path / "s") as store:
        store.export(tmp_path / "x.h5")
    report = check_path(tmp_path / "x.h5", deep=True)
    assert report.healthy, [str(p) for p in report.problems]
    # a damaged copy is reported, not taken for a CL file
    with cldata.open(tmp_path / "s") as store:
        copy = store.recordings[0].path
    data = bytearray(copy.read_bytes())
    middle = len(data) // 2
    data[middle: middle + 64] = bytes(b ^ 0xFF for b in data[middle: middle + 64])
    copy.write_bytes(bytes(data))
    report = check_path(tmp_path / "s", deep=True)
    assert not report.healthy and any("recording" in p.where for p in report.problems)


def test_st_queries_reach_top_level_st_annotations_of_neo_recordings(tmp_path):
    # mozaik-style segments annotate their stimulus as st_<name>; a recording's stimulus folds them in
    with cldata.open(tmp_path / "s", mode="a") as store:
        for orientation in (0.5, 1.0):
            seg = neo.Segment(st_orientation=orientation, sheet_name="V1")
            seg.spiketrains.append(neo.SpikeTrain([0.1, 0.2] * pq.s, t_stop=1 * pq.s))
            store.add_recording(seg)
    with cldata.open(tmp_path / "s") as store:
        assert [r.parameters["st_orientation"] for r in store.filter(st_orientation=0.5).recordings] == [0.5]
        assert len(store.filter(st_orientation=[0.5, 1.0]).recordings) == 2
        assert store.filter(st_orientation=1.0).recordings[0].stimulus == {"orientation": 1.0}


def test_neurons_of_a_neo_recording_are_its_spike_trains_and_their_annotations(tmp_path):
    seg = neo.Segment()
    for i, position in enumerate(([10.0, 20.0], None)):
        ann = {"channel": 5 + i, "layer": "L4"}
        if position is not None:
            ann["position"] = position
        seg.spiketrains.append(neo.SpikeTrain([0.1] * pq.s, t_stop=1 * pq.s, name=f"unit {i}", **ann))
    with cldata.open(tmp_path / "s", mode="a") as store:
        store.add_recording(seg)
    with cldata.open(tmp_path / "s") as store:
        rec = store.recordings[0]
        assert rec.get_neuron_positions() == {5: (10.0, 20.0)}       # not the CL MEA layout
        annotations = rec.get_neuron_annotations()
        assert sorted(annotations) == [5, 6] and annotations[6]["layer"] == "L4"
        assert annotations[5]["name"] == "unit 0"
