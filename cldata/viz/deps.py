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

import importlib
from types import ModuleType

__all__ = ["holoviews", "panel", "EXTRA_HINT"]

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


def panel() -> ModuleType:
    """``panel``, with the extensions the viewer uses (raises ImportError naming the extra)."""
    pn = _need("panel")
    holoviews()
    return pn
