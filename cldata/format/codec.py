"""The data-stream entry codec: msgpack bytes identical to the CL writer's, decoded safely.

Encoding is ``msgpack.packb(value, default=..., use_bin_type=True)`` with numpy values
going through ``msgpack_numpy.encode``, exactly as Cortical Labs' writer does, so the bytes
cldata writes are the bytes the CL tools write for the same value. Two deliberate
extensions, both invisible to the CL reader:

- numpy object arrays are written as lists (as the CL writer does), never pickled;
- a :class:`quantities.Quantity` is written as its magnitude array plus a ``units`` key
  holding ``[[unit name, power], ...]``; the CL reader sees the plain array, cldata gives
  the Quantity back.

As with the CL writer, msgpack has no tuple (tuples read back as lists) and a
``numpy.float64`` is a Python float (it reads back as ``float``); other numpy scalars keep
their dtype.

Decoding never calls ``msgpack_numpy.decode``: for an array of kind ``O`` it would
unpickle bytes from the file. cldata's hook rebuilds numeric (and string, datetime and
structured) arrays and refuses object arrays with :class:`~cldata.errors.UnsafeContentError`.

Examples
--------
>>> import numpy as np
>>> from cldata.format.codec import encode, decode
>>> decode(encode({"x": 1.5, "hit": True}))
{'x': 1.5, 'hit': True}
>>> decode(encode(np.array([2**63, 2**64 - 1], dtype=np.uint64)))
array([ 9223372036854775808, 18446744073709551615], dtype=uint64)
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from itertools import islice
from typing import Any

import msgpack
import msgpack_numpy
import numpy as np
import quantities as pq

from cldata.core.portable import portable  # re-exported: canonical parameters store quantities the same way
from cldata.errors import DecodeError, UnsafeContentError, UnsupportedValueError, ValueOutOfRangeError

__all__ = ["encode", "decode", "decode_span", "Encoder", "SUPPORTED_TYPES"]

SUPPORTED_TYPES = (
    "dict, list, tuple, str, bytes, int (-2**63 .. 2**64-1), float, complex, bool, None, "
    "numpy scalars and arrays (any non-object dtype; object arrays are stored as lists), "
    "quantities.Quantity"
)

# An encoded numpy value is a map with bin-typed keys; its first key is always b"nd". A span
# of bytes without this marker (or the complex marker) holds no numpy value, so it can be
# unpacked without a Python object hook, several times faster.
_ND_MARKER = b"\xc4\x02nd"
_COMPLEX_MARKER = b"\xc4\x07complex"
_NUMPY_KEYS = {b"nd", b"type", b"kind", b"shape", b"data", b"units"}
_UNIT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_MAX_UNIT_POWER = 64


def _type_name(value: Any) -> str:
    cls = type(value)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _encode_units(q: pq.Quantity) -> list[list[Any]]:
    units = []
    for unit, power in q.dimensionality.items():
        power = power.item() if isinstance(power, np.generic) else power
        units.append([unit.name, power])
    return units


def _default(obj: Any) -> Any:
    """msgpack ``default`` hook: numpy and quantities values, nothing else."""
    if isinstance(obj, np.ndarray):
        if isinstance(obj, pq.Quantity):
            obj = portable(obj)
            encoded = msgpack_numpy.encode(np.asarray(obj.magnitude))
            encoded[b"units"] = _encode_units(obj)
            return encoded
        if obj.dtype.kind == "O":
            # as the CL writer does: never let msgpack_numpy pickle an object array
            return obj.tolist()
        if obj.dtype.hasobject:
            raise UnsupportedValueError(
                f"cannot store a structured numpy array with object fields (dtype {obj.dtype}); "
                "use plain numeric fields or a dict of arrays"
            )
        return msgpack_numpy.encode(obj)
    if isinstance(obj, (np.bool_, np.number, complex)):
        return msgpack_numpy.encode(obj)
    if isinstance(obj, int):  # msgpack hands over the ints it cannot represent
        raise ValueOutOfRangeError(
            f"cannot store the integer {obj}: integers must lie in -2**63 .. 2**64-1"
        )
    raise UnsupportedValueError(
        f"cannot store a value of type {_type_name(obj)} in a data stream; "
        f"supported types are {SUPPORTED_TYPES}"
    )


class Encoder:
    """A reusable encoder (one msgpack ``Packer``), for many values in a row.

    Examples
    --------
    >>> enc = Encoder()
    >>> enc.pack({"x": 1}) == encode({"x": 1})
    True
    """

    __slots__ = ("_pack",)

    def __init__(self) -> None:
        self._pack = msgpack.Packer(default=_default, use_bin_type=True).pack

    def pack_many(self, values: Sequence[Any]) -> tuple[bytes, np.ndarray]:
        """Encode many values end to end: ``(bytes, end offset of each value)``.

        All or nothing: if one value cannot be stored, the error names it and nothing is
        returned.
        """
        try:
            packed = list(map(self._pack, values))  # the C packer, no Python frame per value
        except Exception:
            for value in values:
                self.pack(value)  # raises the precise cldata error for the first bad value
            raise
        ends = np.cumsum(np.fromiter(map(len, packed), dtype=np.int64, count=len(packed)))
        return b"".join(packed), ends

    def pack(self, value: Any) -> bytes:
        """Encode one value; raise a cldata error naming the problem if it cannot be stored."""
        try:
            return self._pack(value)
        except (UnsupportedValueError, ValueOutOfRangeError):
            raise
        except OverflowError as exc:
            raise ValueOutOfRangeError(
                f"cannot store {value!r:.80}: integers must lie in -2**63 .. 2**64-1 ({exc})"
            ) from None
        except ValueError as exc:
            # msgpack refuses nesting deeper than its limit, and over-long containers
            raise ValueOutOfRangeError(f"cannot store the value: {exc}") from None
        except TypeError as exc:
            raise UnsupportedValueError(f"cannot store the value: {exc}; supported types are {SUPPORTED_TYPES}") from None


_shared_encoder = Encoder()


def encode(value: Any) -> bytes:
    """Encode one data-stream entry exactly as the CL writer does.

    Raises
    ------
    cldata.errors.UnsupportedValueError
        (a ``TypeError``) for a value of a type the format cannot hold; the message names it.
    cldata.errors.ValueOutOfRangeError
        (a ``ValueError``) for an int outside -2**63 .. 2**64-1, or nesting too deep.

    Examples
    --------
    >>> encode([1, "a", None])
    b'\\x93\\x01\\xa1a\\xc0'
    """
    return _shared_encoder.pack(value)


# --- decoding ------------------------------------------------------------------------


def _checked_dtype(spec: Any) -> np.dtype:
    def build(s: Any) -> Any:
        if isinstance(s, str):
            return s
        if isinstance(s, (list, tuple)):
            fields = []
            for field in s:
                if not isinstance(field, (list, tuple)) or len(field) < 2 or not isinstance(field[0], str):
                    raise DecodeError(f"malformed structured dtype description {spec!r:.120}")
                shape = tuple(field[2]) if len(field) > 2 else ()
                fields.append((field[0], build(field[1]), *((shape,) if shape else ())))
            return fields
        raise DecodeError(f"malformed numpy dtype {spec!r:.120}")

    try:
        dtype = np.dtype(build(spec))
    except DecodeError:
        raise
    except Exception as exc:
        raise DecodeError(f"unknown numpy dtype {spec!r:.120} in entry: {exc}") from None
    if dtype.hasobject:
        raise UnsafeContentError(
            f"the entry holds a numpy array of Python objects (dtype {dtype}); such arrays can "
            "only be rebuilt by unpickling, which cldata refuses"
        )
    if dtype.itemsize == 0:
        # any number of zero-size elements fits in zero bytes: the size check cannot bound them
        raise DecodeError(f"the entry holds a numpy dtype of size 0 ({dtype}), which cldata refuses")
    return dtype


# quantities resolves a unit name by parsing it (ast + compile: ~50 µs); results hold a
# handful of distinct units, each read thousands of times
_UNITS_CACHE: dict[tuple[tuple[str, Any], ...], pq.Quantity] = {}
_UNITS_CACHE_SIZE = 1024


def _decode_units(units: Any) -> pq.Quantity:
    if not isinstance(units, list):
        raise DecodeError(f"malformed units {units!r:.120}")
    key: tuple[tuple[str, Any], ...] | None = None
    if all(type(item) is list and len(item) == 2 and type(item[0]) is str for item in units):
        try:
            key = tuple((item[0], item[1], type(item[1])) for item in units)
            cached = _UNITS_CACHE.get(key)
        except TypeError:  # an unhashable power: malformed, the checks below say how
            key = cached = None
        if cached is not None:
            return cached
    result = _units_from_names(units)
    if key is not None:
        if len(_UNITS_CACHE) >= _UNITS_CACHE_SIZE:
            _UNITS_CACHE.clear()
        _UNITS_CACHE[key] = result
    return result


def _units_from_names(units: list[Any]) -> pq.Quantity:
    result = pq.dimensionless
    for item in units:
        if (
            not isinstance(item, list)
            or len(item) != 2
            or not isinstance(item[0], str)
            or not _UNIT_NAME.match(item[0])
            or isinstance(item[1], bool)
            or not isinstance(item[1], (int, float))
            or not math.isfinite(item[1])
            or abs(item[1]) > _MAX_UNIT_POWER
        ):
            raise DecodeError(f"malformed units {units!r:.120}")
        try:
            unit = pq.unit_registry[item[0]]
        except LookupError:
            raise DecodeError(f"unknown unit {item[0]!r} in entry") from None
        result = result * unit ** item[1]
    return result


def _decode_ndarray(obj: dict) -> Any:
    kind = obj.get(b"kind", b"")
    if kind == b"O":
        raise UnsafeContentError(
            "the entry holds a pickled numpy object array (msgpack_numpy kind 'O'); decoding it "
            "would run pickle on bytes from the file, which cldata refuses"
        )
    dtype = _checked_dtype(obj[b"type"])
    shape = obj[b"shape"]
    data = obj[b"data"]
    if (
        not isinstance(shape, list)
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)
        or not isinstance(data, bytes)
    ):
        raise DecodeError(f"malformed numpy array entry (shape {shape!r:.80})")
    count = math.prod(shape)
    if count * dtype.itemsize != len(data):
        raise DecodeError(
            f"numpy array entry of shape {tuple(shape)} and dtype {dtype} needs "
            f"{count * dtype.itemsize} bytes but holds {len(data)}"
        )
    array = np.frombuffer(data, dtype=dtype, count=count).reshape(shape).copy()
    if b"units" in obj:
        return pq.Quantity(array, _decode_units(obj[b"units"]))
    return array


def _decode_scalar(obj: dict) -> Any:
    dtype = _checked_dtype(obj[b"type"])
    data = obj[b"data"]
    if not isinstance(data, bytes) or len(data) != dtype.itemsize:
        raise DecodeError(f"malformed numpy scalar entry of dtype {dtype}")
    return np.frombuffer(data, dtype=dtype, count=1)[0]


def _object_hook(obj: dict) -> Any:
    if b"nd" in obj and obj.keys() <= _NUMPY_KEYS and b"type" in obj and b"data" in obj:
        nd = obj[b"nd"]
        if nd is True and b"shape" in obj:
            return _decode_ndarray(obj)
        if nd is False:
            return _decode_scalar(obj)
    elif b"complex" in obj and len(obj) == 2 and obj[b"complex"] is True:
        text = obj.get(b"data")
        if isinstance(text, bytes):
            text = text.decode("ascii", "replace")
        if not isinstance(text, str) or len(text) > 128:
            raise DecodeError("malformed complex number entry")
        try:
            return complex(text)
        except ValueError:
            raise DecodeError(f"malformed complex number {text!r}") from None
    return obj


def _tuple_keys(pairs: list) -> dict:
    # msgpack has no tuple: a dict key written as a tuple reads back as a list, which Python
    # cannot hash. Rebuild it as the tuple it was.
    def freeze(k: Any) -> Any:
        return tuple(freeze(x) for x in k) if isinstance(k, list) else k

    return _object_hook({freeze(k): v for k, v in pairs})


def _refuse_ext(code: int, data: bytes) -> Any:
    raise DecodeError(f"the entry uses msgpack extension type {code}, which neither CL nor cldata writes")


def _unpacker(size: int, hook: bool, pairs: bool = False) -> msgpack.Unpacker:
    kwargs: dict[str, Any] = dict(
        raw=False, strict_map_key=False, max_buffer_size=max(size, 1), ext_hook=_refuse_ext
    )
    if pairs:
        kwargs["object_pairs_hook"] = _tuple_keys
    elif hook:
        kwargs["object_hook"] = _object_hook
    return msgpack.Unpacker(**kwargs)


def _needs_hook(data: bytes) -> bool:
    return _ND_MARKER in data or _COMPLEX_MARKER in data


def decode(data: bytes | bytearray | memoryview) -> Any:
    """Decode one entry written by cldata or by the CL writer.

    Raises
    ------
    cldata.errors.DecodeError
        If ``data`` is not exactly one well-formed entry.
    cldata.errors.UnsafeContentError
        If the entry holds a numpy object array (which only pickle could rebuild).

    Examples
    --------
    >>> decode(b"\\x93\\x01\\xa1a\\xc0")
    [1, 'a', None]
    """
    data = bytes(data)
    hook = _needs_hook(data)
    try:
        # one entry: msgpack's one-shot decoder (its limits follow the data's size, as the Unpacker's
        # do); anything it refuses goes through decode_span, which says what is wrong
        if hook:
            return msgpack.unpackb(data, raw=False, strict_map_key=False, ext_hook=_refuse_ext,
                                   object_hook=_object_hook)
        return msgpack.unpackb(data, raw=False, strict_map_key=False, ext_hook=_refuse_ext)
    except (DecodeError, UnsafeContentError):
        raise
    except Exception:
        return decode_span(data, 1)[0]


def decode_span(data: bytes, count: int) -> list[Any]:
    """Decode ``count`` entries written end to end in ``data``, in one pass.

    The span must hold exactly ``count`` entries and nothing more. Entries are
    self-delimiting, so each value is exactly one written entry.

    Raises
    ------
    cldata.errors.DecodeError
        If the bytes do not hold exactly ``count`` well-formed entries.
    cldata.errors.UnsafeContentError
        If an entry holds a numpy object array.

    Examples
    --------
    >>> decode_span(encode(1) + encode("two"), 2)
    [1, 'two']
    """
    hook = _needs_hook(data)
    try:
        return _decode_span(data, count, hook, pairs=False)
    except TypeError as exc:
        if "unhashable" not in str(exc):
            raise DecodeError(f"malformed entry: {exc}") from None
        return _decode_span(data, count, hook, pairs=True)


def _decode_span(data: bytes, count: int, hook: bool, pairs: bool) -> list[Any]:
    unpacker = _unpacker(len(data), hook, pairs)
    unpacker.feed(data)
    try:
        values = list(islice(unpacker, count))
    except (DecodeError, UnsafeContentError):
        raise
    except TypeError:
        if pairs:
            raise DecodeError("malformed entry: a map key cannot be used as a dict key") from None
        raise
    except Exception as exc:  # msgpack raises ValueError, FormatError, StackError... on bad input
        raise DecodeError(f"malformed entry data: {type(exc).__name__}: {exc}") from None
    if len(values) != count:
        raise DecodeError(f"truncated entry data: expected {count} entries, found {len(values)} in {len(data)} bytes")
    if unpacker.tell() != len(data):
        raise DecodeError(
            f"entry data holds {len(data) - unpacker.tell()} bytes beyond the {count} expected entries"
        )
    return values
