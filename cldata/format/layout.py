"""The CL recording layout: node names, table rows, constants and name rules.

Everything that both the reader and the writer must agree on lives here, so that the
contract with the CL tools is written down once: a recording is an HDF5 file whose root
carries the recording's attributes (frame rate, channels, extent, ...) and holds
``/samples`` (int16 frames × channels), the ``/spikes`` and ``/stims`` tables and the
``/data_stream`` group of named streams. How each part is written, read and counted is
:mod:`cldata.format.parts`.

Examples
--------
>>> from cldata.format.layout import check_stream_name
>>> check_stream_name("ball_position")
'ball_position'
>>> check_stream_name("a/b")
Traceback (most recent call last):
...
cldata.errors.InvalidNameError: data-stream name 'a/b' contains '/', which HDF5 uses as a path separator; ...
"""

from __future__ import annotations

import numpy as np
import tables

from cldata.errors import InvalidNameError

SAMPLES = "samples"
SPIKES = "spikes"
STIMS = "stims"
DATA_STREAM = "data_stream"
STREAM_INDEX = "index"
STREAM_DATA = "data"

DEFAULT_CHANNEL_COUNT = 64
DEFAULT_FRAMES_PER_SECOND = 25_000
UV_PER_SAMPLE_UNIT = 0.195
WAVEFORM_LENGTH = 75
WAVEFORM_FRAMES_BEFORE = 25
MAX_STREAM_NAME_BYTES = 64

#: The ``file_format`` root attribute the CL simulator writes.
FILE_FORMAT = {"version": "SDK", "stim_and_spike_timestamps_relative_to_start": True}

#: Root attributes the CL writer sets itself; the rest come from the user.
SYSTEM_ROOT_ATTRIBUTES = (
    "channel_count",
    "sampling_frequency",
    "frames_per_second",
    "uV_per_sample_unit",
    "start_timestamp",
    "end_timestamp",
    "duration_frames",
    "duration_seconds",
    "created_utc",
    "created_localtime",
    "ended_utc",
    "ended_localtime",
    "file_format",
    "application",
)

SPIKE_DTYPE = np.dtype(
    [("timestamp", "<i8"), ("channel", "u1"), ("samples", "<f4", (WAVEFORM_LENGTH,))]
)
STIM_DTYPE = np.dtype([("timestamp", "<i8"), ("channel", "u1")])
INDEX_DTYPE = np.dtype([("timestamp", "<i8"), ("start_index", "<u8"), ("end_index", "<u8")])


class SpikeRow(tables.IsDescription):
    """One detected spike: frame, channel and the 75-sample waveform in µV."""

    timestamp = tables.Int64Col(pos=0)
    channel = tables.UInt8Col(pos=1)
    samples = tables.Float32Col(shape=(WAVEFORM_LENGTH,), pos=2)


class StimRow(tables.IsDescription):
    """One stimulation: frame and channel."""

    timestamp = tables.Int64Col(pos=0)
    channel = tables.UInt8Col(pos=1)


class IndexRow(tables.IsDescription):
    """One data-stream entry: its timestamp and byte range ``[start_index, end_index)`` in ``data``."""

    timestamp = tables.Int64Col(pos=0)
    start_index = tables.UInt64Col(pos=1)
    end_index = tables.UInt64Col(pos=2)


# PyTables reserves these prefixes for its own attributes and methods on nodes.
_RESERVED_PREFIXES = ("_v_", "_f_", "_g_", "_c_", "_i_")


def check_stream_name(name: object) -> str:
    """Return ``name`` if it is a valid data-stream name, else raise :class:`InvalidNameError`.

    A name is a non-empty ``str`` of at most 64 bytes in UTF-8, without ``/`` or NUL, not
    ``.`` or ``..``, and not starting with a prefix PyTables reserves (``_v_``, ``_f_``, ...).
    """
    if not isinstance(name, str):
        raise InvalidNameError(f"data-stream names are str, not {type(name).__name__} ({name!r:.60})")
    if not name:
        raise InvalidNameError("data-stream name is empty; give the stream a name")
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidNameError(f"data-stream name {name!r:.80} is not valid unicode text") from None
    if size > MAX_STREAM_NAME_BYTES:
        raise InvalidNameError(
            f"data-stream name {name[:40]!r}... is {size} bytes in UTF-8; "
            f"the CL format allows at most {MAX_STREAM_NAME_BYTES}"
        )
    if "/" in name:
        raise InvalidNameError(
            f"data-stream name {name!r} contains '/', which HDF5 uses as a path separator; "
            "use another character such as '_' or '.'"
        )
    if "\x00" in name:
        raise InvalidNameError(f"data-stream name {name!r} contains a NUL character")
    if name in (".", ".."):
        raise InvalidNameError(f"data-stream name {name!r} is not allowed")
    if name.endswith("."):
        # HDF5 (as PyTables uses it) loses nodes whose names end with a dot
        raise InvalidNameError(f"data-stream name {name!r} ends with '.', which HDF5 does not keep reliably")
    if name.startswith(_RESERVED_PREFIXES):
        raise InvalidNameError(
            f"data-stream name {name!r} starts with {name[:3]!r}, a prefix PyTables reserves"
        )
    return name

