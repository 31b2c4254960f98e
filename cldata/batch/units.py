"""Units of work, and the groups of them that read one recording: what a batch task computes.

A *unit* is one analysis with fixed parameters on one recording as a view sees it (window
and stream selection): the runner lists the units still to compute, and the results of a
unit are stored together. A *recording group* is a few units that read the same recording
through the same window and streams; an executor runs a group as one task, so that:

- the worker opens (or refreshes) the store once per group, not once per unit;
- the store opens the recording's file once, and keeps it open between the group's units;
- the spike table is read once: :func:`cldata.format.spike_snapshot.spike_snapshot` keeps it
  with the open file, and every analysis of the group reuses it.

The units of a group stay independent: each runs as :func:`run_unit` runs it — a recording
handle of its own, its own ``try`` — so a failing analysis is reported with its own error and
the others' results are kept; a group yields one outcome per unit, in order.

How big a group is: every unit of a recording, cut into pieces of at most
:data:`MAX_GROUP_UNITS` (:func:`group_units`), and fewer when a run has few units for many
workers (:func:`group_size`): a store with one recording and a thousand parameter
combinations gives some thirty tasks, not one that leaves the other workers idle.

Examples
--------
>>> units = [Unit("FiringRate", {"min_spikes": k}, rec, "lab-store", "files") for rec in ("r1", "r2")
...          for k in (2, 3, 4)]
>>> [(g.recording_id, len(g)) for g in group_units(units)]
[('r1', 3), ('r2', 3)]
>>> for unit, outcome in iter_group(group_units(units)[0], store):   # doctest: +SKIP
...     print(unit.describe(), outcome)
"""

from __future__ import annotations

import math
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from cldata.analysis.registry import get_analysis
from cldata.errors import ParameterError
from cldata.store.datastore import DataStore
from cldata.store.view import DataStoreView

__all__ = ["Unit", "UnitFailure", "Outcome", "RecordingGroup", "run_unit", "iter_group", "run_group",
           "group_units", "group_size", "unit_failure", "MAX_GROUP_UNITS", "WORKER_STORES"]

#: Most units (analyses of one recording) one task runs. Opening the recording and reading its
#: spike table is then paid at most once per this many analyses — its share of the work is small
#: already at this size — while a recording swept over a thousand combinations still makes some
#: thirty tasks that spread over the workers. It also bounds what a task returns at once (its
#: results travel back together) and what a killed run loses of computed but unstored work.
MAX_GROUP_UNITS = 32


@dataclass(frozen=True)
class Unit:
    """One unit of work: an analysis with fixed parameters on one recording (as a view sees it)."""

    analysis: str
    parameters: dict[str, Any]
    recording_id: str
    store_root: str
    backend: str
    window: Any = None
    streams: Any = None  # a StreamSelection, or None
    label: str = field(default="", compare=False)

    def describe(self) -> str:
        return f"{self.analysis}({self.parameters}) on {self.recording_id}"


@dataclass
class UnitFailure:
    """What went wrong in a unit: the exception's type, message and traceback."""

    error_type: str
    message: str
    traceback: str

    def __str__(self) -> str:
        return f"{self.error_type}: {self.message}"


#: What a unit gives: its results, or what went wrong.
Outcome = list[Any] | UnitFailure


def unit_failure(exc: BaseException, limit: int = 8) -> UnitFailure:
    """The :class:`UnitFailure` of ``exc``, being handled (its traceback is taken, ``limit`` frames)."""
    return UnitFailure(type(exc).__name__, str(exc), traceback.format_exc(limit=limit))


#: The read-only stores this process opened as a worker, by ``(root, backend)``: one per store,
#: kept open between tasks and refreshed at the start of each (a run commits results meanwhile).
WORKER_STORES: dict[tuple[str, str], Any] = {}


def _worker_store(root: str, backend: str) -> Any:
    # one read-only store per worker process, reused by its tasks
    key = (root, backend)
    store = WORKER_STORES.get(key)
    if store is None or store.closed:
        store = DataStore(root, backend=backend, mode="r")
        WORKER_STORES[key] = store
    else:
        store.refresh()
    return store


def run_unit(unit: Unit, store: Any = None) -> list[Any] | UnitFailure:
    """Compute one unit; return its results, or a :class:`UnitFailure` (never raises).

    ``store`` is the store to read from (a worker opens its own, read-only, if ``None``).
    """
    try:
        if store is None:
            store = _worker_store(unit.store_root, unit.backend)
        row = store.catalog.recording_rows[unit.recording_id]
        view = DataStoreView(store, [row], [], unit.streams, unit.window)
        analysis = get_analysis(unit.analysis)(unit.parameters)
        return list(analysis.compute(view.recordings[0]))
    except Exception as exc:  # a failing unit is reported, the others go on
        return unit_failure(exc)


@dataclass(frozen=True)
class RecordingGroup:
    """Units that read one recording through one window and stream selection: one task.

    Made by :func:`group_units`; the recording, store, window and streams are those of its
    units (all alike).

    Raises
    ------
    cldata.errors.ParameterError
        If there are no units, or they do not all read one recording alike.

    Examples
    --------
    >>> group = RecordingGroup((Unit("FiringRate", {}, "r1", "lab-store", "files"),
    ...                         Unit("ISIHistogram", {}, "r1", "lab-store", "files")))
    >>> group.describe()
    '2 analyses on r1'
    """

    units: tuple[Unit, ...]

    def __post_init__(self) -> None:
        if not self.units:
            raise ParameterError("a recording group needs at least one unit")
        first = _group_key(self.units[0])
        if any(_group_key(u) != first for u in self.units[1:]):
            raise ParameterError("the units of a recording group must share the store, recording, window "
                                 "and streams; make groups with group_units()")

    def __len__(self) -> int:
        return len(self.units)

    @property
    def recording_id(self) -> str:
        return self.units[0].recording_id

    def describe(self) -> str:
        return f"{len(self.units)} analyses on {self.recording_id}"


def _group_key(unit: Unit) -> tuple[str, str, str, str, str]:
    # as plan_units tells views apart: window and stream selection by their repr (a selection
    # without one of its own is told apart by identity: units of one view share the object)
    return unit.store_root, unit.backend, unit.recording_id, repr(unit.window), repr(unit.streams)


def group_size(units: int, workers: int) -> int:
    """The largest group for ``units`` units on ``workers`` workers.

    At most :data:`MAX_GROUP_UNITS`, and at most a fair share per worker
    (``ceil(units / workers)``): a run of few recordings, or of one, is spread over the
    workers rather than left to one of them while the others idle.

    Examples
    --------
    >>> group_size(12, 4), group_size(1000, 4), group_size(3, 8)
    (3, 32, 1)
    """
    return max(1, min(MAX_GROUP_UNITS, math.ceil(units / max(1, workers))))


def group_units(units: Iterable[Unit], max_size: int | None = MAX_GROUP_UNITS) -> list[RecordingGroup]:
    """The units as groups sharing a recording (window and streams), each at most ``max_size`` long.

    Units keep their order within a group, and groups come in the order of their recordings'
    first unit. A recording with more than ``max_size`` units is cut into as few groups as
    that allows, of (nearly) equal sizes; ``max_size=None`` keeps each recording whole.

    Raises
    ------
    cldata.errors.ParameterError
        If ``max_size`` is not a positive integer or ``None``.

    Examples
    --------
    >>> units = [Unit("FiringRate", {"min_spikes": k}, rec, "store", "files") for rec in "ab" for k in range(5)]
    >>> [(g.recording_id, len(g)) for g in group_units(units, max_size=3)]
    [('a', 3), ('a', 2), ('b', 3), ('b', 2)]
    """
    if max_size is not None and (not isinstance(max_size, int) or isinstance(max_size, bool) or max_size < 1):
        raise ParameterError(f"max_size should be a positive integer or None, not {max_size!r:.40}")
    by_recording: dict[tuple[str, ...], list[Unit]] = {}
    for unit in units:
        by_recording.setdefault(_group_key(unit), []).append(unit)
    groups = []
    for members in by_recording.values():
        parts = 1 if max_size is None else math.ceil(len(members) / max_size)
        size, extra = divmod(len(members), parts)
        start = 0
        for i in range(parts):  # the first `extra` parts take one unit more
            stop = start + size + (i < extra)
            groups.append(RecordingGroup(tuple(members[start:stop])))
            start = stop
    return groups


def iter_group(group: RecordingGroup, store: Any = None) -> Iterator[tuple[Unit, Outcome]]:
    """Compute a group's units one after the other; yield ``(unit, results or UnitFailure)`` (never raises).

    The store is opened (or refreshed) once for the group; each unit then runs as
    :func:`run_unit` runs it, on a handle of its own, so a failing unit leaves the others'
    results whole. The recording's file (and spike table) are read once: the store keeps
    the recording open between the units.
    """
    if store is None:
        try:
            store = _worker_store(group.units[0].store_root, group.units[0].backend)
        except Exception as exc:  # no unit can run: each is reported with the reason
            failure = unit_failure(exc)
            for unit in group.units:
                yield unit, failure
            return
    for unit in group.units:
        # a handle per unit (run_unit makes it): an analysis may set state on its handle (the
        # toolkit's analysis_timestamp_limit) that must not reach the next one
        yield unit, run_unit(unit, store)


def run_group(group: RecordingGroup, store: Any = None) -> list[Outcome]:
    """A worker's task: the outcomes of a group's units, in the group's order (never raises)."""
    return [outcome for _, outcome in iter_group(group, store)]
