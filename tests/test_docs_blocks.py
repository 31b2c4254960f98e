"""Every Python block of README.md and docs/*.md runs as written, and the values it shows are true.

A reader copies the blocks of one file in order into one session, so each file's blocks
run in order in one namespace, in an empty temporary directory (the blocks make the files
they use, with ``cldata.format.simulate`` and the writer). A block whose fence is preceded by a
``<!-- skip: reason -->`` line does not run; its test item is reported as skipped with the
reason.

Values: an expression statement (anywhere, inside ``with`` and ``for`` blocks too) whose
last line ends with a comment ``# => VALUE`` is checked: VALUE must be how the value
reads, as shown by :func:`shown` (``str`` of a quantity or a number, ``repr`` of strings
and containers with numpy scalars as Python numbers; a tuple's items joined with ", ";
a ``print(...)`` call: what it prints). ``...`` in VALUE matches anything (as in doctest).
Other comments are prose and are not checked.

Why a collector of our own and not ``pytest-examples``: pytest-examples checks only
``print`` output written as ``#>`` lines, and lints and formats each block with ruff
and black (two more pinned tools); our blocks show values the way a notebook user reads
them (``expression  # => value``), and the whole rule fits in this file.
"""

from __future__ import annotations

import ast
import doctest
import io
import re
import sys
import tokenize
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_FENCE = re.compile(r"^(?P<indent> {0,3})```(?P<info>[^`\n]*)$")
_SKIP = re.compile(r"^\s*<!--\s*skip:\s*(?P<reason>.+?)\s*-->\s*$")
_VALUE = re.compile(r"#\s*=>\s?(?P<value>.*)$")


@dataclass
class Block:
    """One fenced ```python block: where it starts (1-based line of its first code line)."""

    document: Path
    line: int
    code: str
    skip: str | None = None

    @property
    def where(self) -> str:
        return f"{self.document.relative_to(ROOT)}:{self.line}"


def python_blocks(document: Path) -> list[Block]:
    """The ```python blocks of a Markdown file, with their skip reasons."""
    lines = document.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        info = match["info"].strip().split()
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == "```"), len(lines))
        if info and info[0] == "python":
            before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            skip = _SKIP.match(before)
            blocks.append(Block(document, i + 2, "\n".join(lines[i + 1:end]) + "\n", skip and skip["reason"]))
        i = end + 1
    return blocks


# -- how a value reads ---------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """Numpy scalars as Python numbers, inside containers too (a reader sees 64, not np.int64(64))."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


def shown(value: Any) -> list[str]:
    """The ways a value may be written after ``# =>`` (any of them matches)."""
    import quantities as pq

    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        items = (repr(_plain(v)) if isinstance(v, tuple) else shown(v)[0] for v in value)
        return [", ".join(items), repr(_plain(value))]
    if isinstance(value, pq.Quantity):
        return [str(value), repr(value)]
    if isinstance(value, np.generic):
        return [str(value.item()), repr(value.item())]
    if isinstance(value, (str, bytes, list, dict, set)):
        return [repr(_plain(value))]
    if isinstance(value, np.ndarray):
        return [str(value), repr(value)]
    return [str(value), repr(value)]


def _normal(text: str) -> str:
    # numpy pads arrays for alignment ("[  0 250]"); a reader writes "[0 250]"
    return re.sub(r"([\[(])\s+", r"\1", " ".join(text.split()))


def matches(expected: str, value: Any) -> bool:
    want = _normal(expected)
    return any(doctest._ellipsis_match(want, _normal(s)) if "..." in want else want == _normal(s)
               for s in shown(value))


# -- running a block -----------------------------------------------------------------------------


class _Printed(str):
    """What a checked ``print(...)`` printed (compared as text)."""


def _printed(*args: Any, **kwargs: Any) -> _Printed:
    out = io.StringIO()
    with redirect_stdout(out):
        print(*args, **kwargs)
    text = out.getvalue()
    print(text, end="")
    return _Printed(text.rstrip("\n"))


def _check(value: Any, expected: str, where: str) -> Any:
    ok = (_normal(expected) == _normal(value) or "..." in expected
          and doctest._ellipsis_match(_normal(expected), _normal(value))) if isinstance(value, _Printed) \
        else matches(expected, value)
    if not ok:
        got = str(value) if isinstance(value, _Printed) else shown(value)[0]
        raise AssertionError(f"{where}: the comment says  # => {expected}\n{' ' * len(where)}  but the value is  "
                             f"# => {got}")
    return value


def _value_comments(code: str) -> dict[int, str]:
    """Line number -> the VALUE of a ``# => VALUE`` comment on that line."""
    found = {}
    for tok in tokenize.generate_tokens(io.StringIO(code).readline):
        if tok.type == tokenize.COMMENT:
            m = _VALUE.match(tok.string)
            if m:
                found[tok.start[0]] = m["value"].strip()
    return found


class _Checker(ast.NodeTransformer):
    """Wrap each expression statement that ends on a ``# =>`` line in ``__check__(value, expected, where)``."""

    def __init__(self, comments: dict[int, str], block: Block):
        self.comments, self.block, self.used = comments, block, set()

    def visit_Expr(self, node: ast.Expr) -> ast.Expr:
        expected = self.comments.get(node.end_lineno)
        if expected is None:
            return node
        self.used.add(node.end_lineno)
        value = node.value
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "print":
            value = ast.Call(ast.Name("__printed__", ast.Load()), value.args, value.keywords)
        where = f"{self.block.document.relative_to(ROOT)}:{self.block.line + node.end_lineno - 1}"
        call = ast.Call(ast.Name("__check__", ast.Load()), [value, ast.Constant(expected), ast.Constant(where)], [])
        return ast.copy_location(ast.Expr(call), node)


def run_block(block: Block, namespace: dict[str, Any]) -> int:
    """Run one block in ``namespace``; return how many values it checked."""
    comments = _value_comments(block.code)
    tree = ast.parse(block.code, filename=block.where)
    checker = _Checker(comments, block)
    tree = ast.fix_missing_locations(checker.visit(tree))
    stray = sorted(set(comments) - checker.used)
    if stray:
        raise AssertionError(f"{block.where}: a '# =>' comment is not at the end of an expression statement "
                             f"(line {block.line + stray[0] - 1}); only expressions have values to check")
    namespace.update(__check__=_check, __printed__=_printed)
    code = compile(tree, f"{block.where} (block starting at line {block.line})", "exec")
    exec(code, namespace)  # noqa: S102 - the repository's own documentation, run as a reader would
    return len(comments)


def _close_leftovers(namespace: dict[str, Any]) -> None:
    # a reader's session ends with the process; here the next test starts, so close what a block
    # left open (stores, recordings) instead of leaving it to the garbage collector
    for value in namespace.values():
        if type(value).__module__.startswith("cldata") and callable(getattr(value, "close", None)):
            try:
                value.close()
            except Exception:
                pass
    import matplotlib.pyplot as plt

    plt.close("all")


# -- the tests -----------------------------------------------------------------------------------


def _ids(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("document", [d for d in DOCUMENTS if python_blocks(d)], ids=_ids)
def test_python_blocks_run_as_written(document, tmp_path, monkeypatch):
    blocks = [b for b in python_blocks(document) if b.skip is None]
    if not blocks:
        pytest.skip(f"every Python block of {_ids(document)} is marked skip")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict[str, Any] = {"__name__": "__main__"}
    try:
        for block in blocks:
            run_block(block, namespace)
    finally:
        _close_leftovers(namespace)


_SKIPPED = [b for d in DOCUMENTS for b in python_blocks(d) if b.skip is not None]


@pytest.mark.parametrize("block", _SKIPPED or [None], ids=lambda b: b.where if b else "none")
def test_blocks_marked_skip_say_why(block):
    if block is None:
        pytest.skip("no block is marked <!-- skip: reason -->")
    pytest.skip(f"{block.where}: {block.skip}")


# -- the collector itself ------------------------------------------------------------------------


def _document(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Path:
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)  # blocks name their place relative to ROOT
    doc = tmp_path / "doc.md"
    doc.write_text(text)
    return doc


def test_the_collector_finds_blocks_and_skip_reasons(tmp_path, monkeypatch):
    doc = _document(tmp_path, monkeypatch, "text\n```python\nx = 1\n```\n\n<!-- skip: needs a dask cluster -->\n\n"
                              "```python\nimport distributed\n```\n```bash\nls\n```\n")
    blocks = python_blocks(doc)
    assert [(b.line, b.code, b.skip) for b in blocks] == [(3, "x = 1\n", None),
                                                          (9, "import distributed\n", "needs a dask cluster")]


def test_a_wrong_value_comment_fails_with_both_values(tmp_path, monkeypatch):
    doc = _document(tmp_path, monkeypatch, "```python\nwith open(__file__) if False else __import__('contextlib').nullcontext():\n"
                              "    1 + 1     # => 3\n```\n")
    with pytest.raises(AssertionError, match=r"doc.md:3: the comment says  # => 3\n.*# => 2"):
        run_block(python_blocks(doc)[0], {})


def test_values_read_as_a_reader_writes_them():
    import quantities as pq

    ns: dict[str, Any] = {}
    block = Block(ROOT / "README.md", 1, "import numpy as np, quantities as pq\n"
                                         "np.int64(64), 0.5, 25000.0 * pq.Hz   # => 64, 0.5, 25000.0 Hz\n"
                                         "{'n': np.int64(3)}                  # => {'n': 3}\n"
                                         "print('a', 2)                       # => a 2\n"
                                         "'<RecordingView x.h5: 0.5 s>'       # => '<RecordingView ...: 0.5 s>'\n"
                                         "x = 5   # a prose comment is not checked\n")
    assert run_block(block, ns) == 4
    assert shown(2 * pq.ms)[0] == "2.0 ms"


def test_a_value_comment_on_a_statement_that_has_no_value_is_refused():
    block = Block(ROOT / "README.md", 1, "x = 5   # => 5\n")
    with pytest.raises(AssertionError, match="not at the end of an expression"):
        run_block(block, {})
