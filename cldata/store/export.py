"""Exporting a store (or a view of it) to one self-contained HDF5 file, for sharing.

An export holds what the view shows, and nothing it does not:

- **recordings**: the view's recordings, each copied into the file (links are resolved:
  the linked file's content is copied in), so the export needs nothing beside it;
- **time window** (``between``): only the window's spikes, stims, data-stream entries and
  sample frames — what the view's reads return. Timestamps keep the **original frame
  numbers** (relative to the recording's ``start_timestamp``, which is unchanged), so
  results, windows and queries line up with the store's: ``export.between(10 * pq.s,
  20 * pq.s)`` reads what ``store.between(10 * pq.s, 20 * pq.s)`` read (re-basing the
  recording at the window's start would make every stored result and time disagree).
  The exported recording ends where the window ends (``duration_frames``,
  ``end_timestamp`` and ``duration_seconds`` say so; an open end keeps the recording's
  end), and its root attribute ``cldata_export_window = [start, stop]`` names the frames
  that hold data. ``/samples`` keeps row = frame, as the CL layout has it: its rows
  before the window are never written, take no space, and read as zeros in a plain CL
  reader; cldata reads only the window (the catalog's location carries it). A recording
  of a view without a window is copied node for node;
- **streams** (``streams``): only the selected data streams (with their attributes);
- **analysis results**: the view's results that come from exported recordings (or from
  none); a result of the view with a source outside the view is left out, with an
  :class:`~cldata.errors.ExportWarning`. Payloads are copied as stored: a result
  computed over a whole recording stays so.

The catalog records the exported recordings' content: its summary counts what the
export holds; the parameters that came from the file's root attributes follow the
exported file's attributes.

``cldata.open(file)`` opens an export as a read-only store; each recording sits in the CL
layout (:mod:`cldata.format.layout`) under ``/recordings/<id>``, readable with
``cldata.RecordingView(file, group=...)`` and with plain PyTables. Payloads use the
``hdf5`` backend's encoding whatever the store's backend, so an export is safe to open
from strangers. ``cldata check FILE`` verifies one.

Layout::

    /                      attrs: cldata_kind="cldata export", cldata_format_version, exported_utc
    /catalog/{index,data}  catalog records (blob table, codec-encoded)
    /payloads/{index,data} payloads by result id (blob table, codec-encoded)
    /recordings/<id>/      a CL recording: root attributes, samples, spikes, stims, data_stream
                           (a neo recording: its file's nodes in the neo layout, cldata.format.neo_file;
                           its catalog location says "layout": "neo")

Examples
--------
>>> part = store.filter(culture="C7").streams("score").between(0, 2 * pq.s)   # doctest: +SKIP
>>> part.export("c7.h5")                                                     # doctest: +SKIP
>>> shared = cldata.open("c7.h5")                                            # doctest: +SKIP
>>> shared.recordings[0].stream_names                                        # doctest: +SKIP
['score']
"""

from __future__ import annotations

import os
import tempfile
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import tables

from cldata.backends.blobs import write_blob_table
from cldata.backends.export import EXPORT_KIND, NEO_LOCATION, WINDOW_ATTRIBUTE
from cldata.core.display import progress_bar
from cldata.core.fsutil import remove_stale_temporaries, replaced_on_success
from cldata.errors import CorruptRecordingError, ExportWarning, StoreFormatError
from cldata.format.attributes import read_attributes, to_plain
from cldata.format.codec import Encoder
from cldata.format.layout import DATA_STREAM, SAMPLES, STREAM_DATA, STREAM_INDEX, IndexRow
from cldata.format.neo_file import write_neo_recording
from cldata.format.parts import EVENT_PARTS, PARTS
from cldata.model.payload import to_plain_payload
from cldata.store.neo_ingest import read_neo_recording

if TYPE_CHECKING:  # pragma: no cover
    from cldata.format.events import EventTable
    from cldata.store.view import DataStoreView, RecordingHandle

__all__ = ["export_view", "EXPORT_KIND", "WINDOW_ATTRIBUTE"]

_FRAMES = 1 << 16  # sample frames per copied block
_ROWS = 1 << 18  # table rows per copied block
_ENTRIES = 1 << 16  # data-stream entries per copied block


def export_view(view: DataStoreView, path: str | os.PathLike[str], *, overwrite: bool = False,
                progress: bool = True) -> Path:
    """Write what ``view`` shows — recordings within its window and streams, and their results — to one file.

    See the module doc for what an export holds. The file appears atomically (written
    beside, then renamed); what an export killed half-way left beside ``path`` is removed
    by the next export to ``path``.

    Parameters
    ----------
    view
        A store or any view of one.
    path
        The file to write.
    overwrite
        Replace ``path`` if it exists.
    progress
        Show a bar counting the recordings copied when the export lasts over a second and
        standard error is a terminal.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is false.
    cldata.errors.BrokenLinkError
        If a linked recording is missing.
    cldata.errors.StoreFormatError
        If a result of the view comes from a recording the store does not hold.

    Warns
    -----
    cldata.errors.ExportWarning
        If results of the view come from recordings outside it (they are left out).

    Examples
    --------
    >>> store.between(0, 2 * pq.s).streams("score").export("first-2s.h5")   # doctest: +SKIP
    PosixPath('first-2s.h5')
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    store = view.full_datastore
    cat = store.catalog
    handles = view.recordings
    exported = {h.id for h in handles}
    result_rows, left_out = [], []
    for r in view.selection.live_result_rows(cat):
        entry = cat.results[r]
        for source in entry.sources:  # type: ignore[union-attr]
            if source not in cat.recording_rows:
                raise StoreFormatError(
                    f"result {entry.id} ({entry.identifier!r}) comes from recording {source!r:.80}, which is not in "  # type: ignore[union-attr]
                    "the store (the catalog is damaged; `cldata check` lists such results): nothing was exported"
                )
        # a result goes with its recordings: one whose source is not exported would dangle
        (left_out if set(entry.sources) - exported else result_rows).append(r)  # type: ignore[union-attr]
    if left_out:
        names = ", ".join(f"{cat.results[r].identifier!r}" for r in left_out[:5])  # type: ignore[union-attr]
        warnings.warn(f"{len(left_out)} analysis result(s) of the view ({names}{', ...' if len(left_out) > 5 else ''}) "
                      "come from recordings outside the view and were not exported (an export holds only the "
                      "results of the recordings it holds); add those recordings to the view to export them",
                      ExportWarning, stacklevel=3)
    encoder = Encoder()
    # an export killed half-way leaves its temporary: the next export to the same path removes it
    remove_stale_temporaries(path)
    # an unpredictable name, created exclusively (PyTables then writes into that new file): a link
    # planted beside the target is never written through
    with replaced_on_success(path) as tmp:
        with tables.open_file(str(tmp), "w") as out:
            out.root._v_attrs["cldata_kind"] = EXPORT_KIND
            out.root._v_attrs["cldata_format_version"] = np.int64(1)
            out.root._v_attrs["exported_utc"] = datetime.now(UTC).isoformat()
            records = []
            for handle in progress_bar(handles, desc=f"export to {path.name}", unit="recording", enabled=progress):
                group = out.create_group("/recordings", handle.id, createparents=True)
                records.append(_export_neo(handle, group) if handle.is_neo else _export_recording(handle, group))
            keys, blobs = [], []
            for r in result_rows:
                entry = cat.results[r]
                record = entry.to_record()  # type: ignore[union-attr]
                keys.append(entry.id)  # type: ignore[union-attr]
                blobs.append(encoder.pack(to_plain_payload(store.load_payload(entry))))  # type: ignore[arg-type]
                record["payload"] = {"export": entry.id}  # type: ignore[union-attr]
                records.append(record)
            write_blob_table(out, "/catalog", [""] * len(records), [encoder.pack(r) for r in records])
            write_blob_table(out, "/payloads", keys, blobs)
    return path


def _export_recording(handle: RecordingHandle, group: tables.Group) -> dict[str, Any]:
    """Write one recording of the view under ``group``; return its catalog record."""
    entry = handle.entry
    names = handle.stream_names  # the streams the view shows
    rv = handle.view()  # the recording through the view's window
    src_root = rv.file.get_node(rv.group)
    attrs = read_attributes(src_root, str(rv.path))  # (through the allow-list: nothing in the file runs)
    record = entry.to_record()
    record["location"] = {"kind": "export", "group": group._v_pathname}
    record["streams"] = {n: entry.streams[n] for n in names}
    summary = dict(entry.summary)
    windowed = rv.window != (None, None)
    if not windowed:
        # the whole recording: its nodes as stored (only the selected streams)
        for name, value in attrs.items():
            group._v_attrs[name] = value
        for child in (p.node for p in PARTS if p.node != DATA_STREAM):  # streams: only the selected ones, below
            if child in src_root:
                src_root._f_get_child(child)._f_copy(newparent=group, recursive=True)
        if DATA_STREAM in src_root:
            src_streams = src_root._f_get_child(DATA_STREAM)
            if names == sorted(entry.streams) or not isinstance(src_streams, tables.Group):
                src_streams._f_copy(newparent=group, recursive=True)
            else:
                streams = _new_group(group, DATA_STREAM, src_streams, str(rv.path))
                for name in names:
                    if name in src_streams:
                        src_streams._f_get_child(name)._f_copy(newparent=streams, recursive=True)
        summary["streams"] = {n: summary.get("streams", {}).get(n, 0) for n in names}
        record["summary"] = summary
        return record

    # the view's window as its reads use it: an open side is open for events and entries too
    # (an untidy file may hold some past its stated duration, or before frame 0)
    lo, hi = rv.window
    fps = rv.frames_per_second
    seen: list[int] = []  # the first and last timestamp of every table and stream copied
    frames = _copy_samples(rv.samples, group, max(lo or 0, 0), hi)
    events = {p.name: _copy_events(rv.event_tables.get(p.name), group, p.node, lo, hi, seen) for p in EVENT_PARTS}
    counts = {}
    if DATA_STREAM in src_root and isinstance(src_streams := src_root._f_get_child(DATA_STREAM), tables.Group):
        streams = _new_group(group, DATA_STREAM, src_streams, str(rv.path))
        for name in names:
            if name in rv.data_streams:  # (one the reader cannot interpret is left out, as the reader does)
                counts[name] = _copy_stream(src_streams._f_get_child(name), streams, lo, hi, str(rv.path), seen)
    # what the export covers: the window, within the recording's extent (its stated duration,
    # its samples, and anything it holds beyond them)
    extent = max([rv.duration_frames, int(rv.samples.nrows) if rv.samples is not None else 0,
                  *(t + 1 for t in seen)])
    stop = extent if hi is None else min(hi, extent)
    start = min([0, *seen]) if lo is None else min(lo, stop)
    attrs.update({
        # the recording now ends where the window ends; frame numbers are the original ones
        "duration_frames": np.int64(max(stop, 0)),
        "end_timestamp": np.int64(rv.start_timestamp + max(stop, 0)),
        "duration_seconds": np.float64(max(stop, 0) / fps),
        WINDOW_ATTRIBUTE: np.array([start, stop], dtype=np.int64),
    })
    for name, value in attrs.items():
        group._v_attrs[name] = value
    record["streams"] = {n: entry.streams[n] for n in counts}
    record["location"]["window"] = [start, stop]
    summary.update({"duration_s": max(stop - max(start, 0), 0) / fps, **events,
                    "sample_frames": frames, "streams": counts})
    root_keys = set(summary.get("root_keys", ()))
    params = dict(record["parameters"])
    for name in ("duration_frames", "end_timestamp", "duration_seconds", WINDOW_ATTRIBUTE):
        # parameters that came from the file's root attributes follow the exported file
        if name in root_keys or name not in params:
            value = to_plain(attrs[name])
            params[name] = [int(v) for v in value] if name == WINDOW_ATTRIBUTE else value
            root_keys.add(name)
    summary["root_keys"] = sorted(root_keys)
    record["parameters"], record["summary"] = params, summary
    return record


def _export_neo(handle: RecordingHandle, group: tables.Group) -> dict[str, Any]:
    """Write a neo recording under ``group`` in the neo layout: the nodes of its file, or, through a
    window, of its windowed segment written afresh (its summary then counts what the export holds)."""
    record = handle.entry.to_record()
    record["location"] = {"kind": "export", "group": group._v_pathname, "layout": NEO_LOCATION}
    with tempfile.TemporaryDirectory(prefix="cldata-export-") as tmp:
        if handle.time_window.is_everything:
            source = handle.view().path  # (the file the view reads: an export's recording is copied out of it)
        else:
            source = write_neo_recording(handle.view().segment(lazy=False), Path(tmp) / "window.h5")
            summary = read_neo_recording(source, {}, {})[3]
            record["summary"] = {**summary, "unindexed": handle.entry.summary.get("unindexed", [])}
        with tables.open_file(str(source), "r") as src:
            for name, value in read_attributes(src.root, str(source)).items():
                group._v_attrs[name] = value
            src.root._f_copy_children(group, recursive=True)
    return record


def _new_group(parent: tables.Group, name: str, like: tables.Group, source: str) -> tables.Group:
    group = parent._v_file.create_group(parent, name)
    for key, value in read_attributes(like, source).items():
        group._v_attrs[key] = value
    return group


def _copy_samples(samples: tables.EArray | None, group: tables.Group, start: int, stop: int | None) -> int:
    """Frames ``[start, stop)`` at their own rows; the rows before ``start`` are never written
    (HDF5 allocates no chunk for them). Returns the number of frames copied."""
    if samples is None:
        return 0
    stop = int(samples.nrows) if stop is None else max(min(stop, int(samples.nrows)), 0)
    start = min(max(start, 0), stop)
    out = group._v_file.create_earray(group, SAMPLES, atom=samples.atom, shape=(0, samples.shape[1]),
                                      filters=samples.filters, chunkshape=samples.chunkshape,
                                      expectedrows=max(stop, 1))
    if start:
        out.truncate(start)  # grows the array: rows before the window exist, unwritten
    for a in range(start, stop, _FRAMES):
        try:
            out.append(samples[a:min(a + _FRAMES, stop)])
        except tables.HDF5ExtError as exc:
            raise CorruptRecordingError(f"cannot read samples [{a}, {min(a + _FRAMES, stop)}) of "
                                        f"{samples._v_file.filename}: {exc}") from None
    return stop - start


def _copy_events(events: EventTable | None, group: tables.Group, name: str, start: int | None, stop: int | None,
                 seen: list[int]) -> int:
    """The rows of a spike or stim table with ``start <= timestamp < stop``, in stored order
    (found by bisection in a table in time order, as CL writes them; by a scan otherwise)."""
    if events is None:  # none, or one the reader cannot read (it said so when opening)
        return 0
    table = events.table
    out = group._v_file.create_table(group, name, description=table.dtype, filters=table.filters,
                                     expectedrows=max(int(table.nrows), 1))
    where = events.rows(start, stop)
    pieces = ([where[k:k + _ROWS] for k in range(0, where.size, _ROWS)] if isinstance(where, np.ndarray)
              else [(a, min(a + _ROWS, where[1])) for a in range(where[0], where[1], _ROWS)])
    kept = 0
    for piece in pieces:
        try:
            rows = table.read_coordinates(piece) if isinstance(piece, np.ndarray) else table.read(*piece)
        except (tables.HDF5ExtError, ValueError) as exc:
            raise CorruptRecordingError(f"rows of {table._v_pathname} in {table._v_file.filename} cannot be "
                                        f"read: {exc}") from None
        out.append(rows)
        kept += len(rows)
        if len(rows):
            seen += [int(rows["timestamp"].min()), int(rows["timestamp"].max())]
    return kept


def _copy_stream(src: tables.Group, parent: tables.Group, start: int | None, stop: int | None, source: str,
                 seen: list[int]) -> int:
    """The entries of a data stream with ``start <= timestamp < stop``: index rows in stored
    order, their bytes end to end. Returns the number of index rows copied."""
    h5 = parent._v_file
    group = _new_group(parent, src._v_name, src, source)
    index, data = src._f_get_child(STREAM_INDEX), src._f_get_child(STREAM_DATA)
    rows = index.read()
    ts = rows["timestamp"].astype(np.int64)
    keep = np.ones(ts.size, dtype=bool)
    if start is not None:
        keep &= ts >= start
    if stop is not None:
        keep &= ts < stop
    ts = ts[keep]
    if ts.size:
        seen += [int(ts.min()), int(ts.max())]
    starts = rows["start_index"][keep].astype(np.uint64)
    ends = rows["end_index"][keep].astype(np.uint64)
    nbytes = int(data.nrows)
    bad = np.flatnonzero((ends < starts) | (ends > nbytes))
    if bad.size:
        raise CorruptRecordingError(
            f"data stream {src._v_name!r} in {source}: {bad.size} entries of the window point at bytes outside its "
            f"{nbytes} bytes of data (a truncated file?), so they cannot be exported; export a window without them, "
            "or a view without this stream")
    out_index = h5.create_table(group, STREAM_INDEX, IndexRow, filters=index.filters, expectedrows=max(len(ts), 1))
    out_data = h5.create_earray(group, STREAM_DATA, atom=tables.UInt8Atom(), shape=(0,), filters=data.filters,
                                expectedrows=max(int((ends - starts).sum()) if ts.size else 0, 1))
    offset = 0
    for i in range(0, ts.size, _ENTRIES):
        s, e = starts[i:i + _ENTRIES].astype(np.int64), ends[i:i + _ENTRIES].astype(np.int64)
        lo, hi = int(s.min()), int(e.max())
        try:
            span = data.read(lo, hi) if hi > lo else np.empty(0, np.uint8)
        except tables.HDF5ExtError as exc:
            raise CorruptRecordingError(f"cannot read bytes [{lo}, {hi}) of data stream {src._v_name!r} in "
                                        f"{source}: {exc}") from None
        sizes = e - s
        if np.array_equal(s[1:], e[:-1]):  # entries end to end, as CL writes them: one slice
            chunk = span[s[0] - lo:e[-1] - lo]
        else:
            chunk = np.concatenate([span[a - lo:b - lo] for a, b in zip(s, e, strict=True)]) if s.size else span[:0]
        new_starts = offset + np.concatenate([[0], np.cumsum(sizes)[:-1]])
        block = np.empty(s.size, dtype=out_index.dtype)
        block["timestamp"], block["start_index"], block["end_index"] = ts[i:i + _ENTRIES], new_starts, new_starts + sizes
        out_index.append(block)
        out_data.append(chunk)
        offset += int(sizes.sum())
    return int(ts.size)
