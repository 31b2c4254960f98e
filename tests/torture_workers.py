"""Writer processes for the crash torture (``tools/torture.py``, ``tests/test_torture.py``).

Each worker does one kind of write, forever (or until its batch run ends), and is meant
to be killed with SIGKILL at a random moment. Before each write it prints an intent line
and after the write returned (``flush()``, ``commit()``, ``export()``) an acknowledgement
line, both ``TAG {json}`` on stdout::

    INTENT {"seq": 3, ...what the write will change...}
    ACK {"seq": 3}

After an ``ACK`` the write must be durable; a write whose ``INTENT`` was printed but not
acknowledged may be there or not, but never in part.

Run ``python torture_workers.py serve``: the worker imports everything, prints ``READY``,
then reads one JSON command from stdin, ``{"kind": ..., ...}``, and runs it. (Starting the
next worker while the previous one is checked keeps the torture fast.) The deterministic
value generators below are shared with the harness, which checks every value.

Kinds:

- ``recording``: a :class:`cldata.RecordingWriter` appending stream entries, spikes,
  stims and samples, flushing after each batch (INTENT/ACK carry the flush count);
- ``add_recordings``: simulated recordings added to the store (copied or linked), the
  oldest removed now and then, one commit each;
- ``results``: batches of analysis results added, replaced (``replace=True``) and removed;
- ``batch``: ``cldata run`` over a parameter file (each unit's commit acknowledged);
- ``export``: ``store.export(path)`` of the whole store or of a query.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np
import quantities as pq

import cldata

# -- shared generators -----------------------------------------------------------------------

A_PURPOSE = "torture"
A_SIZES = (1, 2, 5, 17, 60, 150, 400)
C_IDENTIFIER = "torture"
C_BIG = 5000  # samples of a big TimeSeries payload (40 kB: stored in a payload file)


def emit(tag: str, record: dict[str, Any]) -> None:
    """Print one protocol line (flushed at once: the harness reads it as it comes)."""
    sys.stdout.write(f"{tag} {json.dumps(record, sort_keys=True)}\n")
    sys.stdout.flush()


def a_flush_sizes(seed: int, n: int) -> list[int]:
    """How many stream entries flush number 1..n of recording ``seed`` holds."""
    rng = random.Random(seed)
    return [rng.choice(A_SIZES) for _ in range(n)]


def a_value(ts: int) -> dict[str, Any]:
    """The ``counter`` entry at timestamp ``ts`` (entry i is at ts = 2 i)."""
    return {"i": ts, "pad": "x" * (ts % 23), "arr": np.arange(ts % 6, dtype=np.int16), "f": ts / 7}


def a_array(flush: int) -> np.ndarray:
    """The ``arrays`` entry written at timestamp ``flush``."""
    return np.arange(flush * 3, dtype=np.float64) / 3


def a_waveforms(ts: np.ndarray) -> np.ndarray:
    return np.repeat(((ts % 101) - 50).astype(np.float32)[:, None], 75, axis=1)


def a_samples(start: int, n: int, channels: int = 64) -> np.ndarray:
    frames = np.arange(start, start + n, dtype=np.int64)[:, None]
    return (((frames * 7 + np.arange(channels)[None, :]) % 2001) - 1000).astype(np.int16)


def a_expected(seed: int, flushes: int) -> dict[str, Any]:
    """What recording ``seed`` holds after ``flushes`` flushes: counts and root attributes."""
    sizes = a_flush_sizes(seed, flushes)
    entries = sum(sizes)
    app: dict[str, Any] = {"purpose": A_PURPOSE, "seed": seed}
    if flushes:
        app["flushes"] = flushes
    return {"flushes": flushes, "entries": entries, "spikes": entries, "frames": 3 * entries,
            "stims": flushes, "application": app, "streams": flushes > 0}


def c_size(b: int) -> int:
    """How many results batch ``b`` holds."""
    return 1 + (b * 7) % 23


def c_result(b: int, i: int, v: int, rid: str) -> cldata.AnalysisResult:
    """Result ``i`` of batch ``b`` in version ``v`` (replacing a batch bumps its version)."""
    params = {"b": b, "i": i}
    tags = [C_IDENTIFIER, f"v{v % 3}"]
    kind = (b + i) % 4
    if kind == 0:
        return cldata.SingleValue(C_IDENTIFIER, (b * 1000 + i + v / 8) * pq.Hz, parameters=params, sources=[rid],
                                  tags=tags)
    if kind == 1:
        return cldata.PerChannelValue(C_IDENTIFIER, np.full(64, b + i / 100 + v) * pq.mV, parameters=params,
                                      sources=[rid], tags=tags)
    if kind == 2:
        n = C_BIG if i % 3 == 0 else 40
        values = np.random.default_rng([b, i, v]).random(n)
        return cldata.TimeSeries(C_IDENTIFIER, times=np.arange(n) * pq.ms, values=values * pq.Hz, parameters=params,
                                 sources=[rid], tags=tags)
    return cldata.Data(C_IDENTIFIER, {"b": b, "i": i, "v": v, "arr": np.arange(v + i, dtype=np.int64),
                                      "s": "x" * (i % 50)}, parameters=params, sources=[rid], tags=tags)


# -- workers ---------------------------------------------------------------------------------


def work_recording(cmd: dict[str, Any]) -> None:
    """Append and flush forever; the INTENT/ACK ``flushes`` is the flush count."""
    path, seed = Path(cmd["path"]), int(cmd["seed"])
    w = cldata.RecordingWriter(path, attributes={"purpose": A_PURPOSE, "seed": seed}, flush_bytes=1 << 40)
    emit("ACK", {"seq": 0, "flushes": 0})  # the recording exists from here on
    counter = w.create_data_stream("counter", {"seed": seed})
    arrays = w.create_data_stream("arrays", {"unit": "a.u."})
    entries = frames = 0
    for flush, k in enumerate(a_flush_sizes(seed, 100_000), start=1):
        ts = np.arange(entries, entries + k, dtype=np.int64) * 2
        if k > 3:
            counter.extend(ts, [a_value(int(t)) for t in ts])
        else:
            for t in ts:
                counter.append(int(t), a_value(int(t)))
        arrays.append(flush, a_array(flush))
        w.append_spikes(ts, ts % 64, a_waveforms(ts))
        w.append_stims([int(ts[-1])], [flush % 64])
        w.append_samples(a_samples(frames, 3 * k))
        w.set_attribute("flushes", flush)
        entries += k
        frames += 3 * k
        emit("INTENT", {"seq": flush, "flushes": flush})
        w.flush()
        emit("ACK", {"seq": flush, "flushes": flush})


def work_add_recordings(cmd: dict[str, Any]) -> None:
    """Add simulated recordings to the store, one commit each; remove the oldest beyond ``keep``."""
    from cldata.format.simulate import simulate_recording

    rng = random.Random(cmd["seed"])
    sources = Path(cmd["sources"])
    store = cldata.open(cmd["root"], mode="a")
    for seq in range(1, 10**9):
        added = {}
        for m in range(rng.choice([1, 1, 2])):
            name = f"b-{cmd['round']}-{seq}-{m}.h5"
            simulate_recording(sources / name, duration_s=rng.choice([0.05, 0.1, 0.2]), seed=rng.randrange(10**6),
                               samples=rng.random() < 0.5, attributes={"culture": "B", "src": name})
            link = rng.random() < 0.25
            rid = store.add_recording(sources / name, {"culture": "B", "src": name}, link=link)
            added[rid] = {"src": name, "link": link}
        ours = store.filter(culture="B").recording_ids
        removed = [r for r in ours if r not in added][: max(0, len(ours) - int(cmd["keep"]))]
        for rid in removed:
            store.remove_recording(rid)
        emit("INTENT", {"seq": seq, "add": added, "remove": removed})
        store.commit()
        emit("ACK", {"seq": seq})


def work_results(cmd: dict[str, Any]) -> None:
    """Commit batches of results: new batches, replaced batches (new version), removed batches."""
    rng = random.Random(cmd["seed"])
    rid = cmd["rid"]
    state = {int(b): int(v) for b, v in cmd["state"].items()}
    next_batch = int(cmd["first_batch"])
    store = cldata.open(cmd["root"], mode="a", replace=True)
    for seq in range(1, 10**9):
        changes: dict[int, int] = {}
        removed: list[int] = []
        op = rng.random()
        if op < 0.45 or not state:
            changes[next_batch] = 0
            next_batch += 1
        if op >= 0.3 and state:
            b = rng.choice(sorted(state))
            changes[b] = state[b] + 1
        if len(state) + len(changes) > int(cmd["keep"]):
            removed = [b for b in sorted(state) if b not in changes][:2]
        for b, v in sorted(changes.items()):
            store.add_analysis_results([c_result(b, i, v, rid) for i in range(c_size(b))])
        for b in removed:
            for i in range(c_size(b)):
                store.remove_analysis_result(c_result(b, i, state[b], rid).result_id)
        emit("INTENT", {"seq": seq, "set": {str(b): v for b, v in changes.items()}, "remove": removed})
        store.commit()
        emit("ACK", {"seq": seq})
        state.update(changes)
        for b in removed:
            del state[b]


def work_batch(cmd: dict[str, Any]) -> None:
    """``cldata run FILE``, with each commit of the run reported (the runner commits once per unit)."""
    from cldata.app.cli import main
    from cldata.store.datastore import DataStore

    original = DataStore.commit
    seq = 0

    def commit(self: DataStore) -> None:
        nonlocal seq
        seq += 1
        if self.dirty:
            emit("INTENT", {"seq": seq, "add": sorted(self._pending_added), "remove": sorted(self._pending_removed)})
        original(self)
        emit("ACK", {"seq": seq})

    DataStore.commit = commit  # observes the runner's commits; they run unchanged
    code = main(["run", cmd["param_file"], "--no-progress", *cmd.get("argv", [])])
    emit("DONE", {"code": code})
    sys.exit(code)


def work_export(cmd: dict[str, Any]) -> None:
    """Export the store (or the culture-B recordings) again and again, to new files."""
    rng = random.Random(cmd["seed"])
    store = cldata.open(cmd["root"])
    for seq in range(1, 10**9):
        scope = rng.choice(["all", "all", "B"])
        path = Path(cmd["dir"]) / f"e-{cmd['round']}-{seq}.h5"
        emit("INTENT", {"seq": seq, "path": str(path), "scope": scope})
        (store if scope == "all" else store.filter(culture="B")).export(path)
        emit("ACK", {"seq": seq})


WORKERS = {"recording": work_recording, "add_recordings": work_add_recordings, "results": work_results,
           "batch": work_batch, "export": work_export}


def serve() -> None:
    import cldata.app.cli  # noqa: F401
    import cldata.batch.runner  # noqa: F401 - imported before READY: the work starts at once
    import cldata.format.simulate  # noqa: F401
    import cldata.store.export  # noqa: F401

    print("READY", flush=True)
    line = sys.stdin.readline()
    if not line.strip():
        return  # not needed after all
    cmd = json.loads(line)
    WORKERS[cmd["kind"]](cmd)


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        serve()
    else:
        WORKERS[sys.argv[1]](json.loads(sys.argv[2]))
