"""A lab's analysis, installed with pip, runs by name through ``cldata run`` and stores a new kind of result.

The example plugin lives in ``tests/example_analysis_plugin`` (``cldata-example-analysis``):
one module holding the analysis ``ChannelCorrelation`` and its result kind
``CorrelationMatrix``, and a ``pyproject.toml`` declaring them under the entry-point groups
``cldata.analyses`` and ``cldata.result_kinds``. A module fixture installs it with pip into
a temporary directory (as ``test_example_plugin`` installs the example backend), which the
CLI subprocesses and this process find through ``PYTHONPATH`` / ``sys.path``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_example_plugin import install_example_plugin

import cldata
from cldata.analysis import ANALYSES, get_analysis
from cldata.format.simulate import simulate_recording
from cldata.model.results import RESULT_KINDS, get_result_kind

PLUGIN_SOURCE = Path(__file__).resolve().parent / "example_analysis_plugin"
DIST_NAME = "cldata-example-analysis"
MODULE = "cldata_example_analysis"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory):
    """The example analysis plugin, installed and importable for this module's tests only."""
    site, _ = install_example_plugin(tmp_path_factory.mktemp("example-analysis"), PLUGIN_SOURCE)
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    try:
        yield site
    finally:
        sys.path.remove(str(site))
        sys.modules.pop(MODULE, None)
        ANALYSES.unregister("ChannelCorrelation")  # forget the classes imported from the installation
        RESULT_KINDS.unregister("CorrelationMatrix")
        importlib.invalidate_caches()


def cli(site: Path, *args: str) -> subprocess.CompletedProcess:
    """``cldata ARGS`` in a new process that finds this checkout of cldata and the installed plugin."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(REPO)]))
    done = subprocess.run([sys.executable, "-m", "cldata.app.cli", *args], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, f"cldata {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def store_root(tmp_path_factory):
    """A store holding one simulated recording (8 channels, 1 s)."""
    work = tmp_path_factory.mktemp("store")
    simulate_recording(work / "rec.h5", duration_s=1.0, seed=3, channel_count=8, mean_rate_hz=20.0)
    with cldata.open(work / "store", mode="a") as store:
        store.add_recording(work / "rec.h5", parameters={"culture": "C1"})
    return work / "store"


def test_the_plugin_is_found_by_its_entry_points(plugin_site):
    dist = importlib.metadata.distribution(DIST_NAME)
    assert Path(dist.locate_file("")).resolve() == plugin_site.resolve()
    groups = {(ep.group, ep.name): ep.value for ep in dist.entry_points}
    assert groups == {("cldata.analyses", "ChannelCorrelation"): f"{MODULE}:ChannelCorrelation",
                      ("cldata.result_kinds", "CorrelationMatrix"): f"{MODULE}:CorrelationMatrix"}
    assert "ChannelCorrelation" in ANALYSES.names() and MODULE not in sys.modules  # listed, not imported
    assert ANALYSES.origins()["ChannelCorrelation"] == f"plugin ({MODULE}:ChannelCorrelation)"
    assert get_analysis("ChannelCorrelation").__module__ == MODULE
    assert get_result_kind("CorrelationMatrix").__module__ == MODULE


def test_cldata_run_runs_the_plugin_and_its_results_are_found_by_their_parameters(plugin_site, store_root, tmp_path):
    run_file = tmp_path / "corr.param"
    run_file.write_text(
        "{\n"
        f"    'store': {{'root_directory': {str(store_root)!r}}},\n"
        "    'analyses': {'corr': {'class': 'ChannelCorrelation',\n"
        "                          'params': {'bin_ms': ParameterRange([5.0, 20.0])}}},\n"
        "    'executor': {'kind': 'serial'},\n"
        "}\n")
    done = cli(plugin_site, "run", str(run_file), "--no-progress")
    assert "computed 2 analyses (2 results)" in done.stdout, done.stdout
    again = cli(plugin_site, "run", str(run_file), "--no-progress")  # stored: nothing to compute
    assert "skipped 2 already stored" in again.stdout, again.stdout

    found = json.loads(cli(plugin_site, "query", str(store_root), "--filter", "analysis=ChannelCorrelation",
                           "--filter", "bin_ms=20.0", "--json", "--values").stdout)
    (entry,) = found["results"]
    assert entry["kind"] == "CorrelationMatrix" and entry["parameters"]["bin_ms"] == 20.0
    assert len(entry["values"]["channels"]) == 8

    with cldata.open(store_root) as store:
        results = store.filter_results(analysis="ChannelCorrelation").analysis_results
        assert sorted(r.parameters["bin_ms"] for r in results) == [5.0, 20.0]
        (coarse,) = store.filter_results(analysis="ChannelCorrelation", bin_ms=20.0).analysis_results
        assert type(coarse).__name__ == "CorrelationMatrix" and type(coarse).__module__ == MODULE
        assert list(coarse.channels) == list(range(8)) and np.allclose(np.diag(coarse.matrix), 1.0)
        assert np.allclose(coarse.matrix, coarse.matrix.T) and coarse.value_for(2, 5) == coarse.matrix[2, 5]
        assert np.allclose(coarse.matrix, entry["values"]["matrix"])
        # what the run stored is what the analysis computes here
        (direct,) = get_analysis("ChannelCorrelation")({"bin_ms": 20.0}).compute(store.recordings[0])
        assert np.array_equal(direct.matrix, coarse.matrix) and direct.key == coarse.key
