"""Benchmark of cldata's neo segments (``cldata.format.neo_io``) and scaled sample reads.

Run it from the repository root::

    python benchmarks/bench_neo.py               # full: 640,000 spikes, 1 minute of samples (~2 min)
    python benchmarks/bench_neo.py --quick       # 64,000 spikes, 10 s of samples (well under a minute)
    python benchmarks/bench_neo.py --json figures.json --dir /scratch/bench

It writes two CL recordings with :class:`cldata.RecordingWriter` (in a temporary directory,
or in ``--dir``, where they are kept): one of spikes (640,000 over 64 channels, 100 s at
100 Hz per channel, with their 75-sample waveforms, and a stim a second; 64,000 with
``--quick``), one of 64-channel int16 samples (one minute; 10 s with ``--quick``). Every
figure is the median of repeated runs with its min–max range, and every cldata figure is
measured in turns with its baselines (``_report.interleaved_times``), so that a change in
the machine's load falls on all of them alike. The files are in the page cache.

Figures
-------
The eager segment with waveforms, ``RecordingView(path).segment(lazy=False)`` (opening the
file included), against
    - plain PyTables, the limit: opening the file and ``spikes.read()``, its three columns
      into numpy (target: cldata at most 1.2x its time);
    - plain PyTables and numpy doing what the segment does: the same read, then the spikes
      grouped by channel (one stable argsort) into times in s and waveforms per channel;
    - neo's ``NixIO`` reading the same segment, written once with ``NixIO.write_block``
      (skipped, with a message, when ``nixio`` is not installed: ``pip install nixio``);
    - ``pickle.load`` of the same segment from a file, in this process.
The lazy segment: ``segment(lazy=True)`` and then ``load()`` of the 64 trains with their
waveforms, and without them, against the PyTables read (its columns); building the lazy
segment alone against PyTables' channel counts.
First use: the eager segment in fresh processes (after the imports), against the same
PyTables read, NixIO read and pickle load, each in its own fresh process, in turns.
Scaled samples: ``read_samples(scaled=True)`` of the whole recording, its peak memory
(``tracemalloc``) against converting the int16 range at once (the int16 block and the
float32 result held together; ``samples_to_uV(samples[a:b])``), and its time against that
way; neo's ``AnalogSignal`` load the same way against neo's own ``AnalogSignalProxy.load``.

Notes
-----
The ratio column says how many times better cldata is than the baseline (above 1: faster,
or less memory). Python's cyclic garbage collector is off while a round of calls is timed
and collects between rounds, untimed: neo segments are reference cycles (a segment and its
children), so each would otherwise be freed at a moment that falls on whichever call runs
then. This is a script, not a test: it asserts nothing about timings, only that every
reader gives the same spikes.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import subprocess
import sys
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tables
from _report import (
    Figure,
    add_output_options,
    interleaved_times,
    make_parser,
    print_report,
    run_in_workdir,
    say,
    write_json,
)

import cldata
from cldata.format.reader import samples_to_uV
from cldata.format.simulate import spike_template

try:  # nixio is not a cldata dependency
    import nixio  # noqa: F401
    from neo.io import NixIO
except ImportError:  # pragma: no cover - depends on the environment
    NixIO = None

FPS = 25_000
CHANNELS = 64


# -- the recordings ----------------------------------------------------------------------------


def write_spikes(path: Path, n_spikes: int, seed: int) -> int:
    """``n_spikes`` spikes spread evenly over 64 channels at 100 Hz per channel; returns their number."""
    rng = np.random.default_rng(seed)
    per_channel = n_spikes // CHANNELS
    frames = int(per_channel / 100.0 * FPS)
    ts = rng.integers(0, frames, per_channel * CHANNELS)
    ch = np.repeat(np.arange(CHANNELS, dtype=np.uint8), per_channel)
    order = np.argsort(ts, kind="stable")
    ts, ch = ts[order], ch[order]
    template = spike_template()
    stims = np.arange(FPS // 10, frames, FPS, dtype=np.int64)
    with cldata.RecordingWriter(path, attributes={"kind": "spikes"}, durable=False) as w:
        w.append_stims(stims, (np.arange(stims.size) % 8 + 8).astype(np.uint8))
        for a in range(0, ts.size, 65_536):
            b = min(ts.size, a + 65_536)
            scale = rng.uniform(0.6, 1.4, (b - a, 1)).astype(np.float32)
            w.append_spikes(ts[a:b], ch[a:b], template[None, :] * scale)
        w.close(end_timestamp=frames)
    return ts.size


def write_samples(path: Path, seconds: float, seed: int) -> None:
    """``seconds`` of 64-channel int16 samples (noise), no spikes."""
    rng = np.random.default_rng(seed)
    frames = int(seconds * FPS)
    with cldata.RecordingWriter(path, attributes={"kind": "samples"}, durable=False) as w:
        for a in range(0, frames, FPS):
            w.append_samples(rng.integers(-500, 500, (min(FPS, frames - a), CHANNELS), dtype=np.int16))
        w.close(end_timestamp=frames)


# -- what is timed -----------------------------------------------------------------------------


def cl_eager(path: Path) -> Any:
    with cldata.RecordingView(path) as rec:
        return rec.segment(lazy=False)


def cl_lazy(path: Path) -> Any:
    with cldata.RecordingView(path) as rec:
        return rec.segment(lazy=True)


def cl_lazy_loaded(path: Path, waveforms: bool) -> Any:
    with cldata.RecordingView(path) as rec:
        seg = rec.segment(lazy=True)
        return [st.load(load_waveforms=waveforms) for st in seg.spiketrains]


def pt_read(path: Path) -> np.ndarray:
    """Plain PyTables: the spike table's three columns into numpy, in one read."""
    with tables.open_file(str(path), "r") as f:
        return f.root.spikes.read()


def pt_counts(path: Path) -> np.ndarray:
    with tables.open_file(str(path), "r") as f:
        return np.bincount(f.root.spikes.col("channel"), minlength=CHANNELS)


def pt_grouped(path: Path, waveforms: bool = True) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """Plain PyTables and numpy: each channel's spike times in s (and waveforms), as the segment has them."""
    rows = pt_read(path)
    ch = rows["channel"]
    order = np.argsort(ch, kind="stable")
    bounds = np.concatenate(([0], np.cumsum(np.bincount(ch, minlength=CHANNELS))))
    times = rows["timestamp"][order] / FPS
    wf = rows["samples"][order][:, None, :] if waveforms else None
    return [(times[a:b], None if wf is None else wf[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]


def nix_read(path: Path) -> Any:
    io = NixIO(str(path), mode="ro")
    try:
        return io.read_block().segments[0]
    finally:
        io.close()


def pickle_read(path: Path) -> Any:
    with open(path, "rb") as f:
        return pickle.load(f)


def rounds(fns: Sequence[Callable[[], Any]], repeats: int) -> list[list[float]]:
    """``interleaved_times`` a round at a time, the cyclic collector off in a round, run between rounds."""
    times: list[list[float]] = [[] for _ in fns]
    for i in range(repeats):
        gc.collect()
        gc.disable()
        try:
            got = interleaved_times(fns, 1, warm=i == 0)
        finally:
            gc.enable()
        for out, t in zip(times, got):
            out.extend(t)
    gc.collect()
    return times


_CHILD = r"""
import json, sys, time
kind, path = sys.argv[1], sys.argv[2]
if kind == "cldata":
    import cldata, cldata.format.neo_io
    t0 = time.perf_counter()
    with cldata.RecordingView(path) as rec:
        seg = rec.segment(lazy=False)
    n = sum(len(st) for st in seg.spiketrains)
elif kind == "pytables":
    import numpy, tables
    t0 = time.perf_counter()
    with tables.open_file(path, "r") as f:
        n = len(f.root.spikes.read())
elif kind == "nixio":
    import nixio
    from neo.io import NixIO
    t0 = time.perf_counter()
    io = NixIO(path, mode="ro")
    seg = io.read_block().segments[0]
    io.close()
    n = sum(len(st) for st in seg.spiketrains)
else:
    import pickle, neo
    t0 = time.perf_counter()
    with open(path, "rb") as f:
        seg = pickle.load(f)
    n = sum(len(st) for st in seg.spiketrains)
print(json.dumps({"s": time.perf_counter() - t0, "spikes": n}))
"""


def in_fresh_process(kind: str, path: Path, n_spikes: int) -> float:
    """Seconds of one first read in a new interpreter (after its imports)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), os.getcwd()) if p)}
    out = subprocess.run([sys.executable, "-c", _CHILD, kind, str(path)], check=True, capture_output=True,
                         text=True, env=env)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    if got["spikes"] != n_spikes:
        raise RuntimeError(f"{kind} read {got['spikes']} spikes, not {n_spikes}")
    return got["s"]


def peak_bytes(fn: Callable[[], Any]) -> tuple[int, Any]:
    """Peak traced memory (numpy's arrays included) of ``fn()`` above what was traced before, and its result."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        out = fn()
        return tracemalloc.get_traced_memory()[1] - before, out
    finally:
        tracemalloc.stop()


# -- the run -----------------------------------------------------------------------------------


def check_same(seg: Any, grouped: list[tuple[np.ndarray, np.ndarray | None]], what: str) -> None:
    for c, (st, (times, wf)) in enumerate(zip(seg.spiketrains, grouped, strict=True)):
        if not np.array_equal(st.magnitude, times) or (wf is not None and not np.array_equal(st.waveforms.magnitude, wf)):
            raise RuntimeError(f"{what}: channel {c} differs from the PyTables read")


def run(args: argparse.Namespace, workdir: Path) -> tuple[list[Figure], dict[str, Any]]:
    figures: list[Figure] = []
    info: dict[str, Any] = {"nproc": os.cpu_count(), "load_before": os.getloadavg()}
    spikes, samples = workdir / "spikes.h5", workdir / "samples.h5"
    say(f"writing {args.spikes:,} spikes and {args.seconds:g} s of samples ...")
    n = write_spikes(spikes, args.spikes, args.seed)
    write_samples(samples, args.seconds, args.seed)
    k = f"{n // 1000}k spikes"

    seg = cl_eager(spikes)
    grouped = pt_grouped(spikes)
    check_same(seg, grouped, "segment(lazy=False)")
    pickled = workdir / "segment.pickle"
    with open(pickled, "wb") as f:
        pickle.dump(seg, f, protocol=pickle.HIGHEST_PROTOCOL)
    check_same(pickle_read(pickled), grouped, "pickle")
    nix = workdir / "segment.nix"
    if NixIO is None:
        say("nixio is not installed: the NixIO baseline is skipped (pip install nixio)")
    else:
        say("writing the segment with NixIO ...")
        block = __import__("neo").Block()
        block.segments.append(seg)
        io = NixIO(str(nix), mode="ow")
        io.write_block(block)
        io.close()
        check_same(nix_read(nix), grouped, "NixIO")
        del block
    del seg, grouped
    gc.collect()

    # -- the eager segment, warm, in turns with its baselines ----------------------------------
    say(f"eager segment, {args.repeats} rounds ...")
    fns: list[Callable[[], Any]] = [lambda: cl_eager(spikes), lambda: pt_read(spikes), lambda: pt_grouped(spikes),
                                    lambda: pickle_read(pickled)]
    if NixIO is not None:
        fns.append(lambda: nix_read(nix))
    t = rounds(fns, args.repeats)
    metric = f"segment(lazy=False), waveforms ({k})"
    figures.append(Figure.from_samples("seg_eager", metric, "s", t[0], t[1], "PyTables spikes.read()", target=None))
    figures[-1].target = 1.2 * figures[-1].baseline  # the target: at most 1.2x the plain read
    figures.append(Figure.from_samples("seg_eager_grouped", "  same, vs PyTables + numpy grouping", "s", t[0], t[2],
                                       "read, argsort, split"))
    figures.append(Figure.from_samples("seg_eager_pickle", "  same, vs pickle.load of the segment", "s", t[0], t[3],
                                       "pickle.load"))
    if NixIO is not None:
        figures.append(Figure.from_samples("seg_eager_nixio", "  same, vs neo NixIO read_block", "s", t[0], t[4],
                                           "NixIO"))

    # -- lazy ----------------------------------------------------------------------------------
    say(f"lazy segment, {args.repeats} rounds ...")
    t = rounds([lambda: cl_lazy_loaded(spikes, True), lambda: cl_lazy_loaded(spikes, False), lambda: cl_lazy(spikes),
                lambda: pt_read(spikes), lambda: pt_counts(spikes)], args.repeats)
    figures.append(Figure.from_samples("seg_lazy_wf", f"lazy + load() 64 trains, waveforms ({k})", "s", t[0], t[3],
                                       "PyTables spikes.read()"))
    figures.append(Figure.from_samples("seg_lazy_nowf", "lazy + load() 64 trains, no waveforms", "s", t[1], t[3],
                                       "PyTables spikes.read()"))
    figures.append(Figure.from_samples("seg_lazy", "segment(lazy=True) alone", "s", t[2], t[4],
                                       "PyTables channel counts"))

    # -- first use, fresh processes --------------------------------------------------------------
    kinds = [("cldata", spikes), ("pytables", spikes), ("pickle", pickled)]
    if NixIO is not None:
        kinds.append(("nixio", nix))
    say(f"first use in fresh processes, {args.fresh} rounds of {len(kinds)} ...")
    fresh: dict[str, list[float]] = {kind: [] for kind, _ in kinds}
    for _ in range(args.fresh):
        for kind, path in kinds:
            fresh[kind].append(in_fresh_process(kind, path, n))
    figures.append(Figure.from_samples("seg_first", f"segment(lazy=False), fresh process ({k})", "s",
                                       fresh["cldata"], fresh["pytables"], "PyTables spikes.read()"))
    figures.append(Figure.from_samples("seg_first_pickle", "  same, vs pickle.load, fresh process", "s",
                                       fresh["cldata"], fresh["pickle"], "pickle.load"))
    if NixIO is not None:
        figures.append(Figure.from_samples("seg_first_nixio", "  same, vs NixIO, fresh process", "s",
                                           fresh["cldata"], fresh["nixio"], "NixIO"))

    # -- scaled samples --------------------------------------------------------------------------
    say("scaled samples ...")
    from neo.io.proxyobjects import AnalogSignalProxy

    with cldata.RecordingView(samples) as rec:
        scale = rec.uV_per_sample_unit

        def at_once() -> np.ndarray:
            return samples_to_uV(rec.samples[:], scale)

        if not np.array_equal(rec.read_samples(scaled=True), at_once()):
            raise RuntimeError("read_samples(scaled=True) differs from the int16 range converted at once")
        result_mb = rec.samples.nrows * CHANNELS * 4 / 1e6
        mine = [peak_bytes(lambda: rec.read_samples(scaled=True).nbytes)[0] / 1e6 for _ in range(3)]
        base = [peak_bytes(lambda: at_once().nbytes)[0] / 1e6 for _ in range(3)]
        figures.append(Figure.from_samples(
            "samples_peak", f"read_samples(scaled=True) {args.seconds:g} s, peak memory", "MB", mine, base,
            "int16 + float32 at once", target=result_mb * 1.05))
        t = rounds([lambda: rec.read_samples(scaled=True), at_once], args.repeats)
        figures.append(Figure.from_samples("samples_time", f"read_samples(scaled=True) {args.seconds:g} s", "s",
                                           t[0], t[1], "int16 + float32 at once"))
        proxy = rec.segment(lazy=True, waveforms=False).analogsignals[0]
        mine = [peak_bytes(lambda: proxy.load().nbytes)[0] / 1e6 for _ in range(3)]
        base = [peak_bytes(lambda: AnalogSignalProxy.load(proxy).nbytes)[0] / 1e6 for _ in range(3)]
        figures.append(Figure.from_samples("signal_peak", f"AnalogSignal load() {args.seconds:g} s, peak memory",
                                           "MB", mine, base, "neo's AnalogSignalProxy.load", target=result_mb * 1.05))
        t = rounds([proxy.load, lambda: AnalogSignalProxy.load(proxy)], args.repeats)
        figures.append(Figure.from_samples("signal_time", f"AnalogSignal load() {args.seconds:g} s", "s", t[0], t[1],
                                           "neo's AnalogSignalProxy.load"))
        info["samples_result_mb"] = result_mb
    info["load_after"] = os.getloadavg()
    return figures, info


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = make_parser(__doc__, "64,000 spikes, 10 s of samples (well under a minute)")
    p.add_argument("--spikes", type=int, help="spikes (default 640,000; 64,000 with --quick)")
    p.add_argument("--seconds", type=float, help="seconds of samples (default 60; 10 with --quick)")
    p.add_argument("--repeats", type=int, help="timed rounds in this process (default 9; 5 with --quick)")
    p.add_argument("--fresh", type=int, help="rounds of fresh processes (default 5; 3 with --quick)")
    add_output_options(p)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.spikes is None:
        args.spikes = 64_000 if args.quick else 640_000
    if args.seconds is None:
        args.seconds = 10.0 if args.quick else 60.0
    if args.repeats is None:
        args.repeats = 5 if args.quick else 9
    if args.fresh is None:
        args.fresh = 3 if args.quick else 5
    if args.spikes < CHANNELS or args.seconds <= 0:
        p.error("need at least a spike per channel and some samples")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    (figures, info), elapsed = run_in_workdir(run, args, "bench_neo_")
    mode = "quick" if args.quick else "full"
    title = (f"cldata {cldata.__version__} neo segment benchmark ({mode}: {args.spikes:,} spikes, "
             f"{args.seconds:g} s of samples; medians (min–max); ratio = times better than baseline)")
    load = ", ".join(f"{x:.2f}" for x in info["load_before"])
    notes = [f"machine: {info['nproc']} CPUs, load average {load} before the run, "
             f"{', '.join(f'{x:.2f}' for x in info['load_after'])} after",
             f"scaled samples: the float32 result is {info['samples_result_mb']:.1f} MB; memory targets: result + 5 %"]
    if NixIO is None:
        notes.append("NixIO baselines skipped: nixio is not installed (pip install nixio)")
    print_report(title, figures, elapsed, notes, ratio_format=".2f")
    if args.json is not None:
        write_json(args.json, args, elapsed, figures, info)


if __name__ == "__main__":
    main()
