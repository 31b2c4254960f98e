"""Crash torture: writers of every kind killed with SIGKILL at random moments (``tools/torture.py``).

The default suite runs ten kills (two of each kind: recording flushes, recordings added to a
store, results added/replaced/removed, a batch run, an export); ``-m slow`` runs the issue's
200 kills through the script itself. After every kill the store must open, ``cldata check``
must call it healthy (or repair it and then call it healthy), every acknowledged write must
be there with exactly its values, nothing written in part may be visible, and the next
writer must get the lock. The tests at the end guard the bugs the torture found (fixed).
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import quantities as pq

import cldata
from cldata.app.check import check_path
from cldata.core.locking import FileLock
from cldata.format.journal import MAGIC, journal_path
from cldata.format.simulate import simulate_recording
from conftest import committed_generation

SCRIPT = Path(__file__).resolve().parents[1] / "tools" / "torture.py"


def _load_torture():
    spec = importlib.util.spec_from_file_location("cldata_torture", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


torture = _load_torture()


def assert_no_failures(summary: dict, known_bugs_allowed: bool = True) -> None:
    """Every failure count is 0 (those of known, unfixed bugs aside: tools/torture.py lists them)."""
    counts = {k: summary[k] for k in torture.FAILURE_COUNTS
              if not (known_bugs_allowed and k in torture.KNOWN_BUGS)}
    assert not any(counts.values()), torture.format_summary(summary)
    assert summary["done_criterion_met"], torture.format_summary(summary)


def test_ten_kills_of_every_kind_lose_nothing(tmp_path):
    summary = torture.Torture(tmp_path / "torture", seed=20240611, processes_share=0).run(10)
    assert summary["kills"] == 10
    assert set(summary["kills_per_kind"]) == set(torture.KINDS), summary["kills_per_kind"]
    assert summary["acknowledged_writes"] > 0
    assert_no_failures(summary)


@pytest.mark.slow
def test_two_hundred_kills_with_the_script(tmp_path):
    out = tmp_path / "summary.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--kills", "200", "--seed", "7", "--dir", str(tmp_path / "t"),
                           "--json", str(out), "--quiet"], capture_output=True, text=True, timeout=3600)
    assert out.exists(), proc.stdout + proc.stderr
    summary = json.loads(out.read_text())
    print(proc.stdout)
    assert summary["kills"] >= 200
    assert all(summary["kills_per_kind"].get(k, 0) >= 30 for k in torture.KINDS), summary["kills_per_kind"]
    assert summary["unreadable_stores"] == 0 and summary["lost_acknowledged_writes"] == 0, proc.stdout
    assert_no_failures(summary)
    assert "done criterion (0 unreadable stores, 0 lost acknowledged writes): met" in proc.stdout


# -- bugs the torture found ---------------------------------------------------------------------


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_killed_batch_run_leaves_no_worker_processes(tmp_path):
    root = tmp_path / "store"
    with cldata.open(root, mode="a") as store:
        for k in range(4):
            src = tmp_path / f"d{k}.h5"
            simulate_recording(src, duration_s=2.0, seed=k, samples=False)
            store.add_recording(src, {"culture": "D"})
    param = tmp_path / "run.param"
    param.write_text(torture.BATCH_PARAM % {"root": root})
    start = committed_generation(root)
    proc = subprocess.Popen([sys.executable, "-m", "cldata.app.cli", "run", str(param), "--no-progress",
                             "--executor", "processes", "--workers", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while committed_generation(root) == start:  # the workers are computing
            assert proc.poll() is None and time.monotonic() < deadline, "the run did not start"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)  # the run's own process, as `kill -9 <pid>` would
        proc.wait(timeout=60)
        deadline = time.monotonic() + 3
        while _group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        survivors = _group_alive(proc.pid)
        readers = FileLock(root / ".readers")
        free = readers.acquire(exclusive=True)
        readers.release()
        assert not survivors, "worker processes of the killed run are still running"
        assert free, "the killed run's workers still hold the store's reader lock"
    finally:
        if _group_alive(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)


def test_check_repairs_a_recording_killed_before_it_existed(tmp_path):
    # exactly what the torture's kill left (round 33 of seed 7: "8 bytes of an unfinished last write")
    path = tmp_path / "rec.h5"
    journal_path(path).write_bytes(MAGIC)
    assert not check_path(path).healthy  # an orphaned journal: reported
    report = check_path(path, repair=True)
    assert not journal_path(path).exists()
    assert report.healthy, str(report)


def test_a_writer_that_dies_of_an_exception_commits_nothing(tmp_path):
    src = tmp_path / "src.h5"
    simulate_recording(src, duration_s=0.05, samples=False)
    root = tmp_path / "store"
    with cldata.open(root, mode="a") as store:
        store.add_recording(src)
    script = f"""
import cldata
store = cldata.open({str(root)!r}, mode="a")
rid = store.recording_ids[0]
store.add_analysis_result(cldata.SingleValue("first_half", 1.0, sources=[rid]))
raise RuntimeError("the second half of the change failed")
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "second half" in proc.stderr
    with cldata.open(root) as store:
        assert store.analysis_results == [], "a change that was never committed became durable"


def test_payload_files_reach_the_disk_before_the_commit_returns(tmp_path, monkeypatch):
    src = tmp_path / "src.h5"
    simulate_recording(src, duration_s=0.05, samples=False)
    store = cldata.open(tmp_path / "store", mode="a")
    try:
        rid = store.add_recording(src)
        store.commit()
        big = cldata.TimeSeries("big", times=np.arange(9000) * pq.ms, values=np.ones(9000) * pq.Hz, sources=[rid])
        store.add_analysis_result(big)
        synced: set[tuple[int, int]] = set()
        real_fsync = os.fsync

        def fsync(fd: int) -> None:  # records what is synced, and syncs it
            st = os.fstat(fd)
            synced.add((st.st_dev, st.st_ino))
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", fsync)
        store.commit()
        monkeypatch.undo()
        payload_files = list((tmp_path / "store" / "payloads").iterdir())
        assert payload_files, "the big payload should be in a payload file"
        for p in payload_files:
            st = p.stat()
            assert (st.st_dev, st.st_ino) in synced, f"{p.name} was never fsynced before commit() returned"
    finally:
        store.close()
