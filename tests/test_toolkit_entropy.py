"""Information entropy (spec §8): the official reference cases, edge cases and invariants."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from toolkit_reference import make_data, mismatches, read_data, reference_cases, run_case, saved_keys, write_recording

from cldata.toolkit.entropy import (
    AnalysisResultInformationEntropy,
    analyse_information_entropy,
    bernoulli_entropy,
)


@pytest.mark.parametrize("case", reference_cases("information_entropy"))
def test_reference_case(case):
    assert mismatches(run_case(case, analyse_information_entropy), case) == []


@pytest.mark.parametrize("case", reference_cases("information_entropy")[:1])
def test_save_writes_the_official_keys(case, tmp_path):
    run_case(case, analyse_information_entropy).save(tmp_path / "e.json")
    assert list(json.loads((tmp_path / "e.json").read_text())) == saved_keys("information_entropy")[case["recording"]]["keys"]


def test_by_hand(tmp_path):
    # 32 of 64 channels active in bin 0, one in bin 1, none in bin 2
    ts = [0] * 32 + [15]
    ch = list(range(32)) + [40]
    path = write_recording(tmp_path / "r.h5", ts, ch, frames=30, frames_per_second=100)
    r = analyse_information_entropy(read_data(path), bin_size_sec=0.1, log_base=2)
    h = r.information_entropy_per_time_bin
    assert h.dtype == np.float64 and h.shape == (3,)
    p = 1 / 64
    assert h[0] == pytest.approx(1.0) and h[2] == 0.0
    assert h[1] == pytest.approx(-p * math.log2(p) - (1 - p) * math.log2(1 - p))
    nats = analyse_information_entropy(read_data(path), bin_size_sec=0.1).information_entropy_per_time_bin
    assert nats[0] == pytest.approx(math.log(2))


def test_rounded_bin_width(tmp_path):
    # 0.015 s at 100 fps is 1.5 frames: rounded (half to even) to 2, so 10 frames give 5 bins
    path = write_recording(tmp_path / "r.h5", [1], [5], frames=10, frames_per_second=100)
    assert analyse_information_entropy(read_data(path), 0.015).information_entropy_per_time_bin.shape == (5,)
    # under half a frame is still one frame
    assert analyse_information_entropy(read_data(path), 0.001).information_entropy_per_time_bin.shape == (10,)


def test_all_channels_active_and_silent_recording(tmp_path):
    path = write_recording(tmp_path / "r.h5", [0] * 64, list(range(64)), frames=20, frames_per_second=100)
    assert analyse_information_entropy(read_data(path), 0.1).information_entropy_per_time_bin.tolist() == [0.0, 0.0]
    empty = write_recording(tmp_path / "e.h5", frames=20, frames_per_second=100)
    assert analyse_information_entropy(read_data(empty), 0.1).information_entropy_per_time_bin.tolist() == [0.0, 0.0]


def test_zero_length_window_gives_an_empty_array(tmp_path):
    path = write_recording(tmp_path / "r.h5", [3], [5], frames=100)
    r = analyse_information_entropy(read_data(path, 50, 50), 0.001)
    assert r.information_entropy_per_time_bin.shape == (0,) and r.information_entropy_per_time_bin.dtype == np.float64


def test_bernoulli_entropy_edges_and_fillna():
    assert bernoulli_entropy(np.array([0.0, 1.0, 0.5])).tolist() == [0.0, 0.0, pytest.approx(math.log(2))]
    data = make_data([0], [3], hi=20, duration=20, fs=100)        # bin 0: p = 1/64, bin 1: p = 0
    # a negative base makes the log NaN: fillna replaces it, None keeps it
    assert analyse_information_entropy(data, 0.1, fillna=-1.0, log_base=-2).information_entropy_per_time_bin.tolist() == [-1.0, 0.0]
    kept = analyse_information_entropy(data, 0.1, fillna=None, log_base=-2).information_entropy_per_time_bin
    assert math.isnan(kept[0]) and kept[1] == 0.0


def test_round_trip(tmp_path):
    r = analyse_information_entropy(make_data([0, 5], [3, 4], hi=30, duration=30, fs=100), 0.1)
    r.save(tmp_path / "e.json")
    back = AnalysisResultInformationEntropy.from_file(tmp_path / "e.json")
    assert np.array_equal(back.information_entropy_per_time_bin, r.information_entropy_per_time_bin)
    assert back.bin_size_sec == 0.1 and back.metadata == r.metadata


@given(st.lists(st.tuples(st.integers(0, 999), st.integers(0, 63)), max_size=100), st.sampled_from([0.001, 0.01, 0.05]),
       st.sampled_from([None, 2, 10]))
def test_entropy_bounds(spikes, bin_size, base):
    spikes = sorted(spikes)
    r = analyse_information_entropy(make_data([t for t, _ in spikes], [c for _, c in spikes], fs=1000), bin_size, log_base=base)
    h = r.information_entropy_per_time_bin
    top = math.log(2) if base is None else math.log(2) / math.log(base)
    assert h.shape == (math.ceil(1000 / max(1, round(bin_size * 1000))),)
    assert (h >= 0).all() and (h <= top + 1e-12).all()
