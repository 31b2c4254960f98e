"""Batch runs: sweeps on every executor, resuming after a kill, failures reported, hostile files refused."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import cldata
from cldata.batch.paramfile import load_parameters
from cldata.batch.runner import run_batch
from cldata.errors import CldataError, ParameterError
from cldata.format.simulate import simulate_recording
from conftest import committed_generation

SWEEP_RUN = """
{
    "store": {"root_directory": "%(root)s"},
    "executor": {"kind": "%(executor)s", "workers": 2},
    "query": [{"class": "FilterRecordingsQuery", "params": {"params": {"culture": ["C1", "C2"]}}}],
    "analyses": {
        "psth": {"class": "StimulusTriggeredHistogram",
                 "params": {"bin_ms": ParameterRange([2, 5]), "post_ms": ParameterRange([40, 80, 120]),
                            "response_ms": 20}},
    },
}
"""


def make_store(root: Path, n: int, duration_s: float = 0.5) -> list[str]:
    with cldata.open(root, mode="a") as store:
        ids = []
        for i in range(n):
            path = root.parent / f"src{i}.h5"
            simulate_recording(path, duration_s=duration_s, seed=i, samples=False)
            ids.append(store.add_recording(path, {"culture": f"C{i % 2 + 1}", "stimulation": {"frequency": 4}}))
    return ids


def write_run(tmp_path: Path, root: Path, executor: str) -> Path:
    path = tmp_path / f"run_{executor}.param"
    path.write_text(SWEEP_RUN % {"root": root, "executor": executor})
    return path


def result_sets(root: Path) -> dict[str, list[tuple]]:
    """Per recording, the (bin_ms, post_ms) of every stored PSTH (one per unit)."""
    sets: dict[str, list[tuple]] = {}
    with cldata.open(root) as store:
        for r in store.filter(identifier="psth").analysis_results:
            sets.setdefault(r.sources[0], []).append((r.parameters["bin_ms"], r.parameters["post_ms"]))
    return sets


@pytest.mark.parametrize("executor", ["serial", "processes", "dask"])
def test_a_two_by_three_sweep_gives_six_result_sets_per_recording(tmp_path, executor):
    root = tmp_path / "store"
    ids = make_store(root, 3)
    params = load_parameters(write_run(tmp_path, root, executor))
    report = run_batch(params, progress=False)
    assert report.ok and report.computed == 18 and report.skipped == 0
    sets = result_sets(root)
    assert sorted(sets) == sorted(ids)
    for combos in sets.values():
        assert sorted(combos) == [(b, p) for b in (2, 5) for p in (40, 80, 120)]
    with cldata.open(root) as store:
        one = store.filter(identifier="psth", bin_ms=5, post_ms=80, ads_unique=False).analysis_results[0]
        assert one.parameters["analysis"] == "StimulusTriggeredHistogram"
        assert np.all(np.diff(np.asarray(one.times)) == pytest.approx(5.0))
    again = run_batch(params, progress=False)
    assert again.computed == 0 and again.skipped == 18 and "nothing new" in str(again)


def test_killing_a_run_half_way_and_running_it_again_finishes_without_duplicates(tmp_path):
    root = tmp_path / "store"
    make_store(root, 8, duration_s=2.0)
    run_file = write_run(tmp_path, root, "serial")
    start = committed_generation(root)
    proc = subprocess.Popen([sys.executable, "-m", "cldata.app.cli", "run", str(run_file), "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if committed_generation(root) > start + 2:
                    break  # some units are committed, most are not
            except (CldataError, OSError):
                pass
            time.sleep(0.002)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    partial = sum(len(v) for v in result_sets(root).values())
    assert 0 < partial < 48, "the run should have been interrupted half-way"
    out = subprocess.run([sys.executable, "-m", "cldata.app.cli", "run", str(run_file), "--no-progress"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert f"skipped {partial} already stored" in out.stdout
    sets = result_sets(root)
    assert sum(len(v) for v in sets.values()) == 48
    assert all(len(set(combos)) == len(combos) == 6 for combos in sets.values())


def test_a_failing_unit_is_reported_and_the_others_are_kept(tmp_path):
    root = tmp_path / "store"
    make_store(root, 2)
    narrow = tmp_path / "narrow.h5"
    with cldata.RecordingWriter(narrow, channel_count=32) as w:
        w.append_spikes([10, 20], [1, 2], np.zeros((2, 75), np.float32))
    with cldata.open(root, mode="a") as store:
        bad_id = store.add_recording(narrow, {"culture": "C1"})
    params = {
        "store": {"root_directory": str(root)},
        "executor": {"kind": "serial"},
        "analyses": {"rates": {"class": "ISIHistogram", "params": {"channels": [40, 41]}}},
    }
    report = run_batch(params, progress=False)
    assert report.computed == 2 and len(report.failures) == 1
    unit, failure = report.failures[0]
    assert unit.recording_id == bad_id and unit.parameters["channels"] == [40, 41]
    assert "channel" in failure.message and bad_id in str(report) and "ISIHistogram" in str(report)
    with cldata.open(root) as store:
        assert len(store.filter(analysis="ISIHistogram").analysis_results) == 2
    # the failed unit is tried again next time, the stored ones are not
    again = run_batch(params, progress=False)
    assert again.skipped == 2 and len(again.failures) == 1


def test_bad_run_descriptions_raise_before_anything_runs(tmp_path):
    root = tmp_path / "store"
    make_store(root, 1)
    base = {"store": {"root_directory": str(root)}, "executor": {"kind": "serial"}}
    with pytest.raises(ParameterError, match="unknown analysis 'Nope'"):
        run_batch({**base, "analyses": {"x": {"class": "Nope", "params": {}}}}, progress=False)
    with pytest.raises(ParameterError, match="bin_ms"):
        run_batch({**base, "analyses": {"x": {"class": "StimulusTriggeredHistogram", "params": {"bin_ms": "2"}}}},
                  progress=False)
    with pytest.raises(ParameterError, match="unknown executor"):
        run_batch({**base, "executor": {"kind": "cluster"}, "analyses": {}}, progress=False)
    with pytest.raises(ParameterError, match="missing \\['analyses'\\]"):
        run_batch({"store": {"root_directory": str(root)}}, progress=False)
    with cldata.open(root) as store:
        assert store.analysis_results == []


def test_a_parameter_file_containing_code_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    hostile = tmp_path / "hostile.param"
    hostile.write_text(textwrap.dedent(f"""\
        {{
            "store": {{"root_directory": "{tmp_path / 'store'}"}},
            "analyses": {{}},
            "executor": __import__('os').system('touch {marker}'),
        }}
    """))
    out = subprocess.run([sys.executable, "-m", "cldata.app.cli", "run", str(hostile)], capture_output=True, text=True)
    assert out.returncode == 2
    assert "hostile.param:4" in out.stderr and "__import__" in out.stderr
    assert not marker.exists() and not (tmp_path / "store").exists()


def test_overrides_on_the_command_line(tmp_path):
    root = tmp_path / "store"
    make_store(root, 2)
    run_file = write_run(tmp_path, tmp_path / "elsewhere", "processes")
    out = subprocess.run([sys.executable, "-m", "cldata.app.cli", "run", str(run_file), "--no-progress",
                          "--set", f"store.root_directory={root}", "--executor", "serial",
                          "--set", "analyses.psth.params.bin_ms=5"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "computed 6 analyses" in out.stdout  # 2 recordings x 3 windows, bin fixed at 5 ms
    assert {b for combos in result_sets(root).values() for b, _ in combos} == {5}
    assert not (tmp_path / "elsewhere").exists()
