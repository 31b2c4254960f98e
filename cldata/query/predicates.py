"""Conditions on a parameter beyond equality: ranges, negation, membership, tolerance.

A condition in a parameter query is a value (equality, by value: ``1 == 1.0``), a list
(any of its values), or one of these predicates. Each predicate answers through the
catalog index (:meth:`Predicate.rows`, costing about the number of matches) and also
tests a single value (:meth:`Predicate.test`), which is what a brute-force filter would
do; the two always agree.

Examples
--------
>>> store.filter(session=Range(2, 5))                 # 2 <= session < 5      # doctest: +SKIP
>>> store.filter(culture=Not("C7"))                   # any other culture      # doctest: +SKIP
>>> store.filter(channels=AnyOf(3, 4))                # a list holding 3 or 4  # doctest: +SKIP
>>> store.filter(rate=Approx(4.2, rel=1e-3))          # floats with tolerance  # doctest: +SKIP
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import quantities as pq

from cldata.core.canonical import canonical
from cldata.model.entries import MISSING
from cldata.model.param_index import ParamIndex

__all__ = ["Predicate", "Range", "Not", "AnyOf", "Approx", "Exists", "condition_rows", "condition_test"]


def _as_number(value: Any) -> float | None:
    """A value as a float in base SI units, or None if it is not a number."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, pq.Quantity):
        if value.size != 1:
            return None
        return float(value.simplified.magnitude)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    return None


class Predicate:
    """A condition on one parameter."""

    def rows(self, index: ParamIndex, path: str) -> set[int]:
        """Rows of ``index`` whose parameter at ``path`` satisfies the condition."""
        raise NotImplementedError

    def test(self, value: Any) -> bool:
        """Whether one parameter value (``MISSING`` if absent) satisfies the condition."""
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)

    def __hash__(self) -> int:
        return hash((type(self).__name__, repr(self)))


class Range(Predicate):
    """Numbers (or quantities, compared in SI units) in ``[lo, hi)``; either bound may be ``None``.

    Parameters
    ----------
    lo, hi
        The bounds. Quantities are converted to base units, so ``Range(0.5*pq.s, 1*pq.s)``
        also matches ``700*pq.ms``.
    inclusive
        ``(lo_inclusive, hi_inclusive)``; default ``(True, False)``.
    """

    def __init__(self, lo: Any = None, hi: Any = None, *, inclusive: tuple[bool, bool] = (True, False)):
        self.lo, self.hi, self.inclusive = lo, hi, tuple(inclusive)
        self._lo = None if lo is None else _as_number(lo)
        self._hi = None if hi is None else _as_number(hi)
        if (lo is not None and self._lo is None) or (hi is not None and self._hi is None):
            raise TypeError(f"Range bounds must be numbers or quantities, not {lo!r} and {hi!r}")

    def test(self, value: Any) -> bool:
        x = _as_number(value) if value is not MISSING else None
        if x is None or math.isnan(x):
            return False
        lo_ok = self._lo is None or (x >= self._lo if self.inclusive[0] else x > self._lo)
        hi_ok = self._hi is None or (x <= self._hi if self.inclusive[1] else x < self._hi)
        return lo_ok and hi_ok

    def rows(self, index: ParamIndex, path: str) -> set[int]:
        return index.range_rows(path, self._lo, self._hi, self.inclusive)

    def __repr__(self) -> str:
        return f"Range({self.lo!r}, {self.hi!r}, inclusive={self.inclusive})"


class Not(Predicate):
    """Entries that have the parameter, with a value not matching ``condition`` (a value, list or predicate)."""

    def __init__(self, condition: Any):
        self.condition = condition

    def test(self, value: Any) -> bool:
        return value is not MISSING and not condition_test(self.condition, value)

    def rows(self, index: ParamIndex, path: str) -> set[int]:
        return index.present(path) - condition_rows(index, path, self.condition)

    def __repr__(self) -> str:
        return f"Not({self.condition!r})"


class AnyOf(Predicate):
    """A list-valued parameter holding at least one of ``values`` (``channels=AnyOf(3, 4)``).

    To match a scalar parameter against several values, pass a plain list instead.
    """

    def __init__(self, *values: Any):
        if not values:
            raise TypeError("AnyOf needs at least one value")
        self.values = values
        self._keys = {canonical(v) for v in values}

    def test(self, value: Any) -> bool:
        if not isinstance(value, (list, tuple)):
            return False
        return any(canonical(v) in self._keys for v in value)

    def rows(self, index: ParamIndex, path: str) -> set[int]:
        out: set[int] = set()
        for v in self.values:
            out |= index.contains(path, v)
        return out

    def __repr__(self) -> str:
        return f"AnyOf{self.values!r}"


class Approx(Predicate):
    """A number within a tolerance of ``value``: ``|x - value| <= max(rel * |value|, abs)``."""

    def __init__(self, value: Any, *, rel: float = 1e-9, abs: float = 0.0):  # noqa: A002 - mirrors pytest.approx
        self.value, self.rel, self.abs = value, rel, abs
        self._x = _as_number(value)
        if self._x is None:
            raise TypeError(f"Approx needs a number or quantity, not {value!r}")
        self._tol = max(rel * math.fabs(self._x), abs)

    def test(self, value: Any) -> bool:
        x = _as_number(value) if value is not MISSING else None
        return x is not None and math.fabs(x - self._x) <= self._tol

    def rows(self, index: ParamIndex, path: str) -> set[int]:
        return Range(self._x - self._tol, self._x + self._tol, inclusive=(True, True)).rows(index, path)

    def __repr__(self) -> str:
        return f"Approx({self.value!r}, rel={self.rel}, abs={self.abs})"


class Exists(Predicate):
    """Entries that have the parameter at all (any value)."""

    def test(self, value: Any) -> bool:
        return value is not MISSING

    def rows(self, index: ParamIndex, path: str) -> set[int]:
        return index.present(path)

    def __repr__(self) -> str:
        return "Exists()"


def condition_rows(index: ParamIndex, path: str, condition: Any) -> set[int]:
    """Rows matching ``condition`` at ``path``: a predicate, a list (any of), or a value.

    The items of a list are predicates or values; a list inside a list is a value (a
    list-valued parameter equal to it), so conditions never nest without bound.
    """
    if isinstance(condition, Predicate):
        return condition.rows(index, path)
    if isinstance(condition, list):
        out: set[int] = set()
        for c in condition:
            out |= c.rows(index, path) if isinstance(c, Predicate) else index.equal(path, c)
        return out
    return index.equal(path, condition)


def condition_test(condition: Any, value: Any) -> bool:
    """Brute-force form of :func:`condition_rows` for one value (``MISSING`` if absent)."""
    if isinstance(condition, Predicate):
        return condition.test(value)
    if isinstance(condition, list):
        return any(c.test(value) if isinstance(c, Predicate) else _equal(c, value) for c in condition)
    return _equal(condition, value)


def _equal(condition: Any, value: Any) -> bool:
    return value is not MISSING and canonical(value) == canonical(condition)
