"""How a store's figures grow with its size: open time and memory, and end-to-end query time, at 10k / 100k / 1M results.

For each size the script builds (or reuses, with ``--dir``) a store of that many
:class:`cldata.SingleValue` results over 100 recordings, each result with four
parameters, and beside it the same results as mozaik keeps them (a list of records,
pickled whole). It then measures, cldata and its baseline interleaved in the same run:

open
    ``cldata.open(store)`` in a fresh process, its wall time and how much the process's
    resident memory grew — against loading mozaik's pickle, which is how mozaik opens a
    datastore (everything in memory).
query + values
    A selective filter on four keys (an identifier and three parameters; about one result
    in 4,550 matches), *and* the values of the matching results, end to end, with nothing
    of it cached (the entries the catalog keeps are forgotten before each repetition): cldata's
    ``store.filter(...).results_frame()`` (values from the catalog, no payload decoded) and
    ``[r.value for r in store.filter(...).analysis_results]`` (every payload read) — against
    a scan of the loaded records that tests each one and collects the values of the
    matches, in a process that has them loaded (the scan done well: one pass, no copies).
first query
    Opening and the first query, in a fresh process: ``cldata.open`` + filter + ``.value``
    of each match, against ``pickle.load`` + the scan.

Every figure is the median of its repetitions with their min–max range, cldata's and the
baseline's repetitions taken in turns. The machine's core count and load average are
printed with the table: figures on a loaded machine are slower, for both columns.

Run ``python benchmarks/bench_scaling.py`` (about 10 minutes, most of it building the 1M
store once; ``--dir`` keeps the stores for the next run), ``--quick`` for 10k and 100k only.
"""

from __future__ import annotations

import gc
import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import _report
from _report import Figure, interleaved_times, say

import cldata
from cldata.format.simulate import simulate_recording

QUERY = {"identifier": "rate", "window_s": 3, "bin_ms": 2, "group": 5}  # 1 result in 5 * 10 * 7 * 13
N_RECORDINGS = 100


def parameters(i: int) -> dict[str, Any]:
    """The parameters of result ``i`` (four keys; with its identifier, a 4-key query matches 1 in 4,550)."""
    return {"window_s": (i // 5) % 10, "bin_ms": i % 7, "group": i % 13, "seed": i}


def identifier(i: int) -> str:
    return ("rate", "count", "cv", "fano", "burst")[i % 5]


def build(root: Path, sources: Path, n: int) -> None:
    """A store of ``n`` results over 100 recordings, and mozaik's pickle of the same records beside it."""
    done = root.parent / f"{root.name}.done"
    if done.exists():
        return
    say(f"building a store of {n:,} results in {root} ...")
    sources.mkdir(parents=True, exist_ok=True)
    if not (sources / "r0.h5").exists():
        simulate_recording(sources / "r0.h5", duration_s=0.1, seed=0)
    records = []
    t0 = time.perf_counter()
    with cldata.open(root, mode="w") as store:
        rids = []
        for r in range(N_RECORDINGS):
            # the same file under 100 identities (parameters differ; ids come from the file's content, so
            # each recording is a copy written with its own root attribute)
            path = sources / f"r{r}.h5"
            if not path.exists():
                simulate_recording(path, duration_s=0.1, seed=r)
            rids.append(store.add_recording(path, {"culture": f"C{r % 10}", "day": r // 10}, overview=False))
        for start in range(0, n, 20_000):
            batch = [cldata.SingleValue(identifier(i), float(i), sources=[rids[i % N_RECORDINGS]],
                                        parameters=parameters(i)) for i in range(start, min(n, start + 20_000))]
            store.add_analysis_results(batch)
            store.commit()
            records.extend({"id": r.id, "identifier": r.identifier, "parameters": r.parameters,
                            "sources": list(r.sources), "value": float(r.value)} for r in batch)
            say(f"  {min(n, start + 20_000):,} results ({time.perf_counter() - t0:.0f} s)")
    with open(root.parent / f"{root.name}.mozaik.pickle", "wb") as f:
        pickle.dump(records, f, protocol=pickle.HIGHEST_PROTOCOL)
    done.write_text("ok")


def scan(records: list[dict[str, Any]]) -> list[float]:
    """The baseline's query: one pass over every record, the values of the matches collected."""
    ident, w, b, g = QUERY["identifier"], QUERY["window_s"], QUERY["bin_ms"], QUERY["group"]
    out = []
    for r in records:
        if r["identifier"] == ident:
            p = r["parameters"]
            if p["window_s"] == w and p["bin_ms"] == b and p["group"] == g:
                out.append(r["value"])
    return out


def _forget(store: cldata.DataStore) -> None:
    # the catalog keeps the entries it read: forgotten before every timed query, so that each one
    # costs what a query never asked before costs (the scan has no such cache either)
    cache = getattr(store.catalog.results, "cache", None)
    if cache is not None:
        cache.clear()


def query_frame(store: cldata.DataStore) -> list[float]:
    _forget(store)
    return store.filter(**QUERY).results_frame()["value"].tolist()


def query_values(store: cldata.DataStore) -> list[float]:
    _forget(store)
    return [float(r.value) for r in store.filter(**QUERY).analysis_results]


_CHILD = r"""
import gc, json, os, pickle, sys, time
import psutil
kind, path = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.dirname(sys.argv[3]))
import bench_scaling as b
proc = psutil.Process()
gc.collect()
r0 = proc.memory_info().rss
t0 = time.perf_counter()
if kind == "cldata":
    import cldata
    store = cldata.open(path)
else:
    with open(path, "rb") as f:
        records = pickle.load(f)
t1 = time.perf_counter()
r1 = proc.memory_info().rss
values = b.query_values(store) if kind == "cldata" else b.scan(records)  # (no pandas import in the figure)
t2 = time.perf_counter()
print(json.dumps({"open": t1 - t0, "rss": r1 - r0, "first": t2 - t0, "matches": len(values)}))
"""


def fresh(kind: str, path: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", _CHILD, kind, str(path), __file__], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure_queries(root: Path, mozaik: Path, repeats: int) -> tuple[list[float], list[float], list[float], int]:
    """The warm query figures: cldata's two ways and the scan, in turns, in this process."""
    with open(mozaik, "rb") as f:
        records = pickle.load(f)
    gc.collect()
    with cldata.open(root) as store:
        frame_t, values_t, scan_t = interleaved_times(
            [lambda: query_frame(store), lambda: query_values(store), lambda: scan(records)], repeats)
        matches = len(query_frame(store))
        if sorted(query_frame(store)) != sorted(scan(records)):
            raise RuntimeError("cldata's answer differs from the scan's")
    return frame_t, values_t, scan_t, matches


def run(args: Any, workdir: Path) -> tuple[list[Figure], dict[str, Any]]:
    figures: list[Figure] = []
    info: dict[str, Any] = {"nproc": os.cpu_count(), "load_before": os.getloadavg()}
    for n in args.sizes:
        root = workdir / f"store-{n}"
        build(root, workdir / "sources", n)
        mozaik = workdir / f"store-{n}.mozaik.pickle"
        label = f"{n // 1000:,}k" if n < 1_000_000 else f"{n // 1_000_000}M"
        say(f"{label}: opening in fresh processes ...")
        runs: dict[str, list[dict[str, float]]] = {"cldata": [], "mozaik": []}
        for i in range(args.opens):
            runs["cldata"].append(fresh("cldata", root))
            if i < args.pickle_opens:  # (a pickle of a million records takes seconds: fewer of them)
                runs["mozaik"].append(fresh("mozaik", mozaik))
        cl, mz = runs["cldata"], runs["mozaik"]
        if {r["matches"] for r in cl} != {r["matches"] for r in mz}:
            raise RuntimeError(f"cldata matched {cl[0]['matches']} results, the scan {mz[0]['matches']}")
        figures.append(Figure.from_samples(f"open_{label}", f"open a store of {label} results (fresh process)", "s",
                                           [r["open"] for r in cl], [r["open"] for r in mz], "pickle.load, mozaik",
                                           target=0.050))
        figures.append(Figure.from_samples(f"open_memory_{label}", f"memory to open {label} results", "MB",
                                           [r["rss"] / 1e6 for r in cl], [r["rss"] / 1e6 for r in mz],
                                           "pickle.load, mozaik", target=50.0))
        figures.append(Figure.from_samples(f"first_{label}", f"open + first query + values, {label}", "s",
                                           [r["first"] for r in cl], [r["first"] for r in mz], "load + scan"))
        say(f"{label}: queries, interleaved ...")
        frame_t, values_t, scan_t, matches = measure_queries(root, mozaik, args.repeats)
        figures.append(Figure.from_samples(
            f"query_frame_{label}", f"4-key filter + values ({matches} of {label}), results_frame", "s",
            frame_t, scan_t, "scan + values", target=0.005 if n >= 1_000_000 else None))
        figures.append(Figure.from_samples(
            f"query_values_{label}", f"4-key filter + values ({matches} of {label}), .value each", "s",
            values_t, scan_t, "scan + values"))
    info["load_after"] = os.getloadavg()
    return figures, info


def main(argv: list[str] | None = None) -> None:
    p = _report.make_parser(__doc__, "10k and 100k results only (a few minutes)")
    p.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[10_000, 100_000, 1_000_000],
                   help="store sizes, comma-separated (default 10000,100000,1000000)")
    p.add_argument("--opens", type=int, default=7, help="fresh processes opening cldata's store per size (default 7)")
    p.add_argument("--pickle-opens", type=int, default=3, help="of them, also loading mozaik's pickle (default 3)")
    p.add_argument("--repeats", type=int, default=21, help="timed queries of each kind per size (default 21)")
    _report.add_output_options(p, "build the stores here and keep them for the next run")
    args = p.parse_args(argv)
    if args.quick:
        args.sizes = [s for s in args.sizes if s <= 100_000]
    (figures, info), elapsed = _report.run_in_workdir(run, args, "cldata-bench-scaling-")
    _report.print_report(
        f"cldata {cldata.__version__}: store scaling ({os.cpu_count()} cores, load average "
        f"{info['load_before'][0]:.1f} before, {info['load_after'][0]:.1f} after; medians (min–max))",
        figures, elapsed)
    if args.json:
        _report.write_json(args.json, args, elapsed, figures, info)


if __name__ == "__main__":
    main()
