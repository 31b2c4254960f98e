"""The toolkit's plots (CL-ANALYSES §7.9, §10–§13): what they draw, where they save, when they show.

Every plot is checked on synthetic recordings written in tmp_path and, where ../shared is beside
the checkout, on the shared reference recording through ``cldata.RecordingView`` methods. Each test
runs in its own tmp_path with ``plt.show`` replaced, and fails if a stray ``None.png`` (the
official bug) appears there.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from matplotlib.collections import EventCollection, LineCollection, PathCollection  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from toolkit_reference import CL_DIR, write_recording  # noqa: E402

import cldata  # noqa: E402
from cldata.toolkit.connectivity import AnalysisResultsFunctionalConnectivity  # noqa: E402
from cldata.toolkit.criticality import AnalysisResultCriticality  # noqa: E402
from cldata.toolkit.dct import AnalysisResultDctFeatures  # noqa: E402
from cldata.toolkit.plots.common import pyplot  # noqa: E402
from cldata.toolkit.plots.criticality import mean_sizes_by_duration, resampled_profile  # noqa: E402
from cldata.toolkit.spike_triggered import AnalysisResultSpikeTriggeredHistogram  # noqa: E402

CLOSE = plt.close  # the real one: some tests replace plt.close
SHARED_H5 = CL_DIR / "sim_analysis_recording.h5"
needs_shared = pytest.mark.skipif(not SHARED_H5.exists(),
                                  reason=f"the shared reference recording is not beside the checkout ({SHARED_H5})")
FS = 25_000
GROUND_AND_REFERENCE = (0, 4, 7, 56, 63)


# -- fixtures -------------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def in_tmp_dir(tmp_path, monkeypatch):
    """Run in tmp_path (where a stray ``None.png`` would land), close every figure afterwards."""
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    CLOSE("all")
    assert not (tmp_path / "None.png").exists(), "a plot wrote the official bug's None.png"
    assert not (tmp_path / "None").exists()


@pytest.fixture(autouse=True)
def shown(monkeypatch):
    """``plt.show`` replaced: the figures it was asked to show (the current one at each call)."""
    calls: list = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: calls.append((plt.gcf(), k)))
    return calls


@pytest.fixture
def kept(monkeypatch):
    """``plt.close`` replaced: the raster plot's figure stays open for inspection."""
    closed: list = []
    monkeypatch.setattr(plt, "close", lambda fig=None: closed.append(fig))
    return closed


def write_raster_recording(path: Path) -> Path:
    """2 s: spikes on channels 8 (two, one duplicated), 9 and 20; stims on channels 8 and 30."""
    ts = np.array([1_000, 2_000, 2_000, 30_000, 40_000], np.int64)
    ch = np.array([8, 8, 8, 9, 20], np.uint8)
    with cldata.RecordingWriter(path, channel_count=64, frames_per_second=FS) as w:
        samples = np.tile(np.linspace(-10, 10, 75, dtype=np.float32), (len(ts), 1))
        w.append_spikes(ts, ch, samples)
        w.append_stims(np.array([5_000, 45_000, 49_999]), np.array([8, 30, 8]))
    return path


def avalanche_spikes(seed: int = 0, count: int = 200, width: int = 100):
    """Avalanches of heavy-tailed durations and sizes on the 59 analysed channels, gaps between."""
    rng = np.random.default_rng(seed)
    channels = np.array([c for c in range(64) if c not in GROUND_AND_REFERENCE])
    ts, ch, start = [], [], 5
    for _ in range(count):
        duration = int(min(rng.zipf(2.0), 30))
        for j in range(duration):
            for c in rng.choice(channels, size=int(min(rng.zipf(1.8), 40)), replace=False):
                ts.append((start + j) * width + int(rng.integers(0, width)))
                ch.append(int(c))
        start += duration + int(rng.integers(1, 6))
    order = np.argsort(ts, kind="stable")
    return np.array(ts)[order], np.array(ch)[order], (start + 5) * width


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    ts, ch, frames = avalanche_spikes()
    return write_recording(tmp_path_factory.mktemp("plots") / "avalanches.h5", ts, ch, frames=frames)


@pytest.fixture(scope="module")
def criticality(synthetic):
    with cldata.RecordingView(synthetic) as rec:
        return rec.analyse_criticality(0.004, 0.0)


def lines_with_data(ax) -> list:
    return [line for line in ax.get_lines() if len(line.get_xdata())]


def png_written(path: Path) -> bool:
    return path.exists() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- matplotlib stays optional --------------------------------------------------------------------

def test_import_cldata_does_not_import_matplotlib():
    """Neither ``import cldata`` nor importing the plot modules loads matplotlib (an optional extra)."""
    code = ("import sys, cldata; assert 'matplotlib' not in sys.modules, 'import cldata'; "
            "import cldata.toolkit.plots.raster, cldata.toolkit.plots.criticality, cldata.toolkit.plots.dct, "
            "cldata.toolkit.plots.spike_triggered, cldata.toolkit.plots.connectivity; "
            "assert 'matplotlib' not in sys.modules, 'the plot modules'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_a_missing_matplotlib_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r'pip install "cldata\[plot\]"'):
        pyplot("plot_spike")
    with pytest.raises(ImportError, match=r"plot_spike needs matplotlib"):
        cldata.RecordingView.plot_spike((1, 2, np.zeros(75)))


OFFICIAL_SIGNATURES = {
    ("criticality", "plot_avalanche_sizes"): "(self, figsize=(5, 4), title=None, save_path=None, ax=None)",
    ("criticality", "plot_avalanche_durations"): "(self, figsize=(5, 4), title=None, save_path=None, ax=None)",
    ("criticality", "plot_deviation_from_criticality_coefficient"):
        "(self, figsize=(5, 4), title=None, save_path=None, ax=None)",
    ("criticality", "plot_branching_ratio"): "(self, figsize=(5, 4), title=None, save_path=None, ax=None)",
    ("criticality", "plot_avalanche_shape_collapse_analysis"):
        "(self, figsize=(4.5, 12), title=None, save_path=None, axes=None)",
    ("dct", "plot"): "(self, figsize=(9, 8), title=None, save_path=None, cmap='RdBu')",
    ("spike_triggered", "plot"): "(self, figsize=(8, 2), title=None, save_path=None, axes=None)",
    ("connectivity", "plot"): "(self, figsize=(6, 6), title=None, save_path=None, ax=None)",
}


@pytest.mark.parametrize(("module", "method"), sorted(OFFICIAL_SIGNATURES))
def test_result_plot_methods_have_the_official_signatures(module, method):
    classes = {"criticality": AnalysisResultCriticality, "dct": AnalysisResultDctFeatures,
               "spike_triggered": AnalysisResultSpikeTriggeredHistogram,
               "connectivity": AnalysisResultsFunctionalConnectivity}
    signature = inspect.signature(getattr(classes[module], method))
    plain = signature.replace(parameters=[p.replace(annotation=inspect.Parameter.empty)
                                          for p in signature.parameters.values()],
                              return_annotation=inspect.Signature.empty)
    assert str(plain) == OFFICIAL_SIGNATURES[module, method]


# -- plot_spikes_and_stims ------------------------------------------------------------------------

def raster_collections(ax):
    events = [c for c in ax.collections if isinstance(c, EventCollection)]
    black = [c for c in events if np.allclose(np.ravel(c.get_color())[:3], 0)]
    red = [c for c in events if np.allclose(np.ravel(c.get_color())[:3], (1, 0, 0))]
    circles = [c for c in ax.collections if isinstance(c, PathCollection)]
    return black, red, circles


def nonempty_rows(collections) -> dict[int, list[float]]:
    return {int(round(c.get_lineoffset())): sorted(c.get_positions()) for c in collections if len(c.get_positions())}


def test_raster_draws_a_row_per_channel_with_spikes_and_stims(tmp_path, kept, shown):
    path = write_raster_recording(tmp_path / "raster.h5")
    with cldata.RecordingView(path) as rec:
        rec.plot_spikes_and_stims()
    fig = shown[0][0]
    assert shown[0][1] == {"block": True}
    assert kept == [fig]
    ax = fig.axes[0]
    black, red, circles = raster_collections(ax)
    assert len(black) == len(red) == 64
    assert nonempty_rows(black) == {8: [0.04, 0.08], 9: [1.2], 20: [1.6]}  # the duplicate collapsed
    assert nonempty_rows(red) == {8: [0.2, 49_999 / FS], 30: [1.8]}
    assert {c.get_linelength() for c in red} == {2.2}
    offsets = circles[0].get_offsets()
    assert sorted(map(tuple, np.round(offsets, 6))) == [(0.2, 8.4), (1.8, 30.4), (round(49_999 / FS, 6), 8.4)]
    assert ax.get_xlabel() == "Time (s)" and ax.get_ylabel() == "Channel"
    assert ax.xaxis.label.get_fontsize() == 18
    assert ax.get_title() == f"Spikes (black) and Stims (red) per Channel over Time\n{path}"
    assert ax.get_xlim() == (0, 2.0) and ax.get_ylim() == (-1, 65)
    assert list(ax.get_yticks()) == [0, 8, 16, 24, 32, 40, 48, 56, 64]


def test_raster_limits_channels_and_time_range_and_follows_the_analysis_window(tmp_path, kept, shown):
    path = write_raster_recording(tmp_path / "raster.h5")
    with cldata.RecordingView(path) as rec:
        rec.plot_spikes_and_stims(limit_to_channels=[8, 30], limit_to_time_range_secs=(0.5, 1.5), title="mine")
        rec.analysis_timestamp_limit(25_000, 50_000)
        rec.plot_spikes_and_stims()
    limited, windowed = (call[0].axes[0] for call in shown)
    black, red, circles = raster_collections(limited)
    assert nonempty_rows(black) == {8: [0.04, 0.08]}
    assert nonempty_rows(red) == {8: [0.2, 49_999 / FS], 30: [1.8]}
    assert limited.get_xlim() == (0.5, 1.5) and limited.get_title() == "mine"
    black, red, circles = raster_collections(windowed)
    assert nonempty_rows(black) == {9: [0.2], 20: [0.6]}  # window-relative seconds
    assert nonempty_rows(red) == {30: [0.8], 8: [24_999 / FS]}
    assert len(circles[0].get_offsets()) == 2


def test_raster_saves_tight_then_closes_its_figure(tmp_path, shown):
    path = write_raster_recording(tmp_path / "raster.h5")
    with cldata.RecordingView(path) as rec:
        assert rec.plot_spikes_and_stims(save_path=tmp_path / "raster.png", limit_to_channels=[9]) is None
    assert png_written(tmp_path / "raster.png")
    assert not shown and plt.get_fignums() == []


def test_raster_refuses_a_channel_the_recording_lacks(tmp_path):
    path = write_raster_recording(tmp_path / "raster.h5")
    with cldata.RecordingView(path) as rec, pytest.raises(ValueError, match=r"outside 0\.\.63"):
        rec.plot_spikes_and_stims(limit_to_channels=[8, 64])


# -- plot_spike -----------------------------------------------------------------------------------

def test_plot_spike_accepts_table_rows_tuples_and_objects(tmp_path):
    path = write_raster_recording(tmp_path / "raster.h5")
    with cldata.RecordingView(path) as rec:
        table_row, read_row = rec.spikes[3], rec.read_spikes()[3]
        row_iterated = next(iter(rec.spikes.iterrows(3, 4)))
        samples = np.linspace(-10, 10, 75)
        spikes = [table_row, read_row, row_iterated, (30_000, 9, samples),
                  SimpleNamespace(timestamp=30_000, channel=9, samples=samples)]
        for spike in spikes:
            fig, ax = plt.subplots()
            assert cldata.RecordingView.plot_spike(spike, ax=ax) is ax
            (line,) = lines_with_data(ax)[:1]
            assert np.allclose(line.get_ydata(), samples, atol=1e-5)
            assert list(line.get_xdata()) == list(range(75))
            assert ax.get_xlabel() == "Spike on Channel 9 at Timestamp 30000"
            plt.close(fig)


def test_plot_spike_marks_sample_25_and_labels_microvolts():
    fig, ax = plt.subplots()
    cldata.RecordingView.plot_spike((5, 2, np.arange(75.0)), ax=ax, title="a spike")
    marker = [line for line in ax.get_lines() if line.get_linestyle() == ":"]
    assert len(marker) == 1 and list(marker[0].get_xdata()) == [25, 25]
    assert ax.get_xlabel() == "a spike"
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert labels and all(text.endswith(" µV") for text in labels)


def test_plot_spike_saves_or_shows_and_never_writes_none_png(in_tmp_dir, shown):
    spike = (5, 2, np.zeros(75))
    ax = cldata.RecordingView.plot_spike(spike)
    assert [call[0] for call in shown] == [ax.figure]
    cldata.RecordingView.plot_spike(spike, save_path=in_tmp_dir / "spike.png")
    assert png_written(in_tmp_dir / "spike.png") and len(shown) == 1
    fig, given_ax = plt.subplots()
    assert cldata.RecordingView.plot_spike(spike, ax=given_ax) is given_ax
    assert len(shown) == 1 and sorted(p.name for p in in_tmp_dir.iterdir()) == ["spike.png"]


@pytest.mark.parametrize("bad", [(1, 2), {"timestamp": 1}, 42])
def test_plot_spike_refuses_what_is_not_a_spike(bad):
    with pytest.raises(ValueError, match="spike"):
        cldata.RecordingView.plot_spike(bad)


# -- criticality ------------------------------------------------------------------------------------

DISTRIBUTIONS = [("plot_avalanche_sizes", "avalanche_spike_counts", "exclusion_bounds_spike_counts",
                  "ks_min_bound_spike_counts", "tau_exponent_spike_counts", "Size Exponent"),
                 ("plot_avalanche_durations", "avalanche_durations", "exclusion_bounds_durations",
                  "ks_min_bound_durations", "alpha_exponent_durations", "Duration Exponent")]


@pytest.mark.parametrize(("method", "values", "bounds", "xmin", "exponent", "label"), DISTRIBUTIONS)
def test_avalanche_distribution_plots_draw_the_histogram_and_the_fit(criticality, method, values, bounds,
                                                                     xmin, exponent, label):
    r = criticality
    ax = getattr(r, method)()
    data = getattr(r, values)
    dots, fit = ax.get_lines()
    top = int(data.max())
    assert list(dots.get_xdata()) == list(range(top + 1))
    assert np.isclose(np.sum(dots.get_ydata()), 1.0)
    assert np.isclose(dots.get_ydata()[1], np.mean(data == 1))
    lo, hi = getattr(r, bounds)
    x = np.arange(max(1, int(lo)), int(hi) + 1)
    assert list(fit.get_xdata()) == list(x) and fit.get_linestyle() == "--"
    assert np.allclose(fit.get_ydata(), (x / getattr(r, xmin)) ** -getattr(r, exponent))
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert ax.get_title() == f"{label}: {getattr(r, exponent):.2f}"
    assert ax.get_ylabel() == "Probability" and ax.get_xlabel()


def test_a_distribution_without_a_fit_draws_only_the_dots(criticality):
    r = dataclasses.replace(criticality, tau_exponent_spike_counts=math.nan)
    ax = r.plot_avalanche_sizes(title="no fit")
    assert len(ax.get_lines()) == 1 and ax.get_title() == "no fit"
    empty = dataclasses.replace(criticality, avalanche_spike_counts=np.zeros(0, np.int64))
    assert empty.plot_avalanche_sizes().get_lines() == []


def test_dcc_plot_draws_mean_sizes_and_the_fitted_scaling_law(criticality):
    r = criticality
    assert math.isfinite(r.deviation_from_criticality_coefficient)
    ax = r.plot_deviation_from_criticality_coefficient()
    dots, fit = ax.get_lines()
    times = r.scaling_relation_time_values
    assert list(dots.get_xdata()) == list(times)
    expected = [r.avalanche_spike_counts[r.avalanche_durations == t].mean() for t in times]
    assert np.allclose(dots.get_ydata(), expected)
    slope, intercept = r.scaling_relation_fitted_params
    assert np.allclose(fit.get_ydata(), np.exp(intercept) * times ** slope)
    assert ax.get_title() == f"DCC: {r.deviation_from_criticality_coefficient:.2f}"
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert ax.get_xlabel() and ax.get_ylabel()


def test_dcc_plot_with_a_non_finite_dcc_returns_the_given_ax_undrawn(criticality, capsys, shown):
    r = dataclasses.replace(criticality, deviation_from_criticality_coefficient=math.nan)
    fig, ax = plt.subplots()
    assert r.plot_deviation_from_criticality_coefficient(ax=ax) is ax
    assert ax.get_lines() == [] and ax.get_title() == ""
    assert r.plot_deviation_from_criticality_coefficient() is None
    assert "nan" in capsys.readouterr().out and not shown


def test_branching_ratio_plot_draws_slopes_and_the_fit(criticality):
    r = criticality
    ax = r.plot_branching_ratio()
    dots, fit = ax.get_lines()
    assert np.allclose(dots.get_xdata(), r.time_lags_k) and np.allclose(dots.get_ydata(), r.time_lags_slopes)
    amplitude, ratio = r.time_lags_fit_parameters
    assert np.allclose(fit.get_ydata(), abs(amplitude) * abs(ratio) ** r.time_lags_k)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert f"MR Estimation (BR = {r.branching_ratio:.4f})" in legend
    assert ax.get_title() == "Autocorrelation with Mean-Response Estimation"
    empty = dataclasses.replace(r, branching_ratio=math.nan, time_lags_k=np.zeros(0), time_lags_slopes=np.zeros(0),
                                time_lags_fit_parameters=np.zeros(0))
    assert empty.plot_branching_ratio().get_lines() == []


def test_shape_collapse_draws_three_panels(criticality, shown):
    r = criticality
    axes = r.plot_avalanche_shape_collapse_analysis()
    assert len(axes) == 3 and len({ax.figure for ax in axes}) == 1
    assert tuple(axes[0].figure.get_size_inches()) == (4.5, 12)
    assert [call[0] for call in shown] == [axes[0].figure]
    variance, spread, shapes = axes
    profiles = r.mean_spike_counts_per_bin_by_duration
    (points,) = variance.get_lines()
    assert list(points.get_xdata()) == list(r.unique_durations_within_threshold)
    (curve, marker) = spread.get_lines()
    assert len(curve.get_xdata()) == 1001 and list(marker.get_xdata()) == [r.beta_exponent] * 2
    assert len(shapes.get_lines()) == len(profiles) + 1  # each scaled profile and their mean
    assert len(shapes.get_lines()[-1].get_xdata()) == 100
    assert [t.get_text() for t in shapes.get_legend().get_texts()][-1] == "mean"
    assert all(ax.get_title() and ax.get_xlabel() and ax.get_ylabel() for ax in axes)
    assert axes[0].figure.get_suptitle() == "Avalanche Shape Collapse Analysis"


def test_shape_collapse_draws_on_given_axes_and_wants_three(criticality, shown):
    fig, given_axes = plt.subplots(1, 3)
    assert criticality.plot_avalanche_shape_collapse_analysis(axes=given_axes, title="t") == list(given_axes)
    assert fig.get_suptitle() == "t" and not shown
    with pytest.raises(ValueError, match="3 panels"):
        criticality.plot_avalanche_shape_collapse_analysis(axes=given_axes[:2])


CRITICALITY_PLOTS = ["plot_avalanche_sizes", "plot_avalanche_durations", "plot_deviation_from_criticality_coefficient",
                     "plot_branching_ratio"]


@pytest.mark.parametrize("method", CRITICALITY_PLOTS)
def test_criticality_plots_save_show_or_draw_on_the_given_ax(criticality, method, in_tmp_dir, shown):
    plot = getattr(criticality, method)
    own = plot()
    assert tuple(own.figure.get_size_inches()) == (5, 4)
    assert [call[0] for call in shown] == [own.figure]
    plot(save_path=in_tmp_dir / "out.png", figsize=(3, 2))
    assert png_written(in_tmp_dir / "out.png") and len(shown) == 1
    fig, ax = plt.subplots()
    assert plot(ax=ax) is ax and len(shown) == 1
    assert sorted(p.name for p in in_tmp_dir.iterdir()) == ["out.png"]


def test_the_shape_collapse_plot_saves(criticality, in_tmp_dir, shown):
    criticality.plot_avalanche_shape_collapse_analysis(save_path=in_tmp_dir / "collapse.png")
    assert png_written(in_tmp_dir / "collapse.png") and not shown


def test_mean_sizes_by_duration_leaves_nan_where_no_avalanche():
    assert np.allclose(mean_sizes_by_duration(np.array([2, 4, 9]), np.array([2, 2, 3]), np.array([2, 3, 4])),
                       [3.0, 9.0, np.nan], equal_nan=True)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 1e3), min_size=1, max_size=40))
def test_resampled_profiles_are_zero_at_both_ends_and_bounded(values):
    out = resampled_profile(np.array(values))
    assert out.shape == (100,) and out[0] == 0 and out[-1] == 0
    assert out.max() <= max(values) + 1e-9 and out.min() >= 0


# -- DCT, spike-triggered histograms, functional connectivity --------------------------------------

def test_dct_plot_draws_the_k_by_k_basis_on_one_scale(synthetic, in_tmp_dir, shown):
    with cldata.RecordingView(synthetic) as rec:
        result = rec.analyse_dct_features(3)
    fig = result.plot()
    assert [call[0] for call in shown] == [fig]
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == 9 and len(fig.axes) == 10  # 3×3 panels and one colour bar
    assert [ax.get_title() for ax in images[:4]] == ["DCT basis (0,0)", "DCT basis (0,1)", "DCT basis (0,2)",
                                                     "DCT basis (1,0)"]
    basis = result.dct_height_coefficients
    assert np.allclose(images[5].images[0].get_array(), np.outer(basis[1], basis[2]))
    limit = np.abs(np.einsum("ir,jc->ijrc", basis, basis)).max()
    assert {im.images[0].get_clim() for im in images} == {(-limit, limit)}
    assert images[0].images[0].get_cmap().name == "RdBu"
    assert fig.axes[-1].get_ylabel() == "DCT Coefficient Values"
    assert fig.get_suptitle() == "Discrete Cosine Transform (DCT) with k=3"
    assert tuple(fig.get_size_inches()) == (9, 8)
    saved = result.plot(save_path=in_tmp_dir / "dct.png", title="basis", cmap="viridis")
    assert png_written(in_tmp_dir / "dct.png") and len(shown) == 1 and saved.get_suptitle() == "basis"


@pytest.fixture(scope="module")
def sth(tmp_path_factory):
    """Three channels firing together at lags 0 and +5 ms: six histograms."""
    tmp_path = tmp_path_factory.mktemp("sth")
    base = np.arange(10) * 2_500 + 100
    ts = np.concatenate([base, base + 125, base + 250])
    ch = np.repeat([10, 20, 30], 10)
    order = np.argsort(ts, kind="stable")
    path = write_recording(tmp_path / "sth.h5", ts[order], ch[order], frames=25_000)
    with cldata.RecordingView(path) as rec:
        return rec.analyse_spike_triggered_histogram(0.01, 0.05, 0.05, num_channels=3)


def test_sth_plot_draws_one_row_of_bars_per_histogram(sth, shown):
    result = sth
    axes = result.plot()
    assert len(axes) == len(result.histograms) == 6
    assert tuple(axes[0].figure.get_size_inches()) == (8, 12)  # 2 high per histogram
    assert [call[0] for call in shown] == [axes[0].figure]
    bins = result.histogram_bins
    for ax, ((a, b), counts) in zip(axes, result.histograms.items(), strict=True):
        bars = [p for p in ax.patches if isinstance(p, Rectangle)]
        assert len(bars) == len(bins) - 1
        assert np.allclose([p.get_x() for p in bars], bins[:-1])
        assert np.allclose([p.get_width() for p in bars], np.diff(bins))
        assert [p.get_height() for p in bars] == list(counts)
        assert ax.get_title() == f"Base: Channel {a}, Target: Channel {b}"
        assert ax.get_xlabel() == "Time (secs) relative to base spike" and ax.get_ylabel() == "Spike Count"
        (zero,) = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
        assert list(zero.get_xdata()) == [0, 0]
    assert axes[0].figure.get_suptitle() == "Spike-triggered Histograms"
    assert axes[0].get_shared_y_axes().joined(axes[0], axes[5])


def test_sth_plot_draws_on_given_axes_saves_and_refuses_too_few(sth, tmp_path, shown):
    result = sth
    fig, given_axes = plt.subplots(6, 1)
    assert result.plot(axes=given_axes, title="pairs") == list(given_axes)
    assert fig.get_suptitle() == "pairs" and not shown
    result.plot(save_path=tmp_path / "sth.png")
    assert png_written(tmp_path / "sth.png") and not shown
    with pytest.raises(ValueError, match="6 histograms"):
        result.plot(axes=given_axes[:2])
    with pytest.raises(ValueError, match="no histogram"):
        dataclasses.replace(result, histograms={}).plot()


@pytest.fixture(scope="module")
def fc(tmp_path_factory):
    """Channels 10 and 11 fire together, 20 and 21 together, 30 alone: two edges."""
    tmp_path = tmp_path_factory.mktemp("fc")
    rng = np.random.default_rng(3)
    bins_a = np.flatnonzero(rng.random(100) < 0.3)
    bins_b = np.flatnonzero(rng.random(100) < 0.3)
    bins_c = np.flatnonzero(rng.random(100) < 0.3)
    ts, ch = [], []
    for bins, channels in ((bins_a, (10, 11)), (bins_b, (20, 21)), (bins_c, (30,))):
        for b in bins:
            for c in channels:
                ts.append(int(b) * 2_500 + 10)
                ch.append(c)
    order = np.argsort(ts, kind="stable")
    path = write_recording(tmp_path / "fc.h5", np.array(ts)[order], np.array(ch)[order], frames=250_000)
    with cldata.RecordingView(path) as rec:
        np.random.seed(0)
        return rec.analyse_functional_connectivity(0.1, 0.9)


def test_fc_plot_draws_every_channel_on_the_grid_and_each_edge(fc, shown):
    result = fc
    ax = result.plot()
    assert [call[0] for call in shown] == [ax.figure]
    (nodes,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    positions = nodes.get_offsets()
    assert len(positions) == 64
    assert tuple(positions[9]) == (1, -1) and tuple(positions[63]) == (7, -7)
    (edges,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(edges.get_segments()) == 2
    assert np.allclose(edges.get_linewidths(), 5.0)  # both |w| = max|w|
    assert len(ax.texts) == 64 and ax.texts[0].get_fontsize() == 6
    assert not ax.axison
    assert ax.get_title() == "Functional Connectivity Graph (thr = 0.9)"
    palette = matplotlib.colormaps["tab20"]
    expected = [palette(result.graph_partition[node] % 20) for node in range(64)]
    assert np.allclose(nodes.get_facecolors(), expected)
    assert len(set(result.graph_partition.values())) > 20  # isolated channels are communities of their own


def test_fc_plot_without_partition_is_light_blue_and_draws_on_the_given_ax(fc, tmp_path, shown):
    result = dataclasses.replace(fc, graph_partition={})
    fig, ax = plt.subplots()
    assert result.plot(ax=ax, title="fc") is ax and not shown
    (nodes,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert {tuple(np.round(c, 4)) for c in nodes.get_facecolors()} == {
        tuple(np.round(matplotlib.colors.to_rgba("lightblue"), 4))}
    assert ax.get_title() == "fc"
    result.plot(save_path=tmp_path / "fc.png")
    assert png_written(tmp_path / "fc.png") and not shown


def test_fc_plot_refuses_a_graph_without_edges(fc):
    result = dataclasses.replace(fc, adjacency_matrix=np.zeros((64, 64)))
    with pytest.raises(ValueError, match="no edge"):
        result.plot()


# -- the shared reference recording through RecordingView ---------------------------------------

@needs_shared
def test_reference_raster_and_spike(kept, shown, in_tmp_dir):
    with cldata.RecordingView(SHARED_H5) as rec:
        rec.plot_spikes_and_stims(save_path=in_tmp_dir / "raster.png")
        ax = rec.plot_spike(rec.read_spikes()[0], save_path=in_tmp_dir / "spike.png")
        first = rec.read_spikes()[0]
    assert png_written(in_tmp_dir / "raster.png") and png_written(in_tmp_dir / "spike.png") and not shown
    black, red, circles = raster_collections(kept[0].axes[0])
    assert sum(len(c.get_positions()) for c in black) == 724
    assert len(circles[0].get_offsets()) == 40
    assert set(nonempty_rows(red)) == {8, 9, 10, 11}
    assert ax.get_xlabel() == f"Spike on Channel {first['channel']} at Timestamp {first['timestamp']}"


@needs_shared
def test_reference_analysis_plots(in_tmp_dir, shown):
    with cldata.RecordingView(SHARED_H5) as rec:
        crit = rec.analyse_criticality(0.004, 0.5)
        dct = rec.analyse_dct_features(2)
        sth = rec.analyse_spike_triggered_histogram(0.01, 0.05, 0.05, 3)
        np.random.seed(0)
        fc = rec.analyse_functional_connectivity(0.1, 0.2)
    for name in CRITICALITY_PLOTS:
        fig, ax = plt.subplots()
        drawn = getattr(crit, name)(ax=ax)
        assert drawn is ax or (name == "plot_deviation_from_criticality_coefficient"
                                and not math.isfinite(crit.deviation_from_criticality_coefficient))
    assert len(crit.plot_avalanche_shape_collapse_analysis(save_path=in_tmp_dir / "collapse.png")) == 3
    assert len([ax for ax in dct.plot(save_path=in_tmp_dir / "dct.png").axes if ax.images]) == 4
    assert len(sth.plot(save_path=in_tmp_dir / "sth.png")) == len(sth.histograms) == 6
    ax = fc.plot(save_path=in_tmp_dir / "fc.png")
    (edges,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(edges.get_segments()) == np.count_nonzero(np.triu(fc.adjacency_matrix))
    assert not shown
    assert all(png_written(in_tmp_dir / f"{n}.png") for n in ("collapse", "dct", "sth", "fc"))
