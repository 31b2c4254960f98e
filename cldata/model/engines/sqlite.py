"""The built-in catalog engine: the store's catalog in one SQLite database, ``catalog.sqlite``.

SQLite is in Python's standard library, its atomic commit is among the most tested code
there is, and its B-tree indexes answer an equality or a range over a million rows in a
few page reads. This module only lays out tables and writes the queries; durability and
atomicity are SQLite's (rollback journal, ``synchronous=FULL``).

:class:`SQLiteEngine` is one object in four modules: this one holds its life (create,
open, connect, close), maintenance (purge) and check; the file's layout and checksums are
in :mod:`~cldata.model.engines.sqlite_schema`, how it answers in
:mod:`~cldata.model.engines.sqlite_reads`, how it writes in
:mod:`~cldata.model.engines.sqlite_writes`.

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
>>> from cldata.model.engines.base import canon_key
>>> root = Path(tempfile.mkdtemp())
>>> engine = SQLiteEngine(root, writable=True)
>>> engine.create(); engine.open()
>>> rows = engine.add_results([{"kind": "result", "id": "res_1", "type": "SingleValue", "identifier": "rate",
...     "parameters": {"window_s": 1.0}, "sources": [], "tags": ["final"], "payload": None, "summary": {},
...     "added_utc": ""}])
>>> engine.commit()
>>> set(engine.rows_with_key(engine.generation(), "window_s", canon_key(1)))
{1}
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

import numpy as np

from cldata.core.fsutil import fsync_dir, new_temporary
from cldata.errors import StoreFormatError
from cldata.model.engines.base import CatalogEngine
from cldata.model.engines.sqlite_reads import SQLiteReads
from cldata.model.engines.sqlite_schema import (
    APPLICATION_ID,
    FILE_NAME,
    IDENTIFIER,
    NO_PATH,
    SCHEMA,
    SCHEMA_VERSION,
    damaged,
    posting_crc,
)
from cldata.model.engines.sqlite_writes import SQLiteWrites

__all__ = ["SQLiteEngine", "FILE_NAME"]

class SQLiteEngine(SQLiteReads, SQLiteWrites, CatalogEngine):
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
        tmp = new_temporary(self.path)  # created exclusively: SQLite fills an empty file as a new database
        try:
            db = sqlite3.connect(tmp, isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode=OFF")  # a new file: the rename is the commit
                # large pages: a posting list of 100,000 rows (400 KB) reads in a few pages, not a hundred
                db.execute("PRAGMA page_size=65536")
                db.execute(f"PRAGMA application_id={APPLICATION_ID}")
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                db.execute("BEGIN")
                for sql in SCHEMA:
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
            raise damaged(self.path, "is not a regular file (a link, a FIFO?)")
        journal = self.path.with_name(self.path.name + "-journal")
        try:
            if not stat.S_ISREG(os.lstat(journal).st_mode):  # SQLite would open it (a FIFO blocks it for ever)
                raise damaged(journal, "is not a regular file (a link, a FIFO?); SQLite's journal never is")
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
            raise damaged(self.path, f"cannot be read as a catalog database ({exc})") from None
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
        if app != APPLICATION_ID:
            raise damaged(self.path, "is not a cldata catalog (another SQLite database?)")
        if version != SCHEMA_VERSION:
            raise StoreFormatError(f"the catalog {self.path} has schema version {version}; this cldata reads version "
                                   f"{SCHEMA_VERSION} (a newer cldata made it: upgrade cldata)")
        found = {row[0] for row in db.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL")}
        expected = set(SCHEMA) | {"CREATE TABLE sqlite_sequence(name,seq)"}
        if found != expected:
            extra = sorted(found - expected)
            raise damaged(self.path, f"has a schema this cldata did not make ({(extra or sorted(expected - found))[0]!r:.80})")

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
                raise damaged(self.path, f"cannot be read ({exc})") from None

    def generation(self) -> int:  # noqa: D102 - documented on CatalogEngine
        # the generation and the last row it holds, read in one statement (one consistent state)
        meta = dict(self._q("SELECT key, value FROM meta WHERE key IN ('generation', 'last_row')"))
        gen, last = meta.get("generation"), meta.get("last_row")
        if type(gen) is not int or type(last) is not int:
            raise damaged(self.path, "has no generation")
        self._last_rows[gen] = last
        return gen

    def files(self) -> list[Path]:  # noqa: D102 - documented on CatalogEngine
        return [self.path]

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
               if type(rows) is not bytes or type(k) is not bytes or posting_crc(f, p, k, rows) != crc]
        if bad:
            problems.append(f"{self.path}: {len(bad)} posting lists of the index fail their checksum (the file was "
                            "damaged): queries may miss or add results")
        # every live result is in the postings of its identifier (a cheap cross-check of the index)
        indexed = self._union(gen, IDENTIFIER, NO_PATH)
        live = self.result_count(gen)
        if len(indexed) != live:
            problems.append(f"{self.path}: the index names {len(indexed)} results, the catalog holds {live}")
        return problems


