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
        "executor": {"kind": "processes", "workers": 2},    # or serial, or dask
    }

The runner opens the store as its only writer, applies the query chain, and lists the
units of work — every (analysis, parameter combination, recording) — leaving out those
whose results are already stored (DataJoint's *populate*). Units run on the executor, the
analyses of one recording together (one task opens the recording and reads its spikes once
for all of them: :mod:`cldata.batch.units`);
results are committed as each unit finishes, all of a unit at once, so a run that is
interrupted resumes where it stopped, and a run repeated computes nothing. A unit that
fails is reported with its analysis, parameters and recording; the others go on.

A parameter set says *what to analyse*; it is data, often written by someone else. What
to trust and what to destroy is decided only by the person running the batch, through
arguments of :func:`run_batch` (options of ``cldata run``), and a parameter set asking
for them is refused with :class:`~cldata.errors.ParameterError` before the store is opened:

- the dask scheduler to connect to (``scheduler=``, ``--scheduler``; an ``executor.address``
  in the parameters is refused: a scheduler can run code in the runner's process);
- emptying the store first (``wipe_store=True``, ``--wipe-store``; a ``store.mode`` other
  than ``"a"`` is refused). ``store.replace`` stays a parameter: it only lets a
  recomputed result take the place of the stored result with the same identity;
- the size of the run: sweeps are counted (the product of their axis lengths, without
  building it) before anything is expanded, and a run of more than ``max_units`` units
  (:data:`MAX_UNITS` unless raised with ``max_units=`` / ``--max-units``) is refused with
  the axes, their lengths and the product; the count of units — parameter combinations ×
  selected recordings — is checked again once the query has selected the recordings,
  before the units are listed.

Examples
--------
>>> report = run_batch(load_parameters("param/demo_rates.param"))    # doctest: +SKIP
>>> print(report)                                                    # doctest: +SKIP
computed 12 analyses (36 results), skipped 0 already stored, 0 failed, in 3.1 s
>>> run_batch(load_parameters("param/demo_psth.param"), scheduler="tcp://10.0.0.9:8786")  # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cldata.analysis.base import Analysis
from cldata.analysis.registry import get_analysis
from cldata.batch.executors import Unit, UnitFailure, check_executor_spec, make_executor
from cldata.core.display import progress_bar
from cldata.core.param_check import check_parameters
from cldata.core.paramsets import plain_parameters, plain_value
from cldata.errors import ParameterError, StoreFormatError
from cldata.query.base import run_query_chain
from cldata.store.datastore import MARKER, DataStore
from cldata.store.view import DataStoreView

__all__ = ["run_batch", "RunReport", "plan_units", "build_analyses", "count_combinations", "MAX_UNITS"]

#: The most units (analysis x parameter combination x recording) a run may have unless the
#: person running it raises the limit (``max_units=``, ``cldata run --max-units N``). A few
#: lines of parameter file can describe an astronomically large sweep (five axes of a hundred
#: values: 10**10 combinations); this bounds what is built and computed before anything is.
MAX_UNITS = 100_000

# sweep sizes are counted exactly up to here; beyond, only their order of magnitude matters
_EXACT_UP_TO = 10**18

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
        text = (f"computed {self.computed} analyses ({self.results} results), skipped {self.skipped} already stored, "
                f"{len(self.failures)} failed, in {self.seconds:.1f} s")
        if self.computed == 0 and not self.failures:
            text += " — nothing new to compute"
        for unit, failure in self.failures:
            text += f"\n  FAILED {unit.describe()}: {failure}"
        return text


def _product(lengths: list[int]) -> int:
    """The product of ``lengths``, saturated just above ``_EXACT_UP_TO`` (one multiplication per
    axis; the number never grows past a few words, however many axes there are)."""
    n = 1
    for length in lengths:
        n = min(n * length, _EXACT_UP_TO + 1)
    return n


def _magnitude(lengths: list[int]) -> int:
    """``k`` such that the product of ``lengths`` is at least ``10**k`` (from logarithms: exact
    products of thousands of axes are never formed)."""
    return int(sum(math.log10(x) for x in lengths))


def _size_text(lengths: list[int]) -> str:
    """``"10,000"``, or ``"more than 10^4000"`` for a product too large to state exactly."""
    n = _product(lengths)
    return f"{n:,}" if n <= _EXACT_UP_TO else f"more than 10^{_magnitude(lengths)}"


def count_combinations(spec: Mapping[str, Any]) -> tuple[int, list[tuple[str, dict[str, int]]]]:
    """How many analyses ``spec`` (the ``analyses`` section of a run) describes, without building them.

    Each entry counts the product of its sweep axes' lengths (1 without sweeps).

    Returns
    -------
    (int, list of (str, dict))
        The number of combinations (saturated just above 10**18), and for every entry its
        name and ``{axis: number of values}``.

    Raises
    ------
    cldata.errors.ParameterError
        For a malformed entry or a sweep without values.

    Examples
    --------
    >>> from parameters import ParameterRange
    >>> count_combinations({"a": {"class": "FiringRate", "params": {"x": ParameterRange([1, 2, 3])}},
    ...                     "b": {"class": "FiringRate"}})
    (4, [('a', {'x': 3}), ('b', {})])
    """
    from cldata.batch.sweep import sweep_axes  # start-up time: sweeps import `parameters` (and scipy)

    total, entries = 0, []
    for name, entry in plain_value(spec).items():
        if not isinstance(entry, Mapping) or "class" not in entry or set(entry) - {"class", "params"}:
            raise ParameterError(f'analysis {name!r} is {{"class": name, "params": {{...}}}}, not {entry!r:.100}')
        params = entry.get("params") or {}
        if not isinstance(params, Mapping):
            raise ParameterError(f"analysis {name!r}: 'params' should be a mapping, not {type(params).__name__}")
        axes = {path: len(values) for path, values in sweep_axes(params).items()}
        entries.append((name, axes))
        total = min(total + _product(list(axes.values())), _EXACT_UP_TO + 1)
    return total, entries


def _check_max_units(max_units: Any) -> int:
    if not isinstance(max_units, int) or isinstance(max_units, bool) or max_units < 1:
        raise ParameterError(f"max_units should be a positive integer, not {max_units!r:.40}")
    return max_units


def _too_many(what: str, limit: int, details: str) -> ParameterError:
    return ParameterError(
        f"{what}, more than the limit of {limit:,} units (analysis x parameter combination x recording) "
        f"a run may have: {details}. Sweep fewer values or split the run into several parameter files; "
        f"to run it anyway, raise the limit: cldata run FILE --max-units N (from Python: "
        f"run_batch(parameters, max_units=N))"
    )


def _describe_sweeps(entries: list[tuple[str, dict[str, int]]]) -> str:
    shown = []
    for name, axes in entries[:10]:
        if not axes:
            shown.append(f"analysis {name!r}: 1 (no sweep)")
            continue
        items = list(axes.items())
        factors = " x ".join(f"{path} ({n} values)" for path, n in items[:10])
        if len(items) > 10:
            factors += f" x {len(items) - 10} more axes"
        shown.append(f"analysis {name!r} sweeps {factors} = {_size_text(list(axes.values()))} combinations")
    if len(entries) > 10:
        shown.append(f"and {len(entries) - 10} more analyses")
    return "; ".join(shown)


def build_analyses(spec: Mapping[str, Any], *, max_units: int = MAX_UNITS) -> list[tuple[str, Analysis]]:
    """``(entry name, analysis)`` for every analysis entry and every sweep combination.

    The combinations are counted first (:func:`count_combinations`), and nothing is
    expanded if there are more than ``max_units``.

    Raises
    ------
    cldata.errors.ParameterError
        For an unknown analysis class, parameters it refuses, or more than ``max_units``
        combinations (before anything runs; the message names the axes, their lengths
        and the product).

    Examples
    --------
    >>> from parameters import ParameterRange
    >>> [name for name, _ in build_analyses({"r": {"class": "FiringRate",
    ...                                             "params": {"min_spikes": ParameterRange([2, 3])}}})]
    ['r', 'r']
    """
    from cldata.batch.sweep import iter_sweeps  # start-up time: sweeps import `parameters` (and scipy)

    max_units = _check_max_units(max_units)
    total, entries = count_combinations(spec)
    if total > max_units:
        # the total is at least its largest term
        size = (f"{total:,}" if total <= _EXACT_UP_TO
                else f"more than 10^{max(_magnitude(list(axes.values())) for _, axes in entries)}")
        raise _too_many(f"the analyses describe {size} parameter combinations", max_units,
                        _describe_sweeps(entries))
    out = []
    for name, entry in plain_value(spec).items():
        cls = get_analysis(entry["class"])
        # one combination at a time: only the (bounded) analyses themselves are kept
        for combination, params in iter_sweeps(entry.get("params") or {}):
            try:
                out.append((name, cls(params)))
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


def _store_parameters(spec: Mapping[str, Any], wipe_store: bool) -> dict[str, Any]:
    """The store section of a run, with the mode the person running it chose.

    A batch run writes results, so the store opens with mode ``"a"``; ``"w"`` (empty the
    store first) only when ``wipe_store`` says so. A parameter set naming another mode is
    refused: emptying a store is not a property of an analysis, and a file received from
    someone else must not be able to delete a store's recordings.
    """
    store = plain_parameters(spec, "the store section")
    mode = store.pop("mode", "a")
    if mode == "w":
        raise ParameterError(
            "store.mode 'w' would empty the store (delete its recordings and results) before the run; a "
            "parameter set may not ask for that. Remove 'mode' from the parameter file (and from --set); "
            "to start the store over, say so on the command line: cldata run FILE --wipe-store "
            "(from Python: run_batch(parameters, wipe_store=True))"
        )
    if mode != "a":
        raise ParameterError(f"store.mode is {mode!r:.40}; a batch run writes its results, so the store opens "
                             "with mode 'a' (the default): remove 'mode' from the parameters")
    store["mode"] = "w" if wipe_store else "a"
    return store


def _require_store(store_params: Mapping[str, Any]) -> None:
    """Refuse (before anything is made) to open a store that does not exist yet: with
    ``create=False`` a mistyped ``root_directory`` makes nothing."""
    if not isinstance(store_params.get("root_directory"), (str, Path)):
        return  # DataStore.from_parameters says what is wrong
    root = Path(store_params["root_directory"])
    if root.is_file() or (root / MARKER).exists():
        return  # a store (or an export, which the store refuses to write to)
    if not root.exists():
        raise StoreFormatError(f"no store at {root}; pass create=True to make one")
    if root.is_dir() and not any(root.iterdir()):
        raise StoreFormatError(f"{root} is an empty directory, not a cldata store; pass create=True to make one there")
    # anything else: DataStore says what it is


def _require_executor(spec: Mapping[str, Any], scheduler: str | None) -> None:
    """The executor's optional library, checked before the store is opened (or made)."""
    if spec.get("kind") == "dask" or scheduler is not None:
        try:
            import dask.distributed  # noqa: F401 - an optional dependency: only asked whether it is there
        except ImportError:
            raise ImportError("the dask executor needs dask.distributed, which is not installed: "
                              "pip install 'cldata[dask]' (or use executor kind 'processes')") from None


def run_batch(parameters: Mapping[str, Any], *, progress: bool = True,
              echo: Callable[[str], None] | None = None, scheduler: str | None = None,
              wipe_store: bool = False, max_units: int = MAX_UNITS, create: bool = True) -> RunReport:
    """Run the batch described by ``parameters`` (see module doc); return what it did.

    Parameters
    ----------
    parameters
        The run: ``store``, ``analyses``, and optionally ``query``, ``executor``,
        ``description``, ``defaults`` (see the module doc).
    progress
        Show a progress bar (needs ``tqdm``).
    echo
        Called with a line saying how many units are to compute.
    scheduler
        Address of a dask scheduler to run the units on (``"tcp://host:8786"``); given, the
        units run there whatever ``executor`` says. ``parameters`` may not name one.
    wipe_store
        Empty the store (delete its recordings and results) before the run. A run adds no
        recordings, so this leaves an empty store with nothing to compute: it is how to
        start a store over from a run description. ``parameters`` may not ask for it.
    max_units
        The most units (analysis x parameter combination x recording) the run may have
        (default :data:`MAX_UNITS`).
    create
        Make the store if it does not exist (the default, as ``mode="a"`` does); ``False``
        refuses a missing store before anything is made (``cldata run`` without
        ``--create``).

    Raises
    ------
    cldata.errors.ParameterError
        For a malformed run description, an ``executor.address`` or a ``store.mode``
        in ``parameters``, more than ``max_units`` units, or a scheduler that cannot be
        reached (all before any unit runs; all but the last two before the store is opened).
    cldata.errors.StoreLockedError
        If another writer has the store open.
    cldata.errors.StoreFormatError
        If the store does not exist and ``create`` is false (before anything is made).
    ImportError
        If the executor is dask and dask.distributed is not installed (before the store is
        opened).

    Examples
    --------
    >>> params = load_parameters("param/demo_psth.param", ["store.root_directory=lab-store"])  # doctest: +SKIP
    >>> print(run_batch(params, max_units=500))                                                 # doctest: +SKIP
    computed 24 analyses (24 results), skipped 0 already stored, 0 failed, in 2.0 s
    """
    params = check_parameters("run", _RUN_REQUIRED, _RUN_OPTIONAL, plain_parameters(parameters, "the run parameters"))
    # what to trust, what to destroy and how much to build: checked before anything is built or opened
    spec = check_executor_spec(params["executor"])
    store_params = _store_parameters(params["store"], bool(wipe_store))
    max_units = _check_max_units(max_units)
    analyses = build_analyses(params["analyses"], max_units=max_units)
    if not create:
        _require_store(store_params)
    _require_executor(spec, scheduler)
    started = time.perf_counter()
    report = RunReport()
    with DataStore.from_parameters(store_params) as store:
        views = run_query_chain(store, params["query"])
        recordings = sum(len(part.recording_ids) for part in (views if isinstance(views, list) else [views]))
        if len(analyses) * recordings > max_units:
            raise _too_many(f"the run has {len(analyses) * recordings:,} units", max_units,
                            f"{len(analyses):,} parameter combinations x {recordings:,} selected recordings")
        todo, report.skipped = plan_units(store, views, analyses)
        if echo:
            echo(f"{len(todo)} analyses to compute, {report.skipped} already stored")
        executor = make_executor(spec, store, scheduler=scheduler)
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
    # only on a terminal, after a second; counted in analyses (a "unit" is a neuron to this audience)
    return progress_bar(total=total, unit=" analyses", desc="cldata run", enabled=True)
