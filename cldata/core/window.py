"""Time windows: ``[start, stop)`` in frames or time quantities, intersected symbolically.

A :class:`TimeWindow` is what views, readers, overviews and live followers mean by "only this
part of the recording". Its bounds may be integer frame counts or :class:`quantities.Quantity`
times (``1.5 * pq.s``); ``None`` leaves a side open. Bounds given as times cannot be compared
with frames until the frame rate is known, and a store view's recordings may have different
rates, so a window keeps what it was given: intersecting two windows keeps both pairs of
bounds, and :meth:`TimeWindow.frames` resolves them for one frame rate (the latest start, the
earliest stop; an empty intersection is ``[a, a)``). Conversion of a time to a frame is
:func:`cldata.core.timebase.to_frame`: ``[start, stop)`` in seconds holds the frames ``f`` with
``start <= f / fps < stop``.

Examples
--------
>>> import quantities as pq
>>> w = TimeWindow(1 * pq.s, 3 * pq.s) & TimeWindow(30000, None)
>>> w.frames(25000)
(30000, 75000)
>>> TimeWindow().is_everything, w.is_everything
(True, False)
>>> TimeWindow(5, 2)
Traceback (most recent call last):
...
ValueError: window stop (2) is before its start (5)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import quantities as pq

from cldata.core.timebase import to_window

__all__ = ["TimeWindow", "Bound"]

#: One side of a window: frames (int), a time quantity, or None (open).
Bound = Any


def _key(bound: Bound) -> Any:
    # quantities are numpy arrays: no hash, and == gives an array; compare their value and unit
    if isinstance(bound, pq.Quantity):
        return ("q", float(np.asarray(bound.magnitude)), bound.dimensionality.string)
    return bound


class TimeWindow(tuple):
    """``[start, stop)`` in frames or quantities; immutable; ``&`` intersects.

    Parameters
    ----------
    start, stop
        Frames (int), times (``pq.Quantity``) or ``None`` (open on that side). Frames are
        checked at once (a stop before its start is refused); times are checked when resolved.

    Examples
    --------
    >>> import quantities as pq
    >>> TimeWindow(0.5 * pq.s, None).frames(25000)
    (12500, None)
    >>> TimeWindow.from_frames((10, 20)) == TimeWindow(10, 20)
    True
    """

    # a tuple of (start, stop) pairs: immutable by construction
    __slots__ = ()

    def __new__(cls, start: Bound = None, stop: Bound = None) -> TimeWindow:
        if start is None and stop is None:
            return tuple.__new__(cls, ())
        if not isinstance(start, pq.Quantity) and not isinstance(stop, pq.Quantity):
            to_window(start, stop, 1.0)  # frames (or bad types) fail here, not at the first read
        return tuple.__new__(cls, ((start, stop),))

    @classmethod
    def _of_parts(cls, parts: tuple[tuple[Bound, Bound], ...]) -> TimeWindow:
        return tuple.__new__(cls, parts)

    @property
    def _parts(self) -> tuple[tuple[Bound, Bound], ...]:
        return tuple(self)

    def __reduce__(self) -> tuple:
        # tuple's own pickling would call TimeWindow(parts), taking the parts for a start bound
        return (TimeWindow._of_parts, (tuple(self),))

    @classmethod
    def everything(cls) -> TimeWindow:
        """The window that restricts nothing."""
        return cls()

    @classmethod
    def from_frames(cls, frames: tuple[int | None, int | None] | None) -> TimeWindow:
        """A window from a ``(start, stop)`` pair in frames (``None``: everything)."""
        return cls() if frames is None else cls(*frames)

    @classmethod
    def of(cls, value: TimeWindow | tuple[Bound, Bound] | None) -> TimeWindow:
        """``value`` as a window: a window, a ``(start, stop)`` pair, or ``None`` (everything).

        Examples
        --------
        >>> TimeWindow.of((1, 2)) == TimeWindow(1, 2), TimeWindow.of(None).is_everything
        (True, True)
        """
        if isinstance(value, TimeWindow):
            return value
        if value is None:
            return cls()
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise TypeError(f"a window is (start, stop) in frames or time quantities, not {value!r:.60}")
        return cls(value[0], value[1])

    def __and__(self, other: TimeWindow) -> TimeWindow:
        if not isinstance(other, TimeWindow):
            return NotImplemented
        mine = {tuple(map(_key, p)) for p in self}
        return TimeWindow._of_parts(tuple(self) + tuple(p for p in other if tuple(map(_key, p)) not in mine))

    @property
    def is_everything(self) -> bool:
        """True when the window restricts nothing."""
        return not self._parts

    @property
    def bounds(self) -> tuple[tuple[Bound, Bound], ...]:
        """Every ``(start, stop)`` pair intersected into this window, as given."""
        return self._parts

    def frames(self, frames_per_second: float) -> tuple[int | None, int | None]:
        """The window in frames of a recording at ``frames_per_second``.

        Raises
        ------
        ValueError
            If a pair's stop comes before its start, or a bound is not a time.
        TypeError
            If a bound is neither frames nor a time quantity.
        """
        a: int | None = None
        b: int | None = None
        for start, stop in self._parts:
            a1, b1 = to_window(start, stop, frames_per_second)
            a = a1 if a is None else (a if a1 is None else max(a, a1))
            b = b1 if b is None else (b if b1 is None else min(b, b1))
        if a is not None and b is not None and b < a:
            b = a
        return a, b

    def clipped(self, frames_per_second: float, length: int) -> tuple[int, int]:
        """The frames ``[a, b)`` of the window within ``[0, length)``.

        Examples
        --------
        >>> TimeWindow(-5, 100).clipped(25000, 50)
        (0, 50)
        """
        a, b = self.frames(frames_per_second)
        a = 0 if a is None else min(max(a, 0), length)
        b = length if b is None else min(max(b, a), length)
        return a, b

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TimeWindow):
            return False
        return [tuple(map(_key, p)) for p in self._parts] == [tuple(map(_key, p)) for p in other._parts]

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(tuple(tuple(map(_key, p)) for p in self._parts))

    def __repr__(self) -> str:
        if not self._parts:
            return "TimeWindow()"
        return " & ".join(f"TimeWindow({a!s}, {b!s})" for a, b in self._parts)

