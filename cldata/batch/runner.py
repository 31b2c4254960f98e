"""The batch runner: a parameter set in, the missing analysis results computed and stored.

A run is described by a parameter set (usually a file in ``param/``)::

    {
        "store": {"root_directory": "lab-store"},          # as DataStore.from_parameters takes it
        "query": [{"class": "ParamFilterQuery", "params": {"params": {"culture": "C7"}}}],
        "analyses": {
            "rates": {"class": "FiringRate", "params": {"min_spikes": 3}},
            "psth": {"class": "StimulusTriggeredHistogram",
                     "params": {"bin_ms": ParameterRange([1, 2, 5])}},   # a sweep: 3 runs
        },
        "executor": {"kind": "processes", "workers": 2},    # or serial, or dask (+ address)
    }

The runner opens the store as its only writer, applies the query chain, and lists the
units of work — every (analysis, parameter combination, recording) — leaving out those
whose results are already stored (DataJoint's *populate*). Units run on the executor;
results are committed as each unit finishes, all of a unit at once, so a run that is
interrupted resumes where it stopped, and a run repeated computes nothing. A unit that
fails is reported with its analysis, parameters and recording; the others go on.

Examples
--------
>>> report = run_batch(load_parameters("param/demo_rates.param"))    # doctest: +SKIP
>>> print(report)                                                    # doctest: +SKIP
computed 12 units (36 results), skipped 0 already stored, 0 failed, in 3.1 s
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cldata.analysis.base import Analysis, get_analysis
from cldata.batch.executors import SerialExecutor, Unit, UnitFailure, make_executor
from cldata.checked import check_parameters
from cldata.errors import ParameterError
from cldata.queries.base import run_query_chain
from cldata.store import DataStore
from cldata.view import DataStoreView

__all__ = ["run_batch", "RunReport", "plan_units"]

_RUN_REQUIRED = {"store": (Mapping,), "analyses": (Mapping,)}
_RUN_OPTIONAL = {"query": ((list, tuple), []), "executor": ((Mapping, type(None)), None),
                 "description": (str, ""),
                 # shared values that other entries refer to with ref(...), e.g. an included defaults file
                 "defaults": (Mapping, {})}


@dataclass
class RunReport:
    """What a batch run did."""

    computed: int = 0
    skipped: int = 0
    results: int = 0
    empty: int = 0
    failures: list[tuple[Unit, UnitFailure]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures

    def __str__(self) -> str:
        text = (f"computed {self.computed} units ({self.results} results), skipped {self.skipped} already stored, "
                f"{len(self.failures)} failed, in {self.seconds:.1f} s")
        if self.computed == 0 and not self.failures:
            text += " — nothing new to compute"
        for unit, failure in self.failures:
            text += f"\n  FAILED {unit.describe()}: {failure}"
        return text


def _as_dict(value: Any) -> Any:
    return value.as_dict() if hasattr(value, "as_dict") else value


def build_analyses(spec: Mapping[str, Any]) -> list[tuple[str, Analysis]]:
    """``(entry name, analysis)`` for every analysis entry and every sweep combination.

    Raises
    ------
    cldata.errors.ParameterError
        For an unknown analysis class or parameters it refuses (before anything runs).
    """
    from cldata.batch.sweep import expand_sweeps

    out = []
    for name, entry in _as_dict(spec).items():
        entry = _as_dict(entry)
        if not isinstance(entry, Mapping) or "class" not in entry or set(entry) - {"class", "params"}:
            raise ParameterError(f'analysis {name!r} is {{"class": name, "params": {{...}}}}, not {entry!r:.100}')
        cls = get_analysis(entry["class"])
        for combination, params in expand_sweeps(_as_dict(entry.get("params") or {})):
            try:
                out.append((name, cls(_as_dict(params))))
            except ParameterError as exc:
                where = f" (sweep point {combination})" if combination else ""
                raise ParameterError(f"analysis {name!r}{where}: {exc}") from None
    return out


def plan_units(store: DataStore, views: DataStoreView | list[DataStoreView],
               analyses: list[tuple[str, Analysis]]) -> tuple[list[tuple[Unit, Analysis]], int]:
    """The units still to compute, and how many are already stored."""
    parts = views if isinstance(views, list) else [views]
    units, skipped, seen = [], 0, set()
    for part in parts:
        for rec in part.recordings:
            for name, analysis in analyses:
                key = (name, repr(analysis.parameters), rec.id, repr(rec.window), repr(part.stream_selection))
                if key in seen:
                    continue
                seen.add(key)
                if analysis.is_done(store, rec):
                    skipped += 1
                    continue
                unit = Unit(analysis.name, analysis.parameters, rec.id, str(store.root), store.backend.name,
                            part.window, part.stream_selection, label=name)
                units.append((unit, analysis))
    return units, skipped


def run_batch(parameters: Mapping[str, Any], *, progress: bool = True,
              echo: Callable[[str], None] | None = None) -> RunReport:
    """Run the batch described by ``parameters`` (see module doc); return what it did.

    Raises
    ------
    cldata.errors.ParameterError
        For a malformed run description (before any unit runs).
    cldata.errors.StoreLockedError
        If another writer has the store open.
    """
    params = check_parameters("run", _RUN_REQUIRED, _RUN_OPTIONAL, dict(_as_dict(parameters)))
    analyses = build_analyses(params["analyses"])
    started = time.perf_counter()
    report = RunReport()
    store_params = dict(_as_dict(params["store"]))
    store_params.setdefault("mode", "a")
    with DataStore.from_parameters(store_params) as store:
        views = run_query_chain(store, [_as_dict(q) for q in params["query"]])
        todo, report.skipped = plan_units(store, views, analyses)
        if echo:
            echo(f"{len(todo)} units to compute, {report.skipped} already stored")
        spec = _as_dict(params["executor"]) or {}
        executor = SerialExecutor(store) if spec.get("kind") == "serial" else make_executor(spec)
        bar = _progress(len(todo), progress)
        try:
            with executor:
                for unit, outcome in executor.run([u for u, _ in todo]):
                    if isinstance(outcome, UnitFailure):
                        report.failures.append((unit, outcome))
                    elif outcome:
                        store.add_analysis_results(outcome)
                        store.commit()  # each unit is durable as soon as it is stored
                        report.computed += 1
                        report.results += len(outcome)
                    else:
                        report.empty += 1
                        report.computed += 1
                    bar.update(1)
        finally:
            bar.close()
    report.seconds = time.perf_counter() - started
    return report


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, enabled: bool) -> Any:
    if not enabled or total == 0:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, unit="unit", desc="cldata run", file=sys.stderr, leave=False)
