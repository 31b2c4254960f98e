"""Reading an NWB file cldata wrote: :func:`read_nwb` gives a read-only, RecordingView-like view.

The model: the file is laid out as :mod:`cldata.format.nwb.layout` says, so the view reads it
with h5py directly (no pynwb object tree: opening is quick and reads only what is asked).
Frames are the CL file's frames: the samples' first row is the frame at ``starting_time``, and
times in seconds are rounded back to frames. Samples are read lazily, rows of a window only.

A linked file's samples are a virtual dataset over the CL file's ``/samples``, and its spikes'
waveforms stay in the CL file (the units hold their mean and sd): the view reads them there.
HDF5 reads a missing source as zeros without a word, so the view checks the source first
(relative paths from the NWB file's folder) and raises :class:`~cldata.errors.BrokenLinkError`
naming the file it looked for.

Examples
--------
>>> with read_nwb("rec.nwb") as rec:                                 # doctest: +SKIP
...     rec.frames_per_second, rec.read_samples(0, 10, channels=[3]).shape
(25000, (10, 1))
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from cldata.core.window import TimeWindow
from cldata.errors import BrokenLinkError, ChangedLinkError, NotARecordingError
from cldata.format.attributes import AttributesView
from cldata.format.codec import decode
from cldata.format.layout import WAVEFORM_LENGTH
from cldata.format.nwb import layout
from cldata.format.nwb.streams import decode_entries, read_blobs, stream_frames
from cldata.format.reader import RecordingView


def open_h5(path: str | os.PathLike[str]) -> Any:
    """``path`` open read-only in h5py; a split file (``rec.nwb`` or any of its members) as its family.

    Examples
    --------
    >>> with open_h5("rec.00000.nwb") as f:                           # doctest: +SKIP
    ...     f["acquisition/samples/data"].shape
    """
    # why here: h5py is the nwb extra's (pynwb's) dependency, loaded on use
    import h5py

    family = layout.family_of(Path(path))
    if family is None:
        return h5py.File(path, "r")
    # memb_size 0: the members' size is read from the first one
    return h5py.File(layout.family_pattern(family), "r", driver="family", memb_size=0)


def is_cldata_nwb(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is an NWB file cldata wrote (it holds ``/scratch/cldata_attributes``), split or not."""
    try:
        with open_h5(path) as f:
            return layout.MARKER_PATH in f and "nwb_version" in f.attrs
    except (OSError, ValueError):
        return False


def take_rows(dataset: Any, rows: np.ndarray, block: int = 1 << 16) -> np.ndarray:
    """Rows ``rows`` (any order, repeats allowed) of an h5py dataset, read a block at a time.

    Only blocks that hold a wanted row are read (h5py's point selection would be slow; a whole read
    would hold the dataset). Memory: the result and one block.

    Examples
    --------
    >>> take_rows(f["units/waveforms"], np.array([5, 2]))           # doctest: +SKIP
    """
    out = np.empty((len(rows), *dataset.shape[1:]), dataset.dtype)
    order = np.argsort(rows, kind="stable")
    wanted = np.asarray(rows)[order]
    k = 0
    while k < len(wanted):
        first = int(wanted[k])
        m = int(np.searchsorted(wanted, first + block, side="left"))
        chunk = dataset[first:int(wanted[m - 1]) + 1]
        out[order[k:m]] = chunk[wanted[k:m] - first]
        k = m
    return out


def _ragged(group: Any, column: str) -> list[np.ndarray]:
    """A ragged column of an h5py table: one array per row."""
    data = group[column][()]
    ends = group[f"{column}_index"][()]
    return np.split(data, ends[:-1]) if len(ends) else []


class NWBStream:
    """One data stream of the file: ``read()``, ``items()``, ``timestamps``, ``attributes``, ``len``.

    Lazy: opening reads nothing of the entries; ``timestamps`` reads the frames (8 bytes an entry,
    once), ``read(start, stop)`` decodes only the entries of its window.
    """

    def __init__(self, name: str, kind: str, group: Any, fps: int, count: int, attributes: dict[str, Any]):
        self.name = name
        self._kind, self._group, self._fps, self._count = kind, group, fps, count
        self._frames: np.ndarray | None = None
        self.attributes = AttributesView(attributes)

    @property
    def timestamps(self) -> np.ndarray:
        """The entries' frames."""
        if self._frames is None:
            self._frames = (np.zeros(0, np.int64) if self._group is None
                            else stream_frames(self._kind, self._group, self._fps))
        return self._frames

    def read(self, start: Any = None, stop: Any = None) -> tuple[np.ndarray, list[Any]]:
        """``(frames, entries)`` in ``[start, stop)`` (frames or time quantities; ``None`` = open)."""
        if self._group is None:
            return np.zeros(0, np.int64), []
        a, b = TimeWindow(start, stop).frames(self._fps)
        frames = self.timestamps
        i = 0 if a is None else int(np.searchsorted(frames, a, side="left"))
        j = len(frames) if b is None else int(np.searchsorted(frames, b, side="left"))
        if j <= i:
            return np.zeros(0, np.int64), []
        return decode_entries(self._kind, self._group, self._fps, i, j)

    def items(self) -> list[tuple[int, Any]]:
        """``(frame, entry)`` pairs."""
        frames, entries = self.read()
        return [(int(t), e) for t, e in zip(frames, entries)]

    def __len__(self) -> int:
        return self._count

    def __repr__(self) -> str:
        return f"<NWBStream {self.name!r}: {len(self)} entries>"


class NWBRecordingView:
    """A read-only view of a recording in an NWB file cldata wrote (see :func:`read_nwb`).

    Attributes
    ----------
    attributes : AttributesView
        The CL file's root attributes.
    parameters : dict
        The parameters given when the file was written.
    frames_per_second : int
        The frame rate.
    data_streams : dict[str, NWBStream]
        The data streams, empty ones included.
    results : list[dict]
        The analysis results written with the file.
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        if not is_cldata_nwb(self.path):
            raise NotARecordingError(f"{self.path} is not an NWB file written by cldata (no {layout.MARKER_PATH}); "
                                     "read other NWB files with pynwb")
        self.file = open_h5(self.path)
        try:
            self._setup()
        except BaseException:
            self.file.close()
            raise

    def _setup(self) -> None:
        f = self.file
        self.attributes = AttributesView(decode(f[layout.MARKER_PATH][()].tobytes()))
        self.parameters = decode(f[f"/scratch/{layout.SCRATCH_PARAMETERS}"][()].tobytes())
        self.channel_count = len(f["/general/extracellular_ephys/electrodes/id"])
        series = next((f[p] for p in layout.SAMPLES_PATHS if p in f), None)
        self._samples = series["data"] if series is not None else None
        if series is not None:
            self.frames_per_second = int(round(float(series["starting_time"].attrs["rate"])))
            self._first = int(round(float(series["starting_time"][()]) * self.frames_per_second))
            self.uV_per_sample_unit = float(self._samples.attrs["conversion"]) / layout.VOLTS_PER_UV
            self._check_link()
        else:
            self.frames_per_second = int(self.attributes.get("frames_per_second", 25000))
            self._first = 0
            self.uV_per_sample_unit = float(self.attributes.get("uV_per_sample_unit", 0.195))
        self._spikes: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.data_streams = self._read_streams()
        self.results = self._read_results()

    def _check_link(self) -> None:
        """A virtual dataset's source must exist: HDF5 would read a missing one as zeros."""
        if not self._samples.is_virtual:
            return
        for source in self._samples.virtual_sources():
            where = self.path.parent / source.file_name  # (an absolute name stays itself)
            if not where.is_file():
                raise BrokenLinkError(
                    f"{self.path}'s samples link to the CL file {source.file_name!r} (relative to the NWB file's "
                    f"folder: {where}), which is not there: the CL file was moved or deleted. Put it back, "
                    "keeping the two files' relative places, or write a self-contained file (link=False)")

    @property
    def channels(self) -> np.ndarray:
        """The channel numbers, ``0 .. channel_count-1``."""
        return np.arange(self.channel_count)

    @property
    def first_sample_frame(self) -> int:
        """The frame of the first sample row (the written window's start)."""
        return self._first

    @property
    def sample_frames(self) -> int:
        """How many sample rows the file holds (0 without samples)."""
        return 0 if self._samples is None else int(self._samples.shape[0])

    @property
    def linked_to(self) -> Path | None:
        """The CL file a linked file's samples read (as the link names it, from the NWB file's folder);
        ``None`` when they are copied."""
        if not self.is_linked:
            return None
        return self.path.parent / self._samples.virtual_sources()[0].file_name  # (an absolute name stays itself)

    @property
    def for_neo(self) -> bool:
        """Whether the file is laid out for neo (``neo=True``: the samples in ``processing/ecephys``)."""
        return layout.NEO_SAMPLES_PATH in self.file

    @property
    def is_linked(self) -> bool:
        """Whether the samples are a virtual dataset over a CL file (``link=True``)."""
        return self._samples is not None and self._samples.is_virtual

    def _frames(self, start: Any, stop: Any) -> tuple[int | None, int | None]:
        return TimeWindow(start, stop).frames(self.frames_per_second)

    def read_samples(self, start: Any = None, stop: Any = None, channels: Any = None, *,
                     scaled: bool = False) -> np.ndarray:
        """Samples of frames ``[start, stop)``: ``(frames, channels)`` int16, or µV (float32) if ``scaled``."""
        cols = slice(None) if channels is None else np.asarray(channels)
        if self._samples is None:
            n_ch = self.channel_count if channels is None else len(np.atleast_1d(channels))
            return np.empty((0, n_ch), np.float32 if scaled else np.int16)
        n = self._samples.shape[0]
        a, b = self._frames(start, stop)
        a = 0 if a is None else min(max(a - self._first, 0), n)
        b = n if b is None else min(max(b - self._first, a), n)
        block = self._samples[a:b]
        if channels is not None:
            block = block[:, cols]
        if scaled:
            return block.astype(np.float32) * np.float32(self.uV_per_sample_unit)
        return block

    def _spike_index(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(frames, channels, rows)`` of every spike, sorted by frame then channel; ``rows``: the spike's
        place in the units' order (the row of its waveform). Read once (17 bytes a spike)."""
        if self._spikes is None:
            units = self.file.get("/units")
            if units is None or not len(units["spike_times"]):
                self._spikes = (np.zeros(0, np.int64), np.zeros(0, np.uint8), np.zeros(0, np.int64))
            else:
                frames = np.rint(units["spike_times"][()] * self.frames_per_second).astype(np.int64)
                counts = np.diff(np.r_[0, units["spike_times_index"][()]])
                channels = np.repeat(units[layout.UNIT_CHANNEL][()], counts).astype(np.uint8)
                order = np.lexsort((channels, frames))  # (stable: a frame's repeats in unit order, as written)
                self._spikes = (frames[order], channels[order], order.astype(np.int64))
        return self._spikes

    def read_spikes(self, start: Any = None, stop: Any = None, channels: Any = None,
                    waveforms: bool = True) -> np.ndarray:
        """Spikes in ``[start, stop)``: ``timestamp``, ``channel`` and (with ``waveforms``) ``samples`` in µV.

        Rows in time order (ties by channel). Only the window's waveforms are read; a linked file's
        from the CL file.
        """
        dtype = [("timestamp", np.int64), ("channel", np.uint8)]
        if waveforms:
            dtype.append(("samples", np.float32, (WAVEFORM_LENGTH,)))
        frames, chans, rows = self._spike_index()
        a, b = self._frames(start, stop)
        i = 0 if a is None else int(np.searchsorted(frames, a, side="left"))
        j = max(i, len(frames) if b is None else int(np.searchsorted(frames, b, side="left")))
        out = np.empty(j - i, dtype)
        out["timestamp"], out["channel"] = frames[i:j], chans[i:j]
        if waveforms and len(out):
            units = self.file["/units"]
            if "waveforms" in units:
                out["samples"] = take_rows(units["waveforms"], rows[i:j])[:, :WAVEFORM_LENGTH]
            else:
                out["samples"] = self._linked_waveforms(units, out, a, b)
        if channels is not None:
            out = out[np.isin(out["channel"], np.atleast_1d(channels))]
        return out

    def _linked_waveforms(self, units: Any, rows: np.ndarray, a: int | None, b: int | None) -> np.ndarray:
        """The waveforms of ``rows`` (every spike of the window ``[a, b)``, sorted by time, then channel) from
        the linked CL file, whose spikes of that window must be the same."""
        source = self._samples.virtual_sources()[0]
        node = PurePosixPath(source.dset_name)
        lo, hi = (int(round(float(t) * self.frames_per_second)) for t in units["obs_intervals"][0])
        lo, hi = max(lo, a) if a is not None else lo, min(hi, b) if b is not None else hi
        with RecordingView(self.linked_to, group=str(node.parent), finished=True) as cl:
            spikes = cl.read_spikes(lo, hi)
        spikes = spikes[np.lexsort((spikes["channel"], spikes["timestamp"]))]
        if not (np.array_equal(spikes["timestamp"], rows["timestamp"])
                and np.array_equal(spikes["channel"], rows["channel"])):
            raise ChangedLinkError(
                f"{self.path}'s spikes differ from those of the CL file it links to ({source.file_name}): that "
                "file was replaced or changed since the NWB file was written; write the NWB file again")
        return spikes["samples"]

    def _select(self, rows: np.ndarray, start: Any, stop: Any, channels: Any) -> np.ndarray:
        a, b = self._frames(start, stop)
        keep = np.ones(len(rows), bool)
        if a is not None:
            keep &= rows["timestamp"] >= a
        if b is not None:
            keep &= rows["timestamp"] < b
        if channels is not None:
            keep &= np.isin(rows["channel"], np.atleast_1d(channels))
        return rows[keep]

    def read_stims(self, start: Any = None, stop: Any = None, channels: Any = None) -> np.ndarray:
        """Stims in ``[start, stop)``: ``timestamp`` and ``channel`` (one row per channel stimulated)."""
        dtype = [("timestamp", np.int64), ("channel", np.uint8)]
        table = self.file.get(layout.STIMS_PATH)
        if table is None:
            return np.empty(0, dtype)
        channels_per_row = _ragged(table, layout.STIM_CHANNELS)
        out = np.empty(sum(len(c) for c in channels_per_row), dtype)
        out["timestamp"] = np.repeat(table[layout.STIM_FRAME][()], [len(c) for c in channels_per_row])
        out["channel"] = np.concatenate(channels_per_row) if len(out) else []
        return self._select(out, start, stop, channels)

    def _read_streams(self) -> dict[str, NWBStream]:
        module = self.file.get(f"/processing/{layout.STREAMS_MODULE}")
        if module is None or layout.STREAM_INDEX not in module:
            return {}
        index = module[layout.STREAM_INDEX]
        names = [s.decode() if isinstance(s, bytes) else s for s in index["stream"][()]]
        kinds = [s.decode() if isinstance(s, bytes) else s for s in index["kind"][()]]
        objects = [s.decode() if isinstance(s, bytes) else s for s in index["object"][()]]
        counts = index["entries"][()]
        attributes = read_blobs(index, "attributes")
        return {name: NWBStream(name, kind, None if kind == layout.STREAM_EMPTY else module[obj],
                                self.frames_per_second, int(count), attrs)
                for name, kind, obj, count, attrs in zip(names, kinds, objects, counts, attributes)}

    def _read_results(self) -> list[dict[str, Any]]:
        table = self.file.get(f"/processing/{layout.RESULTS_MODULE}/{layout.RESULTS_TABLE}")
        return [] if table is None else read_blobs(table, "record")

    def segment(self, samples: bool = True, *, start: Any = None, stop: Any = None) -> Any:
        """The recording (or the window ``[start, stop)``) as a :class:`neo.Segment`.

        A SpikeTrain per channel (times in s, waveforms in µV), an Event of the stims and, with
        ``samples``, an AnalogSignal of the samples in µV. The window's samples are read whole
        (an hour of 64 channels is 23 GB in µV): pass a window, or ``samples=False``.

        Examples
        --------
        >>> with read_nwb("rec.nwb") as nwb:                              # doctest: +SKIP
        ...     seg = nwb.segment(start=10 * pq.s, stop=20 * pq.s)
        """
        # why here: neo and quantities are slow to import; only this method needs them
        import neo
        import quantities as pq

        fps = self.frames_per_second
        a, b = self._frames(start, stop)
        seg = neo.Segment(name=self.path.stem)
        spikes = self.read_spikes(start, stop)
        end = max(int(self.attributes.get("duration_frames", 0)), self._first + self.sample_frames,
                  int(spikes["timestamp"].max(initial=0)) + 1)
        t_start, t_stop = (a or 0) / fps * pq.s, (end if b is None else max(b, a or 0)) / fps * pq.s
        for ch in np.unique(spikes["channel"]):
            mine = spikes[spikes["channel"] == ch]
            seg.spiketrains.append(neo.SpikeTrain(mine["timestamp"] / fps * pq.s, t_start=t_start, t_stop=t_stop,
                                                  waveforms=mine["samples"][:, np.newaxis, :] * pq.uV,
                                                  sampling_rate=fps * pq.Hz, channel=int(ch), name=f"channel {ch}"))
        stims = self.read_stims(start, stop)
        seg.events.append(neo.Event(stims["timestamp"] / fps * pq.s, labels=stims["channel"].astype(str),
                                    name="stims"))
        if samples and self._samples is not None:
            first = max(self._first, a or self._first)
            seg.analogsignals.append(neo.AnalogSignal(self.read_samples(start, stop, scaled=True), units="uV",
                                                      sampling_rate=fps * pq.Hz, t_start=first / fps * pq.s,
                                                      name="samples"))
        return seg

    def close(self) -> None:
        """Close the file."""
        if self.file.id.valid:
            self.file.close()

    def __enter__(self) -> NWBRecordingView:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<NWBRecordingView {str(self.path)!r}: {self.channel_count} channels, streams {list(self.data_streams)}>"


def read_nwb(path: str | os.PathLike[str]) -> NWBRecordingView:
    """Open an NWB file cldata wrote, read-only, with the reading API of a RecordingView.

    Raises
    ------
    cldata.errors.NotARecordingError
        If the file is not an NWB file cldata wrote.
    cldata.errors.BrokenLinkError
        If its samples link to a CL file that is not where the link says.

    Examples
    --------
    >>> with read_nwb("rec.nwb") as rec:                             # doctest: +SKIP
    ...     rec.read_spikes(0, 25_000)["channel"]
    """
    return NWBRecordingView(path)
