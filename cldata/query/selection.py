"""What a view shows, as a value: the :class:`Selection` every query takes and returns.

A store's catalog numbers its entries by row (recordings in one table, analysis results in
another). A selection names a subset of those rows and how they are read:

- ``recordings`` and ``results``: the rows shown, sorted; ``None`` means *every live row of the
  catalog*, whatever it holds when asked (the selection of a whole store, which grows as the
  store does, and which a query answers from the catalog's indexes alone);
- ``streams``: which data streams show (a :class:`StreamSelection`; ``None``: all);
- ``window``: the part of each recording that reads return (a
  :class:`~cldata.core.window.TimeWindow`; empty: whole recordings).

A query is a pure function ``(catalog, selection, ...) -> selection`` (a list of selections
for a partition): it opens no file and knows no store, so it can be run and tested on a
catalog built in memory. A store view (:class:`cldata.DataStoreView`) is a store plus a
selection; its chain methods apply these functions. :class:`CatalogView` pairs a catalog
with a selection without any store, and offers what the query functions' view-level forms
(``param_filter_query(view, ...)``) need: ``catalog``, ``selection`` and ``with_selection``.

Examples
--------
>>> from cldata.model.catalog import Catalog
>>> sel = Selection.everything()
>>> sel.recording_rows(Catalog())
()
>>> Selection.of(recordings=[3, 1, 3]).recordings
(1, 3)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

from cldata.core.window import TimeWindow
from cldata.model.catalog import Catalog
from cldata.model.engines.rowset import RowSet
from cldata.model.entries import RecordingEntry, ResultEntry

__all__ = ["Selection", "StreamSelection", "CatalogView", "Selectable", "rows_tuple", "KEEP"]

#: a marker for "keep this part as it is" in :meth:`Selection.derive`
KEEP: Any = object()


def rows_tuple(rows: Iterable[int]) -> tuple[int, ...]:
    """Catalog rows as a sorted tuple without repeats (a :class:`RowSet` is both already)."""
    if isinstance(rows, RowSet):
        return tuple(rows.rows.tolist())
    return tuple(sorted(set(rows)))


class StreamSelection:
    """Which data streams a view shows: by name, and optionally per recording.

    ``names`` is the set of visible names (``None``: any); ``per_recording`` maps a
    recording row to the names visible in that recording, when a query on stream
    attributes made visibility differ between recordings. Immutable: its parts are
    read-only properties.

    Examples
    --------
    >>> s = StreamSelection(["score", "ball"])
    >>> s.visible(0, "score"), s.visible(0, "other")
    (True, False)
    >>> s.intersect(StreamSelection(["score"]))
    ['score']
    """

    __slots__ = ("_names", "_per_recording")

    def __init__(self, names: Iterable[str] | None = None, per_recording: Mapping[int, Iterable[str]] | None = None):
        self._names = None if names is None else frozenset(names)
        self._per_recording = None if per_recording is None else {r: frozenset(v) for r, v in per_recording.items()}

    @property
    def names(self) -> frozenset[str] | None:
        return self._names

    @property
    def per_recording(self) -> Mapping[int, frozenset[str]] | None:
        return self._per_recording

    def __reduce__(self) -> tuple:
        return (StreamSelection, (self._names, self._per_recording))

    def visible(self, row: int, name: str) -> bool:
        """Whether stream ``name`` shows in the recording at ``row``."""
        if self._names is not None and name not in self._names:
            return False
        if self._per_recording is not None and name not in self._per_recording.get(row, ()):
            return False
        return True

    def intersect(self, other: StreamSelection | None) -> StreamSelection:
        """The streams both selections show."""
        if other is None:
            return self
        names = other.names if self._names is None else (self._names if other.names is None else self._names & other.names)
        mine, theirs = self._per_recording, other.per_recording
        if mine is None or theirs is None:
            per = mine if theirs is None else theirs
        else:
            per = {r: v & theirs[r] for r, v in mine.items() if r in theirs}
        return StreamSelection(names, per)

    def rebased(self, rows: Mapping[int, int | None]) -> StreamSelection:
        """The same selection with recording rows renumbered (``rows``: old row -> new row or ``None``)."""
        if self._per_recording is None:
            return self
        return StreamSelection(self._names, {rows[r]: v for r, v in self._per_recording.items()
                                             if rows.get(r) is not None})

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, StreamSelection)
                and (self._names, self._per_recording) == (other.names, other.per_recording))

    def __hash__(self) -> int:
        return hash(self._names)

    def __repr__(self) -> str:
        if self._per_recording is None:
            return repr(sorted(self._names)) if self._names is not None else "all"
        return f"{sorted(self._names) if self._names is not None else 'any'} (by attributes)"


@dataclass(frozen=True)
class Selection:
    """Rows of a catalog, the streams and the time window through which they are read (see module doc).

    Make one with :meth:`of` (which sorts rows and accepts any iterable) or
    :meth:`everything`; change one with :meth:`derive`, which returns a new selection.

    Examples
    --------
    >>> import quantities as pq
    >>> from cldata.model.catalog import Catalog
    >>> part = Selection.everything().derive(Catalog(), window=TimeWindow(0, 10))
    >>> part.recordings, part.window
    ((), TimeWindow(0, 10))
    """

    recordings: tuple[int, ...] | None = None
    results: tuple[int, ...] | None = None
    streams: StreamSelection | None = None
    window: TimeWindow = field(default_factory=TimeWindow)

    @classmethod
    def everything(cls) -> Selection:
        """Every live entry of the catalog, whole, with every stream."""
        return cls()

    @classmethod
    def of(cls, recordings: Iterable[int] | None = None, results: Iterable[int] | None = None,
           streams: StreamSelection | None = None, window: Any = None) -> Selection:
        """A selection from rows in any order (``None``: every live row), a stream selection and a
        window (a :class:`TimeWindow`, a ``(start, stop)`` pair or ``None``)."""
        return cls(None if recordings is None else rows_tuple(recordings),
                   None if results is None else rows_tuple(results), streams, TimeWindow.of(window))

    def derive(self, catalog: Catalog, *, recordings: Any = KEEP, results: Any = KEEP,
               streams: Any = KEEP, window: Any = KEEP) -> Selection:
        """A new selection with some parts replaced.

        Rows kept from a selection of everything become the catalog's live rows now: a part
        of a store stays what it was when it was made, however the store grows.
        """
        return Selection.of(
            self.recording_rows(catalog) if recordings is KEEP else recordings,
            self.result_rows(catalog) if results is KEEP else results,
            self.streams if streams is KEEP else streams,
            self.window if window is KEEP else window,
        )

    @property
    def is_everything(self) -> bool:
        """Whether this is the selection of a whole catalog (rows not fixed, no stream or time limit)."""
        return (self.recordings is None and self.results is None and self.streams is None
                and self.window.is_everything)

    # -- rows --------------------------------------------------------------------------------

    def recording_rows(self, catalog: Catalog) -> tuple[int, ...]:
        """The recording rows shown (those of removed entries included: their entry is ``None``)."""
        return tuple(catalog.live_recording_rows()) if self.recordings is None else self.recordings

    def result_rows(self, catalog: Catalog) -> tuple[int, ...]:
        """The result rows shown (those of removed entries included)."""
        return tuple(catalog.live_result_rows()) if self.results is None else self.results

    @cached_property
    def within_recordings(self) -> frozenset[int] | None:
        """The recording rows as a set, or ``None`` for every live row (queries then use the index alone)."""
        return None if self.recordings is None else frozenset(self.recordings)

    @cached_property
    def within_results(self) -> frozenset[int] | None:
        """The result rows as a set, or ``None`` for every live row."""
        return None if self.results is None else frozenset(self.results)

    def recording_entries(self, catalog: Catalog) -> Iterator[tuple[int, RecordingEntry]]:
        """``(row, entry)`` of every recording shown that is still in the catalog."""
        for r in self.recording_rows(catalog):
            entry = catalog.recordings[r]
            if entry is not None:
                yield r, entry

    def result_entries(self, catalog: Catalog) -> dict[int, ResultEntry]:
        """``row -> entry`` of every result shown that is still in the catalog (read in batches)."""
        return catalog.result_entries(self.result_rows(catalog))

    def live_result_rows(self, catalog: Catalog) -> list[int]:
        """The result rows shown whose entries are still in the catalog."""
        return list(self.result_entries(catalog))

    def recording_ids(self, catalog: Catalog) -> list[str]:
        """The ids of the recordings shown, in the order they were added."""
        return [e.id for _, e in self.recording_entries(catalog)]

    def rebased(self, old: Catalog, new: Catalog) -> Selection:
        """The same entries in a reloaded catalog (found again by id; entries gone drop out).

        A view's identity is its entries' ids: after a store's refresh or rollback, its rows
        may number other entries.
        """
        if old is new or (self.recordings is None and self.results is None):
            return self
        recs = {r: new.recording_rows.get(e.id) for r in self.recording_rows(old)
                if (e := old.recordings[r]) is not None}
        results = [new.result_rows.get(e.id) for r in self.result_rows(old) if (e := old.results[r]) is not None]
        return Selection.of((r for r in recs.values() if r is not None), (r for r in results if r is not None),
                            None if self.streams is None else self.streams.rebased(recs), self.window)


class Selectable(Protocol):
    """What the view-level query functions work on: a catalog seen through a selection.

    :class:`cldata.DataStoreView` (and a store) and :class:`CatalogView` are such objects.
    """

    @property
    def catalog(self) -> Catalog: ...

    @property
    def selection(self) -> Selection: ...

    def with_selection(self, selection: Selection) -> Any: ...


@dataclass(frozen=True)
class CatalogView:
    """A catalog seen through a selection, with no store: what queries need, and nothing else.

    The query functions (``param_filter_query(view, ...)`` and the others) take and return
    these as they do store views, so a query can be run and tested on a catalog built in memory.

    Examples
    --------
    >>> from cldata.model.catalog import Catalog
    >>> from cldata.query import tag_based_query
    >>> tag_based_query(CatalogView(Catalog()), "final").selection.results
    ()
    """

    catalog: Catalog
    selection: Selection = field(default_factory=Selection.everything)

    def with_selection(self, selection: Selection) -> CatalogView:
        return CatalogView(self.catalog, selection)
