"""Timestamps as the writer takes them: integer frames since the recording started.

Every timestamp a :class:`~cldata.RecordingWriter` takes (of entries, spikes, stims, and its
``start_timestamp`` and ``end_timestamp``) is a whole number of frames in ``0 .. 2**62-1``:
2**62 frames are 5.8 million years at 25 kHz, and keep ``start + timestamp + 1`` (the end a
close computes) within int64. They are checked here before any cast to int64 can wrap.

Examples
--------
>>> check_timestamp(np.int32(7))
7
>>> check_timestamp(-1)
Traceback (most recent call last):
...
cldata.errors.TimestampOrderError: timestamp -1 is outside 0 .. 2**62-1 (frames since the recording started)
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from cldata.errors import TimestampOrderError

__all__ = ["MAX_TIMESTAMP", "check_timestamp", "checked_frames"]

#: The latest frame a timestamp may name.
MAX_TIMESTAMP = 2**62 - 1


def check_timestamp(ts: Any) -> int:
    """``ts`` as an int frame in ``0 .. MAX_TIMESTAMP``, else :class:`~cldata.errors.TimestampOrderError`."""
    if type(ts) is not int:
        if isinstance(ts, bool) or not isinstance(ts, (numbers.Integral, np.integer)):
            raise TimestampOrderError(
                f"timestamps are int frame counts, not {type(ts).__name__} ({ts!r:.40})"
            )
        ts = int(ts)
    if ts < 0 or ts > MAX_TIMESTAMP:
        raise TimestampOrderError(
            f"timestamp {ts} is outside 0 .. 2**62-1 (frames since the recording started)"
        )
    return ts


def checked_frames(ts: np.ndarray, what: str) -> np.ndarray:
    """Integer frames within ``0 .. MAX_TIMESTAMP`` as int64 (checked before any cast can wrap).

    Examples
    --------
    >>> checked_frames(np.array([1, 2], np.uint8), "stims").dtype
    dtype('int64')
    """
    if ts.ndim != 1 or (ts.size and ts.dtype.kind not in "iu"):
        raise TimestampOrderError(f"{what} must be a 1-d sequence of int frames (got dtype {ts.dtype}, shape {ts.shape})")
    if ts.size:
        lo, hi = int(ts.min()), int(ts.max())
        if lo < 0:
            raise TimestampOrderError(f"{what}: {lo} is negative (frames since the recording started)")
        if hi > MAX_TIMESTAMP:
            raise TimestampOrderError(f"{what}: {hi} is beyond 2**62-1 frames")
    return ts.astype(np.int64, copy=False)
