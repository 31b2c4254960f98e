"""YAML parameter files, the safe subset, read node by node against an allow-list.

PyYAML's composer builds nodes and never constructs objects; :class:`YamlParser` turns
those nodes into :class:`~.nodes.Node` trees, tag by tag: mappings, sequences, strings,
numbers, booleans, null, anchors, aliases and ``<<`` merge keys. Any other tag
(``!!python/...``, ``!!binary``, timestamps, custom tags) is refused.

Examples
--------
>>> from cldata.batch.paramfile.nodes import Budget
>>> YamlParser("a: [1, 2]\\n", "<yaml>", Budget("<yaml>")).parse().value[0][2].kind
'list'
"""

from __future__ import annotations

from typing import Any

import yaml

from cldata.batch.paramfile.nodes import MAX_DEPTH, Budget, Node, Where, check_scalar, error, special_form

__all__ = ["YamlParser"]

_YAML = "tag:yaml.org,2002:"
_YAML_SCALARS = {_YAML + t for t in ("str", "int", "float", "bool", "null")}


class YamlParser:
    """YAML through PyYAML's composer (which builds nodes and never constructs objects);
    the nodes are turned into values here, tag by tag, against an allow-list."""

    def __init__(self, text: str, source: str, budget: Budget):
        self.text = text
        self.source = source
        self.budget = budget

    def where(self, mark: Any) -> Where:
        return Where(self.source, mark.line + 1, mark.column + 1) if mark is not None else Where(self.source)

    def parse(self) -> Node | None:
        # The pure-Python loader: its recursion ends in a RecursionError we can report
        # (the C loader's behaviour on hostile input is not ours to vouch for).
        try:
            loader = yaml.SafeLoader(self.text)
        except yaml.YAMLError as exc:  # characters YAML does not allow
            raise error(self.source, f"YAML error: {exc}") from None
        try:
            root = loader.get_single_node()
            if root is None:
                return None
            return self.node(root, 0, loader)
        except yaml.MarkedYAMLError as exc:
            raise error(self.where(exc.problem_mark), f"YAML error: {exc.problem}") from None
        except yaml.YAMLError as exc:
            raise error(self.source, f"YAML error: {exc}") from None
        except RecursionError:
            raise error(self.source, "YAML nested too deeply") from None
        finally:
            loader.dispose()

    def node(self, node: Any, depth: int, loader: Any) -> Node:
        where = self.where(node.start_mark)
        if depth > MAX_DEPTH:
            raise error(where, f"nested more than {MAX_DEPTH} levels deep (or a YAML alias refers to itself)")
        self.budget.take(where)
        if isinstance(node, yaml.ScalarNode):
            if node.tag not in _YAML_SCALARS:
                raise error(where, f"YAML tag {node.tag!r} is not allowed (only strings, numbers, booleans, null"
                                    + ("; quote a date to make it a string" if node.tag.endswith("timestamp") else "")
                                    + ")")
            try:
                value = loader.construct_object(node, deep=True)
            except ValueError:  # an int with more digits than Python converts
                raise error(where, "number too large") from None
            return Node("scalar", check_scalar(value, where), where)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _YAML + "seq":
                raise error(where, f"YAML tag {node.tag!r} is not allowed")
            return Node("list", [self.node(item, depth + 1, loader) for item in node.value], where)
        if isinstance(node, yaml.MappingNode):
            if node.tag != _YAML + "map":
                raise error(where, f"YAML tag {node.tag!r} is not allowed")
            pairs = self.pairs(node, depth, loader)
            return special_form(pairs, where) or Node("dict", pairs, where)
        raise error(where, f"unexpected YAML node {type(node).__name__}")  # pragma: no cover

    def pairs(self, node: Any, depth: int, loader: Any) -> list[tuple[str, Where, Node]]:
        """The key/value pairs of a mapping, with ``<<`` merge keys applied: explicit keys
        win over merged ones, and of several merged mappings the first wins (YAML 1.1)."""
        explicit: list[tuple[str, Where, Node]] = []
        merged: list[tuple[str, Where, Node]] = []
        for key_node, value_node in node.value:
            key_where = self.where(key_node.start_mark)
            self.budget.take(key_where)
            if key_node.tag == _YAML + "merge":
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                for src in sources:
                    if not isinstance(src, yaml.MappingNode) or src.tag != _YAML + "map":
                        raise error(self.where(src.start_mark), "a << merge key takes a mapping or a list of mappings")
                    if depth + 1 > MAX_DEPTH:
                        raise error(key_where, f"merges nested more than {MAX_DEPTH} levels deep")
                    merged.extend(self.pairs(src, depth + 1, loader))
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _YAML + "str":
                raise error(key_where, "keys must be strings (quote keys such as yes, no, on, off, 1, null)")
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
