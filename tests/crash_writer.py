"""A recording writer to be killed: used by the crash tests, run as a real subprocess.

Appends data-stream entries, spikes and samples without end, flushing every ``batch``
entries, and prints the number of entries acknowledged (flushed) after each ``flush()``
returns. Usage: ``python crash_writer.py PATH BATCH``.
"""

from __future__ import annotations

import sys

import numpy as np

import cldata


def expected_value(i: int) -> dict:
    """The value written at timestamp ``i``: recognisable, of varying size."""
    return {"i": i, "pad": "x" * (i % 37), "arr": np.arange(i % 5, dtype=np.int32)}


def main() -> None:
    path, batch = sys.argv[1], int(sys.argv[2])
    w = cldata.RecordingWriter(path, attributes={"purpose": "crash test"}, flush_bytes=256 * 1024)
    s = w.create_data_stream("counter", {"batch": batch})
    i = 0
    waveform = np.zeros((1, 75), np.float32)
    while True:
        for _ in range(batch):
            s.append(i, expected_value(i))
            w.append_spikes([i], [i % 64], waveform)
            i += 1
        w.append_samples(np.full((batch, 64), i % 1000, np.int16))
        w.flush()
        print(i, flush=True)


if __name__ == "__main__":
    main()
