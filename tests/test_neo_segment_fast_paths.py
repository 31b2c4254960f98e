"""The block reads behind neo segments (cldata.format.neo_io): spike columns and waveforms read
in chunks of whole records and grouped by channel, checked against a brute-force read of the
spike table, in whole files, windows, odd chunk sizes, and tables CL never writes."""

from __future__ import annotations

import numpy as np
import pytest
import quantities as pq
import tables
from neo.io.basefromrawio import BaseFromRaw

import cldata
from cldata.format.layout import SPIKE_DTYPE
from cldata.format.neo_io import CLIO, read_segment
from cldata.format.neo_io import spike_table as neo_io

FPS = 25_000
N_FRAMES = 50_000
QUIET = (3, 17, 63)  # channels that never spike


def _write(path, n: int = 3000, seed: int = 5) -> None:
    rng = np.random.default_rng(seed)
    ts = np.sort(rng.integers(0, N_FRAMES, n))
    ts[0], ts[-1] = 0, N_FRAMES - 1
    used = np.array([c for c in range(64) if c not in QUIET])
    ch = rng.choice(used, n)
    wf = rng.normal(0, 20, (n, 75)).astype(np.float32)
    wf[:, 0] = np.arange(n)  # each row's own number, so a row out of place cannot go unnoticed
    with cldata.RecordingWriter(path, attributes={"culture": "C1"}, durable=False) as w:
        w.append_spikes(ts, ch, wf)
        w.append_stims(np.array([10, 20_000]), np.array([1, 2]))
        w.close(end_timestamp=N_FRAMES)


def _crafted(path, ts, ch, channel_count: int = 64) -> None:
    # a spike table as given, in any order (the writer refuses what CL never writes)
    with tables.open_file(str(path), "w") as f:
        f.root._v_attrs["frames_per_second"] = np.int64(FPS)
        f.root._v_attrs["channel_count"] = np.int64(channel_count)
        rows = np.zeros(len(ts), dtype=SPIKE_DTYPE)
        rows["timestamp"], rows["channel"] = ts, ch
        rows["samples"] = np.arange(len(ts))[:, None] + np.arange(75)[None, :] / 100
        f.create_table("/", "spikes", obj=rows)


def _brute(path, start: int = 0, stop: int = 2**62, channel_count: int = 64) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each channel's (times in s, waveforms): its rows of the spike table in [start, stop), in file order."""
    with tables.open_file(str(path)) as f:
        rows = f.root.spikes.read() if "spikes" in f.root else np.zeros(0, SPIKE_DTYPE)
    rows = rows[(rows["timestamp"] >= start) & (rows["timestamp"] < stop)]
    out = []
    for c in range(channel_count):
        mine = rows[rows["channel"] == c]
        out.append((mine["timestamp"] / FPS, mine["samples"]))
    return out


def _assert_matches(trains, expected, waveforms: bool = True, channels=None) -> None:
    assert len(trains) == len(expected)
    channels = range(len(trains)) if channels is None else channels
    for c, st, (times, wf) in zip(channels, trains, expected, strict=True):
        assert st.annotations["channel"] == c
        assert st.dtype == np.float64 and st.units == pq.s
        np.testing.assert_array_equal(st.magnitude, times)
        if not waveforms:
            assert st.waveforms is None
            continue
        assert st.waveforms.shape == (len(times), 1, 75)
        assert st.waveforms.dtype == np.float32 and st.waveforms.units == pq.uV
        np.testing.assert_array_equal(st.waveforms.magnitude[:, 0, :], wf)


def _assert_same_train(a, b) -> None:
    """Everything neo gives: values, dtypes, units, times, sweep, names and annotations."""
    assert type(a) is type(b)
    np.testing.assert_array_equal(a.magnitude, b.magnitude)
    assert a.dtype == b.dtype and a.units == b.units
    for name in ("t_start", "t_stop", "sampling_rate", "left_sweep"):
        x, y = getattr(a, name), getattr(b, name)
        assert x == y and x.units == y.units, name
    assert (a.name, a.description, a.file_origin) == (b.name, b.description, b.file_origin)
    assert a.annotations == b.annotations
    assert a.array_annotations.keys() == b.array_annotations.keys()
    for key in a.array_annotations:
        np.testing.assert_array_equal(a.array_annotations[key], b.array_annotations[key])
    if a.waveforms is None or b.waveforms is None:
        assert a.waveforms is None and b.waveforms is None
    else:
        assert a.waveforms.shape == b.waveforms.shape and a.waveforms.dtype == b.waveforms.dtype
        assert a.waveforms.units == b.waveforms.units
        np.testing.assert_array_equal(a.waveforms.magnitude, b.waveforms.magnitude)


@pytest.fixture(params=["default", "small"])
def chunks(request, monkeypatch):
    """Reads in the default chunk size, and in chunks of 37 rows (many chunks, a short last one)."""
    if request.param == "small":
        monkeypatch.setattr(neo_io, "_CHUNK_BYTES", SPIKE_DTYPE.itemsize * 37)
    return request.param


@pytest.fixture
def recording(tmp_path):
    path = tmp_path / "rec.h5"
    _write(path)
    return path


# -- values against the table ------------------------------------------------------------------


@pytest.mark.parametrize("window", [None, (0, N_FRAMES), (12_345, 40_001), (49_999, 50_000), (20_000, 20_000)])
def test_eager_trains_are_the_table_rows_of_their_channel(recording, chunks, window):
    with cldata.RecordingView(recording, window=window) as view:
        seg = view.segment(lazy=False)
        start, stop = window or (0, N_FRAMES)
        _assert_matches(seg.spiketrains, _brute(recording, start, stop))
        assert seg.spiketrains[0].t_start == start / FPS * pq.s


def test_lazy_loads_in_any_order_equal_eager(recording, chunks):
    with cldata.RecordingView(recording) as view:
        eager = view.segment(lazy=False)
        lazy = view.segment(lazy=True)
        order = np.random.default_rng(2).permutation(64)
        loaded = {int(c): lazy.spiketrains[c].load() for c in order}
        for c in range(64):
            _assert_same_train(loaded[c], eager.spiketrains[c])
        _assert_matches([loaded[c] for c in range(64)], _brute(recording))


@pytest.mark.parametrize("waveforms", [True, False])
@pytest.mark.parametrize("window", [None, (5000, 20_000)])
def test_the_eager_segment_is_the_one_neo_builds(recording, waveforms, window):
    # CLIO builds an eager segment's spike trains itself; neo's own read_segment is the reference
    with cldata.RecordingView(recording, window=window) as view:
        ours = CLIO(view=view).read_segment(lazy=False, load_waveforms=waveforms)
        ref = BaseFromRaw.read_segment(CLIO(view=view), lazy=False, load_waveforms=waveforms)
    assert ours.annotations == ref.annotations
    assert (ours.name, ours.file_origin, ours.index) == (ref.name, ref.file_origin, ref.index)
    assert len(ours.analogsignals) == len(ref.analogsignals) == 0
    np.testing.assert_array_equal(ours.events[0].magnitude, ref.events[0].magnitude)
    assert len(ours.spiketrains) == len(ref.spiketrains) == 64
    for a, b in zip(ours.spiketrains, ref.spiketrains, strict=True):
        _assert_same_train(a, b)
        assert a.segment is ours
        assert a.sampling_rate is not ours.spiketrains[0].sampling_rate or a is ours.spiketrains[0]


@pytest.mark.parametrize("window", [None, (5000, 20_000)])
def test_the_lazy_segment_is_the_one_neo_builds(recording, window):
    # CLIO assembles a lazy segment from neo's public classes, with cldata's proxies; neo's
    # own read_segment is the reference for what each proxy is and what it loads
    with cldata.RecordingView(recording, window=window) as view:
        ours = CLIO(view=view).read_segment(lazy=True)
        ref = BaseFromRaw.read_segment(CLIO(view=view), lazy=True)
        assert ours.annotations == ref.annotations
        assert (ours.name, ours.file_origin, ours.index) == (ref.name, ref.file_origin, ref.index)
        for mine, theirs in ((ours.spiketrains, ref.spiketrains), (ours.events, ref.events),
                             (ours.analogsignals, ref.analogsignals)):
            assert len(mine) == len(theirs)
            assert all(isinstance(a, type(b)) and a.segment is ours for a, b in zip(mine, theirs))
        for a, b in zip(ours.spiketrains, ref.spiketrains, strict=True):
            assert a.shape == b.shape and a.t_start == b.t_start and a.t_stop == b.t_stop
            assert a.annotations == b.annotations and a.name == b.name
            _assert_same_train(a.load(load_waveforms=True), b.load(load_waveforms=True))
            _assert_same_train(a.load(load_waveforms=False), b.load())
        mine, theirs = ours.events[0].load(), ref.events[0].load()
        np.testing.assert_array_equal(mine.magnitude, theirs.magnitude)
        np.testing.assert_array_equal(mine.labels, theirs.labels)
        assert mine.name == theirs.name and mine.annotations == theirs.annotations


def test_trains_without_waveforms(recording, chunks):
    with cldata.RecordingView(recording, window=(1000, 30_000)) as view:
        expected = _brute(recording, 1000, 30_000)
        _assert_matches(read_segment(view, lazy=False, waveforms=False).spiketrains, expected, waveforms=False)
        lazy = read_segment(view, lazy=True, waveforms=False)
        _assert_matches([p.load() for p in lazy.spiketrains], expected, waveforms=False)
        _assert_matches([p.load(load_waveforms=True) for p in lazy.spiketrains], expected)


def test_time_slices_before_and_after_the_block_is_read(recording, chunks):
    t0, t1 = 0.3 * pq.s, 1.1 * pq.s  # frames [7500, 27500)
    expected = _brute(recording, 7500, 27_500)
    with cldata.RecordingView(recording) as view:
        seg = view.segment(lazy=True)
        first = seg.spiketrains[5].load(time_slice=(t0, t1))  # a point selection of its rows
        second = seg.spiketrains[6].load(time_slice=(t0, t1))  # reads the block
        assert seg.spiketrains[0]._rawio._waveform_block is not None
        _assert_matches([first, second], expected[5:7], channels=[5, 6])
        # slices come out of the block as copies: the whole channel still loads whole afterwards
        whole = seg.spiketrains[6].load()
        _assert_matches([whole], _brute(recording)[6:7], channels=[6])
        # and a loaded train slices like any neo SpikeTrain
        part = whole.time_slice(t0, t1)
        np.testing.assert_array_equal(part.magnitude, expected[6][0])
        np.testing.assert_array_equal(part.waveforms.magnitude[:, 0, :], expected[6][1])


def test_eager_time_slice(recording, chunks):
    with cldata.RecordingView(recording) as view:
        seg = CLIO(view=view).read_segment(lazy=False, load_waveforms=True, time_slice=(0.5 * pq.s, 1.5 * pq.s))
        _assert_matches(seg.spiketrains, _brute(recording, 12_500, 37_500))


# -- memory: what is shared, what is kept ----------------------------------------------------


def test_no_two_trains_share_waveform_memory(recording):
    with cldata.RecordingView(recording) as view:
        eager = view.segment(lazy=False).spiketrains
        full = [st.waveforms for st in eager if len(st)]
        for i, a in enumerate(full):
            for b in full[i + 1 :]:
                assert not np.shares_memory(a, b)
        seg = view.segment(lazy=True)
        loaded = [p.load() for p in seg.spiketrains]
        again = seg.spiketrains[8].load()  # its part of the block went out already: read again from the file
        assert not np.shares_memory(again.waveforms, loaded[8].waveforms)
        loaded[8].waveforms[:] = 0 * pq.uV  # changing one train in place changes no other load
        _assert_matches([again, seg.spiketrains[8].load()], _brute(recording)[8:9] * 2, channels=[8, 8])


def test_the_block_is_let_go_once_every_channel_is_loaded(recording):
    with cldata.RecordingView(recording) as view:
        seg = view.segment(lazy=True)
        rawio = seg.spiketrains[0]._rawio
        assert rawio._waveform_block is None  # building the lazy segment keeps no waveform
        for c in range(64):
            seg.spiketrains[c].load()
            # the second channel reads the block; channel 62 is the last with spikes (63 is quiet)
            assert (rawio._waveform_block is not None) == (1 <= c < 62)
        assert all(np.array_equal(seg.spiketrains[c].load().waveforms.magnitude[:, 0, :], wf)
                   for c, (_, wf) in enumerate(_brute(recording)))


def test_the_lazy_segment_reads_the_table_once_in_chunks(recording, monkeypatch):
    monkeypatch.setattr(neo_io, "_CHUNK_BYTES", SPIKE_DTYPE.itemsize * 1000)
    calls = []
    real = neo_io._read_rows

    def spy(table, start, stop, source):
        calls.append((start, stop))
        return real(table, start, stop, source)

    monkeypatch.setattr(neo_io, "_read_rows", spy)
    with cldata.RecordingView(recording) as view:
        seg = view.segment(lazy=True)
        assert calls == [(0, 3000)]
        [p.load(load_waveforms=False) for p in seg.spiketrains]
        assert calls == [(0, 3000)]  # the times come from the same pass
        [p.load() for p in seg.spiketrains]
        assert calls == [(0, 3000)] * 2  # and all the waveforms from one more


def test_an_io_reused_after_lazy_loads(recording):
    io = CLIO(filename=recording)
    try:
        lazy = io.read_segment(lazy=True, load_waveforms=True)
        first = [lazy.spiketrains[c].load() for c in (0, 1, 2)]  # the block is read; 1 and 2 are out
        eager = io.read_segment(lazy=False, load_waveforms=True)
        expected = _brute(recording)
        _assert_matches(eager.spiketrains, expected)
        _assert_matches(first, expected[:3])
        _assert_matches([p.load() for p in lazy.spiketrains], expected)
    finally:
        io.close()


# -- empty channels and recordings -----------------------------------------------------------


def test_quiet_channels_give_empty_trains(recording, chunks):
    with cldata.RecordingView(recording) as view:
        for trains in (view.segment(lazy=False).spiketrains, [p.load() for p in view.segment().spiketrains]):
            for c in QUIET:
                assert len(trains[c]) == 0
                assert trains[c].waveforms.shape == (0, 1, 75) and trains[c].waveforms.dtype == np.float32


@pytest.mark.parametrize("how", ["no table", "empty table", "empty window"])
def test_a_recording_without_spikes(tmp_path, how):
    path = tmp_path / "quiet.h5"
    if how == "empty table":
        _crafted(path, np.zeros(0, np.int64), np.zeros(0, np.uint8))
    else:
        with cldata.RecordingWriter(path, durable=False) as w:
            w.append_samples(np.ones((100, 64), np.int16))
            if how == "empty window":
                w.append_spikes([90], [4], np.ones((1, 75), np.float32))
    window = (0, 50) if how == "empty window" else None
    with cldata.RecordingView(path, window=window) as view:
        eager = view.segment(lazy=False)
        lazy = view.segment(lazy=True)
        for trains in (eager.spiketrains, [p.load() for p in lazy.spiketrains]):
            assert len(trains) == 64
            for st in trains:
                assert len(st) == 0 and st.waveforms.shape == (0, 1, 75)


# -- tables CL never writes ----------------------------------------------------------------------


def test_spikes_beyond_channel_count_are_left_out_of_the_block(tmp_path, chunks):
    path = tmp_path / "beyond.h5"
    rng = np.random.default_rng(4)
    ts = np.sort(rng.integers(0, 10_000, 500))
    ch = rng.integers(0, 12, 500)  # channels 8..11 are beyond channel_count
    _crafted(path, ts, ch, channel_count=8)
    expected = _brute(path, channel_count=8)
    with cldata.RecordingView(path) as view:
        with pytest.warns(UserWarning, match="channel_count"):
            eager = view.segment(lazy=False)
        _assert_matches(eager.spiketrains, expected)
        lazy = view.segment(lazy=True)  # said once per opened file (issue 11): not again
        _assert_matches([p.load() for p in lazy.spiketrains], expected)
    with cldata.RecordingView(path) as view, pytest.warns(UserWarning, match="channel_count"):
        _assert_matches([p.load() for p in view.segment(lazy=True).spiketrains], expected)


@pytest.mark.parametrize("window", [None, (2000, 8000)])
def test_a_table_out_of_time_order(tmp_path, chunks, window):
    path = tmp_path / "shuffled.h5"
    rng = np.random.default_rng(6)
    ts = rng.integers(0, 10_000, 400)
    ts[-1] = 10_000  # the last row holds the latest spike, so the recording's extent covers them all
    _crafted(path, ts, rng.integers(0, 64, 400))
    start, stop = window or (0, 10_001)
    expected = _brute(path, start, stop)
    with cldata.RecordingView(path, window=window) as view:
        _assert_matches(view.segment(lazy=False).spiketrains, expected)
        _assert_matches([p.load() for p in view.segment(lazy=True).spiketrains], expected)


def test_the_block_is_read_for_a_second_channel_only(recording):
    with cldata.RecordingView(recording) as view:
        seg = view.segment(lazy=True)
        rawio = seg.spiketrains[0]._rawio
        for _ in range(3):  # the same channel again and again: point selections
            seg.spiketrains[4].load()
            assert rawio._waveform_block is None
        seg.spiketrains[4].load(time_slice=(0 * pq.s, 1 * pq.s))
        assert rawio._waveform_block is None
        seg.spiketrains[5].load(time_slice=(0 * pq.s, 1 * pq.s))
        assert rawio._waveform_block is not None
        assert rawio._lent[4] and not rawio._lent[5]  # 4 went out whole already; 5 only as a slice
        _assert_matches([p.load() for p in seg.spiketrains], _brute(recording))
        assert rawio._waveform_block is None
