"""The CL analysis toolkit: Cortical Labs' ``RecordingView.analyse_*`` numbers, computed by cldata.

The model: one recording's spike table is read **once** into a :class:`SpikeData` (every row of
``/spikes`` in file order, the recording's extent and the analysis window ``[lo, hi)`` in frames,
what the common-MEA-layout check needs). Every analysis is then a pure function
``analyse_<name>(data, **parameters) -> <Result>`` of that snapshot, vectorised with numpy over
the spike table: the same preprocessing (:mod:`.preprocess`: window-relative spike trains,
count matrices with the method's bin width, the MEA layout) feeds all of them, so a batch unit
that runs the whole toolkit reads the file once. Results (:mod:`.results`) are typed records
with the official field names, dtypes and shapes, written by ``save()`` to the official JSON
file and read back by ``from_file()``.

The behaviour follows the clean-room specification ``specs/CL-ANALYSES.md`` of cl-sdk 1.0.0's
toolkit, official quirks included (each one is documented where it is reproduced).

The result classes and helpers keep their official names (``from cl.analysis import X`` becomes
``from cldata.toolkit import X``, or ``cldata.X`` for the result classes); ``AnalysisResult``
here is the toolkit results' base class (:class:`~cldata.toolkit.results.ToolkitResult`), not
:class:`cldata.AnalysisResult`, the base of the results a store holds. They are loaded on first
use: the analysis modules import scipy and networkx.

Examples
--------
>>> from cldata.toolkit.firing import analyse_firing_stats  # doctest: +SKIP
>>> data = cldata.RecordingView("recording.h5").analysis_data()        # doctest: +SKIP
>>> analyse_firing_stats(data, bin_size_sec=0.5).save("firing.json")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

#: The official public names and the module of cldata.toolkit that defines each.
OFFICIAL_NAMES: dict[str, tuple[str, str]] = {
    "AnalysisResult": ("results", "ToolkitResult"),
    "AnalysisMetadata": ("results", "AnalysisMetadata"),
    "Burst": ("results", "Burst"),
    "Bursts": ("results", "Bursts"),
    "AnalysisResultFiringStats": ("firing", "AnalysisResultFiringStats"),
    "AnalysisResultNetworkBursts": ("network_bursts", "AnalysisResultNetworkBursts"),
    "AnalysisResultCriticality": ("criticality", "AnalysisResultCriticality"),
    "AnalysisResultInformationEntropy": ("entropy", "AnalysisResultInformationEntropy"),
    "AnalysisResultComplexityLempelZiv": ("lempel_ziv", "AnalysisResultComplexityLempelZiv"),
    "AnalysisResultDctFeatures": ("dct", "AnalysisResultDctFeatures"),
    "AnalysisResultSpikeTriggeredHistogram": ("spike_triggered", "AnalysisResultSpikeTriggeredHistogram"),
    "AnalysisResultsFunctionalConnectivity": ("connectivity", "AnalysisResultsFunctionalConnectivity"),
}

__all__ = sorted(OFFICIAL_NAMES)


def __getattr__(name: str) -> Any:
    try:
        module, attr = OFFICIAL_NAMES[name]
    except KeyError:
        raise AttributeError(f"module 'cldata.toolkit' has no attribute {name!r}") from None
    # why a dynamic import: the analysis modules load scipy and networkx, paid on first use only
    return getattr(importlib.import_module(f"cldata.toolkit.{module}"), attr)


def __dir__() -> list[str]:
    return sorted([*globals(), *OFFICIAL_NAMES])
