"""Following a finished recording: its file replayed in one-second windows that play the batches.

Code written for the live case also runs after the fact: :func:`replay` reads a finished
recording (through a :class:`~cldata.RecordingView`, its window and, from a store, its
visible streams) as the batches a live follower would have seen. A window ``[a, a + 1 s)``
(by timestamp) holds every selected stream's entries in it, then its spikes, then its
stims, then its sample frames (read from disk window by window: memory stays bounded by
the window however long the recording). A window starts at the earliest timestamp still to
come among what was asked for, so long gaps cost nothing; asking for samples (which start
at frame 0 and have no gaps) can move the window boundaries of the other events, and each
one still arrives exactly once, in order.

A finished file keeps no history of attribute updates, only each stream's final
``application`` attributes: after the last window comes one batch holding them for every
replayed stream that has any (an :class:`~cldata.live.events.AttributesUpdated` each; a
stream with no attributes gives none, as live a stream never updated gives none), so a
consumer of the live case ends with the same attributes it would have had live.

Examples
--------
>>> with cldata.RecordingView("rec.h5") as view:                                # doctest: +SKIP
...     for batch in replay(view, None, StreamSelector(None), Kinds(True, False, False)):
...         print(batch.number, batch.entry_count, len(batch.spikes or ()))
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from cldata.core.window import TimeWindow
from cldata.format.reader import RecordingView
from cldata.live.events import Batch, Samples, Spikes, Stims
from cldata.live.selection import Kinds, StreamSelector

__all__ = ["replay"]

_MAX_TIMESTAMP = 2**63 - 1


def sample_range(view: RecordingView) -> tuple[int, int]:
    """The sample frames ``[lo, hi)`` the view covers: its window within the stored rows."""
    if view.samples is None:
        return 0, 0
    return TimeWindow.of(view.window).clipped(view.frames_per_second, int(view.samples.nrows))


def final_attributes(stream_views: dict[str, Any], number: int) -> Iterator[Batch]:
    """One last batch of the replayed streams' final ``application`` attributes (those that have any)."""
    attributes = {}
    for name, sv in stream_views.items():
        application = sv.attributes.get("application")
        if isinstance(application, dict) and application:
            attributes[name] = dict(application)
    if attributes:
        yield Batch(number, live=False, attributes=attributes)


def replay(view: RecordingView, visible: list[str] | None, select: StreamSelector, kinds: Kinds) -> Iterator[Batch]:
    """The finished recording of ``view`` as batches of one-second windows (see the module docstring).

    Parameters
    ----------
    view
        The recording, read through its window.
    visible
        The streams that may be replayed (a store handle's visible streams; ``None``: all).
    select, kinds
        Which of those streams, and which vectorised events, to put in the batches.
    """
    collection = view.data_streams
    names = [n for n in collection if select(n) and (visible is None or n in visible)]
    stream_views = {n: collection[n] for n in names}
    # every source as (timestamps, cursor); a window [a, a + 1 s) at a time
    stamps: dict[Any, np.ndarray] = {n: sv.timestamps for n, sv in stream_views.items()}
    if kinds.spikes:
        stamps[Spikes] = view.read_spikes(waveforms=False)["timestamp"].astype(np.int64)
    stim_rows = None
    if kinds.stims:
        stim_rows = view.read_stims()
        stamps[Stims] = stim_rows["timestamp"].astype(np.int64)
    cursor = dict.fromkeys(stamps, 0)
    # samples are dense (row = frame), so they get a frame cursor rather than a timestamp
    # array: no per-frame array of the whole recording, only each window's rows are read
    s_next, s_end = sample_range(view) if kinds.samples else (0, 0)
    scale = view.uV_per_sample_unit
    width = int(view.frames_per_second)
    number = 0
    while True:
        heads = [int(ts[cursor[k]]) for k, ts in stamps.items() if cursor[k] < ts.size]
        if s_next < s_end:
            heads.append(s_next)
        if not heads:
            break
        a = min(heads)
        b = a + width
        stop = None if b > _MAX_TIMESTAMP else b
        streams: dict[str, tuple[np.ndarray, list[Any]]] = {}
        spk = stm = smp = None
        for key, ts in stamps.items():
            i = cursor[key]
            j = ts.size if stop is None else int(np.searchsorted(ts, b, side="left"))
            if j <= i:
                continue
            cursor[key] = j
            if key is Spikes:
                rows = view.read_spikes(a, stop)
                spk = Spikes(rows["timestamp"].astype(np.int64), rows["channel"].astype(np.uint8),
                             rows["samples"].astype(np.float32))  # fmt: skip
            elif key is Stims:
                rows = stim_rows[i:j]
                stm = Stims(rows["timestamp"].astype(np.int64), rows["channel"].astype(np.uint8))
            else:
                got_ts, values = stream_views[key].read(a, stop)
                streams[key] = (got_ts, values)
        if s_next < min(b, s_end):
            j = min(b, s_end)
            smp = Samples(s_next, view.read_samples(s_next, j), scale)
            s_next = j
        yield Batch(number, streams, spk, stm, live=False, samples=smp)
        number += 1
    yield from final_attributes(stream_views, number)
