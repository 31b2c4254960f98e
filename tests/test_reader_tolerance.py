"""Every row of docs/READER-TOLERANCE.md: what an untidy CL recording reads as, and what is refused.

Strict when writing, tolerant when reading (issue 11). Each case starts from a recording cldata
writes (so the suite needs nothing beside the repository), edits it with plain PyTables as another
writer might have left it, and checks the outcome the table promises:

- *reads*: the file opens, a :class:`~cldata.errors.UntidyRecordingWarning` names the file and
  what is off (once per opened file), the rest of the recording reads as before, the store takes
  it (copied and linked), its neo segment loads, and ``cldata check`` notes what is off;
- *refused*: the specific :mod:`cldata.errors` exception the table names, with its reason.
"""

from __future__ import annotations

import math
import re
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tables

import cldata
from cldata.app.check import check_recording
from cldata.errors import CorruptRecordingError, NotARecordingError, UntidyRecordingWarning
from conftest import write_small_recording


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> tuple[Path, dict]:
    path = tmp_path_factory.mktemp("base") / "base.h5"
    return path, write_small_recording(path)


def _edited(base: Path, dst: Path, edit: Callable[[tables.File], None]) -> Path:
    shutil.copy(base, dst)
    with tables.open_file(str(dst), "a") as f:
        edit(f)
    return dst


def _set(**attrs):
    def edit(f):
        for name, value in attrs.items():
            if value is None:
                del f.root._v_attrs[name]
            else:
                f.root._v_attrs[name] = value
    return edit


def _replace(where: str, make: Callable[[tables.File, str, str], None]):
    def edit(f):
        parent, name = where.rsplit("/", 1)
        f.remove_node(where, recursive=True)
        make(f, parent or "/", name)
    return edit


def _spikes_out_of_order(f):
    rows = f.root.spikes.read()
    f.root.spikes.modify_rows(0, len(rows), rows=rows[::-1].copy())


def _spike_channel_beyond(f):
    rows = f.root.spikes.read()
    rows["channel"][0] = 200
    f.root.spikes.modify_rows(0, len(rows), rows=rows)


def _waveforms(shape, dtype):
    def edit(f):
        old = f.root.spikes.read()
        d = np.dtype([("timestamp", "<i8"), ("channel", "u1"), ("samples", dtype, shape)])
        rows = np.zeros(len(old), d)
        rows["timestamp"], rows["channel"] = old["timestamp"], old["channel"]
        f.remove_node("/spikes")
        f.create_table("/", "spikes", obj=rows)
    return edit


def _stream_node(name: str):
    return lambda f: f.remove_node(f"/data_stream/score/{name}")


def _no_stream_attributes(f):
    for name in list(f.root.data_stream.score._v_attrs._v_attrnames):
        del f.root.data_stream.score._v_attrs[name]


def _index_past_the_data(f):
    idx = f.root.data_stream.score.index
    rows = idx.read()
    rows["end_index"][3] = 10**9
    idx.modify_rows(0, len(rows), rows=rows)


def _samples_without_duration(f):
    f.root._v_attrs["duration_frames"] = 100


# id -> (edit, what the warning says (regex), what must hold of the opened view)
READS = {
    "no frames_per_second": (_set(frames_per_second=None), "has no frames_per_second.*sampling_frequency",
                             lambda v: v.frames_per_second == 25_000),
    "frames_per_second a float": (_set(frames_per_second=25_000.0), "frames_per_second is 25000.0, a float",
                                  lambda v: v.frames_per_second == 25_000),
    "frames_per_second garbage": (_set(frames_per_second="fast"), "frames_per_second is 'fast'",
                                  lambda v: v.frames_per_second == 25_000),
    "frame rates disagree": (_set(sampling_frequency=np.int64(20_000)), "sampling_frequency is 20000 but",
                             lambda v: v.frames_per_second == 25_000),
    "no channel_count": (_set(channel_count=None), "has no channel_count; cldata takes 64 channels",
                         lambda v: v.channel_count == 64 and v.read_samples().shape[1] == 64),
    "channel_count garbage": (_set(channel_count=np.int64(1000)), "channel_count is 1000",
                              lambda v: v.channel_count == 64),
    "no start_timestamp": (_set(start_timestamp=None), "has no start_timestamp; cldata takes 0",
                           lambda v: v.start_timestamp == 0),
    "no duration_frames": (_set(duration_frames=None), "has no duration_frames; cldata takes",
                           lambda v: v.duration_frames > 0),
    "duration_frames NaN": (_set(duration_frames=math.nan), "duration_frames is nan",
                            lambda v: v.duration_frames > 0),
    "end_timestamp garbage": (_set(end_timestamp="x"), "end_timestamp is 'x'", lambda v: v.duration_frames > 0),
    "no uV_per_sample_unit": (_set(uV_per_sample_unit=None), "has no uV_per_sample_unit",
                              lambda v: v.uV_per_sample_unit == pytest.approx(0.195)),
    "uV_per_sample_unit negative": (_set(uV_per_sample_unit=-1.0), "uV_per_sample_unit is -1.0",
                                    lambda v: v.uV_per_sample_unit == pytest.approx(0.195)),
    "samples not 2-d": (_replace("/samples", lambda f, p, n: f.create_array(p, n, np.zeros(10, np.int16))),
                        "/samples is an Array of shape \\(10,\\)",
                        lambda v: v.samples is None and v.read_samples().size == 0 and len(v.read_spikes()) == 32),
    "samples of floats": (_replace("/samples", lambda f, p, n: f.create_array(p, n, np.zeros((10, 64), "f4"))),
                          "not the 2-d integer array", lambda v: v.samples is None),
    "samples columns are not channel_count": (
        _replace("/samples", lambda f, p, n: f.create_earray(p, n, tables.Int16Atom(), shape=(0, 8))),
        "/samples has 8 columns but channel_count is 64", lambda v: v.samples is None),
    "samples of int32": (_replace("/samples", lambda f, p, n: f.create_array(p, n, np.ones((10, 64), "i4"))),
                         "holds int32 values", lambda v: v.read_samples().dtype.kind in "if"),
    "samples beyond duration_frames": (_samples_without_duration, "holds 12500 frames but duration_frames is 100",
                                       lambda v: v.read_samples().shape[0] == 12_500),
    "no stims table": (lambda f: f.remove_node("/stims"), "has no /stims table",
                       lambda v: v.stims is None and len(v.read_stims()) == 0 and len(v.read_spikes()) == 32),
    "stims without channel": (
        _replace("/stims", lambda f, p, n: f.create_table(p, n, {"timestamp": tables.Int64Col()})),
        "/stims lacks the column", lambda v: v.stims is None),
    "spikes of float channels": (
        _replace("/spikes", lambda f, p, n: f.create_table(p, n, {"timestamp": tables.Int64Col(),
                                                                  "channel": tables.Float32Col()})),
        "'channel' column of dtype float32", lambda v: v.spikes is None and len(v.read_stims()) == 3),
    "waveforms of 50 samples": (_waveforms((50,), "<f4"), "waveforms of 50 float32 samples",
                                lambda v: v.read_spikes()["samples"].shape == (32, 50)),
    "waveforms unreadable": (_waveforms((3, 5), "<f4"), "NaN waveforms",
                             lambda v: np.isnan(v.read_spikes()["samples"]).all()
                             and v.read_spikes()["samples"].shape == (32, 75)),
    "spikes out of time order": (_spikes_out_of_order, "/spikes is not in time order",
                                 lambda v: len(v.read_spikes(0, 12_500)) == 32),
    "spike channel beyond channel_count": (_spike_channel_beyond, "spikes are on channels outside 0..63",
                                           lambda v: 200 in v.read_spikes()["channel"]),
    "data_stream not a group": (
        _replace("/data_stream", lambda f, p, n: f.create_array(p, n, np.zeros(3))),
        "/data_stream is an Array", lambda v: len(v.data_streams) == 0 and len(v.read_spikes()) == 32),
    "a stream that is not a group": (
        lambda f: f.create_array("/data_stream", "odd", np.zeros(3)),
        "/data_stream/odd is an Array", lambda v: sorted(v.data_streams) == ["ball_position", "score"]),
    "a stream without index": (_stream_node("index"), "score has no 'index' node",
                               lambda v: list(v.data_streams) == ["ball_position"]),
    "a stream without data": (_stream_node("data"), "score has no 'data' node",
                              lambda v: list(v.data_streams) == ["ball_position"]),
    "a stream without attributes": (_no_stream_attributes, "no attributes that HDF5 can list",
                                    lambda v: v.data_streams["score"].attributes == {}
                                    and v.data_streams["score"][4] == "final"),
    "index rows past the data": (_index_past_the_data, "point at bytes outside",
                                 lambda v: list(v.data_streams["score"].keys()) == [1, 2, 3, 4]),
}


def _touch(view):
    """What a user reads first: every attribute, stream keys, spikes, stims, samples, the segment."""
    view.read_spikes(), view.read_stims(), view.read_samples(0, 10)
    for stream in view.data_streams.values():
        list(stream.keys())
    view.segment(lazy=False)


@pytest.mark.parametrize("case", list(READS))
def test_an_untidy_recording_reads_with_one_warning(case, base, tmp_path):
    edit, says, holds = READS[case]
    path = _edited(base[0], tmp_path / "untidy.h5", edit)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        with cldata.RecordingView(path) as view:
            _touch(view)
            _touch(view.between(0, 10_000))  # a narrower view of the same file says nothing again
            assert holds(view), case
    untidy = [str(w.message) for w in said if issubclass(w.category, UntidyRecordingWarning)]
    matching = [m for m in untidy if re.search(says, m)]
    assert len(matching) == 1, (case, untidy)
    assert matching[0].startswith(f"{path}: ")
    assert len(untidy) == len(set(untidy)), "each thing is said once per opened file"


@pytest.mark.parametrize("case", list(READS))
def test_the_store_takes_an_untidy_recording(case, base, tmp_path):
    edit, _, _ = READS[case]
    path = _edited(base[0], tmp_path / "untidy.h5", edit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntidyRecordingWarning)
        for link in (False, True):
            root = tmp_path / f"store-{link}"
            with cldata.open(root, mode="a") as store:
                rid = store.add_recording(path, link=link)
            with cldata.open(root) as store:
                assert store.recording_ids == [rid]
                with store.recordings[0].view() as view:
                    _touch(view)
    report = check_recording(path)
    assert not report.problems or case == "index rows past the data", report.problems
    noted = {"spikes out of time order": "/spikes is not in time order",
             "spike channel beyond channel_count": "1 rows of /spikes are on channels outside 0..63"}
    says = noted.get(case, READS[case][1])
    assert any(re.search(says, note) for note in report.notes), report.notes


def test_check_reports_a_stream_with_rows_past_the_data_as_a_problem(base, tmp_path):
    path = _edited(base[0], tmp_path / "untidy.h5", _index_past_the_data)
    report = check_recording(path)
    assert [p.message for p in report.problems if "'score'" in p.message and "timestamp 4" in p.message]
    assert any("point at bytes outside" in note for note in report.notes)


# id -> (edit, exception, what its message says)
REFUSED = {
    "no frame rate at all": (_set(frames_per_second=None, sampling_frequency=None), NotARecordingError,
                             "no frames_per_second"),
    "no usable frame rate": (_set(frames_per_second=math.inf, sampling_frequency="25 kHz"), CorruptRecordingError,
                             "no whole number of frames per second"),
    "a pickled-object node": (lambda f: f.create_vlarray("/", "odd", tables.ObjectAtom()).append([1]),
                              cldata.errors.UnsafeContentError, "/odd"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_what_cannot_be_read_or_is_unsafe_is_refused(case, base, tmp_path):
    edit, error, says = REFUSED[case]
    path = _edited(base[0], tmp_path / "bad.h5", edit)
    with pytest.raises(error, match=says):
        cldata.RecordingView(path)


def test_a_file_that_is_not_hdf5_is_not_a_recording(tmp_path):
    path = tmp_path / "notes.h5"
    path.write_text("not a recording")
    with pytest.raises(NotARecordingError):
        cldata.RecordingView(path)


def test_a_tidy_recording_says_nothing(base):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with cldata.RecordingView(base[0]) as view:
            _touch(view)


def test_a_closed_view_leaves_nothing_for_the_garbage_collector(base):
    """The reader's warn-once notes once made a reference cycle (view -> table -> bound method -> view), so
    views were freed by the garbage collector after their file had closed, and their nodes failed in __del__."""
    import gc

    gc.collect()
    gc.disable()
    try:
        with cldata.RecordingView(base[0]) as view:
            _touch(view)
        del view
        leftover = [o for o in gc.get_objects() if isinstance(o, cldata.RecordingView)]
        assert not leftover
    finally:
        gc.enable()


@pytest.mark.parametrize("rows", [0, 3])
def test_a_spike_table_with_a_nested_extra_column_reads(rows, tmp_path):
    """Found by tests/test_fuzz.py: an empty table with a nested extra column made PyTables raise a
    bare TypeError (it cannot read no coordinates of a nested column); it reads as empty, and a
    non-empty one keeps its extra columns, whole-file and windowed."""
    path = tmp_path / "nested.h5"
    cldata.simulate(str(path), seconds=0.2)
    table = np.zeros(rows, dtype=[("timestamp", "<i8"), ("channel", "<i8"), ("samples", "<i8"),
                                  ("extra", "<i8"), ("x", [("a", "<i8")])])
    table["timestamp"] = np.arange(rows) + 1
    with tables.open_file(path, "a") as f:
        f.remove_node("/", "spikes")
        f.create_table("/", "spikes", obj=table)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntidyRecordingWarning)  # (the waveforms are not 75 floats)
        with cldata.RecordingView(path) as view:
            spikes, windowed = view.read_spikes(), view.between(0, 2).read_spikes()
            assert len(spikes) == rows and "x" in spikes.dtype.names
            assert list(windowed["timestamp"]) == [1][:rows]
            assert sum(len(train) for train in view.segment(lazy=False).spiketrains) == rows
