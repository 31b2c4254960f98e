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
import numbers
from collections.abc import Mapping
from typing import Any

import msgpack
import numpy as np
import quantities as pq

from cldata.core.portable import portable
from cldata.errors import UnsupportedValueError

__all__ = ["canonical", "flatten", "digest", "digest_canonical", "plain", "Canon"]

Canon = Any  # a hashable canonical value: None, bool, int, float, str, bytes, tuple, ("q", ...)


MAX_DEPTH = 64
"""How deeply parameters may nest (deeper, or containing themselves, is refused)."""

_NAN = ("nan",)  # NaN equals itself as a parameter value (a float NaN would match nothing)


def _float(f: float) -> Any:
    if f != f:
        return _NAN
    return int(f) if f.is_integer() and abs(f) < 2**63 else f


def _number(value: Any) -> Any:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, (complex, np.complexfloating)):
        c = complex(value)
        return _float(c.real) if c.imag == 0 else ("c", _float(c.real), _float(c.imag))
    return _float(float(value))


def _too_deep() -> UnsupportedValueError:
    return UnsupportedValueError(
        f"parameters nest deeper than {MAX_DEPTH} levels (or a list or dict contains itself)"
    )


def canonical(value: Any, _depth: int = 0) -> Canon:
    """The canonical, hashable form of a parameter value.

    Dicts become sorted tuples of ``(key, value)`` pairs tagged ``"d"``, lists and tuples
    become tuples tagged ``"l"``, quantities become ``("q", magnitude, unit)`` in base SI
    units, numbers compare by value (``1 == 1.0``, ``1+0j == 1``; ``True`` stays distinct
    from ``1``; NaN equals NaN).

    Raises
    ------
    cldata.errors.UnsupportedValueError
        For values that cannot be parameters (objects, functions, ...), or nesting deeper
        than :data:`MAX_DEPTH`.

    Examples
    --------
    >>> import quantities as pq
    >>> canonical(1.5 * pq.s) == canonical(1500 * pq.ms), canonical((1, 2.0))
    (True, ('l', (1, 2)))
    """
    # the common plain types first, by exact type: isinstance checks against the numbers and
    # Mapping ABCs are slow, and catalogs canonicalise hundreds of thousands of values
    t = type(value)
    if t is str or value is None or t is int or t is bool:
        return value
    if t is float:
        return _float(value)
    if _depth >= MAX_DEPTH:
        raise _too_deep()
    d = _depth + 1
    if t is dict:
        return ("d", tuple(sorted(((str(k), canonical(v, d)) for k, v in value.items()), key=_first)))
    if t is list or t is tuple:
        return ("l", tuple(canonical(v, d) for v in value))
    return _canonical_other(value, d)


def _canonical_other(value: Any, d: int) -> Canon:
    # canonical() of everything but the plain types (quantities, numpy values, other mappings
    # and sequences, sets), at nesting depth d
    if isinstance(value, pq.Quantity):
        simple = value.simplified
        mag = np.asarray(simple.magnitude)
        units = simple.dimensionality.string
        if mag.ndim == 0:
            return ("q", _number(mag.item()), units)
        return ("q", tuple(_number(x) for x in mag.ravel().tolist()), mag.shape, units)
    if isinstance(value, (bool, np.bool_, numbers.Number, np.number)):
        return _number(value)
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value)
    if isinstance(value, np.str_):
        return str(value)
    if isinstance(value, Mapping):
        return ("d", tuple(sorted(((str(k), canonical(v, d)) for k, v in value.items()), key=_first)))
    if isinstance(value, (list, tuple)):
        return ("l", tuple(canonical(v, d) for v in value))
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise UnsupportedValueError("a parameter value cannot be a numpy array of Python objects")
        return ("l", tuple(canonical(v, d) for v in value.tolist()))
    if isinstance(value, (set, frozenset)):
        return ("s", tuple(sorted((canonical(v, d) for v in value), key=repr)))
    raise UnsupportedValueError(
        f"a parameter value cannot be a {type(value).__name__} ({value!r:.60}); use numbers, "
        "strings, booleans, None, quantities, and lists or dicts of these"
    )


def _first(kv: tuple) -> str:
    return kv[0]


def plain(value: Any, _depth: int = 0) -> Any:
    """A parameter value ready to store: numpy scalars and arrays as Python values.

    Raises
    ------
    cldata.errors.UnsupportedValueError
        For dict keys that are not strings (``{1: "a", "1": "b"}`` would collide once
        stored), or nesting deeper than :data:`MAX_DEPTH`.

    Examples
    --------
    >>> plain({"rate": np.float64(4.0), "window": np.array([0, 1])})
    {'rate': 4.0, 'window': [0, 1]}
    """
    t = type(value)
    if t is str or t is int or t is float or t is bool or value is None:
        return value
    if _depth >= MAX_DEPTH:
        raise _too_deep()
    d = _depth + 1
    if isinstance(value, Mapping):
        bad = [k for k in value if not isinstance(k, str)]
        if bad:
            raise UnsupportedValueError(
                f"parameter names are strings, not {type(bad[0]).__name__} ({bad[0]!r:.40})"
            )
        return {k: plain(v, d) for k, v in value.items()}
    if isinstance(value, pq.Quantity):
        return portable(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return plain(value.tolist(), d)
    if isinstance(value, (list, tuple)):
        return [plain(v, d) for v in value]
    return value


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested parameters as ``{"dotted.path": leaf value}`` (dict leaves are descended into).

    An empty nested dict is kept as a leaf so that its key still exists.

    Examples
    --------
    >>> flatten({"a": {"b": 1, "c": {}}})
    {'a.b': 1, 'a.c': {}}
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
    """A stable hex digest of canonical values (the same on every machine and run).

    Examples
    --------
    >>> digest({"rate": 4}) == digest({"rate": 4.0}), len(digest({"rate": 4}))
    (True, 16)
    """
    return digest_canonical(tuple(canonical(p) for p in parts), length)


def digest_canonical(canon: Canon, length: int = 16) -> str:
    """A stable hex digest of a value already in canonical form."""
    data = msgpack.packb(canon, use_bin_type=True)  # tuples pack as arrays
    return hashlib.sha256(data).hexdigest()[:length]
