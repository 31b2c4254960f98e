"""A neo view of CL recordings: ``CLRawIO`` (neo.rawio), ``CLIO`` (neo.io) and :func:`read_segment`.

A recording reads as one :class:`neo.Segment`:

- one :class:`~neo.core.SpikeTrain` per channel ``0 .. channel_count-1`` (also for channels
  without spikes, so every recording gives the same list), times in s since the recording
  started, waveforms in µV shaped ``(n_spikes, 1, 75)``, ``left_sweep`` 25 frames, and the
  annotations ``channel`` and ``channel_name``;
- one :class:`~neo.core.AnalogSignal` of ``/samples`` in µV (omitted when the file has none),
  its values neo's rescaling of the raw samples, done a block at a time into the result (so
  loading it needs the result's memory plus a few MB, not the raw samples as well);
- one :class:`~neo.core.Event` named ``"stims"``: stim times, labels the channel numbers as
  strings, and the array annotation ``channel``.

Untidy files (docs/READER-TOLERANCE.md): spikes on channels outside ``0 .. channel_count-1``
(negative ones included) have no SpikeTrain and are left out, said once per opened file with
an :class:`~cldata.errors.UntidyRecordingWarning` (``read_spikes()`` returns them, as the CL
reader's rows do); a spike table without readable waveforms gives NaN waveforms of 75
samples; a table out of time order is read by scanning.

The segment covers the window of the :class:`~cldata.format.reader.RecordingView` it comes
from, ``[start, stop)`` in frames, clipped to the recording. Loaded lazily, it holds neo proxy
objects whose ``load(time_slice=(t0, t1))`` reads only that slice from the file; time slices
are half-open, ``t0 <= t < t1``, as windows are everywhere in cldata.

Examples
--------
>>> import cldata, quantities as pq
>>> rec = cldata.RecordingView("sim_small_recording.h5")                  # doctest: +SKIP
>>> seg = rec.segment(lazy=True)                                          # doctest: +SKIP
>>> len(seg.spiketrains), seg.analogsignals[0].shape                      # doctest: +SKIP
(64, (12500, 64))
>>> seg.spiketrains[42].load(time_slice=(0 * pq.s, 0.1 * pq.s)).times    # doctest: +SKIP
array([0.02356]) * s
>>> from cldata.format.neo_io import CLIO
>>> block = CLIO(filename="sim_small_recording.h5").read_block()          # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime
from typing import Any

import numpy as np
import quantities as pq
import tables
from neo.core import Segment, SpikeTrain
from neo.io.basefromrawio import BaseFromRaw
from neo.io.proxyobjects import (
    AnalogSignalProxy,
    EventProxy,
    SpikeTrainProxy,
    check_annotations,
    ensure_signal_units,
)
from neo.rawio.baserawio import (
    BaseRawIO,
    _event_channel_dtype,
    _signal_buffer_dtype,
    _signal_channel_dtype,
    _signal_stream_dtype,
    _spike_channel_dtype,
)

from cldata.errors import CorruptRecordingError
from cldata.format.events import EventTable
from cldata.format.layout import WAVEFORM_FRAMES_BEFORE, WAVEFORM_LENGTH
from cldata.format.reader import RecordingView, scaled_samples_in_blocks

__all__ = ["CLRawIO", "CLIO", "read_segment"]

STIM_EVENT_NAME = "stims"
SIGNAL_STREAM_NAME = "samples"

# Segment() takes these as keywords, and BaseFromRaw pops the nested-annotation keys; a root
# attribute with one of these names would clash with them, so it is left out.
_RESERVED_ANNOTATIONS = frozenset(
    {"index", "name", "description", "file_origin", "file_datetime", "rec_datetime", "signals", "spikes", "events"}
)


def _channel_name(channel: int) -> str:
    return f"ch{channel}"


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


def _last_timestamp(table: tables.Table | None, source: str) -> int | None:
    if table is None or table.nrows == 0:
        return None
    return int(_read_field(table, (table.nrows - 1, table.nrows), "timestamp", source)[0])


def _seconds_mask(frames: np.ndarray, fps: int, t_start: float | None, t_stop: float | None) -> np.ndarray | None:
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


class _SpikeIndex:
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


class CLRawIO(BaseRawIO):
    """neo RawIO for CL recordings: one block, one segment, int16 samples, int64 frame timestamps.

    Build it from an open :class:`~cldata.RecordingView` (it reuses the view's file and window
    and reads the file only through it) or from a file name (it then opens a view itself).
    ``parse_header()`` reads only attributes, table sizes and last rows. The spikes' channel
    and timestamp columns are read once, in one pass, on the first spike count (which neo's
    proxies ask for). Waveforms are read only when loaded: those of one channel row by row,
    and as soon as a second channel's are asked for (or an eager segment is read), all of the
    window's in one more pass, which each channel's train then takes its part of.

    Parameters
    ----------
    filename
        A CL recording file (ignored when ``view`` is given).
    view
        An open :class:`~cldata.RecordingView`; its window limits everything read.
    window
        ``(start, stop)`` in frames or time quantities, for a view opened from ``filename``.
    signals
        Whether to expose ``/samples`` as a signal stream (``False`` leaves it out).

    Examples
    --------
    >>> raw = CLRawIO(filename="sim_small_recording.h5")          # doctest: +SKIP
    >>> raw.parse_header()                                        # doctest: +SKIP
    >>> raw.get_analogsignal_chunk(i_start=0, i_stop=10, stream_index=0).shape  # doctest: +SKIP
    (10, 64)
    >>> ts = raw.get_spike_timestamps(spike_channel_index=42)     # doctest: +SKIP
    >>> raw.rescale_spike_timestamp(ts)                           # doctest: +SKIP
    array([0.02356, 0.46816])
    """

    name = "CLRawIO"
    description = "Cortical Labs CL1 recording (HDF5 written by the CL SDK or cldata)"
    extensions = ["h5"]
    rawmode = "one-file"

    def __init__(
        self,
        filename: str | os.PathLike[str] | None = None,
        *,
        view: RecordingView | None = None,
        window: tuple[Any, Any] | None = None,
        signals: bool = True,
    ):
        BaseRawIO.__init__(self)
        if view is None:
            if filename is None:
                raise TypeError("CLRawIO needs a filename or a RecordingView (view=...)")
            view = RecordingView(filename, window=window)
            self._owns_view = True
        else:
            if window is not None:
                view = view.between(*window)
            self._owns_view = False
        self.view = view
        self.filename = str(view.path)
        self._signals = bool(signals)
        self._spike_index: _SpikeIndex | None = None
        # The window's waveforms grouped by channel (see _waveforms_from_block), the channels
        # whose part of it went out as a train's waveforms, and how many have not yet.
        self._waveform_block: np.ndarray | None = None
        self._lent: np.ndarray | None = None
        self._unlent = 0
        # lazy loads before the block is read: the channels asked for, and those loaded whole
        self._asked: set[int] = set()
        self._read_whole: set[int] = set()
        # While one of our AnalogSignalProxy loads rescaled (see _AnalogSignalProxy), the dtype
        # it rescales to; _get_analogsignal_chunk then gives the rescaled signal, converted a
        # block at a time, and rescale_signal_raw_to_float hands that array on unchanged.
        self._rescale_to: str | None = None
        self._prescaled: np.ndarray | None = None

    def _source_name(self) -> str:
        return self.filename

    def close(self) -> None:
        """Close the recording if this RawIO opened it (a view passed in stays open).

        Examples
        --------
        >>> raw = CLRawIO(filename="rec.h5"); raw.parse_header(); raw.close()  # doctest: +SKIP
        """
        if self._owns_view:
            self.view.close()

    # -- header --------------------------------------------------------------------------

    def _parse_header(self) -> None:
        view = self.view
        source = self.filename
        self._fps = int(view.frames_per_second)
        self._channel_count = int(view.channel_count)
        self._samples = view.samples if self._signals else None
        self._spike_table = self._event_table(view.spikes, ("timestamp", "channel"), "_spike_table")
        # whether the spike table's waveforms can be read (else NaN waveforms: warned at open)
        self._waveforms = bool(getattr(view, "_spike_waveforms", True))

        # The recording's extent: what its attributes say, stretched to cover every sample,
        # spike and stim actually in the file (last rows only: CL tables are in time order).
        ends = [view.duration_frames]
        if view.samples is not None:
            ends.append(int(view.samples.nrows))
        for table in (view.spikes, view.stims):
            last = _last_timestamp(table, source)
            if last is not None:
                ends.append(last + 1)
        end = max(ends)
        start, stop = view.window
        start = 0 if start is None else max(int(start), 0)
        stop = end if stop is None else min(int(stop), end)
        self._start, self._stop = start, max(start, stop)
        self._whole_file = start == 0 and stop >= end

        fps = float(self._fps)
        n_ch = self._channel_count
        if self._samples is not None:
            stream_id = "0"
            signal_streams = np.array([(SIGNAL_STREAM_NAME, stream_id, "")], dtype=_signal_stream_dtype)
            dtype = str(self._samples.atom.dtype)
            gain = view.uV_per_sample_unit
            signal_channels = np.array(
                [(_channel_name(c), str(c), fps, dtype, "uV", gain, 0.0, stream_id, "") for c in range(n_ch)],
                dtype=_signal_channel_dtype,
            )
        else:
            signal_streams = np.array([], dtype=_signal_stream_dtype)
            signal_channels = np.array([], dtype=_signal_channel_dtype)
        spike_channels = np.array(
            [(_channel_name(c), str(c), "uV", 1.0, 0.0, WAVEFORM_FRAMES_BEFORE, fps) for c in range(n_ch)],
            dtype=_spike_channel_dtype,
        )
        event_channels = np.array([(STIM_EVENT_NAME, STIM_EVENT_NAME, "event")], dtype=_event_channel_dtype)

        self.header = {
            "nb_block": 1,
            "nb_segment": [1],
            "signal_buffers": np.array([], dtype=_signal_buffer_dtype),
            "signal_streams": signal_streams,
            "signal_channels": signal_channels,
            "spike_channels": spike_channels,
            "event_channels": event_channels,
        }
        self._generate_minimal_annotations()
        self._annotate()

    def _event_table(self, table: tables.Table | None, required: tuple[str, ...], attr: str) -> EventTable | None:
        if table is None:
            return None
        # share the view's table (and its cached timestamp column) when it has one
        shared = getattr(self.view, attr, None)
        return shared if isinstance(shared, EventTable) else EventTable(table, self.filename, required)

    def _annotate(self) -> None:
        view = self.view
        block = self.raw_annotations["blocks"][0]
        seg = block["segments"][0]
        for key, value in view.attributes.to_dict().items():
            if key not in _RESERVED_ANNOTATIONS and isinstance(value, (str, bool, int, float)):
                seg[key] = value
        seg["name"] = view.path.name
        block["name"] = view.path.name
        created = seg.get("created_utc")
        if isinstance(created, str):
            try:
                seg["rec_datetime"] = datetime.fromisoformat(created)
            except ValueError:
                pass
        for c, ann in enumerate(seg["spikes"]):
            # _generate_minimal_annotations shares these dicts between segments: one segment here
            ann["channel"] = c
            ann["channel_name"] = _channel_name(c)

    # -- segment -----------------------------------------------------------------------------

    def _segment_t_start(self, block_index: int, seg_index: int) -> float:
        return self._start / self._fps

    def _segment_t_stop(self, block_index: int, seg_index: int) -> float:
        return self._stop / self._fps

    # -- samples ------------------------------------------------------------------------------

    def _get_signal_size(self, block_index: int, seg_index: int, stream_index: int) -> int:
        return max(0, min(self._stop, int(self._samples.nrows)) - self._start)

    def _get_signal_t_start(self, block_index: int, seg_index: int, stream_index: int) -> float:
        return self._start / self._fps

    def _get_analogsignal_chunk(
        self,
        block_index: int,
        seg_index: int,
        i_start: int | None,
        i_stop: int | None,
        stream_index: int,
        channel_indexes: Any,
    ) -> np.ndarray:
        size = self._get_signal_size(block_index, seg_index, stream_index)
        i_start = 0 if i_start is None else int(i_start)
        i_stop = size if i_stop is None else int(i_stop)
        if not 0 <= i_start <= i_stop <= size:
            raise IndexError(f"sample range [{i_start}, {i_stop}) is outside the segment's {size} samples")
        if isinstance(channel_indexes, slice):
            channel_indexes = np.arange(self._channel_count)[channel_indexes]
        a, b = self._start + i_start, self._start + i_stop
        if self._rescale_to is not None:
            columns = None if channel_indexes is None else np.asarray(channel_indexes)
            channels = self.header["signal_channels"]  # one stream: all of them
            if columns is not None:
                channels = channels[columns]
            gain, offset = channels["gain"], channels["offset"]

            def convert(raw: np.ndarray, out: np.ndarray) -> None:
                # neo's rescale_signal_raw_to_float, in place in the result's rows: the cast,
                # then the float64 gains and offsets (elementwise, so the values are those of
                # rescaling the whole range at once)
                out[...] = raw
                if np.any(gain != 1.0):
                    out *= gain
                if np.any(offset != 0.0):
                    out += offset

            self._prescaled = scaled_samples_in_blocks(self._samples, a, b, columns, convert, self.filename,
                                                       self._rescale_to)
            return self._prescaled
        try:
            block = self._samples[a:b]
        except tables.HDF5ExtError as exc:
            raise CorruptRecordingError(f"cannot read samples [{a}, {b}) of {self.filename}: {exc}") from None
        if channel_indexes is not None:
            block = block[:, np.asarray(channel_indexes)]
        return block

    def rescale_signal_raw_to_float(self, raw_signal: np.ndarray, dtype: Any = "float32", stream_index: Any = None,
                                    channel_indexes: Any = None, channel_names: Any = None,
                                    channel_ids: Any = None) -> np.ndarray:
        # the signal _get_analogsignal_chunk rescaled already, block by block: passed on as is
        if raw_signal is self._prescaled and raw_signal is not None:
            self._prescaled = None
            return raw_signal
        return super().rescale_signal_raw_to_float(raw_signal, dtype, stream_index, channel_indexes, channel_names,
                                                   channel_ids)

    # -- spikes ------------------------------------------------------------------------------

    def _spikes(self) -> _SpikeIndex:
        if self._spike_index is None:
            self._spike_index = _SpikeIndex(
                self._spike_table, self._start, self._stop, self._whole_file, self._channel_count, self.filename,
                self.view._untidy,
            )
        return self._spike_index

    def _spike_count(self, block_index: int, seg_index: int, spike_channel_index: int) -> int:
        return int(self._spikes().counts[spike_channel_index])

    def _channel_spikes(
        self, spike_channel_index: int, t_start: float | None, t_stop: float | None
    ) -> tuple[np.ndarray, np.ndarray]:
        ts, rows = self._spikes().channel(spike_channel_index)
        mask = _seconds_mask(ts, self._fps, t_start, t_stop)
        return (ts, rows) if mask is None else (ts[mask], rows[mask])

    def _get_spike_timestamps(
        self, block_index: int, seg_index: int, spike_channel_index: int, t_start: float | None, t_stop: float | None
    ) -> np.ndarray:
        return self._channel_spikes(spike_channel_index, t_start, t_stop)[0]

    def _rescale_spike_timestamp(self, spike_timestamps: np.ndarray, dtype: Any) -> np.ndarray:
        return spike_timestamps.astype(dtype) / self._fps

    def _get_spike_raw_waveforms(
        self, block_index: int, seg_index: int, spike_channel_index: int, t_start: float | None, t_stop: float | None
    ) -> np.ndarray:
        ts, rows = self._spikes().channel(spike_channel_index)
        mask = _seconds_mask(ts, self._fps, t_start, t_stop)
        if mask is not None:
            rows = rows[mask]
        if not self._waveforms:
            # a spike table without readable waveforms (warned at open): NaN in their place
            return np.full((rows.size, 1, WAVEFORM_LENGTH), np.nan, dtype=np.float32)
        if self._spike_table is None or rows.size == 0:
            shape = self._spike_table.table.coldtypes["samples"].shape if self._spike_table is not None else None
            return np.empty((0, 1, *(shape or (WAVEFORM_LENGTH,))), dtype=np.float32)
        wf = self._waveforms_from_block(spike_channel_index, mask)
        if wf is None:
            wf = _read_field(self._spike_table.table, rows, "samples", self.filename)
        return wf.reshape(wf.shape[0], 1, -1)

    def _load_waveform_block(self) -> None:
        spikes = self._spikes()
        self._waveform_block = spikes.waveform_block()
        # channels already loaded whole count as out: otherwise their parts, never asked for,
        # would keep the block here for as long as the segment lives
        self._lent = np.zeros(self._channel_count, dtype=bool)
        self._lent[list(self._read_whole)] = True
        self._unlent = int(np.count_nonzero((np.diff(spikes.offsets()) > 0) & ~self._lent))
        self._asked, self._read_whole = set(), set()

    def _drop_waveform_block(self) -> None:
        self._waveform_block = self._lent = None
        self._unlent = 0

    def _waveforms_from_block(self, c: int, mask: np.ndarray | None) -> np.ndarray | None:
        # Waveforms of channel c from the block (None: read its rows from the file instead).
        # A whole channel is handed out as a view of the block, never copied: one allocation
        # for all channels is several times cheaper than one per channel (the kernel backs a
        # big array with huge pages), and each part goes out once, so no two trains share
        # memory; asked for again, it is read from the file. Once every part is out the block
        # is dropped here (the trains keep it alive).
        if self._waveform_block is None:
            if not self._spikes().contiguous:
                return None
            if not self._asked - {c}:
                self._asked.add(c)
                if mask is None:
                    self._read_whole.add(c)
                return None
            # a second channel's waveforms: loading channel after channel is coming, and one
            # sequential read of the window's rows costs less than a few point selections
            self._load_waveform_block()
            if self._unlent == 0:  # every channel with spikes was loaded whole already
                self._drop_waveform_block()
                return None
        if self._lent[c]:
            return None
        offsets = self._spikes().offsets()
        part = self._waveform_block[offsets[c] : offsets[c + 1]]
        if mask is not None:
            return part[mask]  # a copy: the block keeps the channel's part for later loads
        self._lent[c] = True
        self._unlent -= 1
        if self._unlent == 0:
            self._drop_waveform_block()
        return part

    def rescale_waveforms_to_float(self, raw_waveforms: np.ndarray, dtype: Any = "float32",
                                   spike_channel_index: int = 0) -> np.ndarray:
        # CL waveforms are stored in µV already (gain 1, offset 0): no copy when float32 is asked
        if np.dtype(dtype) == raw_waveforms.dtype:
            return raw_waveforms
        return raw_waveforms.astype(dtype)

    @contextmanager
    def _all_waveforms(self) -> Iterator[None]:
        # Loading every channel's waveforms one point selection at a time costs ~30x more than
        # one sequential read of the window's rows, so an eager load reads them all at once.
        if (self._spike_table is None or not self._waveforms or not self._spikes().contiguous
                or self._waveform_block is not None):
            yield
            return
        self._load_waveform_block()
        try:
            yield
        finally:
            # what no train took (only if loading failed half way) is not kept
            self._drop_waveform_block()

    # -- stims -------------------------------------------------------------------------------

    def _stims(self, t_start: float | None, t_stop: float | None) -> np.ndarray:
        a, b = self._start, self._stop
        # frames just wide enough to hold [t_start, t_stop); the exact cut is made in seconds
        if t_start is not None:
            a = min(max(a, int(np.floor(t_start * self._fps)) - 1), b)
        if t_stop is not None:
            b = max(min(b, int(np.ceil(t_stop * self._fps)) + 1), a)
        stims = self.view.read_stims(a, b)
        mask = _seconds_mask(stims["timestamp"], self._fps, t_start, t_stop)
        return stims if mask is None else stims[mask]

    def _event_count(self, block_index: int, seg_index: int, event_channel_index: int) -> int:
        if self.view.stims is None:
            return 0
        table = self._event_table(self.view.stims, ("timestamp", "channel"), "_stim_table")
        return table.count(self._start, self._stop)

    def _get_event_timestamps(
        self, block_index: int, seg_index: int, event_channel_index: int, t_start: float | None, t_stop: float | None
    ) -> tuple[np.ndarray, None, np.ndarray]:
        stims = self._stims(t_start, t_stop)
        # str, not a fixed width: a crafted table's channel numbers may have more than 3 digits
        labels = stims["channel"].astype(np.int64).astype(str)
        return stims["timestamp"].astype(np.int64, copy=False), None, labels

    def _rescale_event_timestamp(
        self, event_timestamps: np.ndarray, dtype: Any, event_channel_index: int = 0
    ) -> np.ndarray:
        return event_timestamps.astype(dtype) / self._fps


class _SpikeTrainProxy(SpikeTrainProxy):
    # neo's proxy loads no waveforms unless told; cldata's segment loads them by default.
    # Instances are neo's own proxies re-classed after creation (see CLIO.read_segment).
    _default_load_waveforms = False

    def load(self, time_slice=None, strict_slicing=True, magnitude_mode="rescaled", load_waveforms=None):
        """Load the SpikeTrain (``load_waveforms=None`` uses the segment's ``waveforms`` choice)."""
        if load_waveforms is None:
            load_waveforms = self._default_load_waveforms
        return super().load(time_slice, strict_slicing, magnitude_mode, load_waveforms)


class _AnalogSignalProxy(AnalogSignalProxy):
    # neo's proxy reads the whole raw range, then rescales it into a second array, holding
    # both (one minute of 64 channels: 192 MB of int16 besides the 384 MB result). This one
    # has the RawIO rescale a block at a time into the result, with neo's own arithmetic.
    # Instances are neo's proxies re-classed (see CLIO.read_segment).

    def load(self, time_slice=None, strict_slicing=True, channel_indexes=None, magnitude_mode="rescaled"):
        """Load the AnalogSignal (rescaled: converted a block at a time into the result)."""
        rawio = self._rawio
        if magnitude_mode != "rescaled" or not isinstance(rawio, CLRawIO):
            return super().load(time_slice, strict_slicing, channel_indexes, magnitude_mode)
        rawio._rescale_to = "float64" if self.dtype == "float64" else "float32"  # as neo's load chooses
        try:
            return super().load(time_slice, strict_slicing, channel_indexes, magnitude_mode)
        finally:
            rawio._rescale_to = rawio._prescaled = None


def _annotate_stim_channels(event: Any) -> Any:
    if "channel" not in event.array_annotations:
        event.array_annotate(channel=np.asarray(event.labels).astype(np.int64))
    return event


class _StimEventProxy(EventProxy):
    # neo drops array annotations from time-sliced loads; the channel comes back from the labels
    def load(self, time_slice=None, strict_slicing=True):
        """Load the stims Event, with its ``channel`` array annotation."""
        return _annotate_stim_channels(super().load(time_slice, strict_slicing))


class CLIO(CLRawIO, BaseFromRaw):
    """neo IO for CL recordings: ``read_block`` / ``read_segment`` give neo objects, lazily if asked.

    Parameters are those of :class:`CLRawIO`. ``read_segment(lazy=True, load_waveforms=...)``
    is accepted here (neo refuses it): it sets whether the spike trains' ``load()`` reads
    waveforms by default.

    Examples
    --------
    >>> io = CLIO(filename="sim_small_recording.h5")              # doctest: +SKIP
    >>> seg = io.read_segment(lazy=False, load_waveforms=True)    # doctest: +SKIP
    >>> seg.spiketrains[42].waveforms.shape                       # doctest: +SKIP
    (2, 1, 75)
    >>> seg.events[0].labels                                      # doctest: +SKIP
    array(['8', '9', '10'], dtype='<U3')
    """

    name = "CLIO"
    description = CLRawIO.description
    extensions = CLRawIO.extensions
    _prefered_signal_group_mode = "group-by-same-units"

    def __init__(
        self,
        filename: str | os.PathLike[str] | None = None,
        *,
        view: RecordingView | None = None,
        window: tuple[Any, Any] | None = None,
        signals: bool = True,
    ):
        CLRawIO.__init__(self, filename, view=view, window=window, signals=signals)
        BaseFromRaw.__init__(self, self.filename)

    def read_segment(
        self,
        block_index: int = 0,
        seg_index: int = 0,
        lazy: bool = False,
        signal_group_mode: str | None = None,
        load_waveforms: bool = False,
        time_slice: Any = None,
        strict_slicing: bool = True,
    ) -> Segment:
        """Read the recording's segment (see :meth:`neo.io.basefromrawio.BaseFromRaw.read_segment`).

        Examples
        --------
        >>> seg = CLIO(filename="rec.h5").read_segment(lazy=True)   # doctest: +SKIP
        >>> seg.spiketrains[0].load().waveforms is None             # doctest: +SKIP
        True
        """
        whole = not lazy and time_slice is None
        preload = self._all_waveforms() if whole and load_waveforms else nullcontext()
        if signal_group_mode is None:
            signal_group_mode = self._prefered_signal_group_mode
        with preload:
            header = self.header
            shown = dict(header)
            if whole:
                # neo would make a proxy per spike train only to load it at once; the trains are
                # built below instead, so neo's read_segment is shown no spike channel
                shown["spike_channels"] = header["spike_channels"][:0]
            if not lazy:
                # nor signal streams: neo's proxies would hold the raw samples and the rescaled
                # signal together; the signals are loaded below through ours
                shown["signal_streams"] = header["signal_streams"][:0]
            self.header = shown
            try:
                seg = BaseFromRaw.read_segment(
                    self,
                    block_index=block_index,
                    seg_index=seg_index,
                    lazy=lazy,
                    signal_group_mode=signal_group_mode,
                    load_waveforms=load_waveforms and not lazy,
                    time_slice=time_slice,
                    strict_slicing=strict_slicing,
                )
            finally:
                self.header = header
            if not lazy:
                # what neo's read_segment does for each sub-stream, with our proxies
                for stream_index, inner_stream_channels, name in self.get_sub_signal_streams(signal_group_mode):
                    proxy = _AnalogSignalProxy(rawio=self, stream_index=stream_index,
                                               inner_stream_channels=inner_stream_channels,
                                               block_index=block_index, seg_index=seg_index)
                    proxy.name = name
                    seg.analogsignals.append(proxy.load(time_slice=time_slice, strict_slicing=strict_slicing))
            if whole:
                for train in self._spike_trains(block_index, seg_index, load_waveforms):
                    seg.spiketrains.append(train)
            if not lazy:
                seg.check_relationships()
        if lazy:
            for proxy in seg.analogsignals:
                proxy.__class__ = _AnalogSignalProxy
            # Re-classing neo's proxies (subclasses that add only behaviour) is far cheaper than
            # building new ones: a SpikeTrainProxy costs about a millisecond in quantities.
            for proxy in seg.spiketrains:
                proxy.__class__ = _SpikeTrainProxy
                proxy._default_load_waveforms = bool(load_waveforms)
            for proxy in seg.events:
                proxy.__class__ = _StimEventProxy
        else:
            for event in seg.events:
                _annotate_stim_channels(event)
        return seg

    def _spike_trains(self, block_index: int, seg_index: int, load_waveforms: bool) -> list[SpikeTrain]:
        # Exactly what neo's SpikeTrainProxy(...).load(load_waveforms=...) gives for each
        # channel over the whole segment, built directly: a proxy and its load redo the same
        # unit arithmetic for every channel, and quantities parses a unit string (with ast)
        # at nearly every step, ~0.3 ms per train, more than a train's data costs.
        # test_neo_segment_fast_paths checks the trains equal loaded proxies in every attribute.
        t_start = self.segment_t_start(block_index, seg_index) * pq.s
        t_stop = self.segment_t_stop(block_index, seg_index) * pq.s
        annotations_of = self.raw_annotations["blocks"][block_index]["segments"][seg_index]["spikes"]
        units: dict[tuple[str, float, float], tuple[Any, Any, Any]] = {}
        trains = []
        for c, h in enumerate(self.header["spike_channels"]):
            key = (str(h["wf_units"]), float(h["wf_sampling_rate"]), float(h["wf_left_sweep"]))
            if key not in units:
                rate = h["wf_sampling_rate"] * pq.Hz
                units[key] = (rate, (h["wf_left_sweep"] / rate).rescale("s"), ensure_signal_units(h["wf_units"]))
            rate, left_sweep, wf_units = units[key]
            annotations = dict(annotations_of[c])
            array_annotations = {k: np.asarray(v) for k, v in annotations.pop("__array_annotations__").items()}
            annotations = check_annotations(annotations)
            annotations.setdefault("file_origin", str(self.source_name()))
            times = self.rescale_spike_timestamp(
                self.get_spike_timestamps(block_index, seg_index, c, None, None), dtype="float64"
            )
            waveforms = None
            if load_waveforms:
                raw = self.get_spike_raw_waveforms(block_index, seg_index, c, None, None)
                waveforms = pq.Quantity(self.rescale_waveforms_to_float(raw, dtype="float32", spike_channel_index=c),
                                        units=wf_units, dtype="float32")
            train = SpikeTrain(
                times,
                t_stop,
                units=pq.s,  # a unit, not a string: quantities parses strings (with ast) each time
                dtype="float64",
                t_start=t_start,
                # each train its own, as each proxy gives its own
                sampling_rate=rate.copy(),
                waveforms=waveforms,
                left_sweep=left_sweep.copy(),
                **annotations,
            )
            train.array_annotate(**{k: v for k, v in array_annotations.items() if v.ndim == 1})
            trains.append(train)
        return trains


def read_segment(view: RecordingView, lazy: bool = True, *, waveforms: bool = True, signals: bool = True) -> Segment:
    """The recording of ``view`` as a :class:`neo.Segment`, limited to the view's window.

    Parameters
    ----------
    view
        An open :class:`~cldata.RecordingView`; the segment reads through it, so keep it open
        while loading lazy objects.
    lazy
        Give neo proxy objects, which read the file only when ``.load()``-ed (``.load(
        time_slice=(t0, t1))`` reads only that slice). Building the lazy segment reads the
        spikes' timestamp and channel columns once (for the per-channel counts) and nothing else.
    waveforms
        Whether spike trains carry their waveforms (for a lazy segment: the default of
        ``load()``). The trains' waveforms are parts of one array holding all of the window's
        (no two trains share any), so one train kept alive keeps that whole array; copy its
        ``waveforms`` to keep only its own.
    signals
        Whether to include the AnalogSignal of the samples.

    Returns
    -------
    neo.Segment
        64 spike trains (one per channel), the AnalogSignal of the samples in µV (if the file
        has samples and ``signals``), and the ``"stims"`` Event.

    Examples
    --------
    >>> rec = cldata.RecordingView("sim_small_recording.h5", window=(2500, 5000))  # doctest: +SKIP
    >>> seg = read_segment(rec, lazy=False)                                        # doctest: +SKIP
    >>> seg.t_start, seg.analogsignals[0].shape                                     # doctest: +SKIP
    (array(0.1) * s, (2500, 64))
    """
    return CLIO(view=view, signals=signals).read_segment(lazy=lazy, load_waveforms=waveforms)
