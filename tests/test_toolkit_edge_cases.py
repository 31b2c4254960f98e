"""The spec's edge cases for every method, through the drop-in methods of ``cldata.RecordingView``.

Each recording is written in ``tmp_path`` by cldata's writer (1 s at 1 kHz unless said) and
opened as a notebook would; the per-method tests (``test_toolkit_<method>.py``) check the
same rules on hand-made snapshots. Covered here for all eight methods: an empty spike table,
no spike table at all, silent channels, a zero-length window (``analysis_timestamp_limit(x, x)``
and ``between(x, x)``), invalid windows and the order of their checks (§1), a bin width of 0
frames (§2), a recording outside the MEA layout (§2), and the criticality percentile and
functional-connectivity threshold outside ``[0, 1]`` with the order of checks of §4.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import tables
from toolkit_reference import write_recording

import cldata
from cldata.errors import UntidyRecordingWarning

FS = 1000
FRAMES = 1000
LAYOUT_ERROR = "Recording does not conform to common MEA layout."
# every method with parameters meaningful at 1 kHz
CALLS = {
    "firing_stats": (0.1,),
    "network_bursts": (0.01, 2.0, 1.0),
    "criticality": (0.01, 0.5),
    "information_entropy": (0.1,),
    "lempel_ziv_complexity": (0.01,),
    "dct_features": (4,),
    "spike_triggered_histogram": (0.01, 0.05, 0.05, 4),
    "functional_connectivity": (0.1, 0.5),
}
NEEDS_LAYOUT = ("criticality", "dct_features", "spike_triggered_histogram", "functional_connectivity")


def analyse(rec, name: str, *args):
    return getattr(rec, f"analyse_{name}")(*(args or CALLS[name]))


def regular(channels=(9, 10, 17), step: int = 50, frames: int = FRAMES) -> tuple[list[int], list[int]]:
    """Spikes every ``step`` frames on each of ``channels`` (staggered by one frame), time-sorted."""
    pairs = sorted((t + i, c) for i, c in enumerate(channels) for t in range(0, frames - len(channels), step))
    return [t for t, _ in pairs], [c for _, c in pairs]


@pytest.fixture
def ordinary(tmp_path):
    return write_recording(tmp_path / "ordinary.h5", *regular(), frames=FRAMES, frames_per_second=FS)


# -- no spikes -------------------------------------------------------------------------------------


def test_empty_spike_table_gives_zeros_and_criticality_fails(tmp_path, capsys):
    with cldata.RecordingView(write_recording(tmp_path / "e.h5", frames=FRAMES, frames_per_second=FS)) as rec:
        firing = analyse(rec, "firing_stats")
        assert firing.firing_counts.shape == (64, 10) and not firing.firing_counts.any()
        assert firing.channel_ISI == [[]] * 64 and firing.channel_ISI_mean == [0.0] * 64
        assert math.isnan(firing.culture_ISI_mean) and firing.culture_max_firing_rates == 0.0
        bursts = analyse(rec, "network_bursts")
        assert bursts.network_burst_count == 0 and len(bursts.bursts) == 0
        assert sorted(bursts.spike_frames_by_channel) == list(range(64))
        assert not any(v.size for v in bursts.spike_frames_by_channel.values())
        with pytest.raises(ValueError, match="no spikes"):
            analyse(rec, "criticality")  # officially an IndexError reading the last row
        entropy = analyse(rec, "information_entropy").information_entropy_per_time_bin
        assert entropy.shape == (10,) and not entropy.any()
        lz = analyse(rec, "lempel_ziv_complexity").lzc_scores_per_channel
        assert lz.shape == (64, 1) and np.all(lz == lz[0, 0]) and lz[0, 0] > 0   # §14.8: silent is not 0
        assert not rec.analyse_lempel_ziv_complexity(0.01, use_binary=False).lzc_scores_per_channel.any()
        assert set(analyse(rec, "dct_features").dct_features.values()) == {0.0}
        sth = analyse(rec, "spike_triggered_histogram")
        assert sth.num_eligible_channels == 0 and sth.histograms == {} and sth.histogram_bins.size == 0
        assert "No channels to check that meet the firing rate threshold." in capsys.readouterr().out
        fc = analyse(rec, "functional_connectivity")
        assert not fc.adjacency_matrix.any() and fc.graph_partition == {}
        assert (fc.total_edge_weights, fc.clustering_coefficient, fc.modularity_index) == (0.0, 0.0, 0.0)


def test_no_spike_table_at_all_fails_every_method(tmp_path):
    path = write_recording(tmp_path / "n.h5", *regular(), frames=FRAMES, frames_per_second=FS)
    with tables.open_file(str(path), "a") as f:
        f.remove_node("/", "spikes")
    with pytest.warns(UntidyRecordingWarning, match="no /spikes table"):
        rec = cldata.RecordingView(path)
    with rec:
        for name in CALLS:
            # without samples the layout check fails first where there is one (§2)
            with pytest.raises(ValueError, match=LAYOUT_ERROR if name in NEEDS_LAYOUT else "no spikes table"):
                analyse(rec, name)


# -- silent channels ----------------------------------------------------------------------------------


def test_silent_channels(tmp_path):
    path = write_recording(tmp_path / "s.h5", *regular((9, 10), step=100), frames=FRAMES, frames_per_second=FS)
    with cldata.RecordingView(path) as rec:
        firing = analyse(rec, "firing_stats")
        silent = [c for c in range(64) if c not in (9, 10)]
        assert not firing.firing_counts[silent].any() and firing.firing_counts[[9, 10]].all()
        assert all(firing.channel_ISI[c] == [] and firing.channel_ISI_var[c] == 0.0 for c in silent)
        assert firing.channel_ISI_mean[9] == pytest.approx(0.1)
        # two of 64 channels active in every 100 ms bin: p = 2/64
        p = 2 / 64
        entropy = analyse(rec, "information_entropy").information_entropy_per_time_bin
        np.testing.assert_allclose(entropy, -p * math.log(p) - (1 - p) * math.log(1 - p), rtol=1e-12)
        lz = analyse(rec, "lempel_ziv_complexity").lzc_scores_per_channel[:, 0]
        assert len(set(lz[silent])) == 1 and lz[silent[0]] > 0 and lz[9] != lz[silent[0]]
        sth = analyse(rec, "spike_triggered_histogram")
        assert sth.num_eligible_channels == 2 and sorted(sth.histograms) == [(9, 10), (10, 9)]
        fc = rec.analyse_functional_connectivity(0.05, 0.0)
        assert not fc.adjacency_matrix[silent].any() and not fc.adjacency_matrix[:, silent].any()
        if fc.graph_partition:  # an edge between 9 and 10: the partition still names every channel
            assert sorted(fc.graph_partition) == list(range(64))


# -- windows ------------------------------------------------------------------------------------------


def check_zero_length(rec) -> None:
    with pytest.raises(ValueError, match="zero-length"):
        analyse(rec, "firing_stats")                      # officially the max of an empty array
    assert analyse(rec, "network_bursts").network_burst_count == 0
    with pytest.raises(ValueError):
        analyse(rec, "criticality")                       # officially an IndexError (no bins)
    assert analyse(rec, "information_entropy").information_entropy_per_time_bin.shape == (0,)
    lz = analyse(rec, "lempel_ziv_complexity").lzc_scores_per_channel
    assert lz.shape == (64, 1) and not lz.any()
    assert set(analyse(rec, "dct_features").dct_features.values()) == {0.0}
    assert analyse(rec, "spike_triggered_histogram").histograms == {}
    fc = analyse(rec, "functional_connectivity")
    assert not fc.adjacency_matrix.any() and fc.graph_partition == {}


def test_zero_length_window_through_the_limit_and_a_view(ordinary, capsys):
    with cldata.RecordingView(ordinary) as rec:
        rec.analysis_timestamp_limit(500, 500)
        check_zero_length(rec)
        check_zero_length(cldata.RecordingView(ordinary).between(500, 500))
        rec.analysis_timestamp_limit(FRAMES, FRAMES)      # at the very end too
        check_zero_length(rec)


@pytest.mark.parametrize("window, message", [
    ((-1, FRAMES + 1), "negative"),          # lo < 0 is checked first
    ((-1, -5), "negative"),
    ((300, FRAMES + 1), "beyond"),           # then hi > Dur ...
    ((FRAMES + 2, FRAMES + 1), "beyond"),    # ... before lo > hi
    ((7, 3), "greater"),
])
def test_invalid_windows_raise_in_the_official_order(ordinary, window, message):
    with cldata.RecordingView(ordinary) as rec:
        rec.analysis_timestamp_limit(100, 600)
        before = rec.analyse_firing_stats(0.1).firing_counts
        with pytest.raises(ValueError, match=message):
            rec.analysis_timestamp_limit(*window)
        if message != "beyond":  # both ends keep their values
            np.testing.assert_array_equal(rec.analyse_firing_stats(0.1).firing_counts, before)
        elif window[0] <= 600:   # §14.1: a valid lo with hi past the end is taken anyway
            assert rec.analyse_firing_stats(0.1).firing_counts.shape == (64, 3)
            for name in CALLS:
                if name != "criticality":
                    analyse(rec, name)  # the view stays usable
        else:                    # the quirk left lo past hi: analyses refuse until the window is reset
            for name in CALLS:
                with pytest.raises(ValueError, match="greater"):
                    analyse(rec, name)
            rec.analysis_timestamp_limit()
            assert rec.analyse_firing_stats(0.1).firing_counts.shape == (64, 10)


# -- bin widths, layout, parameters ------------------------------------------------------------------


def test_bin_width_of_zero_frames(ordinary):
    tiny = 0.0004  # 0.4 frames at 1 kHz
    with cldata.RecordingView(ordinary) as rec:
        for name, args in (("firing_stats", (tiny,)), ("network_bursts", (tiny, 2.0, 1.0)),
                           ("criticality", (tiny, 0.5)), ("functional_connectivity", (tiny, 0.5))):
            with pytest.raises(ValueError, match="0 frames"):
                analyse(rec, name, *args)
        # entropy and Lempel–Ziv round the width and keep at least one frame (§2)
        assert analyse(rec, "information_entropy", tiny).information_entropy_per_time_bin.shape == (FRAMES,)
        assert analyse(rec, "lempel_ziv_complexity", tiny).lzc_scores_per_channel.shape == (64, 1)


def test_recording_outside_the_mea_layout(tmp_path):
    ts, ch = regular((0, 9, 63))  # spikes on ground channels 0 and 63, no samples
    with cldata.RecordingView(write_recording(tmp_path / "g.h5", ts, ch, frames=FRAMES, frames_per_second=FS)) as rec:
        for name in NEEDS_LAYOUT:
            with pytest.raises(ValueError, match=LAYOUT_ERROR):
                analyse(rec, name)
        assert int(analyse(rec, "firing_stats").firing_counts[[0, 63]].sum()) == len(ts) * 2 // 3
        analyse(rec, "network_bursts")
        analyse(rec, "information_entropy")
        analyse(rec, "lempel_ziv_complexity")
        # the check looks at the whole file, whatever the window
        rec.analysis_timestamp_limit(FRAMES - 1, FRAMES)
        with pytest.raises(ValueError, match=LAYOUT_ERROR):
            analyse(rec, "dct_features")


def test_samples_decide_the_layout_before_the_spikes(tmp_path):
    ts, ch = regular((0, 9, 63))
    quiet = np.zeros((FRAMES, 64), np.int16)  # ground channels silent in the samples: the layout holds
    path = write_recording(tmp_path / "q.h5", ts, ch, frames=FRAMES, frames_per_second=FS, samples=quiet)
    with cldata.RecordingView(path) as rec:
        assert analyse(rec, "dct_features").dct_features["dct00_firing"] == pytest.approx(len(ts) / 2)
    noisy = quiet.copy()
    noisy[:, 7] = 5  # every frame of ground channel 7 non-zero: more than 0.1 * Dur
    path = write_recording(tmp_path / "n.h5", ts, ch, frames=FRAMES, frames_per_second=FS, samples=noisy)
    with cldata.RecordingView(path) as rec, pytest.raises(ValueError, match=LAYOUT_ERROR):
        analyse(rec, "functional_connectivity")


def test_dct_needs_64_channels(tmp_path):
    path = write_recording(tmp_path / "c32.h5", *regular(), frames=FRAMES, frames_per_second=FS, channel_count=32)
    with cldata.RecordingView(path) as rec, pytest.raises(ValueError, match="64"):
        analyse(rec, "dct_features")


@pytest.mark.parametrize("percentile", [-0.01, 1.5, math.inf])
def test_criticality_percentile_outside_0_1(ordinary, tmp_path, percentile):
    with cldata.RecordingView(ordinary) as rec:
        with pytest.raises(ValueError, match="percentile_threshold"):
            rec.analyse_criticality(0.01, percentile)
        with pytest.raises(ValueError, match="0 frames"):      # binning is checked before the percentile
            rec.analyse_criticality(0.0004, percentile)
    ts, ch = regular((0, 9))
    with cldata.RecordingView(write_recording(tmp_path / "g.h5", ts, ch, frames=FRAMES, frames_per_second=FS)) as rec:
        with pytest.raises(ValueError, match=LAYOUT_ERROR):     # and the layout before both
            rec.analyse_criticality(0.0004, percentile)


def test_criticality_percentile_ends_are_accepted(ordinary):
    with cldata.RecordingView(ordinary) as rec:
        for q in (0.0, 1.0):
            assert rec.analyse_criticality(0.01, q, n_bootstraps=2).percentile_threshold == q


@pytest.mark.parametrize("threshold", [-0.1, 1.01, math.nan])
def test_connectivity_threshold_outside_0_1(ordinary, tmp_path, threshold):
    with cldata.RecordingView(ordinary) as rec:
        with pytest.raises(ValueError, match="correlation_threshold"):
            rec.analyse_functional_connectivity(0.1, threshold)
        with pytest.raises(ValueError, match="correlation_threshold"):  # the threshold before the binning
            rec.analyse_functional_connectivity(0.0004, threshold)
        for ok in (0.0, 1.0):
            assert rec.analyse_functional_connectivity(0.1, ok).correlation_threshold == ok
    ts, ch = regular((0, 9))
    with cldata.RecordingView(write_recording(tmp_path / "g.h5", ts, ch, frames=FRAMES, frames_per_second=FS)) as rec:
        with pytest.raises(ValueError, match=LAYOUT_ERROR):     # the layout first
            rec.analyse_functional_connectivity(0.1, threshold)
