"""The allow-list: the globals a pickle may name, and the stand-in each becomes.

A pickle names globals by ``(module, name)``; :class:`AllowList` resolves them from a fixed
table and nothing is imported by name from file content. Each entry is an :class:`Entry`, the
stand-in the pickle holds (see :mod:`cldata.core.safe_pickle.standins`): calling it runs a
checked function on checked arguments (:mod:`cldata.core.safe_pickle.calls` for the base
entries), or is refused for classes a pickle may only pass as arguments
(:func:`value_only`). :data:`ATTRIBUTE_ALLOWLIST` is what PyTables attribute pickles may
hold; the ``pickle`` store backend extends it (:meth:`AllowList.extended`).

Examples
--------
>>> ("builtins", "set") in ATTRIBUTE_ALLOWLIST, ("os", "system") in ATTRIBUTE_ALLOWLIST
(True, False)
"""

from __future__ import annotations

import builtins
import codecs
import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
from numpy._core import multiarray, numeric

from cldata.core.safe_pickle.budget import current_budget
from cldata.core.safe_pickle.calls import (
    BUILTIN_CHECKS,
    bounded_reconstruct,
    checked_builtin,
    dtype_class,
    latin1_encode,
    numpy_dtype,
    numpy_frombuffer,
    numpy_scalar,
)
from cldata.core.safe_pickle.standins import PrivateValue, SealedType, StandIn, Wrapped, refusal

__all__ = ["ATTRIBUTE_ALLOWLIST", "AllowList", "Entry", "entry", "value_only"]


@dataclasses.dataclass(frozen=True, slots=True, eq=False, repr=False)
class Entry(StandIn):
    """An allow-list entry as a pickle sees it: not a class, immutable, callable only through
    the argument checks (or not at all, for classes a pickle may only pass as arguments).

    Examples
    --------
    >>> e = value_only("numpy.ndarray", np.ndarray)
    >>> e.value is np.ndarray, e
    (True, <cldata allow-list entry numpy.ndarray>)
    """

    name: str
    value: Any
    call: Callable[..., Any] | None
    wrap_arrays: bool = True

    def __setstate__(self, state: Any) -> None:
        # BUILD on a stand-in would change it for every later load in the process
        raise refusal(f"sets the state of {self.name}")

    def __reduce__(self) -> Any:
        raise TypeError(f"{self!r} cannot be pickled")

    def __repr__(self) -> str:
        return f"<cldata allow-list entry {self.name}>"

    def __call__(self, *args: Any) -> Any:
        budget = current_budget()
        if self.call is None:
            raise budget.refuse(f"calls {self.name}, which it may only pass as an argument")
        result = self.call(*budget.arguments(args))
        if self.wrap_arrays and isinstance(result, np.ndarray) and not isinstance(result, PrivateValue):
            return Wrapped(result)
        return result


class AllowList(Mapping):
    """The globals a pickle may name, as ``(module, name) -> entry``.

    Keys are the names as they appear in pickles (both the Python 2 spellings that
    protocol 0 uses, such as ``__builtin__``, and the Python 3 ones). Each entry stands for
    one object: calling it (the pickle's ``REDUCE``) runs a checked function, and the loaded
    value holds the object itself. Entries given as plain functions or classes are called
    with checked arguments (see the module doc); use :func:`value_only` for classes a
    pickle may pass as arguments but must not call.

    Examples
    --------
    >>> from cldata.core.safe_pickle import ATTRIBUTE_ALLOWLIST
    >>> ("builtins", "set") in ATTRIBUTE_ALLOWLIST
    True
    >>> ("os", "system") in ATTRIBUTE_ALLOWLIST
    False
    """

    def __init__(self, entries: Mapping[tuple[str, str], Any]):
        self._entries = {key: _as_entry(key, value) for key, value in dict(entries).items()}

    def __getitem__(self, key: tuple[str, str]) -> Any:
        return self._entries[key]

    def __iter__(self):
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def extended(self, entries: Mapping[tuple[str, str], Any] | Iterable[Any]) -> AllowList:
        """Return a new allow-list with more entries.

        ``entries`` is either a mapping like this one, or an iterable of classes and
        functions, each allowed under its own ``__module__`` and ``__qualname__``.
        """
        more: dict[tuple[str, str], Any] = dict(self._entries)
        if isinstance(entries, Mapping):
            more.update(entries)
        else:
            for obj in entries:
                more[(obj.__module__, obj.__qualname__)] = obj
        return AllowList(more)


def _as_entry(key: tuple[str, str], value: Any) -> Any:
    if isinstance(value, Entry) or type(value) is SealedType:
        return value
    return Entry(".".join(key), value, value)


def entry(name: str, value: Any, call: Callable[..., Any] | None, *, wrap_arrays: bool = True) -> Entry:
    """An allow-list entry for ``value``: what the loaded value holds where a pickle names it.

    ``call`` is what calling it runs (after the argument checks), or None if the pickle may
    only pass it as an argument. An ndarray the call returns reaches the pickle wrapped
    (``wrap_arrays``), so that the pickle cannot set its state.
    """
    return Entry(name, value, call, wrap_arrays)


def value_only(name: str, value: Any) -> Entry:
    """An allow-list entry a pickle may pass as an argument but never call."""
    return Entry(name, value, None)


def _base_entries() -> dict[tuple[str, str], Any]:
    entries: dict[tuple[str, str], Any] = {}
    for module in ("builtins", "__builtin__"):
        for name, check in BUILTIN_CHECKS.items():
            cls = getattr(builtins, name)
            entries[(module, name)] = entry(f"builtins.{name}", cls, checked_builtin(name, cls, check))
        # no pickler calls tuple() (tuples have opcodes); a tuple it returned could be a dict key the
        # opcode scan never measured
        entries[(module, "tuple")] = value_only("builtins.tuple", tuple)
    entries[("_codecs", "encode")] = entry("_codecs.encode", codecs.encode, latin1_encode)
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        entries[(module, "_reconstruct")] = entry(f"{module}._reconstruct", multiarray._reconstruct,
                                                  bounded_reconstruct)
        entries[(module, "scalar")] = entry(f"{module}.scalar", multiarray.scalar, numpy_scalar)
    for module in ("numpy.core.numeric", "numpy._core.numeric"):
        entries[(module, "_frombuffer")] = entry(f"{module}._frombuffer", numeric._frombuffer, numpy_frombuffer)
    entries[("numpy", "ndarray")] = value_only("numpy.ndarray", np.ndarray)
    entries[("numpy", "dtype")] = entry("numpy.dtype", np.dtype, numpy_dtype)
    # pickles may name dtype classes (numpy.dtypes.Float64DType ...); calling one makes a dtype
    for name in dir(np.dtypes):
        cls = getattr(np.dtypes, name)
        if isinstance(cls, type) and issubclass(cls, np.dtype) and name not in ("ObjectDType", "StringDType"):
            entries[("numpy.dtypes", name)] = entry(f"numpy.dtypes.{name}", cls, dtype_class(cls))
    return entries


ATTRIBUTE_ALLOWLIST = AllowList(_base_entries())
"""What a PyTables attribute pickle may contain: builtin containers and scalars, numpy arrays,
scalars and dtypes (what CL recordings' attributes hold)."""
