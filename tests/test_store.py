"""The DataStore beyond the conformance suite: the CL fixture, crashes, locks, hostile stores, export."""

from __future__ import annotations

import pickle
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import quantities as pq
import tables

import cldata
from cldata.backends.segment_ops import row_ops
from cldata.errors import (
    BrokenLinkError,
    ReadOnlyStoreError,
    StoreFormatError,
    StoreLockedError,
    UnsafeContentError,
)
from conftest import forge_checksums, forge_copy_locations

STORE_WRITER = Path(__file__).with_name("store_writer.py")


class _WritesAFile:
    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


@pytest.mark.parametrize("link", [False, True])
def test_the_cl_fixture_can_be_added_queried_and_read_as_a_segment(tmp_path, cl_fixture, cl_expected, link):
    with cldata.open(tmp_path / "store", mode="a") as store:
        rid = store.add_recording(cl_fixture, {"session_note": "fixture"}, link=link)
    store = cldata.open(tmp_path / "store")
    try:
        # user parameters, the file's application values and its root attributes all query
        for criteria in ({"culture": "C7"}, {"experiment": "pong"}, {"session_note": "fixture"},
                         {"application.session": 3}, {"frames_per_second": 25_000}):
            assert store.filter(**criteria).recording_ids == [rid], criteria
        assert store.filter(culture="C8").recording_ids == []
        rec = store.filter(culture="C7", rec_unique=True).recordings[0]
        assert rec.parameters["hostname"] == "cl-sdk" and rec.summary["spikes"] == 32
        assert (rec.path == cl_fixture.resolve()) is link
        seg = rec.segment(lazy=False)
        assert len(seg.spiketrains) == 64 and sum(len(st) for st in seg.spiketrains) == cl_expected["spikes"]["n"]
        assert seg.analogsignals[0].shape == (12_500, 64)
        assert seg.annotations["recording_id"] == rid
        score = store.data_streams["score"][rid]
        assert [[t, v] for t, v in score.items()][3] == cl_expected["data_streams"]["score"]["items"][3]
    finally:
        store.close()


def test_a_moved_linked_recording_raises_a_clear_error(tmp_path, small_recording):
    path, _ = small_recording
    with cldata.open(tmp_path / "store", mode="a") as store:
        rid = store.add_recording(path, link=True)
    moved = path.with_name("moved.h5")
    path.rename(moved)
    with cldata.open(tmp_path / "store") as store:
        assert store.recording_ids == [rid]  # the catalog does not need the file
        with pytest.raises(BrokenLinkError, match="small.h5"):
            store.recordings[0].view()


def _kill_store_writer(root: Path, backend: str, batch: int, recording: Path, acks: int, delay: float) -> int:
    proc = subprocess.Popen([sys.executable, str(STORE_WRITER), str(root), backend, str(batch), str(recording)],
                            stdout=subprocess.PIPE, text=True, cwd=STORE_WRITER.parent)
    last = -1
    try:
        for _ in range(acks):
            line = proc.stdout.readline()
            if not line:
                break
            last = int(line)
        time.sleep(delay)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        for line in proc.stdout.read().split():
            last = int(line)
        proc.stdout.close()
    return last


def _check_committed_batches(root: Path, last_acknowledged: int, batch: int) -> int:
    with cldata.open(root) as store:
        if last_acknowledged < 0:
            return 0
        assert len(store.recording_ids) == 1
        batches: dict[int, int] = {}
        for result in store.analysis_results:
            batches[result.parameters["batch"]] = batches.get(result.parameters["batch"], 0) + 1
        n = max(batches, default=0)
        # every acknowledged commit is there, complete; nothing half-committed is visible
        assert n >= last_acknowledged
        assert batches == {b: batch for b in range(1, n + 1)}
        sample = store.filter(batch=n, i=batch - 1, ads_unique=True).analysis_results[0]
        np.testing.assert_allclose(sample.values.magnitude, n + (batch - 1) / 1000.0)
        return n


@pytest.mark.parametrize("backend", ["hdf5", "pickle"])
def test_a_store_survives_sigkill_during_commits(tmp_path, small_recording, backend):
    path, _ = small_recording
    root = tmp_path / "store"
    rng = random.Random(backend)
    for _round in range(3):
        batch = rng.choice([1, 40, 400])
        last = _kill_store_writer(root, backend, batch, path, acks=rng.randint(1, 6), delay=rng.uniform(0, 0.05))
        # the next writer must not be blocked by the dead one's lock, and continues from the last commit
        n = _check_committed_batches(root, last, batch)
        with cldata.open(root, mode="a") as store:
            for r in [r for r in store.analysis_results]:
                store.remove_analysis_result(r.id)
        assert n >= 0


def test_one_writer_at_a_time_and_readers_keep_working(tmp_path, small_recording):
    path, _ = small_recording
    root = tmp_path / "store"
    writer = cldata.open(root, mode="a")
    try:
        rid = writer.add_recording(path)
        writer.commit()
        with pytest.raises(StoreLockedError, match="one writer"):
            cldata.open(root, mode="a")
        out = subprocess.run([sys.executable, "-c", f"import cldata; cldata.open({str(root)!r}, mode='a')"],
                             capture_output=True, text=True)
        assert out.returncode != 0 and "StoreLockedError" in out.stderr
        reader = cldata.open(root)
        writer.add_analysis_result(cldata.SingleValue("x", 1.0, sources=[rid]))
        assert reader.analysis_results == []  # not committed yet
        writer.commit()
        assert reader.analysis_results == []  # readers see the state they opened
        reader.refresh()
        assert [r.identifier for r in reader.analysis_results] == ["x"]
        with pytest.raises(ReadOnlyStoreError):
            reader.add_recording(path)
        reader.close()
    finally:
        writer.close()
    cldata.open(root, mode="a").close()  # the lock went with the writer


def test_opening_a_directory_that_is_not_a_store(tmp_path):
    with pytest.raises(StoreFormatError, match="not a cldata store"):
        cldata.open(tmp_path)
    (tmp_path / "data.txt").write_text("mine")
    with pytest.raises(StoreFormatError, match="not empty"):
        cldata.open(tmp_path, mode="a")
    assert (tmp_path / "data.txt").read_text() == "mine"


def test_a_store_opens_from_a_parameter_set_and_the_call_s_arguments_win(tmp_path):
    from parameters import ParameterSet

    root = tmp_path / "by-parameters"
    with pytest.raises(StoreFormatError):  # mode="r" given here wins over the parameters' default "a"
        cldata.open(ParameterSet({"root_directory": str(root)}), mode="r")
    assert not root.exists()  # a reader creates nothing
    params = ParameterSet({"root_directory": str(root), "options": ParameterSet({})})
    with cldata.open(params) as store:  # parameters default to mode "a"
        assert store.writable and store.root == root
    with cldata.DataStore.from_parameters(ParameterSet({"root_directory": str(root), "mode": "r"})) as store:
        assert not store.writable and len(store) == 0
    with cldata.open(ParameterSet({"root_directory": str(root), "mode": "a"}), mode="r") as store:
        assert not store.writable


def test_a_damaged_catalog_segment_is_detected(tmp_path, small_recording):
    root = tmp_path / "store"
    with cldata.open(root, mode="a", catalog="backend") as store:  # (a segment log: each segment has a CRC-32)
        store.add_recording(small_recording[0])
    segment = next((root / "catalog").glob("*.h5"))
    data = bytearray(segment.read_bytes())
    data[len(data) // 2] ^= 0xFF
    segment.write_bytes(bytes(data))
    with pytest.raises(StoreFormatError, match="checksum"):
        cldata.open(root)


def test_a_damaged_value_in_a_sqlite_catalog_is_detected(tmp_path):
    """SQLite checks its pages' structure, not their bytes: every entry and posting list carries a CRC-32
    (once a gap: a changed byte was served as it was, and check called the store healthy)."""
    from cldata.app.check import check_path

    root = tmp_path / "store"
    with cldata.open(root, mode="a") as store:
        store.add_analysis_result(cldata.SingleValue("rate", 1.0, parameters={"culture": "CULTUREX7"}))
    catalog = root / "catalog.sqlite"
    data = bytearray(catalog.read_bytes())
    data[data.find(b"CULTUREX7") + 8] ^= 0x0E  # "7" -> "9": one byte of a stored value, as a failing disk might
    catalog.write_bytes(bytes(data))
    report = check_path(root)
    assert not report.healthy, str(report)


def test_a_malicious_pickle_in_a_pickle_store_is_refused_and_runs_nothing(tmp_path, small_recording):
    path, _ = small_recording
    root = tmp_path / "store"
    # (the pickle backend's segment log; payloads planted in a SQLite store: test_hostile)
    with cldata.open(root, backend="pickle", mode="a", catalog="backend") as store:
        rid = store.add_recording(path)
        store.add_analysis_result(cldata.Data("x", value={"a": 1}, sources=[rid]))
    marker = tmp_path / "pwned"
    # an attacker rewrites the catalog segment ...
    segment = next((root / "catalog").glob("*.pickle"))
    records = row_ops(pickle.loads(segment.read_bytes()))
    records[0]["record"]["parameters"]["culture"] = _WritesAFile(marker)
    segment.write_bytes(pickle.dumps(records))
    forge_checksums(root)
    with pytest.raises(UnsafeContentError, match="builtins.open|io.open"):
        cldata.open(root)
    assert not marker.exists()
    # ... or hides the code in a payload
    records[0]["record"]["parameters"]["culture"] = "C7"
    records[1]["record"]["payload"] = {"inline": pickle.dumps({"value": _WritesAFile(marker)})}
    segment.write_bytes(pickle.dumps(records))
    forge_checksums(root)
    with cldata.open(root) as store:
        result = store.analysis_results[0]
        with pytest.raises(UnsafeContentError):
            result.payload()
    assert not marker.exists()


def test_a_malicious_attribute_in_an_hdf5_store_is_refused_and_runs_nothing(tmp_path, small_recording):
    path, _ = small_recording
    root = tmp_path / "store"
    with cldata.open(root, mode="a", catalog="backend") as store:  # (a segment log: HDF5 segments have attributes)
        store.add_recording(path)
    marker = tmp_path / "pwned"
    # in a catalog segment ...
    segment = next(p for p in (root / "catalog").glob("*.h5"))
    with tables.open_file(str(segment), "a") as f:
        f.root._v_attrs["note"] = {"x": _WritesAFile(marker)}
    forge_checksums(root)
    with pytest.raises(UnsafeContentError, match="note"):
        cldata.open(root)
    assert not marker.exists()
    with tables.open_file(str(segment), "a") as f:
        del f.root._v_attrs["note"]
    forge_checksums(root)
    # ... and in a recording the store keeps
    copy = next((root / "recordings").glob("*.h5"))
    with tables.open_file(str(copy), "a") as f:
        f.root.data_stream.score._v_attrs["application"] = _WritesAFile(marker)
    forge_copy_locations(root)
    with cldata.open(root) as store:
        with pytest.raises(UnsafeContentError, match="application"):
            store.recordings[0].view()
    assert not marker.exists()


def test_export_round_trip_resolves_links(tmp_path, small_recording, cl_fixture):
    path, written = small_recording
    root = tmp_path / "store"
    with cldata.open(root, mode="a") as store:
        a = store.add_recording(path, {"culture": "C1"})
        b = store.add_recording(cl_fixture, link=True)
        store.add_analysis_result(cldata.SingleValue("rate", 3.5 * pq.Hz, parameters={"w": 1}, sources=[a], tags=["t"]))
        big = cldata.TimeSeries("curve", times=np.arange(20_000) * pq.ms, values=np.random.default_rng(0).random(20_000) * pq.Hz,
                                sources=[b])
        store.add_analysis_result(big)
    with cldata.open(root) as store:
        out = store.export(tmp_path / "shared.h5")
        part = store.filter(culture="C1").export(tmp_path / "c1.h5")
        with pytest.raises(FileExistsError):
            store.export(out)
    path.unlink()  # the export needs nothing beside it
    with cldata.open(out) as shared:
        assert shared.recording_ids == [a, b]
        assert shared.filter(identifier="rate", ads_unique=True).analysis_results[0].value == 3.5 * pq.Hz
        curve = shared.filter(identifier="curve").analysis_results[0]
        np.testing.assert_array_equal(curve.values, big.values)
        rec = shared.recording(a)
        assert list(rec.data_streams["ball_position"].items()) == written["ball"]
        np.testing.assert_array_equal(rec.view().read_samples(), written["samples"])
        assert shared.recording(b).view().attributes.application["culture"] == "C7"
        with pytest.raises(ReadOnlyStoreError):
            shared.add_recording(cl_fixture)
    with cldata.RecordingView(out, group=f"/recordings/{a}") as view:
        assert len(view.data_streams["score"]) == 4
    with cldata.open(part) as only_c1:
        assert only_c1.recording_ids == [a] and len(only_c1.analysis_results) == 1
    with pytest.raises(ReadOnlyStoreError):
        cldata.open(out, mode="a")


def test_an_export_killed_half_way_leaves_nothing_after_the_next_export(tmp_path):
    """SIGKILL an exporting process while its temporary exists: the target is untouched, and
    the next export to the same path removes what the killed one left (a live export's
    temporary, here our own, is kept)."""
    from cldata.core.fsutil import temporary_beside
    from cldata.format.simulate import simulate_recording

    root = tmp_path / "store"
    with cldata.open(root, mode="a") as store:
        for i in range(6):
            simulate_recording(tmp_path / f"r{i}.h5", duration_s=2.0, seed=i)
            store.add_recording(tmp_path / f"r{i}.h5", parameters={"i": i})
    target = tmp_path / "out" / "shared.h5"
    target.parent.mkdir()
    code = f"import cldata\nwith cldata.open({str(root)!r}) as s:\n    s.export({str(target)!r})\n"
    for _attempt in range(20):
        child = subprocess.Popen([sys.executable, "-c", code])
        deadline = time.monotonic() + 60
        while child.poll() is None and time.monotonic() < deadline:
            if any(p.name.startswith(".shared.h5.tmp-") for p in target.parent.iterdir()):
                child.send_signal(signal.SIGKILL)
                break
            time.sleep(0.001)
        child.wait()
        if child.returncode == -signal.SIGKILL:
            break
        target.unlink(missing_ok=True)  # the export finished before it could be killed: again
    else:
        pytest.skip("every export finished before it could be killed")
    assert not target.exists()
    left = [p for p in target.parent.iterdir() if p.name.startswith(".shared.h5.tmp-")]
    assert left
    ours = temporary_beside(target)
    ours.write_bytes(b"being written")
    with cldata.open(root) as store:
        store.export(target)
    assert sorted(target.parent.iterdir()) == sorted([target, ours])
    with cldata.open(target) as shared:
        assert len(shared.recordings) == 6
