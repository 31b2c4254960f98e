"""The store view (cldata.viz.store_app) and the query syntax it shares with `cldata query`.

Server-side: the tables, the query box and the clicks are driven as the browser's events
would drive them (a Tabulator cell click is a CellClickEvent), without a browser.
"""

from __future__ import annotations

import gc
import os
import socket

import pytest
import quantities as pq
from hypothesis import given, settings
from hypothesis import strategies as st

import cldata
from cldata.batch.query_syntax import ViewOptions, apply_view_options, parse_query, view_options
from cldata.errors import ParameterError

pn = pytest.importorskip("panel", reason="panel is in the view extra: pip install '.[view]'")
store_app = pytest.importorskip("cldata.viz.store_app", reason="panel is in the view extra: pip install '.[view]'")
CellClickEvent = pytest.importorskip("panel.models.tabulator").CellClickEvent


@pytest.fixture
def store(tmp_path):
    store = cldata.open(tmp_path / "s", mode="w")
    for culture in ("A", "B"):
        for day in (1, 2):
            path = cldata.simulate(tmp_path / f"{culture}{day}.h5", seconds=0.2, seed=day)
            rid = store.add_recording(path, {"culture": culture, "stimulation": {"amplitude": day * 0.5}},
                                      overview=False)
            store.add_analysis_result(cldata.SingleValue(
                "rate", day * pq.Hz, parameters={"analysis": "Rate", "bin_ms": 5}, sources=[rid],
                tags=["good"] if culture == "A" else []))
    store.commit()
    yield store
    store.close()


def click(table, row: int, column: str = "id") -> None:
    """A click on a cell, as the browser sends it."""
    table._process_event(CellClickEvent(model=None, column=column, row=row))


def test_the_box_reads_what_follows_cldata_query():
    assert parse_query("culture=A session=2") == ViewOptions(filter={"culture": "A", "session": 2})
    both = parse_query("--filter culture=A --tag good --tag=final --between 0 1.5s --streams score ball*")
    assert both.filter == {"culture": "A"} and both.tags == ("good", "final")
    assert both.between[0] == 0 and float(both.between[1].rescale(pq.s)) == 1.5
    assert both.streams == ("score", "ball*")
    assert parse_query("--streams score culture=C1,C2").filter == {"culture": ["C1", "C2"]}
    assert parse_query('"session=[1, 2]"').filter == {"session": [1, 2]}
    assert parse_query("").is_everything and parse_query("   ").is_everything


@pytest.mark.parametrize(("text", "words"), [
    ("culture", ["'culture' is neither KEY=VALUE", "culture=C7"]),
    ("session=[1, 2]", ["'2]' is neither KEY=VALUE", 'quote a value with spaces: "session=[1, 2]"']),
    ("culture=[1", ["'culture=[1'", "never closed"]),
    ("culture=C1,", ["'culture=C1,': an empty value between commas (write culture=A,B for A or B)"]),
    ("--tags good", ["--tags is not an option", "did you mean --tag?"]),
    ("--between 0", ["--between needs two bounds", "--between 0 1s"]),
    ("--between 0 soon", ["--between 'soon'", "--between 0 1s"]),
    ("--filter culture=C1,", ["empty value between commas"]),
    ("--streams", ["--streams needs at least one stream name"]),
    ("culture='A", ["no closing quotation"]),
    ("--between 0 1 --between 1 2", ["--between is given twice"]),
    ("--chain chain.param", ["--chain reads a parameter file", "cldata query STORE --chain FILE"]),
])
def test_a_box_that_cannot_mean_anything_says_why_in_the_words_typed(text, words):
    with pytest.raises(ParameterError) as caught:
        parse_query(text, chain_files=False)
    for w in words:
        assert w in str(caught.value)


def test_the_cli_options_and_the_box_give_the_same_selection(store):
    typed = parse_query("culture=A --tag good --between 0 0.1s")
    flags = view_options(filter=["culture=A"], tags=["good"], between=["0", "0.1s"])
    assert typed == flags
    view = apply_view_options(store, typed)
    assert view == store.filter(culture="A").tagged("good").between(0, 0.1 * pq.s)


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet="ab=-,'\" .[]0123456789", max_size=30))
def test_any_box_text_parses_or_says_parameter_error(text):
    try:
        parse_query(text, chain_files=False)
    except ParameterError as exc:
        assert str(exc)


def test_the_recordings_table_has_a_row_per_recording_and_parameters_as_columns(store):
    app = store_app.StoreApp(store)
    frame = app.recordings.value
    assert list(frame["id"]) == store.recording_ids
    assert {"culture", "stimulation.amplitude", "duration_s", "spikes", "stims"} <= set(frame.columns)
    assert sorted(frame["culture"]) == ["A", "A", "B", "B"]
    assert app.recordings.header_filters and not app.message.visible
    assert "4 recordings" in app.summary.object and "4 analysis results" in app.summary.object


def test_the_results_table_lists_kind_analysis_and_value(store):
    app = store_app.StoreApp(store)
    frame = app.results.value
    assert len(frame) == 4
    assert set(frame["kind"]) == {"SingleValue"} and set(frame["analysis"]) == {"Rate"}
    assert sorted(frame["value"]) == [1.0, 1.0, 2.0, 2.0] and set(frame["units"]) == {"Hz"}


def test_typing_a_query_narrows_both_tables(store):
    app = store_app.StoreApp(store)
    app.query.value = "culture=A"
    assert set(app.recordings.value["culture"]) == {"A"} and len(app.recordings.value) == 2
    assert len(app.results.value) == 2
    assert "2 recordings" in app.summary.object and "store holds 4 recordings" in app.summary.object
    app.query.value = "--filter stimulation.amplitude=1.0"
    assert list(app.recordings.value["stimulation.amplitude"]) == [1.0, 1.0]
    app.query.value = "--tag good"
    assert len(app.results.value) == 2
    app.query.value = "--between 0 0.1s"
    assert "window" in app.summary.object and set(app.recordings.value["duration_s"]) == {0.1}


def test_a_bad_query_is_shown_in_the_page_and_keeps_the_tables(store):
    app = store_app.StoreApp(store)
    app.query.value = "culture=A"
    app.query.value = "--tag godo"
    assert app.message.visible and "did you mean 'good'?" in app.message.object
    assert "--tag godo" in app.message.object
    assert len(app.recordings.value) == 2                      # the last selection that meant something
    app.query.value = "culture"
    assert app.message.visible and "is neither KEY=VALUE" in app.message.object
    app.query.value = ""
    assert not app.message.visible and len(app.recordings.value) == 4


def test_a_query_the_library_warns_about_shows_the_warning_in_the_page(store):
    app = store_app.StoreApp(store)
    app.query.value = "--between 1s 2s"                     # after the end of every 0.2 s recording
    assert app.message.visible and app.message.alert_type == "warning"
    assert "holds no frame of any recording" in app.message.object
    assert len(app.recordings.value) == 4                   # applied all the same, as the view is
    app.query.value = "culture=A"
    assert not app.message.visible


def test_clicking_a_recording_opens_its_handle_and_back_returns(store):
    opened = []
    app = store_app.StoreApp(store, open_recording=lambda handle: opened.append(handle) or pn.pane.Markdown("rec"))
    app.query.value = "culture=B"
    click(app.recordings, 1)
    wanted = store.filter(culture="B").recording_ids[1]
    assert [h.id for h in opened] == [wanted]
    assert not app.store_page.visible and app.recording_page.visible
    assert any(getattr(o, "object", None) == "rec" for o in app.recording_page)
    app.back.clicks += 1
    assert app.store_page.visible and not app.recording_page.visible and not app.recording_page.objects


def test_an_opened_recording_keeps_the_window_of_the_query(store):
    opened = []
    app = store_app.StoreApp(store, open_recording=opened.append)
    app.query.value = "--between 0 0.1s"
    click(app.recordings, 0)
    assert opened[0].counts()["duration_s"] == pytest.approx(0.1)


def test_clicking_a_result_shows_its_parameters_and_fields(store):
    app = store_app.StoreApp(store)
    app.query.value = "culture=B"
    click(app.results, 0, column="kind")
    shown = " ".join(o.object for o in app.detail)
    assert "SingleValue" in shown and "parameter bin_ms" in shown and "Rate" in shown
    assert "Hz" in shown and app.results.value["id"].iloc[0] in shown


def test_store_viewer_returns_a_panel_layout(store):
    layout = store_app.store_viewer(store)
    assert isinstance(layout, pn.viewable.Viewable)
    assert layout.select(pn.widgets.Tabulator) and layout.select(pn.widgets.TextInput)


def test_without_a_hook_a_recording_opens_in_the_recording_view(store):
    app = store_app.StoreApp(store)
    app.query.value = "culture=A"
    shown = app.open(app.recordings.value["id"].iloc[0])
    assert shown in app.recording_page.objects and app.back in app.recording_page.objects
    assert shown.name.startswith("recording")
    app.back.clicks += 1
    del app, shown
    gc.collect()  # the plots' reference cycles hold the recording's nodes: free them while its file is open


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def wait_until(page, condition, what: str, seconds: float = 30) -> None:
    """Let the browser and the server work until ``condition()`` holds (a bound, not a timing check)."""
    for _ in range(int(seconds * 10)):
        if condition():
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"the page never got to: {what}")


def test_in_a_browser_the_box_narrows_the_table_and_a_click_opens_the_recording(store, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="the browser test needs playwright (python)")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no browser at {CHROMIUM} (apt-get install chromium)")
    apps = []

    def page_of_a_session():
        apps.append(store_app.StoreApp(store))  # (a click opens the real recording view)
        return apps[-1].layout

    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    server = pn.serve({"/": page_of_a_session}, port=port, show=False, threaded=True, start=True)
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(30000)
            page.goto(f"http://localhost:{port}/")
            page.wait_for_selector(".tabulator-row")
            assert page.locator(".tabulator-row").count() == 8            # 4 recordings, 4 results
            box = page.locator("input[type=text]").first
            box.fill("culture=B")
            box.press("Enter")
            wait_until(page, lambda: page.locator(".tabulator-row").count() == 4, "the rows of culture B")
            app = apps[-1]
            wanted = app.recordings.value["id"].iloc[1]
            page.get_by_text(wanted, exact=True).first.click()
            wait_until(page, lambda: app.recording_page.visible, "the recording opened")
            page.wait_for_function("() => [...Bokeh.documents[0]._all_models.values()].some("
                                   "m => m.constructor.__name__ === 'Title' && /frames per point/.test(m.text))")
            page.get_by_text("back to the store").first.click()
            wait_until(page, lambda: app.store_page.visible, "back to the store")
            page.wait_for_selector(".tabulator-row")
            page.screenshot(path=str(tmp_path / "store_view.png"))
            browser.close()
    finally:
        server.stop()
    apps.clear()
    gc.collect()  # the recording view's reference cycles hold the recording's nodes: free them while it is open
