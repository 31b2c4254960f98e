"""Finding backends: the built-in ones, ones registered at run time, and plugins.

Backends are named in one :class:`~cldata.core.registry.Registry` (:data:`BACKENDS`), the
mechanism every pluggable kind of cldata uses. Plugins are separate packages that declare
an entry point in the group ``cldata.backends``, naming a
:class:`~cldata.backends.base.Backend` subclass::

    [project.entry-points."cldata.backends"]
    mybackend = "my_package.backend:MyBackend"

They are found with :mod:`importlib.metadata` and imported only when first used. A plugin
that fails to import gives a :class:`BackendWarning` and is left out; the other backends
keep working.

Examples
--------
>>> from cldata.backends import list_backends, get_backend
>>> sorted(list_backends())[:2]
['hdf5', 'pickle']
>>> get_backend("hdf5").__name__
'HDF5Backend'
"""

from __future__ import annotations

from typing import Any

from cldata.backends.base import Backend
from cldata.core.registry import PluginWarning, Registry
from cldata.errors import BackendError

__all__ = ["ENTRY_POINT_GROUP", "BACKENDS", "list_backends", "get_backend", "register_backend", "BackendWarning"]

ENTRY_POINT_GROUP = "cldata.backends"


class BackendWarning(PluginWarning):
    """A backend plugin could not be loaded (the others still work)."""


def _check(name: str, cls: Any) -> type[Backend]:
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise BackendError(f"backend {name!r} is {cls!r}, not a subclass of cldata.backends.Backend")
    return cls


#: every backend by name: built-in, registered in this process, or a plugin
BACKENDS: Registry[type[Backend]] = Registry(
    "backend", ENTRY_POINT_GROUP,
    builtins={"hdf5": "cldata.backends.hdf5:HDF5Backend", "pickle": "cldata.backends.pickled:PickleBackend"},
    check=_check, error=BackendError, warning=BackendWarning,
)


def get_backend(name: str) -> type[Backend]:
    """The backend class registered under ``name``, importing it on first use.

    Raises
    ------
    cldata.errors.BackendError
        If no backend has that name (the message lists the installed ones), or its plugin
        fails to load (the message says why).

    Examples
    --------
    >>> get_backend("pickle").__name__
    'PickleBackend'
    """
    return BACKENDS.get(name)


def list_backends() -> dict[str, str]:
    """Installed backends, ``name -> where it comes from`` (built-in, registered, or the plugin's target).

    Plugins are imported here, once; one that fails to import gives a
    :class:`BackendWarning` and is left out.

    Examples
    --------
    >>> list_backends()["hdf5"]
    'built-in (cldata.backends.hdf5:HDF5Backend)'
    """
    return BACKENDS.origins()


def register_backend(name: str, backend: type[Backend], *, replace: bool = False) -> None:
    """Make ``backend`` available as ``name`` in this process (no entry point needed).

    Raises
    ------
    cldata.errors.BackendError
        If ``backend`` is not a Backend subclass, ``name`` is a built-in backend, or ``name``
        is taken and ``replace`` is false.

    Examples
    --------
    >>> from cldata.backends.pickled import PickleBackend
    >>> class Mirror(PickleBackend):
    ...     name = "mirror"
    >>> register_backend("mirror", Mirror)
    >>> get_backend("mirror") is Mirror
    True
    >>> BACKENDS.unregister("mirror")
    """
    _check(name, backend)
    if not replace and name in BACKENDS.registered():
        raise BackendError(f"a backend named {name!r} exists already; pass replace=True to override it")
    BACKENDS.register(name, backend, replace=True)
