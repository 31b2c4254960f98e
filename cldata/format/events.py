"""Time-windowed reads of the spike and stim tables.

Both tables are written in time order, one row per event. A window ``[start, stop)`` of
frames becomes a row range found by binary search on the ``timestamp`` column, and only
those rows are read. For tables of moderate size the column is cached (and checked to be
sorted once); for very large ones the search probes the file, so memory stays bounded by
the window, never by the recording.

Examples
--------
>>> from cldata.format.events import EventTable
>>> spikes = EventTable(rec.file.root.spikes, "rec.h5")   # doctest: +SKIP
>>> rows = spikes.read(0, 2500)                           # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tables

from cldata.errors import CorruptRecordingError
from cldata.format.layout import WAVEFORM_LENGTH

__all__ = ["EventTable"]

_CACHE_ROWS = 4_000_000  # cache the timestamp column below this many rows (32 MB)


class EventTable:
    """A spike or stim table with windowed reads by frame.

    Parameters
    ----------
    table
        The PyTables table (``/spikes`` or ``/stims``).
    source
        The file it belongs to, for error messages.
    required
        Column names the table must have.
    """

    def __init__(self, table: tables.Table, source: str, required: tuple[str, ...] = ("timestamp", "channel")):
        if not isinstance(table, tables.Table):
            raise CorruptRecordingError(f"{table._v_pathname} in {source} is not a table")
        # nested (compound) columns appear as "name/field" in coldtypes: not CL columns
        missing = [c for c in required if c not in table.colnames or c not in table.coldtypes]
        if missing:
            raise CorruptRecordingError(
                f"{table._v_pathname} in {source} lacks the column(s) {missing} (has {table.colnames})"
            )
        if "samples" in required and table.coldtypes["samples"].shape != (WAVEFORM_LENGTH,):
            raise CorruptRecordingError(
                f"spike waveforms in {table._v_pathname} of {source} have shape "
                f"{table.coldtypes['samples'].shape}; the CL format stores {WAVEFORM_LENGTH} samples"
            )
        for name in ("timestamp", "channel"):
            kind = table.coldtypes[name].kind
            if kind not in "iu" or table.coldtypes[name].shape != ():
                raise CorruptRecordingError(
                    f"column {name!r} of {table._v_pathname} in {source} has dtype "
                    f"{table.coldtypes[name]}; the CL format stores integers there"
                )
        self.table = table
        self.source = source
        self._ts: np.ndarray | None = None
        self._sorted: bool | None = None  # unknown until first needed

    def __len__(self) -> int:
        return int(self.table.nrows)

    def _timestamps(self) -> np.ndarray | None:
        if self._ts is None and self._sorted is None:
            n = int(self.table.nrows)
            if n <= _CACHE_ROWS:
                ts = self.table.col("timestamp").astype(np.int64, copy=False)
                self._sorted = bool(ts.size < 2 or np.all(ts[1:] >= ts[:-1]))
                self._ts = ts
            else:
                # too large to cache: check the order once, a chunk at a time
                self._sorted = True
                last = None
                for a in range(0, n, _CACHE_ROWS):
                    chunk = self.table.read(a, min(n, a + _CACHE_ROWS), field="timestamp")
                    if (last is not None and chunk[0] < last) or np.any(chunk[1:] < chunk[:-1]):
                        self._sorted = False
                        break
                    last = chunk[-1]
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
        try:
            if names == list(self.table.colnames):
                out = self.table.read_coordinates(where) if isinstance(where, np.ndarray) else self.table.read(*where)
            else:
                # only the asked-for columns: waveforms are most of a spike table's bytes
                out = np.empty(where.size if isinstance(where, np.ndarray) else where[1] - where[0],
                               dtype=self.table.dtype[names])
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
