"""The time-range query: ``[start, stop)`` in frames or as time quantities.

Every later read through the view honours the window — data-stream entries, spikes,
stims, samples and neo segments — and reads only that window from disk. Windows of
chained queries intersect. Frames are counted from each recording's start; a window in
seconds is converted with each recording's own frame rate.

Examples
--------
>>> import quantities as pq
>>> first_two_seconds = store.between(0, 2 * pq.s)      # doctest: +SKIP
>>> store.between(25_000, None)                         # from frame 25000 to the end
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cldata.errors import ParameterError
from cldata.timebase import to_window

if TYPE_CHECKING:  # pragma: no cover
    from cldata.view import DataStoreView

__all__ = ["time_window_query"]


def time_window_query(dsv: DataStoreView, start: Any = None, stop: Any = None) -> DataStoreView:
    """A view of the same entries whose reads are restricted to ``[start, stop)``.

    Raises
    ------
    cldata.errors.ParameterError
        If a bound is neither an int frame count nor a time quantity, or stop < start.
    """
    from cldata.view import _combine_windows

    try:
        to_window(start, stop, 1.0)  # checks types and order (in any one unit)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"bad time window [{start!r}, {stop!r}): {exc}") from None
    return dsv._derive(window=_combine_windows(dsv._window, (start, stop)))
