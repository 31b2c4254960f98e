"""A store writer to be killed: used by the store crash tests, run as a real subprocess.

Usage: ``python store_writer.py ROOT BACKEND BATCH RECORDING``. Adds the recording (first
run only), then commits batches of ``BATCH`` results forever, each batch tagged with its
number; prints the number of the batch after each ``commit()`` returns.
"""

from __future__ import annotations

import sys

import numpy as np
import quantities as pq

import cldata


def main() -> None:
    root, backend, batch, recording = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    store = cldata.open(root, backend=backend, mode="a")
    if not store.recording_ids:
        store.add_recording(recording, {"culture": "C7"})
        store.commit()
        print(0, flush=True)
    rid = store.recording_ids[0]
    start = len(store.analysis_results) // batch + 1
    for b in range(start, 10**9):
        results = [
            cldata.PerChannelValue("rate", np.full(64, b + i / 1000.0) * pq.Hz,
                                   parameters={"batch": b, "i": i, "pad": "x" * (i % 100)}, sources=[rid])
            for i in range(batch)
        ]
        store.add_analysis_results(results)
        store.commit()
        print(b, flush=True)


if __name__ == "__main__":
    main()
