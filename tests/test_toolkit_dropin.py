"""The drop-in methods: ``cldata.RecordingView`` and a store's recording handles answer as cl's.

The acceptance check of the spec (§15) opens ``cldata.RecordingView(path)``, calls
``analysis_timestamp_limit`` and ``analyse_<metric>(**params)``: every reference case is run
that way here (and through a store's recording handle), and the window rules of §1 are checked
on the methods themselves, quirk included.
"""

from __future__ import annotations

import inspect
import json

import numpy as np
import pytest

import cldata
from cldata.toolkit.methods import ToolkitMethods
from tests.test_toolkit_connectivity import assert_louvain
from tests.toolkit_reference import ANALYSES, CL_DIR, mismatches, write_recording

METRICS = ("firing_stats", "network_bursts", "criticality", "information_entropy", "lempel_ziv_complexity",
           "dct_features", "spike_triggered_histogram", "functional_connectivity")


def all_cases() -> list:
    if not ANALYSES.exists():
        return [pytest.param(None, marks=pytest.mark.skip(
            reason=f"the official toolkit's answers are not beside the checkout ({ANALYSES})"))]
    recordings = json.loads(ANALYSES.read_text())["recordings"]
    return [pytest.param(dict(case, recording=name), id=f"{name}-{i}-{case['metric']}")
            for name, rec in recordings.items() for i, case in enumerate(rec["cases"])]


def call(target, case):
    """What the acceptance check does: the window first, then the method with the case's params."""
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in case["params"].items()}
    if case["timestamp_limit"] is not None:
        target.analysis_timestamp_limit(*case["timestamp_limit"])
    return getattr(target, f"analyse_{case['metric']}")(**params)


def check(result, case):
    if "error" in case:
        return
    assert mismatches(result, case) == []
    if case["metric"] == "functional_connectivity":
        assert_louvain(result, case)


@pytest.mark.parametrize("case", all_cases())
def test_reference_case_through_recording_view(case):
    with cldata.RecordingView(CL_DIR / case["recording"]) as rec:
        if "error" in case:
            expected = ValueError if case["error"] in ("ValueError", "AssertionError") else Exception
            with pytest.raises(expected):
                call(rec, case)
            return
        check(call(rec, case), case)


@pytest.fixture(scope="module")
def reference_store(tmp_path_factory):
    if not ANALYSES.exists():
        pytest.skip(f"the official toolkit's answers are not beside the checkout ({ANALYSES})")
    store = cldata.open(tmp_path_factory.mktemp("store") / "s", mode="w")
    for name in json.loads(ANALYSES.read_text())["recordings"]:
        store.add_recording(CL_DIR / name, {"culture": "ref"}, link=True)
    store.commit()
    yield store
    store.close()


@pytest.mark.parametrize("case", all_cases())
def test_reference_case_through_store_handle(case, reference_store):
    name = case["recording"]
    handle = next(r for r in reference_store.recordings if r.path.name == name)
    if "error" in case:
        with pytest.raises(Exception) as caught:
            call(handle, case)
        assert not isinstance(caught.value, AttributeError | TypeError | NotImplementedError)
        return
    check(call(handle, case), case)


def test_methods_have_the_official_signatures():
    expected = {
        "analysis_timestamp_limit": "(self, minimum_timestamp: 'int | None' = None, maximum_timestamp: 'int | None' = None) -> 'None'",
        "analyse_firing_stats": "(bin_size_sec=1.0)",
        "analyse_network_bursts": "(bin_size_sec, onset_freq_hz, offset_freq_hz, min_active_channels=None)",
        "analyse_criticality": "(bin_size_sec, percentile_threshold, max_lags_branching_ratio=40, "
                               "duration_thresholds=(2, 5), min_spike_count_threshold=10, n_bootstraps=100, "
                               "random_seed=42)",
        "analyse_information_entropy": "(bin_size_sec, fillna=0.0, log_base=None)",
        "analyse_lempel_ziv_complexity": "(bin_size_sec, min_bin_count=2, normalise=True, use_binary=True)",
        "analyse_dct_features": "(k)",
        "analyse_spike_triggered_histogram": "(bin_size_sec, start_sec, end_sec, num_channels, "
                                             "min_firing_rate_threshold_hz=0.1)",
        "analyse_functional_connectivity": "(bin_size_sec, correlation_threshold=0.6)",
        "plot_spikes_and_stims": "(figsize=(12, 8), title=None, save_path=None, limit_to_time_range_secs=None, "
                                 "limit_to_channels=None)",
        "plot_spike": "(spike, figsize=(6, 2), title=None, save_path=None, ax=None)",
    }
    for name, sig in expected.items():
        params = inspect.signature(getattr(cldata.RecordingView, name)).parameters.values()
        plain = "(" + ", ".join(p.name if p.default is inspect.Parameter.empty else f"{p.name}={p.default!r}"
                                for p in params if p.name != "self") + ")"
        if name != "analysis_timestamp_limit":
            assert plain == sig, name
    assert issubclass(cldata.RecordingView, ToolkitMethods)
    assert issubclass(cldata.RecordingHandle, ToolkitMethods)
    assert isinstance(inspect.getattr_static(cldata.RecordingView, "plot_spike"), staticmethod)


@pytest.fixture
def small(tmp_path):
    ts = np.arange(0, 1000, 10)
    return write_recording(tmp_path / "small.h5", ts, 8 + ts // 10 % 4, frames=1000, frames_per_second=1000)


def test_timestamp_limit_checks_in_the_official_order_with_the_quirk(small):
    with cldata.RecordingView(small) as rec:
        assert (rec.analysis_data().lo, rec.analysis_data().hi) == (0, 1000)
        rec.analysis_timestamp_limit(100, 500)
        assert (rec.analysis_data().lo, rec.analysis_data().hi) == (100, 500)
        with pytest.raises(ValueError, match="negative"):
            rec.analysis_timestamp_limit(-1, 200)
        assert (rec.analysis_data().lo, rec.analysis_data().hi) == (100, 500)      # nothing changed
        with pytest.raises(ValueError, match="greater"):
            rec.analysis_timestamp_limit(600, 200)
        assert (rec.analysis_data().lo, rec.analysis_data().hi) == (100, 500)      # both ends revert
        with pytest.raises(ValueError, match="beyond"):
            rec.analysis_timestamp_limit(300, 5000)
        assert (rec.analysis_data().lo, rec.analysis_data().hi) == (300, 500)      # §14.1: lo already taken
        rec.analysis_timestamp_limit(400, 400)                                     # zero-length accepted
        assert rec.analysis_data().hi == 400
        rec.analysis_timestamp_limit(None, None)
        assert (rec.analysis_data().lo, rec.analysis_data().hi) == (0, 1000)


def test_windowed_view_is_the_timestamp_limit(small):
    with cldata.RecordingView(small) as rec:
        rec.analysis_timestamp_limit(200, 700)
        limited = rec.analyse_firing_stats(0.1)
        windowed = rec.between(200, 700)
        assert (windowed.analysis_data().lo, windowed.analysis_data().hi) == (200, 700)
        by_window = windowed.analyse_firing_stats(0.1)
        np.testing.assert_array_equal(limited.firing_counts, by_window.firing_counts)
        assert limited.channel_ISI == by_window.channel_ISI
        # the metadata describes the whole recording, not the window
        assert by_window.metadata.duration_frames == 1000


def test_store_handle_uses_its_view_window_and_keeps_its_own_limit(small, tmp_path):
    store = cldata.open(tmp_path / "s", mode="w")
    store.add_recording(small, {"culture": "a"})
    store.commit()
    try:
        handle = store.recordings[0]
        whole = handle.analyse_firing_stats(0.1)
        with cldata.RecordingView(small) as rec:
            np.testing.assert_array_equal(whole.firing_counts, rec.analyse_firing_stats(0.1).firing_counts)
        windowed = store.between(200, 700).recordings[0]
        assert (windowed.analysis_data().lo, windowed.analysis_data().hi) == (200, 700)
        handle.analysis_timestamp_limit(0, 300)
        assert handle.analyse_firing_stats(0.1).firing_counts.shape == (64, 3)
        # another handle of the same recording is not limited
        assert store.recordings[0].analyse_firing_stats(0.1).firing_counts.shape == (64, 10)
    finally:
        store.close()


def test_official_result_names_load_on_first_use_without_slowing_import():
    import subprocess
    import sys

    code = ("import cldata, sys; assert 'scipy' not in sys.modules and 'networkx' not in sys.modules; "
            "from cldata import AnalysisResultCriticality, Bursts; from cldata.toolkit import AnalysisResult; "
            "assert issubclass(AnalysisResultCriticality, AnalysisResult); print('ok')")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "ok\n"
    import cldata.toolkit as toolkit

    for name in toolkit.OFFICIAL_NAMES:
        assert getattr(toolkit, name).__name__ in (name, "ToolkitResult")
    with pytest.raises(AttributeError):
        cldata.AnalysisResultNothing  # noqa: B018
