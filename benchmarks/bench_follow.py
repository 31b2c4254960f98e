"""Benchmark of following a recording while it is written (``cldata.follow``).

Run it from the repository root::

    python benchmarks/bench_follow.py               # full run: 60 s at 10,000 entries/s
    python benchmarks/bench_follow.py --quick       # 10 s
    python benchmarks/bench_follow.py --json figures.json --dir /scratch/bench

Three processes run at once. The **writer** appends to a :class:`cldata.RecordingWriter`
10,000 entries/s to one data stream (``--rate``): 100 entries (``--batch``) every 10 ms,
each ``{"i": position, "t": time.time() before the batch}``, then ``flush()`` (durable:
the journal is fsynced) and records ``time.time()`` right before the call and right after
it returns. The **follower** runs ``for e in cldata.live.follow(path, ["bench"])``, the
default per-entry API with its default 5 ms poll interval, and records ``time.time()``
when each entry arrives. It is started before the writer, so it follows from the start.
The **driver** (this script) starts both, and is also the baseline's receiver.

Latency of an entry = its arrival time in the follower − the time its ``flush()`` was
called in the writer (this includes the journal write, the fsync and the HDF5 write;
the target is about this figure), and, for information, − the time ``flush()`` returned.
A follower sees a batch once the writer has written it to the operating system, just
before the fsync, so the second figure can be negative: that is expected (see the
``cldata.live`` module documentation, "Visibility before durability").

Baseline. Polling the HDF5 file is impossible while it is written (the reader refuses it,
and PyTables could not read it consistently anyway), so the baseline is the floor of any
side channel: right after each ``flush()`` returns, the writer also sends the same 100
values, msgpack-packed, through a plain ``os.pipe`` to the driver, which blocks on the
pipe (no polling at all) and unpacks them on arrival; its latency is send → unpacked,
measured in the same run on the same machine. The ratio column is baseline / cldata (above
1: cldata faster; here it is far below 1, and the point is the absolute figure).

Loss: every entry the writer wrote must arrive exactly once and in order: the script
counts entries lost, duplicated and out of order (target 0), for the pipe too. This is a
script, not a test: it asserts nothing about timings.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import struct
import subprocess
import sys
import time
from array import array
from pathlib import Path

import msgpack
import numpy as np
from _report import Figure, add_output_options, make_parser, print_report, run_in_workdir, say, write_json

import cldata

STREAM = "bench"
_LEN = struct.Struct("<I")


# -- the writer process ------------------------------------------------------------------------


def frame_of(i: int) -> int:
    """The timestamp (frames at 25 kHz) of entry ``i``: 10,000 entries/s, strictly increasing."""
    return i * 5 // 2


def run_writer(args: argparse.Namespace) -> None:
    pipe = os.fdopen(args.pipe_fd, "wb", buffering=0)
    interval = args.batch / args.rate
    w = cldata.RecordingWriter(args.path, attributes={"purpose": "bench_follow"})
    s = w.create_data_stream(STREAM, {"rate": args.rate})
    w.flush()
    log = array("d")  # per flush: first entry, count, time before the batch, flush call, flush return
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
        s.extend([frame_of(j) for j in range(i, i + args.batch)], values)
        t_call = time.time()
        w.flush()
        t_ret = time.time()
        msg = msgpack.packb({"t": time.time(), "values": values})
        pipe.write(_LEN.pack(len(msg)) + msg)
        log.extend((i, args.batch, t_batch, t_call, t_ret))
        i += args.batch
        due += interval
    elapsed = time.perf_counter() - start
    w.close()
    pipe.close()
    np.save(args.out, np.frombuffer(log, dtype=np.float64).reshape(-1, 5))
    print(json.dumps({"entries": i, "elapsed": elapsed}), flush=True)


# -- the follower process ----------------------------------------------------------------------


def run_follower(args: argparse.Namespace) -> None:
    from cldata.live import follow

    positions = array("q")
    arrivals = array("d")
    bad_timestamps = 0
    print(json.dumps({"ready": True}), flush=True)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    wall0 = time.perf_counter()
    for e in follow(args.path, [STREAM], poll_interval=args.poll_interval, start_timeout=60):
        arrivals.append(time.time())
        i = e.value["i"]
        positions.append(i)
        if e.timestamp != frame_of(i):
            bad_timestamps += 1
    wall = time.perf_counter() - wall0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    np.save(args.out, np.stack([np.frombuffer(positions, dtype=np.int64).astype(np.float64),
                                np.frombuffer(arrivals, dtype=np.float64)]))  # fmt: skip
    print(json.dumps({"bad_timestamps": bad_timestamps, "cpu_s": cpu, "wall_s": wall}), flush=True)


# -- the driver --------------------------------------------------------------------------------


def read_exact(fd: int, n: int) -> bytes | None:
    parts = []
    while n:
        chunk = os.read(fd, n)
        if not chunk:
            return None
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


def loss_figures(positions: np.ndarray, total: int) -> tuple[int, int, int]:
    """(lost, duplicated, out of order) for entries 0 .. total-1 received as ``positions``."""
    unique = np.unique(positions)
    valid = unique[(unique >= 0) & (unique < total)]
    lost = total - valid.size
    duplicated = positions.size - unique.size
    out_of_order = int(np.count_nonzero(np.diff(positions) <= 0)) if positions.size > 1 else 0
    return lost, duplicated, out_of_order


def run(args: argparse.Namespace, workdir: Path) -> list[Figure]:
    path = workdir / "follow.h5"
    for p in (path, workdir / "follow.h5.journal"):
        p.unlink(missing_ok=True)
    me = [sys.executable, str(Path(__file__).resolve())]
    common = ["--rate", str(args.rate), "--batch", str(args.batch), "--seconds", str(args.seconds)]
    follower = subprocess.Popen(
        [*me, "--role", "follower", "--path", str(path), "--out", str(workdir / "follower.npy"),
         "--poll-interval", str(args.poll_interval), *common],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert json.loads(follower.stdout.readline()) == {"ready": True}
    r_fd, w_fd = os.pipe()
    writer = subprocess.Popen(
        [*me, "--role", "writer", "--path", str(path), "--out", str(workdir / "writer.npy"),
         "--pipe-fd", str(w_fd), *common],
        stdout=subprocess.PIPE, text=True, pass_fds=(w_fd,),
    )  # fmt: skip
    os.close(w_fd)
    say(f"writing {args.rate:,} entries/s for {args.seconds:g} s while following ...")
    # the baseline: this process blocks on the pipe and unpacks each batch as it comes
    pipe_positions = array("q")
    pipe_latency = array("d")
    while True:
        head = read_exact(r_fd, _LEN.size)
        if head is None:
            break
        msg = msgpack.unpackb(read_exact(r_fd, _LEN.unpack(head)[0]))
        arrived = time.time()
        for v in msg["values"]:
            pipe_positions.append(v["i"])
            pipe_latency.append(arrived - msg["t"])
    os.close(r_fd)
    w_out, _ = writer.communicate(timeout=120)
    f_out, _ = follower.communicate(timeout=120)
    if writer.returncode or follower.returncode:
        raise SystemExit(f"a process failed (writer {writer.returncode}, follower {follower.returncode})")
    w_info = json.loads(w_out.splitlines()[-1])
    f_info = json.loads(f_out.splitlines()[-1])
    log = np.load(workdir / "writer.npy")
    got = np.load(workdir / "follower.npy")
    total = int(w_info["entries"])

    # per entry: the flush it belongs to, when that flush was called and when it returned
    first = log[:, 0].astype(np.int64)
    positions = got[0].astype(np.int64)
    arrivals = got[1]
    ok = (positions >= 0) & (positions < total)
    flush_of = np.searchsorted(first, positions[ok], side="right") - 1
    from_call = arrivals[ok] - log[flush_of, 3]
    from_return = arrivals[ok] - log[flush_of, 4]
    flush_durations = log[:, 4] - log[:, 3]
    lost, dup, disorder = loss_figures(positions, total)
    p_lost, p_dup, p_disorder = loss_figures(np.frombuffer(pipe_positions, dtype=np.int64), total)
    pipe = np.frombuffer(pipe_latency, dtype=np.float64)
    rate = total / w_info["elapsed"]
    say(f"{total:,} entries written in {w_info['elapsed']:.1f} s, {positions.size:,} followed; follower used "
        f"{f_info['cpu_s']:.1f} s of CPU in {f_info['wall_s']:.1f} s; {f_info['bad_timestamps']} wrong timestamps")  # fmt: skip
    args.follower_cpu_fraction = f_info["cpu_s"] / f_info["wall_s"]
    args.bad_timestamps = f_info["bad_timestamps"]

    def q(a: np.ndarray, p: float) -> float:
        return float(np.percentile(a, p)) if a.size else float("nan")

    base = "os.pipe"
    return [
        Figure("latency_median", "median latency, flush() call -> entry arrives", "s",
               float(np.median(from_call)), q(pipe, 50), base, 0.100),
        Figure("latency_p95", "p95 latency, flush() call -> entry arrives", "s",
               q(from_call, 95), q(pipe, 95), base, None),
        Figure("latency_max", "max latency, flush() call -> entry arrives", "s",
               float(from_call.max()), float(pipe.max()), base, None),
        Figure("latency_from_return_median", "median latency, flush() return -> entry arrives", "s",
               float(np.median(from_return)), q(pipe, 50), base, None),
        Figure("latency_from_return_p95", "p95 latency, flush() return -> entry arrives", "s",
               q(from_return, 95), q(pipe, 95), base, None),
        Figure("lost", "entries lost", "entries", float(lost), float(p_lost), base, 0),
        Figure("duplicated", "entries duplicated", "entries", float(dup), float(p_dup), base, 0),
        Figure("out_of_order", "entries out of order", "entries", float(disorder), float(p_disorder), base, 0),
        Figure("rate", "entries written and followed per second", "entries/s", rate, None, "", float(args.rate)),
        Figure("flush_median", "writer flush() duration (median)", "s",
               statistics.median(flush_durations.tolist()), None, "", None),
        Figure("flush_p95", "writer flush() duration (p95)", "s", q(flush_durations, 95), None, "", None),
    ]  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = make_parser(__doc__, "run for 10 s instead of 60")
    p.add_argument("--seconds", type=float, help="how long the writer writes (default 60; 10 with --quick)")
    p.add_argument("--rate", type=int, default=10_000, help="entries per second (default 10,000)")
    p.add_argument("--batch", type=int, default=100, help="entries per flush() (default 100: a flush every 10 ms)")
    p.add_argument("--poll-interval", type=float, default=0.005, help="the follower's poll interval (default 5 ms)")
    add_output_options(p)
    # internal: the script runs itself as the writer and the follower
    p.add_argument("--role", choices=("driver", "writer", "follower"), default="driver", help=argparse.SUPPRESS)
    p.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--pipe-fd", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.seconds is None:
        args.seconds = 10.0 if args.quick else 60.0
    if args.seconds <= 0 or args.rate <= 0 or args.batch <= 0:
        p.error("--seconds, --rate and --batch must be positive")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.role == "writer":
        return run_writer(args)
    if args.role == "follower":
        return run_follower(args)
    figures, elapsed = run_in_workdir(run, args, "bench_follow_")
    mode = "quick" if args.quick else "full"
    title = (
        f"cldata {cldata.__version__} follow benchmark ({mode}: {args.seconds:g} s at {args.rate:,} entries/s, "
        f"{args.batch} entries per flush, poll {args.poll_interval * 1e3:g} ms; ratio = times faster than baseline)"
    )
    notes = [f"follower CPU: {args.follower_cpu_fraction:.0%} of one core; wrong timestamps: {args.bad_timestamps}"]
    print_report(title, figures, elapsed, notes)
    if args.json is not None:
        write_json(args.json, args, elapsed, figures)


if __name__ == "__main__":
    main()
