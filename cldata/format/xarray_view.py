"""The samples of a recording as a lazy ``xarray.DataArray`` (time × channel, µV, dask chunks).

The model: a recording's samples are a ``frames × channels`` int16 array on disk, and a
view of it (:class:`~cldata.format.reader.RecordingView`, perhaps windowed with
``between``) covers the frames ``[start, stop)`` of it. :func:`samples_dataarray` shows those
frames as an ``xarray.DataArray`` whose values are exactly what
``view.read_samples(scaled=True)`` returns (float32 µV), without reading any of them: the
array is a ``dask.array`` over a :class:`LazySamples`, an indexable that reads just the rows
and columns dask asks for, a chunk (about a second of every channel) at a time. So the
xarray/dask ecosystem (``sel``, ``coarsen``, ``resample``, ``to_zarr``, HoloViews,
ndpyramid...) works on a recording of an hour as on a small one.

Dims and coordinates:

- ``time``: seconds **from the recording start** (frame 0 is the first frame of the
  recording, as for ``between`` windows and the overview's ``Envelope.times``), float64,
  ``frame / frames_per_second``; a windowed view keeps the recording's times, so its array
  lines up with the full one's ``.sel(time=...)``. ``frame`` (int64, frames from the
  recording start) is a second coordinate on the same dim.
- ``channel``: the channel numbers; with at most 64 channels, ``mea_row`` and ``mea_column``
  give each channel's place in the MEA layout (:data:`cldata.toolkit.preprocess.MEA_LAYOUT`).
- attrs: ``units`` (``"uV"``), ``sampling_rate`` (Hz), ``source`` (the file, and its group
  for a store export), ``window_frames`` (the frames ``[start, stop)`` covered),
  ``start_timestamp`` (the frame count at which the recording started, as the file says; 0
  if it does not).

Reads take one process-wide lock (HDF5 and PyTables are not thread-safe), so dask's threaded
scheduler is safe. The array pickles: a :class:`LazySamples` sent to another process keeps the
file's path, group and window, never its open file, and opens the file again there on its first
read. Nothing in the file is executed either way (the reader opens it as always).

Examples
--------
>>> da = rec.between(1 * pq.s, 3 * pq.s).to_xarray()                  # doctest: +SKIP
>>> da.dims, da.shape, str(da.dtype)                                   # doctest: +SKIP
(('time', 'channel'), (50000, 64), 'float32')
>>> float(da.time[0]), int(da.frame[0])                                # doctest: +SKIP
(1.0, 25000)
>>> da.coarsen(time=64, boundary="trim").max().sel(channel=[3, 4]).compute()  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from cldata.errors import CorruptRecordingError, ParameterError, RecordingFileError
from cldata.format.reader import RecordingView
from cldata.format.xarray_time_index import FrameTimeIndex
from cldata.toolkit.preprocess import MEA_LAYOUT

try:
    import dask.array
    import xarray
    from dask.base import tokenize
    from dask.utils import SerializableLock
except ImportError as exc:  # an optional extra: say how to get it
    raise ImportError("to_xarray() needs xarray and dask: pip install 'cldata[xarray]'") from exc

__all__ = ["LazySamples", "samples_dataarray"]

#: One lock for every read of every file in this process: the HDF5 library itself is not
#: thread-safe (two files read from two threads can crash it), so one lock, not one per file.
#: Serializable: a process that unpickles an array gets its own lock of the same token.
HDF5_LOCK = SerializableLock("cldata-hdf5-samples")


def _mea_places(channel_count: int) -> tuple[np.ndarray, np.ndarray] | None:
    """``(rows, columns)`` of channels ``0..channel_count-1`` in the MEA layout (None beyond it)."""
    if channel_count > MEA_LAYOUT.size:
        return None
    rows = np.empty(MEA_LAYOUT.size, dtype=np.int64)
    columns = np.empty(MEA_LAYOUT.size, dtype=np.int64)
    for (r, c), ch in np.ndenumerate(MEA_LAYOUT):
        rows[ch], columns[ch] = r, c
    return rows[:channel_count], columns[:channel_count]


def _axis_index(key: Any, n: int) -> tuple[int, int, np.ndarray | None, bool]:
    """One axis of an index as ``(lo, hi, pick, squeeze)``: read ``[lo, hi)``, then take ``pick``
    (positions within it; None: all of it), and drop the axis for an integer index."""
    if isinstance(key, slice):
        start, stop, step = key.indices(n)
        if step == 1:
            return start, max(start, stop), None, False
        positions = np.arange(start, stop, step, dtype=np.int64)
    elif isinstance(key, (int, np.integer)):
        i = int(key) + n if int(key) < 0 else int(key)
        if not 0 <= i < n:
            raise IndexError(f"index {int(key)} is out of range for an axis of {n}")
        return i, i + 1, None, True
    else:
        positions = np.asarray(key)
        if positions.dtype == bool:
            positions = np.flatnonzero(positions)
        positions = np.where(positions < 0, positions + n, positions).astype(np.int64).ravel()
        if positions.size and (positions.min() < 0 or positions.max() >= n):
            raise IndexError(f"an index is out of range for an axis of {n}")
    if not positions.size:
        return 0, 0, positions, False
    lo = int(positions.min())
    return lo, int(positions.max()) + 1, positions - lo, False


class LazySamples:
    """The scaled samples of a view's window, read on indexing: what dask's ``from_array`` wraps.

    It has ``shape``, ``dtype`` and ``ndim`` and answers ``samples[rows, columns]`` (slices,
    integers, integer or boolean arrays) with ``view.read_samples(..., scaled=True)`` of just
    those frames and channels. Row 0 is the first frame of the window.

    Parameters
    ----------
    view
        An open :class:`~cldata.format.reader.RecordingView` with samples.

    Attributes
    ----------
    start, stop : int
        The frames ``[start, stop)`` covered, from the recording start.
    reads : int
        How many reads this object made (in this process): 0 until something is computed.

    Raises
    ------
    cldata.errors.RecordingFileError
        If the recording has no samples.

    Examples
    --------
    >>> lazy = LazySamples(rec.between(25_000, 50_000))           # doctest: +SKIP
    >>> lazy.shape, lazy[:10, [3, 4]].shape, lazy.reads           # doctest: +SKIP
    ((25000, 64), (10, 2), 1)
    """

    ndim = 2
    dtype = np.dtype(np.float32)

    def __init__(self, view: RecordingView):
        if view.samples is None:
            raise RecordingFileError(
                f"{view.source} has no samples (only spikes, stims and data streams were recorded): "
                "there is nothing for to_xarray() to show; read its spikes with read_spikes()")
        self.path = Path(view.path)
        self.group = view.group
        self.source = view.source
        self.frames_per_second = view.frames_per_second
        self.start_timestamp = int(view.start_timestamp)
        n = int(view.samples.nrows)
        a, b = view.window
        # the frames read_samples() of the view covers: its window clipped to the stored samples
        self.start = 0 if a is None else min(max(a, 0), n)
        self.stop = n if b is None else min(max(b, self.start), n)
        self.shape = (self.stop - self.start, int(view.channel_count))
        self.reads = 0
        self._view: RecordingView | None = view

    # pickling: the path and window, never the open file (it is opened again where it is read)
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_view"] = None
        state["reads"] = 0
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def _open_view(self) -> RecordingView:
        view = self._view
        if view is None or not view.file.isopen:
            # the array was made from an open view of a finished recording: open the same one
            view = self._view = RecordingView(self.path, group=self.group, finished=True)
        return view

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> np.ndarray:
        keys = key if isinstance(key, tuple) else (key,)
        if any(k is Ellipsis for k in keys):
            at = next(i for i, k in enumerate(keys) if k is Ellipsis)
            keys = keys[:at] + (slice(None),) * (self.ndim - len(keys) + 1) + keys[at + 1:]
        if len(keys) > self.ndim:
            raise IndexError(f"too many indices for the samples, which are {self.ndim}-dimensional")
        keys = keys + (slice(None),) * (self.ndim - len(keys))
        r0, r1, row_pick, row_squeeze = _axis_index(keys[0], self.shape[0])
        c0, c1, col_pick, col_squeeze = _axis_index(keys[1], self.shape[1])
        columns = np.arange(c0, c1) if col_pick is None else col_pick + c0
        if r1 <= r0 or not len(columns):
            out = np.empty((r1 - r0, len(columns)), dtype=self.dtype)
        else:
            everything = c0 == 0 and c1 == self.shape[1] and col_pick is None
            out = self._open_view().read_samples(self.start + r0, self.start + r1,
                                                 None if everything else columns, scaled=True)
            self.reads += 1
            if out.shape[0] != r1 - r0:
                raise CorruptRecordingError(
                    f"{self.source} holds fewer samples than when to_xarray() was called "
                    f"({out.shape[0]} frames at {self.start + r0}, not {r1 - r0}): it changed; call to_xarray() again")
        if row_pick is not None:
            out = out[row_pick]
        if row_squeeze:
            out = out[0]
        if col_squeeze:
            out = out[..., 0]
        return out

    def dataarray(self, *, chunk_seconds: float = 1.0) -> xarray.DataArray:
        """The ``xarray.DataArray`` over these samples (see the module's docstring); reads nothing.

        Parameters
        ----------
        chunk_seconds
            The length of a dask chunk in seconds (every channel in each chunk).

        Raises
        ------
        cldata.errors.ParameterError
            If ``chunk_seconds`` is not a positive number.
        """
        try:
            seconds = float(chunk_seconds)
        except (TypeError, ValueError):
            seconds = float("nan")
        if not np.isfinite(seconds) or seconds <= 0:
            raise ParameterError(f"chunk_seconds must be a positive number of seconds, not {chunk_seconds!r}")
        frames = max(1, round(seconds * self.frames_per_second))
        try:
            stat = os.stat(self.path)
            version: tuple[int, int] = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            version = (0, 0)
        # a name of what the chunks hold (file, version, window, chunking), not of this object
        name = "cldata-samples-" + tokenize(str(self.path), self.group, version, self.start, self.stop, frames)
        data = dask.array.from_array(self, chunks=(frames, self.shape[1]), lock=HDF5_LOCK, name=name,
                                     meta=np.empty((0, 0), dtype=self.dtype))
        # the frames are a lazy coordinate, computed with the chunks that use them; the times an index
        # that holds no array (cldata.format.xarray_time_index)
        frame = dask.array.arange(self.start, self.stop, chunks=frames, dtype=np.int64)
        channels = np.arange(self.shape[1], dtype=np.int64)
        coords: dict[str, Any] = {
            "frame": ("time", frame, {"long_name": "frames from the recording start"}),
            "channel": ("channel", channels),
        }
        places = _mea_places(self.shape[1])
        if places is not None:
            coords["mea_row"] = ("channel", places[0], {"long_name": "row in the MEA layout"})
            coords["mea_column"] = ("channel", places[1], {"long_name": "column in the MEA layout"})
        attrs = {"units": "uV", "long_name": "samples", "sampling_rate": float(self.frames_per_second),
                 "source": self.source, "window_frames": (self.start, self.stop),
                 "start_timestamp": self.start_timestamp}
        array = xarray.DataArray(data, dims=("time", "channel"), coords=coords, attrs=attrs, name="samples")
        index = FrameTimeIndex.of_frames(self.start, self.stop, float(self.frames_per_second))
        array = array.assign_coords(xarray.Coordinates.from_xindex(index))
        array["time"].attrs.update(units="s", long_name="time from the recording start")
        return array


def samples_dataarray(view: RecordingView, *, chunk_seconds: float = 1.0) -> xarray.DataArray:
    """The samples of ``view``'s window as a lazy ``xarray.DataArray`` (time × channel, µV).

    Values are ``view.read_samples(scaled=True)``; nothing is read until computed.

    Raises
    ------
    cldata.errors.RecordingFileError
        If the recording has no samples.
    cldata.errors.ParameterError
        If ``chunk_seconds`` is not a positive number.

    Examples
    --------
    >>> samples_dataarray(rec, chunk_seconds=0.5).chunks          # doctest: +SKIP
    ((12500, 12500), (64,))
    """
    return LazySamples(view).dataarray(chunk_seconds=chunk_seconds)
