"""The commit tests of the backend conformance suite: a store shows exactly its last commit.

Rollbacks, ``close(commit=False)``, a ``with`` block that raises and a commit interrupted
half-way leave the last committed state; many commits keep the right content; readers see
only commits (``refresh`` shows later ones); one writer at a time; a read-only store
refuses every change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import quantities as pq

import cldata
from cldata.backends import SegmentedBackend
from cldata.errors import ReadOnlyStoreError, StoreLockedError
from cldata.testing.backend_helpers import BIG_PAYLOAD_VALUES, BackendHelpers

__all__ = ["CommitTests"]


class CommitTests(BackendHelpers):
    """Tests of the backend conformance suite: a store shows exactly its last commit (see module doc)."""

    # -- transactions ---------------------------------------------------------------------------------

    def _baseline(self, store_path: Path, source_dir: Path,
                  catalog: str | None = None) -> tuple[str, list[cldata.AnalysisResult]]:
        """A committed store with one copied recording and two results (one in a payload file)."""
        rec = self.make_recording(source_dir, "base", seed=21, culture="C7")
        with self.open_store(store_path, "a", catalog=catalog) as store:
            rid = store.add_recording(rec["path"])
            results = [cldata.SingleValue("v", 1.5 * pq.mV, sources=[rid]),
                       cldata.Data("big", {"trace": np.linspace(0, 1, BIG_PAYLOAD_VALUES)}, sources=[rid])]
            store.add_analysis_results(results)
        return rid, results

    def _assert_baseline(self, store: cldata.DataStore, rid: str, results: list[cldata.AnalysisResult]) -> None:
        assert store.recording_ids == [rid]
        assert [r.id for r in store.analysis_results] == [r.result_id for r in results]
        for got, exp in zip(store.analysis_results, results):
            self.assert_same_result(got, exp)
        assert len(store.recording(rid).segment(lazy=False).spiketrains) == 64

    def _change_everything(self, store: cldata.DataStore, rid: str, source_dir: Path) -> str:
        """Add a recording and results, remove a result: uncommitted changes of every sort."""
        new = self.make_recording(source_dir, "new", seed=22, culture="C8")
        new_id = store.add_recording(new["path"])
        store.add_analysis_results([
            cldata.SingleValue("w", 2.0, sources=[new_id]),
            cldata.Data("big2", {"trace": np.zeros(BIG_PAYLOAD_VALUES)}, sources=[rid, new_id]),
        ])
        store.remove_analysis_result(store.filter_results(identifier="v").analysis_results[0].id)
        assert store.dirty
        return new_id

    def test_rollback_discards_changes(self, store_path: Path, source_dir: Path) -> None:
        rid, results = self._baseline(store_path, source_dir)
        store = self.open_store(store_path, "a")
        self._change_everything(store, rid, source_dir)
        store.remove_recording(rid, cascade=True)
        assert store.recording_ids != [rid]
        store.rollback()
        assert not store.dirty
        self._assert_baseline(store, rid, results)
        store.close()
        with self.open_store(store_path) as store:
            self._assert_baseline(store, rid, results)

    def test_uncommitted_changes_are_invisible_and_dropped_by_close_without_commit(
        self, store_path: Path, source_dir: Path
    ) -> None:
        rid, results = self._baseline(store_path, source_dir)
        writer = self.open_store(store_path, "a")
        new_id = self._change_everything(writer, rid, source_dir)
        assert new_id in writer.recording_ids  # the writer sees its own changes
        with self.open_store(store_path) as reader:
            self._assert_baseline(reader, rid, results)
        writer.close(commit=False)
        with self.open_store(store_path) as store:
            self._assert_baseline(store, rid, results)
        with self.open_store(store_path, "a") as store:  # not locked, and still the baseline
            self._assert_baseline(store, rid, results)

    def test_with_block_commits_or_keeps_nothing(self, store_path: Path, source_dir: Path) -> None:
        rid, results = self._baseline(store_path, source_dir)
        with pytest.raises(RuntimeError, match="analysis failed"):
            with self.open_store(store_path, "a") as store:
                self._change_everything(store, rid, source_dir)
                raise RuntimeError("analysis failed")
        assert store.closed
        with self.open_store(store_path) as store:
            self._assert_baseline(store, rid, results)
        with self.open_store(store_path, "a") as store:  # a block that ends normally commits
            extra = cldata.SingleValue("extra", 9.0, sources=[rid])
            store.add_analysis_result(extra)
        with self.open_store(store_path) as store:
            self._assert_baseline(store.filter_results(identifier=["v", "big"]), rid, results)
            self.assert_same_result(store.filter_results(identifier="extra").analysis_results[0], extra)

    @pytest.mark.parametrize("catalog", ["sqlite", "backend"])
    def test_interrupted_commit_keeps_the_last_commit(self, store_path: Path, source_dir: Path,
                                                      monkeypatch: pytest.MonkeyPatch, catalog: str) -> None:
        """A commit that fails once the payloads are written (SQLite catalog: before the catalog commits;
        the backend's segment log: after a segment is written, before it is published) leaves exactly the
        last commit, to readers and to the writer after a rollback."""
        rid, results = self._baseline(store_path, source_dir, catalog)
        store = self.open_store(store_path, "a", catalog=catalog)
        backend = store.backend
        if store.engine is not None:
            def crash_before_the_catalog_commits() -> None:
                raise OSError("simulated crash after the payloads were written")

            monkeypatch.setattr(store.engine, "commit", crash_before_the_catalog_commits)
        else:
            if not isinstance(backend, SegmentedBackend):
                pytest.skip("simulates a crash between writing a catalog segment and publishing it "
                            "(SegmentedBackend)")
            write_segment = backend.write_segment

            def crash_after_writing(path: Path, records: list[dict[str, Any]]) -> None:
                write_segment(path, records)
                raise OSError("simulated crash after the segment was written")

            monkeypatch.setattr(backend, "write_segment", crash_after_writing)
        self._change_everything(store, rid, source_dir)
        with pytest.raises(OSError, match="simulated crash"):
            store.commit()
        with self.open_store(store_path) as reader:
            self._assert_baseline(reader, rid, results)
        monkeypatch.undo()
        store.rollback()
        self._assert_baseline(store, rid, results)
        store.close()
        with self.open_store(store_path) as store:
            self._assert_baseline(store, rid, results)

    def test_many_commits(self, store_path: Path, source_dir: Path) -> None:
        """More commits than a segmented backend keeps segments (it compacts), with removals and
        replacements, and a reader that refreshes at the end."""
        rec = self.make_recording(source_dir, "a", seed=1)
        store = self.open_store(store_path, "a", replace=True)
        rid = store.add_recording(rec["path"])
        store.commit()
        reader = self.open_store(store_path)
        expected: dict[int, cldata.AnalysisResult] = {}  # insertion order = store order
        for i in range(45):
            value = {"i": i, "trace": np.full(BIG_PAYLOAD_VALUES if i % 10 == 3 else 4, float(i))}
            result = cldata.Data("step", value, parameters={"i": i % 30}, sources=[rid])
            store.add_analysis_result(result)  # i >= 30 replaces the result of i - 30
            expected.pop(i % 30, None)
            expected[i % 30] = result
            if i % 7 == 6:
                victim = next(iter(expected))
                store.remove_analysis_result(expected.pop(victim).result_id)
            store.commit()
        assert [r.id for r in store.analysis_results] == [r.result_id for r in expected.values()]
        assert reader.analysis_results == []
        reader.refresh()
        for view in (store, reader):
            results = view.analysis_results
            assert [r.id for r in results] == [r.result_id for r in expected.values()]
            for got, exp in zip(results, expected.values()):
                self.assert_same_result(got, exp)
        reader.close()
        store.close()
        with self.open_store(store_path, "a"):
            pass  # a writer session with no reader open may clean up old segments
        with self.open_store(store_path) as store:
            results = store.analysis_results
            assert [r.id for r in results] == [r.result_id for r in expected.values()]
            for got, exp in zip(results, expected.values()):
                self.assert_same_result(got, exp)

    # -- readers and writers --------------------------------------------------------------------------

    def test_reader_refresh_sees_later_commits(self, store_path: Path, source_dir: Path) -> None:
        a = self.make_recording(source_dir, "a", seed=1)
        b = self.make_recording(source_dir, "b", seed=2)
        writer = self.open_store(store_path, "a")
        ra = writer.add_recording(a["path"])
        first = cldata.SingleValue("first", 1.0, sources=[ra])
        writer.add_analysis_result(first)
        writer.commit()
        reader = self.open_store(store_path)
        assert reader.recording_ids == [ra]

        rb = writer.add_recording(b["path"])
        second = cldata.Data("second", {"trace": np.arange(BIG_PAYLOAD_VALUES, dtype=np.int64)}, sources=[rb])
        writer.add_analysis_result(second)
        writer.remove_analysis_result(first.result_id)
        reader.refresh()
        assert reader.recording_ids == [ra], "uncommitted changes must not be visible to readers"
        writer.commit()
        assert reader.recording_ids == [ra] and [r.id for r in reader.analysis_results] == [first.result_id]
        reader.refresh()
        assert reader.recording_ids == [ra, rb]
        assert [r.id for r in reader.analysis_results] == [second.result_id]
        self.assert_same_result(reader.analysis_results[0], second)
        segment = reader.recording(rb).segment(lazy=False)
        assert sum(len(st) for st in segment.spiketrains) == b["spikes"]
        writer.close()
        reader.close()

    def test_one_writer_at_a_time_readers_still_work(self, store_path: Path, source_dir: Path) -> None:
        rid, results = self._baseline(store_path, source_dir)
        writer = self.open_store(store_path, "a")
        for mode in ("a", "w"):
            with pytest.raises(StoreLockedError):
                self.open_store(store_path, mode)
        with self.open_store(store_path) as reader:  # readers do not wait for the writer
            self._assert_baseline(reader, rid, results)
        self._assert_baseline(writer, rid, results)  # "w" by the second writer wiped nothing
        writer.close()
        with self.open_store(store_path, "a") as writer:  # the lock is released at close
            self._assert_baseline(writer, rid, results)

    def test_read_only_store_refuses_changes(self, store_path: Path, source_dir: Path) -> None:
        rid, results = self._baseline(store_path, source_dir)
        other = self.make_recording(source_dir, "other", seed=5)
        store = self.open_store(store_path, "r")
        assert not store.writable
        attempts = [
            lambda: store.add_recording(other["path"]),
            lambda: store.add_recording(other["path"], link=True),
            lambda: store.add_analysis_result(cldata.SingleValue("x", 1.0, sources=[rid])),
            lambda: store.add_analysis_results([cldata.SingleValue("y", 1.0, sources=[rid])]),
            lambda: store.remove_analysis_result(results[0].result_id),
            lambda: store.remove_recording(rid, cascade=True),
            store.commit,
            store.rollback,
        ]
        for attempt in attempts:
            with pytest.raises(ReadOnlyStoreError):
                attempt()
        self._assert_baseline(store, rid, results)
        store.close()
        with self.open_store(store_path) as store:
            self._assert_baseline(store, rid, results)

