"""Invariants of the toolkit, through the drop-in methods of ``cldata.RecordingView`` on written recordings.

The per-method tests (``test_toolkit_<method>.py``) check the functions on hand-made
snapshots; these write random recordings with cldata's writer and go through
``RecordingView.analyse_*`` as a notebook does: counts add up to the spikes in the window,
``dct00`` is half the spike-train count, shapes follow the bins, Louvain partitions cover all
64 channels, and for the window-local methods (firing stats, entropy, Lempel–Ziv, DCT,
functional connectivity — not network bursts, criticality or STH, whose official quirks look
at the whole recording, spec §14) a windowed view, ``analysis_timestamp_limit`` and the same
spikes shifted into a recording of their own give the same numbers. Also the two speed-ups of
the toolkit against what they replace: the run-skipping LZ78 parse against the spec's parse on
sparse sequences (mostly zeros, as binned spikes are), and the matrix form of the weighted
clustering against ``networkx.clustering``.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from toolkit_reference import write_recording

import cldata
from cldata.toolkit.connectivity import mean_weighted_clustering
from cldata.toolkit.lempel_ziv import lz78_phrase_count

FS = 1000
FRAMES = 2000
LAYOUT_CHANNELS = [c for c in range(64) if c not in (0, 4, 7, 56, 63)]
FAST = settings(max_examples=10, deadline=None)

# spikes as (frame, channel) on the layout's channels, written time-sorted (repeats allowed)
spikes = st.lists(st.tuples(st.integers(0, FRAMES - 1), st.sampled_from(LAYOUT_CHANNELS)), max_size=120)
windows = st.tuples(st.integers(0, FRAMES - 1), st.integers(1, FRAMES)).map(sorted).filter(lambda w: w[0] < w[1])


def write(directory: Path, name: str, pairs, frames: int = FRAMES) -> Path:
    pairs = sorted(pairs)
    return write_recording(directory / name, [t for t, _ in pairs], [c for _, c in pairs], frames=frames,
                           frames_per_second=FS)


def in_window(pairs, lo: int, hi: int) -> list[tuple[int, int]]:
    return [(t, c) for t, c in pairs if lo <= t < hi]


def local_results(rec, bin_size: float, threshold: float) -> dict:
    """The numbers of the window-local methods (metadata left out: it describes the whole file)."""
    np.random.seed(7)  # Louvain draws from numpy's global state (official quirk): same seed, same partition
    fc = rec.analyse_functional_connectivity(bin_size, threshold)
    firing = rec.analyse_firing_stats(bin_size)
    return {
        "counts": firing.firing_counts, "isi": firing.channel_ISI, "isi_mean": firing.channel_ISI_mean,
        "culture_mean": firing.culture_mean_firing_rates, "culture_isi": firing.culture_ISI_mean,
        "entropy": rec.analyse_information_entropy(bin_size).information_entropy_per_time_bin,
        "lz": rec.analyse_lempel_ziv_complexity(bin_size).lzc_scores_per_channel,
        "dct": rec.analyse_dct_features(3).dct_features,
        "adjacency": fc.adjacency_matrix, "clustering": fc.clustering_coefficient,
        "partition": fc.graph_partition, "betweenness": fc.max_betweenness_centrality,
    }


def assert_same(a: dict, b: dict) -> None:
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y, err_msg=key)
        elif isinstance(x, float) and math.isnan(x):
            assert math.isnan(y), key
        else:
            assert x == y, key


@FAST
@given(spikes, windows, st.sampled_from([0.05, 0.1, 0.25, 0.3]))
def test_firing_counts_sum_to_the_spikes_in_the_window(pairs, window, bin_size):
    lo, hi = window
    with tempfile.TemporaryDirectory() as tmp, cldata.RecordingView(write(Path(tmp), "r.h5", pairs)) as rec:
        rec.analysis_timestamp_limit(lo, hi)
        result = rec.analyse_firing_stats(bin_size)
        width = int(bin_size * FS)
        assert result.firing_counts.shape == (64, math.ceil((hi - lo) / width))
        assert int(result.firing_counts.sum()) == len(in_window(pairs, lo, hi))  # repeated rows count
        per_channel = np.bincount([c for _, c in in_window(pairs, lo, hi)], minlength=64)
        np.testing.assert_array_equal(result.firing_counts.sum(axis=1), per_channel)


@FAST
@given(spikes, windows, st.integers(1, 6))
def test_dct00_is_half_the_spike_train_count(pairs, window, k):
    lo, hi = window
    with tempfile.TemporaryDirectory() as tmp, cldata.RecordingView(write(Path(tmp), "r.h5", pairs)) as rec:
        features = rec.between(lo, hi).analyse_dct_features(k).dct_features
        distinct = len(set(in_window(pairs, lo, hi)))  # the spike train collapses repeated (frame, channel)
        assert features["dct00_firing"] == pytest.approx(distinct / 2, rel=1e-12, abs=1e-12)
        assert len(features) == k * k


@FAST
@given(spikes, windows, st.sampled_from([0.001, 0.01, 0.1, 0.33]), st.sampled_from([None, 2.0, 10.0]))
def test_entropy_and_lempel_ziv_shapes_and_ranges(pairs, window, bin_size, base):
    lo, hi = window
    with tempfile.TemporaryDirectory() as tmp, cldata.RecordingView(write(Path(tmp), "r.h5", pairs)) as rec:
        rec.analysis_timestamp_limit(lo, hi)
        width = max(1, int(round(bin_size * FS)))
        entropy = rec.analyse_information_entropy(bin_size, log_base=base).information_entropy_per_time_bin
        assert entropy.dtype == np.float64 and entropy.shape == (math.ceil((hi - lo) / width),)
        top = math.log(2) / (1 if base is None else math.log(base))  # a Bernoulli entropy is at most 1 bit
        assert np.all((entropy >= 0) & (entropy <= top + 1e-12))
        lz = rec.analyse_lempel_ziv_complexity(bin_size).lzc_scores_per_channel
        assert lz.dtype == np.float64 and lz.shape == (64, 1) and np.all(np.isfinite(lz)) and np.all(lz >= 0)
        raw = rec.analyse_lempel_ziv_complexity(bin_size, normalise=False).lzc_scores_per_channel
        bins = entropy.size
        assert np.all(raw <= bins) and np.all(raw == np.round(raw))  # phrases: whole numbers, at most one per bin


@FAST
@given(spikes, st.floats(0, 1), st.integers(0, 2**31 - 1))
def test_functional_connectivity_partition_covers_every_channel(pairs, threshold, seed):
    # bursts on a few channels make correlated (and anti-correlated) channels
    burst = [(t + d, c) for t in range(100, FRAMES, 400) for d in (0, 3) for c in (9, 10, 17, 18)]
    with tempfile.TemporaryDirectory() as tmp, cldata.RecordingView(write(Path(tmp), "r.h5", pairs + burst)) as rec:
        np.random.seed(seed)
        result = rec.analyse_functional_connectivity(0.1, threshold)
        adjacency = result.adjacency_matrix
        assert adjacency.shape == (64, 64) and np.allclose(adjacency, adjacency.T, rtol=0, atol=1e-12)
        assert not np.diag(adjacency).any()
        if result.graph_partition:
            assert sorted(result.graph_partition) == list(range(64))
            assert all(isinstance(v, int) for v in result.graph_partition.values())
        else:  # no edge, or a negative weighted degree (the official Louvain step fails, §12)
            assert result.modularity_index == 0.0


@settings(max_examples=8, deadline=None)
@given(spikes, windows, st.sampled_from([0.05, 0.1, 0.2]), st.sampled_from([0.0, 0.3, 0.6]))
def test_window_local_methods_windowed_equals_limit_equals_shifted(pairs, window, bin_size, threshold):
    lo, hi = window
    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp), "r.h5", pairs)
        shifted = write(Path(tmp), "shifted.h5", [(t - lo, c) for t, c in in_window(pairs, lo, hi)], frames=hi - lo)
        with cldata.RecordingView(path) as rec, cldata.RecordingView(shifted) as own:
            by_view = local_results(rec.between(lo, hi), bin_size, threshold)
            rec.analysis_timestamp_limit(lo, hi)
            by_limit = local_results(rec, bin_size, threshold)
            assert own.duration_frames == hi - lo
            by_own = local_results(own, bin_size, threshold)
    assert_same(by_view, by_limit)
    assert_same(by_view, by_own)


# sparse symbol sequences: runs of 0 (silent bins) with a few other symbols
sparse = st.lists(st.one_of(st.just(0), st.just(0), st.just(0), st.integers(0, 3),
                            st.integers(1, 50).map(lambda n: (0,) * n)), max_size=120).map(
    lambda items: [s for item in items for s in (item if isinstance(item, tuple) else (item,))])


def spec_phrase_count(symbols) -> int:
    phrases: set[tuple] = set()
    current: tuple = ()
    for s in symbols:
        current = (*current, s)
        if current not in phrases:
            phrases.add(current)
            current = ()
    return len(phrases)


@settings(max_examples=150, deadline=None)
@given(sparse)
def test_lz78_run_skipping_parse_is_the_spec_parse_on_sparse_sequences(symbols):
    assert lz78_phrase_count(symbols, 4) == spec_phrase_count(symbols)
    assert lz78_phrase_count(np.array(symbols, dtype=np.int64), 4) == spec_phrase_count(symbols)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 24), st.integers(0, 2**32 - 1), st.floats(0, 0.9), st.booleans())
def test_matrix_clustering_is_networkx_clustering(n, seed, cut, signed):
    rng = np.random.default_rng(seed)
    upper = np.triu(rng.uniform(-1 if signed else 0, 1, (n, n)), 1)
    upper[np.abs(upper) < cut] = 0.0
    graph = nx.from_numpy_array(upper + upper.T)
    expected = float(np.mean(list(nx.clustering(graph, weight="weight").values()))) if graph.number_of_edges() else 0.0
    assert mean_weighted_clustering(graph) == pytest.approx(expected, rel=1e-9, abs=1e-12)
