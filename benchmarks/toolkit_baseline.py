"""The baseline of ``bench_analyses.py``: the CL toolkit's methods written plainly from the spec.

What a scientist writes in a notebook from ``CL-ANALYSES.md`` (§5–§12), one function per
method, for the whole recording (no analysis window): the spikes read with h5py (the
``timestamp`` and ``channel`` columns), split into one array per channel, then loops over
channels, bins, avalanches and candidate values with per-channel numpy calls
(``numpy.histogram`` per channel, ``numpy.std`` per β, a Python scan for bursts and
avalanches, a string dictionary for Lempel–Ziv, a ``searchsorted`` per base spike for the
histograms). Honest, not deliberately slow: every step is the spec's own wording, with the
library calls the spec names (``scipy.optimize.fmin``, ``linregress``, ``curve_fit``,
networkx), and it gives cldata's numbers (``bench_analyses.py`` checks key fields before
timing). It is not part of the ``cldata`` package and imports nothing from it.

Examples
--------
>>> rec = load("recording.h5")                       # doctest: +SKIP
>>> firing_stats(rec, 1.0)["culture_mean_firing_rates"]   # doctest: +SKIP
3.1
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass

import h5py
import networkx as nx
import numpy as np
from scipy.optimize import curve_fit, fmin
from scipy.stats import linregress

GROUND = (0, 7, 56, 63)
REFERENCE = 4


@dataclass
class Recording:
    """The spikes of one recording: per-channel frames (table order) and the whole table's columns."""

    fs: float
    channel_count: int
    duration_frames: int
    timestamps: np.ndarray
    channels: np.ndarray
    per_channel: list[np.ndarray]

    @property
    def duration_seconds(self) -> float:
        return self.duration_frames / self.fs

    def train(self, c: int) -> np.ndarray:
        """Channel ``c``'s spike frames with duplicates collapsed (spec §2)."""
        return np.unique(self.per_channel[c])


def load(path) -> Recording:
    """Read a CL recording's spikes with h5py and split them by channel."""
    with h5py.File(path, "r") as f:
        fs = float(f.attrs["frames_per_second"])
        channel_count = int(f.attrs["channel_count"])
        duration = int(f.attrs["duration_frames"])
        spikes = f["spikes"]
        ts = spikes["timestamp"].astype(np.int64)
        ch = spikes["channel"].astype(np.int64)
    per_channel = [ts[ch == c] for c in range(channel_count)]
    return Recording(fs, channel_count, duration, ts, ch, per_channel)


def counts_per_channel(rec: Recording, w: int, channels, end: int | None = None) -> np.ndarray:
    """Spikes per bin of ``w`` frames for each of ``channels`` (a histogram per channel)."""
    end = rec.duration_frames if end is None else end
    n = math.ceil(end / w)
    edges = np.arange(0, (n + 1) * w, w)
    rows = []
    for c in channels:
        frames = rec.per_channel[c]
        rows.append(np.histogram(frames[frames < end], bins=edges)[0].astype(np.int64))
    return np.array(rows, dtype=np.int64).reshape(len(rows), n)


# -- §5 firing stats ---------------------------------------------------------------------------


def firing_stats(rec: Recording, bin_size_sec: float = 1.0) -> dict:
    counts = counts_per_channel(rec, int(bin_size_sec * rec.fs), range(rec.channel_count))
    means, variances, isis, isi_means, isi_vars = [], [], [], [], []
    for c in range(rec.channel_count):
        means.append(float(np.mean(counts[c])))
        variances.append(float(np.var(counts[c])))
        isi = np.diff(rec.train(c)) / rec.fs
        isis.append(isi.tolist())
        isi_means.append(float(np.mean(isi)) if isi.size else 0.0)
        isi_vars.append(float(np.var(isi)) if isi.size else 0.0)
    with_isi = [m for m, isi in zip(isi_means, isis) if isi]
    return {
        "firing_counts": counts, "firing_rates": counts / bin_size_sec,
        "channel_mean_firing_rates": means, "channel_var_firing_rates": variances,
        "culture_mean_firing_rates": float(np.mean(means)), "culture_var_firing_rates": float(np.mean(variances)),
        "culture_max_firing_rates": float(counts.max()), "channel_ISI": isis,
        "channel_ISI_mean": isi_means, "channel_ISI_var": isi_vars,
        "culture_ISI_mean": float(np.mean(with_isi)) if with_isi else math.nan,
        "culture_ISI_var": float(np.var(with_isi)) if with_isi else math.nan,
    }


# -- §6 network bursts -------------------------------------------------------------------------


def network_bursts(rec: Recording, bin_size_sec: float, onset_freq_hz: float, offset_freq_hz: float,
                   min_active_channels: int | None = None) -> dict:
    w = int(bin_size_sec * rec.fs)
    m = rec.channel_count if min_active_channels is None else min_active_channels
    onset = (onset_freq_hz * m) / (1 / bin_size_sec)
    offset = (offset_freq_hz * m) / (1 / bin_size_sec)
    trains = {c: rec.train(c) for c in range(rec.channel_count)}
    pooled = np.sort(np.concatenate(list(trains.values())))
    edges = np.arange(0, rec.duration_frames + w, w)
    n_per_bin = np.histogram(pooled, bins=edges)[0]
    bursts = []
    bursting, start = False, 0
    for j, n in enumerate(n_per_bin.tolist()):
        if not bursting and n >= onset:
            bursting, start = True, int(edges[j])
        elif bursting and n < offset:
            bursts.append((start, int(edges[j])))
            bursting = False
    if bursting:
        bursts.append((start, rec.duration_frames))
    durations = [(e - s) / rec.fs for s, e in bursts]
    return {
        "bursts": bursts, "network_burst_count": len(bursts), "network_burst_durations_sec": durations,
        "network_burst_spike_counts": [int(np.sum((pooled >= s) & (pooled < e))) for s, e in bursts],
        "total_network_burst_duration_sec": sum(durations), "bin_boundaries_frames": edges[:-1],
        "firing_rate_per_channel_and_bin": (n_per_bin / rec.channel_count) / bin_size_sec,
        "spike_frames_by_channel": trains,
    }


# -- §7 criticality ----------------------------------------------------------------------------


def power_law(data, limit) -> tuple[float, int, float]:
    """``PL(data, limit)`` of §7.3: exponent, xmin, KS."""
    values = np.array([v for v in np.asarray(data, dtype=np.float64) if np.isfinite(v) and v > 0])
    if values.size == 0 or limit < 1:
        return math.nan, max(1, int(limit)), math.inf
    xmax = int(values.max())
    best = None
    for x0 in range(1, min(max(1, int(limit)), xmax) + 1):
        tail = values[values >= x0]
        distinct = np.unique(tail)
        log_sum = float(np.sum(np.log(tail)))

        def nll(p, distinct=distinct, log_sum=log_sum, m=tail.size):
            z = np.sum(distinct ** (-p))
            return p * log_sum + m * np.log(z) if np.isfinite(z) and z > 0 else np.inf

        p_hat = fmin(nll, x0=2.3, disp=False)[0]
        if not np.all(np.isfinite(-nll(p_hat))):
            continue
        empirical = np.cumsum(np.histogram(tail, bins=np.arange(x0, xmax + 2))[0] / tail.size)
        model = np.cumsum(np.arange(x0, xmax + 1) ** (-p_hat) / np.sum(distinct ** (-p_hat)))
        ks = np.max(np.abs(empirical - model))
        if np.isfinite(ks) and (best is None or ks < best[2]):
            best = (float(p_hat), x0, float(ks))
    return best if best is not None else (math.nan, max(1, int(limit)), math.inf)


def exclusion_bounds(data, limit):  # noqa: C901 (the spec's loop, step by step)
    """``EB(data, limit)`` of §7.4: ``(lo, hi, KS)`` or None on failure."""
    values = np.array([v for v in np.asarray(data, dtype=np.float64) if np.isfinite(v) and v > 0])
    if values.size == 0 or np.sum(values > 1) == 0:
        return None
    ks_threshold = min(1 / math.sqrt(np.sum(values > 1)), 0.1)
    ks, delta, lo, hi = 1.0, 1.0, 1, float(values.max())
    while ks > ks_threshold and delta > 0.0005:
        p, lo, _ = power_law(values, limit)
        if not math.isfinite(p):
            return None
        tail = values[values >= lo]
        distinct = np.unique(values[(values >= lo) & (values <= hi)])
        if tail.size == 0 or distinct.size == 0 or int(hi) < lo:
            return None
        norm = np.sum(distinct ** (-p))
        if not (np.isfinite(norm) and norm > 0):
            return None
        empirical = np.cumsum(np.histogram(tail, bins=np.arange(lo, int(hi) + 2))[0] / tail.size)
        model = np.cumsum(np.arange(lo, int(hi) + 1) ** (-p) / norm)
        new_ks = float(np.max(np.abs(empirical - model)))
        if not math.isfinite(new_ks):
            return None
        delta, ks = abs(ks - new_ks), new_ks
        values = values[values < hi]
        if values.size == 0:
            break
        hi = float(values.max())
    return float(lo), hi, ks


def exponent(values, limit) -> tuple[float, float, float, tuple[float, float]]:
    """§7.5: exponent, KS-chosen xmin, KS of the bounds, bounds."""
    values = np.asarray(values)
    if values.size == 0:
        return math.nan, math.nan, math.inf, (float(limit), math.nan)
    cap = values.max() ** 0.8
    found = exclusion_bounds(values[values < cap], limit)
    lo, hi, ks = (float(limit), float(cap), math.inf) if found is None else found
    candidates = values[(values >= lo) & (values <= hi)]
    if candidates.size == 0:
        return math.nan, math.nan, ks, (lo, hi)
    p, xmin, _ = power_law(candidates, lo)
    return p, float(xmin), ks, (lo, hi)


def beta_of(durations, variances) -> float:
    """§7.2 step 3: the β with the smallest spread of ``ln V + 2β ln D``, searched one β at a time."""
    kept = [(d, v) for d, v in zip(durations, variances) if d > 0 and v > 0 and np.isfinite(v)]
    if not kept:
        return math.nan
    log_v = np.log(np.array([v for _, v in kept]))
    log_d = np.log(np.array([d for d, _ in kept]))
    best, best_s = math.nan, math.inf
    for beta in np.arange(0, 1.001, step=0.001):
        s = np.std(log_v + 2 * beta * log_d)
        if s < best_s:
            best, best_s = float(beta), s
    return best


def _avalanches(activity: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    runs, start = [], None
    for j, a in enumerate(activity.tolist()):
        if a > threshold and start is None:
            start = j
        elif a <= threshold and start is not None:
            runs.append((start, j))
            start = None
    if start is not None:
        runs.append((start, len(activity)))
    return runs


def _branching_ratio(counts: np.ndarray, max_lags: int) -> float:
    active = np.count_nonzero(counts > 0, axis=0).astype(np.float64)
    try:
        lags = np.arange(1, max_lags)
        slopes, errors = [], []
        for k in lags:
            if active.size - k < 10:
                return math.nan
            fit = linregress(active[:-k], active[k:])
            slopes.append(fit.slope)
            errors.append(fit.stderr)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            params, _ = curve_fit(lambda k, a, b: np.abs(a) * np.abs(b) ** k, lags.astype(np.float64),
                                  np.array(slopes), p0=[slopes[0], 1.0], maxfev=50000,
                                  sigma=np.array(errors) * np.linspace(1, 10, lags.size))
        return float(params[1])
    except Exception:  # noqa: BLE001 (the spec: any failure of this step gives NaN)
        return math.nan


def criticality(rec: Recording, bin_size_sec: float, percentile_threshold: float, max_lags_branching_ratio: int = 40,
                duration_thresholds=(2, 5), min_spike_count_threshold: int = 10, n_bootstraps: int = 100,
                random_seed: int = 42) -> dict:
    w = int(bin_size_sec * rec.fs)
    end = min(rec.duration_frames, int(rec.timestamps[-1]))
    channels = [c for c in range(rec.channel_count) if c not in (*GROUND, REFERENCE)]
    counts = counts_per_channel(rec, w, channels, end)
    assert 0 <= percentile_threshold <= 1
    activity = np.sum(counts, axis=0)
    threshold = float(np.quantile(activity, percentile_threshold))
    runs = _avalanches(activity, threshold)
    sizes = np.array([int(np.sum(activity[s:e])) for s, e in runs], dtype=np.int64)
    durations = np.array([e - s for s, e in runs], dtype=np.int64)
    shapes = [activity[s:e] for s, e in runs]
    d_min, d_max = duration_thresholds
    groups: dict[int, list] = {}
    for shape, size, d in zip(shapes, sizes, durations):
        if d_min <= d <= d_max and size > 0:
            groups.setdefault(int(d), []).append(shape / size)
    unique = sorted(groups)
    profiles = [np.mean(np.array(groups[d]), axis=0) for d in unique]
    variances = []
    for p in profiles:
        t = np.arange(1, len(p) + 1) / len(p)
        mu = np.sum(t * p)
        variances.append(np.sum((t - mu) ** 2 * p))
    beta = beta_of(unique, variances)
    betas = []
    if len(profiles) >= 2:
        rng = np.random.RandomState(random_seed)
        for _ in range(n_bootstraps):
            idx = rng.choice(np.arange(len(profiles)), size=len(profiles), replace=True)
            betas.append(beta_of([unique[i] for i in idx], [variances[i] for i in idx]))
    tau, tau_xmin, tau_ks, tau_bounds = exponent(sizes, min_spike_count_threshold)
    alpha, alpha_xmin, alpha_ks, alpha_bounds = exponent(durations, d_min)
    fitted = predicted = dcc = math.nan
    if durations.size and math.isfinite(tau) and math.isfinite(alpha) and tau != 1:
        times = [t for t in range(1, int(durations.max()) + 1)
                 if alpha_bounds[0] < t < alpha_bounds[0] + 60 and np.any(durations == t)]
        means = [float(np.mean(sizes[durations == t])) for t in times]
        if len(times) >= 2 and all(m > 0 for m in means):
            fitted = float(np.polyfit(np.log(times), np.log(means), 1)[0])
            predicted = (alpha - 1) / (tau - 1)
            dcc = abs(predicted - fitted)
    return {
        "activity_threshold": threshold, "avalanche_spike_counts": sizes, "avalanche_durations": durations,
        "unique_durations_within_threshold": np.array(unique, dtype=np.int64), "beta_exponent": beta,
        "beta_exponent_std": float(np.std(betas)) if betas else math.nan,
        "tau_exponent_spike_counts": tau, "alpha_exponent_durations": alpha,
        "ks_min_bound_spike_counts": tau_xmin, "ks_min_bound_durations": alpha_xmin,
        "ks_statistic_spike_counts": tau_ks, "ks_statistic_duration": alpha_ks,
        "exclusion_bounds_spike_counts": tau_bounds, "exclusion_bounds_durations": alpha_bounds,
        "scaling_relation_exponent_fitted": fitted, "deviation_from_criticality_coefficient": dcc,
        "branching_ratio": _branching_ratio(counts, max_lags_branching_ratio),
    }


# -- §8 entropy, §9 Lempel–Ziv -----------------------------------------------------------------


def information_entropy(rec: Recording, bin_size_sec: float, fillna: float | None = 0.0,
                        log_base: float | None = None) -> dict:
    w = max(1, int(round(bin_size_sec * rec.fs)))
    counts = counts_per_channel(rec, w, range(rec.channel_count))
    g = math.log if log_base is None else (lambda x: math.log(x) / math.log(log_base))
    entropy = []
    for j in range(counts.shape[1]):
        p = np.count_nonzero(counts[:, j]) / rec.channel_count
        entropy.append(0.0 if p in (0, 1) else -p * g(p) - (1 - p) * g(1 - p))
    return {"information_entropy_per_time_bin": np.array(entropy, dtype=np.float64)}


def lz78(sequence) -> int:
    """LZ78 phrases of a string (binary symbols) or a tuple of symbols, the trailing one not counted."""
    phrases = set()
    current = sequence[:0]
    for s in sequence:
        current += s if isinstance(sequence, str) else (s,)
        if current not in phrases:
            phrases.add(current)
            current = sequence[:0]
    return len(phrases)


def lempel_ziv_complexity(rec: Recording, bin_size_sec: float, min_bin_count: int = 2, normalise: bool = True,
                          use_binary: bool = True) -> dict:
    w = max(1, int(round(bin_size_sec * rec.fs)))
    counts = counts_per_channel(rec, w, range(rec.channel_count))
    scores = []
    for row in counts:
        n = len(row)
        if n < min_bin_count:
            scores.append([0.0])
            continue
        if use_binary:
            sequence, k = "".join("1" if x > 0 else "0" for x in row.tolist()), 2
        else:
            sequence, k = tuple(row.tolist()), len(set(row.tolist()))
        if k <= 1:
            scores.append([0.0])
            continue
        c = lz78(sequence)
        scores.append([(c * (math.log(n) / math.log(k)) / n if n > 1 else 0.0) if normalise else float(c)])
    return {"lzc_scores_per_channel": np.array(scores, dtype=np.float64)}


# -- §10 DCT, §11 spike-triggered histograms, §12 functional connectivity -----------------------


def dct_features(rec: Recording, k: int) -> dict:
    counts = [len(rec.train(c)) for c in range(rec.channel_count)]
    grid = [[counts[8 * col + row] for col in range(8)] for row in range(8)]
    basis = [[math.cos((math.pi / 8) * (j + 0.5) * i) * (1 / math.sqrt(2) if i == 0 else math.sqrt(2 / 8))
              for j in range(8)] for i in range(k)]
    features = {}
    for i in range(k):
        for j in range(k):
            features[f"dct{i}{j}_firing"] = sum(grid[r][c] * basis[i][r] * basis[j][c] for r in range(8) for c in range(8))
    return {"dct_features": features}


def spike_triggered_histogram(rec: Recording, bin_size_sec: float, start_sec: float, end_sec: float, num_channels: int,
                              min_firing_rate_threshold_hz: float = 0.1) -> dict:
    times = {c: rec.train(c) / rec.fs for c in range(rec.channel_count)}
    candidates, rates = [], []
    for c in range(rec.channel_count):
        rate = len(times[c]) / rec.duration_seconds
        if c not in (*GROUND, REFERENCE) and rate >= min_firing_rate_threshold_hz:
            candidates.append(c)
            rates.append(rate)
    if min(num_channels, len(candidates)) < 1:
        return {"histogram_bins": np.array([]), "histograms": {}}
    top = [candidates[i] for i in np.argsort(rates)[-num_channels:]]
    bins = np.arange(-start_sec, end_sec + bin_size_sec, step=bin_size_sec)
    histograms = {}
    for a, b in itertools.combinations(top, 2):
        for base, target in ((a, b), (b, a)):
            lags = []
            for s in times[base]:
                i = np.searchsorted(times[target], s - start_sec, side="left")
                j = np.searchsorted(times[target], s + end_sec, side="right")
                lags.extend((times[target][i:j] - s).tolist())
            histograms[(base, target)] = np.histogram(lags, bins=bins)[0]
    return {"histogram_bins": bins, "histograms": histograms}


def functional_connectivity(rec: Recording, bin_size_sec: float, correlation_threshold: float = 0.6) -> dict:
    assert 0 <= correlation_threshold <= 1
    counts = counts_per_channel(rec, int(bin_size_sec * rec.fs), range(rec.channel_count))
    adjacency = np.zeros((rec.channel_count, rec.channel_count))
    out = {"adjacency_matrix": adjacency, "total_edge_weights": 0.0, "clustering_coefficient": 0.0,
           "modularity_index": 0.0, "max_betweenness_centrality": 0.0}
    active = [c for c in range(rec.channel_count) if np.std(counts[c]) > 0]
    if counts.shape[1] < 2 or len(active) < 2:
        return out
    r = np.corrcoef(np.array([counts[c] for c in active]))
    for i, a in enumerate(active):
        for j, b in enumerate(active):
            if a != b and (correlation_threshold == 0 or abs(r[i, j]) >= correlation_threshold):
                adjacency[a, b] = r[i, j]
    graph = nx.from_numpy_array(adjacency)
    if graph.number_of_edges() == 0:
        return out
    weights = [d for _, _, d in graph.edges(data="weight")]
    out["total_edge_weights"] = float(np.sum(weights))
    out["clustering_coefficient"] = float(np.mean(list(nx.clustering(graph, weight="weight").values())))
    if all(d >= 0 for _, d in graph.degree(weight="weight")):
        communities = nx.community.louvain_communities(graph, weight="weight", seed=0)
        if len(communities) >= 2:
            out["modularity_index"] = nx.community.modularity(graph, communities, weight="weight")
    betweenness = nx.betweenness_centrality(graph, weight="weight", normalized=True)
    out["max_betweenness_centrality"] = max(betweenness.values())
    return out


METHODS = {
    "firing_stats": firing_stats, "network_bursts": network_bursts, "criticality": criticality,
    "information_entropy": information_entropy, "lempel_ziv_complexity": lempel_ziv_complexity,
    "dct_features": dct_features, "spike_triggered_histogram": spike_triggered_histogram,
    "functional_connectivity": functional_connectivity,
}
