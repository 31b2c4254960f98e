"""The live viewer's data path (cldata.viz.live_buffer, cldata.viz.live_app): HoloViews Buffers fed by a follow thread.

A real writer (a subprocess running tests/follow_writer.py, or a RecordingWriter in the test's
own thread where the test must decide when each flush happens) writes; a LiveFeed follows it in
its background thread; the test checks what reached the Buffers, Pipes and Panel panes: rows in
order, a bounded backlog, attribute updates in order, the thread's errors raised where the
consumer looks, and the finished recording's view replacing the live one in the same container.
Waits are on conditions with bounded timeouts, never on sleeps.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from follow_writer import expected_entry
from test_follow import WRITER, start_writer, writer_acks

import cldata
from cldata.errors import UnfinishedRecordingError, ValueOutOfRangeError

hv = pytest.importorskip("holoviews", reason="holoviews is in the view extra: pip install '.[view]'")
pn = pytest.importorskip("panel", reason="panel is in the view extra: pip install '.[view]'")
pd = pytest.importorskip("pandas", reason="pandas is in the view extra: pip install '.[view]'")

from cldata.viz.live_app import LiveView, live_viewer  # noqa: E402 - after the skips
from cldata.viz.live_buffer import LiveFeed, follow_buffer, numeric_fields  # noqa: E402

FPS = 25_000


def until(condition, timeout=30.0, step=None):
    """Call ``step`` (e.g. a drain) and check ``condition`` until it holds; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        if step is not None:
            step()
        if condition():
            return
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)  # a poll interval, not a synchronisation: the condition decides


def stop_writer(proc):
    proc.kill()
    proc.wait(timeout=30)
    proc.stdout.close()


# -- follow_buffer fed by a writer process --------------------------------------------------------


def test_follow_buffer_receives_a_writer_processes_rows_in_order_and_keeps_a_bounded_backlog(tmp_path):
    path = tmp_path / "rec.h5"
    writer = start_writer(path, "--flushes", "30", "--per-flush", "5", "--delay", "0.002")
    buffer = follow_buffer(path, "ball_position", length=40, start_timeout=60)
    seen = []  # (rows held, newest entry number) at every send
    buffer.add_subscriber(lambda data: seen.append((len(data), int(data["x"].iloc[-1] * 2) if len(data) else -1)))
    assert buffer.feed.join(60)
    assert writer_acks(writer)[-1] == {"closed": True}
    writer.wait(timeout=30)
    writer.stdout.close()
    data = buffer.data
    assert list(data.columns) == ["time", "x", "y", "hit", "i"]
    # 150 entries written, the last 40 kept, exactly as written
    expected = [expected_entry("ball_position", i) for i in range(110, 150)]
    assert data["time"].tolist() == [t / FPS for t, _ in expected]
    assert data["x"].tolist() == [v["x"] for _, v in expected]
    assert data["hit"].tolist() == [float(v["hit"]) for _, v in expected]
    assert all(n <= 40 for n, _ in seen) and len(seen) > 1
    newest = [i for _, i in seen]
    assert newest == sorted(newest) and newest[-1] == 149  # in order, batch after batch
    assert buffer.feed.attributes == {"ball_position": {"created_at_flush": 0, "units": "px"}}
    assert not buffer.feed.running and buffer.feed.error is None


def test_stop_ends_the_follow_thread_at_the_writers_next_flush(tmp_path):
    path = tmp_path / "rec.h5"
    writer = start_writer(path, "--flushes", "0", "--per-flush", "3", "--delay", "0.005")
    try:
        with follow_buffer(path, "ball_position", start_timeout=60).feed as feed:
            until(lambda: len(feed.stream("ball_position").data) >= 30)
            assert feed.running
            assert feed.stop(timeout=30)  # the writer keeps flushing: the thread sees the stop at once
            held = feed.stream("ball_position").data.copy()
            assert not feed.running and feed.error is None
            writer_acks(writer, 5)  # more flushes after the stop ...
            assert feed.stream("ball_position").data.equals(held)  # ... reach no one
    finally:
        stop_writer(writer)


def test_stop_ends_the_follow_thread_while_the_writer_is_quiet(tmp_path):
    """A writer that holds (no flush for as long as the test wants): stop() does not wait for its next one."""
    path, hold = tmp_path / "rec.h5", tmp_path / "go-on"
    writer = subprocess.Popen([sys.executable, str(WRITER), str(path), "--flushes", "6", "--per-flush", "3",
                               "--hold", f"3:{hold}"], stdout=subprocess.DEVNULL, cwd=WRITER.parent)
    try:
        with follow_buffer(path, "ball_position", start_timeout=60).feed as feed:
            until(lambda: len(feed.stream("ball_position").data) >= 9)  # flushes 0-2, then the writer holds
            started = time.monotonic()
            assert feed.stop(timeout=10) and not feed.running and feed.error is None
            assert time.monotonic() - started < 5
    finally:
        hold.touch()
        assert writer.wait(timeout=60) == 0


def test_a_killed_writer_surfaces_as_an_error_after_the_rows_it_flushed(tmp_path):
    path = tmp_path / "rec.h5"
    writer = start_writer(path, "--flushes", "0", "--per-flush", "5", "--delay", "0.002")
    buffer = follow_buffer(path, "ball_position", length=1000, start_timeout=60)
    acks = writer_acks(writer, 6)
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    writer.stdout.close()
    with pytest.raises(UnfinishedRecordingError):
        buffer.feed.join(60)
    assert isinstance(buffer.feed.error, UnfinishedRecordingError)
    # everything flushed arrived before the error: at least the acknowledged entries, in order
    i = buffer.data["i"].astype(int).tolist()
    assert i == list(range(len(i))) and len(i) >= acks[-1]["counts"]["ball_position"]
    assert buffer.feed.drain() is not None  # raised once: later drains deliver nothing and do not raise


def test_the_threads_error_is_raised_once_by_drain_after_what_came_before_it(tmp_path):
    feed = LiveFeed(tmp_path / "never.h5", start_timeout=0.05)
    until(lambda: not feed.running)
    with pytest.raises(FileNotFoundError, match="no recording appeared"):
        feed.drain()
    assert isinstance(feed.error, FileNotFoundError)
    assert feed.drain().rows == {} and feed.finished


def test_bad_arguments_fail_at_once_not_in_the_thread(tmp_path):
    with pytest.raises(ValueOutOfRangeError, match="length"):
        LiveFeed(tmp_path / "rec.h5", length=0)
    with pytest.raises(TypeError, match="idle"):
        LiveFeed(tmp_path / "rec.h5", idle=3)
    with pytest.raises(TypeError, match="one stream name"):
        follow_buffer(tmp_path / "rec.h5", ["a", "b"])


def test_numeric_fields_keep_numbers_and_leave_other_values_to_the_table():
    assert numeric_fields([{"x": 1.0, "label": "a", "v": np.arange(3)}, {"y": np.int16(2), "ok": True}]) == \
        ["x", "y", "ok"]
    assert numeric_fields([np.float32(1), "text"]) == ["value"]
    assert numeric_fields(["text", [1, 2]]) == []


# -- attributes, in order ----------------------------------------------------------------------------


def test_attribute_updates_reach_the_pipe_and_the_callbacks_in_order(tmp_path):
    path = tmp_path / "rec.h5"
    w = cldata.RecordingWriter(path, durable=False)
    feed = LiveFeed(path, "game", poll_interval=0.001)
    pipe = feed.attributes_pipe("game")
    piped, called = [], []
    pipe.add_subscriber(lambda data: piped.append(data["score"]))
    feed.on_attributes(lambda name, attributes: called.append((name, attributes["score"])))
    game = w.create_data_stream("game", {"score": 0})
    for k in range(1, 6):
        game.append(100 * k, {"hit": 1.0})
        game.set_attribute("score", k)
        if k % 2:
            game.set_attribute("score", 10 * k)  # two updates within one flush: both arrive
        w.flush()
    w.close()
    assert feed.join(30)
    assert piped == [1, 10, 2, 3, 30, 4, 5, 50]
    assert called == [("game", s) for s in piped]
    assert pipe.data == feed.attributes["game"] == {"score": 50}
    assert feed.stream("game").data["hit"].tolist() == [1.0] * 5


# -- the live viewer, built server-side -------------------------------------------------------------


def write_second(w, streams, k):
    """Second ``k`` of a small live recording: samples, an entry per stream, a spike, a stim, a score."""
    samples = (np.arange(FPS * 64, dtype=np.int64).reshape(FPS, 64) % 200 - 100 + k).astype(np.int16)
    w.append_samples(samples)
    streams["ball"].append(FPS * k + 5, {"x": float(k), "label": f"shot {k}"})
    streams["note"].append(FPS * k + 6, f"second {k}")
    w.append_spikes([FPS * k + 7], [k % 64], np.zeros((1, 75), np.float32))
    w.append_stim(FPS * k + 8, 3)
    streams["ball"].set_attribute("score", k)
    w.flush()


def sources(root):
    """Row counts of the Bokeh data sources of a built Panel root, by their columns."""
    from bokeh.models import ColumnDataSource  # why: bokeh is imported only with the view extra (skips above)

    return sorted((tuple(sorted(s.data)), len(next(iter(s.data.values()), [])))
                  for s in root.select({"type": ColumnDataSource}))


def test_the_live_viewer_shows_a_recording_as_it_is_written_then_swaps_in_the_finished_view(tmp_path):
    path = tmp_path / "rec.h5"
    w = cldata.RecordingWriter(path, durable=False)
    streams = {"ball": w.create_data_stream("ball"), "note": w.create_data_stream("note")}
    finished = pn.pane.Markdown("the finished recording")
    view = LiveView(path, channels=[0, 5], period=None, window=1.0, finished=lambda p, c: finished, poll_interval=0.001)
    container = view.panel
    root = container.get_root()  # the Bokeh models a browser would get
    write_second(w, streams, 0)
    write_second(w, streams, 1)
    until(lambda: len(view.feed.spikes.data) == 2 and view.feed.attributes.get("ball") == {"score": 1},
          step=view.update)
    # traces: min/max bins per channel of the latest second only (window=1.0: 1,000 bins of 25 frames)
    traces = view.feed.traces.data
    assert list(traces.columns) == ["time", "min_0", "max_0", "min_5", "max_5"]
    assert len(traces) == 1000 and traces["time"].tolist() == [(FPS + 25 * i) / FPS for i in range(1000)]
    assert traces["min_0"].min() == pytest.approx(-99 * 0.195, rel=1e-6)  # second 1's samples
    # spikes and stims in seconds
    assert view.feed.spikes.data["time"].tolist() == [7 / FPS, (FPS + 7) / FPS]
    assert view.feed.stims.data["channel"].tolist() == [3, 3]
    # a card per stream: numeric curves, a table of every value, the attributes
    assert list(view.cards) == ["ball", "note"]
    assert view.cards["ball"].curves is not None and view.cards["note"].curves is None
    assert view.cards["note"].entries.value["value"].tolist() == ["second 1", "second 0"]
    assert view.cards["ball"].entries.value["value"].tolist() == [repr({"x": 1.0, "label": "shot 1"}),
                                                                   repr({"x": 0.0, "label": "shot 0"})]
    assert view.cards["ball"].attributes.value.values.tolist() == [["score", "1"]]
    # the Bokeh models of the already-built root hold the data
    held = sources(root)
    assert (("time", "time1", "y0", "y1"), 2 * len(traces)) in held  # a segment per bin and channel
    assert [n for columns, n in held if columns == ("channel", "time")] == [2, 2]  # spikes, stims
    assert (("time", "x"), 2) in held  # the ball's curve
    write_second(w, streams, 2)
    until(lambda: view.feed.attributes["ball"] == {"score": 2}, step=view.update)
    assert view.cards["ball"].attributes.value.values.tolist() == [["score", "2"]]
    assert container.objects[:4] == [view.status, view.traces, view.raster, view.streams]
    w.close()
    until(lambda: view.swapped, step=view.update)
    assert view.panel is container and container.objects == [finished]
    assert not view.feed.running and view.callback is None


def test_a_writer_that_dies_leaves_the_live_view_with_the_error_shown(tmp_path):
    path = tmp_path / "rec.h5"
    writer = start_writer(path, "--flushes", "0", "--per-flush", "2", "--delay", "0.002")
    panel = live_viewer(path, period=None, streams="ball_position", start_timeout=60,
                        finished=lambda p, c: pytest.fail("an unfinished recording has no finished view"))
    view = panel.live_view
    writer_acks(writer, 4)
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    writer.stdout.close()
    until(lambda: "UnfinishedRecordingError" in view.status.object, step=view.update)
    assert not view.swapped and panel.objects[0] is view.status
    assert len(view.feed.stream("ball_position").data) >= 8


def test_a_finished_recording_gets_its_finished_view_at_once(tmp_path):
    path = tmp_path / "rec.h5"
    cldata.simulate(path, seconds=1)
    shown = pn.pane.Markdown("finished")
    panel = live_viewer(path, channels=[1], finished=lambda p, c: (shown, p, c)[0] if c == [1] else None)
    assert panel.objects == [shown]


def test_the_default_finished_view_is_the_recording_viewer(tmp_path):
    pytest.importorskip("cldata.viz.recording_app", reason="the recording viewer (cldata.viz.recording_app) is not here")
    path = tmp_path / "rec.h5"
    w = cldata.RecordingWriter(path, durable=False)
    w.create_data_stream("ball").append(5, {"x": 1.0})
    w.append_samples(np.zeros((FPS, 64), np.int16))
    w.flush()
    view = LiveView(path, channels=[0, 1], period=None, poll_interval=0.001)
    container = view.panel
    w.close()
    until(lambda: view.swapped or "failed" in view.status.object, step=view.update)
    assert view.swapped, view.status.object
    assert view.panel is container and len(container.objects) == 1
    assert container.objects[0] not in (view.status, view.traces, view.raster, view.streams)


# -- the streamz path --------------------------------------------------------------------------------


def test_a_streamz_dataframe_feeds_a_buffer_with_a_finished_files_replay(tmp_path):
    streamz_dataframe = pytest.importorskip("streamz.dataframe", reason="streamz is not installed")
    import streamz  # why: after its skip above

    path = tmp_path / "rec.h5"
    with cldata.RecordingWriter(path, durable=False) as w:
        ball = w.create_data_stream("ball")
        for k in range(50):
            ball.append(FPS // 10 * k + 1, {"x": float(k), "y": float(k % 7)})
    example = pd.DataFrame({"time": pd.Series(dtype="float64"), "x": pd.Series(dtype="float64"),
                            "y": pd.Series(dtype="float64")})
    source = streamz.Stream()
    sdf = streamz_dataframe.DataFrame(source, example=example)
    buffer = hv.streams.Buffer(example, length=10, index=False)
    sdf[sdf.y > 2].stream.sink(buffer.send)  # streamz does the filtering, the Buffer keeps the backlog
    plot = hv.DynamicMap(lambda data: hv.Curve(data, "time", "x"), streams=[buffer])
    for df in cldata.live.follow_dataframes(path, "ball"):
        frame = df.reset_index()
        source.emit(pd.DataFrame({"time": frame["timestamp"] / FPS, "x": frame["x"], "y": frame["y"]}))
    kept = [k for k in range(50) if k % 7 > 2][-10:]
    assert buffer.data["x"].tolist() == [float(k) for k in kept]
    assert len(plot[()]) == 10  # the DynamicMap draws the Buffer's rows


# -- in a real browser -----------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

# the largest time each Bokeh data source holds in the page (the document renders over its websocket)
_PAGE_TIMES = """() => {
  const out = [];
  for (const doc of Bokeh.documents)
    for (const m of doc._all_models.values())
      if (m.data !== undefined && m.data.time !== undefined && m.data.time.length)
        out.push(Math.max(...m.data.time));
  return out.length ? Math.max(...out) : -1;
}"""


def test_a_browser_follows_a_writer_process_then_shows_the_finished_view_without_a_reload(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no browser at {CHROMIUM} (apt-get install chromium)")
    path = tmp_path / "rec.h5"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # the writer waits, before its flush 20 and before closing, for the page to have looked: on a loaded
    # machine it cannot finish before the page sees new data, nor close before the page has seen it
    more, stop = tmp_path / "more", tmp_path / "stop"
    # (its acknowledgements go nowhere: a pipe nobody reads would stall it once full)
    writer = subprocess.Popen([sys.executable, str(WRITER), str(path), "--flushes", "40", "--per-flush", "5",
                               "--delay", "0.02", "--samples", "500", "--hold", f"20:{more}", "--hold", f"40:{stop}"],
                              stdout=subprocess.DEVNULL, cwd=WRITER.parent)

    def finished(p, c):  # a Tabulator made after the page was served must render too (as the recording view's)
        return pn.widgets.Tabulator(pd.DataFrame({"view": ["the finished recording"]}), disabled=True)

    def app():
        return live_viewer(path, channels=[0, 1, 2, 3], start_timeout=60, finished=finished)

    server = pn.serve({"/": app}, port=port, address="127.0.0.1", show=False, threaded=True)
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1200, "height": 1400})
            page.goto(f"http://127.0.0.1:{port}/")
            page.evaluate("() => { window.notReloaded = true }")
            page.get_by_text("units").first.wait_for(timeout=30_000)  # ball_position's attribute update, live
            first = page.evaluate(_PAGE_TIMES)
            more.touch()
            page.wait_for_function(f"() => ({_PAGE_TIMES})() > {first}", timeout=30_000)  # new data reached the page
            page.screenshot(path=tmp_path / "live.png", full_page=True)
            stop.touch()
            page.get_by_text("the finished recording").wait_for(timeout=60_000)
            assert page.evaluate("() => window.notReloaded === true")
            browser.close()
    finally:
        more.touch()
        stop.touch()
        server.stop()
        assert writer.wait(timeout=60) == 0
    assert (tmp_path / "live.png").stat().st_size > 10_000
