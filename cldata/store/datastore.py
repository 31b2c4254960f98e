"""``DataStore``: recordings and analysis results in one parametrised, crash-safe store.

A store is a directory (mozaik's ``root_directory``). Open it with :func:`cldata.open` or
:meth:`DataStore.from_parameters`. The store *has* a view of everything
(:attr:`DataStore.root_view`, an immutable :class:`~cldata.DataStoreView`) and answers
every view method through it — ``store.filter(...)`` is ``store.root_view.filter(...)``;
views read through the store's small interface by catalog entry
(:meth:`~DataStore.open_recording`, :meth:`~DataStore.recording_path`,
:meth:`~DataStore.result_object`, :meth:`~DataStore.load_payload`).

A recording is a CL file, or a neo segment kept in the neo layout
(:mod:`cldata.store.neo_ingest`): ``add_recording`` takes either (a block gives one recording
per segment), and both answer the same API (``segment()``, windows, queries by parameters,
overviews, spike analyses, export).

Changes (``add_*``, ``remove_*``) are visible at once in this process and become durable,
atomically, at :meth:`DataStore.commit` (also on :meth:`~DataStore.close` and at the end of
a ``with`` block). After a crash at any moment the store opens with exactly what the last
completed commit held.

One writer at a time: opening for writing (``mode="a"`` or ``"w"``) takes the store's
lock, and a second writer gets :class:`~cldata.errors.StoreLockedError`. Readers
(``mode="r"``) never wait for the writer; they see the last commit made before they
opened (:meth:`~DataStore.refresh` to see newer ones). The lock is an OS advisory lock,
so a writer that died leaves nothing that blocks the next one.

Examples
--------
>>> import cldata, quantities as pq
>>> with cldata.open("lab-store", mode="a") as store:                    # doctest: +SKIP
...     rid = store.add_recording("sim_small_recording.h5", {"culture": "C7"})
...     store.add_analysis_result(cldata.SingleValue("mean_rate", 4.2 * pq.Hz, sources=[rid]))
>>> store = cldata.open("lab-store")                                     # doctest: +SKIP
>>> store.filter(culture="C7").recordings                                # doctest: +SKIP
[<Recording rec-...: 0.5 s, 64 channels, 32 spikes, 3 stims, streams ['ball_position', 'score']>]
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cldata.core.gc_pause import paused_gc
from cldata.core.paramsets import plain_parameters
from cldata.core.shutdown import close_at_exit
from cldata.errors import (
    CorruptRecordingError,
    DuplicateRecordingError,
    NotARecordingError,
    NotFoundError,
    ParameterError,
    ReadOnlyStoreError,
    StoreError,
    StoreFormatError,
)
from cldata.format.neo_file import NeoRecordingView, is_neo_recording
from cldata.format.reader import RecordingView
from cldata.model.catalog import Catalog
from cldata.model.entries import RecordingEntry, ResultEntry
from cldata.model.results import AnalysisResult, get_result_kind
from cldata.query.selection import Selection
from cldata.store import display
from cldata.store.files import open_files
from cldata.store.garbage import collect_garbage
from cldata.store.ingest import duplicate_result, read_recording, result_entries, source_path, user_parameters
from cldata.store.layout import (
    MARKER,
    now,
    overview_build_path,
    overview_path,
)
from cldata.store.neo_ingest import is_neo_source, neo_recordings, read_neo_recording
from cldata.store.nwb_export import cl_file_from_nwb, is_nwb_source
from cldata.store.view import DataStoreView

__all__ = ["DataStore", "MARKER"]

_OPEN_FILES = 32  # recordings kept open at once (least recently used closed first)

#: What a store offers through its view of everything: the public methods and properties of a view.
ROOT_VIEW_API = (
    "selection", "window", "stream_selection", "with_selection",
    "recordings", "recording_ids", "recording", "get_segments", "data_streams", "stream_names",
    "analysis_results", "get_analysis_result", "parameter_values", "export", "to_nwb",
    "filter", "filter_recordings", "filter_results", "streams", "between", "tagged", "partition_by",
    "partition_results_by", "partition_results_by_values_of", "get_stimuli", "equal_stimulus",
    "equal_stimulus_type", "ads_with_equal_stimuli", "ads_with_equal_stimulus_type", "identify_unpresented_stimuli",
    "get_neuron_positions", "get_neuron_annotations", "query", "describe", "print_content", "recordings_frame", "results_frame",
    "metric_frame", "metric_names", "plot_metric", "viewer",
    "__len__", "__or__", "__and__", "__sub__",
)


def _is_open(view: RecordingView | NeoRecordingView) -> bool:
    """Whether a recording the store keeps open is still open (a user may have closed it)."""
    file = getattr(view, "file", None)
    return bool(file.isopen) if file is not None else not getattr(view, "closed", False)


class _OfRootView:
    """A store attribute that is its root view's (a method or property of :class:`DataStoreView`)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.__doc__ = getattr(DataStoreView, name).__doc__

    def __get__(self, store: Any, owner: type | None = None) -> Any:
        if store is None:
            return self
        return getattr(store.root_view, self.name)


class DataStore:
    """The full store: its entries, adding, removing and committing; and, through its view of
    everything (:attr:`root_view`), every method of a :class:`~cldata.DataStoreView`.

    Parameters
    ----------
    root
        The store directory.
    backend
        Backend name (``"hdf5"``, ``"pickle"`` or a plugin). ``None``: the store's own
        backend, or ``"hdf5"`` for a new store.
    mode
        ``"r"`` read-only (nothing inside the directory is written — overviews built on
        demand go to the user's cache — except the empty reader-lock file ``.readers``,
        created if it is missing); ``"a"`` read and write, creating the store if missing
        (two processes creating it at once: one creates it, the other opens it or gets
        :class:`~cldata.errors.StoreLockedError`); ``"w"``
        create an empty store, discarding the contents of an existing one.
    replace
        Adding an entry that is already stored replaces it instead of raising.
    catalog
        The catalog engine of a new store (:mod:`cldata.model.engines`): ``"sqlite"`` (the
        default) or a plugin's. ``None``: the store's own. A store made before version 2
        keeps its catalog in the backend (``"backend"``); opened for writing, it moves
        its catalog into SQLite first (once, crash-safe; ``cldata upgrade`` does the
        same), unless ``catalog="backend"`` is passed.
    options
        Passed to the backend.

    Raises
    ------
    cldata.errors.StoreLockedError
        If another writer has the store open (modes ``"a"`` and ``"w"``).
    cldata.errors.StoreFormatError
        If ``root`` is not a store (mode ``"r"``), or a different backend's store.
    """

    __slots__ = ("root", "mode", "replace", "catalog", "_files", "_pending_added", "_pending_removed",
                 "_pending_payloads", "_views", "_closed", "_root_view", "__weakref__")

    def __init__(self, root: str | os.PathLike[str], backend: str | None = None, mode: str = "r",
                 replace: bool = False, catalog: str | None = None, **options: Any):
        if mode not in ("r", "a", "w"):
            raise ValueError(f"mode must be 'r', 'a' or 'w', not {mode!r}")
        self.root, self.mode, self.replace = Path(root), mode, bool(replace)
        self._pending_added: dict[str, RecordingEntry | ResultEntry] = {}
        self._pending_removed: set[str] = set()
        self._pending_payloads: dict[str, tuple[dict[str, Any], Any]] = {}
        self._views: OrderedDict[str, RecordingView | NeoRecordingView] = OrderedDict()
        self._closed = True
        self._files = open_files(self.root, mode, backend, catalog, options)
        try:
            self.catalog: Catalog = self._files.load_catalog()
            self._root_view = DataStoreView.of(self, Selection.everything())
            self._closed = False
            close_at_exit(self)
            if self.writable:
                self._collect_garbage()
        except BaseException:
            # (an export's backend is closed; a directory's is left to the garbage collector, as it always was)
            self._files.release(close_backend=self.root.is_file())
            raise

    # a store is itself: equal only to itself (views compare by content)
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    @property
    def backend(self) -> Any:
        """The backend keeping the store's recordings and payloads (:mod:`cldata.backends`)."""
        return self._files.backend

    @property
    def engine(self) -> Any:
        """The catalog engine (:mod:`cldata.model.engines`); ``None`` for a store of the old layout or an export."""
        return self._files.engine

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> DataStore:
        """Open a store from a ParameterSet (or dict): ``root_directory``, and optionally
        ``backend``, ``mode`` (default ``"a"``), ``replace`` and backend ``options``.

        Examples
        --------
        >>> from parameters import ParameterSet
        >>> store = DataStore.from_parameters(ParameterSet({"root_directory": "lab-store"}))  # doctest: +SKIP
        """
        params = plain_parameters(parameters, "the store parameters")
        if "root_directory" not in params:
            raise ParameterError("a store's parameters need 'root_directory'")
        unknown = set(params) - {"root_directory", "backend", "mode", "replace", "catalog", "options"}
        if unknown:
            raise ParameterError(f"unexpected store parameter(s) {sorted(unknown)}; known: root_directory, "
                                 "backend, mode, replace, catalog, options")
        return cls(params["root_directory"], backend=params.get("backend"), mode=params.get("mode", "a"),
                   replace=bool(params.get("replace", False)), catalog=params.get("catalog"),
                   **dict(params.get("options") or {}))

    # -- the view of everything ---------------------------------------------------------------------

    @property
    def root_view(self) -> DataStoreView:
        """The store's view of everything (every live entry, now and later); the store's view methods are its."""
        return self._root_view

    @property
    def full_datastore(self) -> DataStore:
        """The store itself (as a view's ``full_datastore`` is its store)."""
        return self

    def __repr__(self) -> str:
        return display.view_repr(self._root_view, "DataStore")

    def _repr_html_(self) -> str:
        return display.view_html(self._root_view, repr(self).strip("<>"))

    @property
    def writable(self) -> bool:
        """Whether the store was opened for writing."""
        return self.mode != "r"

    def _check_writable(self) -> None:
        if self._closed:
            raise StoreError(f"the store {self.root} is closed")
        if self.mode == "r":
            raise ReadOnlyStoreError(f"the store {self.root} is open read-only; open it with mode='a' to change it")

    # -- recordings -------------------------------------------------------------------------------

    def add_recording(self, source: Any, parameters: Mapping[str, Any] | None = None, link: bool = False,
                      *, overview: bool = True, progress: bool = True) -> str | list[str]:
        """Add a recording, CL or neo; return its id (a list of ids for a block of several segments).

        Parameters
        ----------
        source
            A CL recording file, a closed (or to be closed) :class:`~cldata.RecordingWriter`,
            a :class:`~cldata.RecordingView`; or a :class:`neo.Segment`, a :class:`neo.Block`
            (one recording per segment), or a file neo can read (``"data.nix"``...), stored
            in the neo layout (:mod:`cldata.store.neo_ingest`); or an NWB file written by
            :func:`cldata.to_nwb`, stored as a CL file (:mod:`cldata.store.nwb_export`).
        parameters
            User parameters (culture, session, stimulation protocol...). They are merged
            with the file's root attributes and its ``application`` values (a neo segment's:
            its block's annotations and its own); the user's win.
        link
            Leave the file where it is and keep only a link to it (not copied; CL files and
            files already in the neo layout only).
        overview
            Build the recording's min/max pyramid of samples and spike counts now (one
            sequential read; see :mod:`cldata.overview`). Without it, the pyramid is built
            the first time an overview is asked for.
        progress
            Show a progress bar while the overview is built, if that lasts over a second
            and standard error is a terminal.

        Raises
        ------
        cldata.errors.DuplicateRecordingError
            If the same recording is already stored (unless the store has ``replace=True``).
        cldata.errors.NotARecordingError, cldata.errors.UnsafeContentError, ...
            If the file is neither a readable CL recording nor one neo reads.

        Examples
        --------
        >>> store.add_recording(segment, {"subject": "rat1"})      # doctest: +SKIP
        'rec_...'
        """
        self._check_writable()
        user = user_parameters(parameters)
        if is_nwb_source(source):  # an NWB file cldata wrote: back to a CL file, which is stored
            if link:
                raise ParameterError(f"{source} is an NWB file: it is converted to a CL file, which the store "
                                     "keeps; add it without link=True")
            with cl_file_from_nwb(source) as (path, written):
                try:
                    return self.add_recording(path, {**written, **user}, overview=overview, progress=progress)
                except DuplicateRecordingError as exc:
                    raise DuplicateRecordingError(str(exc).replace(str(path), str(source))) from None
        if is_neo_source(source):
            return self._add_neo(source, user, link)
        path = source_path(source)
        try:
            recording_id, params, streams, summary = read_recording(path, user)
        except (NotARecordingError, CorruptRecordingError) as exc:
            if not path.is_file():
                raise
            return self._add_neo(path, user, link, cl_error=exc)  # perhaps a file neo reads
        location = self._put_recording(recording_id, path, link)
        if overview and (summary["sample_frames"] or summary["spikes"]):
            # why: the overview module (its threaded builder and chunk encoder) is left out of `import cldata`
            from cldata.overview import build_overview

            with RecordingView(path) as view:  # the same content as the stored copy
                build_overview(view, self.overview_path(recording_id), progress=progress)
        self._stage(RecordingEntry(recording_id, params, streams, location, summary, now()))
        return recording_id

    def _put_recording(self, recording_id: str, path: Path, link: bool) -> dict[str, Any]:
        """Refuse a recording already stored (or replace it), then put its file in the backend; its location."""
        if recording_id in self.catalog.recording_rows:
            if not self.replace:
                raise DuplicateRecordingError(
                    f"{path} is already in the store as {recording_id}; open the store with replace=True to replace it"
                )
            self._unstage(self.catalog.remove_recording(recording_id).id)
        return self.backend.put_recording(recording_id, path, link)

    def _stage(self, entry: RecordingEntry) -> None:
        self.catalog.add_recording(entry)
        self._pending_added[entry.id] = entry
        self._views.pop(entry.id, None)

    def _add_neo(self, source: Any, user: dict[str, Any], link: bool, cl_error: Exception | None = None) -> str | list[str]:
        """Add each segment of a neo source as a recording (all or none); see :mod:`cldata.store.neo_ingest`."""
        if link and not (isinstance(source, (str, os.PathLike)) and is_neo_recording(Path(source))):
            raise ParameterError("link=True keeps a file where it is: a neo segment, block or a file of another "
                                 "format is converted to the neo layout, so it is copied; add it without link=True")
        added: list[str] = []
        try:
            for path, block_annotations in neo_recordings(source, cl_error):
                recording_id, params, streams, summary = read_neo_recording(path, block_annotations, user)
                if recording_id in added:
                    raise DuplicateRecordingError(f"{source!r:.80} holds the same segment twice ({recording_id})")
                location = self._put_recording(recording_id, path, link)
                self._stage(RecordingEntry(recording_id, params, streams, location, summary, now()))
                added.append(recording_id)
        except BaseException:
            for recording_id in added:  # a block enters whole or not at all
                self.catalog.remove_recording(recording_id)
                self._pending_added.pop(recording_id, None)
            raise
        return added[0] if len(added) == 1 else added

    def overview_path(self, recording_id: str) -> Path:
        """Where the overview (min/max pyramid) of a recording is read from.

        In the store (``overviews/<id>.h5``) for a writable store or when it is already
        there; for a read-only store without one, in the user's cache directory, so that
        building one on demand never writes into a store opened read-only (see
        :meth:`overview_build_path`).

        Raises
        ------
        cldata.errors.StoreFormatError
            If ``recording_id`` is not a plain id (ids come from catalog files: one that
            is a path is refused before any path is made from it), or the store's
            ``overviews`` directory is a symbolic link.
        """
        return overview_path(self.root, self.backend, self.writable, recording_id)

    def overview_build_path(self, recording_id: str) -> Path:
        """Where the overview of a recording is (re)built when it is missing, stale or damaged.

        In the store for a writable store; in the user's cache directory for a read-only
        store or an export: a store opened read-only writes nothing inside its directory,
        even when the overview it holds is stale (its linked recording changed) or damaged.

        Examples
        --------
        >>> store = cldata.open("lab-store")                         # doctest: +SKIP
        >>> store.overview_build_path(rid).is_relative_to(store.root)  # doctest: +SKIP
        False
        """
        return overview_build_path(self.root, self.backend, self.writable, recording_id)

    def remove_recording(self, recording_id: str, *, cascade: bool = False) -> None:
        """Remove a recording (and, with ``cascade``, the results computed from it).

        Raises
        ------
        cldata.errors.StoreError
            If results come from it and ``cascade`` is false.
        """
        self._check_writable()
        if recording_id not in self.catalog.recording_rows:
            raise NotFoundError(f"no recording {recording_id!r} in the store")
        dependent = [e.id for e in self.catalog.result_entries(sorted(self.catalog.results_by_source.get(recording_id, ()))).values()]
        if dependent and not cascade:
            raise StoreError(
                f"{len(dependent)} analysis results come from {recording_id}; remove them first or pass cascade=True"
            )
        for rid in dependent:
            self.remove_analysis_result(rid)
        self.catalog.remove_recording(recording_id)
        self._unstage(recording_id)
        self._views.pop(recording_id, None)

    def _unstage(self, entry_id: str) -> None:
        self._pending_added.pop(entry_id, None)
        self._pending_payloads.pop(entry_id, None)
        self._pending_removed.add(entry_id)

    # -- what views read (by catalog entry) ----------------------------------------------------------

    def recording_path(self, entry: RecordingEntry) -> Path:
        """The CL file of a recording entry (raises :class:`~cldata.errors.BrokenLinkError` for a broken link)."""
        return self.backend.recording_path(entry.location)

    def open_recording(self, entry: RecordingEntry) -> RecordingView | NeoRecordingView:
        """The recording of a catalog entry, open (the store keeps the last few open, and closes none in use):
        a :class:`~cldata.RecordingView`, or a :class:`~cldata.format.neo_file.NeoRecordingView` for a neo recording."""
        view = self._views.get(entry.id)
        if view is None or not _is_open(view):
            view = self.backend.open_recording(entry.location)
            self._views[entry.id] = view
            if len(self._views) > _OPEN_FILES:
                # forget the least recently used; its file closes once nobody holds it
                self._views.popitem(last=False)
        else:
            self._views.move_to_end(entry.id)
        return view

    def result_object(self, entry: ResultEntry) -> AnalysisResult:
        """The analysis result of a catalog entry (its payload read when first used)."""
        cls = get_result_kind(entry.kind)
        if cls is None:
            raise StoreFormatError(
                f"result {entry.id} is of kind {entry.kind!r}, unknown here; import the module that defines it"
            )
        return cls.from_store(entry.id, entry.identifier, entry.parameters, entry.sources, entry.tags,
                               lambda: self.load_payload(entry))

    def load_payload(self, entry: ResultEntry) -> dict[str, Any]:
        """The payload of a result entry (one added but not yet committed, too)."""
        if entry.id in self._pending_payloads:
            return dict(self._pending_payloads[entry.id][0])
        return self.backend.read_payload(entry.payload)

    # -- analysis results -------------------------------------------------------------------------

    def add_analysis_result(self, result: AnalysisResult) -> str:
        """Add an analysis result; return its id.

        Raises
        ------
        cldata.errors.DuplicateResultError
            If a result with the same identifier, parameters and sources is stored (unless
            the store has ``replace=True``, which replaces it).
        cldata.errors.NotFoundError
            If a source is not a recording of this store.
        """
        return self.add_analysis_results([result])[0]

    def add_analysis_results(self, results: Iterable[AnalysisResult]) -> list[str]:
        """Add many results at once (all or none: any error leaves the store as it was)."""
        self._check_writable()
        results = list(results)
        staged = result_entries(results, self.catalog)
        # which of these are stored already: one look-up for all (an on-disk catalog answers in batches)
        stored = self.catalog.existing_result_ids([e.id for e in staged])
        if stored and not self.replace:
            raise duplicate_result(next(r for r, e in zip(results, staged) if e.id in stored))
        # encoded now: an unstorable payload is refused before the store changes, never at commit
        payloads = {}
        for entry, result in zip(staged, results):
            payload = result.payload()
            payloads[entry.id] = (payload, self.backend.prepare_payload(payload))
        for entry in staged:
            if entry.id in stored:  # replace=True: the new one takes its place
                self._unstage(self.catalog.remove_result(entry.id).id)
        self.catalog.add_results(staged)
        for entry in staged:
            self._pending_added[entry.id] = entry
            self._pending_payloads[entry.id] = payloads[entry.id]
        for entry, result in zip(staged, results):
            result.id = entry.id
        return [e.id for e in staged]

    def remove_analysis_result(self, result_id: str) -> None:
        """Remove one analysis result."""
        self._check_writable()
        if result_id not in self.catalog.result_rows:
            raise NotFoundError(f"no analysis result {result_id!r} in the store")
        self.catalog.remove_result(result_id)
        self._unstage(result_id)

    # -- committing -------------------------------------------------------------------------------

    @property
    def dirty(self) -> bool:
        """Whether there are changes not yet committed."""
        return bool(self._pending_added or self._pending_removed)

    def commit(self) -> None:
        """Make every change so far durable, atomically."""
        self._check_writable()
        if not self.dirty:
            return
        # a commit makes records by the thousand (all of them when the backend compacts):
        # without the pause, the cyclic collector would walk the whole catalog again and again
        with paused_gc():
            prepared = {rid: ready for rid, (_, ready) in self._pending_payloads.items()}
            # the payloads reach the disk first: a commit never names a payload that is not there
            refs = self.backend.write_payloads(prepared) if prepared else {}
            self.catalog.set_payload_refs(refs)
            if self.engine is not None:
                self.engine.commit()
            else:
                added = [e.to_record() for e in self._pending_added.values()]
                removed = sorted(self._pending_removed)
                self.backend.commit(added, removed, self.catalog.records)
        self._pending_added.clear()
        self._pending_removed.clear()
        self._pending_payloads.clear()

    def rollback(self) -> None:
        """Discard the changes not yet committed."""
        self._check_writable()
        if self.engine is not None:
            self.engine.rollback()
        self.catalog = self._files.load_catalog()
        self._pending_added.clear()
        self._pending_removed.clear()
        self._pending_payloads.clear()
        self._views.clear()

    def refresh(self) -> None:
        """Reload the catalog to see commits made since the store was opened (readers)."""
        if self.dirty:
            raise StoreError("commit or roll back your changes before refreshing")
        self.catalog = self._files.load_catalog()
        self._views.clear()

    def _collect_garbage(self) -> None:
        collect_garbage(self.root, self.backend, self.engine, self.dirty)

    def close(self, commit: bool = True) -> None:
        """Commit pending changes (unless ``commit=False``), then release files and locks.

        The files of neo recordings the store opened close now (closed by the garbage
        collector, their nodes could outlive them): load lazy neo objects before closing.
        """
        if self._closed:
            return
        try:
            if commit and self.writable and self.dirty:
                self.commit()
            if self.writable:
                self._collect_garbage()
        finally:
            for view in self._views.values():
                if isinstance(view, NeoRecordingView):  # (it holds its file until closed; a CL view closes when dropped)
                    view.close()
            self._views.clear()
            self._files.release()  # (the engine rolls back what was not committed)
            self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    def close_at_exit(self) -> None:
        """Close at interpreter exit: uncommitted changes are discarded, never half-committed."""
        self.close(commit=False)

    def __enter__(self) -> DataStore:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        # a failed block keeps nothing of its changes; a successful one commits them
        self.close(commit=exc_type is None)

    def __del__(self) -> None:
        try:
            if not self._closed:
                self.close(commit=False)
        except Exception:
            pass


# the store answers every view method as its view of everything does (delegation, not inheritance)
for _name in ROOT_VIEW_API:
    _attribute = _OfRootView()
    setattr(DataStore, _name, _attribute)
    _attribute.__set_name__(DataStore, _name)
del _name, _attribute
