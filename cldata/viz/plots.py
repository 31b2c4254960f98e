"""HoloViews plots of a recording's time axis, each a ``DynamicMap`` asking for its viewport.

Every plot here is drawn from a :class:`~cldata.viz.source.RecordingSource` by a callback of
HoloViews' ``RangeX`` stream: when the user pans or zooms, Bokeh sends the new x range to the
server, the callback asks the source for that window at about the plot's width in points,
and only those points travel to the browser. The traces come from the overview pyramid (raw
samples once zoomed in), the raster from the spike table (or counts per bin when a window
holds more spikes than a screen can show), and the streams from their index, so an hour
costs what a second costs.

- :func:`overview_dmap`: stacked traces in µV, one row per channel, labelled with the
  channel and its MEA position; ``gain`` and ``channels`` are live settings.
- :func:`raster_dmap`: the spikes of the same channels, stimulations as red lines.
- :func:`stream_dmap`: one data stream's numeric fields as curves.
- :func:`minimap`: the whole recording, coarse, for a ``RangeToolLink``.

Plots of the same recording put in one ``hv.Layout`` share their time axis.

Examples
--------
>>> import holoviews as hv, cldata.viz as viz                    # doctest: +SKIP
>>> hv.extension("bokeh")                                       # doctest: +SKIP
>>> traces = viz.overview_dmap("one_hour.h5", channels=range(8))  # doctest: +SKIP
>>> (traces + viz.raster_dmap("one_hour.h5")).cols(1)           # doctest: +SKIP
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from cldata.errors import ParameterError
from cldata.viz.deps import holoviews
from cldata.viz.source import RecordingSource

__all__ = ["overview_dmap", "raster_dmap", "stream_dmap", "minimap", "as_source", "trace_spacing",
           "envelope_path", "numeric_fields"]

hv = holoviews()


def as_source(recording: Any) -> RecordingSource:
    """A :class:`RecordingSource` of ``recording`` (a path, a view, a store handle, or a source)."""
    return recording if isinstance(recording, RecordingSource) else RecordingSource(recording)


def trace_spacing(source: RecordingSource, channels: np.ndarray) -> float:
    """The distance in µV between stacked channels: a robust spread of the whole recording.

    Six times the median (over channels) of the median peak-to-peak of a coarse envelope,
    so that a channel's ordinary activity fills its row and bursts overlap a little.
    """
    env = source.traces(None, width=256, channels=channels)
    spread = np.median(env.maximum - env.minimum, axis=0)
    spread = spread[np.isfinite(spread) & (spread > 0)]
    return float(6 * np.median(spread)) if len(spread) else 100.0


def envelope_path(env: Any, offsets: np.ndarray, gain: float) -> list[np.ndarray]:
    """One ``(x, y)`` line per channel: the envelope drawn min, max, min, max... at each bin.

    Raw samples (one frame per point) are drawn as they are; a bin is drawn as a vertical
    stroke from its minimum to its maximum, which is what a pixel of the raw trace shows.
    """
    t = np.asarray(env.times, dtype=np.float64)
    lines = []
    for k in range(env.minimum.shape[1]):
        if env.frames_per_point == 1:
            x, y = t, env.minimum[:, k].astype(np.float64)
        else:
            x = np.repeat(t, 2)
            y = np.empty(2 * len(t))
            y[0::2] = env.minimum[:, k]
            y[1::2] = env.maximum[:, k]
        lines.append(np.column_stack([x, y * gain + offsets[k]]))
    return lines


def _channels(source: RecordingSource, channels: Any) -> np.ndarray:
    return source.pick_channels(None if channels is None else list(channels))


def overview_dmap(recording: Any, channels: Any = None, *, width: int = 1500, gain: float = 1.0,
                  spacing: float | None = None, height: int = 500) -> Any:
    """Stacked traces of ``channels`` (default all) as a ``DynamicMap`` over the time axis.

    Each pan or zoom reads one level of the overview pyramid at about ``width`` points (raw
    samples once zoomed in that far). Its streams are a ``RangeX`` (the viewport) and a
    ``settings`` stream (``dmap.streams[1]``) with ``gain`` and ``channels``: send new values
    with ``dmap.streams[1].event(gain=2.0)``.

    Parameters
    ----------
    recording
        A recording file's path, a :class:`~cldata.RecordingView`, a store's recording handle,
        or a :class:`~cldata.viz.source.RecordingSource`.
    channels
        Channel numbers to draw, top to bottom (default: all).
    width
        Points per channel asked for (about the plot's width in pixels).
    gain
        Multiplies the traces (1: a channel's row is ``spacing`` µV high).
    spacing
        µV between channels (default: :func:`trace_spacing`).

    Examples
    --------
    >>> dmap = overview_dmap("one_hour.h5", channels=[1, 2, 3])   # doctest: +SKIP
    >>> dmap.event(x_range=(600.0, 660.0))  # as a pan in the browser does  # doctest: +SKIP
    >>> dmap[()]                                                  # doctest: +SKIP
    :Path   [time,µV]
    """
    source = as_source(recording)
    picked = _channels(source, channels)
    if spacing is None:
        spacing = trace_spacing(source, picked)
    if not isinstance(gain, numbers.Real) or not gain > 0:
        raise ParameterError(f"gain must be a positive number, not {gain!r}")
    settings = hv.streams.Stream.define("TraceSettings", gain=float(gain), channels=tuple(int(c) for c in picked))()
    rangex = hv.streams.RangeX()

    def draw(x_range: Any, gain: float, channels: tuple[int, ...]) -> Any:
        chans = np.asarray(channels, dtype=np.int64)
        env = source.traces(x_range, width=width, channels=chans)
        offsets = -spacing * np.arange(len(chans), dtype=np.float64)
        ticks = [(float(o), source.channel_label(c)) for o, c in zip(offsets, chans)]
        level = "raw samples" if env.frames_per_point == 1 else f"{env.frames_per_point} frames per point"
        return hv.Path(envelope_path(env, offsets, gain), kdims=["time", "µV"], label="traces").opts(
            yticks=ticks, ylim=(offsets[-1] - spacing, spacing) if len(offsets) else None,
            title=f"{source.name}: {len(chans)} channels, {level}")

    dmap = hv.DynamicMap(draw, streams=[rangex, settings])
    # (the stream of the viewport is the first one: tests and the benchmark drive it)
    return dmap.opts(hv.opts.Path(color="#1f3b73", line_width=0.7, responsive=True, height=height,
                                  xlabel="time (s)", ylabel="", tools=["xwheel_zoom", "xpan"],
                                  default_tools=["reset", "save", "box_zoom"], active_tools=["xwheel_zoom", "xpan"]))


def raster_dmap(recording: Any, channels: Any = None, *, width: int = 1500, height: int = 250) -> Any:
    """Spikes of ``channels`` (one row each, top to bottom) and stimulations (red lines).

    A window with more spikes than :data:`~cldata.viz.source.MAX_SPIKE_POINTS` is drawn as
    spike counts per bin and channel (from the overview), darker for more.

    Examples
    --------
    >>> raster_dmap("one_hour.h5", channels=range(8))               # doctest: +SKIP
    :DynamicMap   []
    """
    source = as_source(recording)
    picked = _channels(source, channels)
    settings = hv.streams.Stream.define("RasterSettings", channels=tuple(int(c) for c in picked))()

    def draw(x_range: Any, channels: tuple[int, ...]) -> Any:
        chans = np.asarray(channels, dtype=np.int64)
        rows = -np.arange(len(chans), dtype=np.float64)
        row_of = dict(zip(chans.tolist(), rows.tolist()))
        ticks = [(r, source.channel_label(c)) for r, c in zip(rows.tolist(), chans.tolist())] if len(chans) <= 32 else None
        points = source.spikes(x_range, channels=chans)
        if points is None:
            counts = source.spike_counts(x_range, width=width // 2, channels=chans)
            edges = counts.edges / source.fps
            spikes = hv.QuadMesh((edges, np.append(rows + 0.5, rows[-1] - 0.5)[::-1],
                                  counts.counts.T[::-1].astype(np.float64)),
                                 kdims=["time", "channel"], vdims=["spikes"]).opts(cmap="Greys", colorbar=False)
        else:
            y = np.array([row_of[c] for c in points.channels.tolist()], dtype=np.float64)
            spikes = hv.Segments((points.times, y - 0.4, points.times, y + 0.4),
                                 kdims=["time", "channel", "time_end", "channel_end"]).opts(color="black")
        stims = source.stims(x_range)
        a, b = source.clip(x_range)
        marks = hv.VLines(stims.times, kdims=["time"]).opts(color="red", alpha=0.6, line_width=1)
        frame = hv.Curve(([a, b], [np.nan, np.nan]), kdims=["time"], vdims=["channel"])  # keeps the viewport
        label = "spikes" if points is not None else "spikes per bin (too many to draw one by one)"
        return (frame * spikes * marks).opts(
            hv.opts.Overlay(title=f"{label}, {len(stims)} stimulations"),
        ).redim.range(channel=(rows[-1] - 0.6, 0.6) if len(rows) else (0, 1)).opts(
            hv.opts.Curve(yticks=ticks, show_legend=False))

    dmap = hv.DynamicMap(draw, streams=[hv.streams.RangeX(), settings])
    return dmap.opts(hv.opts.Overlay(responsive=True, height=height, xlabel="time (s)", ylabel="",
                                     tools=["xwheel_zoom", "xpan"], active_tools=["xwheel_zoom", "xpan"]))


def numeric_fields(values: list[Any]) -> list[str]:
    """The keys of dict entries that hold plain numbers (booleans excluded) in every entry that has them."""
    keys: dict[str, bool] = {}
    for v in values:
        if not isinstance(v, dict):
            continue
        for k, x in v.items():
            ok = isinstance(x, numbers.Real) and not isinstance(x, bool)
            keys[str(k)] = keys.get(str(k), True) and ok
    return [k for k, ok in keys.items() if ok]


def stream_dmap(recording: Any, stream: str, *, height: int = 200) -> Any:
    """A data stream's numeric fields over the viewport, one curve per field (scalars: one curve).

    Examples
    --------
    >>> stream_dmap("one_hour.h5", "ball_position")                 # doctest: +SKIP
    :DynamicMap   []
    """
    source = as_source(recording)
    if stream not in source.stream_names:
        raise ParameterError(f"{source.name} has no data stream {stream!r}; it has {source.stream_names}")
    _, first, _ = source.stream_window(stream, None, limit=200)
    fields = numeric_fields(first)
    scalar = not fields and any(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in first)

    # each stream's own value axis (plots sharing a dimension name would share its range)
    value = hv.Dimension(f"{stream}_value", label=stream)

    def draw(x_range: Any) -> Any:
        times, values, more = source.stream_window(stream, x_range)
        a, b = source.clip(x_range)
        curves = [hv.Curve(([a, b], [np.nan, np.nan]), "time", value)]
        if scalar:
            y = [float(v) if isinstance(v, numbers.Real) else np.nan for v in values]
            curves.append(hv.Curve((times, y), "time", value, label=stream))
        for f in fields:
            y = [float(v[f]) if isinstance(v, dict) and isinstance(v.get(f), numbers.Real) else np.nan for v in values]
            curves.append(hv.Curve((times, y), "time", value, label=f))
        note = " (thinned)" if more else ""
        return hv.Overlay(curves).opts(title=f"{stream}: {len(times)} entries{note}")

    dmap = hv.DynamicMap(draw, streams=[hv.streams.RangeX()])
    return dmap.opts(hv.opts.Overlay(responsive=True, height=height, xlabel="time (s)", legend_position="right",
                                     tools=["xwheel_zoom", "xpan"], active_tools=["xwheel_zoom", "xpan"]))


def minimap(recording: Any, channels: Any = None, *, width: int = 1500, height: int = 90) -> Any:
    """The whole recording, coarse: the envelope of ``channels`` summed into one band per bin.

    Link it to a traces plot with ``holoviews.plotting.links.RangeToolLink(minimap, traces)``.
    """
    source = as_source(recording)
    picked = _channels(source, channels)
    env = source.traces(None, width=width, channels=picked)
    t = np.asarray(env.times, dtype=np.float64)
    lo, hi = env.minimum.min(axis=1), env.maximum.max(axis=1)
    return hv.Area((t, lo, hi), kdims=["time"], vdims=["low", "high"]).opts(
        responsive=True, height=height, xlabel="", ylabel="", yaxis=None, color="#8899bb",
        line_width=0, toolbar="disable", title="the whole recording (drag the box to move)")
