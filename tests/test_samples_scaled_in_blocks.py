"""Scaled samples are converted a block at a time into the result (cldata.format.reader and the
neo AnalogSignal of cldata.format.neo_io): the same values, bit for bit, as converting the whole
range at once, for any window, channel selection and block size; and a peak memory of the result
plus one block, not the raw int16 range besides it."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest
import quantities as pq
import tables
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from neo.io.proxyobjects import AnalogSignalProxy

import cldata
from cldata.errors import UntidyRecordingWarning
from cldata.format import samples as reader
from cldata.format.neo_io import CLIO
from cldata.format.reader import samples_to_uV

FPS = 25_000
FRAMES = 9_000
SMALL_BLOCK = 64 * 2 * 1_000  # 1,000 frames of 64 int16 channels: nine blocks (and a short last one)


def _write(path, frames: int = FRAMES, seed: int = 11) -> np.ndarray:
    rng = np.random.default_rng(seed)
    samples = rng.integers(-2**15, 2**15, (frames, 64)).astype(np.int16)  # the whole int16 range
    with cldata.RecordingWriter(path, attributes={"culture": "C1"}, durable=False) as w:
        w.append_samples(samples)
        w.append_spikes(np.array([5, 7_000]), np.array([1, 2]), np.zeros((2, 75), np.float32))
        w.close(end_timestamp=frames)
    return samples


@pytest.fixture
def recording(tmp_path):
    path = tmp_path / "rec.h5"
    return path, _write(path)


@pytest.fixture(params=["default", "small"])
def blocks(request, monkeypatch):
    """Blocks of the default size (one block for these files), and of 1,000 frames (many)."""
    if request.param == "small":
        monkeypatch.setattr(reader, "_SAMPLE_BLOCK_BYTES", SMALL_BLOCK)
    return request.param


def _same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()  # bit for bit


# -- read_samples(scaled=True) ------------------------------------------------------------------


@pytest.mark.parametrize("window", [(None, None), (0, FRAMES), (999, 1_001), (1_000, 7_001), (4_000, 4_000),
                                    (8_999, None), (-5, 50_000)])
@pytest.mark.parametrize("channels", [None, [3], [63, 0, 5, 5], np.arange(64)[::-3], 7, -1, np.array([True] * 64)])
def test_scaled_read_is_the_whole_range_converted_at_once(recording, blocks, window, channels):
    path, _ = recording
    with cldata.RecordingView(path) as rec:
        raw = rec.read_samples(*window, channels=channels)
        _same(rec.read_samples(*window, channels=channels, scaled=True), samples_to_uV(raw, rec.uV_per_sample_unit))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.integers(-10, FRAMES + 10), length=st.integers(0, FRAMES),
       channels=st.none() | st.lists(st.integers(-64, 63), max_size=70),
       block_frames=st.integers(1, 3_000))
def test_scaled_read_of_any_window_channels_and_block_size(recording, monkeypatch, start, length, channels,
                                                          block_frames):
    path, samples = recording
    monkeypatch.setattr(reader, "_SAMPLE_BLOCK_BYTES", block_frames * 64 * 2)
    a, b = min(max(start, 0), FRAMES), min(max(start + length, 0), FRAMES)
    with cldata.RecordingView(path) as rec:
        if channels == []:  # a float index to numpy, refused by the raw read as well
            with pytest.raises(IndexError):
                rec.read_samples(start, start + length, channels=channels)
            with pytest.raises(IndexError):
                rec.read_samples(start, start + length, channels=channels, scaled=True)
            return
        got = rec.read_samples(start, start + length, channels=channels, scaled=True)
    expected = samples[a:b] if channels is None else samples[a:b][:, np.asarray(channels)]
    _same(got, samples_to_uV(expected, 0.195))


def test_a_bad_channel_is_refused_as_before(recording, blocks):
    path, _ = recording
    with cldata.RecordingView(path) as rec, pytest.raises(IndexError):
        rec.read_samples(0, 10, channels=[64], scaled=True)


def test_samples_of_another_integer_type_scale_as_before(tmp_path, blocks):
    # int32 samples (never written by CL, read with a warning): their cast to float32 rounds
    path = tmp_path / "int32.h5"
    values = np.random.default_rng(3).integers(-2**31, 2**31, (3_000, 64)).astype(np.int32)
    with tables.open_file(str(path), "w") as f:
        f.root._v_attrs["frames_per_second"] = np.int64(FPS)
        f.root._v_attrs["channel_count"] = np.int64(64)
        f.root._v_attrs["uV_per_sample_unit"] = np.float64(0.195)
        f.create_earray("/", "samples", obj=values, chunkshape=(256, 64))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntidyRecordingWarning)
        with cldata.RecordingView(path) as rec:
            _same(rec.read_samples(100, 2_900, scaled=True), samples_to_uV(values[100:2_900], 0.195))


def _peak_of(fn) -> tuple[int, object]:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        out = fn()
        return tracemalloc.get_traced_memory()[1] - before, out
    finally:
        tracemalloc.stop()


def test_a_scaled_read_peaks_at_the_result_plus_one_block(tmp_path, monkeypatch):
    path = tmp_path / "long.h5"
    samples = _write(path, frames=60_000)  # 7.7 MB of int16, 15.4 MB of float32
    block = 256_000
    monkeypatch.setattr(reader, "_SAMPLE_BLOCK_BYTES", block)
    with cldata.RecordingView(path) as rec:
        peak, out = _peak_of(lambda: rec.read_samples(scaled=True))
        _same(out, samples_to_uV(samples, rec.uV_per_sample_unit))
    # a block of int16 and its float32 picks: well under the int16 range held besides the result
    assert peak <= out.nbytes + 4 * block + 1_000_000
    assert peak < out.nbytes + samples.nbytes


# -- the neo AnalogSignal ----------------------------------------------------------------------


def _neo_loaded(proxy, **kwargs):
    """What neo's own AnalogSignalProxy.load gives (the raw range, then neo's rescaling)."""
    return AnalogSignalProxy.load(proxy, **kwargs)


def _same_signal(a, b) -> None:
    assert type(a) is type(b)
    _same(a.magnitude, b.magnitude)
    assert a.units == b.units and a.t_start == b.t_start and a.sampling_rate == b.sampling_rate
    assert (a.name, a.description, a.file_origin) == (b.name, b.description, b.file_origin)
    assert a.annotations == b.annotations
    assert a.array_annotations.keys() == b.array_annotations.keys()
    for key in a.array_annotations:
        np.testing.assert_array_equal(a.array_annotations[key], b.array_annotations[key])


@pytest.mark.parametrize("kwargs", [{}, {"time_slice": (0.04 * pq.s, 0.2 * pq.s)}, {"channel_indexes": [5, 2]},
                                    {"time_slice": (0.1 * pq.s, 0.1 * pq.s), "channel_indexes": [0]},
                                    {"magnitude_mode": "raw"}])
def test_lazy_signal_loads_are_neos(recording, blocks, kwargs):
    path, _ = recording
    with cldata.RecordingView(path) as rec:
        proxy = rec.segment(lazy=True).analogsignals[0]
        _same_signal(proxy.load(**kwargs), _neo_loaded(proxy, **kwargs))


@pytest.mark.parametrize("mode", ["group-by-same-units", "split-all"])
@pytest.mark.parametrize("time_slice", [None, (0.1 * pq.s, 0.3 * pq.s)])
def test_eager_signals_are_neos(recording, blocks, mode, time_slice):
    path, _ = recording
    with cldata.RecordingView(path) as rec:
        io = CLIO(view=rec)
        eager = io.read_segment(lazy=False, signal_group_mode=mode, time_slice=time_slice)
        lazy = io.read_segment(lazy=True, signal_group_mode=mode)
        assert len(eager.analogsignals) == len(lazy.analogsignals) == (64 if mode == "split-all" else 1)
        for sig, proxy in zip(eager.analogsignals, lazy.analogsignals, strict=True):
            _same_signal(sig, _neo_loaded(proxy, time_slice=time_slice))
            assert sig.segment is eager


def test_the_raw_chunk_api_still_gives_raw_samples(recording):
    path, samples = recording
    io = CLIO(filename=path)
    try:
        io.parse_header()
        chunk = io.get_analogsignal_chunk(i_start=10, i_stop=20, stream_index=0, channel_indexes=[4, 1])
        _same(chunk, samples[10:20][:, [4, 1]])
        float_chunk = io.rescale_signal_raw_to_float(chunk, dtype="float32", channel_indexes=[4, 1])
        expected = chunk.astype(np.float32)
        expected *= np.float64(0.195)  # neo's arithmetic: the float32 samples times the float64 gain
        _same(float_chunk, expected)
    finally:
        io.close()


def test_a_signal_load_peaks_at_the_result_plus_one_block(tmp_path, monkeypatch):
    path = tmp_path / "long.h5"
    _write(path, frames=60_000)
    block = 256_000
    monkeypatch.setattr(reader, "_SAMPLE_BLOCK_BYTES", block)
    with cldata.RecordingView(path) as rec:
        proxy = rec.segment(lazy=True).analogsignals[0]
        peak, sig = _peak_of(proxy.load)
        raw_bytes = 60_000 * 64 * 2
        assert peak <= sig.magnitude.nbytes + 4 * block + 1_000_000
        assert peak < sig.magnitude.nbytes + raw_bytes
        peak, seg = _peak_of(lambda: rec.segment(lazy=False, waveforms=False))
        assert peak < seg.analogsignals[0].magnitude.nbytes + raw_bytes
