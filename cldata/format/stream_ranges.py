"""Lazy ranges of a data stream's entries: the keys, values and items views.

A range is a store (:class:`cldata.format.stream_store.StreamStore`) and positions
``[i, j)``: of entries by time, or (for the whole of a stream, as the CL reader counts) of
index rows in file order. Nothing is read until the range is iterated; then index rows are
read a block at a time (until the index is loaded) and entries decoded a bounded number of
entries and bytes at a time, starting small (a repr or a ``next()`` decodes little) and
growing, so memory stays at a block and a chunk of values whatever the length.

Examples
--------
>>> keys = rec.data_streams["score"].keys()     # doctest: +SKIP
>>> list(keys), len(keys)                       # doctest: +SKIP
([1, 2, 3, 4], 4)
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from typing import Any

import numpy as np

from cldata.errors import CorruptRecordingError
from cldata.format.stream_store import BLOCK, StreamStore

__all__ = ["RangeView", "DataStreamKeysView", "DataStreamValuesView", "DataStreamItemsView", "take"]

# iteration decodes at most this many bytes / entries at a time, starting small (a repr, a
# `next()` decode little) and growing: the decoded values of one chunk are what it holds
_DECODE_CHUNK_BYTES = 1 << 20
_DECODE_CHUNK_ENTRIES = 8192
_FIRST_DECODE_ENTRIES = 64


class RangeView:
    """Base of the keys/values/items views: a lazy range of entries of one stream (or of its
    index rows in file order, for the whole of a stream: see the module doc)."""

    __slots__ = ("_store", "_i", "_j", "_entries", "_epoch")

    def __init__(self, store: StreamStore, i: int, j: int, entries: bool = True):
        self._store, self._i, self._j, self._entries = store, i, j, entries
        self._epoch = store.epoch
        if entries:
            store.check_unambiguous(i, j)

    def __len__(self) -> int:
        return self._j - self._i

    def _check(self) -> None:
        if self._entries and self._store.epoch != self._epoch:
            # only a file whose index cldata's writer marked in order and another tool then
            # changed in place gets here: the positions of this range were found before that showed
            raise CorruptRecordingError(
                f"data stream {self._store.name!r} in {self._store.source}: its index is marked as written in "
                "timestamp order by cldata but is not (the file was changed in place after cldata wrote it); the "
                "range was found before that showed. Ask for it again: cldata now reads the index as untidy"
            )

    def _timestamps(self) -> np.ndarray:
        self._check()
        ts = self._store.span(self._i, self._j, self._entries)[0]
        self._check()
        return ts

    def _pairs(self) -> Iterator[tuple[np.ndarray, list[Any]]]:
        """``(timestamps, values)`` of the range, chunk after chunk: rows read a block at a time
        (until the index is loaded), decoded a bounded number of entries and bytes at a time."""
        store, i, j, entries = self._store, self._i, self._j, self._entries
        # (a long range starts with a small chunk: a repr or a `next()` decodes little)
        want = _FIRST_DECODE_ENTRIES if j - i > _DECODE_CHUNK_ENTRIES else _DECODE_CHUNK_ENTRIES
        after: int | None = None
        while i < j:
            self._check()
            k, (ts, starts, ends) = store.scan(i, j, entries, after)
            self._check()
            after = int(ts[-1])
            if k - i <= want and 0 <= int(ends[-1]) - int(starts[0]) < BLOCK:
                # a short range laid out end to end (a range query's): one decode, through the cache
                yield ts, store.decode_rows(i, k, entries, (ts, starts, ends))
                i = k
                continue
            sizes = np.cumsum(ends - starts)
            p = 0
            while p < k - i:
                q = min(k - i, p + want)
                # at most _DECODE_CHUNK_BYTES (one entry at least)
                base = int(sizes[p - 1]) if p else 0
                q = max(p + 1, min(q, int(np.searchsorted(sizes[p:q], base + _DECODE_CHUNK_BYTES, "right")) + p))
                # (chunks of a block or more are read straight, once: iteration; smaller ones, a
                # range query's, through the cache)
                direct = int(sizes[q - 1]) - base >= BLOCK
                values = store.decode_rows(i + p, i + q, entries, (ts[p:q], starts[p:q], ends[p:q]), direct)
                yield ts[p:q], values
                p = q
                want = min(_DECODE_CHUNK_ENTRIES, want * 4)
            i = k

    def __repr__(self) -> str:
        items = list(self) if len(self) <= 20 else [*list(take(iter(self), 20)), "..."]
        return f"{type(self).__name__}({items})"


def take(it: Iterator[Any], n: int) -> Iterator[Any]:
    """The first ``n`` items of ``it`` (fewer if it ends)."""
    for _ in range(n):
        try:
            yield next(it)
        except StopIteration:
            return


class DataStreamKeysView(RangeView):
    """The timestamps of a range of entries (frames, as Python ints when iterated)."""

    __slots__ = ()

    def __iter__(self) -> Iterator[int]:
        return iter(self._timestamps().tolist())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._timestamps().astype(dtype) if dtype is not None else self._timestamps().copy()

    def to_numpy(self) -> np.ndarray:
        """The timestamps as an int64 array."""
        return self._timestamps().copy()


class DataStreamValuesView(RangeView):
    """The decoded values of a range of entries, read lazily in chunks."""

    __slots__ = ()

    def __iter__(self) -> Iterator[Any]:
        # (chained in C: no Python frame resumed per entry)
        return chain.from_iterable(values for _ts, values in self._pairs())


class DataStreamItemsView(RangeView):
    """``(timestamp, value)`` pairs of a range of entries, read lazily in chunks."""

    __slots__ = ()

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        return chain.from_iterable(zip(ts.tolist(), values) for ts, values in self._pairs())
