"""The overview file's format: its name and version, the nodes it may hold, how its arrays are stored.

An overview file (see :mod:`cldata.overview`) is a small HDF5 file beside a recording. This
module is the one place that says what such a file looks like, for the builder that writes
it and the reader that checks it before reading anything.

File layout (format version 2)
------------------------------
::

    /                     attrs: format="cldata-overview", version, frames_per_second,
                          channel_count, uV_per_sample_unit, n_frames (sample frames),
                          spike_frames, n_spikes, base, factor, sample_levels,
                          spike_first_level, spike_levels, sample_dtype, source, created_utc
    /samples/L<l>/min     (n_blocks, channel_count) sample dtype (int16): per-block minimum
    /samples/L<l>/max     (n_blocks, channel_count): per-block maximum
    /spikes/L<l>/counts   (n_blocks, channel_count) uint16 (uint32 for blocks > 65,535
                          frames, or when a block holds more): spikes per block and
                          channel; zlib-compressed with shuffle (they are mostly zeros)
    .../<name>_crc        (n_chunks,) uint32: the CRC-32 of each chunk of ``<name>``

Each ``L<l>`` group has attributes ``level``, ``block_frames`` and ``n_blocks``. Every
chunk carries HDF5's Fletcher-32 checksum (verified by HDF5 on every read), and its CRC-32
is kept beside it: a chunk that is lost (read as fill values) or replaced by another whole
chunk of valid bytes, which Fletcher-32 passes, is never drawn. Version 1 files had no
checksums; they are rebuilt.

Examples
--------
>>> level_count(1000, 64, 8)    # blocks of 64, 512 and 4096 frames: the last is a single block
3
>>> chunk_rows(64, 2)           # rows of 64 int16 values per 256 KiB chunk
2048
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tables

from cldata.errors import OverviewError
from cldata.format.node_guard import GROUP, INTEGER_MATRIX, Layout, NodeKind

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "OVERVIEW",
    "MAX_OVERVIEW_FRAMES",
    "MAX_SPIKE_BLOCKS",
    "SAMPLE_FILTERS",
    "COUNT_FILTERS",
    "chunk_rows",
    "create_crc_array",
    "fill_value",
    "level_count",
    "whole_attr",
]

FORMAT_NAME = "cldata-overview"
FORMAT_VERSION = 2  # 2: chunks carry Fletcher-32 checksums (version 1 files are rebuilt)

CHECKSUMS = NodeKind("1-d array of CRC-32s (uint32)", (tables.Array,), 1, lambda dt: dt == np.uint32)
OVERVIEW = Layout("cldata overview", (
    ("samples", GROUP),
    ("samples/L*", GROUP),
    ("samples/L*/min", INTEGER_MATRIX),
    ("samples/L*/max", INTEGER_MATRIX),
    ("samples/L*/min_crc", CHECKSUMS),
    ("samples/L*/max_crc", CHECKSUMS),
    ("spikes", GROUP),
    ("spikes/L*", GROUP),
    ("spikes/L*/counts", INTEGER_MATRIX),
    ("spikes/L*/counts_crc", CHECKSUMS),
), strict=True, error=OverviewError)
"""What an overview file may hold (checked before anything is read; see :mod:`cldata.format.node_guard`)."""

MAX_OVERVIEW_FRAMES = 1 << 60
"""An overview covers at most this many frames (1.4 million years at 25 kHz); spikes
claimed later than that are not counted."""
MAX_SPIKE_BLOCKS = 1 << 22
"""The finest spike-count level has at most this many blocks (about 2.3 hours of 2 ms
blocks): longer recordings start at a coarser level (finer bins are then counted from
the spike table, which is exact and reads only the window's rows)."""

_ARRAY_CHUNK_BYTES = 1 << 18  # HDF5 chunk of a level array: a writer step of level 0 is two (whole-chunk writes)
# every chunk carries HDF5's Fletcher-32 checksum, verified by HDF5 on every read: a damaged
# overview raises OverviewError instead of drawing a wrong envelope
SAMPLE_FILTERS = tables.Filters(fletcher32=True)
COUNT_FILTERS = tables.Filters(complevel=1, complib="zlib", shuffle=True, fletcher32=True)  # counts are mostly 0


def level_count(n_frames: int, first_block: int, factor: int) -> int:
    """Levels from ``first_block`` upwards until one has a single block (0 if no frames)."""
    if n_frames <= 0:
        return 0
    count, block = 1, first_block
    while -(-n_frames // block) > 1:
        block *= factor
        count += 1
    return count


def chunk_rows(channels: int, itemsize: int) -> int:
    """Rows per HDF5 chunk of a level array of ``channels`` columns of ``itemsize`` bytes."""
    return max(64, _ARRAY_CHUNK_BYTES // (channels * itemsize))


def fill_value(dtype: np.dtype, name: str) -> Any:
    """The fill value of level array ``name`` (``min``, ``max`` or ``counts``).

    It is what HDF5 returns for a chunk that is not stored, and no real block has it: a
    minimum at the dtype's top, a maximum at its bottom (the CRC-32s catch such a chunk anyway).
    """
    info = np.iinfo(dtype)
    return {"min": info.max, "max": info.min, "counts": info.max}[name]


def create_crc_array(h5: tables.File, group: tables.Group, name: str, n_blocks: int,
                     rows: int) -> tables.EArray:
    """The (empty) array of the CRC-32s of the chunks of level array ``name``, one per ``rows`` blocks."""
    n_chunks = max(1, -(-n_blocks // max(1, rows)))
    return h5.create_earray(group, f"{name}_crc", tables.UInt32Atom(), shape=(0,), expectedrows=n_chunks,
                            chunkshape=(min(n_chunks, 4096),), filters=SAMPLE_FILTERS)


def whole_attr(attrs: dict[str, Any], name: str, path: Path, low: int = 0) -> int:
    """Root attribute ``name`` as an int in ``[low, 2**62)``; anything else is a damaged file.

    Raises
    ------
    cldata.errors.OverviewError
        If the attribute is missing or is not such a whole number.
    """
    value = attrs.get(name)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or not low <= value < 2**62:
        raise OverviewError(f"{path} is damaged: its attribute {name!r} is {value!r:.40}, not a whole number "
                            f">= {low}; rebuild it with build_overview()")
    return int(value)
