"""Files that are not recordings, damaged recordings, and hostile attributes."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import tables

import cldata
from cldata.errors import (
    CorruptRecordingError,
    NotARecordingError,
    RecordingInProgressError,
    UnfinishedRecordingError,
    UnsafeContentError,
)
from conftest import write_small_recording


class _WritesAFile:
    """Unpickling this creates a file: a stand-in for any code a hostile pickle could run."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_a_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        cldata.RecordingView(tmp_path / "nope.h5")


@pytest.mark.parametrize("content", [b"", b"hello, not hdf5\n", os.urandom(4096)])
def test_files_that_are_not_hdf5_raise_not_a_recording(tmp_path, content):
    path = tmp_path / "x.h5"
    path.write_bytes(content)
    with pytest.raises(NotARecordingError, match="not an HDF5 file"):
        cldata.RecordingView(path)


def test_hdf5_without_the_cl_layout_is_not_a_recording(tmp_path):
    path = tmp_path / "other.h5"
    with tables.open_file(str(path), "w") as f:
        f.create_array("/", "x", np.arange(3))
    with pytest.raises(NotARecordingError, match="frames_per_second"):
        cldata.RecordingView(path)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.999])
def test_a_truncated_recording_raises_corrupt(tmp_path, small_recording, keep):
    path, _ = small_recording
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(int(size * keep))
    with pytest.raises((CorruptRecordingError, NotARecordingError)) as info:
        with cldata.RecordingView(path) as rec:
            # some truncations only show when the data is read
            for stream in rec.data_streams.values():
                list(stream.items())
            rec.read_spikes()
            rec.read_samples()
    if keep >= 0.5:
        assert isinstance(info.value, CorruptRecordingError)


def _copy_and_edit(src, dst, edit):
    shutil.copy(src, dst)
    with tables.open_file(str(dst), "a") as f:
        edit(f)
    return dst


def test_an_index_pointing_past_the_data_raises_corrupt(tmp_path, small_recording):
    path, _ = small_recording

    def edit(f):
        idx = f.root.data_stream.score.index
        row = idx[3]
        row["end_index"] = 10**9
        idx.modify_rows(3, 4, rows=np.array([row], dtype=idx.dtype))

    bad = _copy_and_edit(path, tmp_path / "bad.h5", edit)
    with cldata.RecordingView(bad) as rec:
        with pytest.warns(cldata.errors.UntidyRecordingWarning, match=r"1 index rows \(rows 3\) point at bytes"):
            assert list(rec.data_streams["score"].keys()) == [1, 2, 3, 4]  # timestamps stay readable
        with pytest.raises(CorruptRecordingError, match="timestamp 4 points at bytes"):
            list(rec.data_streams["score"].items())
        with pytest.raises(CorruptRecordingError, match="outside"):
            rec.data_streams["score"][4]
        assert list(rec.data_streams["score"].values_for_range(0, 4))[0] == 0  # the rows before it read
        # the other stream is unaffected
        assert len(list(rec.data_streams["ball_position"].items())) == 200


def test_timestamps_out_of_order_in_an_index_are_read_not_refused(tmp_path, small_recording):
    """Once refused as corrupt; the CL simulator writes such indexes (issue 11): they are read, with a
    warning, in file order for iteration and by time for lookups (tests/test_untidy_index.py says more)."""
    path, written = small_recording

    def edit(f):
        idx = f.root.data_stream.score.index
        rows = idx[:]
        rows["timestamp"][2] = 0
        idx.modify_rows(0, len(rows), rows=rows)

    bad = _copy_and_edit(path, tmp_path / "bad.h5", edit)
    with cldata.RecordingView(bad) as rec, pytest.warns(cldata.errors.UntidyIndexWarning, match="score"):
        score = rec.data_streams["score"]
        assert score[1] == written["score"][0][1] and score[0] == written["score"][2][1]
        assert list(score.keys()) == [1, 2, 0, 4] and score.timestamps.tolist() == [0, 1, 2, 4]


def test_garbage_entry_bytes_raise_a_decode_error_naming_the_entry(tmp_path, small_recording):
    path, _ = small_recording

    def edit(f):
        f.root.data_stream.score.data[0] = 0xC1  # never valid in msgpack

    bad = _copy_and_edit(path, tmp_path / "bad.h5", edit)
    with cldata.RecordingView(bad) as rec:
        with pytest.raises(cldata.errors.DecodeError, match="timestamp 1"):
            rec.data_streams["score"][1]
        assert rec.data_streams["score"][4] == "final"


def test_wrong_table_layouts_leave_that_part_out_with_a_warning(tmp_path, small_recording):
    """Issue 11 (tolerant reading): these refused the whole file before; the rest of the file reads now
    (docs/READER-TOLERANCE.md; tests/test_reader_tolerance.py has every case)."""
    path, _ = small_recording

    def float_channels(f):
        f.root.spikes._f_remove()
        f.create_table("/", "spikes", {"timestamp": tables.Int64Col(), "channel": tables.Float32Col()})

    bad = _copy_and_edit(path, tmp_path / "bad1.h5", float_channels)
    with pytest.warns(cldata.errors.UntidyRecordingWarning, match="'channel' column of dtype float32"):
        with cldata.RecordingView(bad) as rec:
            assert rec.spikes is None and len(rec.read_stims()) == 3

    def narrow_samples(f):
        f.root.samples._f_remove()
        f.create_earray("/", "samples", tables.Int16Atom(), shape=(0, 8))

    bad = _copy_and_edit(path, tmp_path / "bad2.h5", narrow_samples)
    with pytest.warns(cldata.errors.UntidyRecordingWarning, match="8 columns"):
        with cldata.RecordingView(bad) as rec:
            assert rec.samples is None and len(rec.read_spikes()) == 32


def test_a_stream_without_its_data_array_is_left_out_with_a_warning(tmp_path, small_recording):
    """Refused the whole file before issue 11; the other streams and the rest of the file read now."""
    path, _ = small_recording

    def stream_without_data(f):
        f.root.data_stream.score.data._f_remove()

    bad = _copy_and_edit(path, tmp_path / "bad3.h5", stream_without_data)
    with pytest.warns(cldata.errors.UntidyRecordingWarning, match="score has no 'data' node"):
        with cldata.RecordingView(bad) as rec:
            assert list(rec.data_streams) == ["ball_position"] and len(rec.read_spikes()) == 32


@pytest.mark.parametrize("where", ["root", "stream"])
def test_a_hostile_attribute_pickle_is_refused_and_runs_nothing(tmp_path, small_recording, where):
    path, _ = small_recording
    marker = tmp_path / "pwned"
    bad = tmp_path / "hostile.h5"
    shutil.copy(path, bad)
    # write the attribute with plain PyTables, as an attacker would
    with tables.open_file(str(bad), "a") as f:
        node = f.root if where == "root" else f.root.data_stream.score
        node._v_attrs["application"] = {"culture": _WritesAFile(marker)}
    with pytest.raises(UnsafeContentError, match="builtins.open|io.open") as info:
        cldata.RecordingView(bad)
    assert "application" in str(info.value)
    assert not marker.exists()
    # importing cldata also guards plain PyTables in this process: the pickle stays bytes
    with tables.open_file(str(bad)) as f:
        node = f.root if where == "root" else f.root.data_stream.score
        assert isinstance(node._v_attrs.application, bytes)
    assert not marker.exists()


def test_reading_a_recording_that_is_still_being_written(tmp_path):
    path = tmp_path / "live.h5"
    w = cldata.RecordingWriter(path)
    w.create_data_stream("s").append(1, 1)
    w.flush()
    with pytest.raises(RecordingInProgressError, match="follow"):
        cldata.RecordingView(path)
    w.close()
    with cldata.RecordingView(path) as rec:
        assert rec.data_streams["s"][1] == 1


def test_an_orphaned_journal_means_an_unfinished_recording(tmp_path):
    path = tmp_path / "dead.h5"
    write_small_recording(path)
    (tmp_path / "dead.h5.journal").write_bytes(b"CLDJRNL1")
    with pytest.raises(UnfinishedRecordingError, match="cldata.recover"):
        cldata.RecordingView(path)
