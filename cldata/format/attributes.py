"""HDF5 node attributes of a CL recording: read safely, checked before writing.

PyTables keeps numbers, strings and arrays as native HDF5 attributes and pickles the
rest (the ``application`` dicts, ``file_format``). With the guard from
:mod:`cldata.core.safe_pickle` installed, a pickle outside the allow-list comes back from
PyTables as raw bytes; :func:`read_attributes` turns that into a clear
:class:`~cldata.errors.UnsafeContentError`, so a hostile attribute is refused, not ignored.
A pickle that would allocate, expand (shared references) or nest beyond the loader's limits,
or contains itself, is refused the same way (:class:`~cldata.errors.ContentLimitError`, see
:class:`cldata.core.safe_pickle.PickleLimits`): every value read here is a tree small enough
to walk, so ``to_dict``, ``cldata info`` and ``add_recording`` finish.

Examples
--------
>>> from cldata.format.attributes import check_attribute_value
>>> check_attribute_value({"culture": "C7", "arena": [640, 480]})
>>> check_attribute_value({"when": object()})
Traceback (most recent call last):
...
cldata.errors.UnsupportedValueError: attribute value at ['when'] has type object; ...
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import tables

from cldata.core.safe_pickle import install_pytables_guard, safe_loads
from cldata.errors import CorruptRecordingError, UnsafeContentError, UnsupportedValueError

__all__ = ["AttributesView", "read_attributes", "check_attribute_value", "to_plain"]

install_pytables_guard()

_PLAIN_SCALARS = (str, bytes, bool, int, float, complex, type(None))
_ALLOWED_DESCRIPTION = (
    "None, bool, int, float, complex, str, bytes, numpy scalars and non-object arrays, "
    "and lists, tuples, sets and dicts of these"
)


def _looks_pickled(value: Any) -> bool:
    # the same test PyTables applies before it tries to unpickle an attribute
    return (
        isinstance(value, np.bytes_)
        and len(value) > 0
        and value.endswith(b".")
        and value not in (b"0", b"0.")
    )


def read_attributes(node: tables.Node, source: str = "") -> dict[str, Any]:
    """Return the user attributes of ``node`` (not PyTables' own CLASS/TITLE/VERSION...).

    Values are what PyTables returns (numpy scalars for numbers, ``str`` for strings),
    with pickled values rebuilt through the allow-list.

    Raises
    ------
    cldata.errors.UnsafeContentError
        If an attribute is a pickle naming anything outside the allow-list. Nothing ran.
    cldata.errors.ContentLimitError
        If it would build more than the loader's limits allow, or contains itself.
    cldata.errors.CorruptRecordingError
        If loading it fails for lack of memory or recursion depth (a backstop: the limits
        refuse such pickles first).

    Examples
    --------
    >>> import cldata, tables
    >>> with tables.open_file(cldata.example_recording()) as f:  # doctest: +SKIP
    ...     read_attributes(f.root)["application"]
    {'experiment': 'pong', 'culture': 'C7', 'session': 3}
    """
    attrs = node._v_attrs
    where = f"{source}:{node._v_pathname}" if source else node._v_pathname
    result: dict[str, Any] = {}
    for name in attrs._v_attrnamesuser:
        value = getattr(attrs, name)
        if _looks_pickled(value):
            try:
                value = safe_loads(bytes(value), source=f"attribute {name!r} of {where}")
            except UnsafeContentError:  # ContentLimitError included
                raise
            except (MemoryError, RecursionError) as exc:
                raise CorruptRecordingError(
                    f"attribute {name!r} of {where} is a pickle that cannot be loaded ({type(exc).__name__})"
                ) from None
            except Exception:
                pass  # not a pickle after all: PyTables hands such values back as bytes too
        result[name] = value
    return result


def check_attribute_value(value: Any, _path: tuple = ()) -> None:
    """Raise :class:`UnsupportedValueError` unless ``value`` can be stored as a CL attribute.

    Attributes are read back through the allow-list unpickler, so only builtin containers
    and scalars and numpy values may go in; anything else would make the file unreadable.
    """
    if isinstance(value, _PLAIN_SCALARS):
        return
    if isinstance(value, np.ndarray):
        if type(value) is not np.ndarray or value.dtype.hasobject:
            raise UnsupportedValueError(
                f"attribute value at {list(_path)} is a {type(value).__name__} of dtype {value.dtype}; "
                "attributes hold plain numpy arrays without objects (for a Quantity, store "
                "its magnitude and its units string separately)"
            )
        return
    if isinstance(value, np.generic):
        if isinstance(value, np.object_):
            raise UnsupportedValueError(f"attribute value at {list(_path)} is a numpy object scalar")
        return
    if isinstance(value, Mapping):
        if not isinstance(value, dict):
            raise UnsupportedValueError(
                f"attribute value at {list(_path)} is a {type(value).__name__}; use a plain dict"
            )
        for key, item in value.items():
            check_attribute_value(key, _path + (key,))
            check_attribute_value(item, _path + (key,))
        return
    if type(value) in (list, tuple, set, frozenset):
        for i, item in enumerate(value):
            check_attribute_value(item, _path + (i,))
        return
    raise UnsupportedValueError(
        f"attribute value at {list(_path)} has type {type(value).__name__}; attributes may "
        f"hold {_ALLOWED_DESCRIPTION}"
    )


def to_plain(value: Any) -> Any:
    """Convert numpy scalars (recursively, in containers) to the matching Python values.

    Arrays stay arrays. Useful to compare attributes with JSON or to index them.

    Examples
    --------
    >>> import numpy as np
    >>> to_plain({"n": np.int64(3), "s": np.str_("x"), "l": [np.float64(0.5)]})
    {'n': 3, 's': 'x', 'l': [0.5]}
    """
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {to_plain(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(to_plain(v) for v in value)
    return value


class AttributesView(Mapping):
    """Read-only attributes of a recording or data stream, by key or as attributes.

    The CL reader exposes attributes as ``view.attributes.channel_count``; this view keeps
    that spelling and adds the mapping interface (``attrs["channel_count"]``, ``in``,
    iteration over names, :meth:`to_dict`).

    Examples
    --------
    >>> attrs = AttributesView({"name": "score", "application": {"final": True}})
    >>> attrs.name, attrs["application"]["final"], "name" in attrs
    ('score', True, True)
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any]):
        self._values: dict[str, Any] = dict(values)

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, name: str) -> Any:
        if name == "_values":  # (not set yet: __init__ is setting it)
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"no attribute {name!r}; present: {sorted(self._values)}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        # the values are set once, by __init__; every other assignment is refused
        if name != "_values" or hasattr(self, "_values"):
            raise AttributeError("recording attributes are read-only; use RecordingWriter.set_attribute")
        super().__setattr__(name, value)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._values))

    def to_dict(self, plain: bool = True) -> dict[str, Any]:
        """Return the attributes as a dict; with ``plain``, numpy scalars become Python values."""
        return to_plain(self._values) if plain else dict(self._values)

    def __repr__(self) -> str:
        # numpy scalars as Python prints them (64, not np.int64(64)): the values are, to a reader
        body = ", ".join(f"{k}={to_plain(v)!r}" for k, v in self._values.items())
        return f"AttributesView({body})"
