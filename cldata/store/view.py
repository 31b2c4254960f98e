"""``DataStoreView``: an immutable subset of a store, and ``RecordingHandle``: one recording in it.

A view holds only row numbers of the store's catalog (recordings and results), the names
of the data streams it shows (``None``: all), and an optional time window. Making one
copies no data and opens no file; reading through it (segments, streams, spikes,
results' payloads) honours its window and stream selection. Every query takes a view and
returns a new view (see :mod:`cldata.query`); the full :class:`~cldata.DataStore` is
itself a view of everything.

A view shows itself in words (``<DataStoreView: 1 recording, 3 analysis results, window
0–2 s>``), as a table in a notebook (a windowed view's table gives the window and the counts
within it), and as pandas DataFrames: :meth:`DataStoreView.recordings_frame` and
:meth:`DataStoreView.results_frame`.

Examples
--------
>>> store = cldata.open("my-store")                                    # doctest: +SKIP
>>> part = store.filter(culture="C7").streams("score").between(0, 2 * pq.s)  # doctest: +SKIP
>>> [r.id for r in part.recordings]                                    # doctest: +SKIP
['rec-3f0c...']
>>> part.data_streams["score"]                                         # doctest: +SKIP
{'rec-3f0c...': <DataStreamView 'score': 12 entries, window 0–2 s>}
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from cldata.core.display import flatten, html_fields, html_table, no_pandas, plural, seconds, short, window_text
from cldata.core.timebase import to_window
from cldata.errors import (
    CldataError,
    ForeignViewError,
    NotFoundError,
    OverviewError,
    ParameterError,
    StaleOverviewError,
    UnsafeContentError,
)
from cldata.model.catalog import RecordingEntry, ResultEntry
from cldata.model.engines.rowset import RowSet

if TYPE_CHECKING:  # pragma: no cover
    import neo

    from cldata.format.reader import RecordingView
    from cldata.format.streams import DataStreamView
    from cldata.model.results import AnalysisResult
    from cldata.store.datastore import DataStore

__all__ = ["DataStoreView", "RecordingHandle"]

Window = tuple[Any, Any] | None


class StreamSelection:
    """Which data streams a view shows: by name, and optionally per recording.

    ``names`` is the set of visible names (``None``: any); ``per_recording`` maps a
    recording row to the names visible in that recording, when a query on stream
    attributes made visibility differ between recordings.
    """

    __slots__ = ("names", "per_recording")

    def __init__(self, names: Iterable[str] | None = None, per_recording: Mapping[int, Iterable[str]] | None = None):
        object.__setattr__(self, "names", None if names is None else frozenset(names))
        object.__setattr__(self, "per_recording",
                           None if per_recording is None else {r: frozenset(v) for r, v in per_recording.items()})

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("stream selections are immutable")

    def __reduce__(self) -> tuple:
        return (StreamSelection, (self.names, self.per_recording))

    def visible(self, row: int, name: str) -> bool:
        if self.names is not None and name not in self.names:
            return False
        if self.per_recording is not None and name not in self.per_recording.get(row, ()):
            return False
        return True

    def intersect(self, other: StreamSelection | None) -> StreamSelection:
        if other is None:
            return self
        names = other.names if self.names is None else (self.names if other.names is None else self.names & other.names)
        if self.per_recording is None or other.per_recording is None:
            per = self.per_recording if other.per_recording is None else other.per_recording
        else:
            per = {r: v & other.per_recording[r] for r, v in self.per_recording.items() if r in other.per_recording}
        return StreamSelection(names, per)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StreamSelection) and (self.names, self.per_recording) == (other.names, other.per_recording)

    def __hash__(self) -> int:
        return hash(self.names)

    def __repr__(self) -> str:
        if self.per_recording is None:
            return repr(sorted(self.names)) if self.names is not None else "all"
        return f"{sorted(self.names) if self.names is not None else 'any'} (by attributes)"


def _combine_windows(outer: Window, inner: Window) -> Window:
    """The intersection of two windows given in frames or quantities (kept symbolic until read)."""
    if outer is None:
        return inner
    if inner is None:
        return outer
    return ("and", outer, inner)  # resolved per recording, which knows its frame rate


def resolve_window(window: Window, frames_per_second: float) -> tuple[int | None, int | None]:
    """A view's window in frames of one recording."""
    if window is None:
        return (None, None)
    if window[0] == "and":
        a1, b1 = resolve_window(window[1], frames_per_second)
        a2, b2 = resolve_window(window[2], frames_per_second)
        a = a1 if a2 is None else (a2 if a1 is None else max(a1, a2))
        b = b1 if b2 is None else (b2 if b1 is None else min(b1, b2))
        if a is not None and b is not None and b < a:
            b = a
        return a, b
    return to_window(window[0], window[1], frames_per_second)


class RecordingHandle:
    """One recording of a view: its id and parameters, and reads through the view's window.

    Attributes
    ----------
    id : str
        The recording's stable id in the store.
    parameters : Mapping
        User parameters merged with the file's root attributes (read-only).
    summary : Mapping
        Duration, rates and counts, known without opening the file.
    """

    __slots__ = ("_store", "_row", "_streams", "_window", "_catalog", "_id")

    def __init__(self, store: DataStore, row: int, streams: StreamSelection | None, window: Window):
        self._store, self._row, self._streams, self._window = store, row, streams, window
        self._catalog = store.catalog
        entry = store.catalog.recordings[row]
        self._id = entry.id if entry is not None else None

    @property
    def _entry(self) -> RecordingEntry:
        cat = self._store.catalog
        if self._catalog is not cat:
            # the store reloaded its catalog (refresh, rollback): find this recording by id
            row = cat.recording_rows.get(self._id) if self._id is not None else None
            if row is None:
                raise NotFoundError(f"recording {self._id} is no longer in the store")
            self._row, self._catalog = row, cat
        entry = cat.recordings[self._row]
        if entry is None:
            raise NotFoundError(f"recording {self._id} has been removed from the store")
        return entry

    @property
    def id(self) -> str:
        return self._entry.id

    @property
    def parameters(self) -> Mapping[str, Any]:
        return MappingProxyType(self._entry.parameters)

    @property
    def summary(self) -> Mapping[str, Any]:
        return MappingProxyType(self._entry.summary)

    @property
    def stream_names(self) -> list[str]:
        """The data streams visible through the view."""
        names = sorted(self._entry.streams)
        return names if self._streams is None else [n for n in names if self._streams.visible(self._row, n)]

    @property
    def frames_per_second(self) -> int:
        return int(self._entry.summary["frames_per_second"])

    @property
    def window(self) -> tuple[int | None, int | None]:
        """The view's window in this recording's frames."""
        return resolve_window(self._window, self.frames_per_second)

    @property
    def path(self):
        """The CL file (raises :class:`~cldata.errors.BrokenLinkError` if a link is broken)."""
        return self._store._recording_path(self._entry)

    def view(self) -> RecordingView:
        """The recording as a :class:`~cldata.RecordingView`, restricted to the view's window."""
        self._entry  # noqa: B018 - re-finds the row if the catalog was reloaded
        base = self._store._open_recording(self._row)
        window = self.window
        return base if window == (None, None) else base.between(*window)

    @property
    def data_streams(self) -> dict[str, DataStreamView]:
        """The visible data streams, by name, windowed."""
        streams = self.view().data_streams
        return {name: streams[name] for name in self.stream_names if name in streams}

    def overview(self, channels: Any = None, start: Any = None, stop: Any = None, width: int = 2000) -> Any:
        """A min/max envelope of the samples of about ``width`` points per channel, in µV.

        Any window, within the view's: the right level of the recording's pyramid is read,
        or the samples themselves when the window is short. See :mod:`cldata.overview`.

        Examples
        --------
        >>> env = rec.overview(channels=[0, 1], width=1000)          # doctest: +SKIP
        >>> env.minimum.shape, env.frames_per_point                  # doctest: +SKIP
        ((1000, 2), 90000)
        """
        return self._ask_overview(lambda ov: ov.envelope(channels=channels, start=start, stop=stop, width=width))

    def spike_activity(self, channels: Any = None, start: Any = None, stop: Any = None, width: int = 2000) -> Any:
        """Spike counts per channel in about ``width`` bins over any window (see :mod:`cldata.overview`)."""
        return self._ask_overview(lambda ov: ov.spike_counts(channels=channels, start=start, stop=stop, width=width))

    def _overview(self) -> Any:
        from cldata.overview import ensure_overview

        store = self._store
        # a read-only store reads its own overview but (re)builds into the user's cache: it writes
        # nothing inside its directory, even when that overview is stale or damaged
        return ensure_overview(self.view(), store.overview_path(self.id), rebuild_path=store.overview_build_path(self.id))

    def _ask_overview(self, ask: Any) -> Any:
        from cldata.overview import Overview, build_overview

        ov = self._overview()
        try:
            return ask(ov)
        except (OverviewError, UnsafeContentError) as exc:
            # (UnsafeContentError: a level array of pickled objects, refused before it was read)
            if isinstance(exc, StaleOverviewError):
                raise
            # a chunk failing its checksum, found only now that it was read: build the overview
            # afresh where this store may write (the cache, for a read-only store), and ask again
            ov.close()
            path = self._store.overview_build_path(self.id)
            warnings.warn(f"{exc}; it is built afresh at {path}", stacklevel=3)
            view = self.view()
            return ask(Overview(build_overview(view, path), view))

    def segment(self, lazy: bool = True, **kwargs: Any) -> neo.Segment:
        """The recording (within the window) as a :class:`neo.Segment`; lazy by default."""
        seg = self.view().segment(lazy=lazy, **kwargs)
        seg.annotate(recording_id=self.id)
        return seg

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RecordingHandle) and other._store is self._store and other._id == self._id

    def __hash__(self) -> int:
        return hash((id(self._store), self._id))

    def counts(self) -> dict[str, Any]:
        """Duration, spikes, stims and entries per visible stream, within the view's window.

        Without a window they come from the catalog (no file is opened); with one, the
        recording is opened and its events counted in the window.

        Examples
        --------
        >>> store.between(0, 1 * pq.s).recordings[0].counts()        # doctest: +SKIP
        {'duration_s': 1.0, 'spikes': 371, 'stims': 4, 'streams': {'ball_position': 100, 'score': 2}}
        """
        s = self._entry.summary
        if self._window is None:
            streams = s.get("streams", {})
            return {"duration_s": float(s.get("duration_s", 0)), "spikes": int(s.get("spikes", 0)),
                    "stims": int(s.get("stims", 0)),
                    "streams": {n: int(streams.get(n, 0)) for n in self.stream_names}}
        view = self.view()
        a, b = view.clipped_window
        tables = (view._spike_table, view._stim_table)
        spikes, stims = (t.count(a, b) if t is not None else 0 for t in tables)
        return {"duration_s": (b - a) / view.frames_per_second, "spikes": int(spikes), "stims": int(stims),
                "streams": {n: len(st) for n, st in self.data_streams.items()}}

    def _extent_text(self) -> str:
        """``"2 s"``, or ``"0–1 s of 2 s"`` through a window."""
        total = float(self._entry.summary.get("duration_s", 0))
        if self._window is None:
            return seconds(total)
        fps = self.frames_per_second
        a, b = resolve_window(self._window, fps)
        end = round(total * fps)
        a = 0 if a is None else min(max(a, 0), end)
        b = end if b is None else min(max(b, a), end)
        return f"{window_text((a, b), fps)} of {seconds(total)}"

    def __repr__(self) -> str:
        s = self._entry.summary
        counts = "" if self._window is not None else (
            f", {plural(s.get('spikes', 0), 'spike')}, {plural(s.get('stims', 0), 'stim')}")
        return (f"<Recording {self.id}: {self._extent_text()}, {plural(s.get('channel_count', 0), 'channel')}"
                f"{counts}, streams {self.stream_names}>")

    def _repr_html_(self) -> str:
        try:
            counts = self.counts()
        except (CldataError, OSError) as exc:  # a broken link: show what the catalog knows
            counts = {"spikes": f"? ({exc})", "stims": "?", "streams": {}}
        fields = {"id": self.id, "duration": self._extent_text(), "channels": self._entry.summary.get("channel_count"),
                  "spikes": counts["spikes"], "stims": counts["stims"]}
        fields.update({f"stream {n}": plural(k, "entry", "entries") for n, k in counts["streams"].items()})
        fields.update({k: short(v) for k, v in flatten(DataStoreView._shown_parameters(self, nested=True)).items()})
        return html_fields(f"Recording {self.id}", fields)


class DataStoreView:
    """An immutable subset of a :class:`~cldata.DataStore` (see module doc).

    Views are made by queries, not by hand. ``full_datastore`` is the store they belong to.
    Iteration order (recordings, results) is the order entries were added: deterministic.
    """

    __slots__ = ("full_datastore", "_rec_rows", "_res_rows", "_streams", "_window", "_sets", "_catalog")

    def __init__(
        self,
        store: DataStore,
        recording_rows: Iterable[int],
        result_rows: Iterable[int],
        streams: StreamSelection | None = None,
        window: Window = None,
    ):
        object.__setattr__(self, "full_datastore", store)
        object.__setattr__(self, "_rec_rows", tuple(sorted(set(recording_rows))))
        # (a RowSet, from an on-disk catalog, is sorted and unique already)
        object.__setattr__(self, "_res_rows", tuple(result_rows.rows.tolist()) if isinstance(result_rows, RowSet)
                           else tuple(sorted(set(result_rows))))
        object.__setattr__(self, "_streams", streams)
        object.__setattr__(self, "_window", window)
        object.__setattr__(self, "_sets", None)
        object.__setattr__(self, "_catalog", store.catalog)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("views are immutable: queries return new views")

    # -- internals used by queries -------------------------------------------------------------

    def _current(self) -> None:
        """Follow the store's catalog if it was reloaded (refresh, rollback): rows are found
        again by id, and entries no longer in the store drop out. A view's identity is its ids."""
        new = self.full_datastore.catalog
        old = self._catalog
        if old is new:
            return
        recs = {r: new.recording_rows.get(old.recordings[r].id) for r in self._rec_rows if old.recordings[r] is not None}
        results = [new.result_rows.get(old.results[r].id) for r in self._res_rows if old.results[r] is not None]
        streams = self._streams
        if streams is not None and streams.per_recording is not None:
            streams = StreamSelection(streams.names, {recs[r]: v for r, v in streams.per_recording.items()
                                                      if recs.get(r) is not None})
        set_ = object.__setattr__
        set_(self, "_rec_rows", tuple(sorted(r for r in recs.values() if r is not None)))
        set_(self, "_res_rows", tuple(sorted(r for r in results if r is not None)))
        set_(self, "_streams", streams)
        set_(self, "_sets", None)
        set_(self, "_catalog", new)

    def _recording_rows(self) -> tuple[int, ...]:
        self._current()
        return self._rec_rows

    def _result_rows(self) -> tuple[int, ...]:
        self._current()
        return self._res_rows

    def _row_sets(self) -> tuple[frozenset[int], frozenset[int]] | None:
        """The view's rows as sets (``None`` for the full store: every live row)."""
        self._current()
        if self._sets is None:
            object.__setattr__(self, "_sets", (frozenset(self._rec_rows), frozenset(self._res_rows)))
        return self._sets

    def _derive(self, *, recordings: Iterable[int] | None = None, results: Iterable[int] | None = None,
                streams: StreamSelection | None | str = "same", window: Any = "same") -> DataStoreView:
        """A new view of the same store with some parts replaced."""
        self._current()
        return DataStoreView(
            self.full_datastore,
            self._recording_rows() if recordings is None else recordings,
            self._result_rows() if results is None else results,
            self._streams if isinstance(streams, str) else streams,
            self._window if isinstance(window, str) else window,
        )

    def _check_same_store(self, other: DataStoreView) -> None:
        if other.full_datastore is not self.full_datastore:
            raise ForeignViewError("these views come from different stores and cannot be combined")

    @property
    def window(self) -> Window:
        """The time window of the view (as given to ``between``; ``None`` = whole recordings)."""
        return self._window

    @property
    def stream_selection(self) -> StreamSelection | None:
        """Which data streams the view shows (``None``: all)."""
        self._current()
        return self._streams

    # -- recordings -----------------------------------------------------------------------------

    @property
    def recordings(self) -> list[RecordingHandle]:
        """The recordings in the view, in the order they were added."""
        store = self.full_datastore
        rows = self._recording_rows()
        cat = store.catalog
        return [RecordingHandle(store, r, self._streams, self._window) for r in rows if cat.recordings[r] is not None]

    @property
    def recording_ids(self) -> list[str]:
        """The ids of the recordings in the view."""
        cat = self.full_datastore.catalog
        return [cat.recordings[r].id for r in self._recording_rows() if cat.recordings[r] is not None]  # type: ignore[union-attr]

    def recording(self, recording_id: str) -> RecordingHandle:
        """One recording of the view by id."""
        rows = self._recording_rows()
        row = self.full_datastore.catalog.recording_rows.get(recording_id)
        if row is None or row not in set(rows):
            raise NotFoundError(f"no recording {recording_id!r} in this view")
        return RecordingHandle(self.full_datastore, row, self._streams, self._window)

    def get_segments(self, lazy: bool = True, **kwargs: Any) -> list[neo.Segment]:
        """Every recording of the view as a neo Segment (windowed), lazily by default."""
        return [rec.segment(lazy=lazy, **kwargs) for rec in self.recordings]

    @property
    def data_streams(self) -> dict[str, dict[str, DataStreamView]]:
        """``stream name -> {recording id: DataStreamView}`` for every visible stream."""
        out: dict[str, dict[str, DataStreamView]] = {}
        for rec in self.recordings:
            for name, stream in rec.data_streams.items():
                out.setdefault(name, {})[rec.id] = stream
        return dict(sorted(out.items()))

    @property
    def stream_names(self) -> list[str]:
        """Names of the data streams visible in the view's recordings (from the catalog)."""
        cat = self.full_datastore.catalog
        names: set[str] = set()
        for r in self._recording_rows():
            entry = cat.recordings[r]
            if entry is not None:
                names.update(n for n in entry.streams if self._streams is None or self._streams.visible(r, n))
        return sorted(names)

    # -- analysis results ------------------------------------------------------------------------

    @property
    def analysis_results(self) -> list[AnalysisResult]:
        """The analysis results in the view (payloads load when first used)."""
        store = self.full_datastore
        cat = store.catalog
        out = []
        for entry in cat.result_entries(self._result_rows()).values():
            if entry is not None:
                result = store._result_object(entry)
                result._summary_hint = entry.summary  # its repr shows the value without reading the payload
                out.append(result)
        return out

    def get_analysis_result(self, **params: Any) -> list[AnalysisResult]:
        """Results of the view whose parameters match ``params`` (as :func:`param_filter_query`).

        ``identifier=`` and ``kind=`` select by identifier and result class name.

        Examples
        --------
        >>> store.get_analysis_result(identifier="firing_rate", window_s=1.0)   # doctest: +SKIP
        [<PerChannelValue firing_rate: 64 channels, Hz, window_s=1, from rec-...>]
        """
        from cldata.query.params import param_filter_query

        return param_filter_query(self, **params).analysis_results

    def _entries(self, kind: str) -> Iterator[RecordingEntry | ResultEntry]:
        cat = self.full_datastore.catalog
        if kind in ("recordings", "all"):
            for r in self._recording_rows():
                if cat.recordings[r] is not None:
                    yield cat.recordings[r]  # type: ignore[misc]
        if kind in ("results", "all"):
            yield from cat.result_entries(self._result_rows()).values()

    def parameter_values(self, name: str, kind: str = "all") -> list[Any]:
        """The distinct values of parameter ``name`` (a dotted path) in the view.

        ``kind`` is ``"recordings"``, ``"results"`` or ``"all"``. Values are returned in a
        stable order (sorted when they can be compared).
        """
        from cldata.core.canonical import canonical
        from cldata.model.catalog import MISSING, lookup

        if kind not in ("recordings", "results", "all"):
            raise ValueError(f"kind must be 'recordings', 'results' or 'all', not {kind!r}")
        seen: dict[Any, Any] = {}
        for entry in self._entries(kind):
            value = lookup(entry.parameters, name)
            if value is not MISSING:
                seen.setdefault(canonical(value), value)
        values = list(seen.values())
        try:
            return sorted(values)
        except TypeError:
            return sorted(values, key=repr)

    def export(self, path: Any, *, overwrite: bool = False, progress: bool = True) -> Any:
        """Write what this view shows to one self-contained file (:mod:`cldata.store.export`): its recordings cut to
        its window and stream selection, and the results that come from them.

        ``progress=False``: no progress bar (one shows only on a terminal, after a second).
        """
        from cldata.store.export import export_view

        return export_view(self, path, overwrite=overwrite, progress=progress)

    # -- chainable queries (the functions of cldata.query, as methods) -------------------------

    def filter(self, ads_unique: bool = False, rec_unique: bool = False, **kw: Any) -> DataStoreView:
        """Recordings and results matching every condition (:func:`~cldata.query.param_filter_query`).

        A parameter no entry of the store has raises :class:`~cldata.errors.UnknownParameterError`
        (with a "did you mean"); a known parameter with a value nothing has gives an empty view.

        Examples
        --------
        >>> store.filter(culture=["C7", "C8"], session=Range(2, 5))   # doctest: +SKIP
        """
        from cldata.query.params import param_filter_query

        return param_filter_query(self, ads_unique=ads_unique, rec_unique=rec_unique, **kw)

    def filter_recordings(self, rec_unique: bool = False, **kw: Any) -> DataStoreView:
        """Only the recordings filtered (:func:`~cldata.query.filter_recordings`)."""
        from cldata.query.params import filter_recordings

        return filter_recordings(self, rec_unique=rec_unique, **kw)

    def filter_results(self, ads_unique: bool = False, **kw: Any) -> DataStoreView:
        """Only the analysis results filtered (:func:`~cldata.query.filter_results`)."""
        from cldata.query.params import filter_results

        return filter_results(self, ads_unique=ads_unique, **kw)

    def streams(self, names: Any = None, **attributes: Any) -> DataStoreView:
        """Only the matching data streams (:func:`~cldata.query.streams.stream_query`).

        A name or pattern no recording of the store has raises
        :class:`~cldata.errors.UnknownStreamError` listing the store's streams (with a "did
        you mean"); a stream the store has but this view lacks gives an empty view.

        Examples
        --------
        >>> store.streams(["ball*", "score"]).stream_names   # doctest: +SKIP
        ['ball_position', 'score']
        """
        from cldata.query.streams import stream_query

        return stream_query(self, names, **attributes)

    def between(self, start: Any = None, stop: Any = None) -> DataStoreView:
        """Reads restricted to ``[start, stop)`` (:func:`~cldata.query.time.time_window_query`).

        A window holding no frame of any recording in the view warns
        (:class:`~cldata.errors.WindowOutsideRecordingsWarning`, with the recordings' durations).

        Examples
        --------
        >>> store.between(0, 2 * pq.s).recordings[0].window   # doctest: +SKIP
        (0, 50000)
        """
        from cldata.query.time import time_window_query

        return time_window_query(self, start, stop)

    def tagged(self, *tags: str, any: bool = False) -> DataStoreView:  # noqa: A002
        """Results carrying all the tags, or any of them (:func:`~cldata.query.tags.tag_based_query`).

        A tag no result of the store carries raises :class:`~cldata.errors.UnknownTagError`
        listing the store's tags (with a "did you mean").

        Examples
        --------
        >>> store.tagged("final", "draft", any=True).analysis_results   # doctest: +SKIP
        """
        from cldata.query.tags import tag_based_query

        return tag_based_query(self, tags, any=any)

    def partition_by(self, *names: str) -> list[DataStoreView]:
        """One view per distinct combination of values (:func:`~cldata.query.partitions.partition_by_parameters`)."""
        from cldata.query.partitions import partition_by_parameters

        return partition_by_parameters(self, names)

    def partition_results_by(self, *names: str, except_: bool = False) -> list[DataStoreView]:
        """Results grouped by their own parameters (:func:`~cldata.query.partitions.partition_results_by_parameters`)."""
        from cldata.query.partitions import partition_results_by_parameters

        return partition_results_by_parameters(self, names, except_=except_)

    def query(self, chain: Any) -> Any:
        """Apply a chain of queries given as ``[{"class": ..., "params": {...}}, ...]`` (or Query objects)."""
        from cldata.query.base import run_query_chain

        return run_query_chain(self, chain)

    # -- combining views ---------------------------------------------------------------------------

    def _combinable(self, other: Any, op: str) -> DataStoreView:
        if not isinstance(other, DataStoreView):
            raise TypeError(f"views combine only with views, not {type(other).__name__}")
        self._check_same_store(other)
        self._current()
        other._current()
        if op != "&" and (self._window != other._window or self._streams != other._streams):
            raise ParameterError(
                f"views with different time windows or stream selections cannot be combined with {op!r} "
                "(use & to intersect them, or apply between()/streams() after combining)"
            )
        return other

    def __or__(self, other: DataStoreView) -> DataStoreView:
        """Entries in either view."""
        other = self._combinable(other, "|")
        return self._derive(recordings=set(self._recording_rows()) | set(other._recording_rows()),
                            results=set(self._result_rows()) | set(other._result_rows()))

    def __and__(self, other: DataStoreView) -> DataStoreView:
        """Entries in both views; their windows and stream selections intersect."""
        other = self._combinable(other, "&")
        streams = other._streams if self._streams is None else self._streams.intersect(other._streams)
        window = self._window if self._window == other._window else _combine_windows(self._window, other._window)
        return self._derive(recordings=set(self._recording_rows()) & set(other._recording_rows()),
                            results=set(self._result_rows()) & set(other._result_rows()),
                            streams=streams, window=window)

    def __sub__(self, other: DataStoreView) -> DataStoreView:
        """Entries of this view that are not in ``other``."""
        other = self._combinable(other, "-")
        return self._derive(recordings=set(self._recording_rows()) - set(other._recording_rows()),
                            results=set(self._result_rows()) - set(other._result_rows()))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DataStoreView):
            return NotImplemented
        return (other.full_datastore is self.full_datastore
                and self.recording_ids == other.recording_ids
                and self._live_result_rows() == other._live_result_rows()
                and self._window == other._window and self._streams == other._streams)

    __hash__ = None  # type: ignore[assignment]

    # -- presentation -----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.recording_ids) + len(self._live_result_rows())

    def _live_result_rows(self) -> list[int]:
        # the entries are read in batches here (an on-disk catalog caches them for the caller's next look)
        return list(self.full_datastore.catalog.result_entries(self._result_rows()))

    def _result_groups(self) -> dict[str, int]:
        cat = self.full_datastore.catalog
        groups: dict[str, int] = {}
        for r in self._live_result_rows():
            entry = cat.results[r]
            key = f"{entry.kind} {entry.identifier!r}"  # type: ignore[union-attr]
            groups[key] = groups.get(key, 0) + 1
        return groups

    @staticmethod
    def _shown_parameters(rec: RecordingHandle, nested: bool = False) -> dict[str, Any]:
        # the user's and the application's parameters (and the file's own, such as a culture the
        # experimenter wrote into it), not the attributes the CL writer keeps for itself
        from cldata.format.layout import SYSTEM_ROOT_ATTRIBUTES

        hidden = set(rec.summary.get("root_keys", ())) & set(SYSTEM_ROOT_ATTRIBUTES)
        return {k: v for k, v in rec.parameters.items() if k not in hidden and (nested or not isinstance(v, Mapping))}

    def _frames_per_second(self) -> float | None:
        """The frame rate of the view's recordings when they share one (to show windows in s)."""
        cat = self.full_datastore.catalog
        rates = {cat.recordings[r].summary.get("frames_per_second") for r in self._recording_rows()
                 if cat.recordings[r] is not None}
        return rates.pop() if len(rates) == 1 else None

    def describe(self) -> str:
        """A plain-text summary of the view (what :meth:`print_content` prints)."""
        lines = [repr(self)]
        recs = self.recordings
        for rec in recs[:50]:
            params = self._shown_parameters(rec)
            shown = ", ".join(f"{k}={short(v)}" for k, v in list(params.items())[:6])
            lines.append(f"  {rec.id}  {rec._extent_text()}  streams {rec.stream_names}  {shown}")
        if len(recs) > 50:
            lines.append(f"  ... and {plural(len(recs) - 50, 'more recording')}")
        for key, n in self._result_groups().items():
            lines.append(f"  {n} x {key}")
        return "\n".join(lines)

    def print_content(self) -> None:
        """Print the recordings and a count of results by kind and identifier."""
        print(self.describe())

    def __repr__(self) -> str:
        w = "" if self._window is None else f", window {window_text(self._window, self._frames_per_second())}"
        s = "" if self._streams is None else f", streams {self._streams!r}"
        return (f"<{type(self).__name__}: {plural(len(self.recording_ids), 'recording')}, "
                f"{plural(len(self._live_result_rows()), 'analysis result')}{s}{w}>")

    def _repr_html_(self) -> str:
        recs = self.recordings
        rows = []
        for rec in recs[:100]:
            try:
                counts = rec.counts()
                spikes, streams = counts["spikes"], ", ".join(f"{n} ({k})" for n, k in counts["streams"].items())
            except (CldataError, OSError) as exc:  # a broken link: the row says so, the table still shows
                spikes, streams = "?", f"cannot be read: {exc}"
            params = self._shown_parameters(rec)
            rows.append([rec.id, rec._extent_text(), spikes, streams,
                         ", ".join(f"{k}={short(v)}" for k, v in list(params.items())[:8])])
        results = "".join(f"<li>{n} &times; {html.escape(k)}</li>" for k, n in self._result_groups().items())
        title = repr(self).strip("<>")
        header = ["recording", "duration" if self._window is None else "window", "spikes", "streams (entries)",
                  "parameters"]
        return html_table(title, header if recs else [], rows, more=max(0, len(recs) - 100),
                          footer=f"<ul>{results}</ul>" if results else "")

    # -- DataFrames -------------------------------------------------------------------------------

    def recordings_frame(self) -> Any:
        """The view's recordings as a pandas DataFrame, one row each.

        Columns: ``id``; the parameters, nested ones flattened to dotted names
        (``session.day``; the attributes the CL writer keeps for itself, such as
        ``created_utc`` or ``file_format``, are left out);
        ``duration_s``, ``channels``, ``spikes``, ``stims`` and one ``entries.<stream>``
        column per visible data stream. Through a window (:meth:`between`) the duration and
        counts are those of the window. Needs pandas (``pip install 'cldata[pandas]'``).

        Examples
        --------
        >>> store.filter(culture="C7").recordings_frame()[["id", "culture", "duration_s"]]  # doctest: +SKIP
                             id culture  duration_s
        0  rec_88585b22ccfb1d4d      C7         2.0
        """
        try:
            import pandas as pd
        except ImportError:
            raise no_pandas("recordings_frame()") from None
        rows = []
        for rec in self.recordings:
            counts = rec.counts()
            row: dict[str, Any] = {"id": rec.id}
            row.update({k: v for k, v in flatten(self._shown_parameters(rec, nested=True)).items() if k not in row})
            row.update({"duration_s": counts["duration_s"], "channels": int(rec.summary.get("channel_count", 0)),
                        "spikes": counts["spikes"], "stims": counts["stims"]})
            row.update({f"entries.{n}": k for n, k in counts["streams"].items()})
            rows.append(row)
        fixed = ["id"]
        return pd.DataFrame(rows, columns=None if rows else fixed)

    def results_frame(self) -> Any:
        """The view's analysis results as a pandas DataFrame, one row each, payloads unread.

        Columns: ``id``, ``identifier``, ``kind`` (the result class), ``source`` (the
        recording id; ids joined by ``", "`` for a result of several), ``tags``, ``value``
        and ``units`` for results of one number (:class:`~cldata.SingleValue`; empty for
        the others), then the result's parameters flattened to dotted names. Needs pandas.

        Examples
        --------
        >>> store.results_frame()[["identifier", "kind", "value", "units"]]  # doctest: +SKIP
          identifier         kind  value units
        0       rate  SingleValue   5.07    Hz
        """
        try:
            import pandas as pd
        except ImportError:
            raise no_pandas("results_frame()") from None
        cat = self.full_datastore.catalog
        fixed = ["id", "identifier", "kind", "source", "tags", "value", "units"]
        rows = []
        for entry in cat.result_entries(self._result_rows()).values():
            summary = entry.summary or {}
            row: dict[str, Any] = {
                "id": entry.id, "identifier": entry.identifier, "kind": entry.kind,
                "source": ", ".join(entry.sources), "tags": ", ".join(entry.tags),
                "value": summary.get("value") if "value" in summary else None,
                "units": summary.get("units", "") if "value" in summary else "",
            }
            for k, v in flatten(entry.parameters).items():
                row[k if k not in fixed else f"parameters.{k}"] = v
            rows.append(row)
        return pd.DataFrame(rows, columns=None if rows else fixed)
