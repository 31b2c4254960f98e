"""The spike table as neo's spike trains need it: read in chunks of whole records, grouped by channel.

Speed trick, and what it replaces: neo asks a RawIO for one channel's spike count, times
and waveforms at a time; answered from the table directly, each is a column read or a
point selection of that channel's rows (64 passes over the table, and PyTables' column
reads go through its row iterator, 2-3x slower than whole records even for the 1-byte
channel column). :class:`SpikeIndex` instead reads the window's ``channel`` and
``timestamp`` columns in one pass of whole records (chunks of ~2.5 MB into one reused
buffer), groups them by channel once (a stable argsort: file order within a channel), and
reads every waveform in one more pass when a second channel's are asked for
(:meth:`SpikeIndex.waveform_block`), scattering each chunk to its place. What it costs: the
grouped columns are kept for the life of the RawIO (12 bytes a spike), and the waveform
block is one array for all channels (the RawIO hands out its parts, see
:mod:`cldata.format.neo_io.rawio`). ``tests/test_neo_segment_fast_paths.py`` checks every
read against a brute-force read of the table, in any chunk size.

Tables CL never writes are read too: channels outside ``0 .. channel_count-1`` are left out
(said once), and a table out of time order is read by row search and scanning.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import tables

from cldata.errors import CorruptRecordingError
from cldata.format.events import EventTable

__all__ = ["SpikeIndex", "last_timestamp", "seconds_mask"]


def _read_field(table: tables.Table, where: tuple[int, int] | np.ndarray, field: str, source: str) -> np.ndarray:
    # Reading one field keeps the 300-byte waveforms of each spike row out of memory.
    try:
        if isinstance(where, np.ndarray):
            if where.size == 0:
                return np.empty((0, *table.coldtypes[field].shape), dtype=table.coldtypes[field].base)
            return table.read_coordinates(where, field=field)
        return table.read(where[0], where[1], field=field)
    except tables.HDF5ExtError as exc:
        raise CorruptRecordingError(f"cannot read {table._v_pathname}/{field} in {source}: {exc}") from None


# Rows per read of whole records: ~2.5 MB, small enough to stay in the CPU cache while the
# columns are copied out of it.
_CHUNK_BYTES = 2_500_000


def _read_rows(table: tables.Table, start: int, stop: int, source: str) -> Iterator[tuple[int, np.ndarray]]:
    # Whole records, a chunk at a time into one reused buffer: HDF5 reads whole records in one
    # call, while a single column goes through PyTables' row iterator, which is 2-3x slower
    # than the whole records even for the 1-byte channel column. Each chunk is overwritten by
    # the next, so callers copy out what they keep.
    step = max(1, _CHUNK_BYTES // max(1, table.rowsize))
    buf = np.empty(min(step, max(stop - start, 0)), dtype=table.dtype) if table.dtype.isnative else None
    for lo in range(start, stop, step):
        hi = min(stop, lo + step)
        try:
            rows = table.read(lo, hi) if buf is None else table.read(lo, hi, out=buf[: hi - lo])
        except tables.HDF5ExtError as exc:
            raise CorruptRecordingError(f"cannot read {table._v_pathname} rows [{lo}, {hi}) in {source}: {exc}") from None
        yield lo, rows


def last_timestamp(table: tables.Table | None, source: str) -> int | None:
    if table is None or table.nrows == 0:
        return None
    return int(_read_field(table, (table.nrows - 1, table.nrows), "timestamp", source)[0])


def seconds_mask(frames: np.ndarray, fps: int, t_start: float | None, t_stop: float | None) -> np.ndarray | None:
    # Compare in seconds, computed exactly as _rescale_* computes the times neo checks against
    # t_start/t_stop, so float rounding can never put an event outside the object it lands in.
    if t_start is None and t_stop is None:
        return None
    times = frames.astype(np.float64) / fps
    mask = np.ones(times.shape, dtype=bool)
    if t_start is not None:
        mask &= times >= t_start
    if t_stop is not None:
        mask &= times < t_stop
    return mask


class SpikeIndex:
    """The window's spikes grouped by channel: counts, times, table rows, and waveforms on demand.

    The channel and timestamp columns come from one chunked pass over the window's rows (read
    on the first count, which neo's proxies ask for); they are grouped by channel when spike
    times are first asked for. Waveforms are read only by :meth:`waveform_block` (all of the
    window's, in one more pass) or by the caller, row by row.
    """

    def __init__(
        self, table: EventTable | None, start: int, stop: int, whole_file: bool, channel_count: int, source: str,
        warn: Callable[..., None],
    ):
        self.table = table
        self.start, self.stop = start, stop
        self.channel_count = channel_count
        self.source = source
        self.warn = warn  # the view's warn-once hook: warn(key, message)
        if table is None:
            self.where: tuple[int, int] | np.ndarray = (0, 0)
        else:
            # a whole-file window needs no row search (which would read the timestamp column)
            self.where = (0, len(table)) if whole_file else table.rows(start, stop)
        self._channels: np.ndarray | None = None
        self._timestamps: np.ndarray | None = None
        self._counts: np.ndarray | None = None
        self._grouped: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @property
    def contiguous(self) -> bool:
        """Whether the window's spikes are one range of table rows (always, for CL's time-ordered tables)."""
        return self.table is not None and not isinstance(self.where, np.ndarray)

    def read_waveforms(self, rows: np.ndarray) -> np.ndarray:
        """The waveforms of the table rows ``rows`` (a point selection: for one channel's few rows)."""
        return _read_field(self.table.table, rows, "samples", self.source)

    def _read_columns(self) -> None:
        if self.table is None:
            ch, ts = np.empty(0, dtype=np.uint8), np.empty(0, dtype=np.int64)
        elif not self.contiguous:
            ch = _read_field(self.table.table, self.where, "channel", self.source)
            ts = _read_field(self.table.table, self.where, "timestamp", self.source)
        else:
            table = self.table.table
            a, b = self.where
            ch = np.empty(b - a, dtype=table.coldtypes["channel"])
            ts = np.empty(b - a, dtype=table.coldtypes["timestamp"])
            for lo, rows in _read_rows(table, a, b, self.source):
                ch[lo - a : lo - a + len(rows)] = rows["channel"]
                ts[lo - a : lo - a + len(rows)] = rows["timestamp"]
        self._channels, self._timestamps = ch, ts.astype(np.int64, copy=False)

    def _outside(self, ch: np.ndarray) -> np.ndarray:
        """Which of the channels ``ch`` have no train: negative, or ``>= channel_count``."""
        outside = ch >= self.channel_count
        if ch.dtype.kind == "i":
            outside |= ch < 0
        return outside

    @property
    def channels(self) -> np.ndarray:
        if self._channels is None:
            self._read_columns()
            ch = self._channels
            if ch.size and (int(ch.min()) < 0 or int(ch.max()) >= self.channel_count):
                outside = np.unique(ch[self._outside(ch)])
                shown = ", ".join(str(c) for c in outside[:5].tolist()) + (", ..." if outside.size > 5 else "")
                self.warn(
                    "spike-channels",
                    f"{int(np.count_nonzero(self._outside(ch)))} spikes are on channels outside 0..{self.channel_count - 1} "
                    f"(channel_count is {self.channel_count}; channels {shown}); the segment has a SpikeTrain "
                    "per channel 0..channel_count-1 and leaves them out (read_spikes() and spikes return them, "
                    "as the CL reader does)",
                )
        return self._channels

    @property
    def counts(self) -> np.ndarray:
        if self._counts is None:
            ch = self.channels
            # channels outside 0..channel_count-1 have no train; leaving them out before
            # counting also keeps bincount from allocating max(channel) counters
            ch = ch[~self._outside(ch)].astype(np.intp, copy=False)
            self._counts = np.bincount(ch, minlength=self.channel_count)[: self.channel_count]
        return self._counts

    def _group(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._grouped is None:
            ch = self.channels
            ts = self._timestamps
            where = self.where
            rows = where if isinstance(where, np.ndarray) else None
            beyond = self._outside(ch)  # warned about when the channels were read
            keep = (ts >= self.start) & (ts < self.stop) & ~beyond
            if not (keep | beyond).all():
                # only a table out of time order (never written by CL) gets here: its last row
                # does not hold its latest spike, so the extent found from it is too short
                self.warn(
                    "spike-extent",
                    f"{int((~(keep | beyond)).sum())} spikes lie outside the recording's extent "
                    f"[{self.start}, {self.stop}) frames (its duration, samples and the last row of the "
                    "out-of-order /spikes table); the segment leaves them out",
                )
            if not keep.all():
                (idx,) = np.nonzero(keep)
                rows = idx + where[0] if rows is None else rows[idx]
                ts, ch = ts[idx], ch[idx]
            order = np.argsort(ch, kind="stable")  # uint8: radix sort; stable keeps file order per channel
            rows = order + where[0] if rows is None else rows[order]
            counts = np.bincount(ch.astype(np.intp, copy=False), minlength=self.channel_count)[: self.channel_count]
            offsets = np.concatenate(([0], np.cumsum(counts)))
            self._grouped = (ts[order], rows, offsets)
            self._timestamps = None  # grouped now; the file-order copy is not needed again
        return self._grouped

    def channel(self, c: int) -> tuple[np.ndarray, np.ndarray]:
        """Timestamps and table rows of channel ``c``'s spikes, in file order."""
        ts, rows, offsets = self._group()
        a, b = offsets[c], offsets[c + 1]
        return ts[a:b], rows[a:b]

    def offsets(self) -> np.ndarray:
        """Where each channel's spikes start in the grouped order (``channel_count + 1`` values)."""
        return self._group()[2]

    def waveform_block(self) -> np.ndarray:
        """Every grouped spike's waveform, in the grouped order (channel ``c``: ``offsets[c]:offsets[c+1]``).

        Only for a contiguous window. One pass of whole-record reads into a reused buffer; the
        grouping already says where each table row goes, so each chunk's waveforms are
        scattered to their places in one indexed copy, and the table is never held twice
        (reading it all, then gathering each channel's rows from it, costs twice the memory).
        """
        _, rows, _ = self._group()
        table = self.table.table
        a, b = self.where
        field = table.dtype["samples"]
        n = rows.size
        block = np.empty((n, *field.shape), dtype=field.base)
        if n == 0:
            return block
        # where each of the window's table rows goes in the block (-1: left out, beyond
        # channel_count or outside the extent)
        dest_of = np.empty(b - a, dtype=np.intp) if n == b - a else np.full(b - a, -1, dtype=np.intp)
        dest_of[rows - a] = np.arange(n)
        # Waveforms move as opaque items of their byte size: the record layout leaves the
        # float32 samples unaligned (a 309-byte row), which makes numpy's typed copies ~2x slower.
        item = np.dtype((np.void, field.itemsize))
        dest = block.view(np.uint8).reshape(n, field.itemsize).view(item)[:, 0]
        for lo, chunk in _read_rows(table, a, b, self.source):
            m = len(chunk)
            where = dest_of[lo - a : lo - a + m]
            off = chunk.dtype.fields["samples"][1]
            src = chunk.view(np.uint8).reshape(m, chunk.dtype.itemsize)[:, off : off + field.itemsize].view(item)[:, 0]
            if n != b - a:
                kept = where >= 0
                where, src = where[kept], src[kept]
            dest[where] = src
        return block
