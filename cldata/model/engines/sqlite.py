"""The built-in catalog engine: the store's catalog in one SQLite database, ``catalog.sqlite``.

SQLite is in Python's standard library, its atomic commit is among the most tested code
there is, and its B-tree indexes answer an equality or a range over a million rows in a
few page reads. This module only lays out tables and writes the queries; durability and
atomicity are SQLite's (rollback journal, ``synchronous=FULL``).

Tables
------
``recordings``
    One row per recording record (the whole record, encoded with the entry codec).
``results``
    One row per result: id, kind, identifier, parameters, sources and tags, payload
    reference (and the payload file it names), summary, time added.
``postings``
    The inverted index: for each *field* (a parameter value, an element of a list value,
    the presence of a parameter, a source, a tag, an identifier, a kind), each path and
    each key, the rows that have it — one sorted ``uint32`` array per key, so that a
    condition costs one B-tree lookup and one array, however many rows it matches, and
    conditions combine with numpy (:class:`~cldata.model.engines.rowset.RowSet`). ``num`` holds
    a parameter value as a number where it is one (an index on it answers ranges).
``paths``
    Parameter paths, numbered (postings store the number), with how many results have each
    (so that "does any result have this parameter?" reads no posting list).
``meta``
    The schema version, the committed generation, and the last row of that generation.

The writer keeps the postings of what it adds in memory and merges them into the table
when it commits (one read-modify-write per key touched), so that adding results one by one
into a big store does not rewrite long posting lists each time.

Every entry row carries ``added_gen`` and ``removed_gen`` (see the generations of
:mod:`cldata.model.engines.base`): removing an entry sets ``removed_gen``; the row (and its rows
in the postings) goes for good in :meth:`SQLiteEngine.purge`, when no reader has the store
open. A reader's answers leave out the rows added after its generation (their row numbers
are above the last row it saw) and those removed at or before it.

Readers open the database read-only (``mode=ro``) and hold no transaction between
questions, so a reader never blocks the writer's commits. The rollback journal (not WAL)
is chosen so that a reader writes nothing inside the store (WAL readers create and write
``-shm`` files). The one exception: a reader that meets a *hot journal* — the writer was
killed in the middle of a commit — must undo that commit before it can read, as SQLite
requires; it then opens the database writable for that one step.

Safety of a crafted file: the database's schema must be exactly the one this module
creates (no triggers, no views: nothing in the file runs when it is read), ``trusted_schema``
is off, and every value read back is checked or decoded with the entry codec, which runs
no code.

Examples
--------
>>> from pathlib import Path; import tempfile
>>> root = Path(tempfile.mkdtemp())
>>> engine = SQLiteEngine(root, writable=True)
>>> engine.create(); engine.open()
>>> rows = engine.add_results([{"kind": "result", "id": "res_1", "type": "SingleValue", "identifier": "rate",
...     "parameters": {"window_s": 1.0}, "sources": [], "tags": ["final"], "payload": None, "summary": {},
...     "added_utc": ""}])
>>> engine.commit()
>>> engine.rows_with_key(engine.generation(), "window_s", canon_key(1))
{1}
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import threading
import zlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

import numpy as np

from cldata.core.canonical import canonical
from cldata.errors import StoreFormatError
from cldata.format.codec import decode, encode
from cldata.model.engines.base import CatalogEngine, canon_key, numeric_of, param_keys
from cldata.model.engines.rowset import RowSet
from cldata.model.entries import is_record_id

__all__ = ["SQLiteEngine", "FILE_NAME"]

FILE_NAME = "catalog.sqlite"
SCHEMA_VERSION = 1
_APPLICATION_ID = 0x636C6461  # "clda": says what the file is to `file` and to us
_BATCH = 500  # rows per IN (...) list (SQLite allows 32,766 parameters; small lists plan well)

_SCHEMA = [
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "CREATE TABLE recordings (row INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, record BLOB NOT NULL, "
    "crc INTEGER NOT NULL, added_gen INTEGER NOT NULL, removed_gen INTEGER)",
    "CREATE INDEX recordings_by_id ON recordings (id)",
    "CREATE TABLE results (row INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, kind TEXT NOT NULL, "
    "identifier TEXT NOT NULL, parameters BLOB NOT NULL, sources TEXT NOT NULL, tags TEXT NOT NULL, "
    "payload BLOB, payload_file TEXT, summary BLOB NOT NULL, added_utc TEXT NOT NULL, crc INTEGER NOT NULL, "
    "payload_crc INTEGER, added_gen INTEGER NOT NULL, removed_gen INTEGER)",
    "CREATE INDEX results_by_id ON results (id)",
    "CREATE INDEX results_removed ON results (removed_gen) WHERE removed_gen IS NOT NULL",
    "CREATE INDEX results_by_payload_file ON results (payload_file) WHERE payload_file IS NOT NULL",
    "CREATE TABLE paths (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, results INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE postings (field INTEGER NOT NULL, path INTEGER NOT NULL, key BLOB NOT NULL, num REAL, "
    "rows BLOB NOT NULL, crc INTEGER NOT NULL, PRIMARY KEY (field, path, key)) WITHOUT ROWID",
    "CREATE INDEX postings_by_num ON postings (path, num) WHERE field = 0 AND num IS NOT NULL",
]

# the fields of the postings table
VALUE, ELEMENT, PRESENT, SOURCE, TAG, IDENTIFIER, KIND = range(7)
_FIELDS = {"identifier": IDENTIFIER, "kind": KIND}
_NO_PATH = 0  # the path of postings that are not about a parameter (sources, tags, identifiers, kinds)
_ROW = np.dtype("<u4")  # row numbers in posting blobs (four billion results)

# a visible row at generation :g (the results table is aliased r)
_LIVE = "r.added_gen <= ? AND (r.removed_gen IS NULL OR r.removed_gen > ?)"


def _blob(rows: np.ndarray) -> bytes:
    return rows.astype(_ROW).tobytes()


def _posting_crc(field: int, pid: int, key: bytes, rows: bytes) -> int:
    """The CRC-32 of a posting list with what it is the list of."""
    return zlib.crc32(rows, zlib.crc32(key, zlib.crc32(f"{field}:{pid}:".encode())))


def _name_key(name: Any) -> bytes:
    """The posting key of a name (a source, tag, identifier or kind)."""
    return str(name).encode("utf-8", "surrogatepass")


def _crc(*parts: Any) -> int:
    """The CRC-32 of an entry's stored values (SQLite checks its pages' structure, not their bytes:
    a flipped bit in a value would otherwise read as another value)."""
    # each part and a separator, end to end (one call: a Python loop per part cost more than the CRC)
    return zlib.crc32(b"\x1f".join([p if type(p) is bytes else b"\x00" if p is None
                                     else str(p).encode("utf-8", "surrogatepass") for p in parts]) + b"\x1f")


def _damaged(path: Path, what: str) -> StoreFormatError:
    return StoreFormatError(f"the catalog {path} {what}; the store is damaged or crafted (`cldata check` says more)")


class SQLiteEngine(CatalogEngine):
    """The catalog in ``<store>/catalog.sqlite`` (see module doc)."""

    name: ClassVar[str] = "sqlite"

    def __init__(self, root: Path, *, writable: bool):
        super().__init__(root, writable=writable)
        self.path = self.root / FILE_NAME
        self._db: sqlite3.Connection | None = None
        self._lock = threading.RLock()  # one connection, used from the batch runner's threads too
        self._in_transaction = False
        self._committed = 0  # the writer's committed generation (only it changes it)
        self._path_ids: dict[str, int] = {}
        # the writer's postings not yet merged into the table: (field, path, key) -> (num, rows)
        self._new_postings: dict[tuple[int, int, bytes], tuple[float | None, list[int]]] = {}
        self._last_rows: dict[int, int] = {}  # generation -> the last row a reader at it sees
        self._removed: dict[int, np.ndarray] = {}  # generation -> rows removed at or before it
        self._names_cache: dict[str, tuple[str, ...]] = {}

    # -- life ------------------------------------------------------------------------------------

    @classmethod
    def exists(cls, root: Path) -> bool:  # noqa: D102 - documented on CatalogEngine
        try:
            return stat.S_ISREG(os.lstat(Path(root) / FILE_NAME).st_mode)
        except OSError:
            return False

    def create(self, records: Iterable[Mapping[str, Any]] = ()) -> None:
        """Write a new catalog (holding ``records``) to a temporary file, then rename it into place:
        a crash leaves the old state (no catalog, or the one being migrated from), never half of one."""
        from cldata.core.fsutil import fsync_dir, new_temporary

        tmp = new_temporary(self.path)  # created exclusively: SQLite fills an empty file as a new database
        try:
            db = sqlite3.connect(tmp, isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode=OFF")  # a new file: the rename is the commit
                # large pages: a posting list of 100,000 rows (400 KB) reads in a few pages, not a hundred
                db.execute("PRAGMA page_size=65536")
                db.execute(f"PRAGMA application_id={_APPLICATION_ID}")
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                db.execute("BEGIN")
                for sql in _SCHEMA:
                    db.execute(sql)
                db.execute("INSERT INTO meta VALUES ('generation', 0)")
                db.execute("INSERT INTO meta VALUES ('last_row', 0)")
                db.execute("INSERT INTO paths VALUES (0, '', 0)")  # the path of non-parameter postings
                self._db, self._in_transaction, self._committed = db, True, 0
                results: list[Mapping[str, Any]] = []
                for rec in records:
                    if rec.get("kind") == "recording":
                        self.add_recording(rec)
                    else:
                        results.append(rec)
                        if len(results) == 10_000:
                            self._add_with_payloads(results)
                            results = []
                self._add_with_payloads(results)
                self._merge_postings()
                db.execute("UPDATE meta SET value = 1 WHERE key = 'generation'")
                db.execute("UPDATE meta SET value = coalesce((SELECT max(row) FROM results), 0) WHERE key = 'last_row'")
                db.execute("COMMIT")
            finally:
                self._db, self._in_transaction, self._path_ids, self._new_postings = None, False, {}, {}
                db.close()
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fsync_dir(self.root)

    def _add_with_payloads(self, results: Sequence[Mapping[str, Any]]) -> None:
        rows = self.add_results(results)
        self.set_payloads({row: rec["payload"] for row, rec in zip(rows, results) if rec.get("payload") is not None})

    def open(self) -> None:  # noqa: D102 - documented on CatalogEngine
        try:
            mode = os.lstat(self.path).st_mode
        except FileNotFoundError:
            raise StoreFormatError(f"{self.root} has no catalog ({self.path} is missing)") from None
        if not stat.S_ISREG(mode):
            raise _damaged(self.path, "is not a regular file (a link, a FIFO?)")
        journal = self.path.with_name(self.path.name + "-journal")
        try:
            if not stat.S_ISREG(os.lstat(journal).st_mode):  # SQLite would open it (a FIFO blocks it for ever)
                raise _damaged(journal, "is not a regular file (a link, a FIFO?); SQLite's journal never is")
        except FileNotFoundError:
            pass
        try:
            db = self._connect()
            try:
                self._check_schema(db)
            except BaseException:
                db.close()
                raise
        except sqlite3.DatabaseError as exc:
            raise _damaged(self.path, f"cannot be read as a catalog database ({exc})") from None
        self._db = db
        self._committed = self.generation()

    def _connect(self) -> sqlite3.Connection:
        if self.writable:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        else:
            uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
            db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA trusted_schema=OFF")
        db.execute("PRAGMA busy_timeout=60000")  # a reader waits out a commit, never fails on it
        try:  # the first statement that reads the file (a hot journal shows here, before any other pragma)
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError as exc:
            if self.writable or "readonly" not in str(exc).lower().replace("-", "").replace(" ", ""):
                raise
            # a hot journal: the writer was killed during a commit. SQLite must undo it before
            # anyone reads; a read-only connection cannot, so one writable step does (see module doc)
            db.close()
            fix = sqlite3.connect(self.path, isolation_level=None)
            try:
                fix.execute("PRAGMA busy_timeout=60000")
                fix.execute("SELECT count(*) FROM sqlite_master").fetchone()
            finally:
                fix.close()
            return self._connect()
        # pages read through a memory map (no copy into SQLite's cache; posting lists are large), and a
        # page cache for the rest that holds more than SQLite's default 2 MB (31 pages of 64 KiB)
        db.execute("PRAGMA mmap_size=1073741824")
        db.execute("PRAGMA cache_size=-65536")
        if self.writable:
            db.execute("PRAGMA journal_mode=DELETE")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA cache_size=-131072")  # 128 MiB: a big commit stays in memory until it commits
        else:
            db.execute("PRAGMA query_only=1")
        return db

    def _check_schema(self, db: sqlite3.Connection) -> None:
        app, version = db.execute("PRAGMA application_id").fetchone()[0], db.execute("PRAGMA user_version").fetchone()[0]
        if app != _APPLICATION_ID:
            raise _damaged(self.path, "is not a cldata catalog (another SQLite database?)")
        if version != SCHEMA_VERSION:
            raise StoreFormatError(f"the catalog {self.path} has schema version {version}; this cldata reads version "
                                   f"{SCHEMA_VERSION} (a newer cldata made it: upgrade cldata)")
        found = {row[0] for row in db.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL")}
        expected = set(_SCHEMA) | {"CREATE TABLE sqlite_sequence(name,seq)"}
        if found != expected:
            extra = sorted(found - expected)
            raise _damaged(self.path, f"has a schema this cldata did not make ({(extra or sorted(expected - found))[0]!r:.80})")

    def close(self) -> None:  # noqa: D102 - documented on CatalogEngine
        with self._lock:
            if self._db is not None:
                if self._in_transaction:
                    self._db.execute("ROLLBACK")
                    self._in_transaction = False
                self._db.close()
                self._db = None

    def _q(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            if self._db is None:
                raise StoreFormatError(f"the catalog {self.path} is closed")
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.DatabaseError as exc:
                raise _damaged(self.path, f"cannot be read ({exc})") from None

    def generation(self) -> int:  # noqa: D102 - documented on CatalogEngine
        # the generation and the last row it holds, read in one statement (one consistent state)
        meta = dict(self._q("SELECT key, value FROM meta WHERE key IN ('generation', 'last_row')"))
        gen, last = meta.get("generation"), meta.get("last_row")
        if type(gen) is not int or type(last) is not int:
            raise _damaged(self.path, "has no generation")
        self._last_rows[gen] = last
        return gen

    def files(self) -> list[Path]:  # noqa: D102 - documented on CatalogEngine
        return [self.path]

    # -- reading ---------------------------------------------------------------------------------

    def recordings(self, gen: int) -> list[dict[str, Any]]:  # noqa: D102
        out = []
        for rid, blob, crc in self._q(f"SELECT id, record, crc FROM recordings r WHERE {_LIVE} ORDER BY row",
                                      (gen, gen)):
            if crc != _crc(rid, blob):
                raise _damaged(self.path, f"holds recording {rid!r:.80}, which fails its checksum (the file was damaged)")
            rec = self._decode(blob, f"recording {rid!r:.80}")
            if type(rec) is not dict or rec.get("id") != rid:
                raise _damaged(self.path, f"holds a recording record {rid!r:.80} that does not match its row")
            out.append(rec)
        return out

    def _decode(self, blob: Any, what: str) -> Any:
        if type(blob) is not bytes:
            raise _damaged(self.path, f"holds {what} that is not encoded data")
        try:
            return decode(blob)
        except Exception as exc:  # DecodeError, UnsafeContentError...: a damaged or crafted value
            raise _damaged(self.path, f"holds {what} that does not decode ({type(exc).__name__}: {exc})") from None

    def _result_record(self, row: tuple) -> dict[str, Any]:
        rid, kind, identifier, params, sources, tags, payload, summary, added, crc, payload_crc = row[1:]
        if crc != _crc(rid, kind, identifier, params, sources, tags, summary, added) or (
                payload is not None and payload_crc != _crc(payload)):
            raise _damaged(self.path, f"holds result {rid!r:.80} (row {row[0]}), which fails its checksum "
                                      "(the file was damaged)")
        if not (type(rid) is str and is_record_id(rid) and type(kind) is str and type(identifier) is str
                and type(sources) is str and type(tags) is str and type(added) is str):
            raise _damaged(self.path, f"holds a malformed result at row {row[0]}")
        sources, tags = self._names(rid, sources), self._names(rid, tags)
        params = self._decode(params, f"the parameters of result {rid!r}")
        summary = self._decode(summary, f"the summary of result {rid!r}")
        if type(params) is not dict or type(summary) is not dict:
            raise _damaged(self.path, f"holds result {rid!r} whose parameters or summary are not dicts")
        return {"kind": "result", "id": rid, "type": kind, "identifier": identifier, "parameters": params,
                "sources": sources, "tags": tags,
                "payload": None if payload is None else self._decode(payload, f"the payload reference of {rid!r}"),
                "summary": summary, "added_utc": added}

    def _names(self, rid: str, text: str) -> list[str]:
        """A result's sources or tags from their JSON text (few distinct ones: remembered)."""
        names = self._names_cache.get(text)
        if names is None:
            try:
                names = json.loads(text)
            except ValueError:
                raise _damaged(self.path, f"holds result {rid!r} whose sources or tags are not JSON") from None
            if type(names) is not list or not all(type(x) is str for x in names):
                raise _damaged(self.path, f"holds result {rid!r} whose sources and tags are not lists of names")
            if len(self._names_cache) > 10_000:
                self._names_cache.clear()
            names = self._names_cache[text] = tuple(names)
        return list(names)

    _RESULT_COLUMNS = ("r.row, r.id, r.kind, r.identifier, r.parameters, r.sources, r.tags, r.payload, r.summary, "
                       "r.added_utc, r.crc, r.payload_crc")

    def results(self, gen: int, rows: Sequence[int]) -> dict[int, dict[str, Any]]:  # noqa: D102
        out: dict[int, dict[str, Any]] = {}
        rows = list(rows)
        for i in range(0, len(rows), _BATCH):
            part = rows[i:i + _BATCH]
            marks = ",".join("?" * len(part))
            for row in self._q(f"SELECT {self._RESULT_COLUMNS} FROM results r WHERE r.row IN ({marks}) AND {_LIVE}",
                               (*part, gen, gen)):
                out[row[0]] = self._result_record(row)
        return out

    def all_results(self, gen: int) -> Iterable[tuple[int, dict[str, Any]]]:
        """Every visible result record with its row, in row order, read in pages (for migrations and exports)."""
        last = 0
        while True:
            page = self._q(f"SELECT {self._RESULT_COLUMNS} FROM results r WHERE r.row > ? AND {_LIVE} "
                           "ORDER BY r.row LIMIT 5000", (last, gen, gen))
            if not page:
                return
            for row in page:
                yield row[0], self._result_record(row)
            last = page[-1][0]

    def result_rows(self, gen: int) -> list[int]:  # noqa: D102
        return [r for (r,) in self._q(f"SELECT r.row FROM results r WHERE {_LIVE} ORDER BY r.row", (gen, gen))]

    def result_count(self, gen: int) -> int:  # noqa: D102
        return self._q(f"SELECT count(*) FROM results r WHERE {_LIVE}", (gen, gen))[0][0]

    def row_of(self, gen: int, result_id: str) -> int | None:  # noqa: D102
        rows = self._q(f"SELECT r.row FROM results r WHERE r.id = ? AND {_LIVE}", (result_id, gen, gen))
        return rows[0][0] if rows else None

    def existing_ids(self, gen: int, result_ids: Sequence[str]) -> set[str]:  # noqa: D102
        out: set[str] = set()
        ids = list(dict.fromkeys(result_ids))
        for i in range(0, len(ids), _BATCH):
            part = ids[i:i + _BATCH]
            marks = ",".join("?" * len(part))
            out.update(r for (r,) in self._q(f"SELECT r.id FROM results r WHERE r.id IN ({marks}) AND {_LIVE}",
                                             (*part, gen, gen)))
        return out

    def _path_id(self, path: str) -> int | None:
        pid = self._path_ids.get(path)
        if pid is None:
            rows = self._q("SELECT id FROM paths WHERE path = ?", (path,))
            if not rows:
                return None
            pid = self._path_ids[path] = rows[0][0]
        return pid

    # -- postings --------------------------------------------------------------------------------

    def _array(self, blob: Any) -> np.ndarray:
        if type(blob) is not bytes or len(blob) % _ROW.itemsize:
            raise _damaged(self.path, "holds a posting list that is not an array of row numbers")
        return np.frombuffer(blob, dtype=_ROW)

    def _stored(self, field: int, pid: int, key: bytes) -> np.ndarray:
        rows = self._q("SELECT rows FROM postings WHERE field = ? AND path = ? AND key = ?", (field, pid, key))
        return self._array(rows[0][0]) if rows else np.empty(0, _ROW)

    def _posting(self, field: int, pid: int, key: bytes) -> np.ndarray:
        """The rows of one key: the table's and the writer's not yet merged, ascending."""
        stored = self._stored(field, pid, key)
        new = self._new_postings.get((field, pid, key))
        if new is None:
            return stored
        return np.concatenate([stored, np.asarray(new[1], dtype=_ROW)])  # new rows are all above the stored ones

    def _visible(self, gen: int, rows: np.ndarray) -> RowSet:
        """The rows of ``rows`` visible at ``gen`` (see the module doc), as a RowSet."""
        last = self._last_rows.get(gen)
        if last is not None and rows.size and rows[-1] > last:
            rows = rows[: int(np.searchsorted(rows, last, side="right"))]
        removed = self._removed.get(gen)
        if removed is None:
            removed = np.array([r for (r,) in self._q("SELECT row FROM results WHERE removed_gen IS NOT NULL "
                                                      "AND removed_gen <= ?", (gen,))], dtype=np.int64)
            if len(self._removed) > 8:
                self._removed.clear()
            self._removed[gen] = removed
        if removed.size and rows.size:
            rows = rows[~np.isin(rows, removed, assume_unique=True)]
        return RowSet(rows)  # (uint32, as stored: no copy)

    def _field_rows(self, gen: int, field: int, pid: int, key: bytes) -> RowSet:
        return self._visible(gen, self._posting(field, pid, key))

    def _union(self, gen: int, field: int, pid: int, keys: Iterable[bytes] | None = None) -> RowSet:
        """The rows of several keys of one field and path (every key when ``keys`` is None)."""
        if keys is None:
            blobs = [self._array(b) for (b,) in self._q("SELECT rows FROM postings WHERE field = ? AND path = ?",
                                                         (field, pid))]
            blobs += [np.asarray(rows, dtype=_ROW) for (f, p, _), (_, rows) in self._new_postings.items()
                      if f == field and p == pid]
        else:
            blobs = [self._posting(field, pid, k) for k in keys]
        return self._visible(gen, RowSet.union_of(blobs).rows)

    def rows_with_key(self, gen: int, path: str, key: bytes, element: bool = False) -> RowSet:  # noqa: D102
        pid = self._path_id(path)
        if pid is None:
            return RowSet(np.empty(0, np.int64))
        return self._field_rows(gen, ELEMENT if element else VALUE, pid, key)

    def rows_with_path(self, gen: int, path: str) -> RowSet:  # noqa: D102
        pid = self._path_id(path)
        if pid is None:
            return RowSet(np.empty(0, np.int64))
        return self._field_rows(gen, PRESENT, pid, b"")

    def has_path(self, gen: int, path: str) -> bool:  # noqa: D102
        # whether a posting of the path exists (not its rows: at a million results they are 4 MB).
        # A path whose every result was removed, or that only results newer than a reader's
        # generation have, still counts until the removed rows are purged: a query on it then
        # matches nothing instead of raising UnknownParameterError
        pid = self._path_id(path)
        if pid is None:
            return False
        rows = self._q("SELECT results FROM paths WHERE id = ?", (pid,))
        return bool(rows and rows[0][0]) or (PRESENT, pid, b"") in self._new_postings

    def paths(self, gen: int) -> list[str]:  # noqa: D102
        new = {self._path_name(p) for (f, p, _) in self._new_postings if f == PRESENT}
        return sorted({p for (p,) in self._q("SELECT path FROM paths WHERE id != 0 AND results > 0")} | new)

    def _path_name(self, pid: int) -> str:
        return next(p for p, i in self._path_ids.items() if i == pid)

    def _keys(self, field: int, pid: int) -> list[bytes]:
        keys = [k for (k,) in self._q("SELECT key FROM postings WHERE field = ? AND path = ?", (field, pid))]
        return keys + [k for (f, p, k) in self._new_postings if f == field and p == pid and k not in set(keys)]

    def keys_at(self, gen: int, path: str) -> list[tuple[bytes, int]]:  # noqa: D102
        pid = self._path_id(path)
        out = []
        for key in ([] if pid is None else self._keys(VALUE, pid)):
            rows = self._field_rows(gen, VALUE, pid, key)  # type: ignore[arg-type]
            if rows:
                out.append((key, int(rows.rows[0])))
        return out

    def postings(self, gen: int, path: str) -> list[tuple[bytes, int]]:  # noqa: D102
        pid = self._path_id(path)
        return [(key, row) for key in ([] if pid is None else self._keys(VALUE, pid))
                for row in self._field_rows(gen, VALUE, pid, key)]  # type: ignore[arg-type]

    def _numeric_keys(self, pid: int, lo: float | None, hi: float | None, inclusive: tuple[bool, bool]) -> list[bytes]:
        where, args = ["field = 0", "path = ?", "num IS NOT NULL"], [pid]
        if lo is not None:
            where.append("num >= ?" if inclusive[0] else "num > ?")
            args.append(lo)
        if hi is not None:
            where.append("num <= ?" if inclusive[1] else "num < ?")
            args.append(hi)
        keys = [k for (k,) in self._q(f"SELECT key FROM postings WHERE {' AND '.join(where)}", args)]
        for (f, p, k), (num, _) in self._new_postings.items():
            if f == VALUE and p == pid and num is not None and k not in keys and (
                    lo is None or (num >= lo if inclusive[0] else num > lo)) and (
                    hi is None or (num <= hi if inclusive[1] else num < hi)):
                keys.append(k)
        return keys

    def numeric(self, gen: int, path: str) -> tuple[list[float], list[int]]:  # noqa: D102
        pid = self._path_id(path)
        if pid is None:
            return [], []
        pairs = []
        nums = dict(self._q("SELECT key, num FROM postings WHERE field = 0 AND path = ? AND num IS NOT NULL", (pid,)))
        nums.update({k: n for (f, p, k), (n, _) in self._new_postings.items() if f == VALUE and p == pid and n is not None})
        for key, num in nums.items():
            pairs.extend((num, r) for r in self._field_rows(gen, VALUE, pid, key))
        pairs.sort()
        return [v for v, _ in pairs], [r for _, r in pairs]

    def range_rows(self, gen: int, path: str, lo: float | None, hi: float | None,
                   inclusive: tuple[bool, bool]) -> RowSet:  # noqa: D102
        pid = self._path_id(path)
        if pid is None:
            return RowSet(np.empty(0, np.int64))
        return self._union(gen, VALUE, pid, self._numeric_keys(pid, lo, hi, inclusive))

    def rows_with_field(self, gen: int, field: str, value: str) -> RowSet:  # noqa: D102
        return self._field_rows(gen, _FIELDS[field], _NO_PATH, _name_key(value))

    def field_values(self, gen: int, field: str) -> list[str]:  # noqa: D102
        return [k.decode("utf-8", "surrogatepass") for k in self._keys(_FIELDS[field], _NO_PATH)
                if self._field_rows(gen, _FIELDS[field], _NO_PATH, k)]

    def rows_from(self, gen: int, source: str) -> RowSet:  # noqa: D102
        return self._field_rows(gen, SOURCE, _NO_PATH, _name_key(source))

    def rows_from_without(self, gen: int, sources: Sequence[str], path: str) -> RowSet:  # noqa: D102
        rows = self._union(gen, SOURCE, _NO_PATH, [_name_key(s) for s in sources])
        return rows - self.rows_with_path(gen, path)

    def rows_tagged(self, gen: int, tag: str) -> RowSet:  # noqa: D102
        return self._field_rows(gen, TAG, _NO_PATH, _name_key(tag))

    def tags(self, gen: int) -> list[str]:  # noqa: D102
        return [k.decode("utf-8", "surrogatepass") for k in self._keys(TAG, _NO_PATH) if self._field_rows(gen, TAG, _NO_PATH, k)]

    # -- writing ---------------------------------------------------------------------------------

    def _write(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Cursor:
        assert self._db is not None
        if not self._in_transaction:
            self._db.execute("BEGIN IMMEDIATE")
            self._in_transaction = True
        return self._db.execute(sql, args)

    def pending(self) -> int:  # noqa: D102 - documented on CatalogEngine
        return self._committed + 1

    def add_recording(self, record: Mapping[str, Any]) -> None:  # noqa: D102
        with self._lock:
            blob = encode(dict(record))
            self._write("INSERT INTO recordings (id, record, crc, added_gen) VALUES (?, ?, ?, ?)",
                        (record["id"], blob, _crc(record["id"], blob), self.pending()))

    def remove_recording(self, recording_id: str) -> None:  # noqa: D102
        with self._lock:
            self._write("UPDATE recordings SET removed_gen = ? WHERE id = ? AND removed_gen IS NULL",
                        (self.pending(), recording_id))

    def _path_for_write(self, path: str) -> int:
        pid = self._path_id(path)
        if pid is None:
            pid = self._write("INSERT INTO paths (path) VALUES (?)", (path,)).lastrowid
            self._path_ids[path] = pid
        return pid

    def _keys_of(self, rec: Mapping[str, Any], memo: dict[Any, tuple[bytes, float | None]] | None = None,
                 ) -> list[tuple[int, int, bytes, float | None]]:
        """Every posting key of a result record: ``(field, path, key, num)``. ``memo`` keeps the keys of
        plain values (strings, numbers) across the records of one call: a batch repeats them."""
        keys: list[tuple[int, int, bytes, float | None]] = []
        memo = {} if memo is None else memo
        for path, value in param_keys(rec["parameters"]):
            pid = self._path_for_write(path)
            t = type(value)
            if t is str or t is int or t is float or t is bool or value is None:
                found = memo.get((t, value))
                if found is None:
                    found = memo[(t, value)] = (canon_key(value), numeric_of(canonical(value)))
                key, num = found
            else:
                key, num = canon_key(value), numeric_of(canonical(value))
            keys.append((VALUE, pid, key, num))
            keys.append((PRESENT, pid, b"", None))
            if isinstance(value, (list, tuple)):
                keys.extend((ELEMENT, pid, element, None) for element in {canon_key(e) for e in value})
        # (names as given: a record crafted with other types is written as it is, and refused when read)
        keys.extend((SOURCE, _NO_PATH, _name_key(s), None) for s in dict.fromkeys(rec["sources"]))
        keys.extend((TAG, _NO_PATH, _name_key(t), None) for t in dict.fromkeys(rec["tags"]))
        keys.append((IDENTIFIER, _NO_PATH, _name_key(rec["identifier"]), None))
        keys.append((KIND, _NO_PATH, _name_key(rec["type"]), None))
        return keys

    def add_results(self, records: Sequence[Mapping[str, Any]]) -> list[int]:  # noqa: D102
        with self._lock:
            gen = self.pending()
            if not records:
                return []
            self._write("SELECT 1")  # (opens the transaction)
            assert self._db is not None
            # one statement for the batch: within one transaction of the only writer, AUTOINCREMENT
            # gives the rows consecutive numbers after the last one
            self._db.executemany(
                "INSERT INTO results (id, kind, identifier, parameters, sources, tags, payload, payload_file, "
                "summary, added_utc, crc, payload_crc, added_gen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [self._result_row(rec, gen) for rec in records])
            last = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'results'").fetchone()[0]
            if last >= 2**32:
                raise StoreFormatError("a store holds at most 4,294,967,295 results")
            rows = list(range(last - len(records) + 1, last + 1))
            new = self._new_postings
            memo: dict[Any, tuple[bytes, float | None]] = {}
            for row, rec in zip(rows, records):
                for field, pid, key, num in self._keys_of(rec, memo):
                    got = new.get((field, pid, key))
                    if got is None:
                        new[(field, pid, key)] = (num, [row])
                    else:
                        got[1].append(row)
            return rows

    @staticmethod
    def _result_row(rec: Mapping[str, Any], gen: int) -> tuple:
        values = (rec["id"], rec["type"], rec["identifier"], encode(rec["parameters"]), json.dumps(list(rec["sources"])),
                  json.dumps(list(rec["tags"])))
        summary, added = encode(rec.get("summary") or {}), rec.get("added_utc", "")
        payload = rec.get("payload")
        ref = None if payload is None else encode(payload)
        return (*values, ref, _file_of(payload), summary, added, _crc(*values, summary, added),
                None if ref is None else _crc(ref), gen)

    def _merge_postings(self) -> None:
        """Write the writer's new postings into the table (inside its transaction)."""
        new, self._new_postings = self._new_postings, {}
        for (field, pid, key), (num, rows) in new.items():
            added = np.asarray(rows, dtype=_ROW)
            stored = self._stored(field, pid, key)
            if stored.size:
                blob = _blob(np.concatenate([stored, added]))
                self._write("UPDATE postings SET rows = ?, crc = ? WHERE field = ? AND path = ? AND key = ?",
                            (blob, _posting_crc(field, pid, key, blob), field, pid, key))
            else:
                blob = _blob(added)
                self._write("INSERT INTO postings VALUES (?, ?, ?, ?, ?, ?)",
                            (field, pid, key, num, blob, _posting_crc(field, pid, key, blob)))
            if field == PRESENT:
                self._write("UPDATE paths SET results = ? WHERE id = ?", (stored.size + added.size, pid))

    def _drop_from_postings(self, records: Mapping[int, Mapping[str, Any]]) -> None:
        """Take rows out of the postings of their keys (the table's and the writer's new ones)."""
        by_key: dict[tuple[int, int, bytes], list[int]] = {}
        for row, rec in records.items():
            for field, pid, key, _ in self._keys_of(rec):
                by_key.setdefault((field, pid, key), []).append(row)
        for (field, pid, key), rows in by_key.items():
            gone = np.asarray(rows, dtype=_ROW)
            new = self._new_postings.get((field, pid, key))
            if new is not None:
                kept = [r for r in new[1] if r not in set(rows)]
                if kept:
                    self._new_postings[(field, pid, key)] = (new[0], kept)
                else:
                    del self._new_postings[(field, pid, key)]
            stored = self._stored(field, pid, key)
            if not stored.size:
                continue
            left = stored[~np.isin(stored, gone)]
            if left.size == stored.size:
                continue
            if field == PRESENT:
                self._write("UPDATE paths SET results = ? WHERE id = ?", (left.size, pid))
            if left.size:
                blob = _blob(left)
                self._write("UPDATE postings SET rows = ?, crc = ? WHERE field = ? AND path = ? AND key = ?",
                            (blob, _posting_crc(field, pid, key, blob), field, pid, key))
            else:
                self._write("DELETE FROM postings WHERE field = ? AND path = ? AND key = ?", (field, pid, key))

    def remove_result(self, row: int) -> None:  # noqa: D102
        with self._lock:
            gen = self.pending()
            self._removed.clear()
            new = self._q(f"SELECT {self._RESULT_COLUMNS} FROM results r WHERE r.row = ? AND r.added_gen = ?", (row, gen))
            if new:  # added in this same transaction: goes at once (no reader can have seen it)
                self._drop_from_postings({row: self._result_record(new[0])})
                self._write("DELETE FROM results WHERE row = ?", (row,))
            else:
                self._write("UPDATE results SET removed_gen = ? WHERE row = ? AND removed_gen IS NULL", (gen, row))

    def set_payloads(self, refs: Mapping[int, Any]) -> None:  # noqa: D102
        with self._lock:
            for row, ref in refs.items():
                blob = encode(ref)
                self._write("UPDATE results SET payload = ?, payload_file = ?, payload_crc = ? WHERE row = ?",
                            (blob, _file_of(ref), _crc(blob), row))

    def commit(self) -> None:  # noqa: D102
        with self._lock:
            if not self._in_transaction and not self._new_postings:
                return
            self._merge_postings()
            assert self._db is not None
            self._write("UPDATE meta SET value = ? WHERE key = 'generation'", (self._committed + 1,))
            self._db.execute("UPDATE meta SET value = coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'results'),"
                             " 0) WHERE key = 'last_row'")
            self._db.execute("COMMIT")
            self._in_transaction = False
            self._committed += 1
            self._removed.clear()

    def rollback(self) -> None:  # noqa: D102
        with self._lock:
            if self._in_transaction:
                assert self._db is not None
                self._db.execute("ROLLBACK")
                self._in_transaction = False
            self._new_postings.clear()
            self._path_ids.clear()  # paths added in the transaction are gone
            self._removed.clear()

    # -- maintenance -----------------------------------------------------------------------------

    def purge(self) -> int:  # noqa: D102
        with self._lock:
            if self._in_transaction:
                return 0
            gone = self._q(f"SELECT {self._RESULT_COLUMNS} FROM results r WHERE r.removed_gen IS NOT NULL")
            gone_recordings = self._q("SELECT count(*) FROM recordings WHERE removed_gen IS NOT NULL")[0][0]
            if not gone and not gone_recordings:
                return 0
            records = {}
            for row in gone:
                try:
                    records[row[0]] = self._result_record(row)
                except StoreFormatError:
                    pass  # a damaged row: its postings stay (they name a row that is not there, which reads as none)
            self._drop_from_postings(records)
            self._write("DELETE FROM results WHERE removed_gen IS NOT NULL")
            self._write("DELETE FROM recordings WHERE removed_gen IS NOT NULL")
            assert self._db is not None
            self._db.execute("COMMIT")  # the generation stays: nothing visible changed
            self._in_transaction = False
            self._removed.clear()
            return len(gone) + gone_recordings

    def payload_files(self) -> set[str]:  # noqa: D102
        return {f for (f,) in self._q("SELECT DISTINCT payload_file FROM results WHERE payload_file IS NOT NULL")}

    def check(self) -> list[str]:  # noqa: D102
        problems = [f"{self.path}: {line}" for (line,) in self._q("PRAGMA quick_check") if line != "ok"]
        if problems:
            return problems
        gen = self.generation()
        extra = self._q("SELECT count(*) FROM results WHERE added_gen > ?", (gen,))[0][0]
        if extra:
            problems.append(f"{self.path}: {extra} results belong to no completed commit")
        # every posting list against its checksum (the entries are checked as they are read: cldata
        # check reads every one)
        bad = [(f, p, k) for f, p, k, rows, crc in self._q("SELECT field, path, key, rows, crc FROM postings")
               if type(rows) is not bytes or type(k) is not bytes or _posting_crc(f, p, k, rows) != crc]
        if bad:
            problems.append(f"{self.path}: {len(bad)} posting lists of the index fail their checksum (the file was "
                            "damaged): queries may miss or add results")
        # every live result is in the postings of its identifier (a cheap cross-check of the index)
        indexed = self._union(gen, IDENTIFIER, _NO_PATH)
        live = self.result_count(gen)
        if len(indexed) != live:
            problems.append(f"{self.path}: the index names {len(indexed)} results, the catalog holds {live}")
        return problems


def _file_of(ref: Any) -> str | None:
    """The payload file a reference of the segmented backends names (kept for garbage collection)."""
    if isinstance(ref, Mapping) and type(ref.get("file")) is str:
        return ref["file"]
    return None
