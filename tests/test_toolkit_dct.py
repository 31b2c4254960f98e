"""DCT features (spec §10): the official reference cases, edge cases and the basis."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from toolkit_reference import make_data, mismatches, read_data, reference_cases, run_case, saved_keys, write_recording

from cldata.toolkit.dct import AnalysisResultDctFeatures, analyse_dct_features, dct_basis
from cldata.toolkit.preprocess import MEA_LAYOUT


@pytest.mark.parametrize("case", reference_cases("dct_features"))
def test_reference_case(case):
    assert mismatches(run_case(case, analyse_dct_features), case) == []


@pytest.mark.parametrize("case", reference_cases("dct_features")[:1])
def test_save_writes_the_official_keys(case, tmp_path):
    run_case(case, analyse_dct_features).save(tmp_path / "d.json")
    assert list(json.loads((tmp_path / "d.json").read_text())) == saved_keys("dct_features")[case["recording"]]["keys"]


def test_basis_is_the_official_non_orthonormal_one():
    v = dct_basis(8)
    assert np.allclose(v[0], 1 / math.sqrt(2))                    # not sqrt(1/8)
    assert np.allclose(v[1:] @ v[1:].T, np.eye(7))                 # rows >= 1 orthonormal
    assert np.allclose(dct_basis(10)[9], math.sqrt(2 / 8) * np.cos(math.pi / 8 * (np.arange(8) + 0.5) * 9))
    assert dct_basis(0).shape == (0, 8)


def test_by_hand(tmp_path):
    # 3 spikes on channel 9 (row 1, column 1), one duplicate collapsed; 2 on channel 10
    path = write_recording(tmp_path / "r.h5", [5, 5, 8, 9, 20, 30], [9, 9, 9, 9, 10, 10], frames=100)
    r = analyse_dct_features(read_data(path), k=2)
    assert r.dct_features["dct00_firing"] == pytest.approx(5 / 2)      # sum of counts / 2
    grid = np.zeros((8, 8))
    grid[1, 1], grid[2, 1] = 3, 2
    v = dct_basis(2)
    assert r.dct_features["dct10_firing"] == pytest.approx(float(v[1] @ grid @ v[0]))
    assert r.dct_features["dct01_firing"] == pytest.approx(float(v[0] @ grid @ v[1]))
    assert r.mea_layout == MEA_LAYOUT.tolist() and r.k == 2
    assert r.dct_height_coefficients.shape == (2, 8) and np.array_equal(r.dct_width_coefficients, r.dct_height_coefficients)


def test_key_collisions_for_large_k():
    r = analyse_dct_features(make_data([1, 2, 3], [9, 20, 33]), k=12)
    assert len(r.dct_features) < 144 and "dct110_firing" in r.dct_features
    v = dct_basis(12)
    grid = np.zeros((8, 8))
    grid[1, 1], grid[4, 2], grid[1, 4] = 1, 1, 1
    assert r.dct_features["dct110_firing"] == pytest.approx(float(v[11] @ grid @ v[0]))   # the later one wins


def test_no_spikes_window_and_layout_checks(tmp_path):
    path = write_recording(tmp_path / "r.h5", [5, 50], [3, 12], frames=100)
    r = analyse_dct_features(read_data(path, 60, 100), k=3)
    assert all(v == 0.0 for v in r.dct_features.values()) and len(r.dct_features) == 9
    assert all(v == 0.0 for v in analyse_dct_features(read_data(path, 10, 10), k=2).dct_features.values())
    ground = write_recording(tmp_path / "g.h5", [5], [63], frames=100)
    with pytest.raises(ValueError, match="common MEA layout"):
        analyse_dct_features(read_data(ground), k=2)
    # samples with quiet ground channels make a ground-channel spike acceptable
    quiet = write_recording(tmp_path / "q.h5", [5], [63], samples=np.zeros((100, 64), np.int16))
    assert analyse_dct_features(read_data(quiet), k=1).dct_features == {"dct00_firing": pytest.approx(0.5)}
    with pytest.raises(ValueError):
        analyse_dct_features(make_data([1], [3], channels=32), k=2)


def test_round_trip(tmp_path):
    r = analyse_dct_features(make_data([1, 2, 3], [9, 20, 33]), k=3)
    r.save(tmp_path / "d.json")
    back = AnalysisResultDctFeatures.from_file(tmp_path / "d.json")
    assert back.dct_features == r.dct_features and back.mea_layout == r.mea_layout and back.k == 3
    assert np.array_equal(back.dct_height_coefficients, r.dct_height_coefficients)


@given(st.lists(st.tuples(st.integers(0, 999), st.sampled_from([c for c in range(64) if c not in (0, 7, 56, 63)])),
                max_size=80))
def test_full_basis_keeps_the_total(spikes):
    spikes = sorted(spikes)
    r = analyse_dct_features(make_data([t for t, _ in spikes], [c for _, c in spikes]), k=8)
    assert r.dct_features["dct00_firing"] == pytest.approx(len(set(spikes)) / 2)
