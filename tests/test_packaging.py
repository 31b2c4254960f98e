"""The repository's param/ folder: installed as cldata's package data, never importable as ``param``.

HoloViz's ``param`` (which holoviews, panel and hvplot import) has the same name: a
top-level ``param`` package in the checkout made ``import holoviews`` fail for anyone who
started Python from the checkout root.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def python(code: str, *, cwd: Path, path: list[Path] = ()) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, path))}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=120)


def test_param_folder_is_not_a_package():
    assert (ROOT / "param" / "defaults.param").is_file()
    assert not (ROOT / "param" / "__init__.py").exists()


def test_an_installed_param_package_wins_over_the_folder_from_the_checkout_root(tmp_path):
    # a stand-in for HoloViz's param, installed after the current directory on sys.path
    site = tmp_path / "site"
    (site / "param").mkdir(parents=True)
    (site / "param" / "__init__.py").write_text("WHO = 'holoviz'\n")
    out = python("import param; print(param.WHO)", cwd=ROOT, path=[site])
    assert out.returncode == 0 and out.stdout.strip() == "holoviz", out.stderr


def test_without_one_the_folder_is_no_regular_package(tmp_path):
    out = python("import importlib.util as u; s = u.find_spec('param'); "
                 "print('none' if s is None else s.origin or 'namespace')", cwd=ROOT, path=[])
    assert out.returncode == 0, out.stderr
    origin = out.stdout.strip()
    # nothing, an empty namespace portion, or a param installed in the environment: never param/__init__.py
    assert origin in ("none", "namespace") or not Path(origin).is_relative_to(ROOT), origin


def test_a_build_installs_the_parameter_files_as_cldata_data_and_the_demo_finds_them(tmp_path):
    """What ``pip install .`` copies (setuptools' build_py, from setup.cfg), checked without a network."""
    # looked up, not imported: importing setuptools here, after something imported the standard
    # library's distutils, trips setuptools' own distutils check (the build runs in a subprocess)
    if importlib.util.find_spec("setuptools") is None:
        pytest.skip("building needs setuptools (pip install setuptools)")
    src = tmp_path / "src"
    src.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for folder in ("cldata", "param"):
        shutil.copytree(ROOT / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))
    lib = tmp_path / "lib"
    out = subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "-q", "build_py",
                          "--build-lib", str(lib)], cwd=src, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in (lib / "cldata" / "param").iterdir()) == [
        "cl_toolkit.param", "defaults.param", "demo_psth.param", "demo_rates.param"]
    assert sorted(p.name for p in lib.iterdir()) == ["cldata"]  # no top-level param
    found = python("from cldata.app.demo import DEMO_PARAMETER_FILES, parameter_file\n"
                   "for name in DEMO_PARAMETER_FILES:\n"
                   "    with parameter_file(name) as p: print(p)\n", cwd=tmp_path, path=[lib])
    assert found.returncode == 0, found.stderr
    assert [Path(p) for p in found.stdout.split()] == [lib / "cldata" / "param" / n
                                                        for n in ("demo_rates.param", "demo_psth.param", "cl_toolkit.param")]


def test_every_package_of_cldata_is_installed():
    """Once: a new package (cldata/catalogs) was left out of setup.cfg's list, and a fresh install could not
    import cldata at all, while every test run from the checkout passed."""
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    listed = set(cfg["options"]["packages"].split())
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "cldata").rglob("__init__.py")}
    assert found - listed == set(), "add these packages to setup.cfg [options] packages"
