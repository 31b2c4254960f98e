"""How the SQLite catalog engine answers questions: entries by row, and rows by posting list.

A question is asked at a generation: rows added after it (above the last row it saw) and
rows removed at or before it are left out (:meth:`SQLiteReads._visible`). Posting lists
are read from the table and, for the writer, joined with the postings it has not merged
yet. These are the reading methods of :class:`~cldata.model.engines.sqlite.SQLiteEngine`,
which holds the connection and the state they share.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from cldata.format.codec import decode
from cldata.model.engines.rowset import RowSet
from cldata.model.engines.sqlite_schema import (
    BATCH,
    ELEMENT,
    FIELDS,
    LIVE,
    NO_PATH,
    PRESENT,
    ROW,
    SOURCE,
    TAG,
    VALUE,
    damaged,
    entry_crc,
    name_key,
)
from cldata.model.entries import is_record_id

__all__ = ["SQLiteReads"]


class SQLiteReads:
    """The reading methods of :class:`~cldata.model.engines.sqlite.SQLiteEngine` (see module doc)."""

    # -- reading ---------------------------------------------------------------------------------

    def recordings(self, gen: int) -> list[dict[str, Any]]:  # noqa: D102
        out = []
        for rid, blob, crc in self._q(f"SELECT id, record, crc FROM recordings r WHERE {LIVE} ORDER BY row",
                                      (gen, gen)):
            if crc != entry_crc(rid, blob):
                raise damaged(self.path, f"holds recording {rid!r:.80}, which fails its checksum (the file was damaged)")
            rec = self._decode(blob, f"recording {rid!r:.80}")
            if type(rec) is not dict or rec.get("id") != rid:
                raise damaged(self.path, f"holds a recording record {rid!r:.80} that does not match its row")
            out.append(rec)
        return out

    def _decode(self, blob: Any, what: str) -> Any:
        if type(blob) is not bytes:
            raise damaged(self.path, f"holds {what} that is not encoded data")
        try:
            return decode(blob)
        except Exception as exc:  # DecodeError, UnsafeContentError...: a damaged or crafted value
            raise damaged(self.path, f"holds {what} that does not decode ({type(exc).__name__}: {exc})") from None

    def _result_record(self, row: tuple) -> dict[str, Any]:
        rid, kind, identifier, params, sources, tags, payload, summary, added, crc, payload_crc = row[1:]
        if crc != entry_crc(rid, kind, identifier, params, sources, tags, summary, added) or (
                payload is not None and payload_crc != entry_crc(payload)):
            raise damaged(self.path, f"holds result {rid!r:.80} (row {row[0]}), which fails its checksum "
                                      "(the file was damaged)")
        if not (type(rid) is str and is_record_id(rid) and type(kind) is str and type(identifier) is str
                and type(sources) is str and type(tags) is str and type(added) is str):
            raise damaged(self.path, f"holds a malformed result at row {row[0]}")
        sources, tags = self._names(rid, sources), self._names(rid, tags)
        params = self._decode(params, f"the parameters of result {rid!r}")
        summary = self._decode(summary, f"the summary of result {rid!r}")
        if type(params) is not dict or type(summary) is not dict:
            raise damaged(self.path, f"holds result {rid!r} whose parameters or summary are not dicts")
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
                raise damaged(self.path, f"holds result {rid!r} whose sources or tags are not JSON") from None
            if type(names) is not list or not all(type(x) is str for x in names):
                raise damaged(self.path, f"holds result {rid!r} whose sources and tags are not lists of names")
            if len(self._names_cache) > 10_000:
                self._names_cache.clear()
            names = self._names_cache[text] = tuple(names)
        return list(names)

    _RESULT_COLUMNS = ("r.row, r.id, r.kind, r.identifier, r.parameters, r.sources, r.tags, r.payload, r.summary, "
                       "r.added_utc, r.crc, r.payload_crc")

    def results(self, gen: int, rows: Sequence[int]) -> dict[int, dict[str, Any]]:  # noqa: D102
        out: dict[int, dict[str, Any]] = {}
        rows = list(rows)
        for i in range(0, len(rows), BATCH):
            part = rows[i:i + BATCH]
            marks = ",".join("?" * len(part))
            for row in self._q(f"SELECT {self._RESULT_COLUMNS} FROM results r WHERE r.row IN ({marks}) AND {LIVE}",
                               (*part, gen, gen)):
                out[row[0]] = self._result_record(row)
        return out

    def result_rows(self, gen: int) -> list[int]:  # noqa: D102
        return [r for (r,) in self._q(f"SELECT r.row FROM results r WHERE {LIVE} ORDER BY r.row", (gen, gen))]

    def result_count(self, gen: int) -> int:  # noqa: D102
        return self._q(f"SELECT count(*) FROM results r WHERE {LIVE}", (gen, gen))[0][0]

    def row_of(self, gen: int, result_id: str) -> int | None:  # noqa: D102
        rows = self._q(f"SELECT r.row FROM results r WHERE r.id = ? AND {LIVE}", (result_id, gen, gen))
        return rows[0][0] if rows else None

    def existing_ids(self, gen: int, result_ids: Sequence[str]) -> set[str]:  # noqa: D102
        out: set[str] = set()
        ids = list(dict.fromkeys(result_ids))
        for i in range(0, len(ids), BATCH):
            part = ids[i:i + BATCH]
            marks = ",".join("?" * len(part))
            out.update(r for (r,) in self._q(f"SELECT r.id FROM results r WHERE r.id IN ({marks}) AND {LIVE}",
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
        if type(blob) is not bytes or len(blob) % ROW.itemsize:
            raise damaged(self.path, "holds a posting list that is not an array of row numbers")
        return np.frombuffer(blob, dtype=ROW)

    def _stored(self, field: int, pid: int, key: bytes) -> np.ndarray:
        rows = self._q("SELECT rows FROM postings WHERE field = ? AND path = ? AND key = ?", (field, pid, key))
        return self._array(rows[0][0]) if rows else np.empty(0, ROW)

    def _posting(self, field: int, pid: int, key: bytes) -> np.ndarray:
        """The rows of one key: the table's and the writer's not yet merged, ascending."""
        stored = self._stored(field, pid, key)
        new = self._new_postings.get((field, pid, key))
        if new is None:
            return stored
        return np.concatenate([stored, np.asarray(new[1], dtype=ROW)])  # new rows are all above the stored ones

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
            blobs += [np.asarray(rows, dtype=ROW) for (f, p, _), (_, rows) in self._new_postings.items()
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
        return self._field_rows(gen, FIELDS[field], NO_PATH, name_key(value))

    def field_values(self, gen: int, field: str) -> list[str]:  # noqa: D102
        return [k.decode("utf-8", "surrogatepass") for k in self._keys(FIELDS[field], NO_PATH)
                if self._field_rows(gen, FIELDS[field], NO_PATH, k)]

    def rows_from(self, gen: int, source: str) -> RowSet:  # noqa: D102
        return self._field_rows(gen, SOURCE, NO_PATH, name_key(source))

    def rows_from_without(self, gen: int, sources: Sequence[str], path: str) -> RowSet:  # noqa: D102
        rows = self._union(gen, SOURCE, NO_PATH, [name_key(s) for s in sources])
        return rows - self.rows_with_path(gen, path)

    def rows_tagged(self, gen: int, tag: str) -> RowSet:  # noqa: D102
        return self._field_rows(gen, TAG, NO_PATH, name_key(tag))

    def tags(self, gen: int) -> list[str]:  # noqa: D102
        return [k.decode("utf-8", "surrogatepass") for k in self._keys(TAG, NO_PATH) if self._field_rows(gen, TAG, NO_PATH, k)]

