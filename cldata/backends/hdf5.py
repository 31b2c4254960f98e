"""The ``hdf5`` backend (the default): catalog, payloads and recordings all in HDF5 files.

Catalog segments and payload files are HDF5 files holding msgpack records the way CL
data streams hold entries (an index table and a byte array), encoded with cldata's entry
codec: numpy arrays, quantities and neo objects (as tagged dicts, see
:mod:`cldata.payload`) come back as themselves, and nothing in a file can make cldata run
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

from cldata.backends.base import SegmentedBackend
from cldata.errors import CorruptRecordingError, DecodeError, StoreFormatError
from cldata.format.codec import Encoder, decode_span
from cldata.format.reader import open_hdf5
from cldata.payload import from_plain_payload, to_plain_payload

__all__ = ["HDF5Backend"]

_BLOB_DTYPE = np.dtype([("key", "S64"), ("start", "<u8"), ("end", "<u8")])


def _write_blob_file(path: Path, kind: str, keys: list[str], blobs: list[bytes]) -> None:
    ends = np.cumsum([len(b) for b in blobs], dtype=np.uint64) if blobs else np.zeros(0, np.uint64)
    rows = np.zeros(len(blobs), dtype=_BLOB_DTYPE)
    rows["key"] = [k.encode() for k in keys]
    rows["end"] = ends
    rows["start"][1:] = ends[:-1]
    with tables.open_file(str(path), "w") as f:
        f.root._v_attrs["cldata_kind"] = kind
        f.root._v_attrs["cldata_format_version"] = np.int64(1)
        f.create_table("/", "index", obj=rows)
        data = f.create_earray("/", "data", tables.UInt8Atom(), shape=(0,))
        if blobs:
            data.append(np.frombuffer(b"".join(blobs), dtype=np.uint8))


def _read_blob_file(path: Path, kind: str) -> tuple[np.ndarray, Any]:
    try:
        f = open_hdf5(path)
    except (CorruptRecordingError, FileNotFoundError) as exc:
        raise StoreFormatError(f"cannot read {path}: {exc}") from None
    if f.root._v_attrs._f_list("user") and getattr(f.root._v_attrs, "cldata_kind", None) != kind:
        f.close()
        raise StoreFormatError(f"{path} is not a cldata {kind} file")
    return f.root.index.read(), f


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
        index, f = _read_blob_file(path, "catalog segment")
        try:
            data = f.root.data.read().tobytes()
        finally:
            f.close()
        if index.size and int(index["end"][-1]) != len(data):
            raise StoreFormatError(f"catalog segment {path} is truncated")
        try:
            return decode_span(data, int(index.size))
        except DecodeError as exc:
            raise StoreFormatError(f"catalog segment {path} is damaged: {exc}") from None

    def encode_payload(self, payload: dict[str, Any]) -> bytes:
        return self._encoder.pack(to_plain_payload(payload))

    def decode_payload(self, data: bytes) -> dict[str, Any]:
        value = from_plain_payload(decode_span(data, 1)[0])
        if not isinstance(value, Mapping):
            raise StoreFormatError("a stored payload is not a dict of fields")
        return dict(value)

    def write_blobs(self, path: Path, blobs: Mapping[str, bytes]) -> None:
        _write_blob_file(path, "payload file", list(blobs), list(blobs.values()))

    def read_blob(self, path: Path, key: str) -> bytes:
        index, f = _read_blob_file(path, "payload file")
        try:
            hit = np.flatnonzero(index["key"] == key.encode())
            if not hit.size:
                raise StoreFormatError(f"payload {key} is missing from {path}")
            row = index[int(hit[0])]
            return f.root.data.read(int(row["start"]), int(row["end"])).tobytes()
        finally:
            f.close()
