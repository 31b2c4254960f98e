"""The command line in a newcomer's first hour: every error is one line in the command line's words.

Each command is driven with the mistakes of issue 12 (a missing dask, an export onto a
directory, a ``--chain`` file without ``query``, a mistyped store, a missing file, a
directory where a file was meant, ...) and each test asserts the one-line message, the exit
status (2: what was typed means nothing; 1: the command could not do it) and that nothing
was created or changed. Most run ``cldata.app.cli.main`` in this process (fast); a few run
``python -m cldata.app.cli`` as a real process, where a traceback would show.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import quantities as pq

import cldata
from cldata.app import cli
from cldata.app.cli import store_commands
from cldata.errors import NotARecordingError, StoreFormatError
from conftest import fingerprint, write_small_recording

RATES = "{'class': 'FiringRate', 'params': {'min_spikes': 2}}"


class Cli:
    """``cldata ARGS`` in this process: (status, stdout, stderr)."""

    def __init__(self, capsys):
        self.capsys = capsys

    def __call__(self, *args: str | Path) -> tuple[int, str, str]:
        self.capsys.readouterr()
        status = cli.main([str(a) for a in args])
        out, err = self.capsys.readouterr()
        return status, out, err


@pytest.fixture
def run(capsys) -> Cli:
    return Cli(capsys)


def process(*args: str | Path, prelude: str = "") -> subprocess.CompletedProcess:
    """``python -m cldata.app.cli ARGS`` as a real process (``prelude``: Python run first, in it)."""
    code = f"{prelude}\nimport sys\nfrom cldata.app.cli import main\nsys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def one_line(err: str, *words: str) -> str:
    """``err`` is one line, ``cldata COMMAND: ...``, without a traceback, naming ``words``."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("cldata") and "Traceback" not in err, err
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def lab_template(tmp_path_factory) -> Path:
    """A store of two recordings (cultures C1, C2) with a result each, written once."""
    root = tmp_path_factory.mktemp("lab")
    with cldata.open(root / "store", mode="a") as store:
        for i, culture in enumerate(["C1", "C2"]):
            src = root / f"rec{i}.h5"
            write_small_recording(src, samples=False, seed=i)
            rid = store.add_recording(src, {"culture": culture})
            store.add_analysis_result(cldata.SingleValue("mean_rate", (i + 1.5) * pq.Hz, sources=[rid]))
    return root


@pytest.fixture
def lab(lab_template, tmp_path) -> Path:
    """A directory of its own holding the store of :func:`lab_template`, the recordings' source
    files and a parameter file that runs on the store."""
    for path in lab_template.iterdir():
        (shutil.copytree if path.is_dir() else shutil.copy2)(path, tmp_path / path.name)
    (tmp_path / "run.param").write_text(
        f"{{'store': {{'root_directory': '{tmp_path / 'store'}'}}, 'executor': {{'kind': 'serial'}}, "
        f"'analyses': {{'rates': {RATES}}}}}")
    return tmp_path


# --- the three tracebacks of the issue ------------------------------------------------------------------


@pytest.mark.parametrize("how", [["--executor", "dask"], ["--scheduler", "tcp://127.0.0.1:9"], ["file"]])
def test_a_run_on_dask_without_dask_installed_is_one_line_and_changes_nothing(lab, run, monkeypatch, how):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # `import dask.distributed` fails
    param = lab / "run.param"
    if how == ["file"]:
        param.write_text(param.read_text().replace("'serial'", "'dask'"))
        how = []
    before = fingerprint(lab)
    status, out, err = run("run", param, "--no-progress", *how)
    line = one_line(err, "cldata run:", "dask.distributed is not installed", "pip install 'cldata[dask]'",
                    "--executor processes")
    assert status == 1 and fingerprint(lab) == before
    assert ("executor.kind 'dask'" in line) == (how == [])


def test_a_run_on_dask_without_dask_shows_no_traceback_in_a_real_process(lab):
    before = fingerprint(lab)
    out = process("run", lab / "run.param", "--executor", "dask", "--no-progress",
                  prelude="import sys; sys.modules['dask.distributed'] = None")
    assert out.returncode == 1
    one_line(out.stderr, "dask.distributed is not installed")
    assert fingerprint(lab) == before


@pytest.mark.parametrize("overwrite", [True, False])
def test_an_export_onto_a_directory_says_so_and_leaves_it_alone(lab, run, overwrite):
    target = lab / "shared"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    before = fingerprint(lab)
    status, out, err = run("export", lab / "store", target, *(["--overwrite"] if overwrite else []))
    one_line(err, "cldata export:", f"{target} is a directory", "name a file")
    assert status == 1 and fingerprint(lab) == before
    assert ("--overwrite replaces a file, never a directory" in err) == overwrite


def test_an_export_onto_a_directory_shows_no_traceback_in_a_real_process(lab):
    (lab / "shared").mkdir()
    before = fingerprint(lab)
    out = process("export", lab / "store", lab / "shared", "--overwrite")
    assert out.returncode == 1 and fingerprint(lab) == before
    one_line(out.stderr, "is a directory")


def test_an_export_onto_a_file_asks_for_overwrite_in_the_command_lines_words(lab, run):
    target = lab / "c.h5"
    target.write_bytes(b"someone's file")
    status, out, err = run("export", lab / "store", target)
    line = one_line(err, "exists", "pass --overwrite")
    assert status == 1 and "overwrite=True" not in line and target.read_bytes() == b"someone's file"
    status, out, err = run("export", lab / "store", target, "--overwrite", "--filter", "culture=C1")
    assert status == 0 and "exported 1 recording and 1 result" in out
    with cldata.open(target) as shared:
        assert len(shared.recording_ids) == 1


@pytest.mark.parametrize("content, words", [
    ("{'x': 1}", ["has no 'query' entry", "it has 'x'", "--chain"]),
    ("{'query': 'culture'}", ["'query' entry", "not a list of queries"]),
])
def test_a_chain_file_without_a_query_list_is_one_line(lab, run, content, words):
    chain = lab / "chain.param"
    chain.write_text(content)
    before = fingerprint(lab)
    for command in ("query", "export"):
        args = [command, lab / "store"] + ([lab / "out.h5"] if command == "export" else []) + ["--chain", chain]
        status, out, err = run(*args)
        one_line(err, f"cldata {command}:", str(chain), *words)
        assert status == 2 and fingerprint(lab) == before


def test_a_chain_file_without_a_query_shows_no_traceback_in_a_real_process(lab):
    (lab / "chain.param").write_text("{'x': 1}")
    out = process("query", lab / "store", "--chain", lab / "chain.param")
    assert out.returncode == 2
    one_line(out.stderr, "no 'query' entry")


def test_a_chain_file_with_a_query_selects(lab, run):
    chain = lab / "chain.param"
    chain.write_text("{'query': [{'class': 'ParamFilterQuery', 'params': {'params': {'culture': 'C2'}}}]}")
    status, out, err = run("query", lab / "store", "--chain", chain, "--json")
    assert status == 0 and [r["parameters"]["culture"] for r in json.loads(out)["recordings"]] == ["C2"]


# --- typos create nothing ----------------------------------------------------------------------------------


def test_a_run_on_a_mistyped_store_makes_nothing(lab, run):
    before = fingerprint(lab)
    status, out, err = run("run", lab / "run.param", "--set", f"store.root_directory={lab / 'lab-stor'}",
                           "--no-progress")
    one_line(err, "cldata run:", f"no store at {lab / 'lab-stor'}", "pass --create to make one")
    assert status == 1 and fingerprint(lab) == before and not (lab / "lab-stor").exists()


def test_a_run_with_create_makes_the_store_and_says_it_is_empty(lab, run):
    status, out, err = run("run", lab / "run.param", "--set", f"store.root_directory={lab / 'new'}",
                           "--no-progress", "--create")
    assert status == 0 and "made the store" in out and "cldata import" in out
    with cldata.open(lab / "new") as store:
        assert store.recording_ids == []


def test_a_run_that_is_refused_with_create_leaves_no_store(lab, run):
    param = lab / "run.param"
    status, out, err = run("run", param, "--set", f"store.root_directory={lab / 'deep' / 'new'}",
                           "--set", "analyses.rates.class=Nope", "--create", "--no-progress")
    one_line(err, "unknown analysis 'Nope'")
    assert status == 2 and not (lab / "deep").exists()


def test_a_run_on_an_existing_store_needs_no_create(lab, run):
    status, out, err = run("run", lab / "run.param", "--no-progress")
    assert status == 0 and "computed 2 analyses" in out and not err


def test_an_import_into_a_missing_store_needs_create_and_makes_nothing_without_it(lab, run):
    before = fingerprint(lab)
    status, out, err = run("import", lab / "newstore", lab / "rec0.h5")
    one_line(err, "cldata import:", f"no store at {lab / 'newstore'}", "pass --create")
    assert status == 1 and fingerprint(lab) == before


@pytest.mark.parametrize("bad", ["missing", "not hdf5", "directory"])
def test_a_failed_import_with_create_leaves_no_store_behind(lab, run, bad):
    path = {"missing": Path("/nope/a.h5"), "not hdf5": lab / "notes.txt", "directory": lab / "folder"}[bad]
    if bad == "not hdf5":
        path.write_text("not a recording")
    elif bad == "directory":
        path.mkdir()
    before = fingerprint(lab)
    for store in (lab / "newstore", lab / "a" / "b" / "newstore"):
        status, out, err = run("import", store, lab / "rec0.h5", path, "--create")
        one_line(err, "cldata import:", str(path))
        assert status == 1 and fingerprint(lab) == before and not (lab / "a").exists()
    if bad == "missing":
        assert "no such file or directory: /nope/a.h5" in err


def test_a_failed_import_with_create_into_an_empty_directory_leaves_it_empty(lab, run):
    (lab / "empty").mkdir()
    (lab / "notes.txt").write_text("not a recording")
    status, out, err = run("import", lab / "empty", lab / "notes.txt", "--create")
    assert status == 1 and list((lab / "empty").iterdir()) == []
    status, out, err = run("import", lab / "empty", lab / "rec0.h5")
    one_line(err, "empty directory", "pass --create")
    assert status == 1 and list((lab / "empty").iterdir()) == []


def test_an_import_with_create_makes_the_store(lab, run):
    status, out, err = run("import", lab / "newstore", lab / "rec0.h5", "--create", "--param", "culture=C9")
    assert status == 0 and out.split()[0].startswith("rec_") and not err
    with cldata.open(lab / "newstore") as store:
        assert [r.parameters["culture"] for r in store.recordings] == ["C9"]


def test_an_import_of_a_recording_already_there_asks_for_replace_in_the_command_lines_words(lab, run):
    before = fingerprint(lab)
    status, out, err = run("import", lab / "store", lab / "rec0.h5")
    line = one_line(err, "already in the store", "--replace")
    assert status == 1 and "replace=True" not in line and fingerprint(lab) == before


@pytest.mark.parametrize("command", ["info", "query", "export", "check"])
def test_reading_commands_on_a_missing_path_create_nothing(lab, run, command):
    before = fingerprint(lab)
    args = [command, lab / "lab-stor"] + ([lab / "out.h5"] if command == "export" else [])
    status, out, err = run(*args)
    one_line(err, f"cldata {command}:", f"no such file or directory: {lab / 'lab-stor'}")
    assert status == 1 and fingerprint(lab) == before


@pytest.mark.parametrize("command", ["info", "query", "export", "check"])
def test_reading_commands_on_a_directory_that_is_not_a_store_say_what_it_is(lab, run, command):
    folder = lab / "param"
    folder.mkdir()
    (folder / "rates.param").write_text("{}")
    before = fingerprint(lab)
    args = [command, folder] + ([lab / "out.h5"] if command == "export" else [])
    status, out, err = run(*args)
    one_line(err, f"cldata {command}:", f"{folder} is a directory", "not a cldata store", "expected")
    assert status == 1 and fingerprint(lab) == before


def test_info_on_a_directory_inside_a_store_names_the_store(lab, run):
    status, out, err = run("info", lab / "store" / "recordings")  # (a directory every store has)
    one_line(err, "inside the store", f"cldata info {lab / 'store'}")
    assert status == 1


def test_query_on_a_recording_says_it_is_a_recording(lab, run):
    status, out, err = run("query", lab / "rec0.h5")
    one_line(err, "is a CL recording, not a store", "cldata info", "--create")
    assert status == 1


def test_a_recording_view_of_a_directory_says_what_it_is(lab):
    with pytest.raises(NotARecordingError, match="is a cldata store directory .*not a CL recording file"):
        cldata.RecordingView(lab / "store")
    with pytest.raises(NotARecordingError, match="is a directory, not a CL recording file"):
        cldata.RecordingView(lab / "store" / "recordings")
    with pytest.raises(FileNotFoundError):
        cldata.RecordingView(lab / "nope.h5")


def test_opening_from_parameters_honours_mode(lab):
    missing = lab / "missing"
    with pytest.raises(StoreFormatError):
        cldata.open({"root_directory": str(missing)}, mode="r")
    assert not missing.exists()
    with cldata.open({"root_directory": str(lab / "store")}, mode="r") as store:
        assert not store.writable and len(store.recording_ids) == 2
    with cldata.open({"root_directory": str(lab / "made")}) as store:  # parameters default to mode "a"
        assert store.writable


# --- filters, windows and values --------------------------------------------------------------------------


@pytest.mark.parametrize("value, cultures", [
    ("C1", ["C1"]), ("C1,C2", ["C1", "C2"]), ("C2, C1", ["C1", "C2"]), ("['C1', 'C2']", ["C1", "C2"]),
    ("C3,C2", ["C2"]),
])
def test_a_filter_value_with_commas_means_any_of_them(lab, run, value, cultures):
    status, out, err = run("query", lab / "store", "--filter", f"culture={value}", "--json")
    assert status == 0, err
    assert sorted(r["parameters"]["culture"] for r in json.loads(out)["recordings"]) == cultures


@pytest.mark.parametrize("args, words", [
    (["--filter", "culture"], ["--filter 'culture' is not KEY=VALUE"]),
    (["--filter", "culture=C1,"], ["empty value between commas"]),
    (["--filter", "cultur=C1"], ["cultur"]),
    (["--between", "0", "soon"], ["--between 'soon'", "--between 0 1s"]),
    (["--nope"], ["unrecognized arguments: --nope", "cldata query --help"]),
])
def test_malformed_options_are_usage_errors(lab, run, args, words):
    status, out, err = run("query", lab / "store", *args)
    one_line(err, "cldata", *words)
    assert status == 2


def test_argparse_errors_are_one_line_with_status_2(run):
    status, out, err = run("import")
    one_line(err, "cldata import:", "required", "cldata import --help")
    assert status == 2


@pytest.mark.parametrize("window", [["0", "1s"], ["0", "100ms"], ["0", "25000"], ["0.1s", "none"]])
def test_a_window_in_seconds_or_frames(lab, run, window):
    status, out, err = run("query", lab / "store", "--between", *window)
    assert status == 0 and "window" in out, err


def test_query_values_prints_the_results_values(lab, run):
    status, out, err = run("query", lab / "store", "--values")
    assert status == 0, err
    assert "value = 1.5 Hz" in out and "value = 2.5 Hz" in out and "mean_rate" in out
    status, out, err = run("query", lab / "store", "--filter", "culture=C2", "--values", "--json")
    values = [r["values"] for r in json.loads(out)["results"]]
    assert values == [{"value": {"values": 2.5, "units": "Hz"}}]


def test_query_values_abridges_long_arrays(lab, run):
    with cldata.open(lab / "store", mode="a") as store:
        rid = store.recording_ids[0]
        store.add_analysis_result(cldata.PerChannelValue("rate", np.arange(64) * pq.Hz, sources=[rid]))
    status, out, err = run("query", lab / "store", "--values")
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("values ="))
    assert "..." in line and "Hz" in line and "(64 values)" in line and len(line) < 200


# --- check ---------------------------------------------------------------------------------------------------


def test_check_says_what_it_checked_in_plain_counts(lab, run):
    status, out, err = run("check", lab / "store")
    head = out.splitlines()[0]
    assert status == 0 and "healthy — checked 2 recordings, 2 results and " in head and " files" in head
    assert "(s)" not in out and "( " not in out
    status, out, err = run("check", lab / "rec0.h5")
    assert status == 0 and "healthy — checked 2 data streams, " in out and "spikes" in out


def test_check_repair_says_what_it_repaired_and_what_is_left(lab, run):
    store = lab / "store"
    (store / "payloads" / "00000009-deadbeef.h5").write_bytes(b"left over")
    status, out, err = run("check", store)
    assert status == 1 and out.splitlines()[0].endswith(
        f"1 problem found — checked 2 recordings, 2 results and {out.split(' and ')[1].split()[0]} files")
    assert f"to do: `cldata check {store} --repair` repairs it" in out and "repair=True" not in out
    status, out, err = run("check", store, "--repair")
    assert status == 0 and "repaired 1 problem; healthy now" in out and "REPAIRED" in out
    status, out, err = run("check", store)
    assert status == 0 and "healthy" in out and "repaired" not in out


def test_check_says_when_repair_cannot_fix_a_problem(lab, run):
    store = lab / "store"
    with cldata.open(store, mode="a") as s:
        linked = lab / "linked.h5"
        write_small_recording(linked, samples=False, seed=5)
        s.add_recording(linked, link=True)
    linked.unlink()
    (store / "payloads" / "00000009-deadbeef.h5").write_bytes(b"left over")
    status, out, err = run("check", store)
    assert status == 1 and "2 problems found" in out and "repairs 1 of them; the others need you" in out
    status, out, err = run("check", store, "--repair")
    assert status == 1 and "repaired 1 problem; 1 problem left" in out
    assert "to do: repair cannot fix this; it says what to do" in out


# --- every error, and --debug ---------------------------------------------------------------------------------


def test_debug_shows_the_traceback(tmp_path):
    for args in (["--debug", "info", tmp_path / "nope.h5"], ["info", tmp_path / "nope.h5", "--debug"]):
        out = process(*args)
        assert out.returncode != 0 and "Traceback" in out.stderr and "no such file or directory" in out.stderr


def test_an_unforeseen_error_is_an_internal_error_that_asks_for_debug(run, monkeypatch, tmp_path):
    def broken(args):
        raise RuntimeError("boom")

    monkeypatch.setattr(store_commands, "info_command", broken)
    status, out, err = run("info", tmp_path)
    one_line(err, "cldata info: internal error (RuntimeError: boom)", "--debug")
    assert status == 1
    with pytest.raises(RuntimeError, match="boom"):
        run("--debug", "info", tmp_path)


def test_library_words_become_command_line_words():
    assert cli.cli_words("x exists; pass overwrite=True to replace it") == "x exists; pass --overwrite to replace it"
    assert cli.cli_words("x exists; pass overwrite=True (--overwrite) to replace it") == \
        "x exists; pass --overwrite to replace it"
    assert "--replace" in cli.cli_words("a.h5 is already in the store; open the store with replace=True to replace it")
    assert cli.cli_words("no store at s; pass create=True to make one") == "no store at s; pass --create to make one"
    assert cli.cli_words("two\n   lines") == "two lines"


def test_a_warning_is_one_line_in_the_command_lines_words(run, monkeypatch, tmp_path):
    import warnings

    from cldata.errors import CldataWarning

    def warns(args):
        warnings.warn("out.h5 exists;\n pass overwrite=True to replace it", CldataWarning, stacklevel=1)
        return 0

    monkeypatch.setattr(store_commands, "info_command", warns)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        status, out, err = run("info", tmp_path)
    assert status == 0 and err == "cldata info: warning: out.h5 exists; pass --overwrite to replace it\n"
