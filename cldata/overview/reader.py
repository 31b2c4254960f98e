"""Reading an overview: envelopes and spike counts of any window of a recording, at any width.

:class:`Overview` opens an overview file written by :func:`~cldata.overview.builder.build_overview`
beside a recording, checks that it is one (format, version, the node layout of
:mod:`cldata.overview.layout`) and that it belongs to the recording (frame rate, channels,
sample frames, spike count), then answers requests through a view of the recording, whose
window restricts every request (:class:`~cldata.core.window.TimeWindow`). A request reads a
slice of one level (:mod:`cldata.overview.levels`) plus a few blocks of finer levels at the
window's edges (:mod:`cldata.overview.binning`), and the samples or the spike table
themselves only for windows shorter than the finest level. :func:`ensure_overview` builds or
rebuilds the file when it is missing, stale or damaged.

Examples
--------
>>> ov = ensure_overview(rec, "overviews/rec_1.h5")       # doctest: +SKIP
>>> ov.envelope(channels=[0, 5], width=2000).level         # doctest: +SKIP
3
"""

from __future__ import annotations

import numbers
import os
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import quantities as pq
import tables

from cldata.core.shutdown import close_at_exit
from cldata.core.window import TimeWindow
from cldata.errors import CldataError, OverviewError, StaleOverviewError, UnsafeContentError
from cldata.format.attributes import read_attributes
from cldata.format.node_guard import check_layout
from cldata.format.reader import RecordingView, open_hdf5
from cldata.overview.binning import bins, from_levels
from cldata.overview.builder import build_overview
from cldata.overview.kernels import reduce_runs
from cldata.overview.layout import FORMAT_NAME, FORMAT_VERSION, MAX_OVERVIEW_FRAMES, OVERVIEW, level_count, whole_attr
from cldata.overview.levels import LevelStack
from cldata.overview.results import Envelope, SpikeActivity
from cldata.overview.spike_source import source_spikes, spike_columns

__all__ = ["Overview", "ensure_overview"]

_VERIFY_BYTES = 1 << 24  # bytes per read when verifying a whole overview
_PIECE_BYTES = 1 << 22  # samples per read when binning raw samples for a request (4 MiB)


class Overview:
    """The overview of one recording, read through a (possibly windowed) recording view.

    The file is opened on first use, and each request reads only a slice of one level
    (plus a few blocks of finer levels and at most ``base`` raw frames at each end of the
    window).

    Parameters
    ----------
    path
        The overview file written by :func:`build_overview`.
    view
        The recording it belongs to. Its window restricts every request, and raw samples
        and short spike windows are read through it.

    Raises
    ------
    OverviewError
        On first use, if the file is not an overview (or has an unknown format version).
    StaleOverviewError
        On first use, if the file was built from another recording (frame rate, channels,
        sample frames or spike count differ).

    Examples
    --------
    >>> ov = Overview(store_dir / "overviews" / "rec_1.h5", rec.between(0, 60 * pq.s))  # doctest: +SKIP
    >>> env = ov.envelope(channels=[3, 1], width=1000)           # the view's whole minute   # doctest: +SKIP
    >>> env.times[0], env.frames_per_point, env.minimum.shape    # doctest: +SKIP
    (array(0.) * s, 1024, (1465, 2))
    >>> ov.spike_counts(start=10 * pq.s, stop=20 * pq.s, width=100).counts.shape  # doctest: +SKIP
    (123, 64)
    """

    def __init__(self, path: str | os.PathLike[str], view: RecordingView):
        self.path = Path(path)
        self.view = view
        self._h5: tables.File | None = None
        self._lock = threading.Lock()

    # -- opening ----------------------------------------------------------------------------

    def open(self) -> tables.File:
        """Open the file and check it (done by the first request anyway); return the open file.

        Raises
        ------
        OverviewError
            If the file is missing, not an overview, of another format version, or damaged.
        StaleOverviewError
            If it was built from another recording.

        Examples
        --------
        >>> Overview("overviews/rec_1.h5", rec).open()          # doctest: +SKIP
        File(filename=overviews/rec_1.h5, ...)
        """
        if self._h5 is not None and self._h5.isopen:
            return self._h5
        with self._lock:
            if self._h5 is not None and self._h5.isopen:
                return self._h5
            if not self.path.is_file():
                raise OverviewError(f"no overview file {self.path}; build it with build_overview()")
            try:
                h5 = open_hdf5(self.path)
            except (CldataError, OSError) as exc:
                raise OverviewError(f"{self.path} is not a readable overview: {exc}") from None
            try:
                self._setup(h5)
            except BaseException:
                h5.close()
                raise
            self._h5 = h5
            close_at_exit(self)
            return h5


    def _setup(self, h5: tables.File) -> None:
        try:
            self._setup_checked(h5)
        except (OverviewError, CldataError):
            raise
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError, SystemError, tables.HDF5ExtError) as exc:
            # PyTables reads headers and attributes lazily: damage surfaces as whatever it raises
            raise OverviewError(f"{self.path} is a damaged overview ({type(exc).__name__}: {exc}); "
                                "rebuild it with build_overview()") from None

    def _setup_checked(self, h5: tables.File) -> None:
        attrs = read_attributes(h5.root, str(self.path))  # never runs a pickle from the file
        if attrs.get("format") != FORMAT_NAME:
            raise OverviewError(f"{self.path} is not a cldata overview file")
        version = whole_attr(attrs, "version", self.path)
        if version != FORMAT_VERSION:
            raise OverviewError(f"{self.path} has overview format version {version}; this cldata reads "
                                f"version {FORMAT_VERSION} (rebuild it with build_overview())")
        # no object nodes, nothing over-claimed; the level arrays are checked as they are loaded
        check_layout(h5, "/", OVERVIEW, str(self.path), leaves=False)
        view = self.view
        n_samples = int(view.samples.nrows) if view.samples is not None else 0
        n_spikes = len(view.spikes) if view.spikes is not None else 0
        mine = {"frames_per_second": view.frames_per_second, "channel_count": view.channel_count,
                "n_frames": n_samples, "n_spikes": n_spikes}
        theirs = {k: whole_attr(attrs, k, self.path) for k in mine}
        if mine != theirs:
            diff = ", ".join(f"{k} {theirs[k]} (recording: {mine[k]})" for k in mine if mine[k] != theirs[k])
            raise StaleOverviewError(f"{self.path} does not belong to {view.path.name}: {diff}")
        self.frames_per_second = view.frames_per_second
        self.channel_count = view.channel_count
        self.uV_per_sample_unit = float(view.uV_per_sample_unit)
        self.base, self.factor = whole_attr(attrs, "base", self.path, 2), whole_attr(attrs, "factor", self.path, 2)
        self.n_frames = n_samples
        self.spike_frames = whole_attr(attrs, "spike_frames", self.path)
        sample_dtype = np.dtype(view.samples.atom.dtype) if view.samples is not None else np.dtype(np.int16)
        if str(attrs.get("sample_dtype")) != sample_dtype.str:
            raise StaleOverviewError(f"{self.path} was built from samples of dtype {attrs.get('sample_dtype')!r}; "
                                     f"the recording's are {sample_dtype.str}")
        info = np.iinfo(sample_dtype)
        base, factor = self.base, self.factor
        spike_first = whole_attr(attrs, "spike_first_level", self.path)
        expected = {"sample_levels": level_count(n_samples, base, factor),
                    "spike_levels": level_count(self.spike_frames, base * factor**min(spike_first, 64), factor),
                    "spike_frames": max(self.spike_frames, n_samples)}
        got = {"sample_levels": whole_attr(attrs, "sample_levels", self.path),
               "spike_levels": whole_attr(attrs, "spike_levels", self.path), "spike_frames": self.spike_frames}
        if got != expected or spike_first > 64 or self.spike_frames > MAX_OVERVIEW_FRAMES:
            raise OverviewError(f"{self.path} is damaged: its levels ({got}, spike_first_level {spike_first}) do "
                                f"not fit its frames (expected {expected}); rebuild it with build_overview()")

        def levels(kind: str, first: int, count: int, names: tuple[str, ...]) -> list[tuple[int, int, tuple[str, ...]]]:
            return [(lv, base * factor**lv, tuple(f"/{kind}/L{lv}/{name}" for name in names))
                    for lv in range(first, first + count)]

        # each level's arrays are checked (kind, shape, dtype, checksums) when first loaded
        self._samples = LevelStack(h5, levels("samples", 0, got["sample_levels"], ("min", "max")), n_samples,
                                 (info.max, info.min), (np.minimum, np.maximum), info.dtype, cast=False,
                                 channels=self.channel_count, stored=(sample_dtype,))
        self._spikes = LevelStack(h5, levels("spikes", spike_first, got["spike_levels"], ("counts",)),
                                self.spike_frames, (0,), (np.add,), np.dtype(np.int64), cast=True,
                                channels=self.channel_count, stored=(np.dtype(np.uint16), np.dtype(np.uint32)))
        self._events = source_spikes(view)  # windows are clipped to the view's before reading it

    # -- requests -----------------------------------------------------------------------------

    def _window(self, start: Any, stop: Any, extent: int) -> tuple[int, int]:
        # the request within the view's window, clipped to [0, extent)
        window = TimeWindow(start, stop) & TimeWindow.of(self.view.window)
        return window.clipped(self.frames_per_second, extent)

    def _channels(self, channels: Any) -> np.ndarray:
        if channels is None:
            return np.arange(self.channel_count)
        ch = np.atleast_1d(np.asarray(channels))
        if ch.ndim != 1 or (ch.size and ch.dtype.kind not in "iu"):
            raise ValueError(f"channels must be channel numbers (ints), not {channels!r:.60}")
        ch = ch.astype(np.int64)
        bad = ch[(ch < 0) | (ch >= self.channel_count)]
        if bad.size:
            raise ValueError(f"no channel {int(bad[0])}: this recording has channels 0..{self.channel_count - 1}")
        return ch

    @staticmethod
    def _width(width: Any) -> int:
        if not isinstance(width, numbers.Integral) or isinstance(width, bool) or width < 1:
            raise ValueError(f"width must be an int >= 1, not {width!r}")
        return int(width)

    def _raw_binned(self, a: int, b: int, per: int) -> tuple[np.ndarray, np.ndarray]:
        """Min and max of ``per``-frame bins of the samples, read a few MiB at a time."""
        step = max(1, _PIECE_BYTES // (2 * self.channel_count) // per) * per  # a whole number of bins
        lows, highs = [], []
        pos = a
        while pos < b:
            end = min(b, pos // per * per + step)  # on a bin edge: no bin spans two reads
            x = self.view.read_samples(pos, end)
            lows.append(reduce_runs(np.minimum, x, (-pos) % per, per))
            highs.append(reduce_runs(np.maximum, x, (-pos) % per, per))
            pos = end
        return np.concatenate(lows), np.concatenate(highs)

    def envelope(self, channels: Any = None, start: Any = None, stop: Any = None, width: int = 2000) -> Envelope:
        """The min/max envelope of ``channels`` over ``[start, stop)`` at about ``width`` points.

        Parameters
        ----------
        channels
            Channel numbers, in the order wanted (default: all).
        start, stop
            The window, in frames from the recording start or as time quantities
            (default: the view's window). It is clipped to the view's window and to the
            samples; an empty window gives an envelope of zero points.
        width
            The number of points wanted: at least this many are returned (fewer only when
            the window has fewer frames), and fewer than about twice as many.

        Returns
        -------
        Envelope
            When the window has at most ``2 * width`` frames, the samples themselves
            (``level == -1``, ``frames_per_point == 1``, ``minimum == maximum``).
            Otherwise bins of ``frames_per_point = window // width`` frames rounded down to
            a whole number of blocks of the coarsest level whose blocks are no longer
            (level ``-1`` when even level 0 is too coarse: then the samples are read and
            binned), each bin exact.

        Examples
        --------
        >>> env = ov.envelope(width=2000)                              # doctest: +SKIP
        >>> plt.fill_between(env.times, env.minimum[:, 0], env.maximum[:, 0], step="post")  # doctest: +SKIP
        """
        width = self._width(width)
        self.open()
        ch = self._channels(channels)
        a, b = self._window(start, stop, self.n_frames)
        scale = np.float32(self.uV_per_sample_unit)
        view = self.view

        def done(per: int, edges: np.ndarray, lo: np.ndarray, hi: np.ndarray, level: int) -> Envelope:
            lo = lo[:, ch].astype(np.float32) * scale
            hi = lo.copy() if hi is None else hi[:, ch].astype(np.float32) * scale
            return Envelope(a, b, per, edges, pq.Quantity(edges[:-1] / self.frames_per_second, pq.s),
                            lo, hi, level, ch, self.frames_per_second)

        n = b - a
        if n == 0:
            empty = np.empty((0, self.channel_count), dtype=np.int16)
            return done(1, np.array([a], dtype=np.int64), empty, empty, -1)
        if n <= 2 * width:
            x = view.read_samples(a, b)
            return done(1, np.arange(a, b + 1, dtype=np.int64), x, None, -1)
        per = n // width
        i = self._samples.coarsest_for(per)
        if i is None:  # finer than level 0: bin the samples themselves
            return done(per, bins(a, b, per)[1], *self._raw_binned(a, b, per), -1)
        level, block, _ = self._samples.levels[i]
        per = per // block * block

        def leaf(fa: int, fb: int) -> tuple[np.ndarray, np.ndarray]:
            x = view.read_samples(fa, fb)
            return x.min(axis=0), x.max(axis=0)

        edges, (lo, hi) = from_levels(self._samples, i, a, b, per, leaf, self.channel_count)
        return done(per, edges, lo, hi, level)

    def spike_counts(self, channels: Any = None, start: Any = None, stop: Any = None, width: int = 2000) -> SpikeActivity:
        """Spike counts of ``channels`` over ``[start, stop)`` in about ``width`` bins.

        Bins last ``window // width`` frames (at least 1), rounded down to a whole number
        of blocks of the coarsest stored level that is no longer; windows too short for
        the stored levels are counted from the view's spike table (``level == -1``),
        reading only the window's rows (their ``timestamp`` and ``channel``). Every spike
        in the window is counted exactly once.

        Parameters
        ----------
        channels, start, stop, width
            As for :meth:`envelope`; the window is clipped to the view's window and to the
            recording (which may extend beyond its samples).

        Examples
        --------
        >>> act = ov.spike_counts(channels=[0], width=60)           # doctest: +SKIP
        >>> act.rates[:, 0]                                          # doctest: +SKIP
        array([...]) * Hz
        """
        width = self._width(width)
        self.open()
        ch = self._channels(channels)
        a, b = self._window(start, stop, self.spike_frames)
        n_ch = self.channel_count

        def done(per: int, edges: np.ndarray, counts: np.ndarray, level: int) -> SpikeActivity:
            return SpikeActivity(a, b, per, edges, pq.Quantity(edges[:-1] / self.frames_per_second, pq.s),
                                 counts[:, ch].astype(np.int64), level, ch, self.frames_per_second)

        def table(fa: int, fb: int) -> tuple[np.ndarray, np.ndarray]:
            # [fa, fb) lies in the view's window (clipped above): read just those rows
            if self._events is None:
                return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.uint8)
            ts, chans = spike_columns(self._events, fa, fb)
            keep = chans < n_ch
            return (ts, chans) if keep.all() else (ts[keep], chans[keep])

        n = b - a
        if n == 0:
            return done(1, np.array([a], dtype=np.int64), np.zeros((0, n_ch), dtype=np.int64), -1)
        per = max(1, n // width)
        i = self._spikes.coarsest_for(per)
        if i is None:
            first, edges = bins(a, b, per)
            ts, chans = table(a, b)
            idx = (ts // per - first) * n_ch + chans.astype(np.int64)
            counts = np.bincount(idx, minlength=(edges.size - 1) * n_ch).reshape(-1, n_ch)
            return done(per, edges, counts, -1)
        level, block, _ = self._spikes.levels[i]
        per = per // block * block

        def leaf(fa: int, fb: int) -> tuple[np.ndarray]:
            return (np.bincount(table(fa, fb)[1], minlength=n_ch),)

        edges, (counts,) = from_levels(self._spikes, i, a, b, per, leaf, self.channel_count)
        return done(per, edges, counts, level)

    def verify(self, tick: Callable[[], None] | None = None) -> None:
        """Read every stored level in full, a few MiB at a time, so that HDF5 verifies the
        checksum of every chunk (``cldata check`` does this).

        ``tick`` is called before each read (``cldata check`` passes its time budget's).

        Raises
        ------
        OverviewError
            If a chunk fails its checksum or cannot be read.

        Examples
        --------
        >>> Overview(path, rec).verify()                        # doctest: +SKIP
        """
        self.open()
        for pyr in (self._samples, self._spikes):
            for i in range(len(pyr.levels)):
                arrays = pyr.arrays(i)
                n = int(arrays[0].nrows)
                row_bytes = sum(int(a.shape[1]) * a.atom.itemsize for a in arrays)
                step = max(1, _VERIFY_BYTES // max(1, row_bytes))
                for k in range(0, n, step):
                    if tick is not None:
                        tick()
                    pyr.read(i, k, min(n, k + step))

    # -- information and lifetime ---------------------------------------------------------------

    @property
    def levels(self) -> list[dict[str, int]]:
        """The sample levels: ``level``, ``block_frames`` and ``n_blocks`` of each, finest first."""
        self.open()
        return [{"level": lv, "block_frames": blk, "n_blocks": int(self._samples.arrays(i)[0].nrows)}
                for i, (lv, blk, _) in enumerate(self._samples.levels)]

    @property
    def spike_levels(self) -> list[dict[str, int]]:
        """The spike-count levels, as :attr:`levels`."""
        self.open()
        return [{"level": lv, "block_frames": blk, "n_blocks": int(self._spikes.arrays(i)[0].nrows)}
                for i, (lv, blk, _) in enumerate(self._spikes.levels)]

    def close(self) -> None:
        """Close the overview file (it reopens on the next request)."""
        # drop the node handles first: a PyTables node that outlives its file fails noisily when collected
        for pyr in (getattr(self, "_samples", None), getattr(self, "_spikes", None)):
            if pyr is not None:
                pyr.forget()
        h5, self._h5 = self._h5, None
        if h5 is not None and h5.isopen:
            h5.close()

    def __enter__(self) -> Overview:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        return f"<Overview {str(self.path)!r} of {self.view.path.name}>"


def ensure_overview(view: RecordingView, path: str | os.PathLike[str], *,
                    rebuild_path: str | os.PathLike[str] | None = None, **build_options: Any) -> Overview:
    """The overview at ``path`` for ``view``, built (or rebuilt, if stale or damaged) when needed.

    With ``rebuild_path``, ``path`` is only read: when it is missing, stale or damaged the
    overview at ``rebuild_path`` is used, and built there if needed (a read-only store reads
    its own overviews but builds into the user's cache).

    Examples
    --------
    >>> ov = ensure_overview(rec, "overviews/rec_1.h5")       # doctest: +SKIP
    >>> ov.envelope(width=1000).level                          # doctest: +SKIP
    3
    """
    candidates = [Path(path)]
    if rebuild_path is not None and Path(rebuild_path) != Path(path):
        candidates.append(Path(rebuild_path))
    for candidate in candidates:
        ov = Overview(candidate, view)
        try:
            ov.open()
            return ov
        except (OverviewError, UnsafeContentError) as exc:
            ov.close()
            if isinstance(exc, UnsafeContentError):  # nothing ran; it is built afresh, but say so
                warnings.warn(f"{exc} The overview is built afresh.", stacklevel=2)
    build_overview(view, candidates[-1], **build_options)
    return Overview(candidates[-1], view)
