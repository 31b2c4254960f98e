"""Unpickling that can only build allow-listed objects, and the guard that makes PyTables use it.

Pickle is a small program: loading it may call any importable function. PyTables stores
every attribute that is not a plain number, string or array (the ``application`` dicts of
a CL recording, for example) as a pickle, and unpickles it as soon as the node is opened.
So a crafted recording runs code the moment ``tables.open_file`` touches it.

This module resolves globals from a fixed table of allowed objects instead of importing
whatever the pickle names. Anything else raises :class:`~cldata.errors.UnsafeContentError`
before it is called. The table is keyed by the ``(module, name)`` pair written in the
pickle; the object it maps to is looked up here, never imported by name from file content.

Example
-------
>>> import pickle
>>> from cldata.restricted_pickle import safe_loads
>>> safe_loads(pickle.dumps({"culture": "C7", "session": 3}, 0))
{'culture': 'C7', 'session': 3}
>>> import os
>>> safe_loads(b"cos\\nsystem\\n(S'true'\\ntR.")
Traceback (most recent call last):
...
cldata.errors.UnsafeContentError: the pickle names os.system, which is not on cldata's allow-list ...
"""

from __future__ import annotations

import builtins
import codecs
import io
import math
import pickle
import sys
import types
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from cldata.errors import UnsafeContentError

__all__ = [
    "AllowList",
    "ATTRIBUTE_ALLOWLIST",
    "RestrictedUnpickler",
    "safe_loads",
    "install_pytables_guard",
]


def _latin1_encode(text: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    # Protocol 0-2 pickles written by Python 3 spell bytes as _codecs.encode(text, "latin1").
    # Only that use is allowed: other codec names would let a pickle trigger codec imports.
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "iso-8859-1"):
        raise UnsafeContentError(
            f"the pickle calls _codecs.encode with encoding {encoding!r}; only latin1 is allowed"
        )
    return codecs.encode(text, "latin1")


class NDArrayType:
    """What a pickle gets for ``numpy.ndarray``: usable as the class argument of numpy's
    ``_reconstruct``, never callable (calling ``ndarray(shape)`` would allocate any size)."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        raise UnsafeContentError("the pickle calls numpy.ndarray directly (it could allocate any size); refused")


def check_tiny_shape(shape: Any) -> None:
    """Refuse a shape of more than one element: pickles of arrays start from an empty or
    one-element array and then set the real data, so anything larger only allocates."""
    if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape) \
            or math.prod(shape) > 1:
        raise UnsafeContentError(f"the pickle reconstructs an array of shape {shape!r:.60}; refused")


def _bounded_reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    # numpy always pickles arrays as _reconstruct(ndarray, (0,), b'b') followed by BUILD
    if subtype is not NDArrayType and subtype is not np.ndarray:
        raise UnsafeContentError("the pickle reconstructs an array subtype outside the allow-list")
    check_tiny_shape(shape)
    from numpy._core.multiarray import _reconstruct

    return _reconstruct(np.ndarray, shape, dtype)


def _numpy_scalar(dtype: Any, data: Any = None) -> Any:
    from numpy._core.multiarray import scalar

    if not isinstance(dtype, np.dtype):
        raise UnsafeContentError("the pickle builds a numpy scalar without a dtype")
    return scalar(dtype) if data is None else scalar(dtype, data)


def _numpy_frombuffer(buf: Any, dtype: Any, shape: Any, order: str) -> np.ndarray:
    # protocol 5 pickles of arrays: the buffer is bytes from the pickle itself
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise UnsafeContentError("the pickle builds an array of Python objects from raw bytes")
    return np.frombuffer(buf, dtype=dtype).reshape(shape, order=order).copy()


def _numpy_dtype(spec: Any, align: bool = False, copy: bool = False) -> np.dtype:
    return np.dtype(spec, align, copy)


_BUILTIN_TYPES = ("dict", "list", "tuple", "set", "frozenset", "str", "int", "float", "complex", "bool")


class AllowList(Mapping):
    """The globals a pickle may name, as ``(module, name) -> object``.

    Keys are the names as they appear in pickles (both the Python 2 spellings that
    protocol 0 uses, such as ``__builtin__``, and the Python 3 ones). Values are the
    objects to hand back: often a guarded wrapper rather than the real callable.

    Examples
    --------
    >>> from cldata.restricted_pickle import ATTRIBUTE_ALLOWLIST
    >>> ("builtins", "set") in ATTRIBUTE_ALLOWLIST
    True
    >>> ("os", "system") in ATTRIBUTE_ALLOWLIST
    False
    """

    def __init__(self, entries: Mapping[tuple[str, str], Any]):
        self._entries = dict(entries)

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
        more = dict(self._entries)
        if isinstance(entries, Mapping):
            more.update(entries)
        else:
            for obj in entries:
                more[(obj.__module__, obj.__qualname__)] = obj
        return AllowList(more)


def _base_entries() -> dict[tuple[str, str], Any]:
    entries: dict[tuple[str, str], Any] = {}
    for module in ("builtins", "__builtin__"):
        for name in _BUILTIN_TYPES:
            entries[(module, name)] = getattr(builtins, name)
    entries[("_codecs", "encode")] = _latin1_encode
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        entries[(module, "_reconstruct")] = _bounded_reconstruct
        entries[(module, "scalar")] = _numpy_scalar
    for module in ("numpy.core.numeric", "numpy._core.numeric"):
        entries[(module, "_frombuffer")] = _numpy_frombuffer
    entries[("numpy", "ndarray")] = NDArrayType
    entries[("numpy", "dtype")] = _numpy_dtype
    # dtype pickles name the dtype class itself since numpy 1.20 (numpy.dtypes.Float64DType ...)
    for name in dir(np.dtypes):
        cls = getattr(np.dtypes, name)
        if isinstance(cls, type) and issubclass(cls, np.dtype) and name != "ObjectDType":
            entries[("numpy.dtypes", name)] = cls
    return entries


ATTRIBUTE_ALLOWLIST = AllowList(_base_entries())
"""What a PyTables attribute pickle may contain: builtin containers and scalars, numpy arrays,
scalars and dtypes. This is the allow-list DESIGN.md §1 names for CL recording attributes."""


class RestrictedUnpickler(pickle.Unpickler):
    """A :class:`pickle.Unpickler` whose globals come only from an :class:`AllowList`.

    Parameters
    ----------
    file
        A binary file-like object holding the pickle.
    allowlist
        What the pickle may name; :data:`ATTRIBUTE_ALLOWLIST` by default.
    source
        Where the bytes came from, used in error messages (a file and node path, say).

    Examples
    --------
    >>> import io, pickle
    >>> RestrictedUnpickler(io.BytesIO(pickle.dumps([1, 2.5, "x"]))).load()
    [1, 2.5, 'x']
    """

    def __init__(self, file: Any, allowlist: AllowList = ATTRIBUTE_ALLOWLIST, source: str = ""):
        super().__init__(file, fix_imports=False, encoding="latin1")
        self._allowlist = allowlist
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowlist[(module, name)]
        except KeyError:
            where = f" in {self._source}" if self._source else ""
            raise UnsafeContentError(
                f"the pickle{where} names {module}.{name}, which is not on cldata's allow-list "
                "of types that are safe to load; nothing was executed. If this file comes "
                "from a source you do not fully trust, do not load it with plain pickle."
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafeContentError("the pickle refers to a persistent object; refused")


def safe_loads(data: bytes, allowlist: AllowList = ATTRIBUTE_ALLOWLIST, source: str = "") -> Any:  # noqa: D417
    """Unpickle ``data``, building only objects from ``allowlist``.

    Raises
    ------
    cldata.errors.UnsafeContentError
        If the pickle names anything outside the allow-list (nothing has run).
    pickle.UnpicklingError
        If ``data`` is not a well-formed pickle.

    Examples
    --------
    >>> import numpy as np, pickle
    >>> safe_loads(pickle.dumps(np.arange(3)))
    array([0, 1, 2])
    """
    try:
        return RestrictedUnpickler(io.BytesIO(bytes(data)), allowlist, source).load()
    except UnsafeContentError as exc:
        text = str(exc)
        if source and source not in text:
            raise UnsafeContentError(f"{text} (in {source})") from None
        raise


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
    attributeset = sys.modules.get("tables.attributeset")
    if attributeset is None:
        import tables.attributeset as attributeset
    if not isinstance(attributeset.pickle, _GuardedPickleModule):
        attributeset.pickle = _GuardedPickleModule()
