"""The recording view's server side: what a viewport asks and gets, the plots, the app's widgets.

No browser here (tests/test_viewer_browser.py has one): the sources, plots and apps are built
as the server builds them, and driven as a pan, a zoom or a widget would drive them.
"""

from __future__ import annotations

import numpy as np
import pytest

import cldata

pytest.importorskip("panel", reason="panel is in the view extra: pip install '.[view]'")
hv = pytest.importorskip("holoviews", reason="holoviews is in the view extra: pip install '.[view]'")

from cldata.errors import ParameterError, UnsupportedValueError  # noqa: E402
from cldata.viz import plots  # noqa: E402
from cldata.viz.recording_app import RecordingApp  # noqa: E402
from cldata.viz.serve import make_server, viewer_for  # noqa: E402
from cldata.viz.source import MAX_SPIKE_POINTS, RecordingSource  # noqa: E402


@pytest.fixture(scope="module")
def rec_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("viz") / "rec.h5"
    cldata.simulate(path, seconds=6)
    return path


@pytest.fixture
def source(rec_path, tmp_path):
    src = RecordingSource(rec_path, overview_path=tmp_path / "ov.h5")
    yield src
    src.close()


def test_traces_come_from_a_coarse_level_for_the_whole_and_raw_samples_zoomed_in(source, rec_path):
    whole = source.traces(None, width=500, channels=[1, 2])
    assert whole.frames_per_point > 1 and len(whole.times) <= 1000
    zoomed = source.traces((2.0, 2.01), width=500, channels=[1, 2])
    assert zoomed.frames_per_point == 1
    with cldata.RecordingView(rec_path) as rec:
        raw = rec.read_samples(50_000, 50_250, channels=[1, 2], scaled=True)
    np.testing.assert_allclose(zoomed.minimum, raw, rtol=1e-6)
    # the envelope holds every sample's extremes (the min/max of a bin is exact)
    mid = source.traces((1.0, 3.0), width=300, channels=[5])
    with cldata.RecordingView(rec_path) as rec:
        s = rec.read_samples(25_000, 75_000, channels=[5], scaled=True)
    assert mid.minimum.min() == pytest.approx(s.min()) and mid.maximum.max() == pytest.approx(s.max())


def test_a_viewport_is_clipped_to_the_recording_and_never_empty(source):
    assert source.clip(None) == (0.0, 6.0)
    assert source.clip((-5, 100)) == (0.0, 6.0)
    a, b = source.clip((3.0, 3.0))
    assert b > a
    assert source.clip((float("nan"), float("inf"))) == (0.0, 6.0)


def test_spikes_are_points_until_there_are_too_many(source, rec_path):
    with cldata.RecordingView(rec_path) as rec:
        rows = rec.read_spikes(25_000, 50_000, waveforms=False)
    points = source.spikes((1.0, 2.0))
    np.testing.assert_allclose(points.times, rows["timestamp"] / 25_000)
    np.testing.assert_array_equal(points.channels, rows["channel"])
    some = source.spikes((1.0, 2.0), channels=[3, 9])
    assert set(some.channels.tolist()) <= {3, 9}
    assert len(some) == int(np.isin(rows["channel"], [3, 9]).sum())
    assert source.spikes(None, limit=5) is None  # more than 5: the raster draws counts instead
    assert MAX_SPIKE_POINTS >= 1000


def test_stims_and_stream_windows(source, rec_path):
    with cldata.RecordingView(rec_path) as rec:
        stims = rec.read_stims()
        ball = rec.data_streams["ball_position"]
        ts, values = ball.read(25_000, 50_000)
    got = source.stims(None)
    np.testing.assert_allclose(got.times, stims["timestamp"] / 25_000)
    times, entries, more = source.stream_window("ball_position", (1.0, 2.0))
    assert not more and entries == values
    np.testing.assert_allclose(times, ts / 25_000)
    times, entries, more = source.stream_window("ball_position", None, limit=10)
    assert more and len(entries) == 10 and np.all(np.diff(times) > 0)
    assert source.stream_attributes("ball_position")["units"] == "px"


def test_channels_are_checked_and_labelled_with_their_mea_position(source):
    with pytest.raises(ParameterError, match="not in"):
        source.pick_channels([3, 99])
    assert source.channel_label(9) == "ch 9 (1, 1)"
    with pytest.raises(ParameterError, match="gain"):
        plots.overview_dmap(source, [1], gain=0)


def test_overview_dmap_answers_each_viewport_with_one_line_per_channel(source):
    dmap = plots.overview_dmap(source, [1, 2, 3], width=400, spacing=100.0)
    dmap.event(x_range=(1.0, 2.0))
    curve = dmap[()]
    x = curve.dimension_values(0)
    assert np.isnan(x).sum() == 3  # a gap after each channel
    finite = x[np.isfinite(x)]
    assert finite.min() >= 1.0 - 1e-9 and finite.max() < 2.0
    assert "frames per point" in curve.opts.get().kwargs["title"]
    dmap.event(x_range=(1.0, 1.004))
    assert "raw samples" in dmap[()].opts.get().kwargs["title"]
    dmap.streams[1].event(channels=[4], gain=2.0)
    assert np.isnan(dmap[()].dimension_values(0)).sum() == 1


def test_raster_dmap_draws_spikes_and_stims_or_counts(source):
    dmap = plots.raster_dmap(source, [1, 2, 3, 5, 6], width=400)
    dmap.event(x_range=(0.0, 6.0))
    seg = dmap[()]
    shade = seg.dimension_values("shade")
    n_stims = len(source.stims(None))
    assert (shade == -1).sum() == n_stims
    assert (shade == 1).sum() == len(source.spikes(None, channels=[1, 2, 3, 5, 6]))


def test_stream_dmap_has_a_curve_per_numeric_field(source):
    dmap = plots.stream_dmap(source, "ball_position")
    dmap.event(x_range=(0.0, 3.0))
    labels = {c.label for c in dmap[()]}
    assert {"x", "y"} <= labels and "hit" not in labels
    with pytest.raises(ParameterError, match="no data stream"):
        plots.stream_dmap(source, "nope")


def _with_a_text_stream(path):
    with cldata.RecordingWriter(path, channel_count=8) as w:
        w.append_samples(np.zeros((25_000, 8), dtype=np.int16))
        events = w.create_data_stream("events")
        for i in range(50):
            events.append(i * 500, {"what": "rally" if i % 2 else "miss", "n": i})
        w.create_data_stream("level").append(100, 3)
    return path


def test_the_app_widgets_drive_the_plots_and_tables(rec_path, tmp_path):
    app = RecordingApp(RecordingSource(rec_path, overview_path=tmp_path / "ov.h5"))
    assert app.channel_picker.value == list(range(16))
    app.channel_picker.value = [7, 8]
    assert app.traces.streams[1].contents["channels"] == [7, 8]
    assert app.raster.streams[1].contents["channels"] == [7, 8]
    app.channel_picker.value = []  # an empty plot helps nobody: the last choice stays
    assert app.channel_picker.value == [7, 8]
    app.gain.value = 3.0
    assert app.traces.streams[1].contents["gain"] == 3.0
    app.viewport.event(x_range=(0.0, 0.2))
    assert "0.000–0.200 s" in app.status.object
    assert app.tables == {}  # (the simulation's streams hold numbers and booleans: curves only)
    app.source.close()


def test_a_stream_of_other_values_gets_a_table_of_the_window(tmp_path):
    app = RecordingApp(RecordingSource(_with_a_text_stream(tmp_path / "t.h5"), overview_path=tmp_path / "ov.h5"))
    try:
        assert set(app.tables) == {"events"} and set(app.streams) == {"events", "level"}
        assert len(app.tables["events"].value) == 50
        app.viewport.event(x_range=(0.0, 0.1))  # frames 0..2500: entries 0..4
        table = app.tables["events"].value
        assert len(table) == 5 and "'what': 'miss'" in table["entry"].iloc[0]
    finally:
        app.source.close()


def test_store_handles_show_parameters_and_results_and_views_open_the_viewer(rec_path, tmp_path):
    from cldata.analysis import FiringRate

    store = cldata.open(tmp_path / "store", mode="a")
    store.add_recording(rec_path, {"culture": "A"})
    store.add_analysis_results(FiringRate().compute(store.recordings[0]))
    store.commit()
    handle = store.recordings[0]
    app = RecordingApp(handle)
    assert app.source.parameters["culture"] == "A"
    results = app._results()
    assert results is not None and len(results) >= 1
    shown = handle.viewer()
    assert shown.app.source.handle == handle
    with cldata.RecordingView(rec_path) as rec:
        rec_view = rec.viewer(channels=[1])
        assert rec_view.app.channel_picker.value == [1]
        rec_view.app.close()
    shown.app.close()
    app.close()
    store.close()


def test_a_path_gets_its_view(rec_path, tmp_path):
    assert viewer_for(rec_path)[0] == "recording"
    cldata.open(tmp_path / "store", mode="a").close()
    assert viewer_for(tmp_path / "store")[0] == "store"
    (tmp_path / "plain").mkdir()
    with pytest.raises(cldata.errors.NotARecordingError, match="not a cldata store"):
        viewer_for(tmp_path / "plain")
    with pytest.raises(FileNotFoundError):
        viewer_for(tmp_path / "missing.h5")
    (tmp_path / "not.h5").write_bytes(b"not hdf5")
    with pytest.raises(cldata.errors.NotARecordingError):
        viewer_for(tmp_path / "not.h5")
    with pytest.raises(ParameterError, match="port"):
        make_server(lambda: None, port=70_000)


def test_a_recording_being_written_gets_the_live_view(tmp_path):
    path = tmp_path / "live.h5"
    writer = cldata.RecordingWriter(path, channel_count=4)
    try:
        writer.append_samples(np.zeros((100, 4), dtype=np.int16))
        writer.flush()
        assert viewer_for(path)[0] == "live"
    finally:
        writer.close()
    assert viewer_for(path)[0] == "recording"


def test_neo_recordings_are_refused_with_the_reason(tmp_path):
    neo = pytest.importorskip("neo")
    import quantities as pq

    seg = neo.Segment()
    seg.analogsignals.append(neo.AnalogSignal(np.zeros((100, 2)), units="mV", sampling_rate=1 * pq.kHz))
    store = cldata.open(tmp_path / "s", mode="a")
    store.add_recording(seg, {"x": 1})
    store.commit()
    with pytest.raises(UnsupportedValueError, match="neo recording"):
        store.recordings[0].viewer()
    with pytest.raises(UnsupportedValueError, match="neo recording"):
        RecordingSource(store.recordings[0])
    store.close()


def test_a_store_view_shows_only_its_selection(rec_path, tmp_path):
    store = cldata.open(tmp_path / "store", mode="a")
    for culture in ("A", "B"):
        copy = tmp_path / f"{culture}.h5"
        cldata.simulate(copy, seconds=0.2, seed=ord(culture))
        store.add_recording(copy, {"culture": culture})
    store.commit()
    whole, part = store.viewer(), store.filter(culture="B").viewer()
    assert len(whole.app.recordings.value) == 2
    assert part.app.recordings.value["culture"].tolist() == ["B"]
    store.close()


def test_a_store_export_is_viewed_as_a_store_and_its_recordings_open(tmp_path):
    store = cldata.open(tmp_path / "store", mode="a")
    path = cldata.simulate(tmp_path / "a.h5", seconds=0.5)
    store.add_recording(path, {"culture": "A"})
    store.commit()
    store.export(tmp_path / "export.h5", progress=False)
    store.close()
    kind, make = viewer_for(tmp_path / "export.h5")
    assert kind == "store"
    shown = make()
    rid = shown.app.recordings.value["id"].iloc[0]
    opened = shown.app.open(rid)
    env = opened.app.source.traces(None, width=100, channels=[1])
    assert env.minimum.shape[1] == 1 and opened.app.source.duration == pytest.approx(0.5)
    shown.app.show_store()  # (closes the recording view's files)
    shown.app.store.close()
