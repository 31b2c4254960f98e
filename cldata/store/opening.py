"""Opening a store by path or by parameters (``cldata.open``), and upgrading an old one (``cldata upgrade``).

``open_store`` reads, by default: ``cldata.open(path)`` never creates nor changes anything;
``mode="a"`` creates a missing store, ``mode="w"`` makes an empty one. Given parameters (a
dict or ParameterSet with ``root_directory``, as a batch run has them), their ``mode``
defaults to ``"a"`` and the arguments of the call win over them.

Examples
--------
>>> store = open_store("lab-store", mode="a")                          # doctest: +SKIP
>>> upgrade_store("old-lab-store")                                     # doctest: +SKIP
'old-lab-store: catalog moved to SQLite (12 recordings, 48,000 results)'
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cldata.core.fsutil import read_regular_bytes
from cldata.core.paramsets import is_parameter_set, plain_parameters
from cldata.errors import StoreFormatError
from cldata.model.engines import LEGACY
from cldata.store.datastore import DataStore
from cldata.store.layout import MARKER, MARKER_LIMIT

__all__ = ["open_store", "upgrade_store"]


def upgrade_store(root: str | os.PathLike[str]) -> str:
    """Move a store made before version 2 to the current layout (its catalog into SQLite), once.

    The store is opened for writing (so no other writer may have it open) and its catalog
    moved as :class:`DataStore` does on a first write: written whole under a temporary
    name, then named in the marker, then the old segments removed. A crash at any moment
    leaves a store that opens (old or new layout); run it again to finish. A store that is
    already current is left as it is. ``cldata upgrade PATH`` is this function.

    Returns
    -------
    str
        What was done, in one line.

    Raises
    ------
    cldata.errors.StoreFormatError
        If ``root`` is not a store.
    cldata.errors.StoreLockedError
        If a writer has it open.

    Examples
    --------
    >>> cldata.upgrade("old-lab-store")          # doctest: +SKIP
    'old-lab-store: catalog moved to SQLite (12 recordings, 48,000 results)'
    """
    root = Path(root)
    if not (root / MARKER).exists():
        raise StoreFormatError(f"{root} is not a cldata store (no {MARKER})")
    before = json.loads(read_regular_bytes(root / MARKER, limit=MARKER_LIMIT)).get("catalog", LEGACY)
    with DataStore(root, mode="a") as store:
        n_rec, n_res = store.catalog.n_recordings, store.catalog.n_results
        counts = f"{n_rec:,} recording{'' if n_rec == 1 else 's'}, {n_res:,} result{'' if n_res == 1 else 's'}"
    if before != LEGACY:
        return f"{root}: already current (catalog: {before}; {counts})"
    return f"{root}: catalog moved to SQLite ({counts})"


def open_store(root: str | os.PathLike[str] | Mapping[str, Any], backend: str | None = None,
               mode: str | None = None, replace: bool | None = None, catalog: str | None = None,
               **options: Any) -> DataStore:
    """Open (or create) a store. ``cldata.open`` is this function.

    ``mode`` is ``"r"`` (the default: read, never create), ``"a"`` (read and write,
    creating the store if it is missing) or ``"w"`` (an empty store).

    ``root`` may also be a ParameterSet / dict with ``root_directory`` (as a batch run
    gives it); then the other arguments come from it (its ``mode`` defaulting to ``"a"``),
    and the arguments given here win: ``cldata.open({"root_directory": d}, mode="r")``
    opens read-only and creates nothing.

    Examples
    --------
    >>> store = cldata.open("lab-store", mode="a")     # doctest: +SKIP
    >>> reader = cldata.open({"root_directory": "lab-store"}, mode="r")   # doctest: +SKIP
    """
    if isinstance(root, Mapping) or is_parameter_set(root):
        params = plain_parameters(root, "the store parameters")
        # what the caller says here is more specific than what the parameters say
        if mode is not None:
            params["mode"] = mode
        if backend is not None:
            params["backend"] = backend
        if replace is not None:
            params["replace"] = replace
        if options:
            params["options"] = {**dict(params.get("options") or {}), **options}
        if catalog is not None:
            params["catalog"] = catalog
        return DataStore.from_parameters(params)
    return DataStore(root, backend=backend, mode="r" if mode is None else mode, replace=bool(replace),
                     catalog=catalog, **options)
