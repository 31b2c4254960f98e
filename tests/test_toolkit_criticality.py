"""The toolkit's criticality analysis (spec §7): the official reference cases and the edge cases.

The reference cases come from ``../shared/fixtures/cl/sim_analysis_recording.analyses.json``
(cl-sdk 1.0.0's own answers on the official simulator's recording), compared by the rules of
spec §15: integers exactly with an integer dtype, floats to ``1e-9 + 1e-6·|e|`` with a float
dtype, shapes exactly, NaN where NaN, per-case tolerances widening ``atol`` or skipping fields of
ill-conditioned fits. They are skipped when the shared folder is not beside the checkout; the
other tests write their own recordings.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from toolkit_reference import ANALYSES, CL_DIR, mismatches, reference_cases, run_case, saved_keys

import cldata
from cldata.format.spike_snapshot import spike_snapshot as spike_data
from cldata.toolkit.criticality import AnalysisResultCriticality, analyse_criticality
from cldata.toolkit.criticality.avalanches import find_avalanches
from cldata.toolkit.criticality.branching import branching_ratio
from cldata.toolkit.criticality.compute import criticality_fields
from cldata.toolkit.criticality.exponents import fit_exponent
from cldata.toolkit.criticality.powerlaw import exclusion_bounds, fit_power_law
from cldata.toolkit.criticality.shape import beta_bootstrap_std, beta_search


@pytest.mark.parametrize("case", reference_cases("criticality"))
def test_the_official_reference_cases(case):
    """Every criticality case of the shared reference file, field by field (spec §15)."""
    if "error" in case:
        with pytest.raises(Exception) as raised:  # noqa: PT011 — the check accepts any exception but these
            run_case(case, analyse_criticality)
        assert not isinstance(raised.value, (AttributeError, TypeError, NotImplementedError))
        return
    result = run_case(case, analyse_criticality)
    assert mismatches(result, case) == []


def test_save_writes_the_official_keys(tmp_path):
    """``save()`` writes the official top-level keys in order, and ``from_file`` reads them back."""
    if not ANALYSES.exists():
        pytest.skip(f"the official toolkit's answers are not beside the checkout ({ANALYSES})")
    with cldata.RecordingView(CL_DIR / "sim_analysis_recording.h5") as view:
        result = analyse_criticality(spike_data(view), 0.004, 0.5, min_spike_count_threshold=3)
    result.save(tmp_path / "c.json")
    saved = json.loads((tmp_path / "c.json").read_text())
    for official in saved_keys("criticality").values():
        assert list(saved) == official["keys"]
    back = AnalysisResultCriticality.from_file(tmp_path / "c.json")
    assert back.avalanche_spike_counts.dtype == np.int64
    np.testing.assert_array_equal(back.avalanche_spike_counts, result.avalanche_spike_counts)
    assert back.branching_ratio == result.branching_ratio


# -- synthetic recordings ----------------------------------------------------------------------

END = 250_000
FS = 25_000


def _write(path: Path, ts, ch, end: int = END) -> Path:
    ts = np.asarray(ts, dtype=np.int64)
    with cldata.RecordingWriter(path) as w:
        w.append_spikes(ts, np.asarray(ch, dtype=np.uint8), np.zeros((ts.size, 75), dtype=np.float32))
        w.close(end_timestamp=end)
    return path


def _poisson(path: Path, seed: int = 3, rate_hz: float = 1.2, channels=range(8, 40)) -> Path:
    rng = np.random.default_rng(seed)
    rows = [(t, c) for c in channels for t in rng.integers(0, END, rng.poisson(rate_hz * END / FS))]
    rows.sort()
    return _write(path, [t for t, _ in rows], [c for _, c in rows])


def _data(path: Path, lo=None, hi=None):
    with cldata.RecordingView(path) as view:
        return spike_data(view, lo, hi)


def test_a_simulated_recording_runs_and_round_trips(tmp_path):
    """Silent channels (only 8–39 fire), the defaults, and save()/from_file() with NaN fields."""
    data = _data(_poisson(tmp_path / "p.h5"))
    result = analyse_criticality(data, 0.004, 0.5)
    assert result.avalanche_sizes.dtype == np.int64
    assert result.avalanche_sizes.sum() == sum(int(s.sum()) for s in result.avalanche_shapes)
    assert result.duration_thresholds == (2, 5)
    assert result.beta_range.shape == result.beta_candidates_over_range.shape == (1001,)
    result.save(tmp_path / "r.json")
    text = (tmp_path / "r.json").read_text()
    back = AnalysisResultCriticality.from_file(tmp_path / "r.json")
    for name in ("avalanche_spike_counts", "avalanche_durations", "beta_candidates_over_range",
                 "time_lags_slopes", "scaling_relation_time_values"):
        np.testing.assert_array_equal(getattr(back, name), getattr(result, name))
    assert [s.tolist() for s in back.avalanche_shapes] == [s.tolist() for s in result.avalanche_shapes]
    assert back.exclusion_bounds_durations == pytest.approx(result.exclusion_bounds_durations, nan_ok=True)
    assert '"inf"' in text or '"nan"' in text or "NaN" not in text


def test_the_last_spike_of_the_file_is_not_counted_even_with_a_window(tmp_path):
    """Official quirk §14.3: binning stops at the table's last row, which is never counted."""
    ts = np.arange(1_000, 200_001, 1_000)
    data = _data(_write(tmp_path / "r.h5", ts, np.full(ts.size, 9)))
    result = analyse_criticality(data, 0.004, 0.0, max_lags_branching_ratio=3)
    assert result.avalanche_spike_counts.sum() == ts.size - 1
    windowed = analyse_criticality(_data(tmp_path / "r.h5", 100_000, 150_000), 0.004, 0.0)
    assert windowed.avalanche_spike_counts.sum() == 50  # frames 100000 … 149000


def test_no_spikes_raises(tmp_path):
    """The official code fails reading the last row of an empty table; here a ValueError."""
    data = _data(_write(tmp_path / "empty.h5", [], []))
    with pytest.raises(ValueError):
        analyse_criticality(data, 0.004, 0.5)


def test_zero_length_window_raises(tmp_path):
    """No bins (the official numpy.quantile fails on them): ValueError."""
    data = _data(_poisson(tmp_path / "p.h5"), 50_000, 50_000)
    with pytest.raises(ValueError):
        analyse_criticality(data, 0.004, 0.5)


@pytest.mark.parametrize("window", [(-1, None), (None, END + 1), (200, 100)])
def test_invalid_windows_raise(tmp_path, window):
    path = _poisson(tmp_path / "p.h5")
    with pytest.raises(ValueError):
        _data(path, *window)


@pytest.mark.parametrize(("bin_size_sec", "percentile"), [(0.004, 1.5), (0.004, -0.1), (0.00001, 0.5)])
def test_bad_parameters_raise(tmp_path, bin_size_sec, percentile):
    """A percentile outside [0, 1] (an assertion officially) and a bin under one frame."""
    data = _data(_poisson(tmp_path / "p.h5"))
    with pytest.raises(ValueError):
        analyse_criticality(data, bin_size_sec, percentile)


def test_a_spike_on_a_ground_channel_fails_the_layout_check(tmp_path):
    data = _data(_write(tmp_path / "g.h5", [10, 20, 30], [8, 63, 9]))
    with pytest.raises(ValueError, match="common MEA layout"):
        analyse_criticality(data, 0.004, 0.5)


def test_few_spikes_give_nan_fits(tmp_path):
    """Two counted spikes in 9 bins: two one-bin avalanches, no profile, too few bins for BR."""
    data = _data(_write(tmp_path / "few.h5", [100, 5_000, 9_000], [8, 9, 10]))
    result = analyse_criticality(data, 0.04, 0.5)
    assert result.avalanche_spike_counts.tolist() == [1, 1]
    assert result.inter_avalanche_durations.tolist() == [4]
    assert result.unique_durations_within_threshold.size == 0 and math.isnan(result.beta_exponent)
    assert math.isnan(result.branching_ratio) and result.time_lags_k.size == 0
    assert math.isnan(result.beta_exponent_std)
    result.save(tmp_path / "few.json")
    saved = json.loads((tmp_path / "few.json").read_text())
    assert saved["branching_ratio"] == "nan"
    back = AnalysisResultCriticality.from_file(tmp_path / "few.json")
    assert math.isnan(back.branching_ratio)


# -- the pieces --------------------------------------------------------------------------------

@given(st.lists(st.integers(0, 6), min_size=1, max_size=120), st.floats(0, 1))
def test_avalanches_partition_the_active_bins(activity, q):
    """Sizes, shapes and durations cover exactly the bins above the threshold, in order."""
    a = np.array(activity, dtype=np.int64)
    found = find_avalanches(a, q)
    active = a > found.threshold
    assert found.durations.sum() == active.sum()
    assert found.sizes.sum() == a[active].sum()
    joined = np.concatenate(found.shapes) if found.shapes else np.zeros(0, dtype=np.int64)
    np.testing.assert_array_equal(joined, a[active])
    assert found.gaps.size == max(found.sizes.size - 1, 0)
    assert np.all(found.gaps > 0)
    assert found.sizes.dtype == found.durations.dtype == found.gaps.dtype == np.int64


def test_avalanche_runs_touch_both_ends():
    found = find_avalanches(np.array([3, 0, 0, 1, 2]), 0.4)
    assert found.starts.tolist() == [0, 3] and found.ends.tolist() == [1, 5]
    assert found.gaps.tolist() == [2]


def test_beta_of_one_profile_is_zero_and_none_is_nan():
    beta, spread = beta_search(np.array([3]), np.array([0.1]))
    assert beta == 0.0 and np.all(spread == 0)
    beta, spread = beta_search(np.array([3]), np.array([0.0]))
    assert math.isnan(beta) and np.all(np.isnan(spread))
    assert math.isnan(beta_bootstrap_std(np.array([2, 3]), np.array([0.2, 0.1]), 0, 42))


def test_power_law_fallbacks():
    assert math.isnan(fit_power_law(np.array([]), 3).exponent)
    fit = fit_power_law(np.array([1, 2, 3]), 0.5)
    assert math.isnan(fit.exponent) and fit.xmin == 1 and fit.ks == math.inf
    assert exclusion_bounds(np.array([1, 1, 1]), 2) is None  # no value above 1
    empty = fit_exponent(np.array([], dtype=np.int64), 10)
    assert math.isnan(empty.exponent) and empty.ks_statistic == math.inf
    assert empty.bounds[0] == 10.0 and math.isnan(empty.bounds[1])


def test_branching_ratio_failures_give_nan_and_empty_arrays():
    rng = np.random.default_rng(1)
    assert math.isnan(branching_ratio(rng.poisson(1, size=(5, 30)), 40).ratio)  # too few bins
    assert branching_ratio(rng.poisson(1, size=(5, 300)), 1).lags.size == 0  # no lags
    assert math.isnan(branching_ratio(np.ones((5, 300), dtype=np.int64), 5).ratio)  # constant


def test_fields_follow_the_result_order():
    fields = criticality_fields(np.random.RandomState(0).poisson(0.4, size=(6, 500)), 0.004, 0.5)
    names = [f.name for f in dataclasses.fields(AnalysisResultCriticality)][1:]
    assert list(fields) == names


@given(st.integers(1, 8), st.integers(1, 300), st.sampled_from([0.05, 0.3, 1.0, 4.0]),
       st.sampled_from([0.0, 0.3, 0.5, 1.0]), st.integers(0, 45),
       st.tuples(st.integers(0, 4), st.integers(0, 6)), st.integers(0, 12), st.integers(0, 5))
def test_any_count_matrix_gives_a_complete_result(channels, bins, rate, q, lags, thresholds,
                                                  min_count, boots):
    """Few bins, silent stretches, degenerate fits: every field is there, with its dtype."""
    counts = np.random.RandomState(channels * 1000 + bins).poisson(rate, size=(channels, bins))
    fields = criticality_fields(counts, 0.004, q, lags, thresholds, min_count, boots, 1)
    assert fields["avalanche_spike_counts"].sum() <= counts.sum()
    assert fields["avalanche_durations"].dtype == fields["scaling_relation_time_values"].dtype == np.int64
    assert fields["time_lags_k"].size == fields["time_lags_slopes"].size
    assert fields["time_lags_fit_parameters"].size in (0, 2)
    assert fields["scaling_relation_fitted_params"].size in (0, 2)
    assert len(fields["mean_spike_counts_per_bin_by_duration"]) == fields["unique_durations_within_threshold"].size
