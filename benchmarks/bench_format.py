"""Benchmark of the CL recording format layer (``cldata.format``): data streams and samples.

Run it from the repository root::

    python benchmarks/bench_format.py               # full run: 1M entries, 10-min samples (~2 GB), a few minutes
    python benchmarks/bench_format.py --quick       # 200k entries, 1-min samples, well under a minute
    python benchmarks/bench_format.py --json figures.json --dir /scratch/bench

It builds a CL recording with :class:`cldata.RecordingWriter` (in a temporary directory,
or in ``--dir``, where it is kept): one data stream ``ball`` of small dict entries
``{"x": float, "y": float, "hit": bool}`` (1,000,000 of them; 200,000 with ``--quick``)
interleaved with 64-channel int16 samples (10 minutes = 15,000,000 frames ≈ 1.9 GB; 1
minute with ``--quick``; ``--minutes`` sets it, and it shrinks on its own when the disk
is short: while writing, the journal holds a second copy of everything not yet closed).
Then it prints, each as the median of repeated runs, with a baseline measured in the
same run and the targets of the performance issue:

Writing
    - ``extend()`` in batches of 10,000 entries, plus the final ``close()``: entries/s
      (target >= 1.5 M/s). Baseline: a reused ``msgpack.Packer`` packing the same values
      (an upper bound: encoding alone, no file). It is also compared with the CL writer.
    - ``append()`` one entry at a time, plus ``close()``: entries/s (target >= 300 k/s).
      Baseline: the CL writer's way, PyTables row by row (``index.row`` filled and
      appended, and an EArray append of each entry's msgpack bytes), on a sample.

Reading (baseline: plain PyTables, as the CL reader does: a binary search over index rows
read one at a time, one slice ``index[i:j]`` of the rows of a range, then for each row ``data[start:end]`` and
``msgpack.unpackb(..., object_hook=msgpack_numpy.decode, raw=False)``)
    - ``list(stream.items_for_range(a, b))`` returning 100 entries at random places,
      warm (after a first query): median latency (target <= 100 µs).
    - ``stream[ts]`` at random existing timestamps, warm: median latency (target <= 20 µs).
    - the first range query on a freshly opened ``cldata.RecordingView`` (excluding the
      open; target <= 20 ms), and open + first query (for information). The operating
      system's page cache is warm: "first" means first in the process, not cold disk.
    - ``for ts, v in stream.items()`` over the whole stream: entries/s (target >= 1 M/s);
      the baseline iterates a sample of the rows.
    - ``rec.read_samples(a, a + 25000)``, 1 s of 64 channels at random offsets, warm:
      median latency (target <= 5 ms). Baseline: ``samples[a:a + 25000]`` in PyTables.

The ratio column says how many times faster cldata is than the baseline (above 1:
faster). cldata and each baseline draw their own random ranges and offsets: reusing the
same ones would favour whichever runs second (its pages are then hot). This is a script,
not a test: it asserts nothing about timings, only that what it reads back is what it
wrote. Python's cyclic garbage collector is frozen after the
test data is built (``gc.freeze``), so that the million dicts the script itself holds
are not rescanned during the timings.
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import shutil
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import msgpack_numpy
import numpy as np
import tables
from _report import (
    Figure,
    add_output_options,
    make_parser,
    median_latency,
    median_time,
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
    """Reads a data stream as the CL reader does: PyTables, row by row.

    ``msgpack_numpy.decode`` would unpickle object arrays from the file; cldata refuses
    that, but the entries here are our own and this is the baseline's actual cost.
    """

    def __init__(self, path: Path):
        self.h5 = tables.open_file(str(path), mode="r")
        group = self.h5.get_node(f"/data_stream/{STREAM}")
        self.index = group._f_get_child("index")
        self.data = group._f_get_child("data")
        self.samples = self.h5.root.samples

    def close(self) -> None:
        self.h5.close()

    def _first_row_at_or_after(self, ts: int) -> int:
        lo, hi = 0, self.index.nrows
        while lo < hi:
            mid = (lo + hi) // 2
            if self.index[mid]["timestamp"] < ts:
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
        return [(int(row["timestamp"]), self._decode(row)) for row in self.index[i:j]]

    def __getitem__(self, ts: int) -> Any:
        i = self._first_row_at_or_after(ts)
        if i >= self.index.nrows:
            raise KeyError(ts)
        row = self.index[i]
        if row["timestamp"] != ts:
            raise KeyError(ts)
        return self._decode(row)

    def items(self, stop: int) -> Iterator[tuple[int, Any]]:
        for row in self.index.iterrows(0, stop):
            yield int(row["timestamp"]), self._decode(row)


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


def run(args: argparse.Namespace, workdir: Path) -> list[Figure]:
    n = args.entries
    minutes = args.minutes = check_disk(workdir, args.minutes, n)
    frames = int(minutes * 60 * FPS)
    rng = random.Random(args.seed)
    repeats = args.repeats
    say(
        f"{n:,} entries, {minutes:g} min of samples ({frames:,} frames x {CHANNELS} ch = "
        f"{frames * CHANNELS * 2 / 1e9:.2f} GB) in {workdir}"
    )
    timestamps, values = make_entries(n, frames, args.seed)
    ts_list = timestamps.tolist()
    parts = batches(timestamps, values, args.batch)
    gc.collect()
    gc.freeze()  # keep the test data out of the garbage collector's scans
    scratch = workdir / "bench_write.h5"
    figures: list[Figure] = []

    # -- writing ----------------------------------------------------------------------
    say("writing: warm-up")
    time_extend(scratch, batches(timestamps[:2000], values[:2000], 1000))
    say(f"writing: extend() x{repeats}")
    t_extend = median_time(lambda: time_extend(scratch, parts), repeats)
    say(f"writing: append() x{repeats}")
    t_append = median_time(lambda: time_append(scratch, ts_list, values), repeats)
    t_packer = median_time(lambda: time_packer(values), repeats)
    sample = min(n, args.baseline_entries)
    say(f"writing: PyTables row by row ({sample:,} entries) x{repeats}")
    t_rows = median_time(lambda: time_pytables_writer(scratch, ts_list[:sample], values[:sample]), repeats)
    scratch.unlink(missing_ok=True)
    extend_rate, append_rate, rows_rate = n / t_extend, n / t_append, sample / t_rows
    figures += [
        Figure("extend", f"extend() {args.batch:,}/call + close", "entries/s",
               extend_rate, n / t_packer, "msgpack.Packer", 1.5e6),
        Figure("extend_vs_cl", "extend() vs the CL writer", "entries/s",
               extend_rate, rows_rate, "PyTables rows", None),
        Figure("append", "append() per entry + close", "entries/s",
               append_rate, rows_rate, "PyTables rows", 300e3),
    ]  # fmt: skip

    # -- the recording to read ----------------------------------------------------------
    path = workdir / "bench_recording.h5"
    say("building the recording (stream + samples)")
    t_build = build_recording(path, timestamps, values, frames, args.seed)
    size = path.stat().st_size
    say(f"  {size / 1e9:.2f} GB in {t_build:.1f} s ({size / 1e6 / t_build:.0f} MB/s, journal included)")

    # -- reading: cldata --------------------------------------------------------------------
    def random_ranges(k: int) -> list[tuple[int, int]]:
        starts = [rng.randrange(n - RANGE_ENTRIES) for _ in range(k)]
        return [(ts_list[i], ts_list[i + RANGE_ENTRIES]) for i in starts]

    def random_timestamps(k: int) -> list[int]:
        return [ts_list[rng.randrange(n)] for _ in range(k)]

    def random_offsets(k: int) -> list[int]:
        return [rng.randrange(frames - FPS + 1) for _ in range(k)]

    say("reading: cldata")
    first, open_first = [], []
    for a, b in random_ranges(args.opens):
        t0 = time.perf_counter()
        rec = cldata.RecordingView(path)
        t1 = time.perf_counter()
        got = list(rec.data_streams[STREAM].items_for_range(a, b))
        t2 = time.perf_counter()
        rec.close()
        assert len(got) == RANGE_ENTRIES
        first.append(t2 - t1)
        open_first.append(t2 - t0)

    rec = cldata.RecordingView(path)
    stream = rec.data_streams[STREAM]
    assert len(stream) == n and stream[ts_list[n // 2]] == values[n // 2]
    assert np.array_equal(stream.timestamps, timestamps)
    t_range = median_latency(lambda r: list(stream.items_for_range(*r)), random_ranges(args.lookups))
    t_get = median_latency(lambda ts: stream[ts], random_timestamps(args.lookups * 5))

    def iterate_all() -> None:
        count = 0
        for _ts, _v in stream.items():
            count += 1
        assert count == n

    t_iter = median_time(iterate_all, repeats)
    t_samples = median_latency(lambda a: rec.read_samples(a, a + FPS), random_offsets(args.sample_reads))
    assert rec.read_samples(0, FPS).shape == (FPS, CHANNELS)
    rec.close()

    # -- reading: the CL reader's way (PyTables row by row) --------------------------------
    say("reading: PyTables row by row")
    base_first, base_open_first = [], []
    for a, b in random_ranges(args.opens):
        t0 = time.perf_counter()
        reader = PlainPyTablesReader(path)
        t1 = time.perf_counter()
        got = reader.items_for_range(a, b)
        t2 = time.perf_counter()
        reader.close()
        assert len(got) == RANGE_ENTRIES
        base_first.append(t2 - t1)
        base_open_first.append(t2 - t0)
    reader = PlainPyTablesReader(path)
    b_range = median_latency(lambda r: reader.items_for_range(*r), random_ranges(max(10, args.lookups // 10)))
    b_get = median_latency(lambda ts: reader[ts], random_timestamps(max(10, args.lookups // 2)))
    iter_sample = min(n, args.baseline_entries)

    def iterate_sample() -> None:
        for _ts, _v in reader.items(iter_sample):
            pass

    b_iter = median_time(iterate_sample, repeats)
    b_samples = median_latency(lambda a: reader.samples[a : a + FPS], random_offsets(args.sample_reads))
    reader.close()

    figures += [
        Figure("range_warm", f"items_for_range, {RANGE_ENTRIES} entries, warm", "s",
               t_range, b_range, "PyTables rows", 100e-6),
        Figure("getitem_warm", "stream[ts], warm", "s",
               t_get, b_get, "PyTables rows", 20e-6),
        Figure("first_range", "first range query after open", "s",
               statistics.median(first), statistics.median(base_first), "PyTables rows", 20e-3),
        Figure("open_first_range", "open + first range query", "s",
               statistics.median(open_first), statistics.median(base_open_first), "PyTables rows", None),
        Figure("iterate", "iterate all items()", "entries/s",
               n / t_iter, iter_sample / b_iter, f"PyTables rows, {iter_sample // 1000}k", 1e6),
        Figure("read_samples", "read_samples 1 s x 64 ch, warm", "s",
               t_samples, b_samples, "PyTables slice", 5e-3),
    ]  # fmt: skip
    if args.dir is None:
        path.unlink(missing_ok=True)
    return figures


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = make_parser(__doc__, "200k entries and 1 min of samples (well under a minute)")
    p.add_argument("--entries", type=int, help="data-stream entries (default 1,000,000; 200,000 with --quick)")
    p.add_argument("--minutes", type=float, help="minutes of 64-channel samples (default 10; 1 with --quick)")
    p.add_argument("--batch", type=int, default=10_000, help="entries per extend() call (default 10,000)")
    add_output_options(p)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.entries is None:
        args.entries = 200_000 if args.quick else 1_000_000
    if args.minutes is None:
        args.minutes = 1.0 if args.quick else 10.0
    if args.entries <= RANGE_ENTRIES or args.minutes * 60 < 1:
        p.error(f"need more than {RANGE_ENTRIES} entries and at least 1 s of samples")
    # sample sizes: the baselines are slow, so they run on fewer entries / queries
    args.baseline_entries = 20_000 if args.quick else 50_000
    args.lookups = 500 if args.quick else 2000
    args.opens = 7 if args.quick else 11
    args.sample_reads = 30 if args.quick else 100
    args.repeats = 5 if args.quick else 3
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    figures, elapsed = run_in_workdir(run, args, "bench_format_")
    mode = "quick" if args.quick else "full"
    title = (
        f"cldata {cldata.__version__} format benchmark ({mode}: {args.entries:,} entries, "
        f"{args.minutes:g} min of samples; medians; ratio = times faster than baseline)"
    )
    print_report(title, figures, elapsed)
    if args.json is not None:
        write_json(args.json, args, elapsed, figures)


if __name__ == "__main__":
    main()
