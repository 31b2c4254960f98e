"""Reading CL recordings: ``RecordingView``, with the CL reader's names and more.

``RecordingView(path)`` opens a recording read-only and offers what Cortical Labs'
``cl.RecordingView`` offers (``file``, ``attributes``, ``spikes``, ``stims``, ``samples``,
``data_streams``), so existing notebooks keep working, plus windowed reads by frame or
time (:meth:`RecordingView.read_spikes`, :meth:`~RecordingView.read_stims`,
:meth:`~RecordingView.read_samples`), recording-level conveniences, and a lazy
:class:`neo.Segment` (:meth:`RecordingView.segment`).

Opening never runs code from the file: pickled attributes load through an allow-list.

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

import os
from pathlib import Path
from typing import Any

import numpy as np
import quantities as pq
import tables

from cldata.closing import close_at_exit
from cldata.errors import (
    CldataError,
    CorruptRecordingError,
    NotARecordingError,
    RecordingInProgressError,
    UnfinishedRecordingError,
)
from cldata.format.attributes import AttributesView, read_attributes
from cldata.format.events import EventTable
from cldata.format.journal import journal_path, journal_state
from cldata.format.layout import DATA_STREAM, SAMPLES, SPIKES, STIMS
from cldata.format.node_guard import RECORDING, check_layout
from cldata.format.streams import DataStreamCollection, DataStreamView
from cldata.timebase import to_window

__all__ = ["RecordingView", "open_hdf5", "hdf5_reason", "samples_to_uV"]

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def samples_to_uV(samples: np.ndarray, uV_per_sample_unit: float) -> np.ndarray:  # noqa: N802 - the unit's name
    """Raw int16 samples in µV, as float32 (the one conversion every reader of samples uses,
    so that samples read live and from the finished file are bit-identical).

    Examples
    --------
    >>> samples_to_uV(np.array([[10, -2]], dtype=np.int16), 0.25)
    array([[ 2.5, -0.5]], dtype=float32)
    """
    return samples.astype(np.float32) * np.float32(uV_per_sample_unit)


def _has_hdf5_signature(path: Path) -> bool:
    # HDF5 looks for its signature at 0, 512, 1024, 2048, ... (after an optional user block)
    size = path.stat().st_size
    with open(path, "rb") as f:
        offset = 0
        while offset + len(_HDF5_SIGNATURE) <= size:
            f.seek(offset)
            if f.read(len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE:
                return True
            offset = 512 if offset == 0 else offset * 2
    return False


def _whole(value: Any, name: str, source: str, lo: int, hi: int) -> int:
    """A root attribute that must be a whole number in ``[lo, hi]``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise CorruptRecordingError(f"{source}: {name} is {value!r:.40}, not a number")
    whole = isinstance(value, (int, np.integer)) or (np.isfinite(value) and float(value).is_integer())
    if not whole or not lo <= int(value) <= hi:
        raise CorruptRecordingError(f"{source}: {name} = {value!r:.40} is not a whole number in {lo}..{hi}")
    return int(value)


def hdf5_reason(exc: BaseException) -> str:
    """The innermost message of an HDF5 error back trace (the line that says what went wrong)."""
    lines = [ln.strip() for ln in str(exc).splitlines()]
    reasons = [ln for ln in lines if ln and not ln.startswith(("File ", "HDF5 error", "End of HDF5"))]
    inner = [ln for ln in reasons if not ln.startswith("Unable to open")]
    return (inner or reasons or [type(exc).__name__])[-1]


def open_hdf5(path: str | os.PathLike[str]) -> tables.File:
    """Open ``path`` read-only with PyTables, turning failures into specific cldata errors.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    cldata.errors.NotARecordingError
        If the file is not HDF5 at all.
    cldata.errors.RecordingInProgressError
        If a live writer holds the file.
    cldata.errors.CorruptRecordingError
        If the file is HDF5 but damaged (truncated, for example).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such recording file: {path}")
    if not _has_hdf5_signature(path):
        raise NotARecordingError(f"{path} is not a CL recording: it is not an HDF5 file")
    try:
        return tables.open_file(str(path), mode="r")
    except (tables.HDF5ExtError, OSError, ValueError, SystemError) as exc:  # SystemError: PyTables on damage
        text = str(exc)
        if "truncated file" in text:
            raise CorruptRecordingError(
                f"{path} is truncated (its end is missing: an interrupted copy or download?)"
            ) from None
        if "unable to lock file" in text:
            raise RecordingInProgressError(
                f"{path} is held open by a writer; read it when the writer has closed it, "
                "or follow it live with cldata.follow()"
            ) from None
        raise CorruptRecordingError(f"{path} is a damaged HDF5 file: {hdf5_reason(exc)}") from None


class RecordingView:
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
        If the file is not HDF5, or lacks the CL root attributes.
    cldata.errors.CorruptRecordingError
        If it is truncated or a CL node has the wrong shape or type.
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
        try:
            root = self.file.get_node(self.group)
        except (tables.NoSuchNodeError, ValueError):
            raise NotARecordingError(f"{self.path} has no recording at {self.group!r}") from None
        if not isinstance(root, tables.Group):
            raise NotARecordingError(f"{source} is not a group holding a CL recording")
        # node kinds, pickled-object nodes and declared sizes, before any data is read
        check_layout(self.file, self.group, RECORDING, source)
        self.attributes = AttributesView(read_attributes(root, source))
        attrs = self.attributes
        fps = attrs.get("frames_per_second", attrs.get("sampling_frequency"))
        if fps is None or "channel_count" not in attrs:
            missing = [n for n in ("frames_per_second", "channel_count") if n not in attrs]
            raise NotARecordingError(
                f"{source} is an HDF5 file but not a CL recording: its root lacks {missing}"
            )
        self.frames_per_second = _whole(fps, "frames_per_second", source, 1, 10**9)
        self.channel_count = _whole(attrs["channel_count"], "channel_count", source, 1, 256)
        # the attributes the conveniences read: refuse damage now rather than at first use
        for name in ("duration_frames", "start_timestamp", "end_timestamp"):
            if name in attrs:
                _whole(attrs[name], name, source, 0 if name != "start_timestamp" else -(2**62), 2**62)
        if "uV_per_sample_unit" in attrs:
            scale = attrs["uV_per_sample_unit"]
            if isinstance(scale, (bool, np.bool_)) or not isinstance(scale, (int, float, np.integer, np.floating)) \
                    or not np.isfinite(scale) or scale <= 0:
                raise CorruptRecordingError(f"{source}: uV_per_sample_unit is {scale!r:.40}, not a positive number")
        self._window = to_window(*(window or (None, None)), self.frames_per_second)

        self.spikes: tables.Table | None = root._f_get_child(SPIKES) if SPIKES in root else None
        self.stims: tables.Table | None = root._f_get_child(STIMS) if STIMS in root else None
        self.samples: tables.EArray | None = root._f_get_child(SAMPLES) if SAMPLES in root else None
        self._spike_table = EventTable(self.spikes, source, ("timestamp", "channel", "samples")) if self.spikes is not None else None
        self._stim_table = EventTable(self.stims, source) if self.stims is not None else None
        if self.samples is not None:
            s = self.samples
            if not isinstance(s, tables.Array) or s.ndim != 2 or s.atom.dtype.kind not in "iu":
                raise CorruptRecordingError(f"{source}: /samples is not a 2-d integer array")
            if s.shape[1] != self.channel_count:
                raise CorruptRecordingError(
                    f"{source}: /samples has {s.shape[1]} columns but channel_count is {self.channel_count}"
                )
            # a damaged dataspace can claim frames that were never written (they would read as
            # zeros); check_layout already refused claims beyond the file's size
            n = int(s.nrows)
            if "duration_frames" in attrs and n > int(attrs["duration_frames"]) + 1:
                raise CorruptRecordingError(
                    f"{source}: /samples claims {n} frames but the recording lasts {int(attrs['duration_frames'])}"
                )
        streams: dict[str, DataStreamView] = {}
        if DATA_STREAM in root:
            group = root._f_get_child(DATA_STREAM)
            if not isinstance(group, tables.Group):
                raise CorruptRecordingError(f"{source}: /{DATA_STREAM} is not a group")
            for name, child in group._v_children.items():
                if not isinstance(child, tables.Group):
                    raise CorruptRecordingError(f"{source}: /{DATA_STREAM}/{name} is not a data-stream group")
                streams[name] = DataStreamView(child, self.frames_per_second, source=source, window=self._window)
        self.data_streams = DataStreamCollection(streams)

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
        end = max(self.duration_frames, 0)
        a, b = self._window
        start = 0 if a is None else min(max(int(a), 0), end)
        stop = end if b is None else min(max(int(b), start), end)
        return start, stop

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
        """The frame count at which the recording started."""
        return int(self.attributes.get("start_timestamp", 0))

    @property
    def duration_frames(self) -> int:
        """The recording's length in frames (from its attributes, else from its samples)."""
        if "duration_frames" in self.attributes:
            return int(self.attributes["duration_frames"])
        if "end_timestamp" in self.attributes:
            return int(self.attributes["end_timestamp"]) - self.start_timestamp
        return int(self.samples.nrows) if self.samples is not None else 0

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
        """The scale from sample units to µV (CL: 0.195)."""
        return float(self.attributes.get("uV_per_sample_unit", 0.195))

    # -- windowed reads --------------------------------------------------------------------

    def _clip(self, start: Any, stop: Any) -> tuple[int | None, int | None]:
        a, b = to_window(start, stop, self.frames_per_second)
        wa, wb = self._window
        if wa is not None:
            a = wa if a is None else max(a, wa)
        if wb is not None:
            b = wb if b is None else min(b, wb)
        if a is not None and b is not None and b < a:
            b = a
        return a, b

    def between(self, start: Any = None, stop: Any = None) -> RecordingView:
        """A view of the same file restricted to ``[start, stop)`` (within this view's window)."""
        view = object.__new__(RecordingView)
        view.__dict__.update(self.__dict__)
        view._owner = self  # keeps the file open while the narrower view lives
        view._window = self._clip(start, stop)
        view.data_streams = self.data_streams.between(*view._window)
        return view

    def read_spikes(self, start: Any = None, stop: Any = None, channels: Any = None, waveforms: bool = True) -> np.ndarray:
        """Spikes in ``[start, stop)`` (frames or time quantities), optionally of some channels.

        Returns a structured array with ``timestamp``, ``channel`` and (with ``waveforms``)
        ``samples`` (the 75-sample waveform in µV). Only the rows of the window are read.
        """
        if self._spike_table is None:
            fields = ("timestamp", "channel", "samples") if waveforms else ("timestamp", "channel")
            from cldata.format.layout import SPIKE_DTYPE

            return np.empty(0, dtype=SPIKE_DTYPE[list(fields)])
        fields = None if waveforms else ("timestamp", "channel")
        return self._spike_table.read(*self._clip(start, stop), channels=channels, fields=fields)

    def read_stims(self, start: Any = None, stop: Any = None, channels: Any = None) -> np.ndarray:
        """Stims in ``[start, stop)``: a structured array with ``timestamp`` and ``channel``."""
        if self._stim_table is None:
            from cldata.format.layout import STIM_DTYPE

            return np.empty(0, dtype=STIM_DTYPE)
        return self._stim_table.read(*self._clip(start, stop), channels=channels)

    def read_samples(self, start: Any = None, stop: Any = None, channels: Any = None, *, scaled: bool = False) -> np.ndarray:
        """Raw samples of frames ``[start, stop)``: ``(frames, channels)`` int16, or µV if ``scaled``.

        Only the requested frames are read from disk.
        """
        if self.samples is None:
            n_ch = self.channel_count if channels is None else len(np.atleast_1d(channels))
            return np.empty((0, n_ch), dtype=np.float32 if scaled else np.int16)
        n = int(self.samples.nrows)
        a, b = self._clip(start, stop)
        a = 0 if a is None else min(max(a, 0), n)
        b = n if b is None else min(max(b, a), n)
        try:
            block = self.samples[a:b]
        except tables.HDF5ExtError as exc:
            raise CorruptRecordingError(f"cannot read samples [{a}, {b}) of {self.path}: {exc}") from None
        if channels is not None:
            block = block[:, np.asarray(channels)]
        if scaled:
            return samples_to_uV(block, self.uV_per_sample_unit)
        return block

    def segment(self, lazy: bool = True, **kwargs: Any):
        """The recording as a :class:`neo.Segment` (see :func:`cldata.format.neo_io.read_segment`).

        One SpikeTrain per channel (times in s, waveforms in µV), an AnalogSignal of the
        samples in µV, and an Event of stims, restricted to this view's window. With
        ``lazy=True`` (the default) nothing big is read until it is loaded.
        """
        from cldata.format.neo_io import read_segment

        return read_segment(self, lazy=lazy, **kwargs)

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

    def __repr__(self) -> str:
        w = "" if self._window == (None, None) else f", window={self._window}"
        n_spikes = len(self.spikes) if self.spikes is not None else 0
        return (
            f"<RecordingView {str(self.path)!r}: {self.duration_seconds:g} s, {self.channel_count} channels, "
            f"{n_spikes} spikes, streams {list(self.data_streams)}{w}>"
        )
