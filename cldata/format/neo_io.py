"""A neo view of CL recordings: ``CLRawIO`` (neo.rawio), ``CLIO`` (neo.io) and :func:`read_segment`.

A recording reads as one :class:`neo.Segment`:

- one :class:`~neo.core.SpikeTrain` per channel ``0 .. channel_count-1`` (also for channels
  without spikes, so every recording gives the same list), times in s since the recording
  started, waveforms in µV shaped ``(n_spikes, 1, 75)``, ``left_sweep`` 25 frames, and the
  annotations ``channel`` and ``channel_name``;
- one :class:`~neo.core.AnalogSignal` of ``/samples`` in µV (omitted when the file has none);
- one :class:`~neo.core.Event` named ``"stims"``: stim times, labels the channel numbers as
  strings, and the array annotation ``channel``.

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
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime
from typing import Any

import numpy as np
import tables
from neo.core import Segment
from neo.io.basefromrawio import BaseFromRaw
from neo.io.proxyobjects import EventProxy, SpikeTrainProxy
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
from cldata.format.reader import RecordingView

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
    """The window's spikes grouped by channel, from the timestamp and channel columns only.

    The counts need just the channel column (one fast pass, read on first need); the
    timestamps are read and grouped only when spike times are first asked for.
    """

    def __init__(
        self, table: EventTable | None, start: int, stop: int, whole_file: bool, channel_count: int, source: str
    ):
        self.table = table
        self.start, self.stop = start, stop
        self.channel_count = channel_count
        self.source = source
        if table is None:
            self.where: tuple[int, int] | np.ndarray = (0, 0)
        else:
            # a whole-file window needs no row search (which would read the timestamp column)
            self.where = (0, len(table)) if whole_file else table.rows(start, stop)
        self._channels: np.ndarray | None = None
        self._counts: np.ndarray | None = None
        self._grouped: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def _read(self, field: str) -> np.ndarray:
        if self.table is None:
            return np.empty(0, dtype=np.int64 if field == "timestamp" else np.uint8)
        return _read_field(self.table.table, self.where, field, self.source)

    @property
    def channels(self) -> np.ndarray:
        if self._channels is None:
            ch = self._read("channel")
            if ch.size and int(ch.min()) < 0:
                raise CorruptRecordingError(
                    f"{self.source}: the spike table holds negative channel numbers (CL channels are 0..255)"
                )
            if ch.size and int(ch.max()) >= self.channel_count:
                warnings.warn(
                    f"{self.source}: spikes on channels >= channel_count ({self.channel_count}) "
                    "have no SpikeTrain and are left out",
                    stacklevel=4,
                )
            self._channels = ch
        return self._channels

    @property
    def counts(self) -> np.ndarray:
        if self._counts is None:
            ch = self.channels
            # channels beyond channel_count have no train; leaving them out before counting
            # also keeps bincount from allocating max(channel) counters
            ch = ch[ch < self.channel_count].astype(np.intp, copy=False)
            self._counts = np.bincount(ch, minlength=self.channel_count)[: self.channel_count]
        return self._counts

    def _group(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._grouped is None:
            ts = self._read("timestamp").astype(np.int64, copy=False)
            ch = self.channels
            where = self.where
            rows = where if isinstance(where, np.ndarray) else None
            beyond = ch >= self.channel_count  # warned about when the channels were read
            keep = (ts >= self.start) & (ts < self.stop) & ~beyond
            if not (keep | beyond).all():
                # only a table out of time order (never written by CL) gets here: its last row
                # does not hold its latest spike, so the extent found from it is too short
                warnings.warn(
                    f"{self.source}: {int((~(keep | beyond)).sum())} spikes lie outside the recording's "
                    f"extent [{self.start}, {self.stop}) frames and are left out",
                    stacklevel=4,
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
        return self._grouped

    def channel(self, c: int) -> tuple[np.ndarray, np.ndarray]:
        """Timestamps and table rows of channel ``c``'s spikes, in file order."""
        ts, rows, offsets = self._group()
        a, b = offsets[c], offsets[c + 1]
        return ts[a:b], rows[a:b]


class CLRawIO(BaseRawIO):
    """neo RawIO for CL recordings: one block, one segment, int16 samples, int64 frame timestamps.

    Build it from an open :class:`~cldata.RecordingView` (it reuses the view's file and window
    and reads the file only through it) or from a file name (it then opens a view itself).
    ``parse_header()`` reads only attributes, table sizes and last rows. The spikes' channel
    column is read once, on the first spike count (which neo's proxies ask for), their
    timestamps on the first spike times asked for, and waveforms only for the spikes loaded.

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
        self._waveform_block: tuple[int, np.ndarray] | None = None
        self._waveform_requests = 0  # lazy loads: the second channel asked for triggers one block read
        self._keep_waveform_block = False

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
        self._spike_table = self._event_table(view.spikes, ("timestamp", "channel", "samples"), "_spike_table")

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
        try:
            block = self._samples[a:b]
        except tables.HDF5ExtError as exc:
            raise CorruptRecordingError(f"cannot read samples [{a}, {b}) of {self.filename}: {exc}") from None
        if channel_indexes is not None:
            block = block[:, np.asarray(channel_indexes)]
        return block

    # -- spikes ------------------------------------------------------------------------------

    def _spikes(self) -> _SpikeIndex:
        if self._spike_index is None:
            self._spike_index = _SpikeIndex(
                self._spike_table, self._start, self._stop, self._whole_file, self._channel_count, self.filename
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
        _, rows = self._channel_spikes(spike_channel_index, t_start, t_stop)
        if self._spike_table is None or rows.size == 0:
            return np.empty((0, 1, WAVEFORM_LENGTH), dtype=np.float32)
        self._waveform_requests += 1
        where = self._spikes().where
        if self._waveform_block is None and self._waveform_requests > 1 and not isinstance(where, np.ndarray):
            # a second channel's waveforms: loading channel after channel is coming, and one
            # sequential read of the window's rows costs less than a few point selections
            self._waveform_block = (where[0], _read_field(self._spike_table.table, where, "samples", self.filename))
            self._keep_waveform_block = True
        if self._waveform_block is not None:
            first, block = self._waveform_block
            wf = block[rows - first]
        else:
            wf = _read_field(self._spike_table.table, rows, "samples", self.filename)
        return wf.reshape(wf.shape[0], 1, -1)

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
        where = self._spikes().where
        if self._spike_table is None or isinstance(where, np.ndarray) or self._waveform_block is not None:
            yield
            return
        self._waveform_block = (where[0], _read_field(self._spike_table.table, where, "samples", self.filename))
        try:
            yield
        finally:
            if not self._keep_waveform_block:
                self._waveform_block = None

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
        labels = stims["channel"].astype(np.int64).astype("U3")
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
        eager_all = load_waveforms and not lazy and time_slice is None
        preload = self._all_waveforms() if eager_all else nullcontext()
        with preload:
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
        if lazy:
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
        ``load()``).
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
