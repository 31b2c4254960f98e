"""Crafted HDF5 files: nodes of pickled objects, datasets that claim more than they hold,
damaged overviews — in recordings, store files, exports, payload files and overviews.

Each test plants the attack with PyTables, then drives cldata as a user would (open, read,
``cldata check``, ``cldata info``, ``result.value``, ``overview()``) and proves that nothing
ran (the marker file the pickle would create is absent), nothing was written, and the
refusal is a :class:`cldata.errors.CldataError` naming the file and node. Attacks that used
to hang or allocate run in a child process with a memory limit and a timeout.
"""

from __future__ import annotations

import struct
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
import tables
from test_hostile import Reduce, Sandbox, make_store, rewrite_records, segment_of, write_recording

import cldata
from cldata.errors import CldataError, CorruptRecordingError, UnsafeContentError
from conftest import CATALOGS, forge_checksums

# --- helpers ---------------------------------------------------------------------------------------------------


@pytest.fixture
def sandbox(tmp_path) -> Sandbox:
    return Sandbox(tmp_path)


@pytest.fixture
def rec(tmp_path) -> Path:
    return write_recording(tmp_path / "rec.h5")


def plant_object_node(path: Path, node: str, marker: Path) -> None:
    """Put a VLArray of ObjectAtom at ``node`` (replacing what is there): PyTables unpickles
    its rows when read, and the row opens ``marker`` for writing."""
    parent, _, name = node.rpartition("/")
    with tables.open_file(str(path), "a") as f:
        if node in f:
            f.remove_node(node, recursive=True)
        arr = f.create_vlarray(parent or "/", name, tables.ObjectAtom(), createparents=True)
        arr.append(Reduce(open, (str(marker), "w")))


def test_a_planted_object_node_is_live(tmp_path):
    """Canary: plain PyTables (cldata not imported in the child) runs the planted pickle when reading."""
    path = tmp_path / "plain.h5"
    marker = tmp_path / "ran"
    with tables.open_file(str(path), "w") as f:
        f.create_group("/", "g")
    plant_object_node(path, "/g/data", marker)
    code = f"import tables\nf = tables.open_file({str(path)!r})\nf.root.g.data.read()\nf.close()"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    assert marker.exists()


def export_of(tmp_path: Path, root: Path) -> Path:
    export = tmp_path / "export.h5"
    with cldata.open(root) as store:
        store.export(export)
    return export


def first_payload_file(root: Path) -> Path:
    return next(p for p in (root / "payloads").iterdir() if p.suffix == ".h5")


# --- 1. nodes of pickled objects -----------------------------------------------------------------------------


@pytest.mark.parametrize("node", ["/data_stream/score/data", "/data_stream/score/index", "/samples", "/spikes",
                                  "/stims", "/unknown_extra", "/data_stream/score/extra"])
def test_an_object_node_in_a_recording_is_refused_before_it_is_read(node, rec, sandbox):
    plant_object_node(rec, node, sandbox.marker)
    sandbox.snapshot()
    with pytest.raises(UnsafeContentError) as info:
        with cldata.RecordingView(rec) as view:
            list(view.data_streams["score"].values())
            view.read_samples()
    assert node in str(info.value) and str(rec) in str(info.value)
    sandbox.check()


def test_an_object_node_in_a_recording_is_refused_by_check_and_add_recording(rec, sandbox, tmp_path):
    from cldata.app.check import check_path

    plant_object_node(rec, "/data_stream/score/data", sandbox.marker)
    with cldata.open(tmp_path / "store", mode="a") as store, pytest.raises(UnsafeContentError):
        store.add_recording(rec)
    sandbox.snapshot()
    report = check_path(rec)
    assert not report.healthy and "pickled" in str(report)
    sandbox.check()


@pytest.mark.parametrize("node", ["/blobs/data", "/blobs/index", "/blobs/extra"])
def test_an_object_node_in_a_catalog_segment_runs_nothing(node, tmp_path, rec, sandbox):
    """Once: the hdf5 backend read a catalog segment's ``data`` node without checking its type, and
    PyTables unpickled it: ``cldata.open(store)`` and ``cldata check`` ran code."""
    root = make_store(tmp_path, rec, catalog="backend")
    plant_object_node(segment_of(root), node, sandbox.marker)
    forge_checksums(root)
    sandbox.snapshot()
    with pytest.raises(UnsafeContentError) as info:
        cldata.open(root)
    assert node in str(info.value)
    from cldata.app.check import check_path

    assert not check_path(root).healthy
    out = subprocess.run([sys.executable, "-m", "cldata.app.cli", "check", str(root)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    sandbox.check()


def test_an_object_node_in_a_payload_file_runs_nothing(tmp_path, rec, sandbox):
    """Once: ``result.value`` of a large result unpickled a planted payload ``data`` node."""
    root = make_store(tmp_path, rec, big_payload=True)
    plant_object_node(first_payload_file(root), "/blobs/data", sandbox.marker)
    sandbox.snapshot()
    with cldata.open(root) as store:
        big = next(r for r in store.analysis_results if r.identifier == "big")
        with pytest.raises(UnsafeContentError):
            big.payload()
    sandbox.check()


@pytest.mark.parametrize("node", ["/catalog/data", "/payloads/data", "/payloads/index", "/extra",
                                  "/recordings/extra"])
def test_an_object_node_in_an_export_runs_nothing(node, tmp_path, rec, sandbox):
    """Once: ``cldata info export.h5`` and ``cldata.open(export)`` unpickled a planted catalog node."""
    export = export_of(tmp_path, make_store(tmp_path, rec))
    plant_object_node(export, node, sandbox.marker)
    sandbox.snapshot()
    with pytest.raises(UnsafeContentError):
        cldata.open(export)
    out = subprocess.run([sys.executable, "-m", "cldata.app.cli", "info", str(export)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode != 0 and "Traceback" not in out.stderr and "pickled" in out.stderr
    sandbox.check()


def test_an_object_node_in_a_recording_of_an_export_runs_nothing(tmp_path, rec, sandbox):
    export = export_of(tmp_path, make_store(tmp_path, rec))
    with tables.open_file(str(export)) as f:
        group = "/recordings/" + next(iter(f.root.recordings._v_children))
    plant_object_node(export, group + "/data_stream/score/data", sandbox.marker)
    sandbox.snapshot()
    with cldata.open(export) as store, pytest.raises(UnsafeContentError):
        list(store.recordings[0].view().data_streams["score"].values())
    sandbox.check()


@pytest.mark.parametrize("node", ["/samples/L1/min", "/spikes/L1/counts", "/samples/L0/max_crc", "/extra"])
def test_an_object_node_in_an_overview_runs_nothing(node, tmp_path, sandbox, monkeypatch, tmp_path_factory):
    """Once: ``rec.overview()`` / ``spike_activity()`` on a read-only store read a planted overview node.
    Now every overview node is checked before it is read (its level arrays when first loaded), and the
    store's answer is built afresh."""
    from cldata.overview import Overview

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    recording = long_recording(tmp_path / "long.h5")
    root = tmp_path / "store"
    with cldata.open(root, mode="a") as store:
        store.add_recording(recording)
    overview = next((root / "overviews").iterdir())
    plant_object_node(overview, node, sandbox.marker)
    sandbox.snapshot()
    with cldata.open(root) as store:
        handle = store.recordings[0]
        with pytest.raises(UnsafeContentError) as info:
            Overview(overview, handle.view()).verify()
        assert node in str(info.value)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            env = handle.overview(start=100, stop=39_100, width=10)  # levels 1 and 0 (the edges)
            counts = handle.spike_activity(width=10).counts
        # the answers were built afresh from the recording wherever the planted node was met
        assert all("pickled Python objects" in str(w.message) for w in caught)
        assert env.level >= 0
        with cldata.RecordingView(recording) as view:
            samples = view.read_samples()
        assert env.minimum.min() == pytest.approx(samples[100:39_100].min() * view.uV_per_sample_unit)
        assert env.maximum.max() == pytest.approx(samples[100:39_100].max() * view.uV_per_sample_unit)
        assert int(counts.sum()) == 40
    sandbox.check()


def test_object_rows_read_by_plain_pytables_go_through_the_allow_list(tmp_path, sandbox):
    """Defence in depth: after ``import cldata`` PyTables unpickles object rows through the allow-list, so a
    path cldata forgot to check still runs nothing (plain values keep loading)."""
    path = tmp_path / "objects.h5"
    with tables.open_file(str(path), "w") as f:
        arr = f.create_vlarray("/", "fine", tables.ObjectAtom())
        arr.append({"a": [1, 2.5, "x"], "b": np.arange(3)})
    plant_object_node(path, "/bad", sandbox.marker)
    sandbox.snapshot()
    with tables.open_file(str(path)) as f:
        fine = f.root.fine.read()[0]
        assert fine["a"] == [1, 2.5, "x"] and list(fine["b"]) == [0, 1, 2]
        with pytest.raises(UnsafeContentError):
            f.root.bad.read()
    sandbox.check()


# --- 7. files that claim more than they hold ------------------------------------------------------------------

LIMIT_BYTES = 1536 << 20  # the bound: 1.5 GB
LIMIT_SECONDS = 30


def run_limited(body: str, *args: str) -> str:
    """Run ``body`` in a child process limited to 1.5 GB of address space and 30 s; return what it printed.

    The body's last statement is wrapped so that a cldata error prints ``refused <class name>``,
    and the child prints ``ok`` when the body finishes without one.
    """
    code = textwrap.dedent("""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
        import cldata
        from cldata.errors import CldataError
        try:
        {body}
        except CldataError as exc:
            print("refused", type(exc).__name__, str(exc)[:300])
        else:
            print("ok")
    """).format(limit=LIMIT_BYTES, body=textwrap.indent(textwrap.dedent(body), "    "))
    try:
        out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                             timeout=LIMIT_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the child did not finish within {LIMIT_SECONDS} s (a hang)")
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip()


def patch_dims(path: Path, rank: int, old: tuple[int, ...], new: tuple[int, ...], unlimited: bool = True) -> None:
    """Rewrite the dataspace message (version 1) of the one dataset of that rank and dims: its first dimension,
    and its maximum when not unlimited."""
    def message(dims: tuple[int, ...]) -> bytes:
        maxdims = (b"\xff" * 8 + b"".join(struct.pack("<Q", d) for d in dims[1:])) if unlimited else \
            b"".join(struct.pack("<Q", d) for d in dims)
        return struct.pack("<BBB5x", 1, rank, 1) + b"".join(struct.pack("<Q", d) for d in dims) + maxdims

    data = path.read_bytes()
    assert data.count(message(old)) == 1, "the dataspace to patch is not unique"
    path.write_bytes(data.replace(message(old), message(new)))


def drop_root_attribute(path: Path, name: str) -> None:
    with tables.open_file(str(path), "a") as f:
        delattr(f.root._v_attrs, name)


def test_samples_claiming_2_to_the_40_frames_are_refused_by_open_check_and_add(rec, tmp_path):
    """Once: /samples declared as 2**40 frames (and no duration_frames to compare with) made ``cldata check`` and
    ``add_recording`` hang, reading 140 TB of zeros."""
    drop_root_attribute(rec, "duration_frames")
    patch_dims(rec, 2, (50, 4), (2**40, 4))
    with pytest.raises(CorruptRecordingError, match="more than the file can hold"):
        cldata.RecordingView(rec)
    assert run_limited("cldata.RecordingView(sys.argv[1]).read_samples()", str(rec)).startswith(
        "refused CorruptRecordingError")
    assert run_limited("cldata.open(sys.argv[2], mode='a').add_recording(sys.argv[1])",
                       str(rec), str(tmp_path / "store")).startswith("refused CorruptRecordingError")
    out = subprocess.run([sys.executable, "-m", "cldata.app.cli", "check", str(rec)], capture_output=True, text=True,
                         timeout=LIMIT_SECONDS)
    assert out.returncode == 1 and "more than the file can hold" in out.stdout and not out.stderr


def test_compressed_samples_may_claim_only_so_much_more_than_the_file(tmp_path):
    """A compressed dataset may be larger than its file, but not without bound (MAX_COMPRESSION_RATIO)."""
    from cldata.format.node_guard import MAX_COMPRESSION_RATIO

    path = tmp_path / "zipped.h5"
    with tables.open_file(str(path), "w") as f:
        f.root._v_attrs.channel_count, f.root._v_attrs.frames_per_second = np.int64(4), np.int64(25_000)
        arr = f.create_earray("/", "samples", tables.Int16Atom(), shape=(0, 4), chunkshape=(1024, 4),
                              filters=tables.Filters(complevel=9, complib="zlib"))
        arr.append(np.zeros((40_000, 4), np.int16))  # 320 kB of zeros compress very well: legitimate
    with cldata.RecordingView(path) as view:
        assert view.read_samples().shape == (40_000, 4)
    patch_dims(path, 2, (40_000, 4), (2**40, 4))
    with pytest.raises(CorruptRecordingError, match=f"compressed at most {MAX_COMPRESSION_RATIO}:1"):
        cldata.RecordingView(path)


def test_a_stream_claiming_a_huge_data_array_is_refused_before_reading(rec):
    """Once: a stream ``data`` array declared at 2**40 bytes with an index row spanning 3 GB gave MemoryError (or
    IndexError): the row was inside the declared size, so the span was read."""
    with tables.open_file(str(rec), "a") as f:
        n = int(f.root.data_stream.score.data.nrows)
        f.root.data_stream.score.index.modify_column(0, 1, column=np.array([3 << 30], np.uint64), colname="end_index")
    patch_dims(rec, 1, (n,), (2**40,))
    out = run_limited("""
        rec = cldata.RecordingView(sys.argv[1])
        list(rec.data_streams["score"].values())
    """, str(rec))
    assert out.startswith("refused CorruptRecordingError") and "/data_stream/score/data" in out


def test_a_spike_table_claiming_2_to_the_40_rows_is_refused(rec, tmp_path):
    with tables.open_file(str(rec)) as f:
        n = int(f.root.spikes.nrows)
    data = rec.read_bytes()
    old = struct.pack("<BBB5x", 1, 1, 1) + struct.pack("<Q", n) + b"\xff" * 8
    assert data.count(old) >= 1
    # the tables' dataspaces look alike: damage each candidate in turn, and every one must be refused
    start = 0
    while (i := data.find(old, start)) >= 0:
        damaged = tmp_path / f"damaged-{i}.h5"
        damaged.write_bytes(data[:i] + struct.pack("<BBB5x", 1, 1, 1) + struct.pack("<Q", 2**40) + b"\xff" * 8
                            + data[i + len(old):])
        out = run_limited("""
            with cldata.RecordingView(sys.argv[1]) as rec:
                rec.read_spikes(); rec.read_stims(); [list(s.values()) for s in rec.data_streams.values()]
        """, str(damaged))
        assert out.startswith("refused CorruptRecordingError"), out
        start = i + 1


def test_spike_timestamps_of_2_to_the_62_give_answers_not_overflow(rec, tmp_path):
    """Once: a spike at frame 2**62 made ``add_recording`` raise OverflowError (building the overview), and a
    claimed extent that long would have built a pyramid of 2**56 blocks. Now the overview covers at most
    MAX_OVERVIEW_FRAMES and starts its spike levels coarse enough; the spike table still reads as written."""
    with tables.open_file(str(rec), "a") as f:
        f.root.spikes.modify_column(1, 2, column=np.array([2**62]), colname="timestamp")
    out = run_limited("""
        with cldata.open(sys.argv[2], mode="a") as store:
            h = store.recordings[0] if store.recordings else store.recording(store.add_recording(sys.argv[1]))
            assert h.view().read_spikes()["timestamp"].tolist() == [3, 2**62]
            assert int(h.spike_activity(width=10).counts.sum()) == 1     # the one inside the overview's extent
            assert int(h.spike_activity(start=0, stop=100, width=10).counts.sum()) == 1
            h.overview(width=10)
            h.segment(lazy=False)
        from cldata.app.check import check_path
        assert check_path(sys.argv[2]).healthy
    """, str(rec), str(tmp_path / "store"))
    assert out == "ok", out


def test_an_over_claimed_stream_attribute_is_said_not_an_empty_mapping_in_silence(rec):
    """Once: one attribute of a stream group whose dataspace claimed more elements than stored made HDF5 list no
    attributes at all, and the stream's ``attributes`` silently came back empty. Refused since; issue 11 (tolerant
    reading): the stream reads, and a warning says its attributes could not be listed and may be damaged."""
    with tables.open_file(str(rec), "a") as f:
        f.root.data_stream.score._v_attrs["extra"] = np.arange(7, dtype=np.int64)
    patch_dims(rec, 1, (7,), (8,), unlimited=False)
    with pytest.warns(cldata.errors.UntidyRecordingWarning, match="no attributes that HDF5 can list.*damaged"):
        with cldata.RecordingView(rec) as view:
            assert view.data_streams["score"].attributes == {} and len(list(view.data_streams["score"].items())) > 0


# --- 10. damaged overviews ------------------------------------------------------------------------------------


def _overview_chunks(overview: Path) -> list[tuple[int, int]]:
    """File offset and size of the first stored chunk of every sample level's minima."""
    with tables.open_file(str(overview)) as f:
        infos = [f.get_node(f"/samples/{g}/min").chunk_info((0, 0)) for g in f.root.samples._v_children]
    return [(int(i.offset), int(i.size)) for i in infos]


def long_recording(path: Path) -> Path:
    rng = np.random.default_rng(3)
    with cldata.RecordingWriter(path, channel_count=4, durable=False) as w:
        w.append_samples(rng.integers(-500, 500, (40_000, 4)).astype(np.int16))
        w.append_spikes(np.arange(100, 40_000, 1000), np.arange(40) % 4, np.zeros((40, 75), np.float32))
    return path


@pytest.mark.parametrize("mode", ["r", "a"])
def test_a_damaged_overview_chunk_is_detected_and_rebuilt_not_drawn(mode, tmp_path, rec, monkeypatch,
                                                                    tmp_path_factory):
    """Once: a damaged overview gave changed envelopes and spike rates with no error (overviews carried no
    checksum). Now every chunk carries a Fletcher-32 checksum that HDF5 verifies on read: the damage is an
    OverviewError, and the store's answer is built afresh (into the cache for a read-only store)."""
    from cldata.errors import OverviewError
    from cldata.overview import Overview

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    root = tmp_path / "store"
    with cldata.open(root, mode="a") as store:
        store.add_recording(long_recording(tmp_path / "long.h5"))
    overview = next((root / "overviews").iterdir())
    with cldata.open(root) as store:
        handle = store.recordings[0]
        want = handle.overview(width=10)
        assert want.level >= 0  # drawn from the pyramid, not from the samples
        samples = handle.view().read_samples()
    data = bytearray(overview.read_bytes())
    for offset, size in _overview_chunks(overview):
        data[offset + size // 2] ^= 0x40  # one bit inside each level's first stored chunk
    overview.write_bytes(bytes(data))
    with cldata.open(root) as store:
        with pytest.raises(OverviewError, match="damaged"):
            Overview(overview, store.recordings[0].view()).envelope(width=10)
    damaged = overview.read_bytes()
    with cldata.open(root, mode=mode) as store:
        with pytest.warns(UserWarning, match="built afresh"):
            env = store.recordings[0].overview(width=10)
        assert np.array_equal(env.minimum, want.minimum) and np.array_equal(env.maximum, want.maximum)
        assert env.minimum.min() == pytest.approx(samples.min() * 0.195, rel=1e-6)
    assert (overview.read_bytes() == damaged) == (mode == "r")  # a read-only store wrote nothing inside


def test_overview_attributes_that_do_not_fit_the_recording_are_refused(tmp_path):
    from cldata.errors import OverviewError
    from cldata.overview import Overview, build_overview

    with cldata.RecordingView(long_recording(tmp_path / "long.h5")) as view:
        path = build_overview(view, tmp_path / "ov.h5")
        for name, value in [("base", 1), ("factor", np.int64(0)), ("sample_levels", np.int64(40)),
                            ("spike_levels", np.int64(-1)), ("version", "2"), ("spike_frames", np.int64(2**62)),
                            ("base", 2**40)]:
            damaged = tmp_path / f"{name}.h5"
            damaged.write_bytes(path.read_bytes())
            with tables.open_file(str(damaged), "a") as f:
                f.root._v_attrs[name] = value
            with pytest.raises(OverviewError):
                Overview(damaged, view).envelope(width=3)


# --- check: overviews, time budget -------------------------------------------------------------------------


def test_check_reads_overviews_and_repair_rebuilds_a_damaged_one(tmp_path):
    """Once: ``check`` did not read overviews and called a store with a damaged one healthy."""
    from cldata.app.check import check_path

    root = tmp_path / "store"
    with cldata.open(root, mode="a") as store:
        store.add_recording(long_recording(tmp_path / "long.h5"))
    overview = next((root / "overviews").iterdir())
    assert check_path(root).healthy
    data = bytearray(overview.read_bytes())
    for offset, size in _overview_chunks(overview):
        data[offset + size // 2] ^= 0x01
    overview.write_bytes(bytes(data))
    report = check_path(root)
    assert not report.healthy and "overview" in str(report) and "repair rebuilds it" in str(report)
    out = subprocess.run([sys.executable, "-m", "cldata.app.cli", "check", str(root)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 1 and "overview" in out.stdout
    repaired = check_path(root, repair=True)
    assert repaired.healthy and "rebuilt" in str(repaired)
    assert check_path(root).healthy


def test_check_has_a_time_budget_it_reports(tmp_path):
    from cldata.app.check import check_path

    root = tmp_path / "store"
    with cldata.open(root, mode="a") as store:
        store.add_recording(long_recording(tmp_path / "long.h5"))
    full = check_path(root, budget=None)
    assert full.complete and full.healthy and "INCOMPLETE" not in str(full)
    cut = check_path(root, budget=0.0)
    assert cut.healthy and not cut.complete
    assert "INCOMPLETE" in str(cut) and "was not read in full" in str(cut)
    out = subprocess.run([sys.executable, "-m", "cldata.app.cli", "check", str(root), "--budget", "0.000001"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 3 and "--budget" in out.stdout
    out = subprocess.run([sys.executable, "-m", "cldata.app.cli", "check", str(root), "--budget", "-1"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "--budget" in out.stderr and "Traceback" not in out.stderr
    with pytest.raises(ValueError):
        check_path(root, budget="soon")


# --- 9. crafted or damaged stores: cldata errors, never KeyError, TypeError, OverflowError... ------------------


def _result(records: list[dict], identifier: str) -> dict:
    return next(r for r in records if r.get("kind") == "result" and r["identifier"] == identifier)


def _recording(records: list[dict]) -> dict:
    return next(r for r in records if r.get("kind") == "recording")


def _set(path: tuple, value):
    def edit(records: list[dict]) -> None:
        record = _recording(records) if path[0] == "recording" else _result(records, path[0])
        target = record
        for key in path[1:-1]:
            target = target[key]
        target[path[-1]] = value
    return edit


HOSTILE_RECORDS = {
    # once: OverflowError from int() of a malformed crc32 in read_payload
    "payload crc32 out of range": _set(("big", "payload", "crc32"), 2**64 - 1),
    "payload crc32 negative": _set(("big", "payload", "crc32"), -5),
    "payload crc32 a string": _set(("big", "payload", "crc32"), "zz"),
    "payload key a dict": _set(("big", "payload", "key"), {"a": 1}),
    "inline payload a string": _set(("d", "payload"), {"inline": "text"}),
    # once: TypeError from MappingProxyType(summary), KeyError from summary["frames_per_second"]
    "recording summary a list": _set(("recording", "summary"), [1, 2]),
    "no frames_per_second": lambda records: _recording(records)["summary"].pop("frames_per_second"),
    "stream attributes not a dict": _set(("recording", "streams"), {"score": 3}),
    # once: AttributeError from location.get on a string
    "location a string": _set(("recording", "location"), "recordings/x.h5"),
    "location without a path": _set(("recording", "location"), {"kind": "copy"}),
    "result sources a string": _set(("d", "sources"), "rec_x"),
    "result tags of numbers": _set(("d", "tags"), [1, 2]),
    "result identifier a number": _set(("d", "identifier"), 7),
    "result summary a string": _set(("d", "summary"), "x"),
}


#: values a SQLite catalog cannot hold as crafted: its identifier column is text (7 is stored as "7") and the
#: engine stores sources as a JSON list (a string becomes a list of its letters). Malformed columns of a crafted
#: database are the subject of test_sqlite_catalog's crafted-database tests.
_NOT_IN_SQLITE = ("result sources a string", "result identifier a number")


@pytest.mark.parametrize("backend", ["hdf5", "pickle"])
@pytest.mark.parametrize("case, catalog", [(c, k) for c in HOSTILE_RECORDS for k in CATALOGS
                                           if not (k == "sqlite" and c in _NOT_IN_SQLITE)])
def test_well_formed_records_with_hostile_values_end_in_cldata_errors(case, catalog, backend, tmp_path, rec):
    """Every use of a store whose records hold values of the wrong type or range ends in a cldata error (or a
    correct answer), and ``cldata check`` reports the store unhealthy instead of failing."""
    from cldata.app.check import check_path

    root = make_store(tmp_path, rec, backend, big_payload=True, catalog=catalog)
    rewrite_records(root, HOSTILE_RECORDS[case])
    try:
        with cldata.open(root) as store:
            for handle in store.recordings:
                handle.summary, handle.stream_names, handle.frames_per_second  # noqa: B018
                handle.view()
            for result in store.analysis_results:
                result.payload()
            store.export(tmp_path / "out.h5")
    except CldataError:
        pass
    else:
        pytest.fail("the damaged store was used without an error")
    report = check_path(root)
    assert not report.healthy


def test_export_of_a_result_whose_source_is_missing_is_refused_and_check_says_why(tmp_path, rec):
    """Once: export raised KeyError for a result whose source recording is not in the store, while check
    called that store healthy."""
    from cldata.app.check import check_path
    from cldata.errors import StoreFormatError

    root = make_store(tmp_path, rec)
    rewrite_records(root, _set(("d", "sources"), ["rec_00000000deadbeef"]))
    with cldata.open(root) as store, pytest.raises(StoreFormatError, match="rec_00000000deadbeef"):
        store.export(tmp_path / "out.h5")
    assert not (tmp_path / "out.h5").exists()
    report = check_path(root)
    assert not report.healthy and "rec_00000000deadbeef" in str(report) and "not in the store" in str(report)


@pytest.mark.parametrize("where", ["catalog/CURRENT", "catalog.sqlite", "payloads/<file>", "recordings/<copy>",
                                   "overviews/<overview>", "cldata-store.json"])
def test_a_directory_where_a_file_belongs_is_a_store_error(where, tmp_path, rec):
    """Once: a directory planted where a store keeps a file gave IsADirectoryError. (catalog/CURRENT: in a
    store whose catalog is the segment log.)"""
    from cldata.app.check import check_path

    root = make_store(tmp_path, rec, big_payload=True, catalog="backend" if where.startswith("catalog/") else None)
    folder, _, name = where.partition("/")
    if name.startswith("<"):
        name = next(p.name for p in (root / folder).iterdir() if p.suffix == ".h5")
    target = root / folder / name if name else root / folder
    target.unlink()
    target.mkdir()
    try:
        with cldata.open(root) as store:
            store.recordings[0].view()
            store.recordings[0].overview(width=10)
            for result in store.analysis_results:
                result.payload()
    except CldataError:
        pass
    report = check_path(root)
    assert not report.healthy or where.startswith("overviews"), str(report)


@pytest.mark.parametrize("value", [b"raw bytes", [1, 2], "text", 7])
def test_a_recording_whose_application_attributes_are_not_a_dict_can_be_added(value, tmp_path, rec):
    """Once: add_recording raised a bare TypeError when a stream's ``application`` attribute was bytes."""
    with tables.open_file(str(rec), "a") as f:
        f.root.data_stream.score._v_attrs["application"] = value
        f.root._v_attrs["application"] = value
    with cldata.open(tmp_path / "store", mode="a") as store:
        rid = store.add_recording(rec)
        handle = store.recording(rid)
        assert handle.stream_names == ["score"] and "culture" not in handle.parameters
        assert handle.parameters["application"] == (list(value) if isinstance(value, list) else value)
        assert len(handle.view().data_streams["score"]) == 2
