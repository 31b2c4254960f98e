"""Parameter files, read as data: never imported, evaluated or executed.

A batch run is described by a parameter file (see :mod:`cldata.batch.runner`). Three
formats are read, chosen by the file's suffix:

``.json``
    JSON. A sweep is written ``{"$sweep": [v1, v2, ...]}``, a reference to another
    parameter ``{"$ref": "dotted.path"}`` and an included file ``{"$include": "other.json"}``
    (each the only key of its object). ``NaN``, ``Infinity`` and ``-Infinity`` are
    accepted, as Python's :mod:`json` writes them.
``.yaml`` / ``.yml``
    YAML (the safe subset: mappings, sequences, strings, numbers, booleans, null;
    anchors, aliases and ``<<`` merge keys). Sweeps, references and includes are spelled
    as in JSON (``$sweep: [1, 2, 5]``). Any other tag (``!!python/...``, ``!!binary``,
    timestamps, custom tags) is refused.
anything else (``.param``, ``.par``, ``.txt``, no suffix)
    The NeuralEnsemble ``parameters`` text format: a Python dict literal, as
    ``parameters.ParameterSet`` reads it, with comments::

        {
            "store": {"root_directory": "lab-store"},     # opened as the only writer
            "analyses": {
                "psth": {"class": "StimulusTriggeredHistogram",
                         "params": {"bin_ms": ParameterRange([1, 2, 5]),   # 3 runs
                                    "window_ms": ref("defaults.window_ms")}},
            },
            "defaults": {"window_ms": 50.0},
        }

The ``parameters`` package reads that format with ``eval``, so a file can run any code.
Here it is parsed with :func:`ast.parse` and the syntax tree is walked against an
allow-list, building every value directly; nothing from the file is evaluated. Allowed:

* literals: strings (not f-strings, not bytes), ints, floats, ``True``, ``False``,
  ``None``, lists, tuples, dicts with string keys; a unary ``-`` or ``+`` on a number;
* the names ``true``, ``false`` (JSON spellings) and ``pi``, which the ``parameters``
  package also defines;
* ``ref('dotted.path')`` -- the value of another parameter (resolved after loading, so
  command-line overrides propagate; a reference to a sweep copies the sweep);
* ``ParameterRange([v1, v2, ...])`` -- a sweep axis (see :mod:`cldata.batch.sweep`);
* ``url('relative/file.param')`` (or ``ParameterSet('relative/file.param')``) -- the
  parameter set in another local file, of any of the three formats, relative to the
  including file and inside the top file's directory; absolute paths, ``..`` escapes and
  URLs with a scheme (``http:``, ``file:``) are refused;
* ``ParameterSet({...})`` -- the same as the dict; ``ParameterTable('''...''')`` -- a
  table string read as nested dicts of floats;
* ``float('inf')``, ``float('-inf')``, ``float('nan')`` (and ``float`` of any number
  string), so that every float can be written to a file and read back.

Everything else is refused with a :class:`~cldata.errors.ParameterError` naming the file,
line and column and what was refused: other names and calls (``__import__``, ``open``,
...), attribute access, subscripts, operators (``**`` included, so ``10**10**10`` is
refused, not computed), comparisons, lambdas, comprehensions, f-strings, set literals,
``**`` unpacking, the random distributions ``GammaDist`` / ``NormalDist`` /
``UniformDist`` (an analysis needs fixed values; use a ``ParameterRange``), keyword
arguments of ``ParameterRange`` (``shuffle=True`` would make runs non-deterministic),
and lazy arithmetic on references (``ref('a') * 2``).

Keys of nested parameter sets must be non-empty strings without ``.`` and not
``parameters`` or ``names`` (``ParameterSet`` refuses those). Duplicate keys are refused
(Python and PyYAML would silently keep the last). A one-key dict ``{"$ref": ...}``,
``{"$sweep": ...}`` or ``{"$include": ...}`` is that construct in every format; other
``$`` keys (the query predicates ``$range``, ``$quantity``, ...) are ordinary data.
Files are limited to :data:`MAX_FILE_BYTES`, nesting to :data:`MAX_DEPTH` levels and the
number of values to :data:`MAX_VALUES` (YAML aliases count every time they are used), so
hostile input is refused quickly instead of exhausting memory or the stack.

Examples
--------
>>> params = parse_parameters("{'a': {'b': 1}, 'c': ref('a.b'), 'd': ParameterRange([1, 2])}")
>>> params["c"], params.a.b, params["d"]
(1, 1, ParameterRange([1, 2]))
>>> parse_parameters("{'a': __import__('os').system('echo hi')}")
Traceback (most recent call last):
...
cldata.errors.ParameterError: <string>:1:7: call of "__import__('os').system" is not allowed
>>> apply_overrides(parse_parameters("{'executor': {'kind': 'processes'}}"), ["executor.kind=dask"])
{'executor': {'kind': 'dask'}}
>>> parse_value("[1, 2]"), parse_value("5"), parse_value("dask")
([1, 2], 5, 'dask')
"""

from __future__ import annotations

import ast
import bisect
import json
import json.decoder
import math
import numbers
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from parameters import ParameterRange, ParameterReference, ParameterSet

from cldata.errors import ParameterError

__all__ = [
    "load_parameters",
    "parse_parameters",
    "parse_value",
    "parse_override",
    "apply_overrides",
    "resolve_references",
    "dump_parameters",
    "format_parameters",
    "copy_parameters",
    "Reference",
    "file_format",
    "MAX_FILE_BYTES",
    "MAX_DEPTH",
    "MAX_VALUES",
    "MAX_INCLUDE_DEPTH",
]

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
_SPECIAL = ("$ref", "$sweep", "$include")
_CALLS = ("ref", "ParameterRange", "url", "ParameterSet", "ParameterTable", "float")
_NAMES = {"true": True, "false": False, "pi": math.pi}
_DISTRIBUTIONS = ("GammaDist", "NormalDist", "UniformDist", "ParameterDist")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
# an override value that looks like a literal or a call must parse; other text is a string
_LOOKS_LITERAL = re.compile(r"""\s*(?:[\[{('"]|[A-Za-z_][\w.]*\s*\()""")


# --- locations and errors ------------------------------------------------------------------


@dataclass(frozen=True)
class _Where:
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


def _error(where: _Where | str | None, message: str) -> ParameterError:
    """A ParameterError whose text starts with the location; the location is also kept as
    attributes (``source``, ``line``, ``column``) for programs that report it otherwise."""
    if isinstance(where, str):
        where = _Where(where)
    exc = ParameterError(f"{where}: {message}" if where is not None else message)
    exc.source = where.source if where is not None else None
    exc.line = where.line if where is not None else None
    exc.column = where.col if where is not None else None
    return exc


class Reference(ParameterReference):
    """A ``ref('dotted.path')`` read from a file, remembering where it was written.

    It is a :class:`parameters.ParameterReference` (so code that checks for those finds
    it), compares equal to another reference to the same path, and prints as it is
    written. :func:`load_parameters` resolves all references before returning.
    """

    def __init__(self, path: str, where: _Where | None = None):
        super().__init__(path)
        self.where = where

    def copy(self) -> Reference:
        return Reference(self.reference_path, self.where)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ParameterReference):
            return NotImplemented
        return (self.reference_path == other.reference_path
                and not self.operations and not other.operations)

    __hash__ = None  # type: ignore[assignment]  # mutable, like the other parameter classes

    def __repr__(self) -> str:
        return f"ref({self.reference_path!r})"


# --- the common parsed form -----------------------------------------------------------------


@dataclass(slots=True)
class _Node:
    """One parsed value, before it becomes a Python value.

    ``kind`` is ``dict`` (``value``: list of ``(key, key location, node)``), ``list`` /
    ``tuple`` / ``range`` (``value``: list of nodes), ``scalar``, ``ref`` or ``include``
    (``value``: the path string).
    """

    kind: str
    value: Any
    where: _Where


class _Budget:
    """Counts values so that a small file cannot expand into an enormous structure."""

    __slots__ = ("left", "source")

    def __init__(self, source: str):
        self.left = MAX_VALUES
        self.source = source

    def take(self, where: _Where) -> None:
        self.left -= 1
        if self.left < 0:
            raise _error(where, f"more than {MAX_VALUES} values: refused as too large "
                                "(a YAML alias counts each time it is used)")


def _check_scalar(value: Any, where: _Where) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > _MAX_INT_BITS:
        raise _error(where, "integer too large")
    return value


def _special_form(pairs: list[tuple[str, _Where, _Node]], where: _Where) -> _Node | None:
    """``{"$ref": path}``, ``{"$sweep": [...]}``, ``{"$include": file}``, or None."""
    special = [(k, kw, v) for k, kw, v in pairs if k in _SPECIAL]
    if not special:
        return None
    key, key_where, node = special[0]
    if len(pairs) != 1:
        raise _error(key_where, f"{key!r} must be the only key of its dict")
    if key == "$sweep":
        if node.kind not in ("list", "tuple"):
            raise _error(node.where, '"$sweep" takes a list of values: {"$sweep": [1, 2, 5]}')
        return _Node("range", node.value, where)
    if node.kind != "scalar" or not isinstance(node.value, str):
        raise _error(node.where, f'{key!r} takes a string: {{"{key}": "a.b"}}')
    return _Node("ref" if key == "$ref" else "include", node.value, where)


# --- the parameters text format (Python literal syntax) -------------------------------------

_REFUSED = {
    ast.Attribute: "attribute access is",
    ast.Subscript: "subscripts are",
    ast.Lambda: "lambdas are",
    ast.ListComp: "comprehensions are",
    ast.SetComp: "comprehensions are",
    ast.DictComp: "comprehensions are",
    ast.GeneratorExp: "generator expressions are",
    ast.JoinedStr: "f-strings are",
    ast.FormattedValue: "f-strings are",
    ast.Set: "set literals are",
    ast.Starred: "* unpacking is",
    ast.NamedExpr: "assignment expressions (:=) are",
    ast.IfExp: "conditional expressions are",
    ast.Compare: "comparisons are",
    ast.BoolOp: "'and' / 'or' are",
    ast.Await: "await is",
    ast.Yield: "yield is",
    ast.YieldFrom: "yield is",
    ast.Slice: "slices are",
}
_OPERATORS = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
    ast.Pow: "**", ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|", ast.BitXor: "^",
    ast.BitAnd: "&", ast.MatMult: "@", ast.Invert: "~", ast.Not: "not",
}


def _describe(node: ast.AST) -> str:
    """A short rendering of refused code for the message (never evaluated)."""
    try:
        text = ast.unparse(node)
    except (RecursionError, ValueError, AttributeError):  # very deep or odd trees
        return type(node).__name__
    return text if len(text) <= 60 else text[:57] + "..."


class _TextParser:
    """Turns ``parameters``-format text into :class:`_Node` trees by walking its syntax tree."""

    def __init__(self, text: str, source: str, budget: _Budget, *, value_text: bool = False):
        self.text = text
        self.source = source
        self.budget = budget
        self.value_text = value_text
        self.lines = text.split("\n")
        self.wrapped = False  # parsed inside added parentheses (columns on line 1 shift by one)

    def where(self, lineno: int | None, byte_col: int | None) -> _Where:
        if lineno is None:
            return _Where(self.source, value_text=self.value_text)
        lineno = max(1, min(lineno, len(self.lines)))
        col = None
        if byte_col is not None:
            shift = 1 if (self.wrapped and lineno == 1) else 0
            line = "(" * shift + self.lines[lineno - 1]
            # ast columns count UTF-8 bytes; people count characters
            col = len(line.encode("utf-8", "surrogatepass")[:byte_col].decode("utf-8", "replace")) + 1
            col = max(1, col - shift)
        return _Where(self.source, lineno, col, self.value_text)

    def at(self, node: ast.AST) -> _Where:
        return self.where(getattr(node, "lineno", None), getattr(node, "col_offset", None))

    def parse(self) -> _Node | None:
        if all(not line.strip() or line.lstrip().startswith("#") for line in self.lines):
            return None  # empty, or only comments: an empty parameter set
        if "\0" in self.text:
            pos = self.text.index("\0")
            line = self.text.count("\n", 0, pos) + 1
            col = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
            raise _error(self.where_chars(line, col), "NUL character")
        self.wrapped = False
        try:
            try:
                tree = ast.parse(self.text, filename=self.source, mode="eval")
            except IndentationError:
                # eval(), which the `parameters` package uses, accepts an indented start;
                # inside parentheses indentation does not matter
                self.wrapped = True
                tree = ast.parse("(" + self.text + "\n)", filename=self.source, mode="eval")
        except SyntaxError as exc:
            line = exc.lineno
            col = exc.offset
            if self.wrapped and line == 1 and col:
                col -= 1
            if line is not None and line > len(self.lines):  # at the closing parenthesis we added
                line, col = len(self.lines), len(self.lines[-1]) + 1
            raise _error(self.where_chars(line, col or None), f"syntax error: {exc.msg}") from None
        except (ValueError, RecursionError, MemoryError) as exc:
            # The parser's own limits: RecursionError, or MemoryError for its stack, e.g.
            # for thousands of chained operators. Such text is refused anyway (operators
            # are not allowed); find the first refused token to say where.
            line, col, what = self.locate_refusal()
            raise _error(self.where_chars(line, col), f"cannot be parsed: {str(exc) or type(exc).__name__} "
                                                      f"(too deeply nested or chained){what}") from None
        return self.node(tree.body, 0)

    def where_chars(self, line: int | None, col: int | None) -> _Where:
        if line is None:
            return _Where(self.source, value_text=self.value_text)
        return _Where(self.source, line, col, self.value_text)

    def locate_refusal(self) -> tuple[int | None, int | None, str]:
        """Where the first token that the walk would refuse is (only used when the
        parser itself gave up, so only its position matters, not speed)."""
        import io
        import tokenize

        allowed_ops = {"{", "}", "[", "]", "(", ")", ",", ":"}
        previous = None
        try:
            for tok in tokenize.generate_tokens(io.StringIO(self.text).readline):
                after_value = previous is not None and (
                    previous.type in (tokenize.NUMBER, tokenize.STRING)
                    or previous.string in (")", "]", "}")
                    or (previous.type == tokenize.NAME and tok.string == "["))
                if tok.string in ("[", "(") and after_value:
                    return tok.start[0], tok.start[1] + 1, f"; {tok.string!r} (subscript or call) is not allowed here"
                if tok.type == tokenize.OP and tok.string not in allowed_ops:
                    sign_ok = tok.string in "+-" and (previous is None or previous.string in allowed_ops)
                    if not sign_ok:
                        return tok.start[0], tok.start[1] + 1, f"; {tok.string!r} is not allowed here"
                if tok.type == tokenize.NAME and tok.string not in _NAMES and tok.string not in _CALLS \
                        and tok.string not in ("True", "False", "None"):
                    return tok.start[0], tok.start[1] + 1, f"; name {tok.string!r} is not allowed"
                if tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT,
                                    tokenize.DEDENT):
                    previous = tok
        except (tokenize.TokenError, SyntaxError, ValueError):
            pass
        return None, None, ""

    def node(self, node: ast.expr, depth: int) -> _Node:
        where = self.at(node)
        if depth > MAX_DEPTH:
            raise _error(where, f"nested more than {MAX_DEPTH} levels deep")
        self.budget.take(where)
        if isinstance(node, ast.Constant):
            value = node.value
            if value is None or isinstance(value, (bool, int, float, str)):
                return _Node("scalar", _check_scalar(value, where), where)
            what = {bytes: "bytes literals are", complex: "complex numbers are"}.get(type(value), f"{value!r} is")
            raise _error(where, f"{what} not allowed")
        if isinstance(node, ast.Dict):
            pairs = []
            for key, value in zip(node.keys, node.values):
                if key is None:
                    raise _error(self.at(value), "** unpacking is not allowed")
                if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                    raise _error(self.at(key), f"dict keys must be string literals, not {_describe(key)}")
                pairs.append((key.value, self.at(key), self.node(value, depth + 1)))
            return _special_form(pairs, where) or _Node("dict", pairs, where)
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [self.node(item, depth + 1) for item in node.elts]
            return _Node("list" if isinstance(node, ast.List) else "tuple", items, where)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, (ast.USub, ast.UAdd)):
                operand = self.node(node.operand, depth + 1)
                value = operand.value
                if operand.kind == "scalar" and isinstance(value, (int, float)) and not isinstance(value, bool):
                    return _Node("scalar", -value if isinstance(node.op, ast.USub) else value, where)
                raise _error(where, "a sign (- or +) is only allowed before a number")
            raise _error(where, f"operator {_OPERATORS.get(type(node.op), '?')!r} is not allowed")
        if isinstance(node, ast.BinOp):
            raise _error(where, f"operator {_OPERATORS.get(type(node.op), '?')!r} is not allowed "
                                f"(a parameter file holds values, not expressions): {_describe(node)}")
        if isinstance(node, ast.Name):
            if node.id in _NAMES:
                return _Node("scalar", _NAMES[node.id], where)
            if node.id in _CALLS:
                raise _error(where, f"{node.id} must be called, as in {node.id}(...)")
            raise _error(where, f"name {node.id!r} is not allowed (only True, False, None, true, false, pi "
                                "and the calls " + ", ".join(_CALLS) + ")")
        if isinstance(node, ast.Call):
            return self.call(node, where, depth)
        what = _REFUSED.get(type(node), f"{type(node).__name__} is")
        raise _error(where, f"{what} not allowed in a parameter file: {_describe(node)}")

    def call(self, node: ast.Call, where: _Where, depth: int) -> _Node:
        func = node.func
        if not isinstance(func, ast.Name):
            raise _error(where, f"call of {_describe(func)!r} is not allowed")
        name = func.id
        if name in _DISTRIBUTIONS:
            raise _error(where, f"{name} is not supported: an analysis needs fixed parameter values "
                                "(use ParameterRange([...]) to sweep over values)")
        if name not in _CALLS:
            raise _error(where, f"call of {name!r} is not allowed (allowed calls: {', '.join(_CALLS)})")
        if node.keywords:
            kw = node.keywords[0]
            label = f"{kw.arg}=" if kw.arg else "**"
            raise _error(self.at(kw), f"{name}() takes no keyword arguments here ({label}...)"
                         + (": sweeps always run every value, in order" if name == "ParameterRange" else ""))
        if len(node.args) != 1:
            raise _error(where, f"{name}() takes exactly one argument")
        arg = node.args[0]
        arg_where = self.at(arg)
        is_str = isinstance(arg, ast.Constant) and isinstance(arg.value, str)
        if name == "ref":
            if not is_str:
                raise _error(arg_where, f"ref() takes a string literal, as in ref('a.b'), not {_describe(arg)}")
            return _Node("ref", arg.value, where)
        if name == "ParameterRange":
            if not isinstance(arg, (ast.List, ast.Tuple)):
                raise _error(arg_where, f"ParameterRange() takes a list of values, not {_describe(arg)}")
            return _Node("range", [self.node(item, depth + 1) for item in arg.elts], where)
        if name == "float":
            if not is_str:
                raise _error(arg_where, "float() takes a string literal, as in float('inf')")
            try:
                return _Node("scalar", float(arg.value), where)
            except ValueError:
                raise _error(arg_where, f"float() of {arg.value!r:.40}: not a number") from None
        if name == "ParameterTable":
            if is_str:
                return self.table(arg.value, where)
            if isinstance(arg, ast.Dict):
                return self.node(arg, depth + 1)
            raise _error(arg_where, "ParameterTable() takes a table string or a dict")
        # url() and ParameterSet(): another file, or (ParameterSet only) a dict
        if is_str:
            return _Node("include", arg.value, where)
        if name == "ParameterSet" and isinstance(arg, ast.Dict):
            return self.node(arg, depth + 1)
        raise _error(arg_where, f"{name}() takes a file name string" + (" or a dict" if name == "ParameterSet" else ""))

    def table(self, text: str, where: _Where) -> _Node:
        # the same reading as parameters.string_table: a header row of column names, then
        # rows of a row name and one float per column
        rows = text.strip().split("\n")
        header = rows[0].split()
        pairs = []
        for row in rows[1:]:
            cells = row.split()
            if not cells:
                continue
            cols = []
            for name, cell in zip(header[1:], cells[1:]):
                self.budget.take(where)
                try:
                    cols.append((name, where, _Node("scalar", float(cell), where)))
                except ValueError:
                    raise _error(where, f"ParameterTable: {cell!r:.40} in row {cells[0]!r} is not a number") from None
            pairs.append((cells[0], where, _Node("dict", cols, where)))
        return _Node("dict", pairs, where)


# --- JSON, with locations --------------------------------------------------------------------

_JSON_WS = re.compile(r"[ \t\n\r]*")
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_JSON_WORDS = (("true", True), ("false", False), ("null", None),
               ("NaN", math.nan), ("Infinity", math.inf), ("-Infinity", -math.inf))


class _LineIndex:
    def __init__(self, text: str):
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def locate(self, pos: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, pos)
        return line, pos - self.starts[line - 1] + 1


class _JsonParser:
    """A small JSON parser that keeps the line and column of every value and key.

    (The standard library's parser forgets positions once it succeeds, and an error in a
    parameter file should point at its line.) Recursion is bounded by :data:`MAX_DEPTH`.
    """

    def __init__(self, text: str, source: str, budget: _Budget):
        self.s = text
        self.source = source
        self.budget = budget
        self.index = _LineIndex(text)

    def where(self, pos: int) -> _Where:
        line, col = self.index.locate(pos)
        return _Where(self.source, line, col)

    def ws(self, pos: int) -> int:
        return _JSON_WS.match(self.s, pos).end()

    def parse(self) -> _Node | None:
        pos = self.ws(0)
        if pos == len(self.s):
            return None
        node, pos = self.value(pos, 0)
        pos = self.ws(pos)
        if pos != len(self.s):
            raise _error(self.where(pos), "extra data after the JSON value")
        return node

    def string(self, pos: int) -> tuple[str, int]:
        try:
            return json.decoder.scanstring(self.s, pos + 1, True)
        except json.JSONDecodeError as exc:
            raise _error(self.where(exc.pos), f"invalid JSON string: {exc.msg}") from None

    def value(self, pos: int, depth: int) -> tuple[_Node, int]:
        where = self.where(pos)
        if depth > MAX_DEPTH:
            raise _error(where, f"nested more than {MAX_DEPTH} levels deep")
        self.budget.take(where)
        c = self.s[pos:pos + 1]
        if c == "{":
            return self.object(pos, depth, where)
        if c == "[":
            items: list[_Node] = []
            pos = self.ws(pos + 1)
            if self.s.startswith("]", pos):
                return _Node("list", items, where), pos + 1
            while True:
                item, pos = self.value(self.ws(pos), depth + 1)
                items.append(item)
                pos = self.ws(pos)
                c = self.s[pos:pos + 1]
                if c == "]":
                    return _Node("list", items, where), pos + 1
                if c != ",":
                    raise _error(self.where(pos), "expected ',' or ']' in a JSON list")
                pos = self.ws(pos + 1)
        if c == '"':
            text, end = self.string(pos)
            return _Node("scalar", text, where), end
        for word, value in _JSON_WORDS:
            if self.s.startswith(word, pos):
                return _Node("scalar", value, where), pos + len(word)
        m = _JSON_NUMBER.match(self.s, pos)
        if m and m.end() > pos:
            try:
                number = float(m.group()) if m.group(1) or m.group(2) else int(m.group())
            except ValueError:  # more digits than Python converts
                raise _error(where, "integer too large") from None
            return _Node("scalar", _check_scalar(number, where), where), m.end()
        if not c:
            raise _error(where, "unexpected end of the JSON file")
        raise _error(where, f"unexpected {c!r} in JSON")

    def object(self, pos: int, depth: int, where: _Where) -> tuple[_Node, int]:
        pairs: list[tuple[str, _Where, _Node]] = []
        pos = self.ws(pos + 1)
        if self.s.startswith("}", pos):
            return _Node("dict", pairs, where), pos + 1
        while True:
            if not self.s.startswith('"', pos):
                raise _error(self.where(pos), "expected a string key in a JSON object")
            key_where = self.where(pos)
            key, pos = self.string(pos)
            pos = self.ws(pos)
            if not self.s.startswith(":", pos):
                raise _error(self.where(pos), "expected ':' after a key in a JSON object")
            value, pos = self.value(self.ws(pos + 1), depth + 1)
            pairs.append((key, key_where, value))
            pos = self.ws(pos)
            c = self.s[pos:pos + 1]
            if c == "}":
                return _special_form(pairs, where) or _Node("dict", pairs, where), pos + 1
            if c != ",":
                raise _error(self.where(pos), "expected ',' or '}' in a JSON object")
            pos = self.ws(pos + 1)


# --- YAML, safely ------------------------------------------------------------------------------

_YAML = "tag:yaml.org,2002:"
_YAML_SCALARS = {_YAML + t for t in ("str", "int", "float", "bool", "null")}


class _YamlParser:
    """YAML through PyYAML's composer (which builds nodes and never constructs objects);
    the nodes are turned into values here, tag by tag, against an allow-list."""

    def __init__(self, text: str, source: str, budget: _Budget):
        self.text = text
        self.source = source
        self.budget = budget

    def where(self, mark: Any) -> _Where:
        return _Where(self.source, mark.line + 1, mark.column + 1) if mark is not None else _Where(self.source)

    def parse(self) -> _Node | None:
        try:
            import yaml
        except ImportError:  # pragma: no cover - PyYAML is a dependency
            raise _error(self.source, "reading YAML needs PyYAML (pip install pyyaml)") from None
        # The pure-Python loader: its recursion ends in a RecursionError we can report
        # (the C loader's behaviour on hostile input is not ours to vouch for).
        try:
            loader = yaml.SafeLoader(self.text)
        except yaml.YAMLError as exc:  # characters YAML does not allow
            raise _error(self.source, f"YAML error: {exc}") from None
        try:
            root = loader.get_single_node()
            if root is None:
                return None
            return self.node(root, 0, loader)
        except yaml.MarkedYAMLError as exc:
            raise _error(self.where(exc.problem_mark), f"YAML error: {exc.problem}") from None
        except yaml.YAMLError as exc:
            raise _error(self.source, f"YAML error: {exc}") from None
        except RecursionError:
            raise _error(self.source, "YAML nested too deeply") from None
        finally:
            loader.dispose()

    def node(self, node: Any, depth: int, loader: Any) -> _Node:
        import yaml

        where = self.where(node.start_mark)
        if depth > MAX_DEPTH:
            raise _error(where, f"nested more than {MAX_DEPTH} levels deep (or a YAML alias refers to itself)")
        self.budget.take(where)
        if isinstance(node, yaml.ScalarNode):
            if node.tag not in _YAML_SCALARS:
                raise _error(where, f"YAML tag {node.tag!r} is not allowed (only strings, numbers, booleans, null"
                                    + ("; quote a date to make it a string" if node.tag.endswith("timestamp") else "")
                                    + ")")
            try:
                value = loader.construct_object(node, deep=True)
            except ValueError:  # an int with more digits than Python converts
                raise _error(where, "number too large") from None
            return _Node("scalar", _check_scalar(value, where), where)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _YAML + "seq":
                raise _error(where, f"YAML tag {node.tag!r} is not allowed")
            return _Node("list", [self.node(item, depth + 1, loader) for item in node.value], where)
        if isinstance(node, yaml.MappingNode):
            if node.tag != _YAML + "map":
                raise _error(where, f"YAML tag {node.tag!r} is not allowed")
            pairs = self.pairs(node, depth, loader)
            return _special_form(pairs, where) or _Node("dict", pairs, where)
        raise _error(where, f"unexpected YAML node {type(node).__name__}")  # pragma: no cover

    def pairs(self, node: Any, depth: int, loader: Any) -> list[tuple[str, _Where, _Node]]:
        """The key/value pairs of a mapping, with ``<<`` merge keys applied: explicit keys
        win over merged ones, and of several merged mappings the first wins (YAML 1.1)."""
        import yaml

        explicit: list[tuple[str, _Where, _Node]] = []
        merged: list[tuple[str, _Where, _Node]] = []
        for key_node, value_node in node.value:
            key_where = self.where(key_node.start_mark)
            self.budget.take(key_where)
            if key_node.tag == _YAML + "merge":
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                for src in sources:
                    if not isinstance(src, yaml.MappingNode) or src.tag != _YAML + "map":
                        raise _error(self.where(src.start_mark), "a << merge key takes a mapping or a list of mappings")
                    if depth + 1 > MAX_DEPTH:
                        raise _error(key_where, f"merges nested more than {MAX_DEPTH} levels deep")
                    merged.extend(self.pairs(src, depth + 1, loader))
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _YAML + "str":
                raise _error(key_where, "keys must be strings (quote keys such as yes, no, on, off, 1, null)")
            explicit.append((key_node.value, key_where, self.node(value_node, depth + 1, loader)))
        if not merged:
            return explicit
        seen = {k for k, _, _ in explicit}
        out = list(explicit)
        for key, key_where, value in merged:
            if key not in seen:
                seen.add(key)
                out.append((key, key_where, value))
        return out


# --- from parsed nodes to values ------------------------------------------------------------------


def file_format(path: str | os.PathLike[str]) -> str:
    """``"json"``, ``"yaml"`` or ``"param"`` (the ``parameters`` text format), by suffix."""
    suffix = Path(path).suffix.lower()
    return {".json": "json", ".yaml": "yaml", ".yml": "yaml"}.get(suffix, "param")


def _parse_text(text: str, source: str, fmt: str, budget: _Budget) -> _Node | None:
    if fmt == "json":
        return _JsonParser(text, source, budget).parse()
    if fmt == "yaml":
        return _YamlParser(text, source, budget).parse()
    if fmt == "param":
        return _TextParser(text, source, budget).parse()
    raise ValueError(f"unknown parameter file format {fmt!r} (json, yaml or param)")


def _read_text(path: Path, where: _Where | str | None) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise _error(where, f"cannot read parameter file {str(path)!r}: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise _error(where, f"parameter file {str(path)!r} is larger than {MAX_FILE_BYTES} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _error(str(path), f"not UTF-8 text (byte {exc.start})") from None


class _Builder:
    """Builds ParameterSets and values from nodes; reads included files."""

    def __init__(self, budget: _Budget, root_dir: Path | None):
        self.budget = budget
        self.root_dir = root_dir.resolve() if root_dir is not None else None
        self.dirs: dict[str, Path | None] = {}
        self.including: list[Path] = []

    def build(self, node: _Node, tree: bool, depth: int = 0, tree_keys: bool = False) -> Any:
        """``tree``: the node is a value of a key in the parameter tree (so dicts become
        ParameterSets, and refs, sweeps and includes are allowed); otherwise it is inside a
        list, tuple or sweep, where values are plain data. ``tree_keys``: a value of a
        sweep, whose dicts become parameter sets when the sweep is expanded, so their keys
        must be valid parameter names."""
        if depth > MAX_DEPTH:
            raise _error(node.where, f"nested more than {MAX_DEPTH} levels deep")
        kind = node.kind
        if kind == "scalar":
            return node.value
        if kind == "list":
            return [self.build(item, False, depth + 1) for item in node.value]
        if kind == "tuple":
            return tuple(self.build(item, False, depth + 1) for item in node.value)
        if kind == "dict":
            out: dict[str, Any] = ParameterSet({}) if tree else {}
            seen: set[str] = set()
            for key, key_where, value in node.value:
                if tree or tree_keys:
                    _check_key(key, key_where)
                if key in seen:
                    raise _error(key_where, f"duplicate key {key!r}")
                seen.add(key)
                # dict.__setitem__: ParameterSet's own would split dotted keys
                dict.__setitem__(out, key, self.build(value, tree, depth + 1, tree_keys))
            return out
        context = "the value of a key, not inside a list, tuple or ParameterRange"
        if not tree:
            name = {"ref": "ref()", "range": "ParameterRange()", "include": "url()"}[kind]
            raise _error(node.where, f"{name} is only allowed as {context}")
        if kind == "ref":
            _check_path(node.value, node.where)
            return Reference(node.value, node.where)
        if kind == "range":
            if not node.value:
                raise _error(node.where, "a ParameterRange needs at least one value")
            return ParameterRange([self.build(item, False, depth + 1, True) for item in node.value])
        if kind == "include":
            return self.include(node, depth)
        raise AssertionError(kind)  # pragma: no cover

    def parse_file(self, path: Path, source: str, where: _Where | None, depth: int) -> ParameterSet:
        text = _read_text(path, where)
        node = _parse_text(text, source, file_format(path), self.budget)
        if node is None:
            return ParameterSet({})
        if node.kind != "dict":
            raise _error(node.where, "a parameter file must hold a dict (a parameter set) at the top")
        return self.build(node, True, depth)

    def include(self, node: _Node, depth: int) -> ParameterSet:
        name = node.value
        base = self.dirs.get(node.where.source)
        if base is None or self.root_dir is None:
            raise _error(node.where, "url() is only allowed in a parameter file (it names a file relative to that file)")
        if not name or _SCHEME.match(name) or os.path.isabs(name) or name.startswith(("~", "\\")):
            raise _error(node.where, f"url({name!r}): only a relative path to a local file is allowed "
                                     "(no absolute paths, no http:, file: or other URLs)")
        joined = base / name
        target = joined.resolve()
        if not target.is_relative_to(self.root_dir):
            raise _error(node.where, f"url({name!r}) is outside the parameter file's directory {str(self.root_dir)!r}")
        if target.exists() and not target.is_file():  # a directory, or a pipe that would block
            raise _error(node.where, f"url({name!r}) is not a regular file")
        if target in self.including:
            chain = " -> ".join(str(p.name) for p in [*self.including, target])
            raise _error(node.where, f"url({name!r}): files include each other ({chain})")
        if len(self.including) >= MAX_INCLUDE_DEPTH:
            raise _error(node.where, f"url({name!r}): more than {MAX_INCLUDE_DEPTH} nested includes")
        source = str(joined)
        self.dirs[source] = joined.parent
        self.including.append(target)
        try:
            return self.parse_file(target, source, node.where, depth + 1)
        finally:
            self.including.pop()


def _check_key(key: str, where: _Where) -> None:
    if not isinstance(key, str) or not key:
        raise _error(where, "parameter names must be non-empty strings")
    if "." in key:
        raise _error(where, f"parameter name {key!r} contains '.', which separates nested names")
    if key in _INVALID_NAMES:
        raise _error(where, f"{key!r} is not allowed as a parameter name (ParameterSet reserves "
                            + " and ".join(sorted(_INVALID_NAMES)) + ")")


def _check_path(path: str, where: _Where) -> tuple[str, ...]:
    parts = tuple(path.split("."))
    if not path or not all(parts):
        raise _error(where, f"ref({path!r}): not a dotted parameter path such as 'a.b'")
    return parts


# --- references ------------------------------------------------------------------------------------


def copy_parameters(value: Any) -> Any:
    """A deep copy of a parameter tree (ParameterSets, dicts, lists, sweeps, references).

    ``copy.deepcopy`` does not copy a ``ParameterSet`` faithfully: its ``__getstate__``
    returns the dict itself, so the copy lacks the instance attributes (``names()``,
    ``label``); hence this.
    """
    if isinstance(value, ParameterSet):
        out = ParameterSet({})
        for k, v in dict.items(value):
            dict.__setitem__(out, k, copy_parameters(v))
        return out
    if isinstance(value, dict):
        return {k: copy_parameters(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_parameters(v) for v in value]
    if isinstance(value, tuple):
        return tuple(copy_parameters(v) for v in value)
    if isinstance(value, ParameterRange):
        return ParameterRange([copy_parameters(v) for v in value._values])
    if isinstance(value, ParameterReference):
        return value.copy()
    return value


def _as_parameterset(params: Mapping[str, Any]) -> ParameterSet:
    if isinstance(params, ParameterSet):
        return params
    if not isinstance(params, Mapping):
        raise ParameterError(f"parameters must be a dict or ParameterSet, not {type(params).__name__}")
    out = ParameterSet({})
    for k, v in params.items():
        dict.__setitem__(out, k, _as_parameterset(v) if isinstance(v, Mapping) else v)
    return out


def _ref_error(ref: ParameterReference, message: str) -> ParameterError:
    return _error(getattr(ref, "where", None), f"ref({ref.reference_path!r}): {message}")


class _Resolver:
    """Replaces every reference in a tree by a copy of the (resolved) value it names.

    Unlike ``ParameterSet.replace_references`` (which loops forever on a cycle and
    raises a bare KeyError for a missing key), a cycle or a missing key is reported
    with where the reference was written.
    """

    def __init__(self, root: ParameterSet):
        self.root = root
        self.stack: list[tuple[str, ...]] = []

    @staticmethod
    def ref_paths(node: Mapping[str, Any], prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
        out = []
        for k, v in dict.items(node) if isinstance(node, dict) else node.items():
            if isinstance(v, ParameterReference):
                out.append((*prefix, k))
            elif isinstance(v, Mapping):
                out.extend(_Resolver.ref_paths(v, (*prefix, k)))
        return out

    def run(self) -> None:
        for path in self.ref_paths(self.root, ()):
            self.resolve_at(path)

    def parent_of(self, path: tuple[str, ...]) -> Any:
        node = self.root
        for k in path[:-1]:
            node = dict.__getitem__(node, k)
        return node

    def resolve_at(self, path: tuple[str, ...]) -> None:
        parent = self.parent_of(path)
        ref = dict.__getitem__(parent, path[-1])
        if not isinstance(ref, ParameterReference):
            return  # resolved already, on the way to another reference
        if path in self.stack:
            chain = " -> ".join(".".join(p) for p in [*self.stack[self.stack.index(path):], path])
            raise _error(getattr(ref, "where", None), f"ref({ref.reference_path!r}): references form a cycle ({chain})")
        self.stack.append(path)
        try:
            value = self.lookup(ref, path)
        finally:
            self.stack.pop()
        value = copy_parameters(value)
        if ref.operations:  # only references built in Python carry lazy arithmetic
            if isinstance(value, Mapping):
                raise _ref_error(ref, "arithmetic on a parameter set")
            value = ref._apply_operations(value)
        dict.__setitem__(parent, path[-1], value)

    def lookup(self, ref: ParameterReference, path: tuple[str, ...]) -> Any:
        target_text = ref.reference_path
        where = getattr(ref, "where", None)
        if not isinstance(target_text, str):
            raise _error(where, f"a reference names a dotted path, not {target_text!r}")
        target = _check_path(target_text, where if where is not None else _Where("ref"))
        if path[:len(target)] == target:
            raise _error(where, f"ref({target_text!r}) at {'.'.join(path)} refers to itself or to a dict containing it")
        node: Any = self.root
        walked: tuple[str, ...] = ()
        for key in target:
            if not isinstance(node, Mapping):
                what = "a sweep (ParameterRange)" if isinstance(node, ParameterRange) else type(node).__name__
                raise _ref_error(ref, f"{'.'.join(walked)} is not a parameter set (it is {what})")
            if key not in node:
                inside = f"in {'.'.join(walked)!r}" if walked else "at the top level"
                raise _ref_error(ref, f"no parameter {key!r} {inside}")
            walked = (*walked, key)
            child = dict.__getitem__(node, key) if isinstance(node, dict) else node[key]
            if isinstance(child, ParameterReference):
                self.resolve_at(walked)
                child = dict.__getitem__(node, key)
            node = child
        if isinstance(node, Mapping):
            for inner in self.ref_paths(node, target):
                self.resolve_at(inner)
        return node


def resolve_references(params: Mapping[str, Any]) -> ParameterSet:
    """A copy of ``params`` with every ``ref('a.b')`` replaced by (a copy of) that value.

    Paths are relative to the top of ``params``. A reference to a reference follows it; a
    reference to a parameter set copies it (after resolving references inside); a
    reference to a ``ParameterRange`` copies the range, so the referring key becomes a
    sweep axis of its own, as with the ``parameters`` package.

    Raises
    ------
    cldata.errors.ParameterError
        For a reference to a missing parameter, through a value that is not a parameter
        set, or references that form a cycle (``a = ref('b')``, ``b = ref('a')``).

    Examples
    --------
    >>> resolve_references({"a": {"x": 1}, "b": Reference("a.x"), "c": Reference("a")})
    {'a': {'x': 1}, 'b': 1, 'c': {'x': 1}}
    """
    root = copy_parameters(_as_parameterset(params))
    _Resolver(root).run()
    return root


# --- public reading API -------------------------------------------------------------------------------


def parse_parameters(text: str, source: str = "<string>", *, format: str = "param",
                     overrides: Iterable[str] = (), base_dir: str | os.PathLike[str] | None = None) -> ParameterSet:
    """Read a parameter set from text, without executing anything in it.

    Parameters
    ----------
    text : str
        The content of a parameter file.
    source : str
        Named in error messages (a file name, or ``"<string>"``).
    format : {"param", "json", "yaml"}
        ``"param"`` is the NeuralEnsemble ``parameters`` text format (module doc).
    overrides : iterable of str
        ``"dotted.key=value"`` assignments applied before references are resolved (see
        :func:`apply_overrides`).
    base_dir : path, optional
        The directory that ``url('file')`` includes are relative to (and confined to);
        without it, includes are refused.

    Returns
    -------
    parameters.ParameterSet
        Nested dicts are ParameterSets; references are resolved; sweeps are
        ``ParameterRange`` objects (expand them with :func:`cldata.batch.sweep.expand_sweeps`).

    Raises
    ------
    cldata.errors.ParameterError
        For anything refused, with ``source:line:column`` at the start of the message.

    Examples
    --------
    >>> p = parse_parameters('''
    ... {   # a comment
    ...     "rate": {"bin_ms": 5, "window": (0, 2.5)},
    ...     "same": ref("rate.bin_ms"),
    ... }''')
    >>> p.rate.bin_ms, p.rate.window, p.same
    (5, (0, 2.5), 5)
    >>> parse_parameters('{"a": {"$sweep": [1, 2]}, "b": {"$ref": "a"}}', format="json")
    {'a': ParameterRange([1, 2]), 'b': ParameterRange([1, 2])}
    >>> parse_parameters("{'a': 1,\\n 'b': open('x')}")
    Traceback (most recent call last):
    ...
    cldata.errors.ParameterError: <string>:2:7: call of 'open' is not allowed (allowed calls: ref, ParameterRange, url, ParameterSet, ParameterTable, float)
    """
    budget = _Budget(source)
    builder = _Builder(budget, Path(base_dir) if base_dir is not None else None)
    builder.dirs[source] = Path(base_dir) if base_dir is not None else None
    if len(text) > MAX_FILE_BYTES:
        raise _error(source, f"larger than {MAX_FILE_BYTES} characters")
    node = _parse_text(text, source, format, budget)
    if node is None:
        params = ParameterSet({})
    elif node.kind != "dict":
        raise _error(node.where, "a parameter file must hold a dict (a parameter set) at the top")
    else:
        params = builder.build(node, True)
    apply_overrides(params, overrides)
    return resolve_references(params)


def load_parameters(path: str | os.PathLike[str], overrides: Iterable[str] = ()) -> ParameterSet:
    """Read a parameter file (``.json``, ``.yaml`` / ``.yml``, or the ``parameters`` format).

    Nothing in the file is executed (see the module doc for what the file may contain).

    Parameters
    ----------
    path : path
        The file; its suffix chooses the format.
    overrides : iterable of str
        ``"dotted.key=value"`` assignments, as ``cldata run FILE --set key=value`` gives
        them; applied before references are resolved, so ``ref``\\ s see the new values.

    Returns
    -------
    parameters.ParameterSet

    Raises
    ------
    cldata.errors.ParameterError
        The file cannot be read, or holds something refused (the message starts with
        ``file:line:column``), or an override is malformed.

    Examples
    --------
    >>> params = load_parameters("param/demo_rates.param", ["executor.kind=serial"])  # doctest: +SKIP
    >>> params.executor.kind                                                          # doctest: +SKIP
    'serial'
    """
    path = Path(path)
    source = str(path)
    budget = _Budget(source)
    builder = _Builder(budget, path.parent)
    builder.dirs[source] = path.parent
    builder.including.append(path.resolve())
    params = builder.parse_file(path, source, None, 0)
    apply_overrides(params, overrides)
    return resolve_references(params)


def parse_value(text: str, source: str = "<value>", *, constructors: bool = False) -> Any:
    """A value written on the command line, read with the same safe parser.

    A Python / JSON literal gives that value (``5`` an int, ``1e-3`` a float, ``[1, 2]`` a
    list, ``{"a": 1}`` a dict, ``None`` / ``true``); other text is a string (``dask``,
    ``tcp://10.0.0.1:8786``, ``my-host``), so that bare words need no quotes. Text that
    starts like a literal or a call (a bracket, a quote, ``name(``) must parse as one,
    so a typo such as ``[1, 2`` is an error rather than a string.

    Parameters
    ----------
    text : str
    source : str
        Named in error messages (e.g. ``"--set 'a=[1'"``).
    constructors : bool
        Also allow ``ref('a.b')`` and ``ParameterRange([...])`` (for overrides of a parameter
        file); dicts then become ParameterSets.

    Raises
    ------
    cldata.errors.ParameterError
        Empty text, or text that looks like a literal but is not an allowed one.

    Examples
    --------
    >>> parse_value("5"), parse_value("-2.5"), parse_value("[1, 'a']"), parse_value("serial")
    (5, -2.5, [1, 'a'], 'serial')
    >>> parse_value("ParameterRange([1, 2])", constructors=True)
    ParameterRange([1, 2])
    >>> parse_value("__import__('os')")
    Traceback (most recent call last):
    ...
    cldata.errors.ParameterError: <value> (column 1): call of '__import__' is not allowed (allowed calls: ref, ParameterRange, url, ParameterSet, ParameterTable, float)
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_value takes a str, not {type(text).__name__}")
    stripped = text.strip()
    if not stripped:
        raise _error(source, "empty value (write '' for an empty string)")
    if len(text) > MAX_FILE_BYTES:
        raise _error(source, "value too long")
    budget = _Budget(source)
    try:
        node = _TextParser(stripped, source, budget, value_text=True).parse()
        if node is None:  # a bare comment: "#x"
            return stripped
        return _Builder(budget, None).build(node, constructors)
    except ParameterError:
        if _LOOKS_LITERAL.match(stripped):
            raise
        return stripped


def parse_override(text: str) -> tuple[str, Any]:
    """``"a.b=value"`` -> ``("a.b", value)``, the value read by :func:`parse_value`
    (with ``ref`` and ``ParameterRange`` allowed).

    Examples
    --------
    >>> parse_override("analyses.rate.bin_ms=5")
    ('analyses.rate.bin_ms', 5)
    >>> parse_override("executor.kind = dask")
    ('executor.kind', 'dask')
    """
    source = f"--set {text!r}"
    if not isinstance(text, str):
        raise ParameterError(f"an override is a 'key=value' string, not {text!r:.60}")
    key, eq, value = text.partition("=")
    key = key.strip()
    if not eq or not key:
        raise _error(source, "an override is written key=value (e.g. executor.kind=serial)")
    for part in key.split("."):
        _check_key(part, _Where(source))
    return key, parse_value(value, source, constructors=True)


def apply_overrides(params: ParameterSet, overrides: Iterable[str]) -> ParameterSet:
    """Apply ``"dotted.key=value"`` overrides to ``params`` in place, in order; return it.

    An override replaces an existing value or adds a key to an existing parameter set;
    the keys along the path must exist and be parameter sets. A path through a reference
    (``"store": ref("defaults.store")``) overrides this place only: the reference is
    replaced by a copy of what it points at, and the copy is changed.

    Raises
    ------
    cldata.errors.ParameterError
        Naming the override: malformed, or a path through a missing key or a value
        that is not a parameter set.

    Examples
    --------
    >>> p = parse_parameters("{'a': {'b': 1}, 'c': [1]}")
    >>> apply_overrides(p, ["a.b=2", "a.new='x'", "d=[1, 2]"])
    {'a': {'b': 2, 'new': 'x'}, 'c': [1], 'd': [1, 2]}
    >>> apply_overrides(p, ["c.x=1"])
    Traceback (most recent call last):
    ...
    cldata.errors.ParameterError: --set 'c.x=1': 'c' is not a parameter set (it is list)
    """
    if isinstance(overrides, str):
        raise TypeError("overrides is a sequence of 'key=value' strings, not one string")
    for text in overrides:
        key, value = parse_override(text)
        source = f"--set {text!r}"
        node: Any = params
        parts = key.split(".")
        for i, part in enumerate(parts[:-1]):
            here = ".".join(parts[:i + 1])
            if part not in node:
                raise _error(source, f"no parameter {here!r} (an override may add a key to an existing "
                                     "parameter set, not create parameter sets on the way)")
            child = dict.__getitem__(node, part)
            seen = set()
            while isinstance(child, ParameterReference):
                target = child.reference_path
                if target in seen or child.operations:
                    raise _error(source, f"{here!r} is a reference ({child!r}) that cannot be followed; "
                                         "override it as a whole")
                seen.add(target)
                child = _follow(params, target, source)
            if child is not dict.__getitem__(node, part):
                child = copy_parameters(child)
                dict.__setitem__(node, part, child)
            if not isinstance(child, dict):
                raise _error(source, f"{here!r} is not a parameter set (it is {type(child).__name__})")
            node = child
        dict.__setitem__(node, parts[-1], value)
    return params


def _follow(params: Mapping[str, Any], path: str, source: str) -> Any:
    node: Any = params
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise _error(source, f"the reference to {path!r} points at nothing")
        node = dict.__getitem__(node, part)
    return node


# --- writing -----------------------------------------------------------------------------------------


def _number(value: Any) -> Any:
    """Python int / float for numbers of other types (numpy scalars, fractions)."""
    if isinstance(value, numbers.Integral):
        return int(value)
    return float(value)


def _dump_key(key: Any, path: str, tree: bool) -> str:
    if not isinstance(key, str):
        raise ParameterError(f"cannot write parameter {path}: key {key!r} is not a string")
    if tree:
        _check_key(key, _Where(f"cannot write parameter {path}"))
    return key


def _check_dump_dict(value: Mapping[str, Any], path: str) -> None:
    if any(k in _SPECIAL for k in value):
        raise ParameterError(f"cannot write parameter {path or '(top)'}: the keys {', '.join(_SPECIAL)} are "
                             "reserved for references, sweeps and includes")


def _float_text(value: float) -> str:
    if math.isnan(value):
        return "float('nan')"
    if math.isinf(value):
        return "float('inf')" if value > 0 else "float('-inf')"
    return repr(value)


def _literal(value: Any, path: str, tree_keys: bool = False) -> str:
    """``value`` as a literal of the ``parameters`` format (plain data only)."""
    if isinstance(value, np.generic):  # numpy scalars as the Python values they stand for
        value = value.item()
    if value is None or isinstance(value, (bool, str)):
        return repr(value)
    if isinstance(value, numbers.Number) and not isinstance(value, complex):
        value = _number(value)
        return _float_text(value) if isinstance(value, float) else repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v, f"{path}[{i}]") for i, v in enumerate(value)) + "]"
    if isinstance(value, tuple):
        items = [_literal(v, f"{path}[{i}]") for i, v in enumerate(value)]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(value, Mapping):
        _check_dump_dict(value, path)
        return "{" + ", ".join(f"{_dump_key(k, f'{path}.{k}', tree_keys)!r}: {_literal(v, f'{path}.{k}', tree_keys)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, (ParameterRange, ParameterReference)):
        raise ParameterError(f"cannot write parameter {path}: a {type(value).__name__} is only allowed as the "
                             "value of a key, not inside a list, tuple or ParameterRange")
    raise ParameterError(f"cannot write parameter {path}: a {type(value).__name__} is not a parameter value "
                         "(str, int, float, bool, None, list, tuple or dict)")


def _text_lines(params: Mapping[str, Any], indent: str, path: str, out: list[str]) -> None:
    _check_dump_dict(params, path)
    for key, value in params.items():
        sub = f"{path}.{key}" if path else key
        head = f"{indent}{_dump_key(key, sub, True)!r}: "
        if isinstance(value, Mapping):
            if not value:
                out.append(head + "{},")
                continue
            out.append(head + "{")
            _text_lines(value, indent + "    ", sub, out)
            out.append(indent + "},")
        elif isinstance(value, ParameterRange):
            items = ", ".join(_literal(v, f"{sub}[{i}]", True) for i, v in enumerate(value._values))
            out.append(head + f"ParameterRange([{items}]),")
        elif isinstance(value, ParameterReference):
            out.append(head + _ref_text(value, sub) + ",")
        else:
            out.append(head + _literal(value, sub) + ",")


def _ref_text(ref: ParameterReference, path: str) -> str:
    if ref.operations or not isinstance(ref.reference_path, str):
        raise ParameterError(f"cannot write parameter {path}: a reference with arithmetic has no file form")
    return f"ref({ref.reference_path!r})"


def _plain(value: Any, path: str, tree: bool, tree_keys: bool = False) -> Any:
    """``value`` as JSON / YAML data (sweeps and references in their ``$`` spellings)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Number) and not isinstance(value, complex):
        return _number(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{path}[{i}]", False) for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        _check_dump_dict(value, path)
        return {_dump_key(k, f"{path}.{k}" if path else k, tree or tree_keys):
                _plain(v, f"{path}.{k}" if path else k, tree, tree_keys) for k, v in value.items()}
    if tree and isinstance(value, ParameterRange):
        return {"$sweep": [_plain(v, f"{path}[{i}]", False, True) for i, v in enumerate(value._values)]}
    if tree and isinstance(value, ParameterReference):
        _ref_text(value, path)
        return {"$ref": value.reference_path}
    return _literal(value, path)  # raises the same errors as the text format


_HEADER = "# cldata parameters (the NeuralEnsemble `parameters` format; read with cldata.batch.paramfile)\n"


def format_parameters(params: Mapping[str, Any], format: str = "param") -> str:
    """The text :func:`dump_parameters` writes: ``format`` is ``"param"``, ``"json"`` or ``"yaml"``.

    Examples
    --------
    >>> print(format_parameters({"a": {"b": 1.5, "c": ParameterRange([1, 2])}, "d": "x"}))
    # cldata parameters (the NeuralEnsemble `parameters` format; read with cldata.batch.paramfile)
    {
        'a': {
            'b': 1.5,
            'c': ParameterRange([1, 2]),
        },
        'd': 'x',
    }
    <BLANKLINE>
    >>> format_parameters({"a": ParameterRange([1, 2])}, "json")
    '{\\n  "a": {\\n    "$sweep": [\\n      1,\\n      2\\n    ]\\n  }\\n}\\n'
    """
    if not isinstance(params, Mapping):
        raise ParameterError(f"parameters must be a dict or ParameterSet, not {type(params).__name__}")
    if format == "param":
        lines = ["{"]
        _text_lines(params, "    ", "", lines)
        return _HEADER + "\n".join(lines) + "\n}\n"
    data = _plain(params, "", True)
    if format == "json":
        # ASCII with escapes: lone surrogates and odd line separators survive the trip
        return json.dumps(data, indent=2, ensure_ascii=True, allow_nan=True) + "\n"
    if format == "yaml":
        import yaml

        return yaml.safe_dump(data, sort_keys=False, allow_unicode=False, default_flow_style=False,
                              width=2**31 - 1)
    raise ValueError(f"unknown parameter file format {format!r} (json, yaml or param)")


def dump_parameters(params: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write ``params`` to ``path`` so that :func:`load_parameters` reads it back equal.

    The format follows the suffix as in :func:`load_parameters`. The file is replaced
    atomically (a crash leaves the old or the new file). Tuples are written as lists in
    JSON and YAML, which have no tuples; the ``parameters`` format keeps them.

    Parameters
    ----------
    params : ParameterSet or dict
        Values must be ``str``, ``int``, ``float`` (``inf`` and ``nan`` included),
        ``bool``, ``None``, lists, tuples and dicts of those; ``ParameterRange`` and
        references as values of keys. Numpy scalars are written as Python numbers.
    path : path

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    cldata.errors.ParameterError
        For a value or key that has no file form (naming its dotted path).

    Examples
    --------
    >>> p = parse_parameters("{'a': {'b': ParameterRange([1, 2])}, 'c': (1, 'x')}")
    >>> dump_parameters(p, tmp / "run.param")                           # doctest: +SKIP
    >>> load_parameters(tmp / "run.param") == p                         # doctest: +SKIP
    True
    """
    from cldata.core.fsutil import atomic_write_bytes

    path = Path(path)
    text = format_parameters(params, file_format(path))
    atomic_write_bytes(path, text.encode("utf-8"))
    return path
