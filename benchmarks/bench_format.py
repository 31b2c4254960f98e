"""Benchmark of the CL recording format layer (``cldata.format``): data streams and samples.

Run it from the repository root::

    python benchmarks/bench_format.py               # full run: 1M entries, 10-min samples (~2 GB), a few minutes
    python benchmarks/bench_format.py --quick       # 200k entries, 1-min samples, fewer samples: a minute or two
    python benchmarks/bench_format.py --only first  # only the first-answer and iteration-memory figures
    python benchmarks/bench_format.py --json figures.json --dir /scratch/bench

It builds a CL recording with :class:`cldata.RecordingWriter` (in a temporary directory,
or in ``--dir``, where it is kept): one data stream ``ball`` of small dict entries
``{"x": float, "y": float, "hit": bool}`` (1,000,000 of them; 200,000 with ``--quick``)
interleaved with 64-channel int16 samples (10 minutes = 15,000,000 frames ≈ 1.9 GB; 1
minute with ``--quick``; ``--minutes`` sets it, and it shrinks on its own when the disk
is short: while writing, the journal holds a second copy of everything not yet closed),
and three recordings holding only a ``ball`` stream of 10,000 / 100,000 / 1,000,000
entries (``--sizes``). Every figure is a median with its min–max range, cldata and its
baseline measured in turns in the same run (``_report.interleaved_times``), next to the
targets of the performance issues:

Writing
    - ``extend()`` in batches of 10,000 entries, plus the final ``close()``: entries/s
      (target >= 1.5 M/s). Baseline: a reused ``msgpack.Packer`` packing the same values
      (an upper bound: encoding alone, no file). It is also compared with the CL writer.
    - ``append()`` one entry at a time, plus ``close()``: entries/s (target >= 300 k/s).
      Baseline: the CL writer's way, PyTables row by row (``index.row`` filled and
      appended, and an EArray append of each entry's msgpack bytes), on a sample.

First answers (issue 13), each sample a fresh Python process
    The first ``list(stream.items_for_range(a, b))`` of 100 entries at a random place, and
    (in other processes) the first ``stream[ts]``, on a freshly opened
    ``cldata.RecordingView`` (the open not counted; open + first query for information),
    for each stream length. Baseline, interleaved with it: the CL reader's access pattern
    done well, in the same kind of process: PyTables, a binary search over index rows read
    one at a time (``index.read(i, i + 1)``, the fastest single-row read PyTables offers),
    one slice ``index.read(i, j)`` of the range's rows, then ``data[start:end]`` and
    ``msgpack.unpackb`` per row. Both kinds of process import cldata and collect garbage
    before timing: importing cldata (neo, quantities, PyTables) leaves a full cyclic
    garbage collection pending (about 10 ms, more under load) that would otherwise fall on
    whichever allocation comes first — the query or the open. The page cache is warm:
    "first" means first in the process, not cold disk. The official CL reader itself (the
    ``cl`` package) is not a dependency of cldata and is not installed here; its first
    query takes 2.3 ms on this machine class, and that figure is printed as quoted (the
    target). cldata answers these first lookups by bisecting the index on disk, which it
    does on files its writer marked in time order (``cldata.format.index_order``); a file
    without the mark (the CL tools' own) loads the whole index first: ``--unmarked``
    measures that case too.
Reading, warm (baseline: the same PyTables reader, in the same process, in turns)
    - ``list(stream.items_for_range(a, b))`` returning 100 entries at random places: median
      latency (target <= 100 µs).
    - ``stream[ts]`` at random existing timestamps: median latency (target <= 20 µs).
    - ``for ts, v in stream.items()`` over the whole stream: entries/s (target >= 1 M/s);
      the baseline iterates a sample of the rows.
    - ``rec.read_samples(a, a + 25000)``, 1 s of 64 channels at random offsets: median
      latency (target <= 5 ms). Baseline: ``samples[a:a + 25000]`` in PyTables.
Iteration memory, each sample a fresh process
    The growth of the peak resident memory (Linux ``VmHWM``, reset after opening) while
    iterating every ``(ts, value)`` of the 1,000,000-entry stream (the largest of
    ``--sizes``), against the CL reader's way (PyTables ``iterrows``, each row's bytes
    decoded). The target is the baseline's median. Both include PyTables' own buffers and
    HDF5's chunk caches.

The ratio column says how many times better cldata is than the baseline (above 1: faster,
or less memory). cldata and each baseline draw their own random ranges and offsets:
reusing the same ones would favour whichever runs second (its pages are then hot). This is
a script, not a test: it asserts nothing about timings, only that what it reads back is
what it wrote. Python's cyclic garbage collector is frozen after the test data is built
(``gc.freeze``), so that the million dicts the script itself holds are not rescanned during
the timings. Packages it needs beyond cldata's: none (``msgpack_numpy`` comes with cldata).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgpack
import msgpack_numpy
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
from cldata.format.layout import IndexRow

FPS = 25_000  # frames per second of a CL recording
CHANNELS = 64
STREAM = "ball"
RANGE_ENTRIES = 100  # entries per range query
OFFICIAL_FIRST_QUERY = 2.3e-3  # the official CL reader's first range query on this machine class (issue 13)


# -- test data -----------------------------------------------------------------------------


def make_entries(n: int, frames: int, seed: int) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """``n`` strictly increasing timestamps spread over ``frames`` and ball-position dicts."""
    rng = np.random.default_rng(seed)
    step = max(1, frames // n)
    timestamps = 5 + step * np.arange(n, dtype=np.int64)
    x = rng.uniform(0, 640, n).tolist()
    y = rng.uniform(0, 480, n).tolist()
    hit = (rng.random(n) < 0.05).tolist()
    values = [{"x": a, "y": b, "hit": h} for a, b, h in zip(x, y, hit)]
    return timestamps, values


def batches(timestamps: np.ndarray, values: list[Any], size: int) -> list[tuple[np.ndarray, list[Any]]]:
    return [(timestamps[i : i + size], values[i : i + size]) for i in range(0, len(values), size)]


# -- writing -------------------------------------------------------------------------------


def fresh(path: Path) -> Path:
    path.unlink(missing_ok=True)
    return path


def time_extend(path: Path, parts: list[tuple[np.ndarray, list[Any]]]) -> float:
    """extend() of every batch plus close(); the writer's creation is not timed."""
    w = cldata.RecordingWriter(fresh(path), durable=True)
    stream = w.create_data_stream(STREAM)
    t0 = time.perf_counter()
    for ts, vs in parts:
        stream.extend(ts, vs)
    w.close()
    return time.perf_counter() - t0


def time_append(path: Path, timestamps: list[int], values: list[Any]) -> float:
    """append() of each entry plus close()."""
    w = cldata.RecordingWriter(fresh(path), durable=True)
    append = w.create_data_stream(STREAM).append
    t0 = time.perf_counter()
    for ts, v in zip(timestamps, values):
        append(ts, v)
    w.close()
    return time.perf_counter() - t0


def time_packer(values: list[Any]) -> float:
    """A reused msgpack Packer encoding every value, as the CL writer encodes them."""
    pack = msgpack.Packer(default=msgpack_numpy.encode, use_bin_type=True).pack
    t0 = time.perf_counter()
    for v in values:
        pack(v)
    return time.perf_counter() - t0


def time_pytables_writer(path: Path, timestamps: list[int], values: list[Any]) -> float:
    """The CL writer's way: encode, append the bytes to the EArray, fill and append an index row."""
    h5 = tables.open_file(str(fresh(path)), mode="w")
    group = h5.create_group("/data_stream", STREAM, createparents=True)
    index = h5.create_table(group, "index", IndexRow)
    data = h5.create_earray(group, "data", tables.UInt8Atom(), shape=(0,), chunkshape=(32768,))
    pack = msgpack.Packer(default=msgpack_numpy.encode, use_bin_type=True).pack
    row = index.row
    end = 0
    t0 = time.perf_counter()
    for ts, v in zip(timestamps, values):
        packed = pack(v)
        data.append(np.frombuffer(packed, dtype=np.uint8))
        row["timestamp"] = ts
        row["start_index"] = end
        end += len(packed)
        row["end_index"] = end
        row.append()
    index.flush()
    h5.close()
    return time.perf_counter() - t0


def build_recording(path: Path, timestamps: np.ndarray, values: list[Any], frames: int, seed: int) -> float:
    """The recording the read figures use: 1 s of samples, then that second's entries, and so on."""
    block = np.random.default_rng(seed).integers(-300, 300, size=(FPS, CHANNELS), dtype=np.int16)
    t0 = time.perf_counter()
    with cldata.RecordingWriter(fresh(path), durable=True) as w:
        stream = w.create_data_stream(STREAM, {"units": "px"})
        i = 0
        for start in range(0, frames, FPS):
            stop = min(start + FPS, frames)
            w.append_samples(block[: stop - start])
            j = int(np.searchsorted(timestamps, stop)) if stop < frames else len(values)
            if j > i:
                stream.extend(timestamps[i:j], values[i:j])
                i = j
    return time.perf_counter() - t0


# -- reading: the CL reader's way ----------------------------------------------------------


class PlainPyTablesReader:
    """Reads a data stream as the CL reader does, done well: PyTables, a binary search over index
    rows read one at a time, one slice of the rows of a range, each row's bytes decoded.

    ``msgpack_numpy.decode`` would unpickle object arrays from the file; cldata refuses
    that, but the entries here are our own and this is the baseline's actual cost.
    """

    def __init__(self, path: Path):
        self.h5 = tables.open_file(str(path), mode="r")
        group = self.h5.get_node(f"/data_stream/{STREAM}")
        self.index = group._f_get_child("index")
        self.data = group._f_get_child("data")
        self.samples = self.h5.root.samples if "samples" in self.h5.root else None

    def close(self) -> None:
        self.h5.close()

    def _first_row_at_or_after(self, ts: int) -> int:
        lo, hi = 0, self.index.nrows
        while lo < hi:
            mid = (lo + hi) // 2
            # (index.read(i, i + 1) is PyTables' fastest single-row read: index[i] costs 2.5x, a
            # column read cols.timestamp[i] 100x)
            if self.index.read(mid, mid + 1)["timestamp"][0] < ts:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def _decode(self, row: Any) -> Any:
        raw = self.data[int(row["start_index"]) : int(row["end_index"])]
        return msgpack.unpackb(raw.tobytes(), object_hook=msgpack_numpy.decode, raw=False)

    def items_for_range(self, start: int, stop: int) -> list[tuple[int, Any]]:
        i, j = self._first_row_at_or_after(start), self._first_row_at_or_after(stop)
        # one slice of the index rows, as the CL reader reads a range (iterrows would cost ~10x more)
        return [(int(row["timestamp"]), self._decode(row)) for row in self.index.read(i, j)]

    def __getitem__(self, ts: int) -> Any:
        i = self._first_row_at_or_after(ts)
        if i >= self.index.nrows:
            raise KeyError(ts)
        row = self.index.read(i, i + 1)[0]
        if row["timestamp"] != ts:
            raise KeyError(ts)
        return self._decode(row)

    def items(self, stop: int | None = None) -> Iterator[tuple[int, Any]]:
        for row in self.index.iterrows(0, stop):
            yield int(row["timestamp"]), self._decode(row)


# -- fresh processes -----------------------------------------------------------------------


def _peak_reset() -> Any:
    """A function giving the growth of the peak RSS (MB) since this call (Linux ``VmHWM``)."""

    def status(field: str) -> float:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1]) / 1024
        raise OSError(field)

    with open("/proc/self/clear_refs", "w") as f:  # (5: reset the peak to the current RSS)
        f.write("5")
    base = status("VmRSS")
    return lambda: status("VmHWM") - base


def worker(kind: str, path: str, args: list[int]) -> None:
    """Run in a fresh process: one first query (or one iteration) and print its figures as JSON.

    Both kinds import cldata and collect garbage before timing (see the module docstring).
    """
    import json

    gc.collect()
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    if kind.endswith("cldata"):
        rec: Any = cldata.RecordingView(path)
        stream: Any = rec.data_streams[STREAM]
    else:
        rec = stream = PlainPyTablesReader(Path(path))
    t1 = time.perf_counter()
    if kind.startswith("range"):
        got = list(stream.items_for_range(args[0], args[1]))
        assert len(got) == RANGE_ENTRIES, len(got)
    elif kind.startswith("get"):
        assert isinstance(stream[args[0]], dict)
    elif kind.startswith("iter"):
        peak = _peak_reset()
        t1 = time.perf_counter()
        count = 0
        for _ts, _v in stream.items():
            count += 1
        assert count == args[0], count
        out["peak_mb"] = peak()
    t2 = time.perf_counter()
    out.update(first=t2 - t1, open_first=t2 - t0)
    rec.close()
    print(json.dumps(out))


def in_fresh_process(kind: str, path: Path, *args: int) -> dict[str, float]:
    import json

    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, str(path), *map(str, args)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} worker failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def interleaved_processes(kinds: list[tuple[str, Path, Callable[[], tuple[int, ...]]]],
                          samples: int) -> list[list[dict[str, float]]]:
    """``samples`` fresh processes of each kind, in turns (``a b a b ...``); each kind's arguments
    are drawn anew for every process."""
    out: list[list[dict[str, float]]] = [[] for _ in kinds]
    for _ in range(samples):
        for (kind, path, draw), got in zip(kinds, out):
            got.append(in_fresh_process(kind, path, *draw()))
    return out


def build_stream_only(path: Path, n: int, seed: int) -> tuple[np.ndarray, Path]:
    """A recording holding only the ``ball`` stream of ``n`` entries (a millisecond apart or so)."""
    timestamps, values = make_entries(n, 15 * n, seed)
    with cldata.RecordingWriter(fresh(path), channel_count=CHANNELS, durable=False) as w:
        stream = w.create_data_stream(STREAM, {"units": "px"})
        for i in range(0, n, 10_000):
            stream.extend(timestamps[i : i + 10_000], values[i : i + 10_000])
    return timestamps, path


def unmarked_copy(path: Path) -> Path:
    """The same recording without cldata's time-order mark: what the CL tools write."""
    from cldata.format.index_order import TIME_ORDER_ATTR

    copy = path.with_name(path.stem + "-unmarked.h5")
    shutil.copyfile(path, copy)
    with tables.open_file(str(copy), "a") as f:
        del f.get_node(f"/data_stream/{STREAM}/index")._v_attrs[TIME_ORDER_ATTR]
    return copy


def first_answer_figures(args: argparse.Namespace, workdir: Path, rng: random.Random) -> list[Figure]:
    figures: list[Figure] = []
    official = importlib.util.find_spec("cl") is not None
    if official:
        say("note: a package 'cl' is importable; this script does not drive it (its API is not cldata's to "
            "use), so the official reader is still given as the quoted figure")
    largest: tuple[int, Path] | None = None
    for n in args.sizes:
        timestamps, path = build_stream_only(workdir / f"stream_{n}.h5", n, args.seed)
        ts = timestamps.tolist()
        largest = (n, path)

        def a_range(ts: list[int] = ts) -> tuple[int, int]:
            i = rng.randrange(len(ts) - RANGE_ENTRIES)
            return ts[i], ts[i + RANGE_ENTRIES]

        def a_timestamp(ts: list[int] = ts) -> tuple[int]:
            return (ts[rng.randrange(len(ts))],)

        files = [("", path)] + ([(" (file without the mark)", unmarked_copy(path))] if args.unmarked else [])
        for label, file in files:
            say(f"first answers, {n:,} entries{label}: {args.first_samples} fresh processes each")
            rng_c, rng_b = interleaved_processes(
                [("range-cldata", file, a_range), ("range-base", file, a_range)], args.first_samples)
            get_c, get_b = interleaved_processes(
                [("get-cldata", file, a_timestamp), ("get-base", file, a_timestamp)], args.first_samples)
            size = f"{n // 1000:,}k" if n < 1_000_000 else f"{n / 1e6:g}M"
            figures += [
                Figure.from_samples(f"first_range_{n}{'_unmarked' if label else ''}",
                                    f"first range query, {size} entries{label}", "s",
                                    [r["first"] for r in rng_c], [r["first"] for r in rng_b],
                                    "PyTables bisection", OFFICIAL_FIRST_QUERY),
                Figure.from_samples(f"first_get_{n}{'_unmarked' if label else ''}",
                                    f"first stream[ts], {size} entries{label}", "s",
                                    [r["first"] for r in get_c], [r["first"] for r in get_b],
                                    "PyTables bisection", OFFICIAL_FIRST_QUERY),
                Figure.from_samples(f"open_first_range_{n}{'_unmarked' if label else ''}",
                                    f"open + first range query, {size}{label}", "s",
                                    [r["open_first"] for r in rng_c], [r["open_first"] for r in rng_b],
                                    "PyTables bisection", None),
            ]
            if n == max(args.sizes) and not label:
                figures.append(Figure(f"first_range_{n}_official", f"first range query, {size} entries",
                                      "s", figures[-3].cldata, OFFICIAL_FIRST_QUERY,
                                      "official CL reader, quoted", OFFICIAL_FIRST_QUERY,
                                      figures[-3].cldata_range))
    if largest is not None:
        n, path = largest
        say(f"iteration memory, {n:,} entries: {args.memory_samples} fresh processes each")
        mem_c, mem_b = interleaved_processes(
            [("iter-cldata", path, lambda: (n,)), ("iter-base", path, lambda: (n,))], args.memory_samples)
        base = [r["peak_mb"] for r in mem_b]
        figures.append(Figure.from_samples("iterate_peak_memory", f"iterate all items(), {n:,}: peak RSS growth",
                                           "MB", [r["peak_mb"] for r in mem_c], base,
                                           "PyTables iterrows", statistics.median(base)))
    return figures


# -- the run -------------------------------------------------------------------------------


def check_disk(directory: Path, minutes: float, n_entries: int) -> float:
    """The minutes of samples that fit (the journal doubles the space needed while writing)."""
    per_minute = 60 * FPS * CHANNELS * 2
    stream_bytes = n_entries * 40
    free = shutil.disk_usage(directory).free
    need = 2 * (minutes * per_minute + stream_bytes) * 1.1
    if need <= free:
        return minutes
    fit = math.floor((0.8 * free / 2 - stream_bytes) / per_minute * 10) / 10
    if fit < 0.1:
        raise SystemExit(f"not enough disk space in {directory}: {free / 2**30:.1f} GiB free")
    say(
        f"warning: {minutes:g} min of samples needs ~{need / 2**30:.1f} GiB in {directory} but only "
        f"{free / 2**30:.1f} GiB is free; using {fit:g} min (set it with --minutes)"
    )
    return fit


def alternate(fns: list[Callable[[], float]], repeats: int) -> list[list[float]]:
    """Like ``interleaved_times``, for callables that time themselves (returning seconds)."""
    out: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, got in zip(fns, out):
            got.append(fn())
    return out


def latencies(fns: list[Callable[[], Any]], calls: int) -> list[list[float]]:
    """Per-call times of each callable, in turns, after one untimed call each."""
    return interleaved_times(fns, calls, warm=True)


def write_figures(args: argparse.Namespace, workdir: Path, timestamps: np.ndarray, values: list[Any]) -> list[Figure]:
    n, repeats = args.entries, args.repeats
    ts_list = timestamps.tolist()
    parts = batches(timestamps, values, args.batch)
    scratch = workdir / "bench_write.h5"
    say("writing: warm-up")
    time_extend(scratch, batches(timestamps[:2000], values[:2000], 1000))
    sample = min(n, args.baseline_entries)
    say(f"writing: extend(), msgpack.Packer, append(), PyTables rows ({sample:,} entries) x{repeats}, in turns")
    t_extend, t_packer, t_append, t_rows = alternate([
        lambda: time_extend(scratch, parts),
        lambda: time_packer(values),
        lambda: time_append(scratch, ts_list, values),
        lambda: time_pytables_writer(scratch, ts_list[:sample], values[:sample]),
    ], repeats)
    scratch.unlink(missing_ok=True)
    rate = lambda k, times: [k / t for t in times]  # noqa: E731
    return [
        Figure.from_samples("extend", f"extend() {args.batch:,}/call + close", "entries/s",
                            rate(n, t_extend), rate(n, t_packer), "msgpack.Packer", 1.5e6),
        Figure.from_samples("extend_vs_cl", "extend() vs the CL writer", "entries/s",
                            rate(n, t_extend), rate(sample, t_rows), "PyTables rows", None),
        Figure.from_samples("append", "append() per entry + close", "entries/s",
                            rate(n, t_append), rate(sample, t_rows), "PyTables rows", 300e3),
    ]  # fmt: skip


def read_figures(args: argparse.Namespace, workdir: Path, timestamps: np.ndarray, values: list[Any],
                 rng: random.Random) -> list[Figure]:
    n, repeats, minutes = args.entries, args.repeats, args.minutes
    frames = int(minutes * 60 * FPS)
    ts_list = timestamps.tolist()
    path = workdir / "bench_recording.h5"
    say(f"building the recording: {n:,} entries, {minutes:g} min of samples ({frames * CHANNELS * 2 / 1e9:.2f} GB)")
    t_build = build_recording(path, timestamps, values, frames, args.seed)
    size = path.stat().st_size
    say(f"  {size / 1e9:.2f} GB in {t_build:.1f} s ({size / 1e6 / t_build:.0f} MB/s, journal included)")

    def a_range() -> tuple[int, int]:
        i = rng.randrange(n - RANGE_ENTRIES)
        return ts_list[i], ts_list[i + RANGE_ENTRIES]

    def a_timestamp() -> int:
        return ts_list[rng.randrange(n)]

    def an_offset() -> int:
        return rng.randrange(frames - FPS + 1)

    rec = cldata.RecordingView(path)
    stream = rec.data_streams[STREAM]
    reader = PlainPyTablesReader(path)
    assert len(stream) == n and stream[ts_list[n // 2]] == values[n // 2]
    assert np.array_equal(stream.timestamps, timestamps)
    say("reading, warm: ranges, stream[ts] and samples, cldata and PyTables in turns")
    r_c, r_b = latencies([lambda: list(stream.items_for_range(*a_range())),
                          lambda: reader.items_for_range(*a_range())], args.lookups)
    g_c, g_b = latencies([lambda: stream[a_timestamp()], lambda: reader[a_timestamp()]], args.lookups)
    s_c, s_b = latencies([lambda: rec.read_samples((a := an_offset()), a + FPS),
                          lambda: reader.samples[(a := an_offset()) : a + FPS]], args.sample_reads)
    assert rec.read_samples(0, FPS).shape == (FPS, CHANNELS)
    iter_sample = min(n, args.baseline_entries)

    def iterate_all() -> None:
        count = sum(1 for _ in stream.items())
        assert count == n

    def iterate_sample() -> None:
        for _ts, _v in reader.items(iter_sample):
            pass

    say(f"reading: iterating everything (cldata) and {iter_sample:,} rows (PyTables) x{repeats}, in turns")
    i_c, i_b = interleaved_times([iterate_all, iterate_sample], repeats)
    rec.close()
    reader.close()
    if args.dir is None:
        path.unlink(missing_ok=True)
    return [
        Figure.from_samples("range_warm", f"items_for_range, {RANGE_ENTRIES} entries, warm", "s",
                            r_c, r_b, "PyTables bisection + slice", 100e-6),
        Figure.from_samples("getitem_warm", "stream[ts], warm", "s", g_c, g_b, "PyTables bisection", 20e-6),
        Figure.from_samples("iterate", "iterate all items()", "entries/s", [n / t for t in i_c],
                            [iter_sample / t for t in i_b], f"PyTables rows, {iter_sample // 1000}k", 1e6),
        Figure.from_samples("read_samples", "read_samples 1 s x 64 ch, warm", "s",
                            s_c, s_b, "PyTables slice", 5e-3),
    ]  # fmt: skip


def run(args: argparse.Namespace, workdir: Path) -> list[Figure]:
    rng = random.Random(args.seed)
    figures: list[Figure] = []
    if args.only in (None, "write", "read"):
        minutes = args.minutes = check_disk(workdir, args.minutes, args.entries)
        timestamps, values = make_entries(args.entries, int(minutes * 60 * FPS), args.seed)
        gc.collect()
        gc.freeze()  # keep the test data out of the garbage collector's scans
        if args.only in (None, "write"):
            figures += write_figures(args, workdir, timestamps, values)
        if args.only in (None, "read"):
            figures += read_figures(args, workdir, timestamps, values, rng)
        del values
        gc.unfreeze()
        gc.collect()
    if args.only in (None, "first"):
        figures += first_answer_figures(args, workdir, rng)
    return figures


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = make_parser(__doc__, "200k entries and 1 min of samples, fewer samples (a minute or two)")
    p.add_argument("--entries", type=int, help="data-stream entries (default 1,000,000; 200,000 with --quick)")
    p.add_argument("--minutes", type=float, help="minutes of 64-channel samples (default 10; 1 with --quick)")
    p.add_argument("--batch", type=int, default=10_000, help="entries per extend() call (default 10,000)")
    p.add_argument("--sizes", type=lambda v: [int(x) for x in v.split(",")], default=[10_000, 100_000, 1_000_000],
                   help="stream lengths of the first-answer figures (default 10000,100000,1000000)")
    p.add_argument("--only", choices=["write", "read", "first"], help="measure only these figures")
    p.add_argument("--unmarked", action="store_true",
                   help="also measure first answers on files without cldata's time-order mark (the CL tools' files)")
    add_output_options(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return args
    if args.entries is None:
        args.entries = 200_000 if args.quick else 1_000_000
    if args.minutes is None:
        args.minutes = 1.0 if args.quick else 10.0
    if args.entries <= RANGE_ENTRIES or args.minutes * 60 < 1 or min(args.sizes) <= RANGE_ENTRIES:
        p.error(f"need more than {RANGE_ENTRIES} entries and at least 1 s of samples")
    # sample sizes: the baselines are slow, so they run on fewer entries / queries
    args.baseline_entries = 20_000 if args.quick else 50_000
    args.lookups = 500 if args.quick else 2000
    args.first_samples = 5 if args.quick else 9
    args.memory_samples = 3 if args.quick else 5
    args.sample_reads = 30 if args.quick else 100
    args.repeats = 5 if args.quick else 3
    return args


def machine_state() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"machine: {os.cpu_count()} CPUs, load average {load} (at the end of the run)"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        kind, path, *rest = args.worker
        worker(kind, path, [int(x) for x in rest])
        return
    figures, elapsed = run_in_workdir(run, args, "bench_format_")
    mode = "quick" if args.quick else "full"
    title = (
        f"cldata {cldata.__version__} format benchmark ({mode}: {args.entries:,} entries, "
        f"{args.minutes:g} min of samples, first answers at {', '.join(f'{n:,}' for n in args.sizes)} entries; "
        "medians (min–max); ratio = times better than baseline)"
    )
    notes = [machine_state(),
             f"official CL reader: not installed here (never a dependency); its first query, {OFFICIAL_FIRST_QUERY * 1e3:g} ms "
             "on this machine class, is quoted as the first-answer target"]
    print_report(title, figures, elapsed, notes)
    if args.json is not None:
        write_json(args.json, args, elapsed, figures)


if __name__ == "__main__":
    main()
