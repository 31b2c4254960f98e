"""Exports honour the view: its window, its streams, and the results of its recordings.

What an export of a view holds is checked against brute force: the exported store's reads
equal the view's reads of the same window and streams (spikes, stims, samples, every
data-stream entry and attribute), through cldata and through plain PyTables reading the CL
layout. ``cldata check`` recognises an export and verifies it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import msgpack
import numpy as np
import pytest
import quantities as pq
import tables

import cldata
from cldata.app.check import check_path
from cldata.errors import ExportWarning, UntidyRecordingWarning
from conftest import write_small_recording

N_FRAMES = 12_500  # the recordings' length (write_small_recording)


@pytest.fixture(scope="module")
def store_root(tmp_path_factory) -> Path:
    """Two recordings (one copied, one linked) with streams that have entries all along, and
    results from one, from both, and from none."""
    d = tmp_path_factory.mktemp("export-views")
    write_small_recording(d / "a.h5", n_ball=4000, seed=1)  # ball entries at frames 5, 8, ..., 12002
    write_small_recording(d / "b.h5", n_ball=3000, seed=2)
    root = d / "store"
    with cldata.open(root, mode="a") as store:
        a = store.add_recording(d / "a.h5", {"culture": "C1"})
        b = store.add_recording(d / "b.h5", {"culture": "C2"}, link=True)
        store.add_analysis_result(cldata.SingleValue("rate", 3.5 * pq.Hz, sources=[a]))
        store.add_analysis_result(cldata.SingleValue("rate", 4.5 * pq.Hz, sources=[b]))
        store.add_analysis_result(cldata.SingleValue("pair", 1.0 * pq.dimensionless, sources=[a, b]))
        store.add_analysis_result(cldata.SingleValue("global", 2.0 * pq.Hz))
    return root


def _plain(value):
    """A value comparable with ``==`` (arrays become lists with their dtype)."""
    if isinstance(value, np.ndarray):
        return ("array", str(value.dtype), value.tolist())
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _assert_same_reads(exported, original) -> None:
    """Every read of an exported recording handle equals the original view's (brute force)."""
    ev, ov = exported.view(), original.view()
    np.testing.assert_array_equal(ev.read_spikes(), ov.read_spikes())
    np.testing.assert_array_equal(ev.read_stims(), ov.read_stims())
    np.testing.assert_array_equal(ev.read_samples(), ov.read_samples())
    assert exported.stream_names == original.stream_names
    estreams, ostreams = exported.data_streams, original.data_streams
    assert list(estreams) == list(ostreams) == original.stream_names
    for name, stream in ostreams.items():
        assert _plain(list(estreams[name].items())) == _plain(list(stream.items())), name
        assert estreams[name].attributes.to_dict() == stream.attributes.to_dict()
    eseg, oseg = exported.segment(lazy=False), original.segment(lazy=False)
    assert eseg.t_start == oseg.t_start and eseg.t_stop == oseg.t_stop
    assert [len(st) for st in eseg.spiketrains] == [len(st) for st in oseg.spiketrains]


VIEWS = {
    "window in frames, one stream": lambda s: s.between(1_000, 7_500).streams("ball_position"),
    "window in seconds, all streams": lambda s: s.between(0.1 * pq.s, 0.3 * pq.s),
    "open-ended window": lambda s: s.between(9_001, None),
    "window from the start, glob": lambda s: s.streams("sc*").between(None, 600),
    "window past the end": lambda s: s.between(12_000, 20_000),
    "empty window": lambda s: s.between(700, 700),
    "streams only": lambda s: s.streams("score"),
    "one recording, window": lambda s: s.filter(culture="C1").between(2_000, 4_000),
    "everything": lambda s: s,
}


@pytest.mark.parametrize("make", VIEWS.values(), ids=VIEWS.keys())
def test_an_export_holds_exactly_what_the_view_reads(make, store_root, tmp_path):
    with cldata.open(store_root) as store:
        view = make(store)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExportWarning)
            view.export(tmp_path / "x.h5")
        with cldata.open(tmp_path / "x.h5") as shared:
            assert shared.recording_ids == view.recording_ids
            for original in view.recordings:
                exported = shared.recording(original.id)
                _assert_same_reads(exported, original)
                # the summary counts what the export holds
                ev = exported.view()
                assert exported.summary["spikes"] == len(ev.read_spikes(waveforms=False))
                assert exported.summary["streams"] == {n: len(s) for n, s in exported.data_streams.items()}
                a, b = ev.clipped_window
                assert exported.summary["duration_s"] == pytest.approx((b - a) / ev.frames_per_second)
                # queries line up: the same window of the store and of the export read the same
                sub = (2_500, 5_000)
                inner_e = shared.between(*sub).recording(original.id)
                inner_o = (view & store.between(*sub)).recording(original.id)
                _assert_same_reads(inner_e, inner_o)
        assert check_path(tmp_path / "x.h5").healthy


def test_an_exported_recording_is_a_plain_cl_recording(store_root, tmp_path):
    """Read with PyTables and msgpack alone, as a CL tool would: the original frame numbers,
    the window's rows and entries only, the samples at their own rows."""
    with cldata.open(store_root) as store:
        view = store.filter(culture="C1").streams("ball_position").between(1_000, 7_500)
        with pytest.warns(ExportWarning):  # (the pair result of C1 and C2 stays behind)
            view.export(tmp_path / "x.h5")
        original = view.recordings[0].view()
        rid = view.recording_ids[0]
        all_samples = store.recording(rid).view().read_samples()
        entries = list(original.data_streams["ball_position"].items())
        start_timestamp = original.start_timestamp
    with tables.open_file(str(tmp_path / "x.h5")) as f:
        group = f.get_node(f"/recordings/{rid}")
        attrs = group._v_attrs
        assert int(attrs["duration_frames"]) == 7_500
        assert int(attrs["end_timestamp"]) == start_timestamp + 7_500
        assert list(attrs["cldata_export_window"]) == [1_000, 7_500]
        assert int(attrs["channel_count"]) == 64 and int(attrs["frames_per_second"]) == 25_000
        spikes = group.spikes.read()
        assert ((spikes["timestamp"] >= 1_000) & (spikes["timestamp"] < 7_500)).all()
        np.testing.assert_array_equal(spikes, original.read_spikes())
        assert group.stims.nrows == 0
        assert group.samples.shape == (7_500, 64)  # row = frame
        np.testing.assert_array_equal(group.samples[1_000:7_500], all_samples[1_000:7_500])
        assert not group.samples[:1_000].any()  # never written
        assert list(group.data_stream._v_children) == ["ball_position"]
        index, data = group.data_stream.ball_position.index.read(), group.data_stream.ball_position.data.read()
        decoded = [(int(t), msgpack.unpackb(data[s:e].tobytes(), raw=False)) for t, s, e in index]
        assert decoded == entries
        assert index["start_index"][0] == 0 and (index["start_index"][1:] == index["end_index"][:-1]).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UntidyRecordingWarning)  # a tidy CL layout: nothing to say
        with cldata.RecordingView(tmp_path / "x.h5", group=f"/recordings/{rid}") as rv:
            assert rv.duration_frames == 7_500 and len(rv.data_streams["ball_position"]) == len(entries)


def test_an_export_holds_the_results_of_its_recordings_only(store_root, tmp_path):
    with cldata.open(store_root) as store:
        c1 = store.filter(culture="C1")
        a = c1.recording_ids[0]
        # the pair result comes from C1 and C2: the C1 view shows it, its export cannot hold it
        assert "pair" in {r.identifier for r in c1.analysis_results}
        with pytest.warns(ExportWarning, match=r"1 analysis result\(s\) of the view \('pair'\)"):
            c1.between(0, 5_000).export(tmp_path / "c1.h5")
        # results from no recording go with any export of a view that shows them
        with pytest.warns(ExportWarning, match=r"2 analysis result\(s\)"):
            store.filter_recordings(culture="C1").export(tmp_path / "c1-and-global.h5")
        store.export(tmp_path / "all.h5")
        everything = sorted((r.identifier, r.sources) for r in store.analysis_results)
    with cldata.open(tmp_path / "c1.h5") as shared:
        assert shared.recording_ids == [a]
        assert [(r.identifier, r.sources) for r in shared.analysis_results] == [("rate", (a,))]
        assert shared.filter(identifier="rate", ads_unique=True).analysis_results[0].value == 3.5 * pq.Hz
    with cldata.open(tmp_path / "c1-and-global.h5") as shared:
        assert sorted((r.identifier, r.sources) for r in shared.analysis_results) == [("global", ()), ("rate", (a,))]
    with cldata.open(tmp_path / "all.h5") as shared:
        assert sorted((r.identifier, r.sources) for r in shared.analysis_results) == everything


def test_a_windowed_export_exported_again_narrows_its_window(store_root, tmp_path):
    with cldata.open(store_root) as store:
        store.between(1_000, 9_000).export(tmp_path / "first.h5")
        direct = store.between(3_000, 12_000).streams(["score", "ball_position"])
        with cldata.open(tmp_path / "first.h5") as first:
            first.between(3_000, 12_000).export(tmp_path / "second.h5")
            first.export(tmp_path / "copy.h5")  # no window of its own: the first export's
            with cldata.open(tmp_path / "copy.h5") as copy:
                for rec in first.recordings:
                    _assert_same_reads(copy.recording(rec.id), rec)
        with cldata.open(tmp_path / "second.h5") as second:
            for rec in second.recordings:
                assert rec.view().clipped_window == (3_000, 9_000)
                _assert_same_reads(rec, (direct & store.between(None, 9_000)).recording(rec.id))
    for name in ("first.h5", "second.h5", "copy.h5"):
        assert check_path(tmp_path / name).healthy, name


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", "cldata.app.cli", *args], capture_output=True, text=True, timeout=600)
    if check and out.returncode != 0:
        raise AssertionError(f"cldata {' '.join(args)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return out


def test_cli_export_between_and_streams_then_info_query_and_check(store_root, tmp_path):
    out = tmp_path / "part.h5"
    cli("export", str(store_root), str(out), "--between", "1000", "7500", "--streams", "ball_position")
    with cldata.open(store_root) as store, cldata.open(out) as shared:
        view = store.between(1_000, 7_500).streams("ball_position")
        assert shared.recording_ids == view.recording_ids
        for rec in view.recordings:
            _assert_same_reads(shared.recording(rec.id), rec)
        assert shared.stream_names == ["ball_position"]
    assert "2 recordings" in cli("info", str(out)).stdout
    found = json.loads(cli("query", str(out), "--filter", "culture=C1", "--json").stdout)
    assert len(found["recordings"]) == 1
    checked = cli("check", str(out))
    assert "healthy" in checked.stdout and "2 recordings" in checked.stdout


def test_check_reports_what_is_wrong_inside_an_export(store_root, tmp_path):
    out = tmp_path / "x.h5"
    with cldata.open(store_root) as store:
        store.between(0, 6_000).export(out)
        rid = store.recording_ids[0]
    with tables.open_file(str(out), "a") as f:
        # a stream whose entries point past its bytes, and a group the catalog does not name
        f.get_node(f"/recordings/{rid}/data_stream/ball_position/data").truncate(10)
        f.copy_node(f"/recordings/{rid}", "/recordings", "stranger", recursive=True)
    report = check_path(out)
    assert report.kind == "export" and not report.healthy
    assert any(p.where == f"recording {rid}" and "ball_position" in p.message for p in report.problems), report
    assert any("/recordings/stranger" in n and "not in its catalog" in n for n in report.notes), report
    status = cli("check", str(out), check=False)
    assert status.returncode == 1 and "ball_position" in status.stdout and "Traceback" not in status.stderr


def test_check_reports_an_export_whose_payloads_or_catalog_cannot_be_read(store_root, tmp_path):
    out = tmp_path / "x.h5"
    with cldata.open(store_root) as store:
        store.export(out)
    with tables.open_file(str(out), "a") as f:
        f.root.payloads.data.truncate(3)
    report = check_path(out)
    assert not report.healthy and any("payload cannot be read" in p.message for p in report.problems), report
    with tables.open_file(str(out), "a") as f:
        f.root.catalog.data.truncate(3)
    report = check_path(out)
    assert not report.healthy and "does not open" in report.problems[0].message, report


@pytest.mark.parametrize("pattern", ["lapped", "interleaved", "ambiguous", "shared bytes", "copied repeat"])
def test_a_windowed_export_of_an_untidy_stream_reads_like_the_view(pattern, tmp_path):
    """Index rows out of time order, repeated, or sharing bytes: the window's rows go over as
    stored, so the export reads exactly as the view did."""
    from test_untidy_index import untidy_recording

    path = untidy_recording(tmp_path, pattern)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntidyRecordingWarning)
        with cldata.open(tmp_path / "store", mode="a") as store:
            store.add_recording(path)
        with cldata.open(tmp_path / "store") as store:
            view = store.between(10, 80)  # (the odd rows of every pattern but "shared bytes" are inside)
            view.export(tmp_path / "x.h5")
            with cldata.open(tmp_path / "x.h5") as shared:
                original, exported = view.recordings[0], shared.recordings[0]
                for name, stream in original.data_streams.items():
                    # (an ambiguous timestamp in the window raises in both)
                    assert _outcome(exported.data_streams[name].items) == _outcome(stream.items)
                    assert _outcome(exported.data_streams[name].keys) == _outcome(stream.keys)


def _outcome(read):
    try:
        return _plain(list(read()))
    except cldata.errors.CldataError as exc:
        return type(exc).__name__


def test_a_failed_export_leaves_nothing_behind(store_root, tmp_path):
    """Entries of the window whose bytes are gone (a damaged source): the export raises,
    says which stream, and writes nothing."""
    with cldata.open(store_root) as store:
        store.export(tmp_path / "all.h5")
        rid = store.recording_ids[0]
    with tables.open_file(str(tmp_path / "all.h5"), "a") as f:
        f.get_node(f"/recordings/{rid}/data_stream/ball_position/data").truncate(10)
    before = sorted(p.name for p in tmp_path.iterdir())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntidyRecordingWarning)
        with cldata.open(tmp_path / "all.h5") as damaged:
            with pytest.raises(cldata.errors.CorruptRecordingError, match="ball_position"):
                damaged.between(0, 5_000).export(tmp_path / "part.h5")
            damaged.between(0, 5_000).streams("score").export(tmp_path / "score.h5")  # what is intact goes
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*before, "score.h5"])
    assert check_path(tmp_path / "score.h5").healthy


def test_a_windowed_export_of_an_unsorted_spike_table_reads_like_the_view(tmp_path):
    """Spikes and stims not in time order (the reader scans for a window's rows): the
    window's rows go over in stored order, and the export reads as the view did."""
    path = tmp_path / "unsorted.h5"
    write_small_recording(path)
    with tables.open_file(str(path), "a") as f:
        for name in ("spikes", "stims"):
            rows = f.get_node(f"/{name}").read()[::-1].copy()
            f.get_node(f"/{name}").remove()
            f.create_table("/", name, obj=rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntidyRecordingWarning)
        with cldata.open(tmp_path / "store", mode="a") as store:
            store.add_recording(path)
        with cldata.open(tmp_path / "store") as store:
            view = store.between(1_000, 9_000)
            view.export(tmp_path / "x.h5")
            with cldata.open(tmp_path / "x.h5") as shared:
                _assert_same_reads(shared.recordings[0], view.recordings[0])
                assert len(shared.recordings[0].view().read_spikes()) > 1


@pytest.mark.parametrize("window", [(3_000, None), (None, 4_000), (None, None), (-100, 20_000), (-50, -10)],
                         ids=["open end", "open start", "whole", "wide", "before the start"])
def test_a_windowed_export_of_events_past_the_stated_duration_reads_like_the_view(window, tmp_path):
    """An untidy file whose spikes, stims and entries lie past its duration_frames (and one
    spike before frame 0): an open side of the window reaches them in the view and in the export."""
    path = tmp_path / "long.h5"
    write_small_recording(path, n_ball=4000)
    with tables.open_file(str(path), "a") as f:
        f.root._v_attrs["duration_frames"] = np.int64(6_000)  # the data goes on to 12,500
        spikes = f.root.spikes.read()
        spikes["timestamp"][0] = -20
        f.root.spikes.modify_rows(0, 1, rows=spikes[:1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntidyRecordingWarning)
        with cldata.open(tmp_path / "store", mode="a") as store:
            store.add_recording(path)
        with cldata.open(tmp_path / "store") as store:
            view = store.between(*window) if window != (None, None) else store.between(None, None)
            view.export(tmp_path / "x.h5")
            with cldata.open(tmp_path / "x.h5") as shared:
                exported, original = shared.recordings[0], view.recordings[0]
                ev, ov = exported.view(), original.view()
                np.testing.assert_array_equal(ev.read_spikes(), ov.read_spikes())
                np.testing.assert_array_equal(ev.read_stims(), ov.read_stims())
                np.testing.assert_array_equal(ev.read_samples(), ov.read_samples())
                for name, stream in original.data_streams.items():
                    assert _plain(list(exported.data_streams[name].items())) == _plain(list(stream.items()))
        assert check_path(tmp_path / "x.h5").healthy
