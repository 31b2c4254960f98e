"""The analyses of one recording run as one task: the file and its spike table are read once for them.

The batch runner's units are (analysis, parameter combination, recording); the executors run
the units of one recording (window, streams) together, in groups of a bounded size
(``cldata.batch.units``). These tests protect what that promises:

- the grouping itself (every unit once, a recording's units together, balanced pieces no
  longer than asked, enough pieces to spread a run over its workers);
- one task per group: ``SnapshotProbe`` below is a real analysis that stores the process it
  ran in and how many times that process has read the recording's spike table so far
  (distinct :func:`cldata.format.spike_snapshot.spike_snapshot` arrays it saw). The worker
  processes find it by an entry point (a ``dist-info`` written into a directory put on
  ``sys.path``, which spawned workers inherit), as they find any lab's analysis;
- a failing analysis is reported and loses nothing of its group's other results, with the
  same error as when each unit ran alone;
- every executor stores the results the one-unit-at-a-time path (:func:`run_unit`) computes,
  and a repeated run computes nothing.
"""

from __future__ import annotations

import importlib
import math
import os
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import quantities as pq
from hypothesis import given
from hypothesis import strategies as st

import cldata
from cldata.analysis.base import Analysis
from cldata.analysis.registry import ANALYSES
from cldata.batch.executors import ProcessExecutor, make_executor
from cldata.batch.runner import build_analyses, plan_units, run_batch
from cldata.batch.units import (
    MAX_GROUP_UNITS,
    WORKER_STORES,
    RecordingGroup,
    Unit,
    UnitFailure,
    group_size,
    group_units,
    iter_group,
    run_group,
    run_unit,
)
from cldata.errors import ParameterError
from cldata.format.simulate import simulate_recording
from cldata.format.spike_snapshot import spike_snapshot
from cldata.model.results import SingleValue
from cldata.query.base import run_query_chain

PROBE = "SnapshotProbe"

# per process: recording id -> the distinct spike-timestamp arrays this process read for it
# (held, so that an array is never freed and its identity reused)
SNAPSHOTS_SEEN: dict[str, list[np.ndarray]] = {}


class SnapshotProbe(Analysis):
    """Stores where it ran (``probe_pid``) and how many spike-table reads of the recording this
    process has made so far (``probe_reads``); fails on purpose with ``fail=True``."""

    optional_parameters = {"k": (int, 0), "fail": (bool, False)}

    def compute(self, recording):
        if self.parameters["fail"]:
            raise ValueError(f"probe {self.parameters['k']} was asked to fail")
        data = spike_snapshot(recording.view())
        seen = SNAPSHOTS_SEEN.setdefault(recording.id, [])
        if not any(ts is data.timestamps for ts in seen):
            seen.append(data.timestamps)
        return [self.result(SingleValue, "probe_pid", os.getpid() * pq.dimensionless, recording=recording),
                self.result(SingleValue, "probe_reads", len(seen) * pq.dimensionless, recording=recording)]


@pytest.fixture(scope="module")
def probe_site(tmp_path_factory):
    """``SnapshotProbe`` declared under the ``cldata.analyses`` entry points, for this process and
    the workers it spawns (they start with its ``sys.path``)."""
    site = tmp_path_factory.mktemp("probe-site")
    dist = site / "cldata_snapshot_probe-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: cldata-snapshot-probe\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[cldata.analyses]\n{PROBE} = {__name__}:{PROBE}\n")
    # the workers import this module by name: its directory must be on their path as on ours
    here = str(Path(__file__).resolve().parent)
    added = [str(site)] + ([here] if here not in sys.path else [])
    sys.path[:0] = added
    importlib.invalidate_caches()
    try:
        yield site
    finally:
        for entry in added:
            sys.path.remove(entry)
        ANALYSES.unregister(PROBE)
        importlib.invalidate_caches()


@pytest.fixture
def fresh_worker_stores():
    """This process' worker stores start and end empty (the serial executor without the runner's
    store, and dask's in-process workers, open them here)."""
    for store in WORKER_STORES.values():
        store.close()
    WORKER_STORES.clear()
    yield WORKER_STORES
    for store in WORKER_STORES.values():
        store.close()
    WORKER_STORES.clear()


def make_store(root: Path, n: int) -> list[str]:
    with cldata.open(root, mode="a") as store:
        ids = []
        for i in range(n):
            path = root.parent / f"src{i}.h5"
            simulate_recording(path, duration_s=0.5, seed=i, samples=False)
            ids.append(store.add_recording(path, {"culture": f"C{i % 2 + 1}", "stimulation": {"frequency": 4}}))
    return ids


def probe_values(root: Path, identifier: str) -> dict[str, list[float]]:
    """Per recording, the values of the probe's results named ``identifier``."""
    out: dict[str, list[float]] = {}
    with cldata.open(root) as store:
        for r in store.filter(analysis=PROBE, identifier=identifier).analysis_results:
            out.setdefault(r.sources[0], []).append(float(r.value))
    return out


def run_of(root: Path, executor: str, analyses: dict) -> dict:
    return {"store": {"root_directory": str(root)}, "executor": {"kind": executor, "workers": 2},
            "analyses": analyses}


def probes(name: str, ks: range | list[int], **params) -> dict:
    """One analysis entry per ``k`` (a sweep written out: the workers need not import the sweep library)."""
    return {f"{name}{k}": {"class": PROBE, "params": {"k": k, **params}} for k in ks}


def need(executor: str) -> None:
    if executor == "dask":
        pytest.importorskip("dask.distributed", reason="the dask executor needs the dask extra")


# -- the grouping --------------------------------------------------------------------------------

units_strategy = st.lists(st.tuples(st.sampled_from(["r1", "r2", "r3"]), st.sampled_from([None, (0, 100)])),
                          max_size=60).map(
    lambda picks: [Unit("FiringRate", {"k": i}, rec, "store", "files", window) for i, (rec, window) in enumerate(picks)])


@given(units_strategy, st.one_of(st.none(), st.integers(1, 10)))
def test_group_units_keeps_every_unit_once_with_its_recording_in_balanced_pieces(units, max_size):
    groups = group_units(units, max_size)
    assert sorted(u.parameters["k"] for g in groups for u in g.units) == list(range(len(units)))
    per_view = Counter((u.recording_id, u.window) for u in units)
    pieces: dict[tuple, list[int]] = {}
    for g in groups:
        keys = {(u.recording_id, u.window) for u in g.units}
        assert len(keys) == 1  # one recording, one window
        key = keys.pop()
        # a unit's order within its recording is kept
        assert [u.parameters["k"] for u in g.units] == sorted(u.parameters["k"] for u in g.units)
        pieces.setdefault(key, []).append(len(g))
    for key, sizes in pieces.items():
        n = per_view[key]
        assert len(sizes) == (1 if max_size is None else math.ceil(n / max_size))
        assert max(sizes) - min(sizes) <= 1


@given(st.integers(1, 100_000), st.integers(1, 64))
def test_group_size_is_bounded_and_at_most_a_fair_share_per_worker(units, workers):
    size = group_size(units, workers)
    assert 1 <= size <= MAX_GROUP_UNITS
    assert size <= math.ceil(units / workers)  # no worker is handed more than its share in one task
    assert size == MAX_GROUP_UNITS or size == math.ceil(units / workers)  # and no group smaller than needed


def test_one_recording_swept_a_thousand_times_spreads_over_the_workers():
    units = [Unit("FiringRate", {"k": k}, "only", "store", "files") for k in range(1000)]
    groups = group_units(units, group_size(len(units), 4))
    assert len(groups) == 32 and max(len(g) for g in groups) <= MAX_GROUP_UNITS
    # a small run on many workers: one unit per task rather than idle workers
    assert [len(g) for g in group_units(units[:3], group_size(3, 8))] == [1, 1, 1]


def test_a_group_refuses_units_of_different_recordings_and_group_units_a_bad_size():
    a, b = Unit("FiringRate", {}, "a", "s", "files"), Unit("FiringRate", {}, "b", "s", "files")
    with pytest.raises(ParameterError, match="share the store, recording"):
        RecordingGroup((a, b))
    with pytest.raises(ParameterError, match="at least one unit"):
        RecordingGroup(())
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ParameterError, match="max_size should be a positive integer"):
            group_units([a], bad)


# -- one open per recording in the serial executor ---------------------------------------------

def test_the_serial_executor_with_a_store_of_its_own_opens_each_recording_once(tmp_path, probe_site,
                                                                                fresh_worker_stores, monkeypatch):
    root = tmp_path / "store"
    ids = make_store(root, 2)
    SNAPSHOTS_SEEN.clear()
    with cldata.open(root) as store:
        opened = Counter()
        backend_class = type(store.backend)
        original = backend_class.open_recording

        def counting_open(self, location):  # the real open, counted
            opened[str(location)] += 1
            return original(self, location)

        monkeypatch.setattr(backend_class, "open_recording", counting_open)
        analyses = build_analyses({**probes("probe", range(3)), "rates": {"class": "FiringRate"}})
        todo, skipped = plan_units(store, run_query_chain(store, []), analyses)
        assert skipped == 0 and len(todo) == 8
        with make_executor({"kind": "serial"}) as ex:  # no store given: it opens its own, read-only
            outcomes = list(ex.run([u for u, _ in todo]))
    assert [u for u, _ in outcomes] == [u for u, _ in todo]
    assert not any(isinstance(o, UnitFailure) for _, o in outcomes)
    assert len(opened) == 2 and set(opened.values()) == {1}  # each recording's file opened once
    assert {rec: len(seen) for rec, seen in SNAPSHOTS_SEEN.items()} == dict.fromkeys(ids, 1)


# -- failures ------------------------------------------------------------------------------------

@pytest.mark.parametrize("executor", ["serial", "processes"])
def test_a_failing_analysis_is_reported_and_loses_nothing_of_its_recordings_other_results(tmp_path, probe_site,
                                                                                          executor):
    root = tmp_path / "store"
    ids = make_store(root, 2)
    analyses = {**probes("probe", range(3)), **probes("broken", [7], fail=True), "rates": {"class": "FiringRate"}}
    report = run_batch(run_of(root, executor, analyses), progress=False)
    assert report.computed == 2 * 4 and len(report.failures) == 2
    assert sorted(unit.recording_id for unit, _ in report.failures) == sorted(ids)
    for unit, failure in report.failures:
        assert unit.parameters == {"k": 7, "fail": True}
        assert (failure.error_type, failure.message) == ("ValueError", "probe 7 was asked to fail")
        assert f"FAILED {unit.describe()}: ValueError: probe 7 was asked to fail" in str(report)
    with cldata.open(root) as store:
        for rec in ids:
            mine = store.filter(ads_unique=False).analysis_results
            assert sum(r.sources[0] == rec and r.identifier == "probe_pid" for r in mine) == 3
            assert sum(r.sources[0] == rec and r.identifier == "firing_rate" for r in mine) == 1
    # (skipping is the runner's, whatever the executor: the second run is serial, to stay quick)
    again = run_batch(run_of(root, "serial", analyses), progress=False)
    assert again.skipped == 8 and again.computed == 0 and len(again.failures) == 2  # only the failed are tried


def test_a_group_reports_each_unit_with_the_error_it_gives_alone(tmp_path, fresh_worker_stores):
    root = tmp_path / "store"
    make_store(root, 1)
    gone = [Unit("FiringRate", {"min_spikes": k}, "no-such-recording", str(root), "files") for k in (2, 3)]
    no_store = [Unit("FiringRate", {}, "r", str(tmp_path / "nowhere"), "files") for _ in range(2)]
    for units in (gone, no_store):
        alone = [run_unit(u) for u in units]
        grouped = run_group(RecordingGroup(tuple(units)))
        assert all(isinstance(o, UnitFailure) for o in alone + grouped)
        assert [(o.error_type, o.message) for o in grouped] == [(o.error_type, o.message) for o in alone]
        assert [u for u, _ in iter_group(RecordingGroup(tuple(units)))] == units


# -- one task per group, the same results as one unit at a time ------------------------------------

def stored_payloads(root: Path) -> dict[str, dict]:
    with cldata.open(root) as store:
        return {r.id: r.payload() for r in store.filter(ads_unique=False).analysis_results}


def assert_same_payloads(got: dict[str, dict], expected: dict[str, dict]) -> None:
    assert sorted(got) == sorted(expected)
    for rid, fields in expected.items():
        assert sorted(got[rid]) == sorted(fields)
        for name, value in fields.items():
            other = got[rid][name]
            assert str(getattr(other, "dimensionality", "")) == str(getattr(value, "dimensionality", ""))
            np.testing.assert_array_equal(np.asarray(other), np.asarray(value))


@pytest.mark.parametrize("executor", ["serial", "processes", "dask"])
def test_each_executor_runs_a_recordings_analyses_as_one_task_and_stores_what_units_alone_give(
        tmp_path, probe_site, executor, fresh_worker_stores):
    need(executor)
    root = tmp_path / "store"
    ids = make_store(root, 3)
    # why: not at module level: the workers import this module for SnapshotProbe, and this is heavy (scipy.stats)
    from parameters import ParameterRange

    real = {"rates": {"class": "FiringRate", "params": {"min_spikes": ParameterRange([2, 3])}},
            "isi": {"class": "ISIHistogram", "params": {"bin_ms": ParameterRange([1, 2])}},
            "psth": {"class": "StimulusTriggeredHistogram", "params": {"bin_ms": 5, "post_ms": 60}}}
    with cldata.open(root) as store:  # the one-unit-per-call path, in this process
        todo, _ = plan_units(store, run_query_chain(store, []), build_analyses(real))
        expected = {}
        for unit, _ in todo:
            outcome = run_unit(unit, store)
            assert not isinstance(outcome, UnitFailure), outcome
            expected.update({r.result_id: r.payload() for r in outcome})
    assert len(todo) == 15
    SNAPSHOTS_SEEN.clear()
    analyses = {**real, **probes("probe", range(3))}
    # 24 units on 2 workers: groups of up to 12, so each recording's 8 analyses are one task
    report = run_batch(run_of(root, executor, analyses), progress=False)
    assert report.ok and report.computed == 24
    stored = stored_payloads(root)
    with cldata.open(root) as store:
        probe_ids = {r.id for r in store.filter(analysis=PROBE).analysis_results}
    assert_same_payloads({rid: p for rid, p in stored.items() if rid not in probe_ids}, expected)
    pids, reads = probe_values(root, "probe_pid"), probe_values(root, "probe_reads")
    assert sorted(pids) == sorted(ids)
    for rec in ids:
        assert len(set(pids[rec])) == 1, f"the analyses of {rec} ran in several processes: {pids[rec]}"
        assert reads[rec] == [1.0] * 3, f"the spikes of {rec} were read more than once: {reads[rec]}"
    # (skipping is the runner's, whatever the executor: the second run is serial, to stay quick)
    again = run_batch(run_of(root, "serial", analyses), progress=False)
    assert again.computed == 0 and again.skipped == 24 and "nothing new" in str(again)


def test_the_process_executor_sizes_its_groups_for_its_workers():
    with ProcessExecutor(3) as ex:
        assert ex.group_limit(1000) == MAX_GROUP_UNITS and ex.group_limit(6) == 2
