"""`cldata check`: healthy stores pass; each kind of damage is reported in plain words; repair works."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import quantities as pq

import cldata
from cldata.app.check import check_path
from cldata.format.journal import journal_path


def make_store(tmp_path, small_recording, other_recording):
    path, _ = small_recording
    root = tmp_path / "store"
    with cldata.open(root, mode="a") as store:
        a = store.add_recording(path)
        linked = tmp_path / "linked.h5"
        linked.write_bytes(other_recording.read_bytes())
        b = store.add_recording(linked, link=True)
        store.add_analysis_result(cldata.SingleValue("x", 1.0 * pq.Hz, sources=[a]))
        store.add_analysis_result(cldata.Data("big", {"v": np.arange(20_000)}, sources=[b]))
    return root, a, b, linked


def test_a_healthy_store_and_recording(tmp_path, small_recording, other_recording):
    root, *_ = make_store(tmp_path, small_recording, other_recording)
    report = check_path(root)
    assert report.healthy, str(report)
    assert "healthy — checked 2 recordings, 2 results and " in str(report)
    assert check_path(other_recording).healthy


def test_damage_is_reported_in_plain_words(tmp_path, small_recording, other_recording):
    root, a, b, linked = make_store(tmp_path, small_recording, other_recording)
    copy = root / "recordings" / f"{a}.h5"
    data = bytearray(copy.read_bytes())
    data[-1000] ^= 0xFF
    copy.write_bytes(bytes(data))
    linked.rename(linked.with_name("moved.h5"))
    next((root / "payloads").iterdir()).unlink()
    (root / "payloads" / "00000009-deadbeef.h5").write_bytes(b"left over")
    report = check_path(root)
    text = str(report)
    assert not report.healthy
    assert f"recording {a}: the store's copy" in text and "checksum" in text
    assert f"recording {b}" in text and "linked.h5" in text and "missing" in text
    assert "result" in text and "payload cannot be read" in text
    assert "left over from interrupted commits" in text
    fixed = check_path(root, repair=True)
    assert not (root / "payloads" / "00000009-deadbeef.h5").exists()
    assert any(p.repaired for p in fixed.problems) and not fixed.healthy  # broken data stays reported


def test_an_orphaned_journal_is_reported_and_repaired(tmp_path):
    path = tmp_path / "dead.h5"
    proc = subprocess.run([sys.executable, "-c", f"""
import os, cldata
w = cldata.RecordingWriter({str(path)!r})
w.create_data_stream("s").extend(range(100), list(range(100)))
w.flush()
os._exit(0)  # dies without closing, like a crash
"""], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    report = check_path(path)
    assert not report.healthy and "writer died" in str(report)
    repaired = check_path(path, repair=True)
    assert repaired.healthy and "REPAIRED" in str(repaired)
    assert not journal_path(path).exists()
    with cldata.RecordingView(path) as rec:
        assert list(rec.data_streams["s"].keys()) == list(range(100))


def test_the_command_line(tmp_path, small_recording, other_recording):
    root, *_ = make_store(tmp_path, small_recording, other_recording)
    ok = subprocess.run([sys.executable, "-m", "cldata.app.cli", "check", str(root)], capture_output=True, text=True)
    assert ok.returncode == 0 and "healthy" in ok.stdout
    (tmp_path / "linked.h5").unlink()
    bad = subprocess.run([sys.executable, "-m", "cldata.app.cli", "check", str(root)], capture_output=True, text=True)
    assert bad.returncode == 1 and "linked.h5" in bad.stdout


def test_repair_removes_what_a_killed_migration_or_creation_left_in_a_sqlite_store(tmp_path, small_recording):
    """Once: repairing the leftovers of a SQLite store read the segment log (backend.load()) and failed with
    'has no catalog'. A killed migration leaves the old segments, a killed creation a temporary catalog."""
    root = tmp_path / "store"
    with cldata.open(root, mode="a") as store:
        store.add_recording(small_recording[0])
    (root / "catalog").mkdir()
    segment = root / "catalog" / "00000001-deadbeef.h5"
    segment.write_bytes(b"an old segment")
    temporary = root / ".catalog.sqlite.tmp-host-1-abc"
    temporary.write_bytes(b"half a catalog")
    report = check_path(root)
    assert not report.healthy and "left over" in str(report), str(report)
    repaired = check_path(root, repair=True)
    assert all(p.repaired for p in repaired.problems), str(repaired)
    assert not segment.exists() and not temporary.exists()
    assert check_path(root).healthy
    with cldata.open(root) as store:
        assert len(store.recordings) == 1
