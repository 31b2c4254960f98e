"""The viewer's optional dependencies, imported once with an error that says how to get them.

holoviews, panel and bokeh are the ``view`` extra of cldata (``pip install "cldata[view]"``):
they are large and only the viewer needs them, so ``import cldata`` does not load them and
the modules of :mod:`cldata.viz` get them through these functions.

Examples
--------
>>> hv = holoviews()                                          # doctest: +SKIP
>>> pn = panel()                                              # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from types import ModuleType

__all__ = ["holoviews", "panel", "bokeh_settings", "local_stylesheets", "EXTRA_HINT"]

EXTRA_HINT = "pip install 'cldata[view]'"


def _need(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ImportError(f"the cldata viewer needs {name} (holoviews, panel and bokeh): {EXTRA_HINT} "
                          f"({exc})") from None


def holoviews() -> ModuleType:
    """``holoviews``, with its Bokeh backend loaded (raises ImportError naming the extra)."""
    hv = _need("holoviews")
    _need("bokeh")
    if "bokeh" not in hv.Store.renderers:
        hv.extension("bokeh", logo=False)
    return hv


_LOADED: set[str] = set()


def panel() -> ModuleType:
    """``panel``, with the extensions the viewer uses (raises ImportError naming the extra).

    ``pn.extension("tabulator")`` is called once: in a notebook it loads Panel's JavaScript
    (the viewer then shows in the notebook), in a server it is what an app calls anyway.
    """
    pn = _need("panel")
    holoviews()
    if "panel" not in _LOADED:
        pn.extension("tabulator")
        _LOADED.add("panel")
    return pn


def bokeh_settings() -> object:
    """Bokeh's settings object (``bokeh.settings.settings``; raises ImportError naming the extra)."""
    return _need("bokeh.settings").settings


@contextlib.contextmanager
def local_stylesheets() -> Iterator[None]:
    """Parts added within the block take their stylesheets from this server, not Panel's CDN.

    Panel gives parts made after a page was served (the live view's finished view and stream
    cards, a recording opened from the store view) stylesheets on its CDN; a viewer must work
    without the internet. The block's changes are held, their stylesheets pointed at the server,
    and then sent: the browser gets the local addresses in the same message.

    Examples
    --------
    >>> with local_stylesheets():                                 # doctest: +SKIP
    ...     column.objects = [recording_viewer(path)]
    """
    pn = panel()
    from panel.io.resources import LOCAL_DIST, patch_model_css  # why here: panel is the view extra

    doc = pn.state.curdoc
    if doc is None or doc.session_context is None:  # (a notebook or a script: Panel's own resources)
        yield
        return
    with pn.io.hold(doc):
        yield
        dist = f"{pn.state.rel_path}/{LOCAL_DIST}" if pn.state.rel_path else LOCAL_DIST
        for root in doc.roots:
            patch_model_css(root, dist_url=dist)
