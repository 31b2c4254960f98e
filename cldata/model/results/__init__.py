"""Analysis results: typed objects with an identifier, parameters, sources, tags and a payload.

- :mod:`~cldata.model.results.base` — :class:`AnalysisResult`, what every kind is: identity
  (identifier, parameters, sources), tags, a lazily read payload, repr and notebook display;
- :mod:`~cldata.model.results.kinds` — the shipped kinds (:class:`SingleValue`,
  :class:`PerChannelValue`, :class:`TimeSeries`, :class:`SignalList`,
  :class:`SpikeTrainList`, :class:`Data`), each checking, summarising and plotting itself;
- :mod:`~cldata.model.results.registry` — kinds by name, for stores reading results back:
  shipped, registered (:func:`register_result_kind`), or plugins of the entry-point group
  ``cldata.result_kinds``.

Examples
--------
>>> import quantities as pq
>>> SingleValue("mean_rate", 4.2 * pq.Hz, sources=["rec-1"])
<SingleValue mean_rate = 4.2 Hz, from rec-1>
"""

from cldata.model.results.base import AnalysisResult, result_id_for
from cldata.model.results.kinds import (
    Data,
    PerChannelValue,
    SignalList,
    SingleValue,
    SpikeTrainList,
    TimeSeries,
    units_text,
)
from cldata.model.results.registry import (
    RESULT_KINDS,
    ResultKindWarning,
    get_result_kind,
    register_result_kind,
    result_kinds,
)

__all__ = [
    "AnalysisResult",
    "SingleValue",
    "PerChannelValue",
    "TimeSeries",
    "SignalList",
    "SpikeTrainList",
    "Data",
    "RESULT_KINDS",
    "ResultKindWarning",
    "register_result_kind",
    "result_kinds",
    "get_result_kind",
    "result_id_for",
    "units_text",
]
