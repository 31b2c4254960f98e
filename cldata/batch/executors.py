"""Where analyses run: in this process, in local worker processes, or on a Dask cluster.

The runner turns a batch into units of work — (analysis, parameters, recording seen
through the view's window and streams) — and hands them to an executor, which yields
``(unit, results or error)`` as units finish, in any order. Workers only read: each opens
the store read-only and returns the results it computed; the runner, the single writer,
stores them.

- ``serial`` runs units one after the other in this process;
- ``processes`` (the default) runs them in local worker processes;
- ``dask`` submits them to a ``dask.distributed`` cluster: the scheduler at ``address``,
  or a ``LocalCluster`` started for the run (``pip install 'cldata[dask]'``).

Examples
--------
>>> with make_executor({"kind": "processes", "workers": 4}) as ex:     # doctest: +SKIP
...     for unit, outcome in ex.run(units): ...
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any

from cldata.checked import check_parameters

__all__ = ["Unit", "UnitFailure", "make_executor", "run_unit", "EXECUTORS"]


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
    from cldata.store import DataStore

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
        from cldata.analysis.base import get_analysis
        from cldata.view import DataStoreView

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
    import multiprocessing
    import threading

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
        queue = list(units)
        # keep a bounded number of units in flight: results come back as they finish
        limit = self.workers * 2
        while queue or pending:
            while queue and len(pending) < limit:
                unit = queue.pop(0)
                pending[self._pool.submit(run_unit, unit)] = unit
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
    """Units on a ``dask.distributed`` cluster (a LocalCluster if no ``address`` is given)."""

    def __init__(self, address: str | None = None, workers: int | None = None):
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise ImportError("the dask executor needs dask.distributed: pip install 'cldata[dask]'") from None
        self._cluster = None
        if address:
            self._client = Client(address)
        else:
            self._cluster = LocalCluster(n_workers=workers or 2, threads_per_worker=1, processes=True,
                                         dashboard_address=None)
            self._client = Client(self._cluster)

    def run(self, units: Iterable[Unit]) -> Iterator[tuple[Unit, list[Any] | UnitFailure]]:
        from dask.distributed import as_completed

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

_EXECUTOR_PARAMETERS = {"kind": (str, "processes"), "workers": ((int, type(None)), None),
                        "address": ((str, type(None)), None)}


def make_executor(spec: Mapping[str, Any] | None, store: Any = None) -> Executor:
    """An executor from ``{"kind": "serial"|"processes"|"dask", "workers": n, "address": url}``.

    Raises
    ------
    cldata.errors.ParameterError
        For an unknown kind or malformed settings.
    """
    from cldata.errors import ParameterError

    given = dict(spec.as_dict() if hasattr(spec, "as_dict") else (spec or {}))  # type: ignore[union-attr]
    params = check_parameters("executor", {}, _EXECUTOR_PARAMETERS, given)
    kind = params["kind"]
    if kind not in EXECUTORS:
        raise ParameterError(f"unknown executor {kind!r}; choose one of {sorted(EXECUTORS)}")
    if kind == "serial":
        return SerialExecutor(store)
    if kind == "processes":
        if params["address"]:
            raise ParameterError("the processes executor takes no address (that is for dask)")
        return ProcessExecutor(params["workers"])
    return DaskExecutor(params["address"], params["workers"])
