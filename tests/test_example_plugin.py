"""A third-party backend, installed with pip, is found through its entry point and passes the suite.

The example plugin package lives in ``tests/example_plugin`` (``cldata-example-backend``,
entry point ``example`` in the group ``cldata.backends``). A module fixture really installs
it with pip into a temporary directory, puts that directory on ``sys.path``, and takes it
off again after this module's tests.

Installing works offline. pip first builds the package with the setuptools of the
running environment (``--no-build-isolation --no-index``). setuptools older than 70.1
cannot build a wheel without the separate ``wheel`` package, which a fresh ``python -m
venv`` lacks; then setuptools still writes the package's metadata (``egg_info``, entry
points included, from its ``pyproject.toml``), the fixture packs that metadata and the
module into a wheel, and pip installs the wheel (``--no-index``).
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
import zlib
from email.parser import Parser
from pathlib import Path

import numpy as np
import pytest

import cldata
from cldata.backends import SegmentedBackend, get_backend, registry
from cldata.errors import BackendError
from cldata.format.simulate import simulate_recording
from cldata.testing import BackendTests
from conftest import CATALOGS

PLUGIN_SOURCE = Path(__file__).resolve().parent / "example_plugin"
DIST_NAME = "cldata-example-backend"
MODULE = "cldata_example_backend"


def _run(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    # pip settings from the environment (indexes, find-links, caches) play no part: all is local
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def _pip_install(target: Path, what: Path, *extra: str) -> subprocess.CompletedProcess:
    return _run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--no-cache-dir",
                 "--target", str(target), *extra, str(what)])


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _wheel_from_setuptools_metadata(source: Path, out: Path) -> Path:
    """A wheel of the (pure Python) plugin: metadata written by setuptools, packed here."""
    egg_base = out / "egg-info"
    egg_base.mkdir()
    done = _run([sys.executable, "-c", "from setuptools import setup; setup()", "-q", "egg_info",
                 "--egg-base", str(egg_base)], cwd=source)
    if done.returncode:
        pytest.fail(f"setuptools could not read the example plugin's metadata:\n{done.stdout}\n{done.stderr}")
    (egg_info,) = egg_base.glob("*.egg-info")
    pkg_info = (egg_info / "PKG-INFO").read_text()
    meta = Parser().parsestr(pkg_info)
    dist = f"{meta['Name'].replace('-', '_')}-{meta['Version']}"
    packages = (egg_info / "top_level.txt").read_text().split()
    files = {rel: (source / rel).read_bytes() for rel in (egg_info / "SOURCES.txt").read_text().split()
             if rel.split("/")[0] in packages}
    info = f"{dist}.dist-info"
    files[f"{info}/METADATA"] = pkg_info.encode()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: cldata-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files[f"{info}/entry_points.txt"] = (egg_info / "entry_points.txt").read_bytes()
    files[f"{info}/top_level.txt"] = (egg_info / "top_level.txt").read_bytes()
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in files.items())
    files[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    wheel = out / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return wheel


def install_example_plugin(work: Path, plugin: Path = PLUGIN_SOURCE) -> tuple[Path, str]:
    """Install an example plugin (``plugin``: its source directory) with pip into ``work/site``;
    return the directory and how it was built."""
    if importlib.util.find_spec("pip") is None:
        pytest.skip("pip is not installed in this environment")
    source = work / "source"  # builds write into the source tree: never into the repository's copy
    shutil.copytree(plugin, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = work / "site"
    built = _pip_install(target, source, "--no-build-isolation")
    if built.returncode == 0:
        return target, "pip (setuptools build)"
    shutil.rmtree(target, ignore_errors=True)
    wheels = work / "wheels"
    wheels.mkdir()
    installed = _pip_install(target, _wheel_from_setuptools_metadata(source, wheels))
    if installed.returncode:
        pytest.fail(f"pip could not install the example plugin.\nBuilding it:\n{built.stdout}\n{built.stderr}\n"
                    f"Installing the wheel:\n{installed.stdout}\n{installed.stderr}")
    return target, "pip (wheel of setuptools metadata)"


@pytest.fixture(scope="module", autouse=True)
def example_plugin(tmp_path_factory):
    """The example plugin, installed and importable for this module's tests only."""
    target, how = install_example_plugin(tmp_path_factory.mktemp("example-plugin"))
    # if the plugin is also installed in the environment, this module's tests use the new copy
    saved = sys.modules.pop(MODULE, None)
    registry.BACKENDS.unregister("example")  # a class imported before, from another installation
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    try:
        yield {"site": target, "how": how}
    finally:
        sys.path.remove(str(target))
        sys.modules.pop(MODULE, None)
        registry.BACKENDS.unregister("example")  # forget the class the registry imported from the copy
        if saved is not None:
            sys.modules[MODULE] = saved
        importlib.invalidate_caches()


def test_the_plugin_is_installed_and_found_by_its_entry_point(example_plugin):
    site = example_plugin["site"]
    dist = importlib.metadata.distribution(DIST_NAME)
    assert dist.version == "0.1.0"
    assert Path(dist.locate_file("")).resolve() == site.resolve()
    (ep,) = [ep for ep in dist.entry_points if ep.group == "cldata.backends"]
    assert (ep.name, ep.value) == ("example", f"{MODULE}:MsgpackBackend")

    backends = cldata.list_backends()
    assert "example" in backends and {"hdf5", "pickle"} <= set(backends)
    assert backends["example"] == f"plugin ({MODULE}:MsgpackBackend)"
    cls = get_backend("example")
    assert cls.__name__ == "MsgpackBackend" and issubclass(cls, SegmentedBackend) and cls.name == "example"
    module = sys.modules[MODULE]
    assert site.resolve() in Path(module.__file__).resolve().parents  # imported from the installation


@pytest.mark.parametrize("catalog", CATALOGS)
def test_the_plugin_writes_its_own_files_and_checks_its_options(tmp_path, catalog):
    # its payload files in any store; its catalog segments in a store whose catalog is the backend's
    simulate_recording(tmp_path / "a.h5", duration_s=0.2, seed=1)
    trace = np.random.default_rng(0).random(20_000)
    for name, options, flag in (("plain", {}, b"-"), ("packed", {"compress": True}, b"z")):
        root = tmp_path / name
        with cldata.open(root, backend="example", mode="a", catalog=catalog, **options) as store:
            assert type(store.backend).__name__ == "MsgpackBackend"
            rid = store.add_recording(tmp_path / "a.h5")
            store.add_analysis_result(cldata.SingleValue("v", 1.0, sources=[rid]))
            # (random: compressed, it still leaves the catalog for a payload file)
            store.add_analysis_result(cldata.Data("big", {"trace": trace}, sources=[rid]))
        files = sorted((root / "payloads").glob("*.blobs"))
        if catalog == "backend":
            files += sorted((root / "catalog").glob("*.msgpack"))
            assert any(p.suffix == ".msgpack" for p in files)
        assert files and all(p.read_bytes()[:5] == b"CLXB" + flag for p in files), sorted(
            str(p.relative_to(root)) for p in root.rglob("*") if "overviews" not in p.parts)
        with cldata.open(root) as store:  # reading needs no option: each file says how it was written
            assert [float(r.value) for r in store.analysis_results[:1]] == [1.0]
            assert np.array_equal(store.analysis_results[1].value["trace"], trace)
    with pytest.raises(BackendError, match="no option"):
        cldata.open(tmp_path / "other", backend="example", mode="a", level=9)


class TestExamplePlugin(BackendTests):
    backend_name = "example"

    def hostile_bytes(self, marker):
        # the same hostile payloads inside the plugin's own frame (plain and compressed), so that
        # they reach its msgpack decoder instead of stopping at the magic header
        found = super().hostile_bytes(marker)
        framed = {f"framed {kind}": b"CLXB-" + data for kind, data in found.items()}
        packed = {f"compressed {kind}": b"CLXBz" + zlib.compress(data) for kind, data in found.items()}
        return {**found, **framed, **packed}


class TestExamplePluginCompressed(BackendTests):
    backend_name = "example"
    backend_options = {"compress": True}
