"""``RecordingHandle``: one recording of a store view, read through the view's window and streams.

A handle is a value: the store, the recording's catalog row (and id), and the view's stream
selection and time window. It reads the catalog for what the catalog knows (id, parameters,
summary) and opens the recording's file only to read data (segments, streams, overviews),
always cut to the view's window. When the store reloads its catalog (a refresh, a
rollback), the handle finds its recording again by id.

Examples
--------
>>> rec = store.between(0, 1 * pq.s).recordings[0]                 # doctest: +SKIP
>>> rec.window, rec.stream_names                                  # doctest: +SKIP
((0, 25000), ['ball_position', 'score'])
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from cldata.core.display import flatten, html_fields, plural, short
from cldata.core.window import TimeWindow
from cldata.errors import (
    CldataError,
    NotFoundError,
    OverviewError,
    ParameterError,
    StaleOverviewError,
    UnsafeContentError,
    UnsupportedValueError,
)
from cldata.format.neo_file import NeoRecordingView
from cldata.format.parts import EVENT_PARTS
from cldata.format.spike_snapshot import spike_snapshot, stim_events
from cldata.model.entries import RecordingEntry
from cldata.query.neurons import mea_annotations, mea_positions, summary_annotations, summary_positions
from cldata.query.selection import StreamSelection
from cldata.query.stimuli import recording_stimulus
from cldata.store.display import extent_text, shown_parameters
from cldata.store.neo_ingest import NEO_LAYOUT, clipped_span
from cldata.toolkit.methods import ToolkitMethods
from cldata.toolkit.preprocess import SpikeData

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    import neo

    from cldata.format.reader import RecordingView
    from cldata.format.streams import DataStreamView
    from cldata.store.datastore import DataStore

__all__ = ["RecordingHandle"]


class RecordingHandle(ToolkitMethods):
    """One recording of a view: its id and parameters, and reads through the view's window.

    It also has the analysis methods of ``cl.RecordingView`` (``analysis_timestamp_limit``,
    ``analyse_*``, the plots: :class:`cldata.toolkit.methods.ToolkitMethods`), on the view's
    window.

    Attributes
    ----------
    id : str
        The recording's stable id in the store.
    parameters : Mapping
        User parameters merged with the file's root attributes (read-only).
    summary : Mapping
        Duration, rates and counts, known without opening the file.
    """

    __slots__ = ("_store", "_row", "_streams", "_window", "_catalog", "_id", "_toolkit_limit")

    def __init__(self, store: DataStore, row: int, streams: StreamSelection | None, window: Any):
        self._store, self._row, self._streams = store, row, streams
        self._window = TimeWindow.of(window)
        self._catalog = store.catalog
        entry = store.catalog.recordings[row]
        self._id = entry.id if entry is not None else None

    @property
    def entry(self) -> RecordingEntry:
        """The recording's catalog entry (found again by id if the store reloaded its catalog).

        Raises
        ------
        cldata.errors.NotFoundError
            If the recording is no longer in the store.
        """
        return self._located()[1]

    def _located(self) -> tuple[int, RecordingEntry]:
        cat = self._store.catalog
        row = self._row
        if self._catalog is not cat:
            # the store reloaded its catalog (refresh, rollback): find this recording by id
            found = cat.recording_rows.get(self._id) if self._id is not None else None
            if found is None:
                raise NotFoundError(f"recording {self._id} is no longer in the store")
            row = found
        entry = cat.recordings[row]
        if entry is None:
            raise NotFoundError(f"recording {self._id} has been removed from the store")
        return row, entry

    @property
    def id(self) -> str:
        return self.entry.id

    @property
    def parameters(self) -> Mapping[str, Any]:
        return MappingProxyType(self.entry.parameters)

    @property
    def summary(self) -> Mapping[str, Any]:
        return MappingProxyType(self.entry.summary)

    @property
    def stimulus(self) -> dict[str, Any]:
        """The recording's stimulus: its ``stimulation`` parameters with ``st_<name>`` ones folded in
        (:func:`cldata.query.stimuli.recording_stimulus`; a copy, ``{}`` for none).

        Examples
        --------
        >>> rec.stimulus                                   # doctest: +SKIP
        {'frequency': 4, 'amplitude': 1.5}
        """
        return recording_stimulus(self.entry)

    def get_neuron_positions(self) -> dict[int, tuple]:
        """``channel -> position`` (:mod:`cldata.query.neurons`): the recording's own (its view's
        ``neuron_positions()``, or its catalog summary's ``"neurons"``), else the CL MEA layout's
        ``(column, row)`` in grid units.

        Examples
        --------
        >>> rec.get_neuron_positions()[9]                  # doctest: +SKIP
        (1, 1)
        """
        own = summary_positions(self.entry.summary)
        if own is not None:
            return own
        ask = getattr(self.view(), "neuron_positions", None)
        if callable(ask):
            return dict(ask())
        return mea_positions(int(self.entry.summary.get("channel_count", 64)))

    def get_neuron_annotations(self) -> dict[int, dict[str, Any]]:
        """``channel -> annotations`` (:mod:`cldata.query.neurons`): the recording's own, else for a CL
        recording ``{"ground": bool, "reference": bool, "row": r, "column": c}``.

        Examples
        --------
        >>> rec.get_neuron_annotations()[4]["reference"]   # doctest: +SKIP
        True
        """
        own = summary_annotations(self.entry.summary)
        if own is not None:
            return own
        ask = getattr(self.view(), "neuron_annotations", None)
        if callable(ask):
            return dict(ask())
        return mea_annotations(int(self.entry.summary.get("channel_count", 64)))

    @property
    def stream_names(self) -> list[str]:
        """The data streams visible through the view."""
        names = sorted(self.entry.streams)
        # (a stream selection's rows are those of the catalog the view was made with)
        return names if self._streams is None else [n for n in names if self._streams.visible(self._row, n)]

    @property
    def is_neo(self) -> bool:
        """Whether the recording is a neo segment stored in the neo layout (not a CL file)."""
        return self.entry.summary.get("layout") == NEO_LAYOUT

    @property
    def frames_per_second(self) -> int | float:
        """The recording's frame rate (a neo recording's: the rate of its timebase, perhaps not whole)."""
        fps = self.entry.summary["frames_per_second"]
        return fps if self.is_neo and not float(fps).is_integer() else int(fps)

    @property
    def time_window(self) -> TimeWindow:
        """The view's window as given (frames or quantities); empty for the whole recording."""
        return self._window

    @property
    def window(self) -> tuple[int | None, int | None]:
        """The view's window in this recording's frames."""
        return self._window.frames(self.frames_per_second)

    @property
    def path(self) -> Path:
        """The CL file (raises :class:`~cldata.errors.BrokenLinkError` if a link is broken)."""
        return self._store.recording_path(self.entry)

    @property
    def store(self) -> DataStore:
        """The store this recording is in."""
        return self._store

    def view(self) -> RecordingView | NeoRecordingView:
        """The recording as a :class:`~cldata.RecordingView` (a neo recording: a
        :class:`~cldata.format.neo_file.NeoRecordingView`), restricted to the view's window.

        A neo recording gets the window as it was given: times stay times on the segment's
        own axis (not rounded to frames), so ``[1 s, 2 s)`` keeps exactly what lies in it.
        """
        base = self._store.open_recording(self.entry)
        if self._window.is_everything:
            return base
        if isinstance(base, NeoRecordingView):
            for start, stop in self._window.bounds:  # each pair intersected in turn, as given
                base = base.between(start, stop)
            return base
        return base.between(*self.window)

    @property
    def data_streams(self) -> dict[str, DataStreamView]:
        """The visible data streams, by name, windowed (a neo recording has none)."""
        if self.is_neo:
            return {}
        streams = self.view().data_streams
        return {name: streams[name] for name in self.stream_names if name in streams}

    def overview(self, channels: Any = None, start: Any = None, stop: Any = None, width: int = 2000,
                 *, signal: int = 0) -> Any:
        """A min/max envelope of the samples of about ``width`` points per channel, in µV.

        Any window, within the view's: the right level of the recording's pyramid is read,
        or the samples themselves when the window is short. See :mod:`cldata.overview`.
        A neo recording's envelope is of its analog signal number ``signal``, in that
        signal's frames and units, computed from the signal (:mod:`cldata.store.neo_overview`).

        Examples
        --------
        >>> env = rec.overview(channels=[0, 1], width=1000)          # doctest: +SKIP
        >>> env.minimum.shape, env.frames_per_point                  # doctest: +SKIP
        ((1000, 2), 90000)
        """
        if self.is_neo:
            # why: the overview module (its threaded builder and chunk encoder) is left out of `import cldata`
            from cldata.store.neo_overview import neo_envelope

            return neo_envelope(self.view(), channels, start, stop, width, signal)
        if signal != 0:
            raise ParameterError(f"recording {self.id} is a CL recording, with one signal (its samples): signal=0")
        return self._ask_overview(lambda ov: ov.envelope(channels=channels, start=start, stop=stop, width=width))

    def spike_activity(self, channels: Any = None, start: Any = None, stop: Any = None, width: int = 2000) -> Any:
        """Spike counts per channel in about ``width`` bins over any window (see :mod:`cldata.overview`)."""
        if self.is_neo:
            # why: the overview module (its threaded builder and chunk encoder) is left out of `import cldata`
            from cldata.store.neo_overview import neo_spike_activity

            return neo_spike_activity(self.view(), channels, start, stop, width)
        return self._ask_overview(lambda ov: ov.spike_counts(channels=channels, start=start, stop=stop, width=width))

    def _ask_overview(self, ask: Any) -> Any:
        # why: the overview module (its threaded builder and chunk encoder) is left out of `import cldata`
        from cldata.overview import Overview, build_overview, ensure_overview

        store = self._store
        # a read-only store reads its own overview but (re)builds into the user's cache: it writes
        # nothing inside its directory, even when that overview is stale or damaged
        ov = ensure_overview(self.view(), store.overview_path(self.id), rebuild_path=store.overview_build_path(self.id))
        try:
            return ask(ov)
        except (OverviewError, UnsafeContentError) as exc:
            # (UnsafeContentError: a level array of pickled objects, refused before it was read)
            if isinstance(exc, StaleOverviewError):
                raise
            # a chunk failing its checksum, found only now that it was read: build the overview
            # afresh where this store may write (the cache, for a read-only store), and ask again
            ov.close()
            path = store.overview_build_path(self.id)
            warnings.warn(f"{exc}; it is built afresh at {path}", stacklevel=3)
            view = self.view()
            return ask(Overview(build_overview(view, path), view))

    def segment(self, lazy: bool = True, **kwargs: Any) -> neo.Segment:
        """The recording (within the window) as a :class:`neo.Segment`; lazy by default."""
        seg = self.view().segment(lazy=lazy, **kwargs)
        seg.annotate(recording_id=self.id)
        return seg

    # the CL analysis toolkit's hooks (the spike table is read once per open file of the store)
    def _toolkit_snapshot(self) -> SpikeData:
        return spike_snapshot(self._cl_view("the CL analysis toolkit"))

    def _toolkit_stims(self) -> Any:
        return stim_events(self._cl_view("the CL analysis toolkit"))

    def _cl_view(self, what: str) -> RecordingView:
        if self.is_neo:
            raise UnsupportedValueError(f"{what} reads CL recordings; {self.id} is a neo recording (use the "
                                        "analyses of cldata.analysis, or its neo segment())")
        return self.view()  # type: ignore[return-value]

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
        s = self.entry.summary
        if self._window.is_everything:
            streams = s.get("streams", {})
            return {"duration_s": float(s.get("duration_s", 0)), "spikes": int(s.get("spikes", 0)),
                    "stims": int(s.get("stims", 0)),
                    "streams": {n: int(streams.get(n, 0)) for n in self.stream_names}}
        view = self.view()
        if isinstance(view, NeoRecordingView):
            t0, t1 = clipped_span(view)
            return {"duration_s": t1 - t0, "spikes": int(len(view.read_spikes(waveforms=False))),
                    "stims": int(len(view.read_stims())), "streams": {}}
        a, b = view.clipped_window
        # every table of events (cldata.format.parts), counted in the window without reading its rows
        events = {p.name: int(view.event_tables[p.name].count(a, b)) if p.name in view.event_tables else 0
                  for p in EVENT_PARTS}
        return {"duration_s": (b - a) / view.frames_per_second, **events,
                "streams": {n: len(st) for n, st in self.data_streams.items()}}

    def __repr__(self) -> str:
        s = self.entry.summary
        counts = "" if not self._window.is_everything else (
            f", {plural(s.get('spikes', 0), 'spike')}, {plural(s.get('stims', 0), 'stim')}")
        if self.is_neo:
            return (f"<Recording {self.id} (neo): {extent_text(self)}, {plural(s.get('signals', 0), 'signal')}, "
                    f"{plural(s.get('spike_trains', 0), 'spike train')}, {plural(s.get('channel_count', 0), 'channel')}"
                    f"{counts}>")
        return (f"<Recording {self.id}: {extent_text(self)}, {plural(s.get('channel_count', 0), 'channel')}"
                f"{counts}, streams {self.stream_names}>")

    def _repr_html_(self) -> str:
        try:
            counts = self.counts()
        except (CldataError, OSError) as exc:  # a broken link: show what the catalog knows
            counts = {"spikes": f"? ({exc})", "stims": "?", "streams": {}}
        fields = {"id": self.id, "duration": extent_text(self), "channels": self.entry.summary.get("channel_count"),
                  "spikes": counts["spikes"], "stims": counts["stims"]}
        fields.update({f"stream {n}": plural(k, "entry", "entries") for n, k in counts["streams"].items()})
        fields.update({k: short(v) for k, v in flatten(shown_parameters(self, nested=True)).items()})
        return html_fields(f"Recording {self.id}", fields)
