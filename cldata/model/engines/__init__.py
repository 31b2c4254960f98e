"""Catalog engines: where a store keeps its catalog (see :mod:`cldata.model.engines.base` for the model).

A store names its catalog engine in its marker file (``"catalog": "sqlite"``). Two kinds exist:

``"sqlite"`` (the default for new stores)
    :class:`~cldata.model.engines.sqlite.SQLiteEngine`: an indexed database, ``catalog.sqlite``;
    a store opens in constant time and a query reads only what it matches.
``"backend"`` (stores made before version 2)
    The backend's own log of catalog segments (``catalog/CURRENT``), loaded whole into
    memory when the store opens. Such a store opens read-only as it is; opening it for
    writing, or ``cldata upgrade``, moves its catalog into SQLite (once, crash-safe).

Plugins add engines (a lab's PostgreSQL, say) as classes deriving from
:class:`~cldata.model.engines.base.CatalogEngine`, declared under the entry-point group
``cldata.model.engines``::

    [options.entry_points]
    cldata.catalogs =
        postgres = my_package.catalog:PostgresEngine

They are imported only when a store names them; one that fails to import gives a warning
and the others keep working.

Examples
--------
>>> from cldata.model.engines import get_catalog_engine, list_catalog_engines
>>> list_catalog_engines()[:1], get_catalog_engine("sqlite").__name__
(['sqlite'], 'SQLiteEngine')
"""

from __future__ import annotations

import importlib
import warnings
from importlib.metadata import entry_points

from cldata.errors import BackendError
from cldata.model.engines.base import CatalogEngine
from cldata.model.engines.engine_catalog import EngineCatalog

__all__ = ["ENTRY_POINT_GROUP", "DEFAULT_ENGINE", "LEGACY", "CatalogEngine", "EngineCatalog", "get_catalog_engine",
           "list_catalog_engines", "CatalogEngineWarning"]

ENTRY_POINT_GROUP = "cldata.catalogs"
DEFAULT_ENGINE = "sqlite"
#: the name of the catalog kept by the backend itself (stores made before version 2)
LEGACY = "backend"
_BUILTIN = {"sqlite": "cldata.model.engines.sqlite:SQLiteEngine"}


class CatalogEngineWarning(RuntimeWarning):
    """A catalog-engine plugin could not be loaded (the others still work)."""


def _plugins() -> dict[str, str]:
    found: dict[str, str] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in _BUILTIN or ep.name == LEGACY:
            warnings.warn(f"catalog engine plugin {ep.value!r} tries to replace the built-in {ep.name!r}; ignored",
                          CatalogEngineWarning, stacklevel=3)
            continue
        found.setdefault(ep.name, ep.value)
    return found


def list_catalog_engines() -> list[str]:
    """The names of the catalog engines installed (built-in first; plugins are not imported).

    Examples
    --------
    >>> "sqlite" in list_catalog_engines()
    True
    """
    return [*_BUILTIN, *sorted(set(_plugins()) - set(_BUILTIN))]


def get_catalog_engine(name: str) -> type[CatalogEngine]:
    """The catalog-engine class named ``name``, importing a plugin on first use.

    Raises
    ------
    cldata.errors.BackendError
        If no engine has that name, or the plugin does not load (a warning says why).
    """
    target = _BUILTIN.get(name) or _plugins().get(name)
    if target is None:
        raise BackendError(f"no catalog engine {name!r}; installed: {', '.join(list_catalog_engines())}")
    module, _, attr = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except Exception as exc:
        warnings.warn(f"catalog engine plugin {name!r} ({target}) failed to load: {type(exc).__name__}: {exc}",
                      CatalogEngineWarning, stacklevel=2)
        raise BackendError(f"the catalog engine {name!r} could not be loaded ({exc})") from None
    if not (isinstance(cls, type) and issubclass(cls, CatalogEngine)):
        raise BackendError(f"catalog engine {name!r} is {cls!r}, not a subclass of cldata.model.engines.CatalogEngine")
    return cls
