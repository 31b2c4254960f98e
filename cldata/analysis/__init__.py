"""Analyses of CL recordings: the interface (:mod:`~cldata.analysis.base`) and the shipped analyses.

Shipped (registered by class name, so parameter files can name them):

- :class:`~cldata.analysis.spikes.FiringRate`, :class:`~cldata.analysis.spikes.ISIHistogram`
  — per-channel rates and inter-spike-interval statistics;
- :class:`~cldata.analysis.psth.StimulusTriggeredHistogram` — spikes around stimulations;
- :class:`~cldata.analysis.bursts.NetworkBursts` — network-burst detection;
- :class:`~cldata.analysis.streams.StreamSpikeSummary` — a numeric data stream aligned to spikes.
"""

from cldata.analysis.base import ANALYSES, RESERVED_PARAMETERS, Analysis, get_analysis, register_analysis
from cldata.analysis.bursts import NetworkBursts
from cldata.analysis.psth import StimulusTriggeredHistogram
from cldata.analysis.spikes import FiringRate, ISIHistogram
from cldata.analysis.streams import StreamSpikeSummary

__all__ = [
    "Analysis",
    "ANALYSES",
    "RESERVED_PARAMETERS",
    "register_analysis",
    "get_analysis",
    "FiringRate",
    "ISIHistogram",
    "StimulusTriggeredHistogram",
    "NetworkBursts",
    "StreamSpikeSummary",
]
