"""Writer and reader processes for the concurrency test (``tests/test_concurrency.py``).

``python concurrency_workers.py writer ROOT SOURCES SEED``
    Opens the store for writing, prints ``READY {"start": n}`` (n: the last batch already
    committed), waits for a line on stdin, then commits batches of results until a second
    line arrives (or it is killed): batch b holds :func:`batch_size` results, all with the
    parameter ``batch=b``; every few batches it also adds a recording (in the same commit).
    After each ``commit()`` returned it prints ``ACK {"batch": b, "recordings": k}``.

``python concurrency_workers.py reader ROOT SEED``
    Prints ``READY``, waits for a line on stdin, then until the next line checks the store
    again and again, alternately through a newly opened store and by ``refresh()`` of one
    it keeps open: every batch 1..n is there in full with the right values, never a part
    of one; n and the number of recordings never go down; recordings read. Prints one
    ``RESULT {json}`` with its counts and every inconsistency seen.
"""

from __future__ import annotations

import json
import random
import select
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import quantities as pq

import cldata

IDENTIFIER = "conc"


def batch_size(b: int) -> int:
    return 1 + (b * 5) % 17


def make_result(b: int, i: int, rid: str) -> cldata.AnalysisResult:
    params = {"batch": b, "i": i}
    if i == 0 and b % 3 == 0:  # a big payload now and then: a payload file, not inline
        return cldata.TimeSeries(IDENTIFIER, times=np.arange(5000) * pq.ms,
                                 values=np.full(5000, float(b)) * pq.Hz, parameters=params, sources=[rid])
    return cldata.SingleValue(IDENTIFIER, (b * 1000 + i) * pq.Hz, parameters=params, sources=[rid])


def value_right(result: cldata.AnalysisResult) -> bool:
    b, i = int(result.parameters["batch"]), int(result.parameters["i"])
    if isinstance(result, cldata.TimeSeries):
        return result.values.shape == (5000,) and bool(np.all(result.values.magnitude == b))
    return float(result.value.magnitude) == b * 1000 + i


def emit(tag: str, record: dict[str, Any] | None = None) -> None:
    sys.stdout.write(tag + ("" if record is None else " " + json.dumps(record)) + "\n")
    sys.stdout.flush()


def stdin_has_line() -> bool:
    return bool(select.select([sys.stdin], [], [], 0)[0])


def writer(root: str, sources: str, seed: int) -> None:
    from cldata.format.simulate import simulate_recording

    rng = random.Random(seed)
    store = cldata.open(root, mode="a")
    rid = store.recording_ids[0]
    batches = [int(r.parameters["batch"]) for r in store.filter(identifier=IDENTIFIER).analysis_results]
    b = max(batches, default=0)
    emit("READY", {"start": b})
    sys.stdin.readline()
    while not stdin_has_line():
        b += 1
        store.add_analysis_results([make_result(b, i, rid) for i in range(batch_size(b))])
        if rng.random() < 0.2:
            path = Path(sources) / f"w{seed}-{b}.h5"
            simulate_recording(path, duration_s=0.05, seed=b, samples=False, attributes={"culture": "W"})
            store.add_recording(path, {"culture": "W", "batch": b})
        store.commit()
        emit("ACK", {"batch": b, "recordings": len(store.recording_ids)})
    store.close()
    emit("DONE")


class Reader:
    def __init__(self, root: str, seed: int):
        self.root = root
        self.rng = random.Random(seed)
        self.last_n = 0
        self.last_recordings = 0
        self.counts = {"checks": 0, "opens": 0, "refreshes": 0, "values_checked": 0, "recordings_read": 0}
        self.seen: set[int] = set()
        self.errors: list[str] = []

    def error(self, text: str) -> None:
        if len(self.errors) < 20:
            self.errors.append(text)

    def verify(self, store: Any, how: str) -> None:
        self.counts["checks"] += 1
        results = store.filter(identifier=IDENTIFIER).analysis_results
        by_batch: dict[int, list] = {}
        for r in results:
            by_batch.setdefault(int(r.parameters["batch"]), []).append(r)
        n = max(by_batch, default=0)
        if sorted(by_batch) != list(range(1, n + 1)):
            self.error(f"{how}: batches {sorted(set(range(1, n + 1)) - set(by_batch))} missing below {n}")
        for b, rs in by_batch.items():
            if sorted(int(r.parameters["i"]) for r in rs) != list(range(batch_size(b))):
                self.error(f"{how}: batch {b} is partial: {len(rs)} of {batch_size(b)} results")
        if n < self.last_n:
            self.error(f"{how}: the last batch went back from {self.last_n} to {n}")
        self.last_n = max(self.last_n, n)
        self.seen.add(n)
        # values: the newest batch (the one most likely to be caught half-way) and one at random
        for b in {n, self.rng.randint(1, n)} if n else ():
            for r in by_batch.get(b, []):
                self.counts["values_checked"] += 1
                if not value_right(r):
                    self.error(f"{how}: batch {b} result {r.parameters['i']} has a wrong value")
        rids = store.recording_ids
        if len(rids) < self.last_recordings:
            self.error(f"{how}: recordings went from {self.last_recordings} to {len(rids)}")
        self.last_recordings = max(self.last_recordings, len(rids))
        for rid in {rids[-1], self.rng.choice(rids)}:
            handle = store.recording(rid)
            if len(handle.view().read_spikes(waveforms=False)) != handle.summary["spikes"]:
                self.error(f"{how}: recording {rid} does not read as its summary says")
            self.counts["recordings_read"] += 1

    def run(self) -> None:
        held = cldata.open(self.root)
        while not stdin_has_line():
            try:
                if self.rng.random() < 0.5:
                    self.counts["opens"] += 1
                    with cldata.open(self.root) as store:
                        self.verify(store, "open")
                else:
                    self.counts["refreshes"] += 1
                    held.refresh()
                    self.verify(held, "refresh")
            except Exception as exc:
                self.error(f"{type(exc).__name__}: {exc} | {traceback.format_exc(limit=3)[-600:]}")
        held.close()
        emit("RESULT", {**self.counts, "min_n": min(self.seen, default=0), "max_n": max(self.seen, default=0),
                        "distinct_n": len(self.seen), "errors": self.errors})


def main() -> None:
    role = sys.argv[1]
    if role == "writer":
        writer(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        reader = Reader(sys.argv[2], int(sys.argv[3]))
        emit("READY")
        sys.stdin.readline()
        reader.run()


if __name__ == "__main__":
    main()
