"""Lempel–Ziv complexity (spec §9): the official reference cases, edge cases and the parse itself."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from toolkit_reference import make_data, mismatches, read_data, reference_cases, run_case, saved_keys, write_recording

from cldata.toolkit.lempel_ziv import (
    AnalysisResultComplexityLempelZiv,
    analyse_lempel_ziv_complexity,
    lz78_phrase_count,
    lz_score,
)


@pytest.mark.parametrize("case", reference_cases("lempel_ziv_complexity"))
def test_reference_case(case):
    assert mismatches(run_case(case, analyse_lempel_ziv_complexity), case) == []


@pytest.mark.parametrize("case", reference_cases("lempel_ziv_complexity")[:1])
def test_save_writes_the_official_keys(case, tmp_path):
    run_case(case, analyse_lempel_ziv_complexity).save(tmp_path / "l.json")
    assert list(json.loads((tmp_path / "l.json").read_text())) == saved_keys("lempel_ziv_complexity")[case["recording"]]["keys"]


def spec_phrase_count(symbols) -> int:
    """The parse exactly as the spec words it: a dictionary of phrase tuples."""
    phrases: set[tuple] = set()
    current: tuple = ()
    for s in symbols:
        current = (*current, s)
        if current not in phrases:
            phrases.add(current)
            current = ()
    return len(phrases)


@given(st.lists(st.integers(0, 3), max_size=300))
def test_trie_parse_matches_the_spec_parse(symbols):
    assert lz78_phrase_count(symbols, 4) == spec_phrase_count(symbols)


def test_scores_by_hand():
    # binary 0|1|01|10|(10 open): c = 4, n = 8, k = 2
    counts = np.array([0, 3, 0, 1, 2, 0, 1, 0])
    assert lz_score(counts, normalise=False) == 4.0
    assert lz_score(counts) == 4 * (math.log(8) / math.log(2)) / 8
    # a silent channel still builds phrases in binary mode (official quirk): 0|00|000|(0 open)
    assert lz_score(np.zeros(7, np.int64), normalise=False) == 3.0
    # count mode: k distinct counts; one value only scores 0
    assert lz_score(np.zeros(7, np.int64), use_binary=False) == 0.0
    assert lz_score(np.array([2, 2, 5, 2]), normalise=False, use_binary=False) == spec_phrase_count([0, 0, 1, 0])
    assert lz_score(np.array([1]), min_bin_count=2) == 0.0
    assert lz_score(np.array([1]), min_bin_count=0) == 0.0            # n <= 1 normalises to 0.0
    assert lz_score(np.array([1]), min_bin_count=0, normalise=False) == 1.0


def test_recording(tmp_path):
    path = write_recording(tmp_path / "r.h5", [0, 150, 310, 320], [1, 1, 1, 2], frames=400, frames_per_second=1000)
    r = analyse_lempel_ziv_complexity(read_data(path), 0.1, normalise=False)
    scores = r.lzc_scores_per_channel
    assert scores.shape == (64, 1) and scores.dtype == np.float64
    assert scores[1, 0] == spec_phrase_count([1, 1, 0, 1]) and scores[2, 0] == spec_phrase_count([0, 0, 0, 1])
    assert scores[0, 0] == spec_phrase_count([0, 0, 0, 0]) == 2.0     # silent, not 0
    counted = analyse_lempel_ziv_complexity(read_data(path), 0.1, use_binary=False).lzc_scores_per_channel
    assert counted[0, 0] == 0.0 and counted[1, 0] > 0


def test_zero_length_window_and_few_bins(tmp_path):
    path = write_recording(tmp_path / "r.h5", [10, 20], [1, 2], frames=100)
    assert not analyse_lempel_ziv_complexity(read_data(path, 40, 40), 0.001).lzc_scores_per_channel.any()
    assert analyse_lempel_ziv_complexity(read_data(path, 40, 40), 0.001).lzc_scores_per_channel.shape == (64, 1)
    assert not analyse_lempel_ziv_complexity(read_data(path), 1.0, min_bin_count=2).lzc_scores_per_channel.any()


def test_round_trip(tmp_path):
    r = analyse_lempel_ziv_complexity(make_data([0, 5, 300], [3, 4, 3], fs=1000), 0.01)
    r.save(tmp_path / "l.json")
    back = AnalysisResultComplexityLempelZiv.from_file(tmp_path / "l.json")
    assert np.array_equal(back.lzc_scores_per_channel, r.lzc_scores_per_channel)
    assert back.lzc_scores_per_channel.shape == (64, 1)
