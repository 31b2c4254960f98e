"""The backend interface, and the crash-safe segmented layout the built-in backends share.

A backend persists one store: the catalog (records of recordings and results), the CL
files of the recordings, and result payloads. The :class:`~cldata.DataStore` keeps the
catalog in memory and talks to its backend only to load it, to commit changes, and to
move files and payloads in and out, so queries never depend on the backend.

:class:`Backend` is the small interface a plugin implements. :class:`SegmentedBackend`
implements it on a directory, leaving a backend only the encoding of catalog segments
and payloads (four methods). Its commit protocol is crash-safe:

1. payloads too large to sit in the catalog go to a new payload file (fsynced);
2. the commit's changes go to a new, immutable catalog segment (fsynced);
3. ``catalog/CURRENT`` (a small JSON file listing the live segments) is replaced
   atomically (write, fsync, rename, fsync the directory).

A crash before step 3 leaves the previous ``CURRENT``, so the store opens with exactly
the last completed commit; the files of the interrupted commit are garbage, removed
later.

Every file a commit writes is new, under a name nothing can be planted at: segment and
payload files get a random name checked to be free (``_new_name``: PyTables, which the
``hdf5`` backend writes them with, opens files by name), the default writers create them
with ``O_EXCL | O_NOFOLLOW``, and ``CURRENT`` and copied recordings are written to an
unpredictable temporary created the same way and renamed into place
(:mod:`cldata.core.fsutil`). Reads refuse symbolic links inside the store (:meth:`Backend.inside`)
and anything that is not a regular file (a FIFO would block the reader). Segments accumulate and are compacted into one now and then; files no longer
referenced are deleted only when no reader has the store open.

Examples
--------
>>> class MyBackend(SegmentedBackend):            # doctest: +SKIP
...     name = "mine"
...     segment_suffix, payload_suffix = ".seg", ".blobs"
...     def write_segment(self, path, records): ...
...     def read_segment(self, path): ...
...     def encode_payload(self, payload): ...
...     def decode_payload(self, data): ...
"""

from __future__ import annotations

import abc
import json
import os
import secrets
import stat
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import groupby
from pathlib import Path
from typing import Any, ClassVar

from cldata.core.fsutil import (
    atomic_write_bytes,
    create_new,
    fsync_dir,
    fsync_file,
    open_regular,
    read_regular_bytes,
    temporary_beside,
)
from cldata.errors import (
    BrokenLinkError,
    ChangedLinkError,
    StoreFormatError,
    UnsupportedValueError,
    ValueOutOfRangeError,
)

__all__ = ["Backend", "SegmentedBackend", "copy_with_crc32", "file_crc32", "current_crc32", "columnar_ops", "row_ops"]

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

    def open_recording(self, location: Mapping[str, Any]):
        """The recording at ``location`` as a :class:`~cldata.RecordingView` (read-only)."""
        from cldata.format.reader import RecordingView

        # a copy is a finished recording: a journal planted beside it is `check`'s business
        return RecordingView(self.recording_path(location), finished=location.get("kind") == "copy")

    # -- housekeeping -----------------------------------------------------------------------------

    def collect_garbage(self, live: list[dict[str, Any]]) -> list[Path]:
        """Delete files no live record refers to; return them. Called with no reader open."""
        return []

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing open
        """Release resources (open files)."""


_CURRENT = "CURRENT"
_CURRENT_LIMIT = 64 << 20  # CURRENT lists at most a few dozen segments: anything near this is not one


def current_crc32(state: Mapping[str, Any]) -> int:
    """The checksum ``catalog/CURRENT`` carries of its own content (every key but ``crc32``)."""
    body = {k: v for k, v in state.items() if k != "crc32"}
    return zlib.crc32(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
_COMPACT_AFTER = 32


def columnar_ops(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Segment operations adding ``records``, in order: each run of records with the same keys
    becomes one ``add_columns`` operation holding a list per key.

    Decoding 100,000 results as columns is half the work of decoding 100,000 maps, which
    repeat every key (store opening time is mostly that decoding). Readers also accept the
    row form (``{"op": "add", "record": r}``), which stores written before held.

    Examples
    --------
    >>> columnar_ops([{"id": "a", "x": 1}, {"id": "b", "x": 2}, {"id": "c"}])
    [{'op': 'add_columns', 'keys': ['id', 'x'], 'columns': [['a', 'b'], [1, 2]]}, \
{'op': 'add_columns', 'keys': ['id'], 'columns': [['c']]}]
    """
    ops: list[dict[str, Any]] = []
    for keys, run in groupby(records, key=tuple):
        columns = [list(column) for column in zip(*map(dict.values, run))]
        ops.append({"op": "add_columns", "keys": list(keys), "columns": columns or [[] for _ in keys]})
    return ops


def row_ops(ops: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same operations with every ``add_columns`` written out as one ``add`` per record.

    For tools and tests that edit records one by one; both forms load alike.

    Examples
    --------
    >>> row_ops(columnar_ops([{"id": "a"}]))
    [{'op': 'add', 'record': {'id': 'a'}}]
    """
    out: list[dict[str, Any]] = []
    for op in ops:
        if isinstance(op, dict) and op.get("op") == "add_columns":
            keys, columns = _checked_columns(op, "(given)")
            out.extend({"op": "add", "record": dict(zip(keys, row))} for row in zip(*columns))
        else:
            out.append(op)
    return out


def _checked_columns(op: dict[str, Any], segment: str) -> tuple[list[str], list[list[Any]]]:
    keys, columns = op.get("keys"), op.get("columns")
    if (type(keys) is not list or type(columns) is not list or len(keys) != len(columns) or "id" not in keys
            or not all(type(k) is str for k in keys) or len(set(keys)) != len(keys)
            or not all(type(c) is list for c in columns) or len({len(c) for c in columns}) > 1):
        raise StoreFormatError(f"catalog segment {segment} holds a malformed add_columns operation "
                               f"(keys {keys!r:.100})")
    ids = columns[keys.index("id")]
    if not all(type(i) is str for i in ids):
        raise StoreFormatError(f"catalog segment {segment} holds a record id that is not a string")
    return keys, columns


def _replayed(ops: Iterable[Any], segment: str) -> Iterator[tuple[str, Any]]:
    # ("add", record) and ("remove", id) in the order a segment's operations make them
    for op in ops:
        kind = op.get("op") if isinstance(op, dict) else None
        if kind == "add_columns":
            keys, columns = _checked_columns(op, segment)
            for row in zip(*columns):
                yield "add", dict(zip(keys, row))
        elif kind == "add" and isinstance(op.get("record"), dict) and isinstance(op["record"].get("id"), str):
            yield "add", op["record"]
        elif kind == "remove" and isinstance(op.get("id"), str):
            yield "remove", op["id"]
        else:
            raise StoreFormatError(f"catalog segment {segment} holds a malformed operation {op!r:.100}")


def _is_str(value: Any, text: str) -> bool:
    # (a crafted record may hold a numpy array where a string belongs: == would be elementwise)
    return type(value) is str and value == text


class SegmentedBackend(Backend):
    """A :class:`Backend` on a directory, with crash-safe segmented commits (see module doc).

    Layout under ``root``::

        catalog/CURRENT             JSON: {"generation": n, "segments": [...]}
        catalog/<gen>-<rand><ext>   immutable catalog segments
        payloads/<gen>-<rand><ext>  payload files (large payloads only)
        recordings/<id>.h5          copied CL recordings

    Subclasses define the suffixes and four encoding methods.
    """

    segment_suffix: ClassVar[str] = ".seg"
    payload_suffix: ClassVar[str] = ".pay"
    #: payloads up to this many encoded bytes are kept inside the catalog record
    inline_limit: ClassVar[int] = 32 * 1024

    # -- encoding hooks ----------------------------------------------------------------------------

    @abc.abstractmethod
    def write_segment(self, path: Path, records: list[dict[str, Any]]) -> None:
        """Write a catalog segment (a list of records) to ``path`` (a new file)."""

    @abc.abstractmethod
    def read_segment(self, path: Path) -> list[dict[str, Any]]:
        """Read a segment written by :meth:`write_segment`, without running code from it."""

    @abc.abstractmethod
    def encode_payload(self, payload: dict[str, Any]) -> bytes:
        """A payload (dict of fields) as bytes."""

    @abc.abstractmethod
    def decode_payload(self, data: bytes) -> dict[str, Any]:
        """Inverse of :meth:`encode_payload`, without running code from the bytes."""

    def write_blobs(self, path: Path, blobs: Mapping[str, bytes]) -> None:
        """Write several named byte strings to one new file (default: a simple indexed file)."""
        index = {}
        with create_new(path) as f:  # a new file: nothing planted at its name is followed
            for key, data in blobs.items():
                index[key] = [f.tell(), len(data)]
                f.write(data)
            header = json.dumps(index).encode()
            f.write(header)
            f.write(len(header).to_bytes(8, "little"))
            f.flush()
            os.fsync(f.fileno())

    def read_blob(self, path: Path, key: str) -> bytes:
        """One byte string from a file written by :meth:`write_blobs`."""
        with os.fdopen(open_regular(path), "rb") as f:
            end = f.seek(0, os.SEEK_END)
            if end < 8:
                raise StoreFormatError(f"{path} is truncated ({end} bytes)")
            f.seek(end - 8)
            size = int.from_bytes(f.read(8), "little")
            if size > end - 8:
                raise StoreFormatError(f"{path} is damaged: its index claims {size} bytes of a {end}-byte file")
            f.seek(end - 8 - size)
            try:
                index = json.loads(f.read(size))
            except (ValueError, RecursionError) as exc:
                raise StoreFormatError(f"{path} is damaged: its index is not JSON ({exc})") from None
            entry = index.get(key) if isinstance(index, dict) else None
            if entry is None:
                raise StoreFormatError(f"{path} holds no payload {key!r} (the store is damaged)")
            if (type(entry) is not list or len(entry) != 2 or not all(type(x) is int and x >= 0 for x in entry)
                    or entry[0] + entry[1] > end - 8 - size):
                raise StoreFormatError(f"{path} is damaged: payload {key!r} is at {entry!r:.60}, outside its data")
            f.seek(entry[0])
            return f.read(entry[1])

    # -- Backend ----------------------------------------------------------------------------------

    @property
    def catalog_dir(self) -> Path:
        return self.inside(self.root / "catalog")

    @property
    def payload_dir(self) -> Path:
        return self.inside(self.root / "payloads")

    def create(self) -> None:
        for d in (self.payload_dir, self.root / "recordings"):
            d.mkdir(parents=True, exist_ok=True)
        if self.catalog_in_backend:
            self.catalog_dir.mkdir(parents=True, exist_ok=True)
            self._write_current(0, [])

    def read_current(self) -> tuple[int, list[str]]:
        generation, segments, _ = self._read_current_state()
        return generation, segments

    def _read_current_state(self) -> tuple[int, list[str], dict[str, int]]:
        path = self.inside(self.catalog_dir / _CURRENT)
        try:
            state = json.loads(read_regular_bytes(path, limit=_CURRENT_LIMIT))
            # CURRENT decides what the store holds: damage that still parses (an empty segment
            # list, say) must not pass for an empty store, whose next writer would clean up
            # everything
            if "crc32" not in state or int(state["crc32"]) != current_crc32(state):
                raise StoreFormatError(f"{path} fails its checksum (the file was damaged)")
            generation, segments = int(state["generation"]), [str(s) for s in state["segments"]]
            checksums = {str(k): int(v) for k, v in (state.get("checksums") or {}).items()}
        except FileNotFoundError:
            raise StoreFormatError(f"{self.root} has no catalog ({path} is missing)") from None
        except OSError as exc:  # a FIFO, a directory, a symbolic link... where CURRENT should be
            raise StoreFormatError(f"{path} cannot be read: {exc.strerror or exc} (the store is damaged "
                                   "or crafted)") from None
        except (ValueError, KeyError, TypeError, OverflowError, AttributeError, RecursionError) as exc:
            raise StoreFormatError(f"{path} is damaged: {type(exc).__name__}: {exc}") from None
        for s in segments:
            if "/" in s or "\\" in s or s.startswith("."):
                raise StoreFormatError(f"{path} names a segment outside the catalog: {s!r}")
        return generation, segments, checksums

    def _write_current(self, generation: int, segments: list[str], checksums: Mapping[str, int] | None = None) -> None:
        state: dict[str, Any] = {"generation": generation, "segments": segments,
                                 "checksums": {s: int(c) for s, c in (checksums or {}).items() if s in segments}}
        state["crc32"] = current_crc32(state)
        atomic_write_bytes(self.catalog_dir / _CURRENT, json.dumps(state, indent=1).encode())

    def verify_segment(self, name: str, checksums: Mapping[str, int]) -> None:
        """Raise :class:`StoreFormatError` if segment ``name`` is missing or fails its checksum."""
        path = self.inside(self.catalog_dir / name)
        if not path.is_file():
            raise StoreFormatError(f"catalog segment {path} is missing (the store is damaged)")
        if name in checksums and file_crc32(path) != checksums[name]:
            raise StoreFormatError(f"catalog segment {path} fails its checksum (the file was damaged)")

    def load(self) -> list[dict[str, Any]]:
        _, segments, checksums = self._read_current_state()
        records: dict[str, dict[str, Any]] = {}
        for name in segments:
            self.verify_segment(name, checksums)
            for kind, value in _replayed(self.read_segment(self.catalog_dir / name), name):
                if kind == "add":
                    records.pop(value["id"], None)  # a replaced entry moves to the end
                    records[value["id"]] = value
                else:
                    records.pop(value, None)
        for record in records.values():
            # a recording is a copy or a link here: a location of another kind would read as a
            # copy but leave the copy unreferenced, and garbage collection would delete it
            location = record.get("location")
            if _is_str(record.get("kind"), "recording") and not (
                    isinstance(location, dict) and (_is_str(location.get("kind"), "copy")
                                                    or _is_str(location.get("kind"), "link"))):
                raise StoreFormatError(f"recording {record.get('id')!r:.80} has a location of unknown kind "
                                       f"{record.get('location')!r:.100}; the catalog is damaged or crafted")
        return list(records.values())

    def _new_name(self, generation: int, suffix: str, directory: Path | None = None) -> str:
        # a random name; one that is taken (a leftover, or planted) is never reused, so segment and
        # payload writers (PyTables opens files by name) always create a new file
        directory = self.catalog_dir if directory is None else directory
        for _ in range(16):
            name = f"{generation:08d}-{secrets.token_hex(4)}{suffix}"
            if not os.path.lexists(directory / name):
                return name
        raise StoreFormatError(f"no free file name in {directory} (is it full of files?)")

    def commit(self, added, removed, snapshot) -> None:  # noqa: D102 - documented on Backend
        generation, segments, checksums = self._read_current_state()
        generation += 1
        ops = [{"op": "remove", "id": i} for i in removed] + columnar_ops(added)
        if len(segments) + 1 > _COMPACT_AFTER:
            segments, ops = self._compacted(segments, ops, snapshot)
        name = self._new_name(generation, self.segment_suffix)
        path = self.catalog_dir / name
        self.write_segment(path, ops)
        fsync_file(path)
        fsync_dir(self.catalog_dir)
        self._write_current(generation, [*segments, name], {**checksums, name: file_crc32(path)})

    def _compacted(self, segments: list[str], ops: list[dict[str, Any]],
                   snapshot: Callable[[], Iterable[dict[str, Any]]]) -> tuple[list[str], list[dict[str, Any]]]:
        """Fewer segments: the ones written since the base merged into this commit's, or, once
        they outweigh the base, everything rewritten as a new base. Each commit thus costs
        amortised time proportional to its own size, not to the catalog's."""
        base, tail = segments[0], segments[1:]
        tail_bytes = sum((self.catalog_dir / s).stat().st_size for s in tail)
        if tail_bytes < (self.catalog_dir / base).stat().st_size:
            merged = [op for s in tail for op in self.read_segment(self.catalog_dir / s)]
            return [base], merged + ops
        return [], columnar_ops(snapshot())

    def prepare_payload(self, payload: dict[str, Any]) -> bytes:
        try:
            data = self.encode_payload(payload)
        except (UnsupportedValueError, ValueOutOfRangeError):
            raise
        except Exception as exc:  # e.g. pickle refusing a lambda
            raise UnsupportedValueError(f"the {self.name} backend cannot store this payload: "
                                        f"{type(exc).__name__}: {exc}") from None
        try:
            self.decode_payload(data)
        except Exception as exc:
            raise UnsupportedValueError(f"the {self.name} backend could store this payload but not read it back "
                                        f"({type(exc).__name__}: {exc})") from None
        return data

    def write_payloads(self, payloads: Mapping[str, Any]) -> dict[str, Any]:
        refs: dict[str, Any] = {}
        big: dict[str, bytes] = {}
        for rid, payload in payloads.items():
            data = payload if isinstance(payload, bytes) else self.encode_payload(payload)
            if len(data) <= self.inline_limit:
                refs[rid] = {"inline": data}
            else:
                big[rid] = data
        if big:
            generation = self.read_current()[0] if self.catalog_in_backend else 0  # (only names the file)
            name = self._new_name(generation + 1, self.payload_suffix, self.payload_dir)
            path = self.payload_dir / name
            self.write_blobs(path, big)
            fsync_dir(self.payload_dir)
            refs.update({rid: {"file": name, "key": rid, "crc32": zlib.crc32(data)} for rid, data in big.items()})
        return refs

    def read_payload(self, ref: Any) -> dict[str, Any]:
        if not isinstance(ref, Mapping):
            raise StoreFormatError(f"malformed payload reference {ref!r:.80}")
        if "inline" in ref:
            if not isinstance(ref["inline"], bytes):
                raise StoreFormatError(f"malformed inline payload (not bytes: {type(ref['inline']).__name__}); "
                                       "the catalog is damaged")
            return self.decode_payload(ref["inline"])
        name, key, crc = ref.get("file"), ref.get("key"), ref.get("crc32", 0)
        if type(name) is not str or type(key) is not str or type(crc) is not int or not 0 <= crc < 2**32:
            raise StoreFormatError(f"malformed payload reference {dict(ref)!r:.120} (a file name, a key and a "
                                   "CRC-32 are expected); the catalog is damaged")
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise StoreFormatError(f"payload reference points outside the store: {name!r}")
        try:
            data = self.read_blob(self.inside(self.payload_dir / name), key)
        except StoreFormatError:
            raise
        except (OSError, KeyError, ValueError) as exc:
            raise StoreFormatError(
                f"payload {ref.get('key')!r} cannot be read from {self.payload_dir / name}: "
                f"{type(exc).__name__}: {exc} (the store is damaged; `cldata check` reports what is missing)"
            ) from None
        if "crc32" in ref and zlib.crc32(data) != crc:
            raise StoreFormatError(f"payload {ref.get('key')!r} in {self.payload_dir / name} fails its checksum "
                                   "(the file was damaged)")
        return self.decode_payload(data)

    def collect_garbage(self, live: list[dict[str, Any]]) -> list[Path]:
        keep: set[Path] = set()
        if self.catalog_in_backend:
            _, segments = self.read_current()
            keep = {self.catalog_dir / _CURRENT} | {self.catalog_dir / s for s in segments}
        for rec in live:
            payload = rec.get("payload")
            if isinstance(payload, Mapping) and "file" in payload:
                keep.add(self.payload_dir / str(payload["file"]))
            location = rec.get("location")
            if isinstance(location, Mapping) and location.get("kind") == "copy":
                keep.add(self.root / str(location["path"]))
        removed = []
        for d in ((self.catalog_dir,) if self.catalog_in_backend else ()) + (self.payload_dir,
                                                                               self.inside(self.root / "recordings")):
            if not d.is_dir():
                continue
            for path in d.iterdir():
                # whatever is not a directory goes: a symlink is removed as a link (never followed, its
                # target is not ours), a FIFO or socket without being opened
                if path not in keep and not _is_dir_entry(path):
                    path.unlink(missing_ok=True)
                    removed.append(path)
        return removed


def _is_dir_entry(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except FileNotFoundError:
        return True  # gone meanwhile: nothing to remove
