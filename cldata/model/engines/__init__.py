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
``cldata.catalogs``::

    [project.entry-points."cldata.catalogs"]
    postgres = "my_package.catalog:PostgresEngine"

They are named in one :class:`~cldata.core.registry.Registry` (:data:`CATALOG_ENGINES`, the
mechanism every pluggable kind of cldata uses) and imported only when a store names them;
one that fails to import gives a :class:`CatalogEngineWarning` and the others keep working.

Examples
--------
>>> from cldata.model.engines import get_catalog_engine, list_catalog_engines
>>> list_catalog_engines()[:1], get_catalog_engine("sqlite").__name__
(['sqlite'], 'SQLiteEngine')
"""

from __future__ import annotations

from typing import Any

from cldata.core.registry import PluginWarning, Registry
from cldata.errors import BackendError
from cldata.model.engines.base import CatalogEngine
from cldata.model.engines.engine_catalog import EngineCatalog

__all__ = ["ENTRY_POINT_GROUP", "DEFAULT_ENGINE", "LEGACY", "CATALOG_ENGINES", "CatalogEngine", "EngineCatalog",
           "get_catalog_engine", "list_catalog_engines", "CatalogEngineWarning"]

ENTRY_POINT_GROUP = "cldata.catalogs"
DEFAULT_ENGINE = "sqlite"
#: the name of the catalog kept by the backend itself (stores made before version 2): not an
#: engine class, and no plugin may take the name
LEGACY = "backend"


class CatalogEngineWarning(PluginWarning):
    """A catalog-engine plugin could not be loaded (the others still work)."""


def _check(name: str, cls: Any) -> type[CatalogEngine]:
    if name == LEGACY:
        raise BackendError(f"the catalog engine name {LEGACY!r} is reserved for the backend's own catalog")
    if not (isinstance(cls, type) and issubclass(cls, CatalogEngine)):
        raise BackendError(f"catalog engine {name!r} is {cls!r}, not a subclass of cldata.model.engines.CatalogEngine")
    return cls


#: every catalog engine by name: built-in, registered in this process, or a plugin
CATALOG_ENGINES: Registry[type[CatalogEngine]] = Registry(
    "catalog engine", ENTRY_POINT_GROUP, builtins={DEFAULT_ENGINE: "cldata.model.engines.sqlite:SQLiteEngine"},
    check=_check, error=BackendError, warning=CatalogEngineWarning,
)


def list_catalog_engines() -> list[str]:
    """The names of the catalog engines installed (built-in first; plugins are not imported).

    Examples
    --------
    >>> "sqlite" in list_catalog_engines()
    True
    """
    builtins = list(CATALOG_ENGINES.builtins)
    return [*builtins, *(n for n in CATALOG_ENGINES.names() if n not in builtins and n != LEGACY)]


def get_catalog_engine(name: str) -> type[CatalogEngine]:
    """The catalog-engine class named ``name``, importing a plugin on first use.

    Raises
    ------
    cldata.errors.BackendError
        If no engine has that name, or the plugin does not load (a warning says why).

    Examples
    --------
    >>> get_catalog_engine("sqlite").__name__
    'SQLiteEngine'
    """
    try:
        return CATALOG_ENGINES.get(name)
    except BackendError as exc:
        if name == LEGACY or name not in CATALOG_ENGINES:
            raise BackendError(f"no catalog engine {name!r}; installed: {', '.join(list_catalog_engines())}") from None
        raise BackendError(f"the catalog engine {name!r} could not be loaded ({exc})") from None
