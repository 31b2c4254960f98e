"""Reading data streams of a CL recording: ``DataStreamView`` and ``DataStreamCollection``.

A data stream is an index table (``timestamp``, ``start_index``, ``end_index``) and a byte
array holding the msgpack entries end to end. A :class:`DataStreamView` is a stream and a
time window; every view of one stream shares its store
(:class:`cldata.format.stream_store.StreamStore`: the index, bisected on disk while it can
be (:mod:`cldata.format.stream_index`) or loaded whole, and a cache of the bytes), so a
windowed view costs nothing more. Ranges of entries (``keys()``, ``values()``, ``items()``,
``*_for_range``) are lazy views (:mod:`cldata.format.stream_ranges`): iterating one reads
its index rows a block at a time and decodes a bounded number of entries at a time, so
memory stays at a block and a chunk of values whatever the length.

Untidy indexes
--------------
The CL format promises index rows in timestamp order, and cldata's writer keeps that
promise. The official CL simulator does not always: when an application appends quickly,
its writer is lapped by its ring buffer and writes a block of earlier rows again after
the last one. cldata reads such streams as the CL reader does, and answers lookups by
time correctly (docs/READER-TOLERANCE.md):

- **in file order**: ``len(stream)``, ``keys()``, ``values()``, ``items()`` and iteration
  of a whole stream give every index row as it is in the file, repeats included (the CL
  reader's numbers);
- **by time**: ``stream[ts]``, ``*_for_range``, ``stream[a:b]``, :meth:`~DataStreamView.read`,
  :attr:`~DataStreamView.timestamps`, windowed views (``between``) and everything built on
  them (``to_columns``, follow's replay, analyses) give each *entry* whose timestamp is in
  the range, in timestamp order: rows that repeat an earlier row exactly (same timestamp,
  same bytes) are one entry. Two rows with the same timestamp and *different* bytes are
  ambiguous: a lookup that meets that timestamp raises
  :class:`~cldata.errors.AmbiguousEntryError` naming both rows.

Reading such a stream gives one :class:`~cldata.errors.UntidyIndexWarning` per stream and
file, when cldata first sees the disorder (a lookup loads the index of an unmarked file and
checks it; iteration checks the rows it reads). A stream in order costs nothing more: the
index is checked as it is read, and lookups use it as it is.

Examples
--------
>>> import cldata
>>> rec = cldata.RecordingView(cldata.example_recording())  # doctest: +SKIP
>>> score = rec.data_streams["score"]                       # doctest: +SKIP
>>> len(score), score[1], list(score.keys_for_range(0, 3))  # doctest: +SKIP
(4, 0, [1, 2])
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import tables

from cldata.core.display import html_table, plural, short, window_text
from cldata.core.window import TimeWindow
from cldata.errors import InvalidDataError
from cldata.format.attributes import AttributesView, read_attributes
from cldata.format.stream_index import UntidyIndex, stream_problem
from cldata.format.stream_ranges import DataStreamItemsView, DataStreamKeysView, DataStreamValuesView, take
from cldata.format.stream_store import StreamStore

# UntidyIndex and stream_problem: importable from here as in 0.2
__all__ = ["DataStreamView", "DataStreamCollection", "UntidyIndex", "stream_problem", "stream_attributes"]


def stream_attributes(group: tables.Group, source: str, notes: Callable[[str, str], None] | None) -> dict[str, Any]:
    """A stream group's attributes (none at all is said once through ``notes``)."""
    attrs = read_attributes(group, source)
    if not attrs and notes is not None:
        # every CL writer gives a stream its ``name`` and ``application``; none at all is a
        # stream written by other means, or attribute messages HDF5 could not list
        notes(f"stream-attributes/{group._v_pathname}",
              f"data stream {group._v_pathname} has no attributes that HDF5 can list (CL writes 'name' and "
              "'application': it was written by other means, or its attribute messages are damaged); cldata "
              f"names it {group._v_name!r}, after its group, with no attributes")
    return attrs


class DataStreamView:
    """Read-only access to one data stream, optionally restricted to a time window.

    The CL surface: ``len(stream)``, ``keys()``, ``values()``, ``items()``, ``stream[ts]``
    (``KeyError`` if no entry has that timestamp), ``stream[a:b]`` (the values in
    ``[a, b)``), ``keys_for_range / values_for_range / items_for_range(a, b)`` (``b``
    exclusive, ``None`` for open ends) and ``attributes`` (``name``, ``application``).

    Beyond CL: :attr:`timestamps` as a numpy array, :meth:`read` for bulk decoding,
    :meth:`to_columns` / :meth:`to_dataframe` for entries that are dicts of scalars, and
    :meth:`between` for a windowed view. Times are frames (int) or time quantities.

    Examples
    --------
    >>> rec = cldata.RecordingView(path)                       # doctest: +SKIP
    >>> ball = rec.data_streams["ball_position"]               # doctest: +SKIP
    >>> ball.timestamps[:3]                                    # doctest: +SKIP
    array([ 5,  8, 11])
    >>> ball.to_dataframe().head(2)                            # doctest: +SKIP
               x      y    hit
    timestamp
    5        0.0  200.0   True
    8        0.5  199.0  False
    """

    def __init__(
        self,
        group: tables.Group,
        frames_per_second: float,
        *,
        source: str = "",
        window: tuple[Any, Any] | None = None,
        _store: StreamStore | None = None,
        _attributes: AttributesView | None = None,
        _name: str | None = None,
        notes: Callable[[str, str], None] | None = None,
    ):
        self._fps = frames_per_second
        self._store = _store if _store is not None else StreamStore(group, source, notes)
        self.attributes = (_attributes if _attributes is not None
                           else AttributesView(stream_attributes(group, source, notes)))
        self.name: str = _name if _name is not None else str(self.attributes.get("name", group._v_name))
        self._window = TimeWindow.of(window).frames(frames_per_second)
        self._bounds: tuple[int, int, int] | None = None  # (store epoch, first, stop)

    # -- positions -----------------------------------------------------------------------

    def _stable(self, fn: Callable[[], Any]) -> Any:
        """``fn()``, asked again if the positions it used were voided meanwhile: a loaded index
        found out of order after lookups on disk (``StreamStore.epoch`` moves once at most)."""
        if self._store.loaded:  # (the index is loaded: positions are final)
            return fn()
        while True:
            epoch = self._store.epoch
            try:
                result = fn()
            except Exception:
                if self._store.epoch != epoch:
                    continue
                raise
            if self._store.epoch == epoch:
                return result

    def _rows(self) -> tuple[int, int]:
        store = self._store
        if self._bounds is None or self._bounds[0] != store.epoch:
            def bounds() -> tuple[int, int]:
                a, b = self._window
                lo = 0 if a is None else store.find(a)
                hi = store.size() if b is None else store.find(b)
                return lo, max(lo, hi)

            lo, hi = self._stable(bounds)
            self._bounds = (store.epoch, lo, hi)
        return self._bounds[1], self._bounds[2]

    def _range_rows(self, start: Any, stop: Any) -> tuple[int, int]:
        a, b = TimeWindow(start, stop).frames(self._fps)

        def rows() -> tuple[int, int]:
            lo, hi = self._rows()
            i = lo if a is None else max(lo, self._store.find(a))
            j = hi if b is None else min(hi, self._store.find(b))
            return i, max(i, j)

        return self._stable(rows)

    @property
    def store(self) -> StreamStore:
        """The stream's index and bytes, shared by every view of it (:class:`~cldata.format.stream_store.StreamStore`)."""
        return self._store

    @property
    def window(self) -> tuple[int | None, int | None]:
        """The ``[start, stop)`` frame window this view is restricted to (``None`` = open)."""
        return self._window

    def between(self, start: Any = None, stop: Any = None) -> DataStreamView:
        """A view of the entries in ``[start, stop)``, within this view's own window.

        Examples
        --------
        >>> first_tenth = ball.between(0, 0.1 * pq.s)          # doctest: +SKIP
        """
        window = TimeWindow.from_frames(self._window) & TimeWindow(start, stop)
        return DataStreamView(
            None,  # type: ignore[arg-type]
            self._fps,
            window=window,
            _store=self._store,
            _attributes=self.attributes,
            _name=self.name,
        )

    # -- CL surface ----------------------------------------------------------------------

    def _all(self) -> tuple[int, int, bool]:
        # the CL surface of a whole stream is its index rows in file order (the CL reader's
        # numbers, repeats included; on an index in order, its entries): read without loading
        # the index. Of a windowed view: the entries in the window, by time
        if self._window == (None, None):
            return 0, self._store.nrows, False
        return (*self._rows(), True)

    def __len__(self) -> int:
        lo, hi, _ = self._all()
        return hi - lo

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        return iter(self.items())

    def keys(self) -> DataStreamKeysView:
        """All timestamps (frames) in the view (of a whole untidy stream: every index row, in file order)."""
        return DataStreamKeysView(self._store, *self._all())

    def values(self) -> DataStreamValuesView:
        """All decoded values in the view, read lazily (of a whole untidy stream: every index row, in file order)."""
        return DataStreamValuesView(self._store, *self._all())

    def items(self) -> DataStreamItemsView:
        """All ``(timestamp, value)`` pairs in the view, read lazily (of a whole untidy stream: every index
        row, in file order)."""
        return DataStreamItemsView(self._store, *self._all())

    @property
    def untidy(self) -> UntidyIndex | None:
        """What is out of order in this stream's index (``None`` when it is in order). Loads the index."""
        self._store.arrays()
        return self._store.untidy

    def keys_for_range(self, start: Any, stop: Any) -> DataStreamKeysView:
        """Timestamps in ``[start, stop)``."""
        return self._stable(lambda: DataStreamKeysView(self._store, *self._range_rows(start, stop)))

    def values_for_range(self, start: Any, stop: Any) -> DataStreamValuesView:
        """Values of the entries in ``[start, stop)``."""
        return self._stable(lambda: DataStreamValuesView(self._store, *self._range_rows(start, stop)))

    def items_for_range(self, start: Any, stop: Any) -> DataStreamItemsView:
        """``(timestamp, value)`` pairs of the entries in ``[start, stop)``."""
        return self._stable(lambda: DataStreamItemsView(self._store, *self._range_rows(start, stop)))

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice):
            if key.step is not None:
                raise TypeError("data-stream slices take no step: use stream[start:stop]")
            return self.values_for_range(key.start, key.stop)
        if isinstance(key, (numbers.Integral, np.integer)) and not isinstance(key, (bool, np.bool_)):
            if self._store.loaded:
                return self._entry(int(key))
            return self._stable(lambda: self._entry(int(key)))
        raise TypeError(f"data streams are indexed by an int timestamp or a slice, not {type(key).__name__}")

    def _entry(self, key: int) -> Any:
        lo, hi = self._rows()
        store = self._store
        if store.loaded:  # (the index is loaded: the shortest path, for warm lookups)
            ts, starts, ends = store.entries_by_time  # type: ignore[misc]
            i = int(np.searchsorted(ts, key, side="left"))
            if i < lo or i >= hi or ts[i] != key:
                raise KeyError(key)
            store.check_unambiguous(i, i + 1)
            store.check_readable(i, i + 1)
            return store.decode_span_of(ts, starts, ends, i, i + 1)[0]
        i = store.find(key)
        if i < lo or i >= hi:
            raise KeyError(key)
        cols = store.span(i, i + 1)
        if cols[0][0] != key:
            raise KeyError(key)
        store.check_unambiguous(i, i + 1)
        return store.decode_rows(i, i + 1, cols=cols)[0]

    def __contains__(self, key: Any) -> bool:
        try:
            self[key]
        except (KeyError, TypeError):
            return False
        return True

    # -- beyond CL -----------------------------------------------------------------------

    @property
    def timestamps(self) -> np.ndarray:
        """The timestamps (frames) of every entry in the view, as an int64 array, in time order
        (a row that repeats another exactly is one entry)."""
        return self._stable(lambda: self._store.span(*self._rows())[0].copy())

    def read(self, start: Any = None, stop: Any = None) -> tuple[np.ndarray, list[Any]]:
        """Decode every entry in ``[start, stop)`` at once: ``(timestamps, values)``.

        Examples
        --------
        >>> ts, values = ball.read(0, 100)                     # doctest: +SKIP
        """
        def read() -> tuple[np.ndarray, list[Any]]:
            i, j = self._range_rows(start, stop)
            self._store.check_unambiguous(i, j)
            cols = self._store.span(i, j)
            return cols[0].copy(), self._store.decode_rows(i, j, cols=cols)

        return self._stable(read)

    def read_thinned(self, start: Any = None, stop: Any = None,
                     limit: int = 5000) -> tuple[np.ndarray, list[Any], bool]:
        """At most ``limit`` entries of ``[start, stop)``, evenly spread: ``(timestamps, values, thinned)``.

        ``thinned`` says the window holds more than ``limit`` entries; then only the ones kept
        are decoded (a plot of a long stream costs ``limit`` entries, whatever the window).

        Examples
        --------
        >>> ts, values, thinned = ball.read_thinned(0, 25_000 * 3600, limit=2000)   # doctest: +SKIP
        """
        if not isinstance(limit, (int, np.integer)) or isinstance(limit, bool) or limit < 1:
            raise ValueError(f"limit must be a whole number >= 1, not {limit!r}")

        def read() -> tuple[np.ndarray, list[Any], bool]:
            i, j = self._range_rows(start, stop)
            store = self._store
            store.check_unambiguous(i, j)
            cols = store.span(i, j)
            if j - i <= limit:
                return cols[0].copy(), store.decode_rows(i, j, cols=cols), False
            store.check_readable(i, j)
            picks = np.linspace(0, j - i - 1, int(limit)).astype(np.int64)  # (distinct: j - i > limit)
            ts, starts, ends = cols
            return ts[picks].copy(), [store.decode_span_of(ts, starts, ends, int(r), int(r) + 1)[0]
                                      for r in picks], True

        return self._stable(read)

    def to_columns(self, start: Any = None, stop: Any = None) -> dict[str, np.ndarray]:
        """Entries that are dicts of scalars, as ``{"timestamp": array, key: array, ...}``.

        Keys missing from some entries are filled with ``None`` (the column then has
        dtype object).

        Raises
        ------
        cldata.errors.InvalidDataError
            If an entry is not a dict, or holds a list, dict or array.
        """
        ts, values = self.read(start, stop)
        keys: dict[Any, None] = {}
        for t, v in zip(ts.tolist(), values):
            if not isinstance(v, dict):
                raise InvalidDataError(
                    f"entry at timestamp {t} of stream {self.name!r} is a {type(v).__name__}, "
                    "not a dict of scalars; use read() or items() for such streams"
                )
            for k, x in v.items():
                if isinstance(x, (dict, list, tuple, np.ndarray)) and not (isinstance(x, np.ndarray) and x.ndim == 0):
                    raise InvalidDataError(
                        f"entry at timestamp {t} of stream {self.name!r} holds a {type(x).__name__} "
                        f"under {k!r}; to_columns() needs dicts of scalars"
                    )
                keys.setdefault(k, None)
        columns = {"timestamp": ts}
        for k in keys:
            column = [v.get(k) for v in values]
            name = k if isinstance(k, str) else str(k)
            columns[name] = np.array(column, dtype=object) if any(c is None for c in column) else np.array(column)
        return columns

    def to_dataframe(self, start: Any = None, stop: Any = None):
        """The :meth:`to_columns` table as a pandas DataFrame indexed by timestamp.

        Needs pandas (``pip install cldata[pandas]``).
        """
        try:  # why here: pandas is optional (cldata[pandas]) and slow to import
            import pandas as pd
        except ImportError:
            raise ImportError("to_dataframe() needs pandas: pip install 'cldata[pandas]'") from None
        columns = self.to_columns(start, stop)
        index = pd.Index(columns.pop("timestamp"), name="timestamp")
        return pd.DataFrame(columns, index=index)

    def __repr__(self) -> str:
        w = "" if self._window == (None, None) else f", window {window_text(self._window, self._fps)}"
        return f"<DataStreamView {self.name!r}: {plural(len(self), 'entry', 'entries')}{w}>"

    def _repr_html_(self) -> str:
        n = len(self)
        shown = 10
        rows = [[ts, f"{ts / self._fps:.6g}", short(value, 120)] for ts, value in take(iter(self.items()), shown)]
        w = "" if self._window == (None, None) else f", window {window_text(self._window, self._fps)}"
        return html_table(f"DataStreamView {self.name!r}: {plural(n, 'entry', 'entries')}{w}",
                          ["timestamp (frame)", "time (s)", "value"] if rows else [], rows, more=max(0, n - shown))


class DataStreamCollection(Mapping):
    """The data streams of a recording, by name (sorted), as the CL reader offers them.

    Indexing (``streams["score"]``) and attribute access (``streams.score``) both work.
    """

    def __init__(self, streams: dict[str, DataStreamView]):
        self._streams = dict(sorted(streams.items()))

    def __getitem__(self, name: str) -> DataStreamView:
        try:
            return self._streams[name]
        except KeyError:
            raise KeyError(f"no data stream {name!r}; the recording has {list(self._streams)}") from None

    def __getattr__(self, name: str) -> DataStreamView:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._streams[name]
        except KeyError:
            raise AttributeError(f"no data stream {name!r}; the recording has {list(self._streams)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._streams)

    def __len__(self) -> int:
        return len(self._streams)

    def between(self, start: Any = None, stop: Any = None) -> DataStreamCollection:
        """The same streams, each restricted to ``[start, stop)``."""
        return DataStreamCollection({k: v.between(start, stop) for k, v in self._streams.items()})

    def __repr__(self) -> str:
        body = "".join(f"\n    {name}: {plural(len(view), 'entry', 'entries')}" for name, view in self._streams.items())
        return f"Data Streams:{body}"

    def _repr_html_(self) -> str:
        return html_table(f"Data streams ({len(self)})", ["stream", "entries", "application"],
                          [[name, len(view), str(view.attributes.get("application", ""))]
                           for name, view in self._streams.items()])
