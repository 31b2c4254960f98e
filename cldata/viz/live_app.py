"""The live view of a recording being written: :func:`live_viewer` and :class:`LiveView`.

The model
---------
One :class:`~cldata.viz.live_buffer.LiveFeed` follows the file in a background thread and
prepares updates; a Panel periodic callback (every ``period`` ms, in the thread of the
session's Bokeh document, so every change is safe) calls :meth:`LiveView.update`, which
drains the feed into its HoloViews Buffers and Panel panes:

- the traces of the selected channels, stacked, as the min/max envelope of the latest
  ``window`` seconds (one Bokeh glyph for all channels: cheap at 5 updates a second);
- a raster of the latest spikes (channel against seconds), with the stimulations as red
  triangles on it;
- a card per data stream, added when its first entry or attribute update arrives: its
  numeric fields as curves, a table of its latest entries (every value, numeric or not),
  and its ``application`` attributes, replaced at every
  :class:`~cldata.live.AttributesUpdated` (a live score kept as an attribute shows there).

Everything sits in one stable ``pn.Column`` (``view.panel``). When the writer closes the
recording the follow ends and its ``objects`` are replaced, without a reload, by the finished
recording's view (:func:`cldata.viz.recording_app.recording_viewer`). If the writer died, the
live view stays with the error shown (``cldata.recover(path)`` makes such a file readable).
A path with a finished recording and no journal gets the finished view at once.

Examples
--------
>>> import panel as pn
>>> pn.serve(lambda: live_viewer("rec.h5", channels=range(8)))   # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cldata.format.journal import journal_path
from cldata.viz.deps import holoviews, local_stylesheets, panel
from cldata.viz.live_buffer import Drained, LiveFeed

__all__ = ["live_viewer", "LiveView"]

hv = holoviews()
pn = panel()
# The tables here and in the finished view that replaces this one are Tabulator widgets made in a periodic
# callback, after the page was served: Panel puts a model's script in the page only if the model was imported
# before the page's first render, which importing it with this module ensures.
importlib.import_module("panel.models.tabulator")


def _keep_following(plot: Any, element: Any) -> None:
    """A HoloViews hook: the live plots always follow the newest data.

    HoloViews stops following a streaming plot (and holds its rendering) at the first
    ``rangesupdate`` event of the browser, which Bokeh also sends when it lays out a
    responsive figure: the plot would freeze at its first second. A live view follows;
    zooming is for the finished recording's view, which replaces it.
    """
    plot.state.hold_render = False
    for stream in plot.streaming:
        stream.following = True


_LIVE = {"framewise": True, "hooks": [_keep_following]}  # every live plot: ranges set at each update


def _traces_plot(data: pd.DataFrame, spacing: float, xlim: tuple[float, float]) -> hv.Element:
    """The min/max bins of every channel as vertical segments, channel ``i`` shifted up by ``i * spacing``."""
    channels = [c[4:] for c in data.columns if c.startswith("min_")]
    t = data["time"].to_numpy()
    x, y0, y1 = [], [], []
    for i, c in enumerate(channels):
        x.append(t)
        y0.append(data[f"min_{c}"].to_numpy() + i * spacing)
        y1.append(data[f"max_{c}"].to_numpy() + i * spacing)
    cat = (lambda parts: np.concatenate(parts) if parts else np.empty(0))  # noqa: E731 - a local shorthand
    segments = hv.Segments((cat(x), cat(y0), cat(x), cat(y1)), ["time", "y0", "time1", "y1"])
    ticks = [(i * spacing, f"ch {c}") for i, c in enumerate(channels)]
    if ticks:  # (an empty tick list fails in HoloViews)
        segments = segments.opts(yticks=ticks)
    return segments.opts(color="#1f4e79", line_width=1, ylabel="channel (µV)", xlabel="seconds", xlim=xlim,
                         responsive=True, height=360, title="traces (min/max of the latest seconds)", **_LIVE)


def _raster_plot(data: pd.DataFrame, xlim: tuple[float, float]) -> hv.Element:
    return hv.Scatter(data, "time", "channel").opts(size=3, color="black", responsive=True, height=220, xlim=xlim,
                                                    ylim=(-1, 64), xlabel="seconds", title="spikes and stims",
                                                    **_LIVE)  # fmt: skip


def _stims_plot(data: pd.DataFrame, xlim: tuple[float, float]) -> hv.Element:
    return hv.Scatter(data, "time", "channel").opts(marker="triangle", size=9, color="red", xlim=xlim, **_LIVE)


def _curves_plot(data: pd.DataFrame, fields: Sequence[str], name: str, xlim: tuple[float, float]) -> hv.Overlay:
    curves = [hv.Curve(data, "time", f, label=f).opts(xlim=xlim, **_LIVE) for f in fields]
    return hv.Overlay(curves).opts(responsive=True, height=200, title=name, xlabel="seconds")


def _shown(value: Any, limit: int = 120) -> str:
    """A value as a table shows it: text, cut short."""
    text = value if isinstance(value, str) else repr(value.tolist() if isinstance(value, np.ndarray) else value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def attributes_table(attributes: dict[str, Any]) -> pd.DataFrame:
    """A stream's attributes as a two-column table (``attribute``, ``value`` as text).

    Examples
    --------
    >>> attributes_table({"score": 3, "player": "p"}).values.tolist()
    [['score', '3'], ['player', 'p']]
    """
    return pd.DataFrame({"attribute": [str(k) for k in attributes], "value": [_shown(v) for v in attributes.values()]},
                        columns=["attribute", "value"])


def entries_table(entries: pd.DataFrame) -> pd.DataFrame:
    """A stream's latest entries (``LiveFeed.latest_entries``) as a table shows them, newest first."""
    return pd.DataFrame({"time": entries["time"].round(4), "value": [_shown(v) for v in entries["value"]]},
                        columns=["time", "value"]).iloc[::-1].reset_index(drop=True)


class _StreamCard:
    """One data stream's card: curves of its numeric fields, its latest entries, its attributes."""

    def __init__(self, feed: LiveFeed, name: str, xlim: Callable[[pd.DataFrame], tuple[float, float]]) -> None:
        self.name = name
        self.feed = feed
        fields = [c for c in feed.stream(name).data.columns if c != "time"]
        self.curves = None
        if fields:
            dmap = hv.DynamicMap(lambda data: _curves_plot(data, fields, name, xlim(data)), streams=[feed.stream(name)])
            self.curves = pn.pane.HoloViews(dmap, sizing_mode="stretch_width")
        # Tabulator, as the recording view's tables: its script is then in the page when that view replaces this one
        self.entries = pn.widgets.Tabulator(entries_table(feed.latest_entries(name)), disabled=True, show_index=False,
                                            height=220, sizing_mode="stretch_width")
        self.attributes = pn.widgets.Tabulator(attributes_table(feed.attributes.get(name, {})), disabled=True,
                                               show_index=False, height=220, sizing_mode="stretch_width")
        parts = [p for p in (self.curves,) if p is not None]
        body = pn.Row(pn.Column("**latest entries**", self.entries), pn.Column("**attributes**", self.attributes))
        self.card = pn.Card(*parts, body, title=f"stream {name}", sizing_mode="stretch_width")

    def show_entries(self) -> None:
        self.entries.value = entries_table(self.feed.latest_entries(self.name))

    def show_attributes(self, attributes: dict[str, Any]) -> None:
        self.attributes.value = attributes_table(attributes)


def _default_finished(path: Any, channels: Sequence[int] | None) -> Any:
    # why: the finished view (and the overview machinery behind it) is needed only once the writer is done
    from cldata.format.reader import RecordingView

    # why: the same; recording_app is the recording viewer, a sibling module built on the overview
    from cldata.viz.recording_app import recording_viewer

    return recording_viewer(RecordingView(path), channels=channels)


class LiveView:
    """The live view's state: its feed, its panes, and :meth:`update`, what the periodic callback runs.

    Parameters are those of :func:`live_viewer`; ``view.panel`` is the stable container.
    """

    def __init__(self, path: Any, *, channels: Sequence[int] | int | None = None,
                 streams: str | Iterable[str] | None = None, window: float = 5.0, length: int = 5000,
                 period: int | None = 200, spacing: float | None = None,
                 finished: Callable[[Any, Sequence[int] | None], Any] | None = None,
                 **follow_kwargs: Any) -> None:  # fmt: skip
        self.path = path
        # (an int: the first that many channels, as the recording view shows by default)
        self.channels = channels if channels is None or isinstance(channels, int) else [int(c) for c in channels]
        self._finished_view = finished or _default_finished
        self.spacing = spacing
        self.window, self.now = float(window), 0.0
        self.feed = LiveFeed(path, streams, spikes=True, stims=True, samples=True, channels=self.channels,
                             window=window, length=length, autodrain=False, start=False, **follow_kwargs)
        self.cards: dict[str, _StreamCard] = {}
        self.feed.on_attributes(self._attributes_updated)
        self.status = pn.pane.Markdown(f"Following `{os.fspath(path)}` …", sizing_mode="stretch_width")
        self.traces = pn.pane.HoloViews(hv.DynamicMap(self._traces, streams=[self.feed.traces]),
                                        sizing_mode="stretch_width")
        raster = hv.DynamicMap(lambda data: _raster_plot(data, self.xlim(data)), streams=[self.feed.spikes]) \
            * hv.DynamicMap(lambda data: _stims_plot(data, self.xlim(data)), streams=[self.feed.stims])
        self.raster = pn.pane.HoloViews(raster, sizing_mode="stretch_width")
        self.streams = pn.Column(sizing_mode="stretch_width")
        self.panel = pn.Column(self.status, self.traces, self.raster, self.streams, sizing_mode="stretch_width")
        self.swapped = False
        self.callback = None
        self.feed.start()
        if period:
            self.callback = pn.state.add_periodic_callback(self.update, period=int(period))
            if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
                pn.state.on_session_destroyed(lambda _context: self.close())

    def _traces(self, data: pd.DataFrame) -> hv.Element:
        if self.spacing is None and len(data) and len(data.columns) > 1:
            # fixed once from the first data, so the channels do not jump: twice the largest excursion
            self.spacing = 2 * float(np.nanmax(np.abs(data.drop(columns="time").to_numpy()))) or 1.0
        return _traces_plot(data, self.spacing or 1.0, self.xlim(data))

    def xlim(self, data: pd.DataFrame) -> tuple[float, float]:
        """The live time axis: the latest ``window`` seconds of everything seen (every plot shares it)."""
        if len(data):
            self.now = max(self.now, float(data["time"].iloc[-1]))
        start = max(0.0, self.now - self.window)
        return start, start + self.window

    def _attributes_updated(self, name: str, attributes: dict[str, Any]) -> None:
        self._card(name).show_attributes(attributes)

    def _card(self, name: str) -> _StreamCard:
        if name not in self.cards:
            self.cards[name] = _StreamCard(self.feed, name, self.xlim)
            self.streams.append(self.cards[name].card)
        return self.cards[name]

    def update(self) -> Drained:
        """Drain the feed into the panes (what the periodic callback runs); swap in the finished view at the end."""
        if self.swapped:
            return Drained(finished=True)
        with local_stylesheets():  # (a new stream card's stylesheets from this server)
            try:
                got = self.feed.drain()
            except Exception as exc:  # noqa: BLE001 - the follow thread's error, shown where the user looks
                self._failed(exc)
                return Drained(finished=True)
            for name in got.rows:
                if name not in ("spikes", "stims", "traces"):
                    self._card(name).show_entries()
        if got.rows or got.attributes:
            self.status.object = self._summary()
        if got.finished:
            self._swap()
        return got

    def _summary(self) -> str:
        return (f"Following `{os.fspath(self.path)}` (live): {len(self.feed.spikes.data):,} latest spikes, "
                f"{len(self.cards)} data streams")

    def _failed(self, exc: BaseException) -> None:
        self._stop_callback()
        self.status.object = (f"**Following `{os.fspath(self.path)}` stopped: {type(exc).__name__}: {exc}**  \n"
                              "What arrived until then is shown below.")

    def _swap(self) -> None:
        if self.feed.error is not None:
            return self._failed(self.feed.error)
        try:
            finished = self._finished_view(self.path, None if isinstance(self.channels, int) else self.channels)
        except Exception as exc:  # noqa: BLE001 - keep the live view, and say why it stays
            self._stop_callback()
            self.status.object = f"**The recording is finished, but its view failed: {type(exc).__name__}: {exc}**"
            return None
        with local_stylesheets():
            self.panel.objects = [finished]
        self.swapped = True
        # stopped only now: stopping a periodic callback leaves the session's document context, and
        # parts made after it would take their stylesheets from the CDN instead of this server
        self._stop_callback()
        return None

    def _stop_callback(self) -> None:
        if self.callback is not None:
            self.callback.stop()
            self.callback = None

    def close(self) -> None:
        """Stop updating and ask the follow thread to end."""
        self._stop_callback()
        self.feed.stop()


def live_viewer(path: Any, *, channels: Sequence[int] | int | None = None, streams: str | Iterable[str] | None = None,
                window: float = 5.0, length: int = 5000, period: int | None = 200,
                finished: Callable[[Any, Sequence[int] | None], Any] | None = None,
                **follow_kwargs: Any) -> pn.viewable.Viewable:  # fmt: skip
    """The live view of a recording being written, as a Panel object (serve it, or show it in a notebook).

    Parameters
    ----------
    path
        The recording: being written (followed from its beginning), about to be written
        (waited for, ``start_timeout``), or finished (its finished view at once).
    channels
        The channels whose traces are drawn (``None``: all; an int: the first that many).
    streams
        Which data streams get a card (a name, glob pattern or list; ``None``: all).
    window
        Seconds of traces shown (the latest ones); ``length``: spikes, stims and rows per
        stream kept.
    period
        Milliseconds between two updates of the view (``None``: none; call
        ``view.update()`` of the :class:`LiveView` yourself).
    finished
        ``finished(path, channels)`` gives the view that replaces the live one when the
        recording ends (default: :func:`cldata.viz.recording_app.recording_viewer`).
    **follow_kwargs
        ``poll_interval``, ``start_timeout``, ``idle_timeout`` of :func:`cldata.follow`.

    Returns
    -------
    panel.Column
        The stable container: its ``objects`` are the live panes, then the finished view.
        ``container.live_view`` is the :class:`LiveView` behind it.

    Examples
    --------
    >>> live_viewer("rec.h5", channels=[0, 1, 2, 3])   # doctest: +SKIP
    """
    if isinstance(path, (str, os.PathLike)) and Path(path).exists() and not journal_path(Path(path)).exists():
        shown = None if isinstance(channels, int) else channels  # (the finished view's default: the first 16)
        return pn.Column((finished or _default_finished)(path, shown), sizing_mode="stretch_width")
    view = LiveView(path, channels=channels, streams=streams, window=window, length=length, period=period,
                    finished=finished, **follow_kwargs)
    view.panel.live_view = view
    return view.panel
