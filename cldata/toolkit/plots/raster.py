"""The raster of spikes and stims, and one spike's waveform (spec §13).

The model: :func:`plot_spikes_and_stims` draws one row per channel (y = channel index) with a
black tick at every spike of the analysis window's spike train (§2: window-relative frames,
duplicates collapsed, divided by the frame rate) and, when the recording has stims, a taller red
tick and a white-filled red circle just above the row at every stim in the window.
``limit_to_channels`` leaves the other rows blank; ``limit_to_time_range_secs`` sets the x range
(default ``(0, duration_seconds)`` of the whole recording). It saves (tight) or shows the figure,
then closes it. :func:`plot_spike` draws one spike's 75 samples against their index, the spike's
own sample (index 25) marked by a dotted line.

Official bug not reproduced (§13): ``plot_spike`` given an ``ax`` and no ``save_path`` just
draws (the official one writes ``None.png``).

Examples
--------
>>> plot_spikes_and_stims(rec.analysis_data(), *stims, save_path="raster.png")   # doctest: +SKIP
>>> ax = plot_spike(rec.read_spikes()[0])                                         # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from cldata.toolkit.plots.common import figure_and_axes, finish, pyplot
from cldata.toolkit.preprocess import SpikeData, spike_train

__all__ = ["plot_spike", "plot_spikes_and_stims", "spike_parts"]

#: Index of the spike's own sample in its 75-sample waveform (25 before, 49 after).
SPIKE_SAMPLE_INDEX = 25


def _channel_filter(limit_to_channels: Iterable[int] | None, channel_count: int) -> np.ndarray:
    """A boolean per channel: whether its row is drawn."""
    keep = np.ones(channel_count, dtype=bool)
    if limit_to_channels is None:
        return keep
    chosen = np.asarray(list(limit_to_channels), dtype=np.int64)
    bad = chosen[(chosen < 0) | (chosen >= channel_count)]
    if bad.size:
        raise ValueError(f"limit_to_channels has channels {bad.tolist()} outside 0..{channel_count - 1}; "
                         "give channels of the recording")
    keep[:] = False
    keep[chosen] = True
    return keep


def _stim_rows(data: SpikeData, stim_ts: np.ndarray, stim_ch: np.ndarray,
               keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Times (s, window-relative) and channels of the stims in the window on kept channels."""
    ts = np.asarray(stim_ts, dtype=np.int64)
    ch = np.asarray(stim_ch, dtype=np.int64)
    inside = (ts >= data.lo) & (ts < data.hi) & (ch >= 0) & (ch < data.channel_count)
    inside[inside] = keep[ch[inside]]
    return (ts[inside] - data.lo) / data.fs, ch[inside]


def plot_spikes_and_stims(data: SpikeData, stim_ts: np.ndarray, stim_ch: np.ndarray, *,
                          figsize: tuple[float, float] = (12, 8), title: str | None = None,
                          save_path: str | os.PathLike[str] | None = None,
                          limit_to_time_range_secs: tuple[float, float] | None = None,
                          limit_to_channels: Iterable[int] | None = None) -> None:
    """Raster of the window's spikes (black) and stims (red) per channel; saved or shown, then closed.

    Parameters
    ----------
    data
        The recording's spikes and analysis window.
    stim_ts, stim_ch
        Every stim of the recording: timestamps (frames of the recording) and channels.
    figsize, title, save_path
        Figure size; title (default "Spikes (black) and Stims (red) per Channel over Time" and
        the file's path); where to save the figure (tight), or ``None`` to show it.
    limit_to_time_range_secs
        The x range in seconds (default ``(0, duration_seconds)``).
    limit_to_channels
        Draw only these channels' rows (spikes and stims); the others stay blank.

    Raises
    ------
    ValueError
        ``limit_to_channels`` names a channel the recording does not have.
    ImportError
        matplotlib is missing (``pip install "cldata[plot]"``).

    Examples
    --------
    >>> plot_spikes_and_stims(data, ts, ch, save_path="raster.png", limit_to_channels=[8, 9])  # doctest: +SKIP
    """
    keep = _channel_filter(limit_to_channels, data.channel_count)
    plt = pyplot("plot_spikes_and_stims")
    train = spike_train(data)
    empty = np.empty(0)
    rows = [train[c] / data.fs if keep[c] else empty for c in range(data.channel_count)]
    fig, ax = plt.subplots(figsize=figsize)
    offsets = np.arange(data.channel_count)
    ax.eventplot(rows, lineoffsets=offsets, colors="black", linewidths=0.5, alpha=0.7)
    if len(stim_ts):
        times, channels = _stim_rows(data, stim_ts, stim_ch, keep)
        stim_rows = [times[channels == c] for c in range(data.channel_count)]
        ax.eventplot(stim_rows, lineoffsets=offsets, linelengths=2.2, colors="red")
        ax.scatter(times, channels + 0.4, facecolors="white", edgecolors="red", zorder=3)
    ax.set_ylim(-1, data.channel_count + 1)
    ax.set_yticks(np.arange(0, data.channel_count + 1, 8))
    ax.set_xlim(*(limit_to_time_range_secs or (0, data.duration_seconds)))
    ax.set_xlabel("Time (s)", fontsize=18)
    ax.set_ylabel("Channel", fontsize=18)
    ax.grid(linestyle="--")
    ax.set_title(title if title is not None
                 else f"Spikes (black) and Stims (red) per Channel over Time\n{data.file_path}")
    finish(fig, own=True, save_path=save_path, close=True)


def spike_parts(spike: Any) -> tuple[int, int, np.ndarray]:
    """``(timestamp, channel, samples)`` of a spike given as a table row, a tuple or an object.

    Accepted: an object with ``timestamp``, ``channel`` and ``samples`` attributes; a
    ``(timestamp, channel, samples)`` tuple or list; anything indexed by those names (a row of
    ``rec.spikes`` or of ``rec.read_spikes()``, a ``tables.Row``, a dict).

    Raises
    ------
    ValueError
        ``spike`` is none of these.

    Examples
    --------
    >>> spike_parts((100, 8, [0.0] * 75))[:2]
    (100, 8)
    """
    names = ("timestamp", "channel", "samples")
    if all(hasattr(spike, n) for n in names):
        parts: Sequence[Any] = [getattr(spike, n) for n in names]
    elif isinstance(spike, (tuple, list)):
        if len(spike) != 3:
            raise ValueError(f"a spike tuple is (timestamp, channel, samples); got {len(spike)} items")
        parts = spike
    else:
        try:
            parts = [spike[n] for n in names]
        except (KeyError, IndexError, TypeError, ValueError):
            raise ValueError(f"cannot read a spike from {type(spike).__name__}: give a spikes-table row, a "
                             "(timestamp, channel, samples) tuple or an object with those attributes") from None
    return int(parts[0]), int(parts[1]), np.asarray(parts[2], dtype=np.float64).reshape(-1)


def plot_spike(spike: Any, *, figsize: tuple[float, float] = (6, 2), title: str | None = None,
               save_path: str | os.PathLike[str] | None = None, ax: Any = None) -> Any:
    """One spike's waveform (µV) against sample index, sample 25 marked; returns the Axes.

    Parameters
    ----------
    spike
        A spikes-table row, a ``(timestamp, channel, samples)`` tuple or an object with those
        attributes (:func:`spike_parts`).
    figsize, title, save_path, ax
        Figure size (when no ``ax``); the x label (official: the title is written under the
        axis; default "Spike on Channel {channel} at Timestamp {timestamp}"); where to save
        the figure; the Axes to draw on (then nothing is saved unless ``save_path`` is given).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> ax = plot_spike(rec.spikes[0], save_path="spike.png")   # doctest: +SKIP
    """
    timestamp, channel, samples = spike_parts(spike)
    fig, ax, own = figure_and_axes(ax, figsize, "plot_spike")
    ax.plot(np.arange(samples.size), samples)
    ax.axvline(SPIKE_SAMPLE_INDEX, color="grey", linestyle=":")
    ax.yaxis.set_major_formatter(lambda value, _pos: f"{value:g} µV")
    ax.set_xlabel(title if title is not None else f"Spike on Channel {channel} at Timestamp {timestamp}")
    finish(fig, own=own, save_path=save_path)
    return ax
