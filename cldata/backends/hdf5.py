"""The ``hdf5`` backend (the default): catalog, payloads and recordings all in HDF5 files.

Catalog segments and payload files are HDF5 files holding msgpack records the way CL
data streams hold entries (an index table and a byte array), encoded with cldata's entry
codec: numpy arrays, quantities and neo objects (as tagged dicts, see
:mod:`cldata.model.payload`) come back as themselves, and nothing in a file can make cldata run
code. This backend is the one to use for stores that come from other people.

Examples
--------
>>> store = cldata.open("my-store", backend="hdf5", mode="a")    # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import tables

from cldata.backends.blobs import BLOB_FILE, BlobTable, write_blob_table
from cldata.backends.segmented import SegmentedBackend
from cldata.core.fsutil import fsync_file
from cldata.errors import CldataError, CorruptRecordingError, DecodeError, NotARecordingError, StoreFormatError
from cldata.format.attributes import read_attributes
from cldata.format.codec import Encoder, decode, decode_span
from cldata.format.node_guard import check_layout
from cldata.format.reader import hdf5_reason, open_hdf5
from cldata.model.payload import from_plain_payload, to_plain_payload

__all__ = ["HDF5Backend"]

def _write_blob_file(path: Path, kind: str, keys: list[str], blobs: list[bytes]) -> None:
    with tables.open_file(str(path), "w") as f:
        f.root._v_attrs["cldata_kind"] = kind
        f.root._v_attrs["cldata_format_version"] = np.int64(1)
        write_blob_table(f, "/blobs", keys, blobs)


def _open_blob_file(path: Path, kind: str) -> tables.File:
    if not path.is_file():
        raise StoreFormatError(f"the store's {kind} {path} is missing (the store is damaged; `cldata check` says more)")
    try:
        f = open_hdf5(path)
    except (CorruptRecordingError, NotARecordingError, FileNotFoundError) as exc:
        raise StoreFormatError(f"cannot read {path}: {exc}") from None
    try:
        attrs = read_attributes(f.root, str(path))  # refuses (never runs) a hostile pickle
        if attrs.get("cldata_kind") == kind:
            check_layout(f, "/", BLOB_FILE, str(path))  # no object nodes, nothing over-claimed
    except CldataError:
        f.close()
        raise
    except Exception as exc:  # PyTables reads headers lazily: damage surfaces as whatever it raises
        f.close()
        raise StoreFormatError(f"{path} is damaged: {type(exc).__name__}: {hdf5_reason(exc)}") from None
    except BaseException:
        f.close()
        raise
    if attrs.get("cldata_kind") != kind:
        f.close()
        raise StoreFormatError(f"{path} is not a cldata {kind} file")
    return f


class HDF5Backend(SegmentedBackend):
    """Catalog segments and payloads as HDF5 files of codec-encoded records (see module doc)."""

    name: ClassVar[str] = "hdf5"
    segment_suffix: ClassVar[str] = ".h5"
    payload_suffix: ClassVar[str] = ".h5"

    def __init__(self, root: Path, *, writable: bool, **options: Any):
        super().__init__(root, writable=writable, **options)
        self._encoder = Encoder()

    def write_segment(self, path: Path, records: list[dict[str, Any]]) -> None:
        blobs = [self._encoder.pack(r) for r in records]
        _write_blob_file(path, "catalog segment", [""] * len(blobs), blobs)

    def read_segment(self, path: Path) -> list[dict[str, Any]]:
        with _open_blob_file(path, "catalog segment") as f:
            return decode_records(BlobTable(f, "/blobs"))

    def encode_payload(self, payload: dict[str, Any]) -> bytes:
        return self._encoder.pack(to_plain_payload(payload))

    def decode_payload(self, data: bytes) -> dict[str, Any]:
        return decode_payload(data)

    def write_blobs(self, path: Path, blobs: Mapping[str, bytes]) -> None:
        _write_blob_file(path, "payload file", list(blobs), list(blobs.values()))
        fsync_file(path)  # on disk before the commit that refers to it

    def read_blob(self, path: Path, key: str) -> bytes:
        with _open_blob_file(path, "payload file") as f:
            return BlobTable(f, "/blobs").get(key)


def decode_records(table: BlobTable) -> list[dict[str, Any]]:
    """The catalog records of a blob table (codec-encoded, end to end)."""
    try:
        records = decode_span(table.all_bytes(), len(table))
    except DecodeError as exc:
        raise StoreFormatError(f"catalog records in {table.where} are damaged: {exc}") from None
    if not all(isinstance(r, dict) for r in records):
        raise StoreFormatError(f"catalog records in {table.where} are not all dicts")
    return records


def decode_payload(data: bytes) -> dict[str, Any]:
    """A payload encoded by :meth:`HDF5Backend.encode_payload`."""
    try:
        value = from_plain_payload(decode(data))  # (decode: one entry, the one-shot path)
    except DecodeError as exc:
        raise StoreFormatError(f"a stored payload is damaged: {exc}") from None
    if not isinstance(value, Mapping):
        raise StoreFormatError("a stored payload is not a dict of fields")
    return dict(value)
