"""The backend conformance suite: what every cldata storage backend must do, as pytest tests.

cldata ships this suite (as zarr ships ``zarr.testing.StoreTests``) so that a backend
written as a plugin is checked exactly as the built-in ``hdf5`` and ``pickle`` backends
are. :class:`BackendTests` is a plain pytest class; a subclass names a registered backend
and inherits every test. The tests use only the public API (:func:`cldata.open`, the
store's ``add_*`` / ``remove_*`` / ``commit`` / ``rollback`` / ``refresh``, views and
queries), on small real CL recordings written by :func:`cldata.format.simulate.simulate_recording`
and :class:`cldata.RecordingWriter`. They check that:

- an empty store is created and reopened, and remembers its backend;
- recordings (copied, or linked with ``link=True``) read back the same: parameters (the
  user's merged over the file's attributes), summary, data streams, and the recording as
  a neo Segment; a moved linked file raises :class:`~cldata.errors.BrokenLinkError`
  naming it;
- analysis results of every kind (single values, per-channel values, time series, neo
  signals and spike trains with waveforms, nested data with arrays and bytes, and
  payloads larger than the catalog's inline limit) read back equal: values, units,
  dtypes, neo annotations, parameters, sources, tags, ids and order;
- duplicates raise and leave the store as it was; ``replace=True`` replaces;
- removals (with and without ``cascade``), rollbacks, ``close(commit=False)``, a
  ``with`` block that raises, and a commit interrupted half-way (after the payloads are
  written: in a store whose catalog is SQLite, and in one whose catalog is the backend's
  own segment log, ``catalog="backend"``) all leave exactly the last committed state;
  many commits in a row (enough to compact segmented catalogs) keep the right content;
- readers see only commits, and :meth:`~cldata.DataStore.refresh` shows later ones; a
  second writer gets :class:`~cldata.errors.StoreLockedError` while readers keep
  working; a read-only store refuses every change; a directory that is not a store is
  refused with :class:`~cldata.errors.StoreFormatError`;
- parameter queries give the same answers on every backend;
- a store written by a stranger runs no code when it is opened and read: catalog segments
  (of a segment-log store) and payloads (referenced from either catalog) replaced by
  hostile bytes (a pickle that would create a file, a msgpack-numpy object array that
  would unpickle one, and what :meth:`BackendTests.hostile_bytes` adds
  in the backend's own framing) raise a :class:`~cldata.errors.CldataError` and create
  nothing. A backend that unpickles what it reads fails these tests.

The whole suite takes a few seconds per backend. It needs pytest (``pip install
pytest``), which cldata itself does not require.

Examples
--------
A plugin package registers its backend under the entry-point group ``cldata.backends``
(see :mod:`cldata.backends.registry`) and, in its own tests, subclasses the suite:

.. code-block:: python

    # tests/test_conformance.py of the package "cldata-mybackend"
    from cldata.testing import BackendTests


    class TestMyBackend(BackendTests):
        backend_name = "mybackend"            # the entry-point name
        backend_options = {"compress": True}  # optional: passed to cldata.open(...)

Then ``python -m pytest`` runs every inherited test on the backend. A test can be
overridden (to skip it, or to mark it ``xfail``), and more can be added, using the
helpers :meth:`BackendTests.open_store`, :meth:`BackendTests.make_recording`,
:meth:`BackendTests.example_results` and :meth:`BackendTests.assert_same`::

    class TestMyBackend(BackendTests):
        backend_name = "mybackend"

        def test_my_extra_guarantee(self, store_path, source_dir):
            rec = self.make_recording(source_dir, "a", seed=1)
            with self.open_store(store_path, "a") as store:
                rid = store.add_recording(rec["path"])
            with self.open_store(store_path) as store:
                assert store.recording_ids == [rid]

``BackendTests`` itself is never collected (its ``__test__`` is false); every subclass is
(unless it sets ``__test__ = False`` itself, e.g. for an intermediate base class).
"""

from __future__ import annotations

import json
import math
import os
import pickle
import shutil
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

try:
    import pytest
except ImportError as exc:  # pragma: no cover - pytest is a test dependency only
    raise ImportError("cldata.testing is a pytest suite: install pytest to use it (pip install pytest)") from exc

import neo
import numpy as np
import quantities as pq

import cldata
from cldata.backends import SegmentedBackend, get_backend
from cldata.backends.base import columnar_ops, current_crc32, file_crc32
from cldata.core.canonical import canonical
from cldata.errors import (
    BrokenLinkError,
    CldataError,
    DuplicateRecordingError,
    DuplicateResultError,
    NotFoundError,
    ParameterError,
    ReadOnlyStoreError,
    StoreError,
    StoreFormatError,
    StoreLockedError,
    UniquenessError,
)
from cldata.format.simulate import simulate_recording

__all__ = ["BackendTests"]

class _RunsCode:
    """Pickles to a call of ``os.mkdir(marker)``: if the marker exists, a reader ran code from a file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.mkdir, (self.marker,)


#: Length of the float64 arrays in the suite's "big" payloads (96 kB), well above the 32 KiB
#: up to which :class:`~cldata.backends.SegmentedBackend` keeps a payload inside the catalog.
BIG_PAYLOAD_VALUES = 12_000


class BackendTests:
    """Conformance tests for a cldata storage backend: subclass, set ``backend_name``, run pytest.

    Attributes
    ----------
    backend_name : str
        The name the backend is registered under (``cldata.open(root, backend=...)``).
    backend_options : dict
        Backend options, passed to every :func:`cldata.open` call.
    """

    __test__ = False
    backend_name: ClassVar[str] = ""
    backend_options: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__test__" not in cls.__dict__:
            cls.__test__ = True  # subclasses are collected; the base class is not

    # -- fixtures -----------------------------------------------------------------------------------

    @pytest.fixture(autouse=True)
    def _close_stores(self) -> Iterator[None]:
        """Check the subclass names a backend; close every store a test leaves open."""
        if not self.backend_name:
            pytest.fail(f"{type(self).__name__} must set backend_name (the name of the backend to test)")
        self._stores: list[cldata.DataStore] = []
        yield
        for store in reversed(self._stores):
            if not store.closed:
                store.close(commit=False)

    @pytest.fixture
    def store_path(self, tmp_path: Path) -> Path:
        """Where the test's store goes (the directory does not exist yet)."""
        return tmp_path / "store"

    @pytest.fixture
    def source_dir(self, tmp_path: Path) -> Path:
        """A directory for the CL recordings a test writes before adding them to a store."""
        path = tmp_path / "sources"
        path.mkdir()
        return path

    # -- helpers --------------------------------------------------------------------------------------

    def open_store(self, root: Path, mode: str = "r", *, replace: bool = False,
                   catalog: str | None = None) -> cldata.DataStore:
        """``cldata.open(root, backend=self.backend_name, mode=mode, replace=replace, catalog=catalog,
        **self.backend_options)``.

        ``catalog="backend"`` makes (and keeps) a store whose catalog is the backend's own segment log,
        as stores made before version 2 have; ``None`` the default (SQLite) for a new store.
        The store is closed (without committing) after the test if the test leaves it open.
        """
        store = cldata.open(root, backend=self.backend_name, mode=mode, replace=replace, catalog=catalog,
                            **self.backend_options)
        self._stores.append(store)
        return store

    def make_recording(self, directory: Path, name: str, *, seed: int = 0, **attributes: Any) -> dict[str, Any]:
        """Write a small simulated CL recording ``<directory>/<name>.h5`` (0.2 s, 64 channels, samples,
        spikes, stims, two data streams) with ``attributes`` as its application attributes.

        Returns what :func:`~cldata.format.simulate.simulate_recording` returns (``path``, ``spikes``, ...).
        """
        return simulate_recording(Path(directory) / f"{name}.h5", duration_s=0.2, seed=seed, attributes=attributes)

    def example_results(self, first: str, second: str) -> list[cldata.AnalysisResult]:
        """One analysis result of every built-in kind, from recordings ``first`` and ``second``.

        Payloads hold quantities, numpy arrays of several dtypes, neo signals and spike
        trains with annotations and waveforms, nested dicts with bytes, and (the last
        result) an array big enough to leave the catalog for a payload file.
        """
        rng = np.random.default_rng(11)
        lfp = neo.AnalogSignal(
            rng.normal(size=(40, 3)).astype(np.float32), units="mV", sampling_rate=2 * pq.kHz, t_start=0.5 * pq.s,
            name="lfp", probe="A", depth_um=120, array_annotations={"channel": np.array([3, 8, 9])},
        )
        irregular = neo.IrregularlySampledSignal(
            [0.1, 0.25, 0.7] * pq.s, np.array([[1.0], [2.5], [-1.0]]) * pq.nA, name="current", electrode=4,
        )
        unit = neo.SpikeTrain(
            [0.01, 0.05, 0.12] * pq.s, t_stop=0.2 * pq.s, t_start=0 * pq.s,
            waveforms=rng.normal(size=(3, 1, 75)) * pq.uV, sampling_rate=25 * pq.kHz, left_sweep=1 * pq.ms,
            name="unit-1", channel=12, array_annotations={"amplitude": np.array([-40.5, -52.0, -47.25])},
        )
        empty = neo.SpikeTrain(np.array([]) * pq.ms, t_stop=200 * pq.ms, name="silent")
        nested = {
            "bursts": {"starts_s": [0.05, 0.15], "sizes": np.array([40, 52], dtype=np.uint16)},
            "raw": b"\x00\x01\xfe\xff",
            "flags": [True, False, None, "x", 2.5, -7],
            "counts": np.array([[1, 2], [3, 4]], dtype=np.int8),
            "extremes": np.array([0, 2**64 - 1], dtype=np.uint64),
            "complex": np.array([1 + 2j, -3j], dtype=np.complex64),
            "table": np.array([(1, 2.5), (3, 4.5)], dtype=[("n", "<i4"), ("t", "<f8")]),
            "labels": np.array(["ab", "cde"]),
            "scalar": np.int16(-3),
            "speed": np.array([1.5, 2.0]) * pq.m / pq.s,
            "text": "µV ☺",
            "big_int": 2**63 + 5,
            "empty": np.zeros((0, 4), dtype=np.float32),
        }
        return [
            cldata.SingleValue("mean_rate", 4.25 * pq.Hz, parameters={"window_s": 1.0, "bin": 5 * pq.ms},
                               sources=[first], tags=["final", "reviewed"]),
            cldata.SingleValue("n_bursts", np.int32(7), parameters={"threshold": 3, "method": "isi"},
                               sources=[first, second]),
            cldata.PerChannelValue("firing_rate", np.linspace(0.0, 3.5, 8) * pq.Hz, channels=np.arange(0, 16, 2),
                                   parameters={"window_s": 1.0, "channels": {"first": 0, "step": 2}}, sources=[second]),
            cldata.TimeSeries("psth", times=np.arange(5) * pq.ms,
                              values=pq.Quantity(np.array([0, 2, 1, 0, 3], dtype=np.float32), "Hz"),
                              parameters={"bin": 1 * pq.ms, "labels": ["a", "b"], "flag": True, "none": None},
                              sources=[first], tags=["draft"]),
            cldata.SignalList("signals", [lfp, irregular], parameters={"filter": {"low": 1.0, "high": 300.0}},
                              sources=[first]),
            cldata.SpikeTrainList("units", [unit, empty], parameters={"sorter": "kilosort"}, sources=[second]),
            cldata.Data("summary", nested, parameters={"version": 2}, sources=[first, second], tags=["final"]),
            cldata.Data("big", {"trace": rng.normal(size=BIG_PAYLOAD_VALUES), "note": "larger than the inline limit"},
                        parameters={"size": "big"}, sources=[second]),
        ]

    def other_backend(self) -> str:
        """A built-in backend other than the one tested."""
        return "pickle" if self.backend_name == "hdf5" else "hdf5"

    # -- comparisons ----------------------------------------------------------------------------------

    def assert_same(self, got: Any, expected: Any, where: str = "value") -> None:
        """Assert that a value read back from a store equals the one stored, type, dtype and units included.

        Dicts compare by keys and values, lists item by item, numpy arrays by dtype, shape and
        content (NaN equal to NaN), quantities also by units, neo objects by their data,
        times, rates, names, annotations and array annotations. A ``numpy.float64`` may come
        back as a Python ``float`` (msgpack has a single float type).
        """
        if isinstance(expected, neo.core.baseneo.BaseNeo):
            self._assert_same_neo(got, expected, where)
        elif isinstance(expected, pq.Quantity):
            assert isinstance(got, pq.Quantity), f"{where}: expected a Quantity, got {type(got).__name__}"
            assert got.dimensionality.string == expected.dimensionality.string, (
                f"{where}: units {got.dimensionality.string} != {expected.dimensionality.string}")
            self.assert_same(np.asarray(got.magnitude), np.asarray(expected.magnitude), where)
        elif isinstance(expected, np.ndarray):
            assert isinstance(got, np.ndarray) and not isinstance(got, pq.Quantity), (
                f"{where}: expected a numpy array, got {type(got).__name__}")
            assert got.dtype == expected.dtype, f"{where}: dtype {got.dtype} != {expected.dtype}"
            assert got.shape == expected.shape, f"{where}: shape {got.shape} != {expected.shape}"
            nan = expected.dtype.kind in "fc"
            assert np.array_equal(got, expected, equal_nan=nan), f"{where}: {got!r} != {expected!r}"
        elif isinstance(expected, np.generic):
            if isinstance(expected, np.float64) and type(got) is float:
                assert got == expected or (math.isnan(got) and math.isnan(expected)), f"{where}: {got!r} != {expected!r}"
            else:
                assert type(got) is type(expected), f"{where}: type {type(got).__name__} != {type(expected).__name__}"
                assert got == expected, f"{where}: {got!r} != {expected!r}"
        elif isinstance(expected, Mapping):
            assert isinstance(got, Mapping), f"{where}: expected a dict, got {type(got).__name__}"
            assert set(got) == set(expected), f"{where}: keys {sorted(map(str, got))} != {sorted(map(str, expected))}"
            for key in expected:
                self.assert_same(got[key], expected[key], f"{where}[{key!r}]")
        elif isinstance(expected, (list, tuple)):
            assert isinstance(got, (list, tuple)), f"{where}: expected a list, got {type(got).__name__}"
            assert len(got) == len(expected), f"{where}: {len(got)} items != {len(expected)}"
            for i, (g, e) in enumerate(zip(got, expected)):
                self.assert_same(g, e, f"{where}[{i}]")
        elif isinstance(expected, float):
            assert type(got) in (float, np.float64), f"{where}: type {type(got).__name__} != float"
            assert got == expected or (math.isnan(got) and math.isnan(expected)), f"{where}: {got!r} != {expected!r}"
        else:
            assert type(got) is type(expected), f"{where}: type {type(got).__name__} != {type(expected).__name__}"
            assert got == expected, f"{where}: {got!r} != {expected!r}"

    def _assert_same_neo(self, got: Any, expected: Any, where: str) -> None:
        assert type(got) is type(expected), f"{where}: {type(got).__name__} != {type(expected).__name__}"
        self.assert_same(pq.Quantity(got.magnitude, got.units), pq.Quantity(expected.magnitude, expected.units),
                         f"{where} data")
        attrs = ["name", "annotations"]
        if isinstance(expected, neo.AnalogSignal):
            attrs += ["sampling_rate", "t_start"]
        if isinstance(expected, neo.IrregularlySampledSignal):
            attrs += ["times"]
        if isinstance(expected, neo.SpikeTrain):
            attrs += ["t_start", "t_stop", "waveforms", "sampling_rate", "left_sweep"]
        for attr in attrs:
            self.assert_same(getattr(got, attr), getattr(expected, attr), f"{where}.{attr}")
        self.assert_same(dict(got.array_annotations), dict(expected.array_annotations), f"{where}.array_annotations")

    def assert_same_result(self, got: cldata.AnalysisResult, expected: cldata.AnalysisResult) -> None:
        """Assert that a stored result is the one added: kind, identity, tags, id and every data field."""
        where = f"{type(expected).__name__} {expected.identifier!r}"
        assert type(got) is type(expected), f"{where}: read back as {type(got).__name__}"
        assert got.identifier == expected.identifier
        self.assert_same(got.parameters, expected.parameters, f"{where} parameters")
        assert tuple(got.sources) == tuple(expected.sources), f"{where}: sources {got.sources} != {expected.sources}"
        assert tuple(got.tags) == tuple(expected.tags), f"{where}: tags {got.tags} != {expected.tags}"
        assert got.id == expected.result_id, f"{where}: id {got.id} != {expected.result_id}"
        for name in type(expected).fields:
            self.assert_same(getattr(got, name), getattr(expected, name), f"{where}.{name}")

    @staticmethod
    def contents(view: cldata.DataStoreView) -> tuple[list[tuple], list[tuple]]:
        """What a view holds, comparable with ``==``: recordings (id, canonical parameters,
        location-free summary) and results (id, kind, identifier, canonical parameters,
        sources, tags), in the view's order."""
        recordings = [(r.id, canonical(dict(r.parameters)), canonical(dict(r.summary))) for r in view.recordings]
        results = [(r.id, type(r).__name__, r.identifier, canonical(r.parameters), tuple(r.sources), tuple(r.tags))
                   for r in view.analysis_results]
        return recordings, results

    @staticmethod
    def read_streams(view: cldata.RecordingView | cldata.RecordingHandle) -> dict[str, tuple]:
        """``name -> (application attributes, [(timestamp, value), ...])`` of every data stream."""
        return {name: (dict(stream.attributes.get("application") or {}), list(stream.items()))
                for name, stream in view.data_streams.items()}

    def assert_same_segment(self, got: neo.Segment, expected: neo.Segment) -> None:
        """Assert that two neo Segments of a recording hold the same spikes, samples and stims."""
        assert len(got.spiketrains) == len(expected.spiketrains)
        for i, (g, e) in enumerate(zip(got.spiketrains, expected.spiketrains)):
            self.assert_same(pq.Quantity(g.magnitude, g.units), pq.Quantity(e.magnitude, e.units), f"spiketrain {i}")
            self.assert_same(g.waveforms, e.waveforms, f"spiketrain {i} waveforms")
        assert len(got.analogsignals) == len(expected.analogsignals)
        for g, e in zip(got.analogsignals, expected.analogsignals):
            self._assert_same_neo(g, e, "samples")
        assert [len(ev) for ev in got.events] == [len(ev) for ev in expected.events]
        for g, e in zip(got.events, expected.events):
            self.assert_same(pq.Quantity(g.magnitude, g.units), pq.Quantity(e.magnitude, e.units), f"event {e.name}")

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

    # -- stores written by strangers -----------------------------------------------------------------

    def hostile_bytes(self, marker: Path) -> dict[str, bytes]:
        """Bytes a stranger may put where the backend keeps a catalog segment or a payload.

        Reading any of them must run nothing (each would create ``marker`` if its code ran)
        and raise a :class:`~cldata.errors.CldataError`. The defaults are a plain pickle
        (protocols 0 and 4) and a msgpack-numpy object array (which ``msgpack_numpy``
        unpickles). A backend with its own framing (a magic header, compression) should
        extend the dict with the same payloads inside its frame, so that they reach its
        decoder::

            def hostile_bytes(self, marker):
                found = super().hostile_bytes(marker)
                return {**found, **{f"framed {k}": MAGIC + v for k, v in found.items()}}
        """
        import msgpack

        code = pickle.dumps(_RunsCode(marker), protocol=4)
        object_array = msgpack.packb({b"nd": True, b"type": "|O", b"kind": b"O", b"shape": [1], b"data": code},
                                     use_bin_type=True)
        return {"pickle": code, "pickle protocol 0": pickle.dumps(_RunsCode(marker), protocol=0),
                "msgpack-numpy object array": object_array}

    def _stranger_store(self, tmp_path: Path, catalog: str | None = None) -> Path:
        """A store with a recording, inline payloads and a payload big enough for a payload file."""
        source = tmp_path / "stranger-sources"
        source.mkdir()
        rec = self.make_recording(source, "a", seed=1)
        root = tmp_path / "stranger-store"
        with self.open_store(root, "a", catalog=catalog) as store:
            rid = store.add_recording(rec["path"])
            store.add_analysis_result(cldata.SingleValue("rate", 4.0 * pq.Hz, sources=[rid]))
            store.add_analysis_result(cldata.Data("big", {"trace": np.zeros(BIG_PAYLOAD_VALUES)}, sources=[rid]))
        return root

    def _read_everything(self, root: Path) -> None:
        with self.open_store(root) as store:
            for rec in store.recordings:
                dict(rec.parameters), dict(rec.summary)
            for result in store.analysis_results:
                for name in type(result).fields:
                    getattr(result, name)

    def _assert_runs_nothing(self, root: Path, marker: Path, what: str) -> None:
        try:
            self._read_everything(root)
        except Exception as exc:  # noqa: BLE001 - judged below, after the marker
            error: Exception | None = exc
        else:
            error = None
        assert not marker.exists(), f"reading a store with {what} ran code from it"
        assert isinstance(error, CldataError), (
            f"reading a store with {what} should raise a cldata error, not "
            f"{'nothing' if error is None else f'{type(error).__name__}: {error}'}")
        assert str(error), f"the error for {what} says nothing"

    def test_a_stranger_store_of_hostile_files_runs_nothing(self, tmp_path: Path) -> None:
        """Every file of the store but its marker and recordings replaced by hostile bytes (any backend)."""
        legit = self._stranger_store(tmp_path)
        for kind, data in self.hostile_bytes(tmp_path / "ran-code").items():
            root = tmp_path / f"files {kind}"
            shutil.copytree(legit, root, symlinks=True)
            for path in root.rglob("*"):
                if path.is_file() and not path.is_symlink() and path.name != "cldata-store.json" \
                        and "recordings" not in path.relative_to(root).parts:
                    path.write_bytes(data)
            self._assert_runs_nothing(root, tmp_path / "ran-code", f"files holding a hostile {kind}")

    def _segmented(self, root: Path) -> SegmentedBackend:
        backend = get_backend(self.backend_name)(root, writable=True, **self.backend_options)
        if not isinstance(backend, SegmentedBackend):
            pytest.skip(f"the {self.backend_name} backend is not a SegmentedBackend: only the test replacing "
                        "its files applies (add your own for its catalog and payload decoders)")
        return backend

    @staticmethod
    def _publish(backend: SegmentedBackend, name: str) -> None:
        """Make catalog segment ``name`` the store's only one, with a valid CURRENT (a stranger can)."""
        state: dict[str, Any] = {"generation": 99, "segments": [name],
                                 "checksums": {name: file_crc32(backend.catalog_dir / name)}}
        state["crc32"] = current_crc32(state)
        (backend.catalog_dir / "CURRENT").write_text(json.dumps(state))

    def test_a_stranger_catalog_segment_runs_nothing(self, tmp_path: Path) -> None:
        """A catalog segment of hostile bytes, listed in a valid CURRENT with its right checksum (in a store
        whose catalog is the backend's segment log)."""
        legit = self._stranger_store(tmp_path, catalog="backend")
        self._segmented(legit).close()
        for kind, data in self.hostile_bytes(tmp_path / "ran-code").items():
            root = tmp_path / f"segment {kind}"
            shutil.copytree(legit, root, symlinks=True)
            backend = self._segmented(root)
            name = "00000099-0badc0de" + backend.segment_suffix
            (backend.catalog_dir / name).write_bytes(data)
            self._publish(backend, name)
            backend.close()
            self._assert_runs_nothing(root, tmp_path / "ran-code", f"a catalog segment holding a hostile {kind}")

    @pytest.mark.parametrize("catalog", ["sqlite", "backend"])
    def test_a_stranger_payload_runs_nothing(self, tmp_path: Path, catalog: str) -> None:
        """Payloads of hostile bytes, inline in a well-formed catalog and in a payload file, checksums right
        (the references written into a SQLite catalog through its engine, or into the segment log)."""
        legit = self._stranger_store(tmp_path, catalog=catalog)
        self._segmented(legit).close()
        for kind, data in self.hostile_bytes(tmp_path / "ran-code").items():
            for where in ("inline", "file"):
                root = tmp_path / f"payload {kind} {where}"
                shutil.copytree(legit, root, symlinks=True)
                backend = self._segmented(root)
                engine = None
                if catalog == "backend":
                    records = backend.load()
                else:
                    from cldata.model.engines.sqlite import SQLiteEngine

                    engine = SQLiteEngine(root, writable=True)
                    engine.open()
                    rows = engine.result_rows(engine.generation())
                    found = engine.results(engine.generation(), rows)
                    records = [found[r] for r in rows]
                results = [r for r in records if r.get("payload") is not None]
                assert len(results) == 2, f"expected the store's two results with payloads, found {records!r:.300}"
                for record in results:
                    if where == "inline":
                        record["payload"] = {"inline": data}
                    else:
                        blobs = f"00000099-{zlib.crc32(record['id'].encode()):08x}{backend.payload_suffix}"
                        backend.write_blobs(backend.payload_dir / blobs, {record["id"]: data})
                        record["payload"] = {"file": blobs, "key": record["id"], "crc32": zlib.crc32(data)}
                if engine is not None:
                    gen = engine.generation()
                    engine.set_payloads({engine.row_of(gen, r["id"]): r["payload"] for r in results})
                    engine.commit()
                    engine.close()
                else:
                    name = "00000099-0badc0de" + backend.segment_suffix
                    backend.write_segment(backend.catalog_dir / name, columnar_ops(records))
                    self._publish(backend, name)
                backend.close()
                self._assert_runs_nothing(root, tmp_path / "ran-code", f"a hostile {kind} as a payload ({where})")
