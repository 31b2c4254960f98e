"""Following one data stream as pandas DataFrames, one per flushed batch (for live plots).

:func:`follow_dataframes` is an adapter over :func:`cldata.live.follower.follow` with
``batch=True``: each batch's entries of the stream become one DataFrame indexed by
``timestamp``. Sent to a HoloViews ``Buffer`` (or emitted into a streamz DataFrame sunk into
one) it draws a live plot; ``docs/LIVE.md`` has both recipes, and
:func:`cldata.viz.live_buffer.follow_buffer` does it in one line. pandas is the optional
extra ``cldata[pandas]``.

Examples
--------
>>> for df in follow_dataframes("rec.h5", "ball_position"):   # doctest: +SKIP
...     print(df["x"].mean())
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from typing import Any

import numpy as np

from cldata.live.events import Batch
from cldata.live.follower import follow

__all__ = ["follow_dataframes"]


def follow_dataframes(source: Any, stream: str, **kwargs: Any) -> Iterator[Any]:
    """Follow one data stream (a name or glob pattern) as pandas DataFrames, one per batch.

    Each DataFrame holds the entries one flush brought for one stream: indexed by
    ``timestamp`` (frames), with a column per key when the entries are dicts (keys missing
    from an entry are NaN; nested values stay Python objects), else a single ``value``
    column. ``df.attrs["stream"]`` names the stream. Other keyword arguments are those of
    :func:`~cldata.live.follower.follow` (``poll_interval``, ``start_timeout``,
    ``idle_timeout``). ``docs/LIVE.md`` shows a live HoloViews plot and a streamz pipeline fed
    by it (:func:`cldata.viz.live_buffer.follow_buffer` is the ready-made Buffer).

    Raises
    ------
    ImportError
        If pandas is not installed (``pip install 'cldata[pandas]'``).

    Examples
    --------
    >>> for df in follow_dataframes("rec.h5", "ball_position"):   # doctest: +SKIP
    ...     print(df["x"].mean())
    """
    try:
        import pandas as pd  # why: an optional extra, and slow to import for followers that never use it
    except ImportError:
        raise ImportError("follow_dataframes() needs pandas: pip install 'cldata[pandas]'") from None
    for key in ("batch", "spikes", "stims", "samples", "streams"):
        if key in kwargs:
            raise TypeError(f"follow_dataframes() does not take {key!r}: it follows data streams as DataFrames")
    if not isinstance(stream, str):
        raise TypeError(f"follow_dataframes() follows one stream name or glob pattern, not {stream!r}")
    batches = follow(source, [stream], batch=True, **kwargs)
    return _dataframes(pd, batches)


def _dataframes(pd: Any, batches: Iterator[Batch]) -> Iterator[Any]:
    with closing(batches):  # closing this generator releases the journal at once
        yield from _frames(pd, batches)


def _frames(pd: Any, batches: Iterator[Batch]) -> Iterator[Any]:
    for b in batches:
        for name, (ts, values) in b.streams.items():
            index = pd.Index(ts, name="timestamp")
            if values and all(isinstance(v, dict) for v in values):
                df = pd.DataFrame(values, index=index)
            else:
                column = np.empty(len(values), dtype=object)
                for i, v in enumerate(values):  # arrays and lists stay whole cells
                    column[i] = v
                df = pd.DataFrame({"value": column}, index=index)
            df.attrs["stream"] = name
            yield df
