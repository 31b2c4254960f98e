"""``ParamIndex``: an inverted index over parameters, ``dotted path -> canonical value -> rows``.

The in-memory catalog answers a parameter condition (``culture == "C7"``, ``"x" in
tags``, ``1 <= session < 3``) from this index instead of scanning every entry. A path's
postings are built the first time the path is queried (most paths never are) and kept up
to date as rows come and go; values compare by their canonical form
(:mod:`cldata.core.canonical`), so ``1`` and ``1.0`` and equal quantities in other units
meet. Numeric values of a path are kept sorted on demand, for range conditions.

Examples
--------
>>> params = {0: {"culture": "C7"}, 1: {"culture": "C8"}, 2: {"culture": "C7", "session": 2}}
>>> index = ParamIndex(params.__getitem__, lambda: iter(params))
>>> sorted(index.equal("culture", "C7")), sorted(index.present("session"))
([0, 2], [2])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from cldata.core.canonical import Canon, canonical, flatten
from cldata.model.entries import MISSING, lookup

__all__ = ["ParamIndex"]


def _elements(value: Any) -> list[Canon] | None:
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    return None


class ParamIndex:
    """An inverted index over one kind of entry: ``path -> canonical value -> rows``.

    Parameters
    ----------
    params_of
        The parameters of a live row.
    live_rows
        The live rows, in order (used to build a path's postings on first use).
    """

    def __init__(self, params_of: Callable[[int], Mapping[str, Any]], live_rows: Callable[[], Iterable[int]]):
        self._params_of = params_of
        self._live_rows = live_rows
        self._postings: dict[str, dict[Canon, set[int]]] = {}
        self._elements: dict[str, dict[Canon, set[int]]] = {}
        self._present: dict[str, set[int]] = {}
        self._examples: dict[str, dict[Canon, Any]] = {}
        self._numeric: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    # -- maintenance -------------------------------------------------------------------------

    def _build(self, path: str) -> None:
        self._postings[path] = {}
        self._elements[path] = {}
        self._present[path] = set()
        self._examples[path] = {}
        for row in self._live_rows():
            self._add_path(path, row, self._params_of(row))

    def _add_path(self, path: str, row: int, params: Mapping[str, Any]) -> None:
        value = lookup(params, path)
        if value is MISSING:
            return
        key = canonical(value)
        self._postings[path].setdefault(key, set()).add(row)
        self._examples[path].setdefault(key, value)
        self._present[path].add(row)
        elements = _elements(value)
        if elements:
            for e in elements:
                self._elements[path].setdefault(e, set()).add(row)
        self._numeric.pop(path, None)

    @property
    def active(self) -> bool:
        """Whether any path is indexed yet (until then, adding a row has nothing to update)."""
        return bool(self._postings)

    def add(self, row: int, params: Mapping[str, Any]) -> None:
        """Index a new row (for the paths already indexed)."""
        for path in self._postings:
            self._add_path(path, row, params)

    def remove(self, row: int, params: Mapping[str, Any]) -> None:
        """Forget a row."""
        for path in self._postings:
            value = lookup(params, path)
            if value is MISSING:
                continue
            key = canonical(value)
            rows = self._postings[path].get(key)
            if rows is not None:
                rows.discard(row)
                if not rows:
                    del self._postings[path][key]
                    self._examples[path].pop(key, None)
            self._present[path].discard(row)
            for e in _elements(value) or ():
                erows = self._elements[path].get(e)
                if erows is not None:
                    erows.discard(row)
                    if not erows:
                        del self._elements[path][e]
            self._numeric.pop(path, None)

    # -- lookups (the sets returned must not be modified) ----------------------------------------

    def postings(self, path: str) -> dict[Canon, set[int]]:
        """``canonical value -> rows`` for one path."""
        if path not in self._postings:
            self._build(path)
        return self._postings[path]

    def equal(self, path: str, value: Any) -> set[int]:
        """Rows whose parameter at ``path`` equals ``value`` (by canonical value)."""
        return self.postings(path).get(canonical(value), set())

    def contains(self, path: str, element: Any) -> set[int]:
        """Rows whose parameter at ``path`` is a list holding ``element``."""
        self.postings(path)
        return self._elements[path].get(canonical(element), set())

    def present(self, path: str) -> set[int]:
        """Rows that have a parameter at ``path``."""
        self.postings(path)
        return self._present[path]

    def values(self, path: str) -> list[Any]:
        """The distinct values at ``path`` (one original value per canonical value)."""
        self.postings(path)
        return list(self._examples[path].values())

    def has(self, path: str) -> bool:
        """Whether any row has a parameter at ``path``."""
        return bool(self.present(path))

    def paths(self) -> list[str]:
        """Every parameter path of the live rows (for messages that list what is known)."""
        out: set[str] = set()
        for row in self._live_rows():
            out.update(flatten(self._params_of(row)))
        return sorted(out)

    def range_rows(self, path: str, lo: float | None, hi: float | None, inclusive: tuple[bool, bool]) -> set[int]:
        """Rows whose numeric value at ``path`` lies between ``lo`` and ``hi`` (None: unbounded)."""
        values, rows = self.numeric(path)
        a = 0 if lo is None else int(np.searchsorted(values, lo, side="left" if inclusive[0] else "right"))
        b = values.size if hi is None else int(np.searchsorted(values, hi, side="right" if inclusive[1] else "left"))
        return set(rows[a:max(a, b)].tolist())

    def numeric(self, path: str) -> tuple[np.ndarray, np.ndarray]:
        """Numeric values at ``path`` sorted, with their rows: for range queries."""
        if path not in self._numeric:
            vals, rows = [], []
            for key, rs in self.postings(path).items():
                if isinstance(key, (int, float)) and not isinstance(key, bool):
                    vals.extend([key] * len(rs))
                    rows.extend(rs)
                elif isinstance(key, tuple) and len(key) == 3 and key[0] == "q" and isinstance(key[1], (int, float)):
                    vals.extend([key[1]] * len(rs))  # quantities compare in base SI units
                    rows.extend(rs)
            v = np.asarray(vals, dtype=np.float64)
            r = np.asarray(rows, dtype=np.int64)
            order = np.argsort(v, kind="stable")
            self._numeric[path] = (v[order], r[order])
        return self._numeric[path]
