"""The CL toolkit's methods as parametrised analyses: the drop-in numbers, stored losslessly, run in batches.

Each ``CL*`` analysis must give what ``rec.analyse_*`` gives on the same recording and window,
store it as a ``CLToolkitResult`` that reads back as the same toolkit object (class, fields,
dtypes, shapes) in both backends and in an export, keep the scalar fields in the catalog
summary, run from ``param/cl_toolkit.param`` on every executor with a rerun computing nothing,
and refuse bad parameters by name.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from parameters import ParameterRange
from toolkit_reference import make_data, write_recording

import cldata
from cldata.analysis.cl_toolkit import (
    CL_TOOLKIT_ANALYSES,
    CLCriticality,
    CLDctFeatures,
    CLFiringStats,
    CLFunctionalConnectivity,
    CLInformationEntropy,
    CLLempelZivComplexity,
    CLNetworkBursts,
    CLSpikeTriggeredHistogram,
)
from cldata.analysis.registry import get_analysis
from cldata.app import cli
from cldata.backends.hdf5 import HDF5Backend
from cldata.backends.pickled import PickleBackend
from cldata.batch.paramfile import load_parameters
from cldata.batch.runner import run_batch
from cldata.errors import ParameterError, StoreFormatError, UnsupportedValueError
from cldata.format.simulate import simulate_recording
from cldata.model.results import get_result_kind
from cldata.model.results.toolkit import CLToolkitResult, toolkit_payload, toolkit_scalars

PARAM_FILE = Path(__file__).resolve().parents[1] / "param" / "cl_toolkit.param"
GROUND = (0, 4, 7, 56, 63)  # silent on the common MEA layout (ground and reference channels)
FS = 25_000

#: one parameter case per method, meaningful on the recordings below: (analysis, drop-in method, kwargs)
CASES = [
    (CLFiringStats, "analyse_firing_stats", {"bin_size_sec": 0.5}),
    (CLNetworkBursts, "analyse_network_bursts", {"bin_size_sec": 0.01, "onset_freq_hz": 20.0, "offset_freq_hz": 10.0}),
    (CLCriticality, "analyse_criticality", {"bin_size_sec": 0.004, "percentile_threshold": 0.5,
                                            "min_spike_count_threshold": 3, "n_bootstraps": 20}),
    (CLInformationEntropy, "analyse_information_entropy", {"bin_size_sec": 0.01, "log_base": 2}),
    (CLLempelZivComplexity, "analyse_lempel_ziv_complexity", {"bin_size_sec": 0.01}),
    (CLDctFeatures, "analyse_dct_features", {"k": 3}),
    (CLSpikeTriggeredHistogram, "analyse_spike_triggered_histogram",
     {"bin_size_sec": 0.005, "start_sec": 0.05, "end_sec": 0.05, "num_channels": 4}),
    # (0.4: no negative edge here, so Louvain runs — the official code skips it on negative degrees)
    (CLFunctionalConnectivity, "analyse_functional_connectivity", {"bin_size_sec": 0.05, "correlation_threshold": 0.4}),
]
CASE_IDS = [cls.__name__ for cls, _, _ in CASES]


def layout_recording(path: Path, seed: int, duration_s: float = 2.0, rate_hz: float = 4.0) -> Path:
    """Poisson spikes plus network bursts on every channel but the ground ones (the MEA layout holds)."""
    rng = np.random.default_rng(seed)
    frames = int(duration_s * FS)
    channels = [c for c in range(64) if c not in GROUND]
    ts, ch = [], []
    for c in channels:
        n = rng.poisson(rate_hz * duration_s)
        ts.append(rng.integers(0, frames - 1, n))
        ch.append(np.full(n, c))
    for start in rng.uniform(0, duration_s - 0.1, 3):  # three bursts: 40 channels within ~10 ms
        members = rng.choice(channels, size=40, replace=False)
        ts.append(((start + rng.exponential(0.008, members.size)) * FS).astype(np.int64))
        ch.append(members)
    ts, ch = np.concatenate(ts), np.concatenate(ch)
    keep = ts < frames - 1
    order = np.lexsort((ch[keep], ts[keep]))
    return write_recording(path, ts[keep][order], ch[keep][order], frames=frames)


def make_store(root: Path, n: int = 2, backend: str = "hdf5") -> list[str]:
    with cldata.open(root, mode="a", backend=backend) as store:
        ids = [store.add_recording(layout_recording(root.parent / f"rec{i}.h5", i), {"culture": f"C{i % 2 + 1}"})
               for i in range(n)]
        store.commit()
    return ids


@pytest.fixture(scope="module")
def store_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cl_toolkit") / "store"
    make_store(root)
    return root


def assert_same(a, b, where: str = "result") -> None:
    """Equal values of equal types: arrays by dtype, shape and content (NaN equal to NaN)."""
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), where
        assert (a.dtype, a.shape) == (b.dtype, b.shape), where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif dataclasses.is_dataclass(a):
        assert type(a) is type(b), where
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), where
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), where
    else:
        assert a == b, where


def drop_in(rec, method: str, kwargs: dict, seed: int | None = 0):
    """The drop-in method's result; Louvain seeded as the analysis seeds it."""
    if method == "analyse_functional_connectivity" and seed is not None:
        np.random.seed(seed)
    return getattr(rec, method)(**kwargs)


@pytest.mark.parametrize(("cls", "method", "kwargs"), CASES, ids=CASE_IDS)
def test_each_analysis_gives_the_drop_in_methods_numbers(store_root, cls, method, kwargs):
    with cldata.open(store_root) as store:
        rec = store.recordings[0]
        (stored,) = cls(kwargs).compute(rec)
        expected = drop_in(rec, method, kwargs)
    assert isinstance(stored, CLToolkitResult) and stored.identifier == method.removeprefix("analyse_")
    assert stored.sources == (rec.id,)
    assert stored.parameters["analysis"] == cls.__name__
    assert_same(expected, stored.result)


@pytest.mark.parametrize("backend", ["hdf5", "pickle"])
def test_results_read_back_as_the_same_toolkit_objects_in_both_backends(tmp_path, backend):
    root = tmp_path / "store"
    make_store(root, n=1, backend=backend)
    with cldata.open(root, mode="a", backend=backend) as store:
        rec = store.recordings[0]
        computed = [r for cls, _, kwargs in CASES for r in cls(kwargs).compute(rec)]
        # the ragged lists go packed (one array and its lengths), and come back as lists
        assert computed[0].payload()["packed_fields"] == {"channel_ISI": "float_lists"}
        assert computed[2].payload()["packed_fields"] == {"avalanche_spike_counts_per_bin": "arrays",
                                                          "mean_spike_counts_per_bin_by_duration": "arrays"}
        ids = store.add_analysis_results(computed)
        pending = store.filter_results(analysis=CLDctFeatures.__name__).analysis_results[0]
        assert_same(computed[5].result, pending.result, "pending")  # read before the commit, too
        store.commit()
    with cldata.open(root, backend=backend) as store:
        for rid, original in zip(ids, computed):
            (back,) = [r for r in store.analysis_results if r.id == rid]
            assert type(back) is CLToolkitResult and back.summary_hint == original.summary()
            assert not back.loaded  # the summary came from the catalog
            assert_same(original.result, back.result, type(original.result).__name__)


def test_an_exported_store_still_reads_them(tmp_path):
    root = tmp_path / "store"
    make_store(root, n=1, backend="pickle")
    with cldata.open(root, mode="a", backend="pickle") as store:
        computed = [r for cls, _, kwargs in CASES for r in cls(kwargs).compute(store.recordings[0])]
        store.add_analysis_results(computed)
        store.commit()
        store.export(tmp_path / "shared.h5", progress=False)
    with cldata.open(tmp_path / "shared.h5") as shared:
        back = {r.parameters["analysis"]: r for r in shared.analysis_results}
        assert sorted(back) == sorted(CASE_IDS)
        for original in computed:
            again = back[original.parameters["analysis"]]
            assert again.summary_hint == original.summary()
            assert_same(original.result, again.result)


def test_summaries_hold_the_scalar_fields(store_root):
    with cldata.open(store_root) as store:
        rec = store.recordings[0]
        results = {cls.__name__: cls(kwargs).compute(rec)[0] for cls, _, kwargs in CASES}
    crit = results["CLCriticality"]
    summary = crit.summary()
    assert summary["result_class"] == "AnalysisResultCriticality"
    assert summary["branching_ratio"] == crit.result.branching_ratio
    assert summary["deviation_from_criticality_coefficient"] == crit.result.deviation_from_criticality_coefficient
    assert results["CLFiringStats"].summary()["culture_mean_firing_rates"] == \
        results["CLFiringStats"].result.culture_mean_firing_rates
    assert results["CLNetworkBursts"].summary()["network_burst_count"] >= 1
    for name, r in results.items():
        scalars = {f.name for f in dataclasses.fields(r.result)
                   if isinstance(getattr(r.result, f.name), (bool, int, float, np.number))}
        assert set(r.summary()) == scalars | {"result_class"}, name
        assert_same(toolkit_scalars(r.result), {k: v for k, v in r.summary().items() if k != "result_class"}, name)
        assert all(type(v) in (bool, int, float, str) for v in r.summary().values()), name


def run_params(root: Path, executor: str, *more: str) -> dict:
    return load_parameters(PARAM_FILE, [f"store.root_directory={root}", f"executor.kind={executor}", *more])


@pytest.mark.parametrize("executor", ["serial", "processes"])
def test_the_toolkit_parameter_file_stores_every_method_and_a_rerun_computes_nothing(tmp_path, executor):
    root = tmp_path / "store"
    ids = make_store(root, n=2)
    report = run_batch(run_params(root, executor), progress=False)
    per_recording = 10  # 8 methods, criticality swept over 3 bin widths
    assert report.ok, str(report)
    assert (report.computed, report.results, report.skipped) == (per_recording * 2, per_recording * 2, 0)
    with cldata.open(root) as store:
        for rid in ids:
            mine = store.filter_results(kind="CLToolkitResult").analysis_results
            names = sorted(r.parameters["analysis"] for r in mine if r.sources == (rid,))
            assert names == sorted([c.__name__ for c in CL_TOOLKIT_ANALYSES] + ["CLCriticality"] * 2)
        crit = store.filter(analysis="CLCriticality").analysis_results
        assert sorted(r.parameters["bin_size_sec"] for r in crit) == [0.002, 0.002, 0.004, 0.004, 0.008, 0.008]
        assert all(math.isfinite(r.summary_hint["branching_ratio"]) for r in crit)
    again = run_batch(run_params(root, executor), progress=False)
    assert (again.computed, again.skipped) == (0, per_recording * 2) and "nothing new" in str(again)


def test_cldata_run_with_the_toolkit_parameter_file(tmp_path, capsys):
    root = tmp_path / "store"
    make_store(root, n=1)
    args = ["run", str(PARAM_FILE), "--no-progress", "--set", f"store.root_directory={root}",
            "--set", "executor.kind=serial"]
    assert cli.main(args) == 0
    assert "computed 10 analyses" in capsys.readouterr().out
    assert cli.main(args) == 0
    assert "computed 0 analyses" in capsys.readouterr().out


def test_a_parameter_range_makes_one_result_per_value(tmp_path):
    root = tmp_path / "store"
    make_store(root, n=1)
    params = {"store": {"root_directory": str(root)}, "executor": {"kind": "serial"},
              "analyses": {"dct": {"class": "CLDctFeatures", "params": {"k": ParameterRange([1, 2, 3])}}}}
    assert run_batch(params, progress=False).results == 3
    with cldata.open(root) as store:
        by_k = {r.parameters["k"]: r for r in store.filter(analysis="CLDctFeatures").analysis_results}
        assert sorted(by_k) == [1, 2, 3]
        assert all(by_k[k].result.dct_height_coefficients.shape == (k, 8) for k in by_k)


@pytest.mark.parametrize(("cls", "params", "named"), [
    (CLFiringStats, {"bin_size_sec": 0}, "bin_size_sec"),
    (CLFiringStats, {"bin_size_sec": "1"}, "bin_size_sec"),
    (CLNetworkBursts, {"bin_size_sec": 0.01, "onset_freq_hz": 2.0}, "offset_freq_hz"),
    (CLNetworkBursts, {"bin_size_sec": 0.01, "onset_freq_hz": 2, "offset_freq_hz": 1, "min_active_channels": 0},
     "min_active_channels"),
    (CLCriticality, {"bin_size_sec": 0.004, "percentile_threshold": 1.5}, "percentile_threshold"),
    (CLCriticality, {"bin_size_sec": 0.004, "percentile_threshold": 0.5, "duration_thresholds": [5, 2]},
     "duration_thresholds"),
    (CLCriticality, {"bin_size_sec": 0.004, "percentile_threshold": 0.5, "n_bootstraps": 0}, "n_bootstraps"),
    (CLInformationEntropy, {"bin_size_sec": 0.01, "log_base": 1}, "log_base"),
    (CLLempelZivComplexity, {"bin_size_sec": 0.01, "normalise": "yes"}, "normalise"),
    (CLDctFeatures, {"k": 0}, "k"),
    (CLDctFeatures, {"k": 2.5}, "k"),
    (CLSpikeTriggeredHistogram, {"bin_size_sec": 0.01, "start_sec": -1, "end_sec": 0.05, "num_channels": 3},
     "start_sec"),
    (CLFunctionalConnectivity, {"bin_size_sec": 0.05, "correlation_threshold": 2}, "correlation_threshold"),
    (CLFunctionalConnectivity, {"bin_size_sec": 0.05, "louvain_seed": -1}, "louvain_seed"),
    (CLFunctionalConnectivity, {"bin_size_sec": 0.05, "timestamp_limit": 3}, "timestamp_limit"),
])
def test_bad_parameters_raise_a_parameter_error_naming_them(cls, params, named):
    with pytest.raises(ParameterError, match=named):
        cls(params)


def test_the_analyses_are_named_by_class_and_have_the_official_defaults():
    assert all(get_analysis(c.__name__) is c for c in CL_TOOLKIT_ANALYSES)
    assert CLFiringStats().parameters == {"bin_size_sec": 1.0}
    crit = CLCriticality(bin_size_sec=0.004, percentile_threshold=0.5).parameters
    assert crit == {"bin_size_sec": 0.004, "percentile_threshold": 0.5, "max_lags_branching_ratio": 40,
                    "duration_thresholds": [2, 5], "min_spike_count_threshold": 10, "n_bootstraps": 100,
                    "random_seed": 42}
    assert CLInformationEntropy(bin_size_sec=0.1).parameters == {"bin_size_sec": 0.1, "fillna": 0.0, "log_base": None}


def test_a_windowed_views_results_carry_the_window_and_match_the_limited_drop_in(store_root):
    lo, hi = 10_000, 40_000
    with cldata.open(store_root) as store:
        part = store.between(lo, hi).recordings[0]
        (windowed,) = CLFiringStats(bin_size_sec=0.25).compute(part)
        (whole,) = CLFiringStats(bin_size_sec=0.25).compute(store.recordings[0])
        rec = store.recordings[0]
        rec.analysis_timestamp_limit(lo, hi)
        expected = rec.analyse_firing_stats(0.25)
    assert windowed.parameters["window"] == [lo, hi] and "window" not in whole.parameters
    assert windowed.result_id != whole.result_id
    assert_same(expected, windowed.result)
    assert windowed.result.firing_counts.shape == (64, 5)  # 30 000 frames in bins of 6 250


def test_a_limit_set_on_a_handle_is_refused_rather_than_stored_unlabelled(store_root):
    with cldata.open(store_root) as store:
        rec = store.recordings[0]
        rec.analysis_timestamp_limit(0, 25_000)
        with pytest.raises(ParameterError, match="store.between"):
            CLFiringStats().compute(rec)


def test_the_louvain_seed_makes_the_partition_reproducible_and_leaves_numpys_state_alone(store_root):
    with cldata.open(store_root) as store:
        rec = store.recordings[0]
        np.random.seed(123)
        before = np.random.get_state()[1].copy()
        a = CLFunctionalConnectivity(bin_size_sec=0.05, correlation_threshold=0.4, louvain_seed=5).compute(rec)[0]
        assert np.array_equal(np.random.get_state()[1], before)
        b = CLFunctionalConnectivity(bin_size_sec=0.05, correlation_threshold=0.4, louvain_seed=5).compute(rec)[0]
    assert a.result.graph_partition and a.result.graph_partition == b.result.graph_partition
    assert a.summary()["modularity_index"] == b.summary()["modularity_index"]


def test_a_stored_payload_naming_another_class_is_refused():
    with pytest.raises(UnsupportedValueError, match="not a result class of the CL toolkit"):
        CLToolkitResult("x", result_class="os.system", result_fields={}, packed_fields={})
    with pytest.raises(UnsupportedValueError, match="unknown packing"):
        CLToolkitResult("x", result_class="AnalysisResultDctFeatures", result_fields={}, packed_fields={"k": "eval"})
    with pytest.raises(UnsupportedValueError, match="CL toolkit"):
        CLToolkitResult("x", {"not": "a result"})
    bad = CLToolkitResult.from_store("res_x", "dct_features", {}, [], [], lambda: {
        "result_class": "AnalysisResultDctFeatures", "result_fields": {"k": 2}, "packed_fields": {}})
    with pytest.raises(StoreFormatError, match="cannot be rebuilt"):
        _ = bad.result
    ragged = {"values": np.arange(5), "lengths": np.array([2, 9])}  # lengths that do not add up
    bad = CLToolkitResult.from_store("res_y", "criticality", {}, [], [], lambda: {
        "result_class": "AnalysisResultCriticality", "result_fields": {"avalanche_spike_counts_per_bin": ragged},
        "packed_fields": {"avalanche_spike_counts_per_bin": "arrays"}})
    with pytest.raises(StoreFormatError, match="do not add up"):
        _ = bad.result
    assert get_result_kind("CLToolkitResult") is CLToolkitResult


spikes = st.lists(st.tuples(st.integers(0, 999), st.integers(1, 62).filter(lambda c: c not in GROUND)), max_size=80)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pairs=spikes)
def test_any_result_survives_both_backends_payload_codecs(pairs):
    pairs = sorted(pairs)
    data = make_data([t for t, _ in pairs], [c for _, c in pairs], fs=1000.0)
    results = [
        CLFiringStats(bin_size_sec=0.1).analyse(data),
        CLNetworkBursts(bin_size_sec=0.01, onset_freq_hz=1.0, offset_freq_hz=0.5).analyse(data),
        CLSpikeTriggeredHistogram(bin_size_sec=0.01, start_sec=0.05, end_sec=0.05, num_channels=3).analyse(data),
        CLLempelZivComplexity(bin_size_sec=0.02, use_binary=False).analyse(data),
    ]
    for backend in (HDF5Backend(Path("."), writable=False), PickleBackend(Path("."), writable=False)):
        for result in results:
            payload = CLToolkitResult("x", result).payload()
            back = CLToolkitResult.from_store("res_x", "x", {}, [], [],
                                              lambda p=payload, b=backend: b.decode_payload(b.encode_payload(p)))
            assert_same(result, back.result, type(result).__name__)
            assert_same(toolkit_scalars(result), toolkit_scalars(back.result), "scalars")
            assert set(toolkit_payload(result)["result_fields"]) == {f.name for f in dataclasses.fields(result)}


@pytest.mark.parametrize("catalog", ["sqlite", "backend"])
def test_a_silent_recordings_nan_summaries_survive_every_catalog(tmp_path, catalog):
    root = tmp_path / "store"
    with cldata.open(root, mode="a", catalog=catalog) as store:
        store.add_recording(write_recording(tmp_path / "silent.h5", [], [], frames=25_000), {"culture": "C0"})
        store.commit()
        store.add_analysis_results(CLFiringStats().compute(store.recordings[0]))
        store.commit()
    with cldata.open(root, catalog=catalog) as store:
        (r,) = store.filter(analysis="CLFiringStats").analysis_results
        assert math.isnan(r.summary_hint["culture_ISI_mean"]) and r.summary_hint["culture_max_firing_rates"] == 0.0
        assert math.isnan(r.result.culture_ISI_mean)


def test_the_spike_triggered_analysis_prints_nothing(store_root, capsys):
    _, _, kwargs = CASES[6]
    with cldata.open(store_root) as store:
        (r,) = CLSpikeTriggeredHistogram(kwargs).compute(store.recordings[0])
    assert r.result.num_eligible_channels == 4 and len(r.result.histograms) == 12
    assert capsys.readouterr().out == ""


def test_the_parameter_file_runs_every_method_on_recordings_like_the_demos(tmp_path):
    # what `cldata demo` simulates (samples included: the layout check reads the ground channels)
    root = tmp_path / "store"
    with cldata.open(root, mode="a") as store:
        for i in range(2):
            path = tmp_path / f"sim_{i}.h5"
            simulate_recording(path, duration_s=3.0, seed=i, mean_rate_hz=3.0 + i % 3)
            store.add_recording(path, {"culture": f"C{i % 2 + 1}", "session": 1})
        store.commit()
    report = run_batch(run_params(root, "serial"), progress=False)
    assert report.ok and report.results == 20, str(report)
    with cldata.open(root) as store:
        crit = store.filter(analysis="CLCriticality").analysis_results
        assert len(crit) == 6 and all(math.isfinite(r.summary_hint["branching_ratio"]) for r in crit)
        assert sum(r.summary_hint["network_burst_count"] for r in store.filter(analysis="CLNetworkBursts")
                   .analysis_results) >= 1
        if importlib.util.find_spec("pandas"):  # the metric across recordings and bin widths
            frame = store.filter(analysis="CLCriticality").metric_frame("branching_ratio")
            assert len(frame) == 6 and sorted(set(frame["culture"])) == ["C1", "C2"]
            assert sorted(set(frame["bin_size_sec"])) == [0.002, 0.004, 0.008]


def test_a_stored_result_draws_with_its_toolkit_plot(store_root, tmp_path):
    pytest.importorskip("matplotlib")
    with cldata.open(store_root) as store:
        rec = store.recordings[0]
        (dct,) = CLDctFeatures(k=2).compute(rec)
        (crit,) = CLCriticality(CASES[2][2]).compute(rec)
    dct.plot(save_path=tmp_path / "dct.png")
    assert (tmp_path / "dct.png").stat().st_size > 0
    with pytest.raises(UnsupportedValueError, match="plot_branching_ratio"):
        crit.plot()
