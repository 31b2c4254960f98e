"""RecordingWriter: validation that leaves streams untouched, buffering, and nothing dropped."""

from __future__ import annotations

import numpy as np
import pytest
import quantities as pq

import cldata
from cldata.errors import (
    InvalidDataError,
    InvalidNameError,
    TimestampOrderError,
    UnsupportedValueError,
    ValueOutOfRangeError,
    WriterClosedError,
)
from cldata.format.journal import journal_path, read_journal


@pytest.fixture
def writer(tmp_path):
    w = cldata.RecordingWriter(tmp_path / "w.h5", attributes={"culture": "C7"})
    yield w
    w.close()


def entries(path, name):
    with cldata.RecordingView(path) as rec:
        return list(rec.data_streams[name].items())


@pytest.mark.parametrize("bad", [5, 4, -1, 2**63, True, 5.5, "6", None])
def test_a_bad_timestamp_raises_and_leaves_the_stream_as_it_was(writer, bad):
    s = writer.create_data_stream("s")
    s.append(5, "five")
    with pytest.raises(TimestampOrderError):
        s.append(bad, "bad")
    assert len(s) == 1 and s.last_timestamp == 5
    s.append(6, "six")
    writer.close()
    assert entries(writer.path, "s") == [(5, "five"), (6, "six")]


@pytest.mark.parametrize(
    "timestamps",
    [[7, 6], [6, 6], [5, 8], [-1, 9], np.array([6.0, 7.0]), [[6], [7]], np.array([2**63, 2**64 - 1], dtype=np.uint64)],
)
def test_extend_is_all_or_nothing_on_bad_timestamps(writer, timestamps):
    s = writer.create_data_stream("s")
    s.append(5, "five")
    with pytest.raises(TimestampOrderError):
        s.extend(timestamps, ["a", "b"])
    assert len(s) == 1
    writer.close()
    assert entries(writer.path, "s") == [(5, "five")]


def test_extend_is_all_or_nothing_on_a_bad_value(writer):
    s = writer.create_data_stream("s")
    s.extend([1, 2], [{"ok": 1}, {"ok": 2}])
    with pytest.raises(UnsupportedValueError, match="set"):
        s.extend([3, 4, 5], [{"ok": 3}, {1, 2}, {"ok": 5}])
    with pytest.raises(ValueOutOfRangeError):
        s.extend([3, 4], [1, 2**70])
    with pytest.raises(InvalidDataError, match="2 timestamps but 1 values"):
        s.extend([3, 4], [1])
    s.extend([3], ["three"])
    writer.close()
    assert entries(writer.path, "s") == [(1, {"ok": 1}), (2, {"ok": 2}), (3, "three")]


@pytest.mark.parametrize("value", [object(), {"when": np.datetime64("2026")}, [1, {2}], 2**64])
def test_a_value_the_codec_refuses_raises_and_leaves_the_stream_as_it_was(writer, value):
    s = writer.create_data_stream("s")
    s.append(1, "one")
    with pytest.raises((UnsupportedValueError, ValueOutOfRangeError)):
        s.append(2, value)
    assert len(s) == 1 and s.last_timestamp == 1
    s.append(2, "two")  # the refused timestamp is still free
    writer.close()
    assert entries(writer.path, "s") == [(1, "one"), (2, "two")]


@pytest.mark.parametrize(
    "name, match",
    [
        ("x" * 65, "65 bytes"),
        ("é" * 33, "66 bytes"),
        ("a/b", "'/'"),
        ("a\x00b", "NUL"),
        ("", "empty"),
        ("..", "not allowed"),
        ("_v_attrs", "PyTables reserves"),
        (3, "str"),
    ],
)
def test_bad_stream_names_are_refused_and_create_nothing(writer, name, match):
    with pytest.raises(InvalidNameError, match=match):
        writer.create_data_stream(name)
    assert writer.data_streams == {}
    writer.close()
    with cldata.RecordingView(writer.path) as rec:
        assert len(rec.data_streams) == 0


def test_names_up_to_64_bytes_and_unusual_characters_work(writer):
    names = ["x" * 64, "ball-position", "score 2", "ünïcode", "a.b"]
    for i, name in enumerate(names):
        writer.create_data_stream(name, {"i": i}).append(i, name)
    with pytest.raises(InvalidNameError, match="already"):
        writer.create_data_stream("score 2")
    writer.close()
    with cldata.RecordingView(writer.path) as rec:
        assert sorted(rec.data_streams) == sorted(names)
        for i, name in enumerate(names):
            assert list(rec.data_streams[name].items()) == [(i, name)]
            assert rec.data_streams[name].attributes.application == {"i": i}


def test_attributes_must_be_plain_values(tmp_path):
    with pytest.raises(UnsupportedValueError, match="Quantity"):
        cldata.RecordingWriter(tmp_path / "a.h5", attributes={"gain": 3 * pq.mV})
    assert not (tmp_path / "a.h5").exists() and not journal_path(tmp_path / "a.h5").exists()
    with cldata.RecordingWriter(tmp_path / "b.h5") as w:
        s = w.create_data_stream("s", {"a": 1})
        with pytest.raises(UnsupportedValueError):
            s.set_attribute("when", object())
        with pytest.raises(UnsupportedValueError):
            w.update_attributes({"x": object()})
        assert s.attributes == {"a": 1}
        s.set_attribute("tuple", (1, 2))
    with cldata.RecordingView(tmp_path / "b.h5") as rec:
        assert rec.data_streams["s"].attributes.application == {"a": 1, "tuple": (1, 2)}


def test_spike_stim_and_sample_validation(writer):
    wf = np.zeros((2, 75), np.float32)
    with pytest.raises(InvalidDataError, match="75"):
        writer.append_spikes([1, 2], [0, 1], np.zeros((2, 74)))
    with pytest.raises(InvalidDataError, match="channels"):
        writer.append_spikes([1, 2], [0, 64], wf)
    with pytest.raises(InvalidDataError):
        writer.append_spikes([1, 2], [0], wf)
    with pytest.raises(TimestampOrderError):
        writer.append_spikes([2, 1], [0, 1], wf)
    writer.append_spikes([1, 1], [0, 1], wf)  # equal frames on two channels are fine
    with pytest.raises(TimestampOrderError):
        writer.append_spike(0, 3, np.zeros(75))
    with pytest.raises(InvalidDataError, match="channels"):
        writer.append_stims([1], [-1])
    writer.append_stim(3, 8)
    with pytest.raises(InvalidDataError, match="shape"):
        writer.append_samples(np.zeros((10, 63), np.int16))
    with pytest.raises(InvalidDataError, match="int16"):
        writer.append_samples(np.full((10, 64), 40_000))
    with pytest.raises(InvalidDataError, match="float"):
        writer.append_samples(np.zeros((10, 64)))
    writer.append_samples(np.ones((10, 64), np.int32))
    writer.close()
    with cldata.RecordingView(writer.path) as rec:
        assert rec.read_spikes(waveforms=False).tolist() == [(1, 0), (1, 1)]
        assert rec.read_stims().tolist() == [(3, 8)]
        assert rec.samples.shape == (10, 64) and rec.samples.dtype == np.int16


def test_writing_to_a_closed_writer_raises(tmp_path):
    w = cldata.RecordingWriter(tmp_path / "c.h5")
    s = w.create_data_stream("s")
    w.close()
    w.close()  # closing twice is harmless
    for call in (lambda: s.append(1, 1), lambda: w.create_data_stream("t"), w.flush, lambda: s.set_attribute("a", 1)):
        with pytest.raises(WriterClosedError):
            call()


def test_an_existing_file_is_not_overwritten_unless_asked(tmp_path, small_recording):
    path, _ = small_recording
    with pytest.raises(FileExistsError):
        cldata.RecordingWriter(path)
    with cldata.RecordingView(path) as rec:
        assert len(rec.data_streams["ball_position"]) == 200
    with cldata.RecordingWriter(path, overwrite=True) as w:
        w.create_data_stream("new").append(1, 1)
    with cldata.RecordingView(path) as rec:
        assert list(rec.data_streams) == ["new"]


def test_fast_appends_are_never_dropped_and_flush_in_batches(tmp_path):
    path = tmp_path / "fast.h5"
    n = 200_000
    with cldata.RecordingWriter(path, flush_bytes=64 * 1024, durable=False) as w:
        s = w.create_data_stream("fast")
        for t in range(n):
            s.append(t, {"i": t})
        s.extend(np.arange(n, 2 * n), [{"i": t} for t in range(n, 2 * n)])
        batches = [r for r in read_journal(journal_path(path)) if r["op"] == "batch"]
        assert len(batches) > 10  # buffers flushed on their own as they grew
    with cldata.RecordingView(path) as rec:
        stream = rec.data_streams["fast"]
        assert len(stream) == 2 * n
        np.testing.assert_array_equal(stream.timestamps, np.arange(2 * n))
        assert [v["i"] for v in stream.values()] == list(range(2 * n))
    assert not journal_path(path).exists()


def test_close_sets_the_closing_attributes(tmp_path):
    with cldata.RecordingWriter(tmp_path / "d.h5", start_timestamp=1000, root_attributes={"hostname": "rig-1"}) as w:
        w.create_data_stream("s").append(99, 1)
    with cldata.RecordingView(tmp_path / "d.h5") as rec:
        a = rec.attributes
        assert a.duration_frames == 100 and a.end_timestamp == 1100 and a.start_timestamp == 1000
        assert a.duration_seconds == 100 / 25_000 and a.hostname == "rig-1"
        assert a.created_utc <= a.ended_utc and a.ended_utc.endswith("+00:00")
        assert a.file_format == {"version": "SDK", "stim_and_spike_timestamps_relative_to_start": True}
    with cldata.RecordingWriter(tmp_path / "e.h5") as w:
        w.close(end_timestamp=50_000)
    with cldata.RecordingView(tmp_path / "e.h5") as rec:
        assert rec.duration_seconds == 2.0


def test_attribute_updates_keep_their_order_with_entries(tmp_path):
    path = tmp_path / "f.h5"
    with cldata.RecordingWriter(path) as w:
        s = w.create_data_stream("score", {"score": 0})
        for i in range(1, 4):
            s.append(i, i)
            s.set_attribute("score", i)
        w.set_attribute("final_score", 3)
    with cldata.RecordingView(path) as rec:
        assert rec.data_streams["score"].attributes.application == {"score": 3}
        assert rec.attributes.application == {"final_score": 3}
