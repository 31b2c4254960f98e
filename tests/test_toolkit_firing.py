"""Firing statistics (spec §5): the official reference cases, edge cases and invariants."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from toolkit_reference import make_data, mismatches, read_data, reference_cases, run_case, saved_keys, write_recording

from cldata.toolkit.firing import AnalysisResultFiringStats, analyse_firing_stats
from cldata.toolkit.preprocess import with_window


@pytest.mark.parametrize("case", reference_cases("firing_stats"))
def test_reference_case(case):
    assert mismatches(run_case(case, analyse_firing_stats), case) == []


@pytest.mark.parametrize("case", reference_cases("firing_stats")[:1])
def test_save_writes_the_official_keys(case, tmp_path):
    result = run_case(case, analyse_firing_stats)
    result.save(tmp_path / "f.json")
    assert list(json.loads((tmp_path / "f.json").read_text())) == saved_keys("firing_stats")[case["recording"]]["keys"]


def test_small_recording_by_hand(tmp_path):
    # channel 1: spikes at 0, 10, 10 (duplicate), 30; channel 2: one spike; 40 frames, 10-frame bins
    path = write_recording(tmp_path / "r.h5", [0, 10, 10, 12, 30], [1, 1, 1, 2, 1], frames=40, frames_per_second=100)
    r = analyse_firing_stats(read_data(path), bin_size_sec=0.1)
    assert r.firing_counts.dtype == np.int64 and r.firing_counts.shape == (64, 4)
    assert r.firing_counts[1].tolist() == [1, 2, 0, 1] and r.firing_counts[2].tolist() == [0, 1, 0, 0]
    assert np.allclose(r.firing_rates[1], [10, 20, 0, 10])
    assert r.channel_mean_firing_rates[1] == 1.0 and r.channel_var_firing_rates[1] == 0.5
    assert r.culture_max_firing_rates == 2.0 and isinstance(r.culture_max_firing_rates, float)
    assert r.channel_ISI[1] == pytest.approx([0.1, 0.2]) and r.channel_ISI[2] == [] and r.channel_ISI[0] == []
    assert r.channel_ISI_mean[1] == pytest.approx(0.15) and r.channel_ISI_var[1] == pytest.approx(0.0025)
    assert r.channel_ISI_mean[2] == 0.0 and r.channel_ISI_var[2] == 0.0
    assert r.culture_ISI_mean == pytest.approx(0.15) and r.culture_ISI_var == 0.0   # over channels with >= 2 spikes


def test_window_without_spikes_gives_zeros_and_nan_culture_isi(tmp_path):
    path = write_recording(tmp_path / "r.h5", [5], [3], frames=25_000)
    r = analyse_firing_stats(read_data(path, 1000, 25_000), bin_size_sec=0.25)
    assert r.firing_counts.shape == (64, 4) and not r.firing_counts.any()
    assert r.culture_max_firing_rates == 0.0 and r.channel_ISI_mean == [0.0] * 64
    assert math.isnan(r.culture_ISI_mean) and math.isnan(r.culture_ISI_var)


def test_empty_spike_table(tmp_path):
    r = analyse_firing_stats(read_data(write_recording(tmp_path / "r.h5", frames=50_000)))
    assert r.firing_counts.shape == (64, 2) and r.culture_mean_firing_rates == 0.0 and math.isnan(r.culture_ISI_mean)


def test_zero_length_window_and_bad_width_raise(tmp_path):
    path = write_recording(tmp_path / "r.h5", [5, 50], [3, 3], frames=1000)
    with pytest.raises(ValueError):
        analyse_firing_stats(read_data(path, 100, 100))
    with pytest.raises(ValueError):
        analyse_firing_stats(read_data(path), bin_size_sec=1e-6)    # int(0.025) == 0 frames
    for lo, hi in [(-1, None), (None, 1001), (500, 400)]:
        with pytest.raises(ValueError):
            read_data(path, lo, hi)


def test_round_trip(tmp_path):
    path = write_recording(tmp_path / "r.h5", [0, 10, 12, 30], [1, 1, 2, 1], frames=40, frames_per_second=100)
    r = analyse_firing_stats(read_data(path), bin_size_sec=0.1)
    r.save(tmp_path / "f.json")
    back = AnalysisResultFiringStats.from_file(tmp_path / "f.json")
    assert np.array_equal(back.firing_counts, r.firing_counts) and back.firing_counts.dtype == np.int64
    assert back.channel_ISI == r.channel_ISI and math.isnan(back.culture_ISI_var) == math.isnan(r.culture_ISI_var)
    assert back.metadata == r.metadata


@given(st.lists(st.tuples(st.integers(0, 1999), st.integers(0, 63)), max_size=80), st.integers(0, 999),
       st.integers(1, 1000), st.sampled_from([0.01, 0.1, 0.25]))
def test_windowed_equals_shifted_input(spikes, lo, length, bin_size):
    spikes = sorted(spikes)
    ts, ch = [t for t, _ in spikes], [c for _, c in spikes]
    hi = lo + length
    windowed = analyse_firing_stats(with_window(make_data(ts, ch, duration=2000), lo, hi), bin_size)
    inside = [(t - lo, c) for t, c in spikes if lo <= t < hi]
    shifted = analyse_firing_stats(make_data([t for t, _ in inside], [c for _, c in inside], hi=length, duration=length), bin_size)
    assert np.array_equal(windowed.firing_counts, shifted.firing_counts)
    assert windowed.channel_ISI == shifted.channel_ISI
    assert windowed.firing_counts.sum() == len(inside)
