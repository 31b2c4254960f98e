"""Finding backends: the built-in ones, ones registered at run time, and plugins.

Plugins are separate packages that declare an entry point in the group
``cldata.backends``, naming a :class:`~cldata.backends.base.Backend` subclass::

    [options.entry_points]
    cldata.backends =
        mybackend = my_package.backend:MyBackend

They are found with :mod:`importlib.metadata` and imported only when first used. A plugin
that fails to import gives a warning and is left out; the other backends keep working.

Examples
--------
>>> from cldata.backends import list_backends, get_backend
>>> sorted(list_backends())[:2]
['hdf5', 'pickle']
>>> get_backend("hdf5").__name__
'HDF5Backend'
"""

from __future__ import annotations

import importlib
import warnings
from importlib.metadata import entry_points
from typing import Any

from cldata.backends.base import Backend
from cldata.errors import BackendError

__all__ = ["ENTRY_POINT_GROUP", "list_backends", "get_backend", "register_backend", "BackendWarning"]

ENTRY_POINT_GROUP = "cldata.backends"

_BUILTIN = {
    "hdf5": "cldata.backends.hdf5:HDF5Backend",
    "pickle": "cldata.backends.pickled:PickleBackend",
}
_registered: dict[str, type[Backend]] = {}
_loaded: dict[str, type[Backend]] = {}
_broken: dict[str, str] = {}


class BackendWarning(RuntimeWarning):
    """A backend plugin could not be loaded (the others still work)."""


def _load_target(target: str) -> Any:
    module, _, attr = target.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj


def _plugins() -> dict[str, Any]:
    found = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in _BUILTIN:
            warnings.warn(
                f"backend plugin {ep.value!r} tries to replace the built-in backend {ep.name!r}; ignored",
                BackendWarning, stacklevel=3,
            )
            continue
        found.setdefault(ep.name, ep)
    return found


def _check(name: str, cls: Any) -> type[Backend]:
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise BackendError(f"backend {name!r} is {cls!r}, not a subclass of cldata.backends.Backend")
    return cls


def get_backend(name: str) -> type[Backend]:
    """The backend class registered under ``name``, importing it on first use.

    Raises
    ------
    cldata.errors.BackendError
        If no backend has that name (the message lists the installed ones), or its plugin
        fails to load (the message says why).
    """
    if name in _registered:
        return _registered[name]
    if name in _loaded:
        return _loaded[name]
    if name in _BUILTIN:
        cls = _check(name, _load_target(_BUILTIN[name]))
        _loaded[name] = cls
        return cls
    plugins = _plugins()
    if name in plugins:
        try:
            cls = _check(name, plugins[name].load())
        except Exception as exc:
            _broken[name] = f"{type(exc).__name__}: {exc}"
            warnings.warn(f"backend plugin {name!r} ({plugins[name].value}) failed to load: {exc}",
                          BackendWarning, stacklevel=2)
            raise BackendError(f"backend plugin {name!r} failed to load: {exc}") from exc
        _loaded[name] = cls
        return cls
    known = sorted(set(_BUILTIN) | set(_registered) | set(plugins))
    raise BackendError(f"no backend named {name!r}; installed backends: {', '.join(known)}")


def list_backends() -> dict[str, str]:
    """Installed backends, ``name -> where it comes from`` (built-in, registered, or the plugin's target).

    Plugins are imported here, once; one that fails to import gives a
    :class:`BackendWarning` and is left out.
    """
    out = {name: f"built-in ({target})" for name, target in _BUILTIN.items()}
    for name, ep in _plugins().items():
        if name in _registered:
            continue
        try:
            get_backend(name)
        except BackendError:
            continue
        out[name] = f"plugin ({ep.value})"
    for name, cls in _registered.items():
        out[name] = f"registered ({cls.__module__}.{cls.__qualname__})"
    return dict(sorted(out.items()))


def register_backend(name: str, backend: type[Backend], *, replace: bool = False) -> None:
    """Make ``backend`` available as ``name`` in this process (no entry point needed).

    Raises
    ------
    cldata.errors.BackendError
        If ``backend`` is not a Backend subclass, or ``name`` is taken and ``replace`` is false.
    """
    _check(name, backend)
    if not replace and (name in _BUILTIN or name in _registered):
        raise BackendError(f"a backend named {name!r} exists already; pass replace=True to override it")
    if name in _BUILTIN and replace:
        raise BackendError(f"the built-in backend {name!r} cannot be replaced")
    _registered[name] = backend
