"""Spike-triggered histograms (spec §11): the official reference cases, the lag histogram against
the spec's loop, edge cases, and the JSON file (which the official save() cannot write)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from toolkit_reference import mismatches, reference_cases, run_case

import cldata
from cldata.format.spike_snapshot import spike_snapshot as spike_data
from cldata.toolkit.preprocess import SpikeData
from cldata.toolkit.spike_triggered import (
    AnalysisResultSpikeTriggeredHistogram,
    analyse_spike_triggered_histogram,
    lag_histogram,
)


def make_data(ts, ch, lo=0, hi=10_000, duration=10_000, fs=1000.0, ground_nonzero=None) -> SpikeData:
    return SpikeData(timestamps=np.asarray(ts, np.int64), channels=np.asarray(ch, np.int64), fs=fs,
                     channel_count=64, duration_frames=duration, lo=lo, hi=hi, has_spike_table=True,
                     ground_nonzero=ground_nonzero, file_path="x.h5")


@pytest.mark.parametrize("case", reference_cases("spike_triggered_histogram"))
def test_reference_case(case):
    result = run_case(case, analyse_spike_triggered_histogram)
    assert mismatches(result, case) == []


@pytest.mark.parametrize("case", reference_cases("spike_triggered_histogram"))
def test_reference_save_writes_pair_keys_and_reads_back(case, tmp_path):
    result = run_case(case, analyse_spike_triggered_histogram)
    path = tmp_path / "sth.json"
    result.save(path)                                   # officially a TypeError (tuple keys)
    saved = json.loads(path.read_text())
    assert list(saved) == [f for f in case["fields"]]
    assert all("," in key for key in saved["histograms"])
    back = AnalysisResultSpikeTriggeredHistogram.from_file(path)
    assert mismatches(back, case) == []


def loop_histogram(base, target, start_sec, end_sec, bins):
    """The spec's per-spike loop, literally."""
    lags = [x - s for s in base for x in target if s - start_sec <= x <= s + end_sec]
    return np.histogram(np.array(lags, dtype=np.float64), bins=bins)[0]


@given(st.lists(st.integers(0, 400), max_size=40), st.lists(st.integers(0, 400), max_size=40),
       st.sampled_from([(0.01, 0.05, 0.05), (0.005, 0.02, 0.03), (0.004, 0.0, 0.012)]))
def test_lag_histogram_is_the_loop(base, target, params):
    bin_size, start, end = params
    bins = np.arange(-start, end + bin_size, step=bin_size)
    b, t = np.array(base) / 1000.0, np.array(target) / 1000.0
    got = lag_histogram(b, t, start, end, bins)
    assert got.dtype == np.int64 and got.tolist() == loop_histogram(b, t, start, end, bins).tolist()


def test_zero_lag_falls_left_of_zero_and_pairs_both_ways():
    # channels 10 and 20 fire together 3 times; 30 is slower; ground/reference channels ignored
    ts = [100, 100, 500, 500, 900, 900, 300, 40, 40, 40]
    ch = [10, 20, 10, 20, 10, 20, 30, 0, 4, 63]
    res = analyse_spike_triggered_histogram(make_data(ts, ch, ground_nonzero=0), 0.01, 0.05, 0.05, 2)
    assert res.num_eligible_channels == 2
    assert list(res.histograms) == [(10, 20), (20, 10)]
    zero = int(np.searchsorted(res.histogram_bins, 0.0)) - 1     # the "0" edge is ≈ 7e-18 > 0
    assert res.histograms[(10, 20)][zero] == 3 and res.histograms[(10, 20)].sum() == 3
    assert res.histogram_bins.size == 12


def test_no_eligible_channels(capsys):
    for data, n in ((make_data([], []), 3), (make_data([5, 6], [3, 9]), 0), (make_data([5, 6], [3, 9], lo=7, hi=7), 3)):
        res = analyse_spike_triggered_histogram(data, 0.01, 0.05, 0.05, n)
        assert res.num_eligible_channels == min(n, 0) and res.histograms == {}
        assert res.histogram_bins.dtype == np.float64 and res.histogram_bins.size == 0
    assert "No channels to check that meet the firing rate threshold." in capsys.readouterr().out


def test_rates_use_whole_recording_and_threshold():
    # 5 spikes on channel 9 inside a 1 s window of a 10 s recording: 0.5 Hz, not 5 Hz
    data = make_data([100, 200, 300, 400, 500, 150], [9, 9, 9, 9, 9, 12], lo=0, hi=1000)
    assert analyse_spike_triggered_histogram(data, 0.01, 0.05, 0.05, 5, 1.0).num_eligible_channels == 0
    res = analyse_spike_triggered_histogram(data, 0.01, 0.05, 0.05, 5, 0.1)
    assert res.num_eligible_channels == 2 and set(res.histograms) == {(9, 12), (12, 9)}


def test_layout_check_and_invalid_windows(tmp_path):
    with pytest.raises(ValueError, match="common MEA layout"):
        analyse_spike_triggered_histogram(make_data([5], [7]), 0.01, 0.05, 0.05, 3)
    path = tmp_path / "r.h5"
    with cldata.RecordingWriter(path) as w:
        w.append_spikes(np.array([10, 20, 30]), np.array([9, 10, 9], np.uint8), np.zeros((3, 75), np.float32))
        w.append_samples(np.zeros((1000, 64), np.int16))
    with cldata.RecordingView(path) as view:
        res = analyse_spike_triggered_histogram(spike_data(view), 0.001, 0.005, 0.005, 4, 1.0)
        assert sorted(res.histograms) == [(9, 10), (10, 9)] and res.histograms[(10, 9)].sum() == 2
        for lo, hi in [(-1, None), (None, 1001), (30, 20)]:
            with pytest.raises(ValueError):
                spike_data(view, lo, hi)


def test_zero_threshold_admits_silent_channels():
    # rate 0 >= 0: every non-ground, non-reference channel is a candidate (official rule)
    res = analyse_spike_triggered_histogram(make_data([5], [9]), 0.01, 0.05, 0.05, 100, 0.0)
    assert res.num_eligible_channels == 59 and len(res.histograms) == 59 * 58


def test_pairs_are_combinations_then_reverse():
    ts = list(range(0, 100, 10)) * 3
    ch = [10] * 10 + [11] * 10 + [12] * 10
    res = analyse_spike_triggered_histogram(make_data(ts, ch), 0.01, 0.02, 0.02, 3)
    top = sorted({a for a, _ in res.histograms})
    expected = [p for a, b in itertools.combinations(top, 2) for p in ((a, b), (b, a))]
    assert set(res.histograms) == set(expected) and len(res.histograms) == 6


@given(st.lists(st.tuples(st.integers(0, 9_999), st.sampled_from([9, 10, 12, 20, 33])), max_size=120),
       st.integers(0, 9_999), st.integers(0, 9_999))
def test_windowed_is_sliced_input(spikes, a, b):
    lo, hi = min(a, b), max(a, b)
    ts = np.array(sorted(t for t, _ in spikes), dtype=np.int64)
    ch = np.array([c for _, c in sorted(spikes)], dtype=np.int64)
    inside = (ts >= lo) & (ts < hi)
    windowed = analyse_spike_triggered_histogram(make_data(ts, ch, lo=lo, hi=hi), 0.01, 0.03, 0.02, 3)
    sliced = analyse_spike_triggered_histogram(make_data(ts[inside] - lo, ch[inside], hi=hi - lo), 0.01, 0.03, 0.02, 3)
    assert windowed.num_eligible_channels == sliced.num_eligible_channels
    assert windowed.histograms.keys() == sliced.histograms.keys()
    assert all(np.array_equal(windowed.histograms[k], sliced.histograms[k]) for k in windowed.histograms)
