"""What the globals on the base allow-list run when a pickle calls them: checked builtins and numpy.

Protocol 0-3 pickles call builtin types (``set([...])``, ``complex(1.0, 2.0)``), spell bytes
as ``_codecs.encode(text, "latin1")``, and rebuild numpy arrays, scalars and dtypes through
numpy's own helpers. Each function here stands in for one of those calls: it accepts only
the plain arguments a pickler writes, counts what it allocates into the load's budget
before allocating it, and builds numpy values on private, validated dtypes (see
:mod:`cldata.core.safe_pickle.budget`); anything else is refused before it runs.

Examples
--------
>>> checked_builtin("set", set, BUILTIN_CHECKS["set"])([1, 2]) == {1, 2}
True
"""

from __future__ import annotations

import codecs
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy._core.multiarray import scalar

from cldata.core.safe_pickle.budget import PrivateArray, check_tiny_shape, current_budget
from cldata.core.safe_pickle.limits import describe, is_shape

__all__ = [
    "BUILTIN_CHECKS",
    "bounded_reconstruct",
    "checked_builtin",
    "dtype_class",
    "latin1_encode",
    "numpy_dtype",
    "numpy_frombuffer",
    "numpy_scalar",
]


def latin1_encode(text: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    # Protocol 0-2 pickles written by Python 3 spell bytes as _codecs.encode(text, "latin1").
    # Only that use is allowed: other codec names would let a pickle trigger codec imports.
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "iso-8859-1"):
        raise current_budget().refuse(f"calls _codecs.encode with encoding {describe(encoding)}; only latin1 is allowed")
    current_budget().charge(nbytes=len(text))
    return codecs.encode(text, "latin1")


def bounded_reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    # numpy pickles arrays as _reconstruct(ndarray, (0,), b'b') followed by BUILD; the array
    # starts zeroed (never uninitialised memory) and private (its state is checked when set)
    budget = current_budget()
    if subtype is not np.ndarray:
        raise budget.refuse("reconstructs an array subtype outside the allow-list")
    check_tiny_shape(shape)
    d = budget.fresh(dtype)
    budget.charge(nbytes=max(d.itemsize, 1) * max(math.prod(shape), 1))
    return budget.new_private(np.zeros(shape, d).view(PrivateArray), state_set=False)


def numpy_scalar(dtype: Any, data: Any = None) -> Any:
    budget = current_budget()
    d = budget.fresh(dtype)
    if d.hasobject:
        # numpy's scalar(object dtype, x) is x itself (numpy never pickles one): it would hand the
        # pickle a value the opcode scan took for a fresh scalar (a tuple it must not hash)
        raise budget.refuse("builds a numpy object scalar")
    if type(data) not in (bytes, str) or len(data) != d.itemsize:
        raise budget.refuse(f"builds a numpy scalar of {d.itemsize} bytes from {describe(data)}")
    budget.charge(nbytes=d.itemsize)
    return scalar(d, data.encode("latin1") if isinstance(data, str) else data)


def numpy_frombuffer(buf: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    # protocol 5 pickles of arrays: the buffer is bytes from the pickle itself
    budget = current_budget()
    if type(buf) not in (bytes, bytearray):
        raise budget.refuse(f"builds an array from {describe(buf)} instead of bytes")
    d = budget.fresh(dtype)
    if d.hasobject:
        raise budget.refuse("builds an array of Python objects from raw bytes")
    if not is_shape(shape) or order not in ("C", "F") or d.itemsize == 0 \
            or math.prod(shape) * d.itemsize != len(buf):
        raise budget.refuse(f"builds an array of shape {describe(shape)} from {len(buf)} bytes")
    budget.charge(nbytes=len(buf))
    array = np.frombuffer(buf, dtype=d).reshape(shape, order=order)
    if isinstance(buf, bytes):  # read-only memory: numpy's own loader gives a writable array
        array = array.copy(order="K")
    return budget.new_private(array.view(PrivateArray), state_set=True)


def numpy_dtype(spec: Any, align: Any = False, copy: Any = False) -> np.dtype:
    # always a new dtype (a pickle that got numpy's shared float64 dtype could BUILD it)
    budget = current_budget()
    if type(align) is not bool or type(copy) is not bool:
        raise budget.refuse("calls numpy.dtype with non-bool flags")
    try:
        d = np.dtype(spec, align, True)
    except (TypeError, ValueError, KeyError, IndexError, OverflowError, RecursionError) as exc:
        raise budget.refuse(f"builds a dtype numpy refuses ({type(exc).__name__}: {str(exc)[:80]})") from None
    return budget.expose(d)


def dtype_class(cls: type) -> Callable[..., np.dtype]:
    def build(*args: Any) -> np.dtype:
        budget = current_budget()
        if len(args) > 1 or not all(type(a) in (int, str) for a in args):
            raise budget.refuse(f"calls numpy.dtypes.{cls.__name__} with {describe(args)}")
        try:
            d = np.dtype(cls(*args), False, True)
        except (TypeError, ValueError, OverflowError) as exc:
            raise budget.refuse(f"builds a dtype numpy refuses ({exc})") from None
        return budget.expose(d)

    return build


def checked_builtin(name: str, cls: type, check: Callable[[tuple], bool]) -> Callable[..., Any]:
    # builtin types are called by protocol 0-3 pickles (set([...]), complex(1.0, 2.0), bytes());
    # only with plain arguments: str(x) of a container would repr it, bytes(n) allocate n bytes
    def call(*args: Any) -> Any:
        if not check(args):
            raise current_budget().refuse(f"calls {name} with {describe(args)}")
        return cls(*args)

    return call


def _one(args: tuple, *allowed: type) -> bool:
    return len(args) == 1 and type(args[0]) in allowed


_CONTAINERS = (list, tuple, set, frozenset)
_NUMBER_TEXT = (bool, int, float, str)

BUILTIN_CHECKS: dict[str, Callable[[tuple], bool]] = {
    "dict": lambda a: not a or _one(a, dict, list, tuple),
    "list": lambda a: not a or _one(a, *_CONTAINERS),
    "set": lambda a: not a or _one(a, *_CONTAINERS),
    "frozenset": lambda a: not a or _one(a, *_CONTAINERS),
    "str": lambda a: not a or _one(a, str) or (
        2 <= len(a) <= 3 and type(a[0]) in (bytes, bytearray) and all(type(x) is str for x in a[1:])),
    "bytes": lambda a: not a or _one(a, bytes, bytearray) or (
        _one(a, list, tuple) and all(type(x) is int for x in a[0])) or (
        2 <= len(a) <= 3 and all(type(x) is str for x in a)),
    "int": lambda a: 1 <= len(a) <= 2 and type(a[0]) in (*_NUMBER_TEXT, bytes) and all(type(x) is int for x in a[1:]),
    "float": lambda a: not a or _one(a, *_NUMBER_TEXT),
    "complex": lambda a: len(a) <= 2 and all(type(x) in (*_NUMBER_TEXT, complex) for x in a),
    "bool": lambda a: not a or _one(a, *_NUMBER_TEXT, complex, bytes, type(None)),
}

