"""JSON parameter files, read with the line and column of every value and key.

The standard library's parser forgets positions once it succeeds, and an error in a
parameter file should point at its line; :class:`JsonParser` is a small JSON parser giving
:class:`~.nodes.Node` trees. ``NaN``, ``Infinity`` and ``-Infinity`` are accepted, as
Python's :mod:`json` writes them.

Examples
--------
>>> from cldata.batch.paramfile.nodes import Budget
>>> node = JsonParser('{"a": [1, 2]}', "<json>", Budget("<json>")).parse()
>>> node.kind, node.value[0][0], str(node.value[0][2].where)
('dict', 'a', '<json>:1:7')
"""

from __future__ import annotations

import bisect
import json
import json.decoder
import math
import re

from cldata.batch.paramfile.nodes import MAX_DEPTH, Budget, Node, Where, check_scalar, error, special_form

__all__ = ["JsonParser"]

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


class JsonParser:
    """A small JSON parser that keeps the line and column of every value and key.

    (The standard library's parser forgets positions once it succeeds, and an error in a
    parameter file should point at its line.) Recursion is bounded by :data:`MAX_DEPTH`.
    """

    def __init__(self, text: str, source: str, budget: Budget):
        self.s = text
        self.source = source
        self.budget = budget
        self.index = _LineIndex(text)

    def where(self, pos: int) -> Where:
        line, col = self.index.locate(pos)
        return Where(self.source, line, col)

    def ws(self, pos: int) -> int:
        return _JSON_WS.match(self.s, pos).end()

    def parse(self) -> Node | None:
        pos = self.ws(0)
        if pos == len(self.s):
            return None
        node, pos = self.value(pos, 0)
        pos = self.ws(pos)
        if pos != len(self.s):
            raise error(self.where(pos), "extra data after the JSON value")
        return node

    def string(self, pos: int) -> tuple[str, int]:
        try:
            return json.decoder.scanstring(self.s, pos + 1, True)
        except json.JSONDecodeError as exc:
            raise error(self.where(exc.pos), f"invalid JSON string: {exc.msg}") from None

    def value(self, pos: int, depth: int) -> tuple[Node, int]:
        where = self.where(pos)
        if depth > MAX_DEPTH:
            raise error(where, f"nested more than {MAX_DEPTH} levels deep")
        self.budget.take(where)
        c = self.s[pos:pos + 1]
        if c == "{":
            return self.object(pos, depth, where)
        if c == "[":
            items: list[Node] = []
            pos = self.ws(pos + 1)
            if self.s.startswith("]", pos):
                return Node("list", items, where), pos + 1
            while True:
                item, pos = self.value(self.ws(pos), depth + 1)
                items.append(item)
                pos = self.ws(pos)
                c = self.s[pos:pos + 1]
                if c == "]":
                    return Node("list", items, where), pos + 1
                if c != ",":
                    raise error(self.where(pos), "expected ',' or ']' in a JSON list")
                pos = self.ws(pos + 1)
        if c == '"':
            text, end = self.string(pos)
            return Node("scalar", text, where), end
        for word, value in _JSON_WORDS:
            if self.s.startswith(word, pos):
                return Node("scalar", value, where), pos + len(word)
        m = _JSON_NUMBER.match(self.s, pos)
        if m and m.end() > pos:
            try:
                number = float(m.group()) if m.group(1) or m.group(2) else int(m.group())
            except ValueError:  # more digits than Python converts
                raise error(where, "integer too large") from None
            return Node("scalar", check_scalar(number, where), where), m.end()
        if not c:
            raise error(where, "unexpected end of the JSON file")
        raise error(where, f"unexpected {c!r} in JSON")

    def object(self, pos: int, depth: int, where: Where) -> tuple[Node, int]:
        pairs: list[tuple[str, Where, Node]] = []
        pos = self.ws(pos + 1)
        if self.s.startswith("}", pos):
            return Node("dict", pairs, where), pos + 1
        while True:
            if not self.s.startswith('"', pos):
                raise error(self.where(pos), "expected a string key in a JSON object")
            key_where = self.where(pos)
            key, pos = self.string(pos)
            pos = self.ws(pos)
            if not self.s.startswith(":", pos):
                raise error(self.where(pos), "expected ':' after a key in a JSON object")
            value, pos = self.value(self.ws(pos + 1), depth + 1)
            pairs.append((key, key_where, value))
            pos = self.ws(pos)
            c = self.s[pos:pos + 1]
            if c == "}":
                return special_form(pairs, where) or Node("dict", pairs, where), pos + 1
            if c != ",":
                raise error(self.where(pos), "expected ',' or '}' in a JSON object")
            pos = self.ws(pos + 1)
