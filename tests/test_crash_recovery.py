"""A writer killed with SIGKILL loses nothing it had flushed; recovery restores it exactly."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import cldata
from cldata.errors import RecordingInProgressError, UnfinishedRecordingError
from cldata.format.journal import journal_path
from crash_writer import expected_value

WRITER = Path(__file__).with_name("crash_writer.py")


def kill_writer_after(path: Path, batch: int, acks: int, extra_delay: float) -> int:
    """Start a writer, wait for ``acks`` acknowledged flushes (+ a delay), SIGKILL it.

    Returns the number of entries the writer had acknowledged before it died.
    """
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), str(path), str(batch)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=WRITER.parent,
    )
    acknowledged = 0
    try:
        for _ in range(acks):
            line = proc.stdout.readline()
            if not line:
                break
            acknowledged = int(line)
        time.sleep(extra_delay)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        # lines printed after our last read were acknowledged too
        for line in proc.stdout.read().split():
            acknowledged = int(line)
        proc.stdout.close()
    return acknowledged


def check_recovered(path: Path, acknowledged: int, batch: int) -> None:
    with pytest.raises(UnfinishedRecordingError):
        cldata.RecordingView(path)
    report = cldata.recover(path)
    assert report.recovered
    assert not journal_path(path).exists()
    with cldata.RecordingView(path) as rec:
        assert "cldata_recovered_utc" in rec.attributes
        streams = rec.data_streams
        if acknowledged == 0 and "counter" not in streams:
            return
        counter = streams["counter"]
        n = len(counter)
        assert n >= acknowledged, f"lost acknowledged entries: {n} < {acknowledged}"
        np.testing.assert_array_equal(counter.timestamps, np.arange(n))
        for ts, value in counter.items():
            want = expected_value(ts)
            assert value["i"] == want["i"] and value["pad"] == want["pad"]
            np.testing.assert_array_equal(value["arr"], want["arr"])
        spikes = rec.read_spikes(waveforms=False)
        assert len(spikes) >= acknowledged
        np.testing.assert_array_equal(spikes["timestamp"], np.arange(len(spikes)))
        frames = 0 if rec.samples is None else rec.samples.nrows
        assert frames >= acknowledged and frames % batch == 0
        assert rec.attributes.application == {"purpose": "crash test"}


@pytest.mark.parametrize("seed", range(4))
def test_sigkill_after_flush_loses_nothing_acknowledged(tmp_path, seed):
    rng = random.Random(seed)
    path = tmp_path / f"crash{seed}.h5"
    batch = rng.choice([1, 50, 500])
    acknowledged = kill_writer_after(path, batch, acks=rng.randint(1, 20), extra_delay=rng.uniform(0, 0.05))
    assert acknowledged > 0
    check_recovered(path, acknowledged, batch)


def test_sigkill_before_the_first_flush_recovers_an_empty_recording(tmp_path):
    path = tmp_path / "early.h5"
    acknowledged = kill_writer_after(path, batch=10**9, acks=0, extra_delay=0.8)
    assert acknowledged == 0
    if journal_path(path).exists():
        check_recovered(path, 0, batch=10**9)


def test_recovering_while_the_writer_lives_is_refused(tmp_path):
    path = tmp_path / "live.h5"
    w = cldata.RecordingWriter(path)
    try:
        with pytest.raises(RecordingInProgressError):
            cldata.recover(path)
    finally:
        w.close()
    assert not cldata.recover(path).recovered  # a finished recording needs nothing


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(40))
def test_sigkill_at_random_moments_many_times(tmp_path, seed):
    rng = random.Random(1000 + seed)
    path = tmp_path / f"crash{seed}.h5"
    batch = rng.choice([1, 7, 100, 2000])
    acknowledged = kill_writer_after(path, batch, acks=rng.randint(0, 30), extra_delay=rng.uniform(0, 0.2))
    if journal_path(path).exists():
        check_recovered(path, acknowledged, batch)
    else:
        assert acknowledged == 0
