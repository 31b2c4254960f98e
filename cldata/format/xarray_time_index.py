"""The time axis of ``rec.to_xarray()``: an xarray index of frame times that holds no array.

A recording's time coordinate is ``frame / frames_per_second`` for consecutive frames: an hour
at 25 kHz is 90 million values, 720 MB as a pandas index. :class:`FrameTimeIndex` keeps only
the first frame, the count and the rate (it is an ``xarray.indexes.RangeIndex`` over
:class:`FrameTimeTransform`), computes the times a selection needs, and answers selections by
label the way a pandas index does:

- ``.sel(time=slice(a, b))``: the frames whose time is in ``[a, b]`` (both ends included, as
  pandas), still a ``FrameTimeIndex``;
- ``.sel(time=t)`` and ``.sel(time=[t1, t2])``, or another array's ``time`` coordinate: exact
  frame times; a time that is no frame's is a ``KeyError`` (``method="nearest"`` takes the
  nearest frame, as with any xarray index).

Times are computed as ``frame / fps`` (not ``start + i * step``), so they are exactly the
values a pandas index of the same frames would hold, and labels are compared with them exactly,
as a pandas index compares.

Examples
--------
>>> index = FrameTimeIndex.of_frames(25_000, 50_000, 25_000)        # doctest: +SKIP
>>> xarray.Coordinates.from_xindex(index)["time"].values[:2]        # doctest: +SKIP
array([1.    , 1.0001])
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np

try:
    from xarray import DataArray, Variable
    from xarray.core.indexing import IndexSelResult
    from xarray.indexes import RangeIndex
    from xarray.indexes.range_index import RangeCoordinateTransform
except ImportError as exc:  # an optional extra (RangeIndex: xarray 2025.6 or newer): say how to get it
    raise ImportError("to_xarray() needs xarray and dask: pip install 'cldata[xarray]'") from exc

__all__ = ["FrameTimeIndex", "FrameTimeTransform"]

class FrameTimeTransform(RangeCoordinateTransform):
    """``time = (first + position) / fps`` for ``size`` consecutive frames."""

    __slots__ = ("first", "fps")

    def __init__(self, first: int, size: int, fps: float, coord_name: Hashable = "time", dim: str = "time"):
        super().__init__(first / fps, (first + size) / fps, size, coord_name, dim)
        self.first, self.fps = int(first), float(fps)

    def forward(self, dim_positions: dict[str, Any]) -> dict[Hashable, Any]:
        return {self.coord_name: (self.first + np.asarray(dim_positions[self.dim])) / self.fps}

    def reverse(self, coord_labels: dict[Hashable, Any]) -> dict[str, Any]:
        return {self.dim: np.asarray(coord_labels[self.coord_name], dtype=np.float64) * self.fps - self.first}

    def slice(self, sl: slice) -> RangeCoordinateTransform:
        picked = range(self.size)[sl]
        if picked.step != 1:  # every n-th frame: an evenly spaced range that is not consecutive frames
            step = self.step * picked.step
            start = (self.first + picked.start) / self.fps
            return RangeCoordinateTransform(start, start + len(picked) * step, len(picked), self.coord_name,
                                            self.dim, dtype=self.dtype)
        return FrameTimeTransform(self.first + picked.start, len(picked), self.fps, self.coord_name, self.dim)


class FrameTimeIndex(RangeIndex):
    """A ``RangeIndex`` of frame times that selects by exact label, as a pandas index does."""

    @classmethod
    def of_frames(cls, start: int, stop: int, fps: float, dim: str = "time") -> FrameTimeIndex:
        """The index of frames ``[start, stop)`` of a recording at ``fps`` frames per second."""
        return cls(FrameTimeTransform(start, stop - start, fps, dim, dim))

    def isel(self, indexers: Mapping[Any, Any]) -> Any:
        index = super().isel(indexers)
        if isinstance(index, RangeIndex) and isinstance(index.transform, FrameTimeTransform):
            return FrameTimeIndex(index.transform)  # (a slice of frames stays this kind of index)
        return index

    def sel(self, labels: dict[Any, Any], method: Any = None, tolerance: Any = None) -> IndexSelResult:
        if method is not None or tolerance is not None:
            return super().sel(labels, method=method, tolerance=tolerance)
        label = labels[self.dim]
        t = self.transform
        if isinstance(label, slice) and label.step is None:
            lo = 0 if label.start is None else self._first_at_or_after(float(label.start))
            hi = t.size if label.stop is None else self._first_at_or_after(float(label.stop), inclusive=False)
            lo, hi = min(max(lo, 0), t.size), min(max(hi, 0), t.size)
            return IndexSelResult({self.dim: slice(lo, max(lo, hi))})
        values = label.values if isinstance(label, (DataArray, Variable)) else np.asarray(label, dtype=np.float64)
        frames = np.rint(self._position(values))
        # exact, as a pandas index: the label is a frame's time as the coordinate computes it
        off = (frames < 0) | (frames >= t.size) | ((t.first + frames) / t.fps != values)
        if np.any(off):
            missing = np.atleast_1d(values)[np.atleast_1d(off)][:3].tolist()
            raise KeyError(f"time {missing} is not the time of a frame of this array "
                           f"({t.start:g}–{t.stop:g} s at {t.fps:g} frames per second); "
                           "sel(time=..., method='nearest') takes the nearest frame")
        return super().sel(labels, method="nearest")

    # -- alignment (arithmetic between arrays of two windows of a recording) -----------------------

    def join(self, other: Any, how: str = "inner") -> Any:
        """The frames of both (``inner``) or either (``outer``, when they touch) of two windows."""
        mine = self.transform
        theirs = other.transform if isinstance(other, FrameTimeIndex) else None
        if theirs is None or theirs.fps != mine.fps:
            return self._as_pandas().join(other if theirs is None else other._as_pandas(), how=how)
        a0, a1, b0, b1 = mine.first, mine.first + mine.size, theirs.first, theirs.first + theirs.size
        if how == "left":
            return self
        if how == "right":
            return other
        if how == "inner":
            lo, hi = max(a0, b0), min(a1, b1)
            return FrameTimeIndex.of_frames(lo, max(lo, hi), mine.fps, self.dim)
        if how == "outer" and max(a0, b0) <= min(a1, b1):
            return FrameTimeIndex.of_frames(min(a0, b0), max(a1, b1), mine.fps, self.dim)
        return self._as_pandas().join(other._as_pandas(), how=how)

    def reindex_like(self, other: Any, method: Any = None, tolerance: Any = None) -> dict[str, np.ndarray]:
        """Where each frame of ``other`` is in this index (-1: not in it)."""
        if isinstance(other, FrameTimeIndex) and other.transform.fps == self.transform.fps and method is None:
            positions = np.arange(other.transform.size, dtype=np.int64) + (other.transform.first - self.transform.first)
        else:
            return self._as_pandas().reindex_like(other, method=method, tolerance=tolerance)
        positions[(positions < 0) | (positions >= self.transform.size)] = -1
        return {self.dim: positions}

    def _as_pandas(self) -> Any:
        import pandas as pd  # why here: only a join with an index of another kind needs the times as an array
        from xarray.indexes import PandasIndex

        t = self.transform
        times = t.forward({self.dim: np.arange(t.size)})[t.coord_name]
        return PandasIndex(pd.Index(times, name=t.coord_name), self.dim)

    def _first_at_or_after(self, time: float, inclusive: bool = True) -> int:
        """The position of the first frame whose time is ``>= time`` (``> time`` if not ``inclusive``),
        compared as the coordinate's own values are (``frame / fps``), so a bound on a frame is exact."""
        t = self.transform
        if not np.isfinite(time):
            return 0 if time < 0 else t.size
        frame = math.ceil(time * t.fps)  # then corrected for the rounding of time * fps

        def after(f: int) -> bool:
            return f / t.fps >= time if inclusive else f / t.fps > time

        while not after(frame):
            frame += 1
        while after(frame - 1):
            frame -= 1
        return frame - t.first

    def _position(self, label: Any) -> np.ndarray:
        return self.transform.reverse({self.transform.coord_name: label})[self.dim]
