"""Following a recording while it is written (cldata.live.follower): live, late, after the fact, after a crash.

The two-process tests run the writer (follow_writer.py) and the follower (follow_reader.py)
as real subprocesses that print JSON lines; everything they write is a pure function of
the position, so every entry, spike and stim the follower got is checked against what the
writer must have written: exactly once, in order, with the right value and dtype.
Raw samples arrive as digests (the frames are too many for JSON lines), checked against
the frames the writer must have written and against the file after close.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from follow_writer import (
    STREAMS,
    expected_entry,
    expected_samples,
    expected_spike,
    expected_stim,
    jsonable,
    sample_frames,
)

import cldata
from cldata.errors import CorruptRecordingError, ParameterError, UnfinishedRecordingError
from cldata.format.journal import MAGIC, iter_records, journal_path
from cldata.live import Batch, Samples, Spikes, Stims, StreamEntry, follow, follow_dataframes
from conftest import to_expected_json

HERE = Path(__file__).parent
WRITER = HERE / "follow_writer.py"
READER = HERE / "follow_reader.py"


# -- the two processes ---------------------------------------------------------------------------


def start_writer(path: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WRITER), str(path), *args], stdout=subprocess.PIPE, text=True, cwd=HERE
    )


def start_reader(path: Path, *args: str) -> subprocess.Popen:
    """Start a follower and wait until it has imported cldata and is about to follow."""
    proc = subprocess.Popen(
        [sys.executable, str(READER), str(path), *args], stdout=subprocess.PIPE, text=True, cwd=HERE
    )
    assert json.loads(proc.stdout.readline()) == {"ready": True}
    return proc


def writer_acks(proc: subprocess.Popen, n: int | None = None) -> list[dict]:
    """Read ``n`` lines of the writer (all of them if None)."""
    lines = []
    while n is None or len(lines) < n:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(json.loads(line))
    return lines


def finish(proc: subprocess.Popen, timeout: float = 60) -> list[dict]:
    """The rest of a process's output lines, once it has ended (killed after ``timeout``)."""
    # not communicate(): with a timeout it reads the pipe itself, losing what readline() buffered
    out: list[str] = []
    t = threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        proc.kill()
        t.join(10)
        pytest.fail(f"{proc.args[1]} did not finish within {timeout} s")
    proc.wait(timeout=10)
    proc.stdout.close()
    text = out[0] if out else ""
    assert proc.returncode == 0, text[-2000:]
    return [json.loads(line) for line in text.splitlines() if line]


def final_counts(acks: list[dict]) -> dict:
    last = [a for a in acks if "flush" in a][-1]
    return {"streams": last["counts"], "spikes": last["spikes"], "stims": last["stims"]}


# -- checking what arrived -----------------------------------------------------------------------


def received(lines: list[dict]) -> dict:
    """What a follower printed, gathered per stream / spikes / stims, in arrival order."""
    got = {"streams": {}, "spikes": [], "stims": [], "samples": [], "batches": [], "end": None}
    for line in lines:
        if "e" in line:
            got["streams"].setdefault(line["e"], []).append((line["t"], line["v"]))
        elif "spikes" in line:
            s = line["spikes"]
            got["spikes"] += list(zip(s["ts"], s["ch"], s["wf"]["data"]))
            assert s["wf"]["ndarray"] == "<f4" and s["wf"]["shape"] == [len(s["ts"]), 75]
        elif "stims" in line:
            got["stims"] += list(zip(line["stims"]["ts"], line["stims"]["ch"]))
        elif "samples" in line:
            got["samples"].append(line["samples"])
        elif "batch" in line:
            got["batches"].append(line)
        elif "end" in line:
            got["end"] = line
    return got


def check_exact(got: dict, counts: dict, streams=None, spikes=True, stims=True) -> None:
    """Everything written (``counts``) arrived exactly once, in order, with the right values."""
    names = set(STREAMS) if streams is None else set(streams)
    assert set(got["streams"]) == {n for n in names if counts["streams"].get(n)}
    for name in names:
        n = counts["streams"].get(name, 0)
        entries = got["streams"].get(name, [])
        assert len(entries) == n, (name, len(entries), n)
        for i, (t, v) in enumerate(entries):
            ts, value = expected_entry(name, i)
            assert t == ts, (name, i)
            assert v == json.loads(json.dumps(jsonable(value))), (name, i, v)
    if spikes:
        assert len(got["spikes"]) == counts["spikes"]
        for j, (t, ch, wf) in enumerate(got["spikes"]):
            ts, channel, waveform = expected_spike(j)
            assert (t, ch) == (ts, channel) and wf == waveform.tolist(), j
    else:
        assert got["spikes"] == []
    if stims:
        assert got["stims"] == [expected_stim(j) for j in range(counts["stims"])]
    else:
        assert got["stims"] == []


def counts_of(got: dict) -> dict:
    return {"streams": {k: len(v) for k, v in got["streams"].items()}, "spikes": len(got["spikes"]),
            "stims": len(got["stims"])}  # fmt: skip


# -- two processes: before, during, after, killed ------------------------------------------------


def test_a_follower_started_before_the_writer_gets_everything_once_in_order(tmp_path):
    path = tmp_path / "rec.h5"
    reader = start_reader(path, "--spikes", "--stims", "--batch")
    time.sleep(0.3)  # the follower is waiting for the recording to appear
    writer = start_writer(path, "--flushes", "40", "--per-flush", "25", "--delay", "0.01")
    acks = finish(writer)
    assert acks[-1] == {"closed": True}
    got = received(finish(reader))
    assert got["end"] == {"end": "closed"}
    counts = final_counts(acks)
    assert counts["streams"] == {"ball_position": 1000, "ball_speed": 1000, "score": 73}
    check_exact(got, counts)
    # it really followed the journal: one live batch per flush, in flush order
    numbers = [b["batch"] for b in got["batches"] if not b.get("only_attributes")]
    assert all(b["live"] for b in got["batches"]) and numbers == list(range(40))
    assert not journal_path(path).exists()


def test_a_follower_started_midway_still_gets_everything_from_the_beginning(tmp_path):
    path = tmp_path / "rec.h5"
    writer = start_writer(path, "--flushes", "60", "--per-flush", "20", "--delay", "0.05")
    early = writer_acks(writer, 5)
    reader = start_reader(path, "--spikes", "--stims", "--batch")
    acks = early + finish(writer)
    got = received(finish(reader))
    assert got["end"] == {"end": "closed"}
    check_exact(got, final_counts(acks))
    assert got["batches"][0]["live"] and got["batches"][0]["batch"] == 0


def test_a_follower_started_after_the_writer_closed_reads_the_finished_file(tmp_path):
    path = tmp_path / "rec.h5"
    acks = finish(start_writer(path, "--flushes", "12", "--per-flush", "30", "--delay", "0"))
    assert not journal_path(path).exists()
    got = received(finish(start_reader(path, "--spikes", "--stims", "--batch")))
    assert got["end"] == {"end": "closed"}
    check_exact(got, final_counts(acks))
    assert got["batches"] and not any(b["live"] for b in got["batches"])


def test_glob_selection_and_no_spikes_unless_asked(tmp_path):
    path = tmp_path / "rec.h5"
    reader = start_reader(path, "--streams", "ball_*")
    writer = start_writer(path, "--flushes", "15", "--per-flush", "10", "--delay", "0.01")
    acks = finish(writer)
    got = received(finish(reader))
    assert got["end"] == {"end": "closed"}
    check_exact(got, final_counts(acks), streams=["ball_position", "ball_speed"], spikes=False, stims=False)


def test_a_killed_writer_ends_the_follower_with_everything_flushed_then_an_error(tmp_path):
    path = tmp_path / "rec.h5"
    reader = start_reader(path, "--spikes", "--stims")
    writer = start_writer(path, "--flushes", "0", "--per-flush", "15", "--delay", "0.003")
    acks = writer_acks(writer, 25)
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    acks += writer_acks(writer)  # acknowledged after our last read
    writer.stdout.close()
    acked = final_counts(acks)
    got = received(finish(reader))
    assert got["end"]["end"] == "error" and got["end"]["type"] == "UnfinishedRecordingError"
    assert "recover" in got["end"]["message"]
    # at least everything acknowledged (flushes may have landed after the last ack line) ...
    have = counts_of(got)
    assert all(have["streams"][n] >= c for n, c in acked["streams"].items())
    assert have["spikes"] >= acked["spikes"] and have["stims"] >= acked["stims"]
    check_exact(got, have)  # ... each exactly once, in order, right values
    # ... and exactly what the journal holds: recovery restores the same data
    cldata.recover(path)
    with cldata.RecordingView(path) as rec:
        assert {n: len(s) for n, s in rec.data_streams.items()} == have["streams"]
        assert len(rec.spikes) == have["spikes"] and len(rec.stims) == have["stims"]


# -- in one process: the same guarantees, step by step ---------------------------------------------


def write_some(w, streams, k: int, n: int = 3) -> None:
    for name, s in streams.items():
        i0 = len(s)
        pairs = [expected_entry(name, i) for i in range(i0, i0 + n)]
        s.extend([t for t, _ in pairs], [v for _, v in pairs])
    spikes = [expected_spike(j) for j in range(2 * k, 2 * k + 2)]
    w.append_spikes([s[0] for s in spikes], [s[1] for s in spikes], np.stack([s[2] for s in spikes]))


def same(a, b) -> bool:
    return json.dumps(jsonable(a)) == json.dumps(jsonable(b))


def test_each_flush_arrives_and_the_deleted_journal_is_still_read_to_its_close(tmp_path):
    path = tmp_path / "rec.h5"
    w = cldata.RecordingWriter(path)
    streams = {"ball_position": w.create_data_stream("ball_position")}
    gen = follow(path, spikes=True, batch=True, poll_interval=0.001)
    write_some(w, streams, 0)
    w.flush()
    b = next(gen)
    assert isinstance(b, Batch) and b.live and b.number == 0 and b.entry_count == 3
    ts, values = b.streams["ball_position"]
    assert ts.dtype == np.int64 and ts.tolist() == [expected_entry("ball_position", i)[0] for i in range(3)]
    assert all(same(v, expected_entry("ball_position", i)[1]) for i, v in enumerate(values))
    assert isinstance(b.spikes, Spikes) and len(b.spikes) == 2 and b.spikes.waveforms.shape == (2, 75)
    # a stream created later, an attribute change (no event), another flush
    streams["ball_speed"] = w.create_data_stream("ball_speed")
    w.set_attribute("halfway", True)
    write_some(w, streams, 1)
    w.flush()
    b = next(gen)
    assert list(b.streams) == ["ball_position", "ball_speed"] and b.number == 1
    assert b.streams["ball_position"][0][0] == expected_entry("ball_position", 3)[0]
    write_some(w, streams, 2)
    w.close()  # flushes, writes "close", deletes the journal: the follower holds it open
    assert not journal_path(path).exists()
    rest = list(gen)
    assert [b.number for b in rest] == [2] and rest[0].entry_count == 6


def test_events_mode_orders_streams_then_spikes_then_stims(tmp_path):
    path = tmp_path / "rec.h5"
    with cldata.RecordingWriter(path) as w:
        a, b = w.create_data_stream("a"), w.create_data_stream("b")
        b.append(1, "b1")
        a.append(5, {"k": np.arange(3, dtype=np.int16)})
        w.append_stims([2], [3])
        w.append_spike(4, 7, np.ones(75))
        gen = follow(path, spikes=True, stims=True)
        w.flush()
        events = [next(gen) for _ in range(4)]
    assert events[0] == StreamEntry("a", 5, events[0].value) and events[0].value["k"].dtype == np.int16
    assert events[1] == StreamEntry("b", 1, "b1")
    assert isinstance(events[2], Spikes) and events[2].channels.tolist() == [7]
    assert isinstance(events[3], Stims) and events[3].timestamps.tolist() == [2]
    assert list(gen) == []


def orphan_copy(tmp_path: Path, flushes: int = 4) -> tuple[Path, int]:
    """A journal left by a "dead" writer: a closed recording's journal, copied before the close.

    Returns the orphan's recording path and the number of entries it holds.
    """
    src = tmp_path / "src.h5"
    w = cldata.RecordingWriter(src)
    streams = {"ball_position": w.create_data_stream("ball_position")}
    for k in range(flushes):
        write_some(w, streams, k)
        w.flush()
    orphan = tmp_path / "orphan.h5"
    shutil.copyfile(journal_path(src), journal_path(orphan))  # a copy holds no lock: nobody writes it
    w.close()
    return orphan, 3 * flushes


def test_a_dead_writers_journal_is_drained_then_unfinished_is_raised_torn_tail_ignored(tmp_path):
    orphan, n = orphan_copy(tmp_path)
    with open(journal_path(orphan), "ab") as f:
        f.write(b"\x40\x00\x00\x00\x12\x34\x56\x78partial")  # a record the writer never finished
    got = []
    with pytest.raises(UnfinishedRecordingError, match="torn"):
        for e in follow(orphan, spikes=True):
            got.append(e)
    entries = [e for e in got if isinstance(e, StreamEntry)]
    assert [e.timestamp for e in entries] == [expected_entry("ball_position", i)[0] for i in range(n)]
    assert sum(len(e) for e in got if isinstance(e, Spikes)) == 2 * 4


def test_a_record_read_twice_is_not_yielded_twice(tmp_path):
    orphan, n = orphan_copy(tmp_path)
    jp = journal_path(orphan)
    data = jp.read_bytes()
    ends = [end for _, end in iter_records(jp)]
    starts = [len(MAGIC)] + ends[:-1]
    ops = [r["op"] for r, _ in iter_records(jp)]
    k = ops.index("batch")
    dup = data[starts[k] : ends[k]]
    jp.write_bytes(data[: ends[k]] + dup + data[ends[k] :])  # the first batch appears twice
    with pytest.raises(UnfinishedRecordingError):
        entries = []
        for e in follow(orphan):
            entries.append(e)
    assert [e.timestamp for e in entries] == [expected_entry("ball_position", i)[0] for i in range(n)]


def test_a_damaged_journal_of_a_live_writer_is_reported(tmp_path):
    path = tmp_path / "rec.h5"
    w = cldata.RecordingWriter(path)
    s = w.create_data_stream("s")
    s.append(1, 1)
    w.flush()
    jp = journal_path(path)
    data = bytearray(jp.read_bytes())
    data[-1] ^= 0xFF  # corrupt the last record, then append a good one after it
    jp.write_bytes(bytes(data))
    s.append(2, 2)
    w.flush()
    with pytest.raises(CorruptRecordingError, match="checksum"):
        list(follow(path, poll_interval=0.001))
    w.close()


def test_finished_recordings_from_a_path_a_store_handle_and_the_cl_fixture(tmp_path, cl_fixture, cl_expected):
    path = tmp_path / "rec.h5"
    with cldata.RecordingWriter(path) as w:
        streams = {n: w.create_data_stream(n) for n in ("ball_position", "ball_speed", "score")}
        for k in range(5):
            write_some(w, streams, k, n=40_000 if k == 2 else 3)  # one batch spans several 1-s windows
    batches = list(follow(path, "ball*", spikes=True, batch=True))
    assert all(not b.live for b in batches) and len(batches) > 1
    for name in ("ball_position", "ball_speed"):
        ts = np.concatenate([b.streams[name][0] for b in batches if name in b.streams])
        assert ts.tolist() == [expected_entry(name, i)[0] for i in range(40_012)]
    assert all("score" not in b.streams for b in batches)
    # a store handle reads through its view and stream selection
    with cldata.open(tmp_path / "store", mode="a") as store:
        store.add_recording(path, {"culture": "C7"})
    with cldata.open(tmp_path / "store") as store:
        handle = store.streams("score").recordings[0]
        got = list(follow(handle))
        assert {e.stream for e in got} == {"score"} and len(got) == 40_012
        assert all(same(e.value, expected_entry("score", i)[1]) for i, e in enumerate(got))
    # the official simulator's file
    events = list(follow(cl_fixture, spikes=True, stims=True))
    score = [e for e in events if isinstance(e, StreamEntry) and e.stream == "score"]
    assert [[e.timestamp, to_expected_json(e.value)] for e in score] == cl_expected["data_streams"]["score"]["items"]
    assert sum(len(e) for e in events if isinstance(e, Spikes)) == cl_expected["spikes"]["n"]


def test_dataframes_per_batch_live_and_finished(tmp_path):
    pd = pytest.importorskip("pandas")
    path = tmp_path / "rec.h5"
    w = cldata.RecordingWriter(path)
    ball = w.create_data_stream("ball_position")
    misc = w.create_data_stream("misc")
    frames = follow_dataframes(path, "ball_position", poll_interval=0.001)
    ball.extend([1, 2, 3], [{"x": 1.0, "y": 2.0}, {"x": 1.5, "y": 2.5}, {"x": 2.0, "hit": True}])
    misc.append(1, np.arange(3))
    w.flush()
    df = next(frames)
    assert df.attrs["stream"] == "ball_position" and df.index.name == "timestamp"
    assert df.index.tolist() == [1, 2, 3] and df["x"].tolist() == [1.0, 1.5, 2.0]
    assert pd.isna(df["y"].iloc[2]) and df["hit"].iloc[2] is True
    ball.append(4, {"x": 3.0, "y": 0.0})
    w.close()
    assert next(frames)["x"].tolist() == [3.0]
    assert list(frames) == []
    # non-dict values: one "value" column holding whole arrays; glob patterns give one frame per stream
    frames = list(follow_dataframes(path, "m*"))
    assert len(frames) == 1 and frames[0].attrs["stream"] == "misc"
    assert frames[0]["value"].iloc[0].tolist() == [0, 1, 2]


def test_dataframes_without_pandas_say_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"cldata\[pandas\]"):
        follow_dataframes(tmp_path / "rec.h5", "ball")


def test_waiting_limits_and_bad_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match="no recording appeared"):
        list(follow(tmp_path / "never.h5", start_timeout=0.05))
    with pytest.raises(ParameterError):
        follow(tmp_path / "rec.h5", streams=[""])  # refused at once, before iterating
    with pytest.raises(TypeError):
        follow(42)
    with pytest.raises(ValueError):
        follow(tmp_path / "rec.h5", poll_interval=-1)
    path = tmp_path / "rec.h5"
    with cldata.RecordingWriter(path) as w:
        w.create_data_stream("s").append(1, 1)
        w.flush()
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            list(follow(path, idle_timeout=0.2, poll_interval=0.01))
        assert time.monotonic() - t0 < 5


def test_a_follower_waits_for_a_writer_that_starts_later_in_a_thread(tmp_path):
    path = tmp_path / "rec.h5"

    def write() -> None:
        time.sleep(0.2)
        with cldata.RecordingWriter(path) as w:
            s = w.create_data_stream("s")
            for k in range(20):
                s.extend(range(10 * k, 10 * k + 10), list(range(10 * k, 10 * k + 10)))
                w.flush()

    t = threading.Thread(target=write)
    t.start()
    try:
        got = [(e.timestamp, e.value) for e in follow(path, start_timeout=10)]
    finally:
        t.join()
    assert got == [(i, i) for i in range(200)]


def journal_fds(path: Path) -> int:
    target = str(journal_path(path))
    fds = Path("/proc/self/fd")
    return sum(1 for fd in fds.iterdir() if os.path.realpath(fd) == target) if fds.exists() else -1


def test_a_late_follower_reads_a_long_journal_in_chunks_and_stopping_early_releases_it(tmp_path, monkeypatch):
    import cldata.format.journal as follow_module

    monkeypatch.setattr(follow_module, "_READ_CHUNK", 64)  # far smaller than one record
    path = tmp_path / "rec.h5"
    w = cldata.RecordingWriter(path)
    streams = {"ball_position": w.create_data_stream("ball_position")}
    for k in range(20):
        write_some(w, streams, k, n=7)
        w.flush()
    before = journal_fds(path)
    gen = follow(path, batch=True, poll_interval=0.001)
    got = [next(gen) for _ in range(20)]
    assert [b.number for b in got] == list(range(20))
    ts = np.concatenate([b.streams["ball_position"][0] for b in got])
    assert ts.tolist() == [expected_entry("ball_position", i)[0] for i in range(140)]
    if before >= 0:
        assert journal_fds(path) == before + 1
        gen.close()  # like a `break` out of the loop
        assert journal_fds(path) == before
    w.close()


# -- raw samples ----------------------------------------------------------------------------------


def digest(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a, dtype=np.int16).tobytes()).hexdigest()


def check_sample_pieces(pieces: list[dict], frames: int, path: Path | None = None) -> None:
    """The Samples a follower printed hold frames ``[0, frames)``, each once, in order, right values;
    with ``path`` (a closed recording) also exactly what its ``/samples`` holds."""
    at = 0
    for piece in pieces:
        n, channels = piece["shape"]
        assert piece["t"] == at and n > 0 and channels == 64 and piece["dtype"] == "<i2", (piece, at)
        assert piece["sha256"] == digest(expected_samples(at, n)), at
        at += n
    assert at == frames
    if path is not None:
        with cldata.RecordingView(path) as rec:
            assert rec.samples.nrows == frames
            for piece in pieces:
                n = piece["shape"][0]
                assert piece["sha256"] == digest(rec.read_samples(piece["t"], piece["t"] + n)), piece["t"]


def samples_come_last_in_each_batch(lines: list[dict]) -> bool:
    """In ``--batch`` output, nothing of a batch follows its samples line."""
    return all("batch" in nxt or "end" in nxt for line, nxt in zip(lines, lines[1:]) if "samples" in line)


def test_samples_arrive_live_once_in_order_off_by_default_and_a_replay_gives_the_same_frames(tmp_path):
    path = tmp_path / "rec.h5"
    with_samples = start_reader(path, "--samples", "--spikes", "--stims", "--batch")
    without = start_reader(path, "--spikes", "--stims", "--batch")  # samples not asked for
    writer = start_writer(path, "--flushes", "30", "--per-flush", "10", "--delay", "0.01", "--samples", "1000")
    acks = finish(writer)
    assert acks[-1] == {"closed": True}
    frames = acks[-2]["frames"]
    assert frames == sum(sample_frames(k, 1000) for k in range(30)) > 25_000  # more than one replay window
    lines = finish(with_samples)
    got = received(lines)
    assert got["end"] == {"end": "closed"}
    check_exact(got, final_counts(acks))
    # live: one Samples per flush that appended any (two appends journalled as one block) ...
    sizes = [sample_frames(k, 1000) for k in range(30)]
    assert [p["shape"][0] for p in got["samples"]] == [n for n in sizes if n]
    assert {p["uV"] for p in got["samples"]} == {0.195}
    check_sample_pieces(got["samples"], frames, path)  # ... each frame once, in order, as the file holds it
    assert samples_come_last_in_each_batch(lines)
    # off by default: the same batches without any Samples
    plain = received(finish(without))
    assert plain["end"] == {"end": "closed"} and plain["samples"] == []
    check_exact(plain, final_counts(acks))
    # the finished file replays the same frames, in one-second windows
    replay_lines = finish(start_reader(path, "--samples", "--spikes", "--stims", "--batch"))
    replay = received(replay_lines)
    assert replay["end"] == {"end": "closed"} and not any(b["live"] for b in replay["batches"])
    assert [p["t"] for p in replay["samples"]] == list(range(0, frames, 25_000))
    check_sample_pieces(replay["samples"], frames, path)
    check_exact(replay, final_counts(acks))
    assert samples_come_last_in_each_batch(replay_lines)


def test_a_killed_writer_ends_a_samples_follower_with_every_flushed_frame_then_an_error(tmp_path):
    path = tmp_path / "rec.h5"
    reader = start_reader(path, "--samples")
    writer = start_writer(path, "--flushes", "0", "--per-flush", "5", "--delay", "0.003", "--samples", "300")
    acks = writer_acks(writer, 25)
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    acks += writer_acks(writer)
    writer.stdout.close()
    acked = [a for a in acks if "flush" in a][-1]["frames"]
    got = received(finish(reader))
    assert got["end"]["type"] == "UnfinishedRecordingError"
    frames = sum(p["shape"][0] for p in got["samples"])
    assert frames >= acked  # flushes may have landed after the last ack line
    check_sample_pieces(got["samples"], frames)
    cldata.recover(path)  # restores exactly the frames the follower received
    check_sample_pieces(got["samples"], frames, path)


def write_with_samples(path: Path, uV: float = 0.37) -> list[np.ndarray]:
    """A small recording with streams, spikes, stims and samples in four flushes (one without samples)."""
    blocks = []
    with cldata.RecordingWriter(path, uV_per_sample_unit=uV) as w:
        s = w.create_data_stream("s")
        at = 0
        for k, n in enumerate((40, 0, 25, 7)):
            s.append(10 * k + 1, k)
            w.append_spike(10 * k + 2, k, np.full(75, k, np.float32))
            w.append_stim(10 * k + 3, k)
            if n:
                w.append_samples(expected_samples(at, n))
                blocks.append(expected_samples(at, n))
                at += n
            w.flush()
    return blocks


def test_samples_in_one_process_order_timestamps_and_microvolts_as_the_reader_gives_them(tmp_path):
    path = tmp_path / "rec.h5"
    w = cldata.RecordingWriter(path, uV_per_sample_unit=0.37)
    s = w.create_data_stream("s")
    gen = follow(path, spikes=True, stims=True, samples=True, poll_interval=0.001)
    s.append(5, "a")
    w.append_stim(2, 1)
    w.append_samples(expected_samples(0, 30))
    w.append_spike(4, 7, np.ones(75))
    w.flush()
    events = [next(gen) for _ in range(4)]
    assert [type(e) for e in events] == [StreamEntry, Spikes, Stims, Samples]  # samples last
    smp = events[3]
    assert (smp.timestamp, len(smp), smp.stop, smp.uV_per_sample_unit) == (0, 30, 30, 0.37)
    assert smp.samples.dtype == np.int16 and np.array_equal(smp.samples, expected_samples(0, 30))
    w.append_samples(expected_samples(30, 12))  # a flush of samples only is a batch too
    w.flush()
    smp2 = next(gen)
    assert isinstance(smp2, Samples) and smp2.timestamp == 30 and np.array_equal(smp2.samples, expected_samples(30, 12))
    w.close()
    assert list(gen) == []
    with cldata.RecordingView(path) as rec:
        # µV exactly as the reader computes them (bit for bit)
        assert np.array_equal(smp.scaled(), rec.read_samples(0, 30, scaled=True))
        assert smp.scaled().dtype == np.float32
        assert np.array_equal(smp2.scaled(), rec.read_samples(30, 42, scaled=True))


def test_batches_carry_samples_and_live_and_replay_give_the_same_frames(tmp_path):
    path = tmp_path / "rec.h5"
    blocks = []

    def write() -> None:
        blocks.extend(write_with_samples(path))

    t = threading.Thread(target=write)
    t.start()
    try:
        live = list(follow(path, spikes=True, stims=True, samples=True, batch=True, start_timeout=10))
    finally:
        t.join()
    assert all(b.live for b in live) and [b.number for b in live] == [0, 1, 2, 3]
    with_samples = [b for b in live if b.samples is not None]
    assert [b.number for b in with_samples] == [0, 2, 3]  # the flush without samples has none
    assert [b.samples.timestamp for b in with_samples] == [0, 40, 65]
    assert all(type(list(b.events())[-1]) is Samples for b in with_samples)
    live_frames = np.concatenate([b.samples.samples for b in with_samples])
    assert np.array_equal(live_frames, np.concatenate(blocks))
    replay = list(follow(path, spikes=True, stims=True, samples=True, batch=True))
    assert len(replay) == 1 and not replay[0].live  # 72 frames: one window
    assert replay[0].samples.timestamp == 0 and replay[0].samples.uV_per_sample_unit == 0.37
    assert np.array_equal(replay[0].samples.samples, live_frames)
    assert replay[0].streams["s"][0].tolist() == [1, 11, 21, 31] and len(replay[0].spikes) == 4


def test_samples_are_off_by_default_live_and_finished(tmp_path):
    path = tmp_path / "rec.h5"
    t = threading.Thread(target=write_with_samples, args=(path,))
    t.start()
    try:
        live = list(follow(path, spikes=True, stims=True, batch=True, start_timeout=10))
    finally:
        t.join()
    assert [b.number for b in live] == [0, 1, 2, 3] and all(b.samples is None for b in live)
    events = list(follow(path, spikes=True, stims=True))
    assert events and not any(isinstance(e, Samples) for e in events)
    with pytest.raises(TypeError, match="samples"):
        follow_dataframes(path, "s", samples=True)  # per-stream frames have no place for them


def test_samples_asked_of_a_recording_without_samples_yield_nothing_and_no_error(tmp_path):
    path = tmp_path / "rec.h5"
    w = cldata.RecordingWriter(path)
    streams = {"ball_position": w.create_data_stream("ball_position")}
    gen = follow(path, spikes=True, samples=True, batch=True, poll_interval=0.001)
    write_some(w, streams, 0)
    w.flush()
    live = [next(gen)]  # (a generator starts reading at its first next(): the writer is live then)
    for k in (1, 2):
        write_some(w, streams, k)
        w.flush()
    w.close()
    live += list(gen)
    assert [b.number for b in live] == [0, 1, 2] and all(b.live and b.samples is None for b in live)
    events = list(follow(path, spikes=True, samples=True))
    assert len(events) == 9 + 1 and not any(isinstance(e, Samples) for e in events)
    # through a store handle too
    with cldata.open(tmp_path / "store", mode="a") as store:
        store.add_recording(path, {"culture": "C7"})
    with cldata.open(tmp_path / "store") as store:
        got = list(follow(store.recordings[0], samples=True))
        assert len(got) == 9 and not any(isinstance(e, Samples) for e in got)


def test_a_replay_reads_samples_window_by_window_and_keeps_to_a_views_window(tmp_path, monkeypatch):
    path = tmp_path / "rec.h5"
    fps = 1000
    with cldata.RecordingWriter(path, frames_per_second=fps, channel_count=64) as w:
        s = w.create_data_stream("s")
        s.extend([5, 2500, 2501, 9000], ["a", "b", "c", "d"])  # 9000: after the samples end
        for k in range(5):
            w.append_samples(expected_samples(1300 * k, 1300))
            w.flush()
    reads = []
    real = cldata.RecordingView.read_samples

    def spy(self, start=None, stop=None, *args, **kwargs):
        reads.append((start, stop))
        return real(self, start, stop, *args, **kwargs)

    monkeypatch.setattr(cldata.RecordingView, "read_samples", spy)
    batches = list(follow(path, samples=True, batch=True))
    # one-second windows from frame 0; never more than one window read from disk at once
    assert reads == [(a, min(a + fps, 6500)) for a in range(0, 6500, fps)]
    pieces = [b.samples for b in batches if b.samples is not None]
    assert [p.timestamp for p in pieces] == list(range(0, 6500, fps)) and all(len(p) <= fps for p in pieces)
    assert np.array_equal(np.concatenate([p.samples for p in pieces]), expected_samples(0, 6500))
    # the samples set the windows; every entry still arrives once, in order
    entries = [(int(t), v) for b in batches if "s" in b.streams for t, v in zip(*b.streams["s"])]
    assert entries == [(5, "a"), (2500, "b"), (2501, "c"), (9000, "d")]
    # a windowed view: only the frames of its window are read
    reads.clear()
    with cldata.RecordingView(path, window=(1500, 3700)) as view:
        pieces = [e for e in follow(view, samples=True) if isinstance(e, Samples)]
    assert reads == [(1500, 2500), (2500, 3500), (3500, 3700)]
    assert [(p.timestamp, len(p)) for p in pieces] == [(1500, 1000), (2500, 1000), (3500, 200)]
    assert np.array_equal(np.concatenate([p.samples for p in pieces]), expected_samples(1500, 2200))


def test_the_official_simulators_samples_replay_as_the_reader_reads_them(cl_fixture):
    pieces = [e for e in follow(cl_fixture, samples=True) if isinstance(e, Samples)]
    with cldata.RecordingView(cl_fixture) as rec:
        assert [p.timestamp for p in pieces] == list(range(0, rec.samples.nrows, rec.frames_per_second))
        assert np.array_equal(np.concatenate([p.samples for p in pieces]), rec.read_samples())
        assert np.array_equal(np.concatenate([p.scaled() for p in pieces]), rec.read_samples(scaled=True))


def test_malformed_samples_in_a_journal_are_reported_only_when_asked_for(tmp_path):
    from cldata.format.journal import JournalWriter
    from cldata.format.writer import attrs_to_journal

    path = tmp_path / "rec.h5"
    j = JournalWriter(path, durable=False)
    j.append({"op": "open", "root": attrs_to_journal({"channel_count": np.int64(4), "frames_per_second": np.int64(25000)})})
    j.append({"op": "batch", "streams": {}, "spikes": None, "stims": None, "samples": np.zeros((3, 5), np.int16)})
    j.sync()
    j.close(remove=False)  # an orphan: no writer holds it
    with pytest.raises(CorruptRecordingError, match=r"int16 \(frames, 4\)"):
        list(follow(path, samples=True))
    with pytest.raises(UnfinishedRecordingError):
        list(follow(path))  # samples not asked for are not even looked at


def test_a_stop_event_ends_a_follow_quietly_while_the_writer_is_quiet(tmp_path):
    """follow(stop=event): set from another thread, the generator returns (no error) at its next look,
    not at the writer's next flush."""
    path, hold = tmp_path / "rec.h5", tmp_path / "go-on"
    writer = start_writer(path, "--flushes", "4", "--per-flush", "2", "--hold", f"2:{hold}")
    stop = threading.Event()
    got = []
    try:
        writer_acks(writer, 2)  # flushes 0 and 1 are in; the writer holds before flush 2
        timer = threading.Timer(0.5, stop.set)
        timer.start()
        started = time.monotonic()
        for b in follow(path, "ball_position", batch=True, stop=stop, start_timeout=30):
            got.append(b)
        assert time.monotonic() - started < 10 and stop.is_set()
        assert sum(len(b.streams.get("ball_position", ((), ()))[0]) for b in got) == 4
        # and a stop already set before the journal appears ends the wait for it
        assert list(follow(tmp_path / "never.h5", stop=stop, start_timeout=30)) == []
    finally:
        hold.touch()
        finish(writer)
