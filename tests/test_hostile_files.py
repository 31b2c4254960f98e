"""Crafted HDF5 files: nodes of pickled objects, datasets that claim more than they hold,
damaged overviews — in recordings, store files, exports, payload files and overviews.

Each test plants the attack with PyTables, then drives cldata as a user would (open, read,
``cldata check``, ``cldata info``, ``result.value``, ``overview()``) and proves that nothing
ran (the marker file the pickle would create is absent), nothing was written, and the
refusal is a :class:`cldata.errors.CldataError` naming the file and node. Attacks that used
to hang or allocate run in a child process with a memory limit and a timeout.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tables
from test_hostile import Reduce, Sandbox, make_store, segment_of, write_recording

import cldata
from cldata.errors import (
    UnsafeContentError,
)
from conftest import forge_checksums

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
    from cldata.check import check_path

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
    root = make_store(tmp_path, rec)
    plant_object_node(segment_of(root), node, sandbox.marker)
    forge_checksums(root)
    sandbox.snapshot()
    with pytest.raises(UnsafeContentError) as info:
        cldata.open(root)
    assert node in str(info.value)
    from cldata.check import check_path

    assert not check_path(root).healthy
    out = subprocess.run([sys.executable, "-m", "cldata.cli", "check", str(root)], capture_output=True, text=True,
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
    out = subprocess.run([sys.executable, "-m", "cldata.cli", "info", str(export)], capture_output=True,
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


@pytest.mark.parametrize("node", ["/samples/L0/min", "/spikes/L1/counts", "/extra"])
def test_an_object_node_in_an_overview_runs_nothing(node, tmp_path, rec, sandbox, monkeypatch, tmp_path_factory):
    """Once: ``rec.overview()`` / ``spike_activity()`` on a read-only store read a planted overview node.
    Now the overview is refused before anything is read, and the store's answer is built afresh."""
    from cldata.overview import Overview

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    root = make_store(tmp_path, rec)
    overview = next((root / "overviews").iterdir())
    with tables.open_file(str(overview)) as f:
        nodes = sorted(n._v_pathname for n in f.walk_nodes("/", classname="Leaf"))
    if node != "/extra":
        node = next(n for n in nodes if n.startswith(node.split("/L")[0]))
    plant_object_node(overview, node, sandbox.marker)
    sandbox.snapshot()
    with cldata.open(root) as store:
        handle = store.recordings[0]
        with pytest.raises(UnsafeContentError) as info:
            Overview(overview, handle.view())._open()
        assert node in str(info.value)
        with pytest.warns(UserWarning, match="pickled Python objects"):
            env = handle.overview(width=10)
        with cldata.RecordingView(rec) as view:
            samples = view.read_samples()
        assert env.minimum.min() == pytest.approx(samples.min() * view.uV_per_sample_unit)
        assert int(handle.spike_activity(width=5).counts.sum()) == 2
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
