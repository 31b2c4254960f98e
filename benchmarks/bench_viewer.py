"""Benchmark of the viewer's pan and zoom: server-side time per request over a 1-hour recording.

What is measured
----------------
A pan or zoom in ``cldata view`` sends the new x range to the server; the server runs the
``RangeX`` callbacks of the plots on the time axis and sends back the new data. This script
measures that server-side work for the traces and the raster of the recording view
(:mod:`cldata.viz.plots`), without a browser: the plots are rendered into a Bokeh document
with HoloViews' Bokeh renderer, as the server does, and each request is

1. ``event(x_range=(a, b))`` on both plots' ``RangeX`` streams: the callbacks ask the
   overview pyramid (raw samples once zoomed in) and the spike table for the window, build
   the HoloViews elements, and HoloViews updates the Bokeh data sources;
2. the encoding of every data source's data with Bokeh's serializer (what the websocket
   message carries).

at 5 zoom levels (the whole hour, 10 minutes, 1 minute, 5 seconds, 100 ms), at random
positions in the hour (the same positions for every method), for the default 16 channels and
for all 64. Target: at most 100 ms per request, whatever the zoom.

The baseline: what a viewer without an overview does, done well
-------------------------------------------------------------------
For each request, the same data computed from the recording file: the min/max of each bin of
the window's raw samples at the same number of points (read with PyTables in 32 MiB blocks,
transposed and downsampled with tsdownsample's ``MinMaxDownsampler``, Rust/SIMD — what
hvplot's ``downsample=True`` uses), and the window's spikes read from the spike table with
``Table.read_where``. It builds no HoloViews element and no Bokeh update (they would only add
to it). Its requests are **interleaved** with cldata's (cldata, baseline, cldata, ...); over
long windows one baseline request reads gigabytes, so at each zoom the baseline runs until
``--baseline-budget`` seconds are spent (at least once) and the table says how many runs its
figure is from. Skipped, with a message, when tsdownsample is not installed.

First use (a fresh Python process per sample): opening the recording and its overview and
answering the first request over the whole hour (imports timed apart).

Run it from the repository root::

    python benchmarks/bench_viewer.py --dir /scratch/bench     # 1 hour (~11.5 GB written once, kept)
    python benchmarks/bench_viewer.py --quick                   # 10 minutes (~1.9 GB), a few minutes

The recording is written like benchmarks/bench_overview.py's (64 channels of int16 noise at
25 kHz with spikes at 2 Hz per channel), and its overview is built once; with ``--dir`` both
are kept and reused.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import _report
import numpy as np
from _report import add_output_options, make_parser, print_report, run_in_workdir, say, write_json
from bench_overview import FPS, MinMaxDownsampler, SampleEnvelopes, check_disk, machine_state, write_recording

import cldata
from cldata.overview import build_overview

ZOOMS = [("whole hour", 3600.0), ("10 minutes", 600.0), ("1 minute", 60.0), ("5 seconds", 5.0), ("100 ms", 0.1)]
WIDTH = 1500  # points per trace asked for (the plot's width in pixels)
TARGET = 0.100  # seconds per request


def make_view(rec: Path, ov: Path, channels: list[int]) -> Any:
    """The traces and raster of the recording view, rendered into a Bokeh document; a request function."""
    import holoviews as hv
    from bokeh.core.serialization import Serializer
    from bokeh.document import Document

    from cldata.viz.plots import overview_dmap, raster_dmap
    from cldata.viz.source import RecordingSource

    source = RecordingSource(rec, overview_path=ov)
    traces = overview_dmap(source, channels, width=WIDTH)
    raster = raster_dmap(source, channels, width=WIDTH)
    plot = hv.renderer("bokeh").get_plot(hv.Layout([traces, raster]).cols(1), doc=Document())
    sources = [p.handles["source"] for p in plot.traverse(lambda p: p) if "source" in getattr(p, "handles", {})]

    def request(a: float, b: float) -> None:
        for dmap in (traces, raster):
            dmap.streams[0].event(x_range=(a, b))
        for cds in sources:
            Serializer().encode(cds.data)

    return request


def make_baseline(rec: Path, channels: list[int]) -> Any:
    """The same windows' data from the file: tsdownsample min/max of the raw samples, the spike rows."""
    envelopes = SampleEnvelopes(rec, "tsdownsample")
    spikes = envelopes.h5.root.spikes

    def request(a: float, b: float) -> None:
        fa, fb = int(a * FPS), max(int(b * FPS), int(a * FPS) + 1)
        per = max(1, -(-(fb - fa) // WIDTH))
        lo, hi = envelopes.envelope(fa, fb, per)
        lo[:, channels], hi[:, channels]  # (it reads every channel: they are interleaved on disk)
        spikes.read_where("(timestamp >= fa) & (timestamp < fb)", condvars={"fa": fa, "fb": fb},
                          field="timestamp")

    return request


def windows(duration: float, width: float, n: int, rng: np.random.Generator) -> list[tuple[float, float]]:
    if width >= duration:
        return [(0.0, duration)] * n
    starts = rng.uniform(0, duration - width, n)
    return [(float(s), float(s) + width) for s in starts]


def first_use(rec: Path, ov: Path, channels: int, samples: int) -> tuple[list[float], list[float]]:
    """Fresh processes: (import seconds, open + first whole-hour request seconds) per sample."""
    code = f"""
import time, sys
t0 = time.perf_counter()
import holoviews, bokeh, cldata
sys.path.insert(0, {str(Path(__file__).parent)!r})
from bench_viewer import make_view
from cldata.viz import plots, source
t1 = time.perf_counter()
request = make_view({str(rec)!r}, {str(ov)!r}, list(range({channels})))
request(0.0, cldata.RecordingView({str(rec)!r}).duration_seconds)
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""
    imports, uses = [], []
    for _ in range(samples):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             cwd=Path(__file__).parent)
        a, b = map(float, out.stdout.split()[-2:])
        imports.append(a)
        uses.append(b)
    return imports, uses


def run(args: Any, workdir: Path) -> tuple[list[_report.Figure], list[str]]:
    minutes = 10.0 if args.quick else args.minutes
    rec = workdir / f"viewer-{minutes:g}min.h5"
    ov = workdir / f"viewer-{minutes:g}min.overview.h5"
    if not rec.exists():
        check_disk(workdir, minutes)
        say(f"writing {rec} ({minutes:g} min, 64 channels)")
        write_recording(rec, int(minutes * 60 * FPS), seed=1)
    if not ov.exists():
        say("building its overview")
        build_overview(cldata.RecordingView(rec), ov)
    duration = cldata.RecordingView(rec).duration_seconds
    rng = np.random.default_rng(7)
    figures: list[_report.Figure] = []
    notes = [f"recording: {duration / 60:g} min, 64 channels at {FPS} Hz; {args.requests} requests per zoom "
             f"(random positions, the same for every method); width {WIDTH} points"]
    baseline = make_baseline(rec, list(range(16))) if MinMaxDownsampler is not None else None
    if baseline is None:
        notes.append("tsdownsample is not installed: the baseline is skipped (pip install tsdownsample)")
    for n_channels in (16, 64):
        request = make_view(rec, ov, list(range(n_channels)))
        request(0.0, duration)  # (the plots' first draw: its time is the first-use figure's)
        for name, width in ZOOMS:
            if width > duration:
                name, width = f"whole recording ({duration / 60:g} min)", duration
            ours, theirs, spent = [], [], 0.0
            for a, b in windows(duration, width, args.requests, rng):
                t = time.perf_counter()
                request(a, b)
                ours.append(time.perf_counter() - t)
                if baseline is not None and n_channels == 16 and (spent < args.baseline_budget or not theirs):
                    t = time.perf_counter()
                    baseline(a, b)
                    theirs.append(time.perf_counter() - t)
                    spent += theirs[-1]
            base_name = f"tsdownsample + read_where, {len(theirs)} run{'s' if len(theirs) != 1 else ''}"
            figures.append(_report.Figure.from_samples(
                f"pan_zoom_{n_channels}ch_{width:g}s", f"pan/zoom, {n_channels} ch, {name}", "s", ours,
                theirs or None, base_name if theirs else "", TARGET))
            say(f"  {n_channels} ch, {name}: median {np.median(ours) * 1e3:.1f} ms")
    imports, uses = first_use(rec, ov, 16, args.fresh)
    figures.append(_report.Figure.from_samples("first_use", "first use: open + first request (fresh process)",
                                               "s", uses))
    notes.append(f"first use: imports (holoviews, bokeh, cldata) took {np.median(imports):.2f} s "
                 f"({min(imports):.2f}–{max(imports):.2f}) before the clock started; {args.fresh} fresh processes")
    notes.append(f"machine: {machine_state()}")
    return figures, notes


def main(argv: list[str] | None = None) -> None:
    p = make_parser(__doc__, "a 10-minute recording instead of an hour (~1.9 GB)")
    p.add_argument("--minutes", type=float, default=60.0, help="length of the recording (default 60)")
    p.add_argument("--requests", type=int, default=20, help="requests per zoom level (default 20)")
    p.add_argument("--baseline-budget", type=float, default=60.0,
                   help="seconds the baseline may spend per zoom level (at least one run; default 60)")
    p.add_argument("--fresh", type=int, default=5, help="fresh processes for the first-use figure (default 5)")
    add_output_options(p, "write the recording and its overview here and keep them (default: a temporary directory)")
    args = p.parse_args(argv)
    (figures, notes), elapsed = run_in_workdir(run, args, "cldata-bench-viewer-")
    title = f"cldata {cldata.__version__}: the viewer's server-side pan/zoom ({machine_state()})"
    print_report(title, figures, elapsed, notes)
    if args.json:
        write_json(args.json, args, figures, elapsed)


if __name__ == "__main__":
    main()
