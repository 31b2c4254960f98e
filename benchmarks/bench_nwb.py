"""Benchmark of NWB export (``cldata.to_nwb``) against copying the CL file (``shutil.copy``).

How the figures are measured
----------------------------
Every figure is the **median of several samples, with their min–max range** (``12.1 s
(11.8–13.0 s)``). Each sample runs in a **fresh Python process** (imports done before the
clock starts), and cldata and its baseline run **in turns** (``nwb, copy, nwb, copy, ...``),
so that a change in the machine's load falls on both alike. The **peak memory** of a sample
is the highest resident set of its process while it runs (``/proc/self/statm``, sampled
every 5 ms by a thread) minus the resident set it had when it started, its imports done:
it counts what the export itself holds, not Python, numpy, PyTables and pynwb. The page cache is not dropped: the CL file
is read from cache after the first turn, for both.

Run it from the repository root::

    python benchmarks/bench_nwb.py                 # a 10-minute 64-channel recording (~1.9 GB)
    python benchmarks/bench_nwb.py --quick         # 1 minute (~0.2 GB), well under a minute
    python benchmarks/bench_nwb.py --minutes 60 --dir /scratch/bench --json nwb.json

It writes a synthetic CL recording with :class:`cldata.RecordingWriter` (``durable=False``):
64 channels of int16 noise at 25 kHz with spikes of a fixed shape at 2 Hz per channel in
both the samples and the spike table, and stimulations every 250 ms. While it is written
the writer's journal holds a second copy of the samples; each export and copy then needs
up to one more copy of the file beside it (removed after each sample).

What is measured
----------------
- ``to_nwb(link=False)``: a **self-contained** NWB file (samples copied, chunked, shuffled and
  gzip-compressed by a pool of threads, written a chunk at a time; units, stimulations, data
  streams), against
  ``shutil.copy`` of the CL file (the least a self-contained copy costs): wall time, peak
  memory, and the size of what was written;
- ``to_nwb(link=True)``: a **linked** NWB file (the samples stay in the CL file, an HDF5
  virtual dataset), against the same copy: wall time and the file's size.

There are no targets but one: the self-contained export's peak memory stays below
``--memory-target`` MB (default 512) however long the recording (the samples are written
in chunks, never held whole).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import _report
import numpy as np
from _report import Figure, add_output_options, make_parser, print_report, run_in_workdir, say, write_json
from bench_overview import CHANNELS, FPS
from bench_overview import write_recording as overview_recording

import cldata

STIM_PERIOD = FPS // 4


def write_recording(path: Path, frames: int, seed: int) -> None:
    """bench_overview's recording (noise plus spikes, 1-second chunks) with stims and a data stream."""
    streams: dict[str, Any] = {}

    def stims_and_score(w: Any, a: int, b: int) -> None:
        stims = np.arange(a + (-a) % STIM_PERIOD, b, STIM_PERIOD)
        if len(stims):
            w.append_stims(stims, np.full(len(stims), 9, dtype=np.uint8))
        if "score" not in streams:
            streams["score"] = w.create_data_stream("score")
        streams["score"].append(a, int(a // FPS))

    overview_recording(path, frames, seed, name="nwb", more=stims_and_score)


def _rss_mb() -> float:
    """The process's resident set now (Linux: /proc/self/statm), else its peak so far."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux, bytes on macOS
        return kb / 1024 if sys.platform != "darwin" else kb / 2**20


class _PeakWatch:
    """The highest resident set seen while it runs (sampled every 5 ms by a thread)."""

    def __enter__(self) -> _PeakWatch:
        self.peak = self.start = _rss_mb()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._done.wait(0.005):
            self.peak = max(self.peak, _rss_mb())

    def __exit__(self, *exc: Any) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mb())


def one_sample(args: argparse.Namespace) -> None:
    """Internal (a sample in its own process): do ``args.method`` once; print a JSON line."""
    # why: pynwb and hdmf are imported before the clock starts (and before the resident set is noted)
    import pynwb  # noqa: F401

    from cldata.store.nwb_export import to_nwb

    with _PeakWatch() as watch:
        t0 = time.perf_counter()
        if args.method == "copy":
            shutil.copy(args.path, args.out)
        else:
            to_nwb(args.path, args.out, link=args.method == "linked", overwrite=True)
        seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "peak_mb": max(0.0, watch.peak - watch.start),
                      "bytes": os.path.getsize(args.out)}))


def _sample(method: str, rec: Path, out: Path) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--role", "sample", "--method", method, "--path", str(rec), "--out", str(out)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    out.unlink(missing_ok=True)
    return result


def run(args: argparse.Namespace, workdir: Path) -> tuple[list[Figure], dict[str, Any]]:
    rec = workdir / "bench-nwb.h5"
    frames = int(args.minutes * 60 * FPS)
    if not (args.reuse and rec.exists()):
        say(f"writing a {args.minutes:g}-minute recording ({frames * CHANNELS * 2 / 1e9:.2f} GB of samples) ...")
        rec.unlink(missing_ok=True)
        write_recording(rec, frames, args.seed)
    samples: dict[str, list[dict[str, float]]] = {"full": [], "copy": [], "linked": []}
    for turn in range(args.repeats):
        say(f"turn {turn + 1}/{args.repeats}: to_nwb(link=False), shutil.copy, to_nwb(link=True)")
        samples["full"].append(_sample("full", rec, workdir / "out.nwb"))
        samples["copy"].append(_sample("copy", rec, workdir / "copy.h5"))
        samples["linked"].append(_sample("linked", rec, workdir / "linked.nwb"))
    if not args.keep:
        rec.unlink(missing_ok=True)

    def col(method: str, key: str, scale: float = 1.0) -> list[float]:
        return [s[key] / scale for s in samples[method]]

    figures = [
        Figure.from_samples("full_s", "to_nwb(link=False): time", "s", col("full", "seconds"),
                            col("copy", "seconds"), "shutil.copy"),
        Figure.from_samples("full_mb", "to_nwb(link=False): peak memory", "MB", col("full", "peak_mb"),
                            col("copy", "peak_mb"), "shutil.copy", target=args.memory_target),
        Figure.from_samples("full_size", "to_nwb(link=False): file size", "MB", col("full", "bytes", 1e6),
                            col("copy", "bytes", 1e6), "the CL file"),
        Figure.from_samples("linked_s", "to_nwb(link=True): time", "s", col("linked", "seconds"),
                            col("copy", "seconds"), "shutil.copy"),
        Figure.from_samples("linked_size", "to_nwb(link=True): file size", "MB", col("linked", "bytes", 1e6),
                            col("copy", "bytes", 1e6), "the CL file"),
    ]
    info = {"frames": frames, "samples": samples, "cl_bytes": samples["copy"][0]["bytes"]}
    return figures, info


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = make_parser(__doc__, "a 1-minute recording (well under a minute in all)")
    p.add_argument("--minutes", type=float, help="length of the recording (default 10; 1 with --quick)")
    p.add_argument("--repeats", type=int, help="samples of each (default 5; 3 with --quick)")
    p.add_argument("--memory-target", type=float, default=512.0, help="peak memory target, MB (default 512)")
    add_output_options(p, "write the files here (default: a temporary directory)")
    p.add_argument("--keep", action="store_true", help="keep the recording (with --dir)")
    p.add_argument("--reuse", action="store_true", help="reuse a recording left in --dir by --keep")
    p.add_argument("--seed", type=int, default=0)
    # internal: the script runs itself for each sample
    p.add_argument("--role", choices=("driver", "sample"), default="driver", help=argparse.SUPPRESS)
    p.add_argument("--method", choices=("full", "linked", "copy"), help=argparse.SUPPRESS)
    p.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.role != "driver":
        return args
    if args.minutes is None:
        args.minutes = 1.0 if args.quick else 10.0
    if args.repeats is None:
        args.repeats = 3 if args.quick else 5
    if args.minutes * 60 < 1:
        p.error("need at least 1 s of samples")
    if (args.keep or args.reuse) and args.dir is None:
        p.error("--keep and --reuse need --dir")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.role == "sample":
        return one_sample(args)
    (figures, info), elapsed = run_in_workdir(run, args, "bench_nwb_")
    title = (f"cldata {cldata.__version__} NWB export benchmark ({args.minutes:g} min x {CHANNELS} ch at {FPS} Hz, "
             f"{info['cl_bytes'] / 1e9:.2f} GB CL file; {args.repeats} turns, each sample in its own process; "
             "ratio = times better than the baseline)")
    notes = [
        "peak memory: the highest resident set during the sample (sampled every 5 ms) minus the one at its start",
        "the self-contained file's samples are shuffled and gzip-compressed, chunks compressed in a thread per "
        "processor (the synthetic noise compresses a little; real "
        "recordings differ)",
    ]
    print_report(title, figures, elapsed, notes)
    if args.json is not None:
        write_json(args.json, args, elapsed, figures, info)
    _report.say("done")


if __name__ == "__main__":
    main()
