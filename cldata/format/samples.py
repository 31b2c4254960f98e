"""Raw samples in µV: the one conversion, and a scaled read that needs one block of memory.

The ``/samples`` array holds int16 sample units; µV is value × ``uV_per_sample_unit``
(0.195 on a CL1), computed in float32 by :func:`samples_to_uV` wherever samples are
scaled (the reader, the neo segment, live followers), so that samples read live and from
the finished file are bit-identical. :func:`scaled_samples_in_blocks` converts a range of
frames block by block straight into its result, so its peak memory is the result plus one
block, never the whole int16 range besides it.

Examples
--------
>>> samples_to_uV(np.array([[10, -2]], dtype=np.int16), 0.25)
array([[ 2.5, -0.5]], dtype=float32)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tables

from cldata.errors import CorruptRecordingError

__all__ = ["samples_to_uV", "scaled_samples_in_blocks", "to_uV_into"]


def samples_to_uV(samples: np.ndarray, uV_per_sample_unit: float) -> np.ndarray:  # noqa: N802 - the unit's name
    """Raw int16 samples in µV, as float32 (the one conversion every reader of samples uses,
    so that samples read live and from the finished file are bit-identical).

    Examples
    --------
    >>> samples_to_uV(np.array([[10, -2]], dtype=np.int16), 0.25)
    array([[ 2.5, -0.5]], dtype=float32)
    """
    return samples.astype(np.float32) * np.float32(uV_per_sample_unit)


# A scaled read converts this many bytes of raw samples at a time (~1.2 s of 64 channels):
# its peak memory is the float32 result plus one such block, not the whole int16 range as well.
_SAMPLE_BLOCK_BYTES = 4_000_000


def scaled_samples_in_blocks(
    samples: tables.Array,
    start: int,
    stop: int,
    channels: Any,
    convert: Callable[[np.ndarray, np.ndarray], None],
    source: str,
    dtype: Any = np.float32,
) -> np.ndarray:
    """Frames ``[start, stop)`` of ``samples`` converted block by block into one result array.

    The result (``dtype``) is allocated once; each block of raw frames is read, its
    ``channels`` picked (any numpy index of the second axis, or None for all), and
    ``convert(raw_block, result_rows)`` writes it into its rows. So the peak memory is the
    result plus one block, and each value is what converting the whole range at once gives
    (the conversions are elementwise).

    Examples
    --------
    >>> def doubled(raw, out):
    ...     np.multiply(raw, 2, out=out)
    >>> scaled_samples_in_blocks(rec.samples, 0, 25_000, [0, 5], doubled, "rec.h5").shape  # doctest: +SKIP
    (25000, 2)
    """
    # an empty selection checks the channels as a read would and gives the result's row shape
    row = np.empty((0, samples.shape[1]), dtype=samples.atom.dtype)
    if channels is not None:
        row = row[:, channels]
    out = np.empty((max(stop - start, 0), *row.shape[1:]), dtype=dtype)
    step = max(1, _SAMPLE_BLOCK_BYTES // max(1, samples.shape[1] * samples.atom.dtype.itemsize))
    chunk = (getattr(samples, "chunkshape", None) or (1,))[0]
    if chunk and step > chunk:
        step -= step % chunk
    # blocks end on multiples of step, so on HDF5 chunk boundaries: no chunk is read twice
    bounds = [start, *range((start // step + 1) * step, stop, step), stop] if stop > start else []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        try:
            block = samples[lo:hi]
        except tables.HDF5ExtError as exc:
            raise CorruptRecordingError(f"cannot read samples [{start}, {stop}) of {source}: {exc}") from None
        if channels is not None:
            block = block[:, channels]
        convert(block, out[lo - start : hi - start])
        del block  # before the next block is read: one block at a time
    return out


def to_uV_into(uV_per_sample_unit: float) -> Callable[[np.ndarray, np.ndarray], None]:  # noqa: N802
    """A ``convert(raw, out)`` for :func:`scaled_samples_in_blocks`: the µV of :func:`samples_to_uV`, in place.

    Examples
    --------
    >>> out = np.empty((1, 2), np.float32); to_uV_into(0.25)(np.array([[10, -2]], np.int16), out); out
    array([[ 2.5, -0.5]], dtype=float32)
    """
    scale = np.float32(uV_per_sample_unit)

    def convert(raw: np.ndarray, out: np.ndarray) -> None:
        # the cast and the float32 product of samples_to_uV, written in place
        out[...] = raw
        np.multiply(out, scale, out=out)

    return convert
