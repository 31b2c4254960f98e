"""What an overview answers: an :class:`Envelope` (min/max per bin) and a :class:`SpikeActivity` (counts per bin).

Both are immutable values over a window of one recording: the bins' edges in frames
(aligned to multiples of the bin length from the recording start, the first and last
clipped to the window), their start times, the values per bin and channel, the level of
the pyramid they came from (``-1``: the samples or the spike table themselves), and the
channels asked for. They show themselves in a terminal and a notebook, and draw themselves
with matplotlib (an optional extra).

Examples
--------
>>> env = rec.overview(channels=[0, 1], width=1000)      # doctest: +SKIP
>>> env.minimum.shape, env.frames_per_point               # doctest: +SKIP
((1465, 2), 1024)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import quantities as pq

from cldata.core.display import axes, html_fields, plural, short, window_text

__all__ = ["Envelope", "SpikeActivity"]


@dataclass(frozen=True, eq=False)
class Envelope:
    """Per-channel minimum and maximum of the samples over about ``width`` bins of a window.

    Attributes
    ----------
    start, stop : int
        The window actually covered, ``[start, stop)`` in frames from the recording start
        (the request clipped to the view's window and to the samples).
    frames_per_point : int
        Frames per bin (1: the samples themselves). Bins are aligned to multiples of it
        from the recording start; the first and last bins are clipped to the window, so
        they may be shorter (see ``edges``).
    edges : numpy.ndarray
        ``(points + 1,)`` int64 frames: bin ``i`` covers ``[edges[i], edges[i + 1])``.
    times : quantities.Quantity
        ``(points,)`` in s: the **start** of each bin (for raw samples, each sample's time).
    minimum, maximum : numpy.ndarray
        ``(points, channels)`` float32 in µV: the smallest and largest sample of each bin
        (equal when ``frames_per_point == 1``).
    level : int
        The pyramid level the bins were made from; ``-1`` for the raw samples.
    channels : numpy.ndarray
        The channel numbers of the columns, in the order asked for.
    frames_per_second : int
        The recording's frame rate.
    """

    start: int
    stop: int
    frames_per_point: int
    edges: np.ndarray
    times: pq.Quantity
    minimum: np.ndarray
    maximum: np.ndarray
    level: int
    channels: np.ndarray
    frames_per_second: int
    units: str = field(default="uV")

    def __len__(self) -> int:
        return int(self.minimum.shape[0])

    @property
    def centres(self) -> pq.Quantity:
        """The middle of each bin, in s."""
        e = self.edges.astype(np.float64)
        return pq.Quantity((e[:-1] + e[1:]) / 2 / self.frames_per_second, pq.s)

    def _window(self) -> str:
        return window_text((self.start, self.stop), self.frames_per_second)

    def __repr__(self) -> str:
        return (f"<Envelope {self._window()}: {plural(len(self), 'point')} x {plural(self.channels.size, 'channel')}, "
                f"{self.frames_per_point / self.frames_per_second * 1e3:.4g} ms per point, level {self.level}>")

    def _repr_html_(self) -> str:
        fields = {"window": self._window(), "points": len(self), "channels": short(self.channels),
                  "per point": f"{self.frames_per_point:,} frames ({self.frames_per_point / self.frames_per_second * 1e3:.4g} ms)",
                  "level": "raw samples" if self.level < 0 else self.level}
        if len(self):
            fields["range"] = f"{float(np.min(self.minimum)):.6g} to {float(np.max(self.maximum)):.6g} µV"
        return html_fields(repr(self).strip("<>").split(":")[0], fields)

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Draw each channel's envelope (the band between minimum and maximum) against time.

        The x axis is time in s, the y axis µV; a legend names the channels (up to 10).
        Needs matplotlib (``pip install 'cldata[plot]'``); returns the Axes.

        Examples
        --------
        >>> ax = rec.overview(channels=[0, 1], width=1000).plot()   # doctest: +SKIP
        >>> ax.get_xlabel(), ax.get_ylabel()                         # doctest: +SKIP
        ('time (s)', 'voltage (µV)')
        """
        ax = axes(ax, "Envelope.plot()")
        x = np.asarray(self.centres.magnitude)
        alpha = kwargs.pop("alpha", 0.6)
        for i, channel in enumerate(self.channels):
            label = f"channel {int(channel)}"
            if self.frames_per_point == 1:  # the samples themselves: a line
                ax.plot(x, self.minimum[:, i], label=label, **kwargs)
            else:
                ax.fill_between(x, self.minimum[:, i], self.maximum[:, i], linewidth=0,
                                alpha=alpha, label=label, **kwargs)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("voltage (µV)")
        if 0 < self.channels.size <= 10:
            ax.legend(loc="upper right", fontsize="small")
        return ax


@dataclass(frozen=True, eq=False)
class SpikeActivity:
    """Spike counts per bin and channel over a window.

    Attributes
    ----------
    start, stop : int
        The window covered, in frames (clipped to the view's window and the recording).
    frames_per_bin : int
        Frames per bin; bins are aligned to multiples of it from the recording start, the
        first and last clipped to the window (see ``edges``).
    edges : numpy.ndarray
        ``(bins + 1,)`` int64 frames: bin ``i`` covers ``[edges[i], edges[i + 1])``.
    times : quantities.Quantity
        ``(bins,)`` in s: the start of each bin.
    counts : numpy.ndarray
        ``(bins, channels)`` int64: spikes of each channel in each bin.
    level : int
        The pyramid level used; ``-1`` when counted from the spike table.
    channels : numpy.ndarray
        The channel numbers of the columns, in the order asked for.
    frames_per_second : int
        The recording's frame rate.
    """

    start: int
    stop: int
    frames_per_bin: int
    edges: np.ndarray
    times: pq.Quantity
    counts: np.ndarray
    level: int
    channels: np.ndarray
    frames_per_second: int

    def __len__(self) -> int:
        return int(self.counts.shape[0])

    @property
    def rates(self) -> pq.Quantity:
        """Spikes per second of each bin and channel (each bin divided by its own length)."""
        seconds = np.diff(self.edges).astype(np.float64) / self.frames_per_second
        with np.errstate(invalid="ignore", divide="ignore"):
            return pq.Quantity(self.counts / seconds[:, None], pq.Hz)

    def _window(self) -> str:
        return window_text((self.start, self.stop), self.frames_per_second)

    def __repr__(self) -> str:
        return (f"<SpikeActivity {self._window()}: {plural(int(self.counts.sum()), 'spike')} in "
                f"{plural(len(self), 'bin')} x {plural(self.channels.size, 'channel')}, "
                f"{self.frames_per_bin / self.frames_per_second * 1e3:.4g} ms per bin, level {self.level}>")

    def _repr_html_(self) -> str:
        seconds = (self.stop - self.start) / self.frames_per_second
        total = int(self.counts.sum())
        fields = {"window": self._window(), "spikes": total, "bins": len(self), "channels": short(self.channels),
                  "per bin": f"{self.frames_per_bin:,} frames ({self.frames_per_bin / self.frames_per_second * 1e3:.4g} ms)",
                  "mean rate": f"{total / seconds:.4g} Hz (all channels)" if seconds > 0 else "-",
                  "level": "spike table" if self.level < 0 else self.level}
        return html_fields(repr(self).strip("<>").split(":")[0], fields)

    def plot(self, ax: Any = None, style: str = "rate", **kwargs: Any) -> Any:
        """Draw the activity against time: ``"rate"``, the spikes per second of all channels
        together (a step per bin), or ``"heatmap"``, each channel's count per bin.

        Needs matplotlib (``pip install 'cldata[plot]'``); returns the Axes.

        Examples
        --------
        >>> ax = rec.spike_activity(width=200).plot()          # doctest: +SKIP
        >>> ax.get_xlabel(), ax.get_ylabel()                    # doctest: +SKIP
        ('time (s)', 'spike rate, all channels (Hz)')
        """
        if style not in ("rate", "heatmap"):
            raise ValueError(f"style is 'rate' or 'heatmap', not {style!r}")
        ax = axes(ax, "SpikeActivity.plot()")
        edges = self.edges.astype(np.float64) / self.frames_per_second
        if style == "rate":
            rate = np.asarray(self.rates.magnitude).sum(axis=1) if self.channels.size else np.zeros(len(self))
            ax.stairs(rate, edges, **kwargs)
            ax.set_ylabel("spike rate, all channels (Hz)")
        else:
            mesh = ax.pcolormesh(edges, np.arange(self.channels.size + 1), self.counts.T, **kwargs)
            if self.channels.size <= 16:  # more would overlap: the rows then count up from the bottom
                ax.set_yticks(np.arange(self.channels.size) + 0.5, [str(int(c)) for c in self.channels])
            ax.set_ylabel("channel")
            ax.figure.colorbar(mesh, ax=ax, label="spikes per bin")
        ax.set_xlabel("time (s)")
        return ax
