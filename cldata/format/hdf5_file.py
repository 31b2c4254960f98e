"""Writing the CL layout into an HDF5 file: the one place that creates and appends nodes.

:class:`RecordingFile` applies the operations a recording is made of (``open``,
``stream``, ``attrs``, ``batch``, ``close``) to a PyTables file. The live writer applies
each flushed batch right after journaling it, and recovery replays a journal through the
same code, so a recovered file is built exactly as a cleanly closed one.

Examples
--------
>>> f = RecordingFile.create("rec.h5", open_record)    # doctest: +SKIP
>>> f.apply({"op": "stream", "name": "score", "attrs": {...}})  # doctest: +SKIP
>>> f.finish(close_record)                             # doctest: +SKIP
"""

from __future__ import annotations

import os
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import tables

from cldata.core.fsutil import fsync_file
from cldata.format.index_order import mark_time_order
from cldata.format.layout import (
    DATA_STREAM,
    INDEX_DTYPE,
    SAMPLES,
    SPIKE_DTYPE,
    SPIKES,
    STIM_DTYPE,
    STIMS,
    STREAM_DATA,
    STREAM_INDEX,
    IndexRow,
    SpikeRow,
    StimRow,
)

__all__ = ["RecordingFile"]

_DATA_CHUNK = (32768,)  # as the CL writer
_SAMPLE_CHUNK_FRAMES = 4096  # 512 KiB chunks for 64 channels: fast windowed reads


class RecordingFile:
    """A CL recording open for writing, built from operation records.

    Use :meth:`create`; then :meth:`apply` each record in order, then :meth:`finish`.
    """

    def __init__(self, h5: tables.File, channel_count: int):
        self.h5 = h5
        self.channel_count = channel_count
        self.spikes: tables.Table = h5.root._f_get_child(SPIKES)
        self.stims: tables.Table = h5.root._f_get_child(STIMS)
        self.streams_group: tables.Group = h5.root._f_get_child(DATA_STREAM)
        self.samples: tables.EArray | None = None
        self._stream_nodes: dict[str, tuple[tables.Table, tables.EArray]] = {}
        self.max_timestamp = -1  # latest frame of any event or entry written

    @property
    def duration_frames(self) -> int:
        """The recording's extent so far: the samples' length or one past the last event."""
        frames = 0 if self.samples is None else int(self.samples.nrows)
        return max(frames, self.max_timestamp + 1)

    def closing_attributes(self, duration_frames: int | None = None) -> dict[str, Any]:
        """The root attributes the CL writer sets when a recording stops."""
        duration = self.duration_frames if duration_frames is None else duration_frames
        root = self.h5.root._v_attrs
        start, fps = int(root["start_timestamp"]), int(root["frames_per_second"])
        now = datetime.now(UTC)
        return {
            "end_timestamp": np.int64(start + duration),
            "duration_frames": np.int64(duration),
            "duration_seconds": np.float64(duration / fps),
            "ended_utc": now.isoformat(),
            "ended_localtime": now.astimezone().isoformat(),
        }

    @classmethod
    def create(cls, path: str | os.PathLike[str], open_record: dict[str, Any]) -> RecordingFile:
        """Create the file at ``path`` (replacing any) from an ``open`` record."""
        h5 = tables.open_file(str(path), mode="w")
        try:
            for name, value in open_record["root"].items():
                h5.root._v_attrs[name] = value
            h5.create_table("/", SPIKES, SpikeRow, expectedrows=100_000)
            h5.create_table("/", STIMS, StimRow, expectedrows=10_000)
            h5.create_group("/", DATA_STREAM)
        except BaseException:
            h5.close()
            raise
        return cls(h5, int(open_record["root"]["channel_count"]))

    def apply(self, record: dict[str, Any]) -> None:
        """Apply one operation record (``stream``, ``attrs`` or ``batch``)."""
        op = record["op"]
        if op == "stream":
            self._create_stream(record["name"], record["attrs"])
        elif op == "attrs":
            self._set_attributes(record.get("stream"), record["attrs"])
        elif op == "batch":
            self._append_batch(record)
        else:
            raise ValueError(f"unknown recording operation {op!r}")

    def _create_stream(self, name: str, application: dict[str, Any]) -> None:
        with warnings.catch_warnings():
            # stream names need not be Python identifiers; natural naming is never used here
            warnings.simplefilter("ignore", tables.NaturalNameWarning)
            group = self.h5.create_group(self.streams_group, name)
        group._v_attrs["name"] = name
        group._v_attrs["application"] = application
        index = self.h5.create_table(group, STREAM_INDEX, IndexRow, expectedrows=100_000)
        data = self.h5.create_earray(group, STREAM_DATA, tables.UInt8Atom(), shape=(0,), chunkshape=_DATA_CHUNK)
        self._stream_nodes[name] = (index, data)

    def _set_attributes(self, stream: str | None, attrs: dict[str, Any]) -> None:
        node = self.h5.root if stream is None else self.streams_group._f_get_child(stream)
        for key, value in attrs.items():
            node._v_attrs[key] = value

    def _append_batch(self, batch: dict[str, Any]) -> None:
        for name, part in (batch.get("streams") or {}).items():
            index, data = self._stream_nodes[name]
            ts = np.asarray(part["ts"], dtype=np.int64)
            ends = np.asarray(part["ends"], dtype=np.int64)
            base = data.nrows
            rows = np.empty(ts.size, dtype=INDEX_DTYPE)
            rows["timestamp"] = ts
            rows["end_index"] = ends + base
            rows["start_index"][0:1] = base
            rows["start_index"][1:] = ends[:-1] + base
            data.append(np.frombuffer(part["data"], dtype=np.uint8))
            index.append(rows)
            if ts.size:
                self.max_timestamp = max(self.max_timestamp, int(ts[-1]))
        spikes = batch.get("spikes")
        if spikes is not None:
            rows = np.empty(len(spikes["ts"]), dtype=SPIKE_DTYPE)
            rows["timestamp"], rows["channel"], rows["samples"] = spikes["ts"], spikes["ch"], spikes["wf"]
            self.spikes.append(rows)
            if rows.size:
                self.max_timestamp = max(self.max_timestamp, int(rows["timestamp"][-1]))
        stims = batch.get("stims")
        if stims is not None:
            rows = np.empty(len(stims["ts"]), dtype=STIM_DTYPE)
            rows["timestamp"], rows["channel"] = stims["ts"], stims["ch"]
            self.stims.append(rows)
            if rows.size:
                self.max_timestamp = max(self.max_timestamp, int(rows["timestamp"][-1]))
        samples = batch.get("samples")
        if samples is not None:
            if self.samples is None:
                self.samples = self.h5.create_earray(
                    "/",
                    SAMPLES,
                    tables.Int16Atom(),
                    shape=(0, self.channel_count),
                    chunkshape=(_SAMPLE_CHUNK_FRAMES, self.channel_count),
                )
            self.samples.append(samples)

    def flush(self) -> None:
        """Hand everything written so far to the operating system."""
        self.h5.flush()

    def finish(self, root_attributes: dict[str, Any]) -> None:
        """Set the closing root attributes, index the timestamp columns, close and sync."""
        for name, value in root_attributes.items():
            self.h5.root._v_attrs[name] = value
        # the CL writer's tables carry a PyTables index on timestamp (read_where uses it);
        # ours too, in the lightest kind: cldata itself searches the loaded column instead
        for table in [self.spikes, self.stims, *(index for index, _ in self._stream_nodes.values())]:
            if not table.cols.timestamp.is_indexed:
                table.cols.timestamp.create_index(optlevel=0, kind="ultralight")
        # each stream index read back and checked in time order (the writer refused anything
        # else, recovery replays what it wrote): the reader may then bisect it on disk
        for index, _ in self._stream_nodes.values():
            mark_time_order(index)
        path = Path(self.h5.filename)
        self._close()
        fsync_file(path)

    def abort(self) -> None:
        """Close without finishing (the journal still holds everything)."""
        self._close()

    def _close(self) -> None:
        # drop our node handles first: a PyTables node that outlives its closed file
        # fails noisily when it is garbage-collected
        self.spikes = self.stims = self.streams_group = self.samples = None  # type: ignore[assignment]
        self._stream_nodes.clear()
        if self.h5.isopen:
            self.h5.close()
