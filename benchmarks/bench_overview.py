"""Benchmark of recording overviews (``cldata.overview``) against envelopes computed from the samples.

How the figures are measured
----------------------------
Every figure is the **median of several samples, with their min–max range** (``2.1 ms
(1.9–3.5 ms)``). cldata and its baselines are measured **in turns** in the same run
(``cldata, numpy, tsdownsample, cldata, numpy, ...``, each turn on the same window), so
that a change in the machine's load falls on all of them alike. **First use** (the first
envelope after opening the files) is measured in a **fresh Python process per sample**
(imports done before the clock starts, their time printed apart), once with the files
evicted from the page cache ("from disk") and once with them cached. Every timing
**includes reading from the file**: cldata reads the overview (and opens the recording),
the baselines read the int16 samples of the window from the recording with PyTables, in
blocks of 2**18 frames (32 MiB) into a buffer they reuse. The table's title prints the
machine's state (``nproc``, load average before and after); on a shared machine the
figures move with the load, so read them with it.

Run it from the repository root::

    python benchmarks/bench_overview.py               # full: a 1-hour 64-channel recording (~11.5 GB, see below)
    python benchmarks/bench_overview.py --minutes 10  # 10 minutes (~1.9 GB)
    python benchmarks/bench_overview.py --quick       # 5 minutes (~1 GB), a few minutes
    python benchmarks/bench_overview.py --json figures.json --dir /scratch/bench --factor 16

It writes a synthetic CL recording with :class:`cldata.RecordingWriter` (``durable=False``)
in a temporary directory (or ``--dir``, where it is kept): 64 channels of int16 noise at
25 kHz, appended in 1-second chunks, with spikes of a fixed shape at 2 Hz per channel in
both the samples and the spike table. One hour is 90,000,000 frames = 11.5 GB of samples
(plus ~0.15 GB of spike table); **while it is written, the writer's journal holds a
second copy**, so the run needs about 2 × 11.7 GB + 0.5 GB ≈ 24 GB free in that directory
(the journal is deleted when the writer closes). The script checks ``shutil.disk_usage``
first and refuses to start when the space is short (``--minutes`` sets a shorter
recording).

The baselines: what a user without an overview writes, done well
-----------------------------------------------------------------
Both compute, for every channel, the min and max of each bin of the **same window with the
same number of points as cldata's answer** (bins of cldata's ``frames_per_point`` frames,
from the window's start; cldata aligns its bins to the recording start, so the counts may
differ by one), and the script checks that both give the same values. They run in one
thread, as written; cldata's build uses its worker threads (one per CPU, at most 8). Their
time goes mostly to reading the samples (and, for tsdownsample, transposing them), not
to the min/max itself, so a parallel downsampler would not change them much.

numpy, chunked
    Blocks of whole bins (up to 2**18 frames) read into a reused buffer
    (``Array.read(out=)``), then ``min``/``max`` of ``block.reshape(bins, per, 64)`` over
    the bin axis: no copy of the window, no ``reduceat``.
tsdownsample (``MinMaxDownsampler``, Rust, SIMD)
    The same blocks, transposed into a channel-major buffer (tsdownsample needs each
    channel contiguous; the transposition is done in pieces of 4,096 frames, six times
    faster than ``np.ascontiguousarray(x.T)``), then ``downsample(channel, n_out=2 * bins)``
    per channel (the bins are then exactly cldata's) and the two samples of each bin
    taken. Skipped, with a message, when tsdownsample is not installed (``pip install
    tsdownsample``).

What is measured
----------------
Building (``build_overview``, with its final fsync), against one sequential read of all
samples (target: at most 1.5 × it) and against the baselines computing **one**
2,000-point envelope of the whole recording (what the overview replaces for the first
view; every later view then costs milliseconds instead of another pass): once from disk
(each turn evicts the files from the page cache: ``posix_fadvise DONTNEED`` after an
fsync), once from the page cache. And the overview's size against the recording's
(target: at most 30 %).

Envelopes (2,000 points asked per channel, all 64 channels): the whole recording and
random 1-minute windows, each warm (a long-lived process; a new window each turn) and at
first use (fresh processes, see above); targets 50 ms (whole) and 20 ms (window), the
baselines as above. For information: spike counts (no baseline).

The ratio column says how many times faster cldata is than the baseline (above 1:
faster). "From disk" means evicted from this machine's page cache; a virtual machine's
host may still cache the file. This is a script, not a test: it asserts only that what it
reads back is right (each envelope is checked against a brute-force one on a few
channels, and the baselines against each other).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import _report
import numpy as np
import tables
from _report import (
    add_output_options,
    interleaved_times,
    make_parser,
    print_report,
    run_in_workdir,
    say,
    timed,
    write_json,
)

import cldata
from cldata.overview import Overview, build_overview

try:
    from tsdownsample import MinMaxDownsampler
except ImportError:  # a benchmark-only package: its baseline is skipped, and the run says so
    MinMaxDownsampler = None

FPS = 25_000
CHANNELS = 64
WIDTH = 2000
SPIKE_RATE = 2.0  # per channel, Hz
SHAPE = np.array([-20, -60, -140, -90, -30, 10, 35, 20, 8], dtype=np.int16)
READ_CHUNK = 1 << 18  # frames per read of the baselines: 32 MiB
TRANSPOSE_STEP = 4096  # frames per piece of the baseline's transposition (fits the CPU's caches)
NO_TSDOWNSAMPLE = "tsdownsample is not installed: its baseline is skipped (pip install tsdownsample)"


# -- figures ---------------------------------------------------------------------------------


@dataclass
class Figure(_report.Figure):
    """A figure whose target may be a multiple of its baseline (units ``s`` and ``%``: lower is better)."""

    target_of_baseline: bool = False  # the target is then a multiple of the baseline

    @property
    def limit(self) -> float | None:
        if self.target is None:
            return None
        return self.target * self.baseline if self.target_of_baseline else self.target

    @property
    def met(self) -> bool | None:
        return None if self.limit is None else self.cldata <= self.limit

    def target_text(self) -> str:
        if self.target is not None and self.target_of_baseline:
            return f"<= {self.target:g}x baseline"
        return super().target_text()

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "limit": self.limit, "met": self.met}


def figure(key: str, metric: str, samples: Sequence[float], baseline: Sequence[float] | None = None,
           baseline_name: str = "", target: float | None = None, of_baseline: bool = False) -> Figure:
    f = Figure.from_samples(key, metric, "s", samples, baseline, baseline_name, target)
    return dataclasses.replace(f, target_of_baseline=of_baseline)


def machine_state() -> str:
    load = os.getloadavg()
    return f"nproc {len(os.sched_getaffinity(0))}, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"


# -- helpers ---------------------------------------------------------------------------------


def evict(*paths: Path) -> None:
    """Drop the files' pages from the page cache (flushed first: dirty pages cannot be dropped)."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def check_disk(directory: Path, minutes: float) -> None:
    samples = minutes * 60 * FPS * CHANNELS * 2
    spikes = minutes * 60 * SPIKE_RATE * CHANNELS * 316
    need = 2 * (samples + spikes) * 1.05 + 0.05 * samples + 2**29
    free = shutil.disk_usage(directory).free
    say(f"{minutes:g} min of samples: {samples / 1e9:.2f} GB; needs ~{need / 1e9:.1f} GB free in {directory} "
        f"(the writer's journal doubles it until close), {free / 1e9:.1f} GB free")
    if need > free:
        raise SystemExit(f"not enough disk space in {directory}: use --minutes or --dir")


def write_recording(path: Path, frames: int, seed: int, *, name: str = "overview",
                    more: Callable[[Any, int, int], None] | None = None) -> int:
    """Noise plus spikes, written in 1-second chunks; returns the number of spikes.

    ``more(writer, a, b)``, if given, adds what else frames ``[a, b)`` hold (stims, stream
    entries: benchmarks/bench_nwb.py) before the chunk is written.
    """
    rng = np.random.default_rng(seed)
    noise = rng.integers(-300, 300, size=(1 << 20, CHANNELS), dtype=np.int16)  # 42 s, reused at random offsets
    n_spikes = 0
    with cldata.RecordingWriter(path, durable=False, attributes={"benchmark": name}) as w:
        for a in range(0, frames, FPS):
            b = min(frames, a + FPS)
            off = int(rng.integers(0, noise.shape[0] - FPS))
            chunk = noise[off:off + b - a].copy()
            k = rng.poisson(SPIKE_RATE * CHANNELS * (b - a) / FPS)
            ts = np.sort(rng.integers(0, max(1, b - a - len(SHAPE)), k))
            ch = rng.integers(0, CHANNELS, k).astype(np.uint8)
            for t, c in zip(ts, ch):
                chunk[t:t + len(SHAPE), c] = SHAPE
            w.append_samples(chunk)
            if k:
                wf = np.zeros((k, 75), dtype=np.float32)
                wf[:, 25:25 + len(SHAPE)] = SHAPE * 0.195
                w.append_spikes(ts + a, ch, wf)
            if more is not None:
                more(w, a, b)
            n_spikes += k
            if a and a % (FPS * 300) == 0:
                say(f"  ... {a / FPS / 60:.0f} min written")
    return n_spikes


def sequential_read(node: tables.EArray) -> None:
    """All samples, in blocks, into one reused buffer (the least any pass over the samples costs)."""
    n = node.nrows
    buf = np.empty((min(READ_CHUNK, n), node.shape[1]), dtype=node.atom.dtype)
    for a in range(0, n, READ_CHUNK):
        b = min(n, a + READ_CHUNK)
        node.read(a, b, out=buf[: b - a])


# -- the baselines: envelopes from the samples -------------------------------------------------


class SampleEnvelopes:
    """Envelopes of a recording's samples computed from the file, as a careful user would.

    ``envelope(a, b, per)`` returns the ``(bins, channels)`` int16 min and max of the bins of
    ``per`` frames from ``a`` (the last one ends at ``b``, and may be shorter), read from the
    file in blocks of whole bins (``READ_CHUNK`` frames or one bin). ``method`` is ``"numpy"``
    (reshape and reduce) or ``"tsdownsample"`` (transpose, then ``MinMaxDownsampler`` per
    channel).
    """

    def __init__(self, path: Path, method: str):
        self.h5 = tables.open_file(str(path), "r")
        self.node = self.h5.root.samples
        self.method = method
        self.channels = int(self.node.shape[1])
        self.buf = np.empty((0, self.channels), dtype=np.int16)
        self.tbuf = np.empty((self.channels, 0), dtype=np.int16)
        self.ds = MinMaxDownsampler() if method == "tsdownsample" else None

    def close(self) -> None:
        self.h5.close()

    def envelope(self, a: int, b: int, per: int) -> tuple[np.ndarray, np.ndarray]:
        n = b - a
        whole, rest = divmod(n, per)
        bins_per_block = max(1, READ_CHUNK // per)
        if self.buf.shape[0] < bins_per_block * per:
            self.buf = np.empty((bins_per_block * per, self.channels), dtype=np.int16)
            if self.ds is not None:
                self.tbuf = np.empty((self.channels, bins_per_block * per), dtype=np.int16)
        lo = np.empty((whole + (rest > 0), self.channels), dtype=np.int16)
        hi = np.empty_like(lo)
        reduce = self._numpy if self.ds is None else self._tsdownsample
        for k in range(0, whole, bins_per_block):
            m = min(bins_per_block, whole - k)
            x = self.buf[: m * per]
            self.node.read(a + k * per, a + (k + m) * per, out=x)
            reduce(x, m, per, lo[k:k + m], hi[k:k + m])
        if rest:  # the last, short bin
            x = self.node.read(b - rest, b)
            lo[-1], hi[-1] = x.min(axis=0), x.max(axis=0)
        return lo, hi

    @staticmethod
    def _numpy(x: np.ndarray, m: int, per: int, lo: np.ndarray, hi: np.ndarray) -> None:
        r = x.reshape(m, per, x.shape[1])
        np.min(r, axis=1, out=lo)
        np.max(r, axis=1, out=hi)

    def _tsdownsample(self, x: np.ndarray, m: int, per: int, lo: np.ndarray, hi: np.ndarray) -> None:
        f = m * per
        t = self.tbuf[:, :f]
        for s in range(0, f, TRANSPOSE_STEP):
            e = min(f, s + TRANSPOSE_STEP)
            np.copyto(t[:, s:e], x[s:e].T)
        for c in range(self.channels):
            y = t[c]
            idx = self.ds.downsample(y, n_out=2 * m)  # bins of exactly `per` frames: the min's and max's index
            v = y[idx].reshape(m, 2)
            lo[:, c] = v.min(axis=1)
            hi[:, c] = v.max(axis=1)


def methods() -> list[str]:
    return ["numpy"] + (["tsdownsample"] if MinMaxDownsampler is not None else [])


BASELINE_NAMES = {"numpy": "numpy, chunked", "tsdownsample": "tsdownsample MinMax"}


def check_envelope(view: cldata.RecordingView, env: Any, channels: list[int]) -> None:
    """The envelope's bins against the raw samples on a few channels (read 2**20 frames at a time)."""
    idx = [int(np.flatnonzero(env.channels == c)[0]) for c in channels]
    scale = np.float32(view.uV_per_sample_unit)
    i = 0
    while i < len(env):
        j = i + 1  # bins i..j-1: as many as fit in 2**20 frames (at least one)
        while j < len(env) and env.edges[j + 1] - env.edges[i] <= 1 << 20:
            j += 1
        a, b = int(env.edges[i]), int(env.edges[j])
        x = view.read_samples(a, b)[:, channels]
        starts = env.edges[i:j] - a
        lo = np.minimum.reduceat(x, starts, axis=0).astype(np.float32) * scale
        hi = np.maximum.reduceat(x, starts, axis=0).astype(np.float32) * scale
        if not (np.array_equal(lo, env.minimum[i:j, idx]) and np.array_equal(hi, env.maximum[i:j, idx])):
            raise AssertionError(f"envelope of [{env.start}, {env.stop}) differs from the samples in [{a}, {b})")
        i = j


def check_baselines(rec_path: Path, a: int, b: int, per: int) -> None:
    """The baselines agree with each other and with a plain reduction of the samples."""
    x = None
    results = []
    for method in methods():
        s = SampleEnvelopes(rec_path, method)
        results.append(s.envelope(a, b, per))
        if x is None:
            x = s.node.read(a, b)
        s.close()
    starts = np.arange(0, b - a, per)
    want = np.minimum.reduceat(x, starts, axis=0), np.maximum.reduceat(x, starts, axis=0)
    for method, (lo, hi) in zip(methods(), results):
        if not (np.array_equal(lo, want[0]) and np.array_equal(hi, want[1])):
            raise AssertionError(f"the {method} baseline's envelope of [{a}, {b}) differs from the samples")


# -- first use: one fresh process per sample ----------------------------------------------------


def first_use(args: argparse.Namespace) -> None:
    """(In a fresh process) open the files, compute one envelope, print the seconds it took."""
    a, b = args.window
    t0 = time.perf_counter()
    if args.method == "cldata":
        view = cldata.RecordingView(args.path)
        ov = Overview(args.overview, view)
        env = ov.envelope(start=a, stop=b, width=WIDTH)
        points = len(env)
    else:
        s = SampleEnvelopes(args.path, args.method)
        points = len(s.envelope(a, b, args.per)[0])
    t = time.perf_counter() - t0
    print(json.dumps({"seconds": t, "points": points, "imports": args.import_seconds}), flush=True)


def first_use_times(args: argparse.Namespace, rec_path: Path, ov_path: Path, kinds: list[str],
                    windows: list[tuple[int, int]], per: int, cold: bool) -> tuple[list[list[float]], list[float]]:
    """Per kind, the first-use times over ``windows`` (the kinds in turns, a fresh process each)."""
    times: list[list[float]] = [[] for _ in kinds]
    imports: list[float] = []
    me = [sys.executable, str(Path(__file__).resolve()), "--role", "first-use", "--path", str(rec_path),
          "--overview", str(ov_path), "--per", str(per)]
    for a, b in windows:
        for kind, out in zip(kinds, times):
            if cold:
                evict(rec_path, ov_path)
            r = subprocess.run([*me, "--method", kind, "--window", str(a), str(b), "--t0", repr(time.time())],
                               capture_output=True, text=True, check=False)
            if r.returncode:
                raise SystemExit(f"the first-use process ({kind}) failed:\n{r.stderr}")
            doc = json.loads(r.stdout.splitlines()[-1])
            out.append(doc["seconds"])
            if kind == "cldata":
                imports.append(doc["imports"])
    return times, imports


def cold_turns(fns: Sequence[Callable[[], Any]], repeats: int, paths: Sequence[Path]) -> list[list[float]]:
    """As ``interleaved_times``, but each call starts with ``paths`` evicted from the page cache
    (the eviction is not timed)."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, out in zip(fns, times):
            evict(*[p for p in paths if p.exists()])
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return times


def over(windows: list[tuple[int, int]], fn: Callable[[int, int], Any]) -> Callable[[], Any]:
    """A callable that applies ``fn`` to the next window at each call (round and round)."""
    it = itertools.cycle(windows)
    return lambda: fn(*next(it))


# -- the run ---------------------------------------------------------------------------------


def run(args: argparse.Namespace, workdir: Path) -> tuple[list[Figure], dict[str, Any]]:
    frames = int(args.minutes * 60 * FPS)
    check_disk(workdir, args.minutes)
    rec_path = workdir / "bench_overview.h5"
    ov_path = workdir / "bench_overview.overview.h5"
    info: dict[str, Any] = {"frames": frames, "state_before": machine_state()}
    if MinMaxDownsampler is None:
        say(NO_TSDOWNSAMPLE)
    if args.reuse and rec_path.exists():
        say(f"reusing {rec_path}")
    else:
        rec_path.unlink(missing_ok=True)
        say(f"writing {frames:,} frames x {CHANNELS} ch ({frames * CHANNELS * 2 / 1e9:.2f} GB) to {rec_path}")
        t, n_spikes = timed(lambda: write_recording(rec_path, frames, args.seed))
        say(f"  written in {t:.0f} s, {n_spikes:,} spikes")
    rng = random.Random(args.seed)
    view = cldata.RecordingView(rec_path)
    info["recording_bytes"] = rec_path.stat().st_size
    figures: list[Figure] = []
    options = {"base": args.base, "factor": args.factor}
    build_overview(view, ov_path, **options)  # once first: the envelopes' bins set the baselines' bins
    ov = Overview(ov_path, view)
    whole_env = ov.envelope(width=WIDTH)
    per_whole = whole_env.frames_per_point
    ov.close()
    check_baselines(rec_path, 0, min(frames, 3 * READ_CHUNK + per_whole // 2), per_whole)
    kinds = methods()
    base_objs = {m: SampleEnvelopes(rec_path, m) for m in kinds}

    def whole_baseline(m: str) -> Callable[[], Any]:
        return lambda: base_objs[m].envelope(0, frames, per_whole)

    # building, against one read and against one whole-recording envelope from the samples
    build = lambda: build_overview(view, ov_path, **options)  # noqa: E731
    read = lambda: sequential_read(base_objs["numpy"].node)  # noqa: E731
    fns = [build, read] + [whole_baseline(m) for m in kinds]
    names = ["one read"] + [f"{BASELINE_NAMES[m]}, whole recording" for m in kinds]
    for state, paths in (("from disk", [rec_path, ov_path]), ("page cache", None)):
        say(f"building the overview {state}, in turns with {', '.join(names)} ({args.build_repeats} turns)")
        if paths:
            times = cold_turns(fns, args.build_repeats, paths)
        else:
            c0 = time.process_time()
            times = interleaved_times(fns, args.build_repeats)
            info["cpu_s_per_turn"] = (time.process_time() - c0) / (args.build_repeats + 1)
        key = "cold" if paths else "warm"
        for n, (name, t) in enumerate(zip(names, times[1:])):
            figures.append(figure(f"build_{key}" + (f"_vs_{kinds[n - 1]}" if n else ""), f"build pyramid, {state}",
                                  times[0], t, f"{name}, {state}", 1.5 if n == 0 else None, n == 0))
    storage = 100 * ov_path.stat().st_size / info["recording_bytes"]
    info["overview_bytes"] = ov_path.stat().st_size
    figures.append(Figure("storage", "overview size / recording size", "%", storage, None, "", 30.0))

    ov = Overview(ov_path, view)
    check = [0, 17, 63]
    env = ov.envelope(width=WIDTH)
    check_envelope(view, env, check)
    info["whole_envelope"] = {"points": len(env), "frames_per_point": env.frames_per_point, "level": env.level}

    # the whole recording: warm, in turns with the baselines' whole-recording envelopes
    say(f"whole-recording envelope, page cache, in turns ({args.whole_repeats} turns)")
    times = interleaved_times([lambda: ov.envelope(width=WIDTH)] + [whole_baseline(m) for m in kinds],
                              args.whole_repeats)
    metric = f"whole recording, {WIDTH} pts x 64 ch"
    for m, t in zip(kinds, times[1:]):
        figures.append(figure(f"whole_warm_vs_{m}", f"{metric}, warm", times[0], t,
                              f"{BASELINE_NAMES[m]}, page cache", 50e-3))

    # random 1-minute windows
    minute = 60 * FPS
    if frames > 2 * minute:
        starts = [rng.randrange(0, frames - minute) for _ in range(args.windows + 1)]
        windows = [(a, a + minute) for a in starts]
        for a, b in windows[:5]:
            check_envelope(view, ov.envelope(start=a, stop=b, width=WIDTH), check)
        e = ov.envelope(start=starts[0], stop=starts[0] + minute, width=WIDTH)
        per = e.frames_per_point
        check_baselines(rec_path, starts[1], starts[1] + minute, per)
        info["minute_envelope"] = {"points": len(e), "frames_per_point": per, "level": e.level}
        say(f"1-minute windows, page cache, in turns ({args.windows} windows)")
        fns = [over(windows, lambda a, b: ov.envelope(start=a, stop=b, width=WIDTH))]
        fns += [over(windows, lambda a, b, m=m: base_objs[m].envelope(a, b, per)) for m in kinds]
        times = interleaved_times(fns, args.windows)
        metric = f"1-min window, {WIDTH} pts x 64 ch"
        for m, t in zip(kinds, times[1:]):
            figures.append(figure(f"minute_warm_vs_{m}", f"{metric}, warm", times[0], t,
                                  f"{BASELINE_NAMES[m]}, page cache", 20e-3))
        first = windows[1:args.first_repeats + 1]
        for cold in (False, True):
            state = "from disk" if cold else "page cache"
            say(f"1-minute windows, first use in fresh processes, {state} ({len(first)} turns)")
            times, imports = first_use_times(args, rec_path, ov_path, ["cldata", *kinds], first, per, cold)
            info[f"import_s_{'cold' if cold else 'warm'}"] = imports
            for m, t in zip(kinds, times[1:]):
                figures.append(figure(f"minute_first_{'cold' if cold else 'warm'}_vs_{m}",
                                      f"{metric}, first use, {state}", times[0], t,
                                      f"{BASELINE_NAMES[m]}, {state}", 20e-3))
        spikes_minute = interleaved_times([over(windows, lambda a, b: ov.spike_counts(start=a, stop=b, width=WIDTH))],
                                          args.windows)[0]
        figures.append(figure("spikes_minute", f"spike counts, 1-min window, {WIDTH} bins", spikes_minute))

    # the whole recording at first use (cldata only: the baselines' pass is the one timed above)
    for cold in (False, True):
        state = "from disk" if cold else "page cache"
        say(f"whole-recording envelope, first use in fresh processes, {state}")
        times, _ = first_use_times(args, rec_path, ov_path, ["cldata"], [(0, frames)] * args.first_repeats,
                                   per_whole, cold)
        figures.append(figure(f"whole_first_{'cold' if cold else 'warm'}",
                              f"whole recording, {WIDTH} pts x 64 ch, first use, {state}", times[0], None, "", 50e-3))
    spikes_whole = interleaved_times([lambda: ov.spike_counts(width=WIDTH)], args.whole_repeats)[0]
    figures.append(figure("spikes_whole", f"spike counts, whole recording, {WIDTH} bins", spikes_whole))
    total = ov.spike_counts(width=1).counts.sum()
    if total != len(view.spikes):
        raise AssertionError(f"spike counts add up to {total}, the table has {len(view.spikes)} rows")
    info["levels"] = ov.levels
    info["state_after"] = machine_state()
    ov.close()
    view.close()
    for s in base_objs.values():
        s.close()
    if not args.keep:
        rec_path.unlink(missing_ok=True)
        ov_path.unlink(missing_ok=True)
    return figures, info


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = make_parser(__doc__, "a 5-minute recording (a few minutes in all)")
    p.add_argument("--minutes", type=float, help="length of the recording (default 60; 5 with --quick)")
    p.add_argument("--base", type=int, default=64, help="frames per level-0 block (default 64)")
    p.add_argument("--factor", type=int, default=8, help="blocks per block of the next level (default 8)")
    add_output_options(p, "write the files here (default: a temporary directory)")
    p.add_argument("--keep", action="store_true", help="keep the files (with --dir)")
    p.add_argument("--reuse", action="store_true", help="reuse a recording left in --dir by --keep")
    p.add_argument("--seed", type=int, default=0)
    # internal: the script runs itself for each first-use sample
    p.add_argument("--role", choices=("driver", "first-use"), default="driver", help=argparse.SUPPRESS)
    p.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--overview", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--method", choices=("cldata", "numpy", "tsdownsample"), help=argparse.SUPPRESS)
    p.add_argument("--window", type=int, nargs=2, help=argparse.SUPPRESS)
    p.add_argument("--per", type=int, help=argparse.SUPPRESS)
    p.add_argument("--t0", type=float, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.role != "driver":
        return args
    if args.minutes is None:
        args.minutes = 5.0 if args.quick else 60.0
    if args.minutes * 60 < 1:
        p.error("need at least 1 s of samples")
    if (args.keep or args.reuse) and args.dir is None:
        p.error("--keep and --reuse need --dir")
    args.build_repeats = 3
    args.whole_repeats = 5 if args.quick else 9
    args.windows = 21 if args.quick else 51
    args.first_repeats = 5 if args.quick else 9
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.role == "first-use":
        args.import_seconds = time.time() - args.t0  # starting Python and importing
        return first_use(args)
    (figures, info), elapsed = run_in_workdir(run, args, "bench_overview_")
    title = (f"cldata {cldata.__version__} overview benchmark ({args.minutes:g} min x {CHANNELS} ch at {FPS} Hz, "
             f"base {args.base}, factor {args.factor}; {info['state_before']} before, {info['state_after']} after; "
             f"ratio = times faster than baseline)")
    imports = info.get("import_s_warm")
    notes = [
        "all timings include reading from the file (the baselines: the window's int16 samples; cldata: the overview)",
        f"whole recording: {info['whole_envelope']}; 1-min window: {info.get('minute_envelope')}",
        f"overview {info['overview_bytes'] / 1e6:.1f} MB for a {info['recording_bytes'] / 1e9:.2f} GB recording; "
        f"CPU time (all threads) of one page-cache turn (build, read, baselines): {info['cpu_s_per_turn']:.2f} s",
    ]
    if imports:
        notes.append(f"first use excludes starting Python and the imports (numpy, tables, cldata, this script), which took "
                     f"{_report.fmt_range(float(np.median(imports)), (min(imports), max(imports)), 's')} to import")
    if MinMaxDownsampler is None:
        notes.append(NO_TSDOWNSAMPLE)
    print_report(title, figures, elapsed, notes)
    if args.json is not None:
        write_json(args.json, args, elapsed, figures, info)


if __name__ == "__main__":
    main()
