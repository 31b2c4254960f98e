"""One recording as a viewer asks for it: the parts of a time window, sized for a screen.

A viewer never draws a whole hour: it asks, for the viewport it shows (a time range in
seconds and a width in pixels), for the traces, the spikes, the stimulations and the stream
entries that fall in it, no more points than the screen can show. :class:`RecordingSource`
answers those questions for a CL recording (a file, a :class:`~cldata.RecordingView` or a
store's recording handle), from the recording's min/max overview pyramid
(:mod:`cldata.overview`): the level whose bins are about a pixel wide, or the raw samples when
the window holds fewer frames than pixels. Every answer costs one read of one level's slice,
whatever the zoom, so each pan or zoom is answered in milliseconds (benchmarks/bench_viewer.py).

Time is in seconds from the recording's first frame (frame ``f`` is at ``f / fps`` s), the axis
of :attr:`cldata.overview.Envelope.times`. Nothing here knows HoloViews or Panel: the plots
(:mod:`cldata.viz.plots`) and apps draw these answers.

Examples
--------
>>> src = RecordingSource("one_hour.h5")                          # doctest: +SKIP
>>> env = src.traces((600.0, 660.0), width=1200, channels=[1, 2])  # doctest: +SKIP
>>> env.frames_per_point, env.level                               # doctest: +SKIP
(1250, 2)
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cldata.errors import ParameterError, RecordingFileError, UnsupportedValueError
from cldata.format.reader import RecordingView
from cldata.overview import Envelope, Overview, SpikeActivity, ensure_overview
from cldata.toolkit.preprocess import MEA_LAYOUT

__all__ = ["RecordingSource", "SpikePoints", "overview_cache_path", "MAX_SPIKE_POINTS", "MAX_STREAM_POINTS"]

#: More spikes than this in a window are drawn as counts per bin and channel, not as points
#: (a screen 1,500 pixels wide shows no more ticks than that anyway).
MAX_SPIKE_POINTS = 5_000
#: A stream panel shows at most this many entries of a window (the first ones, in time order).
MAX_STREAM_POINTS = 5_000


def overview_cache_path(path: str | os.PathLike[str], group: str = "/") -> Path:
    """Where the overview of a recording file outside a store is kept: the user's cache.

    The name is a digest of the file's resolved path (and the recording's group, for a file
    holding several); the overview itself checks that it still matches the recording and is
    rebuilt when it does not.

    Examples
    --------
    >>> overview_cache_path("rec.h5").parent.name                  # doctest: +SKIP
    'files'
    """
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    key = hashlib.sha256(f"{Path(path).resolve()}\0{group}".encode()).hexdigest()[:24]
    return base / "cldata" / "overviews" / "files" / f"{key}.h5"


@dataclass(frozen=True)
class SpikePoints:
    """The spikes of a window as points: ``times`` (s) and ``channels``, in time order."""

    times: np.ndarray
    channels: np.ndarray

    def __len__(self) -> int:
        return len(self.times)


class RecordingSource:
    """A CL recording, answering a viewer's windows: traces, spikes, stims, stream entries.

    Parameters
    ----------
    recording
        A recording file's path, a :class:`~cldata.RecordingView` (its window is kept) or a
        store's recording handle (its store's overview is used, its parameters and results
        are shown).
    overview_path
        Where to keep the overview of a file outside a store (default:
        :func:`overview_cache_path`). It is built on first use (seconds per hour of samples).

    Examples
    --------
    >>> src = RecordingSource(store.recordings.one())              # doctest: +SKIP
    >>> src.duration, len(src.channels)                            # doctest: +SKIP
    (3600.0, 64)
    """

    def __init__(self, recording: Any, *, overview_path: str | os.PathLike[str] | None = None):
        self.handle = None
        self._overview_paths: tuple[Path, Path | None]
        self._owns_view = isinstance(recording, (str, os.PathLike))
        if self._owns_view:
            recording = RecordingView(recording)
        if isinstance(recording, RecordingView):
            view = recording
            path = Path(overview_path) if overview_path is not None else overview_cache_path(view.path, view.group)
            self._overview_paths = (path, None)
        elif hasattr(recording, "view") and hasattr(recording, "id"):  # a store's recording handle
            if getattr(recording, "is_neo", False):
                raise UnsupportedValueError(
                    f"recording {recording.id} is a neo recording: the viewer draws CL recordings "
                    "(samples, spikes, stims, streams); plot its segment with neo or matplotlib instead")
            self.handle = recording
            view = recording.view()
            self._overview_paths = self._store_overview_paths(recording)
        else:
            raise UnsupportedValueError(
                f"a viewer shows a recording file's path, a cldata.RecordingView or a store's recording "
                f"handle, not a {type(recording).__name__}")
        self._view: RecordingView | None = view
        self._name = recording.id if self.handle is not None else Path(view.path).name
        self.fps = int(view.frames_per_second)
        self.channels = np.asarray(view.channels, dtype=np.int64)
        first, last = view.clipped_window
        self.start = first / self.fps
        self.stop = last / self.fps
        self._overview: Overview | None = None
        self._spikes: tuple[np.ndarray, np.ndarray] | None = None
        # HDF5 (PyTables) is not thread-safe; a Bokeh server runs callbacks of several sessions
        self.lock = threading.RLock()

    @staticmethod
    def _store_overview_paths(handle: Any) -> tuple[Path, Path | None]:
        store = handle.store
        return Path(store.overview_path(handle.id)), Path(store.overview_build_path(handle.id))

    # --- what the recording is -------------------------------------------------------------
    @property
    def duration(self) -> float:
        """The shown part's length in seconds."""
        return self.stop - self.start

    @property
    def name(self) -> str:
        """The recording's id (in a store) or file name."""
        return self._name

    @property
    def view(self) -> RecordingView:
        """The recording (raises :class:`~cldata.errors.RecordingFileError` once the source is closed)."""
        if self._view is None:
            raise RecordingFileError(f"the viewer of {self._name} was closed: open the recording's view again")
        return self._view

    @property
    def parameters(self) -> dict[str, Any]:
        """The recording's parameters in its store (a file outside a store: its root attributes)."""
        if self.handle is not None:
            return dict(self.handle.parameters)
        return {k: self.view.attributes[k] for k in self.view.attributes}

    def channel_label(self, channel: int) -> str:
        """``"ch 12 (1, 4)"``: a channel and its (column, row) on the CL1 MEA, where it has one."""
        if not 0 <= int(channel) < MEA_LAYOUT.size:
            return f"ch {channel}"
        col, row = divmod(int(channel), MEA_LAYOUT.shape[0])  # (cldata.query.neurons.mea_position's rule)
        return f"ch {channel} ({col}, {row})"

    def pick_channels(self, channels: Any) -> np.ndarray:
        """The channel numbers asked for (None: all), checked against the recording's."""
        if channels is None:
            return self.channels
        picked = np.atleast_1d(np.asarray(channels, dtype=np.int64))
        unknown = np.setdiff1d(picked, self.channels)
        if len(unknown):
            raise ParameterError(
                f"channels {unknown.tolist()} are not in {self.name} (it has channels "
                f"{self.channels.min()}..{self.channels.max()}); pick among those")
        return picked

    def clip(self, x_range: Any) -> tuple[float, float]:
        """A viewport's ``(start, stop)`` in seconds, within the recording (None: all of it)."""
        if x_range is None:
            return self.start, self.stop
        a, b = (float(x) if x is not None else None for x in x_range)
        a = self.start if a is None or not np.isfinite(a) else min(max(a, self.start), self.stop)
        b = self.stop if b is None or not np.isfinite(b) else min(max(b, self.start), self.stop)
        return (a, b) if b > a else (a, min(a + 1.0 / self.fps, self.stop))

    def _frames(self, x_range: Any) -> tuple[int, int]:
        a, b = self.clip(x_range)
        fa = int(np.floor(a * self.fps))
        return fa, max(int(np.ceil(b * self.fps)), fa + 1)

    # --- the window's parts --------------------------------------------------------------
    def overview(self) -> Overview:
        """The recording's overview (built into the cache on first use when there is none)."""
        with self.lock:
            if self._overview is None:
                path, rebuild = self._overview_paths
                if rebuild is None:
                    path.parent.mkdir(parents=True, exist_ok=True)
                self._overview = ensure_overview(self.view, path, rebuild_path=rebuild)
            return self._overview

    def traces(self, x_range: Any = None, width: int = 1500, channels: Any = None) -> Envelope:
        """The min/max envelope of ``channels`` over the viewport, about ``width`` points, in µV.

        From the overview level whose bins are about ``(stop - start) / width`` long, or the
        raw samples (``frames_per_point == 1``, ``level == -1``) when zoomed in that far.
        """
        picked = self.pick_channels(channels)
        fa, fb = self._frames(x_range)
        if self.view.samples is None:
            raise UnsupportedValueError(f"{self.name} has no samples to draw as traces")
        with self.lock:
            return self.overview().envelope(channels=picked, start=fa, stop=fb, width=max(int(width), 1))

    def spike_counts(self, x_range: Any = None, width: int = 1500, channels: Any = None) -> SpikeActivity:
        """Spikes per bin and channel over the viewport (for windows with too many to draw)."""
        picked = self.pick_channels(channels)
        fa, fb = self._frames(x_range)
        with self.lock:
            return self.overview().spike_counts(channels=picked, start=fa, stop=fb, width=max(int(width), 1))

    def spikes(self, x_range: Any = None, channels: Any = None, *,
               limit: int = MAX_SPIKE_POINTS) -> SpikePoints | None:
        """The viewport's spikes as points, or None when there are more than ``limit``.

        The spike table's timestamps and channels are read once (10 bytes a spike: 4.6 MB for an
        hour of 64 channels at 2 Hz), then every window is two binary searches: a read of the
        table per pan would decompress its waveforms' chunks each time.
        """
        picked = self.pick_channels(channels)
        fa, fb = self._frames(x_range)
        times, chans = self._spike_columns()
        i, j = np.searchsorted(times, [fa, fb])
        if channels is None:
            if j - i > limit:
                return None
            return SpikePoints(times[i:j] / self.fps, chans[i:j].astype(np.int64))
        keep = np.zeros(max(int(self.channels.max()), int(chans.max(initial=0))) + 1, dtype=bool)
        keep[picked] = True
        window_chans = chans[i:j]
        mask = keep[window_chans]
        if int(mask.sum()) > limit:
            return None
        return SpikePoints(times[i:j][mask] / self.fps, window_chans[mask].astype(np.int64))

    def _spike_columns(self) -> tuple[np.ndarray, np.ndarray]:
        with self.lock:
            if self._spikes is None:
                rows = self.view.read_spikes(waveforms=False)
                times = rows["timestamp"].astype(np.int64)
                chans = rows["channel"].astype(np.int16)
                if len(times) > 1 and (np.diff(times) < 0).any():  # an untidy table: in time order here
                    order = np.argsort(times, kind="stable")
                    times, chans = times[order], chans[order]
                self._spikes = (times, chans)
            return self._spikes

    def stims(self, x_range: Any = None, *, limit: int = MAX_SPIKE_POINTS) -> SpikePoints:
        """The viewport's stimulations (times in s, channels); at most ``limit``, evenly thinned."""
        fa, fb = self._frames(x_range)
        with self.lock:
            rows = self.view.read_stims(fa, fb)
        if len(rows) > limit:
            rows = rows[np.linspace(0, len(rows) - 1, limit).astype(np.int64)]
        return SpikePoints(self._seconds(rows["timestamp"]), rows["channel"].astype(np.int64))

    def _seconds(self, timestamps: np.ndarray) -> np.ndarray:
        # frames count on the axis of windows and overviews: a frame number over the frame rate
        return timestamps.astype(np.int64) / self.fps

    # --- data streams --------------------------------------------------------------------
    @property
    def stream_names(self) -> list[str]:
        """The recording's data streams (a store handle's visible ones)."""
        return list(self.handle.stream_names) if self.handle is not None else list(self.view.data_streams)

    def stream_attributes(self, name: str) -> dict[str, Any]:
        """A stream's ``application`` attributes (what its application set), as plain values."""
        with self.lock:
            attrs = self.view.data_streams[name].attributes
            return dict(attrs.get("application", {}) or {})

    def stream_window(self, name: str, x_range: Any = None, *,
                      limit: int = MAX_STREAM_POINTS) -> tuple[np.ndarray, list[Any], bool]:
        """A stream's entries in the viewport: ``(times in s, values, more)``, at most ``limit``.

        ``more`` says the window held more entries than ``limit`` (then they are evenly thinned).
        """
        fa, fb = self._frames(x_range)
        with self.lock:
            ts, values, more = self.view.data_streams[name].read_thinned(fa, fb, limit=limit)
        return self._seconds(ts), values, more

    def close(self) -> None:
        """Close the overview, and the recording if the source opened it (a view given stays open)."""
        with self.lock:
            if self._overview is not None:
                self._overview.close()
                self._overview = None
            if self._view is not None and self._owns_view:
                self._view.close()
            # no reference to the recording's nodes outlives the source: a store closes its files
            # later, and a node dropped after its file closed fails in PyTables' __del__
            self._view = None
            self.handle = None
