"""A recording writer for the follow tests, run as a real subprocess.

Writes several data streams (dicts, numpy arrays of several dtypes, mixed values), spikes,
stims and (with ``--samples F``) raw samples in many small flushes, and prints one JSON
line after each ``flush()`` returns: ``{"flush": k, "counts": {stream: entries
acknowledged}, "spikes": n, "stims": n, "frames": n}``, then ``{"closed": true}`` after
``close()``. With ``--flushes 0`` it never stops (until killed). ``--hold K:P`` (repeatable)
makes it wait, before flush ``K`` (``K`` = ``N``: before closing), until the file ``P`` exists:
a test creates it once it has seen what came before, so that a loaded machine cannot make the
writer run ahead of what the test looks at.

Usage: ``python follow_writer.py PATH [--flushes N] [--per-flush K] [--delay S] [--samples F]
[--hold K:P ...]``.

Everything written is a pure function of the stream and the entry's position
(:func:`expected_entry`, :func:`expected_spike`, :func:`expected_stim`,
:func:`expected_samples`), so a test can check what a follower received without being
told what was written.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

import cldata

# stream name -> flush number at which the writer creates it (streams appear mid-recording too)
STREAMS = {"ball_position": 0, "ball_speed": 0, "score": 3}


def expected_entry(stream: str, i: int) -> tuple[int, object]:
    """``(timestamp, value)`` of entry ``i`` of ``stream``."""
    if stream == "ball_position":
        return 5 + 10 * i, {"x": i * 0.5, "y": 200.0 - i, "hit": i % 7 == 0, "i": i}
    if stream == "ball_speed":
        dtype = (np.float32, np.int16, np.uint64)[i % 3]
        return 7 + 10 * i, np.arange(i % 4 + 1, dtype=dtype) * (i % 1000 + 1)
    if stream == "score":
        kind = i % 4
        value = (i, f"goal {i}", [i, None, 2.5, "x" * (i % 5)], {"points": np.array([i, 2**40 + i], np.uint64)})[kind]
        return 1000 + 37 * i, value
    raise KeyError(stream)


def expected_spike(j: int) -> tuple[int, int, np.ndarray]:
    """``(timestamp, channel, waveform)`` of spike ``j`` (two spikes share each timestamp)."""
    return 3 * (j // 2) + 1, (j * 5) % 64, (np.arange(75, dtype=np.float32) * 0.25 + j).astype(np.float32)


def expected_stim(j: int) -> tuple[int, int]:
    """``(timestamp, channel)`` of stim ``j``."""
    return 40 * j + 2, j % 64


def expected_samples(first: int, n: int, channels: int = 64) -> np.ndarray:
    """Sample frames ``[first, first + n)``: int16 ``(n, channels)``, distinct per frame and channel."""
    frame = np.arange(first, first + n, dtype=np.int64)[:, None]
    channel = np.arange(channels, dtype=np.int64)[None, :]
    return ((frame * 31 + channel * 1009) % 65536 - 32768).astype(np.int16)


def sample_frames(k: int, per_flush: int) -> int:
    """How many sample frames flush ``k`` appends: sizes vary, and every fifth flush has none."""
    return 0 if k % 5 == 3 else per_flush + 37 * (k % 4)


def jsonable(value):
    """A decoded value in a JSON form that keeps numpy dtypes and shapes."""
    if isinstance(value, np.ndarray):
        return {"ndarray": value.dtype.str, "shape": list(value.shape), "data": value.tolist()}
    if isinstance(value, np.generic):
        return {"scalar": value.dtype.str, "data": value.item()}
    if isinstance(value, dict):
        return {"dict": [[jsonable(k), jsonable(v)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def wait_for(path: str | None, timeout: float = 120.0) -> None:
    """Return once ``path`` exists (at most ``timeout`` seconds; ``None``: at once)."""
    deadline = time.monotonic() + timeout
    while path and not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.02)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("path")
    p.add_argument("--flushes", type=int, default=40, help="0: flush until killed")
    p.add_argument("--per-flush", type=int, default=25)
    p.add_argument("--delay", type=float, default=0.01)
    p.add_argument("--samples", type=int, default=0, help="sample frames per flush (about; 0: none)")
    p.add_argument("--hold", action="append", default=[], metavar="K:PATH",
                   help="before flush K (K = --flushes: before closing), wait until PATH exists")
    args = p.parse_args()
    w = cldata.RecordingWriter(args.path, attributes={"purpose": "follow test"})
    writers: dict[str, cldata.DataStreamWriter] = {}
    counts: dict[str, int] = {}
    n_spikes = n_stims = n_frames = 0
    holds = {int(k): path for k, path in (h.split(":", 1) for h in args.hold)}
    k = 0
    while args.flushes == 0 or k < args.flushes:
        wait_for(holds.get(k))
        for name, first in STREAMS.items():
            if first == k:
                writers[name] = w.create_data_stream(name, {"created_at_flush": k})
                counts[name] = 0
        for name, s in writers.items():
            n = args.per_flush if name != "score" else 1 + k % 3
            i0 = counts[name]
            if k % 2:
                for i in range(i0, i0 + n):
                    s.append(*expected_entry(name, i))
            else:
                pairs = [expected_entry(name, i) for i in range(i0, i0 + n)]
                s.extend([t for t, _ in pairs], [v for _, v in pairs])
            counts[name] = i0 + n
        spikes = [expected_spike(j) for j in range(n_spikes, n_spikes + 4)]
        w.append_spikes([s[0] for s in spikes], [s[1] for s in spikes], np.stack([s[2] for s in spikes]))
        n_spikes += 4
        if k % 2 == 0:
            w.append_stim(*expected_stim(n_stims))
            n_stims += 1
        if args.samples:
            n = sample_frames(k, args.samples)
            # two appends per flush: the flush must journal them as one contiguous block
            half = n // 3
            w.append_samples(expected_samples(n_frames, half))
            w.append_samples(expected_samples(n_frames + half, n - half))
            n_frames += n
        if k == 5:
            w.set_attribute("halfway", True)
            writers["ball_position"].set_attribute("units", "px")
        w.flush()
        print(json.dumps({"flush": k, "counts": counts, "spikes": n_spikes, "stims": n_stims, "frames": n_frames}),
              flush=True)
        k += 1
        time.sleep(args.delay)
    wait_for(holds.get(k))
    w.close()
    print(json.dumps({"closed": True}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
