"""The command line: every sub-command, run as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import cldata

COMMANDS = ["demo", "run", "info", "import", "query", "export", "check"]


def cli(*args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", "cldata.app.cli", *args], capture_output=True, text=True,
                         cwd=cwd, timeout=600)
    if check and out.returncode != 0:
        raise AssertionError(f"cldata {' '.join(args)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return out


def test_every_command_explains_itself():
    top = cli("--help").stdout
    for command in COMMANDS:
        assert command in top
        text = cli(command, "--help").stdout
        assert "usage: cldata " + command in text and len(text) > 200


def test_the_demo_runs_and_a_second_run_computes_nothing(tmp_path):
    first = cli("demo", "--dir", str(tmp_path / "demo"), "--recordings", "2", "--duration", "1",
                "--executor", "serial", "--no-progress")
    assert "simulating 2 recordings" in first.stdout
    assert "demo_psth.param: computed 12 analyses" in first.stdout  # 2 recordings x a 2 x 3 sweep
    assert "PSTH peak" in first.stdout and "culture" in first.stdout
    png = tmp_path / "demo" / "summary.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    second = cli("demo", "--dir", str(tmp_path / "demo"), "--executor", "serial", "--no-progress")
    assert "reusing the store" in second.stdout
    assert second.stdout.count("nothing new to compute") == 3   # demo_rates, demo_psth, cl_toolkit


def test_import_info_query_and_export(tmp_path, small_recording, other_recording):
    path, _ = small_recording
    store = tmp_path / "store"
    out = cli("import", str(store), str(path), "--param", "culture=C3", "--param", "session=4", "--create")
    rid = out.stdout.split()[0]
    cli("import", str(store), str(other_recording), "--link")
    info = cli("info", str(store)).stdout
    assert "2 recordings" in info and rid in info
    assert "ball_position" in cli("info", str(path)).stdout
    found = json.loads(cli("query", str(store), "--filter", "culture=C3", "--json").stdout)
    assert [r["id"] for r in found["recordings"]] == [rid]
    assert found["recordings"][0]["parameters"]["session"] == 4
    both = json.loads(cli("query", str(store), "--filter", "culture=['C3', 'C7']", "--json").stdout)
    assert len(both["recordings"]) == 2
    cli("export", str(store), str(tmp_path / "c3.h5"), "--filter", "culture=C3")
    with cldata.open(tmp_path / "c3.h5") as shared:
        assert shared.recording_ids == [rid]
    assert "1 recording," in cli("info", str(tmp_path / "c3.h5")).stdout


def test_errors_are_one_clear_line_and_a_nonzero_status(tmp_path):
    missing = cli("info", str(tmp_path / "nope.h5"), check=False)
    assert missing.returncode == 1 and "nope.h5" in missing.stderr and "Traceback" not in missing.stderr
    (tmp_path / "store").mkdir()
    typo = cli("query", str(tmp_path / "store"), check=False)
    assert typo.returncode == 1 and "not a cldata store" in typo.stderr
    bad = cli("run", str(tmp_path / "absent.param"), check=False)
    assert bad.returncode == 1 and "absent.param" in bad.stderr


@pytest.mark.parametrize("command", ["query", "export"])
def test_unknown_filter_keys_are_refused(tmp_path, small_recording, command):
    store = tmp_path / "store"
    cli("import", str(store), str(small_recording[0]), "--create")
    args = [command, str(store)] + ([str(tmp_path / "x.h5")] if command == "export" else []) + ["--filter", "cultur=C1"]
    out = cli(*args, check=False)
    assert out.returncode == 2 and "cultur" in out.stderr


def test_demo_parameter_files_are_found_from_a_source_checkout(monkeypatch):
    from cldata.app import demo

    def not_installed(name):
        raise ModuleNotFoundError(name)

    monkeypatch.setattr(demo, "files", not_installed)
    for name in demo.DEMO_PARAMETER_FILES:
        with demo.parameter_file(name) as path:
            assert path.name == name and "analyses" in path.read_text()
