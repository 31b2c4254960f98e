"""``DataStore``: recordings and analysis results in one parametrised, crash-safe store.

A store is a directory (mozaik's ``root_directory``). Open it with :func:`cldata.open` or
:meth:`DataStore.from_parameters`. Changes (``add_*``, ``remove_*``) are visible at once
in this process and become durable, atomically, at :meth:`DataStore.commit` (also on
:meth:`~DataStore.close` and at the end of a ``with`` block). After a crash at any moment
the store opens with exactly what the last completed commit held.

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

import json
import os
import shutil
import stat
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cldata.backends.registry import get_backend
from cldata.core.canonical import canonical, digest, plain
from cldata.core.fsutil import atomic_write_bytes, is_regular, read_regular_bytes, safe_child
from cldata.core.gc_pause import paused_gc
from cldata.core.locking import FileLock
from cldata.core.shutdown import close_at_exit
from cldata.errors import (
    DuplicateRecordingError,
    DuplicateResultError,
    NotFoundError,
    ParameterError,
    ReadOnlyStoreError,
    StoreError,
    StoreFormatError,
    StoreLockedError,
    UnsupportedValueError,
    ValueOutOfRangeError,
)
from cldata.format.attributes import to_plain
from cldata.format.codec import encode
from cldata.format.reader import RecordingView
from cldata.model.catalog import Catalog, RecordingEntry, ResultEntry, is_record_id
from cldata.model.engines import DEFAULT_ENGINE, LEGACY, EngineCatalog, get_catalog_engine
from cldata.model.results import AnalysisResult, result_id_for, result_kinds
from cldata.store.view import DataStoreView

__all__ = ["DataStore", "open_store"]

MARKER = "cldata-store.json"
_WRITER_LOCK = ".lock"
_READERS_LOCK = ".readers"
_OPEN_FILES = 32
_MARKER_LIMIT = 1 << 20  # the marker is a few lines of JSON
# what a creation killed half-way leaves, besides the lock files: the backend's empty skeleton
_SKELETON = {"catalog", "payloads", "recordings"}
_CATALOG_FILE = "catalog.sqlite"  # the SQLite engine's (cldata.model.engines.sqlite.FILE_NAME)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _acquire(lock: FileLock, **how: Any) -> bool:
    try:
        return lock.acquire(**how)
    except OSError as exc:  # e.g. a lock file planted as a symbolic link (opened with O_NOFOLLOW)
        raise StoreFormatError(f"cannot use the lock file {lock.path}: {exc.strerror or exc}") from None


def _check_storable(params: Mapping[str, Any], what: str) -> None:
    """Refuse parameters that cannot be indexed or stored by every backend (before anything changes)."""
    canonical(params)
    try:
        encode(params)
    except (UnsupportedValueError, ValueOutOfRangeError) as exc:
        raise type(exc)(f"{what}: {exc}") from None


def _cache_dir(root: Path) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "cldata" / "overviews" / digest(str(Path(root).resolve()))


def _overview_name(recording_id: str) -> str:
    # the one check for every overview path made from a catalog id: a plain name, never a path
    if not is_record_id(recording_id):
        raise StoreFormatError(f"{recording_id!r:.100} is not a recording id of a store (a plain name such as "
                               "'rec_5f2c0d9e8a7b6c5d'); no overview path is made from it")
    return f"{recording_id}.h5"


def _recording_parameters(view: RecordingView, user: Mapping[str, Any]) -> dict[str, Any]:
    """Root attributes < the file's ``application`` values < the user's parameters."""
    root = to_plain(view.attributes.to_dict(plain=False))
    params: dict[str, Any] = dict(root)
    application = root.get("application")
    if isinstance(application, Mapping):
        params.update(application)
    params.update(plain(dict(user)))
    return params


class DataStore(DataStoreView):
    """The full store: a view of everything, plus adding, removing and committing.

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

    __slots__ = ("root", "mode", "replace", "backend", "catalog", "engine", "_pending_added", "_pending_removed",
                 "_pending_payloads", "_lock", "_readers", "_views", "_closed", "__weakref__")

    def __init__(self, root: str | os.PathLike[str], backend: str | None = None, mode: str = "r",
                 replace: bool = False, catalog: str | None = None, **options: Any):
        if mode not in ("r", "a", "w"):
            raise ValueError(f"mode must be 'r', 'a' or 'w', not {mode!r}")
        set_ = object.__setattr__
        set_(self, "full_datastore", self)
        set_(self, "_streams", None)
        set_(self, "_window", None)
        set_(self, "_sets", None)
        set_(self, "_catalog", None)
        set_(self, "_closed", True)
        set_(self, "root", Path(root))
        set_(self, "mode", mode)
        set_(self, "replace", bool(replace))
        set_(self, "_pending_added", {})
        set_(self, "_pending_removed", set())
        set_(self, "_pending_payloads", {})
        set_(self, "_views", OrderedDict())
        set_(self, "_lock", None)
        set_(self, "_readers", None)
        set_(self, "engine", None)
        root_path = self.root
        if root_path.is_file():
            self._open_export()
            return
        if os.path.lexists(root_path) and not root_path.is_dir():
            raise StoreFormatError(f"{root_path} is neither a store directory nor an export file "
                                   "(a FIFO, a device, a dangling link?)")
        marker = self._read_marker()
        if mode == "r":
            if marker is None:
                raise StoreFormatError(f"{root_path} is not a cldata store (no {MARKER}); open it with mode='a' to create one")
        else:
            # A directory being created by another process already holds its lock file (made first):
            # only a directory without one is somebody else's, where not even a lock file is created.
            # Whether a store can be created is decided with the lock held (in _create), so two
            # processes creating the same store end in one store and, for the other, StoreLockedError
            # or a normal open.
            # (one listing: the lock file, made first and never removed, is in any listing that shows
            # what a creation made after it)
            names = os.listdir(root_path) if marker is None and root_path.is_dir() else []
            if names and _WRITER_LOCK not in names:
                raise StoreFormatError(
                    f"{root_path} is not empty and not a cldata store; choose an empty or new directory"
                )
            root_path.mkdir(parents=True, exist_ok=True)
            lock = FileLock(root_path / _WRITER_LOCK)
            if not _acquire(lock, exclusive=True):
                raise StoreLockedError(
                    f"{root_path} is open for writing elsewhere; only one writer at a time "
                    "(readers can open it with mode='r')"
                )
            set_(self, "_lock", lock)
            marker = self._read_marker()  # another writer may have created the store meanwhile
        try:
            name = self._backend_name(marker, backend)
            set_(self, "backend", get_backend(name)(root_path, writable=mode != "r", **options))
            if mode == "w" or marker is None:
                engine_name = catalog or DEFAULT_ENGINE
                self._create(name, engine_name, wipe=marker is not None)
            else:
                engine_name = self._engine_name(marker, catalog)
            if engine_name != LEGACY:
                set_(self, "engine", get_catalog_engine(engine_name)(root_path, writable=mode != "r"))
                self.backend.catalog_in_backend = False
            if mode == "r":
                readers = FileLock(root_path / _READERS_LOCK)
                _acquire(readers, exclusive=False, blocking=True)
                set_(self, "_readers", readers)
            if self.engine is not None:
                if mode == "a" and marker is not None and marker.get("catalog", LEGACY) == LEGACY:
                    self._migrate(marker)
                self.engine.open()
            set_(self, "catalog", self._load_catalog())
            set_(self, "_closed", False)
            close_at_exit(self)
            if mode != "r":
                self._collect_garbage()
        except BaseException:
            if self.engine is not None:
                self.engine.close()
            if self._readers is not None:
                self._readers.release()
            if self._lock is not None:
                self._lock.release()
            raise

    # a store is itself: equal only to itself (views compare by content)
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    # -- opening ------------------------------------------------------------------------------

    def _open_export(self) -> None:
        from cldata.backends.export import ExportBackend

        if self.mode != "r":
            raise ReadOnlyStoreError(f"{self.root} is a file (a store export?), which opens read-only: use mode='r'")
        object.__setattr__(self, "backend", ExportBackend(self.root, writable=False))
        try:
            object.__setattr__(self, "catalog", self._load_catalog())
        except BaseException:
            self.backend.close()
            raise
        object.__setattr__(self, "_closed", False)
        close_at_exit(self)

    def _load_catalog(self) -> Catalog:
        if self.engine is not None:
            # the writer sees the last commit and its own changes; a reader, the commit it opened at
            return EngineCatalog(self.engine, None if self.writable else self.engine.generation())
        with paused_gc():
            return self._checked_catalog(self.backend.load())

    def _checked_catalog(self, records: list[dict[str, Any]]) -> Catalog:
        """The in-memory catalog of ``records``; a malformed or crafted record (an id that is a path...)
        raises StoreFormatError."""
        try:
            return Catalog.from_records(records)
        except StoreFormatError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StoreFormatError(
                f"the catalog of {self.root} holds a malformed record ({type(exc).__name__}: {exc}); "
                "`cldata check` says more"
            ) from None

    def _read_marker(self) -> dict[str, Any] | None:
        path = self.root / MARKER
        try:
            # never follows a link nor waits on a FIFO planted as the marker
            data = json.loads(read_regular_bytes(path, limit=_MARKER_LIMIT))
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise StoreFormatError(f"{path} cannot be read: {exc.strerror or exc} (a store's marker is a small "
                                   "regular file)") from None
        except (ValueError, RecursionError) as exc:
            raise StoreFormatError(f"{path} is damaged: {type(exc).__name__}: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != "cldata store":
            raise StoreFormatError(f"{path} is not a cldata store marker")
        if not isinstance(data.get("backend", ""), str):
            raise StoreFormatError(f"{path} names a backend that is not a string: {data.get('backend')!r:.60}")
        return data

    def _engine_name(self, marker: dict[str, Any], requested: str | None) -> str:
        stored = marker.get("catalog", LEGACY)
        if type(stored) is not str:
            raise StoreFormatError(f"{self.root / MARKER} names a catalog engine that is not a string: {stored!r:.60}")
        if requested is None:
            # a store of the old layout moves to SQLite when opened for writing (see _migrate)
            return DEFAULT_ENGINE if stored == LEGACY and self.mode != "r" else stored
        if requested == stored:
            return stored  # catalog="backend" keeps an old store's segment log, even for writing
        if stored == LEGACY and requested == DEFAULT_ENGINE:
            if self.mode == "r":
                raise StoreFormatError(f"{self.root} keeps its catalog in the segment log of a store made before "
                                       "version 2; open it read-only with catalog=None, or move it to SQLite with "
                                       "`cldata upgrade` (or by opening it with mode='a')")
            return requested
        raise StoreFormatError(f"{self.root} keeps its catalog in {stored!r}; open it with catalog={stored!r} (or None)")

    def _migrate(self, marker: dict[str, Any]) -> None:
        """Move a version-1 store's catalog (the backend's segment log) into the catalog engine, once.

        Crash-safe in three steps: the engine's catalog is written whole under a temporary
        name and renamed into place; then the marker names the engine (an atomic rename);
        then the old segments go. Killed before the marker changes, the store is still a
        version-1 store and the next writer migrates again; after, it is a version-2 one.
        """
        assert self.engine is not None
        with paused_gc():
            # a damaged or crafted catalog is refused as a read would refuse it, before anything changes
            # (the engine stores records as they are: an id that is a path must not reach it); the engine
            # gets the records as the catalog read them (optional fields a version-1 record may lack, such
            # as tags or summary, filled in)
            catalog = self._checked_catalog(self.backend.load())
        self.engine.create(catalog.records())
        new = {**marker, "version": 2, "catalog": self.engine.name, "migrated_utc": _now()}
        atomic_write_bytes(self.root / MARKER, json.dumps(new, indent=1).encode())
        # the old segments go now if no reader has the store open (one may still read them, and refresh()
        # from them); otherwise garbage collection removes them once the last reader is gone
        readers = FileLock(self.root / _READERS_LOCK)
        if _acquire(readers, exclusive=True):
            try:
                shutil.rmtree(self.root / "catalog", ignore_errors=True)
            finally:
                readers.release()

    def _backend_name(self, marker: dict[str, Any] | None, requested: str | None) -> str:
        stored = marker.get("backend") if marker else None
        if stored and requested and stored != requested and self.mode != "w":
            raise StoreFormatError(
                f"{self.root} is a {stored!r} store; open it with backend={stored!r} (or None)"
            )
        return requested or stored or "hdf5"

    def _create(self, backend_name: str, engine_name: str, wipe: bool) -> None:
        if not wipe and not self._empty_or_unfinished():
            raise StoreFormatError(
                f"{self.root} is not empty and not a cldata store; choose an empty or new directory"
            )
        engine = None if engine_name == LEGACY else get_catalog_engine(engine_name)(self.root, writable=True)
        if wipe:
            # the marker goes first: killed half-way, the directory is an unfinished store, not a damaged one
            (self.root / MARKER).unlink(missing_ok=True)
            for name in ("catalog", "payloads", "recordings"):
                # (rmtree refuses a symbolic link: a planted one is left, and then refused by the backend)
                shutil.rmtree(self.root / name, ignore_errors=True)
            for name in (_CATALOG_FILE, f"{_CATALOG_FILE}-journal"):
                if is_regular(self.root / name):
                    (self.root / name).unlink()
        if engine is not None:
            self.backend.catalog_in_backend = False
        self.backend.create()
        marker: dict[str, Any] = {"format": "cldata store", "version": 1, "backend": backend_name,
                                  "created_utc": _now()}
        if engine is not None:
            engine.create()
            marker.update(version=2, catalog=engine_name)
        atomic_write_bytes(self.root / MARKER, json.dumps(marker, indent=1).encode())

    def _empty_or_unfinished(self) -> bool:
        """Whether the directory holds nothing but lock files and what a creation killed half-way
        leaves (the backend's empty directories, ``catalog/CURRENT`` and temporaries): a store can be
        created there. Anything else is somebody's data."""
        def plain(path: Path, directory: bool) -> bool:
            mode = os.lstat(path).st_mode
            return stat.S_ISDIR(mode) if directory else stat.S_ISREG(mode)

        try:
            for path in self.root.iterdir():
                name = path.name
                if name in (_WRITER_LOCK, _READERS_LOCK) or name.startswith(f".{MARKER}.tmp-"):
                    continue
                if (name in (_CATALOG_FILE, f"{_CATALOG_FILE}-journal") or name.startswith(f".{_CATALOG_FILE}.tmp-")) \
                        and plain(path, False):
                    continue
                if name not in _SKELETON or not plain(path, True):
                    return False
                for inner in path.iterdir():
                    if not (name == "catalog" and plain(inner, False)
                            and (inner.name == "CURRENT" or inner.name.startswith(".CURRENT.tmp-"))):
                        return False
        except OSError:
            return False
        return True

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> DataStore:
        """Open a store from a ParameterSet (or dict): ``root_directory``, and optionally
        ``backend``, ``mode`` (default ``"a"``), ``replace`` and backend ``options``.

        Examples
        --------
        >>> from parameters import ParameterSet
        >>> store = DataStore.from_parameters(ParameterSet({"root_directory": "lab-store"}))  # doctest: +SKIP
        """
        params = dict(parameters.as_dict() if hasattr(parameters, "as_dict") else parameters)
        if "root_directory" not in params:
            raise ParameterError("a store's parameters need 'root_directory'")
        unknown = set(params) - {"root_directory", "backend", "mode", "replace", "catalog", "options"}
        if unknown:
            raise ParameterError(f"unexpected store parameter(s) {sorted(unknown)}; known: root_directory, "
                                 "backend, mode, replace, catalog, options")
        return cls(params["root_directory"], backend=params.get("backend"), mode=params.get("mode", "a"),
                   replace=bool(params.get("replace", False)), catalog=params.get("catalog"),
                   **dict(params.get("options") or {}))

    # -- the view interface -----------------------------------------------------------------------

    def _recording_rows(self) -> tuple[int, ...]:
        return tuple(self.catalog.live_recording_rows())

    def _result_rows(self) -> tuple[int, ...]:
        return tuple(self.catalog.live_result_rows())

    def _row_sets(self) -> None:
        return None  # every live row: queries start from the index alone

    def _current(self) -> None:
        pass  # the store is always its own current catalog

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
                      *, overview: bool = True, progress: bool = True) -> str:
        """Add a CL recording; return its id.

        Parameters
        ----------
        source
            A CL recording file, a closed (or to be closed) :class:`~cldata.RecordingWriter`,
            or a :class:`~cldata.RecordingView`.
        parameters
            User parameters (culture, session, stimulation protocol...). They are merged
            with the file's root attributes and its ``application`` values; the user's win.
        link
            Leave the file where it is and keep only a link to it (not copied).
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
            If the file is not a readable CL recording.
        """
        self._check_writable()
        from cldata.format.writer import RecordingWriter

        if isinstance(source, RecordingWriter):
            source.close()
            path = source.path
        elif isinstance(source, RecordingView):
            path = source.path
        else:
            path = Path(source)
        if parameters is not None and not isinstance(parameters, Mapping):
            raise ParameterError(f"recording parameters are a dict, not {type(parameters).__name__}")
        user = plain(dict(parameters or {}))
        _check_storable(user, "recording parameters")  # before any file is copied
        with RecordingView(path) as view:
            params = _recording_parameters(view, user)
            # a stream's application attributes are indexed when they are a dict, as CL writes
            # them; another value (bytes, a list) stays in the file, unindexed
            streams = {name: to_plain(dict(app)) if isinstance(app := s.attributes.get("application"), Mapping) else {}
                       for name, s in view.data_streams.items()}
            summary = {
                "duration_s": view.duration_seconds,
                "frames_per_second": view.frames_per_second,
                "channel_count": view.channel_count,
                "spikes": len(view.spikes) if view.spikes is not None else 0,
                "stims": len(view.stims) if view.stims is not None else 0,
                "sample_frames": int(view.samples.nrows) if view.samples is not None else 0,
                "streams": {name: len(s) for name, s in view.data_streams.items()},
                # which parameters came from the file's root attributes (not the user's)
                "root_keys": sorted(set(view.attributes) - set(user)
                                    - set(app if isinstance(app := view.attributes.get("application"), Mapping)
                                          else ())),
            }
            identity = to_plain(view.attributes.to_dict(plain=False))
        recording_id = "rec_" + digest(identity, summary)
        if recording_id in self.catalog.recording_rows:
            if not self.replace:
                raise DuplicateRecordingError(
                    f"{path} is already in the store as {recording_id}; open the store with replace=True to replace it"
                )
            self._unstage(self.catalog.remove_recording(recording_id).id)
        location = self.backend.put_recording(recording_id, path, link)
        entry = RecordingEntry(recording_id, params, streams, location, summary, _now())
        if overview and (summary["sample_frames"] or summary["spikes"]):
            from cldata.overview import build_overview

            with RecordingView(path) as view:  # the same content as the stored copy
                build_overview(view, self.overview_path(recording_id), progress=progress)
        self.catalog.add_recording(entry)
        self._pending_added[recording_id] = entry
        self._views.pop(recording_id, None)
        return recording_id

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
        name = _overview_name(recording_id)
        inside = self.root / "overviews" / name
        if not self.root.is_file() and (self.writable or is_regular(inside)):
            return self.backend.inside(inside)
        return self._cached_overview(name)

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
        name = _overview_name(recording_id)
        if self.writable and not self.root.is_file():
            return self.backend.inside(self.root / "overviews" / name)
        return self._cached_overview(name)

    def _cached_overview(self, name: str) -> Path:
        cache = _cache_dir(self.root)
        try:
            return safe_child(cache, name)  # the inside-the-directory check of the cache
        except ValueError:  # pragma: no cover - _overview_name made the name
            raise StoreFormatError(f"{name!r:.100} is not a plain file name; no overview path is made from it") from None

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

    def _recording_path(self, entry: RecordingEntry) -> Path:
        return self.backend.recording_path(entry.location)

    def _open_recording(self, row: int) -> RecordingView:
        entry = self.catalog.recordings[row]
        if entry is None:
            raise NotFoundError("this recording has been removed from the store")
        view = self._views.get(entry.id)
        if view is None or not view.file.isopen:
            view = self.backend.open_recording(entry.location)
            self._views[entry.id] = view
            if len(self._views) > _OPEN_FILES:
                # forget the least recently used; its file closes once nobody holds it
                self._views.popitem(last=False)
        else:
            self._views.move_to_end(entry.id)
        return view

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
        kinds = result_kinds()
        staged: list[ResultEntry] = []
        keys: set[str] = set()
        for result in results:
            if not isinstance(result, AnalysisResult):
                raise UnsupportedValueError(f"add_analysis_result takes an AnalysisResult, not {type(result).__name__}")
            kind = type(result).__name__
            if kinds.get(kind) is not type(result):
                raise UnsupportedValueError(f"result kind {kind} is not registered (use cldata.register_result_kind)")
            missing = [s for s in result.sources if s not in self.catalog.recording_rows]
            if missing:
                raise NotFoundError(f"result {result.identifier!r} comes from {missing}, which are not in the store")
            _check_storable(result.parameters, f"parameters of result {result.identifier!r}")
            rid = result_id_for(result.key)  # the id is the identity
            if rid in keys:
                raise self._duplicate(result)
            keys.add(rid)
            staged.append(ResultEntry(rid, kind, result.identifier, result.parameters,
                                      result.sources, result.tags, None, result.summary(), _now()))
        # which of these are stored already: one look-up for all (an on-disk catalog answers in batches)
        stored = self.catalog.existing_result_ids([e.id for e in staged])
        if stored and not self.replace:
            raise self._duplicate(next(r for r, e in zip(results, staged) if e.id in stored))
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

    @staticmethod
    def _duplicate(result: AnalysisResult) -> DuplicateResultError:
        return DuplicateResultError(
            f"a {type(result).__name__} {result.identifier!r} with parameters {result.parameters} from "
            f"{list(result.sources)} is already stored; open the store with replace=True to replace it")

    def remove_analysis_result(self, result_id: str) -> None:
        """Remove one analysis result."""
        self._check_writable()
        if result_id not in self.catalog.result_rows:
            raise NotFoundError(f"no analysis result {result_id!r} in the store")
        self.catalog.remove_result(result_id)
        self._unstage(result_id)

    def _result_object(self, entry: ResultEntry) -> AnalysisResult:
        cls = result_kinds().get(entry.kind)
        if cls is None:
            raise StoreFormatError(
                f"result {entry.id} is of kind {entry.kind!r}, unknown here; import the module that defines it"
            )
        return cls._from_store(entry.id, entry.identifier, entry.parameters, entry.sources, entry.tags,
                               lambda: self._load_payload(entry))

    def _load_payload(self, entry: ResultEntry) -> dict[str, Any]:
        if entry.id in self._pending_payloads:
            return dict(self._pending_payloads[entry.id][0])
        return self.backend.read_payload(entry.payload)

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
        object.__setattr__(self, "catalog", self._load_catalog())
        self._pending_added.clear()
        self._pending_removed.clear()
        self._pending_payloads.clear()
        self._views.clear()

    def refresh(self) -> None:
        """Reload the catalog to see commits made since the store was opened (readers)."""
        if self.dirty:
            raise StoreError("commit or roll back your changes before refreshing")
        object.__setattr__(self, "catalog", self._load_catalog())
        self._views.clear()

    def _collect_garbage(self) -> None:
        readers = FileLock(self.root / _READERS_LOCK)
        if _acquire(readers, exclusive=True):  # nobody is reading: unreferenced files can go
            try:
                # what the last commit refers to stays, whatever this process did not commit
                if self.engine is not None:
                    committed = self._committed_references()
                    leftover = self.root / "catalog"  # the segment log of a migration killed before removing it
                    if leftover.is_dir() and not leftover.is_symlink():
                        shutil.rmtree(leftover, ignore_errors=True)
                else:
                    committed = self.backend.load()
                self.backend.collect_garbage(committed)
                ids = {r["id"] for r in committed if r.get("kind") == "recording"}
                overviews = self.root / "overviews"
                if overviews.is_dir() and not overviews.is_symlink():
                    for path in overviews.iterdir():
                        if ((path.suffix == ".h5" and path.stem not in ids or path.name.startswith("."))
                                and not stat.S_ISDIR(os.lstat(path).st_mode)):  # (a link goes as a link)
                            path.unlink(missing_ok=True)
            finally:
                readers.release()

    def _committed_references(self) -> list[dict[str, Any]]:
        """What garbage collection must keep, as records: the committed recordings and the payload
        files the committed results name (removed entries are purged first: nobody reads them)."""
        assert self.engine is not None
        if not self.dirty:
            self.engine.purge()
        records = self.engine.recordings(self.engine.generation())
        return [*records, *({"payload": {"file": name}} for name in sorted(self.engine.payload_files()))]

    def close(self, commit: bool = True) -> None:
        """Commit pending changes (unless ``commit=False``), then release files and locks."""
        if self._closed:
            return
        try:
            if commit and self.writable and self.dirty:
                self.commit()
            if self.writable:
                self._collect_garbage()
        finally:
            self._views.clear()
            if self.engine is not None:
                self.engine.close()  # uncommitted changes are rolled back
            self.backend.close()
            for lock in (self._lock, self._readers):
                if lock is not None:
                    lock.release()
            object.__setattr__(self, "_closed", True)

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


def upgrade_store(root: str | os.PathLike[str]) -> str:
    """Move a store made before version 2 to the current layout (its catalog into SQLite), once.

    The store is opened for writing (so no other writer may have it open) and its catalog
    moved as :class:`DataStore` does on a first write: written whole under a temporary
    name, then named in the marker, then the old segments removed. A crash at any moment
    leaves a store that opens (old or new layout); run it again to finish. A store that is
    already current is left as it is. ``cldata upgrade PATH`` is this function.

    Returns
    -------
    str
        What was done, in one line.

    Raises
    ------
    cldata.errors.StoreFormatError
        If ``root`` is not a store.
    cldata.errors.StoreLockedError
        If a writer has it open.

    Examples
    --------
    >>> cldata.upgrade("old-lab-store")          # doctest: +SKIP
    'old-lab-store: catalog moved to SQLite (12 recordings, 48,000 results)'
    """
    root = Path(root)
    if not (root / MARKER).exists():
        raise StoreFormatError(f"{root} is not a cldata store (no {MARKER})")
    before = json.loads(read_regular_bytes(root / MARKER, limit=_MARKER_LIMIT)).get("catalog", LEGACY)
    with DataStore(root, mode="a") as store:
        n_rec, n_res = store.catalog.n_recordings, store.catalog.n_results
        counts = f"{n_rec:,} recording{'' if n_rec == 1 else 's'}, {n_res:,} result{'' if n_res == 1 else 's'}"
    if before != LEGACY:
        return f"{root}: already current (catalog: {before}; {counts})"
    return f"{root}: catalog moved to SQLite ({counts})"


def open_store(root: str | os.PathLike[str] | Mapping[str, Any], backend: str | None = None,
               mode: str | None = None, replace: bool | None = None, catalog: str | None = None,
               **options: Any) -> DataStore:
    """Open (or create) a store. ``cldata.open`` is this function.

    ``mode`` is ``"r"`` (the default: read, never create), ``"a"`` (read and write,
    creating the store if it is missing) or ``"w"`` (an empty store).

    ``root`` may also be a ParameterSet / dict with ``root_directory`` (as a batch run
    gives it); then the other arguments come from it (its ``mode`` defaulting to ``"a"``),
    and the arguments given here win: ``cldata.open({"root_directory": d}, mode="r")``
    opens read-only and creates nothing.

    Examples
    --------
    >>> store = cldata.open("lab-store", mode="a")     # doctest: +SKIP
    >>> reader = cldata.open({"root_directory": "lab-store"}, mode="r")   # doctest: +SKIP
    """
    if isinstance(root, Mapping) or hasattr(root, "as_dict"):
        params = dict(root.as_dict() if hasattr(root, "as_dict") else root)  # type: ignore[union-attr]
        # what the caller says here is more specific than what the parameters say
        if mode is not None:
            params["mode"] = mode
        if backend is not None:
            params["backend"] = backend
        if replace is not None:
            params["replace"] = replace
        if options:
            params["options"] = {**dict(params.get("options") or {}), **options}
        if catalog is not None:
            params["catalog"] = catalog
        return DataStore.from_parameters(params)
    return DataStore(root, backend=backend, mode="r" if mode is None else mode, replace=bool(replace),
                     catalog=catalog, **options)
