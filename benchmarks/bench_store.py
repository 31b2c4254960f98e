"""Benchmark of the datastore (``cldata.DataStore``): building, opening, querying, reading segments.

Run it from the repository root::

    python benchmarks/bench_store.py               # full: 1,000 recordings, 100,000 results, 640k spikes (minutes)
    python benchmarks/bench_store.py --quick       # 100 recordings, 10,000 results, 64k spikes (under a minute)
    python benchmarks/bench_store.py --json figures.json --dir /scratch/bench

The script builds one store (in a temporary directory, or in ``--dir``, where it is kept)
and prints a table of figures: each the median of repeated runs, next to a baseline
measured in the same run, with the targets of the performance issues. It asserts nothing
about timings; it only checks that what the queries return is what a linear scan finds.

The store
    - 1,000 recordings (100 with ``--quick``). Recording ids derive from file content, so
      every recording is a distinct CL file: the first is a big one (640,000 spikes over 64
      channels, 100 s at 100 Hz per channel, no samples; 64,000 with ``--quick``), the next
      twenty are tiny simulated recordings (``cldata.format.simulate.simulate_recording``, 50 ms,
      with data streams), the rest minimal files written with :class:`cldata.RecordingWriter`
      (a few spikes). Each is added with its own user parameters: ``culture`` (20 values),
      ``session`` (50), ``day``, ``operator``, ``protocol`` and a nested ``stimulation``
      dict (``frequency``, ``amplitude``, ``pattern``).
    - 100,000 analysis results (10,000 with ``--quick``), 100 per recording:
      :class:`cldata.SingleValue` in Hz, ten identifiers, eight parameters each
      (``window_s``, ``bin_ms``, ``method``, ``threshold``, ``smoothing``, ``seed``,
      ``band`` (a list), ``version``) and a few tags.

Figures
-------
Building
    ``add_analysis_results`` + ``commit`` in batches of 1,000 (``--batch``): results/s
    (target >= 20,000/s); constructing the result objects is timed apart. Baseline:
    mozaik's way, appending the same objects to a list and pickling the list once.
Opening (read-only, ``cldata.open(root)``)
    In fresh subprocesses (after ``import cldata``, so that module imports are not counted)
    and in this process: seconds (target <= 50 ms, the issue-13 target at any size) and
    resident memory growth from before to after the open (target <= 50 MB; ``psutil`` if
    installed, else the growth of the peak RSS from ``resource.getrusage``). Baseline:
    ``pickle.load`` of the same catalog records (mozaik's pickled datastore).
Queries, end to end (the query and the values of what it matched; in turns with the baseline)
    ``param_filter_query`` with 2, 3 and 4 keys, then ``.value`` of every matching result
    (target <= 5 ms), against a literal mozaik-style scan (a loop over the result objects
    comparing parameter dicts, falling back to the source recording's parameters) that
    also collects the values of its matches — held in memory, as mozaik holds them. Every
    answer is checked against the scan and ``cldata.query.params.brute_force_filter``. A
    chain of 4 queries ``store.filter(culture=...).filter(identifier=...).filter(window_s=...)
    .tagged("reviewed")`` (``.filter_results(method=...)`` where views have no ``tagged``)
    with its values, against a chain of 4 mozaik-style scans. The first query with values
    after opening is shown for information. Files opened while the views are built and
    inspected (``tables.open_file``, ``cldata.format.reader.open_hdf5`` and ``open`` are
    counted): target 0. ``bench_scaling.py`` measures opening and querying at 10k, 100k
    and 1M results.
(The neo segment figures moved to ``bench_neo.py``.)

Notes
-----
The ratio column says how many times better cldata is than the baseline (above 1: faster,
or less memory). Python's cyclic garbage collector is frozen (``gc.freeze``) once the store
is built and the script's own result objects are dropped, so that the timings in this
process do not rescan them; the subprocess figures are free of the script altogether.
"""

from __future__ import annotations

import argparse
import builtins
import contextlib
import gc
import json
import os
import pickle
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _report
import numpy as np
import quantities as pq
import tables
from _report import add_output_options, interleaved_times, make_parser, print_report, run_in_workdir, say, write_json

import cldata
import cldata.format.reader as cl_reader
from cldata.format.simulate import simulate_recording, spike_template
from cldata.query.params import brute_force_filter

try:  # psutil is not a cldata dependency
    import psutil
except ImportError:  # pragma: no cover - depends on the environment
    psutil = None

FPS = 25_000
CHANNELS = 64
SIMULATED = 20  # tiny simulated recordings (with data streams); the rest are minimal files
IDENTIFIERS = ("mean_rate", "burst_rate", "isi_cv", "fano_factor", "sttc", "psth_peak", "latency",
               "evoked_rate", "spont_rate", "synchrony")
OPERATORS = ("ana", "ben", "chen", "dara")
FREQUENCIES = (1.0, 2.0, 4.0, 8.0, 16.0)
AMPLITUDES = (0.5, 1.0, 1.5)
WINDOWS = (0.5, 1.0, 2.0, 5.0)
BINS = (1, 5, 10, 20, 50)
METHODS = ("isi", "count", "kernel")
THRESHOLDS = (4.0, 4.5, 5.0, 5.5, 6.0)
BANDS = ([1, 4], [4, 8], [8, 13], [13, 30], [30, 80])


# -- figures ---------------------------------------------------------------------------------


@dataclass
class Figure(_report.Figure):
    """A figure that may also have a target ratio to its baseline (units ``/s``, ``s``, ``MB``, ``opens``)."""

    ratio_target: float | None = None  # cldata at least this many times better than the baseline

    @property
    def met(self) -> bool | None:
        checks = []
        if self.target is not None:
            checks.append(super().met)
        if self.ratio_target is not None:
            checks.append(self.ratio is not None and self.ratio >= self.ratio_target)
        return all(checks) if checks else None

    def target_text(self) -> str:
        targets = [] if self.target is None else [super().target_text()]
        if self.ratio_target is not None:
            targets.append(f">= {self.ratio_target:g}x")
        return ", ".join(targets) or "-"


# -- memory and file-open helpers ------------------------------------------------------------


def rss_bytes() -> tuple[int, str]:
    """The resident set size (psutil), or the peak RSS (``ru_maxrss``) without psutil."""
    if psutil is not None:
        return psutil.Process().memory_info().rss, "rss"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "peak rss"


@contextlib.contextmanager
def count_file_opens() -> Iterator[dict[str, int]]:
    """Count calls of ``tables.open_file``, cldata's ``open_hdf5`` and ``open`` inside the block."""
    counts = {"tables.open_file": 0, "open_hdf5": 0, "open": 0}
    originals = (tables.open_file, cl_reader.open_hdf5, builtins.open)

    def counting(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*a: Any, **kw: Any) -> Any:
            counts[name] += 1
            return fn(*a, **kw)

        return wrapper

    tables.open_file = counting("tables.open_file", originals[0])
    cl_reader.open_hdf5 = counting("open_hdf5", originals[1])
    builtins.open = counting("open", originals[2])
    try:
        yield counts
    finally:
        tables.open_file, cl_reader.open_hdf5, builtins.open = originals


# -- building the store ------------------------------------------------------------------------


def recording_parameters(i: int) -> dict[str, Any]:
    """User parameters of recording ``i``: 20 cultures x 50 sessions are all distinct up to 1,000."""
    return {
        "culture": f"C{i % 20:02d}",
        "session": (i // 20) % 50,
        "day": i % 7,
        "operator": OPERATORS[i % 4],
        "protocol": f"pong-v{i % 3}",
        "stimulation": {"frequency": FREQUENCIES[i % 5], "amplitude": AMPLITUDES[(i // 5) % 3],
                        "pattern": "biphasic"},
    }


def write_big_recording(path: Path, n_spikes: int, seed: int) -> float:
    """``n_spikes`` spikes spread evenly over 64 channels at 100 Hz per channel, no samples; its duration."""
    rng = np.random.default_rng(seed)
    per_channel = n_spikes // CHANNELS
    duration_s = per_channel / 100.0
    frames = int(duration_s * FPS)
    ts = rng.integers(0, frames, per_channel * CHANNELS)
    ch = np.repeat(np.arange(CHANNELS, dtype=np.uint8), per_channel)
    order = np.argsort(ts, kind="stable")
    ts, ch = ts[order], ch[order]
    template = spike_template()
    stims = np.arange(FPS // 10, frames, FPS, dtype=np.int64)
    with cldata.RecordingWriter(path, attributes={"index": 0, "kind": "big"}, durable=False) as w:
        w.append_stims(stims, (np.arange(stims.size) % 8 + 8).astype(np.uint8))
        chunk = 65_536
        for a in range(0, ts.size, chunk):
            b = min(ts.size, a + chunk)
            scale = rng.uniform(0.6, 1.4, (b - a, 1)).astype(np.float32)
            w.append_spikes(ts[a:b], ch[a:b], template[None, :] * scale)
        w.close(end_timestamp=frames)
    return duration_s


def write_minimal_recording(path: Path, i: int) -> None:
    """A tiny distinct CL file: a few spikes, no samples, its index among the attributes."""
    rng = np.random.default_rng(i)
    n = int(rng.integers(1, 6))
    ts = np.sort(rng.integers(0, FPS // 20, n))
    ch = rng.integers(0, CHANNELS, n)
    with cldata.RecordingWriter(path, attributes={"index": i}, durable=False) as w:
        w.append_spikes(ts, ch, np.tile(spike_template(), (n, 1)))


def build_recordings(args: argparse.Namespace, store: cldata.DataStore, sources: Path) -> tuple[list[str], float]:
    """Add the recordings; return their ids and the big recording's duration."""
    ids = []
    duration = 0.0
    t0 = time.perf_counter()
    for i in range(args.recordings):
        path = sources / f"rec{i:05d}.h5"
        if i == 0:
            duration = write_big_recording(path, args.spikes, args.seed)
        elif i <= SIMULATED:
            simulate_recording(path, duration_s=0.05, samples=False, seed=args.seed + i, attributes={"index": i})
        else:
            write_minimal_recording(path, args.seed * 100_003 + i)
        ids.append(store.add_recording(path, parameters=recording_parameters(i)))
        path.unlink()  # the store keeps its own copy
        if i and i % 200 == 0:
            say(f"  {i} recordings ({time.perf_counter() - t0:.1f} s)")
    store.commit()
    if len(set(ids)) != len(ids):
        raise RuntimeError("recording ids are not unique: the generated files do not differ")
    return ids, duration


def make_results(args: argparse.Namespace, recording_ids: list[str]) -> list[cldata.SingleValue]:
    """``args.results`` SingleValue results, spread evenly over the recordings (see module doc)."""
    rng = np.random.default_rng(args.seed + 1)
    n = args.results
    per = -(-n // len(recording_ids))
    w = rng.integers(0, len(WINDOWS), n).tolist()
    b = rng.integers(0, len(BINS), n).tolist()
    m = rng.integers(0, len(METHODS), n).tolist()
    th = rng.integers(0, len(THRESHOLDS), n).tolist()
    sm = rng.integers(0, 3, n).tolist()
    bd = rng.integers(0, len(BANDS), n).tolist()
    ver = rng.integers(0, 4, n).tolist()
    tag = rng.random(n).tolist()
    values = rng.lognormal(1.0, 0.7, n).tolist()
    out = []
    for k in range(n):
        rec, j = divmod(k, per)
        tags = ["final"] if tag[k] < 0.1 else (["reviewed"] if tag[k] < 0.4 else [])
        params = {
            "window_s": WINDOWS[w[k]],
            "bin_ms": BINS[b[k]],
            "method": METHODS[m[k]],
            "threshold": THRESHOLDS[th[k]],
            "smoothing": sm[k],
            "seed": j // len(IDENTIFIERS),  # with the identifier: unique within a recording
            "band": list(BANDS[bd[k]]),
            "version": f"1.{ver[k]}",
        }
        out.append(cldata.SingleValue(IDENTIFIERS[j % len(IDENTIFIERS)], values[k] * pq.Hz, parameters=params,
                                      sources=[recording_ids[rec]], tags=tags))
    return out


def add_results(store: cldata.DataStore, results: list[Any], batch: int) -> tuple[float, float]:
    """Add in batches, committing each; return (time in add_analysis_results, time in commit)."""
    t_add = t_commit = 0.0
    for i in range(0, len(results), batch):
        t0 = time.perf_counter()
        store.add_analysis_results(results[i : i + batch])
        t1 = time.perf_counter()
        store.commit()
        t2 = time.perf_counter()
        t_add += t1 - t0
        t_commit += t2 - t1
        if (i // batch) % 20 == 19:
            say(f"  {i + batch:,} results ({t_add + t_commit:.1f} s)")
    return t_add, t_commit


def mozaik_add(results: list[Any], path: Path) -> float:
    """mozaik's way: append to a list, pickle the whole list once (its ``save()``); seconds."""
    t0 = time.perf_counter()
    held: list[Any] = []
    for r in results:
        held.append(r)
    with open(path, "wb") as f:
        pickle.dump(held, f, protocol=pickle.HIGHEST_PROTOCOL)
        f.flush()
        os.fsync(f.fileno())
    return time.perf_counter() - t0


# -- opening ----------------------------------------------------------------------------------

_OPEN_CHILD = r"""
import gc, json, resource, sys, time
try:
    import psutil
except ImportError:
    psutil = None

def rss():
    if psutil is not None:
        return psutil.Process().memory_info().rss
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

kind, path = sys.argv[1], sys.argv[2]
if kind == "cldata":
    import cldata
    gc.collect()
    r0 = rss()
    t0 = time.perf_counter()
    store = cldata.open(path)
    t1 = time.perf_counter()
    r1 = rss()
    n = len(store)
else:
    import pickle
    gc.collect()
    r0 = rss()
    t0 = time.perf_counter()
    with open(path, "rb") as f:
        records = pickle.load(f)
    t1 = time.perf_counter()
    r1 = rss()
    n = len(records)
print(json.dumps({"seconds": t1 - t0, "rss_growth": r1 - r0, "entries": n}))
"""


def open_in_subprocess(kind: str, path: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", _OPEN_CHILD, kind, str(path)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- queries ----------------------------------------------------------------------------------

_MISSING = object()


def _get(params: Mapping[str, Any], path: str) -> Any:
    node: Any = params
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


class MozaikScan:
    """A mozaik-style datastore: lists of result objects and of recordings, filtered by loops."""

    def __init__(self, recordings: list[tuple[str, dict[str, Any]]], results: list[Any]):
        self.recordings = recordings
        self.results = results
        self.by_id = dict(recordings)

    def filter(self, results_only: bool = False, **criteria: Any) -> MozaikScan:
        rec_keys = [(k, v) for k, v in criteria.items() if k not in ("identifier", "kind")]
        recordings = self.recordings if results_only else [
            (rid, p) for rid, p in self.recordings if all(_get(p, k) == v for k, v in rec_keys)
        ]
        results = []
        for r in self.results:
            ok = True
            for k, v in criteria.items():
                if k == "identifier":
                    ok = r.identifier == v
                elif k == "kind":
                    ok = type(r).__name__ == v
                else:
                    own = _get(r.parameters, k)
                    if own is not _MISSING:
                        ok = own == v
                    else:  # a recording parameter: through the result's sources
                        ok = any(_get(self.by_id[s], k) == v for s in r.sources if s in self.by_id)
                if not ok:
                    break
            if ok:
                results.append(r)
        out = MozaikScan(recordings, results)
        out.by_id = self.by_id
        return out

    def filter_results(self, **criteria: Any) -> MozaikScan:
        return self.filter(results_only=True, **criteria)

    def tagged(self, *tags: str) -> MozaikScan:
        out = MozaikScan(self.recordings, [r for r in self.results if all(t in r.tags for t in tags)])
        out.by_id = self.by_id
        return out

    def ids(self) -> tuple[set[str], set[str]]:
        return {rid for rid, _ in self.recordings}, {r.id for r in self.results}


def view_ids(view: cldata.DataStoreView) -> tuple[set[str], set[str]]:
    return set(view.recording_ids), {r.id for r in view.analysis_results}


def check_same(what: str, got: tuple[set[str], set[str]], expected: tuple[set[str], set[str]]) -> None:
    if got != expected:
        raise RuntimeError(f"{what}: cldata found {len(got[0])} recordings / {len(got[1])} results, the scan "
                           f"{len(expected[0])} / {len(expected[1])}")


def chain_steps() -> tuple[list[tuple[str, tuple[Any, ...], dict[str, Any]]], str]:
    """The chain of 4 queries: three ``filter`` and a tag query (``filter_results`` if views have none)."""
    steps: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
        ("filter", (), {"culture": "C07"}),
        ("filter", (), {"identifier": "mean_rate"}),
        ("filter", (), {"window_s": 1.0}),
    ]
    if hasattr(cldata.DataStoreView, "tagged"):
        steps.append(("tagged", ("reviewed",), {}))
        return steps, "filter(culture).filter(identifier).filter(window_s).tagged"
    steps.append(("filter_results", (), {"method": "isi"}))
    return steps, "filter(culture).filter(identifier).filter(window_s).filter_results(method)"


def chain(view: Any, steps: list[tuple[str, tuple[Any, ...], dict[str, Any]]]) -> Any:
    """Apply the steps of :func:`chain_steps` to a view (or a :class:`MozaikScan`)."""
    for method, a, kw in steps:
        view = getattr(view, method)(*a, **kw)
    return view


# -- the benchmark ----------------------------------------------------------------------------


def run(args: argparse.Namespace, workdir: Path) -> tuple[list[Figure], dict[str, Any]]:
    figures: list[Figure] = []
    info: dict[str, Any] = {}
    root = workdir / "store"
    sources = workdir / "sources"
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(sources, ignore_errors=True)
    sources.mkdir(parents=True)

    # -- build ------------------------------------------------------------------------------
    say(f"building: {args.recordings:,} recordings ({args.spikes:,} spikes in the first) ...")
    store = cldata.open(root, mode="w")
    t0 = time.perf_counter()
    recording_ids, duration = build_recordings(args, store, sources)
    info["build_recordings_s"] = time.perf_counter() - t0

    say(f"making {args.results:,} SingleValue results ...")
    t0 = time.perf_counter()
    results = make_results(args, recording_ids)
    t_make = time.perf_counter() - t0
    say(f"adding them in batches of {args.batch:,}, committing each ...")
    t_add, t_commit = add_results(store, results, args.batch)
    info.update(add_s=t_add, commit_s=t_commit, make_results_s=t_make)
    say(f"  add_analysis_results {t_add:.2f} s, commit {t_commit:.2f} s")
    t_mozaik = mozaik_add(results, workdir / "mozaik-results.pickle")
    n = len(results)
    figures.append(Figure("add_results", f"add {n:,} results, batches of {args.batch:,} + commit", "/s",
                          n / (t_add + t_commit), n / t_mozaik, "mozaik list + 1 pickle", target=20_000))
    figures.append(Figure("make_results", f"construct {n:,} SingleValue (8 parameters)", "/s", n / t_make))

    records = list(store.catalog.records())  # the catalog as mozaik would pickle it
    catalog_pickle = workdir / "mozaik-catalog.pickle"
    with open(catalog_pickle, "wb") as f:
        pickle.dump(records, f, protocol=pickle.HIGHEST_PROTOCOL)
    del records
    store.close()
    del results, store
    (workdir / "mozaik-results.pickle").unlink()
    gc.collect()
    gc.freeze()
    info["store_bytes"] = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())

    # -- open -------------------------------------------------------------------------------
    say(f"opening in {args.opens} fresh subprocesses (and the pickle baseline) ...")
    child = [open_in_subprocess("cldata", root) for _ in range(args.opens)]
    base = [open_in_subprocess("pickle", catalog_pickle) for _ in range(args.opens)]
    expected_entries = args.recordings + args.results
    if any(c["entries"] != expected_entries for c in child):
        raise RuntimeError(f"the opened store holds {child[0]['entries']} entries, not {expected_entries}")
    mem_name = "RSS growth" if psutil is not None else "peak RSS growth"
    figures.append(Figure.from_samples("open_subprocess", "open read-only, fresh process", "s",
                                       [c["seconds"] for c in child], [b["seconds"] for b in base],
                                       "pickle.load catalog", target=0.05))
    figures.append(Figure.from_samples("open_rss_subprocess", f"open: {mem_name}, fresh process", "MB",
                                       [c["rss_growth"] / 1e6 for c in child], [b["rss_growth"] / 1e6 for b in base],
                                       "pickle.load catalog", target=50))

    say("opening in this process ...")

    def open_close() -> None:
        cldata.open(root).close()

    def pickle_load() -> None:
        with open(catalog_pickle, "rb") as f:
            pickle.load(f)

    t_open, t_pickle = interleaved_times([open_close, pickle_load], args.opens)
    figures.append(Figure.from_samples("open_inprocess", "open read-only, in this process (warm)", "s", t_open,
                                       t_pickle, "pickle.load catalog", target=0.05))
    gc.collect()
    r0, _ = rss_bytes()
    store = cldata.open(root)
    r1, _ = rss_bytes()
    figures.append(Figure("open_rss_inprocess", f"open: {mem_name}, in this process", "MB", (r1 - r0) / 1e6))

    # -- queries ----------------------------------------------------------------------------
    say("queries ...")
    # the first query after opening: nothing of the results was read before it
    first_query = {"culture": "C07", "identifier": "mean_rate", "window_s": 1.0}
    firsts = []
    for _ in range(args.cold_repeats):
        with cldata.open(root) as fresh:
            t0 = time.perf_counter()
            [r.value for r in cldata.param_filter_query(fresh, **first_query).analysis_results]
            firsts.append(time.perf_counter() - t0)

    # mozaik holds every result, with its data, in memory: the scan's values cost nothing to load
    held = store.analysis_results
    for r in held:
        r.payload()
    scan = MozaikScan([(r.id, dict(r.parameters)) for r in store.recordings], held)
    queries = [
        ("2 keys", {"identifier": "mean_rate", "culture": "C07"}),
        ("3 keys", {"identifier": "mean_rate", "window_s": 1.0, "method": "isi"}),
        ("4 keys", {"culture": "C07", "session": 1, "identifier": "mean_rate", "window_s": 1.0}),
    ]
    chain_criteria, chain_text = chain_steps()

    with count_file_opens() as opens:
        n_views = 0
        for name, crit in queries:
            view = cldata.param_filter_query(store, **crit)
            got = view_ids(view)
            check_same(f"query {crit}", got, scan.filter(**crit).ids())
            recs, res = brute_force_filter(store, **crit)
            check_same(f"query {crit}", got, (set(recs), set(res)))
            # end to end: the query and the values of what it matched (a view alone reads nothing)
            t_q, t_scan = interleaved_times(
                [lambda crit=crit: [r.value for r in cldata.param_filter_query(store, **crit).analysis_results],
                 lambda crit=crit: [r.value for r in scan.filter(**crit).results]], args.scan_repeats)
            n_views += args.scan_repeats + 1
            keys = ", ".join(crit)
            matched = f"{len(got[0])} rec, {len(got[1])} res"
            figures.append(Figure.from_samples(
                f"query_{name.split()[0]}k", f"query + values, {name} ({keys}; {matched})", "s",
                t_q, t_scan, "mozaik-style scan + values", target=5e-3))
            info[f"query_{name.split()[0]}k_matches"] = [len(got[0]), len(got[1])]

        view = chain(store, chain_criteria)
        got = view_ids(view)
        check_same("chain", got, chain(scan, chain_criteria).ids())
        t_chain, t_chain_scan = interleaved_times(
            [lambda: [r.value for r in chain(store, chain_criteria).analysis_results],
             lambda: [r.value for r in chain(scan, chain_criteria).results]], args.scan_repeats)
        n_views += 4 * (args.scan_repeats + 1)
        figures.append(Figure.from_samples(
            "chain4", f"chain of 4 + values: {chain_text} ({len(got[0])} rec, {len(got[1])} res)", "s",
            t_chain, t_chain_scan, "4 mozaik-style scans + values", target=5e-3))
        # what a notebook does next with a view: ids, parameters, summaries, result handles
        seen = [(dict(rec.parameters), dict(rec.summary), rec.stream_names) for rec in view.recordings]
        seen += [(r.identifier, r.parameters, r.tags) for r in view.analysis_results]
        info["chain_entries_inspected"] = len(seen)
    figures.append(Figure.from_samples("query_first", "first query + values after open, 3 keys", "s", firsts))
    n_opens = sum(opens.values())
    info["file_opens"] = dict(opens)
    figures.append(Figure("view_file_opens", f"files opened while building {n_views:,} views", "opens",
                          n_opens, target=0))

    gc.unfreeze()
    return figures, info


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = make_parser(__doc__, "100 recordings, 10,000 results, 64k spikes (< 1 min)")
    p.add_argument("--recordings", type=int, help="recordings (default 1,000; 100 with --quick)")
    p.add_argument("--results", type=int, help="analysis results (default 100,000; 10,000 with --quick)")
    p.add_argument("--spikes", type=int, help="spikes of the big recording (default 640,000; 64,000 with --quick)")
    p.add_argument("--batch", type=int, default=1_000, help="results per add_analysis_results + commit (1,000)")
    add_output_options(p, "build the store in DIR/store and keep it (default: a temporary directory)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.recordings is None:
        args.recordings = 100 if args.quick else 1_000
    if args.results is None:
        args.results = 10_000 if args.quick else 100_000
    if args.spikes is None:
        args.spikes = 64_000 if args.quick else 640_000
    if args.recordings < 21 or args.results < args.recordings or args.spikes < CHANNELS:
        p.error("need at least 21 recordings, a result per recording and a spike per channel")
    args.opens = 3 if args.quick else 5
    args.cold_repeats = 3
    args.query_repeats = 50 if args.quick else 200
    args.scan_repeats = 3 if args.quick else 5
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    (figures, info), elapsed = run_in_workdir(run, args, "bench_store_")
    mode = "quick" if args.quick else "full"
    title = (f"cldata {cldata.__version__} store benchmark ({mode}: {args.recordings:,} recordings, "
             f"{args.results:,} results, {args.spikes:,} spikes; medians; ratio = times better than baseline)")
    notes = [f"store: {info['store_bytes'] / 1e6:.1f} MB on disk; file opens while querying: {info['file_opens']}"]
    print_report(title, figures, elapsed, notes, ratio_format=".3g")
    if args.json is not None:
        write_json(args.json, args, elapsed, figures, info)


if __name__ == "__main__":
    main()
