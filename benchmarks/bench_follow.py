"""Benchmark of following a recording while it is written (``cldata.follow``), against the alternatives.

How the figures are measured
----------------------------
Every figure is the **median over rounds, with its min–max range** over the rounds
(``12.3 ms (9.8–15.1 ms)``): a round runs one method for ``--round`` seconds, and the
methods take turns (``cldata, tail, swmr, pipe, cldata, tail, ...``), so that a change in
the machine's load falls on all of them alike. Each round starts **fresh processes** (a
writer and a follower), so first use (the follower opening a file that is about to be
written) is part of every round. A round's latency figure is the median (p95, max) of
its entries' latencies. The table's title prints the machine's state (``nproc``, load
average before and after); on a shared machine the figures move with the load.

Run it from the repository root::

    python benchmarks/bench_follow.py               # 60 s per method, in rounds of 10 s (about 4 minutes)
    python benchmarks/bench_follow.py --quick       # 12 s per method, in rounds of 4 s (about a minute)
    python benchmarks/bench_follow.py --json figures.json --dir /scratch/bench

In each round two processes run at once. The **writer** appends 10,000 entries/s
(``--rate``): 100 entries (``--batch``) every 10 ms, each ``{"i": position, "t":
time.time() before the batch}``, then makes them durable, recording ``time.time()`` right
before that call and right after it returns. The **follower** is started first (it waits
for the file), records ``time.time()`` when each entry arrives, decoded, and checks that
every entry comes exactly once and in order. Latency of an entry = its arrival − the
moment its batch's durable write was called (for information, also − the moment it
returned: a follower may see a batch just before the writer's fsync returns).

The methods (what a user who wants to follow a recording can do, each done well):

cldata
    ``cldata.RecordingWriter`` (``create_data_stream``, ``extend``, ``flush()``: the
    journal is written and fsynced, then the HDF5 file) and ``for e in
    cldata.live.follower.follow(path, ["bench"])``, the default per-entry API with its default 5 ms
    poll interval.
tail (a do-it-yourself log, tailed)
    The writer appends each batch to a plain file as one length-prefixed msgpack record
    (``{"ts": [...], "v": [...]}``) and fsyncs it (the same durability as cldata's
    journal, but no recording file and no checksums); the follower polls the file every
    5 ms, reads the new bytes and unpacks the complete records. The floor of any
    file-based follower.
swmr (HDF5's own way: h5py in single-writer/multiple-reader mode)
    The writer (h5py, ``libver="latest"``, ``swmr_mode = True``) appends each batch to a
    CL-like stream: the entries' msgpack bytes end to end in a ``uint8`` dataset and an
    ``(n, 2)`` index of (timestamp, end offset), then ``flush()`` and fsync; the follower
    opens it with ``swmr=True`` and every 5 ms ``refresh()``es the index and the data and
    decodes the new entries. (The CL file itself cannot be followed this way: neither CL
    nor PyTables writes SWMR files, and a plain HDF5 file cannot be read while it is
    written.)
pipe (the floor of a side channel, not durable)
    The writer sends each batch, msgpack-packed, through an ``os.pipe`` to the follower,
    which blocks on it (no polling) and unpacks it. Nothing is written to disk: this is
    what the latency of a live feed costs at least.

Loss: every entry written must arrive exactly once and in order: entries lost,
duplicated and out of order are counted over all rounds (target 0, for every method).
The ratio column says how many times faster (or less CPU) cldata is than the baseline.
This is a script, not a test: it asserts nothing about timings.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import struct
import subprocess
import sys
import time
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
from _report import Figure, add_output_options, make_parser, print_report, run_in_workdir, say, write_json

import cldata

try:
    import h5py
except ImportError:  # a benchmark-only package: its baseline is skipped, and the run says so
    h5py = None

STREAM = "bench"
_LEN = struct.Struct("<I")
NO_H5PY = "h5py is not installed: the swmr baseline is skipped (pip install h5py)"
NAMES = {"tail": "tail an fsynced log", "swmr": "h5py SWMR", "pipe": "os.pipe, not durable"}


def frame_of(i: int) -> int:
    """The timestamp (frames at 25 kHz) of entry ``i``: 10,000 entries/s, strictly increasing."""
    return i * 5 // 2


def machine_state() -> str:
    load = os.getloadavg()
    return f"nproc {len(os.sched_getaffinity(0))}, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"


# -- the writers: each makes a batch durable (or sends it) in write() -----------------------------


class CldataWriter:
    def __init__(self, path: Path, args: argparse.Namespace):
        self.w = cldata.RecordingWriter(path, attributes={"purpose": "bench_follow"})
        self.s = self.w.create_data_stream(STREAM, {"rate": args.rate})
        self.w.flush()

    def write(self, ts: list[int], values: list[dict]) -> None:
        self.s.extend(ts, values)
        self.w.flush()

    def close(self) -> None:
        self.w.close()


class TailWriter:
    def __init__(self, path: Path, args: argparse.Namespace):
        self.f = open(path, "wb", buffering=0)

    def write(self, ts: list[int], values: list[dict]) -> None:
        msg = msgpack.packb({"ts": ts, "v": values})
        self.f.write(_LEN.pack(len(msg)) + msg)
        os.fsync(self.f.fileno())

    def close(self) -> None:
        self.f.write(_LEN.pack(0))  # the end
        os.fsync(self.f.fileno())
        self.f.close()


class SwmrWriter:
    def __init__(self, path: Path, args: argparse.Namespace):
        tmp = path.with_name(path.name + ".tmp")
        self.h5 = h5py.File(tmp, "w", libver="latest")
        self.index = self.h5.create_dataset("index", (0, 2), dtype=np.int64, maxshape=(None, 2), chunks=(4096, 2))
        self.data = self.h5.create_dataset("data", (0,), dtype=np.uint8, maxshape=(None,), chunks=(1 << 16,))
        # a chunked, extendable flag (SWMR readers refresh only chunked datasets): one row = closed
        self.closed = self.h5.create_dataset("closed", (0,), dtype=np.int8, maxshape=(None,), chunks=(1,))
        self.h5.swmr_mode = True
        os.replace(tmp, path)  # the follower opens it only once it is in SWMR mode
        self.fd = os.open(path, os.O_RDONLY)  # (h5py gives no descriptor to fsync)
        self.end = 0

    def write(self, ts: list[int], values: list[dict]) -> None:
        parts = [msgpack.packb(v) for v in values]
        ends = self.end + np.cumsum([len(p) for p in parts])
        n, m = self.index.shape[0], self.data.shape[0]
        self.data.resize((int(ends[-1]),))
        self.data[m:] = np.frombuffer(b"".join(parts), dtype=np.uint8)
        self.index.resize((n + len(ts), 2))
        self.index[n:] = np.column_stack([ts, ends])
        self.end = int(ends[-1])
        self.h5.flush()
        os.fsync(self.fd)

    def close(self) -> None:
        self.closed.resize((1,))
        self.h5.flush()
        self.h5.close()
        os.close(self.fd)


class PipeWriter:
    def __init__(self, path: Path, args: argparse.Namespace):
        self.pipe = os.fdopen(args.pipe_fd, "wb", buffering=0)

    def write(self, ts: list[int], values: list[dict]) -> None:
        msg = msgpack.packb({"ts": ts, "v": values})
        self.pipe.write(_LEN.pack(len(msg)) + msg)

    def close(self) -> None:
        self.pipe.close()


WRITERS = {"cldata": CldataWriter, "tail": TailWriter, "swmr": SwmrWriter, "pipe": PipeWriter}


def run_writer(args: argparse.Namespace) -> None:
    interval = args.batch / args.rate
    w = WRITERS[args.method](args.path, args)
    log = array("d")  # per batch: first entry, count, time before the batch, write call, write return
    i = 0
    start = time.perf_counter()
    end = start + args.seconds
    due = start
    while True:
        now = time.perf_counter()
        if now >= end:
            break
        if now < due:
            time.sleep(due - now)
        t_batch = time.time()
        values = [{"i": j, "t": t_batch} for j in range(i, i + args.batch)]
        ts = [frame_of(j) for j in range(i, i + args.batch)]
        t_call = time.time()
        w.write(ts, values)
        t_ret = time.time()
        log.extend((i, args.batch, t_batch, t_call, t_ret))
        i += args.batch
        due += interval
    elapsed = time.perf_counter() - start
    w.close()
    np.save(args.out, np.frombuffer(log, dtype=np.float64).reshape(-1, 5))
    print(json.dumps({"entries": i, "elapsed": elapsed}), flush=True)


# -- the followers: each yields (timestamp, value) as the entries arrive ---------------------------


def wait_for(path: Path, poll: float, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise FileNotFoundError(path)
        time.sleep(poll)


def follow_cldata(args: argparse.Namespace) -> Iterator[tuple[int, Any]]:
    from cldata.live.follower import follow

    for e in follow(args.path, [STREAM], poll_interval=args.poll_interval, start_timeout=60):
        yield e.timestamp, e.value


def follow_tail(args: argparse.Namespace) -> Iterator[tuple[int, Any]]:
    wait_for(args.path, args.poll_interval)
    buf = b""
    with open(args.path, "rb", buffering=0) as f:
        while True:
            new = f.read()
            if not new:
                time.sleep(args.poll_interval)
                continue
            buf += new
            pos = 0
            while len(buf) - pos >= _LEN.size:
                (n,) = _LEN.unpack_from(buf, pos)
                if n == 0:
                    return
                if len(buf) - pos - _LEN.size < n:
                    break  # a record still being written: the rest comes on a later poll
                rec = msgpack.unpackb(buf[pos + _LEN.size:pos + _LEN.size + n])
                pos += _LEN.size + n
                yield from zip(rec["ts"], rec["v"])
            buf = buf[pos:]


def follow_swmr(args: argparse.Namespace) -> Iterator[tuple[int, Any]]:
    wait_for(args.path, args.poll_interval)
    with h5py.File(args.path, "r", libver="latest", swmr=True) as h5:
        index, data, closed = h5["index"], h5["data"], h5["closed"]
        seen = start = 0
        while True:
            closed.refresh()
            done = closed.shape[0] > 0  # read before the index: after it, nothing more comes
            index.refresh()
            n = index.shape[0]
            if n > seen:
                rows = index[seen:n]
                end = int(rows[-1, 1])
                data.refresh()
                if data.shape[0] >= end:
                    raw = data[start:end].tobytes()
                    cuts = rows[:, 1] - start
                    a = 0
                    for ts, b in zip(rows[:, 0].tolist(), cuts.tolist()):
                        yield ts, msgpack.unpackb(raw[a:b])
                        a = b
                    seen, start = n, end
                    continue
            if done:
                return
            time.sleep(args.poll_interval)


def follow_pipe(args: argparse.Namespace) -> Iterator[tuple[int, Any]]:
    fd = args.pipe_fd
    while True:
        head = read_exact(fd, _LEN.size)
        if head is None:
            return
        rec = msgpack.unpackb(read_exact(fd, _LEN.unpack(head)[0]))
        yield from zip(rec["ts"], rec["v"])


FOLLOWERS = {"cldata": follow_cldata, "tail": follow_tail, "swmr": follow_swmr, "pipe": follow_pipe}


def read_exact(fd: int, n: int) -> bytes | None:
    parts = []
    while n:
        chunk = os.read(fd, n)
        if not chunk:
            return None
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


def run_follower(args: argparse.Namespace) -> None:
    positions = array("q")
    arrivals = array("d")
    bad_timestamps = 0
    print(json.dumps({"ready": True}), flush=True)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    wall0 = time.perf_counter()
    for ts, value in FOLLOWERS[args.method](args):
        arrivals.append(time.time())
        i = value["i"]
        positions.append(i)
        if ts != frame_of(i):
            bad_timestamps += 1
    wall = time.perf_counter() - wall0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    np.save(args.out, np.stack([np.frombuffer(positions, dtype=np.int64).astype(np.float64),
                                np.frombuffer(arrivals, dtype=np.float64)]))  # fmt: skip
    print(json.dumps({"bad_timestamps": bad_timestamps, "cpu_s": cpu, "wall_s": wall}), flush=True)


# -- the driver --------------------------------------------------------------------------------


def loss_figures(positions: np.ndarray, total: int) -> tuple[int, int, int]:
    """(lost, duplicated, out of order) for entries 0 .. total-1 received as ``positions``."""
    unique = np.unique(positions)
    valid = unique[(unique >= 0) & (unique < total)]
    lost = total - valid.size
    duplicated = positions.size - unique.size
    out_of_order = int(np.count_nonzero(np.diff(positions) <= 0)) if positions.size > 1 else 0
    return lost, duplicated, out_of_order


def one_round(args: argparse.Namespace, workdir: Path, method: str, n: int) -> dict[str, float]:
    """Run one method for one round in a fresh writer and follower; its figures."""
    path = workdir / f"follow_{method}_{n}.h5"
    for p in (path, path.with_name(path.name + ".journal"), path.with_name(path.name + ".tmp")):
        p.unlink(missing_ok=True)
    me = [sys.executable, str(Path(__file__).resolve()), "--method", method, "--path", str(path),
          "--rate", str(args.rate), "--batch", str(args.batch), "--seconds", str(args.round),
          "--poll-interval", str(args.poll_interval)]
    r_fd = w_fd = None
    if method == "pipe":
        r_fd, w_fd = os.pipe()
    follower = subprocess.Popen(
        [*me, "--role", "follower", "--out", str(workdir / "follower.npy")]
        + (["--pipe-fd", str(r_fd)] if r_fd is not None else []),
        stdout=subprocess.PIPE, text=True, pass_fds=(r_fd,) if r_fd is not None else (),
    )  # fmt: skip
    if r_fd is not None:
        os.close(r_fd)
    assert json.loads(follower.stdout.readline()) == {"ready": True}
    writer = subprocess.Popen(
        [*me, "--role", "writer", "--out", str(workdir / "writer.npy")]
        + (["--pipe-fd", str(w_fd)] if w_fd is not None else []),
        stdout=subprocess.PIPE, text=True, pass_fds=(w_fd,) if w_fd is not None else (),
    )  # fmt: skip
    if w_fd is not None:
        os.close(w_fd)
    w_out, _ = writer.communicate(timeout=args.round + 120)
    f_out, _ = follower.communicate(timeout=120)
    if writer.returncode or follower.returncode:
        raise SystemExit(f"{method}: a process failed (writer {writer.returncode}, follower {follower.returncode})")
    w_info = json.loads(w_out.splitlines()[-1])
    f_info = json.loads(f_out.splitlines()[-1])
    log = np.load(workdir / "writer.npy")
    got = np.load(workdir / "follower.npy")
    total = int(w_info["entries"])
    for p in workdir.glob(f"follow_{method}_{n}.h5*"):
        p.unlink()

    # per entry: the batch it belongs to, when its write was called and when it returned
    first = log[:, 0].astype(np.int64)
    positions = got[0].astype(np.int64)
    arrivals = got[1]
    ok = (positions >= 0) & (positions < total)
    batch_of = np.searchsorted(first, positions[ok], side="right") - 1
    from_call = arrivals[ok] - log[batch_of, 3]
    from_return = arrivals[ok] - log[batch_of, 4]
    lost, dup, disorder = loss_figures(positions, total)

    def q(a: np.ndarray, p: float) -> float:
        return float(np.percentile(a, p)) if a.size else float("nan")

    return {
        "median": q(from_call, 50), "p95": q(from_call, 95), "max": q(from_call, 100),
        "from_return": q(from_return, 50), "write": q(log[:, 4] - log[:, 3], 50),
        "cpu": 100 * f_info["cpu_s"] / f_info["wall_s"], "rate": total / w_info["elapsed"],
        "lost": lost, "duplicated": dup, "out_of_order": disorder, "bad_timestamps": f_info["bad_timestamps"],
    }


def run(args: argparse.Namespace, workdir: Path) -> tuple[list[Figure], dict[str, Any]]:
    methods = ["cldata", "tail"] + (["swmr"] if h5py is not None else []) + ["pipe"]
    if h5py is None:
        say(NO_H5PY)
    rounds = max(1, round(args.seconds / args.round))
    state_before = machine_state()
    res: dict[str, list[dict[str, float]]] = {m: [] for m in methods}
    for n in range(rounds):
        for m in methods:
            say(f"round {n + 1}/{rounds}: {m}, {args.rate:,} entries/s for {args.round:g} s")
            res[m].append(one_round(args, workdir, m, n))
    info = {"state_before": state_before, "state_after": machine_state(), "rounds": rounds}

    def per_round(m: str, key: str) -> list[float]:
        return [r[key] for r in res[m]]

    baselines = methods[1:]
    figures: list[Figure] = []
    rows = [("median", "median latency, write call -> entry arrives", 0.100, baselines),
            ("p95", "p95 latency, write call -> entry arrives", None, baselines),
            ("max", "max latency, write call -> entry arrives", None, baselines),
            ("from_return", "median latency, write return -> entry arrives", None, [b for b in baselines if b != "pipe"]),
            ("write", "writer's durable write (flush), median", None, [b for b in baselines if b != "pipe"]),
            ("cpu", "follower CPU, % of one core", None, baselines)]
    for key, metric, target, against in rows:
        unit = "%" if key == "cpu" else "s"
        for b in against:
            figures.append(Figure.from_samples(f"{key}_vs_{b}", metric, unit, per_round("cldata", key),
                                               per_round(b, key), NAMES[b], target))
    figures.append(Figure.from_samples("rate", "entries written and followed per second", "entries/s",
                                       per_round("cldata", "rate"), None, "", float(args.rate)))
    for key, metric in (("lost", "entries lost"), ("duplicated", "entries duplicated"),
                        ("out_of_order", "entries out of order"), ("bad_timestamps", "wrong timestamps")):
        figures.append(Figure(key, f"{metric}, all rounds", "entries", float(sum(per_round("cldata", key))),
                              None, "", 0))
    info["baseline_losses"] = {b: {k: sum(per_round(b, k)) for k in ("lost", "duplicated", "out_of_order",
                                                                      "bad_timestamps")} for b in baselines}
    return figures, info


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = make_parser(__doc__, "12 s per method in rounds of 4 s instead of 60 s in rounds of 10 s")
    p.add_argument("--seconds", type=float, help="how long each method runs in all (default 60; 12 with --quick)")
    p.add_argument("--round", type=float, help="seconds per round (default 10; 4 with --quick)")
    p.add_argument("--rate", type=int, default=10_000, help="entries per second (default 10,000)")
    p.add_argument("--batch", type=int, default=100, help="entries per write (default 100: a write every 10 ms)")
    p.add_argument("--poll-interval", type=float, default=0.005, help="the followers' poll interval (default 5 ms)")
    add_output_options(p)
    # internal: the script runs itself as the writer and the follower of a round
    p.add_argument("--role", choices=("driver", "writer", "follower"), default="driver", help=argparse.SUPPRESS)
    p.add_argument("--method", choices=tuple(WRITERS), help=argparse.SUPPRESS)
    p.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--pipe-fd", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.seconds is None:
        args.seconds = 12.0 if args.quick else 60.0
    if args.round is None:
        args.round = min(args.seconds, 4.0 if args.quick else 10.0)
    if args.seconds <= 0 or args.round <= 0 or args.rate <= 0 or args.batch <= 0:
        p.error("--seconds, --round, --rate and --batch must be positive")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.role == "writer":
        return run_writer(args)
    if args.role == "follower":
        return run_follower(args)
    (figures, info), elapsed = run_in_workdir(run, args, "bench_follow_")
    mode = "quick" if args.quick else "full"
    title = (
        f"cldata {cldata.__version__} follow benchmark ({mode}: {info['rounds']} rounds of {args.round:g} s per method "
        f"at {args.rate:,} entries/s, {args.batch} entries per write, poll {args.poll_interval * 1e3:g} ms; "
        f"{info['state_before']} before, {info['state_after']} after; ratio = times faster than baseline)"
    )
    notes = ["figures: median over rounds (min–max over rounds) of each round's median, p95 or max",
             "baselines' losses (lost, duplicated, out of order, wrong timestamps), all rounds: "
             + "; ".join(f"{b} {v['lost']}/{v['duplicated']}/{v['out_of_order']}/{v['bad_timestamps']}"
                         for b, v in info["baseline_losses"].items())]
    if h5py is None:
        notes.append(NO_H5PY)
    print_report(title, figures, elapsed, notes)
    if args.json is not None:
        write_json(args.json, args, elapsed, figures, info)


if __name__ == "__main__":
    main()
