"""No silent empties: a query naming what the store does not have says so.

A data-stream name, tag or parameter that no entry of the whole store has raises an
``UnknownNameError`` (listing the known ones, with a "did you mean"), in every form that
reaches the query: the view methods, the query functions, the query classes of parameter
files, and the CLI. A name the store has but the queried view lacks, and a known parameter
with a value nothing has, are legitimate empty answers. A time window holding no frame of
any recording in the view warns with the recordings' extent; a window overlapping one does
not. The name checks answer from the catalog's indexes, without walking its entries.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import quantities as pq

import cldata
from cldata.errors import (
    CldataWarning,
    ParameterError,
    UnknownNameError,
    UnknownParameterError,
    UnknownStreamError,
    UnknownTagError,
    WindowOutsideRecordingsWarning,
)
from cldata.query import run_query_chain, stream_query, tag_based_query, time_window_query
from cldata.query.base import QUERIES

FPS = 25_000


def write_recording(path: Path, streams: dict[str, dict], frames: int, culture: str) -> Path:
    """A tiny CL recording lasting ``frames`` frames, with one entry in each named stream."""
    with cldata.RecordingWriter(path, attributes={"culture": culture}, channel_count=2) as w:
        for name, attributes in streams.items():
            w.create_data_stream(name, attributes).append(1, {"value": 1})
        w.append_samples(np.zeros((frames, 2), np.int16))
    return path


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """Two recordings (0.5 s with ``score``; 2 s with ``ball_position``) and three results."""
    yield from _lab(tmp_path_factory, None)


@pytest.fixture(scope="module")
def segment_log_lab(tmp_path_factory):
    """``lab`` in a store whose catalog is the backend's segment log (loaded whole into memory)."""
    yield from _lab(tmp_path_factory, "backend")


def _lab(tmp_path_factory, catalog):
    tmp = tmp_path_factory.mktemp("silent")
    short = write_recording(tmp / "short.h5", {"score": {"final": True}}, FPS // 2, "C1")
    long = write_recording(tmp / "long.h5", {"ball_position": {"units": "px"}}, 2 * FPS, "C2")
    with cldata.open(tmp / "store", mode="a", catalog=catalog) as store:
        a = store.add_recording(short, {"session": 1})
        b = store.add_recording(long, {"session": 2})
        store.add_analysis_result(cldata.SingleValue("rate", 1 * pq.Hz, parameters={"window_s": 1.0},
                                                     sources=[a], tags=["final"]))
        store.add_analysis_result(cldata.SingleValue("rate", 2 * pq.Hz, parameters={"window_s": 1.0},
                                                     sources=[b], tags=["draft"]))
        store.add_analysis_result(cldata.SingleValue("rate", 3 * pq.Hz, parameters={"window_s": 2.0},
                                                     sources=[b], tags=["draft", "fast"]))
    store = cldata.open(tmp / "store")
    yield store
    store.close()


# -- data-stream names -------------------------------------------------------------------------


@pytest.mark.parametrize("ask", [
    lambda s: s.streams("scroe"),
    lambda s: stream_query(s, "scroe"),
    lambda s: s.query([{"class": "StreamQuery", "params": {"stream_names": ["scroe"]}}]),
    lambda s: run_query_chain(s, [QUERIES["StreamQuery"]({"stream_names": "scroe"})]),
    lambda s: s.filter(culture="C1").streams(["ball_position", "scroe"]),  # one unknown name in a list
], ids=["method", "function", "chain", "query-class", "list"])
def test_a_stream_name_no_recording_has_raises_with_the_known_names_and_a_suggestion(lab, ask):
    with pytest.raises(UnknownStreamError) as caught:
        ask(lab)
    message = str(caught.value)
    assert "'scroe'" in message and "did you mean 'score'?" in message
    assert "ball_position, score" in message  # the store's streams, all listed
    assert caught.value.name == "scroe" and caught.value.suggestions == ("score",)
    assert caught.value.known == ("ball_position", "score")
    # the family and the older types still catch it
    assert isinstance(caught.value, UnknownNameError) and isinstance(caught.value, ParameterError)


def test_a_glob_matching_no_stream_of_the_store_raises_and_one_matching_does_not(lab):
    with pytest.raises(UnknownStreamError, match=r"matching 'sc0re\*'"):
        lab.streams("sc0re*")
    assert lab.streams("ball*").stream_names == ["ball_position"]


def test_a_stream_the_store_has_but_the_view_lacks_is_an_empty_answer(lab):
    c1 = lab.filter(culture="C1")  # only the short recording, which has no ball_position
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert c1.streams("ball_position").recordings == []
        assert c1.query([{"class": "StreamQuery", "params": {"stream_names": "ball_position"}}]).recordings == []


def test_an_attribute_no_stream_has_raises_with_a_suggestion(lab):
    with pytest.raises(UnknownParameterError, match=r"attribute 'unit'.*did you mean 'units'\?"):
        lab.streams(unit="px")
    assert lab.streams(units="mm").recordings == []  # a known attribute, a value nothing has


# -- tags ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("ask", [
    lambda s: s.tagged("fianl"),
    lambda s: tag_based_query(s, ["fianl"]),
    lambda s: s.tagged("draft", "fianl", any=True),
    lambda s: s.query([{"class": "TagBasedQuery", "params": {"tags": ["fianl"]}}]),
], ids=["method", "function", "any", "chain"])
def test_a_tag_no_result_has_raises_with_the_known_tags_and_a_suggestion(lab, ask):
    with pytest.raises(UnknownTagError) as caught:
        ask(lab)
    assert "did you mean 'final'?" in str(caught.value)
    assert "draft, fast, final" in str(caught.value)
    assert caught.value.known == ("draft", "fast", "final")


def test_a_tag_the_store_has_but_the_view_lacks_is_an_empty_answer(lab):
    c1 = lab.filter(culture="C1")
    assert c1.tagged("fast").analysis_results == []
    assert len(lab.tagged("draft").analysis_results) == 2


def test_a_store_without_entries_of_the_kind_accepts_any_name(tmp_path):
    """Nothing to check against: a generic chain run on a fresh store finds nothing, quietly."""
    with cldata.open(tmp_path / "empty", mode="a") as store:
        assert store.streams("score").recordings == [] and store.tagged("final").analysis_results == []
        assert store.filter(culture="C1").recordings == []
    path = write_recording(tmp_path / "r.h5", {"score": {}}, 100, "C1")
    with cldata.open(tmp_path / "no-results", mode="a") as store:
        store.add_recording(path)
        assert store.tagged("final").analysis_results == []  # no result yet: no tag to know
        with pytest.raises(UnknownStreamError):
            store.streams("scroe")


# -- parameter names -------------------------------------------------------------------------------


@pytest.mark.parametrize("ask", [
    lambda s: s.filter(cultre="C1"),
    lambda s: s.filter_recordings(cultre="C1"),
    lambda s: s.filter_results(cultre="C1"),
    lambda s: s.get_analysis_result(cultre="C1"),
    lambda s: s.query([{"class": "ParamFilterQuery", "params": {"params": {"cultre": "C1"}}}]),
    lambda s: s.partition_by("cultre"),
], ids=["filter", "filter_recordings", "filter_results", "get_analysis_result", "chain", "partition_by"])
def test_a_parameter_no_entry_has_raises_with_a_suggestion(lab, ask):
    with pytest.raises(UnknownParameterError) as caught:
        ask(lab)
    assert "'cultre'" in str(caught.value) and "did you mean 'culture'?" in str(caught.value)
    assert "culture" in caught.value.known and "session" in caught.value.known


def test_partitioning_results_by_a_parameter_no_result_has_raises(lab):
    with pytest.raises(UnknownParameterError, match=r"did you mean 'window_s'\?"):
        lab.partition_results_by_values_of("window")
    assert len(lab.partition_results_by_values_of("window_s")) == 2


def test_a_known_parameter_with_a_value_nothing_has_is_an_empty_answer_without_a_warning(lab):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        view = lab.filter(culture="C9")
        assert view.recordings == [] and view.analysis_results == []
        assert lab.filter(identifier="other").analysis_results == []


# -- time windows ----------------------------------------------------------------------------------


def test_a_window_outside_every_recording_warns_with_their_extent(lab):
    short = lab.filter(culture="C1")
    with pytest.warns(WindowOutsideRecordingsWarning) as caught:
        view = short.between(60 * pq.s, 120 * pq.s)
    message = str(caught[0].message)
    assert "[60 s, 120 s)" in message and "lasts 0.5 s (12500 frames)" in message
    assert view.recording_ids == short.recording_ids  # the view is still made: a warning, not an error
    assert caught[0].filename == __file__  # it points at the user's line, not into cldata
    with pytest.warns(WindowOutsideRecordingsWarning, match=r"from 0.5 s to 2 s \(12500 to 50000 frames\)"):
        lab.between(3 * pq.s, None)
    with pytest.warns(WindowOutsideRecordingsWarning, match=r"frame 60000"):
        lab.between(60_000, 70_000)  # frames, beyond both
    with pytest.warns(WindowOutsideRecordingsWarning):
        lab.query([{"class": "TimeWindowQuery", "params": {"start": {"$quantity": [60, "s"]}}}])
    with pytest.warns(WindowOutsideRecordingsWarning):
        time_window_query(lab, -100, 0)  # ends where the recordings start
    assert issubclass(WindowOutsideRecordingsWarning, CldataWarning)


def test_chained_windows_that_do_not_meet_warn(lab):
    with pytest.warns(WindowOutsideRecordingsWarning, match=r"\[0, 0.1 s\) and \[0.2 s, 0.3 s\) is empty"):
        lab.between(0, 0.1 * pq.s).between(0.2 * pq.s, 0.3 * pq.s)


def test_a_window_overlapping_one_recording_does_not_warn(lab):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(lab.between(1 * pq.s, 1.5 * pq.s).recordings) == 2  # beyond the short one, within the long
        lab.between(0.4 * pq.s, 100 * pq.s)
        lab.between(FPS // 2 - 1, None)  # the short recording's last frame
        lab.between(None, 1)
        lab.between(0, 1 * pq.s).between(0.5 * pq.s, 2 * pq.s)
        lab.filter(culture="C9").between(60 * pq.s, None)  # a view without recordings: nothing to miss


# -- the command line ------------------------------------------------------------------------------


def test_the_cli_reports_unknown_names_in_one_line(lab, tmp_path, capsys):
    from cldata.app.cli import main

    root = str(lab.root)
    chain = tmp_path / "chain.json"
    chain.write_text(json.dumps({"query": [{"class": "StreamQuery", "params": {"stream_names": "scroe"}}]}))
    for args, expected in [(["--streams", "scroe"], "did you mean 'score'?"),
                           (["--tag", "fianl"], "did you mean 'final'?"),
                           (["--filter", "cultre=C1"], "did you mean 'culture'?"),
                           (["--chain", str(chain)], "did you mean 'score'?")]:
        try:
            code = main(["query", root, *args])
        except SystemExit as exc:  # pragma: no cover - depends on how main reports errors
            code = exc.code
        err = capsys.readouterr().err
        assert code not in (0, None), args
        assert expected in err and "Traceback" not in err, (args, err)


# -- the indexes -----------------------------------------------------------------------------------


class _CountingList(list):
    iterations = 0

    def __iter__(self):
        type(self).iterations += 1
        return super().__iter__()


@pytest.mark.parametrize("which", ["lab", "segment_log_lab"])
def test_the_name_checks_answer_from_the_catalogs_indexes(which, request, monkeypatch):
    """Checking names must not walk the catalog's results on every query (stores hold 100,000s)."""
    lab = request.getfixturevalue(which)
    cat = lab.catalog
    lab.filter(culture="C1", window_s=1.0)  # the parameter index builds these paths once
    results = cat.results
    if type(results) is list:  # the in-memory catalog of a segment log
        cat.results = _CountingList(results)
    else:  # a catalog engine's entries, read on demand: a walk is an iteration of them
        original = type(results).__iter__

        def counted(self):
            _CountingList.iterations += 1
            return original(self)

        monkeypatch.setattr(type(results), "__iter__", counted)
    try:
        _CountingList.iterations = 0
        assert len(lab.tagged("final").analysis_results) == 1
        assert len(lab.filter(culture="C1", window_s=1.0).analysis_results) == 1
        assert _CountingList.iterations == 0
    finally:
        cat.results = results
