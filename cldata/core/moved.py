"""Old import paths of modules that moved in 0.3, kept working for one release with a warning.

cldata 0.3 re-laid the package so that its folders are its layers (``docs/ARCHITECTURE.md``):
``cldata.view`` became :mod:`cldata.store.view`, ``cldata.queries`` became :mod:`cldata.query`,
and so on. Code written against 0.2 keeps working: importing an old path gives the module at
its new place (the same module object, not a copy) and a :class:`DeprecationWarning` naming the
new path. :data:`MOVED` is the whole list; :func:`install` puts the import hook that serves it
on ``sys.meta_path`` (``cldata/__init__`` does, once).

Examples
--------
>>> import warnings
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     from cldata.canonical import canonical   # the 0.2 path
>>> "cldata.core.canonical" in str(caught[0].message)
True
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings

__all__ = ["MOVED", "install"]

#: Old module path -> new module path. A package's submodules follow it (``cldata.queries.time``
#: is ``cldata.query.time``).
MOVED: dict[str, str] = {
    "cldata.canonical": "cldata.core.canonical",
    "cldata.timebase": "cldata.core.timebase",
    "cldata.fsutil": "cldata.core.fsutil",
    "cldata.locking": "cldata.core.locking",
    "cldata.closing": "cldata.core.shutdown",
    "cldata.bulk": "cldata.core.gc_pause",
    "cldata.checked": "cldata.core.param_check",
    "cldata.display": "cldata.core.display",
    "cldata.restricted_pickle": "cldata.core.safe_pickle",
    "cldata.simulate": "cldata.format.simulate",
    "cldata.catalog": "cldata.model.catalog",
    "cldata.catalogs.catalog": "cldata.model.engines.engine_catalog",
    "cldata.catalogs": "cldata.model.engines",
    "cldata.results": "cldata.model.results",
    "cldata.payload": "cldata.model.payload",
    "cldata.queries": "cldata.query",
    "cldata.view": "cldata.store.view",
    "cldata.export": "cldata.store.export",
    "cldata.cli": "cldata.app.cli",
    "cldata.check": "cldata.app.check",
    "cldata.demo": "cldata.app.demo",
}


def new_name(old: str) -> str | None:
    """The module path that *old* moved to, or None if it did not move.

    Examples
    --------
    >>> new_name("cldata.queries.time")
    'cldata.query.time'
    >>> new_name("cldata.store") is None
    True
    """
    if old in MOVED:
        return MOVED[old]
    head, _, tail = old.rpartition(".")
    while head:
        if head in MOVED:
            return MOVED[head] + "." + old[len(head) + 1:]
        head, _, _ = head.rpartition(".")
    return None


class _CallableModule(types.ModuleType):
    """``cldata.simulate`` is both a function (0.2 and 0.3) and, in 0.2, a module.

    Importing the old module path must not replace the function on the package, so that path
    gets this stand-in: it forwards attributes to :mod:`cldata.format.simulate` and calling it
    calls :func:`cldata.format.simulate.simulate`.
    """

    def __call__(self, *args, **kwargs):
        return self._target.simulate(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.__dict__["_target"], name)


class _MovedLoader(importlib.abc.Loader):
    def __init__(self, old: str, new: str) -> None:
        self.old, self.new = old, new

    def create_module(self, spec):
        warnings.warn(
            f"{self.old} moved to {self.new} in cldata 0.3; the old path works until 0.5 "
            f"(import {self.new} instead)",
            DeprecationWarning,
            stacklevel=8,
        )
        module = importlib.import_module(self.new)
        self._spec = module.__spec__
        if self.old == "cldata.simulate":
            stand_in = _CallableModule(self.old, module.__doc__)
            stand_in.__dict__["_target"] = module
            return stand_in
        return module

    def exec_module(self, module) -> None:
        # the module is already executed at its new place; the import system has just set its
        # __spec__ to the old name's, which would make it look like a second module: put it back
        if not isinstance(module, _CallableModule):
            module.__spec__ = self._spec


    def get_code(self, fullname: str):
        # ``python -m cldata.cli`` (runpy asks the loader for code): run the new module as __main__
        warnings.warn(f"{self.old} moved to {self.new} in cldata 0.3; use python -m {self.new}",
                      DeprecationWarning, stacklevel=2)
        return compile(f"import runpy\nrunpy.run_module({self.new!r}, run_name='__main__', alter_sys=True)\n",
                       f"<{self.old}: moved to {self.new}>", "exec")


class _MovedFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith("cldata."):
            return None
        new = new_name(fullname)
        if new is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _MovedLoader(fullname, new), is_package=False)


_FINDER = _MovedFinder()


def install() -> None:
    """Serve the old import paths (idempotent; ``import cldata`` calls it).

    Examples
    --------
    >>> install(); install()
    >>> sum(isinstance(f, _MovedFinder) for f in sys.meta_path)
    1
    """
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
