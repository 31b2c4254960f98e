"""The parts of a CL recording, in one table: what each is and how it is written and counted.

Besides its root attributes, a CL recording holds four parts of data. Each has one entry in
:data:`PARTS`, and every layer that does the same thing for each part (the writer's
buffers and batches, the HDF5 file builder, recovery's report, the reader's tables, the
layout the node guard checks) iterates that table instead of naming the parts by hand:

======== ================================ ================================== ==============
part     nodes (under the recording)      rows / batch value                 counted as
======== ================================ ================================== ==============
streams  ``data_stream/<name>/index,data`` ``{name: {"ts", "data", "ends"}}`` entries
spikes   ``spikes`` (table)               ``{"ts", "ch", "wf"}`` ->            spikes
                                          ``SPIKE_DTYPE`` rows
stims    ``stims`` (table)                ``{"ts", "ch"}`` -> ``STIM_DTYPE``   stims
samples  ``samples`` (int16 frames ×      an int16 ``(frames, channels)``     sample frames
         channels)                        array
======== ================================ ================================== ==============

A *batch* (what :meth:`cldata.RecordingWriter.flush` journals and appends, and what
``cldata.follow`` reads back) is ``{"op": "batch", <part name>: value or None, ...}`` with
one key per part, in the order of :data:`PARTS`. The parts come in three kinds, each a
class with its own code: :class:`EventPart` (a table of ``timestamp`` and ``channel`` rows
and maybe more columns), :class:`SamplesPart` and :class:`StreamsPart`. A new table of
events is one more :class:`EventPart` entry here (its dtype, row description and batch
keys) plus the writer's ``append_...`` method that checks what a user gives it; a new kind
of part is a new class beside these.

Examples
--------
>>> [p.name for p in PARTS]
['streams', 'spikes', 'stims', 'samples']
>>> part("stims").dtype.names
('timestamp', 'channel')
>>> batch_counts({"op": "batch", "streams": None, "spikes": None,
...               "stims": {"ts": np.array([2, 9]), "ch": np.array([1, 1], np.uint8)}, "samples": None})
{'stims': 2}
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tables

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

__all__ = [
    "RecordingPart",
    "EventPart",
    "SamplesPart",
    "StreamsPart",
    "StreamNodes",
    "PARTS",
    "EVENT_PARTS",
    "part",
    "batch_counts",
    "empty_batch",
]

_DATA_CHUNK = (32768,)  # stream bytes: as the CL writer
_SAMPLE_CHUNK_FRAMES = 4096  # 512 KiB chunks for 64 channels: fast windowed reads


@dataclass(frozen=True)
class RecordingPart:
    """One part of a recording: its name, where it lives, and how it is written and counted.

    Attributes
    ----------
    name : str
        The part's name in batches, journal records, reports and summaries (``"spikes"``).
    node : str
        Its node's name under the recording's group (``"spikes"``, ``"data_stream"``).
    noun : str
        What one counted item is called, in the plural (``"spikes"``, ``"sample frames"``).
    layout : tuple of (str, str)
        ``(path pattern, kind)`` of the nodes the CL writer puts there; the kind names a
        :class:`cldata.format.node_guard.NodeKind` (``"table"``, ``"group"``,
        ``"bytes"``, ``"integer matrix"``).
    """

    name: str
    node: str
    noun: str
    layout: tuple[tuple[str, str], ...]

    def create(self, h5: tables.File) -> Any:
        """Make the part's nodes in a new recording; returns the handle :meth:`append` takes."""
        return None

    def append(self, h5: tables.File, handle: Any, value: Any, channel_count: int) -> tuple[Any, int]:
        """Append a batch's ``value``; returns ``(handle, the last frame written, or -1)``."""
        raise NotImplementedError

    def merge(self, chunks: list[Any]) -> Any:
        """The batch value of chunks buffered in order (each a batch value of its own)."""
        raise NotImplementedError

    def count(self, value: Any) -> int:
        """How many items (rows, frames, entries) a batch value holds."""
        raise NotImplementedError

    def finish(self, handle: Any) -> None:
        """Complete the part's nodes when the recording closes."""

    def release(self, handle: Any) -> None:
        """Drop node handles before the file closes."""


@dataclass(frozen=True)
class EventPart(RecordingPart):
    """A table of events in time order: ``timestamp`` and ``channel``, and maybe more columns.

    Attributes
    ----------
    dtype : numpy.dtype
        The rows' dtype, as the CL writer stores them.
    description : type
        The PyTables row description of the same columns.
    fields : tuple of (str, str)
        ``(batch key, column)``: a batch value is a dict of one array per column.
    expected_rows : int
        PyTables' size hint for a new table.
    """

    dtype: np.dtype = field(default=STIM_DTYPE)
    description: type = StimRow
    fields: tuple[tuple[str, str], ...] = (("ts", "timestamp"), ("ch", "channel"))
    expected_rows: int = 10_000

    def create(self, h5: tables.File) -> tables.Table:
        return h5.create_table("/", self.node, self.description, expectedrows=self.expected_rows)

    def rows(self, value: dict[str, np.ndarray]) -> np.ndarray:
        """A batch value as rows of :attr:`dtype`."""
        rows = np.empty(len(value["ts"]), dtype=self.dtype)
        for key, column in self.fields:
            rows[column] = value[key]
        return rows

    def empty(self, columns: tuple[str, ...] | None = None) -> np.ndarray:
        """No rows, with the columns a read returns (all of :attr:`dtype` by default)."""
        return np.empty(0, dtype=self.dtype if columns is None else self.dtype[list(columns)])

    def append(self, h5: tables.File, handle: tables.Table, value: Any, channel_count: int) -> tuple[Any, int]:
        rows = self.rows(value)
        handle.append(rows)
        return handle, int(rows["timestamp"][-1]) if rows.size else -1

    def merge(self, chunks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        return {key: np.concatenate([c[key] for c in chunks]) for key, _ in self.fields}

    def count(self, value: dict[str, np.ndarray]) -> int:
        return len(value["ts"])

    def finish(self, handle: tables.Table) -> None:
        # the CL writer's tables carry a PyTables index on timestamp (read_where uses it);
        # ours too, in the lightest kind: cldata itself searches the loaded column instead
        if not handle.cols.timestamp.is_indexed:
            handle.cols.timestamp.create_index(optlevel=0, kind="ultralight")


@dataclass(frozen=True)
class SamplesPart(RecordingPart):
    """The raw samples: int16 sample units, a row per frame from frame 0, a column per channel.

    Made on the first batch that holds samples (a recording without samples has no node).
    """

    def append(self, h5: tables.File, handle: tables.EArray | None, value: np.ndarray,
               channel_count: int) -> tuple[Any, int]:
        if handle is None:
            handle = h5.create_earray("/", self.node, tables.Int16Atom(), shape=(0, channel_count),
                                      chunkshape=(_SAMPLE_CHUNK_FRAMES, channel_count))
        handle.append(value)
        return handle, -1  # (the samples' extent is their length, not a timestamp)

    def merge(self, chunks: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(chunks)

    def count(self, value: np.ndarray) -> int:
        return len(value)


@dataclass
class StreamNodes:
    """The nodes of a recording's data streams while it is written: the group and, by name,
    each stream's ``(index, data)``."""

    group: tables.Group
    streams: dict[str, tuple[tables.Table, tables.EArray]] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamsPart(RecordingPart):
    """The named data streams: per stream an index table and the msgpack bytes end to end.

    A batch value is ``{name: {"ts": int64[n], "data": bytes, "ends": int64[n]}}``: each
    entry's end offset within the batch's ``data``.
    """

    def create(self, h5: tables.File) -> StreamNodes:
        return StreamNodes(h5.create_group("/", self.node))

    def create_stream(self, h5: tables.File, handle: StreamNodes, name: str, application: dict[str, Any]) -> None:
        """Make the nodes of a new stream (the ``stream`` record)."""
        with warnings.catch_warnings():
            # stream names need not be Python identifiers; natural naming is never used here
            warnings.simplefilter("ignore", tables.NaturalNameWarning)
            group = h5.create_group(handle.group, name)
        group._v_attrs["name"] = name
        group._v_attrs["application"] = application
        index = h5.create_table(group, STREAM_INDEX, IndexRow, expectedrows=100_000)
        data = h5.create_earray(group, STREAM_DATA, tables.UInt8Atom(), shape=(0,), chunkshape=_DATA_CHUNK)
        handle.streams[name] = (index, data)

    def append(self, h5: tables.File, handle: StreamNodes, value: dict[str, Any], channel_count: int) -> tuple[Any, int]:
        last = -1
        for name, entries in value.items():
            index, data = handle.streams[name]
            ts = np.asarray(entries["ts"], dtype=np.int64)
            ends = np.asarray(entries["ends"], dtype=np.int64)
            base = data.nrows
            rows = np.empty(ts.size, dtype=INDEX_DTYPE)
            rows["timestamp"] = ts
            rows["end_index"] = ends + base
            rows["start_index"][0:1] = base
            rows["start_index"][1:] = ends[:-1] + base
            data.append(np.frombuffer(entries["data"], dtype=np.uint8))
            index.append(rows)
            if ts.size:
                last = max(last, int(ts[-1]))
        return handle, last

    def merge(self, chunks: list[dict[str, Any]]) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for chunk in chunks:
            merged.update(chunk)  # (the writer hands each stream's whole batch at once)
        return merged

    def count(self, value: dict[str, Any]) -> int:
        return sum(len(entries["ts"]) for entries in value.values())

    def count_by_stream(self, value: dict[str, Any]) -> dict[str, int]:
        """Entries per stream of a batch value."""
        return {name: len(entries["ts"]) for name, entries in value.items()}

    def finish(self, handle: StreamNodes) -> None:
        for index, _ in handle.streams.values():
            if not index.cols.timestamp.is_indexed:
                index.cols.timestamp.create_index(optlevel=0, kind="ultralight")
        # each stream index read back and checked in time order (the writer refused anything
        # else, recovery replays what it wrote): the reader may then bisect it on disk
        for index, _ in handle.streams.values():
            mark_time_order(index)

    def release(self, handle: StreamNodes) -> None:
        handle.streams.clear()


STREAMS = StreamsPart("streams", DATA_STREAM, "entries", (
    (DATA_STREAM, "group"),
    (f"{DATA_STREAM}/*", "group"),
    (f"{DATA_STREAM}/*/{STREAM_INDEX}", "table"),
    (f"{DATA_STREAM}/*/{STREAM_DATA}", "bytes"),
))
SPIKE_PART = EventPart(SPIKES, SPIKES, "spikes", ((SPIKES, "table"),), dtype=SPIKE_DTYPE, description=SpikeRow,
                       fields=(("ts", "timestamp"), ("ch", "channel"), ("wf", "samples")), expected_rows=100_000)
STIM_PART = EventPart(STIMS, STIMS, "stims", ((STIMS, "table"),), dtype=STIM_DTYPE, description=StimRow,
                      fields=(("ts", "timestamp"), ("ch", "channel")), expected_rows=10_000)
SAMPLES_PART = SamplesPart(SAMPLES, SAMPLES, "sample frames", ((SAMPLES, "integer matrix"),))

#: Every part, in the order a batch holds them (and the writer applies them).
PARTS: tuple[RecordingPart, ...] = (STREAMS, SPIKE_PART, STIM_PART, SAMPLES_PART)
#: The parts that are tables of events (``timestamp``, ``channel``, ...).
EVENT_PARTS: tuple[EventPart, ...] = tuple(p for p in PARTS if isinstance(p, EventPart))

_BY_NAME = {p.name: p for p in PARTS}


def part(name: str) -> RecordingPart:
    """The part called ``name`` (``KeyError`` if there is none).

    Examples
    --------
    >>> part("samples").noun
    'sample frames'
    """
    return _BY_NAME[name]


def empty_batch() -> dict[str, Any]:
    """A batch record holding nothing: ``{"op": "batch", <each part>: None}``.

    Examples
    --------
    >>> empty_batch()
    {'op': 'batch', 'streams': None, 'spikes': None, 'stims': None, 'samples': None}
    """
    return {"op": "batch", **{p.name: None for p in PARTS}}


def batch_counts(batch: dict[str, Any]) -> dict[str, int]:
    """What a batch record holds, per part present: entries, rows or frames.

    Examples
    --------
    >>> batch_counts({"op": "batch", "samples": np.zeros((5, 2), np.int16)})
    {'samples': 5}
    """
    return {p.name: p.count(batch[p.name]) for p in PARTS if batch.get(p.name) is not None}
