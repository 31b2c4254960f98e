"""From parsed nodes to parameter sets: values built directly, included files read.

:class:`Builder` turns a :class:`~.nodes.Node` tree from any of the three readers into a
``parameters.ParameterSet`` (nested dicts become ParameterSets, ``ref()`` a
:class:`~.references.Reference`, a sweep a ``ParameterRange``), refusing duplicate keys,
invalid names and references or sweeps inside lists. It reads included files
(``url('other.param')``, ``{"$include": ...}``): relative to the including file, confined
to the top file's directory, without cycles and at most :data:`~.nodes.MAX_INCLUDE_DEPTH`
deep. :func:`file_format` chooses the reader by suffix.

Examples
--------
>>> file_format("run.yaml"), file_format("run.param")
('yaml', 'param')
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from parameters import ParameterRange, ParameterSet

from cldata.batch.paramfile.json_format import JsonParser
from cldata.batch.paramfile.nodes import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_INCLUDE_DEPTH,
    Budget,
    Node,
    Where,
    check_key,
    check_path,
    error,
)
from cldata.batch.paramfile.references import Reference
from cldata.batch.paramfile.text_format import TextParser
from cldata.batch.paramfile.yaml_format import YamlParser

__all__ = ["Builder", "file_format", "parse_text", "read_text"]

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")


def file_format(path: str | os.PathLike[str]) -> str:
    """``"json"``, ``"yaml"`` or ``"param"`` (the ``parameters`` text format), by suffix."""
    suffix = Path(path).suffix.lower()
    return {".json": "json", ".yaml": "yaml", ".yml": "yaml"}.get(suffix, "param")


def parse_text(text: str, source: str, fmt: str, budget: Budget) -> Node | None:
    if fmt == "json":
        return JsonParser(text, source, budget).parse()
    if fmt == "yaml":
        return YamlParser(text, source, budget).parse()
    if fmt == "param":
        return TextParser(text, source, budget).parse()
    raise ValueError(f"unknown parameter file format {fmt!r} (json, yaml or param)")


def read_text(path: Path, where: Where | str | None) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise error(where, f"cannot read parameter file {str(path)!r}: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise error(where, f"parameter file {str(path)!r} is larger than {MAX_FILE_BYTES} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(str(path), f"not UTF-8 text (byte {exc.start})") from None


class Builder:
    """Builds ParameterSets and values from nodes; reads included files."""

    def __init__(self, budget: Budget, root_dir: Path | None):
        self.budget = budget
        self.root_dir = root_dir.resolve() if root_dir is not None else None
        self.dirs: dict[str, Path | None] = {}
        self.including: list[Path] = []

    def build(self, node: Node, tree: bool, depth: int = 0, tree_keys: bool = False) -> Any:
        """``tree``: the node is a value of a key in the parameter tree (so dicts become
        ParameterSets, and refs, sweeps and includes are allowed); otherwise it is inside a
        list, tuple or sweep, where values are plain data. ``tree_keys``: a value of a
        sweep, whose dicts become parameter sets when the sweep is expanded, so their keys
        must be valid parameter names."""
        if depth > MAX_DEPTH:
            raise error(node.where, f"nested more than {MAX_DEPTH} levels deep")
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
                    check_key(key, key_where)
                if key in seen:
                    raise error(key_where, f"duplicate key {key!r}")
                seen.add(key)
                # dict.__setitem__: ParameterSet's own would split dotted keys
                dict.__setitem__(out, key, self.build(value, tree, depth + 1, tree_keys))
            return out
        context = "the value of a key, not inside a list, tuple or ParameterRange"
        if not tree:
            name = {"ref": "ref()", "range": "ParameterRange()", "include": "url()"}[kind]
            raise error(node.where, f"{name} is only allowed as {context}")
        if kind == "ref":
            check_path(node.value, node.where)
            return Reference(node.value, node.where)
        if kind == "range":
            if not node.value:
                raise error(node.where, "a ParameterRange needs at least one value")
            return ParameterRange([self.build(item, False, depth + 1, True) for item in node.value])
        if kind == "include":
            return self.include(node, depth)
        raise AssertionError(kind)  # pragma: no cover

    def parse_file(self, path: Path, source: str, where: Where | None, depth: int) -> ParameterSet:
        text = read_text(path, where)
        node = parse_text(text, source, file_format(path), self.budget)
        if node is None:
            return ParameterSet({})
        if node.kind != "dict":
            raise error(node.where, "a parameter file must hold a dict (a parameter set) at the top")
        return self.build(node, True, depth)

    def include(self, node: Node, depth: int) -> ParameterSet:
        name = node.value
        base = self.dirs.get(node.where.source)
        if base is None or self.root_dir is None:
            raise error(node.where, "url() is only allowed in a parameter file (it names a file relative to that file)")
        if not name or _SCHEME.match(name) or os.path.isabs(name) or name.startswith(("~", "\\")):
            raise error(node.where, f"url({name!r}): only a relative path to a local file is allowed "
                                     "(no absolute paths, no http:, file: or other URLs)")
        joined = base / name
        target = joined.resolve()
        if not target.is_relative_to(self.root_dir):
            raise error(node.where, f"url({name!r}) is outside the parameter file's directory {str(self.root_dir)!r}")
        if target.exists() and not target.is_file():  # a directory, or a pipe that would block
            raise error(node.where, f"url({name!r}) is not a regular file")
        if target in self.including:
            chain = " -> ".join(str(p.name) for p in [*self.including, target])
            raise error(node.where, f"url({name!r}): files include each other ({chain})")
        if len(self.including) >= MAX_INCLUDE_DEPTH:
            raise error(node.where, f"url({name!r}): more than {MAX_INCLUDE_DEPTH} nested includes")
        source = str(joined)
        self.dirs[source] = joined.parent
        self.including.append(target)
        try:
            return self.parse_file(target, source, node.where, depth + 1)
        finally:
            self.including.pop()
