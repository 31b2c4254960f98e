"""cldata-example-backend: a third-party storage backend for cldata, in one module.

It shows what a plugin needs: a :class:`cldata.backends.SegmentedBackend` subclass that
only encodes catalog segments and payload files (the base class does the crash-safe
commits, compaction and garbage collection), and an entry point that names it::

    [project.entry-points."cldata.backends"]
    example = "cldata_example_backend:MsgpackBackend"

Files are msgpack, written with cldata's entry codec (:mod:`cldata.format.codec`), which
stores numpy arrays and scalars, quantities, bytes and nested containers, and decodes
without running code from the file; neo objects in payloads go through
:func:`cldata.model.payload.to_plain_payload`. Each file starts with a 5-byte header: the
magic ``CLXB`` and ``z`` (zlib-compressed body) or ``-`` (plain).

Options (``cldata.open(root, backend="example", compress=True)``):

compress
    zlib-compress new segments and payloads (files of both kinds are always readable).

Examples
--------
>>> import cldata                                                    # doctest: +SKIP
>>> store = cldata.open("my-store", backend="example", mode="a")     # doctest: +SKIP
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from cldata.backends import SegmentedBackend
from cldata.errors import BackendError, CldataError, StoreFormatError, UnsafeContentError
from cldata.format.codec import decode, encode
from cldata.model.payload import from_plain_payload, to_plain_payload

__all__ = ["MsgpackBackend"]
__version__ = "0.1.0"

_MAGIC = b"CLXB"
_SEGMENT_FORMAT = "cldata-example-backend segment"
_OPTIONS = {"compress"}


class MsgpackBackend(SegmentedBackend):
    """Catalog segments and payloads as msgpack files (see module doc)."""

    name: ClassVar[str] = "example"
    segment_suffix: ClassVar[str] = ".msgpack"
    payload_suffix: ClassVar[str] = ".blobs"

    def __init__(self, root: Path, *, writable: bool, **options: Any):
        unknown = set(options) - _OPTIONS
        if unknown:
            raise BackendError(f"the example backend has no option(s) {sorted(unknown)}; known: {sorted(_OPTIONS)}")
        super().__init__(root, writable=writable, **options)
        self.compress = bool(options.get("compress", False))

    # -- framing ----------------------------------------------------------------------------------

    def _frame(self, value: Any) -> bytes:
        body = encode(value)
        return _MAGIC + (b"z" + zlib.compress(body) if self.compress else b"-" + body)

    def _unframe(self, data: bytes, what: str) -> Any:
        if data[:4] != _MAGIC or data[4:5] not in (b"z", b"-"):
            raise StoreFormatError(f"{what} is not a file of the example backend")
        body = data[5:]
        try:
            if data[4:5] == b"z":
                body = zlib.decompress(body)
            return decode(body)
        except UnsafeContentError:
            raise
        except (CldataError, zlib.error) as exc:
            raise StoreFormatError(f"{what} is damaged: {exc}") from None

    # -- the four hooks of SegmentedBackend ---------------------------------------------------------

    def write_segment(self, path: Path, records: list[dict[str, Any]]) -> None:
        # SegmentedBackend fsyncs the file and publishes it atomically afterwards
        path.write_bytes(self._frame({"format": _SEGMENT_FORMAT, "version": 1, "records": records}))

    def read_segment(self, path: Path) -> list[dict[str, Any]]:
        value = self._unframe(path.read_bytes(), f"catalog segment {path}")
        if not isinstance(value, dict) or value.get("format") != _SEGMENT_FORMAT:
            raise StoreFormatError(f"{path} is not a catalog segment of the example backend")
        records = value.get("records")
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise StoreFormatError(f"catalog segment {path} does not hold a list of records")
        return records

    def encode_payload(self, payload: dict[str, Any]) -> bytes:
        return self._frame(to_plain_payload(payload))

    def decode_payload(self, data: bytes) -> dict[str, Any]:
        try:
            value = from_plain_payload(self._unframe(bytes(data), "a stored payload"))
        except (StoreFormatError, UnsafeContentError):
            raise
        except CldataError as exc:
            raise StoreFormatError(f"a stored payload is damaged: {exc}") from None
        if not isinstance(value, Mapping):
            raise StoreFormatError("a stored payload is not a dict of fields")
        return dict(value)
