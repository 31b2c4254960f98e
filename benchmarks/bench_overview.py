"""Benchmark of recording overviews (``cldata.overview``): building the pyramid, and envelopes from it.

Run it from the repository root::

    python benchmarks/bench_overview.py               # full: a 1-hour 64-channel recording (~11.5 GB, see below)
    python benchmarks/bench_overview.py --minutes 10  # 10 minutes (~1.9 GB)
    python benchmarks/bench_overview.py --quick       # 5 minutes (~1 GB), about a minute
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

Then it prints, next to a baseline measured in the same run and the targets of the issue:

Building (``build_overview``, with its final fsync)
    - once with the recording's pages evicted from the page cache (``posix_fadvise
      DONTNEED`` after an fsync: the file comes from disk, as when a recording is added to
      a store), against one sequential read of all samples, evicted the same way
      (``view.samples.read`` in chunks of 262,144 frames into one buffer);
    - once warm (the file in the page cache), against a warm sequential read.
    Target: at most 1.5 × the read. And the overview's size against the recording's
    (target: at most 30 %).
Envelopes (``Overview.envelope``, 2,000 points per channel, all 64 channels)
    - the whole recording: cold (the overview file evicted, a new :class:`Overview`, so
      opening is included) and warm (median of repeats); target 50 ms. Baseline: the
      sequential read above (what drawing the hour from the samples would need at least).
    - random 1-minute windows: warm and cold medians; target 20 ms. Baseline: a brute-force
      envelope of the same kind of window from the raw samples (``read_samples`` of the
      minute, then numpy's min/max per bin).
    - for information: spike counts of the whole recording and of 1-minute windows.

The ratio column says how many times faster cldata is than the baseline (above 1:
faster). The machine's load average is printed with the table (on a shared machine the
timings move with it), and the CPU seconds of the warm read and build (all threads).
"Cold" means evicted from this machine's page cache; a virtual machine's host may still
cache the file. This is a script, not a test: it asserts only that what it reads
back is right (each envelope is checked against a brute-force one on a few channels).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import _report
import numpy as np
from _report import add_output_options, make_parser, print_report, run_in_workdir, say, timed, write_json

import cldata
from cldata.overview import Overview, build_overview

FPS = 25_000
CHANNELS = 64
WIDTH = 2000
SPIKE_RATE = 2.0  # per channel, Hz
SHAPE = np.array([-20, -60, -140, -90, -30, 10, 35, 20, 8], dtype=np.int16)
READ_CHUNK = 1 << 18  # frames per read of the baseline: 32 MiB


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


def write_recording(path: Path, frames: int, seed: int) -> int:
    """Noise plus spikes, written in 1-second chunks; returns the number of spikes."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(-300, 300, size=(1 << 20, CHANNELS), dtype=np.int16)  # 42 s, reused at random offsets
    n_spikes = 0
    with cldata.RecordingWriter(path, durable=False, attributes={"benchmark": "overview"}) as w:
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
            n_spikes += k
            if a and a % (FPS * 300) == 0:
                say(f"  ... {a / FPS / 60:.0f} min written")
    return n_spikes


def sequential_read(view: cldata.RecordingView) -> float:
    samples = view.samples
    n = samples.nrows
    buf = np.empty((min(READ_CHUNK, n), CHANNELS), dtype=np.int16)
    t0 = time.perf_counter()
    for a in range(0, n, READ_CHUNK):
        b = min(n, a + READ_CHUNK)
        samples.read(a, b, out=buf[: b - a])
    return time.perf_counter() - t0


def brute_envelope(view: cldata.RecordingView, a: int, b: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """From the raw samples: bins of (b - a) // width frames aligned as the overview aligns them."""
    x = view.read_samples(a, b)
    per = max(1, (b - a) // width)
    offset = (-a) % per
    starts = np.arange(offset, b - a, per)
    if offset:
        starts = np.concatenate([[0], starts])
    return np.minimum.reduceat(x, starts, axis=0), np.maximum.reduceat(x, starts, axis=0)


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


# -- the run ---------------------------------------------------------------------------------


def run(args: argparse.Namespace, workdir: Path) -> tuple[list[Figure], dict[str, Any]]:
    frames = int(args.minutes * 60 * FPS)
    check_disk(workdir, args.minutes)
    rec_path = workdir / "bench_overview.h5"
    ov_path = workdir / "bench_overview.overview.h5"
    info: dict[str, Any] = {"frames": frames, "load_before": os.getloadavg()}
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

    # building: cold (from disk) and warm (page cache), each against a read of the same kind
    say("sequential read of the samples, cold")
    evict(rec_path)
    read_cold = sequential_read(view)
    say(f"  {read_cold:.2f} s ({frames * CHANNELS * 2 / read_cold / 1e9:.2f} GB/s); building the overview, cold")
    evict(rec_path)
    build_cold, _ = timed(lambda: build_overview(view, ov_path, **options))
    say(f"  {build_cold:.2f} s; sequential read, warm")
    # (CPU seconds of this process too: on a busy machine they say what wall times cannot)
    c0 = time.process_time()
    read_warm = min(sequential_read(view) for _ in range(args.repeats))
    info["cpu_read_warm_s"] = (time.process_time() - c0) / args.repeats
    say(f"  {read_warm:.2f} s ({frames * CHANNELS * 2 / read_warm / 1e9:.2f} GB/s); building the overview, warm")
    c0 = time.process_time()
    build_warm = min(timed(lambda: build_overview(view, ov_path, **options))[0] for _ in range(args.repeats))
    info["cpu_build_warm_s"] = (time.process_time() - c0) / args.repeats
    say(f"  {build_warm:.2f} s")
    storage = 100 * ov_path.stat().st_size / info["recording_bytes"]
    info["overview_bytes"] = ov_path.stat().st_size
    figures += [
        Figure("build_cold", "build pyramid, from disk", "s", build_cold, read_cold, "one read, from disk", 1.5, True),
        Figure("build_warm", "build pyramid, page cache", "s", build_warm, read_warm, "one read, page cache", 1.5, True),
        Figure("storage", "overview size / recording size", "%", storage, None, "", 30.0),
    ]

    # the whole recording
    check = [0, 17, 63]
    colds = []
    for _ in range(args.cold_repeats):
        evict(ov_path)
        ov = Overview(ov_path, view)
        t, env = timed(lambda ov=ov: ov.envelope(width=WIDTH))
        colds.append(t)
        ov.close()
    ov = Overview(ov_path, view)
    env = ov.envelope(width=WIDTH)
    check_envelope(view, env, check)
    info["whole_envelope"] = {"points": len(env), "frames_per_point": env.frames_per_point, "level": env.level}
    warm = statistics.median(timed(lambda: ov.envelope(width=WIDTH))[0] for _ in range(args.query_repeats))
    figures += [
        Figure("whole_cold", f"whole recording, {WIDTH} pts x 64 ch, cold", "s", statistics.median(colds),
               read_warm, "one read, page cache", 50e-3),
        Figure("whole_warm", f"whole recording, {WIDTH} pts x 64 ch, warm", "s", warm,
               read_warm, "one read, page cache", 50e-3),
    ]

    # random 1-minute windows
    minute = 60 * FPS
    if frames > minute:
        starts = [rng.randrange(0, frames - minute) for _ in range(args.windows)]
        for a in starts[:5]:
            check_envelope(view, ov.envelope(start=a, stop=a + minute, width=WIDTH), check)
        e = ov.envelope(start=starts[0], stop=starts[0] + minute, width=WIDTH)
        info["minute_envelope"] = {"points": len(e), "frames_per_point": e.frames_per_point, "level": e.level}
        ov.envelope(start=starts[0], stop=starts[0] + minute, width=WIDTH)
        warm_minute = statistics.median(timed(lambda a=a: ov.envelope(start=a, stop=a + minute, width=WIDTH))[0]
                                        for a in starts)
        cold_minute = []
        for a in starts[: args.cold_repeats]:
            evict(ov_path)
            fresh = Overview(ov_path, view)
            cold_minute.append(timed(lambda a=a, fresh=fresh: fresh.envelope(start=a, stop=a + minute, width=WIDTH))[0])
            fresh.close()
        other = [rng.randrange(0, frames - minute) for _ in range(args.brute_windows)]
        brute = statistics.median(timed(lambda a=a: brute_envelope(view, a, a + minute, WIDTH))[0] for a in other)
        figures += [
            Figure("minute_warm", f"1-min window, {WIDTH} pts x 64 ch, warm", "s", warm_minute,
                   brute, "raw samples + numpy", 20e-3),
            Figure("minute_cold", f"1-min window, {WIDTH} pts x 64 ch, cold", "s", statistics.median(cold_minute),
                   brute, "raw samples + numpy", 20e-3),
        ]
        spikes_minute = statistics.median(timed(lambda a=a: ov.spike_counts(start=a, stop=a + minute, width=WIDTH))[0]
                                          for a in starts)
        figures.append(Figure("spikes_minute", f"spike counts, 1-min window, {WIDTH} bins", "s", spikes_minute,
                              None, "", None))
    spikes_whole = statistics.median(timed(lambda: ov.spike_counts(width=WIDTH))[0] for _ in range(args.query_repeats))
    figures.append(Figure("spikes_whole", f"spike counts, whole recording, {WIDTH} bins", "s", spikes_whole,
                          None, "", None))
    total = ov.spike_counts(width=1).counts.sum()
    if total != len(view.spikes):
        raise AssertionError(f"spike counts add up to {total}, the table has {len(view.spikes)} rows")
    info["levels"] = ov.levels
    info["load_after"] = os.getloadavg()
    ov.close()
    view.close()
    if not args.keep:
        rec_path.unlink(missing_ok=True)
        ov_path.unlink(missing_ok=True)
    return figures, info


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = make_parser(__doc__, "a 5-minute recording (about a minute in all)")
    p.add_argument("--minutes", type=float, help="length of the recording (default 60; 5 with --quick)")
    p.add_argument("--base", type=int, default=64, help="frames per level-0 block (default 64)")
    p.add_argument("--factor", type=int, default=8, help="blocks per block of the next level (default 8)")
    add_output_options(p, "write the files here (default: a temporary directory)")
    p.add_argument("--keep", action="store_true", help="keep the files (with --dir)")
    p.add_argument("--reuse", action="store_true", help="reuse a recording left in --dir by --keep")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.minutes is None:
        args.minutes = 5.0 if args.quick else 60.0
    if args.minutes * 60 < 1:
        p.error("need at least 1 s of samples")
    if (args.keep or args.reuse) and args.dir is None:
        p.error("--keep and --reuse need --dir")
    args.repeats = 2
    args.query_repeats = 21
    args.cold_repeats = 5
    args.windows = 50
    args.brute_windows = 5
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    (figures, info), elapsed = run_in_workdir(run, args, "bench_overview_")
    title = (f"cldata {cldata.__version__} overview benchmark ({args.minutes:g} min x {CHANNELS} ch at {FPS} Hz, "
             f"base {args.base}, factor {args.factor}; {os.cpu_count()} CPUs, load average "
             f"{info['load_before'][0]:.1f} before, {info['load_after'][0]:.1f} after; ratio = times faster than baseline)")
    notes = [
        f"whole recording: {info['whole_envelope']}; 1-min window: {info.get('minute_envelope')}",
        f"overview {info['overview_bytes'] / 1e6:.1f} MB for a {info['recording_bytes'] / 1e9:.2f} GB recording; "
        f"CPU time (all threads), page cache: read {info['cpu_read_warm_s']:.2f} s, "
        f"build {info['cpu_build_warm_s']:.2f} s",
    ]
    print_report(title, figures, elapsed, notes)
    if args.json is not None:
        write_json(args.json, args, elapsed, figures, info)


if __name__ == "__main__":
    main()
