"""Exporting a store (or a view of it) to one self-contained HDF5 file, for sharing.

The file holds the catalog, every payload and a copy of every recording (links are
resolved: the linked files' content is copied in), so it needs nothing beside it.
``cldata.open(file)`` opens it as a read-only store; each recording sits in the CL layout
under ``/recordings/<id>``, readable with ``cldata.RecordingView(file, group=...)`` and
with plain PyTables. Payloads use the ``hdf5`` backend's encoding whatever the store's
backend, so an export is safe to open from strangers.

Layout::

    /                      attrs: cldata_kind="cldata export", cldata_format_version, exported_utc
    /catalog/{index,data}  catalog records (blob table, codec-encoded)
    /payloads/{index,data} payloads by result id (blob table, codec-encoded)
    /recordings/<id>/      a CL recording: root attributes, samples, spikes, stims, data_stream

Examples
--------
>>> store.filter(culture="C7").export("c7.h5")     # doctest: +SKIP
>>> shared = cldata.open("c7.h5")                  # doctest: +SKIP
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import tables

from cldata.backends.blobs import write_blob_table
from cldata.display import progress_bar
from cldata.errors import StoreFormatError
from cldata.format.attributes import read_attributes
from cldata.format.codec import Encoder
from cldata.format.layout import DATA_STREAM, SAMPLES, SPIKES, STIMS
from cldata.fsutil import fsync_dir, fsync_file, new_temporary, remove_stale_temporaries
from cldata.payload import to_plain_payload

if TYPE_CHECKING:  # pragma: no cover
    from cldata.view import DataStoreView

__all__ = ["export_view", "EXPORT_KIND"]

EXPORT_KIND = "cldata export"


def export_view(view: DataStoreView, path: str | os.PathLike[str], *, overwrite: bool = False,
                progress: bool = True) -> Path:
    """Write the recordings and results of ``view`` to one HDF5 file at ``path``.

    Recordings that results come from are included even if the view does not show them,
    so every result keeps its sources. The file appears atomically (written beside, then
    renamed); what an export killed half-way left beside ``path`` is removed by the next
    export to ``path``.

    With ``progress``, a bar counts the recordings copied when the export lasts over a
    second and standard error is a terminal.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is false.
    cldata.errors.BrokenLinkError
        If a linked recording is missing.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    store = view.full_datastore
    cat = store.catalog
    result_rows = view._live_result_rows()
    rec_ids = list(view.recording_ids)
    for r in result_rows:
        entry = cat.results[r]
        for source in entry.sources:  # type: ignore[union-attr]
            if source not in cat.recording_rows:
                raise StoreFormatError(
                    f"result {entry.id} ({entry.identifier!r}) comes from recording {source!r:.80}, which is not in "  # type: ignore[union-attr]
                    "the store (the catalog is damaged; `cldata check` lists such results): nothing was exported"
                )
            if source not in rec_ids:
                rec_ids.append(source)
    rec_ids.sort(key=lambda rid: cat.recording_rows[rid])
    encoder = Encoder()
    # an export killed half-way leaves its temporary: the next export to the same path removes it
    remove_stale_temporaries(path)
    # an unpredictable name, created exclusively (PyTables then writes into that new file): a link
    # planted beside the target is never written through
    tmp = new_temporary(path)
    try:
        with tables.open_file(str(tmp), "w") as out:
            out.root._v_attrs["cldata_kind"] = EXPORT_KIND
            out.root._v_attrs["cldata_format_version"] = np.int64(1)
            out.root._v_attrs["exported_utc"] = datetime.now(UTC).isoformat()
            records = []
            for rid in progress_bar(rec_ids, desc=f"export to {path.name}", unit="recording", enabled=progress):
                row = cat.recording_rows[rid]
                entry = cat.recordings[row]
                src = store._open_recording(row)
                src_root = src.file.get_node(src.group)
                group = out.create_group("/recordings", rid, createparents=True)
                for name, value in read_attributes(src_root, str(src.path)).items():
                    group._v_attrs[name] = value
                for child in (SAMPLES, SPIKES, STIMS, DATA_STREAM):
                    if child in src_root:
                        src_root._f_get_child(child)._f_copy(newparent=group, recursive=True)
                record = entry.to_record()  # type: ignore[union-attr]
                record["location"] = {"kind": "export", "group": f"/recordings/{rid}"}
                records.append(record)
            keys, blobs = [], []
            for r in result_rows:
                entry = cat.results[r]
                record = entry.to_record()  # type: ignore[union-attr]
                keys.append(entry.id)  # type: ignore[union-attr]
                blobs.append(encoder.pack(to_plain_payload(store._load_payload(entry))))  # type: ignore[arg-type]
                record["payload"] = {"export": entry.id}  # type: ignore[union-attr]
                records.append(record)
            write_blob_table(out, "/catalog", [""] * len(records), [encoder.pack(r) for r in records])
            write_blob_table(out, "/payloads", keys, blobs)
        fsync_file(tmp)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
