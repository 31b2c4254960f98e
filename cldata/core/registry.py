"""One way to name pluggable things: backends, catalog engines, queries, analyses, result kinds.

A :class:`Registry` maps names to objects (usually classes) of one kind. Names come from three
places, looked up in this order:

1. **registered** in this process (:meth:`Registry.register`, e.g. a class decorated in a
   notebook);
2. **built in**: ``name -> "module:attribute"`` targets, imported on first use, so that naming a
   kind does not import every implementation of it;
3. **plugins**: entry points of the registry's group (``cldata.backends``, ``cldata.catalogs``,
   ``cldata.queries``, ``cldata.analyses``, ``cldata.result_kinds``), declared by a separately
   installed package::

       [project.entry-points."cldata.analyses"]
       SpikeCount = "my_lab_analyses:SpikeCount"

   found with :mod:`importlib.metadata` and imported only when first used. A plugin that fails to
   import gives a :class:`PluginWarning` and is left out; everything else keeps working. A plugin
   cannot take a built-in name.

A registry checks what it hands out (``check``: a callable that raises with a message, or
returns the object), and raises its own :mod:`cldata.errors` class (``error``) for unknown
names, listing the known ones.

Examples
--------
>>> from cldata.errors import ParameterError
>>> colours = Registry("colour", "cldata.example_colours", builtins={"red": "builtins:str"},
...                    error=ParameterError)
>>> colours.register("blue", int)
>>> colours.get("red"), colours.get("blue")
(<class 'str'>, <class 'int'>)
>>> sorted(colours.names())
['blue', 'red']
>>> colours.get("green")
Traceback (most recent call last):
...
cldata.errors.ParameterError: no colour named 'green'; known: blue, red
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Iterator, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar

from cldata.errors import CldataError

__all__ = ["Registry", "PluginWarning", "load_target"]

T = TypeVar("T")


class PluginWarning(RuntimeWarning):
    """A plugin could not be loaded (the other names of its registry still work)."""


def load_target(target: str) -> Any:
    """Import ``"package.module:attribute.path"`` and return the attribute.

    Examples
    --------
    >>> load_target("os.path:join").__name__
    'join'
    """
    module, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj


class Registry(Generic[T]):
    """Names of one kind of pluggable object (see the module documentation).

    Parameters
    ----------
    kind
        What the names name, in words ("backend", "analysis"), for messages.
    group
        The entry-point group plugins declare themselves in.
    builtins
        ``name -> "module:attribute"``, imported on first use.
    check
        Called as ``check(name, obj)`` before an object is handed out or registered; returns
        the object or raises ``error`` saying what is wrong.
    error
        The :class:`~cldata.errors.CldataError` subclass raised for unknown names and for
        plugins that fail to load.
    warning
        The warning class for plugins that fail to load (a :class:`PluginWarning` subclass
        keeps older ``filterwarnings`` working).
    """

    def __init__(self, kind: str, group: str, *, builtins: Mapping[str, str] | None = None,
                 check: Callable[[str, Any], T] | None = None, error: type[CldataError] = CldataError,
                 warning: type[Warning] = PluginWarning) -> None:
        self.kind, self.group = kind, group
        self.builtins: dict[str, str] = dict(builtins or {})
        self._check = check
        self.error, self.warning = error, warning
        self._registered: dict[str, T] = {}
        self._loaded: dict[str, T] = {}

    # -- the three sources -------------------------------------------------------------------
    def plugins(self) -> dict[str, EntryPoint]:
        """The entry points of this registry's group, by name.

        Read each time (a few milliseconds), so that a package installed or removed while
        the process runs is seen; only listing names and unknown names need it, and the
        objects themselves are imported once.
        """
        found: dict[str, EntryPoint] = {}
        for ep in entry_points(group=self.group):
            if ep.name in self.builtins:
                warnings.warn(f"{self.kind} plugin {ep.value!r} tries to replace the built-in {ep.name!r}; "
                              f"ignored (the built-in {self.kind} {ep.name!r} stays)", self.warning, stacklevel=3)
                continue
            found.setdefault(ep.name, ep)
        return found

    def _checked(self, name: str, obj: Any) -> T:
        return self._check(name, obj) if self._check is not None else obj

    def get(self, name: str) -> T:
        """The object named ``name``, importing it on first use.

        Raises
        ------
        CldataError
            (the registry's ``error`` class) if nothing has that name (the message lists the
            known names), or its plugin fails to load (the message says why).
        """
        if name in self._registered:
            return self._registered[name]
        if name in self._loaded:
            return self._loaded[name]
        if name in self.builtins:
            obj = self._checked(name, load_target(self.builtins[name]))
            self._loaded[name] = obj
            return obj
        plugins = self.plugins()
        if name in plugins:
            try:
                obj = self._checked(name, plugins[name].load())
            except Exception as exc:
                warnings.warn(f"{self.kind} plugin {name!r} ({plugins[name].value}) failed to load: {exc}",
                              self.warning, stacklevel=2)
                raise self.error(f"{self.kind} plugin {name!r} ({plugins[name].value}) failed to load: "
                                 f"{exc}") from exc
            self._loaded[name] = obj
            return obj
        raise self.error(f"no {self.kind} named {name!r}; known: {', '.join(self.names())}")

    def __getitem__(self, name: str) -> T:
        """``registry[name]`` is :meth:`get`."""
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self._registered or name in self.builtins
                                          or name in self.plugins())

    def names(self) -> list[str]:
        """Every known name, sorted (plugins are listed without being imported)."""
        return sorted(set(self._registered) | set(self.builtins) | set(self.plugins()))

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def origins(self) -> dict[str, str]:
        """``name -> where it comes from`` (built-in, plugin, registered), importing plugins.

        A plugin that fails to import gives a warning and is left out.
        """
        out = {name: f"built-in ({target})" for name, target in self.builtins.items()}
        for name, ep in self.plugins().items():
            if name in self._registered:
                continue
            try:
                self.get(name)
            except self.error:
                continue
            out[name] = f"plugin ({ep.value})"
        for name, obj in self._registered.items():
            out[name] = f"registered ({getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', name)})"
        return dict(sorted(out.items()))

    def register(self, name: str, obj: T, *, replace: bool = False) -> None:
        """Make ``obj`` known as ``name`` in this process (no entry point needed).

        Raises
        ------
        CldataError
            (the registry's ``error`` class) if ``obj`` fails the check, ``name`` is built in,
            or ``name`` is taken and ``replace`` is false.
        """
        obj = self._checked(name, obj)
        if name in self.builtins:
            raise self.error(f"the built-in {self.kind} {name!r} cannot be replaced")
        if not replace and name in self._registered and self._registered[name] is not obj:
            raise self.error(f"a {self.kind} named {name!r} exists already; pass replace=True to override it")
        self._registered[name] = obj

    def registered(self) -> dict[str, T]:
        """The names registered in this process (not the built-ins or plugins), with their objects."""
        return dict(self._registered)

    def unregister(self, name: str) -> None:
        """Forget ``name`` if registered in this process, or imported from a plugin (its next
        use imports it again, from wherever its package is then installed); built-ins stay."""
        self._registered.pop(name, None)
        if name not in self.builtins:
            self._loaded.pop(name, None)
