"""The guard that makes PyTables unpickle node attributes through the allow-list.

PyTables stores every attribute that is not a plain number, string or array as a pickle,
and unpickles it with ``pickle.loads`` as soon as the node's attributes are read; when that
raises, it hands back the raw bytes. :func:`install_pytables_guard` (run when cldata is
imported) replaces the ``pickle`` module PyTables' attribute code uses with one whose
``loads`` is :func:`~cldata.core.safe_pickle.unpickler.safe_loads`, for the whole process.

Examples
--------
>>> import pickle, tables.attributeset
>>> install_pytables_guard()
>>> tables.attributeset.pickle.loads is pickle.loads
False
"""

from __future__ import annotations

import pickle
import types
from typing import Any

import tables.attributeset

from cldata.core.safe_pickle.unpickler import safe_loads

__all__ = ["install_pytables_guard"]


class _GuardedPickleModule(types.ModuleType):
    """Stands in for the ``pickle`` module inside ``tables.attributeset``.

    PyTables calls ``pickle.loads`` on any attribute that looks pickled and, when that
    raises, hands back the raw bytes. Routing that call through :func:`safe_loads` means
    a forbidden pickle is never executed; cldata's attribute reader then sees the raw bytes
    and raises :class:`~cldata.errors.UnsafeContentError` with a clear message.
    """

    def __init__(self) -> None:
        super().__init__("pickle")
        self.__dict__.update({k: v for k, v in vars(pickle).items() if not k.startswith("__")})
        self.loads = self._guarded_loads

    @staticmethod
    def _guarded_loads(data: bytes, *args: Any, **kwargs: Any) -> Any:
        return safe_loads(data)


def install_pytables_guard() -> None:
    """Make PyTables unpickle node attributes through the allow-list, for the whole process.

    Called when cldata is imported. PyTables then still reads every attribute whose pickle
    holds only builtin containers, scalars and numpy values (what CL recordings hold); any
    other pickled attribute comes back as its raw bytes, as PyTables already does for
    pickles it cannot load, and is never executed.

    Examples
    --------
    >>> import tables.attributeset
    >>> install_pytables_guard()
    >>> tables.attributeset.pickle.loads is pickle.loads
    False
    """
    attributeset = tables.attributeset
    if not isinstance(attributeset.pickle, _GuardedPickleModule):
        attributeset.pickle = _GuardedPickleModule()
