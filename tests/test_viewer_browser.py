"""The viewer in a real browser: `cldata view` serves it, headless Chromium shows it with data.

Each test runs ``cldata view PATH --port 0`` in a subprocess and loads the address it prints in
Debian's installed Chromium, driven by Playwright's Python package (tests/viewer_browser.py).
A Bokeh server document renders over its websocket after the page loads, so the tests wait
for the data to reach the page's Bokeh documents, then check it: the traces, the raster, the
stimulations and the stream curves hold rows, the canvases are drawn on, and a zoom (the mouse
wheel over the traces) makes the server send a finer level. Screenshots go to ``tmp_path``
(and to ``$CLDATA_SCREENSHOTS``, when set, as the README's pictures). Skipped, with the reason,
where Chromium or Playwright is not installed.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from viewer_browser import (
    browser,
    canvas_boxes,
    eventually,
    ink,
    need_browser,
    open_view,
    rows_of,
    served,
    wait_for_state,
)

import cldata

TRACE_RGB = (0x1F, 0x3B, 0x73)
HERE = Path(__file__).resolve().parent


def _save(page, tmp_path: Path, name: str, *, publish: bool = False) -> Path:
    """A full-page screenshot in ``tmp_path``; ``publish``: also in ``$CLDATA_SCREENSHOTS`` (docs/'s pictures)."""
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=True)
    target = os.environ.get("CLDATA_SCREENSHOTS")
    if target and publish:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, Path(target) / name)
    return shot


def _per_point(titles: list[str]) -> int | None:
    for t in titles:
        if "raw samples" in t:
            return 1
        m = re.search(r"(\d+) frames per point", t)
        if m:
            return int(m.group(1))
    return None


def test_recording_view_shows_traces_raster_and_streams_and_zooms_to_a_finer_level(tmp_path):
    need_browser()
    rec = tmp_path / "rec.h5"
    cldata.simulate(rec, seconds=8)
    with cldata.RecordingView(rec) as view:
        n_stims = len(view.read_stims())
    with served(rec) as url, browser() as page:
        state = open_view(page, url, title_part="frames per point")
        # traces: 16 channels (the default), each hundreds of points; spikes, stims, a stream's curves
        # (the traces are one line with a gap after each channel; the raster one set of segments:
        # a tick per spike and a line per stimulation)
        assert max(rows_of(state, "Line", "µV")) > 16 * 500, state
        assert sum(rows_of(state, "Segment")) > 50 + n_stims, state
        assert any(t.endswith(f"{n_stims} stimulations (red)") for t in state["titles"]), state
        assert max(rows_of(state, "Line", "ball_position_value")) > 100, state
        # the canvases are drawn on: the traces' colour fills thousands of pixels of the largest one
        boxes = eventually(page, lambda: canvas_boxes(page), lambda b: len(b) >= 4)
        traces_box = max(boxes, key=lambda b: b["height"])
        eventually(page, lambda: ink(page, traces_box, TRACE_RGB), lambda n: n > 2000)
        _save(page, tmp_path, "viewer-recording-whole.png")

        # zoom in with the mouse wheel over the traces: the server answers with a finer level
        before = _per_point(state["titles"])
        page.mouse.move(traces_box["x"] + traces_box["width"] / 2, traces_box["y"] + traces_box["height"] / 2)
        for _ in range(4):  # (8 s to about half a second: spikes and stims stay in view)
            page.mouse.wheel(0, -300)
            page.wait_for_timeout(150)
        after = wait_for_state(page, lambda s: (_per_point(s["titles"]) or before) < before, timeout=30)
        assert _per_point(after["titles"]) < before
        eventually(page, lambda: ink(page, traces_box, TRACE_RGB), lambda n: n > 500)
        _save(page, tmp_path, "viewer-recording.png", publish=True)
        assert not [p for p in page.problems if not p.startswith("warning")], page.problems
    assert (tmp_path / "viewer-recording.png").stat().st_size > 10_000


def test_cldata_view_of_the_demo_store_shows_its_tables_and_opens_a_recording(tmp_path):
    need_browser()
    from cldata.app.demo import run_demo

    with contextlib.redirect_stdout(io.StringIO()):
        assert run_demo(tmp_path / "demo", recordings=4, duration_s=3.0, executor="serial", figure=False,
                        progress=False) == 0
    with served(tmp_path / "demo" / "store") as url, browser(height=1100) as page:
        page.goto(url)
        page.wait_for_selector(".tabulator-row", timeout=60_000)
        rows = page.locator(".tabulator-row")
        eventually(page, rows.count, lambda n: n >= 4 + 20)  # 4 recordings; results (20 a page)
        box = page.locator("input[type=text]").first
        box.fill("culture=C1 session=2")  # the filter syntax of `cldata query`
        box.press("Enter")
        eventually(page, lambda: page.get_by_text("1 recording and").count(), lambda n: n > 0)
        _save(page, tmp_path, "viewer-store.png", publish=True)
        # click through to the recording: its view, in the same page
        page.locator(".tabulator-cell[tabulator-field='id']", has_text="rec_").first.click()
        state = wait_for_state(page, lambda s: any("frames per point" in t for t in s["titles"]), timeout=60)
        assert max(rows_of(state, "Line", "µV")) > 16 * 200
        boxes = eventually(page, lambda: canvas_boxes(page), lambda b: len(b) >= 4)
        traces_box = max(boxes, key=lambda b: b["height"])
        eventually(page, lambda: ink(page, traces_box, TRACE_RGB), lambda n: n > 2000)
        _save(page, tmp_path, "viewer-store-recording.png")
        page.get_by_text("back to the store").first.click()
        eventually(page, lambda: page.get_by_text("1 recording and").count(), lambda n: n > 0)
        assert not [p for p in page.problems if not p.startswith("warning")], page.problems


def test_the_live_view_follows_a_writer_process_then_becomes_the_recording_view(tmp_path):
    need_browser()
    rec = tmp_path / "live.h5"
    stop = tmp_path / "stop"  # the writer closes the recording once the page has shown it live
    writer = subprocess.Popen([sys.executable, str(HERE / "live_replay_writer.py"), str(rec), "--seconds", "12",
                               "--stop-file", str(stop)], stdout=subprocess.PIPE, text=True, cwd=HERE)
    try:
        assert writer.stdout.readline().strip() == "started"
        with served(rec) as url, browser() as page:
            page.goto(url)
            page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0", timeout=60_000)
            page.evaluate("() => { window.notReloaded = true }")
            # live: the score's attributes (updated every second by the writer) and the data reach the page
            page.get_by_text("rally").first.wait_for(timeout=30_000)
            eventually(page, lambda: canvas_boxes(page), lambda b: len(b) >= 2)
            state = wait_for_state(page, lambda s: sum(rows_of(s, "Segment")) > 100)
            assert not any("frames per point" in t for t in state["titles"])  # (still the live view)
            _save(page, tmp_path, "viewer-live.png", publish=True)
            stop.touch()
            # the writer closes the recording: its finished view replaces the live one, without a reload
            wait_for_state(page, lambda s: any("frames per point" in t for t in s["titles"]), timeout=60)
            assert page.evaluate("() => window.notReloaded === true")
            boxes = eventually(page, lambda: canvas_boxes(page), lambda b: len(b) >= 4)
            traces_box = max(boxes, key=lambda b: b["height"])
            assert traces_box["width"] > 500  # laid out at full width, not collapsed
            eventually(page, lambda: ink(page, traces_box, TRACE_RGB), lambda n: n > 2000)
            _save(page, tmp_path, "viewer-live-finished.png")
            assert not [p for p in page.problems if not p.startswith("warning")], page.problems
    finally:
        stop.touch()
        assert writer.wait(timeout=120) == 0
        assert writer.stdout.read().strip() == "closed"
        writer.stdout.close()


def test_cldata_view_of_a_plain_directory_says_what_it_is(tmp_path, capsys):
    pytest.importorskip("panel", reason="panel is in the view extra: pip install '.[view]'")
    from cldata.app.cli import main

    (tmp_path / "d").mkdir()
    assert main(["view", str(tmp_path / "d"), "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert "is a directory" in err and "not a cldata store" in err
    assert main(["view", str(tmp_path / "missing.h5")]) == 1
    assert "no such file or directory" in capsys.readouterr().err
    assert main(["view", str(tmp_path / "d"), "--port", "70000"]) == 2
    assert "--port" in capsys.readouterr().err
