"""Parameter values in canonical form: for identity, hashing and the catalog index.

Parameters are nested dicts of plain values. Two parameter sets that a scientist would
call equal must map to the same key: ``1`` and ``1.0`` are the same number, a numpy
scalar is its Python value, a tuple is a list, and ``1.5 * pq.s`` is ``1500 * pq.ms``.
:func:`canonical` produces that form (hashable), :func:`flatten` the dotted paths that
the index and the queries use, and :func:`digest` a short stable hash.

Examples
--------
>>> canonical({"rate": 4.0, "window": (0, 1)}) == canonical({"window": [0, 1], "rate": 4})
True
>>> flatten({"culture": "C7", "stimulation": {"frequency": 4}})
{'culture': 'C7', 'stimulation.frequency': 4}
"""

from __future__ import annotations

import hashlib
import math
import numbers
from collections.abc import Mapping
from typing import Any

import msgpack
import numpy as np
import quantities as pq

from cldata.errors import UnsupportedValueError

__all__ = ["canonical", "flatten", "digest", "digest_canonical", "plain", "Canon"]

Canon = Any  # a hashable canonical value: None, bool, int, float, str, bytes, tuple, ("q", ...)


def _number(value: Any) -> Any:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    f = float(value)
    if math.isfinite(f) and f.is_integer() and abs(f) < 2**63:
        return int(f)
    return f


def canonical(value: Any) -> Canon:
    """The canonical, hashable form of a parameter value.

    Dicts become sorted tuples of ``(key, value)`` pairs tagged ``"d"``, lists and tuples
    become tuples tagged ``"l"``, quantities become ``("q", magnitude, unit)`` in base SI
    units, numbers compare by value (``1 == 1.0``; ``True`` stays distinct from ``1``).

    Raises
    ------
    cldata.errors.UnsupportedValueError
        For values that cannot be parameters (objects, functions, ...).
    """
    # the common plain types first, by exact type: isinstance checks against the numbers and
    # Mapping ABCs are slow, and catalogs canonicalise hundreds of thousands of values
    t = type(value)
    if t is str or value is None:
        return value
    if t is int:
        return value
    if t is float:
        return int(value) if value.is_integer() and abs(value) < 2**63 else value
    if t is bool:
        return value
    if t is dict:
        return ("d", tuple(sorted(((str(k), canonical(v)) for k, v in value.items()), key=_first)))
    if t is list or t is tuple:
        return ("l", tuple(canonical(v) for v in value))
    if isinstance(value, pq.Quantity):
        simple = value.simplified
        mag = np.asarray(simple.magnitude)
        units = simple.dimensionality.string
        if mag.ndim == 0:
            return ("q", _number(mag.item()), units)
        return ("q", tuple(_number(x) for x in mag.ravel().tolist()), mag.shape, units)
    if isinstance(value, (bool, np.bool_, numbers.Number, np.number)) and not isinstance(value, complex):
        return _number(value)
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value)
    if isinstance(value, np.str_):
        return str(value)
    if isinstance(value, Mapping):
        items = [(str(k), canonical(v)) for k, v in value.items()]
        items.sort(key=lambda kv: kv[0])
        return ("d", tuple(items))
    if isinstance(value, (list, tuple)):
        return ("l", tuple(canonical(v) for v in value))
    if isinstance(value, np.ndarray):
        return ("l", tuple(canonical(v) for v in value.tolist()))
    if isinstance(value, (set, frozenset)):
        return ("s", tuple(sorted((canonical(v) for v in value), key=repr)))
    if isinstance(value, complex):
        return ("c", value.real, value.imag)
    raise UnsupportedValueError(
        f"a parameter value cannot be a {type(value).__name__} ({value!r:.60}); use numbers, "
        "strings, booleans, None, quantities, and lists or dicts of these"
    )


def _first(kv: tuple) -> str:
    return kv[0]


def plain(value: Any) -> Any:
    """A parameter value with numpy scalars and arrays turned into Python values (for storage)."""
    t = type(value)
    if t is str or t is int or t is float or t is bool or value is None:
        return value
    if t is dict:
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, pq.Quantity):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested parameters as ``{"dotted.path": leaf value}`` (dict leaves are descended into).

    An empty nested dict is kept as a leaf so that its key still exists.
    """
    out: dict[str, Any] = {}
    for key, value in params.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, path + "."))
        else:
            out[path] = value
    return out


def digest(*parts: Any, length: int = 16) -> str:
    """A stable hex digest of canonical values (the same on every machine and run)."""
    return digest_canonical(tuple(canonical(p) for p in parts), length)


def digest_canonical(canon: Canon, length: int = 16) -> str:
    """A stable hex digest of a value already in canonical form."""
    data = msgpack.packb(canon, use_bin_type=True)  # tuples pack as arrays
    return hashlib.sha256(data).hexdigest()[:length]
