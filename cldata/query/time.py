"""The time-range query: ``[start, stop)`` in frames or as time quantities.

Every later read through the view honours the window — data-stream entries, spikes,
stims, samples and neo segments — and reads only that window from disk. Windows of
chained queries intersect. Frames are counted from each recording's start; a window in
seconds is converted with each recording's own frame rate.

A recording lasts from frame 0 to its duration. A window that holds no frame of any
recording in the view (it starts after every recording ends, or the chained windows do
not meet) gives a :class:`~cldata.errors.WindowOutsideRecordingsWarning` saying how long
the recordings are: every read through it would find nothing. A window overlapping at
least one recording does not warn. The check reads the catalog's summaries only, and
stops at the first recording the window overlaps.

Examples
--------
>>> import quantities as pq
>>> first_two_seconds = store.between(0, 2 * pq.s)      # doctest: +SKIP
>>> store.between(25_000, None)                         # from frame 25000 to the end  # doctest: +SKIP
"""

from __future__ import annotations

import sys
import warnings
from typing import Any, TypeVar

import quantities as pq

from cldata.core.window import TimeWindow
from cldata.errors import ParameterError, WindowOutsideRecordingsWarning
from cldata.model.catalog import Catalog
from cldata.query.selection import Selectable, Selection

__all__ = ["time_window_query", "select_window", "window_misses_every_recording"]

V = TypeVar("V", bound=Selectable)


def select_window(catalog: Catalog, selection: Selection, start: Any = None, stop: Any = None) -> Selection:
    """``selection`` with its window intersected with ``[start, stop)`` (see :func:`time_window_query`).

    Warns as :func:`time_window_query` does; a pure function of a catalog and a selection.

    Examples
    --------
    >>> from cldata.model.catalog import Catalog
    >>> select_window(Catalog(), Selection.everything(), 0, 100).window
    TimeWindow(0, 100)
    """
    try:
        window = TimeWindow(start, stop)
        window.frames(1.0)  # checks types and order (in any one unit)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"bad time window [{start!r}, {stop!r}): {exc}") from None
    out = selection.derive(catalog, window=selection.window & window)
    message = window_misses_every_recording(catalog, out)
    if message:
        warnings.warn(message, WindowOutsideRecordingsWarning, stacklevel=_caller_outside_cldata())
    return out


def time_window_query(dsv: V, start: Any = None, stop: Any = None) -> V:
    """A view of the same entries whose reads are restricted to ``[start, stop)``.

    Parameters
    ----------
    dsv
        The view to restrict.
    start, stop
        Bounds as int frame counts or time quantities (``2 * pq.s``); ``None`` is open.

    Warns
    -----
    cldata.errors.WindowOutsideRecordingsWarning
        If the window (intersected with the view's earlier one) holds no frame of any
        recording in the view; the message says how long the recordings are.

    Raises
    ------
    cldata.errors.ParameterError
        If a bound is neither an int frame count nor a time quantity, or stop < start.

    Examples
    --------
    >>> time_window_query(store, 0, 0.1 * pq.s).recordings[0].window   # doctest: +SKIP
    (0, 2500)
    """
    return dsv.with_selection(select_window(dsv.catalog, dsv.selection, start, stop))


def window_misses_every_recording(catalog: Catalog | Selectable, selection: Selection | None = None) -> str | None:
    """Why ``selection``'s window holds no frame of any of its recordings, or ``None`` if it holds some.

    ``None`` too for a selection without a window or without recordings, and as soon as one
    recording's extent is unknown (a catalog summary without ``duration_s``). Given a view
    alone (``window_misses_every_recording(view)``), its catalog and selection are used.
    """
    if selection is None:
        catalog, selection = catalog.catalog, catalog.selection  # type: ignore[union-attr]
    window = selection.window
    if window.is_everything:
        return None
    extents: list[tuple[float, int]] = []
    empty_everywhere = True  # an empty window, or chained ones that do not meet (in every recording's frames)
    for _, entry in selection.recording_entries(catalog):
        seconds, fps = entry.summary.get("duration_s"), entry.summary.get("frames_per_second")
        if not isinstance(seconds, (int, float)) or not isinstance(fps, int) or fps <= 0:
            return None  # an extent we do not know: no claim about it
        # a neo recording's frames count from 0 s of its segment's axis, and its data starts at t_start
        first = round(float(entry.summary.get("t_start_s", 0)) * fps) if entry.summary.get("layout") == "neo" else 0
        frames = first + round(seconds * fps)
        a, b = window.frames(fps)
        lo = first if a is None else max(a, first)
        hi = frames if b is None else min(b, frames)
        if lo < hi:
            return None
        empty_everywhere = empty_everywhere and a is not None and b is not None and b <= a
        extents.append((float(seconds), frames))
    if not extents:
        return None
    if empty_everywhere:
        why = " (its parts do not meet)" if len(window.bounds) > 1 else ""
        return f"the time window {_shown(window)} is empty{why}, so every read through it finds nothing"
    shortest, longest = min(extents), max(extents)
    n = len(extents)
    if shortest == longest:
        last = (f"the recording lasts {_s(longest[0])} ({longest[1]} frames)" if n == 1 else
                f"its {n} recordings last {_s(longest[0])} ({longest[1]} frames) each")
    else:
        last = (f"its {n} recordings last from {_s(shortest[0])} to {_s(longest[0])} "
                f"({shortest[1]} to {longest[1]} frames)")
    return (f"the time window {_shown(window)} holds no frame of any recording in the view, so every read "
            f"through it finds nothing: {last}, counted from each recording's start")


def _s(seconds: float) -> str:
    return f"{seconds:g} s"


def _bound(value: Any) -> str:
    if value is None:
        return "..."
    if isinstance(value, pq.Quantity):
        try:
            return _s(float(value.rescale(pq.s).magnitude))
        except ValueError:  # pragma: no cover - to_window refused non-times already
            return str(value)
    return "0" if int(value) == 0 else f"frame {int(value)}"


def _shown(window: TimeWindow) -> str:
    # chained windows: each as given, intersected
    return " and ".join(f"[{_bound(a)}, {_bound(b)})" for a, b in window.bounds)


def _caller_outside_cldata() -> int:
    """The ``stacklevel`` that points a warning at the first caller outside cldata (the
    user's line, whichever of the view method, query class or chain led here)."""
    frame = sys._getframe(1)  # the function that will call warnings.warn
    level = 1
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] == "cldata":
        frame = frame.f_back
        level += 1
    return level
