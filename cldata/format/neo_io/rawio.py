"""``CLRawIO``: a CL recording as a neo RawIO (one block, one segment), read through a RecordingView.

neo reads files through a *RawIO*: a header of signal streams and channels, spike
channels and event channels, and methods that return raw chunks (int16 samples, int64
frame timestamps, waveforms) and rescale them (µV, seconds). :class:`CLRawIO` is that for
one CL recording: its header comes from the view's attributes, table sizes and last rows
only; the samples are one signal stream of ``channel_count`` channels in µV; each channel
``0 .. channel_count-1`` is a spike channel (waveforms of 75 samples, 25 before the
spike); the stims are one event channel, ``"stims"``, labelled by channel number. It
covers the view's window, clipped to the recording's extent (what its attributes say,
stretched to cover every sample, spike and stim in the file). The header arrays use the
dtypes neo's ``baserawio`` defines for every RawIO.

Spikes are answered from :class:`~cldata.format.neo_io.spike_table.SpikeIndex` (one pass
over the window's rows, grouped by channel). Waveforms are read when loaded: one channel's
rows by point selection, and as soon as a second channel's are asked for (or an eager
segment is read), all of the window's in one more pass; each channel's train is then
handed its part of that block (a view, never copied, each part once), and the block is let
go once every part is out.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import numpy as np
import tables
from neo.rawio.baserawio import (
    BaseRawIO,
    _event_channel_dtype,
    _signal_buffer_dtype,
    _signal_channel_dtype,
    _signal_stream_dtype,
    _spike_channel_dtype,
)

from cldata.errors import CorruptRecordingError
from cldata.format.layout import SPIKES, STIMS, WAVEFORM_FRAMES_BEFORE, WAVEFORM_LENGTH
from cldata.format.neo_io.spike_table import SpikeIndex, last_timestamp, seconds_mask
from cldata.format.reader import RecordingView
from cldata.format.samples import scaled_samples_in_blocks

__all__ = ["CLRawIO", "STIM_EVENT_NAME", "SIGNAL_STREAM_NAME"]

STIM_EVENT_NAME = "stims"
SIGNAL_STREAM_NAME = "samples"

# Segment() takes these as keywords, and BaseFromRaw pops the nested-annotation keys; a root
# attribute with one of these names would clash with them, so it is left out.
_RESERVED_ANNOTATIONS = frozenset(
    {"index", "name", "description", "file_origin", "file_datetime", "rec_datetime", "signals", "spikes", "events"}
)


def _channel_name(channel: int) -> str:
    return f"ch{channel}"


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
        self._spike_index: SpikeIndex | None = None
        # The window's waveforms grouped by channel (see _waveforms_from_block), the channels
        # whose part of it went out as a train's waveforms, and how many have not yet.
        self._waveform_block: np.ndarray | None = None
        self._lent: np.ndarray | None = None
        self._unlent = 0
        # lazy loads before the block is read: the channels asked for, and those loaded whole
        self._asked: set[int] = set()
        self._read_whole: set[int] = set()
        # Within rescaling_in_blocks(): the dtype a signal load rescales to; _get_analogsignal_chunk
        # then gives the rescaled signal, converted a block at a time, and
        # rescale_signal_raw_to_float hands that array on unchanged.
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
        self._spike_table = view.event_tables.get(SPIKES)  # shared with the view (its cached timestamps)
        # whether the spike table's waveforms can be read (else NaN waveforms: warned at open)
        self._waveforms = bool(view.spike_waveforms)

        # The recording's extent: what its attributes say, stretched to cover every sample,
        # spike and stim actually in the file (last rows only: CL tables are in time order).
        ends = [view.duration_frames]
        if view.samples is not None:
            ends.append(int(view.samples.nrows))
        for table in (view.spikes, view.stims):
            last = last_timestamp(table, source)
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
            self._prescaled = self._scaled_chunk(a, b, channel_indexes, self._rescale_to)
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

    def _scaled_chunk(self, a: int, b: int, channel_indexes: Any, dtype: str) -> np.ndarray:
        """Samples ``[a, b)`` rescaled to ``dtype`` a block at a time into the result."""
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

        return scaled_samples_in_blocks(self._samples, a, b, columns, convert, self.filename, dtype)

    @contextmanager
    def rescaling_in_blocks(self, dtype: str) -> Iterator[None]:
        """Within it, a signal load rescales a block at a time into its result.

        neo's signal load asks for the raw chunk, then rescales it into a second array;
        within this context the chunk comes back already rescaled to ``dtype`` (converted
        block by block into the result) and :meth:`rescale_signal_raw_to_float` hands it
        on unchanged. :class:`cldata.format.neo_io.fast_paths.ScaledSignalProxy` loads
        through it.

        Examples
        --------
        >>> with raw.rescaling_in_blocks("float32"):          # doctest: +SKIP
        ...     signal = AnalogSignalProxy.load(proxy)
        """
        self._rescale_to = dtype
        try:
            yield
        finally:
            self._rescale_to = self._prescaled = None

    # -- spikes ------------------------------------------------------------------------------

    def _spikes(self) -> SpikeIndex:
        if self._spike_index is None:
            self._spike_index = SpikeIndex(
                self._spike_table, self._start, self._stop, self._whole_file, self._channel_count, self.filename,
                self.view.untidy_notes,
            )
        return self._spike_index

    def _spike_count(self, block_index: int, seg_index: int, spike_channel_index: int) -> int:
        return int(self._spikes().counts[spike_channel_index])

    def _channel_spikes(
        self, spike_channel_index: int, t_start: float | None, t_stop: float | None
    ) -> tuple[np.ndarray, np.ndarray]:
        ts, rows = self._spikes().channel(spike_channel_index)
        mask = seconds_mask(ts, self._fps, t_start, t_stop)
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
        mask = seconds_mask(ts, self._fps, t_start, t_stop)
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
            wf = self._spikes().read_waveforms(rows)
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
    def all_waveforms_read(self) -> Iterator[None]:
        """Within it, every channel's waveforms come from one read of the window's rows.

        Loading every channel's waveforms one point selection at a time costs ~30x more than
        one sequential read of the window's rows, so an eager load reads them all at once.

        Examples
        --------
        >>> with raw.all_waveforms_read():                                   # doctest: +SKIP
        ...     wf = [raw.get_spike_raw_waveforms(0, 0, c, None, None) for c in range(64)]
        """
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
        mask = seconds_mask(stims["timestamp"], self._fps, t_start, t_stop)
        return stims if mask is None else stims[mask]

    def _event_count(self, block_index: int, seg_index: int, event_channel_index: int) -> int:
        table = self.view.event_tables.get(STIMS)
        return 0 if table is None else table.count(self._start, self._stop)

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
