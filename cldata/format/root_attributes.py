"""A CL root's numbers, read tolerantly: frame rate, channels, extent and µV scale.

The CL writer sets ``frames_per_second`` (and ``sampling_frequency``), ``channel_count``,
``start_timestamp``, ``end_timestamp``, ``duration_frames`` and ``uV_per_sample_unit`` on a
recording's root. Files written by other tools may lack some, or hold floats, text or
nonsense. Each function here reads one of them as the CL reader would use it, says once
through the reader's ``notes`` hook (:class:`cldata.format.untidy.UntidyNotes`) what is off
and what cldata takes instead, and refuses only what leaves no way to count time (no whole
frame rate). docs/READER-TOLERANCE.md has the table of every case.

Examples
--------
>>> notes = lambda key, message: print(message)
>>> channel_count({"channel_count": 32.0}, notes, None)
channel_count is 32.0, a float; cldata uses 32
32
>>> sample_scale({}, notes, has_samples=False)
0.195
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import tables

from cldata.errors import CorruptRecordingError, NotARecordingError
from cldata.format.layout import DEFAULT_CHANNEL_COUNT, UV_PER_SAMPLE_UNIT

__all__ = ["frame_rate", "channel_count", "extent", "sample_scale"]

#: The reader's warn-once hook: ``notes(key, message)``.
Notes = Callable[[str, str], None]

_ABSENT = object()  # an attribute the file does not have
_MAX_FRAMES_PER_SECOND = 10**9
_MAX_CHANNELS = 256  # CL channels are uint8
_MAX_FRAME = 2**62


def _whole(value: Any, lo: int, hi: int) -> int | None:
    """``value`` as an int if it is a whole number in ``[lo, hi]`` (an int, or a float without
    a fraction), else ``None`` (bools, text, arrays, NaN, infinities are not numbers here)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    if not (isinstance(value, (int, np.integer)) or (np.isfinite(value) and float(value).is_integer())):
        return None
    return int(value) if lo <= int(value) <= hi else None


def _is_float(value: Any) -> bool:
    return isinstance(value, (float, np.floating))


def _shown(value: Any) -> str:
    # numpy scalars as the plain values they hold: 20000, not np.int64(20000)
    return f"{(value.item() if isinstance(value, np.generic) else value)!r:.40}"


def frame_rate(attrs: Mapping[str, Any], notes: Notes, source: str) -> int:
    """Frames per second: ``frames_per_second``, else ``sampling_frequency`` (CL writes both)."""
    fps_raw = attrs.get("frames_per_second", _ABSENT)
    sf_raw = attrs.get("sampling_frequency", _ABSENT)
    if fps_raw is _ABSENT and sf_raw is _ABSENT:
        raise NotARecordingError(
            f"{source} is an HDF5 file but not a CL recording: its root has no frames_per_second "
            "(nor sampling_frequency), so its frames cannot be counted in time"
        )
    fps = _whole(fps_raw, 1, _MAX_FRAMES_PER_SECOND)
    sf = _whole(sf_raw, 1, _MAX_FRAMES_PER_SECOND)
    if fps is not None:
        if _is_float(fps_raw):
            notes("frames_per_second", f"frames_per_second is {_shown(fps_raw)}, a float; cldata "
                         f"counts {fps} frames per second")
        if sf_raw is not _ABSENT and sf != fps:
            notes("sampling_frequency", f"sampling_frequency is {_shown(sf_raw)} but frames_per_second "
                         f"is {_shown(fps_raw)}; cldata counts time with frames_per_second ({fps})")
        return fps
    if sf is not None:
        what = ("has no frames_per_second" if fps_raw is _ABSENT else
                f"frames_per_second is {_shown(fps_raw)}, not a whole number in 1..{_MAX_FRAMES_PER_SECOND}")
        notes("frames_per_second", f"{what}; cldata counts time with sampling_frequency ({sf} frames "
                     "per second)")
        return sf
    given = " and ".join(f"{n} = {_shown(v)}" for n, v in
                         (("frames_per_second", fps_raw), ("sampling_frequency", sf_raw)) if v is not _ABSENT)
    raise CorruptRecordingError(
        f"{source}: {given}: no whole number of frames per second in 1..{_MAX_FRAMES_PER_SECOND}, so "
        "its timestamps (frame counts) cannot be turned into time; set frames_per_second to the rate it was "
        "recorded at (25000 on a CL1) in a copy to read it"
    )

def channel_count(attrs: Mapping[str, Any], notes: Notes, samples: tables.Array | None) -> int:
    """``channel_count``, else the columns of the samples, else the CL1's 64 channels."""
    raw = attrs.get("channel_count", _ABSENT)
    count = _whole(raw, 1, _MAX_CHANNELS)
    if count is not None:
        if _is_float(raw):
            notes("channel_count", f"channel_count is {_shown(raw)}, a float; cldata uses {count}")
        return count
    if samples is not None and 1 <= samples.shape[1] <= _MAX_CHANNELS:
        count, how = int(samples.shape[1]), "the columns of /samples"
    else:
        count, how = DEFAULT_CHANNEL_COUNT, "the channels of a CL1"
    what = ("has no channel_count" if raw is _ABSENT else
            f"channel_count is {_shown(raw)}, not a whole number in 1..{_MAX_CHANNELS}")
    notes("channel_count", f"{what}; cldata takes {count} channels ({how})")
    return count

def extent(attrs: Mapping[str, Any], notes: Notes, derived_duration: Callable[[], int]) -> tuple[int, int, bool]:
    """``(start_timestamp, duration_frames, whether the file states the duration)``: from the
    attributes, else derived as CL's writer derives them."""

    def whole_attr(name: str, lo: int, hi: int) -> tuple[Any, int | None]:
        raw = attrs.get(name, _ABSENT)
        value = _whole(raw, lo, hi)
        if value is not None and _is_float(raw):
            notes(name, f"{name} is {_shown(raw)}, a float; cldata uses {value}")
        return raw, value

    start_raw, start = whole_attr("start_timestamp", -_MAX_FRAME, _MAX_FRAME)
    if start is None:
        what = "has no start_timestamp" if start_raw is _ABSENT else \
            f"start_timestamp is {_shown(start_raw)}, not a whole number of frames"
        notes("start_timestamp", f"{what}; cldata takes 0")
        start = 0
    end_raw, end = whole_attr("end_timestamp", 0, _MAX_FRAME)
    if end_raw is not _ABSENT and end is None:
        notes("end_timestamp", f"end_timestamp is {_shown(end_raw)}, not a whole number of frames in "
                     f"0..2**62; cldata ignores it")
    duration_raw, duration = whole_attr("duration_frames", 0, _MAX_FRAME)
    if duration is not None:
        return start, duration, True
    if end is not None and end >= start:
        duration, how = end - start, "end_timestamp - start_timestamp"
    else:
        duration, how = min(max(derived_duration(), 0), _MAX_FRAME), "the end of its samples and its last spike and stim"
    what = "has no duration_frames" if duration_raw is _ABSENT else \
        f"duration_frames is {_shown(duration_raw)}, not a whole number of frames in 0..2**62"
    notes("duration_frames", f"{what}; cldata takes {duration} frames ({how})")
    return start, duration, False

def sample_scale(attrs: Mapping[str, Any], notes: Notes, has_samples: bool) -> float:
    """µV per sample unit: ``uV_per_sample_unit``, else CL's 0.195."""
    raw = attrs.get("uV_per_sample_unit", _ABSENT)
    if not isinstance(raw, (bool, np.bool_)) and isinstance(raw, (int, float, np.integer, np.floating)) \
            and np.isfinite(raw) and raw > 0:
        return float(raw)
    if raw is _ABSENT:
        if has_samples:  # nothing to scale otherwise: nothing is off
            notes("uV_per_sample_unit", f"has no uV_per_sample_unit; cldata scales samples to µV by "
                         f"the CL's {UV_PER_SAMPLE_UNIT}")
    else:
        notes("uV_per_sample_unit", f"uV_per_sample_unit is {_shown(raw)}, not a positive number; "
                     f"cldata scales samples to µV by the CL's {UV_PER_SAMPLE_UNIT}")
    return UV_PER_SAMPLE_UNIT
