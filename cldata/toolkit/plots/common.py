"""What every toolkit plot shares: pyplot on demand, and the draw / save / show rule (spec §13).

The model: a plot draws on the Axes it is given, or makes its own figure. Then

- with ``save_path`` it saves the figure (tight bounding box), whoever made it;
- without ``save_path`` and without a given Axes it shows its own figure (``plt.show(block=True)``);
- without ``save_path`` but with a given Axes it just draws: the caller owns the figure.

Official bug not reproduced (§13, §14.12): given an Axes and no ``save_path``, the official
plots call ``savefig(None)`` and leave a stray ``None.png`` in the working directory; these
never write a file that was not asked for. The raster plot also closes its figure afterwards
(``close=True``), as the official one does.

matplotlib is an optional extra of cldata (``pip install "cldata[plot]"``) and slow to import:
:func:`pyplot` imports it when a plot is drawn, never with ``import cldata``.

Examples
--------
>>> plt = pyplot("a plot")                                   # doctest: +SKIP
>>> fig, ax, own = figure_and_axes(None, (5, 4))             # doctest: +SKIP
>>> finish(fig, own=own, save_path="plot.png")               # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["PLOT_EXTRA", "finish", "figure_and_axes", "pyplot"]

#: How to install what the plots need.
PLOT_EXTRA = 'pip install "cldata[plot]"'


def pyplot(what: str = "this plot") -> Any:
    """``matplotlib.pyplot``, imported on first use.

    Raises
    ------
    ImportError
        matplotlib is not installed; the message says how to install it.

    Examples
    --------
    >>> pyplot("plot_spike").subplots                          # doctest: +SKIP
    <function subplots at 0x...>
    """
    try:
        # why: matplotlib is an optional extra and takes ~0.5 s to import; only a drawn plot needs it
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(f"{what} needs matplotlib, an optional extra of cldata: {PLOT_EXTRA}") from None
    return plt


def figure_and_axes(ax: Any, figsize: tuple[float, float], what: str = "this plot") -> tuple[Any, Any, bool]:
    """``(figure, axes, own)``: the given Axes and its figure, or a new figure of ``figsize``.

    ``own`` says whether the figure was made here (and so is shown when not saved).

    Examples
    --------
    >>> fig, ax, own = figure_and_axes(None, (5, 4))   # doctest: +SKIP
    >>> own                                            # doctest: +SKIP
    True
    """
    if ax is not None:
        return ax.figure, ax, False
    fig, new_ax = pyplot(what).subplots(figsize=figsize)
    return fig, new_ax, True


def finish(fig: Any, *, own: bool, save_path: str | os.PathLike[str] | None, close: bool = False) -> None:
    """Save the figure to ``save_path`` (tight), or show it if it is the plot's own; then maybe close it.

    A figure drawn on the caller's Axes with no ``save_path`` is left as it is (no ``None.png``).

    Examples
    --------
    >>> finish(fig, own=True, save_path="raster.png", close=True)   # doctest: +SKIP
    """
    plt = pyplot()
    if save_path is not None:
        fig.savefig(os.fspath(save_path), bbox_inches="tight")
    elif own:
        plt.show(block=True)
    if close:
        plt.close(fig)

