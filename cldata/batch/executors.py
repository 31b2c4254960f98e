"""Where analyses run: in this process, in local worker processes, or on a Dask cluster.

The runner turns a batch into units of work — (analysis, parameters, recording seen
through the view's window and streams) — and hands them to an executor, which yields
``(unit, results or error)`` as units finish, in any order. Workers only read: each opens
the store read-only and returns the results it computed; the runner, the single writer,
stores them.

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
>>> make_executor({"kind": "dask", "address": "tcp://10.0.0.9:8786"})   # doctest: +ELLIPSIS
Traceback (most recent call last):
...
cldata.errors.ParameterError: executor.address: a parameter set may not name a dask scheduler ...
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import traceback
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any

from cldata.analysis.registry import get_analysis
from cldata.core.param_check import check_parameters
from cldata.core.paramsets import plain_parameters
from cldata.errors import ParameterError
from cldata.store.datastore import DataStore
from cldata.store.view import DataStoreView

__all__ = ["Unit", "UnitFailure", "make_executor", "check_executor_spec", "run_unit", "EXECUTORS",
           "MAX_WORKERS", "SCHEDULER_ENV"]

#: The environment variable ``cldata run`` reads a dask scheduler address from (``--scheduler`` wins).
SCHEDULER_ENV = "CLDATA_DASK_SCHEDULER"

#: Most local workers (processes, or LocalCluster workers) per CPU core a run may ask for.
#: More only makes the workers compete for the cores, and each worker is a Python process
#: with numpy and PyTables loaded (some 100 MB): a parameter file asking for thousands would
#: exhaust the machine.
WORKERS_PER_CORE = 4
MAX_WORKERS = max(1, os.cpu_count() or 1) * WORKERS_PER_CORE


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


_STORES: dict[tuple[str, str], Any] = {}


def _worker_store(root: str, backend: str) -> Any:
    # one read-only store per worker process, reused by its units
    key = (root, backend)
    store = _STORES.get(key)
    if store is None or store.closed:
        store = DataStore(root, backend=backend, mode="r")
        _STORES[key] = store
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
        return UnitFailure(type(exc).__name__, str(exc), traceback.format_exc(limit=8))


class Executor:
    """Runs units; use as a context manager."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:  # noqa: B027 - executors without resources have nothing to release
        """Release workers."""

    def run(self, units: Iterable[Unit]) -> Iterator[tuple[Unit, list[Any] | UnitFailure]]:
        raise NotImplementedError


class SerialExecutor(Executor):
    """Units one after the other, in this process, reading from the runner's own store."""

    def __init__(self, store: Any = None):
        self.store = store

    def run(self, units: Iterable[Unit]) -> Iterator[tuple[Unit, list[Any] | UnitFailure]]:
        for unit in units:
            yield unit, run_unit(unit, self.store)


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

    def run(self, units: Iterable[Unit]) -> Iterator[tuple[Unit, list[Any] | UnitFailure]]:
        pending = {}
        queue = iter(units)  # taken one at a time: the units are never copied
        exhausted = False
        # keep a bounded number of units in flight: results come back as they finish
        limit = self.workers * 2
        while not exhausted or pending:
            while not exhausted and len(pending) < limit:
                unit = next(queue, None)
                if unit is None:
                    exhausted = True
                    break
                pending[self._pool.submit(run_unit, unit)] = unit
            if not pending:
                break
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                unit = pending.pop(fut)
                try:
                    yield unit, fut.result()
                except Exception as exc:  # the worker itself died
                    yield unit, UnitFailure(type(exc).__name__, str(exc), traceback.format_exc(limit=4))

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


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

    def run(self, units: Iterable[Unit]) -> Iterator[tuple[Unit, list[Any] | UnitFailure]]:
        from dask.distributed import as_completed  # the optional dependency, as in __init__

        futures = {}
        for unit in units:
            futures[self._client.submit(run_unit, unit, pure=False)] = unit
        for fut in as_completed(futures):
            unit = futures[fut]
            try:
                yield unit, fut.result()
            except Exception as exc:
                yield unit, UnitFailure(type(exc).__name__, str(exc), traceback.format_exc(limit=4))

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
