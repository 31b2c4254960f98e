"""Building a CL recording file from the operation records a recording is made of.

:class:`RecordingFile` applies the operations a recording is made of (``open``,
``stream``, ``attrs``, ``batch``, ``close``) to a PyTables file. The live writer applies
each flushed batch right after journaling it, and recovery replays a journal through the
same code, so a recovered file is built exactly as a cleanly closed one. Each part of the
recording (:data:`cldata.format.parts.PARTS`) creates and appends its own nodes.

Examples
--------
>>> f = RecordingFile.create("rec.h5", open_record)    # doctest: +SKIP
>>> f.apply({"op": "stream", "name": "score", "attrs": {...}})  # doctest: +SKIP
>>> f.finish(close_record)                             # doctest: +SKIP
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import tables

from cldata.core.fsutil import fsync_file
from cldata.format.layout import SPIKES, STIMS
from cldata.format.parts import PARTS, STREAMS, StreamNodes

__all__ = ["RecordingFile"]


class RecordingFile:
    """A CL recording open for writing, built from operation records.

    Use :meth:`create`; then :meth:`apply` each record in order, then :meth:`finish`. Each
    part of the recording (:data:`cldata.format.parts.PARTS`) writes its own nodes; this
    class keeps their handles and the extent written so far.
    """

    def __init__(self, h5: tables.File, channel_count: int, handles: dict[str, Any]):
        self.h5 = h5
        self.channel_count = channel_count
        #: each part's node handle(s), by part name (``None`` until a part's first write makes them)
        self.handles = handles
        self.max_timestamp = -1  # latest frame of any event or entry written

    @property
    def spikes(self) -> tables.Table | None:
        """The ``/spikes`` table being written."""
        return self.handles.get(SPIKES)

    @property
    def stims(self) -> tables.Table | None:
        """The ``/stims`` table being written."""
        return self.handles.get(STIMS)

    @property
    def samples(self) -> tables.EArray | None:
        """The ``/samples`` array (``None`` until samples are written)."""
        return self.handles.get("samples")

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
            handles = {part.name: part.create(h5) for part in PARTS}
        except BaseException:
            h5.close()
            raise
        return cls(h5, int(open_record["root"]["channel_count"]), handles)

    def apply(self, record: dict[str, Any]) -> None:
        """Apply one operation record (``stream``, ``attrs`` or ``batch``)."""
        op = record["op"]
        if op == "stream":
            STREAMS.create_stream(self.h5, self.handles[STREAMS.name], record["name"], record["attrs"])
        elif op == "attrs":
            self._set_attributes(record.get("stream"), record["attrs"])
        elif op == "batch":
            self._append_batch(record)
        else:
            raise ValueError(f"unknown recording operation {op!r}")

    def _set_attributes(self, stream: str | None, attrs: dict[str, Any]) -> None:
        streams: StreamNodes = self.handles[STREAMS.name]
        node = self.h5.root if stream is None else streams.group._f_get_child(stream)
        for key, value in attrs.items():
            node._v_attrs[key] = value

    def _append_batch(self, batch: dict[str, Any]) -> None:
        for part in PARTS:
            value = batch.get(part.name)
            if value is not None:
                self.handles[part.name], last = part.append(self.h5, self.handles[part.name], value,
                                                            self.channel_count)
                self.max_timestamp = max(self.max_timestamp, last)

    def flush(self) -> None:
        """Hand everything written so far to the operating system."""
        self.h5.flush()

    def finish(self, root_attributes: dict[str, Any]) -> None:
        """Set the closing root attributes, complete each part (indexes, marks), close and sync."""
        for name, value in root_attributes.items():
            self.h5.root._v_attrs[name] = value
        for part in PARTS:
            if self.handles[part.name] is not None:
                part.finish(self.handles[part.name])
        path = Path(self.h5.filename)
        self._close()
        fsync_file(path)

    def abort(self) -> None:
        """Close without finishing (the journal still holds everything)."""
        self._close()

    def _close(self) -> None:
        # drop our node handles first: a PyTables node that outlives its closed file
        # fails noisily when it is garbage-collected
        for part in PARTS:
            if self.handles.get(part.name) is not None:
                part.release(self.handles[part.name])
        self.handles = {}
        if self.h5.isopen:
            self.h5.close()
