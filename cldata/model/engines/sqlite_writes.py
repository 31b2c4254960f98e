"""How the SQLite catalog engine writes: entries added and removed in an open transaction, the
new postings kept in memory and merged into the table at commit (one read-modify-write per
key touched), and commit and rollback of a generation.

These are the writing methods of :class:`~cldata.model.engines.sqlite.SQLiteEngine`, which
holds the connection and the state they share.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from cldata.core.canonical import canonical
from cldata.errors import StoreFormatError
from cldata.format.codec import encode
from cldata.model.engines.base import canon_key, numeric_of, param_keys
from cldata.model.engines.sqlite_schema import (
    ELEMENT,
    IDENTIFIER,
    KIND,
    NO_PATH,
    PRESENT,
    ROW,
    SOURCE,
    TAG,
    VALUE,
    entry_crc,
    name_key,
    payload_file_of,
    posting_crc,
    rows_blob,
)

__all__ = ["SQLiteWrites"]


class SQLiteWrites:
    """The writing methods of :class:`~cldata.model.engines.sqlite.SQLiteEngine` (see module doc)."""

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
                        (record["id"], blob, entry_crc(record["id"], blob), self.pending()))

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
        keys.extend((SOURCE, NO_PATH, name_key(s), None) for s in dict.fromkeys(rec["sources"]))
        keys.extend((TAG, NO_PATH, name_key(t), None) for t in dict.fromkeys(rec["tags"]))
        keys.append((IDENTIFIER, NO_PATH, name_key(rec["identifier"]), None))
        keys.append((KIND, NO_PATH, name_key(rec["type"]), None))
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
        return (*values, ref, payload_file_of(payload), summary, added, entry_crc(*values, summary, added),
                None if ref is None else entry_crc(ref), gen)

    def _merge_postings(self) -> None:
        """Write the writer's new postings into the table (inside its transaction)."""
        new, self._new_postings = self._new_postings, {}
        for (field, pid, key), (num, rows) in new.items():
            added = np.asarray(rows, dtype=ROW)
            stored = self._stored(field, pid, key)
            if stored.size:
                blob = rows_blob(np.concatenate([stored, added]))
                self._write("UPDATE postings SET rows = ?, crc = ? WHERE field = ? AND path = ? AND key = ?",
                            (blob, posting_crc(field, pid, key, blob), field, pid, key))
            else:
                blob = rows_blob(added)
                self._write("INSERT INTO postings VALUES (?, ?, ?, ?, ?, ?)",
                            (field, pid, key, num, blob, posting_crc(field, pid, key, blob)))
            if field == PRESENT:
                self._write("UPDATE paths SET results = ? WHERE id = ?", (stored.size + added.size, pid))

    def _drop_from_postings(self, records: Mapping[int, Mapping[str, Any]]) -> None:
        """Take rows out of the postings of their keys (the table's and the writer's new ones)."""
        by_key: dict[tuple[int, int, bytes], list[int]] = {}
        for row, rec in records.items():
            for field, pid, key, _ in self._keys_of(rec):
                by_key.setdefault((field, pid, key), []).append(row)
        for (field, pid, key), rows in by_key.items():
            gone = np.asarray(rows, dtype=ROW)
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
                blob = rows_blob(left)
                self._write("UPDATE postings SET rows = ?, crc = ? WHERE field = ? AND path = ? AND key = ?",
                            (blob, posting_crc(field, pid, key, blob), field, pid, key))
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
                            (blob, payload_file_of(ref), entry_crc(blob), row))

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

