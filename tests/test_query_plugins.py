"""Queries as pure functions of a catalog and a selection, and new query kinds in one place.

A query kind is one class (a ``Query`` with ``select(catalog, selection, ...)``) and its
registration: ``@register_query`` in the module that defines it, or an entry point of the group
``cldata.queries`` in a package's metadata. Nothing else in cldata changes to add one, and it is
then nameable in parameter files (``query_from_spec``, ``run_query_chain``) and on any view.
The query functions themselves need no store: a catalog built in memory and a ``Selection`` do.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest
import quantities as pq

import cldata
import cldata.core.registry
from cldata.errors import ParameterError, UnknownParameterError
from cldata.format.simulate import simulate_recording
from cldata.model.catalog import Catalog
from cldata.model.entries import RecordingEntry, ResultEntry
from cldata.query import (
    CatalogView,
    Query,
    Range,
    Selection,
    param_filter_query,
    query_from_spec,
    register_query,
    run_query_chain,
    stream_query,
    tag_based_query,
)
from cldata.query.base import QUERIES
from cldata.query.params import select_by_parameters
from cldata.query.partitions import split_by_parameters
from cldata.query.streams import select_streams
from cldata.query.tags import select_tagged
from cldata.query.time import select_window


def _catalog() -> Catalog:
    """Three recordings (two cultures, 1 s and 3 s long) and a result of each, built without any store."""
    cat = Catalog()
    for i, (culture, seconds) in enumerate([("C7", 1.0), ("C8", 3.0), ("C7", 3.0)]):
        cat.add_recording(RecordingEntry(
            f"rec_{i:016x}", {"culture": culture, "session": i}, {"score": {"units": "pt"}} if i != 1 else {},
            {"kind": "nowhere"}, {"duration_s": seconds, "frames_per_second": 25000}))
        cat.add_result(ResultEntry(f"res_{i:016x}", "SingleValue", "rate", {"window_s": 1.0 + i},
                                   (f"rec_{i:016x}",), ("final",) if i else (), None))
    return cat


# -- the query functions on a catalog and a selection ------------------------------------------------


def test_parameter_queries_need_only_a_catalog_and_a_selection():
    cat = _catalog()
    everything = Selection.everything()
    c7 = select_by_parameters(cat, everything, {"culture": "C7"})
    assert c7.recordings == (0, 2) and c7.results == (0, 2)  # results follow their recordings' parameters
    late = select_by_parameters(cat, c7, {"session": Range(1, None)})
    assert late.recordings == (2,) and late.results == (2,)
    assert everything.recordings is None  # a selection is a value: nothing changed it
    with pytest.raises(UnknownParameterError, match="did you mean 'culture'"):
        select_by_parameters(cat, everything, {"cultre": "C7"})


def test_stream_tag_time_and_partition_queries_on_a_catalog():
    cat = _catalog()
    everything = Selection.everything()
    scored = select_streams(cat, everything, "score")
    assert scored.recordings == (0, 2) and scored.streams.names == {"score"}
    assert select_tagged(cat, everything, "final").results == (1, 2)
    windowed = select_window(cat, scored, 0, 2 * pq.s)
    assert windowed.window.frames(25000) == (0, 50000) and windowed.recordings == (0, 2)
    narrower = select_window(cat, windowed, 1 * pq.s, None)
    assert narrower.window.frames(25000) == (25000, 50000)  # windows intersect
    parts = split_by_parameters(cat, everything, ["culture"])
    assert [p.recordings for p in parts] == [(0, 2), (1,)]


def test_the_view_level_functions_work_on_a_catalog_view():
    view = CatalogView(_catalog())
    assert not hasattr(view, "recordings")  # a catalog view is only what queries need: no reads, no store
    narrowed = tag_based_query(stream_query(param_filter_query(view, culture="C7"), "score"), "final")
    assert isinstance(narrowed, CatalogView)
    assert narrowed.selection.recordings == (0, 2) and narrowed.selection.results == (2,)


def test_a_chain_from_a_parameter_file_runs_on_a_catalog_view():
    chain = [{"class": "ParamFilterQuery", "params": {"params": {"culture": "C7"}}},
             {"class": "PartitionByParametersQuery", "params": {"parameter_names": ["session"]}}]
    parts = run_query_chain(CatalogView(_catalog()), chain)
    assert [p.selection.recordings for p in parts] == [(0,), (2,)]
    assert query_from_spec(chain[0]).apply(_catalog(), Selection.everything()).recordings == (0, 2)


# -- a new query kind: one class, registered where it is defined ------------------------------------


@register_query
class LongRecordingsQuery(Query):
    """Recordings lasting at least ``seconds`` (and the results that come from them)."""

    required_parameters = {"seconds": (int, float)}

    @staticmethod
    def select(catalog: Catalog, selection: Selection, seconds: float) -> Selection:
        rows = [r for r, e in selection.recording_entries(catalog) if e.summary.get("duration_s", 0) >= seconds]
        ids = {catalog.recordings[r].id for r in rows}
        results = [r for r, e in selection.result_entries(catalog).items() if set(e.sources) <= ids]
        return selection.derive(catalog, recordings=rows, results=results)


def test_a_new_query_kind_is_nameable_in_a_chain():
    assert "LongRecordingsQuery" in QUERIES and QUERIES["LongRecordingsQuery"] is LongRecordingsQuery
    chain = [{"class": "LongRecordingsQuery", "params": {"seconds": 2}},
             {"class": "ParamFilterQuery", "params": {"params": {"culture": "C7"}}}]
    view = run_query_chain(CatalogView(_catalog()), chain)
    assert view.selection.recordings == (2,) and view.selection.results == (2,)
    with pytest.raises(ParameterError, match="seconds"):
        query_from_spec({"class": "LongRecordingsQuery", "params": {}})


def test_a_new_query_kind_runs_on_a_store(tmp_path):
    with cldata.open(tmp_path / "s", mode="a") as store:
        for seconds, culture in [(0.02, "C7"), (0.08, "C8")]:
            simulate_recording(tmp_path / f"{culture}.h5", duration_s=seconds, seed=1, samples=False)
            store.add_recording(tmp_path / f"{culture}.h5", {"culture": culture}, overview=False)
        long_ones = store.query([{"class": "LongRecordingsQuery", "params": {"seconds": 0.05}}])
        assert [r.parameters["culture"] for r in long_ones.recordings] == ["C8"]
        assert long_ones.full_datastore is store


def test_the_query_registry_is_read_only_and_lists_the_built_in_kinds():
    assert {"ParamFilterQuery", "StreamQuery", "TimeWindowQuery", "TagBasedQuery"} <= set(QUERIES)
    with pytest.raises(TypeError):
        QUERIES["Mine"] = LongRecordingsQuery  # type: ignore[index]
    with pytest.raises(ParameterError, match="unknown query class 'Nothing'"):
        query_from_spec({"class": "Nothing"})


def test_a_query_kind_from_an_installed_package_is_found_by_its_entry_point(monkeypatch):
    # a package declares [project.entry-points."cldata.queries"] LongRecordings = "module:Class"
    plugin = EntryPoint("PluginLongRecordingsQuery", f"{__name__}:LongRecordingsQuery", "cldata.queries")
    monkeypatch.setattr(cldata.core.registry, "entry_points",
                        lambda group: [plugin] if group == "cldata.queries" else [])
    assert "PluginLongRecordingsQuery" in QUERIES
    view = run_query_chain(CatalogView(_catalog()), [{"class": "PluginLongRecordingsQuery", "params": {"seconds": 2}}])
    assert view.selection.recordings == (1, 2)
