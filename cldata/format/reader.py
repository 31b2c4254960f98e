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

import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import quantities as pq
import tables

from cldata.core.shutdown import close_at_exit
from cldata.core.timebase import to_window
from cldata.errors import (
    CldataError,
    CorruptRecordingError,
    NotARecordingError,
    RecordingInProgressError,
    UnfinishedRecordingError,
    UntidyRecordingWarning,
)
from cldata.format.attributes import AttributesView, read_attributes
from cldata.format.events import EventTable, table_problem, waveform_problem
from cldata.format.journal import journal_path, journal_state
from cldata.format.layout import (
    DATA_STREAM,
    DEFAULT_CHANNEL_COUNT,
    SAMPLES,
    SPIKES,
    STIMS,
    UV_PER_SAMPLE_UNIT,
    WAVEFORM_LENGTH,
)
from cldata.format.node_guard import RECORDING, check_layout
from cldata.format.streams import DataStreamCollection, DataStreamView, stream_problem

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


# A scaled read converts this many bytes of raw samples at a time (~1.2 s of 64 channels):
# its peak memory is the float32 result plus one such block, not the whole int16 range as well.
_SAMPLE_BLOCK_BYTES = 4_000_000


def scaled_samples_in_blocks(
    samples: tables.Array,
    start: int,
    stop: int,
    channels: Any,
    convert: Callable[[np.ndarray, np.ndarray], None],
    source: str,
    dtype: Any = np.float32,
) -> np.ndarray:
    """Frames ``[start, stop)`` of ``samples`` converted block by block into one result array.

    The result (``dtype``) is allocated once; each block of raw frames is read, its
    ``channels`` picked (any numpy index of the second axis, or None for all), and
    ``convert(raw_block, result_rows)`` writes it into its rows. So the peak memory is the
    result plus one block, and each value is what converting the whole range at once gives
    (the conversions are elementwise).

    Examples
    --------
    >>> def doubled(raw, out):
    ...     np.multiply(raw, 2, out=out)
    >>> scaled_samples_in_blocks(rec.samples, 0, 25_000, [0, 5], doubled, "rec.h5").shape  # doctest: +SKIP
    (25000, 2)
    """
    # an empty selection checks the channels as a read would and gives the result's row shape
    row = np.empty((0, samples.shape[1]), dtype=samples.atom.dtype)
    if channels is not None:
        row = row[:, channels]
    out = np.empty((max(stop - start, 0), *row.shape[1:]), dtype=dtype)
    step = max(1, _SAMPLE_BLOCK_BYTES // max(1, samples.shape[1] * samples.atom.dtype.itemsize))
    chunk = (getattr(samples, "chunkshape", None) or (1,))[0]
    if chunk and step > chunk:
        step -= step % chunk
    # blocks end on multiples of step, so on HDF5 chunk boundaries: no chunk is read twice
    bounds = [start, *range((start // step + 1) * step, stop, step), stop] if stop > start else []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        try:
            block = samples[lo:hi]
        except tables.HDF5ExtError as exc:
            raise CorruptRecordingError(f"cannot read samples [{start}, {stop}) of {source}: {exc}") from None
        if channels is not None:
            block = block[:, channels]
        convert(block, out[lo - start : hi - start])
        del block  # before the next block is read: one block at a time
    return out


def _to_uV_into(uV_per_sample_unit: float) -> Callable[[np.ndarray, np.ndarray], None]:  # noqa: N802
    scale = np.float32(uV_per_sample_unit)

    def convert(raw: np.ndarray, out: np.ndarray) -> None:
        # the cast and the float32 product of samples_to_uV, written in place
        out[...] = raw
        np.multiply(out, scale, out=out)

    return convert


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


_ABSENT = object()  # an attribute the file does not have
_MAX_FRAMES_PER_SECOND = 10**9
_MAX_CHANNELS = 256  # CL channels are uint8
_MAX_FRAME = 2**62


def _whole(value: Any, lo: int, hi: int) -> int | None:
    """``value`` as an int if it is a whole number in ``[lo, hi]`` (an int, or a float without
    a fraction), else ``None`` (bools, text, arrays, NaN, infinities are not numbers here)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    if not (isinstance(value, (int, np.integer)) or (np.isfinite(value) and float(value).is_integer())):
        return None
    return int(value) if lo <= int(value) <= hi else None


def _is_float(value: Any) -> bool:
    return isinstance(value, (float, np.floating))


def _shown(value: Any) -> str:
    # numpy scalars as the plain values they hold: 20000, not np.int64(20000)
    return f"{(value.item() if isinstance(value, np.generic) else value)!r:.40}"


def _describe(node: tables.Node) -> str:
    """A node's kind in words, for warnings ("an EArray of shape (10, 8) and dtype float32")."""
    kind = type(node).__name__
    article = "an" if kind[0] in "AEIOU" else "a"
    if isinstance(node, tables.Table):
        return f"a Table with columns {node.colnames}"
    if isinstance(node, tables.Leaf) and hasattr(node, "atom"):
        return f"{article} {kind} of shape {tuple(int(n) for n in node.shape)} and dtype {node.atom.dtype}"
    return f"{article} {kind}"


class _UntidyNotes:
    """Says each thing that is off in one opened recording once, as an :class:`UntidyRecordingWarning`.

    Called as ``notes(key, message)``; a ``key`` already said is not said again. The warning
    points at the caller of the outermost cldata frame (the user's open or read; neo and
    contextlib frames may lie in between).
    """

    def __init__(self, source: str):
        self.source = source
        self.said: set[str] = set()

    def __call__(self, key: str, message: str) -> None:
        if key in self.said:
            return
        self.said.add(key)
        frame, level, outermost = sys._getframe(0), 1, 1
        while frame is not None:
            if frame.f_globals.get("__name__", "").split(".")[0] == "cldata":
                outermost = level
            frame, level = frame.f_back, level + 1
        warnings.warn(f"{self.source}: {message}", UntidyRecordingWarning, stacklevel=outermost + 1)


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
        If the file is not HDF5 at all, or ``path`` is a directory.
    cldata.errors.RecordingInProgressError
        If a live writer holds the file.
    cldata.errors.CorruptRecordingError
        If the file is HDF5 but damaged (truncated, for example).
    """
    path = Path(path)
    if path.is_dir():
        # a directory that exists is not "missing": say what it is and what was expected
        what = ("a cldata store directory (open it with cldata.open)" if (path / "cldata-store.json").exists()
                else "a directory")
        raise NotARecordingError(f"{path} is {what}, not a CL recording file: expected an HDF5 recording (.h5)")
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
        self._source = source
        # what is off, said once per opened file (views made with between() share it); an
        # object of its own rather than a bound method, so the tables that call it hold no
        # reference back to this view (a cycle would outlive the file and close nodes late)
        self._untidy = _UntidyNotes(source)
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
        self.frames_per_second = self._frame_rate()

        samples: tables.Node | None = root._f_get_child(SAMPLES) if SAMPLES in root else None
        if samples is not None and not (isinstance(samples, tables.Array) and samples.ndim == 2
                                        and samples.atom.dtype.kind in "iu" and samples.atom.dtype.shape == ()):
            self._untidy("samples", f"/samples is {_describe(samples)}, not the 2-d integer array of the CL "
                         "format; cldata leaves the samples out (samples is None, read_samples() is empty, the "
                         "segment has no AnalogSignal)")
            samples = None
        self.channel_count = self._channel_count(samples)
        if samples is not None and samples.shape[1] != self.channel_count:
            self._untidy("samples", f"/samples has {samples.shape[1]} columns but channel_count is "
                         f"{self.channel_count} (a column per channel); cldata cannot tell which channels they "
                         "hold and leaves the samples out (samples is None, read_samples() is empty, the segment "
                         "has no AnalogSignal)")
            samples = None
        if samples is not None and samples.atom.dtype != np.int16:
            self._untidy("samples-dtype", f"/samples holds {samples.atom.dtype} values, not the CL format's "
                         "int16; cldata reads them as stored (and scales them by uV_per_sample_unit)")
        self.samples: tables.EArray | None = samples

        self.spikes: tables.Table | None = self._events(root, SPIKES, "spikes")
        self.stims: tables.Table | None = self._events(root, STIMS, "stims")
        self._spike_waveforms = True  # whether the spike table's waveforms can be read
        if self.spikes is not None:
            off = waveform_problem(self.spikes)
            if off is not None:
                readable, what = off
                self._spike_waveforms = readable
                self._untidy("waveforms", f"/spikes {what}; " + (
                    "cldata returns them as stored (read_spikes() and the segment's waveforms)" if readable else
                    f"cldata reads the spikes without them: read_spikes() gives NaN waveforms of {WAVEFORM_LENGTH} "
                    "samples in their place, and so does the segment"))
        self._spike_table = EventTable(self.spikes, source, warn=self._untidy) if self.spikes is not None else None
        self._stim_table = EventTable(self.stims, source, warn=self._untidy) if self.stims is not None else None

        self._start_timestamp, self._duration_frames, stated = self._extent()
        self._uV = self._sample_scale()
        # a damaged dataspace can claim frames that were never written (HDF5 reads them as zeros);
        # check_layout refused claims beyond the file's size, so this many frames can be read
        if samples is not None and stated and int(samples.nrows) > self._duration_frames + 1:
            self._untidy("samples-frames", f"/samples holds {int(samples.nrows)} frames but duration_frames is "
                         f"{self._duration_frames}: the duration is short, or the samples' dataspace is damaged "
                         "(frames never written read as zeros); cldata reads every stored frame, and the segment "
                         "covers them")
        self._window = to_window(*(window or (None, None)), self.frames_per_second)

        streams: dict[str, DataStreamView] = {}
        if DATA_STREAM in root:
            group = root._f_get_child(DATA_STREAM)
            if not isinstance(group, tables.Group):
                self._untidy("data_stream", f"/{DATA_STREAM} is {_describe(group)}, not the group of data "
                             "streams; cldata reads the recording without data streams")
            else:
                for name, child in group._v_children.items():
                    if not isinstance(child, tables.Group):
                        self._untidy(f"data_stream/{name}", f"/{DATA_STREAM}/{name} is {_describe(child)}, not a "
                                     "data-stream group; cldata leaves it out of data_streams")
                        continue
                    problem = stream_problem(child)
                    if problem is not None:
                        self._untidy(f"data_stream/{name}", f"data stream /{DATA_STREAM}/{name} {problem}; cldata "
                                     "leaves it out of data_streams")
                        continue
                    streams[name] = DataStreamView(child, self.frames_per_second, source=source, window=self._window,
                                                   notes=self._untidy)
        self.data_streams = DataStreamCollection(streams)

    def _frame_rate(self) -> int:
        """Frames per second: ``frames_per_second``, else ``sampling_frequency`` (CL writes both)."""
        attrs = self.attributes
        fps_raw = attrs.get("frames_per_second", _ABSENT)
        sf_raw = attrs.get("sampling_frequency", _ABSENT)
        if fps_raw is _ABSENT and sf_raw is _ABSENT:
            raise NotARecordingError(
                f"{self._source} is an HDF5 file but not a CL recording: its root has no frames_per_second "
                "(nor sampling_frequency), so its frames cannot be counted in time"
            )
        fps = _whole(fps_raw, 1, _MAX_FRAMES_PER_SECOND)
        sf = _whole(sf_raw, 1, _MAX_FRAMES_PER_SECOND)
        if fps is not None:
            if _is_float(fps_raw):
                self._untidy("frames_per_second", f"frames_per_second is {_shown(fps_raw)}, a float; cldata "
                             f"counts {fps} frames per second")
            if sf_raw is not _ABSENT and sf != fps:
                self._untidy("sampling_frequency", f"sampling_frequency is {_shown(sf_raw)} but frames_per_second "
                             f"is {_shown(fps_raw)}; cldata counts time with frames_per_second ({fps})")
            return fps
        if sf is not None:
            what = ("has no frames_per_second" if fps_raw is _ABSENT else
                    f"frames_per_second is {_shown(fps_raw)}, not a whole number in 1..{_MAX_FRAMES_PER_SECOND}")
            self._untidy("frames_per_second", f"{what}; cldata counts time with sampling_frequency ({sf} frames "
                         "per second)")
            return sf
        given = " and ".join(f"{n} = {_shown(v)}" for n, v in
                             (("frames_per_second", fps_raw), ("sampling_frequency", sf_raw)) if v is not _ABSENT)
        raise CorruptRecordingError(
            f"{self._source}: {given}: no whole number of frames per second in 1..{_MAX_FRAMES_PER_SECOND}, so "
            "its timestamps (frame counts) cannot be turned into time; set frames_per_second to the rate it was "
            "recorded at (25000 on a CL1) in a copy to read it"
        )

    def _channel_count(self, samples: tables.Array | None) -> int:
        """``channel_count``, else the columns of the samples, else the CL1's 64 channels."""
        raw = self.attributes.get("channel_count", _ABSENT)
        count = _whole(raw, 1, _MAX_CHANNELS)
        if count is not None:
            if _is_float(raw):
                self._untidy("channel_count", f"channel_count is {_shown(raw)}, a float; cldata uses {count}")
            return count
        if samples is not None and 1 <= samples.shape[1] <= _MAX_CHANNELS:
            count, how = int(samples.shape[1]), "the columns of /samples"
        else:
            count, how = DEFAULT_CHANNEL_COUNT, "the channels of a CL1"
        what = ("has no channel_count" if raw is _ABSENT else
                f"channel_count is {_shown(raw)}, not a whole number in 1..{_MAX_CHANNELS}")
        self._untidy("channel_count", f"{what}; cldata takes {count} channels ({how})")
        return count

    def _events(self, root: tables.Group, name: str, what: str) -> tables.Table | None:
        """The ``/spikes`` or ``/stims`` table, or ``None`` (said once) when there is none cldata can read."""
        if name not in root:
            self._untidy(name, f"has no /{name} table; cldata reads it as a recording without {what} "
                         f"({name} is None, read_{name}() is empty)")
            return None
        node = root._f_get_child(name)
        problem = table_problem(node)
        if problem is not None:
            self._untidy(name, f"/{name} {problem}; cldata cannot read its rows as {what} and leaves them out "
                         f"({name} is None, read_{name}() is empty; the node stays in file)")
            return None
        return node

    def _last_frame(self, table: EventTable | None) -> int:
        if table is None or len(table) == 0:
            return -1
        return int(table.table.read(len(table) - 1, len(table), field="timestamp")[0])

    def _extent(self) -> tuple[int, int, bool]:
        """``(start_timestamp, duration_frames, whether the file states the duration)``: from the
        attributes, else derived as CL's writer derives them."""
        attrs = self.attributes

        def whole_attr(name: str, lo: int, hi: int) -> tuple[Any, int | None]:
            raw = attrs.get(name, _ABSENT)
            value = _whole(raw, lo, hi)
            if value is not None and _is_float(raw):
                self._untidy(name, f"{name} is {_shown(raw)}, a float; cldata uses {value}")
            return raw, value

        start_raw, start = whole_attr("start_timestamp", -_MAX_FRAME, _MAX_FRAME)
        if start is None:
            what = "has no start_timestamp" if start_raw is _ABSENT else \
                f"start_timestamp is {_shown(start_raw)}, not a whole number of frames"
            self._untidy("start_timestamp", f"{what}; cldata takes 0")
            start = 0
        end_raw, end = whole_attr("end_timestamp", 0, _MAX_FRAME)
        if end_raw is not _ABSENT and end is None:
            self._untidy("end_timestamp", f"end_timestamp is {_shown(end_raw)}, not a whole number of frames in "
                         f"0..2**62; cldata ignores it")
        duration_raw, duration = whole_attr("duration_frames", 0, _MAX_FRAME)
        if duration is not None:
            return start, duration, True
        if end is not None and end >= start:
            duration, how = end - start, "end_timestamp - start_timestamp"
        else:
            n_samples = int(self.samples.nrows) if self.samples is not None else 0
            duration = max(n_samples, self._last_frame(self._spike_table) + 1, self._last_frame(self._stim_table) + 1)
            duration, how = min(max(duration, 0), _MAX_FRAME), "the end of its samples and its last spike and stim"
        what = "has no duration_frames" if duration_raw is _ABSENT else \
            f"duration_frames is {_shown(duration_raw)}, not a whole number of frames in 0..2**62"
        self._untidy("duration_frames", f"{what}; cldata takes {duration} frames ({how})")
        return start, duration, False

    def _sample_scale(self) -> float:
        """µV per sample unit: ``uV_per_sample_unit``, else CL's 0.195."""
        raw = self.attributes.get("uV_per_sample_unit", _ABSENT)
        if not isinstance(raw, (bool, np.bool_)) and isinstance(raw, (int, float, np.integer, np.floating)) \
                and np.isfinite(raw) and raw > 0:
            return float(raw)
        if raw is _ABSENT:
            if self.samples is not None:  # nothing to scale otherwise: nothing is off
                self._untidy("uV_per_sample_unit", f"has no uV_per_sample_unit; cldata scales samples to µV by "
                             f"the CL's {UV_PER_SAMPLE_UNIT}")
        else:
            self._untidy("uV_per_sample_unit", f"uV_per_sample_unit is {_shown(raw)}, not a positive number; "
                         f"cldata scales samples to µV by the CL's {UV_PER_SAMPLE_UNIT}")
        return UV_PER_SAMPLE_UNIT

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
        if waveforms and not self._spike_waveforms:
            # no waveforms cldata can read (warned at open): the other columns as stored, and
            # NaN waveforms of the CL's 75 samples in their place
            table = self._spike_table.table
            names = [n for n in table.colnames if n != "samples"]
            rows = self._spike_table.read(*self._clip(start, stop), channels=channels, fields=tuple(names))
            out = np.empty(len(rows), dtype=[*((n, table.dtype[n]) for n in names),
                                             ("samples", np.float32, (WAVEFORM_LENGTH,))])
            for n in names:
                out[n] = rows[n]
            out["samples"] = np.nan
            return out
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
                                            _to_uV_into(self.uV_per_sample_unit), str(self.path))
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

    def _display_counts(self) -> tuple[str, int, int]:
        """The extent shown (``"2 s"``, or ``"0–1 s of 2 s"`` through a window) and the spikes
        and stims within it (for the reprs)."""
        from cldata.core.display import seconds, window_text

        a, b = self.clipped_window
        spikes, stims = (t.count(a, b) if t is not None else 0 for t in (self._spike_table, self._stim_table))
        extent = seconds(self.duration_seconds) if self._window == (None, None) else \
            f"{window_text((a, b), self.frames_per_second)} of {seconds(self.duration_seconds)}"
        return extent, int(spikes), int(stims)

    def __repr__(self) -> str:
        from cldata.core.display import plural

        if not self.file.isopen:
            return f"<RecordingView {str(self.path)!r} (closed)>"
        extent, spikes, stims = self._display_counts()
        return (
            f"<RecordingView {str(self.path)!r}: {extent}, {plural(self.channel_count, 'channel')}, "
            f"{plural(spikes, 'spike')}, {plural(stims, 'stim')}, streams {list(self.data_streams)}>"
        )

    def _repr_html_(self) -> str:
        from cldata.core.display import html_fields, plural, short

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
