"""The stranger-store tests of the backend conformance suite: a store written by a stranger runs no code.

Catalog segments and payloads replaced by hostile bytes (a pickle that would create a
file, a msgpack-numpy object array that would unpickle one, and what
:meth:`StrangerTests.hostile_bytes` adds in the backend's own framing) must raise a
:class:`~cldata.errors.CldataError` and create nothing.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import zlib
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pytest
import quantities as pq

import cldata
from cldata.backends import SegmentedBackend, get_backend
from cldata.backends.base import file_crc32
from cldata.backends.segment_ops import columnar_ops
from cldata.backends.segmented import current_crc32
from cldata.errors import CldataError
from cldata.model.engines.sqlite import SQLiteEngine
from cldata.testing.backend_helpers import BIG_PAYLOAD_VALUES, BackendHelpers

__all__ = ["StrangerTests"]


class _RunsCode:
    """Pickles to a call of ``os.mkdir(marker)``: if the marker exists, a reader ran code from a file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.mkdir, (self.marker,)


#: Length of the float64 arrays in the suite's "big" payloads (96 kB), well above the 32 KiB


class StrangerTests(BackendHelpers):
    """Tests of the backend conformance suite: a store written by a stranger runs no code (see module doc)."""

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
