"""Hostile paths, links, read-only stores, races and odd files (issue 10, findings 3, 4, 11 and 12).

Each test crafts a store (or a recording directory) the way an attacker, a careless copy or
an unlucky moment would, then proves what must hold:

- **nothing outside is written**: a canary file outside the store keeps its hash, and the
  listing of the directory around the store is unchanged (lock files aside);
- **the store still works**: it opens after the commit that met the planted file, with the
  data it should hold;
- **a read-only store writes nothing inside its directory**: every file's content hash and
  modification time are the same before and after (overviews are built in the user cache,
  here ``XDG_CACHE_HOME`` under ``tmp_path``);
- **odd files fail fast**: a FIFO where a regular file is expected is refused with a cldata
  error instead of blocking the reader; each such case runs in a child process with a
  timeout, so a regression hangs the child, not the suite;
- **races end well**: processes racing to create the same store each end in a store or in
  ``StoreLockedError``, never anything else.

Once (the bugs these tests pin, all fixed): a normal commit overwrote a file outside the store
through a symbolic link planted at ``catalog/.CURRENT.tmp-<pid>`` and left ``CURRENT`` a link;
a catalog id ``/abs/path`` made ``overview()`` on a read-only store create an HDF5 file at
that path; ``check --repair`` followed a journal symlink and replaced an intact copy with
another recording; a read-only store replaced its own overview file; a linked recording
rewritten in place was served silently; 13 of 30 creation races ended in
``StoreFormatError``; a FIFO planted as ``cldata-store.json`` made ``cldata.open`` hang.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import stat
import struct
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from test_hostile import listing, make_store, rewrite_records, write_recording

import cldata
from cldata.app.check import check_path
from cldata.core.fsutil import HOST_TAG as _HOST
from cldata.core.fsutil import atomic_write_bytes, create_new, new_temporary, read_regular_bytes
from cldata.errors import (
    BrokenLinkError,
    ChangedLinkError,
    CldataError,
    CorruptRecordingError,
    StoreFormatError,
)
from cldata.format.codec import encode
from cldata.format.journal import MAGIC, journal_path, journal_state, read_journal
from cldata.format.writer import attrs_from_journal, attrs_to_journal
from conftest import CATALOGS

# --- helpers ---------------------------------------------------------------------------------------------------


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def state_of(root: Path) -> dict[str, tuple]:
    """Every entry under ``root`` with its kind, content hash (or link target) and modification time."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                out[str(path.relative_to(root))] = ("link", os.readlink(path))
            elif stat.S_ISREG(st.st_mode):
                out[str(path.relative_to(root))] = ("file", sha(path), st.st_mtime_ns)
            else:
                out[str(path.relative_to(root))] = ("other", stat.S_IFMT(st.st_mode))
    return out


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """The user cache of this test (overviews of read-only stores are built there)."""
    path = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(path))
    return path


@pytest.fixture
def rec(tmp_path) -> Path:
    return write_recording(tmp_path / "rec.h5")


@pytest.fixture
def canary(tmp_path) -> Path:
    path = tmp_path / "outside" / "canary.txt"
    path.parent.mkdir()
    path.write_text("somebody's data, outside the store")
    return path


def fixed_random(monkeypatch, value: str = "a") -> None:
    """Make every random name cldata draws predictable, as if an attacker had guessed it."""
    monkeypatch.setattr(secrets, "token_hex", lambda n=32: value * (2 * n))


def rewrite_recording_in_place(path: Path, culture: str = "C9") -> None:
    other = path.with_name("other-content.h5")
    with cldata.RecordingWriter(other, attributes={"culture": culture}, channel_count=4, durable=False) as w:
        w.append_spikes(np.arange(10, 60), np.zeros(50, np.uint8), np.zeros((50, 75), np.float32))
        w.append_samples(np.ones((80, 4), np.int16))
    path.write_bytes(other.read_bytes())
    other.unlink()


def run_child(code: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter; a hang fails the test instead of hanging the suite."""
    try:
        return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the child hung (a FIFO or a lock waited on?): {exc.stdout!r:.500} {exc.stderr!r:.500}")


# --- 3. atomic writes and temporaries never follow planted links ---------------------------------------------------


@pytest.mark.parametrize("backend", ["hdf5", "pickle"])
@pytest.mark.parametrize("catalog", CATALOGS)
def test_links_planted_at_the_old_predictable_temporary_names_are_not_followed(backend, catalog, tmp_path, rec,
                                                                               canary):
    """Once: atomic_write_bytes wrote ``.CURRENT.tmp-<pid>`` / ``.cldata-store.json.tmp-<pid>`` with plain
    open(): a link planted there made a commit overwrite a file outside the store and left CURRENT a link.
    (The links are planted once the store is open: opening for writing cleans up the catalog directory. A
    SQLite catalog has no CURRENT: only the marker's temporary is planted there.)"""
    root = make_store(tmp_path, rec, backend, catalog=catalog)
    before, outside = sha(canary), listing(canary.parent)
    os.symlink(canary, root / f".cldata-store.json.tmp-{os.getpid()}")
    with cldata.open(root, mode="a", catalog=catalog) as store:
        if catalog == "backend":
            os.symlink(canary, root / "catalog" / f".CURRENT.tmp-{os.getpid()}")
        rid = store.recording_ids[0]
        store.add_analysis_result(cldata.SingleValue("after", 2.0, sources=[rid]))
    with cldata.open(root, mode="w", backend=backend, catalog=catalog) as store:  # writes the marker again
        if catalog == "backend":
            os.symlink(canary, root / "catalog" / f".CURRENT.tmp-{os.getpid()}")
        store.add_recording(rec)
    assert sha(canary) == before and listing(canary.parent) == outside
    if catalog == "backend":
        assert (root / "catalog" / "CURRENT").is_file() and not (root / "catalog" / "CURRENT").is_symlink()
    assert not (root / "cldata-store.json").is_symlink()
    with cldata.open(root) as store:
        assert len(store.recordings) == 1 and len(store.recordings[0].view().spikes) == 2
    assert check_path(root).healthy


PLANTED = {
    # where a link is planted, at the name cldata draws when its random part is guessed ("a" * n)
    "CURRENT temporary": lambda root, rid: root / "catalog" / f".CURRENT.tmp-{_HOST}-{os.getpid()}-{'a' * 16}",
    "catalog segment": lambda root, rid: root / "catalog" / f"00000002-{'a' * 8}.h5",
    "payload file": lambda root, rid: root / "payloads" / f"00000002-{'a' * 8}.h5",
    "overview temporary": lambda root, rid: root / "overviews" / f".{rid}.h5.tmp-{_HOST}-{os.getpid()}-{'a' * 16}",
}


@pytest.mark.parametrize("where", list(PLANTED))
def test_links_planted_at_guessed_random_temporary_names_are_not_followed(where, tmp_path, rec, canary, monkeypatch):
    """Random names cannot be guessed; but even a link planted at the exact name is never written through:
    every file cldata writes is created with O_CREAT|O_EXCL|O_NOFOLLOW (or its name checked to be free
    first, for the files PyTables opens by name). The commit then uses another name or fails; it never
    writes outside, and the store opens with its last commit."""
    root = make_store(tmp_path, rec, big_payload=True)  # generation 1: the next segment and payload file are 2
    before, outside = sha(canary), listing(canary.parent)
    try:
        with cldata.open(root, mode="a") as store:
            rid = store.recording_ids[0]
            (root / "overviews" / f"{rid}.h5").unlink()  # overview() builds it again
            planted = PLANTED[where](root, rid)
            os.symlink(canary, planted)
            fixed_random(monkeypatch)
            store.add_analysis_result(cldata.Data("big2", {"v": np.arange(20_000.0)}, sources=[rid]))
            store.recordings[0].overview(width=10)
            store.commit()
    except (CldataError, OSError):
        pass  # refusing is fine; writing through the link is not
    monkeypatch.undo()
    assert sha(canary) == before and listing(canary.parent) == outside
    with cldata.open(root) as store:
        assert {r.identifier for r in store.analysis_results} in ({"d", "big"}, {"d", "big", "big2"})
        assert len(store.recordings[0].view().spikes) == 2


def test_a_recording_copy_never_writes_through_a_link_at_its_temporary_name(tmp_path, rec, canary, monkeypatch):
    """put_recording copies into a temporary created exclusively: a link at that exact name makes the add fail
    (and leaves the store as it was), never writes through it."""
    root = make_store(tmp_path, rec)
    other = write_recording(tmp_path / "other.h5", culture="C8")
    before = sha(canary)
    fixed_random(monkeypatch)
    with cldata.open(root, mode="a") as store:
        # the id is known before the copy: plant the link at the copy's temporary name
        real_put = store.backend.put_recording

        def put(recording_id, source, link):
            os.symlink(canary, root / "recordings" / f".{recording_id}.h5.tmp-{_HOST}-{os.getpid()}-{'a' * 16}")
            return real_put(recording_id, source, link)

        store.backend.put_recording = put
        with pytest.raises(FileExistsError):
            store.add_recording(other)
    assert sha(canary) == before
    with cldata.open(root) as store:
        assert len(store.recordings) == 1


def test_an_export_never_writes_through_a_link_at_its_temporary_name(tmp_path, rec, canary, monkeypatch):
    root = make_store(tmp_path, rec)
    target = tmp_path / "out" / "shared.h5"
    target.parent.mkdir()
    os.symlink(canary, target.parent / f".shared.h5.tmp-{_HOST}-{os.getpid()}-{'a' * 16}")
    before = sha(canary)
    fixed_random(monkeypatch)
    with cldata.open(root) as store, pytest.raises(FileExistsError):
        store.export(target)
    monkeypatch.undo()
    assert sha(canary) == before and not target.exists()
    with cldata.open(root) as store:
        store.export(target)  # with a fresh random name it works
    assert sha(canary) == before
    with cldata.open(target) as shared:
        assert len(shared.recordings) == 1


def test_the_shared_helpers_create_exclusively_and_never_follow(tmp_path, canary, monkeypatch):
    before = sha(canary)
    link = tmp_path / "link"
    os.symlink(canary, link)
    with pytest.raises(FileExistsError):
        create_new(link)
    os.symlink(tmp_path / "dangling-target", tmp_path / "dangling")
    with pytest.raises(FileExistsError):
        create_new(tmp_path / "dangling")
    assert not (tmp_path / "dangling-target").exists()
    # a taken random name is skipped: the next draw is used
    draws = iter(["a" * 16, "b" * 16])
    monkeypatch.setattr(secrets, "token_hex", lambda n=32: next(draws))
    target = tmp_path / "data.bin"
    os.symlink(canary, tmp_path / f".data.bin.tmp-{_HOST}-{os.getpid()}-{'a' * 16}")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new" and not target.is_symlink() and sha(canary) == before
    draws = iter(["a" * 16, "c" * 16])
    tmp = new_temporary(target)
    assert tmp.name.endswith("c" * 16) and tmp.is_file() and not tmp.is_symlink()
    # a link at the target itself is replaced, not followed
    os.symlink(canary, tmp_path / "current")
    monkeypatch.undo()
    atomic_write_bytes(tmp_path / "current", b"x")
    assert not (tmp_path / "current").is_symlink() and sha(canary) == before
    with pytest.raises(OSError):
        read_regular_bytes(link)


# --- 3. hostile record ids -----------------------------------------------------------------------------------------

HOSTILE_IDS = ["/ABSOLUTE/planted", "../../x", "../outside/x", "a/b", ".hidden", "", "x" * 300, "rec\x00",
               "..", "rec_1.h5", "rec_1\\..\\x", " rec"]


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
@pytest.mark.parametrize("backend", ["hdf5", "pickle"])
@pytest.mark.parametrize("mode", ["r", "a"])
@pytest.mark.parametrize("catalog", CATALOGS)
def test_a_catalog_id_that_is_a_path_is_refused_and_creates_nothing(hostile, backend, mode, catalog, tmp_path, rec,
                                                                    cache):
    """Once: a recording id such as ``/abs/path`` or ``../../x`` made overview() on a read-only store create an
    HDF5 file at that path (the cache path was built without the inside check). Ids read from a catalog must
    be plain names; any other refuses the store, before any path is made from it. (Opened for writing, a
    segment-log store migrates first: the migration refuses it as well.)"""
    root = make_store(tmp_path, rec, backend, catalog=catalog)
    shutil.rmtree(root / "overviews", ignore_errors=True)
    hostile = hostile.replace("/ABSOLUTE", str(tmp_path))

    def edit(records):
        recording = next(r for r in records if r["kind"] == "recording")
        for r in records:
            if r["kind"] == "result":
                r["sources"] = [hostile]
        recording["id"] = hostile

    rewrite_records(root, edit)
    files = listing(tmp_path)
    with pytest.raises(StoreFormatError, match="not a plain name"):
        with cldata.open(root, mode=mode) as store:
            for recording in store.recordings:
                recording.overview(width=10)
                recording.spike_activity(width=10)
    report = check_path(root)
    assert not report.healthy and "not a plain name" in str(report)
    assert listing(tmp_path) == files
    assert not cache.exists() or not any(cache.rglob("*.h5"))


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
@pytest.mark.parametrize("mode", ["r", "a"])
def test_overview_paths_are_made_from_plain_ids_only(hostile, mode, tmp_path, rec, cache):
    """The one check every overview path goes through (in the store and in the cache)."""
    root = make_store(tmp_path, rec)
    hostile = hostile.replace("/ABSOLUTE", str(tmp_path))
    with cldata.open(root, mode=mode) as store:
        for method in (store.overview_path, store.overview_build_path):
            with pytest.raises(StoreFormatError):
                method(hostile)
        rid = store.recording_ids[0]
        for path in (store.overview_path(rid), store.overview_build_path(rid)):
            assert path.parent in (root / "overviews", cldata.store.layout.cache_dir(root))
            assert path.parent == (root / "overviews" if mode == "a" else cldata.store.layout.cache_dir(root)) \
                or path == root / "overviews" / f"{rid}.h5"


def test_ids_the_store_makes_are_plain_names(tmp_path, rec):
    from cldata.model.entries import is_record_id

    root = make_store(tmp_path, rec)
    with cldata.open(root) as store:
        assert all(is_record_id(i) for i in store.recording_ids)
        assert all(is_record_id(r.id) for r in store.analysis_results)
    assert is_record_id("rec-0123456789abcdef")  # the form of earlier versions still opens


# --- 4. check --repair and planted journals ------------------------------------------------------------------------


def dead_writer(path: Path) -> Path:
    """A recording whose writer died after one flush: ``path`` and its orphaned journal."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import os, cldata
        w = cldata.RecordingWriter({str(path)!r}, channel_count=4)
        w.create_data_stream("s").extend(range(10), list(range(10)))
        w.flush()
        os._exit(0)
    """)], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.returncode == 0, proc.stderr
    assert journal_state(path) == "orphan"
    return journal_path(path)


def test_check_repair_never_follows_a_journal_symlink_beside_a_copy(tmp_path, rec):
    """Once: a symlink ``recordings/<id>.h5.journal`` to another recording's journal made check report an
    orphaned journal, and --repair replaced the intact, checksummed copy with the other recording, reporting
    "healthy after 1 repair"."""
    root = make_store(tmp_path, rec)
    (tmp_path / "other").mkdir()
    foreign = dead_writer(tmp_path / "other" / "dead.h5")
    with cldata.open(root) as store:
        rid = store.recording_ids[0]
    copy = root / "recordings" / f"{rid}.h5"
    before, foreign_before = sha(copy), sha(foreign)
    os.symlink(foreign, journal_path(copy))
    report = check_path(root)
    assert not report.healthy and "symbolic link" in str(report)
    repaired = check_path(root, repair=True)
    assert not repaired.healthy and "symbolic link" in str(repaired), str(repaired)
    assert "recovered" not in str(repaired)
    assert sha(copy) == before and sha(foreign) == foreign_before
    assert not os.path.lexists(journal_path(copy))  # the planted entry is removed, its target kept
    assert check_path(root).healthy
    with cldata.open(root) as store:
        assert len(store.recordings[0].view().spikes) == 2


def test_a_stray_journal_beside_a_copy_is_removed_never_recovered(tmp_path, rec):
    """A store's copy is a finished recording: a journal file beside it (another recording's, copied there)
    is a stray file. Repair removes it; the copy stays byte-identical."""
    root = make_store(tmp_path, rec)
    (tmp_path / "other").mkdir()
    foreign = dead_writer(tmp_path / "other" / "dead.h5")
    with cldata.open(root) as store:
        rid = store.recording_ids[0]
    copy = root / "recordings" / f"{rid}.h5"
    before = sha(copy)
    shutil.copy(foreign, journal_path(copy))
    report = check_path(root)
    assert not report.healthy and "stray" in str(report)
    repaired = check_path(root, repair=True)
    assert repaired.healthy and "recovered" not in str(repaired), str(repaired)
    assert sha(copy) == before and not journal_path(copy).exists()


def test_a_journal_of_another_recording_is_not_recovered_over_a_recording(tmp_path, rec):
    """For a plain recording path the journal must name the recording it was written for."""
    (tmp_path / "other").mkdir()
    foreign = dead_writer(tmp_path / "other" / "dead.h5")
    before = sha(rec)
    shutil.copy(foreign, journal_path(rec))
    repaired = check_path(rec, repair=True)
    assert not repaired.healthy and "dead.h5" in str(repaired) and "not used" in str(repaired)
    assert sha(rec) == before and journal_path(rec).exists()
    with pytest.raises(CorruptRecordingError, match="written for a recording named"):
        cldata.recover(rec)
    assert sha(rec) == before


def test_a_journal_that_is_a_symlink_beside_a_recording_is_reported_not_used(tmp_path, rec):
    (tmp_path / "other").mkdir()
    foreign = dead_writer(tmp_path / "other" / "dead.h5")
    before, foreign_before = sha(rec), sha(foreign)
    os.symlink(foreign, journal_path(rec))
    assert journal_state(rec) == "invalid"
    repaired = check_path(rec, repair=True)
    assert not repaired.healthy and "symbolic link" in str(repaired)
    with pytest.raises(CorruptRecordingError, match="not a regular file"):
        cldata.recover(rec)
    assert sha(rec) == before and sha(foreign) == foreign_before
    with cldata.RecordingView(rec) as view:  # the recording itself is read as it is
        assert len(view.spikes) == 2


def test_journals_without_the_recording_name_still_recover(tmp_path):
    """Journals written before the open record named its file: recovered as before (the file's creation time
    is compared when it opens), and one whose creation time differs from the file's is refused."""
    path = tmp_path / "old.h5"
    jpath = dead_writer(path)
    records = read_journal(jpath)
    assert records[0]["file"] == "old.h5"
    del records[0]["file"]

    def write_journal(records):
        jpath.unlink(missing_ok=True)
        with open(jpath, "wb") as f:
            f.write(MAGIC)
            for record in records:
                payload = encode(record)
                f.write(struct.pack("<II", len(payload), zlib.crc32(payload)))
                f.write(payload)

    write_journal(records)
    report = cldata.recover(path)
    assert report.recovered and report.entries == {"s": 10}
    with cldata.RecordingView(path) as view:
        assert list(view.data_streams["s"].keys()) == list(range(10))
    # an old journal beside a (readable) recording created at another time is not this recording's
    root = attrs_from_journal(records[0]["root"])
    root["created_utc"] = "1999-01-01T00:00:00+00:00"
    write_journal([{**records[0], "root": attrs_to_journal(root)}, *records[1:]])
    before = sha(path)
    with pytest.raises(CorruptRecordingError, match="created at"):
        cldata.recover(path)
    assert sha(path) == before


def test_recovery_never_writes_through_a_link_beside_the_recording(tmp_path, canary):
    """The old recovery temporary ``<name>.recovering`` had a predictable name, opened by PyTables: a link
    planted there was written through."""
    path = tmp_path / "dead.h5"
    dead_writer(path)
    os.symlink(canary, path.with_name(path.name + ".recovering"))
    before = sha(canary)
    assert cldata.recover(path).recovered
    assert sha(canary) == before
    with cldata.RecordingView(path) as view:
        assert len(view.data_streams["s"]) == 10


# --- 11. read-only is read-only; links that change --------------------------------------------------------------


@pytest.fixture
def linked_store(tmp_path, cache):
    linked = write_recording(tmp_path / "linked.h5")
    root = tmp_path / "store"
    with cldata.open(root, mode="a") as store:
        rid = store.add_recording(linked, link=True)
        store.add_analysis_result(cldata.SingleValue("x", 1.0, sources=[rid]))
    assert (root / "overviews" / f"{rid}.h5").is_file()
    return root, rid, linked


def test_a_read_only_store_with_a_changed_link_writes_nothing_inside(linked_store):
    """Once: a store opened with mode="r" replaced overviews/<id>.h5 inside the store when a linked source
    changed; and the changed recording was served silently (the catalog said one thing, reads gave another)."""
    root, rid, linked = linked_store
    rewrite_recording_in_place(linked)
    before = state_of(root)
    with cldata.open(root) as store:
        recording = store.recordings[0]
        for call in (recording.view, lambda: recording.overview(width=10), lambda: recording.spike_activity(width=10)):
            with pytest.raises(ChangedLinkError, match="changed since it was added") as info:
                call()
            assert isinstance(info.value, BrokenLinkError)
            assert "replace=True" in str(info.value) and "cldata check" in str(info.value)
        with pytest.raises(ChangedLinkError):
            store.export(root.parent / "shared.h5")  # never exports content the catalog does not describe
    assert state_of(root) == before and not (root.parent / "shared.h5").exists()
    with cldata.open(root, mode="a") as store, pytest.raises(ChangedLinkError):
        store.recordings[0].view()
    report = check_path(root, repair=True)
    assert not report.healthy and "changed since it was added" in str(report)


def test_a_read_only_store_builds_a_stale_or_damaged_overview_into_the_cache(linked_store, cache):
    """The in-store overview is only read by a read-only store: one that is damaged is rebuilt in the cache."""
    root, rid, linked = linked_store
    (root / "overviews" / f"{rid}.h5").write_bytes(b"not an overview")
    before = state_of(root)
    with cldata.open(root) as store:
        envelope = store.recordings[0].overview(width=10)
        counts = store.recordings[0].spike_activity(width=10)
    assert envelope is not None and counts is not None
    assert state_of(root) == before
    assert list(cache.rglob(f"{rid}.h5"))
    with cldata.open(root, mode="a") as store:  # a writer repairs its own
        store.recordings[0].overview(width=10)
    assert (root / "overviews" / f"{rid}.h5").read_bytes() != b"not an overview"


def test_a_read_only_store_without_overviews_builds_them_in_the_cache(tmp_path, rec, cache):
    root = make_store(tmp_path, rec)
    shutil.rmtree(root / "overviews")
    before = state_of(root)
    with cldata.open(root) as store:
        store.recordings[0].overview(width=10)
    assert state_of(root) == before and list(cache.rglob("*.h5"))


def test_a_touched_link_is_noticed_and_relinking_accepts_it(linked_store):
    root, rid, linked = linked_store
    st = linked.stat()
    os.utime(linked, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    with cldata.open(root) as store, pytest.raises(ChangedLinkError):
        store.recordings[0].view()
    with cldata.open(root, mode="a", replace=True) as store:
        assert store.add_recording(linked, link=True) == rid  # the same recording: same id, new size and time
    with cldata.open(root) as store:
        assert len(store.recordings[0].view().spikes) == 2
    assert check_path(root).healthy


def test_links_recorded_without_size_and_time_still_open(linked_store):
    """Stores written before size and mtime were recorded (or by other tools) open as before."""
    root, rid, linked = linked_store

    def edit(records):
        for r in records:
            if r["kind"] == "recording":
                r["location"].pop("size")
                r["location"].pop("mtime_ns")

    rewrite_records(root, edit)
    with cldata.open(root) as store:
        assert len(store.recordings[0].view().spikes) == 2


# --- 12. creation races --------------------------------------------------------------------------------------------

RACER = """
import os, sys, time
import cldata
from cldata.errors import StoreLockedError

base, me, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for r in range(rounds):
    open(os.path.join(base, f"ready-{r}-{me}"), "w").close()
    while not os.path.exists(os.path.join(base, f"go-{r}")):
        time.sleep(0.0002)
    try:
        cldata.open(os.path.join(base, f"store-{r}"), mode="a").close()
        outcome = "ok"
    except StoreLockedError:
        outcome = "locked"
    except BaseException as exc:
        outcome = f"other {type(exc).__name__}: {exc}"
    print(r, outcome, flush=True)
"""


def race_to_create(tmp_path: Path, processes: int, rounds: int) -> None:
    script = tmp_path / "racer.py"
    script.write_text(RACER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    children = [subprocess.Popen([sys.executable, str(script), str(tmp_path), str(i), str(rounds)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
                for i in range(processes)]
    try:
        for r in range(rounds):
            deadline = time.monotonic() + 300  # a safety net only: nothing is asserted about time
            while not all((tmp_path / f"ready-{r}-{i}").exists() for i in range(processes)):
                if time.monotonic() > deadline or any(c.poll() is not None for c in children):
                    pytest.fail("a racing process died or hung: "
                                + "; ".join(c.stderr.read()[-500:] for c in children if c.poll() is not None))
                time.sleep(0.001)
            (tmp_path / f"go-{r}").touch()
        outputs = [c.communicate(timeout=300) for c in children]
    finally:
        for c in children:
            if c.poll() is None:
                c.kill()
    outcomes: dict[int, list[str]] = {}
    for out, err in outputs:
        lines = out.splitlines()
        assert len(lines) == rounds, err[-1000:]
        for line in lines:
            r, outcome = line.split(" ", 1)
            outcomes.setdefault(int(r), []).append(outcome)
    for r, got in outcomes.items():
        assert set(got) <= {"ok", "locked"}, f"round {r}: {got}"
        assert "ok" in got
        with cldata.open(tmp_path / f"store-{r}") as store:
            assert len(store.recordings) == 0


def test_processes_racing_to_create_a_store_end_in_a_store_or_store_locked_error(tmp_path):
    """Once: 13 of 30 races ended in StoreFormatError ("not empty and not a cldata store") for the loser, which
    looked at the directory while the winner was creating the store."""
    race_to_create(tmp_path, processes=8, rounds=10)


@pytest.mark.slow
def test_processes_racing_to_create_a_store_many_times(tmp_path):
    race_to_create(tmp_path, processes=8, rounds=300)


def test_an_interrupted_creation_can_be_completed(tmp_path):
    """What a creation killed before writing the marker leaves (lock files, the empty skeleton, temporaries)
    is not somebody's data: the next writer creates the store there."""
    root = tmp_path / "store"
    for d in ("catalog", "payloads", "recordings"):
        (root / d).mkdir(parents=True)
    (root / ".lock").touch()
    (root / "catalog" / "CURRENT").write_text("{}")
    (root / f".cldata-store.json.tmp-{_HOST}-1-{'a' * 16}").write_text("{")
    with cldata.open(root, mode="a") as store:
        assert len(store.recordings) == 0
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    with pytest.raises(StoreFormatError, match="not empty"):
        cldata.open(tmp_path / "foreign", mode="a")
    assert sorted(os.listdir(tmp_path / "foreign")) == ["notes.txt"]  # not even a lock file was made


# --- 12. FIFOs and other odd files ---------------------------------------------------------------------------------


def _fifo_target(root: Path, what: str, linked: Path) -> Path:
    with cldata.open(root) as store:
        rid = store.recording_ids[0]
    if what in ("CURRENT", "segment"):
        state = json.loads((root / "catalog" / "CURRENT").read_text())
        return root / "catalog" / ("CURRENT" if what == "CURRENT" else state["segments"][0])
    return {
        "cldata-store.json": root / "cldata-store.json",
        "catalog.sqlite": root / "catalog.sqlite",
        "catalog.sqlite-journal": root / "catalog.sqlite-journal",
        "payload file": next((root / "payloads").iterdir(), root / "payloads" / "none"),
        "recording copy": root / "recordings" / f"{rid}.h5",
        "journal beside the copy": root / "recordings" / f"{rid}.h5.journal",
        ".lock": root / ".lock",
        ".readers": root / ".readers",
        "overview": root / "overviews" / f"{rid}.h5",
        "linked recording": linked,
        "the store itself": root,
    }[what]


FIFO_PLACES = ["cldata-store.json", "CURRENT", "segment", "catalog.sqlite",
               "catalog.sqlite-journal", "payload file",
               "recording copy", "journal beside the copy", ".lock", ".readers", "overview", "linked recording",
               "the store itself"]
#: the places of a segment log (a store made with catalog="backend"); every other place is tried in a store
#: of the default catalog (SQLite)
_SEGMENT_LOG_PLACES = ("CURRENT", "segment")


@pytest.mark.parametrize("what", FIFO_PLACES)
@pytest.mark.parametrize("backend", ["hdf5", "pickle"])
def test_a_fifo_where_a_file_is_expected_fails_fast(what, backend, tmp_path, rec, cache):
    """Once: a FIFO planted as cldata-store.json made cldata.open hang (reading it waits for a writer for
    ever). Every place cldata reads a regular file refuses anything else before reading. Each case runs in a
    child with a timeout: a regression hangs the child, not the suite."""
    if what in ("linked recording", "catalog.sqlite-journal") and backend == "pickle":
        pytest.skip("the same for both backends")
    catalog = "backend" if what in _SEGMENT_LOG_PLACES else None
    root = make_store(tmp_path, rec, backend, big_payload=True, catalog=catalog)
    linked = write_recording(tmp_path / "linked.h5", culture="C9")
    with cldata.open(root, mode="a", catalog=catalog) as store:
        store.add_recording(linked, link=True)
    target = _fifo_target(root, what, linked)
    if target.is_dir():
        shutil.rmtree(target)
    else:
        target.unlink(missing_ok=True)
    os.mkfifo(target)
    out = run_child(f"""
        import cldata
        from cldata.app.check import check_path
        from cldata.errors import CldataError

        def attempt(name, fn):
            try:
                fn()
                print(name, "ok")
            except CldataError as exc:
                print(name, "refused", type(exc).__name__)
            except Exception as exc:
                print(name, "UNEXPECTED", type(exc).__name__, exc)

        def read(mode):
            with cldata.open({str(root)!r}, mode=mode) as store:
                for recording in store.recordings:
                    attempt("view", lambda: recording.view().spikes)
                    attempt("overview", lambda: recording.overview(width=10))
                for result in store.analysis_results:
                    attempt("payload", result.payload)

        attempt("open r", lambda: read("r"))
        attempt("check", lambda: print(check_path({str(root)!r})))
        attempt("open a", lambda: read("a"))  # (a writer removes stray entries: before it, check saw them)
        attempt("repair", lambda: print(check_path({str(root)!r}, repair=True)))
        attempt("open r again", lambda: read("r"))
    """, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "UNEXPECTED" not in out.stdout, out.stdout
    if what in ("cldata-store.json", "CURRENT", "segment", "catalog.sqlite", ".readers", "the store itself"):
        assert "open r refused StoreFormatError" in out.stdout, out.stdout
    if what in ("recording copy", "payload file", "linked recording"):
        assert "refused" in out.stdout and "problem" in out.stdout, out.stdout
    if what == ".lock":
        assert "open a refused StoreFormatError" in out.stdout, out.stdout
    assert "Traceback" not in out.stderr, out.stderr[-2000:]


def test_read_regular_bytes_refuses_a_fifo_at_once(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="FIFO"):
        read_regular_bytes(fifo)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_fifo_planted_as_a_recording_journal_fails_fast(tmp_path, rec):
    """Reading, checking, recovering and following a recording never wait on a FIFO at its journal's path."""
    os.mkfifo(journal_path(rec))
    out = run_child(f"""
        import cldata
        from pathlib import Path
        from cldata.app.check import check_path
        from cldata.errors import CorruptRecordingError
        from cldata.format.journal import journal_state

        rec = Path({str(rec)!r})
        assert journal_state(rec) == "invalid"
        with cldata.RecordingView(rec) as view:  # the recording itself is read as it is
            assert len(view.spikes) == 2
        report = check_path(rec, repair=True)
        assert not report.healthy and "FIFO" in str(report), str(report)
        for call in (lambda: cldata.recover(rec), lambda: next(iter(cldata.follow(rec, start_timeout=1)))):
            try:
                call()
            except CorruptRecordingError as exc:
                print("refused:", exc)
            else:
                raise AssertionError("a FIFO journal was used")
        print("done")
    """)
    assert out.returncode == 0 and out.stdout.count("refused:") == 2 and "done" in out.stdout, out.stderr[-2000:]
