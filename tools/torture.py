#!/usr/bin/env python
"""Crash torture: kill real cldata writers with SIGKILL at random moments, then check everything.

Usage::

    python tools/torture.py --kills 200 [--seed S] [--dir D] [--json PATH] [--quiet] [--processes-share P]

Each round starts a writer process (``tests/torture_workers.py``) doing one kind of write,
and SIGKILLs it after a random number of acknowledged writes plus a random delay, or right
after it announced a write (tiny delays: in the middle of a flush or commit), or a random
time after it started. The kinds, taken in turn (shuffled):

``recording``       a RecordingWriter appending stream entries, spikes, stims and samples, flushing
``add_recordings``  recordings added to the store (copied or linked), old ones removed, one commit each
``results``         batches of results added, replaced (``replace=True``) and removed, one commit each
``batch``           ``cldata run`` over a small parameter file (serial or local processes)
``export``          ``store.export(path)`` of the store or of a query, again and again

A worker prints ``INTENT`` before each write and ``ACK`` once ``flush()`` / ``commit()`` /
``export()`` returned. After each kill the harness checks that:

- the store opens (``cldata.open``), and what it shows is exactly the state after the
  acknowledged writes, or after those and the one write in progress — never a part of a
  write (a batch of results, a replacement, a unit of a batch run, an added recording);
  every value is compared (payloads, tags, parameters, copied files byte for byte);
- ``cldata check`` (:func:`cldata.app.check.check_path`) calls the store healthy, or repairs
  it (``repair=True``: leftovers of interrupted commits) and then calls it healthy;
- a killed recording is restored by the check's repair (its journal) with exactly the
  flushed content (never less than acknowledged, never a part of a flush);
- an export is absent or complete (and then opens with exactly the expected content);
- the next writer can open the store (no stale lock).

It prints a line per round and a summary (kills per kind, unreadable stores, lost
acknowledged writes, repairs, elapsed time; ``--json`` writes it as JSON) and exits with 1
if anything was wrong. Failures that known cldata bugs cause are named in the summary with
the xfail test that shows each (:data:`KNOWN_BUGS`). ``--dir`` keeps the work directory:
``logs/`` then holds each worker's output and each round's command and model. The issue's
done-criterion is a run of 200 kills with 0 unreadable stores and 0 lost acknowledged writes.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
WORKER_SCRIPT = TESTS / "torture_workers.py"
KINDS = ("recording", "add_recordings", "results", "batch", "export")

if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import quantities as pq  # noqa: E402

import cldata  # noqa: E402
from cldata.app.check import check_path  # noqa: E402
from cldata.backends.base import file_crc32  # noqa: E402
from cldata.errors import StoreLockedError  # noqa: E402
from cldata.format.journal import journal_path  # noqa: E402


def _load_workers() -> Any:
    spec = importlib.util.spec_from_file_location("torture_workers", WORKER_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("torture_workers", module)
    spec.loader.exec_module(module)
    return module


W = _load_workers()

BATCH_PARAM = """
{
    "description": "crash torture: firing statistics and ISI histograms of the culture-D recordings",
    "store": {"root_directory": "%(root)s"},
    "executor": {"kind": "serial", "workers": 2},
    "query": [{"class": "FilterRecordingsQuery", "params": {"params": {"culture": "D"}}}],
    "analyses": {
        "rates": {"class": "FiringRate", "params": {"min_spikes": ParameterRange([2, 3, 4, 5])}},
        "isi": {"class": "ISIHistogram", "params": {"bin_ms": ParameterRange([1, 2]), "max_ms": 50}},
    },
}
"""

# how many acknowledgements a kill may wait for, and how long after starting a "start" kill may come
MAX_ACKS = {"recording": 8, "add_recordings": 3, "results": 5, "batch": None, "export": 2}
START_DELAY = {"recording": 0.08, "add_recordings": 0.6, "results": 0.5, "batch": 1.0, "export": 0.5}
KEEP_B_RECORDINGS = 6
KEEP_C_BATCHES = 10
#: what must stay 0 for a run to pass
FAILURE_COUNTS = ("unreadable_stores", "lost_acknowledged_writes", "half_written_visible", "stale_locks",
                  "check_unhealthy", "unborn_recording_check", "orphaned_processes", "worker_errors")
#: failures a known cldata bug causes, and the focused (xfail) test that shows it
# failure categories of cldata bugs known but not fixed yet, with the test that shows each
# (the two the torture found first, orphaned pool workers and the check of a recording
# killed before it existed, are fixed: tests/test_torture.py guards them)
KNOWN_BUGS: dict[str, str] = {}
ORPHAN_GRACE = 3.0  # seconds a killed worker's child processes get to end on their own


# -- comparing values -----------------------------------------------------------------------------


def same(a: Any, b: Any) -> bool:
    """Deep equality for payloads: quantities (value and unit), arrays (dtype, NaN = NaN), containers."""
    if isinstance(a, pq.Quantity) or isinstance(b, pq.Quantity):
        if not (isinstance(a, pq.Quantity) and isinstance(b, pq.Quantity)):
            return False
        return a.dimensionality.string == b.dimensionality.string and same(a.magnitude, b.magnitude)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def same_result(obs: Any, exp: Any) -> bool:
    """The stored result ``obs`` is ``exp``: kind, identity, tags and payload."""
    return (type(obs) is type(exp) and obs.identifier == exp.identifier and same(dict(obs.parameters), dict(exp.parameters))
            and tuple(obs.sources) == tuple(exp.sources) and tuple(obs.tags) == tuple(exp.tags)
            and same(obs.payload(), exp.payload()))


def compare_states(name: str, observed: dict, before: dict, after: dict | None) -> list[tuple[str, str]]:
    """``observed`` must be ``before`` (acknowledged writes) or ``after`` (those + the write in progress).

    Returns problems: ``lost`` for acknowledged items missing or changed, ``half_written``
    for anything else (an unacknowledged write visible in part, or something never written).
    """
    if observed == before or (after is not None and observed == after):
        return []
    problems = []
    must = {k: v for k, v in before.items() if after is None or (k in after and after[k] == v)}
    for k, v in must.items():
        if k not in observed:
            problems.append(("lost", f"{name} {k}: acknowledged, now missing"))
        elif observed[k] != v:
            problems.append(("lost", f"{name} {k}: acknowledged as {v!r}, now {observed[k]!r}"))
    allowed = [before] + ([after] if after is not None else [])
    for k, v in observed.items():
        if k not in must and not any(s.get(k) == v for s in allowed):
            problems.append(("half_written", f"{name} {k}: {v!r} was never written"))
    if not problems:
        problems.append(("half_written", f"{name}: the write in progress is visible in part"))
    return problems


def _group_members(pgid: int) -> list[int]:
    """The processes of a process group (Linux /proc; empty elsewhere)."""
    members = []
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            members.append(int(entry.parent.name))
    return members


class Abort(Exception):
    """The run cannot go on (the store does not open)."""


# -- worker processes -----------------------------------------------------------------------------


class Worker:
    """A pre-started ``torture_workers.py serve`` process, its output read by a thread."""

    def __init__(self, logdir: Path, n: int):
        self.stderr_path = logdir / f"worker-{n}.stderr"
        self.stdout_path = logdir / f"worker-{n}.stdout"
        self._stderr = open(self.stderr_path, "w")  # closed by finish() or discard()
        self.proc = subprocess.Popen([sys.executable, str(WORKER_SCRIPT), "serve"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._stderr, text=True, cwd=TESTS,
                                     start_new_session=True)
        self.lines: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        self.records: list[tuple[str, dict]] = []
        self.eof = False

    def _read(self) -> None:
        with open(self.stdout_path, "w") as log:  # kept for looking into a failure
            for line in self.proc.stdout:
                log.write(line)
                self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def next(self, deadline: float) -> str | None:
        """The next line, or None at the end of output or at the deadline."""
        if self.eof:
            return None
        try:
            line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return None
        if line is None:
            self.eof = True
            return None
        tag, _, rest = line.partition(" ")
        if tag in ("ACK", "INTENT", "DONE"):
            self.records.append((tag, json.loads(rest)))
        return line

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            line = self.next(deadline)
            if line == "READY":
                return
            if line is None:
                raise RuntimeError(f"a torture worker did not start: {self.stderr_path.read_text()[-2000:]}")

    def send(self, cmd: dict[str, Any]) -> None:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def count(self, tag: str) -> int:
        return sum(t == tag for t, _ in self.records)

    def kill(self) -> bool:
        """SIGKILL the worker (if it still runs); True if the kill ended it."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=60)
        return self.proc.returncode == -signal.SIGKILL

    def finish(self) -> int:
        """Read the rest of the output; return how many processes of its group outlived it (then killed)."""
        orphans = 0
        end = time.monotonic() + ORPHAN_GRACE
        while True:  # child processes (a batch run's pool) should end with their parent
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                break
            if time.monotonic() > end:
                orphans = len(_group_members(self.proc.pid)) or 1
                os.killpg(self.proc.pid, signal.SIGKILL)
                break
            time.sleep(0.02)
        deadline = time.monotonic() + 30  # the end of output comes once no process holds the pipe
        while self.next(deadline) is not None:
            pass
        self.proc.stdin.close()
        self._stderr.close()
        return orphans

    def discard(self) -> None:
        try:
            self.proc.stdin.close()  # a waiting worker exits at the end of its input
        except OSError:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._stderr.close()

    @property
    def acks(self) -> list[dict]:
        return [r for t, r in self.records if t == "ACK"]

    @property
    def acked_intents(self) -> list[dict]:
        """The writes announced and acknowledged, in order."""
        acked = {r["seq"] for r in self.acks}
        return [r for t, r in self.records if t == "INTENT" and r["seq"] in acked]

    @property
    def pending(self) -> dict | None:
        """The write announced last and not acknowledged (it may or may not have happened)."""
        acked = {r["seq"] for r in self.acks}
        intents = [r for t, r in self.records if t == "INTENT"]
        return intents[-1] if intents and intents[-1]["seq"] not in acked else None


# -- the torture ----------------------------------------------------------------------------------


class Torture:
    """One torture run in ``directory`` (see module doc)."""

    def __init__(self, directory: Path, seed: int, echo: Any = None, processes_share: float = 0.3):
        self.dir = Path(directory)
        self.seed = seed
        self.processes_share = processes_share
        self.rng = random.Random(seed)
        self.echo = echo or (lambda text: None)
        self.root = self.dir / "store"
        self.sources = self.dir / "sources"
        self.recs = self.dir / "recordings"
        self.exports = self.dir / "exports"
        self.logs = self.dir / "logs"
        self.param_file = self.dir / "batch.param"
        self.model_recs: dict[str, dict[str, Any]] = {}
        self.model_c: dict[int, int] = {}
        self.model_d: set[str] = set()
        self.next_batch = 1
        self.base_rid = ""
        self.reference: dict[str, Any] = {}
        self.units: dict[str, set[str]] = {}
        self.stats: dict[str, Any] = {
            "kills": 0, "kills_per_kind": Counter(), "finished_before_kill": Counter(), "rounds": 0,
            "unreadable_stores": 0, "lost_acknowledged_writes": 0, "half_written_visible": 0, "stale_locks": 0,
            "check_unhealthy": 0, "unborn_recording_check": 0, "repairs": 0,
            "repaired_problems": Counter(), "recordings_recovered": 0, "writes_in_progress_at_kill": Counter(),
            "acknowledged_writes": 0,
            "export_temp_files_left": 0, "orphaned_processes": 0, "worker_errors": 0, "failures": [],
        }
        self._worker_n = 0
        self._spare: Worker | None = None

    # -- setting up -------------------------------------------------------------------------------

    def setup(self) -> None:
        from cldata.batch.paramfile import load_parameters
        from cldata.batch.runner import run_batch
        from cldata.format.simulate import simulate_recording

        for d in (self.sources, self.recs, self.exports, self.logs):
            d.mkdir(parents=True, exist_ok=True)
        with cldata.open(self.root, mode="a") as store:
            base = self.sources / "base.h5"
            simulate_recording(base, duration_s=0.2, seed=1, attributes={"culture": "base"})
            self.base_rid = store.add_recording(base, {"culture": "base", "src": base.name})
            self.model_recs[self.base_rid] = {"culture": "base", "src": base.name, "link": False}
            for k in range(3):
                src = self.sources / f"d-{k}.h5"
                simulate_recording(src, duration_s=1.0, seed=11 + k, samples=False, attributes={"culture": "D"})
                rid = store.add_recording(src, {"culture": "D", "src": src.name}, link=k == 2)
                self.model_recs[rid] = {"culture": "D", "src": src.name, "link": k == 2}
        # what the batch run must store, computed once on a copy of the store
        ref = self.dir / "reference-store"
        shutil.copytree(self.root, ref)
        ref_param = self.dir / "reference.param"
        ref_param.write_text(BATCH_PARAM % {"root": ref})
        report = run_batch(load_parameters(ref_param), progress=False)
        assert report.ok and report.computed, str(report)
        with cldata.open(ref) as store:
            for result in store.analysis_results:
                result.payload()
                self.reference[result.id] = result
                unit = json.dumps([dict(result.parameters), list(result.sources)], sort_keys=True, default=str)
                self.units.setdefault(unit, set()).add(result.id)
        shutil.rmtree(ref)
        self.param_file.write_text(BATCH_PARAM % {"root": self.root})

    # -- one round --------------------------------------------------------------------------------

    def _new_worker(self) -> Worker:
        self._worker_n += 1
        return Worker(self.logs, self._worker_n)

    def _command(self, kind: str, n: int) -> dict[str, Any]:
        seed = self.rng.randrange(10**9)
        if kind == "recording":
            return {"kind": kind, "path": str(self.recs / f"a-{n}.h5"), "seed": seed}
        if kind == "add_recordings":
            return {"kind": kind, "root": str(self.root), "sources": str(self.sources), "round": n, "seed": seed,
                    "keep": KEEP_B_RECORDINGS}
        if kind == "results":
            return {"kind": kind, "root": str(self.root), "rid": self.base_rid, "seed": seed, "keep": KEEP_C_BATCHES,
                    "state": {str(b): v for b, v in self.model_c.items()}, "first_batch": self.next_batch}
        if kind == "batch":
            done = [u for u, ids in self.units.items() if ids <= self.model_d]
            if len(self.units) - len(done) < 3:  # start again: remove the batch results (a clean writer)
                with cldata.open(self.root, mode="a") as store:
                    for rid in sorted(self.model_d):
                        store.remove_analysis_result(rid)
                self.model_d = set()
            argv = ["--executor", "processes"] if self.rng.random() < self.processes_share else []
            return {"kind": kind, "param_file": str(self.param_file), "argv": argv}
        return {"kind": kind, "root": str(self.root), "dir": str(self.exports), "round": n, "seed": seed}

    def _plan(self, kind: str) -> tuple[str, int, float]:
        rng = self.rng
        if kind == "batch":
            remaining = sum(1 for ids in self.units.values() if not ids <= self.model_d)
            max_acks = max(0, remaining - 1)
        else:
            max_acks = MAX_ACKS[kind]
        mode = rng.choices(["ack", "intent", "start"], [0.45, 0.35, 0.2])[0]
        n = rng.randint(0, max_acks)
        if mode == "start":
            return mode, 0, rng.uniform(0, START_DELAY[kind])
        if mode == "intent":
            return mode, n, rng.choice([0.0, rng.uniform(0, 0.002), rng.uniform(0, 0.02)])
        return mode, n, rng.choice([0.0, rng.uniform(0, 0.002), rng.uniform(0, 0.02), rng.uniform(0, 0.2)])

    def _drive(self, worker: Worker, mode: str, n: int, delay: float) -> str:
        """Wait for the moment to kill; return what happened first ("trigger", "exit" or "stalled")."""
        deadline = time.monotonic() + 120
        tag, wanted = ("INTENT", n + 1) if mode == "intent" else ("ACK", n)
        if mode != "start":
            while worker.count(tag) < wanted:
                if worker.next(deadline) is None:
                    return "exit" if worker.eof else "stalled"
        end = time.monotonic() + delay
        while time.monotonic() < end:  # keep reading: acknowledgements made meanwhile count
            if worker.next(end) is None and worker.eof:
                return "exit"
        return "trigger"

    def round(self, n: int, kind: str) -> None:
        problems_before = len(self.stats["failures"])
        worker = self._spare or self._new_worker()
        worker.wait_ready()
        self._spare = self._new_worker()  # warms up while this round runs and is checked
        cmd = self._command(kind, n)
        mode, acks, delay = self._plan(kind)
        t0 = time.monotonic()
        (self.logs / f"round-{n}.json").write_text(json.dumps(
            {"worker": worker.stdout_path.name, "cmd": cmd, "plan": [mode, acks, delay],
             "model": {"recordings": self.model_recs, "results": self.model_c, "batch": sorted(self.model_d)}}))
        worker.send(cmd)
        outcome = self._drive(worker, mode, acks, delay)
        killed = worker.kill()
        orphans = worker.finish()
        t1 = time.monotonic()
        self.stats["rounds"] += 1
        if orphans:
            self._fail("orphaned_processes", f"round {n} ({kind} {' '.join(cmd.get('argv', []))}): {orphans} child "
                                             f"process(es) of the killed worker still ran {ORPHAN_GRACE} s later "
                                             "(killed now)", orphans)
        if killed:
            self.stats["kills"] += 1
            self.stats["kills_per_kind"][kind] += 1
        else:
            self.stats["finished_before_kill"][kind] += 1
            done = [r for t, r in worker.records if t == "DONE"]
            if not (kind == "batch" and done and done[0]["code"] == 0):
                self._fail("worker_errors", f"round {n} ({kind}): the worker exited with {worker.proc.returncode}: "
                                            f"{worker.stderr_path.read_text()[-1500:]}")
        if outcome == "stalled":
            self._fail("worker_errors", f"round {n} ({kind}): the worker stalled (no output for 120 s)")
        self.stats["acknowledged_writes"] += len(worker.acks)
        pending = worker.pending
        self._verify_store(n, kind, worker.acked_intents, pending)
        self._check_store(n)
        if kind == "recording":
            self._verify_recording(n, cmd, worker)
        elif kind == "export":
            self._verify_exports(n, worker)
        elif kind == "results":
            for tag, record in worker.records:
                if tag == "INTENT":
                    self.next_batch = max([self.next_batch, *(int(b) + 1 for b in record["set"])])
        self._check_sources()
        self._check_next_writer(n)
        verdict = "ok" if len(self.stats["failures"]) == problems_before else "FAILED"
        self.echo(f"round {n:4d} {kind:15s} kill after {mode:6s} #{acks} +{delay * 1000:6.1f} ms: "
                  f"{len(worker.acks):3d} acks, {'killed' if killed else 'finished'}, "
                  f"pending {'yes' if pending else 'no '} -> {verdict} "
                  f"({t1 - t0:.1f} s + {time.monotonic() - t1:.1f} s checking)")

    def _fail(self, category: str, message: str, count: int = 1) -> None:
        self.stats[category] += count
        self.stats["failures"].append(f"[{category}] {message}")

    # -- checks -----------------------------------------------------------------------------------

    def _verify_store(self, n: int, kind: str, acked: list[dict], pending: dict | None) -> None:
        try:
            store = cldata.open(self.root)
        except Exception as exc:  # anything at all: the store does not open
            self._fail("unreadable_stores", f"round {n}: the store does not open: {type(exc).__name__}: {exc}")
            raise Abort from None
        try:
            problems = self._verify_open_store(store, kind, acked, pending)
        finally:
            store.close()
        for category, message in problems:
            self._fail({"lost": "lost_acknowledged_writes", "half_written": "half_written_visible"}[category],
                       f"round {n} ({kind}): {message}")

    def _expected(self, kind: str, acked: list[dict], pending: dict | None) -> tuple[tuple, tuple | None]:
        """The model after the acknowledged writes of the round, and after those and the pending one."""
        state = (dict(self.model_recs), dict(self.model_c), {i: True for i in self.model_d})
        for intent in acked:
            state = self._apply(kind, state, intent)
        return state, (self._apply(kind, state, pending) if pending else None)

    @staticmethod
    def _apply(kind: str, state: tuple, intent: dict) -> tuple:
        recs, c, d = (dict(x) for x in state)
        if kind == "add_recordings":
            recs.update({rid: {"culture": "B", **info} for rid, info in intent["add"].items()})
            for rid in intent["remove"]:
                recs.pop(rid, None)
        elif kind == "results":
            c.update({int(b): v for b, v in intent["set"].items()})
            for b in intent["remove"]:
                c.pop(b, None)
        elif kind == "batch":
            d.update({i: True for i in intent["add"]})
            for i in intent["remove"]:
                d.pop(i, None)
        return recs, c, d

    def _verify_open_store(self, store: Any, kind: str, acked: list[dict], pending: dict | None) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        (before, c_before, d_before), both = self._expected(kind, acked, pending)
        after, c_after, d_after = both if both is not None else (None, None, None)
        # recordings
        known = {**before, **(after or {})}
        observed: dict[str, Any] = {}
        for rid in store.recording_ids:
            info = known.get(rid)
            wrong = "never written" if info is None else self._recording_wrong(store, rid, info)
            observed[rid] = f"wrong: {wrong}" if wrong else info
        problems += compare_states("recording", observed, before, after)
        self.model_recs = {k: v for k, v in observed.items() if isinstance(v, dict)}
        # results: the results kind ("torture") and the batch run's
        c_obs: dict[int, dict[int, Any]] = {}
        d_obs: dict[str, Any] = {}
        for result in store.analysis_results:
            if result.identifier == W.C_IDENTIFIER:
                c_obs.setdefault(int(result.parameters["b"]), {})[int(result.parameters["i"])] = result
            elif result.id in self.reference:
                d_obs[result.id] = True if same_result(result, self.reference[result.id]) else "wrong value"
            else:
                problems.append(("half_written", f"result {result.id} ({result.identifier}) was never written"))
        c_state: dict[int, Any] = {}
        for b, found in sorted(c_obs.items()):
            versions = {s[b] for s in (c_before, c_after) if s is not None and b in s}
            matched = set()
            for i, result in found.items():
                for v in versions:
                    if same_result(result, W.c_result(b, i, v, self.base_rid)):
                        matched.add(v)
                        break
                else:
                    matched.add("?")
            complete = sorted(found) == list(range(W.c_size(b)))
            c_state[b] = matched.pop() if len(matched) == 1 and complete else f"partial {sorted(found)} {matched}"
        problems += compare_states("result batch", c_state, c_before, c_after)
        self.model_c = {b: v for b, v in c_state.items() if isinstance(v, int)}
        problems += compare_states("batch result", d_obs, d_before, d_after)
        present = set(d_obs)
        for unit, ids in self.units.items():
            if ids & present and not ids <= present:
                problems.append(("half_written", f"batch unit {unit} is stored in part ({len(ids & present)}/{len(ids)})"))
        self.model_d = {i for i, v in d_obs.items() if v is True}
        if pending and kind in ("add_recordings", "results", "batch") and not problems:
            now = {"add_recordings": observed, "results": c_state, "batch": d_obs}[kind]
            was = {"add_recordings": before, "results": c_before, "batch": d_before}[kind]
            self._in_progress(now != was)
        return problems

    def _in_progress(self, landed: bool) -> None:
        """Count what became of the write the kill interrupted (its INTENT printed, no ACK)."""
        self.stats["writes_in_progress_at_kill"]["committed" if landed else "absent"] += 1

    def _recording_wrong(self, store: Any, rid: str, info: dict) -> str:
        """What is wrong with a stored recording ('' if it is the one written: parameters, bytes, readable)."""
        handle = store.recording(rid)
        src = self.sources / info["src"]
        try:
            if handle.parameters.get("culture") != info["culture"] or handle.parameters.get("src") != info["src"]:
                raise AssertionError(f"parameters {dict(handle.parameters)}")
            path = Path(handle.path)
            if info["link"]:
                if path != src.resolve():
                    raise AssertionError(f"links to {path}, not {src}")
            elif file_crc32(path) != file_crc32(src):
                raise AssertionError("the store's copy differs from the source file")
            view = handle.view()
            if len(view.read_spikes(waveforms=False)) != handle.summary["spikes"]:
                raise AssertionError("its spikes differ from its summary")
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        return ""

    def _check_store(self, n: int) -> None:
        report = check_path(self.root)
        if report.healthy:
            return
        repaired = check_path(self.root, repair=True)
        if not repaired.healthy:
            self._fail("check_unhealthy", f"round {n}: cldata check --repair leaves problems: {repaired}")
            return
        self.stats["repairs"] += 1
        for p in repaired.problems:
            what = "leftover files" if "left over" in p.message else "orphaned journals" if "writer died" in p.message \
                else p.message[:60]
            self.stats["repaired_problems"][what] += 1

    def _check_next_writer(self, n: int) -> None:
        try:
            cldata.open(self.root, mode="a").close()
        except StoreLockedError as exc:
            self._fail("stale_locks", f"round {n}: the next writer cannot open the store: {exc}")

    def _check_sources(self) -> None:
        """Sources whose simulation was killed: the check repairs them; unused sources are removed."""
        used = {info["src"] for info in self.model_recs.values()}
        for j in sorted(self.sources.glob("*.journal")):
            path = j.with_name(j.name[: -len(".journal")])
            report = check_path(path, repair=True)
            if not report.healthy:
                self._check_failed(f"source {path.name} (its writer was killed)", path, report)
        for p in self.sources.iterdir():
            if p.suffix == ".h5" and p.name not in used and p.name.startswith("b-"):
                p.unlink()

    def _check_failed(self, where: str, path: Path, report: Any) -> None:
        left = [p.message for p in report.problems if not p.repaired]
        if not path.exists() and left and all("no such recording file" in m for m in left):
            # the writer died inside RecordingWriter(), before the file existed: nothing was ever
            # acknowledged and nothing is left, yet the check calls it unreadable after its repair
            self._fail("unborn_recording_check", f"{where}: check --repair is not healthy: {report}")
        else:
            self._fail("check_unhealthy", f"{where}: check --repair is not healthy: {report}")

    def _verify_recording(self, n: int, cmd: dict, worker: Worker) -> None:
        path = Path(cmd["path"])
        acked = [r["flushes"] for r in worker.acks]
        pending = worker.pending
        candidates = set(acked[-1:]) | ({pending["flushes"]} if pending else set())
        if journal_path(path).exists():
            first = check_path(path)
            if first.healthy:
                self._fail("check_unhealthy", f"round {n}: check calls a killed recording healthy: {first}")
            report = check_path(path, repair=True)
            if not report.healthy:
                self._check_failed(f"round {n}: recording {path.name}", path, report)
                if path.exists() or acked:
                    return
            self.stats["recordings_recovered"] += 1
        if not path.exists():
            if acked:
                self._fail("lost_acknowledged_writes", f"round {n}: recording {path.name} is gone "
                                                       f"(acknowledged {acked[-1]} flushes)")
            return
        try:
            with cldata.RecordingView(path) as view:
                flushes = int(view.attributes.application.get("flushes", 0))
                if flushes not in candidates and (acked or flushes != 0):
                    category = "lost_acknowledged_writes" if acked and flushes < acked[-1] else "half_written_visible"
                    self._fail(category, f"round {n}: recording {path.name} holds {flushes} flushes, "
                                         f"acknowledged {acked[-1:]}, in progress {pending}")
                    return
                self._recording_content(view, int(cmd["seed"]), flushes)
                if pending:
                    self._in_progress(flushes == pending["flushes"])
        except Exception as exc:
            category = "lost_acknowledged_writes" if acked else "half_written_visible"
            self._fail(category, f"round {n}: recording {path.name}: {type(exc).__name__}: {exc}")
            return
        path.unlink()

    @staticmethod
    def _recording_content(view: Any, seed: int, flushes: int) -> None:
        exp = W.a_expected(seed, flushes)
        assert dict(view.attributes.application) == exp["application"], view.attributes.application
        streams = view.data_streams
        assert sorted(streams) == (["arrays", "counter"] if exp["streams"] else []), sorted(streams)
        ts = np.arange(exp["entries"], dtype=np.int64) * 2
        if exp["streams"]:
            counter = streams["counter"]
            assert np.array_equal(counter.timestamps, ts), "counter timestamps"
            for t, value in counter.items():
                assert same(value, W.a_value(int(t))), f"counter[{t}] = {value!r}"
            arrays = streams["arrays"]
            assert list(arrays.keys()) == list(range(1, flushes + 1)), "arrays keys"
            for f, value in arrays.items():
                assert same(value, W.a_array(f)), f"arrays[{f}]"
        spikes = view.read_spikes()
        assert np.array_equal(spikes["timestamp"], ts) and np.array_equal(spikes["channel"], ts % 64), "spikes"
        assert np.array_equal(spikes["samples"], W.a_waveforms(ts)), "spike waveforms"
        stims = view.read_stims()
        sizes = np.cumsum(W.a_flush_sizes(seed, flushes), dtype=np.int64)
        assert np.array_equal(stims["timestamp"], (sizes - 1) * 2), "stim timestamps"
        assert np.array_equal(stims["channel"], np.arange(1, flushes + 1) % 64), "stim channels"
        samples = view.read_samples()
        assert np.array_equal(samples, W.a_samples(0, exp["frames"])), "samples"

    def _verify_exports(self, n: int, worker: Worker) -> None:
        acked = {r["seq"] for r in worker.acks}
        for tag, intent in worker.records:
            if tag != "INTENT":
                continue
            path = Path(intent["path"])
            if intent["seq"] not in acked:
                self._in_progress(path.exists())
            if not path.exists():
                if intent["seq"] in acked:
                    self._fail("lost_acknowledged_writes", f"round {n}: acknowledged export {path.name} is missing")
                continue
            try:
                self._export_content(path, intent["scope"])
            except Exception as exc:
                category = "lost_acknowledged_writes" if intent["seq"] in acked else "half_written_visible"
                self._fail(category, f"round {n}: export {path.name}: {type(exc).__name__}: {exc}")
            path.unlink(missing_ok=True)
        left = list(self.exports.glob(".*.tmp-*"))
        self.stats["export_temp_files_left"] += len(left)
        for p in left:
            p.unlink()

    def _export_content(self, path: Path, scope: str) -> None:
        if scope == "all":
            recs = set(self.model_recs)
            results = {**{r.id: r for r in self.reference.values() if r.id in self.model_d}}
            for b, v in self.model_c.items():
                for i in range(W.c_size(b)):
                    r = W.c_result(b, i, v, self.base_rid)
                    results[r.result_id] = r
        else:
            recs = {rid for rid, info in self.model_recs.items() if info["culture"] == "B"}
            results = {}
        with cldata.open(path) as shared, cldata.open(self.root) as store:
            assert set(shared.recording_ids) == recs, "recordings"
            got = {r.id: r for r in shared.analysis_results}
            assert set(got) == set(results), "results"
            for rid, r in got.items():
                assert same_result(r, results[rid]), f"result {rid}"
            for rid in sorted(recs):
                a = shared.recording(rid).view().read_spikes()
                b = store.recording(rid).view().read_spikes()
                assert np.array_equal(a, b), f"recording {rid}"

    # -- the run ----------------------------------------------------------------------------------

    def run(self, kills: int) -> dict[str, Any]:
        started = time.monotonic()
        self.setup()
        setup_s = time.monotonic() - started
        schedule: list[str] = []
        n = 0
        try:
            while self.stats["kills"] < kills and n < 3 * kills + 10:
                if not schedule:
                    schedule = list(KINDS)
                    self.rng.shuffle(schedule)
                n += 1
                self.round(n, schedule.pop())
        except Abort:
            pass  # the store does not open: nothing more can be checked
        finally:
            if self._spare is not None:
                self._spare.discard()
        summary = dict(self.stats)
        for key in ("kills_per_kind", "finished_before_kill", "repaired_problems", "writes_in_progress_at_kill"):
            summary[key] = dict(summary[key])
        summary["failures"] = summary["failures"][:100]
        summary.update(seed=self.seed, directory=str(self.dir), setup_s=round(setup_s, 1),
                       elapsed_s=round(time.monotonic() - started, 1))
        summary["done_criterion_met"] = summary["unreadable_stores"] == 0 and summary["lost_acknowledged_writes"] == 0
        summary["ok"] = not any(summary[k] for k in FAILURE_COUNTS)
        return summary


def format_summary(s: dict[str, Any]) -> str:
    per_kind = ", ".join(f"{k} {s['kills_per_kind'].get(k, 0)}" for k in KINDS)
    lines = [
        f"crash torture (seed {s['seed']}): {s['kills']} kills in {s['rounds']} rounds, {s['elapsed_s']} s "
        f"(setup {s['setup_s']} s)",
        f"  kills per kind:            {per_kind}",
        f"  finished before the kill:  {s['finished_before_kill'] or 0}",
        f"  acknowledged writes:       {s['acknowledged_writes']}",
        f"  writes in progress at the kill (announced, not acknowledged): "
        f"{sum(s['writes_in_progress_at_kill'].values())} {s['writes_in_progress_at_kill'] or ''}",
        f"  unreadable stores:         {s['unreadable_stores']}",
        f"  lost acknowledged writes:  {s['lost_acknowledged_writes']}",
        f"  half-written visible:      {s['half_written_visible']}",
        f"  stale locks:               {s['stale_locks']}",
        f"  check unhealthy (after --repair): {s['check_unhealthy']} (+ {s['unborn_recording_check']} for "
        "recordings killed before they existed)",
        f"  repairs by cldata check:   {s['repairs']} {s['repaired_problems'] or ''}",
        f"  recordings recovered:      {s['recordings_recovered']}",
        f"  export temp files left:    {s['export_temp_files_left']}",
        f"  orphaned processes:        {s['orphaned_processes']}",
        f"  worker errors:             {s['worker_errors']}",
        f"  done criterion (0 unreadable stores, 0 lost acknowledged writes): "
        f"{'met' if s['done_criterion_met'] else 'NOT met'}",
        f"  verdict:                   {'OK' if s['ok'] else 'FAILED'}",
    ]
    for category, test in KNOWN_BUGS.items():
        if s[category]:
            lines.append(f"  known cldata bug hit: {category} {s[category]} (see {test})")
    lines += [f"  {f}" for f in s["failures"][:20]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=200, help="how many writers to kill (default 200)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: a random one, printed)")
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: a temporary one, removed)")
    parser.add_argument("--json", type=Path, default=None, help="also write the summary as JSON to this file")
    parser.add_argument("--quiet", action="store_true", help="no line per round")
    parser.add_argument("--processes-share", type=float, default=0.3, metavar="P",
                        help="share of batch runs on the processes executor (default 0.3; the rest are serial)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(10**6)
    temp = None
    if args.dir is None:
        temp = tempfile.mkdtemp(prefix="cldata-torture-")
        directory = Path(temp)
    else:
        directory = args.dir
        if directory.exists() and any(directory.iterdir()):
            parser.error(f"{directory} is not empty")
    try:
        torture = Torture(directory, seed, echo=None if args.quiet else lambda t: print(t, flush=True),
                          processes_share=args.processes_share)
        summary = torture.run(args.kills)
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
    print(format_summary(summary))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1, default=str))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
