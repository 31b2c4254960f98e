"""A writer process for the viewer's live tests: a simulated recording written in real time.

``python live_replay_writer.py OUT --seconds S --speed X`` simulates ``S`` seconds of a CL
recording (``cldata.simulate``: samples, spikes, stims, the pong game's streams) into a
temporary file, then writes it again to ``OUT`` with cldata's writer, a tenth of a second at a
time, ``X`` times faster than real time: samples, spikes, stims and stream entries of each tenth
of a second, then a flush. Every second it updates the ``score`` stream's attributes
(``{"rally": n}``) — a live score kept as an attribute. It prints ``started`` after its first
flush and ``closed`` when it has closed the recording. With ``--stop-file P`` it keeps the
recording open after the replay until ``P`` exists (at most two minutes): a test creates it once
it has seen the live view, so a loaded machine cannot close the recording before the page looks.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cldata


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--speed", type=float, default=1.0)
    p.add_argument("--stop-file", default=None, help="after the replay, wait for this file before closing")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = cldata.simulate(Path(tmp) / "sim.h5", seconds=args.seconds)
        with cldata.RecordingView(source) as rec:
            fps = int(rec.frames_per_second)
            spikes = rec.read_spikes()
            stims = rec.read_stims()
            streams = {name: rec.data_streams[name].read() for name in rec.data_streams}
            samples = rec.read_samples()
            attributes = {k: rec.attributes[k] for k in ("experiment", "rig") if k in rec.attributes}
    step = fps // 10
    with cldata.RecordingWriter(args.out, attributes=attributes, channel_count=samples.shape[1]) as w:
        writers = {name: w.create_data_stream(name) for name in streams}
        started = False
        for a in range(0, samples.shape[0], step):
            b = a + step
            w.append_samples(samples[a:b])
            s = spikes[(spikes["timestamp"] >= a) & (spikes["timestamp"] < b)]
            if len(s):
                w.append_spikes(s["timestamp"], s["channel"], s["samples"])
            for t, c in stims[(stims["timestamp"] >= a) & (stims["timestamp"] < b)]:
                w.append_stim(int(t), int(c))
            for name, (ts, values) in streams.items():
                for t, v in zip(ts.tolist(), values):
                    if a <= t < b:
                        writers[name].append(t, v)
            if a % fps == 0 and "score" in writers:
                writers["score"].update_attributes({"rally": a // fps})
            w.flush()
            if not started:
                print("started", flush=True)
                started = True
            time.sleep(0.1 / args.speed)
        deadline = time.monotonic() + 120
        while args.stop_file and not Path(args.stop_file).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    print("closed", flush=True)


if __name__ == "__main__":
    sys.exit(main())
