"""The recording view: a Panel app of one recording's traces, spikes, stimulations and streams.

The model: one :class:`~cldata.viz.source.RecordingSource` answers every plot's viewport, and the
plots (:mod:`cldata.viz.plots`) share one time axis, so a pan or zoom in any of them moves all
of them and each asks the source for its new window (traces from the overview pyramid, raw
samples once zoomed in). Around them:

- a minimap of the whole recording, whose box moves the viewport (``RangeToolLink``);
- a side panel: the channels shown (with their MEA position), the gain, the recording's
  parameters, each stream's ``application`` attributes and, for a store's recording, the
  analysis results computed from it;
- each data stream: its numeric fields as curves, and a table of the window's entries when
  they hold other values.

:func:`recording_viewer` returns the layout (a Panel object: show it in a notebook, or serve it:
``cldata view rec.h5``).

Examples
--------
>>> import cldata.viz as viz                                      # doctest: +SKIP
>>> viz.recording_viewer("one_hour.h5", channels=range(16))       # doctest: +SKIP
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from cldata.core.paramsets import plain_value
from cldata.viz import plots
from cldata.viz.deps import holoviews, panel
from cldata.viz.source import RecordingSource

__all__ = ["recording_viewer", "RecordingApp", "DEFAULT_CHANNELS"]

hv = holoviews()
pn = panel()

#: Channels shown at first when none are asked for: the first 16 (a screen's worth of rows).
DEFAULT_CHANNELS = 16
#: Rows of a stream's entry table (the first ones of the window).
TABLE_ROWS = 200


def _plain(value: Any) -> Any:
    try:
        return plain_value(value)
    except Exception:  # noqa: BLE001 - a value JSON cannot show is shown as its text
        return repr(value)


def _entry_text(value: Any) -> str:
    text = repr(_plain(value)) if not isinstance(value, str) else value
    return text if len(text) <= 200 else text[:197] + "..."


class RecordingApp:
    """The parts of the recording view, kept so that tests and the live view can reach them.

    Attributes
    ----------
    source : RecordingSource
        What every plot asks.
    traces, raster : holoviews.DynamicMap
        The stacked traces and the spike raster (their first stream is the viewport's ``RangeX``).
    streams : dict[str, holoviews.DynamicMap]
        A curve plot per stream with numeric fields.
    tables : dict[str, panel.widgets.Tabulator]
        A table of the window's entries per stream holding other values.
    layout : panel.viewable.Viewable
        The whole view.
    """

    def __init__(self, recording: Any, *, channels: Any = None, width: int = 1500):
        self.source = recording if isinstance(recording, RecordingSource) else RecordingSource(recording)
        src = self.source
        shown = src.channels[:DEFAULT_CHANNELS] if channels is None else src.pick_channels(list(channels))
        self.traces = plots.overview_dmap(src, shown, width=width)
        self.raster = plots.raster_dmap(src, shown, width=width)
        self.streams: dict[str, Any] = {}
        self.tables: dict[str, Any] = {}
        for name in src.stream_names:
            _, first, _ = src.stream_window(name, None, limit=200)
            if plots.numeric_fields(first) or any(isinstance(v, numbers.Real) for v in first):
                self.streams[name] = plots.stream_dmap(src, name)
            if any(not self._numeric_entry(v) for v in first):
                self.tables[name] = pn.widgets.Tabulator(self._entries(name, None), disabled=True, height=180,
                                                         sizing_mode="stretch_width", show_index=False,
                                                         name=f"{name}: entries of the window")
        self.viewport = self.traces.streams[0]
        self.viewport.add_subscriber(self._window_moved)
        self.channel_picker = pn.widgets.MultiChoice(
            name="channels", value=[int(c) for c in shown], options={src.channel_label(c): int(c) for c in src.channels})
        self.gain = pn.widgets.FloatSlider(name="gain", start=0.1, end=10.0, step=0.1, value=1.0)
        self.channel_picker.param.watch(self._channels_changed, "value")
        self.gain.param.watch(lambda e: self.traces.streams[1].event(gain=float(e.new)), "value")
        self.status = pn.pane.Markdown(self._status(None), sizing_mode="stretch_width")
        self.layout = self._layout(width)

    @staticmethod
    def _numeric_entry(value: Any) -> bool:
        if isinstance(value, dict):
            return all(isinstance(x, numbers.Real) for x in value.values())
        return isinstance(value, numbers.Real)

    def _entries(self, name: str, x_range: Any) -> Any:
        import pandas as pd  # why: pandas comes with the view extra (panel needs it); import cldata does not load it

        times, values, more = self.source.stream_window(name, x_range, limit=TABLE_ROWS)
        return pd.DataFrame({"time (s)": np.round(times, 4), "entry": [_entry_text(v) for v in values]})

    def _status(self, x_range: Any) -> str:
        a, b = self.source.clip(x_range)
        return f"**{self.source.name}** · {len(self.source.channels)} channels · {self.source.duration:.3f} s · " \
               f"showing {a:.3f}–{b:.3f} s"

    def _window_moved(self, x_range: Any = None, **_: Any) -> None:
        self.status.object = self._status(x_range)
        for name, table in self.tables.items():
            table.value = self._entries(name, x_range)

    def _channels_changed(self, event: Any) -> None:
        chosen = tuple(int(c) for c in event.new)
        if not chosen:  # an empty plot helps nobody: keep the last choice
            self.channel_picker.value = list(event.old)
            return
        self.traces.streams[1].event(channels=chosen)
        self.raster.streams[1].event(channels=chosen)

    def _results(self) -> Any:
        handle = self.source.handle
        if handle is None:
            return None
        frame = handle.store.results_frame()
        if len(frame) == 0 or "source" not in frame.columns:
            return None
        frame = frame[frame["source"].astype(str) == handle.id]
        frame = frame.dropna(axis=1, how="all").drop(columns=["source"], errors="ignore")
        return frame.astype(str) if len(frame) else None

    def _side(self) -> Any:
        src = self.source
        parts: list[Any] = [pn.pane.Markdown("### Settings"), self.channel_picker, self.gain,
                            pn.pane.Markdown("### Parameters"),
                            pn.pane.JSON({k: _plain(v) for k, v in src.parameters.items()}, depth=2,
                                         sizing_mode="stretch_width")]
        for name in src.stream_names:
            attrs = src.stream_attributes(name)
            if attrs:
                parts += [pn.pane.Markdown(f"**{name}** attributes"),
                          pn.pane.JSON({k: _plain(v) for k, v in attrs.items()}, depth=2, sizing_mode="stretch_width")]
        results = self._results()
        if results is not None:
            parts += [pn.pane.Markdown(f"### Results ({len(results)})"),
                      pn.widgets.Tabulator(results, disabled=True, height=300, show_index=False,
                                           sizing_mode="stretch_width", name="results")]
        return pn.Column(*parts, width=360, scroll=True, name="side")

    def _layout(self, width: int) -> Any:
        src = self.source
        mini = plots.minimap(src, self.channel_picker.value, width=width)
        hv.plotting.links.RangeToolLink(mini, self.traces, axes=["x"])
        timeline = [self.traces, self.raster, *self.streams.values()]
        plot = hv.Layout(timeline).cols(1).opts(shared_axes=True)
        main = pn.Column(self.status, pn.pane.HoloViews(mini, sizing_mode="stretch_width", name="minimap"),
                         pn.pane.HoloViews(plot, sizing_mode="stretch_width", name="timeline"),
                         *self.tables.values(), sizing_mode="stretch_width", name="main")
        return pn.Row(self._side(), main, sizing_mode="stretch_width", name=f"recording {src.name}")


def recording_viewer(recording: Any, *, channels: Any = None, width: int = 1500) -> Any:
    """The recording view of ``recording`` as a Panel object (show it, or serve it).

    Parameters
    ----------
    recording
        A recording file's path, a :class:`~cldata.RecordingView` (its window is what is
        shown) or a store's recording handle (its parameters and results are shown too).
    channels
        The channels shown at first (default: the first 16); the channel box changes them.
    width
        Points per trace asked for each viewport (about the plot's width in pixels).

    Examples
    --------
    >>> view = recording_viewer(store.recordings[0])              # doctest: +SKIP
    >>> view.servable()                                          # doctest: +SKIP
    """
    return RecordingApp(recording, channels=channels, width=width).layout
