"""One writer and four readers at once, in real processes: readers always see a consistent commit.

The writer commits batches of results (batch b: every result has ``batch=b``) and now and
then adds a recording; four readers open the store again and again, or ``refresh()`` one
they keep open, and check every time that batches 1..n are all there in full with the right
values, that n and the recordings never go back, and that recordings read. Half-way the
writer is killed with SIGKILL: a second writer is refused while it lives
(:class:`~cldata.errors.StoreLockedError`), and the next one opens at once after its death
and carries on from the last commit.

The default suite runs it for ~3 s; ``-m slow`` runs it ten times in a row for 16 s each
(``CLDATA_CONCURRENCY_ROUNDS`` and ``CLDATA_CONCURRENCY_SECONDS`` change that).
"""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import cldata
from cldata.app.check import check_path
from cldata.errors import StoreLockedError
from cldata.format.simulate import simulate_recording

WORKERS = Path(__file__).with_name("concurrency_workers.py")
SLOW_ROUNDS = int(os.environ.get("CLDATA_CONCURRENCY_ROUNDS", "10"))
SLOW_SECONDS = float(os.environ.get("CLDATA_CONCURRENCY_SECONDS", "16"))


class Proc:
    """A worker process whose output lines are read by a thread as they come."""

    def __init__(self, *args: str):
        self.proc = subprocess.Popen([sys.executable, str(WORKERS), *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=WORKERS.parent)
        self.lines: queue.Queue = queue.Queue()
        self.records: list[tuple[str, dict]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, tag: str, timeout: float = 120) -> dict:
        """Wait for the next line tagged ``tag``; return its record."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                self.proc.kill()
                raise AssertionError(f"{tag} never came: {self.proc.stderr.read()[-3000:]}")
            name, _, rest = line.partition(" ")
            record = json.loads(rest) if rest else {}
            self.records.append((name, record))
            if name == tag:
                return record

    def send(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def drain(self) -> None:
        while True:
            try:
                line = self.lines.get(timeout=30)
            except queue.Empty:
                return
            if line is None:
                return
            name, _, rest = line.partition(" ")
            self.records.append((name, json.loads(rest) if rest else {}))

    def acked(self) -> int:
        return max((r["batch"] for name, r in self.records if name == "ACK"), default=0)


def committed_batches(root: Path) -> int:
    """The last batch in the store, checking that every batch up to it is complete and right."""
    import concurrency_workers as cw

    with cldata.open(root) as store:
        by_batch: dict[int, set[int]] = {}
        for r in store.filter(identifier=cw.IDENTIFIER).analysis_results:
            by_batch.setdefault(int(r.parameters["batch"]), set()).add(int(r.parameters["i"]))
            assert cw.value_right(r), r
        n = max(by_batch, default=0)
        assert by_batch == {b: set(range(cw.batch_size(b))) for b in range(1, n + 1)}
        for handle in store.recordings:
            handle.view().read_spikes(waveforms=False)
    return n


def run_one_writer_four_readers(tmp_path: Path, seconds: float, seed: int) -> list[dict]:
    rng = random.Random(seed)
    root, sources = tmp_path / "store", tmp_path / "sources"
    sources.mkdir()
    simulate_recording(sources / "first.h5", duration_s=0.2, seed=seed, samples=False)
    with cldata.open(root, mode="a") as store:
        store.add_recording(sources / "first.h5", {"culture": "first"})
    readers = [Proc("reader", str(root), str(seed * 10 + k)) for k in range(4)]
    first = Proc("writer", str(root), str(sources), str(seed))
    procs = [*readers, first]
    try:
        for p in readers:
            p.expect("READY")
        assert first.expect("READY") == {"start": 0}
        for p in procs:
            p.send("go")
        # phase 1: the first writer works; a second one is refused meanwhile
        time.sleep(seconds / 4)
        with pytest.raises(StoreLockedError, match="one writer"):
            cldata.open(root, mode="a")
        time.sleep(seconds / 4)
        # ... then dies at a random moment (often in the middle of a commit)
        first.expect("ACK", timeout=60)
        time.sleep(rng.choice([0.0, rng.uniform(0, 0.003), rng.uniform(0, 0.03)]))
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(timeout=60)
        first.drain()
        acked = first.acked()
        # the dead writer's lock is gone: the next writer opens at once and goes on from the last commit
        cldata.open(root, mode="a").close()
        second = Proc("writer", str(root), str(sources), str(seed + 1))
        procs.append(second)
        start = second.expect("READY")["start"]
        assert start in (acked, acked + 1), (start, acked)  # every acknowledged batch is there
        second.send("go")
        time.sleep(seconds / 2)
        second.send("stop")
        second.expect("DONE", timeout=60)
        assert second.proc.wait(timeout=60) == 0
        last = second.acked()
        assert last > start
        for p in readers:
            p.send("stop")
        results = [p.expect("RESULT", timeout=60) for p in readers]
        for p in readers:
            assert p.proc.wait(timeout=60) == 0
    finally:
        for p in procs:
            if p.proc.poll() is None:
                p.proc.kill()
                p.proc.wait()
    for r in results:
        assert r["errors"] == [], r["errors"]
        assert r["checks"] >= 2 and r["opens"] + r["refreshes"] == r["checks"], r
        assert r["max_n"] <= last, r
    assert max(r["distinct_n"] for r in results) >= 2, results  # the readers saw commits happen
    # the final state: every batch up to the last one, complete; check repairs what the kill left
    assert committed_batches(root) == last
    report = check_path(root, repair=True)
    assert report.healthy, str(report)
    print(f"writer killed after batch {acked}, next writer went on from {start} to {last}; readers: "
          f"{sum(r['checks'] for r in results)} checks ({sum(r['opens'] for r in results)} opens, "
          f"{sum(r['refreshes'] for r in results)} refreshes), {sum(r['values_checked'] for r in results)} values, "
          f"{sum(r['recordings_read'] for r in results)} recordings read, batches seen "
          f"{min(r['min_n'] for r in results)}..{max(r['max_n'] for r in results)}, 0 inconsistencies")
    return results


def test_one_writer_four_readers_briefly(tmp_path):
    run_one_writer_four_readers(tmp_path, seconds=3.0, seed=1)


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(SLOW_ROUNDS))
def test_one_writer_four_readers_sustained(tmp_path, round_):
    results = run_one_writer_four_readers(tmp_path, seconds=SLOW_SECONDS, seed=100 + round_)
    for r in results:
        assert r["checks"] >= 10 and r["distinct_n"] >= 3, r
