"""See a recording, a store, or a recording being written: a browser viewer and HoloViews adapters.

The model
---------
cldata already answers the questions a viewer asks in milliseconds: the min/max overview
pyramid gives the envelope of any window at about the screen's width (:mod:`cldata.overview`),
windowed reads give raw samples, spikes, stimulations and stream entries, and
:func:`cldata.follow` yields what a writer flushes. This package only draws those answers:

- every plot of a recording's time axis is a HoloViews ``DynamicMap`` whose ``RangeX``
  callback asks the overview (or the raw samples, zoomed in) for the viewport it is shown;
- a live recording feeds HoloViews ``Buffer`` streams (bounded backlogs) from a background
  thread following the file;
- the apps are Panel layouts of those plots, served by ``cldata view PATH`` or returned by
  ``rec.viewer()`` / ``store.viewer()`` in a notebook.

holoviews, panel and bokeh are the ``view`` extra (``pip install "cldata[view]"``): importing
this package without them raises an ImportError that says so.
"""

from __future__ import annotations

import importlib
from typing import Any

#: the public names, each loaded from its module on first use (holoviews and panel take seconds)
_NAMES = {
    "RecordingSource": "cldata.viz.source",
    "overview_dmap": "cldata.viz.plots",
    "raster_dmap": "cldata.viz.plots",
    "stream_dmap": "cldata.viz.plots",
    "minimap": "cldata.viz.plots",
    "recording_viewer": "cldata.viz.recording_app",
    "store_viewer": "cldata.viz.store_app",
    "live_viewer": "cldata.viz.live_app",
    "follow_buffer": "cldata.viz.live_buffer",
    "LiveFeed": "cldata.viz.live_buffer",
    "LiveView": "cldata.viz.live_app",
    "viewer_for": "cldata.viz.serve",
    "make_server": "cldata.viz.serve",
    "serve": "cldata.viz.serve",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    if name not in _NAMES:
        raise AttributeError(f"module 'cldata.viz' has no attribute {name!r}")
    return getattr(importlib.import_module(_NAMES[name]), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_NAMES))
