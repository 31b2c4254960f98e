"""The catalog-engine interface: where a store keeps its catalog on disk, and how it is queried there.

A store's catalog is every recording and result *entry* (ids, parameters, sources, tags,
summaries and payload references; never the data). Up to version 1 a store loaded its
whole catalog into memory when it opened; at a million results that took seconds and
gigabytes. A **catalog engine** keeps the catalog in an indexed on-disk database instead
and answers the questions queries ask — "which rows have parameter ``p`` equal to ``v``",
"which results come from recording ``r``", "the entry at row ``n``" — so that opening a
store reads nothing but the recordings (a few per culture and day) and a query reads only
what it matches.

The model
---------
**Rows.** Every result entry has a row number, given when it is added and never reused:
the order of rows is the order of insertion, which is the order of every query answer.

**Generations and snapshots.** Each commit makes a new *generation*. An entry is visible
at generation ``g`` when it was added at or before ``g`` and not removed at or before
``g``. A reader fixes the generation it sees when it opens (``refresh()`` moves it on), so
it keeps answering from one consistent state while a writer commits; the writer sees its
own uncommitted changes (at ``generation() + 1``). Removed entries stay on disk, invisible
to newer generations, until :meth:`CatalogEngine.purge` drops them at a moment no reader
has the store open.

**Keys.** Parameter values are compared in canonical form (:func:`cldata.core.canonical.canonical`):
an engine stores, per result, one *key* (the msgpack bytes of the canonical value) for
every dotted path of its parameters and one per element of a list value, plus the value
as a number where it is one (for ranges). :func:`param_keys` computes them, the same for
every engine.

An engine is one class behind this small interface; the built-in one is SQLite
(:class:`cldata.model.engines.sqlite.SQLiteEngine`). A plugin (a lab's PostgreSQL through
SQLAlchemy, say) subclasses :class:`CatalogEngine` and declares an entry point in the
group ``cldata.model.engines`` (see :mod:`cldata.model.engines`); a store names its engine in its
marker file. :class:`cldata.model.engines.EngineCatalog` turns any engine into the catalog the
queries use.

Examples
--------
>>> sorted(k for k, _ in param_keys({"culture": "C7", "stim": {"hz": 4}}))
['culture', 'stim', 'stim.hz']
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import msgpack

from cldata.core.canonical import canonical
from cldata.model.entries import MISSING, lookup

__all__ = ["CatalogEngine", "param_keys", "canon_key", "key_canon", "numeric_of"]


def canon_key(value: Any) -> bytes:
    """The key of a parameter value: the msgpack bytes of its canonical form (equal values, equal keys).

    Examples
    --------
    Booleans are keyed as the numbers they equal in Python (``True == 1``), so that a query
    matches what a scan comparing canonical values matches.

    >>> canon_key(1) == canon_key(1.0), canon_key(True) == canon_key(1)
    (True, True)
    """
    return msgpack.packb(_bools_as_ints(canonical(value)), use_bin_type=True)


def _bools_as_ints(canon: Any) -> Any:
    if canon is True or canon is False:
        return int(canon)
    if type(canon) is tuple:
        return tuple(_bools_as_ints(c) for c in canon)
    return canon


def key_canon(key: bytes) -> Any:
    """The canonical value a key was made from (tuples, as :func:`~cldata.core.canonical.canonical` makes them)."""
    return msgpack.unpackb(key, raw=False, use_list=False, strict_map_key=False)


def numeric_of(canon: Any) -> float | None:
    """The number a canonical value stands for in range queries (a quantity: its magnitude in base SI
    units), or None."""
    if isinstance(canon, (int, float)) and not isinstance(canon, bool):
        return float(canon)
    if isinstance(canon, tuple) and len(canon) == 3 and canon[0] == "q" and isinstance(canon[1], (int, float)) \
            and not isinstance(canon[1], bool):
        return float(canon[1])
    return None


def _paths(params: Mapping[str, Any], prefix: str, out: dict[str, None]) -> None:
    for key, value in params.items():
        path = f"{prefix}{key}"
        out[path] = None
        if isinstance(value, Mapping):
            _paths(value, path + ".", out)


def param_keys(params: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Every dotted path of nested parameters with the value a query at that path finds.

    Inner dicts are paths too (a query may compare a whole dict). Where two spellings make
    the same path (a key ``"a.b"`` beside ``{"a": {"b": ...}}``), the value is the one
    :func:`cldata.model.catalog.lookup` finds, as the in-memory index does.
    """
    paths: dict[str, None] = {}
    _paths(params, "", paths)
    out = []
    for path in paths:
        value = lookup(params, path)
        if value is not MISSING:
            out.append((path, value))
    return out


class CatalogEngine(abc.ABC):
    """Where a store's catalog lives, and the questions it answers (see module doc).

    Records are the plain dicts :meth:`cldata.model.catalog.RecordingEntry.to_record` and
    :meth:`cldata.model.catalog.ResultEntry.to_record` make. Every method that reads takes the
    generation ``gen`` to answer at. The store guarantees one writer at a time; an engine
    keeps each :meth:`commit` atomic and durable, and a crash at any moment must leave the
    catalog of the last completed commit.

    Parameters
    ----------
    root
        The store directory.
    writable
        Whether the store is open for writing.
    """

    #: The name a store's marker uses for the engine (``"catalog": name``).
    name: ClassVar[str] = ""

    def __init__(self, root: Path, *, writable: bool):
        self.root = Path(root)
        self.writable = writable

    # -- life ------------------------------------------------------------------------------------

    @classmethod
    @abc.abstractmethod
    def exists(cls, root: Path) -> bool:
        """Whether ``root`` holds a catalog of this engine (complete: made by :meth:`create`)."""

    @abc.abstractmethod
    def create(self, records: Iterable[Mapping[str, Any]] = ()) -> None:
        """Make an empty catalog (or one holding ``records``, for a migration), atomically: a crash
        leaves no catalog or the whole of it."""

    @abc.abstractmethod
    def open(self) -> None:
        """Connect to the catalog (called once, after :meth:`create` for a new store)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the engine holds open."""

    @abc.abstractmethod
    def generation(self) -> int:
        """The generation of the last completed commit."""

    def pending(self) -> int:
        """The generation the writer's changes since the last commit will have (what the writer sees)."""
        return self.generation() + 1

    # -- reading ---------------------------------------------------------------------------------

    @abc.abstractmethod
    def recordings(self, gen: int) -> list[dict[str, Any]]:
        """Every recording record visible at ``gen``, in insertion order."""

    @abc.abstractmethod
    def results(self, gen: int, rows: Sequence[int]) -> dict[int, dict[str, Any]]:
        """The result records at ``rows`` visible at ``gen`` (rows not visible are left out)."""

    @abc.abstractmethod
    def result_rows(self, gen: int) -> list[int]:
        """Every result row visible at ``gen``, ascending."""

    @abc.abstractmethod
    def result_count(self, gen: int) -> int:
        """How many results are visible at ``gen``."""

    @abc.abstractmethod
    def row_of(self, gen: int, result_id: str) -> int | None:
        """The row of the result ``result_id`` at ``gen``, or None."""

    def existing_ids(self, gen: int, result_ids: Sequence[str]) -> set[str]:
        """Which of ``result_ids`` are visible at ``gen`` (engines may answer in batches)."""
        return {i for i in result_ids if self.row_of(gen, i) is not None}

    @abc.abstractmethod
    def rows_with_key(self, gen: int, path: str, key: bytes, element: bool = False) -> set[int]:
        """Rows whose parameter at ``path`` has ``key`` (``element``: a list holding an element with ``key``)."""

    @abc.abstractmethod
    def rows_with_path(self, gen: int, path: str) -> set[int]:
        """Rows that have a parameter at ``path``."""

    @abc.abstractmethod
    def has_path(self, gen: int, path: str) -> bool:
        """Whether any result has a parameter at ``path``."""

    @abc.abstractmethod
    def paths(self, gen: int) -> list[str]:
        """Every parameter path of the results (for messages that list what is known)."""

    @abc.abstractmethod
    def keys_at(self, gen: int, path: str) -> list[tuple[bytes, int]]:
        """The distinct keys at ``path``, each with one row that has it."""

    @abc.abstractmethod
    def postings(self, gen: int, path: str) -> list[tuple[bytes, int]]:
        """``(key, row)`` for every row with a parameter at ``path``."""

    @abc.abstractmethod
    def numeric(self, gen: int, path: str) -> tuple[list[float], list[int]]:
        """Numeric values at ``path`` ascending, with their rows."""

    @abc.abstractmethod
    def range_rows(self, gen: int, path: str, lo: float | None, hi: float | None,
                   inclusive: tuple[bool, bool]) -> set[int]:
        """Rows whose numeric value at ``path`` lies between ``lo`` and ``hi`` (None: unbounded)."""

    @abc.abstractmethod
    def rows_with_field(self, gen: int, field: str, value: str) -> set[int]:
        """Rows whose ``field`` (``"identifier"`` or ``"kind"``) is ``value``."""

    @abc.abstractmethod
    def field_values(self, gen: int, field: str) -> list[str]:
        """The distinct values of ``field`` (``"identifier"`` or ``"kind"``)."""

    @abc.abstractmethod
    def rows_from(self, gen: int, source: str) -> set[int]:
        """Rows of the results computed from recording ``source``."""

    @abc.abstractmethod
    def rows_from_without(self, gen: int, sources: Sequence[str], path: str) -> set[int]:
        """Rows of results from any of ``sources`` that have no parameter at ``path`` of their own."""

    @abc.abstractmethod
    def rows_tagged(self, gen: int, tag: str) -> set[int]:
        """Rows of the results carrying ``tag``."""

    @abc.abstractmethod
    def tags(self, gen: int) -> list[str]:
        """Every tag of the results."""

    # -- writing (inside the writer's open transaction; visible at generation() + 1) -----------

    @abc.abstractmethod
    def add_recording(self, record: Mapping[str, Any]) -> None:
        """Add a recording record."""

    @abc.abstractmethod
    def remove_recording(self, recording_id: str) -> None:
        """Remove a recording record."""

    @abc.abstractmethod
    def add_results(self, records: Sequence[Mapping[str, Any]]) -> list[int]:
        """Add result records; return their rows."""

    @abc.abstractmethod
    def remove_result(self, row: int) -> None:
        """Remove the result at ``row``."""

    @abc.abstractmethod
    def set_payloads(self, refs: Mapping[int, Any]) -> None:
        """Record the payload reference of each row (the backend's, given at commit)."""

    @abc.abstractmethod
    def commit(self) -> None:
        """Make the changes since the last commit durable, atomically, as generation ``generation() + 1``."""

    @abc.abstractmethod
    def rollback(self) -> None:
        """Discard the changes since the last commit."""

    # -- maintenance -----------------------------------------------------------------------------

    @abc.abstractmethod
    def purge(self) -> int:
        """Drop removed entries for good (called when no reader has the store open); return how many."""

    @abc.abstractmethod
    def payload_files(self) -> set[str]:
        """The payload file names the committed results refer to (garbage collection keeps them)."""

    @abc.abstractmethod
    def check(self) -> list[str]:
        """The problems of the catalog itself (empty: healthy), in plain words."""

    def files(self) -> list[Path]:
        """The files the catalog occupies (``cldata check`` reports them read; garbage collection keeps them)."""
        return []
