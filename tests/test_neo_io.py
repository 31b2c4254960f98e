"""The neo view of CL recordings (cldata.format.neo_io) on real files: the CL simulator's
fixture and recordings written here with cldata.RecordingWriter."""

from __future__ import annotations

import json
from pathlib import Path

import neo
import numpy as np
import pytest
import quantities as pq
from neo.io.proxyobjects import AnalogSignalProxy, EventProxy, SpikeTrainProxy

import cldata
from cldata.format.neo_io import CLIO, CLRawIO, read_segment
from cldata.format.neo_io import spike_table as neo_io

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "cl"
if not FIXTURES.is_dir():
    FIXTURES = Path("/work/shared/fixtures/cl")
SIM = FIXTURES / "sim_small_recording.h5"
FPS = 25_000
UV = 0.195
N_FRAMES = 12_500


@pytest.fixture(scope="module")
def expected() -> dict:
    with open(FIXTURES / "sim_small_recording.expected.json") as f:
        return json.load(f)["sim_small_recording.h5"]


@pytest.fixture
def sim():
    with cldata.RecordingView(SIM) as view:
        yield view


def _write(path: Path, *, samples: bool = True, seed: int = 3) -> dict:
    """A 0.5 s recording with spikes on most (not all) channels, stims and samples."""
    rng = np.random.default_rng(seed)
    n = 600
    ts = np.sort(rng.integers(0, N_FRAMES, n))
    ts[:3] = [0, 0, 2500]  # spikes exactly at the start and at a window edge
    ts[-1] = N_FRAMES - 1
    ts = np.sort(ts)
    used = np.array([c for c in range(64) if c % 7 != 3])  # channels 3, 10, 17, ... never spike
    ch = rng.choice(used, n)
    wf = rng.normal(0, 20, (n, 75)).astype(np.float32)
    stim_ts = np.array([100, 2499, 2500, 2500, 4999, 5000, 9000])
    stim_ch = np.array([1, 2, 3, 4, 5, 6, 63])
    data = rng.integers(-2000, 2000, (N_FRAMES, 64)).astype(np.int16)
    w = cldata.RecordingWriter(path, attributes={"culture": "C7", "session": 3}, durable=False)
    w.append_spikes(ts, ch, wf)
    w.append_stims(stim_ts, stim_ch)
    if samples:
        w.append_samples(data)
    w.close()
    return {"ts": ts, "ch": ch, "wf": wf, "stim_ts": stim_ts, "stim_ch": stim_ch, "samples": data}


@pytest.fixture
def written(tmp_path):
    path = tmp_path / "rec.h5"
    content = _write(path)
    with cldata.RecordingView(path) as view:
        yield view, content


def _spikes_of(content: dict, channel: int, start: int = 0, stop: int = N_FRAMES):
    sel = (content["ch"] == channel) & (content["ts"] >= start) & (content["ts"] < stop)
    return content["ts"][sel], content["wf"][sel]


# -- the simulator's fixture -----------------------------------------------------------------


def test_fixture_spiketrains_match_the_table(sim, expected):
    seg = sim.segment(lazy=False)
    assert isinstance(seg, neo.Segment)
    assert len(seg.spiketrains) == 64
    table = sim.spikes.read()
    assert sum(len(st) for st in seg.spiketrains) == expected["spikes"]["n"] == len(table)
    for c, st in enumerate(seg.spiketrains):
        rows = table[table["channel"] == c]
        assert st.annotations["channel"] == c
        assert st.annotations["channel_name"] == f"ch{c}"
        np.testing.assert_array_equal(st.times.rescale(pq.s).magnitude, rows["timestamp"] / FPS)
        assert st.waveforms.shape == (len(rows), 1, 75)
        assert st.waveforms.units == pq.uV
        np.testing.assert_array_equal(st.waveforms.magnitude[:, 0, :], rows["samples"])
        assert st.t_start == 0 * pq.s and st.t_stop == 0.5 * pq.s
        assert st.sampling_rate == FPS * pq.Hz
        assert st.left_sweep.rescale(pq.ms) == 1 * pq.ms  # 25 frames
    total = sum(float(st.waveforms.magnitude.astype(np.float64).sum()) for st in seg.spiketrains)
    assert total == pytest.approx(expected["spikes"]["waveform_sum"], rel=1e-6)


def test_fixture_samples_and_stims(sim, expected):
    seg = sim.segment(lazy=False)
    (sig,) = seg.analogsignals
    raw = sim.samples.read()
    assert sig.shape == tuple(expected["samples"]["shape"]) == (N_FRAMES, 64)
    assert sig.units == pq.uV
    assert sig.sampling_rate == FPS * pq.Hz
    assert sig.t_start == 0 * pq.s
    np.testing.assert_allclose(sig.magnitude, raw.astype(np.float64) * UV, rtol=1e-6, atol=1e-4)
    assert list(sig.array_annotations["channel_ids"]) == [str(c) for c in range(64)]
    assert list(sig.array_annotations["channel_names"]) == [f"ch{c}" for c in range(64)]

    (stims,) = seg.events
    assert stims.name == "stims"
    np.testing.assert_array_equal(stims.times.rescale(pq.s).magnitude, np.array(expected["stims"]["timestamps"]) / FPS)
    assert list(stims.labels) == [str(c) for c in expected["stims"]["channels"]]
    assert list(stims.array_annotations["channel"]) == expected["stims"]["channels"]


def test_fixture_segment_annotations(sim, expected):
    seg = sim.segment()
    assert seg.file_origin == str(SIM)
    for key, value in expected["attributes"].items():
        if isinstance(value, (str, int, float)):
            assert seg.annotations[key] == value, key
        else:
            assert key not in seg.annotations, key  # dicts stay out of the annotations
    assert seg.rec_datetime.year == 2026


def test_fixture_lazy_segment_holds_proxies(sim):
    seg = sim.segment()  # lazy is the reader's default
    assert len(seg.spiketrains) == 64
    assert all(isinstance(st, SpikeTrainProxy) for st in seg.spiketrains)
    assert isinstance(seg.analogsignals[0], AnalogSignalProxy)
    assert isinstance(seg.events[0], EventProxy)
    assert seg.analogsignals[0].shape == (N_FRAMES, 64)
    assert sum(st.shape[0] for st in seg.spiketrains) == 32
    assert seg.events[0].shape == (3,)


# -- recordings written here -----------------------------------------------------------------


def test_written_recording_eager(written):
    view, content = written
    seg = read_segment(view, lazy=False)
    assert len(seg.spiketrains) == 64
    assert seg.annotations["channel_count"] == 64
    assert "application" not in seg.annotations  # a dict: only scalar attributes annotate the segment
    for c, st in enumerate(seg.spiketrains):
        ts, wf = _spikes_of(content, c)
        np.testing.assert_array_equal(st.magnitude, ts / FPS)
        np.testing.assert_array_equal(st.waveforms.magnitude[:, 0, :], wf)
        if c % 7 == 3:
            assert len(st) == 0 and st.waveforms.shape == (0, 1, 75)
    np.testing.assert_allclose(seg.analogsignals[0].magnitude, content["samples"] * UV, rtol=1e-6, atol=1e-4)
    ev = seg.events[0]
    np.testing.assert_array_equal(ev.magnitude, content["stim_ts"] / FPS)
    assert list(ev.labels) == [str(c) for c in content["stim_ch"]]
    np.testing.assert_array_equal(ev.array_annotations["channel"], content["stim_ch"])


def test_lazy_loads_equal_eager(written):
    view, _ = written
    eager = view.segment(lazy=False)
    lazy = view.segment(lazy=True)
    for proxy, st in zip(lazy.spiketrains, eager.spiketrains, strict=True):
        assert proxy.shape == st.shape
        loaded = proxy.load()
        np.testing.assert_array_equal(loaded.magnitude, st.magnitude)
        np.testing.assert_array_equal(loaded.waveforms.magnitude, st.waveforms.magnitude)
        assert loaded.t_start == st.t_start and loaded.t_stop == st.t_stop
        assert loaded.annotations["channel"] == st.annotations["channel"]
    sig = lazy.analogsignals[0].load()
    np.testing.assert_array_equal(sig.magnitude, eager.analogsignals[0].magnitude)
    raw = lazy.analogsignals[0].load(magnitude_mode="raw")
    np.testing.assert_array_equal(raw.magnitude, view.samples.read())
    ev = lazy.events[0].load()
    np.testing.assert_array_equal(ev.magnitude, eager.events[0].magnitude)
    np.testing.assert_array_equal(ev.labels, eager.events[0].labels)
    np.testing.assert_array_equal(ev.array_annotations["channel"], eager.events[0].array_annotations["channel"])


def test_time_slices_return_exactly_the_slice(written):
    view, content = written
    seg = view.segment(lazy=True)
    t0, t1 = 0.1 * pq.s, 0.2 * pq.s  # frames [2500, 5000)
    for c, proxy in enumerate(seg.spiketrains):
        ts, wf = _spikes_of(content, c, 2500, 5000)
        part = proxy.load(time_slice=(t0, t1))
        np.testing.assert_array_equal(part.magnitude, ts / FPS)
        np.testing.assert_array_equal(part.waveforms.magnitude[:, 0, :], wf)
        assert part.t_start == t0 and part.t_stop == t1
    assert 2500 in content["ts"]  # the slice starts on a spike, which it keeps
    sig = seg.analogsignals[0].load(time_slice=(t0, t1))
    assert sig.shape == (2500, 64)
    assert sig.t_start == t0
    np.testing.assert_allclose(sig.magnitude, content["samples"][2500:5000] * UV, rtol=1e-6, atol=1e-4)
    chans = seg.analogsignals[0].load(time_slice=(t0, t1), channel_indexes=[5, 9])
    np.testing.assert_allclose(chans.magnitude, content["samples"][2500:5000, [5, 9]] * UV, rtol=1e-6, atol=1e-4)
    ev = seg.events[0].load(time_slice=(t0, t1))
    np.testing.assert_array_equal(ev.magnitude * FPS, [2500, 2500, 4999])
    assert list(ev.labels) == ["3", "4", "5"]
    np.testing.assert_array_equal(ev.array_annotations["channel"], [3, 4, 5])


def test_lazy_segment_reads_no_waveforms_and_slices_read_only_their_rows(written, monkeypatch):
    view, _ = written
    fields = []
    real = neo_io._read_field

    def spy(table, where, field, source):
        fields.append((field, where))
        return real(table, where, field, source)

    monkeypatch.setattr(neo_io, "_read_field", spy)
    seg = view.segment(lazy=True)
    assert not [f for f, _ in fields if f == "samples"]  # no waveform is read to build it
    assert seg.spiketrains[0]._rawio._waveform_block is None  # nor kept from the pass that counts spikes
    # no column read of spike times either: they come from that same pass
    assert not [w for f, w in fields if f == "timestamp" and w[1] - w[0] > 1]

    rawio = seg.analogsignals[0]._rawio
    requested = []

    class Recorder:
        def __init__(self, array):
            self.array, self.nrows = array, array.nrows

        def __getitem__(self, key):
            requested.append(key)
            return self.array[key]

        def __getattr__(self, name):  # shape, atom, chunkshape: as the array's
            return getattr(self.array, name)

    rawio._samples = Recorder(rawio._samples)
    seg.analogsignals[0].load(time_slice=(0.3 * pq.s, 0.31 * pq.s))
    assert requested == [slice(7500, 7750)]

    fields.clear()
    st = seg.spiketrains[1].load(time_slice=(0.3 * pq.s, 0.4 * pq.s))
    wf_reads = [w for f, w in fields if f == "samples"]
    assert len(wf_reads) == 1 and len(wf_reads[0]) == len(st)


def test_lazy_waveforms_flag(written):
    view, _ = written
    with_wf = read_segment(view, lazy=True)
    without = read_segment(view, lazy=True, waveforms=False)
    assert with_wf.spiketrains[0].load().waveforms is not None
    assert without.spiketrains[0].load().waveforms is None
    assert without.spiketrains[0].load(load_waveforms=True).waveforms.shape[1:] == (1, 75)
    eager = read_segment(view, lazy=False, waveforms=False, signals=False)
    assert eager.spiketrains[0].waveforms is None
    assert len(eager.analogsignals) == 0


@pytest.mark.parametrize("how", ["window", "between", "quantities"])
def test_windowed_view_gives_only_the_window(written, how):
    view, content = written
    if how == "window":
        windowed = cldata.RecordingView(view.path, window=(2500, 5000))
    elif how == "between":
        windowed = view.between(2500, 5000)
    else:
        windowed = view.between(0.1 * pq.s, 0.2 * pq.s)
    for lazy in (False, True):
        seg = windowed.segment(lazy=lazy)
        sig = seg.analogsignals[0] if not lazy else seg.analogsignals[0].load()
        assert sig.t_start == 0.1 * pq.s
        assert sig.shape == (2500, 64)
        np.testing.assert_allclose(sig.magnitude, content["samples"][2500:5000] * UV, rtol=1e-6, atol=1e-4)
        for c, st in enumerate(seg.spiketrains):
            st = st.load() if lazy else st
            ts, wf = _spikes_of(content, c, 2500, 5000)
            assert st.t_start == 0.1 * pq.s and st.t_stop == 0.2 * pq.s
            np.testing.assert_array_equal(st.magnitude, ts / FPS)
            np.testing.assert_array_equal(st.waveforms.magnitude[:, 0, :], wf)
        ev = seg.events[0].load() if lazy else seg.events[0]
        np.testing.assert_array_equal(ev.magnitude * FPS, [2500, 2500, 4999])
    # the raw API counts samples from the window's start
    raw = CLRawIO(view=windowed)
    raw.parse_header()
    chunk = raw.get_analogsignal_chunk(i_start=10, i_stop=20, stream_index=0, channel_indexes=[0, 63])
    np.testing.assert_array_equal(chunk, content["samples"][2510:2520, [0, 63]])
    assert raw.get_signal_t_start(0, 0, 0) == pytest.approx(0.1)
    with pytest.raises(IndexError):
        raw.get_analogsignal_chunk(i_start=0, i_stop=2501, stream_index=0)
    if how == "window":
        windowed.close()  # the other two share the fixture's file


def test_window_is_clipped_to_the_recording(written):
    view, content = written
    seg = view.between(10_000, 10**9).segment(lazy=False)
    assert seg.t_start == 0.4 * pq.s and seg.t_stop == 0.5 * pq.s
    assert seg.analogsignals[0].shape == (2500, 64)
    assert sum(len(st) for st in seg.spiketrains) == int(np.sum(content["ts"] >= 10_000))
    empty = view.between(20_000, 30_000).segment(lazy=False)
    assert sum(len(st) for st in empty.spiketrains) == 0
    assert empty.analogsignals[0].shape == (0, 64)
    assert len(empty.events[0]) == 0


def test_recording_without_samples(tmp_path):
    path = tmp_path / "nosamples.h5"
    content = _write(path, samples=False)
    with cldata.RecordingView(path) as view:
        for lazy in (True, False):
            seg = view.segment(lazy=lazy)
            assert len(seg.analogsignals) == 0
            assert len(seg.spiketrains) == 64
            st = seg.spiketrains[1].load() if lazy else seg.spiketrains[1]
            np.testing.assert_array_equal(st.magnitude, _spikes_of(content, 1)[0] / FPS)
            assert len(seg.events[0].load() if lazy else seg.events[0]) == len(content["stim_ts"])


def test_recording_without_spikes_or_stims(tmp_path):
    path = tmp_path / "quiet.h5"
    w = cldata.RecordingWriter(path, durable=False)
    w.append_samples(np.ones((100, 64), np.int16))
    w.close()
    with cldata.RecordingView(path) as view:
        seg = view.segment(lazy=False)
        assert len(seg.spiketrains) == 64
        assert all(len(st) == 0 for st in seg.spiketrains)
        assert len(seg.events[0]) == 0
        assert seg.analogsignals[0].shape == (100, 64)
        np.testing.assert_allclose(seg.analogsignals[0].magnitude, UV, rtol=1e-6)


def test_neo_io_from_a_filename(written):
    view, content = written
    io = CLIO(filename=str(view.path))
    try:
        block = io.read_block(lazy=False, load_waveforms=True)
        (seg,) = block.segments
        assert len(seg.spiketrains) == 64
        np.testing.assert_array_equal(seg.spiketrains[2].magnitude, _spikes_of(content, 2)[0] / FPS)
        np.testing.assert_array_equal(seg.spiketrains[2].waveforms.magnitude[:, 0, :], _spikes_of(content, 2)[1])
        lazy = io.read_segment(lazy=True)
        assert isinstance(lazy.spiketrains[0], SpikeTrainProxy)
        assert lazy.spiketrains[0].load().waveforms is None  # neo's default for its IOs
    finally:
        io.close()
    assert not io.view.file.isopen

    windowed = CLIO(view.path, window=(0.1 * pq.s, 0.2 * pq.s))
    seg = windowed.read_segment()
    assert seg.t_start == 0.1 * pq.s and seg.analogsignals[0].shape == (2500, 64)
    windowed.close()


def test_rawio_api_from_a_filename(written):
    view, content = written
    raw = CLRawIO(filename=view.path)
    raw.parse_header()
    assert raw.block_count() == 1 and raw.segment_count(0) == 1
    assert raw.signal_channels_count(0) == 64 and raw.spike_channels_count() == 64
    assert raw.get_signal_size(0, 0, 0) == N_FRAMES
    ts = raw.get_spike_timestamps(spike_channel_index=5, t_start=0.1, t_stop=0.3)
    expected_ts = _spikes_of(content, 5, 2500, 7500)[0]
    np.testing.assert_array_equal(ts, expected_ts)
    np.testing.assert_array_equal(raw.rescale_spike_timestamp(ts), expected_ts / FPS)
    assert raw.spike_count(spike_channel_index=5) == len(_spikes_of(content, 5)[0])
    wf = raw.get_spike_raw_waveforms(spike_channel_index=5, t_start=0.1, t_stop=0.3)
    np.testing.assert_array_equal(wf[:, 0, :], _spikes_of(content, 5, 2500, 7500)[1])
    ev_ts, durations, labels = raw.get_event_timestamps(event_channel_index=0)
    np.testing.assert_array_equal(ev_ts, content["stim_ts"])
    assert durations is None
    np.testing.assert_array_equal(raw.rescale_event_timestamp(ev_ts), content["stim_ts"] / FPS)
    raw.close()


def test_rawio_needs_a_source():
    with pytest.raises(TypeError, match="filename or a RecordingView"):
        CLRawIO()
