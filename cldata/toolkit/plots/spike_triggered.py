"""The spike-triggered histogram plot (spec §11): one panel per (base, target) pair.

The model: each histogram of an
:class:`~cldata.toolkit.spike_triggered.AnalysisResultSpikeTriggeredHistogram` is drawn as bars
at the left edges of ``histogram_bins`` with the bins' widths, a red dashed line at lag 0, in
its own row (the figure is ``figsize[1]`` high per histogram, the rows share their y axis).

Examples
--------
>>> axes = plot_histograms(result, save_path="sth.png")   # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from cldata.toolkit.plots.common import finish, pyplot

if TYPE_CHECKING:  # (typing only: the result's method imports this module)
    from cldata.toolkit.spike_triggered import AnalysisResultSpikeTriggeredHistogram

__all__ = ["plot_histograms"]


def _rows(axes: Sequence[Any] | None, count: int, figsize: tuple[float, float]) -> tuple[Any, list[Any], bool]:
    """The figure, ``count`` Axes and whether the figure is the plot's own."""
    if axes is None:
        fig, grid = pyplot("AnalysisResultSpikeTriggeredHistogram.plot").subplots(
            count, 1, figsize=(figsize[0], figsize[1] * count), sharey=True, squeeze=False)
        return fig, list(grid[:, 0]), True
    given = list(np.asarray(axes, dtype=object).ravel())
    if len(given) < count:
        raise ValueError(f"the result has {count} histograms but axes has {len(given)}: "
                         f"give {count} Axes or None")
    return given[0].figure, given[:count], False


def plot_histograms(result: AnalysisResultSpikeTriggeredHistogram, *, figsize: tuple[float, float] = (8, 2),
                    title: str | None = None, save_path: str | os.PathLike[str] | None = None,
                    axes: Sequence[Any] | None = None) -> list[Any]:
    """One bar chart per histogram, lag 0 marked; returns the Axes used, one per histogram.

    Raises
    ------
    ValueError
        The result has no histogram (no channel reached the firing-rate threshold, or only one
        did), or ``axes`` has fewer Axes than there are histograms.

    Examples
    --------
    >>> axes = plot_histograms(result, title="Top channels")   # shown   # doctest: +SKIP
    """
    pairs = list(result.histograms.items())
    if not pairs:
        raise ValueError("the spike-triggered histogram result has no histogram to plot: fewer than two "
                         "channels reached min_firing_rate_threshold_hz (lower it, or raise num_channels)")
    fig, rows, own = _rows(axes, len(pairs), figsize)
    bins = np.asarray(result.histogram_bins, dtype=np.float64)
    for ax, ((base, target), counts) in zip(rows, pairs, strict=True):
        ax.bar(bins[:-1], np.asarray(counts), width=np.diff(bins), align="edge")
        ax.axvline(0, color="red", linestyle="--")
        ax.set_title(f"Base: Channel {base}, Target: Channel {target}")
        ax.set_xlabel("Time (secs) relative to base spike")
        ax.set_ylabel("Spike Count")
    fig.suptitle(title if title is not None else "Spike-triggered Histograms")
    if own:
        fig.tight_layout()
    finish(fig, own=own, save_path=save_path)
    return rows
