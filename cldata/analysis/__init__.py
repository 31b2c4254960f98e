"""Analyses of CL recordings: the interface (:mod:`~cldata.analysis.base`) and the shipped analyses.

Analyses are named by class name (:mod:`~cldata.analysis.registry`: shipped, registered in a
process, or plugins of the entry-point group ``cldata.analyses``), so parameter files can name
them. Shipped:

- :class:`~cldata.analysis.spikes.FiringRate`, :class:`~cldata.analysis.spikes.ISIHistogram`
  — per-channel rates and inter-spike-interval statistics;
- :class:`~cldata.analysis.psth.StimulusTriggeredHistogram` — spikes around stimulations;
- :class:`~cldata.analysis.bursts.NetworkBursts` — network-burst detection;
- :class:`~cldata.analysis.streams.StreamSpikeSummary` — a numeric data stream aligned to spikes;
- :mod:`~cldata.analysis.cl_toolkit` — the CL analysis toolkit's methods (``CLFiringStats``,
  ``CLNetworkBursts``, ``CLCriticality``, ``CLInformationEntropy``, ``CLLempelZivComplexity``,
  ``CLDctFeatures``, ``CLSpikeTriggeredHistogram``, ``CLFunctionalConnectivity``), giving Cortical
  Labs' numbers, stored as :class:`~cldata.model.results.toolkit.CLToolkitResult`.
"""

from cldata.analysis.base import RESERVED_PARAMETERS, Analysis
from cldata.analysis.bursts import NetworkBursts
from cldata.analysis.cl_toolkit import (
    CLCriticality,
    CLDctFeatures,
    CLFiringStats,
    CLFunctionalConnectivity,
    CLInformationEntropy,
    CLLempelZivComplexity,
    CLNetworkBursts,
    CLSpikeTriggeredHistogram,
    ToolkitAnalysis,
)
from cldata.analysis.psth import StimulusTriggeredHistogram
from cldata.analysis.registry import ANALYSES, AnalysisWarning, get_analysis, register_analysis
from cldata.analysis.spikes import FiringRate, ISIHistogram
from cldata.analysis.streams import StreamSpikeSummary

__all__ = [
    "Analysis",
    "ANALYSES",
    "RESERVED_PARAMETERS",
    "AnalysisWarning",
    "register_analysis",
    "get_analysis",
    "FiringRate",
    "ISIHistogram",
    "StimulusTriggeredHistogram",
    "NetworkBursts",
    "StreamSpikeSummary",
    "ToolkitAnalysis",
    "CLFiringStats",
    "CLNetworkBursts",
    "CLCriticality",
    "CLInformationEntropy",
    "CLLempelZivComplexity",
    "CLDctFeatures",
    "CLSpikeTriggeredHistogram",
    "CLFunctionalConnectivity",
]
