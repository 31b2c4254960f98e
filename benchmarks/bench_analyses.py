"""Benchmark of the CL analysis toolkit (``cldata.RecordingView.analyse_*``) against a plain implementation of the spec.

How the figures are measured
----------------------------
Every figure is the **median of several samples, with their min–max range** (``2.1 ms
(1.9–3.5 ms)``). cldata and its baseline are measured **in turns** in the same run
(``cldata, baseline, cldata, ...``, after one untimed call of each), so that a change in
the machine's load falls on both alike. **First use** (import, open, the whole toolkit) is
measured in a **fresh Python process per sample**, the clock started before the imports
(interpreter start-up excluded). The title prints the machine's state (``nproc``, load
average before and after); on a shared machine the figures move with the load.

Run it from the repository root::

    python benchmarks/bench_analyses.py                  # full: 10-min recording, 100-recording store
    python benchmarks/bench_analyses.py --quick          # 2-min recording, 10 recordings, fewer turns
    python benchmarks/bench_analyses.py --recordings 20 --json figures.json --dir /scratch/bench

The recording: written once with :class:`cldata.RecordingWriter` into a cache directory
(``--dir``, default a temporary one; reused when present): 64 channels at 25 kHz, no raw
samples, spikes on the 59 channels that are neither ground (0, 7, 56, 63) nor reference (4):
Poisson background at a log-normal rate per channel (median 1.5 Hz), plus network events
(0.15 per second, 100–300 ms each) in which ~80 % of the channels fire at 60 Hz — about
3.4 Hz per channel and 120,000 spikes in 10 minutes, with bursts, avalanches and
correlated channels for every method to find.

The methods and their parameters (default-like; see ``PARAMS``): firing stats (1 s bins),
network bursts (10 ms, onset 8 Hz / offset 4 Hz per channel: the background's pooled rate is
above the 2 Hz / 1 Hz of the brief's example, which would make the whole recording one burst),
criticality (4 ms, median threshold, 100 bootstraps), information entropy (100 ms),
Lempel–Ziv (10 ms), DCT (k = 4), spike-triggered histograms (10 ms bins, ±50 ms, 8 channels),
functional connectivity (100 ms, threshold 0.6).

The baseline: the spec written plainly
--------------------------------------
``toolkit_baseline.py``: per method a function written from the spec as a scientist would
(h5py reads the spike columns, one array per channel, a histogram per channel, Python scans
over bins and avalanches, ``numpy.std`` per β candidate, a string dictionary for LZ78, a
``searchsorted`` per base spike), with the library calls the spec names. Before timing, the
script checks that it gives cldata's numbers on key fields of every method (Louvain, which
is random, excluded).

What is measured
----------------
Each method, warm: cldata through the drop-in method of a view whose spike table is already
read (it is read once per open file), the baseline on spikes already loaded. The whole
toolkit on one recording, in-process: a new ``cldata.RecordingView`` and all eight methods
(the first reads the spike table), against ``load`` + all eight. The same at first use, in
fresh processes (import + open + whole toolkit; the target of issue 15: under 2 s). And the
whole toolkit over a store of ``--recordings`` shorter recordings (``--store-seconds``):
``cldata run`` of the toolkit (serial, and processes with one worker per CPU; results stored,
each run on a fresh copy of the store) against a fresh Python process looping the baseline
over the same files (results kept in memory), making the same calls as the parameter file
(sweeps expanded; one turn each: a baseline turn over 100 recordings takes minutes). The store part needs the toolkit's Analysis
classes (``CLFiringStats`` …) and prints ``skipped: <reason>`` without them; it uses
``param/cl_toolkit.param`` when the checkout has it, else the same analyses built here.
This is a script, not a test: it asserts only that both sides agree.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import _report
import numpy as np
import toolkit_baseline as base
from _report import Figure, add_output_options, interleaved_times, make_parser, print_report, say, write_json

import cldata
from cldata.analysis.registry import get_analysis
from cldata.batch.paramfile import load_parameters
from cldata.batch.sweep import expand_sweeps

FPS = 25_000
CHANNELS = 64
QUIET = (0, 4, 7, 56, 63)  # ground and reference channels: no spikes on a CL MEA
ROOT = Path(__file__).resolve().parents[1]
TARGET_WHOLE = 2.0  # s: the whole toolkit on a 10-minute recording (issue 15)
PARAMS: dict[str, dict[str, Any]] = {
    "firing_stats": {"bin_size_sec": 1.0},
    "network_bursts": {"bin_size_sec": 0.01, "onset_freq_hz": 8.0, "offset_freq_hz": 4.0},
    "criticality": {"bin_size_sec": 0.004, "percentile_threshold": 0.5},
    "information_entropy": {"bin_size_sec": 0.1},
    "lempel_ziv_complexity": {"bin_size_sec": 0.01},
    "dct_features": {"k": 4},
    "spike_triggered_histogram": {"bin_size_sec": 0.01, "start_sec": 0.05, "end_sec": 0.05, "num_channels": 8},
    "functional_connectivity": {"bin_size_sec": 0.1, "correlation_threshold": 0.6},
}
CLASSES = {"firing_stats": "CLFiringStats", "network_bursts": "CLNetworkBursts", "criticality": "CLCriticality",
           "information_entropy": "CLInformationEntropy", "lempel_ziv_complexity": "CLLempelZivComplexity",
           "dct_features": "CLDctFeatures", "spike_triggered_histogram": "CLSpikeTriggeredHistogram",
           "functional_connectivity": "CLFunctionalConnectivity"}


def machine_state() -> str:
    load = os.getloadavg()
    return f"nproc {len(os.sched_getaffinity(0))}, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"


def child_env() -> dict[str, str]:
    """The environment of the child processes: this checkout's cldata and baseline first."""
    paths = [str(ROOT), str(ROOT / "benchmarks"), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


# -- the recordings ------------------------------------------------------------------------------


def make_spikes(seconds: float, seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Background Poisson spikes plus network events, time-sorted, no (channel, frame) twice."""
    rng = np.random.default_rng(seed)
    frames = int(seconds * FPS)
    channels = np.array([c for c in range(CHANNELS) if c not in QUIET])
    ts, ch = [], []
    for c, rate in zip(channels, rng.lognormal(math.log(1.5), 0.6, channels.size)):
        n = rng.poisson(rate * seconds)
        ts.append(rng.integers(0, frames, n))
        ch.append(np.full(n, c))
    for start in rng.integers(0, frames, rng.poisson(0.15 * seconds)):
        length = int(rng.uniform(0.1, 0.3) * FPS)
        for c in channels[rng.random(channels.size) < 0.8]:
            t = start + rng.integers(0, length, rng.poisson(60 * length / FPS))
            t = t[t < frames]
            ts.append(t)
            ch.append(np.full(t.size, c))
    key = np.unique(np.concatenate(ts).astype(np.int64) * CHANNELS + np.concatenate(ch))  # sorted by time
    return key // CHANNELS, key % CHANNELS, frames


def write_recording(path: Path, seconds: float, seed: int) -> int:
    """The synthetic recording (see the module's docstring); returns its number of spikes."""
    ts, ch, frames = make_spikes(seconds, seed)
    waveforms = np.zeros((min(ts.size, 65_536), 75), np.float32)
    tmp = path.with_suffix(".tmp.h5")
    tmp.unlink(missing_ok=True)
    with cldata.RecordingWriter(tmp, {"benchmark": "analyses", "seed": seed}, durable=False) as w:
        for a in range(0, ts.size, waveforms.shape[0]):
            b = min(ts.size, a + waveforms.shape[0])
            w.append_spikes(ts[a:b], ch[a:b].astype(np.uint8), waveforms[:b - a])
        w.close(end_timestamp=frames)
    tmp.rename(path)  # a cache entry is complete or absent
    return int(ts.size)


def cached_recording(cache: Path, seconds: float, seed: int) -> Path:
    path = cache / f"toolkit_{seconds:g}s_seed{seed}.h5"
    if path.exists():
        say(f"reusing {path}")
    else:
        t0 = time.perf_counter()
        n = write_recording(path, seconds, seed)
        say(f"wrote {path} ({n:,} spikes) in {time.perf_counter() - t0:.1f} s")
    return path


# -- the two sides ------------------------------------------------------------------------------


def run_cldata(rec: cldata.RecordingView, name: str) -> Any:
    with contextlib.redirect_stdout(io.StringIO()):  # STH prints its channels, as the official code does
        return getattr(rec, f"analyse_{name}")(**PARAMS[name])


def whole_cldata(path: Path) -> None:
    with cldata.RecordingView(path) as rec:
        for name in PARAMS:
            run_cldata(rec, name)


def whole_baseline(path: Path) -> None:
    rec = base.load(path)
    for name, fn in base.METHODS.items():
        fn(rec, **PARAMS[name])


def _close(a: Any, b: Any, rtol: float = 1e-9) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=1e-12, equal_nan=True))


def agreement(ours: Any, theirs: dict, name: str) -> list[str]:  # noqa: C901 (one block per method)
    """The key fields on which cldata and the baseline differ (empty: they agree)."""
    same: dict[str, bool] = {}
    if name == "firing_stats":
        same["firing_counts"] = np.array_equal(ours.firing_counts, theirs["firing_counts"])
        for f in ("channel_mean_firing_rates", "channel_ISI_mean", "culture_ISI_mean", "culture_max_firing_rates"):
            same[f] = _close(getattr(ours, f), theirs[f])
    elif name == "network_bursts":
        same["bursts"] = [(b.start_frame, b.end_frame) for b in ours.bursts] == theirs["bursts"]
        same["network_burst_spike_counts"] = ours.network_burst_spike_counts == theirs["network_burst_spike_counts"]
        same["firing_rate_per_channel_and_bin"] = _close(ours.firing_rate_per_channel_and_bin,
                                                         theirs["firing_rate_per_channel_and_bin"])
    elif name == "criticality":
        for f in ("avalanche_spike_counts", "avalanche_durations", "unique_durations_within_threshold"):
            same[f] = np.array_equal(getattr(ours, f), theirs[f])
        for f in ("activity_threshold", "beta_exponent", "beta_exponent_std", "tau_exponent_spike_counts",
                  "alpha_exponent_durations", "exclusion_bounds_spike_counts", "exclusion_bounds_durations",
                  "deviation_from_criticality_coefficient", "branching_ratio"):
            same[f] = _close(getattr(ours, f), theirs[f], 1e-6)  # the fits: the spec's tolerance
    elif name == "information_entropy":
        same["entropy"] = _close(ours.information_entropy_per_time_bin, theirs["information_entropy_per_time_bin"])
    elif name == "lempel_ziv_complexity":
        same["lzc"] = np.array_equal(ours.lzc_scores_per_channel, theirs["lzc_scores_per_channel"])
    elif name == "dct_features":
        same["dct_features"] = ours.dct_features.keys() == theirs["dct_features"].keys() and _close(
            list(ours.dct_features.values()), list(theirs["dct_features"].values()))
    elif name == "spike_triggered_histogram":
        same["histogram_bins"] = np.array_equal(ours.histogram_bins, theirs["histogram_bins"])
        same["histograms"] = ours.histograms.keys() == theirs["histograms"].keys() and all(
            np.array_equal(v, theirs["histograms"][k]) for k, v in ours.histograms.items())
    else:
        same["adjacency_matrix"] = _close(ours.adjacency_matrix, theirs["adjacency_matrix"])
        for f in ("total_edge_weights", "clustering_coefficient", "max_betweenness_centrality"):
            same[f] = _close(getattr(ours, f), theirs[f])
    return [f"{name}.{f}" for f, ok in same.items() if not ok]


def facts(rec: cldata.RecordingView) -> str:
    """What the methods found on the recording (so the reader sees they had something to do)."""
    bursts = run_cldata(rec, "network_bursts")
    crit = run_cldata(rec, "criticality")
    fc = run_cldata(rec, "functional_connectivity")
    edges = int(np.count_nonzero(fc.adjacency_matrix)) // 2
    return (f"{len(rec.spikes):,} spikes; {bursts.network_burst_count} network bursts; "
            f"{crit.avalanche_durations.size:,} avalanches, τ {crit.tau_exponent_spike_counts:.2f}, "
            f"α {crit.alpha_exponent_durations:.2f}, branching ratio {crit.branching_ratio:.3f}; "
            f"{edges} FC edges, modularity {fc.modularity_index:.2f}")


# -- first use and the store: fresh processes ----------------------------------------------------

_FIRST_USE = """
import contextlib, io, json, sys, time
t0 = time.perf_counter()
params = json.loads(sys.argv[2])
if sys.argv[3] == "cldata":
    import cldata
    with cldata.RecordingView(sys.argv[1]) as rec, contextlib.redirect_stdout(io.StringIO()):
        for name, p in params.items():
            getattr(rec, "analyse_" + name)(**p)
else:
    import toolkit_baseline as base
    rec = base.load(sys.argv[1])
    for name, p in params.items():
        base.METHODS[name](rec, **p)
print(json.dumps({"seconds": time.perf_counter() - t0}))
"""

_BASELINE_LOOP = """
import json, sys, time
t0 = time.perf_counter()
import toolkit_baseline as base
plan = json.loads(sys.argv[1])
results = []
for path in sys.argv[2:]:
    rec = base.load(path)
    results.append([base.METHODS[name](rec, **p) for name, p in plan])
print(json.dumps({"seconds": time.perf_counter() - t0, "recordings": len(results)}))
"""


def child_seconds(argv: list[str]) -> float:
    r = subprocess.run([sys.executable, *argv], capture_output=True, text=True, env=child_env(), check=False)
    if r.returncode:
        raise SystemExit(f"a child process failed ({' '.join(argv[:3])} ...):\n{r.stderr}")
    return float(json.loads(r.stdout.splitlines()[-1])["seconds"])


def first_use_times(path: Path, repeats: int) -> list[list[float]]:
    times: list[list[float]] = [[], []]
    for _ in range(repeats):
        for kind, out in zip(("cldata", "baseline"), times):
            out.append(child_seconds(["-c", _FIRST_USE, str(path), json.dumps(PARAMS), kind]))
    return times


def store_unavailable() -> str | None:
    """Why the store part cannot run here (None when it can)."""
    missing = []
    for name in CLASSES.values():
        try:
            get_analysis(name)
        except Exception:  # noqa: BLE001 (any refusal means the class is not there)
            missing.append(name)
    return f"the toolkit's Analysis classes are not registered ({', '.join(missing)})" if missing else None


def baseline_plan(param_file: Path) -> list[tuple[str, dict[str, Any]]]:
    """The baseline calls that do what the parameter file's analyses do (sweeps expanded)."""
    method_of = {cls: name for name, cls in CLASSES.items()}
    plan = []
    for entry in load_parameters(param_file)["analyses"].values():
        name = method_of[entry["class"]]
        accepted = inspect.signature(base.METHODS[name]).parameters
        for _, params in expand_sweeps(entry["params"]):
            # cldata-only options (a Louvain seed, say) have no counterpart in the plain code
            plan.append((name, {k: v for k, v in dict(params).items() if k in accepted}))
    return plan


def store_parameters(workdir: Path) -> tuple[Path, str]:
    """The parameter file to run: param/cl_toolkit.param, or the same analyses written here."""
    shipped = ROOT / "param" / "cl_toolkit.param"
    if shipped.exists():
        return shipped, "param/cl_toolkit.param"
    spec = {"store": {"root_directory": "unused"}, "executor": {"kind": "serial"}, "query": [],
            "analyses": {name: {"class": CLASSES[name], "params": PARAMS[name]} for name in PARAMS}}
    path = workdir / "bench_toolkit.json"
    path.write_text(json.dumps(spec, indent=2))
    return path, "the bench's own analyses (PARAMS; no param/cl_toolkit.param)"


def build_store(workdir: Path, args: argparse.Namespace) -> tuple[Path, list[Path]]:
    sources = workdir / f"store_sources_{args.recordings}x{args.store_seconds:g}s"
    sources.mkdir(exist_ok=True)
    paths = []
    for i in range(args.recordings):
        path = sources / f"rec{i:04d}.h5"
        if not path.exists():
            write_recording(path, args.store_seconds, 1000 + i)
        paths.append(path)
    pristine = workdir / f"store_{args.recordings}x{args.store_seconds:g}s"
    if not (pristine / ".complete").exists():
        shutil.rmtree(pristine, ignore_errors=True)
        with cldata.open(pristine, mode="w") as store:
            for i, path in enumerate(paths):
                store.add_recording(path, {"culture": f"C{i % 4}", "day": i // 4})
            store.commit()
        (pristine / ".complete").write_text("")
    return pristine, paths


def run_store(workdir: Path, args: argparse.Namespace, figures: list[Figure], notes: list[str]) -> None:
    reason = store_unavailable()
    if reason:
        notes.append(f"whole toolkit over a {args.recordings}-recording store: skipped: {reason}")
        return
    say(f"building a store of {args.recordings} recordings of {args.store_seconds:g} s")
    pristine, paths = build_store(workdir, args)
    param_file, param_name = store_parameters(workdir)
    plan = baseline_plan(param_file)
    workers = len(os.sched_getaffinity(0))
    kinds = [("serial", ["--executor", "serial"]), (f"processes ({workers})", ["--executor", "processes",
                                                                            "--workers", str(workers)])]
    times: list[list[float]] = [[] for _ in range(len(kinds) + 1)]
    for turn in range(args.store_repeats):
        for (kind, options), out in zip(kinds, times):
            copy = workdir / "store_run"
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(pristine, copy)
            argv = ["-c", "import sys; from cldata.app.cli import main; sys.exit(main())", "run", str(param_file),
                    "--set", f"store.root_directory={copy}", "--no-progress", *options]
            t0 = time.perf_counter()
            r = subprocess.run([sys.executable, *argv], capture_output=True, text=True, env=child_env(), check=False)
            out.append(time.perf_counter() - t0)
            report = (r.stdout + r.stderr).strip().splitlines()
            done = re.search(r"computed (\d+) analyses", r.stdout + r.stderr)
            if r.returncode or not done or int(done.group(1)) < args.recordings * len(plan):
                notes.append(f"store run ({kind}) did not compute every analysis: {report[-3:] if report else r.returncode}")
            elif turn == 0:
                notes.append(f"cldata run ({kind}): {report[-1]}")
        times[-1].append(child_seconds(["-c", _BASELINE_LOOP, json.dumps(plan), *map(str, paths)]))
    metric = f"whole toolkit, {args.recordings} recordings x {args.store_seconds:g} s"
    for (kind, _), t in zip(kinds, times):
        figures.append(Figure.from_samples(f"store_{kind.split()[0]}", f"{metric}: cldata run, {kind}", "s", t,
                                           times[-1], "baseline loop, 1 process"))
    notes.append(f"store runs: {param_name} ({len(plan)} analyses per recording, the baseline the same calls); each on a fresh copy of the store, results stored; times include "
                 "starting Python and the imports (cldata run and the baseline loop alike)")


# -- the run ------------------------------------------------------------------------------------


def run(args: argparse.Namespace, workdir: Path) -> tuple[list[Figure], dict[str, Any], list[str]]:
    info: dict[str, Any] = {"state_before": machine_state()}
    path = cached_recording(workdir, args.minutes * 60, args.seed)
    rec = cldata.RecordingView(path)
    loaded = base.load(path)
    notes: list[str] = []
    problems = []
    for name, fn in base.METHODS.items():
        problems += agreement(run_cldata(rec, name), fn(loaded, **PARAMS[name]), name)
    if problems:
        raise SystemExit(f"cldata and the baseline differ on {', '.join(problems)}")
    info["recording"] = facts(rec)
    say("cldata and the baseline agree on the key fields of every method")
    figures: list[Figure] = []
    for name, fn in base.METHODS.items():
        say(f"{name}: {args.repeats} turns")
        ours, theirs = interleaved_times([lambda n=name: run_cldata(rec, n),
                                          lambda n=name, f=fn: f(loaded, **PARAMS[n])], args.repeats)
        figures.append(Figure.from_samples(name, f"{name}({', '.join(map(str, PARAMS[name].values()))}), warm", "s",
                                           ours, theirs, "baseline, spikes loaded"))
    rec.close()
    say(f"whole toolkit in-process: {args.repeats} turns")
    ours, theirs = interleaved_times([lambda: whole_cldata(path), lambda: whole_baseline(path)], args.repeats)
    figures.append(Figure.from_samples("whole", "whole toolkit: open + 8 methods (first reads the spikes)", "s",
                                       ours, theirs, "baseline, load + 8", TARGET_WHOLE))
    say(f"whole toolkit at first use, fresh processes: {args.first_repeats} turns")
    ours, theirs = first_use_times(path, args.first_repeats)
    figures.append(Figure.from_samples("first_use", "first use, fresh process: import + open + whole toolkit", "s",
                                       ours, theirs, "baseline, import + load + 8", TARGET_WHOLE))
    run_store(workdir, args, figures, notes)
    info["state_after"] = machine_state()
    return figures, info, notes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = make_parser(__doc__, "a 2-minute recording, a 10-recording store, fewer turns (about a minute)")
    p.add_argument("--minutes", type=float, help="length of the recording (default 10; 2 with --quick)")
    p.add_argument("--recordings", type=int, help="recordings in the store (default 100; 10 with --quick)")
    p.add_argument("--store-seconds", type=float, default=30.0, help="length of each store recording (default 30)")
    p.add_argument("--seed", type=int, default=0)
    add_output_options(p, "cache the recordings and the store here (default: a temporary directory)")
    args = p.parse_args(argv)
    if args.minutes is None:
        args.minutes = 2.0 if args.quick else 10.0
    if args.recordings is None:
        args.recordings = 10 if args.quick else 100
    if args.minutes * 60 < 1 or args.store_seconds < 1 or args.recordings < 1:
        p.error("need at least 1 s per recording and one recording in the store")
    args.repeats = 3 if args.quick else 7
    args.first_repeats = 3 if args.quick else 5
    args.store_repeats = 1  # a baseline turn over 100 recordings takes minutes
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    (figures, info, notes), elapsed = _report.run_in_workdir(run, args, "bench_analyses_")
    title = (f"cldata {cldata.__version__} analysis toolkit benchmark ({args.minutes:g} min x {CHANNELS} ch at {FPS} Hz; "
             f"{info['state_before']} before, {info['state_after']} after; ratio = times faster than baseline)")
    notes = [f"recording: {info['recording']}",
             "per method: warm (cldata: spike table already read; baseline: spikes already loaded with h5py)",
             "first use: clock started before the imports (cldata: numpy, tables, scipy, networkx; baseline: numpy, "
             "h5py, scipy, networkx); interpreter start-up excluded", *notes]
    print_report(title, figures, elapsed, notes)
    if args.json is not None:
        write_json(args.json, args, elapsed, figures, info)


if __name__ == "__main__":
    main()
