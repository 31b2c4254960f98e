"""Helpers the shipped analyses share: parameter checks, channel selection, spike columns.

Examples
--------
>>> ts, ch = read_spike_frames(recording.view())          # doctest: +SKIP
>>> chosen, ts, ch = selected_spike_frames("PSTH", recording.view(), [0, 3])   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from cldata.errors import ParameterError
from cldata.store.neo_ingest import clipped_span

if TYPE_CHECKING:  # pragma: no cover
    from cldata.format.reader import RecordingView

__all__ = ["analysed_window", "channel_selection", "read_spike_frames", "selected_spike_frames", "check_values", "channel_list_problem", "CHANNELS", "NUMBER"]

#: parameter type of a channel list (``None``: every channel)
CHANNELS = (list, tuple, type(None))
#: parameter type of a number
NUMBER = (int, float)


def check_values(owner: str, problems: Iterable[tuple[bool, str]]) -> None:
    """Raise one :class:`ParameterError` naming every ``message`` whose condition is true."""
    bad = [message for failed, message in problems if failed]
    if bad:
        raise ParameterError(f"{owner}: " + "; ".join(bad))


def channel_list_problem(channels: Any) -> tuple[bool, str]:
    """``(failed, message)`` for :func:`check_values`: is ``channels`` None or a list of channel numbers?"""
    ok = channels is None or all(
        isinstance(c, (int, np.integer)) and not isinstance(c, (bool, np.bool_)) and c >= 0 for c in channels
    )
    return (not ok, f"'channels' should be None or a list of channel numbers (ints >= 0), not {channels!r:.60}")


def channel_selection(owner: str, channels: Any, channel_count: int) -> np.ndarray:
    """The analysed channels as an int array: ``channels`` checked against the recording, or all.

    Raises
    ------
    cldata.errors.ParameterError
        If a channel is not one of the recording's ``0 .. channel_count-1``.
    """
    if channels is None:
        return np.arange(channel_count)
    chosen = np.asarray(list(channels), dtype=np.int64)
    outside = sorted(set(chosen[(chosen < 0) | (chosen >= channel_count)].tolist()))
    if outside:
        raise ParameterError(f"{owner}: channel(s) {outside} not in the recording (channels 0..{channel_count - 1})")
    return np.unique(chosen)


def analysed_window(view: Any) -> tuple[int, int]:
    """The frames an analysis covers: a CL view's ``clipped_window``; a neo recording's view
    (:class:`~cldata.format.neo_file.NeoRecordingView`), its window within the segment's extent
    (``t_start`` to ``t_stop`` on its axis), in frames of its timebase."""
    clipped = getattr(view, "clipped_window", None)
    if clipped is not None:
        return clipped
    t0, t1 = clipped_span(view)
    return round(t0 * view.frames_per_second), round(t1 * view.frames_per_second)


def read_spike_frames(view: RecordingView, channels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Spike frames (int64, in time order) and channels (intp) of the analysed window.

    Only the timestamp and channel columns are read (no waveforms). ``channels`` keeps
    only spikes of those channels; spikes on a channel outside the recording's
    ``channel_count``, or outside ``view.clipped_window`` (past the recording's stated end),
    are dropped.
    """
    start, stop = analysed_window(view)
    spikes = view.read_spikes(start, stop, waveforms=False)
    ts = spikes["timestamp"].astype(np.int64, copy=False)
    ch = spikes["channel"].astype(np.intp, copy=False)
    keep = ch < view.channel_count if channels is None else np.isin(ch, channels)
    if not keep.all():
        ts, ch = ts[keep], ch[keep]
    if ts.size > 1 and np.any(ts[1:] < ts[:-1]):  # CL tables are in time order; be safe anyway
        order = np.argsort(ts, kind="stable")
        ts, ch = ts[order], ch[order]
    return ts, ch


def selected_spike_frames(
    owner: str, view: RecordingView, channels: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The analysed channels (an analysis' ``channels`` parameter checked, or all) and their
    spikes: ``(chosen, frames, spike channels)``, as :func:`channel_selection` and
    :func:`read_spike_frames` give them.

    Raises
    ------
    cldata.errors.ParameterError
        If a channel is not one of the recording's ``0 .. channel_count-1``.

    Examples
    --------
    >>> chosen, ts, ch = selected_spike_frames("ISIHistogram", view, None)   # doctest: +SKIP
    """
    chosen = channel_selection(owner, channels, view.channel_count)
    ts, ch = read_spike_frames(view, None if channels is None else chosen)
    return chosen, ts, ch
