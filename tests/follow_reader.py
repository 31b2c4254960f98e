"""A follower for the follow tests, run as a real subprocess.

Prints ``{"ready": true}`` before it starts following, then one JSON line per event
(``{"e": stream, "t": timestamp, "v": value}``, ``{"spikes": {...}}``, ``{"stims": {...}}``,
``{"samples": {"t": first frame, "shape": [...], "dtype": ..., "sha256": ..., "uV": scale}}``
(a digest: the frames themselves are too many for JSON lines); with ``--batch`` also
``{"batch": number}`` before each batch's events), and finally ``{"end": "closed"}`` or
``{"end": "error", "type": ..., "message": ...}``.

Usage: ``python follow_reader.py PATH [--streams NAME ...] [--spikes] [--stims] [--samples] [--batch]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json

from follow_writer import jsonable

from cldata.live import AttributesUpdated, Batch, Samples, Spikes, Stims, StreamEntry, follow


def emit(event) -> None:
    if isinstance(event, StreamEntry):
        line = {"e": event.stream, "t": event.timestamp, "v": jsonable(event.value)}
    elif isinstance(event, Spikes):
        line = {"spikes": {"ts": event.timestamps.tolist(), "ch": event.channels.tolist(),
                           "wf": jsonable(event.waveforms)}}  # fmt: skip
    elif isinstance(event, Stims):
        line = {"stims": {"ts": event.timestamps.tolist(), "ch": event.channels.tolist()}}
    elif isinstance(event, Samples):
        a = event.samples
        line = {"samples": {"t": event.timestamp, "shape": list(a.shape), "dtype": a.dtype.str,
                            "sha256": hashlib.sha256(a.tobytes()).hexdigest(), "uV": event.uV_per_sample_unit}}  # fmt: skip
    elif isinstance(event, AttributesUpdated):
        line = {"attrs": event.stream, "a": jsonable(event.attributes)}
    else:
        raise TypeError(f"unexpected event {event!r}")
    print(json.dumps(line))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("path")
    p.add_argument("--streams", nargs="*")
    p.add_argument("--spikes", action="store_true")
    p.add_argument("--stims", action="store_true")
    p.add_argument("--samples", action="store_true")
    p.add_argument("--batch", action="store_true")
    p.add_argument("--start-timeout", type=float, default=60.0)
    args = p.parse_args()
    print(json.dumps({"ready": True}), flush=True)
    try:
        for item in follow(args.path, args.streams, spikes=args.spikes, stims=args.stims, samples=args.samples,
                           start_timeout=args.start_timeout, batch=args.batch):  # fmt: skip
            if isinstance(item, Batch):
                line = {"batch": item.number, "live": item.live}
                if item.attributes and not (item.streams or item.spikes or item.stims or item.samples):
                    line["only_attributes"] = True  # an attribute update's batch, numbered like the next
                print(json.dumps(line))
                for event in item.events():
                    emit(event)
            else:
                emit(item)
    except Exception as exc:
        print(json.dumps({"end": "error", "type": type(exc).__name__, "message": str(exc)}), flush=True)
        return
    print(json.dumps({"end": "closed"}), flush=True)


if __name__ == "__main__":
    main()
