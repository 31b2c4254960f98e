"""Reading CL recordings: ``RecordingView``, with the CL reader's names and more.

``RecordingView(path)`` opens a recording read-only and offers what Cortical Labs'
``cl.RecordingView`` offers (``file``, ``attributes``, ``spikes``, ``stims``, ``samples``,
``data_streams``), so existing notebooks keep working, plus windowed reads by frame or
time (:meth:`RecordingView.read_spikes`, :meth:`~RecordingView.read_stims`,
:meth:`~RecordingView.read_samples`), recording-level conveniences, and a lazy
:class:`neo.Segment` (:meth:`RecordingView.segment`).

Opening never runs code from the file: pickled attributes load through an allow-list.

Strict when writing, tolerant when reading: whatever Cortical Labs' reader reads, this
reader reads too. A file that is untidy (a root attribute missing or of another type, a
table or array cldata cannot interpret, spikes on channels beyond ``channel_count``...)
opens, and each thing that is off is said once per opened file with a
:class:`~cldata.errors.UntidyRecordingWarning` naming the file, what is off and what cldata
does about it; a part that cannot be interpreted is left out (``spikes``, ``stims`` or
``samples`` is then ``None``; the raw node stays in ``file``), never the whole file. Only
what is unreadable (not HDF5, truncated, no frame rate to count time with) or unsafe
(pickled-object nodes, sizes beyond the file) is refused. docs/READER-TOLERANCE.md has the
table of every case.

Examples
--------
>>> import cldata
>>> with cldata.RecordingView(path) as rec:                 # doctest: +SKIP
...     print(rec.duration_seconds, rec.sampling_rate, len(rec.channels))
...     print(rec.read_spikes(0, 0.1 * pq.s)["channel"])
0.5 25000.0 Hz 64
[42 10 25]
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import numpy as np
import quantities as pq
import tables

from cldata.core.display import html_fields, plural, seconds, short, window_text
from cldata.core.shutdown import close_at_exit
from cldata.core.window import TimeWindow
from cldata.errors import (
    CldataError,
    CorruptRecordingError,
    NotARecordingError,
    RecordingInProgressError,
    UnfinishedRecordingError,
)
from cldata.format.attributes import AttributesView, read_attributes
from cldata.format.events import EventTable, waveform_problem
from cldata.format.hdf5_open import hdf5_reason, open_hdf5
from cldata.format.journal import journal_path, journal_state
from cldata.format.layout import SPIKES, STIMS, WAVEFORM_LENGTH
from cldata.format.node_guard import RECORDING, check_layout
from cldata.format.part_nodes import event_nodes, samples_for_channels, samples_node, stream_views
from cldata.format.parts import SPIKE_PART, STIM_PART
from cldata.format.root_attributes import channel_count, extent, frame_rate, sample_scale
from cldata.format.samples import samples_to_uV, scaled_samples_in_blocks, to_uV_into
from cldata.format.spike_snapshot import spike_snapshot, stim_events
from cldata.format.streams import DataStreamCollection
from cldata.format.untidy import UntidyNotes
from cldata.toolkit.methods import ToolkitMethods

# open_hdf5, hdf5_reason and samples_to_uV: importable from here as in 0.2
__all__ = ["RecordingView", "open_hdf5", "hdf5_reason", "samples_to_uV"]


class RecordingView(ToolkitMethods):
    """A read-only view of one CL recording file.

    Parameters
    ----------
    path
        The ``.h5`` recording.
    group
        Where the CL layout sits in the file: ``"/"`` for a CL recording file; a store
        export keeps each recording under its own group (``"/recordings/<id>"``).
    finished
        The file is known to be a finished recording (a store's copy): a journal beside
        it is not looked at.
    window
        Optional ``(start, stop)`` in frames or time quantities: the windowed readers
        (:meth:`read_spikes`, :meth:`read_stims`, :meth:`read_samples`,
        :attr:`data_streams`, :meth:`segment`) then return only that part. The raw
        PyTables nodes (``spikes``, ``stims``, ``samples``, ``file``) are never windowed.

    Attributes
    ----------
    file : tables.File
        The underlying PyTables file.
    attributes : AttributesView
        The file's root attributes.
    spikes, stims : tables.Table or None
        The spike and stim tables, as the CL reader gives them.
    samples : tables.EArray or None
        The raw samples (frames × channels, int16 sample units).
    data_streams : DataStreamCollection
        The named data streams.

    Raises
    ------
    cldata.errors.NotARecordingError
        If the file is not HDF5, or its root has no frame rate (``frames_per_second`` nor
        ``sampling_frequency``): not a CL recording.
    cldata.errors.CorruptRecordingError
        If it is truncated or damaged, declares datasets larger than the file, or has no whole
        frame rate to count time with.
    cldata.errors.UnsafeContentError
        If an attribute pickle names a class or function outside the allow-list.
    cldata.errors.RecordingInProgressError, cldata.errors.UnfinishedRecordingError
        If a writer is still writing the file, or died without closing it.

    Examples
    --------
    >>> rec = cldata.RecordingView("sim_small_recording.h5")   # doctest: +SKIP
    >>> rec.attributes.channel_count, len(rec.spikes)          # doctest: +SKIP
    (np.int64(64), 32)
    >>> rec.data_streams["score"][4]                           # doctest: +SKIP
    'final'

    Untidy files open with a warning per thing that is off:

    >>> with warnings.catch_warnings(record=True) as caught:   # doctest: +SKIP
    ...     rec = cldata.RecordingView("no_channel_count.h5")
    >>> print(caught[0].message)                               # doctest: +SKIP
    no_channel_count.h5: has no channel_count; cldata takes 64 channels (the columns of /samples)

    Warns
    -----
    cldata.errors.UntidyRecordingWarning
        Once per opened file and thing that is off (docs/READER-TOLERANCE.md).
    """

    _owner: RecordingView | None = None

    def __init__(self, path: str | os.PathLike[str], *, window: tuple[Any, Any] | None = None, group: str = "/",
                 finished: bool = False):
        self.path = Path(path)
        self.group = group
        # a recording known to be finished (a store's copy) has no writer: a journal beside it is
        # a stray file (`cldata check` reports it), not a sign that the recording is unfinished
        state = journal_state(self.path) if group == "/" and not finished else "none"
        if state == "live":
            raise RecordingInProgressError(
                f"{self.path} is being written right now; follow it live with cldata.follow(), "
                "or open it once the writer has closed it"
            )
        if state == "orphan":
            raise UnfinishedRecordingError(
                f"{self.path} was not closed by its writer (it crashed or was killed). Everything "
                f"it flushed is in {journal_path(self.path).name}; restore it with "
                f"cldata.recover({str(self.path)!r}) or `cldata check --repair {self.path}`"
            )
        self.file: tables.File = open_hdf5(self.path)
        try:
            self._setup(window)
        except CldataError:
            self.file.close()
            raise
        except Exception as exc:
            # PyTables reads node headers and attributes lazily: damage inside the file shows
            # up here as whatever PyTables or HDF5 happens to raise
            self.file.close()
            raise CorruptRecordingError(
                f"{self.path} is damaged: {type(exc).__name__}: {hdf5_reason(exc)}"
            ) from None
        except BaseException:
            self.file.close()
            raise
        close_at_exit(self)

    def _setup(self, window: tuple[Any, Any] | None) -> None:
        source = str(self.path) if self.group == "/" else f"{self.path}:{self.group}"
        self.source = source
        # what is off, said once per opened file (views made with between() share it); an
        # object of its own rather than a bound method, so the tables that call it hold no
        # reference back to this view (a cycle would outlive the file and close nodes late)
        self.untidy_notes = notes = UntidyNotes(source)
        try:
            root = self.file.get_node(self.group)
        except (tables.NoSuchNodeError, ValueError):
            raise NotARecordingError(f"{self.path} has no recording at {self.group!r}") from None
        if not isinstance(root, tables.Group):
            raise NotARecordingError(f"{source} is not a group holding a CL recording")
        # pickled-object nodes and declared sizes, before any data is read (node kinds are
        # this reader's business: a part it cannot interpret is left out below)
        check_layout(self.file, self.group, RECORDING, source)
        self.attributes = AttributesView(read_attributes(root, source))
        self.frames_per_second = frame_rate(self.attributes, notes, source)

        samples = samples_node(root, notes)
        self.channel_count = channel_count(self.attributes, notes, samples)
        self.samples: tables.EArray | None = samples_for_channels(samples, self.channel_count, notes)

        raw = event_nodes(root, notes)
        self.spikes: tables.Table | None = raw[SPIKES]
        self.stims: tables.Table | None = raw[STIMS]
        #: whether the spike table's waveforms can be read (what is off with them is said once)
        self.spike_waveforms = self._check_waveforms()
        #: the tables of events cldata can read, by part name (cldata.format.parts), for windowed reads
        self.event_tables: dict[str, EventTable] = {
            name: EventTable(table, source, warn=notes) for name, table in raw.items() if table is not None}

        self._start_timestamp, self._duration_frames, stated = extent(self.attributes, notes, self._derived_duration)
        self._uV = sample_scale(self.attributes, notes, self.samples is not None)
        # a damaged dataspace can claim frames that were never written (HDF5 reads them as zeros);
        # check_layout refused claims beyond the file's size, so this many frames can be read
        if self.samples is not None and stated and int(self.samples.nrows) > self._duration_frames + 1:
            notes("samples-frames", f"/samples holds {int(self.samples.nrows)} frames but duration_frames is "
                  f"{self._duration_frames}: the duration is short, or the samples' dataspace is damaged "
                  "(frames never written read as zeros); cldata reads every stored frame, and the segment "
                  "covers them")
        self._set_window(TimeWindow.of(window))
        self.data_streams = DataStreamCollection(
            stream_views(root, self.frames_per_second, source, self._window, notes))

    def _set_window(self, window: TimeWindow) -> None:
        self.time_window = window  # (the window as given: frames or quantities, intersected)
        self._window = window.frames(self.frames_per_second)

    def _check_waveforms(self) -> bool:
        if self.spikes is None:
            return True
        off = waveform_problem(self.spikes)
        if off is None:
            return True
        readable, what = off
        self.untidy_notes("waveforms", f"/spikes {what}; " + (
            "cldata returns them as stored (read_spikes() and the segment's waveforms)" if readable else
            f"cldata reads the spikes without them: read_spikes() gives NaN waveforms of {WAVEFORM_LENGTH} "
            "samples in their place, and so does the segment"))
        return readable

    def _derived_duration(self) -> int:
        """The extent CL's writer derives: the end of the samples, and one past the last event."""
        ends = [int(self.samples.nrows) if self.samples is not None else 0]
        for table in self.event_tables.values():
            if len(table):
                ends.append(int(table.table.read(len(table) - 1, len(table), field="timestamp")[0]) + 1)
        return max(ends)

    # -- conveniences ----------------------------------------------------------------------

    @property
    def window(self) -> tuple[int | None, int | None]:
        """The ``[start, stop)`` frame window of this view (``None`` = open)."""
        return self._window

    @property
    def clipped_window(self) -> tuple[int, int]:
        """The frames ``[start, stop)`` this view covers: its window within ``[0, duration_frames]``.

        An open side is the recording's start or end; rates over the view divide by
        ``stop - start`` frames.
        """
        return TimeWindow.from_frames(self._window).clipped(self.frames_per_second, max(self.duration_frames, 0))

    @property
    def sampling_rate(self) -> pq.Quantity:
        """Frames per second as a quantity in Hz."""
        return self.frames_per_second * pq.Hz

    @property
    def channels(self) -> np.ndarray:
        """The channel numbers, ``0 .. channel_count-1``."""
        return np.arange(self.channel_count)

    @property
    def start_timestamp(self) -> int:
        """The frame count at which the recording started (0 if the file does not say)."""
        return self._start_timestamp

    @property
    def duration_frames(self) -> int:
        """The recording's length in frames: ``duration_frames``, else ``end_timestamp -
        start_timestamp``, else the end of its samples, spikes and stims."""
        return self._duration_frames

    @property
    def duration_seconds(self) -> float:
        """The recording's length in seconds."""
        return self.duration_frames / self.frames_per_second

    @property
    def duration(self) -> pq.Quantity:
        """The recording's length as a quantity in seconds."""
        return self.duration_seconds * pq.s

    @property
    def uV_per_sample_unit(self) -> float:
        """The scale from sample units to µV (CL: 0.195, also when the file does not say)."""
        return self._uV

    # -- windowed reads --------------------------------------------------------------------

    def _clip(self, start: Any, stop: Any) -> tuple[int | None, int | None]:
        """``[start, stop)`` within this view's window, in frames."""
        return (self.time_window & TimeWindow(start, stop)).frames(self.frames_per_second)

    def between(self, start: Any = None, stop: Any = None) -> RecordingView:
        """A view of the same file restricted to ``[start, stop)`` (within this view's window)."""
        view = copy.copy(self)
        view._owner = self  # keeps the file open while the narrower view lives
        view._set_window(self.time_window & TimeWindow(start, stop))
        view._toolkit_limit = (None, None)  # the analysis window of the new view is its own window
        view.data_streams = self.data_streams.between(*view._window)
        return view

    def read_spikes(self, start: Any = None, stop: Any = None, channels: Any = None, waveforms: bool = True) -> np.ndarray:
        """Spikes in ``[start, stop)`` (frames or time quantities), optionally of some channels.

        Returns a structured array with ``timestamp``, ``channel`` and (with ``waveforms``)
        ``samples`` (the 75-sample waveform in µV). Only the rows of the window are read.
        """
        table = self.event_tables.get(SPIKE_PART.name)
        if table is None:
            return SPIKE_PART.empty(None if waveforms else ("timestamp", "channel"))
        if waveforms and not self.spike_waveforms:
            # no waveforms cldata can read (warned at open): the other columns as stored, and
            # NaN waveforms of the CL's 75 samples in their place
            names = [n for n in table.table.colnames if n != "samples"]
            rows = table.read(*self._clip(start, stop), channels=channels, fields=tuple(names))
            out = np.empty(len(rows), dtype=[*((n, table.table.dtype[n]) for n in names),
                                             ("samples", np.float32, (WAVEFORM_LENGTH,))])
            for n in names:
                out[n] = rows[n]
            out["samples"] = np.nan
            return out
        fields = None if waveforms else ("timestamp", "channel")
        return table.read(*self._clip(start, stop), channels=channels, fields=fields)

    def spike_rows(self) -> np.ndarray:
        """The row numbers, in the file's spike table, of this view's spikes (ascending; none: empty).

        For writers that read a window's spikes a block of rows at a time (the NWB writer):
        read them with ``rec.event_tables["spikes"].table.read_coordinates(rows[i:j])``.

        Examples
        --------
        >>> rec.between(0, 25_000).spike_rows()[:3]                 # doctest: +SKIP
        array([0, 1, 2])
        """
        table = self.event_tables.get(SPIKE_PART.name)
        if table is None:
            return np.zeros(0, np.int64)
        where = table.rows(*self._clip(None, None))
        return np.asarray(where, np.int64) if isinstance(where, np.ndarray) else np.arange(*where, dtype=np.int64)

    def read_stims(self, start: Any = None, stop: Any = None, channels: Any = None) -> np.ndarray:
        """Stims in ``[start, stop)``: a structured array with ``timestamp`` and ``channel``."""
        table = self.event_tables.get(STIM_PART.name)
        if table is None:
            return STIM_PART.empty()
        return table.read(*self._clip(start, stop), channels=channels)

    def read_samples(self, start: Any = None, stop: Any = None, channels: Any = None, *, scaled: bool = False) -> np.ndarray:
        """Raw samples of frames ``[start, stop)``: ``(frames, channels)`` int16, or µV if ``scaled``.

        Only the requested frames are read from disk. A scaled read converts them a block at
        a time into the float32 result (values as :func:`samples_to_uV` gives them), so it
        needs the result's memory plus one block (a few MB), not the int16 range as well.

        Examples
        --------
        >>> rec.read_samples(0, 25_000, channels=[3, 4], scaled=True).shape   # doctest: +SKIP
        (25000, 2)
        """
        if self.samples is None:
            n_ch = self.channel_count if channels is None else len(np.atleast_1d(channels))
            return np.empty((0, n_ch), dtype=np.float32 if scaled else np.int16)
        n = int(self.samples.nrows)
        a, b = self._clip(start, stop)
        a = 0 if a is None else min(max(a, 0), n)
        b = n if b is None else min(max(b, a), n)
        if scaled:
            # block by block into the float32 result: never the whole int16 range besides it
            return scaled_samples_in_blocks(self.samples, a, b, None if channels is None else np.asarray(channels),
                                            to_uV_into(self.uV_per_sample_unit), str(self.path))
        try:
            block = self.samples[a:b]
        except tables.HDF5ExtError as exc:
            raise CorruptRecordingError(f"cannot read samples [{a}, {b}) of {self.path}: {exc}") from None
        if channels is not None:
            block = block[:, np.asarray(channels)]
        return block

    def segment(self, lazy: bool = True, **kwargs: Any):
        """The recording as a :class:`neo.Segment` (see :func:`cldata.format.neo_io.read_segment`).

        One SpikeTrain per channel (times in s, waveforms in µV), an AnalogSignal of the
        samples in µV, and an Event of stims, restricted to this view's window. With
        ``lazy=True`` (the default) nothing big is read until it is loaded.
        """
        # why here: cldata.format.neo_io builds on this reader (it imports it), and imports neo, slow to load
        from cldata.format.neo_io import read_segment

        return read_segment(self, lazy=lazy, **kwargs)

    def to_xarray(self, *, chunk_seconds: float = 1.0) -> Any:
        """The samples of this view's window as a lazy ``xarray.DataArray``: time × channel, in µV.

        The values are exactly :meth:`read_samples` ``(scaled=True)`` of the window, float32;
        nothing is read until they are computed, a dask chunk of ``chunk_seconds`` at a time.
        ``time`` is in seconds from the recording start (as for :meth:`between` and the
        overview), so a window's array lines up with the whole recording's ``.sel(time=...)``;
        ``frame`` gives the frames, ``channel`` the channel numbers (with ``mea_row`` and
        ``mea_column`` for the MEA layout). It pickles and computes in other processes (the
        file is opened again there). See :mod:`cldata.format.xarray_view`.

        Parameters
        ----------
        chunk_seconds
            The length of a dask chunk, in seconds (every channel in each chunk).

        Returns
        -------
        xarray.DataArray
            Dims ``("time", "channel")``, attrs ``units`` (``"uV"``), ``sampling_rate`` (Hz),
            ``source`` and ``window_frames``.

        Raises
        ------
        ImportError
            Without xarray and dask (``pip install 'cldata[xarray]'``).
        cldata.errors.RecordingFileError
            If the recording has no samples.
        cldata.errors.ParameterError
            If ``chunk_seconds`` is not a positive number.

        Examples
        --------
        >>> da = rec.between(1 * pq.s, 3 * pq.s).to_xarray()                   # doctest: +SKIP
        >>> da.shape, float(da.time[0]), da.attrs["units"]                      # doctest: +SKIP
        ((50000, 64), 1.0, 'uV')
        >>> da.coarsen(time=64, boundary="trim").max().sel(channel=[3, 4]).compute()   # doctest: +SKIP
        """
        # why here: xarray and dask are optional and slow to import; the module needs both
        from cldata.format.xarray_view import samples_dataarray

        return samples_dataarray(self, chunk_seconds=chunk_seconds)

    def viewer(self, *, channels: Any = None) -> Any:
        """This recording (within the view's window) in cldata's viewer: a Panel object.

        Stacked traces from the overview pyramid (raw samples once zoomed in), spikes and
        stimulations, a plot or table per data stream, the file's attributes (docs/VIEW.md).
        Show it in a notebook, or ``.show()`` it in a browser; ``cldata view rec.h5`` serves it.
        Needs the view extra (``pip install "cldata[view]"``).

        Examples
        --------
        >>> rec.viewer(channels=range(8))                                      # doctest: +SKIP
        """
        # why here: the viewer (cldata.viz) sits above the reader; this one import down-to-up is
        # declared in setup.cfg's layer contract, and holoviews and panel take seconds to load
        from cldata.viz.recording_app import recording_viewer

        return recording_viewer(self, channels=channels)

    # -- the CL analysis toolkit (cldata.toolkit.methods: analysis_timestamp_limit, analyse_*, plots) --

    def _toolkit_snapshot(self) -> Any:
        return spike_snapshot(self)

    def _toolkit_stims(self) -> tuple[np.ndarray, np.ndarray]:
        return stim_events(self)

    # -- lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the file (views made with :meth:`between` share it and close too)."""
        if self.file.isopen:
            self.file.close()

    def __enter__(self) -> RecordingView:
        return self

    def __del__(self) -> None:
        if self._owner is None and "file" in self.__dict__:
            try:
                self.close()
            except Exception:
                pass

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _display_counts(self) -> tuple[str, int, int]:
        """The extent shown (``"2 s"``, or ``"0–1 s of 2 s"`` through a window) and the spikes
        and stims within it (for the reprs)."""
        a, b = self.clipped_window
        spikes, stims = (self.event_tables[p.name].count(a, b) if p.name in self.event_tables else 0
                         for p in (SPIKE_PART, STIM_PART))
        extent = seconds(self.duration_seconds) if self._window == (None, None) else \
            f"{window_text((a, b), self.frames_per_second)} of {seconds(self.duration_seconds)}"
        return extent, int(spikes), int(stims)

    def __repr__(self) -> str:
        if not self.file.isopen:
            return f"<RecordingView {str(self.path)!r} (closed)>"
        extent, spikes, stims = self._display_counts()
        return (
            f"<RecordingView {str(self.path)!r}: {extent}, {plural(self.channel_count, 'channel')}, "
            f"{plural(spikes, 'spike')}, {plural(stims, 'stim')}, streams {list(self.data_streams)}>"
        )

    def _repr_html_(self) -> str:
        if not self.file.isopen:
            return html_fields(f"RecordingView {self.path} (closed)", {})
        extent, spikes, stims = self._display_counts()
        fields: dict[str, Any] = {"file": str(self.path) if self.group == "/" else f"{self.path}:{self.group}",
                                  "duration" if self._window == (None, None) else "window": extent,
                                  "frame rate": f"{self.frames_per_second:,} Hz", "channels": self.channel_count,
                                  "spikes": spikes, "stims": stims}
        fields.update({f"stream {n}": plural(len(v), "entry", "entries") for n, v in self.data_streams.items()})
        fields.update({f"attribute {k}": short(v) for k, v in self.attributes.items()})
        return html_fields(f"RecordingView {self.path.name}", fields)
