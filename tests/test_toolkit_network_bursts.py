"""Network bursts (spec §6): the official reference cases, hysteresis scan, edge cases, JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from toolkit_reference import mismatches, reference_cases, run_case, saved_keys

import cldata
from cldata.format.spike_snapshot import spike_snapshot as spike_data
from cldata.toolkit.network_bursts import (
    AnalysisResultNetworkBursts,
    analyse_network_bursts,
    detect_bursts,
)
from cldata.toolkit.preprocess import SpikeData


def make_data(ts, ch, lo=0, hi=1000, duration=1000, channels=64, fs=1000.0, has_spike_table=True) -> SpikeData:
    return SpikeData(timestamps=np.asarray(ts, np.int64), channels=np.asarray(ch, np.int64), fs=fs,
                     channel_count=channels, duration_frames=duration, lo=lo, hi=hi,
                     has_spike_table=has_spike_table, ground_nonzero=None, file_path="x.h5")


@pytest.mark.parametrize("case", reference_cases("network_bursts"))
def test_reference_case(case):
    result = run_case(case, analyse_network_bursts)
    assert mismatches(result, case) == []


@pytest.mark.parametrize("case", reference_cases("network_bursts"))
def test_reference_save_keys_and_round_trip(case, tmp_path):
    result = run_case(case, analyse_network_bursts)
    path = tmp_path / "bursts.json"
    result.save(path)
    assert list(json.loads(path.read_text())) == saved_keys("network_bursts")[case["recording"]]["keys"]
    back = AnalysisResultNetworkBursts.from_file(path)
    assert mismatches(back, case) == []


def scan(counts, onset, offset):
    """The spec's bin-by-bin scan, as the plain loop it describes."""
    out, start = [], None
    for j, n in enumerate(counts):
        if start is None and n >= onset:
            start = j
        elif start is not None and n < offset:
            out.append((start, j))
            start = None
    if start is not None:
        out.append((start, len(counts)))
    return out


@given(st.lists(st.integers(0, 6), max_size=60), st.integers(0, 7), st.integers(0, 7))
def test_detect_bursts_is_the_bin_scan(counts, onset, offset):
    assert detect_bursts(np.array(counts, dtype=np.int64), onset, offset) == scan(counts, onset, offset)


@given(st.lists(st.tuples(st.integers(0, 999), st.integers(0, 63)), max_size=200),
       st.integers(0, 500), st.integers(0, 500))
def test_invariants(spikes, a, b):
    lo, hi = min(a, b), max(a, b)
    ts = np.array(sorted(t for t, _ in spikes), dtype=np.int64)
    ch = np.array([c for _, c in sorted(spikes)], dtype=np.int64)
    res = analyse_network_bursts(make_data(ts, ch, lo=lo, hi=hi), 0.05, 2.0 / 64, 1.0 / 64, None)
    pooled = sum(len(v) for v in res.spike_frames_by_channel.values())
    rate_total = res.firing_rate_per_channel_and_bin.sum() * 64 * 0.05
    assert np.isclose(rate_total, pooled)                       # the rate trace counts every spike-train frame
    assert len(res.bin_boundaries_frames) == 20                 # the whole recording, whatever the window
    assert sum(res.network_burst_spike_counts) <= pooled
    assert res.network_burst_count == len(res.bursts) == len(res.network_burst_durations_sec)
    for burst in res.bursts:
        assert 0 <= burst.start_frame < burst.end_frame <= 1000


def test_window_bins_whole_recording_and_closes_at_duration():
    # spikes at 900..999 on 10 channels; the window [900, 1000) shifts them to 0..99
    ts = np.repeat(np.arange(900, 1000, 10), 10)
    ch = np.tile(np.arange(1, 11), 10)
    whole = analyse_network_bursts(make_data(ts, ch), 0.1, 1.0, 0.5, 10)
    assert [(b.start_frame, b.end_frame) for b in whole.bursts] == [(900, 1000)]   # open burst ends at Dur
    windowed = analyse_network_bursts(make_data(ts, ch, lo=900, hi=1000), 0.1, 1.0, 0.5, 10)
    assert windowed.bin_boundaries_frames.tolist() == list(range(0, 1000, 100))
    assert [(b.start_frame, b.end_frame) for b in windowed.bursts] == [(0, 100)]
    assert windowed.network_burst_spike_counts == [100] and windowed.network_burst_durations_sec == [0.1]
    assert windowed.spike_frames_by_channel[1].tolist() == list(range(0, 100, 10))


def test_no_spikes_silent_channels_and_zero_length_window():
    for data in (make_data([], []), make_data([5, 6], [3, 3], lo=500, hi=500)):
        res = analyse_network_bursts(data, 0.1, 1.0, 1.0)
        assert res.network_burst_count == 0 and len(res.bursts) == 0
        assert res.total_network_burst_duration_sec == 0.0 and res.network_burst_spike_counts == []
        assert res.firing_rate_per_channel_and_bin.tolist() == [0.0] * 10
        assert sorted(res.spike_frames_by_channel) == list(range(64))
        assert all(v.dtype == np.int64 and v.size == 0 for v in res.spike_frames_by_channel.values())


def test_zero_width_and_missing_table_raise():
    with pytest.raises(ValueError):
        analyse_network_bursts(make_data([1], [1]), 0.0001, 1.0, 1.0)
    with pytest.raises(ValueError):
        analyse_network_bursts(make_data([], [], has_spike_table=False), 0.1, 1.0, 1.0)


def test_written_recording_and_invalid_windows(tmp_path: Path):
    path = tmp_path / "r.h5"
    ts = np.array([100, 110, 120, 130, 5000, 9000], dtype=np.int64)
    with cldata.RecordingWriter(path) as w:
        w.append_spikes(ts, np.array([1, 2, 3, 5, 6, 1], np.uint8), np.zeros((6, 75), np.float32))
        w.append_samples(np.zeros((25_000, 64), np.int16))
    with cldata.RecordingView(path) as view:
        res = analyse_network_bursts(spike_data(view), 0.01, 1.0, 0.5, 3)   # θ_on = 0.03 spikes
        assert res.network_burst_count == 3 and res.network_burst_spike_counts == [4, 1, 1]
        assert res.bin_boundaries_frames.size == 100
        for lo, hi in [(-1, None), (None, 25_001), (300, 200)]:
            with pytest.raises(ValueError):
                spike_data(view, lo, hi)
    res.save(tmp_path / "b.json")
    back = AnalysisResultNetworkBursts.from_file(tmp_path / "b.json")
    assert [(b.start_frame, b.end_frame) for b in back.bursts] == [(b.start_frame, b.end_frame) for b in res.bursts]
    assert back.spike_frames_by_channel[1].tolist() == [100, 9000]
    assert back.bin_boundaries_frames.dtype == np.int64


@given(st.lists(st.tuples(st.integers(0, 999), st.integers(1, 63)), max_size=150),
       st.integers(0, 999), st.integers(0, 999))
def test_windowed_is_sliced_input(spikes, a, b):
    # the bins span the whole recording either way (official quirk), so a window equals its slice
    lo, hi = min(a, b), max(a, b)
    ts = np.array(sorted(t for t, _ in spikes), dtype=np.int64)
    ch = np.array([c for _, c in sorted(spikes)], dtype=np.int64)
    inside = (ts >= lo) & (ts < hi)
    windowed = analyse_network_bursts(make_data(ts, ch, lo=lo, hi=hi), 0.05, 1.0 / 64, 0.5 / 64)
    sliced = analyse_network_bursts(make_data(ts[inside] - lo, ch[inside], hi=hi - lo), 0.05, 1.0 / 64, 0.5 / 64)
    assert [(x.start_frame, x.end_frame) for x in windowed.bursts] == [(x.start_frame, x.end_frame) for x in sliced.bursts]
    assert windowed.network_burst_spike_counts == sliced.network_burst_spike_counts
    assert np.array_equal(windowed.firing_rate_per_channel_and_bin, sliced.firing_rate_per_channel_and_bin)
