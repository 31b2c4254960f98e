"""cldata-example-analysis: a lab's analysis and the kind of result it stores, in one module.

A plugin analysis is an :class:`cldata.analysis.Analysis` subclass (its parameters
declared, a pure ``compute(recording)``); a new kind of result is an
:class:`cldata.AnalysisResult` subclass (its data ``fields``, checked in ``_validate``). The
package's ``pyproject.toml`` names both, and cldata finds them there::

    [project.entry-points."cldata.analyses"]
    ChannelCorrelation = "cldata_example_analysis:ChannelCorrelation"

    [project.entry-points."cldata.result_kinds"]
    CorrelationMatrix = "cldata_example_analysis:CorrelationMatrix"

Examples
--------
>>> import cldata                                                              # doctest: +SKIP
>>> with cldata.open("lab-store") as store:                                     # doctest: +SKIP
...     (corr,) = store.filter_results(analysis="ChannelCorrelation", bin_ms=20).analysis_results
>>> corr.matrix.shape, corr.value_for(3, 7)                                     # doctest: +SKIP
((64, 64), 0.41)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cldata import AnalysisResult
from cldata.analysis import Analysis
from cldata.analysis.common import CHANNELS, NUMBER, channel_list_problem, check_values, selected_spike_frames
from cldata.errors import UnsupportedValueError

__all__ = ["ChannelCorrelation", "CorrelationMatrix"]


class CorrelationMatrix(AnalysisResult):
    """Pairwise values between channels: ``matrix[i, j]`` belongs to ``channels[i]`` and ``channels[j]``."""

    fields = ("matrix", "channels")

    def __init__(self, identifier: str, matrix: Any, channels: Any, **kw: Any):
        super().__init__(identifier, matrix=matrix, channels=channels, **kw)

    def _validate(self, data: dict[str, Any]) -> dict[str, Any]:
        data = super()._validate(data)
        matrix, channels = np.asarray(data["matrix"], dtype=float), np.asarray(data["channels"])
        if channels.ndim != 1 or matrix.shape != (channels.size, channels.size):
            raise UnsupportedValueError(f"CorrelationMatrix needs a square matrix, one row per channel: "
                                        f"{matrix.shape} for {channels.size} channels")
        data["matrix"], data["channels"] = matrix, channels.astype(np.int64)
        return data

    def value_for(self, a: int, b: int) -> float:
        """The value between channels ``a`` and ``b``."""
        index = {int(c): i for i, c in enumerate(self.channels)}
        return float(self.matrix[index[a], index[b]])

    def summary(self) -> dict[str, Any]:
        return {"n": int(len(self.payload()["channels"]))}


class ChannelCorrelation(Analysis):
    """Pearson correlation between the channels' spike counts in bins of ``bin_ms``.

    A silent channel (or a window of one bin) correlates 0 with the others and 1 with itself.

    Parameters
    ----------
    bin_ms : float, default 10
        The width of a bin.
    channels : list of int or None, default None
        The channels to correlate (``None``: all).

    Results (one recording, its window)
    -----------------------------------
    ``channel_correlation`` : CorrelationMatrix
    """

    optional_parameters = {"bin_ms": (NUMBER, 10.0), "channels": (CHANNELS, None)}

    def __init__(self, parameters: Any = None, **kw: Any):
        super().__init__(parameters, **kw)
        p = self.parameters
        check_values(self.name, [(not p["bin_ms"] > 0, f"'bin_ms' should be > 0, not {p['bin_ms']}"),
                                 channel_list_problem(p["channels"])])

    def compute(self, recording: Any) -> list[AnalysisResult]:
        view = recording.view()
        chosen, frames, channels = selected_spike_frames(self.name, view, self.parameters["channels"])
        start, stop = view.clipped_window
        width = max(1, round(self.parameters["bin_ms"] * view.frames_per_second / 1000))
        counts = np.zeros((chosen.size, max(1, -(-(stop - start) // width))))
        np.add.at(counts, (np.searchsorted(chosen, channels), (frames - start) // width), 1)
        centred = counts - counts.mean(axis=1, keepdims=True)
        norms = np.sqrt((centred * centred).sum(axis=1))
        with np.errstate(divide="ignore", invalid="ignore"):
            matrix = (centred @ centred.T) / np.outer(norms, norms)
        matrix = np.where(np.isfinite(matrix), matrix, 0.0)
        np.fill_diagonal(matrix, 1.0)
        return [self.result(CorrelationMatrix, "channel_correlation", matrix, chosen, recording=recording)]
