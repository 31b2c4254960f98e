"""The built-in backends pass the conformance suite; the backend registry finds, lists and refuses backends.

The tests at the end guard store-core behaviour found wrong once (GC after an uncommitted
removal, views across refresh/rollback, a refused foreign directory, missing payload files).
"""

from __future__ import annotations

import importlib
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import cldata
from cldata.backends import Backend, BackendWarning, get_backend, list_backends, register_backend, registry
from cldata.backends.hdf5 import HDF5Backend
from cldata.backends.pickled import PickleBackend
from cldata.errors import BackendError, BrokenLinkError
from cldata.format.simulate import simulate_recording
from cldata.testing import BackendTests


class TestHDF5Backend(BackendTests):
    backend_name = "hdf5"


class TestPickleBackend(BackendTests):
    backend_name = "pickle"


def test_suite_base_class_is_not_collected():
    assert BackendTests.__test__ is False
    assert TestHDF5Backend.__test__ is True

    class Intermediate(BackendTests):
        __test__ = False

    class Concrete(Intermediate):
        backend_name = "hdf5"

    assert Intermediate.__test__ is False and Concrete.__test__ is True


# -- the registry ------------------------------------------------------------------------------------


def test_list_backends_lists_the_builtins():
    backends = list_backends()
    assert {"hdf5", "pickle"} <= set(backends)
    assert backends["hdf5"].startswith("built-in") and backends["pickle"].startswith("built-in")
    assert list(backends) == sorted(backends)
    assert cldata.list_backends() == backends


def test_get_backend_returns_the_classes():
    assert get_backend("hdf5") is HDF5Backend and HDF5Backend.name == "hdf5"
    assert get_backend("pickle") is PickleBackend and PickleBackend.name == "pickle"
    assert issubclass(HDF5Backend, Backend) and issubclass(PickleBackend, Backend)


def test_unknown_backend_lists_the_installed_ones(tmp_path):
    with pytest.raises(BackendError) as info:
        get_backend("nope")
    message = str(info.value)
    assert "'nope'" in message and "hdf5" in message and "pickle" in message
    with pytest.raises(BackendError, match="nope"):
        cldata.open(tmp_path / "store", backend="nope", mode="a")
    assert not (tmp_path / "store" / "cldata-store.json").exists()


@pytest.fixture
def clean_registry():
    """Backends registered by a test vanish after it."""
    before = registry.BACKENDS.registered()
    yield
    for name in set(registry.BACKENDS.registered()) - set(before):
        registry.BACKENDS.unregister(name)


@pytest.mark.parametrize("not_a_backend", [object, dict, HDF5Backend(Path("."), writable=False), "hdf5", None])
def test_register_backend_refuses_what_is_not_a_backend(clean_registry, not_a_backend):
    with pytest.raises(BackendError, match="not a subclass"):
        register_backend("bogus", not_a_backend)
    assert "bogus" not in list_backends()
    with pytest.raises(BackendError):
        get_backend("bogus")


def test_register_backend(clean_registry, tmp_path):
    class MirrorBackend(PickleBackend):
        name = "mirror"

    register_backend("mirror", MirrorBackend)
    assert get_backend("mirror") is MirrorBackend
    assert list_backends()["mirror"].startswith("registered")
    with pytest.raises(BackendError, match="exists already"):
        register_backend("mirror", MirrorBackend)
    register_backend("mirror", MirrorBackend, replace=True)
    for name in ("hdf5", "pickle"):  # built-ins cannot be taken over
        with pytest.raises(BackendError):
            register_backend(name, MirrorBackend)
        with pytest.raises(BackendError):
            register_backend(name, MirrorBackend, replace=True)
    assert get_backend("hdf5") is HDF5Backend
    with cldata.open(tmp_path / "store", backend="mirror", mode="a") as store:
        assert isinstance(store.backend, MirrorBackend)
    with cldata.open(tmp_path / "store") as store:  # the store remembers its backend
        assert isinstance(store.backend, MirrorBackend)


@pytest.fixture
def fake_plugins(tmp_path):
    """Install (on sys.path) a distribution declaring broken backend plugins; remove it after."""
    site = tmp_path / "site"
    dist = site / "cldata_broken_plugins-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: cldata-broken-plugins\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[cldata.backends]\n"
        "broken = cldata_broken_plugin_module:Backend\n"  # the module fails to import
        "notabackend = json:dumps\n"  # imports, but is not a Backend
        "hdf5 = json:loads\n"  # tries to take over a built-in
    )
    (site / "cldata_broken_plugin_module.py").write_text(
        "import cldata_dependency_that_is_not_installed  # noqa\n"
    )
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    yield
    sys.path.remove(str(site))
    sys.modules.pop("cldata_broken_plugin_module", None)
    importlib.invalidate_caches()


def test_broken_plugins_warn_and_the_others_work(fake_plugins, tmp_path):
    with pytest.warns(BackendWarning) as caught:
        backends = list_backends()
    assert {"hdf5", "pickle"} <= set(backends)
    assert "broken" not in backends and "notabackend" not in backends
    assert backends["hdf5"].startswith("built-in")
    messages = "\n".join(str(w.message) for w in caught)
    assert "broken" in messages and "cldata_dependency_that_is_not_installed" in messages
    assert "notabackend" in messages
    assert "built-in backend 'hdf5'" in messages
    with pytest.warns(BackendWarning), pytest.raises(BackendError, match="failed to load"):
        get_backend("broken")
    with pytest.warns(BackendWarning), pytest.raises(BackendError, match="not a subclass"):
        get_backend("notabackend")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BackendWarning)
        assert get_backend("hdf5") is HDF5Backend  # the plugin did not replace it
        with cldata.open(tmp_path / "store", backend="pickle", mode="a") as store:
            assert isinstance(store.backend, PickleBackend)


def test_no_warning_once_the_broken_plugins_are_gone():
    # after fake_plugins is torn down (or without it), nothing warns about it or the built-ins
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", BackendWarning)
        backends = list_backends()
    assert {"hdf5", "pickle"} <= set(backends)
    messages = [str(w.message) for w in caught if issubclass(w.category, BackendWarning)]
    assert not [m for m in messages if any(s in m for s in ("broken", "notabackend", "'hdf5'", "'pickle'"))]


# -- known bugs of the store core -----------------------------------------------------------------------


def _store_with_committed_data(root: Path, sources: Path, backend: str) -> tuple[str, str]:
    sources.mkdir()
    simulate_recording(sources / "a.h5", duration_s=0.2, seed=1)
    with cldata.open(root, backend=backend, mode="a") as store:
        rid = store.add_recording(sources / "a.h5")  # copied into the store
        result = cldata.Data("big", {"trace": np.zeros(12_000)}, sources=[rid])  # in a payload file
        store.add_analysis_result(result)
    return rid, result.result_id


@pytest.mark.parametrize("backend", ["hdf5", "pickle"])
@pytest.mark.parametrize("how", ["close", "with"])
def test_uncommitted_removal_keeps_the_committed_files(tmp_path, backend, how):
    root = tmp_path / "store"
    rid, res = _store_with_committed_data(root, tmp_path / "sources", backend)
    if how == "close":
        store = cldata.open(root, mode="a")
        store.remove_recording(rid, cascade=True)
        store.close(commit=False)
    else:
        with pytest.raises(RuntimeError), cldata.open(root, mode="a") as store:
            store.remove_recording(rid, cascade=True)
            raise RuntimeError("the analysis failed")
    with cldata.open(root) as store:
        assert store.recording_ids == [rid]  # the removal was not committed...
        assert len(store.analysis_results[0].value["trace"]) == 12_000  # ...so its payload must be there
        assert len(store.recording(rid).segment(lazy=False).spiketrains) == 64  # ...and its file


def _three_recordings(root: Path, sources: Path) -> dict[str, str]:
    sources.mkdir()
    ids = {}
    with cldata.open(root, mode="a") as store:
        for i, name in enumerate("abc"):
            simulate_recording(sources / f"{name}.h5", duration_s=0.2, seed=i)
            ids[name] = store.add_recording(sources / f"{name}.h5", {"name": name})
    return ids


def test_view_made_before_refresh_keeps_its_entries(tmp_path):
    ids = _three_recordings(tmp_path / "store", tmp_path / "sources")
    with cldata.open(tmp_path / "store") as reader:
        only_b = reader.filter(name="b")
        with cldata.open(tmp_path / "store", mode="a") as writer:
            writer.remove_recording(ids["a"])
        reader.refresh()
        assert only_b.recording_ids == [ids["b"]]
        assert [r.parameters["name"] for r in only_b.recordings] == ["b"]


def test_handle_made_before_rollback_keeps_its_entry(tmp_path):
    ids = _three_recordings(tmp_path / "store", tmp_path / "sources")
    with cldata.open(tmp_path / "store", mode="a") as store:
        store.remove_recording(ids["a"])
        store.commit()
        handle = store.recording(ids["c"])
        store.rollback()
        assert handle.id == ids["c"] and handle.parameters["name"] == "c"


def test_refused_foreign_directory_is_left_untouched(tmp_path):
    foreign = tmp_path / "my-data"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(cldata.errors.StoreFormatError):
        cldata.open(foreign, mode="a")
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]


def test_broken_link_error_is_a_file_not_found_error():
    assert issubclass(BrokenLinkError, FileNotFoundError)


@pytest.mark.parametrize("backend", ["hdf5", "pickle"])
def test_missing_payload_file_is_a_store_format_error(tmp_path, backend):
    root = tmp_path / "store"
    _store_with_committed_data(root, tmp_path / "sources", backend)
    for path in (root / "payloads").iterdir():
        path.unlink()  # the store is damaged
    with cldata.open(root) as store:
        with pytest.raises(cldata.errors.StoreFormatError):
            store.analysis_results[0].value  # noqa: B018 - loading the payload raises
