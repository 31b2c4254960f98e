"""Plain values in a neo-segment file: msgpack bytes through cldata's codec, checked lossless.

Everything that is not a big array (names, units, rates, annotations, array annotations,
event labels) is stored as msgpack bytes made by :mod:`cldata.format.codec` (the codec of the
CL data streams): dicts, lists, str, bytes, int, float, complex, bool, None, numpy scalars and
arrays of any non-object dtype, and :class:`quantities.Quantity` as magnitude plus unit names.
Nothing read back can run code: the codec never unpickles and unit names are looked up, not
evaluated.

A value is written only if it reads back as itself: :func:`pack` decodes what it encoded and
compares (types of containers, dtypes, units and values, NaN equal to NaN). A tuple (msgpack
has none), a ``datetime``, an object array of mixed values or a compound unit such as
``1/30000*s`` would come back different, so it is refused with
:class:`~cldata.errors.UnsupportedValueError` naming where it sits (``spiketrains[2]
annotation 'quality'``). One widening is accepted: ``numpy.float64``, ``numpy.str_`` and
``numpy.bytes_`` (subclasses of ``float``, ``str`` and ``bytes``) read back as the Python
``float``, ``str`` and ``bytes`` of the same value, equal in every comparison.

Examples
--------
>>> unpack(pack({"x": [1, "a"]}, "annotations"))
{'x': [1, 'a']}
>>> pack((1, 2), "annotation 'pair'")
Traceback (most recent call last):
...
cldata.errors.UnsupportedValueError: annotation 'pair' cannot be stored losslessly: a tuple reads back as a list; store a list (or a numpy array)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import quantities as pq

from cldata.errors import UnsupportedValueError, ValueOutOfRangeError
from cldata.format.codec import decode, encode

__all__ = ["pack", "unpack", "as_bytes_array"]


# numpy's float64, str_ and bytes_ subclass Python's float, str and bytes; msgpack writes them
# as such and they read back as the Python type, equal in every comparison
_WIDENED = (float, str, bytes)


def _array_difference(a: np.ndarray, b: Any) -> str | None:
    if isinstance(a, pq.Quantity):
        if not isinstance(b, pq.Quantity) or a.dimensionality.string != b.dimensionality.string:
            return (f"its units {a.dimensionality.string} read back as "
                    f"{getattr(b, 'dimensionality', None)}; rescale it to a named unit")
        return _array_difference(a.magnitude, b.magnitude)
    if not isinstance(b, np.ndarray) or isinstance(b, pq.Quantity):
        return f"a numpy array of dtype {a.dtype} reads back as {type(b).__name__}"
    if a.dtype != b.dtype or a.shape != b.shape:
        return f"a numpy array of dtype {a.dtype} {a.shape} reads back as {b.dtype} {b.shape}"
    return None if np.array_equal(a, b, equal_nan=a.dtype.kind in "fc") else "its values read back different"


def _container_difference(a: dict | list, b: Any) -> str | None:
    if isinstance(a, dict):
        if not isinstance(b, dict) or list(a) != list(b):
            return "a dict's keys read back different (keys must be str, int or bytes)"
        pairs = [(f"key {k!r}", a[k], b[k]) for k in a]
    else:
        if not isinstance(b, list) or len(a) != len(b):
            return "a list reads back different"
        pairs = [(f"item {i}", x, y) for i, (x, y) in enumerate(zip(a, b))]
    for where, x, y in pairs:
        why = _difference(x, y)
        if why:
            return f"at {where}: {why}"
    return None


def _difference(a: Any, b: Any) -> str | None:
    """Why ``b`` (read back) is not ``a`` (written), or None when it is."""
    if isinstance(a, tuple):
        return "a tuple reads back as a list; store a list (or a numpy array)"
    if isinstance(a, np.ndarray):
        return _array_difference(a, b)
    if isinstance(a, (dict, list)):
        return _container_difference(a, b)
    if type(a) is not type(b) and not (isinstance(a, (float, str, bytes)) and type(b) in _WIDENED):
        return f"a {type(a).__name__} reads back as a {type(b).__name__}"
    if a != a and b != b:  # NaN
        return None
    return None if a == b else "its value reads back different"


def pack(value: Any, what: str) -> bytes:
    """``value`` as msgpack bytes, refused unless it reads back as itself.

    Parameters
    ----------
    value
        A plain value (see the module docstring).
    what
        Where the value sits, for the error message (``"spiketrains[2] annotation 'q'"``).

    Raises
    ------
    cldata.errors.UnsupportedValueError
        If the value cannot be stored, or would read back different; the message names
        ``what`` and why.

    Examples
    --------
    >>> len(pack(1.5, "x")) > 0
    True
    """
    try:
        data = encode(value)
    except (UnsupportedValueError, ValueOutOfRangeError) as exc:
        raise UnsupportedValueError(f"{what} cannot be stored: {exc}") from None
    why = _difference(value, decode(data))
    if why:
        raise UnsupportedValueError(f"{what} cannot be stored losslessly: {why}")
    return data


def unpack(data: bytes | np.ndarray) -> Any:
    """The value :func:`pack` stored (bytes, or a uint8 array read from the file).

    Examples
    --------
    >>> unpack(np.frombuffer(pack([1], "x"), dtype=np.uint8))
    [1]
    """
    raw = data.tobytes() if isinstance(data, np.ndarray) else bytes(data)
    return decode(raw)


def as_bytes_array(data: bytes) -> np.ndarray:
    """``data`` as a uint8 array, the form it takes in the file (HDF5 keeps every byte of it)."""
    return np.frombuffer(data, dtype=np.uint8)
