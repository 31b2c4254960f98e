"""Parameter files are data about analyses, not about trust or destruction (issue 10, findings 2, 5, 8).

A parameter file is often written by someone else. It may say what to analyse, on which
store, with which sweep; it may not decide

- which dask scheduler ``cldata run`` connects to (a scheduler sends pickles: connecting to
  one lets it run code here). Once: ``"executor": {"kind": "dask", "address": ...}`` in a
  file made ``cldata run`` connect to that address. Now the address comes only from
  ``--scheduler`` / ``CLDATA_DASK_SCHEDULER`` / ``run_batch(scheduler=...)``;
- that a store is emptied. Once: ``"store": {..., "mode": "w"}`` emptied a store holding
  recordings and results. Now only ``--wipe-store`` / ``run_batch(wipe_store=True)`` does;
- how much is built. Once: a 2.4 KB file sweeping 5 axes of 100 values (10**10
  combinations) hung ``cldata run`` while the whole product was built. Now sweeps are
  counted before anything is expanded and bounded by ``--max-units`` (default 100,000).

Each crafted file is run through the real command line in a child process. A plain TCP
listener stands in for a hostile scheduler: after the run, nothing may be waiting in its
accept queue (a connection that was made stays there even after the child has exited).
Where a refusal must come before the store is opened, the test holds the store's writer
lock while the command runs: a command that opened the store would report the lock, not the
refusal. Store contents are hashed before and after.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from parameters import ParameterRange, ParameterSet

import cldata
from cldata.batch import executors
from cldata.batch.executors import MAX_WORKERS, SCHEDULER_ENV, make_executor
from cldata.batch.paramfile import load_parameters
from cldata.batch.runner import MAX_UNITS, build_analyses, count_combinations, run_batch
from cldata.errors import ParameterError
from cldata.format.simulate import simulate_recording
from conftest import fingerprint

MEMORY_LIMIT = 1536 << 20  # 1.5 GB of address space for the child running a hostile file
TIMEOUT = 30               # seconds a refusal may take, at most (a bound, not a timed assertion)

_CHILD = """
import resource, sys
limit = int(sys.argv[1])
if limit:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from cldata.app.cli import main
sys.exit(main(sys.argv[2:]))
"""


def cldata_run(*args: str, memory: int = MEMORY_LIMIT, env: dict[str, str] | None = None,
               timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    """``cldata run ARGS`` in a child process, under a memory limit (0: none) and a timeout."""
    child_env = {k: v for k, v in os.environ.items() if k != SCHEDULER_ENV}
    child_env.update(env or {})
    try:
        return subprocess.run([sys.executable, "-c", _CHILD, str(memory), "run", *args, "--no-progress"],
                              capture_output=True, text=True, timeout=timeout, env=child_env)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"cldata run {' '.join(args)} did not finish within {timeout} s: {exc.stderr!s:.2000}")


def make_store(root: Path, n: int = 2, results: bool = True) -> list[str]:
    """A store of ``n`` simulated recordings and (``results``) one firing-rate result set each."""
    with cldata.open(root, mode="a") as store:
        ids = []
        for i in range(n):
            path = root.parent / f"src{i}.h5"
            simulate_recording(path, duration_s=0.5, seed=i, samples=False)
            ids.append(store.add_recording(path, {"culture": f"C{i + 1}"}))
    if results:
        report = run_batch({"store": {"root_directory": str(root)}, "executor": {"kind": "serial"},
                            "analyses": {"rates": {"class": "FiringRate", "params": {"min_spikes": 2}}}},
                           progress=False)
        assert report.ok and report.computed == n
    return ids


def contents(root: Path) -> tuple[int, int]:
    """How many recordings, and how many units' results (one analysis run on one recording), are stored."""
    with cldata.open(root) as store:
        units = {(tuple(r.sources), json.dumps(r.parameters, sort_keys=True, default=str))
                 for r in store.analysis_results}
        return len(store.recording_ids), len(units)


@contextlib.contextmanager
def held(root: Path):
    """Hold the store's writer lock: a command that opens the store gets StoreLockedError."""
    with cldata.open(root, mode="a") as store:
        yield store


@pytest.fixture
def listener():
    """A TCP socket listening on 127.0.0.1, standing in for a hostile scheduler."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    try:
        yield sock
    finally:
        sock.close()


def connections(sock: socket.socket) -> int:
    """How many connections were made to ``sock`` (its accept queue keeps them after the peer exits)."""
    n = 0
    while True:
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            return n
        conn.close()
        n += 1


def address_of(sock: socket.socket) -> str:
    return f"tcp://127.0.0.1:{sock.getsockname()[1]}"


RATES = '"rates": {"class": "FiringRate", "params": {"min_spikes": 3}}'


# --- finding 2: no scheduler address from a parameter file ---------------------------------------


def _address_file(tmp_path: Path, how: str, root: Path, address: str) -> tuple[Path, list[str]]:
    """A run file naming ``address`` in the way ``how`` says; and extra command-line arguments."""
    if how == "param":
        text = f'{{"store": {{"root_directory": "{root}"}}, "analyses": {{{RATES}}},\n' \
               f' "executor": {{"kind": "dask", "address": "{address}"}}}}'
        return _write(tmp_path / "run.param", text), []
    if how == "processes":  # once refused only because processes take no address; same refusal now
        text = f'{{"store": {{"root_directory": "{root}"}}, "analyses": {{{RATES}}},\n' \
               f' "executor": {{"kind": "processes", "address": "{address}"}}}}'
        return _write(tmp_path / "run.param", text), []
    if how == "json":
        text = json.dumps({"store": {"root_directory": str(root)}, "executor": {"kind": "dask", "address": address},
                           "analyses": {"rates": {"class": "FiringRate", "params": {"min_spikes": 3}}}})
        return _write(tmp_path / "run.json", text), []
    if how == "yaml":
        text = textwrap.dedent(f"""\
            store: {{root_directory: "{root}"}}
            executor:
              kind: dask
              address: {address}
            analyses:
              rates: {{class: FiringRate, params: {{min_spikes: 3}}}}
            """)
        return _write(tmp_path / "run.yaml", text), []
    if how == "included":  # hidden in a defaults file the run file includes and refers to
        _write(tmp_path / "defaults.param", f'{{"executor": {{"kind": "dask", "address": "{address}"}}}}')
        text = f'{{"defaults": url("defaults.param"), "executor": ref("defaults.executor"),\n' \
               f' "store": {{"root_directory": "{root}"}}, "analyses": {{{RATES}}}}}'
        return _write(tmp_path / "run.param", text), []
    if how == "--set":  # typed on the command line, but still a parameter: pointed to --scheduler
        text = f'{{"store": {{"root_directory": "{root}"}}, "analyses": {{{RATES}}}, "executor": {{"kind": "dask"}}}}'
        return _write(tmp_path / "run.param", text), ["--set", f"executor.address={address}"]
    raise AssertionError(how)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("how", ["param", "included", "--set"])
def test_a_scheduler_address_in_a_parameter_file_is_refused_and_nothing_connects(tmp_path, listener, how):
    root = tmp_path / "store"
    make_store(root)
    run_file, extra = _address_file(tmp_path, how, root, address_of(listener))
    with held(root):
        before = fingerprint(root)
        out = cldata_run(str(run_file), *extra)
        assert fingerprint(root) == before
    assert out.returncode == 2, out.stdout + out.stderr
    assert "executor.address" in out.stderr and "--scheduler" in out.stderr and SCHEDULER_ENV in out.stderr
    assert "open for writing elsewhere" not in out.stderr  # refused before the store was opened
    assert connections(listener) == 0, "cldata run connected to the address the parameter file named"
    assert contents(root) == (2, 2)


def test_a_scheduler_address_in_any_file_format_is_refused(tmp_path, listener):
    """The other formats and kinds, through the Python API (the command line adds nothing to them)."""
    root = tmp_path / "store"
    make_store(root)
    before = fingerprint(root)
    for how in ("processes", "json", "yaml"):
        run_file, _ = _address_file(tmp_path, how, root, address_of(listener))
        params = load_parameters(run_file)
        with held(root), pytest.raises(ParameterError, match="executor.address.*--scheduler"):
            run_batch(params, progress=False)
    assert connections(listener) == 0 and fingerprint(root) == before


def test_a_scheduler_address_in_a_file_for_a_new_store_creates_nothing(tmp_path, listener):
    root = tmp_path / "new-store"
    run_file, _ = _address_file(tmp_path, "param", root, address_of(listener))
    out = cldata_run(str(run_file))
    assert out.returncode == 2 and "--scheduler" in out.stderr
    assert not root.exists() and connections(listener) == 0


def test_the_python_api_refuses_an_address_in_the_parameters(tmp_path, listener):
    root = tmp_path / "store"
    with pytest.raises(ParameterError, match="scheduler=ADDRESS"):
        run_batch({"store": {"root_directory": str(root)}, "analyses": {},
                   "executor": {"kind": "dask", "address": address_of(listener)}}, progress=False)
    with pytest.raises(ParameterError, match="executor.address"):
        make_executor(ParameterSet({"kind": "dask", "address": address_of(listener)}))
    with pytest.raises(ParameterError, match="executor.address"):  # whatever its type
        make_executor({"kind": "dask", "address": ["tcp://127.0.0.1", 1]})
    assert not root.exists() and connections(listener) == 0


def test_an_explicit_null_address_is_no_address(tmp_path):
    """Files written before the address left the parameter sets may say ``"address": None``."""
    root = tmp_path / "store"
    make_store(root, results=False)
    report = run_batch({"store": {"root_directory": str(root)}, "executor": {"kind": "serial", "address": None},
                        "analyses": {"rates": {"class": "FiringRate", "params": {"min_spikes": 3}}}}, progress=False)
    assert report.ok and report.computed == 2


def test_scheduler_from_the_command_line_or_the_environment_runs_on_that_cluster(tmp_path):
    """End to end: a scheduler started here (its worker threads run in this process), its
    address given to ``cldata run`` in a child process by ``--scheduler``, then by the environment."""
    distributed = pytest.importorskip("distributed")
    root = tmp_path / "store"
    make_store(root, results=False)
    run_file = _write(tmp_path / "run.param",  # the file asks for local processes: --scheduler decides
                      f'{{"store": {{"root_directory": "{root}"}}, "analyses": {{{RATES}}},\n'
                      f' "executor": {{"kind": "processes", "workers": 2}}}}')
    executors._STORES.clear()
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp://",
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        try:
            out = cldata_run(str(run_file), "--scheduler", cluster.scheduler_address, memory=0, timeout=300)
            assert out.returncode == 0, out.stdout + out.stderr
            assert "computed 2 analyses" in out.stdout
            # the units ran in this process, on the cluster's worker: it opened the store to read it
            assert [Path(r) for r, _ in executors._STORES] == [root]
            # the environment is read when the run is on dask (here: by --executor dask)
            out = cldata_run(str(run_file), "--executor", "dask", "--set", "analyses.rates.params.min_spikes=4",
                             memory=0, timeout=300, env={SCHEDULER_ENV: cluster.scheduler_address})
            assert out.returncode == 0, out.stdout + out.stderr
            assert "computed 2 analyses" in out.stdout
            conflicting = cldata_run(str(run_file), "--scheduler", cluster.scheduler_address, "--executor", "serial")
            assert conflicting.returncode == 2 and "--executor serial" in conflicting.stderr
        finally:
            for store in executors._STORES.values():
                store.close()
            executors._STORES.clear()
    assert contents(root) == (2, 4)


def test_the_environment_is_not_read_for_a_run_that_is_not_on_dask(tmp_path, listener):
    root = tmp_path / "store"
    make_store(root, results=False)
    run_file = _write(tmp_path / "run.param", f'{{"store": {{"root_directory": "{root}"}}, '
                                              f'"analyses": {{{RATES}}}, "executor": {{"kind": "serial"}}}}')
    out = cldata_run(str(run_file), env={SCHEDULER_ENV: address_of(listener)})
    assert out.returncode == 0 and "computed 2 analyses" in out.stdout, out.stderr
    assert connections(listener) == 0


def test_an_unreachable_scheduler_is_a_parameter_error(tmp_path):
    # a port bound but not listening refuses connections; dask retries until its connect timeout
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        code = ("import sys\nfrom cldata.batch.executors import make_executor\nfrom cldata.errors import ParameterError\n"
                "try:\n    make_executor({}, scheduler=sys.argv[1])\nexcept ParameterError as e:\n    print(e)\n")
        out = subprocess.run([sys.executable, "-c", code, address_of(sock)], capture_output=True, text=True,
                             timeout=120, env={**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "1s"})
    assert out.returncode == 0, out.stderr
    assert "cannot connect to the dask scheduler" in out.stdout and "--scheduler" in out.stdout
    for bad in ("", "  ", 8786):
        with pytest.raises(ParameterError, match="scheduler address"):
            make_executor({}, scheduler=bad)


@pytest.mark.parametrize("workers", [10**6, MAX_WORKERS + 1, 0, -3])
def test_a_parameter_file_cannot_ask_for_any_number_of_workers(tmp_path, workers):
    root = tmp_path / "store"
    params = {"store": {"root_directory": str(root)}, "analyses": {},
              "executor": {"kind": "processes", "workers": workers}}
    with pytest.raises(ParameterError, match=f"between 1 and {MAX_WORKERS}"):
        run_batch(params, progress=False)
    assert not root.exists()


# --- finding 5: no destructive store mode from a parameter file -----------------------------------


def _mode_file(tmp_path: Path, how: str, root: Path, mode: str) -> tuple[Path, list[str]]:
    if how == "param":
        text = f'{{"store": {{"root_directory": "{root}", "mode": "{mode}"}}, "analyses": {{{RATES}}}}}'
        return _write(tmp_path / "run.param", text), []
    if how == "json":
        text = json.dumps({"store": {"root_directory": str(root), "mode": mode},
                           "analyses": {"rates": {"class": "FiringRate", "params": {"min_spikes": 3}}}})
        return _write(tmp_path / "run.json", text), []
    if how == "yaml":
        text = (f'store: {{root_directory: "{root}", mode: {mode}}}\n'
                "analyses: {rates: {class: FiringRate, params: {min_spikes: 3}}}\n")
        return _write(tmp_path / "run.yaml", text), []
    if how == "--set":
        text = f'{{"store": {{"root_directory": "{root}"}}, "analyses": {{{RATES}}}}}'
        return _write(tmp_path / "run.param", text), ["--set", f"store.mode={mode}"]
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["param", "--set"])
def test_store_mode_w_in_a_parameter_file_is_refused_and_the_store_is_unchanged(tmp_path, how):
    root = tmp_path / "store"
    make_store(root)
    run_file, extra = _mode_file(tmp_path, how, root, "w")
    with held(root):
        before = fingerprint(root)
        out = cldata_run(str(run_file), *extra)
        assert fingerprint(root) == before
    assert out.returncode == 2, out.stdout + out.stderr
    assert "store.mode 'w'" in out.stderr and "--wipe-store" in out.stderr
    assert "open for writing elsewhere" not in out.stderr  # refused before the store was opened
    assert contents(root) == (2, 2)


def test_store_mode_w_in_any_file_format_is_refused(tmp_path):
    root = tmp_path / "store"
    make_store(root)
    before = fingerprint(root)
    for how in ("json", "yaml"):
        run_file, _ = _mode_file(tmp_path, how, root, "w")
        params = load_parameters(run_file)
        with held(root), pytest.raises(ParameterError, match="store.mode 'w'.*--wipe-store"):
            run_batch(params, progress=False)
    assert fingerprint(root) == before and contents(root) == (2, 2)


def test_other_store_modes_in_a_parameter_file_are_refused(tmp_path):
    root = tmp_path / "store"
    make_store(root)
    before = fingerprint(root)
    for mode in ("r", "x", 1):
        with pytest.raises(ParameterError, match="store.mode"):
            run_batch({"store": {"root_directory": str(root), "mode": mode}, "analyses": {}}, progress=False)
    # "a" is the mode a run opens its store with anyway
    report = run_batch({"store": {"root_directory": str(root), "mode": "a"}, "executor": {"kind": "serial"},
                        "analyses": {"rates": {"class": "FiringRate", "params": {"min_spikes": 2}}}}, progress=False)
    assert report.computed == 0 and report.skipped == 2
    assert set(fingerprint(root)) >= set(before) and contents(root) == (2, 2)


def test_wipe_store_on_the_command_line_empties_the_store(tmp_path):
    root = tmp_path / "store"
    make_store(root)
    run_file, _ = _mode_file(tmp_path, "--set", root, "w")  # a clean file: the flag decides
    out = cldata_run(str(run_file), "--wipe-store")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "computed 0 analyses" in out.stdout  # a run adds no recordings: nothing left to compute
    assert contents(root) == (0, 0)
    with cldata.open(root, mode="a") as store:  # an empty, working store
        store.add_recording(root.parent / "src0.h5", {"culture": "C1"})
        store.commit()
    assert contents(root) == (1, 0)


def test_replace_in_a_parameter_file_is_allowed(tmp_path):
    """``replace`` lets a recomputed result take the place of the stored one with the same
    identity; it is about analyses and deletes nothing else."""
    root = tmp_path / "store"
    make_store(root)
    report = run_batch({"store": {"root_directory": str(root), "replace": True}, "executor": {"kind": "serial"},
                        "analyses": {"rates": {"class": "FiringRate", "params": {"min_spikes": 3}}}}, progress=False)
    assert report.ok and report.computed == 2
    assert contents(root) == (2, 4)


# --- finding 8: sweeps counted before they are expanded, and bounded ------------------------------


def _sweep_file(path: Path, root: Path, axes: dict[str, list]) -> Path:
    body = ",\n".join(f'        "{name}": ParameterRange({values!r})' for name, values in axes.items())
    return _write(path, f'{{\n    "store": {{"root_directory": "{root}"}},\n    "executor": {{"kind": "serial"}},\n'
                        f'    "analyses": {{"psth": {{"class": "StimulusTriggeredHistogram", "params": {{\n'
                        f'{body}\n    }}}}}},\n}}\n')


def test_a_five_by_hundred_sweep_is_refused_at_once_within_memory(tmp_path):
    """Once: this 2.4 KB file (10**10 combinations) hung ``cldata run`` while the product was built."""
    root = tmp_path / "store"
    make_store(root)
    axes = {"bin_ms": [1 + i / 10 for i in range(100)], "post_ms": list(range(50, 150)),
            "pre_ms": list(range(100)), "response_ms": list(range(1, 101)),
            "stim_channels": [[i % 64] for i in range(100)]}
    run_file = _sweep_file(tmp_path / "sweep.param", root, axes)
    assert run_file.stat().st_size < 3000
    with held(root):
        before = fingerprint(root)
        out = cldata_run(str(run_file))
        assert fingerprint(root) == before
    assert out.returncode == 2, out.stdout + out.stderr
    for name in axes:
        assert f"{name} (100 values)" in out.stderr
    assert "10,000,000,000" in out.stderr and "--max-units" in out.stderr and f"{MAX_UNITS:,}" in out.stderr
    assert "open for writing elsewhere" not in out.stderr  # refused before the store was opened


def test_sweep_sizes_beyond_any_integer_format_are_counted_without_building_them(tmp_path):
    root = tmp_path / "store"
    # 5,000 axes of 10 values: 10**5000 combinations, a number str() refuses to print
    params = ParameterSet({f"a{i:04d}": ParameterRange(list(range(10))) for i in range(5000)})
    total, entries = count_combinations({"x": {"class": "FiringRate", "params": params}})
    assert total > 10**18 and len(entries[0][1]) == 5000
    with pytest.raises(ParameterError, match=r"more than 10\^5000 parameter combinations") as info:
        run_batch({"store": {"root_directory": str(root)}, "analyses": {"x": {"class": "FiringRate", "params": params}}},
                  progress=False)
    assert "4990 more axes" in str(info.value) and len(str(info.value)) < 2000
    # many analyses, each just under the limit, add up
    many = {f"e{i}": {"class": "FiringRate", "params": {"min_spikes": ParameterRange(list(range(2, MAX_UNITS)))}}
            for i in range(3)}
    with pytest.raises(ParameterError, match="299,994 parameter combinations"):
        build_analyses(many)
    assert not root.exists()


def test_max_units_lets_a_larger_run_through(tmp_path):
    root = tmp_path / "store"
    make_store(root, results=False)
    run_file = _sweep_file(tmp_path / "sweep.param", root,  # 3 x 4 = 12 combinations x 2 recordings
                           {"bin_ms": [2, 5, 10], "post_ms": [40, 80, 120, 160]})
    with held(root):  # more combinations than the limit: refused before the store is opened
        out = cldata_run(str(run_file), "--max-units", "10")
    assert out.returncode == 2 and "12 parameter combinations" in out.stderr, out.stderr
    assert "bin_ms (3 values) x post_ms (4 values) = 12 combinations" in out.stderr
    before = fingerprint(root)  # fewer combinations, but more units once the recordings are selected
    out = cldata_run(str(run_file), "--max-units", "20")
    assert out.returncode == 2 and "24 units" in out.stderr, out.stderr
    assert "12 parameter combinations x 2 selected recordings" in out.stderr
    assert fingerprint(root) == before and contents(root) == (2, 0)
    out = cldata_run(str(run_file), "--max-units", "24")
    assert out.returncode == 0 and "computed 24 analyses" in out.stdout, out.stderr
    assert contents(root) == (2, 24)


def test_the_default_limit_and_bad_limits(tmp_path):
    root = tmp_path / "empty-store"
    big = {"psth": {"class": "StimulusTriggeredHistogram",
                    "params": {"bin_ms": ParameterRange(list(range(1, 102))),          # 101
                               "post_ms": ParameterRange(list(range(100, 1091)))}}}     # x 991 = 100,091
    run = {"store": {"root_directory": str(root)}, "executor": {"kind": "serial"}, "analyses": big}
    with pytest.raises(ParameterError, match="100,091 parameter combinations"):
        run_batch(run, progress=False)
    assert not root.exists()
    assert count_combinations(big)[0] == 100_091 == MAX_UNITS + 91
    for bad in (0, -1, True, "5", 1.5):
        with pytest.raises(ParameterError, match="max_units"):
            run_batch(run, progress=False, max_units=bad)
    out = cldata_run(str(_write(tmp_path / "r.json", json.dumps({"store": {"root_directory": str(root)},
                                                                  "analyses": {}}))), "--max-units", "0")
    assert out.returncode == 2 and "max_units" in out.stderr
