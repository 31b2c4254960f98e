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
``result_params``
    ``(path, el, key, row)``: for every result and every dotted path of its parameters,
    the canonical key of the value (``el = 0``), and one per element of a list value
    (``el = 1``); ``num`` holds the value as a number where it is one.
``result_sources``, ``result_tags``
    ``(source, row)`` and ``(tag, row)``.
``paths``
    Path names, numbered (the parameter rows store the number).
``meta``
    The schema version and the committed generation.

Every entry row carries ``added_gen`` and ``removed_gen`` (see the generations of
:mod:`cldata.catalogs.base`): removing an entry sets ``removed_gen``; the row goes for good
in :meth:`SQLiteEngine.purge`, when no reader has the store open.

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
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

from cldata.canonical import canonical
from cldata.catalog import is_record_id
from cldata.catalogs.base import CatalogEngine, canon_key, numeric_of, param_keys
from cldata.errors import StoreFormatError
from cldata.format.codec import decode, encode

__all__ = ["SQLiteEngine", "FILE_NAME"]

FILE_NAME = "catalog.sqlite"
SCHEMA_VERSION = 1
_APPLICATION_ID = 0x636C6461  # "clda": says what the file is to `file` and to us
_BATCH = 500  # rows per IN (...) list (SQLite allows 32,766 parameters; small lists plan well)

_SCHEMA = [
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "CREATE TABLE recordings (row INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, record BLOB NOT NULL, "
    "added_gen INTEGER NOT NULL, removed_gen INTEGER)",
    "CREATE INDEX recordings_by_id ON recordings (id)",
    "CREATE TABLE results (row INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, kind TEXT NOT NULL, "
    "identifier TEXT NOT NULL, parameters BLOB NOT NULL, sources TEXT NOT NULL, tags TEXT NOT NULL, "
    "payload BLOB, payload_file TEXT, summary BLOB NOT NULL, added_utc TEXT NOT NULL, "
    "added_gen INTEGER NOT NULL, removed_gen INTEGER)",
    "CREATE INDEX results_by_id ON results (id)",
    "CREATE INDEX results_by_identifier ON results (identifier)",
    "CREATE INDEX results_by_kind ON results (kind)",
    "CREATE INDEX results_removed ON results (removed_gen) WHERE removed_gen IS NOT NULL",
    "CREATE INDEX results_by_payload_file ON results (payload_file) WHERE payload_file IS NOT NULL",
    "CREATE TABLE paths (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE)",
    "CREATE TABLE result_params (path INTEGER NOT NULL, el INTEGER NOT NULL, key BLOB NOT NULL, "
    "row INTEGER NOT NULL, num REAL, PRIMARY KEY (path, el, key, row)) WITHOUT ROWID",
    "CREATE INDEX result_params_by_row ON result_params (path, row) WHERE el = 0",
    "CREATE INDEX result_params_by_num ON result_params (path, num) WHERE el = 0 AND num IS NOT NULL",
    "CREATE TABLE result_sources (source TEXT NOT NULL, row INTEGER NOT NULL, PRIMARY KEY (source, row)) "
    "WITHOUT ROWID",
    "CREATE TABLE result_tags (tag TEXT NOT NULL, row INTEGER NOT NULL, PRIMARY KEY (tag, row)) WITHOUT ROWID",
]

# a visible row at generation :g (the results table is aliased r)
_LIVE = "r.added_gen <= ? AND (r.removed_gen IS NULL OR r.removed_gen > ?)"


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
        from cldata.fsutil import fsync_dir, new_temporary

        tmp = new_temporary(self.path)  # created exclusively: SQLite fills an empty file as a new database
        try:
            db = sqlite3.connect(tmp, isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode=OFF")  # a new file: the rename is the commit
                db.execute(f"PRAGMA application_id={_APPLICATION_ID}")
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                db.execute("BEGIN")
                for sql in _SCHEMA:
                    db.execute(sql)
                db.execute("INSERT INTO meta VALUES ('generation', 0)")
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
                db.execute("UPDATE meta SET value = 1 WHERE key = 'generation'")
                db.execute("COMMIT")
            finally:
                self._db, self._in_transaction, self._path_ids = None, False, {}
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
        try:
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
        rows = self._q("SELECT value FROM meta WHERE key = 'generation'")
        if not rows or type(rows[0][0]) is not int:
            raise _damaged(self.path, "has no generation")
        return rows[0][0]

    def files(self) -> list[Path]:  # noqa: D102 - documented on CatalogEngine
        return [self.path]

    # -- reading ---------------------------------------------------------------------------------

    def recordings(self, gen: int) -> list[dict[str, Any]]:  # noqa: D102
        out = []
        for rid, blob in self._q(f"SELECT id, record FROM recordings r WHERE {_LIVE} ORDER BY row", (gen, gen)):
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
        rid, kind, identifier, params, sources, tags, payload, summary, added = row[1:]
        if not (type(rid) is str and is_record_id(rid) and type(kind) is str and type(identifier) is str
                and type(sources) is str and type(tags) is str and type(added) is str):
            raise _damaged(self.path, f"holds a malformed result at row {row[0]}")
        try:
            sources, tags = json.loads(sources), json.loads(tags)
        except ValueError:
            raise _damaged(self.path, f"holds result {rid!r} whose sources or tags are not JSON") from None
        if type(sources) is not list or type(tags) is not list or not all(type(x) is str for x in sources + tags):
            raise _damaged(self.path, f"holds result {rid!r} whose sources and tags are not lists of names")
        params = self._decode(params, f"the parameters of result {rid!r}")
        summary = self._decode(summary, f"the summary of result {rid!r}")
        if type(params) is not dict or type(summary) is not dict:
            raise _damaged(self.path, f"holds result {rid!r} whose parameters or summary are not dicts")
        return {"kind": "result", "id": rid, "type": kind, "identifier": identifier, "parameters": params,
                "sources": sources, "tags": tags,
                "payload": None if payload is None else self._decode(payload, f"the payload reference of {rid!r}"),
                "summary": summary, "added_utc": added}

    _RESULT_COLUMNS = "r.row, r.id, r.kind, r.identifier, r.parameters, r.sources, r.tags, r.payload, r.summary, r.added_utc"

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

    def _path_id(self, path: str) -> int | None:
        pid = self._path_ids.get(path)
        if pid is None:
            rows = self._q("SELECT id FROM paths WHERE path = ?", (path,))
            if not rows:
                return None
            pid = self._path_ids[path] = rows[0][0]
        return pid

    def _rows(self, sql: str, args: Sequence[Any]) -> set[int]:
        return {r for (r,) in self._q(sql, args)}

    def rows_with_key(self, gen: int, path: str, key: bytes, element: bool = False) -> set[int]:  # noqa: D102
        pid = self._path_id(path)
        if pid is None:
            return set()
        return self._rows(f"SELECT p.row FROM result_params p JOIN results r ON r.row = p.row "
                          f"WHERE p.path = ? AND p.el = ? AND p.key = ? AND {_LIVE}", (pid, int(element), key, gen, gen))

    def rows_with_path(self, gen: int, path: str) -> set[int]:  # noqa: D102
        pid = self._path_id(path)
        if pid is None:
            return set()
        return self._rows(f"SELECT p.row FROM result_params p JOIN results r ON r.row = p.row "
                          f"WHERE p.path = ? AND p.el = 0 AND {_LIVE}", (pid, gen, gen))

    def has_path(self, gen: int, path: str) -> bool:  # noqa: D102
        pid = self._path_id(path)
        if pid is None:
            return False
        return bool(self._q(f"SELECT 1 FROM result_params p JOIN results r ON r.row = p.row "
                            f"WHERE p.path = ? AND p.el = 0 AND {_LIVE} LIMIT 1", (pid, gen, gen)))

    def paths(self, gen: int) -> list[str]:  # noqa: D102
        return [p for (p,) in self._q("SELECT path FROM paths ORDER BY path") if self.has_path(gen, p)]

    def keys_at(self, gen: int, path: str) -> list[tuple[bytes, int]]:  # noqa: D102
        pid = self._path_id(path)
        if pid is None:
            return []
        return [(k, r) for k, r in self._q(f"SELECT p.key, min(p.row) FROM result_params p JOIN results r "
                                           f"ON r.row = p.row WHERE p.path = ? AND p.el = 0 AND {_LIVE} GROUP BY p.key",
                                           (pid, gen, gen))]

    def postings(self, gen: int, path: str) -> list[tuple[bytes, int]]:  # noqa: D102
        pid = self._path_id(path)
        if pid is None:
            return []
        return self._q(f"SELECT p.key, p.row FROM result_params p JOIN results r ON r.row = p.row "
                       f"WHERE p.path = ? AND p.el = 0 AND {_LIVE}", (pid, gen, gen))

    def numeric(self, gen: int, path: str) -> tuple[list[float], list[int]]:  # noqa: D102
        pid = self._path_id(path)
        if pid is None:
            return [], []
        rows = self._q(f"SELECT p.num, p.row FROM result_params p JOIN results r ON r.row = p.row "
                       f"WHERE p.path = ? AND p.el = 0 AND p.num IS NOT NULL AND {_LIVE} ORDER BY p.num, p.row",
                       (pid, gen, gen))
        return [v for v, _ in rows], [r for _, r in rows]

    def range_rows(self, gen: int, path: str, lo: float | None, hi: float | None,
                   inclusive: tuple[bool, bool]) -> set[int]:  # noqa: D102
        pid = self._path_id(path)
        if pid is None:
            return set()
        where, args = ["p.path = ?", "p.el = 0", "p.num IS NOT NULL"], [pid]
        if lo is not None:
            where.append("p.num >= ?" if inclusive[0] else "p.num > ?")
            args.append(lo)
        if hi is not None:
            where.append("p.num <= ?" if inclusive[1] else "p.num < ?")
            args.append(hi)
        return self._rows(f"SELECT p.row FROM result_params p JOIN results r ON r.row = p.row "
                          f"WHERE {' AND '.join(where)} AND {_LIVE}", (*args, gen, gen))

    def rows_with_field(self, gen: int, field: str, value: str) -> set[int]:  # noqa: D102
        column = {"identifier": "identifier", "kind": "kind"}[field]
        return self._rows(f"SELECT r.row FROM results r WHERE r.{column} = ? AND {_LIVE}", (value, gen, gen))

    def field_values(self, gen: int, field: str) -> list[str]:  # noqa: D102
        column = {"identifier": "identifier", "kind": "kind"}[field]
        return [v for (v,) in self._q(f"SELECT DISTINCT r.{column} FROM results r WHERE {_LIVE}", (gen, gen))]

    def rows_from(self, gen: int, source: str) -> set[int]:  # noqa: D102
        return self._rows(f"SELECT s.row FROM result_sources s JOIN results r ON r.row = s.row "
                          f"WHERE s.source = ? AND {_LIVE}", (source, gen, gen))

    def rows_from_without(self, gen: int, sources: Sequence[str], path: str) -> set[int]:  # noqa: D102
        pid = self._path_id(path)
        out: set[int] = set()
        sources = list(sources)
        for i in range(0, len(sources), _BATCH):
            part = sources[i:i + _BATCH]
            marks = ",".join("?" * len(part))
            if pid is None:
                out |= self._rows(f"SELECT s.row FROM result_sources s JOIN results r ON r.row = s.row "
                                  f"WHERE s.source IN ({marks}) AND {_LIVE}", (*part, gen, gen))
            else:
                out |= self._rows(f"SELECT s.row FROM result_sources s JOIN results r ON r.row = s.row "
                                  f"WHERE s.source IN ({marks}) AND {_LIVE} AND NOT EXISTS (SELECT 1 FROM "
                                  "result_params p WHERE p.path = ? AND p.row = s.row AND p.el = 0)",
                                  (*part, gen, gen, pid))
        return out

    def rows_tagged(self, gen: int, tag: str) -> set[int]:  # noqa: D102
        return self._rows(f"SELECT t.row FROM result_tags t JOIN results r ON r.row = t.row "
                          f"WHERE t.tag = ? AND {_LIVE}", (tag, gen, gen))

    def tags(self, gen: int) -> list[str]:  # noqa: D102
        return [t for (t,) in self._q(f"SELECT DISTINCT t.tag FROM result_tags t JOIN results r ON r.row = t.row "
                                      f"WHERE {_LIVE}", (gen, gen))]

    # -- writing ---------------------------------------------------------------------------------

    def _write(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Cursor:
        assert self._db is not None
        if not self._in_transaction:
            self._db.execute("BEGIN IMMEDIATE")
            self._in_transaction = True
        return self._db.execute(sql, args)

    def _pending(self) -> int:
        return self._committed + 1

    def pending(self) -> int:  # noqa: D102 - documented on CatalogEngine
        return self._committed + 1

    def add_recording(self, record: Mapping[str, Any]) -> None:  # noqa: D102
        with self._lock:
            gen = self._pending()
            self._write("INSERT INTO recordings (id, record, added_gen) VALUES (?, ?, ?)",
                        (record["id"], encode(dict(record)), gen))

    def remove_recording(self, recording_id: str) -> None:  # noqa: D102
        with self._lock:
            gen = self._pending()
            self._write("UPDATE recordings SET removed_gen = ? WHERE id = ? AND removed_gen IS NULL", (gen, recording_id))

    def _path_for_write(self, path: str) -> int:
        pid = self._path_id(path)
        if pid is None:
            pid = self._write("INSERT INTO paths (path) VALUES (?)", (path,)).lastrowid
            self._path_ids[path] = pid
        return pid

    def add_results(self, records: Sequence[Mapping[str, Any]]) -> list[int]:  # noqa: D102
        with self._lock:
            gen = self._pending()
            rows: list[int] = []
            params_rows: list[tuple] = []
            sources_rows: list[tuple] = []
            tags_rows: list[tuple] = []
            for rec in records:
                payload = rec.get("payload")
                cur = self._write(
                    "INSERT INTO results (id, kind, identifier, parameters, sources, tags, payload, payload_file, "
                    "summary, added_utc, added_gen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (rec["id"], rec["type"], rec["identifier"], encode(rec["parameters"]), json.dumps(list(rec["sources"])),
                     json.dumps(list(rec["tags"])), None if payload is None else encode(payload), _file_of(payload),
                     encode(rec.get("summary") or {}), rec.get("added_utc", ""), gen))
                row = cur.lastrowid
                rows.append(row)
                for path, value in param_keys(rec["parameters"]):
                    pid = self._path_for_write(path)
                    params_rows.append((pid, 0, canon_key(value), row, numeric_of(canonical(value))))
                    if isinstance(value, (list, tuple)):
                        for element in {canon_key(e) for e in value}:
                            params_rows.append((pid, 1, element, row, None))
                sources_rows.extend((s, row) for s in dict.fromkeys(rec["sources"]))
                tags_rows.extend((t, row) for t in dict.fromkeys(rec["tags"]))
            assert self._db is not None
            self._db.executemany("INSERT INTO result_params VALUES (?, ?, ?, ?, ?)", params_rows)
            self._db.executemany("INSERT INTO result_sources VALUES (?, ?)", sources_rows)
            self._db.executemany("INSERT INTO result_tags VALUES (?, ?)", tags_rows)
            return rows

    def remove_result(self, row: int) -> None:  # noqa: D102
        with self._lock:
            gen = self._pending()
            # a result added in this same transaction goes at once (no reader can have seen it)
            if self._write("DELETE FROM results WHERE row = ? AND added_gen = ?", (row, gen)).rowcount:
                self._drop_side_rows([row])
            else:
                self._write("UPDATE results SET removed_gen = ? WHERE row = ? AND removed_gen IS NULL", (gen, row))

    def _drop_side_rows(self, rows: Sequence[int]) -> None:
        for i in range(0, len(rows), _BATCH):
            part = list(rows[i:i + _BATCH])
            marks = ",".join("?" * len(part))
            self._write(f"DELETE FROM result_params WHERE row IN ({marks})", part)
            self._write(f"DELETE FROM result_sources WHERE row IN ({marks})", part)
            self._write(f"DELETE FROM result_tags WHERE row IN ({marks})", part)

    def set_payloads(self, refs: Mapping[int, Any]) -> None:  # noqa: D102
        with self._lock:
            for row, ref in refs.items():
                self._write("UPDATE results SET payload = ?, payload_file = ? WHERE row = ?",
                            (encode(ref), _file_of(ref), row))

    def commit(self) -> None:  # noqa: D102
        with self._lock:
            if not self._in_transaction:
                return
            assert self._db is not None
            self._db.execute("UPDATE meta SET value = ? WHERE key = 'generation'", (self._committed + 1,))
            self._db.execute("COMMIT")
            self._in_transaction = False
            self._committed += 1

    def rollback(self) -> None:  # noqa: D102
        with self._lock:
            if self._in_transaction:
                assert self._db is not None
                self._db.execute("ROLLBACK")
                self._in_transaction = False
            self._path_ids.clear()  # paths added in the transaction are gone

    # -- maintenance -----------------------------------------------------------------------------

    def purge(self) -> int:  # noqa: D102
        with self._lock:
            if self._in_transaction:
                return 0
            rows = [r for (r,) in self._q("SELECT row FROM results WHERE removed_gen IS NOT NULL")]
            gone_recordings = self._q("SELECT count(*) FROM recordings WHERE removed_gen IS NOT NULL")[0][0]
            if not rows and not gone_recordings:
                return 0
            self._drop_side_rows(rows)
            self._write("DELETE FROM results WHERE removed_gen IS NOT NULL")
            self._write("DELETE FROM recordings WHERE removed_gen IS NOT NULL")
            assert self._db is not None
            self._db.execute("COMMIT")  # the generation stays: nothing visible changed
            self._in_transaction = False
            return len(rows) + gone_recordings

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
        orphans = self._q("SELECT count(*) FROM result_params p WHERE NOT EXISTS "
                          "(SELECT 1 FROM results r WHERE r.row = p.row)")[0][0]
        if orphans:
            problems.append(f"{self.path}: {orphans} parameter index rows name no result")
        return problems


def _file_of(ref: Any) -> str | None:
    """The payload file a reference of the segmented backends names (kept for garbage collection)."""
    if isinstance(ref, Mapping) and type(ref.get("file")) is str:
        return ref["file"]
    return None
