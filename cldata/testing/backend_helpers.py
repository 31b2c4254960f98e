"""The fixtures and helpers of the backend conformance suite (:class:`cldata.testing.BackendTests`).

A test of the suite gets a fresh store directory (``store_path``) and a directory of
small real CL recordings (``source_dir``); it opens stores with :meth:`BackendHelpers.open_store`
(closed again after the test), makes recordings with :meth:`~BackendHelpers.make_recording`,
results of every kind with :meth:`~BackendHelpers.example_results`, and compares what reads
back with :meth:`~BackendHelpers.assert_same`. A plugin's own extra tests use them too.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import neo
import numpy as np
import pytest
import quantities as pq

import cldata
from cldata.core.canonical import canonical
from cldata.format.simulate import simulate_recording

__all__ = ["BackendHelpers", "BIG_PAYLOAD_VALUES"]


#: up to which :class:`~cldata.backends.SegmentedBackend` keeps a payload inside the catalog.
BIG_PAYLOAD_VALUES = 12_000



class BackendHelpers:
    """The fixtures and helpers of the backend conformance suite (see module doc)."""

    backend_name: ClassVar[str] = ""
    backend_options: ClassVar[dict[str, Any]] = {}

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

