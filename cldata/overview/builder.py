"""Building an overview: one pass over a recording writes every level of both pyramids to a new file.

:func:`build_overview` sizes the pyramids (levels, chunking, where spike counts start), creates
the overview file (see :mod:`cldata.overview.layout`) under a temporary name, runs the pass
(:func:`cldata.overview.threaded_pass.one_pass`, which feeds a
:class:`~cldata.overview.cascade.LevelCascade` per pyramid) and renames the file into place
only when it is complete. The recording is only read. Memory stays bounded by a few pieces
and chunks, never the recording; the pass is bounded too, however long a recording claims to
be (at most :data:`_MAX_STEPS` writer steps, spike levels no finer than
:data:`~cldata.overview.layout.MAX_SPIKE_BLOCKS` blocks).

Examples
--------
>>> with cldata.RecordingView("rec.h5") as rec:                   # doctest: +SKIP
...     build_overview(rec, "store/overviews/rec_1.h5")
PosixPath('store/overviews/rec_1.h5')
"""

from __future__ import annotations

import numbers
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import quantities as pq
import tables

from cldata.core.display import progress_bar
from cldata.core.fsutil import fsync_dir, fsync_file, new_temporary
from cldata.core.timebase import to_frame
from cldata.format.reader import RecordingView
from cldata.overview.cascade import LevelCascade
from cldata.overview.layout import (
    COUNT_FILTERS,
    FORMAT_NAME,
    FORMAT_VERSION,
    MAX_OVERVIEW_FRAMES,
    MAX_SPIKE_BLOCKS,
    SAMPLE_FILTERS,
    chunk_rows,
    create_crc_array,
    fill_value,
    level_count,
)
from cldata.overview.spike_source import last_spike, source_spikes
from cldata.overview.threaded_pass import one_pass

__all__ = ["build_overview"]

_MAX_STEPS = 1 << 14  # writer steps of a build, at most
_CHUNK_FRAMES = 1 << 18  # frames per step of the writer (spikes read, levels appended): 10 s at 25 kHz


class _CountOverflow(Exception):
    # a uint16 count level would overflow (more than one spike per channel and frame): retry wider
    pass


def build_overview(
    view: RecordingView,
    path: str | os.PathLike[str],
    *,
    base: int = 64,
    factor: int = 8,
    chunk_frames: int = _CHUNK_FRAMES,
    spike_bin: Any = 2 * pq.ms,
    threads: int | None = None,
    durable: bool = True,
    progress: bool = True,
) -> Path:
    """Build the overview of a recording's samples and spikes into the HDF5 file ``path``.

    One sequential pass reads the samples in pieces of 2 MiB (memory stays bounded by a
    few pieces and chunks, never the recording) and the spike table's ``timestamp`` and
    ``channel`` columns ``chunk_frames`` at a time, computing every level in the same
    pass. The
    file is written under a temporary name and renamed into place when complete, so
    ``path`` never holds a partial overview; a failure leaves nothing behind. The
    recording is only read: its file is never opened for writing.

    Parameters
    ----------
    view
        The recording. The overview always covers the **whole** recording, whatever the
        view's window (the window applies when answering, in :class:`Overview`).
    path
        Where to write the overview (its directory is created if needed). An existing
        file is replaced.
    base
        Frames per level-0 block (64 = 2.56 ms at 25 kHz).
    factor
        Blocks of level ``l`` per block of level ``l + 1``. 8 reads at most 8 × ``width``
        blocks per request and adds 1/7 of level 0 in storage; 16 halves that storage and
        doubles the worst read (see ``benchmarks/bench_overview.py``).
    chunk_frames
        Frames per step of the writer: the spikes of that many frames are read and
        counted, and the levels' blocks for them appended, at a time (rounded up to a
        whole number of spike blocks).
    spike_bin
        The shortest spike-count block to store (frames or a time): counts start at the
        first level whose blocks last at least this long. Shorter bins are counted from
        the spike table when asked for.
    threads
        Worker threads reading and reducing the samples, besides the thread writing the
        file (default: the number of CPUs, at most 8). Reads take turns; the reductions
        run in parallel.
    durable
        ``fsync`` the file before renaming it into place.
    progress
        Show a progress bar (seconds of the recording passed) on standard error when the
        build lasts over a second and standard error is a terminal (see
        :func:`cldata.core.display.progress_bar`).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        For a ``base`` or ``factor`` below 2, or a ``chunk_frames`` below 1.
    cldata.errors.CorruptRecordingError
        If the recording cannot be read.

    Examples
    --------
    >>> with cldata.RecordingView("rec.h5") as rec:                   # doctest: +SKIP
    ...     build_overview(rec, "store/overviews/rec_1.h5")
    PosixPath('store/overviews/rec_1.h5')
    """
    for name, value, low in (("base", base, 2), ("factor", factor, 2), ("chunk_frames", chunk_frames, 1)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, not {value!r}")
    base, factor = int(base), int(factor)
    fps = view.frames_per_second
    min_spike_block = to_frame(spike_bin, fps) or 1
    spike_first = 0
    while base * factor**spike_first < min_spike_block:
        spike_first += 1
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # an unpredictable name, created exclusively (PyTables then writes into that new file): a link
    # planted beside the overview is never written through
    tmp = new_temporary(path)
    try:
        try:
            _write_overview(view, tmp, base, factor, int(chunk_frames), spike_first, threads, wide_counts=False,
                            progress=progress)
        except _CountOverflow:  # written again into the same file (mode "w" truncates it)
            _write_overview(view, tmp, base, factor, int(chunk_frames), spike_first, threads, wide_counts=True,
                            progress=progress)
        if durable:
            fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)
    return path



class _Plan:
    """The sizes of one build: the recording's extent, the levels of both pyramids, the writer's step."""

    def __init__(self, view: RecordingView, base: int, factor: int, chunk_frames: int, spike_first: int):
        samples = view.samples
        self.base, self.factor = base, factor
        self.channels = view.channel_count
        self.n_samples = int(samples.nrows) if samples is not None else 0
        self.dtype = np.dtype(samples.atom.dtype) if samples is not None else np.dtype(np.int16)
        self.events = source_spikes(view)
        self.n_spikes = len(self.events) if self.events is not None else 0
        # what the recording covers: its duration, samples or last spike, whichever is latest; a
        # file may claim any of these (2**62 frames, say), so the extent is capped, and the
        # finest spike level starts coarse enough to keep the pyramid (and the pass) bounded
        self.spike_frames = min(max(view.duration_frames, self.n_samples, last_spike(self.events) + 1, 0),
                                MAX_OVERVIEW_FRAMES)
        while -(-self.spike_frames // (base * factor**spike_first)) > MAX_SPIKE_BLOCKS:
            spike_first += 1
        self.spike_first = spike_first
        self.spike_block0 = base * factor**spike_first
        self.n_sample_levels = level_count(self.n_samples, base, factor)
        self.n_spike_levels = level_count(self.spike_frames, self.spike_block0, factor)
        # whole spike blocks in each chunk: only the last chunk has a short block; and at most
        # _MAX_STEPS chunks, however long the recording claims to be (its samples are bounded by
        # the file's size; a claimed duration is not)
        chunk_frames = max(chunk_frames, -(-max(self.n_samples, self.spike_frames) // _MAX_STEPS))
        self.chunk_frames = -(-chunk_frames // self.spike_block0) * self.spike_block0

    def sample_rows(self) -> list[int]:
        """Blocks of each sample level."""
        return [-(-self.n_samples // (self.base * self.factor**lv)) for lv in range(self.n_sample_levels)]

    def count_rows(self) -> list[int]:
        """Blocks of each spike-count level."""
        return [-(-self.spike_frames // (self.spike_block0 * self.factor**i)) for i in range(self.n_spike_levels)]


def _write_root(h5: tables.File, view: RecordingView, plan: _Plan) -> None:
    root = h5.root._v_attrs
    for key, value in {
        "format": FORMAT_NAME, "version": FORMAT_VERSION, "frames_per_second": view.frames_per_second,
        "channel_count": plan.channels, "uV_per_sample_unit": view.uV_per_sample_unit,
        "n_frames": plan.n_samples, "spike_frames": plan.spike_frames, "n_spikes": plan.n_spikes,
        "base": plan.base, "factor": plan.factor, "sample_levels": plan.n_sample_levels,
        "spike_first_level": plan.spike_first, "spike_levels": plan.n_spike_levels,
        "sample_dtype": plan.dtype.str, "source": view.path.name,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }.items():
        root[key] = np.int64(value) if isinstance(value, int) else (np.float64(value) if isinstance(value, float) else value)


def _level_group(h5: tables.File, where: str, level: int, block: int, n_frames: int) -> tables.Group:
    g = h5.create_group(where, f"L{level}")
    g._v_attrs.level, g._v_attrs.block_frames = np.int64(level), np.int64(block)
    g._v_attrs.n_blocks = np.int64(-(-n_frames // block))
    return g


def _level_array(h5: tables.File, g: tables.Group, name: str, dtype: np.dtype, channels: int, n_blocks: int,
                 rows: int, filters: tables.Filters) -> tables.EArray:
    """Level array ``name`` of group ``g`` (empty: the build appends to it; its CRC-32s are made apart)."""
    return h5.create_earray(g, name, tables.Atom.from_dtype(dtype, dflt=fill_value(dtype, name)), shape=(0, channels),
                            chunkshape=(min(rows, n_blocks), channels), expectedrows=n_blocks, filters=filters)


def _sample_arrays(h5: tables.File, plan: _Plan) -> list[tuple[tables.EArray, ...]]:
    """The min and max arrays of each sample level."""
    if not plan.n_sample_levels:
        return []
    h5.create_group("/", "samples")
    rows = chunk_rows(plan.channels, plan.dtype.itemsize)
    arrays = []
    for level, n_blocks in enumerate(plan.sample_rows()):
        g = _level_group(h5, "/samples", level, plan.base * plan.factor**level, plan.n_samples)
        for name in ("min", "max"):
            create_crc_array(h5, g, name, n_blocks, min(rows, n_blocks))
        arrays.append(tuple(_level_array(h5, g, name, plan.dtype, plan.channels, n_blocks, rows, SAMPLE_FILTERS)
                            for name in ("min", "max")))
    return arrays


def _count_arrays(h5: tables.File, plan: _Plan, wide_counts: bool) -> tuple[list[tuple[tables.EArray, ...]], list[np.dtype]]:
    """The counts array of each spike level, and its dtype (uint16 unless told or its blocks are long)."""
    if not plan.n_spike_levels:
        return [], []
    h5.create_group("/", "spikes")
    arrays, dtypes = [], []
    for i, n_blocks in enumerate(plan.count_rows()):
        level = plan.spike_first + i
        block = plan.base * plan.factor**level
        g = _level_group(h5, "/spikes", level, block, plan.spike_frames)
        dt = np.dtype(np.uint32 if wide_counts or block > 0xFFFF else np.uint16)
        dtypes.append(dt)
        rows = chunk_rows(plan.channels, dt.itemsize)
        create_crc_array(h5, g, "counts", n_blocks, min(rows, n_blocks))
        arrays.append((_level_array(h5, g, "counts", dt, plan.channels, n_blocks, rows, COUNT_FILTERS),))
    return arrays, dtypes


def _write_overview(view: RecordingView, tmp: Path, base: int, factor: int, chunk_frames: int,
                    spike_first: int, threads: int | None, wide_counts: bool, progress: bool = False) -> None:
    plan = _Plan(view, base, factor, chunk_frames, spike_first)
    fps = view.frames_per_second
    # no chunk cache: every chunk is written whole, once (a cache would only copy it)
    with tables.open_file(str(tmp), mode="w", title="cldata overview", chunk_cache_size=0) as h5:
        _write_root(h5, view, plan)
        sample_arrays = _sample_arrays(h5, plan)
        count_arrays, count_dtypes = _count_arrays(h5, plan, wide_counts)

        def check_counts(i: int, parts: tuple[np.ndarray, ...]) -> None:
            if count_dtypes[i] == np.uint16 and parts[0].size and int(parts[0].max()) > 0xFFFF:
                raise _CountOverflow

        # one HDF5 call at a time, whichever thread and file (the library may not be thread-safe)
        io_lock = threading.Lock()
        minmax = LevelCascade(sample_arrays, plan.sample_rows(), factor, (np.minimum, np.maximum), io_lock)
        counts = LevelCascade(count_arrays, plan.count_rows(), factor, (np.add,), io_lock,
                              check=check_counts)  # uint32 in, uint32 out
        total = max(plan.n_samples, plan.spike_frames)
        # seconds of the recording passed (shown after a second, on a terminal: see progress_bar)
        with progress_bar(total=total / fps, desc=f"overview of {view.path.name}", unit="s", enabled=progress,
                          bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s "
                                     "[{elapsed}<{remaining}]") as bar:
            one_pass(view.samples, plan.events, plan.n_samples, plan.spike_frames, plan.chunk_frames, base,
                     plan.spike_block0, plan.channels, plan.dtype, minmax if plan.n_sample_levels else None,
                     counts if plan.n_spike_levels else None, threads, io_lock, lambda frames: bar.update(frames / fps))
        minmax.finish()
        counts.finish()
        for level, (arrays, expected) in enumerate(zip(sample_arrays, plan.sample_rows())):
            if any(a.nrows != expected for a in arrays):  # pragma: no cover - a bug, not a user error
                raise AssertionError(f"overview level {level} has {arrays[0].nrows} blocks, expected {expected}")
