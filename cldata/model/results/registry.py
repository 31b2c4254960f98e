"""Result kinds by name: how a store turns a catalog entry back into the right class.

A store records each result's kind as its class name and, reading it back, asks this
registry for the class. One :class:`~cldata.core.registry.Registry` (:data:`RESULT_KINDS`),
the mechanism every pluggable kind of cldata uses, knows three sources:

- the shipped kinds (:mod:`cldata.model.results.kinds`, and
  :mod:`cldata.model.results.toolkit` for the CL analysis toolkit's results);
- classes registered in this process with :func:`register_result_kind`;
- plugins: a package declares its kinds in the entry-point group ``cldata.result_kinds``,
  imported only when a store meets one::

      [project.entry-points."cldata.result_kinds"]
      Matrix = "my_lab_analyses:Matrix"

A kind is named by its class name. A plugin that fails to import gives a
:class:`ResultKindWarning` and is left out; a store reading a result of a kind unknown
here says so.

Examples
--------
>>> get_result_kind("SingleValue").__name__
'SingleValue'
>>> get_result_kind("Nothing") is None
True
"""

from __future__ import annotations

from typing import Any

from cldata.core.registry import PluginWarning, Registry
from cldata.errors import ParameterError
from cldata.model.results.base import AnalysisResult

__all__ = ["RESULT_KINDS", "ENTRY_POINT_GROUP", "ResultKindWarning", "register_result_kind", "result_kinds",
           "get_result_kind"]

ENTRY_POINT_GROUP = "cldata.result_kinds"


class ResultKindWarning(PluginWarning):
    """A result-kind plugin could not be loaded (the other kinds still work)."""


def _check(name: str, cls: Any) -> type[AnalysisResult]:
    if not (isinstance(cls, type) and issubclass(cls, AnalysisResult)):
        raise ParameterError(f"result kind {name!r} is {cls!r}, not a subclass of cldata.AnalysisResult")
    if cls.__name__ != name:
        raise ParameterError(f"result kind {name!r} is the class {cls.__name__}: a kind is named by its class name")
    return cls


#: every result kind by name: shipped, registered in this process, or a plugin
RESULT_KINDS: Registry[type[AnalysisResult]] = Registry(
    "result kind", ENTRY_POINT_GROUP,
    builtins={**{name: f"cldata.model.results.kinds:{name}" for name in
                 ("SingleValue", "PerChannelValue", "TimeSeries", "SignalList", "SpikeTrainList", "Data")},
              # the CL analysis toolkit's results (cldata.analysis.cl_toolkit's analyses store them)
              "CLToolkitResult": "cldata.model.results.toolkit:CLToolkitResult"},
    check=_check, error=ParameterError, warning=ResultKindWarning,
)


def register_result_kind(cls: type[AnalysisResult]) -> type[AnalysisResult]:
    """Class decorator: make a result kind known to stores (by its class name) in this process.

    Raises
    ------
    cldata.errors.ParameterError
        (a ``ValueError``) if another class has the name already, or ``cls`` is not an
        :class:`~cldata.model.results.base.AnalysisResult`.

    Examples
    --------
    >>> from cldata.model.results.kinds import Data
    >>> @register_result_kind
    ... class Matrix(Data):
    ...     '''A correlation matrix.'''
    >>> get_result_kind("Matrix") is Matrix
    True
    >>> RESULT_KINDS.unregister("Matrix")
    """
    if get_result_kind(cls.__name__) is not cls:  # (a shipped kind may be named again)
        RESULT_KINDS.register(cls.__name__, cls)
    return cls


def get_result_kind(name: str) -> type[AnalysisResult] | None:
    """The result kind named ``name``, or ``None`` if none is known here.

    A plugin that fails to load gives a :class:`ResultKindWarning` (and ``None``).

    Examples
    --------
    >>> get_result_kind("TimeSeries").__name__
    'TimeSeries'
    """
    try:
        return RESULT_KINDS.get(name)
    except ParameterError:
        return None


def result_kinds() -> dict[str, type[AnalysisResult]]:
    """Every known result kind, by name (plugins are imported; a broken one warns and is left out).

    Examples
    --------
    >>> sorted(result_kinds())[:3]
    ['CLToolkitResult', 'Data', 'PerChannelValue']
    """
    kinds = {name: get_result_kind(name) for name in RESULT_KINDS.names()}
    return {name: cls for name, cls in kinds.items() if cls is not None}
