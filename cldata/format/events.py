"""Time-windowed reads of the spike and stim tables.

Both tables are written in time order, one row per event. A window ``[start, stop)`` of
frames becomes a row range found by binary search on the ``timestamp`` column, and only
those rows are read. For tables of moderate size the column is cached (and checked to be
sorted once); for very large ones the search probes the file, so memory stays bounded by
the window, never by the recording.

Tolerant reading (docs/READER-TOLERANCE.md): a table out of time order is read by scanning
(the answers stay exact) and said once through the ``warn`` callback; a table whose
``timestamp`` or ``channel`` column is missing or not integer cannot be read as events
(:func:`table_problem` says why, and the reader leaves such a table out); a spike table
whose waveforms are not the CL format's 75 float32 samples is read as stored, or without
waveforms (:func:`waveform_problem`).

Examples
--------
>>> from cldata.format.events import EventTable
>>> spikes = EventTable(rec.file.root.spikes, "rec.h5")   # doctest: +SKIP
>>> rows = spikes.read(0, 2500)                           # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tables

from cldata.errors import CorruptRecordingError
from cldata.format.layout import WAVEFORM_LENGTH

__all__ = ["EventTable", "table_problem", "waveform_problem"]

_CACHE_ROWS = 4_000_000  # cache the timestamp column below this many rows (32 MB)


def table_problem(table: Any, required: tuple[str, ...] = ("timestamp", "channel")) -> str | None:
    """Why ``table`` cannot be read as CL events (``None`` if it can).

    Events need a table with integer scalar ``timestamp`` and ``channel`` columns (the
    ``required`` ones); other columns, and their order, do not matter.

    Examples
    --------
    >>> table_problem(rec.file.root.stims)                    # doctest: +SKIP
    >>> table_problem(rec.file.root.samples)                  # doctest: +SKIP
    'is an EArray, not a table'
    """
    if not isinstance(table, tables.Table):
        kind = type(table).__name__
        return f"is {'an' if kind[0] in 'AEIOU' else 'a'} {kind}, not a table"
    # nested (compound) columns appear as "name/field" in coldtypes: not CL columns
    missing = [c for c in required if c not in table.colnames or c not in table.coldtypes]
    if missing:
        return f"lacks the column(s) {missing} (has {table.colnames})"
    for name in required:
        dtype = table.coldtypes[name]
        if dtype.kind not in "iu" or dtype.shape != ():
            return f"has a {name!r} column of dtype {dtype}, where the CL format stores integers"
    return None


def waveform_problem(table: tables.Table) -> tuple[bool, str] | None:
    """What is off with the waveforms of spike table ``table`` (``None``: 75 float32 samples, as CL writes).

    Returns ``(readable, what)``: ``readable`` says whether the ``samples`` column can still be
    read as waveforms (a 1-d numeric column of another length or dtype, returned as stored),
    ``what`` says what is off.

    Examples
    --------
    >>> waveform_problem(rec.file.root.spikes)                # doctest: +SKIP
    """
    if "samples" not in table.colnames or "samples" not in table.coldtypes:
        return False, "has no 'samples' (waveform) column"
    dtype = table.coldtypes["samples"]
    if dtype.shape == (WAVEFORM_LENGTH,) and dtype.base == np.float32:
        return None
    if dtype.base.kind in "iuf" and len(dtype.shape) == 1 and dtype.shape[0] > 0:
        return True, f"has waveforms of {dtype.shape[0]} {dtype.base} samples, not {WAVEFORM_LENGTH} float32"
    return False, f"has a 'samples' column of dtype {dtype}, which is not a 1-d array of waveform samples"


class EventTable:
    """A spike or stim table with windowed reads by frame.

    Parameters
    ----------
    table
        The PyTables table (``/spikes`` or ``/stims``).
    source
        The file it belongs to, for error messages.
    required
        Column names the table must have (``"samples"``: 75-sample float32 waveforms too).
    warn
        Called once as ``warn(key, message)`` when the table turns out not to be in time
        order (the reader passes its warn-once hook).

    Raises
    ------
    cldata.errors.CorruptRecordingError
        If the table cannot be read as events (see :func:`table_problem`).

    Examples
    --------
    >>> stims = EventTable(rec.file.root.stims, "rec.h5")     # doctest: +SKIP
    >>> stims.count(0, 25_000)                                # doctest: +SKIP
    3
    """

    def __init__(self, table: tables.Table, source: str, required: tuple[str, ...] = ("timestamp", "channel"),
                 warn: Callable[[str, str], None] | None = None):
        problem = table_problem(table, tuple(c for c in required if c != "samples"))
        if problem is not None:
            raise CorruptRecordingError(f"{table._v_pathname} in {source} {problem}")
        if "samples" in required:
            wf = waveform_problem(table)
            if wf is not None:
                raise CorruptRecordingError(
                    f"spike waveforms in {table._v_pathname} of {source}: the table {wf[1]}; the CL format "
                    f"stores {WAVEFORM_LENGTH} samples"
                )
        self.table = table
        self.source = source
        self._warn = warn
        self._ts: np.ndarray | None = None
        self._sorted: bool | None = None  # unknown until first needed

    def __len__(self) -> int:
        return int(self.table.nrows)

    def _timestamps(self) -> np.ndarray | None:
        if self._ts is None and self._sorted is None:
            n = int(self.table.nrows)
            first_back: tuple[int, int, int] | None = None  # (row, its timestamp, the one before)
            if n <= _CACHE_ROWS:
                ts = self.table.col("timestamp").astype(np.int64, copy=False)
                back = np.flatnonzero(ts[1:] < ts[:-1]) if ts.size > 1 else np.empty(0, np.intp)
                if back.size:
                    i = int(back[0]) + 1
                    first_back = (i, int(ts[i]), int(ts[i - 1]))
                self._ts = ts
            else:
                # too large to cache: check the order once, a chunk at a time
                last = None
                for a in range(0, n, _CACHE_ROWS):
                    chunk = self.table.read(a, min(n, a + _CACHE_ROWS), field="timestamp").astype(np.int64)
                    if last is not None and chunk.size and chunk[0] < last:
                        first_back = (a, int(chunk[0]), int(last))
                        break
                    back = np.flatnonzero(chunk[1:] < chunk[:-1])
                    if back.size:
                        i = int(back[0]) + 1
                        first_back = (a + i, int(chunk[i]), int(chunk[i - 1]))
                        break
                    last = chunk[-1] if chunk.size else last
            self._sorted = first_back is None
            if first_back is not None and self._warn is not None:
                row, t, before = first_back
                self._warn(
                    f"unsorted:{self.table._v_pathname}",
                    f"{self.table._v_pathname} is not in time order (row {row} has timestamp {t}, after "
                    f"{before}); cldata finds the rows of a time window by scanning the table, so windowed "
                    "reads stay exact, and whole-table reads return the rows in file order, as the CL "
                    "reader does",
                )
        return self._ts

    def _scan(self, start: int | None, stop: int | None) -> np.ndarray:
        # unsorted tables (not something CL writes): find matching rows chunk by chunk
        n = int(self.table.nrows)
        hits = []
        for a in range(0, n, _CACHE_ROWS):
            ts = self._ts[a : a + _CACHE_ROWS] if self._ts is not None else self.table.read(
                a, min(n, a + _CACHE_ROWS), field="timestamp"
            )
            mask = np.ones(ts.size, dtype=bool)
            if start is not None:
                mask &= ts >= start
            if stop is not None:
                mask &= ts < stop
            hits.append(np.flatnonzero(mask) + a)
        return np.concatenate(hits) if hits else np.empty(0, dtype=np.int64)

    def _row_at(self, i: int) -> int:
        return int(self.table.read(i, i + 1, field="timestamp")[0])

    def _bisect(self, frame: int) -> int:
        lo, hi = 0, int(self.table.nrows)
        while lo < hi:
            mid = (lo + hi) // 2
            if self._row_at(mid) < frame:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def rows(self, start: int | None, stop: int | None) -> tuple[int, int] | np.ndarray:
        """Row range ``(i, j)`` holding the events in ``[start, stop)``.

        For an unsorted table (not something CL writes) the matching row numbers are
        returned as an array instead.
        """
        n = int(self.table.nrows)
        if start is None and stop is None:
            return 0, n
        ts = self._timestamps()
        if not self._sorted:
            return self._scan(start, stop)
        if ts is not None:
            i = 0 if start is None else int(np.searchsorted(ts, start, side="left"))
            j = n if stop is None else int(np.searchsorted(ts, stop, side="left"))
        else:
            i = 0 if start is None else self._bisect(start)
            j = n if stop is None else self._bisect(stop)
        return i, max(i, j)

    def read(
        self,
        start: int | None = None,
        stop: int | None = None,
        channels: Any = None,
        fields: tuple[str, ...] | None = None,
    ) -> np.ndarray:
        """Rows with ``start <= timestamp < stop`` (and a channel in ``channels``), as a structured array."""
        where = self.rows(start, stop)
        names = list(fields) if fields is not None else list(self.table.colnames)
        size = where.size if isinstance(where, np.ndarray) else where[1] - where[0]
        if size == 0:
            # nothing to read (and PyTables cannot read no coordinates of a nested column)
            return np.empty(0, dtype=self.table.dtype[names])
        try:
            if names == list(self.table.colnames):
                out = self.table.read_coordinates(where) if isinstance(where, np.ndarray) else self.table.read(*where)
            else:
                # only the asked-for columns: waveforms are most of a spike table's bytes
                out = np.empty(size, dtype=self.table.dtype[names])
                for name in names:
                    out[name] = (self.table.read_coordinates(where, field=name) if isinstance(where, np.ndarray)
                                 else self.table.read(*where, field=name))
        except tables.HDF5ExtError as exc:
            raise CorruptRecordingError(f"cannot read {self.table._v_pathname} in {self.source}: {exc}") from None
        if channels is not None:
            out = out[np.isin(out["channel"], np.asarray(channels))]
        return out

    def count(self, start: int | None = None, stop: int | None = None) -> int:
        """How many events lie in ``[start, stop)``."""
        where = self.rows(start, stop)
        return int(where.size) if isinstance(where, np.ndarray) else where[1] - where[0]
