"""References between parameters: ``ref('a.b')``, resolved into copies of what they name.

A :class:`Reference` is what a file's ``ref('dotted.path')`` (or ``{"$ref": ...}``) reads
as; :func:`resolve_references` replaces every one by a copy of the (resolved) value it
names, after command-line overrides are applied, so references see the new values. Unlike
``ParameterSet.replace_references`` (which loops forever on a cycle and raises a bare
KeyError for a missing key), a cycle or a missing key is reported with where the reference
was written. :func:`copy_parameters` copies a parameter tree faithfully (``copy.deepcopy``
does not copy a ParameterSet's attributes).

Examples
--------
>>> resolve_references({"a": {"x": 1}, "b": Reference("a.x")})
{'a': {'x': 1}, 'b': 1}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from parameters import ParameterRange, ParameterReference, ParameterSet

from cldata.batch.paramfile.nodes import Where, check_path, error
from cldata.errors import ParameterError

__all__ = ["Reference", "copy_parameters", "as_parameter_set", "resolve_references"]


class Reference(ParameterReference):
    """A ``ref('dotted.path')`` read from a file, remembering where it was written.

    It is a :class:`parameters.ParameterReference` (so code that checks for those finds
    it), compares equal to another reference to the same path, and prints as it is
    written. :func:`load_parameters` resolves all references before returning.
    """

    def __init__(self, path: str, where: Where | None = None):
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


def as_parameter_set(params: Mapping[str, Any]) -> ParameterSet:
    """``params`` as a ParameterSet with nested ParameterSets (a ParameterSet is returned as it is)."""
    if isinstance(params, ParameterSet):
        return params
    if not isinstance(params, Mapping):
        raise ParameterError(f"parameters must be a dict or ParameterSet, not {type(params).__name__}")
    out = ParameterSet({})
    for k, v in params.items():
        dict.__setitem__(out, k, as_parameter_set(v) if isinstance(v, Mapping) else v)
    return out


def _ref_error(ref: ParameterReference, message: str) -> ParameterError:
    return error(getattr(ref, "where", None), f"ref({ref.reference_path!r}): {message}")


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
            raise error(getattr(ref, "where", None), f"ref({ref.reference_path!r}): references form a cycle ({chain})")
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
            raise error(where, f"a reference names a dotted path, not {target_text!r}")
        target = check_path(target_text, where if where is not None else Where("ref"))
        if path[:len(target)] == target:
            raise error(where, f"ref({target_text!r}) at {'.'.join(path)} refers to itself or to a dict containing it")
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
    root = copy_parameters(as_parameter_set(params))
    _Resolver(root).run()
    return root
