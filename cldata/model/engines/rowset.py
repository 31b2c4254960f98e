"""``RowSet``: a set of catalog rows held as one sorted numpy array.

An on-disk catalog answers "which rows have ``window_s == 1``" with a posting list of maybe
a hundred thousand rows. As a Python ``set`` that costs milliseconds to build and
intersect; as a sorted ``uint32``/``int64`` array it is one ``np.frombuffer`` and a
vectorised intersection. :class:`RowSet` is that array behind the set operators the query
functions use (``&``, ``|``, ``-``, ``in``, ``len``, iteration in ascending order), and it
combines with plain Python sets on either side, so queries need not know which catalog
answered them.

Examples
--------
>>> a = RowSet.of([5, 1, 3, 9])
>>> sorted(a & {1, 9, 11}), len(a | RowSet.of([2])), 3 in a, sorted(a - {1})
([1, 9], 5, True, [3, 5, 9])
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

__all__ = ["RowSet", "intersect_all"]


def _array(rows: Any) -> np.ndarray:
    if isinstance(rows, RowSet):
        return rows.rows
    if isinstance(rows, np.ndarray):
        return np.unique(rows.astype(np.int64, copy=False))
    return np.unique(np.fromiter(rows, dtype=np.int64))


class RowSet:
    """Catalog rows as a sorted array of unique integers, with the set operators (see module doc).

    Parameters
    ----------
    rows
        A sorted array of unique row numbers (not checked: use :meth:`of` for anything else).
    """

    __slots__ = ("rows",)

    def __init__(self, rows: np.ndarray):
        self.rows = rows

    @classmethod
    def of(cls, rows: Iterable[int] | np.ndarray | RowSet) -> RowSet:
        """A RowSet of any iterable of row numbers (sorted and made unique)."""
        return rows if isinstance(rows, RowSet) else cls(_array(rows))

    @classmethod
    def union_of(cls, arrays: Iterable[np.ndarray]) -> RowSet:
        """The union of several sorted arrays."""
        parts = [a for a in arrays if a.size]
        if not parts:
            return cls(np.empty(0, np.int64))
        if len(parts) == 1:
            return cls(parts[0])
        return cls(np.unique(np.concatenate([p.astype(np.int64, copy=False) for p in parts])))

    # -- the set protocol ----------------------------------------------------------------------

    def __len__(self) -> int:
        return int(self.rows.size)

    def __bool__(self) -> bool:
        return bool(self.rows.size)

    def __iter__(self) -> Iterator[int]:
        return iter(self.rows.tolist())

    def __contains__(self, row: object) -> bool:
        if not isinstance(row, (int, np.integer)) or isinstance(row, bool):
            return False
        i = int(np.searchsorted(self.rows, row))
        return i < self.rows.size and int(self.rows[i]) == row

    def __and__(self, other: Any) -> RowSet:
        a, b = self.rows, _array(other)
        if a.size > b.size:
            a, b = b, a
        if not a.size or not b.size:
            return RowSet(np.empty(0, np.int64))
        top = int(max(a[-1], b[-1])) + 1
        # a mask costs about its size plus the larger set; looking the smaller up, its size times log(larger)
        if a.size * np.log2(b.size + 1) > top / 4 + b.size:
            # both large and dense: a mask of the larger, looked up by the smaller (linear, no sort)
            mask = np.zeros(top, dtype=bool)
            mask[b] = True
            return RowSet(a[mask[a]])
        # the smaller looked up in the larger: O(small log large), and no copy of the larger
        at = np.searchsorted(b, a)
        at[at == b.size] = 0
        return RowSet(a[b[at] == a])

    __rand__ = __and__

    def __or__(self, other: Any) -> RowSet:
        return RowSet.union_of([self.rows, _array(other)])

    __ror__ = __or__

    def __sub__(self, other: Any) -> RowSet:
        b = _array(other)
        if not b.size or not self.rows.size:
            return self
        return RowSet(self.rows[~np.isin(self.rows, b, assume_unique=True)])

    def __rsub__(self, other: Any) -> RowSet:
        return RowSet.of(other) - self

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RowSet):
            return bool(np.array_equal(self.rows, other.rows))
        if isinstance(other, (set, frozenset)):
            return len(other) == len(self) and all(r in other for r in self)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        head = ", ".join(map(str, self.rows[:8].tolist()))
        return f"RowSet([{head}{', ...' if self.rows.size > 8 else ''}], {self.rows.size} rows)"


def intersect_all(sets: list[Any]) -> Any:
    """The intersection of row sets (Python sets and RowSets), smallest first; a new object (the
    inputs, which may be an index's own sets, are never changed)."""
    sets = sorted(sets, key=len)
    if any(isinstance(s, RowSet) for s in sets):
        matched: Any = RowSet.of(sets[0])
        for rows in sets[1:]:
            if not matched:
                break
            matched = matched & rows
        return matched
    out = set(sets[0])
    for rows in sets[1:]:
        if not out:
            break
        out &= rows
    return out
