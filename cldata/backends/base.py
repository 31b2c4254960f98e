"""The backend interface: what a store asks of the place it keeps its files.

A backend persists one store: the catalog (records of recordings and results), the CL
files of the recordings, and result payloads. The :class:`~cldata.DataStore` keeps the
catalog in memory (or in a catalog engine) and talks to its backend only to load it, to
commit changes, and to move files and payloads in and out, so queries never depend on the
backend. :class:`Backend` is the small interface a plugin implements;
:class:`~cldata.backends.segmented.SegmentedBackend` implements it on a directory with a
crash-safe log of catalog segments, leaving a backend only its encodings.

Reads refuse symbolic links inside the store (:meth:`Backend.inside`) and anything that is
not a regular file (a FIFO would block the reader). A recording's copy carries its size
and CRC-32 (:func:`copy_with_crc32`), a link its size and modification time, so that a
damaged copy or a changed link is found.

Examples
--------
>>> class MyBackend(Backend):                     # doctest: +SKIP
...     name = "mine"
...     def create(self): ...
...     def load(self): ...
...     def commit(self, added, removed, snapshot): ...
...     def write_payloads(self, payloads): ...
...     def read_payload(self, ref): ...
"""

import abc
import os
import stat
import zlib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from cldata.core.fsutil import (
    create_new,
    fsync_dir,
    open_regular,
    temporary_beside,
)
from cldata.errors import (
    BrokenLinkError,
    ChangedLinkError,
    StoreFormatError,
)
from cldata.format.neo_file import NeoRecordingView, is_neo_recording
from cldata.format.reader import RecordingView

__all__ = ["Backend", "copy_with_crc32", "file_crc32", "open_recording_file"]

_COPY_CHUNK = 8 << 20


def copy_with_crc32(source: Path, target: Path) -> tuple[int, int]:
    """Copy ``source`` to the new file ``target`` (fsynced) and return the CRC-32 and size of what was copied.

    ``target`` is created exclusively (:func:`cldata.core.fsutil.create_new`): anything already
    there, a planted symbolic link included, makes the copy fail instead of being followed.
    """
    crc, size = 0, 0
    with os.fdopen(open_regular(source), "rb") as src, create_new(target) as dst:
        while chunk := src.read(_COPY_CHUNK):
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    return crc, size


def open_recording_file(path: Path, *, finished: bool = False) -> RecordingView | NeoRecordingView:
    """A stored recording file, opened as what it is: a :class:`~cldata.format.neo_file.NeoRecordingView`
    for a file in the neo layout, a :class:`~cldata.RecordingView` for a CL file.

    The one place that tells the two layouts apart when a store opens a recording
    (``finished``: a CL copy is a finished recording, a journal planted beside it is ignored).

    Examples
    --------
    >>> open_recording_file(store.recording_path(entry))      # doctest: +SKIP
    <NeoRecordingView ...>
    """
    if is_neo_recording(path):
        return NeoRecordingView(path)
    return RecordingView(path, finished=finished)


def file_crc32(path: Path) -> int:
    """The CRC-32 of a whole regular file, read in chunks (a link or FIFO is refused with an OSError)."""
    crc = 0
    with os.fdopen(open_regular(path), "rb") as f:
        while chunk := f.read(_COPY_CHUNK):
            crc = zlib.crc32(chunk, crc)
    return crc


class Backend(abc.ABC):
    """What a store backend does. Subclass it (or :class:`SegmentedBackend`) for a plugin.

    A backend object is made for one store directory ``root`` and one open store; the
    store guarantees a single writer at a time (it holds the store's lock), so a backend
    need not coordinate writers, only keep each :meth:`commit` atomic.

    Parameters
    ----------
    root
        The store directory.
    writable
        Whether the store is open for writing.
    options
        Backend-specific options from ``cldata.open(..., **options)`` or the parameter set.
    """

    #: The name the backend is registered under (``cldata.open(root, backend=name)``).
    name: ClassVar[str] = ""
    #: Whether the backend keeps the store's catalog (:meth:`load`, :meth:`commit`): true for
    #: stores made before version 2; the store sets it false when a catalog engine
    #: (:mod:`cldata.model.engines`) keeps the catalog, and the backend then keeps only
    #: recordings and payloads.
    catalog_in_backend: bool = True

    def __init__(self, root: Path, *, writable: bool, **options: Any):
        self.root = Path(root)
        self.writable = writable
        self.options = options

    # -- catalog -------------------------------------------------------------------------------

    @abc.abstractmethod
    def create(self) -> None:
        """Initialise an empty store in ``root`` (called once, when a store is created)."""

    @abc.abstractmethod
    def load(self) -> list[dict[str, Any]]:
        """The catalog records of the last completed commit, in order."""

    @abc.abstractmethod
    def commit(
        self,
        added: list[dict[str, Any]],
        removed: list[str],
        snapshot: Callable[[], Iterable[dict[str, Any]]],
    ) -> None:
        """Persist one commit atomically: the records added and the ids removed.

        ``snapshot()`` yields the whole catalog after the commit (a backend may write that
        instead of the changes, e.g. to compact). After a crash at any point, :meth:`load`
        must return either the state before or the state after the commit.
        """

    # -- payloads --------------------------------------------------------------------------------

    @abc.abstractmethod
    def write_payloads(self, payloads: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        """Store payloads (result id -> dict of fields) before a commit; return result id -> reference.

        A reference is any value the catalog codec stores (str, dict, bytes...); it is saved
        in the result's record and handed back to :meth:`read_payload`.
        """

    @abc.abstractmethod
    def read_payload(self, ref: Any) -> dict[str, Any]:
        """The payload a reference points to."""

    def prepare_payload(self, payload: dict[str, Any]) -> Any:
        """Check, when a result is added, that ``payload`` can be stored and read back.

        Returns what :meth:`write_payloads` will get for it (by default the payload itself).
        A backend that encodes payloads encodes them here, so that an unstorable payload is
        refused at once, leaving the store as it was, never at commit.

        Raises
        ------
        cldata.errors.UnsupportedValueError
            If the payload cannot be stored, or would not read back.
        """
        return payload

    # -- paths -----------------------------------------------------------------------------------

    def inside(self, path: Path) -> Path:
        """``path`` if it lies in the store directory, reached without symbolic links.

        Every path the store derives from its own files goes through this: a catalog, a
        payload reference or a symlink planted in the store must never make cldata read,
        write or delete anything outside it.

        Raises
        ------
        cldata.errors.StoreFormatError
            For a symbolic link, or a path that leaves the store directory.
        """
        root = self.root.resolve()
        path = Path(path)
        rel = path.relative_to(self.root) if not path.is_absolute() or path.is_relative_to(self.root) else None
        if rel is None or ".." in rel.parts:
            raise StoreFormatError(f"{path} is outside the store {self.root}; refused")
        here = root
        for part in rel.parts:
            here = here / part
            if here.is_symlink():
                raise StoreFormatError(f"{here} is a symbolic link; the store follows no links of its own, refused")
        if not here.resolve().is_relative_to(root):
            raise StoreFormatError(f"{path} leads outside the store {self.root}; refused")
        return path

    # -- recordings ------------------------------------------------------------------------------

    def put_recording(self, recording_id: str, source: Path, link: bool) -> dict[str, Any]:
        """Bring a CL file into the store (copied) or point at it (``link``); return its location.

        A copy is written under an unpredictable temporary name, created exclusively, and
        renamed into ``recordings/<id>.h5``. A link records the file's size and modification
        time, which every later open compares (see :meth:`recording_path`).
        """
        if link:
            path = Path(source).resolve()
            st = path.stat()
            # size and modification time: opening the recording later notices a file that changed
            return {"kind": "link", "path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
        target_dir = self.inside(self.root / "recordings")
        target_dir.mkdir(exist_ok=True)
        name = f"{recording_id}.h5"
        tmp = temporary_beside(target_dir / name)
        try:
            crc, size = copy_with_crc32(Path(source), tmp)
            os.replace(tmp, target_dir / name)  # replaces whatever is there (a planted link too), never follows it
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fsync_dir(target_dir)
        return {"kind": "copy", "path": f"recordings/{name}", "size": size, "crc32": crc}

    def recording_path(self, location: Mapping[str, Any]) -> Path:
        """The CL file of a recording, checked to exist (and, for a link, to be unchanged).

        A copy must be a regular file inside the store, reached without symbolic links. A
        link is the user's file, wherever it is; its size and modification time are
        compared (one ``stat``) with those recorded when it was linked (locations written
        before they were recorded are not compared).

        Raises
        ------
        cldata.errors.BrokenLinkError
            If a linked file was moved or deleted (or a copied one went missing).
        cldata.errors.ChangedLinkError
            If a linked file was changed since it was linked.
        cldata.errors.StoreFormatError
            If the location is malformed, leaves the store, or is not a regular file.
        """
        where = location.get("path") if isinstance(location, Mapping) else None
        if not isinstance(where, str) or not where:
            raise StoreFormatError(f"malformed recording location {location!r:.100} (the catalog is damaged)")
        if location.get("kind") == "link":
            path = Path(where)
            try:
                st = path.stat()
            except OSError:
                st = None
            if st is None or not stat.S_ISREG(st.st_mode):
                raise BrokenLinkError(
                    f"the linked recording {path} is missing (moved or deleted?){'' if st is None else ' or not a file'}; "
                    "put it back, or remove the recording from the store; `cldata check` lists broken links"
                )
            size, mtime = location.get("size"), location.get("mtime_ns")
            if size is not None and mtime is not None and (st.st_size, st.st_mtime_ns) != (size, mtime):
                raise ChangedLinkError(
                    f"the linked recording {path} changed since it was added to the store (size {size} -> "
                    f"{st.st_size} bytes, or its modification time): its content may not be what the catalog "
                    "and the results computed from it describe. If it is the same recording (copied back, "
                    "touched), link it again: add_recording(path, link=True) on the store opened with "
                    "replace=True; if its content changed, it is another recording: add it, and remove this "
                    "one (remove_recording(id, cascade=True)). `cldata check` lists changed links"
                )
            return path
        rel = Path(where)
        if rel.is_absolute() or ".." in rel.parts:
            raise StoreFormatError(f"recording location {rel} escapes the store directory")
        path = self.inside(self.root / rel)
        try:
            st = os.lstat(path)
        except OSError:
            raise BrokenLinkError(f"the store's copy of a recording is missing: {path}") from None
        if not stat.S_ISREG(st.st_mode):
            raise StoreFormatError(f"the store's copy of a recording, {path}, is not a regular file (a FIFO, a "
                                   "directory...?); the store is damaged or crafted")
        size = location.get("size")
        if type(size) is int and st.st_size != size:  # one stat: truncated or grown copies (check reads the CRC)
            raise StoreFormatError(f"the store's copy of a recording, {path}, has {st.st_size} bytes but was "
                                   f"stored with {size}: the file was damaged (`cldata check` says more)")
        return path

    def open_recording(self, location: Mapping[str, Any]) -> RecordingView | NeoRecordingView:
        """The recording at ``location``, read-only: a :class:`~cldata.RecordingView` for a CL file,
        a :class:`~cldata.format.neo_file.NeoRecordingView` for a neo recording (:func:`open_recording_file`)."""
        # a copy is a finished recording: a journal planted beside it is `check`'s business
        return open_recording_file(self.recording_path(location), finished=location.get("kind") == "copy")

    # -- housekeeping -----------------------------------------------------------------------------

    def collect_garbage(self, live: list[dict[str, Any]]) -> list[Path]:
        """Delete files no live record refers to; return them. Called with no reader open."""
        return []

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing open
        """Release resources (open files)."""

