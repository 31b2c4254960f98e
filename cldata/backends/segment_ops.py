"""The records of a catalog segment as operations: runs of records with the same keys as columns.

A segment is a list of operations: ``add_columns`` (a run of records with the same keys,
as one list per key), ``add`` (one record) and ``remove`` (an id). Decoding 100,000 results
as columns is half the work of decoding 100,000 maps; :func:`columnar_ops` writes them,
:func:`replayed` reads any segment back as records, checking what a damaged or crafted
segment may hold, and :func:`row_ops` writes the one-record-per-operation form (what older
stores hold).

Examples
--------
>>> ops = columnar_ops([{"kind": "result", "id": "a"}, {"kind": "result", "id": "b"}])
>>> [op["op"] for op in ops], list(replayed(ops, "seg"))[1]
(['add_columns'], ('add', {'kind': 'result', 'id': 'b'}))
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import groupby
from typing import Any

from cldata.errors import StoreFormatError

__all__ = ["columnar_ops", "row_ops", "replayed"]


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


def replayed(ops: Iterable[Any], segment: str) -> Iterator[tuple[str, Any]]:
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
