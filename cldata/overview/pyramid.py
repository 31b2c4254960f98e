"""Multi-resolution overviews of a recording: min/max pyramids of samples, binned spike counts.

Drawing an hour of 64-channel samples (90 million frames per channel) on a screen 2,000
pixels wide needs only the minimum and maximum of each pixel's stretch of frames, the
envelope that large-timeseries viewers draw. :func:`build_overview` computes such
envelopes once per recording, at every scale, in one sequential pass over the samples,
and keeps them in a small HDF5 file beside the recording (the CL file itself is only
read). :class:`Overview` then answers "the envelope of channels ``c`` over frames
``[start, stop)`` at about ``width`` points" by reading a slice of one level, whatever the
window's length: milliseconds for an hour as for a second.

The pyramid
-----------
Level 0 holds, for each block of ``base`` frames (64: 2.56 ms at 25 kHz) and each
channel, the minimum and the maximum sample. Level ``l`` holds the same over blocks of
``base * factor**l`` frames, made by reducing ``factor`` blocks of level ``l - 1`` (min of
mins, max of maxes), up to a level of a single block. Blocks are aligned to the recording
start: block ``k`` of level ``l`` covers frames ``[k * B, (k + 1) * B)`` with
``B = base * factor**l``; the last block of a level may be shorter (it ends with the
samples). With ``base=64, factor=8`` the whole pyramid is ``4/128 * 8/7 ≈ 3.6 %`` of the
samples' size.

Spike activity is stored the same way: per block and channel, the number of spikes,
from the first level whose blocks last at least ``spike_bin`` (2 ms by default) upwards,
summed level to level. Windows too short for the stored levels are counted from the
spike table directly, reading only the window's rows.

Answers are exact
-----------------
An envelope point (a bin) covers ``frames_per_point`` frames, aligned to multiples of
``frames_per_point`` from the recording start, so that panning keeps the same bins (no
shimmer), and clipped to the window at both ends. Its minimum and maximum are exactly
those of the samples it covers: whole blocks come from the chosen level, and the pieces
of blocks at the window's edges from finer levels, down to the raw samples for the last
few frames. The same holds for spike counts.

File layout (format version 1)
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

Each ``L<l>`` group has attributes ``level``, ``block_frames`` and ``n_blocks``.

Examples
--------
>>> import cldata, quantities as pq
>>> from cldata.overview.pyramid import build_overview, Overview
>>> rec = cldata.RecordingView("one_hour.h5")                      # doctest: +SKIP
>>> ov = Overview(build_overview(rec, "one_hour.overview.h5"), rec)  # doctest: +SKIP
>>> env = ov.envelope(channels=[0, 5], width=2000)                 # doctest: +SKIP
>>> env.minimum.shape, env.level, env.frames_per_point             # doctest: +SKIP
((2747, 2), 3, 32768)
>>> ov.envelope(start=60 * pq.s, stop=70 * pq.s).frames_per_point  # doctest: +SKIP
64
>>> int(ov.spike_counts(width=500).counts.sum()) == len(rec.spikes)  # doctest: +SKIP
True
"""

from __future__ import annotations

import functools
import numbers
import os
import queue
import threading
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import quantities as pq
import tables

from cldata.core.fsutil import fsync_dir, fsync_file, new_temporary
from cldata.core.shutdown import close_at_exit
from cldata.core.timebase import to_frame, to_window
from cldata.errors import CldataError, OverviewError, StaleOverviewError, UnsafeContentError
from cldata.format.attributes import read_attributes
from cldata.format.events import EventTable
from cldata.format.node_guard import GROUP, INTEGER_MATRIX, Layout, NodeKind, check_layout, check_leaf
from cldata.format.reader import RecordingView, hdf5_reason, open_hdf5

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "OVERVIEW",
    "MAX_OVERVIEW_FRAMES",
    "MAX_SPIKE_BLOCKS",
    "Envelope",
    "SpikeActivity",
    "Overview",
    "OverviewError",
    "StaleOverviewError",
    "build_overview",
    "ensure_overview",
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


def _crc_array(h5: tables.File, group: tables.Group, name: str, n_blocks: int, chunk_rows: int) -> tables.EArray:
    """The CRC-32s of the chunks of level array ``name``, one per ``chunk_rows`` blocks."""
    n_chunks = max(1, -(-n_blocks // max(1, chunk_rows)))
    return h5.create_earray(group, f"{name}_crc", tables.UInt32Atom(), shape=(0,), expectedrows=n_chunks,
                            chunkshape=(min(n_chunks, 4096),), filters=_SAMPLE_FILTERS)


def _fill(dtype: np.dtype, name: str) -> Any:
    """The fill value of a level array: what HDF5 returns for a chunk that is not stored (no
    real block has it: a minimum at the dtype's top; the CRC-32s catch such a chunk anyway)."""
    info = np.iinfo(dtype)
    return {"min": info.max, "max": info.min, "counts": info.max}[name]


def _whole_attr(attrs: dict[str, Any], name: str, path: Path, low: int = 0) -> int:
    value = attrs.get(name)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or not low <= value < 2**62:
        raise OverviewError(f"{path} is damaged: its attribute {name!r} is {value!r:.40}, not a whole number "
                            f">= {low}; rebuild it with build_overview()")
    return int(value)


MAX_OVERVIEW_FRAMES = 1 << 60
"""An overview covers at most this many frames (1.4 million years at 25 kHz); spikes
claimed later than that are not counted."""
MAX_SPIKE_BLOCKS = 1 << 22
"""The finest spike-count level has at most this many blocks (about 2.3 hours of 2 ms
blocks): longer recordings start at a coarser level (finer bins are then counted from
the spike table, which is exact and reads only the window's rows)."""
_MAX_STEPS = 1 << 14  # writer steps of a build, at most
_VERIFY_BYTES = 1 << 24  # bytes per read when verifying a whole overview
_CHUNK_FRAMES = 1 << 18  # frames per step of the writer (spikes read, levels appended): 10 s at 25 kHz
_PIECE_BYTES = 1 << 22  # samples per read when binning raw samples for a request (4 MiB)
# samples per read while building (2 MiB): the piece and its reductions stay in the CPU's caches
# (1-2 MiB measured best; 4 MiB is 20 % slower), and per-call costs (HDF5, numpy, Python's lock) stay small
_BUILD_PIECE_BYTES = 1 << 21
_KERNEL_FAN_IN = 16  # sub-blocks reduced per step of the kernel (measured: 16 > 8 > 4 > halving > 32)
_ARRAY_CHUNK_BYTES = 1 << 18  # HDF5 chunk of a level array: a writer step of level 0 is two (whole-chunk writes)
# every chunk carries HDF5's Fletcher-32 checksum, verified by HDF5 on every read: a damaged
# overview raises OverviewError instead of drawing a wrong envelope
_SAMPLE_FILTERS = tables.Filters(fletcher32=True)
_COUNT_FILTERS = tables.Filters(complevel=1, complib="zlib", shuffle=True, fletcher32=True)  # counts are mostly 0
_DEFER_BYTES = 1 << 24  # chunks of a level kept back to be written together (per array; see _ChunkWriter)


class _CountOverflow(Exception):
    # a uint16 count level would overflow (more than one spike per channel and frame): retry wider
    pass


# -- results ------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Envelope:
    """Per-channel minimum and maximum of the samples over about ``width`` bins of a window.

    Attributes
    ----------
    start, stop : int
        The window actually covered, ``[start, stop)`` in frames from the recording start
        (the request clipped to the view's window and to the samples).
    frames_per_point : int
        Frames per bin (1: the samples themselves). Bins are aligned to multiples of it
        from the recording start; the first and last bins are clipped to the window, so
        they may be shorter (see ``edges``).
    edges : numpy.ndarray
        ``(points + 1,)`` int64 frames: bin ``i`` covers ``[edges[i], edges[i + 1])``.
    times : quantities.Quantity
        ``(points,)`` in s: the **start** of each bin (for raw samples, each sample's time).
    minimum, maximum : numpy.ndarray
        ``(points, channels)`` float32 in µV: the smallest and largest sample of each bin
        (equal when ``frames_per_point == 1``).
    level : int
        The pyramid level the bins were made from; ``-1`` for the raw samples.
    channels : numpy.ndarray
        The channel numbers of the columns, in the order asked for.
    frames_per_second : int
        The recording's frame rate.
    """

    start: int
    stop: int
    frames_per_point: int
    edges: np.ndarray
    times: pq.Quantity
    minimum: np.ndarray
    maximum: np.ndarray
    level: int
    channels: np.ndarray
    frames_per_second: int
    units: str = field(default="uV")

    def __len__(self) -> int:
        return int(self.minimum.shape[0])

    @property
    def centres(self) -> pq.Quantity:
        """The middle of each bin, in s."""
        e = self.edges.astype(np.float64)
        return pq.Quantity((e[:-1] + e[1:]) / 2 / self.frames_per_second, pq.s)

    def _window(self) -> str:
        from cldata.core.display import window_text

        return window_text((self.start, self.stop), self.frames_per_second)

    def __repr__(self) -> str:
        from cldata.core.display import plural

        return (f"<Envelope {self._window()}: {plural(len(self), 'point')} x {plural(self.channels.size, 'channel')}, "
                f"{self.frames_per_point / self.frames_per_second * 1e3:.4g} ms per point, level {self.level}>")

    def _repr_html_(self) -> str:
        from cldata.core.display import html_fields, short

        fields = {"window": self._window(), "points": len(self), "channels": short(self.channels),
                  "per point": f"{self.frames_per_point:,} frames ({self.frames_per_point / self.frames_per_second * 1e3:.4g} ms)",
                  "level": "raw samples" if self.level < 0 else self.level}
        if len(self):
            fields["range"] = f"{float(np.min(self.minimum)):.6g} to {float(np.max(self.maximum)):.6g} µV"
        return html_fields(repr(self).strip("<>").split(":")[0], fields)

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Draw each channel's envelope (the band between minimum and maximum) against time.

        The x axis is time in s, the y axis µV; a legend names the channels (up to 10).
        Needs matplotlib (``pip install 'cldata[plot]'``); returns the Axes.

        Examples
        --------
        >>> ax = rec.overview(channels=[0, 1], width=1000).plot()   # doctest: +SKIP
        >>> ax.get_xlabel(), ax.get_ylabel()                         # doctest: +SKIP
        ('time (s)', 'voltage (µV)')
        """
        from cldata.core.display import axes

        ax = axes(ax, "Envelope.plot()")
        x = np.asarray(self.centres.magnitude)
        alpha = kwargs.pop("alpha", 0.6)
        for i, channel in enumerate(self.channels):
            label = f"channel {int(channel)}"
            if self.frames_per_point == 1:  # the samples themselves: a line
                ax.plot(x, self.minimum[:, i], label=label, **kwargs)
            else:
                ax.fill_between(x, self.minimum[:, i], self.maximum[:, i], linewidth=0,
                                alpha=alpha, label=label, **kwargs)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("voltage (µV)")
        if 0 < self.channels.size <= 10:
            ax.legend(loc="upper right", fontsize="small")
        return ax


@dataclass(frozen=True, eq=False)
class SpikeActivity:
    """Spike counts per bin and channel over a window.

    Attributes
    ----------
    start, stop : int
        The window covered, in frames (clipped to the view's window and the recording).
    frames_per_bin : int
        Frames per bin; bins are aligned to multiples of it from the recording start, the
        first and last clipped to the window (see ``edges``).
    edges : numpy.ndarray
        ``(bins + 1,)`` int64 frames: bin ``i`` covers ``[edges[i], edges[i + 1])``.
    times : quantities.Quantity
        ``(bins,)`` in s: the start of each bin.
    counts : numpy.ndarray
        ``(bins, channels)`` int64: spikes of each channel in each bin.
    level : int
        The pyramid level used; ``-1`` when counted from the spike table.
    channels : numpy.ndarray
        The channel numbers of the columns, in the order asked for.
    frames_per_second : int
        The recording's frame rate.
    """

    start: int
    stop: int
    frames_per_bin: int
    edges: np.ndarray
    times: pq.Quantity
    counts: np.ndarray
    level: int
    channels: np.ndarray
    frames_per_second: int

    def __len__(self) -> int:
        return int(self.counts.shape[0])

    @property
    def rates(self) -> pq.Quantity:
        """Spikes per second of each bin and channel (each bin divided by its own length)."""
        seconds = np.diff(self.edges).astype(np.float64) / self.frames_per_second
        with np.errstate(invalid="ignore", divide="ignore"):
            return pq.Quantity(self.counts / seconds[:, None], pq.Hz)

    def _window(self) -> str:
        from cldata.core.display import window_text

        return window_text((self.start, self.stop), self.frames_per_second)

    def __repr__(self) -> str:
        from cldata.core.display import plural

        return (f"<SpikeActivity {self._window()}: {plural(int(self.counts.sum()), 'spike')} in "
                f"{plural(len(self), 'bin')} x {plural(self.channels.size, 'channel')}, "
                f"{self.frames_per_bin / self.frames_per_second * 1e3:.4g} ms per bin, level {self.level}>")

    def _repr_html_(self) -> str:
        from cldata.core.display import html_fields, short

        seconds = (self.stop - self.start) / self.frames_per_second
        total = int(self.counts.sum())
        fields = {"window": self._window(), "spikes": total, "bins": len(self), "channels": short(self.channels),
                  "per bin": f"{self.frames_per_bin:,} frames ({self.frames_per_bin / self.frames_per_second * 1e3:.4g} ms)",
                  "mean rate": f"{total / seconds:.4g} Hz (all channels)" if seconds > 0 else "-",
                  "level": "spike table" if self.level < 0 else self.level}
        return html_fields(repr(self).strip("<>").split(":")[0], fields)

    def plot(self, ax: Any = None, style: str = "rate", **kwargs: Any) -> Any:
        """Draw the activity against time: ``"rate"``, the spikes per second of all channels
        together (a step per bin), or ``"heatmap"``, each channel's count per bin.

        Needs matplotlib (``pip install 'cldata[plot]'``); returns the Axes.

        Examples
        --------
        >>> ax = rec.spike_activity(width=200).plot()          # doctest: +SKIP
        >>> ax.get_xlabel(), ax.get_ylabel()                    # doctest: +SKIP
        ('time (s)', 'spike rate, all channels (Hz)')
        """
        from cldata.core.display import axes

        if style not in ("rate", "heatmap"):
            raise ValueError(f"style is 'rate' or 'heatmap', not {style!r}")
        ax = axes(ax, "SpikeActivity.plot()")
        edges = self.edges.astype(np.float64) / self.frames_per_second
        if style == "rate":
            rate = np.asarray(self.rates.magnitude).sum(axis=1) if self.channels.size else np.zeros(len(self))
            ax.stairs(rate, edges, **kwargs)
            ax.set_ylabel("spike rate, all channels (Hz)")
        else:
            mesh = ax.pcolormesh(edges, np.arange(self.channels.size + 1), self.counts.T, **kwargs)
            if self.channels.size <= 16:  # more would overlap: the rows then count up from the bottom
                ax.set_yticks(np.arange(self.channels.size) + 0.5, [str(int(c)) for c in self.channels])
            ax.set_ylabel("channel")
            ax.figure.colorbar(mesh, ax=ax, label="spikes per bin")
        ax.set_xlabel("time (s)")
        return ax


# -- building -----------------------------------------------------------------------------


def _level_count(n_frames: int, first_block: int, factor: int) -> int:
    """Levels from ``first_block`` upwards until one has a single block (0 if no frames)."""
    if n_frames <= 0:
        return 0
    count, block = 1, first_block
    while -(-n_frames // block) > 1:
        block *= factor
        count += 1
    return count


def _chunk_rows(channels: int, itemsize: int) -> int:
    return max(64, _ARRAY_CHUNK_BYTES // (channels * itemsize))


def _reduce_groups(ufunc: np.ufunc, x: np.ndarray, group: int) -> np.ndarray:
    """``ufunc`` over each run of ``group`` rows of ``x`` (rows a multiple of ``group``).

    Halving the groups (first half against second half: long contiguous loops) is several
    times faster than ``ufunc.reduce(x.reshape(-1, group, ch), axis=1)``, whose inner
    loop covers a single row.
    """
    r = x.reshape(x.shape[0] // group, group * x.shape[1])
    ch = x.shape[1]
    while group % 2 == 0:
        group //= 2
        r = ufunc(r[:, : group * ch], r[:, group * ch:])
    return r.reshape(-1, ch) if group == 1 else ufunc.reduce(r.reshape(r.shape[0], group, ch), axis=1, dtype=x.dtype)


def _reduce_runs(ufunc: np.ufunc, x: np.ndarray, offset: int, group: int) -> np.ndarray:
    """``ufunc`` over the runs of rows of ``x``: the first ``offset`` rows (when ``offset > 0``),
    then every ``group`` rows (the last run may be shorter), in ``x``'s dtype.

    The same as ``ufunc.reduceat(x, starts, axis=0, dtype=x.dtype)`` with the runs' starts, several times
    faster: ``reduceat`` makes one inner loop per run (a run is a few rows of 64 values),
    while here the aligned runs take ``group - 1`` calls of ``ufunc`` over every run at
    once (rows ``j, j + group, ...`` against the running result).

    Examples
    --------
    >>> x = np.arange(7)[:, None]
    >>> _reduce_runs(np.add, x, 1, 3)[:, 0].tolist()   # rows [0], [1, 2, 3], [4, 5, 6]
    [0, 6, 15]
    """
    n = x.shape[0]
    head = min(offset, n)
    full = (n - head) // group
    body = x[head:head + full * group]
    out = []
    if head:
        out.append(ufunc.reduce(x[:head], axis=0, keepdims=True, dtype=x.dtype))
    if full:
        if group == 1:
            out.append(body)
        else:
            acc = ufunc(body[0::group], body[1::group])
            for j in range(2, group):
                ufunc(acc, body[j::group], out=acc)
            out.append(acc)
    if head + full * group < n:
        out.append(ufunc.reduce(x[head + full * group:], axis=0, keepdims=True, dtype=x.dtype))
    return out[0] if len(out) == 1 else np.concatenate(out)


def _fletcher32(data: bytes) -> int:
    """HDF5's Fletcher-32 checksum of ``data`` (``H5_checksum_fletcher32``), which its
    ``fletcher32`` filter appends, little-endian, to each stored chunk.

    Big-endian 16-bit words are summed in runs of 360 (so that 32-bit sums cannot
    overflow), folding both sums to 16 bits after each run; an odd last byte counts as a
    word's high byte.
    """
    n_words = len(data) // 2
    words = np.frombuffer(data, dtype=">u2", count=n_words).astype(np.int64)
    s1 = s2 = 0
    full = n_words // 360 * 360
    if full:
        blocks = words[:full].reshape(-1, 360)
        sums = blocks.sum(axis=1).tolist()
        weighted = (blocks @ np.arange(360, 0, -1, dtype=np.int64)).tolist()
    else:
        sums = weighted = []
    tails = []
    if full < n_words:
        rest = words[full:]
        tails.append((len(rest), int(rest.sum()), int(rest @ np.arange(len(rest), 0, -1, dtype=np.int64))))
    if len(data) % 2:
        tails.append((1, data[-1] << 8, data[-1] << 8))
    for t, a, w in [*((360, a, w) for a, w in zip(sums, weighted)), *tails]:
        s2 += t * s1 + w
        s1 += a
        s1 = (s1 & 0xFFFF) + (s1 >> 16)
        s2 = (s2 & 0xFFFF) + (s2 >> 16)
    s1 = (s1 & 0xFFFF) + (s1 >> 16)
    s2 = (s2 & 0xFFFF) + (s2 >> 16)
    return (s2 << 16) | s1


class _ChunkWriter:
    """Writes the rows of one level array a whole number of its chunks at a time.

    HDF5 then writes each chunk once, straight from the rows given, instead of keeping a
    partial chunk in its cache across many small appends; and there are fewer calls
    (each costs tens of microseconds of Python). Rows wait here until a chunk is complete
    or :meth:`flush`.

    Complete chunks may also wait (``defer_bytes``: up to that many bytes, then all at
    once, and the rest at :meth:`flush`), so that a level's chunks lie together in the
    file: a request reads a few neighbouring chunks of one coarse level, which a cold
    disk then serves in one read instead of one seek each. (HDF5's chunk cache did this
    by accident; the overview file is written without one.)

    A zlib-compressed array (the spike counts) is written chunk by chunk with HDF5's
    direct chunk write when PyTables has it (3.10+): the chunk is shuffled and deflated
    here as HDF5's filters would (the same bytes, given the same zlib; any reader of the
    file sees the same filters and data), but by Python's zlib at about twice the speed,
    and outside HDF5's global lock, which the reads of the recording then do not wait
    for. The array is given its final length up front (chunks not yet written are not
    stored); the last chunk is padded as HDF5 pads it (with the fill value).
    """

    def __init__(self, array: tables.EArray, n_rows: int, lock: threading.Lock, defer_bytes: int = 0,
                 crc_array: tables.EArray | None = None):
        self.array = array
        self.n_rows = n_rows
        self.lock = lock
        self.defer_bytes = defer_bytes
        self.dtype = np.dtype(array.atom.dtype)
        self.rows = int(array.chunkshape[0])
        self.parts: list[np.ndarray] = []  # rows not yet in a complete chunk
        self.n = 0
        self.done: list[Any] = []  # complete chunks not yet written: row arrays, or encoded chunks
        self.done_bytes = 0
        self.written = 0  # rows handed to done
        f = array.filters
        self.level = int(f.complevel)
        self.direct = (self.level > 0 and f.complib == "zlib" and not f.bitshuffle
                       and f.least_significant_digit is None and hasattr(array, "write_chunk"))
        self.fletcher32 = bool(f.fletcher32)
        self.shuffle = bool(f.shuffle) and self.dtype.itemsize > 1
        self.stored = 0  # rows stored in the file
        # the CRC-32 of every chunk's rows, kept beside the array ("<name>_crc"): a read checks
        # them, so that a chunk that is lost (read as fill values) or replaced by another whole
        # chunk of valid bytes (which Fletcher-32 passes, zeros included) is never drawn
        self.crc_array = crc_array
        self.crcs: list[int] = []
        if self.direct and n_rows:
            with lock:
                array.truncate(n_rows)

    def add(self, x: np.ndarray) -> None:
        if x.shape[0]:
            self.parts.append(x)
            self.n += x.shape[0]
            if self.n >= self.rows:
                self._take(self.n // self.rows * self.rows)

    def _encode(self, rows: np.ndarray) -> bytes:
        if rows.shape[0] < self.rows:  # the last, partial chunk: stored whole, padded as HDF5 pads it
            pad = np.full((self.rows - rows.shape[0],) + rows.shape[1:], self.array.atom.dflt, rows.dtype)
            rows = np.concatenate([rows, pad])
        raw = np.ascontiguousarray(rows).view(np.uint8)
        if self.shuffle:  # HDF5's shuffle: the first byte of every value, then the second, ...
            raw = np.ascontiguousarray(raw.reshape(-1, self.dtype.itemsize).T)
        chunk = zlib.compress(raw, self.level)
        if self.fletcher32:  # the last filter of the pipeline: its checksum covers the deflated bytes
            chunk += _fletcher32(chunk).to_bytes(4, "little")
        return chunk

    def _take(self, n: int) -> None:
        """Move the first ``n`` waiting rows (whole chunks, or the last rows) to ``done``."""
        x = self.parts[0] if len(self.parts) == 1 else np.concatenate(self.parts)
        rows = x[:n].astype(self.dtype, copy=False)
        if self.crc_array is not None:
            self.crcs.extend(zlib.crc32(np.ascontiguousarray(rows[r:r + self.rows])) for r in range(0, n, self.rows))
        if self.direct:
            for r in range(0, n, self.rows):
                chunk = self._encode(rows[r:r + self.rows])
                self.done.append(chunk)
                self.done_bytes += len(chunk)
        else:
            self.done.append(rows)
            self.done_bytes += rows.nbytes
        self.written += n
        self.parts = [x[n:]] if n < x.shape[0] else []
        self.n = x.shape[0] - n
        if self.done_bytes >= self.defer_bytes:
            self._store()

    def _store(self) -> None:
        done, self.done, self.done_bytes = self.done, [], 0
        crcs, self.crcs = self.crcs, []
        with self.lock:
            if crcs:
                self.crc_array.append(np.asarray(crcs, dtype=np.uint32))
            if self.direct:
                for chunk in done:
                    self.array.write_chunk((self.stored,) + (0,) * (len(self.array.shape) - 1), chunk)
                    self.stored = min(self.n_rows, self.stored + self.rows)
            elif done:
                self.array.append(done[0] if len(done) == 1 else np.concatenate(done))
                self.stored = int(self.array.nrows)

    def flush(self) -> None:
        if self.n:
            self._take(self.n)
        self._store()
        if self.written != self.n_rows or self.stored != self.n_rows:  # pragma: no cover - a bug
            raise AssertionError(f"{self.array._v_pathname}: {self.stored} rows stored, expected {self.n_rows}")


class _LevelCascade:
    """Appends blocks to each level's arrays and reduces ``factor`` of them into the next level.

    ``ufuncs`` combine rows: one per array of a level (min and max; or a sum). Fewer
    than ``factor`` blocks wait in ``pending`` until more arrive or :meth:`finish` turns
    them into the level above's last (short) block.
    """

    def __init__(self, arrays: list[tuple[tables.EArray, ...]], n_rows: list[int], factor: int,
                 ufuncs: tuple[np.ufunc, ...], lock: threading.Lock, check: Callable[[int, tuple], None] | None = None):
        # a level above the finest, or one of compressed chunks, is written in bursts
        # (see _ChunkWriter): its chunks then lie together in the file
        self.writers = [tuple(_ChunkWriter(a, n, lock, _DEFER_BYTES if i or a.filters.complevel else 0,
                                           a._v_parent._f_get_child(a.name + "_crc")) for a in level)
                        for i, (level, n) in enumerate(zip(arrays, n_rows))]
        self.factor = factor
        self.ufuncs = ufuncs
        self.check = check
        self.pending: list[tuple[np.ndarray, ...] | None] = [None] * len(arrays)

    def push(self, level: int, parts: tuple[np.ndarray, ...]) -> None:
        if self.check is not None:
            self.check(level, parts)
        for writer, part in zip(self.writers[level], parts):
            writer.add(part)
        if level + 1 >= len(self.writers):
            return
        pending = self.pending[level]
        if pending is not None:
            parts = tuple(np.concatenate([p, q]) for p, q in zip(pending, parts))
        whole = parts[0].shape[0] // self.factor * self.factor
        self.pending[level] = tuple(p[whole:].copy() for p in parts) if whole < parts[0].shape[0] else None
        if whole:
            self.push(level + 1, tuple(_reduce_groups(u, p[:whole], self.factor) for u, p in zip(self.ufuncs, parts)))

    def finish(self) -> None:
        for level in range(len(self.writers) - 1):
            pending = self.pending[level]
            self.pending[level] = None
            if pending is not None and pending[0].shape[0]:
                self.push(level + 1, tuple(u.reduce(p, axis=0, keepdims=True, dtype=p.dtype)
                                           for u, p in zip(self.ufuncs, pending)))
        for writers in self.writers:
            for writer in writers:
                writer.flush()


class _BlockMinMax:
    """Per-block (``base`` frames) min and max of the samples in one read buffer, fast.

    ``np.min(x.reshape(-1, base, channels), axis=1)`` runs numpy's inner loop over one
    frame (``channels`` values) at a time, which costs more than the comparisons. Instead
    each step reduces groups of up to ``_KERNEL_FAN_IN`` consecutive sub-blocks of every
    block into one (``ufunc.reduce`` over the middle axis of ``(blocks, k, frames/k *
    channels)``: inner loops over ``frames/k * channels`` contiguous values), so that a
    block of 64 frames takes two steps (16, then 4) and the samples are read once per
    chain. The min and max chains take their steps in turn, so that the second finds the
    buffer still in the CPU's cache. The steps' views are made once per buffer and length
    (a "plan"): a piece then costs four ufunc calls and no other Python. Few calls
    matter as much as the arithmetic: each releases and retakes Python's lock, which
    the other threads (reading, writing) then wait for or take. One instance per thread
    and buffer.
    """

    def __init__(self, buf: np.ndarray, base: int):
        self.buf = buf
        self.base = base
        self._plans: dict[int, tuple[list[Callable[[], Any]], np.ndarray, np.ndarray]] = {}

    def _plan(self, n_blocks: int) -> tuple[list[Callable[[], Any]], np.ndarray, np.ndarray]:
        ch, dtype = self.buf.shape[1], self.buf.dtype
        rows = self.buf[: n_blocks * self.base].reshape(n_blocks, self.base * ch)
        outs = (np.empty((n_blocks, ch), dtype), np.empty((n_blocks, ch), dtype))
        chains = []
        for ufunc, out in zip((np.minimum, np.maximum), outs):
            calls: list[Callable[[], Any]] = []
            x, frames = rows, self.base
            while frames > 1:
                # the largest group that divides the frames left (all of them, when prime)
                k = max([d for d in range(2, _KERNEL_FAN_IN + 1) if frames % d == 0] or [frames])
                left = frames // k
                y = out if left == 1 else np.empty((n_blocks, left * ch), dtype)
                if k == 2:  # a binary ufunc beats a reduction of two
                    calls.append(functools.partial(ufunc, x[:, : left * ch], x[:, left * ch:], out=y))
                else:
                    calls.append(functools.partial(ufunc.reduce, x.reshape(n_blocks, k, left * ch), axis=1, out=y))
                x, frames = y, left
            chains.append(calls)
        return [call for pair in zip(*chains) for call in pair], outs[0], outs[1]

    def __call__(self, n_blocks: int) -> tuple[np.ndarray, np.ndarray]:
        """Min and max (``(n_blocks, channels)`` each) of the first ``n_blocks`` blocks of the buffer.

        The arrays returned are the plan's own: overwritten by the next call.
        """
        plan = self._plans.get(n_blocks)
        if plan is None:
            plan = self._plans[n_blocks] = self._plan(n_blocks)
        calls, lo, hi = plan
        for call in calls:
            call()
        return lo, hi


def _source_spikes(view: RecordingView) -> EventTable | None:
    # the raw table (the view's window does not apply: the overview covers the whole recording)
    if view.spikes is None:
        return None
    return EventTable(view.spikes, str(view.path), ("timestamp", "channel"))


_FIELD_READ_ROWS = 16_384  # above this many rows, reading two columns beats reading whole rows


def _spike_columns(events: EventTable, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """Timestamps and channels of the spikes in ``[start, stop)``.

    PyTables reads one column of a table at a fixed cost of a few milliseconds a call,
    whatever the number of rows; whole rows (waveforms included) cost nothing fixed but
    300 bytes a row. Few rows are read whole, many by column.
    """
    where = events.rows(start, stop)
    table = events.table
    if isinstance(where, np.ndarray):  # an unsorted table (not something CL writes): the matching rows
        rows = table.read_coordinates(where)
        return rows["timestamp"], rows["channel"]
    i, j = where
    if j - i <= _FIELD_READ_ROWS:
        rows = table.read(i, j)
        return rows["timestamp"], rows["channel"]
    return table.read(i, j, field="timestamp"), table.read(i, j, field="channel")


class _SpikeCursor:
    """The spike table read once from start to end, handed out a frame range at a time.

    For sorted tables (CL writes them in time order) the rows are read in large batches,
    whatever the frame ranges asked for: whole rows (waveforms included), which costs
    half as much as reading the two columns one by one (see :func:`_spike_columns`); an
    unsorted table falls back to a search per range.
    """

    _BATCH = 1 << 15  # rows: 10 MB of CL spike rows

    def __init__(self, events: EventTable):
        self.events = events
        self.n = len(events)
        self.sorted = not isinstance(events.rows(None, 1 << 62), np.ndarray)
        self.next_row = 0
        self.ts = np.empty(0, dtype=np.int64)
        self.ch = np.empty(0, dtype=np.uint8)

    def take(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Timestamps and channels of the spikes in ``[start, stop)`` (ranges asked in increasing order)."""
        if not self.sorted:
            return _spike_columns(self.events, start, stop)
        table = self.events.table
        while self.next_row < self.n and (self.ts.size == 0 or self.ts[-1] < stop):
            j = min(self.n, self.next_row + self._BATCH)
            rows = table.read(self.next_row, j)
            ts, ch = rows["timestamp"].astype(np.int64), rows["channel"].copy()
            self.ts = np.concatenate([self.ts, ts]) if self.ts.size else ts
            self.ch = np.concatenate([self.ch, ch]) if self.ch.size else ch
            self.next_row = j
        k = int(np.searchsorted(self.ts, stop, side="left"))
        ts, ch = self.ts[:k], self.ch[:k]
        self.ts, self.ch = self.ts[k:], self.ch[k:]
        keep = ts >= start  # (rows before the first range: negative timestamps)
        return (ts, ch) if keep.all() else (ts[keep], ch[keep])


def _last_spike(events: EventTable | None) -> int:
    if events is None or len(events) == 0:
        return -1
    n = len(events)
    where = events.rows(None, 1 << 62)  # also learns whether the table is sorted
    if isinstance(where, np.ndarray):  # unsorted (not something CL writes): scan for the maximum
        step = 1 << 20
        return max(int(events.table.read(a, min(n, a + step), field="timestamp").max()) for a in range(0, n, step))
    return int(events.table.read(n - 1, n, field="timestamp")[0])


def build_overview(
    view: RecordingView,
    path: str | os.PathLike[str],
    *,
    base: int = 64,
    factor: int = 8,
    chunk_frames: int = _CHUNK_FRAMES,
    spike_bin: Any = 2 * pq.ms,
    threads: int | None = None,
    durable: bool = True,
    progress: bool = True,
) -> Path:
    """Build the overview of a recording's samples and spikes into the HDF5 file ``path``.

    One sequential pass reads the samples in pieces of 2 MiB (memory stays bounded by a
    few pieces and chunks, never the recording) and the spike table's ``timestamp`` and
    ``channel`` columns ``chunk_frames`` at a time, computing every level in the same
    pass. The
    file is written under a temporary name and renamed into place when complete, so
    ``path`` never holds a partial overview; a failure leaves nothing behind. The
    recording is only read: its file is never opened for writing.

    Parameters
    ----------
    view
        The recording. The overview always covers the **whole** recording, whatever the
        view's window (the window applies when answering, in :class:`Overview`).
    path
        Where to write the overview (its directory is created if needed). An existing
        file is replaced.
    base
        Frames per level-0 block (64 = 2.56 ms at 25 kHz).
    factor
        Blocks of level ``l`` per block of level ``l + 1``. 8 reads at most 8 × ``width``
        blocks per request and adds 1/7 of level 0 in storage; 16 halves that storage and
        doubles the worst read (see ``benchmarks/bench_overview.py``).
    chunk_frames
        Frames per step of the writer: the spikes of that many frames are read and
        counted, and the levels' blocks for them appended, at a time (rounded up to a
        whole number of spike blocks).
    spike_bin
        The shortest spike-count block to store (frames or a time): counts start at the
        first level whose blocks last at least this long. Shorter bins are counted from
        the spike table when asked for.
    threads
        Worker threads reading and reducing the samples, besides the thread writing the
        file (default: the number of CPUs, at most 8). Reads take turns; the reductions
        run in parallel.
    durable
        ``fsync`` the file before renaming it into place.
    progress
        Show a progress bar (seconds of the recording passed) on standard error when the
        build lasts over a second and standard error is a terminal (see
        :func:`cldata.core.display.progress_bar`).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        For a ``base`` or ``factor`` below 2, or a ``chunk_frames`` below 1.
    cldata.errors.CorruptRecordingError
        If the recording cannot be read.

    Examples
    --------
    >>> with cldata.RecordingView("rec.h5") as rec:                   # doctest: +SKIP
    ...     build_overview(rec, "store/overviews/rec_1.h5")
    PosixPath('store/overviews/rec_1.h5')
    """
    for name, value, low in (("base", base, 2), ("factor", factor, 2), ("chunk_frames", chunk_frames, 1)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, not {value!r}")
    base, factor = int(base), int(factor)
    fps = view.frames_per_second
    min_spike_block = to_frame(spike_bin, fps) or 1
    spike_first = 0
    while base * factor**spike_first < min_spike_block:
        spike_first += 1
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # an unpredictable name, created exclusively (PyTables then writes into that new file): a link
    # planted beside the overview is never written through
    tmp = new_temporary(path)
    try:
        try:
            _write_overview(view, tmp, base, factor, int(chunk_frames), spike_first, threads, wide_counts=False,
                            progress=progress)
        except _CountOverflow:  # written again into the same file (mode "w" truncates it)
            _write_overview(view, tmp, base, factor, int(chunk_frames), spike_first, threads, wide_counts=True,
                            progress=progress)
        if durable:
            fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)
    return path


def _write_overview(view: RecordingView, tmp: Path, base: int, factor: int, chunk_frames: int,
                    spike_first: int, threads: int | None, wide_counts: bool, progress: bool = False) -> None:
    samples = view.samples
    channels = view.channel_count
    fps = view.frames_per_second
    n_samples = int(samples.nrows) if samples is not None else 0
    dtype = np.dtype(samples.atom.dtype) if samples is not None else np.dtype(np.int16)
    events = _source_spikes(view)
    n_spikes = len(events) if events is not None else 0
    # what the recording covers: its duration, samples or last spike, whichever is latest; a
    # file may claim any of these (2**62 frames, say), so the extent is capped, and the
    # finest spike level starts coarse enough to keep the pyramid (and the pass) bounded
    spike_frames = min(max(view.duration_frames, n_samples, _last_spike(events) + 1, 0), MAX_OVERVIEW_FRAMES)
    while -(-spike_frames // (base * factor**spike_first)) > MAX_SPIKE_BLOCKS:
        spike_first += 1
    spike_block0 = base * factor**spike_first
    n_sample_levels = _level_count(n_samples, base, factor)
    n_spike_levels = _level_count(spike_frames, spike_block0, factor)
    # whole spike blocks in each chunk: only the last chunk has a short block; and at most
    # _MAX_STEPS chunks, however long the recording claims to be (its samples are bounded by
    # the file's size; a claimed duration is not)
    chunk_frames = max(chunk_frames, -(-max(n_samples, spike_frames) // _MAX_STEPS))
    chunk_frames = -(-chunk_frames // spike_block0) * spike_block0

    # no chunk cache: every chunk is written whole, once (a cache would only copy it)
    with tables.open_file(str(tmp), mode="w", title="cldata overview", chunk_cache_size=0) as h5:
        root = h5.root._v_attrs
        for key, value in {
            "format": FORMAT_NAME, "version": FORMAT_VERSION, "frames_per_second": fps,
            "channel_count": channels, "uV_per_sample_unit": view.uV_per_sample_unit,
            "n_frames": n_samples, "spike_frames": spike_frames, "n_spikes": n_spikes,
            "base": base, "factor": factor, "sample_levels": n_sample_levels,
            "spike_first_level": spike_first, "spike_levels": n_spike_levels,
            "sample_dtype": dtype.str, "source": view.path.name,
            "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        }.items():
            root[key] = np.int64(value) if isinstance(value, int) else (np.float64(value) if isinstance(value, float) else value)

        def level_group(where: str, level: int, block: int, n_frames: int) -> tables.Group:
            g = h5.create_group(where, f"L{level}")
            g._v_attrs.level, g._v_attrs.block_frames = np.int64(level), np.int64(block)
            g._v_attrs.n_blocks = np.int64(-(-n_frames // block))
            return g

        sample_arrays: list[tuple[tables.EArray, ...]] = []
        if n_sample_levels:
            h5.create_group("/", "samples")
            rows = _chunk_rows(channels, dtype.itemsize)
            for level in range(n_sample_levels):
                block = base * factor**level
                g = level_group("/samples", level, block, n_samples)
                n_blocks = int(g._v_attrs.n_blocks)
                for name in ("min", "max"):
                    _crc_array(h5, g, name, n_blocks, min(rows, n_blocks))
                sample_arrays.append(tuple(
                    h5.create_earray(g, name, tables.Atom.from_dtype(dtype, dflt=_fill(dtype, name)), shape=(0, channels),
                                     chunkshape=(min(rows, n_blocks), channels), expectedrows=n_blocks,
                                     filters=_SAMPLE_FILTERS)
                    for name in ("min", "max")))
        count_arrays: list[tuple[tables.EArray, ...]] = []
        count_dtypes: list[np.dtype] = []
        if n_spike_levels:
            h5.create_group("/", "spikes")
            for i in range(n_spike_levels):
                level = spike_first + i
                block = base * factor**level
                g = level_group("/spikes", level, block, spike_frames)
                n_blocks = int(g._v_attrs.n_blocks)
                dt = np.dtype(np.uint32 if wide_counts or block > 0xFFFF else np.uint16)
                count_dtypes.append(dt)
                rows = _chunk_rows(channels, dt.itemsize)
                _crc_array(h5, g, "counts", n_blocks, min(rows, n_blocks))
                count_arrays.append((h5.create_earray(g, "counts", tables.Atom.from_dtype(dt, dflt=_fill(dt, "counts")),
                                                      shape=(0, channels),
                                                      chunkshape=(min(rows, n_blocks), channels),
                                                      expectedrows=n_blocks, filters=_COUNT_FILTERS),))

        def check_counts(i: int, parts: tuple[np.ndarray, ...]) -> None:
            if count_dtypes[i] == np.uint16 and parts[0].size and int(parts[0].max()) > 0xFFFF:
                raise _CountOverflow

        # one HDF5 call at a time, whichever thread and file (the library may not be thread-safe)
        io_lock = threading.Lock()
        minmax = _LevelCascade(sample_arrays, [-(-n_samples // (base * factor**lv)) for lv in range(n_sample_levels)],
                               factor, (np.minimum, np.maximum), io_lock)
        counts = _LevelCascade(count_arrays, [-(-spike_frames // (spike_block0 * factor**i)) for i in range(n_spike_levels)],
                               factor, (np.add,), io_lock, check=check_counts)  # uint32 in, uint32 out
        from cldata.core.display import progress_bar

        # seconds of the recording passed (shown after a second, on a terminal: see progress_bar)
        with progress_bar(total=max(n_samples, spike_frames) / fps, desc=f"overview of {view.path.name}", unit="s",
                          enabled=progress, bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s "
                                                       "[{elapsed}<{remaining}]") as bar:
            _one_pass(samples, events, n_samples, spike_frames, chunk_frames, base, spike_block0, channels, dtype,
                      minmax if n_sample_levels else None, counts if n_spike_levels else None, threads, io_lock,
                      lambda frames: bar.update(frames / fps))
        minmax.finish()
        counts.finish()
        for level, arrays in enumerate(sample_arrays):
            expected = -(-n_samples // (base * factor**level))
            if any(a.nrows != expected for a in arrays):  # pragma: no cover - a bug, not a user error
                raise AssertionError(f"overview level {level} has {arrays[0].nrows} blocks, expected {expected}")


def _one_pass(samples: tables.EArray | None, events: EventTable | None, n_samples: int, spike_frames: int,
              chunk_frames: int, base: int, spike_block: int, channels: int, dtype: np.dtype,
              minmax: _LevelCascade | None, counts: _LevelCascade | None, threads: int | None,
              io_lock: threading.Lock, tick: Callable[[int], None] | None = None) -> None:
    """Read the recording once, in order, feeding level 0 of both pyramids.

    ``threads`` workers take turns reading the next piece of samples (2 MiB; one read
    at a time, in file order, so that the disk sees one sequential read) and each
    reduces the piece it read to level-0 blocks while the others read or compute (HDF5
    and numpy release Python's lock). A writer thread (this one) puts the pieces back in
    order, counts spikes, reduces the coarser levels and appends them to the overview
    file, a chunk (``chunk_frames``) at a time. The threads hand over work through
    ``queue.SimpleQueue`` (C, a few hundred nanoseconds an item: thousands of pieces
    per recording), which also bounds the pieces computed ahead (memory): a worker takes
    a token before claiming a piece, the writer gives it back when it takes the piece.
    """
    workers = max(1, threads if threads is not None else min(8, os.cpu_count() or 1))
    piece = max(base, _BUILD_PIECE_BYTES // (channels * dtype.itemsize) // base * base)
    n_pieces = -(-n_samples // piece) if minmax is not None else 0
    tokens: queue.SimpleQueue[bool] = queue.SimpleQueue()
    # at least a writer step ahead (never more tokens than pieces: a chunk may span them all)
    for _ in range(min(max(4 * workers, 2 * -(-chunk_frames // piece)), n_pieces + 4 * workers)):
        tokens.put(True)
    done: queue.SimpleQueue[tuple[int, Any, Any]] = queue.SimpleQueue()  # (piece, min, max) or (-1, error, None)
    claimed = [0]  # pieces claimed by the workers, in order (under io_lock)
    stop = [False]  # the writer is done, or failed: the workers leave the tokens they find

    def work() -> None:
        try:
            buf = np.empty((min(piece, n_samples), channels), dtype=dtype)
            kernel = _BlockMinMax(buf, base)
            while tokens.get() and not stop[0]:
                with io_lock:  # one reader of the recording at a time, in order
                    p = claimed[0]
                    if p >= n_pieces:
                        return
                    claimed[0] = p + 1
                    a = p * piece
                    m = min(n_samples, a + piece) - a
                    samples.read(a, a + m, out=buf[:m])
                whole = m // base
                out_min = np.empty((-(-m // base), channels), dtype=dtype)
                out_max = np.empty_like(out_min)
                if whole:
                    out_min[:whole], out_max[:whole] = kernel(whole)
                if whole * base < m:  # the samples' last, short block
                    buf[whole * base:m].min(axis=0, out=out_min[whole])
                    buf[whole * base:m].max(axis=0, out=out_max[whole])
                done.put((p, out_min, out_max))
        except BaseException as exc:
            done.put((-1, exc, None))

    computed: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def take(p: int) -> tuple[np.ndarray, np.ndarray]:
        while p not in computed:
            q, lo, hi = done.get()
            if q < 0:
                raise lo
            computed[q] = (lo, hi)
        tokens.put(True)
        return computed.pop(p)

    cursor = _SpikeCursor(events) if events is not None and counts is not None else None
    pool = [threading.Thread(target=work, name=f"cldata-overview-{i}", daemon=True) for i in range(n_pieces and workers)]
    for t in pool:
        t.start()
    try:
        total = max(n_samples, spike_frames)
        p = 0
        for a in range(0, total, chunk_frames):
            b = min(total, a + chunk_frames)
            if minmax is not None and a < n_samples:
                parts = []
                while p < n_pieces and p * piece < b:  # the pieces starting in this chunk
                    parts.append(take(p))
                    p += 1
                if parts:
                    minmax.push(0, tuple(np.concatenate(q) if len(q) > 1 else q[0] for q in zip(*parts)))
            if counts is not None and a < spike_frames:
                end = min(b, spike_frames)
                n_blocks = -(-(end - a) // spike_block)
                c = np.zeros((n_blocks, channels), dtype=np.uint32)  # calloc: pages of zeros cost nothing
                if cursor is not None:
                    with io_lock:
                        ts, ch = cursor.take(a, end)
                    if ts.size:
                        ok = ch < channels  # (a channel beyond channel_count: not a CL recording's)
                        idx = (ts - a) // spike_block * channels + ch.astype(np.int64)
                        np.add.at(c.reshape(-1), idx if ok.all() else idx[ok], 1)  # few spikes: no dense pass
                counts.push(0, (c,))
            if tick is not None:
                tick(b - a)
    finally:
        stop[0] = True
        for _ in pool:  # wake the workers waiting for a token
            tokens.put(False)
        for t in pool:
            t.join()


# -- reading -------------------------------------------------------------------------------


class _Pyramid:
    """One kind of level stack in an overview file: sample min/max, or spike counts."""

    def __init__(self, h5: tables.File, levels: list[tuple[int, int, tuple[str, ...]]], n_frames: int,
                 identity: tuple[Any, ...], ufuncs: tuple[np.ufunc, ...], dtype: np.dtype, cast: bool,
                 channels: int = 0, stored: tuple[np.dtype, ...] = ()):
        self.h5 = h5
        self.channels = channels  # the level arrays' columns
        self.dtypes = stored  # the dtypes the level arrays may have, the expected one first
        self.levels = levels  # (level number, block frames, array paths), finest first
        self._nodes: dict[int, tuple[tables.Array, ...]] = {}  # found on first use: opening stays cheap
        self._crcs: dict[int, tuple[tables.Array, ...]] = {}
        self._verified: set[tuple[int, int, int]] = set()  # (level index, array, chunk) checked while open
        self._file_size = os.stat(h5.filename).st_size
        self.n_frames = n_frames
        self.identity = identity  # of each ufunc: what an empty bin starts from
        self.ufuncs = ufuncs
        self.dtype = dtype
        self.cast = cast  # widen what is read before reducing it (sums of uint16 counts could overflow)

    def coarsest_for(self, frames_per_point: int) -> int | None:
        """Index into ``levels`` of the coarsest level with blocks of at most that many frames."""
        best = None
        for i, (_, block, _) in enumerate(self.levels):
            if block <= frames_per_point:
                best = i
        return best

    def full_blocks(self, i: int, a: int, b: int) -> tuple[int, int]:
        """Blocks of level ``i`` lying wholly inside ``[a, b)``: ``k0 .. k1 - 1`` (maybe empty)."""
        block = self.levels[i][1]
        k0 = -(-a // block)
        k1 = -(-self.n_frames // block) if b >= self.n_frames else b // block
        return k0, k1

    def arrays(self, i: int) -> tuple[tables.Array, ...]:
        nodes = self._nodes.get(i)
        if nodes is None:
            self._load(i)
            nodes = self._nodes[i]
        return nodes

    def _check_chunks(self, arr: tables.Array, rows: int, c0: int, c1: int, i: int) -> None:
        size = self._file_size
        for c in range(c0, c1):
            info = arr.chunk_info((c * rows,) + (0,) * (arr.ndim - 1))
            if info.offset is not None and (info.offset <= 0 or info.size < 5 or info.offset + info.size > size):
                raise OverviewError(f"{self.h5.filename} is damaged: the index of {arr._v_pathname} places chunk {c} "
                                    f"of level {self.levels[i][0]} at bytes {info.offset}+{info.size} of a {size}-byte "
                                    "file; rebuild it with build_overview()")

    def crc_arrays(self, i: int) -> tuple[tables.Array, ...]:
        nodes = self._crcs.get(i)
        if nodes is None:
            self._load(i)
            nodes = self._crcs[i]
        return nodes

    def _load(self, i: int) -> None:
        """Find level ``i``'s arrays and their checksums, and check them before anything is read:
        their kind (the node guard), and the shape and dtype the level needs."""
        source = self.h5.filename
        level, block, paths = self.levels[i]
        try:
            arrays = tuple(self.h5.get_node(path) for path in paths)
            crcs = tuple(self.h5.get_node(path + "_crc") for path in paths)
        except Exception as exc:  # PyTables loads a node's header now: damage raises whatever it raises
            raise OverviewError(f"{source} is damaged: {type(exc).__name__}: {exc}") from None
        for node in (*arrays, *crcs):
            check_leaf(node, OVERVIEW, "/", source)
        shape = (-(-self.n_frames // block), self.channels)
        for arr, crc in zip(arrays, crcs):
            if tuple(arr.shape) != shape or np.dtype(arr.atom.dtype) not in self.dtypes:
                raise OverviewError(f"{arr._v_pathname} in {source} has shape {tuple(arr.shape)} and dtype "
                                    f"{arr.atom.dtype}; level {level} needs {shape} of {self.dtypes[0]} "
                                    "(the file is damaged: rebuild it with build_overview())")
            if tuple(crc.shape) != (-(-shape[0] // max(1, int(arr.chunkshape[0]))),):
                raise OverviewError(f"{crc._v_pathname} in {source} holds {crc.shape[0]} checksums, not one "
                                    "per chunk (the file is damaged: rebuild it with build_overview())")
        self._nodes[i], self._crcs[i] = arrays, crcs

    def read(self, i: int, k0: int, k1: int) -> tuple[np.ndarray, ...]:
        if k1 <= k0:
            return tuple(np.empty((0, arr.shape[1]), arr.atom.dtype) for arr in self.arrays(i))
        try:
            parts = []
            for n, (arr, crc_arr) in enumerate(zip(self.arrays(i), self.crc_arrays(i))):
                rows = int(arr.chunkshape[0])
                c0, c1 = k0 // rows, -(-k1 // rows)
                if all((i, n, c) in self._verified for c in range(c0, c1)):
                    parts.append(arr[k0:k1])
                    continue
                # the first read of a chunk while the file is open reads it whole (HDF5 reads it
                # whole anyway) and checks it against its CRC-32; first, where the index says the
                # chunk lies must be inside the file (HDF5 crashes on some damaged entries: size 0)
                self._check_chunks(arr, rows, c0, c1, i)
                a = c0 * rows
                block = arr[a:min(c1 * rows, int(arr.nrows))]
                stored = crc_arr[c0:c1]
                if stored.shape[0] != c1 - c0 or any(
                        zlib.crc32(block[j * rows:(j + 1) * rows]) != int(stored[j]) for j in range(c1 - c0)):
                    raise OverviewError(f"{self.h5.filename} is damaged: blocks {a}..{c1 * rows} of level "
                                        f"{self.levels[i][0]} ({arr.name}) fail their CRC-32; rebuild it with "
                                        "build_overview()")
                self._verified.update((i, n, c) for c in range(c0, c1))
                parts.append(block[k0 - a:k1 - a])
            parts = tuple(parts)
        except OverviewError:
            raise
        except (tables.HDF5ExtError, OSError, ValueError, SystemError) as exc:  # a chunk failing its checksum, say
            raise OverviewError(f"{self.h5.filename} is damaged: blocks {k0}..{k1} of level {self.levels[i][0]} "
                                f"cannot be read ({hdf5_reason(exc)}); rebuild it with build_overview()") from None
        return tuple(p.astype(self.dtype) for p in parts) if self.cast else parts

    def empty(self, rows: int, channels: int) -> list[np.ndarray]:
        return [np.full((rows, channels), ident, dtype=self.dtype) for ident in self.identity]

    def combine_into(self, acc: list[np.ndarray], rows: Any, values: tuple[np.ndarray, ...]) -> None:
        for target, ufunc, value in zip(acc, self.ufuncs, values):
            target[rows] = ufunc(target[rows], value)


class Overview:
    """The overview of one recording, read through a (possibly windowed) recording view.

    The file is opened on first use, and each request reads only a slice of one level
    (plus a few blocks of finer levels and at most ``base`` raw frames at each end of the
    window).

    Parameters
    ----------
    path
        The overview file written by :func:`build_overview`.
    view
        The recording it belongs to. Its window restricts every request, and raw samples
        and short spike windows are read through it.

    Raises
    ------
    OverviewError
        On first use, if the file is not an overview (or has an unknown format version).
    StaleOverviewError
        On first use, if the file was built from another recording (frame rate, channels,
        sample frames or spike count differ).

    Examples
    --------
    >>> ov = Overview(store_dir / "overviews" / "rec_1.h5", rec.between(0, 60 * pq.s))  # doctest: +SKIP
    >>> env = ov.envelope(channels=[3, 1], width=1000)           # the view's whole minute   # doctest: +SKIP
    >>> env.times[0], env.frames_per_point, env.minimum.shape    # doctest: +SKIP
    (array(0.) * s, 1024, (1465, 2))
    >>> ov.spike_counts(start=10 * pq.s, stop=20 * pq.s, width=100).counts.shape  # doctest: +SKIP
    (123, 64)
    """

    def __init__(self, path: str | os.PathLike[str], view: RecordingView):
        self.path = Path(path)
        self.view = view
        self._h5: tables.File | None = None
        self._lock = threading.Lock()

    # -- opening ----------------------------------------------------------------------------

    def _open(self) -> tables.File:
        if self._h5 is not None and self._h5.isopen:
            return self._h5
        with self._lock:
            if self._h5 is not None and self._h5.isopen:
                return self._h5
            if not self.path.is_file():
                raise OverviewError(f"no overview file {self.path}; build it with build_overview()")
            try:
                h5 = open_hdf5(self.path)
            except (CldataError, OSError) as exc:
                raise OverviewError(f"{self.path} is not a readable overview: {exc}") from None
            try:
                self._setup(h5)
            except BaseException:
                h5.close()
                raise
            self._h5 = h5
            close_at_exit(self)
            return h5

    def _setup(self, h5: tables.File) -> None:
        try:
            self._setup_checked(h5)
        except (OverviewError, CldataError):
            raise
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError, SystemError, tables.HDF5ExtError) as exc:
            # PyTables reads headers and attributes lazily: damage surfaces as whatever it raises
            raise OverviewError(f"{self.path} is a damaged overview ({type(exc).__name__}: {exc}); "
                                "rebuild it with build_overview()") from None

    def _setup_checked(self, h5: tables.File) -> None:
        attrs = read_attributes(h5.root, str(self.path))  # never runs a pickle from the file
        if attrs.get("format") != FORMAT_NAME:
            raise OverviewError(f"{self.path} is not a cldata overview file")
        version = _whole_attr(attrs, "version", self.path)
        if version != FORMAT_VERSION:
            raise OverviewError(f"{self.path} has overview format version {version}; this cldata reads "
                                f"version {FORMAT_VERSION} (rebuild it with build_overview())")
        # no object nodes, nothing over-claimed; the level arrays are checked as they are loaded
        check_layout(h5, "/", OVERVIEW, str(self.path), leaves=False)
        view = self.view
        n_samples = int(view.samples.nrows) if view.samples is not None else 0
        n_spikes = len(view.spikes) if view.spikes is not None else 0
        mine = {"frames_per_second": view.frames_per_second, "channel_count": view.channel_count,
                "n_frames": n_samples, "n_spikes": n_spikes}
        theirs = {k: _whole_attr(attrs, k, self.path) for k in mine}
        if mine != theirs:
            diff = ", ".join(f"{k} {theirs[k]} (recording: {mine[k]})" for k in mine if mine[k] != theirs[k])
            raise StaleOverviewError(f"{self.path} does not belong to {view.path.name}: {diff}")
        self.frames_per_second = view.frames_per_second
        self.channel_count = view.channel_count
        self.uV_per_sample_unit = float(view.uV_per_sample_unit)
        self.base, self.factor = _whole_attr(attrs, "base", self.path, 2), _whole_attr(attrs, "factor", self.path, 2)
        self.n_frames = n_samples
        self.spike_frames = _whole_attr(attrs, "spike_frames", self.path)
        sample_dtype = np.dtype(view.samples.atom.dtype) if view.samples is not None else np.dtype(np.int16)
        if str(attrs.get("sample_dtype")) != sample_dtype.str:
            raise StaleOverviewError(f"{self.path} was built from samples of dtype {attrs.get('sample_dtype')!r}; "
                                     f"the recording's are {sample_dtype.str}")
        info = np.iinfo(sample_dtype)
        base, factor = self.base, self.factor
        spike_first = _whole_attr(attrs, "spike_first_level", self.path)
        expected = {"sample_levels": _level_count(n_samples, base, factor),
                    "spike_levels": _level_count(self.spike_frames, base * factor**min(spike_first, 64), factor),
                    "spike_frames": max(self.spike_frames, n_samples)}
        got = {"sample_levels": _whole_attr(attrs, "sample_levels", self.path),
               "spike_levels": _whole_attr(attrs, "spike_levels", self.path), "spike_frames": self.spike_frames}
        if got != expected or spike_first > 64 or self.spike_frames > MAX_OVERVIEW_FRAMES:
            raise OverviewError(f"{self.path} is damaged: its levels ({got}, spike_first_level {spike_first}) do "
                                f"not fit its frames (expected {expected}); rebuild it with build_overview()")

        def levels(kind: str, first: int, count: int, names: tuple[str, ...]) -> list[tuple[int, int, tuple[str, ...]]]:
            return [(lv, base * factor**lv, tuple(f"/{kind}/L{lv}/{name}" for name in names))
                    for lv in range(first, first + count)]

        # each level's arrays are checked (kind, shape, dtype, checksums) when first loaded
        self._samples = _Pyramid(h5, levels("samples", 0, got["sample_levels"], ("min", "max")), n_samples,
                                 (info.max, info.min), (np.minimum, np.maximum), info.dtype, cast=False,
                                 channels=self.channel_count, stored=(sample_dtype,))
        self._spikes = _Pyramid(h5, levels("spikes", spike_first, got["spike_levels"], ("counts",)),
                                self.spike_frames, (0,), (np.add,), np.dtype(np.int64), cast=True,
                                channels=self.channel_count, stored=(np.dtype(np.uint16), np.dtype(np.uint32)))
        self._events = _source_spikes(view)  # windows are clipped to the view's before reading it

    # -- requests -----------------------------------------------------------------------------

    def _window(self, start: Any, stop: Any, extent: int) -> tuple[int, int]:
        a, b = to_window(start, stop, self.frames_per_second)
        wa, wb = self.view.window
        a = 0 if a is None else a
        b = extent if b is None else b
        if wa is not None:
            a = max(a, wa)
        if wb is not None:
            b = min(b, wb)
        a = min(max(a, 0), extent)
        return a, min(max(b, a), extent)

    def _channels(self, channels: Any) -> np.ndarray:
        if channels is None:
            return np.arange(self.channel_count)
        ch = np.atleast_1d(np.asarray(channels))
        if ch.ndim != 1 or (ch.size and ch.dtype.kind not in "iu"):
            raise ValueError(f"channels must be channel numbers (ints), not {channels!r:.60}")
        ch = ch.astype(np.int64)
        bad = ch[(ch < 0) | (ch >= self.channel_count)]
        if bad.size:
            raise ValueError(f"no channel {int(bad[0])}: this recording has channels 0..{self.channel_count - 1}")
        return ch

    @staticmethod
    def _width(width: Any) -> int:
        if not isinstance(width, numbers.Integral) or isinstance(width, bool) or width < 1:
            raise ValueError(f"width must be an int >= 1, not {width!r}")
        return int(width)

    @staticmethod
    def _bins(a: int, b: int, per: int) -> tuple[int, np.ndarray]:
        """First bin number and clipped edges of the ``per``-frame bins meeting ``[a, b)``."""
        first, last = a // per, (b - 1) // per
        edges = np.arange(first, last + 2, dtype=np.int64) * per
        edges[0], edges[-1] = a, b
        return first, edges

    def _exact(self, pyr: _Pyramid, i: int, a: int, b: int, leaf: Callable[[int, int], tuple[np.ndarray, ...]],
               channels: int) -> list[np.ndarray]:
        """The exact per-channel reduction over ``[a, b)`` from levels finer than ``i`` (and the leaf)."""
        acc = pyr.empty(1, channels)
        if a >= b:
            return acc
        if i == 0:
            pyr.combine_into(acc, slice(None), tuple(v[None, :] for v in leaf(a, b)))
            return acc
        block = pyr.levels[i - 1][1]
        k0, k1 = pyr.full_blocks(i - 1, a, b)
        if k0 > k1:  # inside one block of the level below: go finer
            return self._exact(pyr, i - 1, a, b, leaf, channels)
        if k0 < k1:
            parts = pyr.read(i - 1, k0, k1)
            pyr.combine_into(acc, slice(None), tuple(u.reduce(p, axis=0, keepdims=True)
                                                     for u, p in zip(pyr.ufuncs, parts)))
        for fa, fb in ((a, min(k0 * block, b)), (max(min(k1 * block, pyr.n_frames), a), b)):
            if fa < fb:
                part = self._exact(pyr, i - 1, fa, fb, leaf, channels)
                pyr.combine_into(acc, slice(None), tuple(part))
        return acc

    def _from_levels(self, pyr: _Pyramid, i: int, a: int, b: int, per_point: int,
                     leaf: Callable[[int, int], tuple[np.ndarray, ...]]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Bins of ``per_point`` frames over ``[a, b)`` from level ``i`` (edges made exact from finer levels)."""
        block = pyr.levels[i][1]
        group = per_point // block
        first, edges = self._bins(a, b, per_point)
        channels = self.channel_count
        acc = pyr.empty(edges.size - 1, channels)
        k0, k1 = pyr.full_blocks(i, a, b)
        if k0 < k1:
            parts = pyr.read(i, k0, k1)
            values = tuple(_reduce_runs(u, p, (-k0) % group, group) for u, p in zip(pyr.ufuncs, parts))
            r0 = k0 // group - first  # the bins are consecutive rows: a slice, not an index array
            pyr.combine_into(acc, slice(r0, r0 + values[0].shape[0]), values)
            pieces = [(a, min(k0 * block, b)), (max(min(k1 * block, pyr.n_frames), a), b)]
        else:
            pieces = [(a, min(k0 * block, b))] + ([(k0 * block, b)] if k0 == k1 and k0 * block < b else [])
        for fa, fb in pieces:
            if fa < fb:  # a piece of a block: wholly inside one bin (bin edges are block edges)
                part = self._exact(pyr, i, fa, fb, leaf, channels)
                pyr.combine_into(acc, fa // per_point - first, tuple(p[0] for p in part))
        return edges, acc

    def _raw_binned(self, a: int, b: int, per: int) -> tuple[np.ndarray, np.ndarray]:
        """Min and max of ``per``-frame bins of the samples, read a few MiB at a time."""
        step = max(1, _PIECE_BYTES // (2 * self.channel_count) // per) * per  # a whole number of bins
        lows, highs = [], []
        pos = a
        while pos < b:
            end = min(b, pos // per * per + step)  # on a bin edge: no bin spans two reads
            x = self.view.read_samples(pos, end)
            lows.append(_reduce_runs(np.minimum, x, (-pos) % per, per))
            highs.append(_reduce_runs(np.maximum, x, (-pos) % per, per))
            pos = end
        return np.concatenate(lows), np.concatenate(highs)

    def envelope(self, channels: Any = None, start: Any = None, stop: Any = None, width: int = 2000) -> Envelope:
        """The min/max envelope of ``channels`` over ``[start, stop)`` at about ``width`` points.

        Parameters
        ----------
        channels
            Channel numbers, in the order wanted (default: all).
        start, stop
            The window, in frames from the recording start or as time quantities
            (default: the view's window). It is clipped to the view's window and to the
            samples; an empty window gives an envelope of zero points.
        width
            The number of points wanted: at least this many are returned (fewer only when
            the window has fewer frames), and fewer than about twice as many.

        Returns
        -------
        Envelope
            When the window has at most ``2 * width`` frames, the samples themselves
            (``level == -1``, ``frames_per_point == 1``, ``minimum == maximum``).
            Otherwise bins of ``frames_per_point = window // width`` frames rounded down to
            a whole number of blocks of the coarsest level whose blocks are no longer
            (level ``-1`` when even level 0 is too coarse: then the samples are read and
            binned), each bin exact.

        Examples
        --------
        >>> env = ov.envelope(width=2000)                              # doctest: +SKIP
        >>> plt.fill_between(env.times, env.minimum[:, 0], env.maximum[:, 0], step="post")  # doctest: +SKIP
        """
        width = self._width(width)
        self._open()
        ch = self._channels(channels)
        a, b = self._window(start, stop, self.n_frames)
        scale = np.float32(self.uV_per_sample_unit)
        view = self.view

        def done(per: int, edges: np.ndarray, lo: np.ndarray, hi: np.ndarray, level: int) -> Envelope:
            lo = lo[:, ch].astype(np.float32) * scale
            hi = lo.copy() if hi is None else hi[:, ch].astype(np.float32) * scale
            return Envelope(a, b, per, edges, pq.Quantity(edges[:-1] / self.frames_per_second, pq.s),
                            lo, hi, level, ch, self.frames_per_second)

        n = b - a
        if n == 0:
            empty = np.empty((0, self.channel_count), dtype=np.int16)
            return done(1, np.array([a], dtype=np.int64), empty, empty, -1)
        if n <= 2 * width:
            x = view.read_samples(a, b)
            return done(1, np.arange(a, b + 1, dtype=np.int64), x, None, -1)
        per = n // width
        i = self._samples.coarsest_for(per)
        if i is None:  # finer than level 0: bin the samples themselves
            return done(per, self._bins(a, b, per)[1], *self._raw_binned(a, b, per), -1)
        level, block, _ = self._samples.levels[i]
        per = per // block * block

        def leaf(fa: int, fb: int) -> tuple[np.ndarray, np.ndarray]:
            x = view.read_samples(fa, fb)
            return x.min(axis=0), x.max(axis=0)

        edges, (lo, hi) = self._from_levels(self._samples, i, a, b, per, leaf)
        return done(per, edges, lo, hi, level)

    def spike_counts(self, channels: Any = None, start: Any = None, stop: Any = None, width: int = 2000) -> SpikeActivity:
        """Spike counts of ``channels`` over ``[start, stop)`` in about ``width`` bins.

        Bins last ``window // width`` frames (at least 1), rounded down to a whole number
        of blocks of the coarsest stored level that is no longer; windows too short for
        the stored levels are counted from the view's spike table (``level == -1``),
        reading only the window's rows (their ``timestamp`` and ``channel``). Every spike
        in the window is counted exactly once.

        Parameters
        ----------
        channels, start, stop, width
            As for :meth:`envelope`; the window is clipped to the view's window and to the
            recording (which may extend beyond its samples).

        Examples
        --------
        >>> act = ov.spike_counts(channels=[0], width=60)           # doctest: +SKIP
        >>> act.rates[:, 0]                                          # doctest: +SKIP
        array([...]) * Hz
        """
        width = self._width(width)
        self._open()
        ch = self._channels(channels)
        a, b = self._window(start, stop, self.spike_frames)
        n_ch = self.channel_count

        def done(per: int, edges: np.ndarray, counts: np.ndarray, level: int) -> SpikeActivity:
            return SpikeActivity(a, b, per, edges, pq.Quantity(edges[:-1] / self.frames_per_second, pq.s),
                                 counts[:, ch].astype(np.int64), level, ch, self.frames_per_second)

        def table(fa: int, fb: int) -> tuple[np.ndarray, np.ndarray]:
            # [fa, fb) lies in the view's window (clipped above): read just those rows
            if self._events is None:
                return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.uint8)
            ts, chans = _spike_columns(self._events, fa, fb)
            keep = chans < n_ch
            return (ts, chans) if keep.all() else (ts[keep], chans[keep])

        n = b - a
        if n == 0:
            return done(1, np.array([a], dtype=np.int64), np.zeros((0, n_ch), dtype=np.int64), -1)
        per = max(1, n // width)
        i = self._spikes.coarsest_for(per)
        if i is None:
            first, edges = self._bins(a, b, per)
            ts, chans = table(a, b)
            idx = (ts // per - first) * n_ch + chans.astype(np.int64)
            counts = np.bincount(idx, minlength=(edges.size - 1) * n_ch).reshape(-1, n_ch)
            return done(per, edges, counts, -1)
        level, block, _ = self._spikes.levels[i]
        per = per // block * block

        def leaf(fa: int, fb: int) -> tuple[np.ndarray]:
            return (np.bincount(table(fa, fb)[1], minlength=n_ch),)

        edges, (counts,) = self._from_levels(self._spikes, i, a, b, per, leaf)
        return done(per, edges, counts, level)

    def verify(self, tick: Callable[[], None] | None = None) -> None:
        """Read every stored level in full, a few MiB at a time, so that HDF5 verifies the
        checksum of every chunk (``cldata check`` does this).

        ``tick`` is called before each read (``cldata check`` passes its time budget's).

        Raises
        ------
        OverviewError
            If a chunk fails its checksum or cannot be read.

        Examples
        --------
        >>> Overview(path, rec).verify()                        # doctest: +SKIP
        """
        self._open()
        for pyr in (self._samples, self._spikes):
            for i in range(len(pyr.levels)):
                arrays = pyr.arrays(i)
                n = int(arrays[0].nrows)
                row_bytes = sum(int(a.shape[1]) * a.atom.itemsize for a in arrays)
                step = max(1, _VERIFY_BYTES // max(1, row_bytes))
                for k in range(0, n, step):
                    if tick is not None:
                        tick()
                    pyr.read(i, k, min(n, k + step))

    # -- information and lifetime ---------------------------------------------------------------

    @property
    def levels(self) -> list[dict[str, int]]:
        """The sample levels: ``level``, ``block_frames`` and ``n_blocks`` of each, finest first."""
        self._open()
        return [{"level": lv, "block_frames": blk, "n_blocks": int(self._samples.arrays(i)[0].nrows)}
                for i, (lv, blk, _) in enumerate(self._samples.levels)]

    @property
    def spike_levels(self) -> list[dict[str, int]]:
        """The spike-count levels, as :attr:`levels`."""
        self._open()
        return [{"level": lv, "block_frames": blk, "n_blocks": int(self._spikes.arrays(i)[0].nrows)}
                for i, (lv, blk, _) in enumerate(self._spikes.levels)]

    def close(self) -> None:
        """Close the overview file (it reopens on the next request)."""
        # drop the node handles first: a PyTables node that outlives its file fails noisily when collected
        for pyr in (getattr(self, "_samples", None), getattr(self, "_spikes", None)):
            if pyr is not None:
                pyr._nodes.clear()
                pyr._crcs.clear()
        h5, self._h5 = self._h5, None
        if h5 is not None and h5.isopen:
            h5.close()

    def __enter__(self) -> Overview:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        return f"<Overview {str(self.path)!r} of {self.view.path.name}>"


def ensure_overview(view: RecordingView, path: str | os.PathLike[str], *,
                    rebuild_path: str | os.PathLike[str] | None = None, **build_options: Any) -> Overview:
    """The overview at ``path`` for ``view``, built (or rebuilt, if stale or damaged) when needed.

    With ``rebuild_path``, ``path`` is only read: when it is missing, stale or damaged the
    overview at ``rebuild_path`` is used, and built there if needed (a read-only store reads
    its own overviews but builds into the user's cache).

    Examples
    --------
    >>> ov = ensure_overview(rec, "overviews/rec_1.h5")       # doctest: +SKIP
    >>> ov.envelope(width=1000).level                          # doctest: +SKIP
    3
    """
    candidates = [Path(path)]
    if rebuild_path is not None and Path(rebuild_path) != Path(path):
        candidates.append(Path(rebuild_path))
    for candidate in candidates:
        ov = Overview(candidate, view)
        try:
            ov._open()
            return ov
        except (OverviewError, UnsafeContentError) as exc:
            ov.close()
            if isinstance(exc, UnsafeContentError):  # nothing ran; it is built afresh, but say so
                warnings.warn(f"{exc} The overview is built afresh.", stacklevel=2)
    build_overview(view, candidates[-1], **build_options)
    return Overview(candidates[-1], view)
