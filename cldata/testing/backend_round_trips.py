"""The round-trip tests of the backend conformance suite: what goes into a store reads back the same.

An empty store is created and reopened; recordings (copied or linked) and results of
every kind read back equal; duplicates raise and change nothing, ``replace=True``
replaces, removals remove; parameter queries answer the same on every backend.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import quantities as pq

import cldata
from cldata.backends import get_backend
from cldata.errors import (
    BrokenLinkError,
    DuplicateRecordingError,
    DuplicateResultError,
    NotFoundError,
    ParameterError,
    StoreError,
    StoreFormatError,
    UniquenessError,
)
from cldata.testing.backend_helpers import BIG_PAYLOAD_VALUES, BackendHelpers

__all__ = ["RoundTripTests"]


class RoundTripTests(BackendHelpers):
    """Tests of the backend conformance suite: what goes into a store reads back the same (see module doc)."""

    # -- creating and opening -------------------------------------------------------------------------

    def test_create_empty_store_and_reopen(self, store_path: Path) -> None:
        store = self.open_store(store_path, "a")
        assert store.writable and not store.dirty
        assert store.recording_ids == [] and store.analysis_results == [] and len(store) == 0
        assert isinstance(store.backend, get_backend(self.backend_name))
        store.close()
        assert store.closed

        with self.open_store(store_path) as store:
            assert not store.writable
            assert store.recording_ids == [] and store.analysis_results == []
        # the store remembers its backend: backend=None opens it with the same one
        with cldata.open(store_path, **self.backend_options) as store:
            assert isinstance(store.backend, get_backend(self.backend_name))
            assert len(store) == 0
        # as a batch run opens it, from parameters
        params = {"root_directory": str(store_path), "backend": self.backend_name, "mode": "r",
                  "options": dict(self.backend_options)}
        with cldata.open(params) as store:
            assert store.recording_ids == []
        # ...and refuses to be read as another backend's store
        with pytest.raises(StoreFormatError):
            cldata.open(store_path, backend=self.other_backend(), mode="r")

    def test_non_store_directory_is_refused(self, tmp_path: Path) -> None:
        empty = tmp_path / "empty"
        empty.mkdir()
        with pytest.raises(StoreFormatError):
            self.open_store(empty, "r")
        missing = tmp_path / "missing"
        with pytest.raises(StoreFormatError):
            self.open_store(missing, "r")
        assert not missing.exists(), "opening a missing store read-only must not create it"
        foreign = tmp_path / "foreign"
        foreign.mkdir()
        (foreign / "notes.txt").write_text("not a store")
        for mode in ("r", "a", "w"):
            with pytest.raises(StoreFormatError):
                self.open_store(foreign, mode)
        assert (foreign / "notes.txt").read_text() == "not a store"

    def test_mode_w_discards_the_contents(self, store_path: Path, source_dir: Path) -> None:
        rec = self.make_recording(source_dir, "a", seed=1)
        with self.open_store(store_path, "a") as store:
            rid = store.add_recording(rec["path"])
            store.add_analysis_result(cldata.SingleValue("v", 1.0, sources=[rid]))
        with self.open_store(store_path, "w") as store:
            assert store.recording_ids == [] and store.analysis_results == []
        with self.open_store(store_path) as store:
            assert store.recording_ids == [] and store.analysis_results == []
        with self.open_store(store_path, "a") as store:  # and it works as a new store
            assert store.add_recording(rec["path"]) == rid
        with self.open_store(store_path) as store:
            assert store.recording_ids == [rid]
            assert store.recording(rid).summary["spikes"] == rec["spikes"]

    # -- recordings -----------------------------------------------------------------------------------

    def test_copied_recording_round_trip(self, store_path: Path, source_dir: Path) -> None:
        rec = self.make_recording(source_dir, "a", seed=1, culture="C7", session=3, stimulation={"frequency": 4})
        with cldata.RecordingView(rec["path"]) as source:
            expected_segment = source.segment(lazy=False)
            expected_streams = self.read_streams(source)
        store = self.open_store(store_path, "a")
        rid = store.add_recording(rec["path"], {"culture": "C8", "operator": {"name": "ana", "shift": 2}})
        handle = store.recording(rid)
        written = (dict(handle.parameters), dict(handle.summary))
        store.commit()
        store.close()
        rec["path"].unlink()  # a copied recording no longer needs its source

        with self.open_store(store_path) as store:
            assert store.recording_ids == [rid]
            handle = store.recording(rid)
            params = handle.parameters
            self.assert_same(dict(params), written[0], "parameters")
            self.assert_same(dict(handle.summary), written[1], "summary")
            # user parameters win over the file's application attributes, which win over its root attributes
            assert params["culture"] == "C8" and params["session"] == 3
            assert params["stimulation"] == {"frequency": 4}
            assert params["operator"] == {"name": "ana", "shift": 2}
            assert params["channel_count"] == 64 and params["frames_per_second"] == 25000
            assert params["application"]["culture"] == "C7"
            summary = handle.summary
            assert summary["duration_s"] == pytest.approx(0.2)
            assert summary["spikes"] == rec["spikes"] and summary["stims"] == rec["stims"]
            assert summary["streams"] == {"ball_position": rec["ball_entries"], "score": rec["points"]}
            assert handle.stream_names == ["ball_position", "score"]
            got_streams = self.read_streams(handle)
            self.assert_same(got_streams, expected_streams, "data streams")
            segment = handle.segment(lazy=False)
            assert sum(len(st) for st in segment.spiketrains) == rec["spikes"]
            assert segment.analogsignals[0].shape == (5000, 64)
            self.assert_same_segment(segment, expected_segment)
            assert segment.annotations["recording_id"] == rid
            assert handle.path.is_file()  # the store's own copy

    def test_linked_recording_round_trip(self, store_path: Path, source_dir: Path) -> None:
        rec = self.make_recording(source_dir, "a", seed=2, culture="C9")
        with cldata.RecordingView(rec["path"]) as source:
            expected_segment = source.segment(lazy=False)
            expected_streams = self.read_streams(source)
        with self.open_store(store_path, "a") as store:
            rid = store.add_recording(rec["path"], {"session": 5}, link=True)
        with self.open_store(store_path) as store:
            handle = store.recording(rid)
            assert handle.path.resolve() == rec["path"].resolve()  # not copied
            assert handle.parameters["culture"] == "C9" and handle.parameters["session"] == 5
            self.assert_same(self.read_streams(handle), expected_streams, "data streams")
            self.assert_same_segment(handle.segment(lazy=False), expected_segment)
        # removing a linked recording never deletes the file it links to
        with self.open_store(store_path, "a") as store:
            store.remove_recording(rid)
        with self.open_store(store_path, "a") as store:
            assert store.recording_ids == []
        assert rec["path"].is_file()
        with cldata.RecordingView(rec["path"]) as source:
            assert len(source.spikes) == rec["spikes"]

    def test_moved_linked_recording_raises_broken_link(self, store_path: Path, source_dir: Path) -> None:
        rec = self.make_recording(source_dir, "a", seed=3)
        with self.open_store(store_path, "a") as store:
            rid = store.add_recording(rec["path"], {"culture": "C7"}, link=True)
        moved = source_dir / "elsewhere.h5"
        rec["path"].rename(moved)
        with self.open_store(store_path) as store:
            handle = store.recording(rid)
            # the catalog still answers: no file needed for parameters and summary
            assert handle.parameters["culture"] == "C7" and handle.summary["spikes"] == rec["spikes"]
            assert store.filter(culture="C7").recording_ids == [rid]
            with pytest.raises(BrokenLinkError) as info:
                handle.segment(lazy=False)
            assert rec["path"].name in str(info.value)
            with pytest.raises(BrokenLinkError):
                handle.path  # noqa: B018 - the property raises
            assert isinstance(info.value, FileNotFoundError)
        moved.rename(rec["path"])  # put back, it reads again
        with self.open_store(store_path) as store:
            assert sum(len(st) for st in store.recording(rid).segment(lazy=False).spiketrains) == rec["spikes"]

    def test_recording_written_with_writer(self, store_path: Path, source_dir: Path) -> None:
        path = source_dir / "written.h5"
        entries = [(10, {"x": 1.5, "hit": True}), (20, np.arange(4, dtype=np.uint64) * 2**40),
                   (30, ["goal", 1, None]), (45, "final"), (46, b"\x00raw")]
        writer = cldata.RecordingWriter(path, attributes={"culture": "W1", "session": 1})
        stream = writer.create_data_stream("events", {"kind": "game", "arena": [640, 480]})
        for ts, value in entries:
            stream.append(ts, value)
        writer.append_spikes(np.array([5, 9, 400]), np.array([1, 2, 63], dtype=np.uint8),
                             np.ones((3, 75), dtype=np.float32))
        writer.append_stims(np.array([100]), np.array([8]))
        with self.open_store(store_path, "a") as store:
            rid = store.add_recording(writer, {"session": 2})  # the store closes the writer
        with self.open_store(store_path) as store:
            handle = store.recording(rid)
            assert handle.parameters["culture"] == "W1" and handle.parameters["session"] == 2
            assert handle.summary["spikes"] == 3 and handle.summary["stims"] == 1
            assert handle.summary["sample_frames"] == 0
            streams = self.read_streams(handle)
            assert list(streams) == ["events"]
            self.assert_same(streams["events"][0], {"kind": "game", "arena": [640, 480]}, "stream attributes")
            self.assert_same(streams["events"][1], entries, "stream entries")
            segment = handle.segment(lazy=False)
            assert sorted(i for i, st in enumerate(segment.spiketrains) if len(st)) == [1, 2, 63]

    # -- analysis results -----------------------------------------------------------------------------

    def test_results_round_trip(self, store_path: Path, source_dir: Path) -> None:
        a = self.make_recording(source_dir, "a", seed=1)
        b = self.make_recording(source_dir, "b", seed=2)
        store = self.open_store(store_path, "a")
        first, second = store.add_recording(a["path"]), store.add_recording(b["path"], link=True)
        expected = self.example_results(first, second)
        ids = store.add_analysis_results(expected[:4])
        assert ids == [r.result_id for r in expected[:4]]
        store.commit()
        ids += [store.add_analysis_result(r) for r in expected[4:]]  # a second commit, with two payload kinds
        # before the commit, the writer reads its own pending results
        for got, exp in zip(store.analysis_results, expected):
            self.assert_same_result(got, exp)
        store.commit()
        store.close()

        with self.open_store(store_path) as store:
            results = store.analysis_results
            assert [r.id for r in results] == ids
            assert not any(r.loaded for r in results), "payloads must load lazily"
            for got, exp in zip(results, expected):
                self.assert_same_result(got, exp)
            assert len(store.filter_results(identifier="big").analysis_results[0].value["trace"]) == BIG_PAYLOAD_VALUES
            assert store.recording_ids == [first, second]

        # a second writer session adds more, and everything is still there after it
        with self.open_store(store_path, "a") as store:
            extra = cldata.Data("later", {"trace": np.arange(BIG_PAYLOAD_VALUES, dtype=np.float64)}, sources=[first])
            store.add_analysis_result(extra)
        with self.open_store(store_path) as store:
            results = store.analysis_results
            assert [r.id for r in results] == [*ids, extra.result_id]
            for got, exp in zip(results, [*expected, extra]):
                self.assert_same_result(got, exp)

    def test_duplicate_recording_raises_and_changes_nothing(self, store_path: Path, source_dir: Path) -> None:
        rec = self.make_recording(source_dir, "a", seed=1)
        store = self.open_store(store_path, "a")
        rid = store.add_recording(rec["path"], {"culture": "C7"})
        store.commit()
        before = self.contents(store)
        for link in (False, True):
            with pytest.raises(DuplicateRecordingError):
                store.add_recording(rec["path"], {"culture": "other"}, link=link)
        assert not store.dirty and self.contents(store) == before
        store.close()
        with self.open_store(store_path) as store:
            assert self.contents(store) == before
            assert store.recording(rid).parameters["culture"] == "C7"
            assert store.recording(rid).summary["spikes"] == rec["spikes"]

    def test_duplicate_result_raises_and_changes_nothing(self, store_path: Path, source_dir: Path) -> None:
        rec = self.make_recording(source_dir, "a", seed=1)
        store = self.open_store(store_path, "a")
        rid = store.add_recording(rec["path"])
        store.add_analysis_result(cldata.SingleValue("rate", 1.0 * pq.Hz, parameters={"bin": 5 * pq.ms, "n": 1},
                                                     sources=[rid], tags=["first"]))
        store.commit()
        before = self.contents(store)
        # the same identity, spelled differently: 0.005 s is 5 ms, 1.0 is 1
        same = cldata.SingleValue("rate", 2.0 * pq.Hz, parameters={"n": 1.0, "bin": 0.005 * pq.s}, sources=[rid])
        new = cldata.SingleValue("rate", 3.0 * pq.Hz, parameters={"bin": 10 * pq.ms, "n": 1}, sources=[rid])
        with pytest.raises(DuplicateResultError):
            store.add_analysis_result(same)
        with pytest.raises(DuplicateResultError):
            store.add_analysis_results([new, same])  # all or nothing: `new` is not added either
        with pytest.raises(DuplicateResultError):
            store.add_analysis_results([new, new])
        assert not store.dirty and self.contents(store) == before
        store.close()
        with self.open_store(store_path) as store:
            assert self.contents(store) == before
            self.assert_same(store.analysis_results[0].value, 1.0 * pq.Hz)

    def test_replace_true_replaces(self, store_path: Path, source_dir: Path) -> None:
        a = self.make_recording(source_dir, "a", seed=1)
        b = self.make_recording(source_dir, "b", seed=2)
        with self.open_store(store_path, "a") as store:
            ra = store.add_recording(a["path"], {"culture": "C7"})
            rb = store.add_recording(b["path"], {"culture": "C8"}, link=True)
            old = cldata.Data("stats", {"n": 1, "trace": np.zeros(BIG_PAYLOAD_VALUES)}, parameters={"k": 1},
                              sources=[ra], tags=["old"])
            keep = cldata.SingleValue("keep", 5.0, sources=[rb])
            store.add_analysis_results([old, keep])
        with self.open_store(store_path, "a", replace=True) as store:
            new = cldata.Data("stats", {"n": 2, "trace": np.ones(3)}, parameters={"k": 1.0}, sources=[ra], tags=["new"])
            assert store.add_analysis_result(new) == old.result_id
            assert store.add_recording(a["path"], {"culture": "C7b"}, link=True) == ra  # copied -> linked
            assert store.add_recording(b["path"], {"culture": "C8b"}) == rb  # linked -> copied
            assert len(store.analysis_results) == 2 and len(store.recording_ids) == 2
        b["path"].unlink()  # now copied into the store
        with self.open_store(store_path) as store:
            assert sorted(store.recording_ids) == sorted([ra, rb])
            assert store.recording(ra).parameters["culture"] == "C7b"
            assert store.recording(rb).parameters["culture"] == "C8b"
            assert store.recording(ra).path.resolve() == a["path"].resolve()
            assert sum(len(st) for st in store.recording(rb).segment(lazy=False).spiketrains) == b["spikes"]
            results = {r.identifier: r for r in store.analysis_results}
            assert set(results) == {"stats", "keep"}
            self.assert_same_result(results["stats"], new)
            self.assert_same_result(results["keep"], keep)

    # -- removing -------------------------------------------------------------------------------------

    def test_remove_recordings_and_results(self, store_path: Path, source_dir: Path) -> None:
        recs = [self.make_recording(source_dir, n, seed=i) for i, n in enumerate("abc")]
        with self.open_store(store_path, "a") as store:
            ra, rb, rc = (store.add_recording(r["path"], {"name": n}) for r, n in zip(recs, "abc"))
            only_a = cldata.Data("a-big", {"trace": np.zeros(BIG_PAYLOAD_VALUES)}, sources=[ra])
            both = cldata.SingleValue("pair", 1.0, sources=[ra, rb])
            only_b = cldata.SingleValue("b", 2.0, sources=[rb])
            only_c = cldata.Data("c-big", {"trace": np.full(BIG_PAYLOAD_VALUES, 3.0)}, sources=[rc])
            extra_c = cldata.SingleValue("c", 3.0, sources=[rc])
            store.add_analysis_results([only_a, both, only_b, only_c, extra_c])

        store = self.open_store(store_path, "a")
        before = self.contents(store)
        with pytest.raises(StoreError):
            store.remove_recording(ra)  # results come from it
        assert self.contents(store) == before and not store.dirty
        with pytest.raises(NotFoundError):
            store.remove_recording("rec-does-not-exist")
        with pytest.raises(NotFoundError):
            store.remove_analysis_result("res-does-not-exist")
        store.remove_recording(ra, cascade=True)  # takes only_a and both
        store.remove_analysis_result(only_b.result_id)
        store.remove_recording(rb)  # no results left: no cascade needed
        store.remove_analysis_result(extra_c.result_id)
        expected = ([rc], [only_c.result_id])
        assert (store.recording_ids, [r.id for r in store.analysis_results]) == expected
        store.commit()
        store.close()

        with self.open_store(store_path) as store:
            assert (store.recording_ids, [r.id for r in store.analysis_results]) == expected
            self.assert_same_result(store.analysis_results[0], only_c)
            with pytest.raises(NotFoundError):
                store.recording(ra)
        # a writer session (which may clean up unused files) keeps what is live
        with self.open_store(store_path, "a"):
            pass
        with self.open_store(store_path) as store:
            self.assert_same_result(store.analysis_results[0], only_c)
            segment = store.recording(rc).segment(lazy=False)
            assert sum(len(st) for st in segment.spiketrains) == recs[2]["spikes"]

    # -- queries --------------------------------------------------------------------------------------

    def test_queries(self, store_path: Path, source_dir: Path) -> None:
        """Parameter queries answer the same before a commit, after it, and on every backend."""
        setups = [("r1", "C7", 1, 4, "pong"), ("r2", "C7", 2, 8, "pong"), ("r3", "C9", 3, 4, "rest")]
        store = self.open_store(store_path, "a")
        ids = {}
        for i, (name, culture, session, freq, protocol) in enumerate(setups):
            rec = self.make_recording(source_dir, name, seed=i, culture=culture, session=session)
            ids[name] = store.add_recording(rec["path"], link=i == 1, parameters={
                "name": name, "stimulation": {"frequency": freq, "amplitude": 1.5 * pq.uA},
                "protocol": {"name": protocol, "levels": [1, 2]},
            })
        for name, rid in ids.items():
            store.add_analysis_results([
                cldata.SingleValue("mean_rate", 1.0, parameters={"window_s": 1.0, "label": name}, sources=[rid]),
                # a result's own parameter hides the recording's one of the same name
                cldata.SingleValue("peak", 2.0, parameters={"window_s": 2.0, "culture": "X", "label": name},
                                   sources=[rid]),
            ])

        def answer(view: cldata.DataStoreView) -> tuple[list[str], list[tuple[str, str]]]:
            names = {v: k for k, v in ids.items()}
            return ([names[r] for r in view.recording_ids],
                    [(r.identifier, r.parameters["label"]) for r in view.analysis_results])

        both = [("mean_rate", "r1"), ("peak", "r1"), ("mean_rate", "r2"), ("peak", "r2"), ("mean_rate", "r3"),
                ("peak", "r3")]
        cases: list[tuple[dict[str, Any], tuple[list[str], list[tuple[str, str]]]]] = [
            ({"culture": "C7"}, (["r1", "r2"], [("mean_rate", "r1"), ("mean_rate", "r2")])),
            ({"culture": ["C9", "C8"]}, (["r3"], [("mean_rate", "r3")])),
            ({"st_frequency": 4}, (["r1", "r3"], [both[0], both[1], both[4], both[5]])),
            ({"stimulation.frequency": 8}, (["r2"], [both[2], both[3]])),
            ({"protocol__name": "rest"}, (["r3"], [both[4], both[5]])),
            ({"protocol.levels": (1, 2)}, (["r1", "r2", "r3"], both)),
            ({"session": cldata.Range(2, None)}, (["r2", "r3"], both[2:])),
            ({"session": cldata.Range(1, 2)}, (["r1"], both[:2])),
            ({"st_amplitude": 1500 * pq.nA}, (["r1", "r2", "r3"], both)),
            ({"identifier": "mean_rate", "culture": "C9"}, (["r3"], [("mean_rate", "r3")])),
            ({"identifier": "peak", "culture": "X"}, ([], [("peak", "r1"), ("peak", "r2"), ("peak", "r3")])),
            ({"culture": "C7", "session": 2, "window_s": 1.0}, ([], [("mean_rate", "r2")])),
            ({"window_s": cldata.Range(1.5, None)}, ([], [("peak", "r1"), ("peak", "r2"), ("peak", "r3")])),
            ({"culture": "nope"}, ([], [])),
        ]

        def check(view: cldata.DataStore) -> None:
            for criteria, expected in cases:
                got = answer(view.filter(**criteria))
                assert got == expected, f"filter({criteria}) gave {got}, not {expected}"
            assert answer(view.filter_recordings(culture="C7")) == (["r1", "r2"], both)
            assert answer(view.filter_results(label="r2")) == (["r1", "r2", "r3"], both[2:4])
            assert answer(view.filter(culture="C7").filter(session=2)) == (["r2"], [("mean_rate", "r2")])
            one = view.filter(identifier="mean_rate", session=3, ads_unique=True).analysis_results
            assert [(r.identifier, r.parameters["label"]) for r in one] == [("mean_rate", "r3")]
            with pytest.raises(UniquenessError):
                view.filter(identifier="mean_rate", ads_unique=True)
            assert view.filter(culture="C9", rec_unique=True).recording_ids == [ids["r3"]]
            with pytest.raises(UniquenessError):
                view.filter(culture="C7", rec_unique=True)
            with pytest.raises(ParameterError):
                view.filter(cultre="C7")  # a misspelt parameter name raises, rather than matching nothing
            assert view.parameter_values("culture", kind="recordings") == ["C7", "C9"]
            assert view.parameter_values("stimulation.frequency", kind="recordings") == [4, 8]
            got = view.get_analysis_result(identifier="peak", session=2)
            assert [(r.identifier, r.parameters["label"]) for r in got] == [("peak", "r2")]

        check(store)  # uncommitted
        store.commit()
        check(store)
        store.close()
        with self.open_store(store_path) as reader:
            check(reader)
        shutil.rmtree(source_dir)  # queries need only the catalog (r2 is linked, and now missing)
        with self.open_store(store_path) as reader:
            check(reader)

