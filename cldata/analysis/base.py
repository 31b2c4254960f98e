"""The analysis interface: parametrised computations that turn recordings into typed results.

An analysis declares its parameters (``required_parameters``, ``optional_parameters``,
checked when it is made) and computes the results of one recording in
:meth:`Analysis.compute` — a pure function of the recording (read through the view's
window and stream selection) and the parameters, so it can run in another process or on
a Dask worker. :meth:`Analysis.perform_analysis` runs it over a view and stores the
results into the full datastore, as mozaik's analyses do; the batch runner
(:mod:`cldata.batch`) does the same at scale, skipping what is stored.

Every result an analysis stores carries the analysis parameters plus ``analysis`` (the
analysis name) in its parameters and the recording id as its source, so
``store.filter(analysis="FiringRate", bin_ms=5)`` finds them, and a unit of work
(analysis, parameters, recording) is known to be done when one of its results exists
(the runner commits all results of a unit at once).

Examples
--------
>>> class MeanRate(Analysis):
...     '''Mean firing rate of a recording.'''
...     optional_parameters = {"min_rate_hz": ((int, float), 0.0)}
...     def compute(self, recording):
...         view = recording.view()                       # windowed
...         start, stop = view.clipped_window
...         seconds = (stop - start) / view.frames_per_second
...         rate = len(view.read_spikes(waveforms=False)) / seconds / view.channel_count
...         return [self.result(SingleValue, "mean_rate", rate * pq.Hz, recording=recording)]
>>> MeanRate({"min_rate_hz": 0.5}).perform_analysis(store)     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from cldata.core.canonical import plain
from cldata.core.param_check import check_parameters
from cldata.core.paramsets import plain_parameters
from cldata.model.entries import MISSING, lookup
from cldata.query.params import result_rows

if TYPE_CHECKING:  # pragma: no cover
    from cldata.model.results import AnalysisResult
    from cldata.store.view import DataStoreView, RecordingHandle

__all__ = ["Analysis", "RESERVED_PARAMETERS"]

#: parameter names an analysis may not declare: the runner and the queries use them
RESERVED_PARAMETERS = ("analysis", "identifier", "kind", "window")


class Analysis:
    """Base class of analyses (see module doc).

    Parameters
    ----------
    parameters
        A dict or ParameterSet of the analysis parameters; keywords are merged in.

    Raises
    ------
    cldata.errors.ParameterError
        Naming every missing, unexpected and mistyped parameter.
    """

    required_parameters: ClassVar[dict[str, Any]] = {}
    optional_parameters: ClassVar[dict[str, tuple[Any, Any]]] = {}

    def __init__(self, parameters: Mapping[str, Any] | None = None, **kw: Any):
        given = {**plain_parameters(parameters, f"the parameters of {type(self).__name__}"), **kw}
        self.parameters: dict[str, Any] = plain(check_parameters(type(self).__name__, self.required_parameters,
                                                                  self.optional_parameters, given))

    @property
    def name(self) -> str:
        """The analysis name stored with its results (the class name)."""
        return type(self).__name__

    def compute(self, recording: RecordingHandle) -> list[AnalysisResult]:
        """The results for one recording. Subclasses implement this; it must not write to the store."""
        raise NotImplementedError(f"{type(self).__name__} does not implement compute()")

    def result(self, kind: type[AnalysisResult], identifier: str, *args: Any, recording: RecordingHandle,
               tags: Any = (), extra: Mapping[str, Any] | None = None, **fields: Any) -> AnalysisResult:
        """A result of ``kind`` carrying this analysis' parameters and the recording as source.

        ``extra`` adds parameters that distinguish several results of one run (e.g. a channel).
        """
        params = {**self.parameters, **dict(extra or {}), **self.result_parameters(recording)}
        return kind(identifier, *args, parameters=params, sources=[recording.id], tags=tags, **fields)

    def result_parameters(self, recording: RecordingHandle | None = None) -> dict[str, Any]:
        """The parameters every result of this analysis carries (to find them again).

        The analysis name is added, and, for a recording seen through a time window, the
        window in frames (``window``), so that results of a part never pass for results
        of the whole recording.
        """
        params = {**self.parameters, "analysis": self.name}
        if recording is not None and recording.window != (None, None):
            params["window"] = list(recording.window)
        return params

    def is_done(self, store: DataStoreView, recording: RecordingHandle | str) -> bool:
        """Whether results of this analysis, with these parameters, exist for the recording."""
        handle = None if isinstance(recording, str) else recording
        recording_id = recording if isinstance(recording, str) else recording.id
        cat = store.full_datastore.catalog
        done_for = cat.results_by_source.get(recording_id)
        if not done_for:
            return False
        params = self.result_parameters(handle)
        # tuples: a list-valued parameter must equal the list, not be "any of" it
        criteria = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
        rows = result_rows(cat, frozenset(done_for), criteria)
        if "window" not in params:  # whole-recording results only
            rows = {r for r, e in cat.result_entries(sorted(rows)).items() if lookup(e.parameters, "window") is MISSING}
        return bool(rows)

    def perform_analysis(self, dsv: DataStoreView, *, skip_done: bool = True) -> list[str]:
        """Compute and store the results for every recording of ``dsv``; return their ids.

        The results go into ``dsv.full_datastore`` (which must be writable) and are
        committed once per recording.
        """
        store = dsv.full_datastore
        ids: list[str] = []
        for rec in dsv.recordings:
            if skip_done and self.is_done(store, rec):
                continue
            ids.extend(store.add_analysis_results(self.compute(rec)))
            store.commit()
        return ids

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.parameters!r})"
