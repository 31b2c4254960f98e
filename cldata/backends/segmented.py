"""``SegmentedBackend``: the crash-safe layout on a directory that the built-in backends share.

:class:`SegmentedBackend` implements the :class:`~cldata.backends.base.Backend` interface
on a directory, leaving a backend only the encoding of catalog segments
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
(:mod:`cldata.core.fsutil`). Segments (their records as column operations:
:mod:`cldata.backends.segment_ops`) accumulate and are compacted into one now and then;
files no longer referenced are deleted only when no reader has the store open.

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


import abc
import json
import os
import secrets
import stat
import zlib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from cldata.backends.base import Backend, file_crc32
from cldata.backends.segment_ops import columnar_ops, replayed
from cldata.core.fsutil import (
    atomic_write_bytes,
    create_new,
    fsync_dir,
    fsync_file,
    open_regular,
    read_regular_bytes,
)
from cldata.errors import (
    StoreFormatError,
    UnsupportedValueError,
    ValueOutOfRangeError,
)

__all__ = ["SegmentedBackend", "current_crc32"]

_CURRENT = "CURRENT"
_CURRENT_LIMIT = 64 << 20  # CURRENT lists at most a few dozen segments: anything near this is not one


def current_crc32(state: Mapping[str, Any]) -> int:
    """The checksum ``catalog/CURRENT`` carries of its own content (every key but ``crc32``)."""
    body = {k: v for k, v in state.items() if k != "crc32"}
    return zlib.crc32(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
_COMPACT_AFTER = 32



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
            for kind, value in replayed(self.read_segment(self.catalog_dir / name), name):
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


def _is_str(value: Any, text: str) -> bool:
    # (a crafted record may hold a numpy array where a string belongs: == would be elementwise)
    return type(value) is str and value == text
