"""Reading time-sorted events a block at a time, by frame windows that never split a frame.

The model: a long run of events (spikes, stream entries) sorted by frame is read in windows of
about ``size`` events, ``[start, stop)`` in frames; each window ends where the frame changes, so
that events sharing a frame are read together (a read by frame window cannot take half of
them). Readers that only read by frame windows can then copy any number of events in bounded
memory.

Examples
--------
>>> list(frame_blocks(np.array([1, 2, 2, 2, 5, 7]), 2))
[(1, 5), (5, None)]
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

__all__ = ["frame_blocks"]


def frame_blocks(frames: np.ndarray, size: int) -> Iterator[tuple[int, int | None]]:
    """``(start, stop)`` frame windows over ``frames`` (ascending) of about ``size`` events each.

    The first window starts at the first frame, the last one is open (``stop`` ``None``); a
    frame's events all fall in one window (a window holds more than ``size`` when one frame has
    that many). No events: no windows.

    Examples
    --------
    >>> list(frame_blocks(np.array([0, 0, 0]), 1))
    [(0, None)]
    """
    if size < 1:
        raise ValueError(f"size must be at least 1, not {size}")
    n = len(frames)
    i = 0
    while i < n:
        j = int(np.searchsorted(frames, frames[min(i + size, n) - 1], side="right"))
        yield int(frames[i]), (int(frames[j]) if j < n else None)
        i = j
