"""Blob tables: many named byte strings in one HDF5 group (an index table and a byte array).

The same layout as a CL data stream (``index`` rows pointing into ``data``), used for
catalog segments and payloads by the ``hdf5`` backend and by store exports.

Examples
--------
>>> with tables.open_file("x.h5", "w") as f:                         # doctest: +SKIP
...     write_blob_table(f, "/payloads", ["a", "b"], [b"1", b"22"])
"""

from __future__ import annotations

import numpy as np
import tables

from cldata.errors import StoreFormatError, UnsafeContentError
from cldata.format.node_guard import BYTE_ARRAY, GROUP, TABLE, Layout, is_object_node

__all__ = ["write_blob_table", "BlobTable", "BLOB_FILE"]

BLOB_FILE = Layout("cldata store file", (
    ("blobs", GROUP),
    ("blobs/index", TABLE),
    ("blobs/data", BYTE_ARRAY),
), strict=True, error=StoreFormatError)
"""What a catalog segment or payload file of the ``hdf5`` backend may hold (checked by
:func:`~cldata.format.node_guard.check_layout` before anything is read)."""

_BLOB_DTYPE = np.dtype([("key", "S64"), ("start", "<u8"), ("end", "<u8")])


def write_blob_table(h5: tables.File, where: str, keys: list[str], blobs: list[bytes]) -> None:
    """Write ``blobs`` under the group ``where`` (created), each findable by its key."""
    if len(keys) != len(blobs):
        raise ValueError("one key per blob")
    if any(len(k.encode()) > 64 for k in keys):
        raise ValueError("blob keys are at most 64 bytes")
    parent, _, name = where.rstrip("/").rpartition("/")
    group = h5.create_group(parent or "/", name, createparents=True)
    ends = np.cumsum([len(b) for b in blobs], dtype=np.uint64) if blobs else np.zeros(0, np.uint64)
    rows = np.zeros(len(blobs), dtype=_BLOB_DTYPE)
    rows["key"] = [k.encode() for k in keys]
    rows["end"] = ends
    rows["start"][1:] = ends[:-1]
    h5.create_table(group, "index", obj=rows)
    data = h5.create_earray(group, "data", tables.UInt8Atom(), shape=(0,))
    if blobs:
        data.append(np.frombuffer(b"".join(blobs), dtype=np.uint8))


class BlobTable:
    """Reads a blob table written by :func:`write_blob_table`.

    Raises
    ------
    cldata.errors.StoreFormatError
        If the group is missing or malformed.
    """

    def __init__(self, h5: tables.File, where: str):
        try:
            group = h5.get_node(where)
            index = group._f_get_child("index")
            self._data = group._f_get_child("data")
        except (tables.NoSuchNodeError, ValueError):
            raise StoreFormatError(f"{h5.filename} has no blob table at {where}") from None
        if is_object_node(self._data) or is_object_node(index):
            raise UnsafeContentError(f"{h5.filename}:{where} holds pickled Python objects; refused, nothing was read")
        if not isinstance(index, tables.Table) or index.dtype != _BLOB_DTYPE or not BYTE_ARRAY.admits(self._data):
            raise StoreFormatError(f"{h5.filename}:{where} is not a blob table")
        self.where = f"{h5.filename}:{where}"
        self._index = self._read(index.read)
        if self._index.size and int(self._index["end"][-1]) > self._data.nrows:
            raise StoreFormatError(f"{self.where} is truncated")

    def _read(self, read, *args: int) -> np.ndarray:
        try:
            return read(*args)
        except (tables.HDF5ExtError, OSError, ValueError, SystemError) as exc:
            raise StoreFormatError(f"{self.where} cannot be read (the file is damaged): {exc}") from None

    def __len__(self) -> int:
        return int(self._index.size)

    def all_bytes(self) -> bytes:
        """Every blob, end to end, in order."""
        return self._read(self._data.read).tobytes()

    def get(self, key: str) -> bytes:
        """The blob stored under ``key``."""
        hit = np.flatnonzero(self._index["key"] == key.encode())
        if not hit.size:
            raise StoreFormatError(f"{key!r} is missing from {self.where}")
        row = self._index[int(hit[0])]
        start, end = int(row["start"]), int(row["end"])
        if end < start or end > self._data.nrows:
            raise StoreFormatError(f"{key!r} points outside the data of {self.where}")
        return self._read(self._data.read, start, end).tobytes()
