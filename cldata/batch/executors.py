"""Where analyses run: in this process, in local worker processes, or on a Dask cluster.

The runner turns a batch into units of work — (analysis, parameters, recording seen
through the view's window and streams) — and hands them to an executor, which yields
``(unit, results or error)`` as units finish, in any order. Workers only read: each opens
the store read-only and returns the results it computed; the runner, the single writer,
stores them.

The analyses of one recording run together: :meth:`Executor.run` gathers the units that
read one recording through one window and streams into groups (:mod:`cldata.batch.units`)
and runs each group as one task, so that a worker opens the store, the recording's file and
its spike table once for all of them — and still yields every unit's own outcome (one
analysis failing loses nothing of the others). A group holds at most
:data:`~cldata.batch.units.MAX_GROUP_UNITS` units, fewer when a run has few units for its
workers (:func:`~cldata.batch.units.group_size`): one recording swept over a thousand
parameter combinations still keeps every worker busy.

- ``serial`` runs units one after the other in this process;
- ``processes`` (the default) runs them in local worker processes;
- ``dask`` submits them to a ``dask.distributed`` cluster: a ``LocalCluster`` started for
  the run, or the scheduler whose address the person running the batch gives
  (``pip install 'cldata[dask]'``).

Which scheduler to connect to is a question of trust, not of analysis: a dask scheduler
sends the runner pickled results and tasks, so connecting to one lets it run code here.
Its address therefore comes only from the person running the command — the ``scheduler``
argument of :func:`make_executor` and :func:`~cldata.batch.runner.run_batch`,
``cldata run --scheduler ADDRESS``, or the environment variable ``CLDATA_DASK_SCHEDULER``
(read by ``cldata run``) — and never from a parameter set: an executor section naming an
``address`` is refused with :class:`~cldata.errors.ParameterError`. Worker counts are
bounded (:data:`MAX_WORKERS`) so that a parameter file cannot start hundreds of processes.

Examples
--------
>>> with make_executor({"kind": "processes", "workers": 4}) as ex:     # doctest: +SKIP
...     for unit, outcome in ex.run(units): ...
>>> [len(g) for g in group_units(units, max_size=32)]                 # doctest: +SKIP
[12, 12, 12]
>>> make_executor({"kind": "dask", "address": "tcp://10.0.0.9:8786"})   # doctest: +ELLIPSIS
Traceback (most recent call last):
...
cldata.errors.ParameterError: executor.address: a parameter set may not name a dask scheduler ...
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context
from typing import Any

from cldata.batch.units import (
    MAX_GROUP_UNITS,
    WORKER_STORES,
    Outcome,
    RecordingGroup,
    Unit,
    UnitFailure,
    group_size,
    group_units,
    iter_group,
    run_group,
    run_unit,
    unit_failure,
)
from cldata.core.param_check import check_parameters
from cldata.core.paramsets import plain_parameters
from cldata.errors import ParameterError

# Unit, UnitFailure, run_unit (and the groups) live in cldata.batch.units; they stay importable from here
__all__ = ["Unit", "UnitFailure", "RecordingGroup", "make_executor", "check_executor_spec", "run_unit",
           "run_group", "group_units", "group_size", "EXECUTORS", "MAX_WORKERS", "MAX_GROUP_UNITS", "SCHEDULER_ENV"]

#: The environment variable ``cldata run`` reads a dask scheduler address from (``--scheduler`` wins).
SCHEDULER_ENV = "CLDATA_DASK_SCHEDULER"

#: Most local workers (processes, or LocalCluster workers) per CPU core a run may ask for.
#: More only makes the workers compete for the cores, and each worker is a Python process
#: with numpy and PyTables loaded (some 100 MB): a parameter file asking for thousands would
#: exhaust the machine.
WORKERS_PER_CORE = 4
MAX_WORKERS = max(1, os.cpu_count() or 1) * WORKERS_PER_CORE

# the read-only stores this process opened as a worker (cldata.batch.units), by their older name
_STORES = WORKER_STORES


class Executor:
    """Runs units; use as a context manager.

    :meth:`run` takes units and groups them (:func:`group_units`, sized for this executor's
    workers); :meth:`run_groups` takes groups made by the caller.
    """

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:  # noqa: B027 - executors without resources have nothing to release
        """Release workers."""

    def group_limit(self, units: int) -> int | None:
        """The largest group for a run of ``units`` units (``None``: a recording's units stay together)."""
        return MAX_GROUP_UNITS

    def run(self, units: Iterable[Unit]) -> Iterator[tuple[Unit, Outcome]]:
        """Yield ``(unit, results or UnitFailure)`` for every unit, as they finish (the analyses of a
        recording run together)."""
        units = list(units)  # counted to size the groups
        return self.run_groups(group_units(units, self.group_limit(len(units))))

    def run_groups(self, groups: Iterable[RecordingGroup]) -> Iterator[tuple[Unit, Outcome]]:
        """Yield ``(unit, results or UnitFailure)`` for every unit of every group, as they finish."""
        raise NotImplementedError


class SerialExecutor(Executor):
    """Units one after the other, in this process, reading from the runner's own store.

    Each outcome is yielded as soon as its unit is computed (the runner stores it before the
    next unit runs); a recording's units stay in one group, so a store opened here (without
    the runner's) is refreshed once per recording.
    """

    def __init__(self, store: Any = None):
        self.store = store

    def group_limit(self, units: int) -> int | None:
        return None

    def run_groups(self, groups: Iterable[RecordingGroup]) -> Iterator[tuple[Unit, Outcome]]:
        for group in groups:
            yield from iter_group(group, self.store)


def _exit_with_parent() -> None:
    """Worker initializer: end this worker when the runner that started it ends.

    A runner killed with SIGKILL cannot stop its pool; orphaned workers would keep the
    store open for reading (holding its readers' lock) forever.
    """
    parent = multiprocessing.parent_process()
    if parent is None:  # pragma: no cover - always set for pool workers
        return

    def watch() -> None:
        parent.join()
        os._exit(1)

    threading.Thread(target=watch, name="cldata-exit-with-parent", daemon=True).start()


class ProcessExecutor(Executor):
    """Units in local worker processes (started fresh: ``spawn``, safe with open HDF5 files)."""

    def __init__(self, workers: int | None = None):
        self.workers = workers or max(1, min(4, os.cpu_count() or 1))
        self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=get_context("spawn"),
                                         initializer=_exit_with_parent)

    def group_limit(self, units: int) -> int | None:
        return group_size(units, self.workers)

    def run_groups(self, groups: Iterable[RecordingGroup]) -> Iterator[tuple[Unit, Outcome]]:
        pending = {}
        queue = iter(groups)  # taken one at a time: the groups are never copied
        exhausted = False
        # keep a bounded number of groups in flight: results come back as they finish
        limit = self.workers * 2
        while not exhausted or pending:
            while not exhausted and len(pending) < limit:
                group = next(queue, None)
                if group is None:
                    exhausted = True
                    break
                pending[self._pool.submit(run_group, group)] = group
            if not pending:
                break
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                yield from _group_outcomes(pending.pop(fut), fut)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _group_outcomes(group: RecordingGroup, future: Any) -> Iterator[tuple[Unit, Outcome]]:
    """Every unit of a finished task with its outcome; if the task itself failed (its worker
    died, its result could not travel back), every unit of it with that failure."""
    try:
        outcomes = future.result()
    except Exception as exc:
        failure = unit_failure(exc, limit=4)
        outcomes = [failure] * len(group.units)
    yield from zip(group.units, outcomes, strict=True)


class DaskExecutor(Executor):
    """Units on a ``dask.distributed`` cluster: the scheduler at ``address``, or a LocalCluster.

    ``address`` must come from the person running the batch (see the module doc): the
    scheduler is trusted to run code in this process.
    """

    def __init__(self, address: str | None = None, workers: int | None = None):
        try:  # an optional dependency (the dask extra), imported only for this executor
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise ImportError("the dask executor needs dask.distributed: pip install 'cldata[dask]'") from None
        self._cluster = None
        if address:
            try:
                self._client = Client(address)
            except (OSError, ValueError, TypeError) as exc:  # unreachable, timed out, malformed
                raise ParameterError(f"cannot connect to the dask scheduler at {address!r}: "
                                     f"{type(exc).__name__}: {exc}; check the address given with --scheduler "
                                     f"or {SCHEDULER_ENV}") from None
        else:
            self._cluster = LocalCluster(n_workers=workers or 2, threads_per_worker=1, processes=True,
                                         dashboard_address=None)
            self._client = Client(self._cluster)

    def group_limit(self, units: int) -> int | None:
        # the cluster's worker threads (a scheduler given by address has workers of its own)
        return group_size(units, sum(self._client.nthreads().values()) or 1)

    def run_groups(self, groups: Iterable[RecordingGroup]) -> Iterator[tuple[Unit, Outcome]]:
        from dask.distributed import as_completed  # the optional dependency, as in __init__

        futures = {}
        for group in groups:
            futures[self._client.submit(run_group, group, pure=False)] = group
        for fut in as_completed(futures):
            yield from _group_outcomes(futures[fut], fut)

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


EXECUTORS = {"serial": SerialExecutor, "processes": ProcessExecutor, "dask": DaskExecutor}

_EXECUTOR_PARAMETERS = {"kind": (str, "processes"), "workers": ((int, type(None)), None)}


def check_executor_spec(spec: Mapping[str, Any] | None) -> dict[str, Any]:
    """The executor section of a parameter set, checked: ``{"kind": ..., "workers": ...}``.

    Raises
    ------
    cldata.errors.ParameterError
        For an unknown kind, malformed settings, a worker count out of ``1..MAX_WORKERS``,
        or an ``address`` (a scheduler is chosen by the person running the batch, never
        by a parameter set; ``"address": None`` is accepted and means no address).

    Examples
    --------
    >>> check_executor_spec({"kind": "serial"})
    {'kind': 'serial', 'workers': None}
    """
    given = plain_parameters(spec, "the executor section")
    if given.get("address") is not None:
        raise ParameterError(
            f"executor.address: a parameter set may not name a dask scheduler ({given['address']!r:.80}): "
            "connecting to a scheduler lets it run code on this machine, so only the person running the "
            "batch chooses it. Remove 'address' from the parameter file (and from --set) and pass it on "
            f"the command line: cldata run FILE --scheduler ADDRESS (or set {SCHEDULER_ENV}=ADDRESS); "
            "from Python: run_batch(parameters, scheduler=ADDRESS)"
        )
    given.pop("address", None)  # "address": None says "no scheduler": older files have it
    params = check_parameters("executor", {}, _EXECUTOR_PARAMETERS, given)
    if params["kind"] not in EXECUTORS:
        raise ParameterError(f"unknown executor {params['kind']!r}; choose one of {sorted(EXECUTORS)}")
    workers = params["workers"]
    if workers is not None and not 1 <= workers <= MAX_WORKERS:
        raise ParameterError(
            f"executor.workers is {workers}; it must be between 1 and {MAX_WORKERS} "
            f"({WORKERS_PER_CORE} per CPU core of this machine)"
        )
    return params


def make_executor(spec: Mapping[str, Any] | None, store: Any = None, *, scheduler: str | None = None) -> Executor:
    """An executor from ``{"kind": "serial"|"processes"|"dask", "workers": n}``.

    Parameters
    ----------
    spec
        The executor section of a parameter set (``None``: local processes).
    store
        The store the ``serial`` executor reads from (its own, read-only, if ``None``).
    scheduler
        The address of a dask scheduler to run the units on (``"tcp://host:8786"``); given,
        the executor is ``dask`` whatever ``spec`` says. It comes from the person running
        the batch: ``spec`` itself may not name one.

    Raises
    ------
    cldata.errors.ParameterError
        For an unknown kind, malformed settings, an ``address`` in ``spec``, or a
        scheduler that cannot be reached.

    Examples
    --------
    >>> with make_executor({"kind": "serial"}) as ex:
    ...     type(ex).__name__
    'SerialExecutor'
    >>> make_executor({}, scheduler="tcp://127.0.0.1:8786")       # doctest: +SKIP
    """
    params = check_executor_spec(spec)
    if scheduler is not None:
        if not isinstance(scheduler, str) or not scheduler.strip():
            raise ParameterError(f"the dask scheduler address should be a non-empty string, not {scheduler!r:.60}")
        return DaskExecutor(scheduler.strip())
    kind = params["kind"]
    if kind == "serial":
        return SerialExecutor(store)
    if kind == "processes":
        return ProcessExecutor(params["workers"])
    return DaskExecutor(None, params["workers"])
