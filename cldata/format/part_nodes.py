"""Finding each part of a recording in an opened file, tolerantly.

The reader (:class:`cldata.format.reader.RecordingView`) looks for each part of
:data:`cldata.format.parts.PARTS` under the recording's group. A part that is missing, or
that cldata cannot interpret (``/samples`` of floats, a ``/spikes`` that is not a table of
integer ``timestamp`` and ``channel``, a data stream without its ``data`` bytes...), is left
out and said once through the reader's ``notes`` hook; the raw node stays in the file.
Only what is unsafe was refused before this is reached (:mod:`cldata.format.node_guard`).

Examples
--------
>>> tables_ = event_tables(rec.file.root, "rec.h5", notes)     # doctest: +SKIP
>>> sorted(tables_)                                            # doctest: +SKIP
['spikes', 'stims']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tables

from cldata.format.events import table_problem
from cldata.format.layout import DATA_STREAM, SAMPLES
from cldata.format.parts import EVENT_PARTS
from cldata.format.streams import DataStreamView, stream_problem
from cldata.format.untidy import describe_node

__all__ = ["samples_node", "samples_for_channels", "event_nodes", "stream_views"]

Notes = Callable[[str, str], None]

_LEFT_OUT = "leaves the samples out (samples is None, read_samples() is empty, the segment has no AnalogSignal)"


def samples_node(root: tables.Group, notes: Notes) -> tables.Array | None:
    """``/samples`` if it is a 2-d integer array (the CL format's frames × channels), else ``None``."""
    samples: tables.Node | None = root._f_get_child(SAMPLES) if SAMPLES in root else None
    if samples is not None and not (isinstance(samples, tables.Array) and samples.ndim == 2
                                    and samples.atom.dtype.kind in "iu" and samples.atom.dtype.shape == ()):
        notes("samples", f"/samples is {describe_node(samples)}, not the 2-d integer array of the CL format; "
              f"cldata {_LEFT_OUT}")
        return None
    return samples


def samples_for_channels(samples: tables.Array | None, channel_count: int, notes: Notes) -> tables.Array | None:
    """``samples`` if it has a column per channel (else ``None``, said once); other dtypes than int16 said."""
    if samples is None:
        return None
    if samples.shape[1] != channel_count:
        notes("samples", f"/samples has {samples.shape[1]} columns but channel_count is {channel_count} (a column "
              f"per channel); cldata cannot tell which channels they hold and {_LEFT_OUT}")
        return None
    if samples.atom.dtype != np.int16:
        notes("samples-dtype", f"/samples holds {samples.atom.dtype} values, not the CL format's int16; cldata reads "
              "them as stored (and scales them by uV_per_sample_unit)")
    return samples


def event_nodes(root: tables.Group, notes: Notes) -> dict[str, tables.Table | None]:
    """Each table of events (``/spikes``, ``/stims``) by part name, or ``None`` (said once) when
    there is none cldata can read."""
    found: dict[str, tables.Table | None] = {}
    for part in EVENT_PARTS:
        name, what = part.node, part.noun
        if name not in root:
            notes(name, f"has no /{name} table; cldata reads it as a recording without {what} "
                  f"({name} is None, read_{name}() is empty)")
            found[part.name] = None
            continue
        node = root._f_get_child(name)
        problem = table_problem(node)
        if problem is not None:
            notes(name, f"/{name} {problem}; cldata cannot read its rows as {what} and leaves them out "
                  f"({name} is None, read_{name}() is empty; the node stays in file)")
            node = None
        found[part.name] = node
    return found


def stream_views(root: tables.Group, frames_per_second: int, source: str, window: Any,
                 notes: Notes) -> dict[str, DataStreamView]:
    """The data streams cldata can read, by name, each restricted to ``window``."""
    streams: dict[str, DataStreamView] = {}
    if DATA_STREAM not in root:
        return streams
    group = root._f_get_child(DATA_STREAM)
    if not isinstance(group, tables.Group):
        notes("data_stream", f"/{DATA_STREAM} is {describe_node(group)}, not the group of data streams; cldata "
              "reads the recording without data streams")
        return streams
    for name, child in group._v_children.items():
        if not isinstance(child, tables.Group):
            notes(f"data_stream/{name}", f"/{DATA_STREAM}/{name} is {describe_node(child)}, not a data-stream "
                  "group; cldata leaves it out of data_streams")
            continue
        problem = stream_problem(child)
        if problem is not None:
            notes(f"data_stream/{name}", f"data stream /{DATA_STREAM}/{name} {problem}; cldata leaves it out of "
                  "data_streams")
            continue
        streams[name] = DataStreamView(child, frames_per_second, source=source, window=window, notes=notes)
    return streams
