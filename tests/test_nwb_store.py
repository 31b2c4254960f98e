"""NWB from stores and the command line: ``cldata.to_nwb``, ``view.to_nwb``, ``cldata nwb``,
``add_recording`` of an NWB file, and ``cldata check`` of one whose CL source moved.

What an exported file holds is read back with cldata's NWB reader (and pynwb for the
results table) and compared with what the store's view reads: the same window, the same
streams, the recording's results. Skipped while the NWB writer (the nwb extra) is missing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import quantities as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("pynwb", reason="pynwb is in the nwb extra: pip install '.[nwb]'")
pytest.importorskip("cldata.format.nwb.writer", reason="the NWB writer (cldata.format.nwb) is not there yet")

import cldata  # noqa: E402
from cldata.app.check import check_path  # noqa: E402
from cldata.app.cli import main  # noqa: E402
from cldata.errors import BrokenLinkError, OutputExistsError, UnsupportedValueError  # noqa: E402


def _reader():
    """The NWB reader (skips the test while it is missing)."""
    return pytest.importorskip("cldata.format.nwb.reader", reason="the NWB reader is not there yet")


def read_nwb(path):
    return _reader().read_nwb(path)


def is_cldata_nwb(path):
    return _reader().is_cldata_nwb(path)

SECONDS = 1.0


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("nwb-recordings")
    cldata.simulate(d / "a.h5", seconds=SECONDS, seed=1, attributes={"culture": "C1"})
    cldata.simulate(d / "b.h5", seconds=SECONDS, seed=2, attributes={"culture": "C2"})
    return d


@pytest.fixture(scope="module")
def store_root(recordings, tmp_path_factory) -> Path:
    """Two recordings (one copied, one linked) and results from one, the other, both and none."""
    root = tmp_path_factory.mktemp("nwb-store") / "store"
    with cldata.open(root, mode="a") as store:
        a = store.add_recording(recordings / "a.h5", {"session": 1}, overview=False)
        b = store.add_recording(recordings / "b.h5", {"session": 2}, link=True, overview=False)
        store.add_analysis_result(cldata.SingleValue("rate", 3.5 * pq.Hz, sources=[a], parameters={"bin": 10}))
        store.add_analysis_result(cldata.SingleValue("rate", 4.5 * pq.Hz, sources=[b], parameters={"bin": 10}))
        store.add_analysis_result(cldata.SingleValue("pair", 1.0 * pq.dimensionless, sources=[a, b]))
        store.add_analysis_result(cldata.SingleValue("global", 2.0 * pq.Hz))
    return root


def _results_table(path: Path) -> list[dict]:
    """The analysis results an NWB file holds, as its rows (read with pynwb)."""
    import pynwb

    from cldata.format.nwb import layout

    with pynwb.NWBHDF5IO(str(path), "r") as io:
        nwbfile = io.read()
        if layout.RESULTS_MODULE not in nwbfile.processing:
            return []
        table = nwbfile.processing[layout.RESULTS_MODULE][layout.RESULTS_TABLE]
        return [dict(zip(table.colnames, row, strict=False)) for row in
                table.to_dataframe().itertuples(index=False)]


def _assert_reads_like(nwb, view, streams: list[str]) -> None:
    """The NWB view reads what the store's view reads: spikes, stims, samples, the streams shown."""
    np.testing.assert_array_equal(nwb.read_spikes()["timestamp"], view.read_spikes()["timestamp"])
    np.testing.assert_array_equal(nwb.read_spikes()["channel"], view.read_spikes()["channel"])
    np.testing.assert_array_equal(nwb.read_stims()["timestamp"], view.read_stims()["timestamp"])
    assert sorted(nwb.data_streams) == sorted(streams)
    for name in streams:
        assert len(nwb.data_streams[name]) == len(view.data_streams[name]), name


@pytest.mark.parametrize("link", [True, False], ids=["linked", "self-contained"])
def test_view_to_nwb_honours_window_and_stream_selection(store_root, tmp_path, link):
    with cldata.open(store_root) as store:
        view = store.between(0.25 * pq.s, 0.75 * pq.s).streams("score")
        paths = view.to_nwb(tmp_path / "out", link=link)
        assert sorted(p.name for p in paths) == sorted(f"{rid}.nwb" for rid in store.recording_ids)
        for handle in view.recordings:
            path = tmp_path / "out" / f"{handle.id}.nwb"
            assert is_cldata_nwb(path)
            shown = handle.view()
            with read_nwb(path) as nwb:
                _assert_reads_like(nwb, shown, ["score"])
                first, stop = handle.window
                np.testing.assert_array_equal(nwb.read_samples(first, first + 500),
                                              shown.read_samples(first, first + 500))
                assert nwb.read_spikes()["timestamp"].min() >= 0.25 * shown.frames_per_second
                assert nwb.read_spikes()["timestamp"].max() < 0.75 * shown.frames_per_second


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(window=st.tuples(st.integers(0, 25_000), st.integers(0, 25_000)).filter(lambda w: w[0] != w[1]).map(sorted),
       streams=st.sets(st.sampled_from(["ball_position", "score"]), min_size=1))
def test_any_window_and_streams_of_a_store_view_are_what_the_file_holds(store_root, tmp_path, window, streams):
    _reader()
    start, stop = window
    with cldata.open(store_root) as store:
        view = store.filter(session=1).between(start, stop).streams(sorted(streams))
        (path,) = view.to_nwb(tmp_path / "w", overwrite=True)
        shown = view.recordings[0].view()
        with read_nwb(path) as nwb:
            _assert_reads_like(nwb, shown, sorted(streams))
            np.testing.assert_array_equal(nwb.read_samples(start, stop), shown.read_samples(start, stop))


def test_an_empty_window_is_written_linked(store_root, tmp_path):
    # (HDF5 makes no virtual dataset of zero rows: an empty window's samples are an empty dataset)
    with cldata.open(store_root) as store:
        (path,) = store.filter(session=1).between(100, 100).to_nwb(tmp_path / "empty")
        with read_nwb(path) as nwb:
            assert len(nwb.read_spikes()) == 0 and nwb.read_samples().shape[0] == 0


def test_store_recording_carries_its_id_parameters_and_results(store_root, tmp_path):
    with cldata.open(store_root) as store:
        for handle in store.recordings:
            path = cldata.to_nwb(handle, tmp_path / "x.nwb", overwrite=True)
            rows = _results_table(path)
            names = sorted(str(r.get("result")) for r in rows)
            # its own rate and the pair; not the other recording's rate nor the result of none
            assert names == ["pair", "rate"], names
            import pynwb

            with pynwb.NWBHDF5IO(str(path), "r") as io:
                assert io.read().identifier == handle.id
            with read_nwb(path) as nwb:
                rate = next(r for r in nwb.results if r["identifier"] == "rate")
                assert rate["value"] in (3.5, 4.5) and rate["units"] == "Hz" and rate["parameters"] == {"bin": 10}
                assert rate["sources"] == [handle.id] and rate["kind"] == "SingleValue"
                assert nwb.parameters["session"] == handle.parameters["session"]


def test_to_nwb_takes_a_file_a_view_and_a_windowed_view(recordings, tmp_path):
    whole = cldata.to_nwb(recordings / "a.h5", tmp_path / "a.nwb")
    with cldata.RecordingView(recordings / "a.h5") as view:
        part = cldata.to_nwb(view.between(0.5 * pq.s, None), tmp_path / "a-part.nwb", link=False)
        with read_nwb(whole) as nwb:
            _assert_reads_like(nwb, view, list(view.data_streams))
        with read_nwb(part) as nwb:
            _assert_reads_like(nwb, view.between(0.5 * pq.s, None), list(view.data_streams))


def test_to_nwb_refuses_what_it_cannot_do(recordings, tmp_path):
    out = cldata.to_nwb(recordings / "a.h5", tmp_path / "a.nwb")
    with pytest.raises(OutputExistsError, match="overwrite"):
        cldata.to_nwb(recordings / "a.h5", out)
    assert cldata.to_nwb(recordings / "a.h5", out, overwrite=True) == out
    with pytest.raises(UnsupportedValueError, match="RecordingView"):
        cldata.to_nwb(42, tmp_path / "b.nwb")


def test_neo_recordings_are_refused_before_anything_is_written(recordings, tmp_path):
    import neo

    segment = neo.Segment(name="s")
    segment.spiketrains.append(neo.SpikeTrain([0.1, 0.2] * pq.s, t_stop=1 * pq.s))
    with cldata.open(tmp_path / "store", mode="a") as store:
        store.add_recording(recordings / "a.h5", overview=False)
        rid = store.add_recording(segment)
        with pytest.raises(UnsupportedValueError, match="neo recording"):
            cldata.to_nwb(store.recording(rid), tmp_path / "x.nwb")
        with pytest.raises(UnsupportedValueError, match="neo recording"):
            store.to_nwb(tmp_path / "out")
        assert not (tmp_path / "out").exists()


def test_view_to_nwb_writes_nothing_when_a_file_exists(store_root, tmp_path):
    with cldata.open(store_root) as store:
        first = store.recording_ids[0]
        (tmp_path / "out").mkdir()
        (tmp_path / "out" / f"{first}.nwb").write_bytes(b"mine")
        with pytest.raises(OutputExistsError):
            store.to_nwb(tmp_path / "out")
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"{first}.nwb"]
        assert (tmp_path / "out" / f"{first}.nwb").read_bytes() == b"mine"


def test_cli_nwb_of_a_file_and_of_a_store(recordings, store_root, tmp_path, capsys):
    assert main(["nwb", str(recordings / "a.h5"), str(tmp_path / "a.nwb")]) == 0
    assert (tmp_path / "a.nwb").is_file()
    assert main(["nwb", str(recordings / "a.h5"), str(tmp_path / "a.nwb")]) == 1  # exists
    assert "--overwrite" in capsys.readouterr().err
    assert main(["nwb", str(recordings / "a.h5"), str(tmp_path / "a.nwb"), "--no-link", "--overwrite",
                 "--between", "0", "0.5s"]) == 0
    assert main(["nwb", str(recordings / "a.h5"), str(tmp_path / "c.nwb"), "--filter", "culture=C1"]) == 2
    assert "store" in capsys.readouterr().err
    assert main(["nwb", str(store_root), str(tmp_path / "linked"), "--link"]) == 0
    assert main(["nwb", str(store_root), str(tmp_path / "shared"), "--no-link", "--filter", "culture=C1"]) == 0
    out = capsys.readouterr().out
    assert "self-contained" in out
    assert len(list((tmp_path / "linked").glob("*.nwb"))) == 2
    assert len(list((tmp_path / "shared").glob("*.nwb"))) == 1
    assert main(["nwb", str(store_root), str(tmp_path / "a.nwb")]) == 1  # a store into a file
    assert main(["nwb", str(tmp_path / "missing"), str(tmp_path / "m")]) == 1


def test_cli_nwb_split_and_neo(recordings, store_root, tmp_path, capsys):
    a = str(recordings / "a.h5")
    assert main(["nwb", a, str(tmp_path / "a.nwb"), "--no-link", "--split", "1MiB"]) == 0
    members = sorted(tmp_path.glob("a.0*.nwb"))
    assert len(members) >= 2 and all(m.stat().st_size <= 2**20 for m in members)
    assert f"wrote {members[0]} (" in capsys.readouterr().out
    with read_nwb(tmp_path / "a.nwb") as nwb, cldata.RecordingView(recordings / "a.h5") as rec:
        assert np.array_equal(nwb.read_samples(), rec.read_samples())
    assert main(["nwb", a, str(tmp_path / "a.nwb"), "--no-link", "--split", "1MiB"]) == 1  # the members exist
    assert "a.00000.nwb exists; pass --overwrite" in capsys.readouterr().err
    # the flags' mistakes, in the flags' words, before anything is written
    assert main(["nwb", a, str(tmp_path / "b.nwb"), "--split", "1GB"]) == 2
    assert "--split splits self-contained files: add --no-link" in capsys.readouterr().err
    assert main(["nwb", a, str(tmp_path / "b.nwb"), "--no-link", "--split", "big"]) == 2
    assert "--split='big' is not a size" in capsys.readouterr().err
    assert main(["nwb", str(store_root), str(tmp_path / "store-out"), "--split", "1GB"]) == 2
    assert not list(tmp_path.glob("b*")) and not (tmp_path / "store-out").exists()
    # a store, split and laid out for neo: each recording's first member
    assert main(["nwb", str(store_root), str(tmp_path / "parts"), "--no-link", "--split", "1MiB", "--neo"]) == 0
    out = capsys.readouterr().out
    assert "wrote 2 NWB files" in out and "members" in out
    firsts = sorted((tmp_path / "parts").glob("*.00000.nwb"))
    assert len(firsts) == 2
    from neo.io import NWBIO

    for first in firsts:
        with read_nwb(first) as nwb:
            assert len(nwb.read_spikes(waveforms=False)) and nwb.sample_frames
    # neo's NWBIO opens one plain HDF5 file (no family driver): an unsplit --neo file is what it reads
    assert main(["nwb", a, str(tmp_path / "neo.nwb"), "--neo"]) == 0
    segment = NWBIO(str(tmp_path / "neo.nwb"), mode="r").read_block(lazy=False).segments[0]
    assert len(segment.spiketrains) > 0 and len(segment.events) == 1 and len(segment.epochs) == 1


def test_self_contained_store_files_validate(store_root, tmp_path):
    import pynwb

    with cldata.open(store_root) as store:
        paths = store.streams("score").to_nwb(tmp_path / "shared", link=False)
    for path in paths:
        with pynwb.NWBHDF5IO(str(path), "r") as io:
            errors = pynwb.validate(io=io)
        errors = errors[0] if isinstance(errors, tuple) else errors
        assert not errors, errors


@pytest.mark.parametrize("link", [True, False], ids=["linked", "self-contained"])
@pytest.mark.parametrize("block", [None, 7], ids=["one-block", "blocks-of-7"])
def test_add_recording_takes_back_an_nwb_file(recordings, tmp_path, link, block, monkeypatch):
    _reader()
    if block:  # spikes and stream entries copied back a few at a time: the blocks join up exactly
        from cldata.store import nwb_export

        monkeypatch.setattr(nwb_export, "_EVENTS", block)
    nwb_path = cldata.to_nwb(recordings / "a.h5", tmp_path / "a.nwb", link=link)
    with cldata.open(tmp_path / "store", mode="a") as store:
        rid = store.add_recording(nwb_path, {"from": "nwb"})
        handle = store.recording(rid)
        assert handle.parameters["from"] == "nwb"
        with cldata.RecordingView(recordings / "a.h5") as original:
            back = handle.view()
            np.testing.assert_array_equal(back.read_spikes(), original.read_spikes())
            np.testing.assert_array_equal(back.read_stims(), original.read_stims())
            np.testing.assert_array_equal(back.read_samples(), original.read_samples())
            assert sorted(back.data_streams) == sorted(original.data_streams)
            for name, stream in original.data_streams.items():
                got = list(back.data_streams[name].items())
                want = list(stream.items())
                assert [t for t, _ in got] == [t for t, _ in want], name
                assert repr([v for _, v in got]) == repr([v for _, v in want]), name
        with pytest.raises(cldata.errors.ParameterError, match="link"):
            store.add_recording(nwb_path, link=True)


def test_a_store_recording_comes_back_from_nwb_with_its_id_and_parameters(store_root, tmp_path):
    _reader()
    with cldata.open(store_root) as store:
        paths = store.to_nwb(tmp_path / "nwb", link=False)
        originals = {h.id: dict(h.parameters) for h in store.recordings}
    with cldata.open(tmp_path / "again", mode="a") as again:
        for path in paths:
            rid = again.add_recording(path, overview=False)
            assert rid in originals  # the same recording: the same id
            assert again.recording(rid).parameters["session"] == originals[rid]["session"]
        with pytest.raises(cldata.errors.DuplicateRecordingError, match=paths[0].name):
            again.add_recording(paths[0])


def test_add_recording_of_a_window_keeps_its_frames(recordings, tmp_path):
    """A window's NWB file comes back with its events and samples at their original frames."""
    _reader()
    with cldata.RecordingView(recordings / "a.h5") as original:
        part = original.between(0.5 * pq.s, 0.8 * pq.s)
        nwb_path = cldata.to_nwb(part, tmp_path / "part.nwb", link=False)
        with cldata.open(tmp_path / "store", mode="a") as store:
            back = store.recording(store.add_recording(nwb_path)).view()
            np.testing.assert_array_equal(back.read_spikes(), part.read_spikes())
            np.testing.assert_array_equal(back.read_stims(), part.read_stims())
            np.testing.assert_array_equal(back.read_samples(12_500, 20_000), part.read_samples(12_500, 20_000))
            assert not back.read_samples(0, 12_500).any()  # before the window: zero rows (row = frame)


def test_check_reports_a_moved_cl_source(recordings, tmp_path, capsys):
    _reader()
    shutil.copy(recordings / "a.h5", tmp_path / "a.h5")
    nwb_path = cldata.to_nwb(tmp_path / "a.h5", tmp_path / "a.nwb", link=True)
    assert check_path(nwb_path).healthy
    (tmp_path / "elsewhere").mkdir()
    shutil.move(tmp_path / "a.h5", tmp_path / "elsewhere" / "a.h5")
    with pytest.raises(BrokenLinkError):
        with read_nwb(nwb_path) as nwb:
            nwb.read_samples(0, 10)
    report = check_path(nwb_path)
    assert not report.healthy
    assert "a.h5" in str(report.problems[0])
    assert main(["check", str(nwb_path)]) == 1
    assert "PROBLEM" in capsys.readouterr().out


def test_importing_cldata_does_not_import_pynwb():
    code = "import sys, cldata; cldata.DataStore; assert 'pynwb' not in sys.modules and 'hdmf' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def _readme_nwb_commands() -> list[list[str]]:
    """The ``cldata nwb`` lines of the README's "Sharing in NWB" block, as argument lists (``["nwb", ...]``)."""
    import shlex

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### Sharing in NWB"):]
    block = section[section.index("```bash"):section.index("```", section.index("```bash") + 7)]
    lines = [line.split("#")[0].strip() for line in block.splitlines()[1:]]
    return [shlex.split(line)[1:] for line in lines if line.startswith("cldata nwb ")]


def test_the_readme_nwb_commands_work_on_the_demo_store(tmp_path, monkeypatch):
    """Each README line, run from a folder holding a (small) demo store: files that pynwb validates,
    nwbinspector passes, and pynwb, cldata (and neo, for --neo) read back equal to the store."""
    import pynwb
    from neo.io import NWBIO

    from cldata.app.demo import run_demo

    inspector = pytest.importorskip("nwbinspector")
    commands = _readme_nwb_commands()
    assert len(commands) >= 2 and {"--link", "--no-link"} <= {a for c in commands for a in c}
    assert run_demo(tmp_path / "cldata-demo", recordings=2, duration_s=1.0, executor="serial", workers=1,
                    figure=False, progress=False) == 0
    monkeypatch.chdir(tmp_path)
    with cldata.open(tmp_path / "cldata-demo" / "store") as store:
        expected = {h.id: (h.view().read_samples(), len(h.view().read_spikes()), len(h.view().read_stims()))
                    for h in store.recordings}
    for args in commands:
        assert main(args) == 0, args
        out = tmp_path / args[2]
        paths = sorted(out.glob("*.nwb"))
        assert sorted(p.stem for p in paths) == sorted(expected), args
        for path in paths:
            samples, spikes, stims = expected[path.stem]
            with read_nwb(path) as nwb:
                assert np.array_equal(nwb.read_samples(), samples)
                assert (len(nwb.read_spikes()), len(nwb.read_stims())) == (spikes, stims)
            with pynwb.NWBHDF5IO(str(path), "r") as io:
                assert not pynwb.validate(io=io)
                series = io.read().get_acquisition("samples") if "--neo" not in args else \
                    io.read().processing["ecephys"]["samples"]
                assert np.array_equal(series.data[:], samples)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                findings = inspector.inspect_nwbfile(nwbfile_path=str(path))
                serious = {m.check_function_name for m in findings
                           if m.importance.name in ("CRITICAL", "BEST_PRACTICE_VIOLATION")}
            accepted = {"check_subject_species_exists"} | ({"check_regular_timestamps"} if "--neo" in args else set())
            assert serious <= accepted, (args, serious)
            if "--neo" in args:
                segment = NWBIO(str(path), mode="r").read_block().segments[0]
                assert sum(len(st) for st in segment.spiketrains) == spikes
                assert len(segment.events) == 1 and len(segment.epochs) == 1


def test_info_check_and_import_take_an_nwb_file_by_any_of_its_names(recordings, tmp_path, capsys):
    """`cldata info` describes an NWB file cldata wrote (not as a damaged CL file); `info`, `check` and
    `import` take a split file by the name it was written as or by any member."""
    a = str(recordings / "a.h5")
    assert main(["nwb", a, str(tmp_path / "neo.nwb"), "--neo"]) == 0
    assert main(["nwb", a, str(tmp_path / "parts.nwb"), "--no-link", "--split", "1MiB"]) == 0
    capsys.readouterr()
    assert main(["info", str(tmp_path / "neo.nwb")]) == 0
    out = capsys.readouterr().out
    assert "an NWB file cldata wrote (linked to" in out and "laid out for neo" in out
    with cldata.RecordingView(recordings / "a.h5") as rec:
        n_spikes, frames = len(rec.read_spikes(waveforms=False)), rec.samples.nrows
    assert f"spikes: {n_spikes:,}" in out and f"samples: {frames:,} frames" in out
    members = sorted(tmp_path.glob("parts.0*.nwb"))
    for name in (tmp_path / "parts.nwb", members[-1]):
        assert main(["info", str(name)]) == 0
        out = capsys.readouterr().out
        assert "self-contained" in out and f"in {len(members)} members; NWB layout" in out
        assert main(["check", str(name)]) == 0
        assert "healthy" in capsys.readouterr().out
    assert main(["import", str(tmp_path / "store"), str(tmp_path / "parts.nwb"), "--create", "--quiet"]) == 0
    with cldata.open(tmp_path / "store") as store, cldata.RecordingView(recordings / "a.h5") as rec:
        (handle,) = store.recordings
        assert np.array_equal(handle.view().read_samples(), rec.read_samples())
    assert main(["info", str(tmp_path / "nothing.nwb")]) == 1
    assert "no such file" in capsys.readouterr().err
