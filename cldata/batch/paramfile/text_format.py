"""The NeuralEnsemble ``parameters`` text format, read without evaluating anything.

The ``parameters`` package reads this format (a Python dict literal with comments and a few
calls) with ``eval``. Here the text is parsed with :func:`ast.parse` and the syntax tree is
walked against an allow-list (:class:`TextParser`), giving :class:`~.nodes.Node` trees; the
module documentation of :mod:`cldata.batch.paramfile` lists what is allowed. The parser
also reads values given on the command line (``value_text=True``: columns of one line).

Examples
--------
>>> from cldata.batch.paramfile.nodes import Budget
>>> TextParser("{'a': ref('b')}", "<string>", Budget("<string>")).parse().value[0][2].kind
'ref'
"""

from __future__ import annotations

import ast
import io
import math
import tokenize

from cldata.batch.paramfile.nodes import MAX_DEPTH, Budget, Node, Where, check_scalar, error, special_form

__all__ = ["TextParser", "CALLS"]

#: the calls a parameter file may make (each read as data, never called)
CALLS = ("ref", "ParameterRange", "url", "ParameterSet", "ParameterTable", "float")
_NAMES = {"true": True, "false": False, "pi": math.pi}
_DISTRIBUTIONS = ("GammaDist", "NormalDist", "UniformDist", "ParameterDist")

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


class TextParser:
    """Turns ``parameters``-format text into :class:`Node` trees by walking its syntax tree."""

    def __init__(self, text: str, source: str, budget: Budget, *, value_text: bool = False):
        self.text = text
        self.source = source
        self.budget = budget
        self.value_text = value_text
        self.lines = text.split("\n")
        self.wrapped = False  # parsed inside added parentheses (columns on line 1 shift by one)

    def where(self, lineno: int | None, byte_col: int | None) -> Where:
        if lineno is None:
            return Where(self.source, value_text=self.value_text)
        lineno = max(1, min(lineno, len(self.lines)))
        col = None
        if byte_col is not None:
            shift = 1 if (self.wrapped and lineno == 1) else 0
            line = "(" * shift + self.lines[lineno - 1]
            # ast columns count UTF-8 bytes; people count characters
            col = len(line.encode("utf-8", "surrogatepass")[:byte_col].decode("utf-8", "replace")) + 1
            col = max(1, col - shift)
        return Where(self.source, lineno, col, self.value_text)

    def at(self, node: ast.AST) -> Where:
        return self.where(getattr(node, "lineno", None), getattr(node, "col_offset", None))

    def parse(self) -> Node | None:
        if all(not line.strip() or line.lstrip().startswith("#") for line in self.lines):
            return None  # empty, or only comments: an empty parameter set
        if "\0" in self.text:
            pos = self.text.index("\0")
            line = self.text.count("\n", 0, pos) + 1
            col = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
            raise error(self.where_chars(line, col), "NUL character")
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
            raise error(self.where_chars(line, col or None), f"syntax error: {exc.msg}") from None
        except (ValueError, RecursionError, MemoryError) as exc:
            # The parser's own limits: RecursionError, or MemoryError for its stack, e.g.
            # for thousands of chained operators. Such text is refused anyway (operators
            # are not allowed); find the first refused token to say where.
            line, col, what = self.locate_refusal()
            raise error(self.where_chars(line, col), f"cannot be parsed: {str(exc) or type(exc).__name__} "
                                                      f"(too deeply nested or chained){what}") from None
        return self.node(tree.body, 0)

    def where_chars(self, line: int | None, col: int | None) -> Where:
        if line is None:
            return Where(self.source, value_text=self.value_text)
        return Where(self.source, line, col, self.value_text)

    def locate_refusal(self) -> tuple[int | None, int | None, str]:
        """Where the first token that the walk would refuse is (only used when the
        parser itself gave up, so only its position matters, not speed)."""
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
                if tok.type == tokenize.NAME and tok.string not in _NAMES and tok.string not in CALLS \
                        and tok.string not in ("True", "False", "None"):
                    return tok.start[0], tok.start[1] + 1, f"; name {tok.string!r} is not allowed"
                if tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT,
                                    tokenize.DEDENT):
                    previous = tok
        except (tokenize.TokenError, SyntaxError, ValueError):
            pass
        return None, None, ""

    def node(self, node: ast.expr, depth: int) -> Node:
        where = self.at(node)
        if depth > MAX_DEPTH:
            raise error(where, f"nested more than {MAX_DEPTH} levels deep")
        self.budget.take(where)
        if isinstance(node, ast.Constant):
            return self.constant(node.value, where)
        if isinstance(node, ast.Dict):
            return self.mapping(node, where, depth)
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [self.node(item, depth + 1) for item in node.elts]
            return Node("list" if isinstance(node, ast.List) else "tuple", items, where)
        if isinstance(node, ast.UnaryOp):
            return self.signed(node, where, depth)
        if isinstance(node, ast.BinOp):
            raise error(where, f"operator {_OPERATORS.get(type(node.op), '?')!r} is not allowed "
                               f"(a parameter file holds values, not expressions): {_describe(node)}")
        if isinstance(node, ast.Name):
            return self.name(node.id, where)
        if isinstance(node, ast.Call):
            return self.call(node, where, depth)
        what = _REFUSED.get(type(node), f"{type(node).__name__} is")
        raise error(where, f"{what} not allowed in a parameter file: {_describe(node)}")

    @staticmethod
    def constant(value: object, where: Where) -> Node:
        if value is None or isinstance(value, (bool, int, float, str)):
            return Node("scalar", check_scalar(value, where), where)
        what = {bytes: "bytes literals are", complex: "complex numbers are"}.get(type(value), f"{value!r} is")
        raise error(where, f"{what} not allowed")

    def mapping(self, node: ast.Dict, where: Where, depth: int) -> Node:
        pairs = []
        for key, value in zip(node.keys, node.values):
            if key is None:
                raise error(self.at(value), "** unpacking is not allowed")
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                raise error(self.at(key), f"dict keys must be string literals, not {_describe(key)}")
            pairs.append((key.value, self.at(key), self.node(value, depth + 1)))
        return special_form(pairs, where) or Node("dict", pairs, where)

    def signed(self, node: ast.UnaryOp, where: Where, depth: int) -> Node:
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise error(where, f"operator {_OPERATORS.get(type(node.op), '?')!r} is not allowed")
        operand = self.node(node.operand, depth + 1)
        value = operand.value
        if operand.kind == "scalar" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return Node("scalar", -value if isinstance(node.op, ast.USub) else value, where)
        raise error(where, "a sign (- or +) is only allowed before a number")

    @staticmethod
    def name(name: str, where: Where) -> Node:
        if name in _NAMES:
            return Node("scalar", _NAMES[name], where)
        if name in CALLS:
            raise error(where, f"{name} must be called, as in {name}(...)")
        raise error(where, f"name {name!r} is not allowed (only True, False, None, true, false, pi "
                           "and the calls " + ", ".join(CALLS) + ")")

    def call(self, node: ast.Call, where: Where, depth: int) -> Node:
        func = node.func
        if not isinstance(func, ast.Name):
            raise error(where, f"call of {_describe(func)!r} is not allowed")
        name = func.id
        if name in _DISTRIBUTIONS:
            raise error(where, f"{name} is not supported: an analysis needs fixed parameter values "
                               "(use ParameterRange([...]) to sweep over values)")
        if name not in CALLS:
            raise error(where, f"call of {name!r} is not allowed (allowed calls: {', '.join(CALLS)})")
        if node.keywords:
            kw = node.keywords[0]
            label = f"{kw.arg}=" if kw.arg else "**"
            raise error(self.at(kw), f"{name}() takes no keyword arguments here ({label}...)"
                        + (": sweeps always run every value, in order" if name == "ParameterRange" else ""))
        if len(node.args) != 1:
            raise error(where, f"{name}() takes exactly one argument")
        return self.argument(name, node.args[0], where, depth)

    def argument(self, name: str, arg: ast.expr, where: Where, depth: int) -> Node:
        """The node of an allowed call ``name(arg)``, by what ``name`` takes."""
        arg_where = self.at(arg)
        text = arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else None
        if name == "ref":
            if text is None:
                raise error(arg_where, f"ref() takes a string literal, as in ref('a.b'), not {_describe(arg)}")
            return Node("ref", text, where)
        if name == "ParameterRange":
            if not isinstance(arg, (ast.List, ast.Tuple)):
                raise error(arg_where, f"ParameterRange() takes a list of values, not {_describe(arg)}")
            return Node("range", [self.node(item, depth + 1) for item in arg.elts], where)
        if name == "float":
            return self.float_of(text, arg_where, where)
        if name == "ParameterTable":
            if text is not None:
                return self.table(text, where)
            if isinstance(arg, ast.Dict):
                return self.node(arg, depth + 1)
            raise error(arg_where, "ParameterTable() takes a table string or a dict")
        # url() and ParameterSet(): another file, or (ParameterSet only) a dict
        if text is not None:
            return Node("include", text, where)
        if name == "ParameterSet" and isinstance(arg, ast.Dict):
            return self.node(arg, depth + 1)
        raise error(arg_where, f"{name}() takes a file name string" + (" or a dict" if name == "ParameterSet" else ""))

    @staticmethod
    def float_of(text: str | None, arg_where: Where, where: Where) -> Node:
        if text is None:
            raise error(arg_where, "float() takes a string literal, as in float('inf')")
        try:
            return Node("scalar", float(text), where)
        except ValueError:
            raise error(arg_where, f"float() of {text!r:.40}: not a number") from None

    def table(self, text: str, where: Where) -> Node:
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
                    cols.append((name, where, Node("scalar", float(cell), where)))
                except ValueError:
                    raise error(where, f"ParameterTable: {cell!r:.40} in row {cells[0]!r} is not a number") from None
            pairs.append((cells[0], where, Node("dict", cols, where)))
        return Node("dict", pairs, where)
