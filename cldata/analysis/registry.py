"""Analyses by name: what a parameter file's ``"class"`` and ``cldata run`` name.

One :class:`~cldata.core.registry.Registry` (:data:`ANALYSES`), the mechanism every
pluggable kind of cldata uses, knows three sources of analyses:

- the shipped ones (:mod:`cldata.analysis.spikes`, ``psth``, ``bursts``, ``streams``, and
  ``cl_toolkit``: the CL analysis toolkit's methods), imported when first named;
- classes registered in this process with :func:`register_analysis` (a notebook, a script);
- plugins: a lab's package declares its analyses in the entry-point group ``cldata.analyses``
  and is imported only when one of them is named::

      [project.entry-points."cldata.analyses"]
      MeanRate = "my_lab_analyses:MeanRate"

An analysis is named by its class name (the name its results carry as ``analysis``), and may
not declare a parameter the runner and the queries use (:data:`RESERVED_PARAMETERS`). A
plugin that fails to import gives an :class:`AnalysisWarning` and is left out.

Examples
--------
>>> get_analysis("FiringRate").__name__
'FiringRate'
>>> "FiringRate" in ANALYSES
True
"""

from __future__ import annotations

from typing import Any

from cldata.analysis.base import RESERVED_PARAMETERS, Analysis
from cldata.core.registry import PluginWarning, Registry
from cldata.errors import ParameterError

__all__ = ["ANALYSES", "ENTRY_POINT_GROUP", "AnalysisWarning", "register_analysis", "get_analysis"]

ENTRY_POINT_GROUP = "cldata.analyses"


class AnalysisWarning(PluginWarning):
    """An analysis plugin could not be loaded (the other analyses still work)."""


def _check(name: str, cls: Any) -> type[Analysis]:
    if not (isinstance(cls, type) and issubclass(cls, Analysis)):
        raise ParameterError(f"analysis {name!r} is {cls!r}, not a subclass of cldata.analysis.Analysis")
    if cls.__name__ != name:
        raise ParameterError(f"analysis {name!r} is the class {cls.__name__}: an analysis is named by its class name")
    clash = (set(cls.required_parameters) | set(cls.optional_parameters)) & set(RESERVED_PARAMETERS)
    if clash:
        raise ParameterError(f"{cls.__name__} declares reserved parameter(s) {sorted(clash)}")
    return cls


#: every analysis by name: shipped, registered in this process, or a plugin
ANALYSES: Registry[type[Analysis]] = Registry(
    "analysis", ENTRY_POINT_GROUP,
    builtins={
        "FiringRate": "cldata.analysis.spikes:FiringRate",
        "ISIHistogram": "cldata.analysis.spikes:ISIHistogram",
        "StimulusTriggeredHistogram": "cldata.analysis.psth:StimulusTriggeredHistogram",
        "NetworkBursts": "cldata.analysis.bursts:NetworkBursts",
        "StreamSpikeSummary": "cldata.analysis.streams:StreamSpikeSummary",
        # the CL analysis toolkit's methods (cldata.analysis.cl_toolkit)
        **{name: f"cldata.analysis.cl_toolkit:{name}" for name in (
            "CLFiringStats", "CLNetworkBursts", "CLCriticality", "CLInformationEntropy", "CLLempelZivComplexity",
            "CLDctFeatures", "CLSpikeTriggeredHistogram", "CLFunctionalConnectivity")},
    },
    check=_check, error=ParameterError, warning=AnalysisWarning,
)


def register_analysis(cls: type[Analysis]) -> type[Analysis]:
    """Class decorator: make an analysis nameable in parameter files (by class name) in this process.

    Raises
    ------
    cldata.errors.ParameterError
        If ``cls`` is not an :class:`~cldata.analysis.base.Analysis`, declares a reserved
        parameter, or takes the name of a shipped analysis or of another registered class.

    Examples
    --------
    >>> @register_analysis
    ... class Nothing(Analysis):
    ...     '''Computes nothing.'''
    ...     def compute(self, recording):
    ...         return []
    >>> get_analysis("Nothing") is Nothing
    True
    >>> ANALYSES.unregister("Nothing")
    """
    ANALYSES.register(cls.__name__, cls)
    return cls


def get_analysis(name: str) -> type[Analysis]:
    """The analysis class named ``name`` (no import or evaluation from the name itself).

    Raises
    ------
    cldata.errors.ParameterError
        If no analysis has that name (the message lists the known ones), or its plugin fails
        to load (the message says why).

    Examples
    --------
    >>> get_analysis("NetworkBursts").__name__
    'NetworkBursts'
    """
    try:
        return ANALYSES.get(name)
    except ParameterError:
        if name in ANALYSES:  # a plugin that failed to load: its message says why
            raise
        raise ParameterError(f"unknown analysis {name!r}; known analyses: {ANALYSES.names()}") from None
