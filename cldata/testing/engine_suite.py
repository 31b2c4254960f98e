"""The catalog-engine conformance suite: what every catalog engine must answer, as pytest tests.

A catalog engine (:class:`cldata.model.engines.base.CatalogEngine`) keeps a store's catalog
on disk and answers the questions queries ask, at a generation. :class:`CatalogEngineTests`
checks an engine through that interface alone, the way :class:`cldata.testing.BackendTests`
checks a backend: a subclass names a registered engine and inherits every test. They
check that:

- a new catalog is empty at generation 0, and :meth:`~CatalogEngine.exists` says it is there;
- recordings and results read back as they were added, rows ascending in insertion order;
- every question (a parameter key, an element of a list, a path's presence, a numeric
  range, an identifier, a kind, a source, a tag) answers the rows that have it;
- the writer sees its changes at ``pending()``, a reader only at the generation it holds:
  a commit makes a new generation, a removal hides a row from later generations only,
  a rollback forgets what was not committed, and :meth:`~CatalogEngine.purge` changes no
  answer.

Examples
--------
.. code-block:: python

    # tests/test_my_engine.py of the package "cldata-postgres-catalog"
    from cldata.testing import CatalogEngineTests


    class TestPostgresEngine(CatalogEngineTests):
        engine_name = "postgres"   # its entry-point name in the group cldata.catalogs
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from cldata.model.engines import get_catalog_engine
from cldata.model.engines.base import CatalogEngine, canon_key

__all__ = ["CatalogEngineTests"]


def _result(rid: str, identifier: str, parameters: dict[str, Any], *, sources: tuple[str, ...] = ("rec_1",),
            tags: tuple[str, ...] = (), kind: str = "SingleValue") -> dict[str, Any]:
    return {"kind": "result", "id": rid, "type": kind, "identifier": identifier, "parameters": parameters,
            "sources": list(sources), "tags": list(tags), "payload": None, "summary": {}, "added_utc": ""}


def _recording(rid: str, culture: str) -> dict[str, Any]:
    return {"kind": "recording", "id": rid, "parameters": {"culture": culture}, "streams": {},
            "location": {"kind": "copy", "path": f"recordings/{rid}.h5"},
            "summary": {"frames_per_second": 25000, "channel_count": 64}, "added_utc": ""}


class CatalogEngineTests:
    """Conformance tests for a catalog engine: subclass, set ``engine_name``, run pytest.

    Attributes
    ----------
    engine_name : str
        The name the engine is registered under (``cldata.open(root, catalog=...)``).
    """

    __test__ = False
    engine_name: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__test__" not in cls.__dict__:
            cls.__test__ = True  # subclasses are collected; the base class is not

    @pytest.fixture
    def engines(self, tmp_path: Path) -> Iterator[list[CatalogEngine]]:
        """Every engine a test opens (closed after it)."""
        if not self.engine_name:
            pytest.fail(f"{type(self).__name__} must set engine_name (the name of the engine to test)")
        opened: list[CatalogEngine] = []
        yield opened
        for engine in reversed(opened):
            engine.close()

    def open_engine(self, engines: list[CatalogEngine], root: Path, *, writable: bool) -> CatalogEngine:
        """Open the engine on ``root`` (``writable``: as the store's writer, creating the catalog if needed)."""
        cls = get_catalog_engine(self.engine_name)
        engine = cls(root, writable=writable)
        if writable and not cls.exists(root):
            engine.create()
        engine.open()
        engines.append(engine)
        return engine

    def filled(self, engines: list[CatalogEngine], root: Path) -> tuple[CatalogEngine, list[int]]:
        """A writer holding two recordings and three results, committed; the results' rows."""
        writer = self.open_engine(engines, root, writable=True)
        writer.add_recording(_recording("rec_1", "C7"))
        writer.add_recording(_recording("rec_2", "C8"))
        rows = writer.add_results([
            _result("res_a", "rate", {"culture": "C7", "window_s": 1.0, "channels": [1, 2]}, tags=("final",)),
            _result("res_b", "rate", {"culture": "C8", "window_s": 2.5}, sources=("rec_2",)),
            _result("res_c", "psth", {"culture": "C7", "bin": {"ms": 5}}, kind="TimeSeries", tags=("final", "x")),
        ])
        writer.commit()
        return writer, rows

    # -- tests -------------------------------------------------------------------------------------

    def test_a_new_catalog_is_empty(self, engines: list[CatalogEngine], tmp_path: Path) -> None:
        engine = self.open_engine(engines, tmp_path, writable=True)
        assert type(engine).exists(tmp_path)
        gen = engine.generation()
        assert engine.recordings(gen) == [] and engine.result_rows(gen) == [] and engine.result_count(gen) == 0
        assert engine.pending() == gen + 1

    def test_entries_read_back_in_insertion_order(self, engines: list[CatalogEngine], tmp_path: Path) -> None:
        writer, rows = self.filled(engines, tmp_path)
        gen = writer.generation()
        assert rows == sorted(rows) and len(set(rows)) == 3
        assert [r["id"] for r in writer.recordings(gen)] == ["rec_1", "rec_2"]
        assert writer.result_rows(gen) == rows and writer.result_count(gen) == 3
        records = writer.results(gen, rows)
        assert [records[r]["id"] for r in rows] == ["res_a", "res_b", "res_c"]
        assert records[rows[0]]["parameters"] == {"culture": "C7", "window_s": 1.0, "channels": [1, 2]}
        assert list(records[rows[2]]["tags"]) == ["final", "x"]
        assert writer.row_of(gen, "res_b") == rows[1] and writer.row_of(gen, "res_z") is None
        assert writer.existing_ids(gen, ["res_a", "res_z", "res_c"]) == {"res_a", "res_c"}

    def test_questions_answer_the_rows_that_have_it(self, engines: list[CatalogEngine], tmp_path: Path) -> None:
        writer, (a, b, c) = self.filled(engines, tmp_path)
        gen = writer.generation()
        assert set(writer.rows_with_key(gen, "culture", canon_key("C7"))) == {a, c}
        assert set(writer.rows_with_key(gen, "bin.ms", canon_key(5))) == {c}
        assert set(writer.rows_with_key(gen, "channels", canon_key(2), element=True)) == {a}
        assert set(writer.rows_with_path(gen, "window_s")) == {a, b}
        assert writer.has_path(gen, "window_s") and not writer.has_path(gen, "nothing")
        assert {"culture", "window_s", "channels", "bin", "bin.ms"} <= set(writer.paths(gen))
        assert set(writer.range_rows(gen, "window_s", 2.0, None, (True, True))) == {b}
        assert set(writer.range_rows(gen, "window_s", None, 2.5, (True, False))) == {a}
        values, value_rows = writer.numeric(gen, "window_s")
        assert list(values) == [1.0, 2.5] and list(value_rows) == [a, b]
        assert sorted(row for _, row in writer.postings(gen, "culture")) == [a, b, c]
        assert len(writer.keys_at(gen, "culture")) == 2
        assert set(writer.rows_with_field(gen, "identifier", "rate")) == {a, b}
        assert set(writer.rows_with_field(gen, "kind", "TimeSeries")) == {c}
        assert sorted(writer.field_values(gen, "identifier")) == ["psth", "rate"]
        assert set(writer.rows_from(gen, "rec_1")) == {a, c} and set(writer.rows_from(gen, "rec_9")) == set()
        assert set(writer.rows_from_without(gen, ["rec_1", "rec_2"], "window_s")) == {c}
        assert set(writer.rows_tagged(gen, "final")) == {a, c} and sorted(writer.tags(gen)) == ["final", "x"]

    def test_a_reader_sees_its_generation_the_writer_its_changes(self, engines: list[CatalogEngine],
                                                                  tmp_path: Path) -> None:
        writer, (a, b, c) = self.filled(engines, tmp_path)
        reader = self.open_engine(engines, tmp_path, writable=False)
        seen = reader.generation()
        writer.remove_result(b)
        (d,) = writer.add_results([_result("res_d", "rate", {"culture": "C7"})])
        assert set(writer.rows_with_key(writer.pending(), "culture", canon_key("C7"))) == {a, c, d}
        assert writer.result_rows(writer.pending()) == [a, c, d]
        assert reader.result_rows(seen) == [a, b, c]  # nothing committed yet
        writer.commit()
        assert reader.generation() == seen + 1
        assert reader.result_rows(seen) == [a, b, c]  # the generation it holds does not change
        assert reader.result_rows(seen + 1) == [a, c, d]
        assert set(reader.rows_from(seen + 1, "rec_2")) == set()
        assert reader.row_of(seen + 1, "res_b") is None and reader.row_of(seen, "res_b") == b

    def test_rollback_forgets_what_was_not_committed(self, engines: list[CatalogEngine], tmp_path: Path) -> None:
        writer, rows = self.filled(engines, tmp_path)
        gen = writer.generation()
        writer.add_results([_result("res_d", "rate", {"culture": "C9"})])
        writer.remove_result(rows[0])
        writer.add_recording(_recording("rec_3", "C9"))
        writer.rollback()
        assert writer.generation() == gen and writer.result_rows(writer.pending()) == rows
        assert [r["id"] for r in writer.recordings(writer.pending())] == ["rec_1", "rec_2"]
        assert set(writer.rows_with_key(writer.pending(), "culture", canon_key("C9"))) == set()

    def test_purge_changes_no_answer(self, engines: list[CatalogEngine], tmp_path: Path) -> None:
        writer, (a, b, c) = self.filled(engines, tmp_path)
        writer.remove_result(a)
        writer.remove_recording("rec_2")
        writer.commit()
        gen = writer.generation()
        before = (writer.result_rows(gen), set(writer.rows_tagged(gen, "final")), writer.recordings(gen))
        writer.purge()
        assert (writer.result_rows(gen), set(writer.rows_tagged(gen, "final")), writer.recordings(gen)) == before
        assert before[0] == [b, c] and [r["id"] for r in before[2]] == ["rec_1"]
