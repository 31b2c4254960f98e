"""``cldata.format.simulate`` and ``cldata simulate``: a sample recording for a new user, written safely."""

from __future__ import annotations

import subprocess
import sys

import pytest

import cldata
from cldata.errors import OutputExistsError, ParameterError


def cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cldata.app.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def test_simulate_writes_the_recording_asked_for(tmp_path):
    path = cldata.simulate(tmp_path / "s.h5", seconds=0.5, channels=8, streams=["score"], seed=2,
                           attributes={"culture": "C7"})
    assert path == tmp_path / "s.h5"
    with cldata.RecordingView(path) as rec:
        assert rec.duration_seconds == 0.5 and rec.channel_count == 8
        assert list(rec.data_streams) == ["score"]
        assert rec.attributes.application == {"culture": "C7"}
        assert len(rec.spikes) > 0 and len(rec.stims) > 0
        assert set(rec.read_spikes()["channel"]) <= set(range(8))
        assert rec.read_samples().shape == (12_500, 8)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.h5"]  # no temporary or journal left


def test_the_same_seed_gives_the_same_recording(tmp_path):
    a = cldata.simulate(tmp_path / "a.h5", seconds=0.3, seed=5)
    b = cldata.simulate(tmp_path / "b.h5", seconds=0.3, seed=5)
    with cldata.RecordingView(a) as ra, cldata.RecordingView(b) as rb:
        assert (ra.read_spikes() == rb.read_spikes()).all()
        assert (ra.read_samples() == rb.read_samples()).all()
        assert list(ra.data_streams["ball_position"].items()) == list(rb.data_streams["ball_position"].items())


def test_an_existing_file_is_kept_unless_overwrite(tmp_path):
    path = tmp_path / "s.h5"
    path.write_bytes(b"mine")
    with pytest.raises(OutputExistsError, match=r"overwrite=True"):
        cldata.simulate(path, seconds=0.2)
    assert path.read_bytes() == b"mine"
    cldata.simulate(path, seconds=0.2, overwrite=True)
    with cldata.RecordingView(path) as rec:
        assert rec.duration_seconds == 0.2


def test_a_failed_overwrite_leaves_the_old_file_and_nothing_else(tmp_path, monkeypatch):
    import cldata.format.simulate as _  # noqa: F401 - the module, whatever the package attribute is
    module = sys.modules["cldata.format.simulate"]
    path = tmp_path / "s.h5"
    path.write_bytes(b"mine")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(module, "simulate_recording", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        cldata.simulate(path, seconds=0.2, overwrite=True)
    assert path.read_bytes() == b"mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.h5"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"seconds": 0}, r"seconds= is the recording's length"),
    ({"seconds": float("nan")}, r"seconds="),
    ({"channels": 300}, r"channels= is a number of channels from 1 to 256"),
    ({"streams": ["scor"]}, r"no stream 'scor' \(did you mean 'score'\?\); streams= takes"),
])
def test_impossible_requests_are_refused_in_python_words(tmp_path, kwargs, message):
    with pytest.raises(ParameterError, match=message):
        cldata.simulate(tmp_path / "s.h5", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_the_command_explains_itself():
    assert "simulate" in cli("--help").stdout
    text = cli("simulate", "--help").stdout
    assert "usage: cldata simulate" in text and "--seconds" in text and "--overwrite" in text


def test_the_command_writes_a_sample_and_says_what_it_holds(tmp_path):
    out = cli("simulate", "sample.h5", "--seconds", "0.5", "--channels", "16", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("wrote sample.h5: 0.5 s, 16 channels, ")
    assert "ball_position (50 entries)" in out.stdout and "score (" in out.stdout
    with cldata.RecordingView(tmp_path / "sample.h5") as rec:
        assert rec.channel_count == 16


def test_the_command_refuses_an_existing_file_in_its_own_words(tmp_path):
    (tmp_path / "sample.h5").write_bytes(b"mine")
    out = cli("simulate", "sample.h5", cwd=tmp_path)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1].endswith("sample.h5 exists; pass --overwrite to replace it")
    assert (tmp_path / "sample.h5").read_bytes() == b"mine"
    assert cli("simulate", "sample.h5", "--overwrite", "--seconds", "0.2", "--no-samples", "--streams",
               cwd=tmp_path).returncode == 0
    with cldata.RecordingView(tmp_path / "sample.h5") as rec:
        assert list(rec.data_streams) == [] and rec.samples is None


@pytest.mark.parametrize(("args", "message"), [
    (["--seconds", "-1"], "--seconds is the recording's length"),
    (["--channels", "0"], "--channels is a number of channels"),
    (["--streams", "ball"], "--streams takes any of ball_position, score"),
])
def test_the_command_names_its_flags_and_creates_nothing(tmp_path, args, message):
    out = cli("simulate", "sample.h5", *args, cwd=tmp_path)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr
    assert list(tmp_path.iterdir()) == []
