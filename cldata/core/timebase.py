"""Time in cldata: integer frame counts, and conversion from quantities.

CL timestamps are frames at ``frames_per_second`` since the recording started. Users
also think in seconds, so every time argument accepts either an integer frame count or a
:class:`quantities.Quantity` with a time unit (``1.5 * pq.s``, ``200 * pq.ms``).

A window ``[start, stop)`` given in seconds holds the frames ``f`` with
``start <= f / fps < stop``, i.e. from ``ceil(start * fps)`` to ``ceil(stop * fps)``;
floating-point noise within a millionth of a frame is ignored (``0.1 s`` at 25 kHz is
frame 2500, not 2501).

Examples
--------
>>> import quantities as pq
>>> to_frame(1.5 * pq.s, 25000)
37500
>>> to_frame(0.1 * pq.s, 25000)
2500
>>> to_frame(1000, 25000)
1000
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import quantities as pq

__all__ = ["to_frame", "to_window", "frames_to_seconds"]

_FRAME_TOLERANCE = 1e-6


def to_frame(value: Any, frames_per_second: float) -> int | None:
    """Convert a frame count or a time quantity to a frame index (``None`` stays ``None``).

    Raises
    ------
    TypeError
        For a value that is neither an integer nor a time quantity (a bare float is
        refused: it is ambiguous between frames and seconds).
    ValueError
        For a quantity whose unit is not a time, or a non-finite value.
    """
    if value is None:
        return None
    if isinstance(value, pq.Quantity):
        if value.size != 1:
            raise ValueError(f"a time must be a single value, not an array of shape {value.shape}")
        try:
            seconds = float(value.rescale(pq.s).magnitude)
        except ValueError:
            raise ValueError(
                f"{value} is not a time: give frames as an int or a time such as 1.5*pq.s"
            ) from None
        if not math.isfinite(seconds):
            raise ValueError(f"time {value} is not finite")
        frames = seconds * frames_per_second
        nearest = round(frames)
        return int(nearest) if abs(frames - nearest) <= _FRAME_TOLERANCE else math.ceil(frames)
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    raise TypeError(
        f"a time is an int number of frames or a quantity such as 1.5*pq.s, "
        f"not {type(value).__name__} ({value!r:.40})"
    )


def to_window(start: Any, stop: Any, frames_per_second: float) -> tuple[int | None, int | None]:
    """Convert a ``[start, stop)`` pair; ``None`` means unbounded on that side.

    Raises
    ------
    ValueError
        If ``stop`` comes before ``start``.
    """
    a = to_frame(start, frames_per_second)
    b = to_frame(stop, frames_per_second)
    if a is not None and b is not None and b < a:
        raise ValueError(f"window stop ({stop}) is before its start ({start})")
    return a, b


def frames_to_seconds(frames: Any, frames_per_second: float) -> pq.Quantity:
    """Frames (scalar or array) as a time quantity in seconds.

    Examples
    --------
    >>> frames_to_seconds(12500, 25000)
    array(0.5) * s
    """
    return pq.Quantity(np.asarray(frames, dtype=np.float64) / frames_per_second, pq.s)
