"""neo-native recordings (cldata.format.neo_file): lossless round trips, windows, laziness, neo files."""

from __future__ import annotations

import datetime
import os

import neo
import numpy as np
import pytest
import quantities as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from neo.io.proxyobjects import BaseProxy
from neo.test.tools import assert_same_sub_schema

import cldata
from cldata.errors import CorruptRecordingError, NotARecordingError, OutputExistsError, UnsupportedValueError
from cldata.format.neo_file import NeoRecordingView, is_neo_recording, neo_segments, write_neo_recording

KINDS = ("analogsignals", "irregularlysampledsignals", "spiketrains", "events", "epochs")
RNG = np.random.default_rng(16)


def _annotations() -> dict:
    return {"int": 3, "neg": -2**40, "float": 0.25, "nan": float("nan"), "bool": True, "none": None, "str": "säule",
            "bytes": b"\x00\x01", "list": [1, "a", [2.5, None]], "dict": {"k": {"deep": [1, 2]}},
            "array": np.arange(4, dtype=np.int8), "farray": np.array([[1.5, np.nan]], dtype=np.float32),
            "quantity": 3.5 * pq.mV, "qarray": np.array([1.0, 2.0]) * pq.ms, "f32": np.float32(1.25),
            "u64": np.uint64(2**64 - 1), "complex": 1 + 2j, "strings": np.array(["a", "bc"])}


def build_segment() -> neo.Segment:
    """A segment starting at 0.5 s with every kind of object, two rates and dtypes, many annotations."""
    seg = neo.Segment(name="trial 1", description="hand-built", file_origin="test", index=4,
                      rec_datetime=datetime.datetime(2026, 12, 4, 23, 50, 1, 500),
                      stimulus="grating", contrast=0.5, **{"orientation": [0, 45]})
    block = neo.Block(name="blk", experimenter="A. N. Other", sheet_size=[10, 10])
    block.segments.append(seg)
    seg.block = block
    fast = neo.AnalogSignal(RNG.normal(size=(2500, 3)).astype(np.float32), units="uV", sampling_rate=1 * pq.kHz,
                            t_start=0.5 * pq.s, name="fast", description="float32 at 1 kHz", file_origin="rig",
                            array_annotations={"channel_name": np.array(["a", "b", "c"]),
                                               "gain": np.array([1.0, 2.0, 0.5])},
                            **_annotations())
    slow = neo.AnalogSignal(RNG.integers(-2000, 2000, size=(625, 2)).astype(np.int16), units="mV",
                            sampling_rate=250 * pq.Hz, t_start=500 * pq.ms, name="slow",
                            array_annotations={"electrode": np.array([7, 9])}, kind="lfp")
    irregular = neo.IrregularlySampledSignal(np.array([600.0, 1000.0, 1500.5, 2000.0, 2900.0]) * pq.ms,
                                             RNG.normal(size=(5, 2)), units="nA", name="irr",
                                             array_annotations={"probe": np.array([1, 2])}, note="ms times")
    seg.analogsignals.extend([fast, slow])
    seg.irregularlysampledsignals.append(irregular)
    for ch, times in enumerate([[0.6, 1.0, 1.25, 1.999, 2.0, 2.5], [700.0, 1500.0, 2999.0]]):
        units = pq.s if ch == 0 else pq.ms
        n = len(times)
        train = neo.SpikeTrain(np.array(times) * units, t_start=(0.5 * pq.s).rescale(units),
                               t_stop=(3.0 * pq.s).rescale(units), sampling_rate=30 * pq.kHz,
                               left_sweep=0.2 * pq.ms, name=f"unit {ch}",
                               waveforms=RNG.normal(size=(n, 1, 8)).astype(np.float32) * pq.uV,
                               array_annotations={"amplitude": RNG.normal(size=n), "sorted": np.arange(n) % 2 == 0},
                               channel=10 + ch, quality="good")
        seg.spiketrains.append(train)
    seg.events.append(neo.Event(np.array([0.5, 1.0, 1.5, 2.0]) * pq.s, labels=np.array(["3", "5", "3", "8"]),
                                name="stims", array_annotations={"channel": np.array([3, 5, 3, 8])}, stimulation=True))
    seg.events.append(neo.Event(np.array([1200.0]) * pq.ms, labels=np.array(["reward"]), name="markers"))
    seg.epochs.append(neo.Epoch(np.array([0.5, 1.0, 2.0]) * pq.s, durations=np.array([0.5, 0.25, 1.0]) * pq.s,
                                labels=np.array(["rest", "stim", "rest"]), name="phases",
                                array_annotations={"n": np.array([1, 2, 3])}))
    return seg


def _same_value(a, b) -> None:
    assert type(a) is type(b) or (isinstance(a, (float, str, bytes)) and type(b) in (float, str, bytes)), (a, b)
    if isinstance(a, pq.Quantity):
        assert a.dimensionality.string == b.dimensionality.string
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same_value(a[k], b[k])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same_value(x, y)
    else:
        assert a == b or (a != a and b != b)


def assert_same_object(a, b) -> None:
    """Exactly equal: class, values (dtype and units), times, rates, names, annotations, array annotations."""
    assert type(a) is type(b)
    for attr in ("name", "description", "file_origin"):
        assert getattr(a, attr) == getattr(b, attr), attr
    _same_value(a.annotations, b.annotations)
    _same_value(dict(a.array_annotations), dict(b.array_annotations))
    _same_value(pq.Quantity(a), pq.Quantity(b))
    for attr in ("t_start", "t_stop", "sampling_rate", "left_sweep", "times", "durations", "labels", "waveforms"):
        x, y = getattr(a, attr, None), getattr(b, attr, None)
        if x is None or y is None:
            assert x is None and y is None, attr
        else:
            _same_value(x, y)


def assert_same_segment(a: neo.Segment, b: neo.Segment) -> None:
    for attr in ("name", "description", "file_origin", "rec_datetime", "index"):
        assert getattr(a, attr) == getattr(b, attr), attr
    _same_value(a.annotations, b.annotations)
    for kind in KINDS:
        assert len(getattr(a, kind)) == len(getattr(b, kind)), kind
        for x, y in zip(getattr(a, kind), getattr(b, kind)):
            assert_same_object(x, y)
    assert_same_sub_schema(a, b, equal_almost=False)


def _loaded(seg: neo.Segment) -> neo.Segment:
    out = neo.Segment(name=seg.name, description=seg.description, file_origin=seg.file_origin,
                      rec_datetime=seg.rec_datetime, index=seg.index, **seg.annotations)
    for kind in KINDS:
        getattr(out, kind).extend([o.load() if isinstance(o, BaseProxy) else o for o in getattr(seg, kind)])
    return out


@pytest.fixture
def written(tmp_path):
    seg = build_segment()
    return seg, write_neo_recording(seg, tmp_path / "seg.h5")


def test_round_trip_of_a_hand_built_segment_is_exact(written):
    seg, path = written
    with NeoRecordingView(path) as view:
        back = view.segment(lazy=False)
        assert_same_segment(seg, back)
        assert back.block is not None and back.block.name == "blk"
        _same_value(seg.block.annotations, back.block.annotations)
        assert view.annotations == {"stimulus": "grating", "contrast": 0.5, "orientation": [0, 45]}


def test_lazy_segment_holds_proxies_that_load_the_same_objects(written):
    seg, path = written
    with NeoRecordingView(path) as view:
        lazy = view.segment(lazy=True)
        for kind in KINDS:
            for proxy, original in zip(getattr(lazy, kind), getattr(seg, kind)):
                assert isinstance(proxy, BaseProxy) and not isinstance(proxy, type(original))
                assert proxy.proxy_for is type(original)
                assert proxy.name == original.name and proxy.annotations.keys() == original.annotations.keys()
        sig = lazy.analogsignals[0]
        assert sig.shape == seg.analogsignals[0].shape and sig.t_start == 0.5 * pq.s
        assert lazy.spiketrains[1].shape == (3,)
        assert_same_segment(seg, _loaded(lazy))
        part = sig.load(time_slice=(1 * pq.s, 1.5 * pq.s))
        assert_same_object(seg.analogsignals[0].time_slice(1 * pq.s, 1.5 * pq.s), part)


def _windowed(obj, t0, t1):
    """What lies in [t0, t1) of an object, built with neo's own slicing."""
    if isinstance(obj, neo.AnalogSignal):
        return obj.time_slice(t0, t1)
    times = obj.times.rescale(pq.s).magnitude
    keep = (times >= float(t0.rescale(pq.s))) & (times < float(t1.rescale(pq.s)))
    if isinstance(obj, neo.SpikeTrain):
        out = obj.time_slice(t0, t1)[keep[(times >= float(t0)) & (times <= float(t1))]]
        out.t_start, out.t_stop = max(obj.t_start, t0.rescale(obj.units)), min(obj.t_stop, t1.rescale(obj.units))
        return out
    if isinstance(obj, neo.IrregularlySampledSignal):
        return neo.IrregularlySampledSignal(obj.times[keep], obj.magnitude[keep], units=obj.units)
    return obj[keep]


def test_window_keeps_exactly_what_lies_in_it(written):
    seg, path = written
    t0, t1 = 1 * pq.s, 2 * pq.s
    with NeoRecordingView(path, window=(t0, t1)) as view:
        for lazy in (False, True):
            back = view.segment(lazy=lazy)
            back = _loaded(back) if lazy else back
            for kind in KINDS:
                for original, got in zip(getattr(seg, kind), getattr(back, kind)):
                    times = got.times.rescale(pq.s).magnitude
                    assert ((times >= 1.0) & (times < 2.0)).all(), (kind, times)
                    expected = _windowed(original, t0, t1)
                    _same_value(pq.Quantity(expected), pq.Quantity(got))
                    _same_value(expected.times, got.times)
        assert back.analogsignals[0].t_start == 1 * pq.s and back.analogsignals[0].shape == (1000, 3)
        assert back.analogsignals[1].shape == (250, 2)
        assert list(back.spiketrains[0].times.magnitude) == [1.0, 1.25, 1.999]
        assert back.spiketrains[0].t_start == 1 * pq.s and back.spiketrains[0].t_stop == 2 * pq.s
        assert list(back.spiketrains[0].array_annotations["amplitude"]) == list(
            seg.spiketrains[0].array_annotations["amplitude"][1:4])
        assert back.spiketrains[0].waveforms.shape == (3, 1, 8)
        assert list(back.events[0].labels) == ["5", "3"]
        assert list(back.epochs[0].times.magnitude) == [1.0]


def test_frames_between_and_spikes_share_one_timebase(written):
    _, path = written
    with NeoRecordingView(path) as view:
        assert view.frames_per_second == 1000
        assert view.t_start == 0.5 * pq.s and view.t_stop == 3.0 * pq.s
        assert view.duration_seconds == 2.5 and view.duration_frames == 3000
        assert (view.spike_train_count, view.signal_count, view.channel_count) == (2, 2, 3)
        by_frames = view.between(1000, 2000)
        by_time = view.between(1 * pq.s, 2 * pq.s)
        assert by_frames.window == by_time.window == (1000, 2000)
        spikes = by_time.read_spikes()
        assert spikes.dtype.names == ("timestamp", "channel")
        assert list(spikes["timestamp"]) == [1000, 1250, 1500, 1999]
        assert list(spikes["channel"]) == [10, 10, 11, 10]
        assert list(view.read_spikes(channels=[11])["timestamp"]) == [700, 1500, 2999]
        assert by_time.read_spikes(waveforms=True)["samples"].shape == (4, 8)
        stims = view.read_stims(1000, 2000)
        assert list(stims["timestamp"]) == [1000, 1500] and list(stims["channel"]) == [5, 3]


def test_unstorable_annotations_are_refused_by_name_and_nothing_is_written(tmp_path):
    cases = {"pair": (1, 2), "when": datetime.datetime(2026, 1, 1), "mixed": np.array([1, "a", None], dtype=object),
             "odd_unit": 2.0 * pq.CompoundUnit("1/30000*s"), "obj": object()}
    for key, value in cases.items():
        seg = build_segment()
        seg.spiketrains[1].annotations[key] = value
        with pytest.raises(UnsupportedValueError, match=f"spiketrains\\[1\\].*'{key}'"):
            write_neo_recording(seg, tmp_path / "bad.h5")
        assert os.listdir(tmp_path) == []


def test_an_existing_file_is_kept_unless_overwrite(written):
    seg, path = written
    with pytest.raises(OutputExistsError):
        write_neo_recording(neo.Segment(), path)
    write_neo_recording(neo.Segment(name="empty"), path, overwrite=True)
    with NeoRecordingView(path) as view:
        empty = view.segment(lazy=False)
        assert empty.name == "empty" and view.duration_frames == 0 and len(view.read_spikes()) == 0
        assert len(view.read_stims()) == 0


def test_is_neo_recording_tells_this_layout_from_cl_and_other_files(written, tmp_path):
    _, path = written
    cl = cldata.simulate(tmp_path / "cl.h5", seconds=0.2, channels=4)
    (tmp_path / "notes.txt").write_text("hello")
    assert is_neo_recording(path)
    assert not is_neo_recording(cl)
    assert not is_neo_recording(tmp_path / "notes.txt")
    assert not is_neo_recording(tmp_path / "missing.h5")
    with pytest.raises(NotARecordingError):
        NeoRecordingView(cl)


def test_neo_segments_of_segments_blocks_and_bad_paths(tmp_path):
    seg = build_segment()
    assert neo_segments(seg) == [seg]
    assert neo_segments(seg.block) == [seg]
    (tmp_path / "x.unknownext").write_text("?")
    with pytest.raises(NotARecordingError, match="x.unknownext"):
        neo_segments(tmp_path / "x.unknownext")
    (tmp_path / "broken.nix").write_bytes(b"not hdf5 at all")
    with pytest.raises(NotARecordingError, match="broken.nix.*NixIO"):
        neo_segments(tmp_path / "broken.nix")
    with pytest.raises(FileNotFoundError):
        neo_segments(tmp_path / "missing.nix")
    assert not (tmp_path / "missing.nix").exists()


def _store_and_compare(segments, tmp_path) -> None:
    for i, seg in enumerate(segments):
        seg = _loaded(seg)
        path = write_neo_recording(seg, tmp_path / f"s{i}.h5")
        with NeoRecordingView(path) as view:
            assert_same_segment(seg, view.segment(lazy=False))
            assert_same_segment(seg, _loaded(view.segment(lazy=True)))


def test_a_file_written_by_nixio_reads_back_equal(tmp_path):
    pytest.importorskip("nixio", reason="NixIO needs the nixio package")
    block = build_segment().block
    for sig in block.segments[0].analogsignals:  # NIX keeps annotations of the plain kinds only
        sig.annotations.clear()
    block.segments.append(neo.Segment(name="second"))
    block.segments[1].analogsignals.append(neo.AnalogSignal(np.ones((10, 1)), units="V", sampling_rate=1 * pq.Hz))
    with neo.io.NixIO(str(tmp_path / "data.nix"), mode="ow") as io:
        io.write_block(block)
    segments = neo_segments(tmp_path / "data.nix")
    assert [s.name for s in segments] == ["trial 1", "second"]
    _store_and_compare(segments, tmp_path)
    np.testing.assert_array_equal(segments[0].analogsignals[1].magnitude, block.segments[0].analogsignals[1].magnitude)


def test_a_raw_binary_file_read_lazily_by_neo_reads_back_equal(tmp_path):
    sig = neo.AnalogSignal(RNG.normal(size=(400, 4)).astype(np.float32), units="uV", sampling_rate=2 * pq.kHz)
    seg = neo.Segment()
    seg.analogsignals.append(sig)
    neo.io.RawBinarySignalIO(str(tmp_path / "raw.raw"), dtype="float32", sampling_rate=2000.0,
                             nb_channel=4).write_segment(seg)
    segments = neo_segments(tmp_path / "raw.raw", dtype="float32", sampling_rate=2000.0, nb_channel=4)
    assert isinstance(segments[0].analogsignals[0], BaseProxy)  # the IO's lazy mode
    path = write_neo_recording(segments[0], tmp_path / "raw.h5")  # loads the proxies while writing
    with NeoRecordingView(path) as view:
        back = view.segment(lazy=False)
        assert_same_segment(_loaded(segments[0]), back)
        np.testing.assert_array_equal(back.analogsignals[0].magnitude, sig.magnitude)  # the raw file keeps no units


def test_a_matlab_file_written_by_neo_reads_back_equal(tmp_path):
    pytest.importorskip("scipy.io")
    seg = build_segment()
    seg.block = None
    for kind in KINDS:
        for obj in getattr(seg, kind):
            obj.annotations.clear()
            obj.array_annotations = {}
    seg.annotations.clear()
    block = neo.Block(name="mat")
    block.segments.append(seg)
    neo.io.NeoMatlabIO(str(tmp_path / "data.mat")).write_block(block)
    segments = neo_segments(tmp_path / "data.mat")
    assert len(segments[0].spiketrains) == 2
    _store_and_compare(segments, tmp_path)


plain = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**64 - 1) | st.floats(allow_nan=True) | st.text(max_size=8)
    | st.binary(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=plain)
def test_any_plain_annotation_round_trips(tmp_path, value):
    seg = neo.Segment(value=value)
    seg.events.append(neo.Event(np.array([1.0]) * pq.s, labels=np.array(["x"]), value=value))
    path = write_neo_recording(seg, tmp_path / "h.h5", overwrite=True)
    with NeoRecordingView(path) as view:
        back = view.segment(lazy=False)
        _same_value(value, back.annotations["value"])
        _same_value(value, back.events[0].annotations["value"])


def test_a_crafted_file_is_refused_without_running_anything(written, tmp_path):
    import tables

    _, path = written
    with tables.open_file(str(path), "a") as h5:  # values replaced by a node of pickled objects
        h5.remove_node("/analogsignals/o000000/values")
        vl = h5.create_vlarray("/analogsignals/o000000", "values", tables.ObjectAtom())
        vl.append([1, 2])
    with pytest.raises(CorruptRecordingError, match="values"):
        NeoRecordingView(path)
    assert is_neo_recording(path)  # the layout is declared; opening it says what is wrong
    with tables.open_file(str(tmp_path / "fake.h5"), "w") as h5:
        h5.root._v_attrs.cldata_layout = "neo-segment"
        h5.root._v_attrs.cldata_layout_version = 1
    with pytest.raises(CorruptRecordingError, match="missing"):
        NeoRecordingView(tmp_path / "fake.h5")
