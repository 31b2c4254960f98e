"""Functional connectivity: a Pearson-correlation graph of the channels and its summaries (§12).

The model: each channel's spike counts in bins of ``w = int(bin_size_sec * fs)`` frames (the
count matrix of §2, all channels) form a time series; the Pearson correlation of every pair of
active channels (population std > 0) is an undirected, signed edge weight, kept where
``|r| ≥ correlation_threshold`` (every entry when the threshold is 0). On that graph:
weighted clustering (Onnela et al. 2005, Phys Rev E 71:065103), Louvain communities (Blondel
et al. 2008, J Stat Mech P10008) with their weighted modularity (Newman 2004, Phys Rev E
70:056131), and betweenness centrality (Freeman 1977; Brandes 2001) — with networkx (the
clustering as numpy matrix products giving networkx's numbers, :func:`mean_weighted_clustering`).

Official quirks reproduced (§14.11): Louvain is unseeded — here networkx's Louvain draws its seed
from numpy's **global** random state, so ``numpy.random.seed`` makes a run repeatable as it does
officially (python-louvain) — and is skipped (partition ``{}``, modularity 0.0) when some node has
a negative weighted degree, where the official python-louvain call raises and the error is
swallowed; betweenness treats the correlation as the path **length** (strong correlations make
long paths), negative weights included, as networkx computes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np

from cldata.toolkit.preprocess import (
    SpikeData,
    check_layout,
    count_matrix,
    require_spike_table,
    truncating_width,
)
from cldata.toolkit.results import FloatArray, ToolkitResult, metadata_of

__all__ = ["AnalysisResultsFunctionalConnectivity", "analyse_functional_connectivity", "louvain_partition",
           "correlation_adjacency"]


@dataclass(eq=False)
class AnalysisResultsFunctionalConnectivity(ToolkitResult):
    """Functional connectivity of a recording (§12), fields in the official order ("Results")."""

    bin_size_sec: float
    correlation_threshold: float
    adjacency_matrix: FloatArray
    total_edge_weights: float = 0.0
    average_edge_weights: float = 0.0
    clustering_coefficient: float = 0.0
    graph_partition: dict[int, int] = field(default_factory=dict)
    modularity_index: float = 0.0
    max_betweenness_centrality: float = 0.0

    def plot(self, figsize: tuple[float, float] = (6, 6), title: str | None = None,
             save_path: str | None = None, ax: Any = None) -> Any:
        """The graph on the MEA grid: nodes by community (``tab20``), edges by ``|weight|``.

        Nodes at ``(ch // 8, −(ch % 8))``, light blue without a partition; default title
        "Functional Connectivity Graph (thr = {threshold})". Draws on ``ax`` (or a new figure),
        saves to ``save_path`` (tight) or, on its own figure, shows it; returns the Axes. Given
        ``ax`` and no ``save_path`` it just draws (the official plot writes a stray
        ``None.png``). Needs matplotlib (``pip install "cldata[plot]"``).

        Raises
        ------
        ValueError
            The adjacency matrix has no edge.

        Examples
        --------
        >>> ax = result.plot(save_path="fc.png")   # doctest: +SKIP
        """
        # why here: the plots sit above the results they draw (a documented back edge of
        # tests/test_architecture.py) and import matplotlib, an optional extra, when drawing
        from cldata.toolkit.plots.connectivity import plot_connectivity

        return plot_connectivity(self, figsize=figsize, title=title, save_path=save_path, ax=ax)


def correlation_adjacency(counts: np.ndarray, rows: np.ndarray, size: int, threshold: float) -> np.ndarray:
    """The ``size × size`` adjacency of §12 steps 2–4 from a count matrix (rows = channels).

    Silent rows (population std 0) keep zero rows and columns; the diagonal is 0; entries with
    ``|r| < threshold`` are zeroed when ``threshold > 0``. Fewer than two active rows or two
    bins give the zero matrix.

    Examples
    --------
    >>> correlation_adjacency(np.array([[1, 0, 1], [1, 0, 1], [0, 0, 0]]), np.arange(3), 3, 0.5)[0]
    array([0., 1., 0.])
    """
    adjacency = np.zeros((size, size), dtype=np.float64)
    if size < 2 or counts.shape[1] < 2:
        return adjacency
    active = counts.std(axis=1) > 0
    if int(active.sum()) < 2:
        return adjacency
    r = np.corrcoef(counts[active])
    np.fill_diagonal(r, 0.0)
    where = np.asarray(rows)[active]
    adjacency[np.ix_(where, where)] = r
    if threshold > 0:
        adjacency[np.abs(adjacency) < threshold] = 0.0
    return adjacency


def mean_weighted_clustering(graph: nx.Graph) -> float:
    """Mean over all nodes of ``networkx.clustering(graph, weight="weight")``, as matrix products.

    Onnela's weighted clustering ``c_u = t_u / (d_u (d_u − 1))`` with ``t_u`` the sum over
    ordered pairs of neighbours ``(v, w)`` of ``∛(ŵ_uv ŵ_vw ŵ_wu)``, ``ŵ`` = weight / largest
    edge weight (signed, real cube roots), 0 without a triangle: ``t = diag(Ĉ³)`` with
    ``Ĉ = ∛Ŵ``. The same numbers as networkx to rounding (it sums triangle by triangle in
    Python, 0.1 s on a dense 64-node graph; this takes a millisecond). Weights are taken from
    the graph, which keeps one weight per edge.

    Examples
    --------
    >>> g = nx.Graph([(0, 1, {"weight": 1.0}), (1, 2, {"weight": 1.0}), (0, 2, {"weight": 1.0}), (2, 3, {"weight": 1.0})])
    >>> round(mean_weighted_clustering(g), 12) == round(float(np.mean(list(nx.clustering(g, weight="weight").values()))), 12)
    True
    """
    nodes = list(graph.nodes)
    if graph.number_of_edges() == 0 or not nodes:
        return 0.0
    weights = nx.to_numpy_array(graph, nodelist=nodes, weight="weight", nonedge=0.0)
    largest = max(w for _, _, w in graph.edges(data="weight"))
    roots = np.cbrt(weights / largest)
    triangles = np.einsum("ij,jk,ki->i", roots, roots, roots)
    degrees = np.array([graph.degree(n) for n in nodes], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_node = np.where(triangles == 0, 0.0, triangles / (degrees * (degrees - 1)))
    return float(np.mean(per_node))


def louvain_partition(graph: nx.Graph) -> dict[int, int]:
    """Louvain communities of a weighted graph as ``{node: community}``, ``{}`` where the
    official python-louvain call fails (a node with negative weighted degree, or no positive
    total weight).

    The seed is drawn from numpy's global random state (the official call draws from it too),
    so ``numpy.random.seed(s)`` beforehand makes the partition repeatable. Communities are
    numbered 0, 1, … in the order of their smallest node.

    Examples
    --------
    >>> g = nx.Graph([(0, 1, {"weight": 1.0}), (2, 3, {"weight": 1.0})])
    >>> louvain_partition(g)
    {0: 0, 1: 0, 2: 1, 3: 1}
    """
    degrees = dict(graph.degree(weight="weight"))
    if any(d < 0 for d in degrees.values()) or graph.size(weight="weight") <= 0:
        return {}
    seed = int(np.random.randint(0, 2**31 - 1))
    communities = nx.community.louvain_communities(graph, weight="weight", seed=seed)
    ordered = sorted((sorted(c) for c in communities), key=lambda members: members[0])
    label = {node: k for k, members in enumerate(ordered) for node in members}
    return {node: label[node] for node in sorted(graph.nodes)}


def analyse_functional_connectivity(
    data: SpikeData,
    bin_size_sec: float,
    correlation_threshold: float = 0.6,
) -> AnalysisResultsFunctionalConnectivity:
    """Correlation graph of the channels and its summaries (§12).

    Parameters
    ----------
    data : SpikeData
        The recording's spikes and window.
    bin_size_sec : float
        Bin width, seconds; ``int(bin_size_sec * fs)`` frames (truncated).
    correlation_threshold : float
        Least ``|r|`` of an edge, in ``[0, 1]``; 0 keeps every entry.

    Returns
    -------
    AnalysisResultsFunctionalConnectivity
        All metrics 0.0 and partition ``{}`` when there is no edge (fewer than two bins or two
        active channels, or nothing above the threshold).

    Raises
    ------
    ValueError
        If the layout check fails, the recording has no spikes table, the threshold is outside
        ``[0, 1]`` (officially an assertion) or the bin width is 0 frames.

    Notes
    -----
    Quirks kept (§14.11): Louvain is unseeded (numpy's global random state) and skipped
    silently on a negative weighted degree; betweenness uses the correlation as path length.

    Examples
    --------
    >>> res = analyse_functional_connectivity(data, bin_size_sec=0.1, correlation_threshold=0.2)  # doctest: +SKIP
    >>> res.adjacency_matrix.shape   # doctest: +SKIP
    (64, 64)
    """
    check_layout(data)
    require_spike_table(data)
    if not 0 <= correlation_threshold <= 1:
        raise ValueError(f"correlation_threshold must lie in [0, 1], not {correlation_threshold!r}")
    w = truncating_width(bin_size_sec, data.fs)
    if w <= 0:
        raise ValueError(f"bin_size_sec={bin_size_sec!r} gives a bin width of {w} frames")
    counts, rows = count_matrix(data, w)
    size = data.channel_count
    adjacency = correlation_adjacency(counts, rows, size, correlation_threshold)
    result = AnalysisResultsFunctionalConnectivity(
        metadata=metadata_of(data), bin_size_sec=bin_size_sec, correlation_threshold=correlation_threshold,
        adjacency_matrix=adjacency)
    graph = nx.from_numpy_array(adjacency)
    if graph.number_of_edges() == 0:
        return result
    weights = np.array([d for _, _, d in graph.edges(data="weight")], dtype=np.float64)
    result.total_edge_weights = float(np.sum(weights))
    result.average_edge_weights = float(np.mean(weights))
    result.clustering_coefficient = mean_weighted_clustering(graph)
    partition = louvain_partition(graph)
    result.graph_partition = partition
    if len(set(partition.values())) >= 2:
        communities = [{n for n, k in partition.items() if k == label} for label in sorted(set(partition.values()))]
        result.modularity_index = float(nx.community.modularity(graph, communities, weight="weight"))
    betweenness = nx.betweenness_centrality(graph, weight="weight", normalized=True)
    result.max_betweenness_centrality = float(max(betweenness.values()))
    return result
