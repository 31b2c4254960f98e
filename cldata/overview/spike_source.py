"""The recording's spike table as the overview reads it: timestamps and channels, nothing else.

An overview counts spikes per block and channel, so it needs two columns of the spike
table, over the whole recording when building and over a request's window when counting
short windows directly. PyTables reads one column of a table at a fixed cost of a few
milliseconds a call, whatever the number of rows, while whole rows (waveforms included)
cost nothing fixed but about 300 bytes a row; so few rows are read whole, many by column
(:func:`spike_columns`), and a build reads the table once, in large batches of whole rows
(:class:`SpikeCursor`). CL writes spikes in time order; an unsorted table still works,
by a search per range.

Examples
--------
>>> events = source_spikes(view)                       # doctest: +SKIP
>>> ts, channels = spike_columns(events, 0, 25_000)    # the first second's spikes
"""

from __future__ import annotations

import numpy as np

from cldata.format.events import EventTable
from cldata.format.reader import RecordingView

__all__ = ["SpikeCursor", "last_spike", "source_spikes", "spike_columns"]

_FIELD_READ_ROWS = 16_384  # above this many rows, reading two columns beats reading whole rows


def source_spikes(view: RecordingView) -> EventTable | None:
    """The recording's whole spike table (``None`` if it has none), whatever the view's window:
    an overview covers the whole recording, and requests clip their windows before reading."""
    if view.spikes is None:
        return None
    return EventTable(view.spikes, str(view.path), ("timestamp", "channel"))


def spike_columns(events: EventTable, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """Timestamps and channels of the spikes in ``[start, stop)``.

    PyTables reads one column of a table at a fixed cost of a few milliseconds a call,
    whatever the number of rows; whole rows (waveforms included) cost nothing fixed but
    300 bytes a row. Few rows are read whole, many by column.
    """
    where = events.rows(start, stop)
    table = events.table
    if isinstance(where, np.ndarray):  # an unsorted table (not something CL writes): the matching rows
        rows = table.read_coordinates(where)
        return rows["timestamp"], rows["channel"]
    i, j = where
    if j - i <= _FIELD_READ_ROWS:
        rows = table.read(i, j)
        return rows["timestamp"], rows["channel"]
    return table.read(i, j, field="timestamp"), table.read(i, j, field="channel")


class SpikeCursor:
    """The spike table read once from start to end, handed out a frame range at a time.

    For sorted tables (CL writes them in time order) the rows are read in large batches,
    whatever the frame ranges asked for: whole rows (waveforms included), which costs
    half as much as reading the two columns one by one (see :func:`spike_columns`); an
    unsorted table falls back to a search per range.

    Examples
    --------
    >>> cursor = SpikeCursor(source_spikes(view))     # doctest: +SKIP
    >>> ts, channels = cursor.take(0, 25_000)          # doctest: +SKIP
    >>> ts, channels = cursor.take(25_000, 50_000)     # the next second, from the rows already read  # doctest: +SKIP
    """

    _BATCH = 1 << 15  # rows: 10 MB of CL spike rows

    def __init__(self, events: EventTable):
        self.events = events
        self.n = len(events)
        self.sorted = not isinstance(events.rows(None, 1 << 62), np.ndarray)
        self.next_row = 0
        self.ts = np.empty(0, dtype=np.int64)
        self.ch = np.empty(0, dtype=np.uint8)

    def take(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Timestamps and channels of the spikes in ``[start, stop)`` (ranges asked in increasing order)."""
        if not self.sorted:
            return spike_columns(self.events, start, stop)
        table = self.events.table
        while self.next_row < self.n and (self.ts.size == 0 or self.ts[-1] < stop):
            j = min(self.n, self.next_row + self._BATCH)
            rows = table.read(self.next_row, j)
            ts, ch = rows["timestamp"].astype(np.int64), rows["channel"].copy()
            self.ts = np.concatenate([self.ts, ts]) if self.ts.size else ts
            self.ch = np.concatenate([self.ch, ch]) if self.ch.size else ch
            self.next_row = j
        k = int(np.searchsorted(self.ts, stop, side="left"))
        ts, ch = self.ts[:k], self.ch[:k]
        self.ts, self.ch = self.ts[k:], self.ch[k:]
        keep = ts >= start  # (rows before the first range: negative timestamps)
        return (ts, ch) if keep.all() else (ts[keep], ch[keep])


def last_spike(events: EventTable | None) -> int:
    """The frame of the latest spike (``-1`` when there are none)."""
    if events is None or len(events) == 0:
        return -1
    n = len(events)
    where = events.rows(None, 1 << 62)  # also learns whether the table is sorted
    if isinstance(where, np.ndarray):  # unsorted (not something CL writes): scan for the maximum
        step = 1 << 20
        return max(int(events.table.read(a, min(n, a + step), field="timestamp").max()) for a in range(0, n, step))
    return int(events.table.read(n - 1, n, field="timestamp")[0])
