"""The layout of the SQLite catalog file (``catalog.sqlite``): its tables, what a posting is, and
the checksums that guard each stored value.

The tables are described in :mod:`cldata.model.engines.sqlite`. A posting list is a sorted
array of ``uint32`` rows (:func:`rows_blob`), stored with a CRC-32 of itself and of what it is
the list of (:func:`posting_crc`); an entry's stored values carry a CRC-32 too
(:func:`entry_crc`), since SQLite checks its pages' structure, not their bytes.

Examples
--------
>>> import numpy as np
>>> rows_blob(np.array([1, 5])) == np.array([1, 5], dtype="<u4").tobytes()
True
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from cldata.errors import StoreFormatError

__all__ = ["FILE_NAME", "SCHEMA_VERSION", "APPLICATION_ID", "BATCH", "SCHEMA", "VALUE", "ELEMENT", "PRESENT",
           "SOURCE", "TAG", "IDENTIFIER", "KIND", "FIELDS", "NO_PATH", "ROW", "LIVE", "rows_blob", "posting_crc",
           "name_key", "entry_crc", "damaged", "payload_file_of"]

FILE_NAME = "catalog.sqlite"
SCHEMA_VERSION = 1
APPLICATION_ID = 0x636C6461  # "clda": says what the file is to `file` and to us
BATCH = 500  # rows per IN (...) list (SQLite allows 32,766 parameters; small lists plan well)

SCHEMA = [
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "CREATE TABLE recordings (row INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, record BLOB NOT NULL, "
    "crc INTEGER NOT NULL, added_gen INTEGER NOT NULL, removed_gen INTEGER)",
    "CREATE INDEX recordings_by_id ON recordings (id)",
    "CREATE TABLE results (row INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, kind TEXT NOT NULL, "
    "identifier TEXT NOT NULL, parameters BLOB NOT NULL, sources TEXT NOT NULL, tags TEXT NOT NULL, "
    "payload BLOB, payload_file TEXT, summary BLOB NOT NULL, added_utc TEXT NOT NULL, crc INTEGER NOT NULL, "
    "payload_crc INTEGER, added_gen INTEGER NOT NULL, removed_gen INTEGER)",
    "CREATE INDEX results_by_id ON results (id)",
    "CREATE INDEX results_removed ON results (removed_gen) WHERE removed_gen IS NOT NULL",
    "CREATE INDEX results_by_payload_file ON results (payload_file) WHERE payload_file IS NOT NULL",
    "CREATE TABLE paths (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, results INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE postings (field INTEGER NOT NULL, path INTEGER NOT NULL, key BLOB NOT NULL, num REAL, "
    "rows BLOB NOT NULL, crc INTEGER NOT NULL, PRIMARY KEY (field, path, key)) WITHOUT ROWID",
    "CREATE INDEX postings_by_num ON postings (path, num) WHERE field = 0 AND num IS NOT NULL",
]

# the fields of the postings table
VALUE, ELEMENT, PRESENT, SOURCE, TAG, IDENTIFIER, KIND = range(7)
FIELDS = {"identifier": IDENTIFIER, "kind": KIND}
NO_PATH = 0  # the path of postings that are not about a parameter (sources, tags, identifiers, kinds)
ROW = np.dtype("<u4")  # row numbers in posting blobs (four billion results)

# a visible row at generation :g (the results table is aliased r)
LIVE = "r.added_gen <= ? AND (r.removed_gen IS NULL OR r.removed_gen > ?)"


def rows_blob(rows: np.ndarray) -> bytes:
    return rows.astype(ROW).tobytes()


def posting_crc(field: int, pid: int, key: bytes, rows: bytes) -> int:
    """The CRC-32 of a posting list with what it is the list of."""
    return zlib.crc32(rows, zlib.crc32(key, zlib.crc32(f"{field}:{pid}:".encode())))


def name_key(name: Any) -> bytes:
    """The posting key of a name (a source, tag, identifier or kind)."""
    return str(name).encode("utf-8", "surrogatepass")


def entry_crc(*parts: Any) -> int:
    """The CRC-32 of an entry's stored values (SQLite checks its pages' structure, not their bytes:
    a flipped bit in a value would otherwise read as another value)."""
    # each part and a separator, end to end (one call: a Python loop per part cost more than the CRC)
    return zlib.crc32(b"\x1f".join([p if type(p) is bytes else b"\x00" if p is None
                                     else str(p).encode("utf-8", "surrogatepass") for p in parts]) + b"\x1f")


def damaged(path: Path, what: str) -> StoreFormatError:
    return StoreFormatError(f"the catalog {path} {what}; the store is damaged or crafted (`cldata check` says more)")


def payload_file_of(ref: Any) -> str | None:
    """The payload file a reference of the segmented backends names (kept for garbage collection)."""
    if isinstance(ref, Mapping) and type(ref.get("file")) is str:
        return ref["file"]
    return None
