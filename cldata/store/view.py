"""``DataStoreView``: a store seen through a selection — an immutable value.

A view is a store and a :class:`~cldata.query.selection.Selection`: rows of the store's
catalog (recordings and results), the data streams shown (``None``: all) and a
:class:`~cldata.core.window.TimeWindow`. Making one copies no data and opens no file;
reading through it (segments, streams, spikes, results' payloads) honours its window and
stream selection. Every chain method applies a query of :mod:`cldata.query` — a pure
function of the catalog and the selection — and returns a new view; nothing changes a view.
The full :class:`~cldata.DataStore` *has* a view of everything (``store.root_view``) and
offers the same methods.

A view's identity is its entries' ids: when the store reloads its catalog (a refresh, a
rollback), the view's rows are found again by id, and entries no longer stored drop out.
How a view shows itself is :mod:`cldata.store.display` (and :mod:`cldata.store.frames` for
pandas); one recording of it is a :class:`~cldata.store.recording.RecordingHandle`.

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

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from cldata.core.canonical import canonical
from cldata.core.window import TimeWindow
from cldata.errors import ForeignViewError, NotFoundError, ParameterError
from cldata.model.catalog import Catalog
from cldata.model.entries import MISSING, lookup
from cldata.query import stimuli as stimulus_queries
from cldata.query.base import run_query_chain
from cldata.query.params import filter_recordings, filter_results, param_filter_query
from cldata.query.partitions import (
    partition_by_parameters,
    partition_results_by_parameters,
    partition_results_by_values_of,
    results_partition_meaning,
)
from cldata.query.selection import Selection, StreamSelection
from cldata.query.streams import stream_query
from cldata.query.tags import tag_based_query
from cldata.query.time import time_window_query
from cldata.store import display, frames, metrics
from cldata.store.export import export_view
from cldata.store.nwb_export import view_to_nwb
from cldata.store.recording import RecordingHandle

if TYPE_CHECKING:  # pragma: no cover
    import neo

    from cldata.format.streams import DataStreamView
    from cldata.model.results import AnalysisResult
    from cldata.store.datastore import DataStore

__all__ = ["DataStoreView", "RecordingHandle", "StreamSelection"]


class DataStoreView:
    """An immutable subset of a :class:`~cldata.DataStore` (see module doc).

    Views are made by queries, not by hand. ``full_datastore`` is the store they belong to.
    Iteration order (recordings, results) is the order entries were added: deterministic.

    Parameters
    ----------
    store
        The store.
    recording_rows, result_rows
        Rows of the store's catalog (``None``: every live row, now and later).
    streams
        The streams shown (``None``: all).
    window
        A :class:`~cldata.core.window.TimeWindow`, a ``(start, stop)`` pair or ``None``.
    selection
        All of the above as one :class:`~cldata.query.selection.Selection` (then give no other).
    """

    __slots__ = ("_store", "_selection", "_catalog")

    def __init__(self, store: DataStore, recording_rows: Iterable[int] | None = (),
                 result_rows: Iterable[int] | None = (), streams: StreamSelection | None = None,
                 window: Any = None, *, selection: Selection | None = None):
        self._store = store
        self._selection = selection if selection is not None else Selection.of(recording_rows, result_rows,
                                                                               streams, window)
        self._catalog: Catalog | None = store.catalog  # what the selection's rows number

    @classmethod
    def of(cls, store: DataStore, selection: Selection) -> DataStoreView:
        """The view of ``store`` through ``selection`` (rows of the store's current catalog)."""
        return cls(store, selection=selection)

    # -- the value ---------------------------------------------------------------------------

    @property
    def full_datastore(self) -> DataStore:
        """The store the view belongs to."""
        return self._store

    @property
    def catalog(self) -> Catalog:
        """The store's catalog (what the queries read)."""
        return self._store.catalog

    @property
    def selection(self) -> Selection:
        """What the view shows, in rows of the store's current catalog."""
        if self._catalog is None or self._catalog is self._store.catalog:
            return self._selection
        return self._selection.rebased(self._catalog, self._store.catalog)

    def with_selection(self, selection: Selection) -> DataStoreView:
        """A view of the same store through another selection."""
        return DataStoreView.of(self._store, selection)

    @property
    def window(self) -> TimeWindow:
        """The time window of the view (as given to ``between``; empty = whole recordings)."""
        return self._selection.window

    @property
    def stream_selection(self) -> StreamSelection | None:
        """Which data streams the view shows (``None``: all)."""
        return self.selection.streams

    # -- recordings -----------------------------------------------------------------------------

    @property
    def recordings(self) -> list[RecordingHandle]:
        """The recordings in the view, in the order they were added."""
        sel = self.selection
        return [RecordingHandle(self._store, r, sel.streams, sel.window) for r, _ in sel.recording_entries(self.catalog)]

    @property
    def recording_ids(self) -> list[str]:
        """The ids of the recordings in the view."""
        return self.selection.recording_ids(self.catalog)

    def recording(self, recording_id: str) -> RecordingHandle:
        """One recording of the view by id."""
        sel = self.selection
        row = self.catalog.recording_rows.get(recording_id)
        if row is None or row not in set(sel.recording_rows(self.catalog)):
            raise NotFoundError(f"no recording {recording_id!r} in this view")
        return RecordingHandle(self._store, row, sel.streams, sel.window)

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
        sel = self.selection
        names: set[str] = set()
        for r, entry in sel.recording_entries(self.catalog):
            names.update(n for n in entry.streams if sel.streams is None or sel.streams.visible(r, n))
        return sorted(names)

    # -- analysis results ------------------------------------------------------------------------

    @property
    def analysis_results(self) -> list[AnalysisResult]:
        """The analysis results in the view (payloads load when first used)."""
        store = self._store
        out = []
        for entry in self.selection.result_entries(self.catalog).values():
            result = store.result_object(entry)
            result.summary_hint = entry.summary  # its repr shows the value without reading the payload
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
        return param_filter_query(self, **params).analysis_results

    def parameter_values(self, name: str, kind: str = "all") -> list[Any]:
        """The distinct values of parameter ``name`` (a dotted path) in the view.

        ``kind`` is ``"recordings"``, ``"results"`` or ``"all"``. Values are returned in a
        stable order (sorted when they can be compared).
        """
        if kind not in ("recordings", "results", "all"):
            raise ValueError(f"kind must be 'recordings', 'results' or 'all', not {kind!r}")
        sel, cat = self.selection, self.catalog
        entries: list[Any] = []
        if kind in ("recordings", "all"):
            entries.extend(e for _, e in sel.recording_entries(cat))
        if kind in ("results", "all"):
            entries.extend(sel.result_entries(cat).values())
        seen: dict[Any, Any] = {}
        for entry in entries:
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
        return export_view(self, path, overwrite=overwrite, progress=progress)

    def to_nwb(self, directory: Any, link: bool = True, overwrite: bool = False, *, neo: bool = False,
               split: int | str | None = None) -> list[Any]:
        """One NWB file per recording of this view, ``<directory>/<recording id>.nwb``, within its window
        and stream selection, with the results that come from each (:func:`cldata.store.nwb_export.view_to_nwb`).

        ``link=True``: the samples stay in the CL files (a virtual dataset, nothing copied);
        ``link=False``: self-contained, compressed files (for DANDI); ``split="1GB"`` writes each
        in members of at most that size; ``neo=True`` lays the files out for neo's ``NWBIO``.
        Needs ``cldata[nwb]``.

        Examples
        --------
        >>> store.filter(culture="C7").between(0, 60 * pq.s).to_nwb("nwb/", link=False)   # doctest: +SKIP
        [PosixPath('nwb/rec_88585b22ccfb1d4d.nwb')]
        """
        return view_to_nwb(self, directory, link=link, overwrite=overwrite, neo=neo, split=split)

    # -- chainable queries (the functions of cldata.query, as methods) -------------------------

    def filter(self, ads_unique: bool = False, rec_unique: bool = False, **kw: Any) -> DataStoreView:
        """Recordings and results matching every condition (:func:`~cldata.query.param_filter_query`).

        A parameter no entry of the store has raises :class:`~cldata.errors.UnknownParameterError`
        (with a "did you mean"); a known parameter with a value nothing has gives an empty view.

        Examples
        --------
        >>> store.filter(culture=["C7", "C8"], session=Range(2, 5))   # doctest: +SKIP
        """
        return param_filter_query(self, ads_unique=ads_unique, rec_unique=rec_unique, **kw)

    def filter_recordings(self, rec_unique: bool = False, **kw: Any) -> DataStoreView:
        """Only the recordings filtered (:func:`~cldata.query.filter_recordings`)."""
        return filter_recordings(self, rec_unique=rec_unique, **kw)

    def filter_results(self, ads_unique: bool = False, **kw: Any) -> DataStoreView:
        """Only the analysis results filtered (:func:`~cldata.query.filter_results`)."""
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
        return time_window_query(self, start, stop)

    def tagged(self, *tags: str, any: bool = False) -> DataStoreView:  # noqa: A002
        """Results carrying all the tags, or any of them (:func:`~cldata.query.tags.tag_based_query`).

        A tag no result of the store carries raises :class:`~cldata.errors.UnknownTagError`
        listing the store's tags (with a "did you mean").

        Examples
        --------
        >>> store.tagged("final", "draft", any=True).analysis_results   # doctest: +SKIP
        """
        return tag_based_query(self, tags, any=any)

    def partition_by(self, *names: str) -> list[DataStoreView]:
        """One view per distinct combination of values (:func:`~cldata.query.partitions.partition_by_parameters`)."""
        return partition_by_parameters(self, names)

    def partition_results_by(self, *names: str, except_: bool | None = None) -> list[DataStoreView]:
        """Results grouped so that ``names`` vary inside each part, as mozaik's
        ``partition_analysis_results_by_parameters_query``
        (:func:`~cldata.query.partitions.partition_results_by_parameters`).

        ``except_=True`` (the default since 0.4) says so explicitly; not given, the call warns
        (:class:`DeprecationWarning`, for one release) that until 0.3 it meant
        :meth:`partition_results_by_values_of`, which ``except_=False`` still means.

        Examples
        --------
        >>> store.partition_results_by("window_s", except_=True)   # doctest: +SKIP
        """
        except_ = results_partition_meaning(except_, stacklevel=3)
        return partition_results_by_parameters(self, names, except_=except_)

    def partition_results_by_values_of(self, *names: str) -> list[DataStoreView]:
        """Results grouped by the values of ``names``, constant inside each part
        (:func:`~cldata.query.partitions.partition_results_by_values_of`).

        Examples
        --------
        >>> [p.parameter_values("window_s", kind="results") for p in store.partition_results_by_values_of("window_s")]  # doctest: +SKIP
        [[0.5], [1], [2]]
        """
        return partition_results_by_values_of(self, names)

    # -- stimuli and neurons (cldata.query.stimuli, cldata.query.neurons) -------------------------

    def get_stimuli(self) -> list[dict[str, Any]]:
        """The stimulus of every recording, in the view's order (:func:`cldata.query.stimuli.get_stimuli`)."""
        return stimulus_queries.get_stimuli(self)

    def equal_stimulus(self, except_params: Iterable[str] = ()) -> bool:
        """Whether all recordings share their stimulus but for ``except_params``
        (:func:`cldata.query.stimuli.equal_stimulus`)."""
        return stimulus_queries.equal_stimulus(self, except_params)

    def equal_stimulus_type(self) -> bool:
        """Whether all recordings' stimuli are of one type (:func:`cldata.query.stimuli.equal_stimulus_type`)."""
        return stimulus_queries.equal_stimulus_type(self)

    def ads_with_equal_stimuli(self, except_params: Iterable[str] = ()) -> bool:
        """Whether all results come from one stimulus but for ``except_params``
        (:func:`cldata.query.stimuli.ads_with_equal_stimuli`)."""
        return stimulus_queries.ads_with_equal_stimuli(self, except_params)

    def ads_with_equal_stimulus_type(self, allow_none: bool = False) -> bool:
        """Whether all results come from stimuli of one type (:func:`cldata.query.stimuli.ads_with_equal_stimulus_type`)."""
        return stimulus_queries.ads_with_equal_stimulus_type(self, allow_none=allow_none)

    def identify_unpresented_stimuli(self, stimuli: Iterable[Any]) -> list[dict[str, Any]]:
        """Those of the stimuli given that no recording of the view had
        (:func:`cldata.query.stimuli.identify_unpresented_stimuli`)."""
        return stimulus_queries.identify_unpresented_stimuli(self, stimuli)

    def get_neuron_positions(self) -> dict[str, dict[int, tuple]]:
        """``recording id -> {channel: position}`` (:meth:`RecordingHandle.get_neuron_positions`)."""
        return {rec.id: rec.get_neuron_positions() for rec in self.recordings}

    def get_neuron_annotations(self) -> dict[str, dict[int, dict[str, Any]]]:
        """``recording id -> {channel: annotations}`` (:meth:`RecordingHandle.get_neuron_annotations`)."""
        return {rec.id: rec.get_neuron_annotations() for rec in self.recordings}

    def query(self, chain: Any) -> Any:
        """Apply a chain of queries given as ``[{"class": ..., "params": {...}}, ...]`` (or Query objects)."""
        return run_query_chain(self, chain)

    # -- combining views ---------------------------------------------------------------------------

    def _combinable(self, other: Any, op: str) -> tuple[Selection, Selection]:
        """The selections of this view and ``other`` (a view of the same store, or the store)."""
        if not isinstance(other, DataStoreView):
            other = getattr(other, "root_view", other)  # a store combines as its view of everything
        if not isinstance(other, DataStoreView):
            raise TypeError(f"views combine only with views, not {type(other).__name__}")
        if other.full_datastore is not self._store:
            raise ForeignViewError("these views come from different stores and cannot be combined")
        mine, theirs = self.selection, other.selection
        if op != "&" and (mine.window != theirs.window or mine.streams != theirs.streams):
            raise ParameterError(
                f"views with different time windows or stream selections cannot be combined with {op!r} "
                "(use & to intersect them, or apply between()/streams() after combining)"
            )
        return mine, theirs

    def _rows(self, a: Selection, b: Selection, op: Any) -> dict[str, set[int]]:
        cat = self.catalog
        return {"recordings": op(set(a.recording_rows(cat)), set(b.recording_rows(cat))),
                "results": op(set(a.result_rows(cat)), set(b.result_rows(cat)))}

    def __or__(self, other: DataStoreView) -> DataStoreView:
        """Entries in either view."""
        a, b = self._combinable(other, "|")
        return self.with_selection(a.derive(self.catalog, **self._rows(a, b, set.__or__)))

    def __and__(self, other: DataStoreView) -> DataStoreView:
        """Entries in both views; their windows and stream selections intersect."""
        a, b = self._combinable(other, "&")
        streams = b.streams if a.streams is None else a.streams.intersect(b.streams)
        return self.with_selection(a.derive(self.catalog, **self._rows(a, b, set.__and__), streams=streams,
                                            window=a.window & b.window))

    def __sub__(self, other: DataStoreView) -> DataStoreView:
        """Entries of this view that are not in ``other``."""
        a, b = self._combinable(other, "-")
        return self.with_selection(a.derive(self.catalog, **self._rows(a, b, set.__sub__)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DataStoreView):
            other = getattr(other, "root_view", other)
            if not isinstance(other, DataStoreView):
                return NotImplemented
        mine, theirs, cat = self.selection, other.selection, self.catalog
        return (other.full_datastore is self._store
                and mine.recording_ids(cat) == theirs.recording_ids(cat)
                and mine.live_result_rows(cat) == theirs.live_result_rows(cat)
                and mine.window == theirs.window and mine.streams == theirs.streams)

    __hash__ = None  # type: ignore[assignment]

    # -- presentation (cldata.store.display, cldata.store.frames) -------------------------------------

    def __len__(self) -> int:
        sel = self.selection
        return len(sel.recording_ids(self.catalog)) + len(sel.live_result_rows(self.catalog))

    def viewer(self) -> Any:
        """This view of the store in cldata's viewer: a Panel object.

        Its recordings and results as tables, a query box taking ``cldata query``'s filters, and a
        click through to each recording's view (docs/VIEW.md). ``cldata view STORE`` serves it.
        Needs the view extra (``pip install "cldata[view]"``).

        Examples
        --------
        >>> store.filter(culture="A").viewer()                               # doctest: +SKIP
        """
        # why here: the viewer (cldata.viz) sits above the store; this one import down-to-up is
        # declared in setup.cfg's layer contract, and holoviews and panel take seconds to load
        from cldata.viz.store_app import store_viewer

        return store_viewer(self)

    def describe(self) -> str:
        """A plain-text summary of the view (what :meth:`print_content` prints)."""
        return display.describe(self)

    def print_content(self) -> None:
        """Print the recordings and a count of results by kind and identifier."""
        print(self.describe())

    def __repr__(self) -> str:
        return display.view_repr(self, type(self).__name__)

    def _repr_html_(self) -> str:
        return display.view_html(self, repr(self).strip("<>"))

    def recordings_frame(self) -> Any:
        """The view's recordings as a pandas DataFrame, one row each (:func:`cldata.store.frames.recordings_frame`).

        Examples
        --------
        >>> store.filter(culture="C7").recordings_frame()[["id", "culture", "duration_s"]]  # doctest: +SKIP
                             id culture  duration_s
        0  rec_88585b22ccfb1d4d      C7         2.0
        """
        return frames.recordings_frame(self)

    def results_frame(self) -> Any:
        """The view's analysis results as a pandas DataFrame, one row each, payloads unread
        (:func:`cldata.store.frames.results_frame`).

        Examples
        --------
        >>> store.results_frame()[["identifier", "kind", "value", "units"]]  # doctest: +SKIP
          identifier         kind  value units
        0       rate  SingleValue   5.07    Hz
        """
        return frames.results_frame(self)

    def metric_frame(self, *metric_names: str) -> Any:
        """A metric across recordings and parameters: one row per result (:func:`cldata.store.metrics.metric_frame`).

        Examples
        --------
        >>> store.filter(analysis="CLCriticality").metric_frame("branching_ratio")   # doctest: +SKIP
        """
        return metrics.metric_frame(self, *metric_names)

    def metric_names(self) -> list[str]:
        """The metrics the view's results keep (:func:`cldata.store.metrics.metric_names`).

        Examples
        --------
        >>> store.metric_names()[:3]   # doctest: +SKIP
        """
        return metrics.metric_names(self)

    def plot_metric(self, metric: str, x: str, hue: str | None = None, ax: Any = None) -> Any:
        """Draw a metric against a parameter, a line per group (:func:`cldata.store.metrics.plot_metric`).

        Examples
        --------
        >>> store.filter(analysis="CLCriticality").plot_metric("branching_ratio", x="day", hue="culture")  # doctest: +SKIP
        """
        return metrics.plot_metric(self, metric, x, hue=hue, ax=ax)
