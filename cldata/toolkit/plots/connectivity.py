"""The functional connectivity graph plot (spec §12): channels on the MEA grid, edges by weight.

The model: the graph of an
:class:`~cldata.toolkit.connectivity.AnalysisResultsFunctionalConnectivity` (one node per
channel, one edge per non-zero adjacency entry) is drawn with every channel at its grid position
``(ch // 8, −(ch % 8))``, coloured by its Louvain community (colormap ``tab20``, cycling past 20
communities) or light blue when there is no partition, edges ``1 + 4·|w|/max|w|`` wide (alpha
0.7), channel labels, no axis.

Examples
--------
>>> ax = plot_connectivity(result, save_path="fc.png")   # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np

from cldata.toolkit.plots.common import figure_and_axes, finish, pyplot

if TYPE_CHECKING:  # (typing only: the result's method imports this module)
    from cldata.toolkit.connectivity import AnalysisResultsFunctionalConnectivity

__all__ = ["grid_position", "plot_connectivity"]

#: Rows of the common MEA layout (channels run down its columns).
LAYOUT_SIDE = 8


def grid_position(channel: int) -> tuple[int, int]:
    """Where a channel is drawn: ``(channel // 8, −(channel % 8))`` (channel 0 top-left).

    Examples
    --------
    >>> grid_position(9)
    (1, -1)
    """
    return channel // LAYOUT_SIDE, -(channel % LAYOUT_SIDE)


def plot_connectivity(result: AnalysisResultsFunctionalConnectivity, *, figsize: tuple[float, float] = (6, 6),
                      title: str | None = None, save_path: str | os.PathLike[str] | None = None,
                      ax: Any = None) -> Any:
    """The connectivity graph on the MEA grid; returns the Axes.

    Raises
    ------
    ValueError
        The adjacency matrix has no edge (nothing reached the correlation threshold).

    Examples
    --------
    >>> ax = plot_connectivity(result, title="FC, 0.1 s bins")   # shown   # doctest: +SKIP
    """
    graph = nx.from_numpy_array(np.asarray(result.adjacency_matrix, dtype=np.float64))
    if graph.number_of_edges() == 0:
        raise ValueError(f"the connectivity graph has no edge (no |correlation| >= {result.correlation_threshold}): "
                         "nothing to plot; analyse with a lower correlation_threshold")
    fig, ax, own = figure_and_axes(ax, figsize, "AnalysisResultsFunctionalConnectivity.plot")
    positions = {node: grid_position(node) for node in graph.nodes}
    partition = result.graph_partition
    if partition:
        palette = pyplot().get_cmap("tab20")
        colours: Any = [palette(int(partition.get(node, 0)) % palette.N) for node in graph.nodes]
    else:
        colours = "lightblue"
    weights = np.abs([weight for _, _, weight in graph.edges(data="weight")])
    nx.draw_networkx_nodes(graph, positions, ax=ax, node_size=120, node_color=colours)
    nx.draw_networkx_edges(graph, positions, ax=ax, width=1 + 4 * weights / weights.max(), alpha=0.7)
    nx.draw_networkx_labels(graph, positions, ax=ax, font_size=6)
    ax.set_axis_off()
    ax.set_title(title if title is not None else f"Functional Connectivity Graph (thr = {result.correlation_threshold})")
    finish(fig, own=own, save_path=save_path)
    return ax
