"""The parsed form every parameter-file reader produces, with where each value was written.

Three readers (:mod:`.text_format`, :mod:`.json_format`, :mod:`.yaml_format`) turn text into
the same tree of :class:`Node` objects; :mod:`.builder` turns that tree into ParameterSets
and values. Every node keeps its :class:`Where` (``file:line:column``), so each refusal
names the place it was written (:func:`error`). A :class:`Budget` counts values, so that a
small file (a YAML alias bomb) cannot expand into an enormous structure; the limits are
:data:`MAX_FILE_BYTES`, :data:`MAX_DEPTH`, :data:`MAX_VALUES`, :data:`MAX_INCLUDE_DEPTH`.
The one-key dicts ``{"$ref": ...}``, ``{"$sweep": ...}`` and ``{"$include": ...}`` are
recognised here (:func:`special_form`), the same in every format.

Examples
--------
>>> str(Where("run.param", 3, 7))
'run.param:3:7'
>>> error(Where("run.param", 3, 7), "duplicate key 'a'")
ParameterError("run.param:3:7: duplicate key 'a'")
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from parameters import ParameterSet

from cldata.errors import ParameterError

__all__ = ["Where", "error", "Node", "Budget", "check_scalar", "special_form", "check_key", "check_path", "SPECIAL",
           "MAX_FILE_BYTES", "MAX_DEPTH", "MAX_VALUES", "MAX_INCLUDE_DEPTH"]

#: Largest parameter file read, in bytes (real parameter files are a few kilobytes).
MAX_FILE_BYTES = 4 * 1024 * 1024
#: Deepest nesting of dicts / lists / sweeps accepted (well below Python's recursion limit).
MAX_DEPTH = 64
#: Most values (containers and scalars, counting every use of a YAML alias) in one load.
MAX_VALUES = 100_000
#: Deepest chain of files including files.
MAX_INCLUDE_DEPTH = 16
# Python refuses to print ints with more than 4300 digits (sys.get_int_max_str_digits),
# so a bigger int could be read but never written back: refuse it when reading.
_MAX_INT_BITS = 14_000

_INVALID_NAMES = frozenset(ParameterSet.invalid_names)  # "parameters", "names"
#: the keys of the one-key dicts that are references, sweeps and includes in every format
SPECIAL = ("$ref", "$sweep", "$include")


@dataclass(frozen=True)
class Where:
    """Where a value came from, for error messages: ``file:line:column``."""

    source: str
    line: int | None = None
    col: int | None = None
    value_text: bool = False  # a command-line value: one line, say "column N"

    def __str__(self) -> str:
        if self.line is None:
            return self.source
        if self.value_text:
            return f"{self.source} (column {self.col})" if self.col else self.source
        return f"{self.source}:{self.line}:{self.col}" if self.col else f"{self.source}:{self.line}"


def error(where: Where | str | None, message: str) -> ParameterError:
    """A ParameterError whose text starts with the location; the location is also kept as
    attributes (``source``, ``line``, ``column``) for programs that report it otherwise."""
    if isinstance(where, str):
        where = Where(where)
    exc = ParameterError(f"{where}: {message}" if where is not None else message)
    exc.source = where.source if where is not None else None
    exc.line = where.line if where is not None else None
    exc.column = where.col if where is not None else None
    return exc


@dataclass(slots=True)
class Node:
    """One parsed value, before it becomes a Python value.

    ``kind`` is ``dict`` (``value``: list of ``(key, key location, node)``), ``list`` /
    ``tuple`` / ``range`` (``value``: list of nodes), ``scalar``, ``ref`` or ``include``
    (``value``: the path string).
    """

    kind: str
    value: Any
    where: Where


class Budget:
    """Counts values so that a small file cannot expand into an enormous structure."""

    __slots__ = ("left", "source")

    def __init__(self, source: str):
        self.left = MAX_VALUES
        self.source = source

    def take(self, where: Where) -> None:
        self.left -= 1
        if self.left < 0:
            raise error(where, f"more than {MAX_VALUES} values: refused as too large "
                                "(a YAML alias counts each time it is used)")


def check_scalar(value: Any, where: Where) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > _MAX_INT_BITS:
        raise error(where, "integer too large")
    return value


def special_form(pairs: list[tuple[str, Where, Node]], where: Where) -> Node | None:
    """``{"$ref": path}``, ``{"$sweep": [...]}``, ``{"$include": file}``, or None."""
    special = [(k, kw, v) for k, kw, v in pairs if k in SPECIAL]
    if not special:
        return None
    key, key_where, node = special[0]
    if len(pairs) != 1:
        raise error(key_where, f"{key!r} must be the only key of its dict")
    if key == "$sweep":
        if node.kind not in ("list", "tuple"):
            raise error(node.where, '"$sweep" takes a list of values: {"$sweep": [1, 2, 5]}')
        return Node("range", node.value, where)
    if node.kind != "scalar" or not isinstance(node.value, str):
        raise error(node.where, f'{key!r} takes a string: {{"{key}": "a.b"}}')
    return Node("ref" if key == "$ref" else "include", node.value, where)


def check_key(key: str, where: Where) -> None:
    if not isinstance(key, str) or not key:
        raise error(where, "parameter names must be non-empty strings")
    if "." in key:
        raise error(where, f"parameter name {key!r} contains '.', which separates nested names")
    if key in _INVALID_NAMES:
        raise error(where, f"{key!r} is not allowed as a parameter name (ParameterSet reserves "
                            + " and ".join(sorted(_INVALID_NAMES)) + ")")


def check_path(path: str, where: Where) -> tuple[str, ...]:
    parts = tuple(path.split("."))
    if not path or not all(parts):
        raise error(where, f"ref({path!r}): not a dotted parameter path such as 'a.b'")
    return parts
