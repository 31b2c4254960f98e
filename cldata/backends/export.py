"""Reading a store export (see :mod:`cldata.store.export`): a read-only backend over one file.

``cldata.open(path)`` picks this backend when ``path`` is a file. Nothing in the file can
make cldata run code: the catalog and payloads are codec-encoded, recordings are read by
:class:`~cldata.RecordingView` through the attribute allow-list.

A recording exported from a time-windowed view keeps its original frame numbers and holds
data only in its window; its catalog location carries that window (``"window": [start,
stop]`` in frames), and :meth:`ExportBackend.open_recording` opens the recording through
it, so every read through the export (segments, spikes, samples, streams, analyses) sees
exactly what the exported view saw.

A neo recording sits under ``/recordings/<id>`` in the neo layout
(:mod:`cldata.format.neo_file`: the nodes of its own file, cut to the view's window when
exported through one); its location says ``"layout": "neo"``. Opening it copies its group
(checked: no node of pickled objects) into a file of its own in a temporary directory the
backend removes when it closes, opened as a :class:`~cldata.format.neo_file.NeoRecordingView`.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import tables

from cldata.backends.base import Backend, open_recording_file
from cldata.backends.blobs import BlobTable
from cldata.backends.hdf5 import decode_payload, decode_records
from cldata.errors import (
    CldataError,
    CorruptRecordingError,
    NotARecordingError,
    ReadOnlyStoreError,
    StoreFormatError,
    UnsafeContentError,
)
from cldata.format.attributes import read_attributes
from cldata.format.neo_file import NeoRecordingView
from cldata.format.node_guard import BYTE_ARRAY, GROUP, RECORDING, TABLE, Layout, check_layout, is_object_node
from cldata.format.reader import RecordingView, hdf5_reason, open_hdf5

__all__ = ["ExportBackend", "EXPORT", "EXPORT_KIND", "WINDOW_ATTRIBUTE", "NEO_LOCATION"]

#: The root attribute ``cldata_kind`` of an export file.
EXPORT_KIND = "cldata export"
#: Root attribute of an exported recording cut to a time window: ``[start, stop)`` in frames.
WINDOW_ATTRIBUTE = "cldata_export_window"

#: The ``layout`` of an exported neo recording's location.
NEO_LOCATION = "neo"

EXPORT = Layout("cldata export", (
    ("catalog", GROUP),
    ("catalog/index", TABLE),
    ("catalog/data", BYTE_ARRAY),
    ("payloads", GROUP),
    ("payloads/index", TABLE),
    ("payloads/data", BYTE_ARRAY),
    ("recordings", GROUP),
    ("recordings/*", RECORDING),
), strict=True, error=StoreFormatError)
"""What an export may hold. Each recording under ``/recordings`` is checked as a CL
recording when :class:`~cldata.RecordingView` opens it."""


class ExportBackend(Backend):
    """The catalog, payloads and recordings of an export file (read-only)."""

    name: ClassVar[str] = "export"

    def __init__(self, root: Path, *, writable: bool, **options: Any):
        super().__init__(root, writable=writable, **options)
        if writable:
            raise ReadOnlyStoreError(f"{root} is a store export, which opens read-only (mode='r')")
        try:
            self._h5 = open_hdf5(root)
        except (CorruptRecordingError, NotARecordingError) as exc:
            raise StoreFormatError(f"{root} is not a cldata store or export: {exc}") from None
        try:
            kind = read_attributes(self._h5.root, str(root)).get("cldata_kind")
            if kind != EXPORT_KIND:
                raise StoreFormatError(f"{root} is an HDF5 file but not a cldata export")
            check_layout(self._h5, "/", EXPORT, str(root))  # no object nodes, nothing over-claimed
        except CldataError:
            self._h5.close()
            raise
        except Exception as exc:  # PyTables reads headers lazily: damage surfaces as whatever it raises
            self._h5.close()
            raise StoreFormatError(f"{root} is a damaged export: {type(exc).__name__}: {hdf5_reason(exc)}") from None
        except BaseException:
            self._h5.close()
            raise
        self._payloads: BlobTable | None = None
        self._neo_dir: Path | None = None  # where neo recordings are copied to be opened

    def create(self) -> None:
        raise ReadOnlyStoreError("a store export cannot be created in place; use DataStoreView.export()")

    def load(self) -> list[dict[str, Any]]:
        return decode_records(BlobTable(self._h5, "/catalog"))

    def commit(self, added, removed, snapshot) -> None:  # noqa: D102
        raise ReadOnlyStoreError(f"{self.root} is a store export, which is read-only")

    def write_payloads(self, payloads) -> dict[str, Any]:  # noqa: D102
        raise ReadOnlyStoreError(f"{self.root} is a store export, which is read-only")

    def read_payload(self, ref: Any) -> dict[str, Any]:
        if not isinstance(ref, Mapping) or "export" not in ref:
            raise StoreFormatError(f"malformed payload reference {ref!r:.80} in {self.root}")
        if self._payloads is None:
            self._payloads = BlobTable(self._h5, "/payloads")
        return decode_payload(self._payloads.get(str(ref["export"])))

    def recording_path(self, location: Mapping[str, Any]) -> Path:
        return self.root

    def open_recording(self, location: Mapping[str, Any]) -> RecordingView | NeoRecordingView:
        group = str(location.get("group", ""))
        if not group.startswith("/recordings/"):
            raise StoreFormatError(f"recording location {group!r} in {self.root} is not under /recordings")
        if location.get("layout") == NEO_LOCATION:
            return open_recording_file(self._neo_file(group))
        window = location.get("window")
        if window is None:
            return RecordingView(self.root, group=group)
        if (not isinstance(window, (list, tuple)) or len(window) != 2
                or not all(type(x) is int and -2**62 <= x <= 2**62 for x in window) or window[1] < window[0]):
            raise StoreFormatError(f"recording location {group!r} in {self.root} has a malformed window "
                                   f"{window!r:.80} (two frame numbers, start <= stop)")
        # (the file holds data only in the window: reads never reach the unwritten frames before it)
        return RecordingView(self.root, group=group).between(int(window[0]), int(window[1]))

    def _neo_file(self, group: str) -> Path:
        """The neo recording under ``group`` copied into a file of its own (once per open export)."""
        if self._neo_dir is None:
            self._neo_dir = Path(tempfile.mkdtemp(prefix="cldata-export-neo-"))
        target = self._neo_dir / (group.rsplit("/", 1)[-1] + ".h5")
        if target.exists():
            return target
        try:
            node = self._h5.get_node(group)
        except tables.NoSuchNodeError:
            raise StoreFormatError(f"recording location {group!r} in {self.root} names no node") from None
        for child in node._f_walknodes():
            if is_object_node(child):  # copying would unpickle it
                raise UnsafeContentError(f"{self.root}: {child._v_pathname} holds pickled objects; refused")
        tmp = target.with_suffix(".part")
        with tables.open_file(str(tmp), "w") as out:
            for name, value in read_attributes(node, str(self.root)).items():
                out.root._v_attrs[name] = value
            node._f_copy_children(out.root, recursive=True)
        tmp.replace(target)
        return target

    def close(self) -> None:
        if self._h5.isopen:
            self._h5.close()
        if self._neo_dir is not None:
            shutil.rmtree(self._neo_dir, ignore_errors=True)
            self._neo_dir = None
