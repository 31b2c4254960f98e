"""Parameter sweeps: every ``ParameterRange`` in a parameter set is an axis of a grid.

A parameter file marks the values to sweep over with ``ParameterRange([...])`` (or
``{"$sweep": [...]}`` in JSON and YAML), at any depth of the parameter tree. Each
combination of values -- the cartesian product of all axes -- is its own analysis run.
The order is deterministic: axes sorted by their dotted path, the first axis varying
slowest, the values of each axis in the order they were written.

A grid grows as the product of its axes: five axes of a hundred values, written in two
kilobytes, are 10**10 combinations. Count a grid with :func:`sweep_size` (or
:func:`sweep_axes`) before expanding it, and walk a large one with :func:`iter_sweeps`,
which builds one combination at a time; the batch runner refuses grids larger than its
limit before expanding anything (:data:`cldata.batch.runner.MAX_UNITS`).

Examples
--------
>>> from parameters import ParameterRange, ParameterSet
>>> p = ParameterSet({"bin_ms": ParameterRange([1, 2]), "smooth": {"kind": ParameterRange(["box", "gauss"])}})
>>> sweep_axes(p)
{'bin_ms': [1, 2], 'smooth.kind': ['box', 'gauss']}
>>> for combination, params in expand_sweeps(p):
...     print(combination, params.bin_ms, params.smooth.kind)
{'bin_ms': 1, 'smooth.kind': 'box'} 1 box
{'bin_ms': 1, 'smooth.kind': 'gauss'} 1 gauss
{'bin_ms': 2, 'smooth.kind': 'box'} 2 box
{'bin_ms': 2, 'smooth.kind': 'gauss'} 2 gauss
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import Any

from parameters import ParameterRange, ParameterReference, ParameterSet

from cldata.batch.paramfile.references import as_parameter_set, copy_parameters, resolve_references
from cldata.errors import ParameterError

__all__ = ["sweep_axes", "sweep_size", "iter_sweeps", "expand_sweeps"]


def _axes(params: Mapping[str, Any]) -> list[tuple[tuple[str, ...], list[Any]]]:
    """``(path as key tuple, values)`` of every range, sorted by dotted path."""
    found: list[tuple[tuple[str, ...], list[Any]]] = []

    def walk(node: Mapping[str, Any], prefix: tuple[str, ...]) -> None:
        for key, value in (dict.items(node) if isinstance(node, dict) else node.items()):
            path = (*prefix, key)
            if isinstance(value, ParameterRange):
                values = list(value._values)
                if not values:
                    raise ParameterError(f"the sweep {'.'.join(path)} has no values")
                found.append((path, values))
            elif isinstance(value, Mapping):
                walk(value, path)

    walk(params, ())
    found.sort(key=lambda item: ".".join(item[0]))
    return found


def sweep_axes(params: Mapping[str, Any]) -> dict[str, list[Any]]:
    """The sweep axes of ``params``: ``{dotted path: [values]}``, sorted by path.

    Only ranges that are values of keys count (as everywhere in the ``parameters``
    package); lists are leaves.

    Examples
    --------
    >>> sweep_axes({"b": ParameterRange([1, 2]), "a": {"x": ParameterRange(["u", "v"])}, "c": 3})
    {'a.x': ['u', 'v'], 'b': [1, 2]}
    >>> sweep_axes({"c": 3})
    {}
    """
    return {".".join(path): values for path, values in _axes(params)}


def sweep_size(params: Mapping[str, Any]) -> int:
    """How many combinations :func:`expand_sweeps` gives (1 without sweeps).

    Examples
    --------
    >>> sweep_size({"a": ParameterRange([1, 2, 3]), "b": {"c": ParameterRange([0, 1])}})
    6
    """
    n = 1
    for _, values in _axes(params):
        n *= len(values)
    return n


def _has_references(node: Mapping[str, Any]) -> bool:
    for value in (dict.values(node) if isinstance(node, dict) else node.values()):
        if isinstance(value, ParameterReference) or (isinstance(value, Mapping) and _has_references(value)):
            return True
    return False


def _tree_value(value: Any) -> Any:
    """A copy of a swept value as it sits in the tree: a dict becomes a ParameterSet."""
    value = copy_parameters(value)
    return as_parameter_set(value) if isinstance(value, Mapping) else value


def iter_sweeps(params: Mapping[str, Any]) -> Iterator[tuple[dict[str, Any], ParameterSet]]:
    """Like :func:`expand_sweeps`, one combination at a time (for very large grids).

    Nothing of the size of the grid is built: each combination costs one copy of the tree
    (without the other values of the sweeps). Count the grid first with :func:`sweep_size`;
    a run does, and refuses grids larger than its limit
    (:data:`cldata.batch.runner.MAX_UNITS`).

    Examples
    --------
    >>> it = iter_sweeps({"a": ParameterRange(list(range(10**3))), "b": ParameterRange(list(range(10**3)))})
    >>> next(it)[0], next(it)[0]
    ({'a': 0, 'b': 0}, {'a': 0, 'b': 1})
    """
    root = as_parameter_set(params)
    axes = _axes(root)
    if not axes:
        yield {}, (resolve_references(root) if _has_references(root) else root)
        return
    # a template without the ranges' values: copying it per combination costs the size of the
    # tree, not that of the tree plus every value of every sweep
    template = copy_parameters(_without_ranges(root))
    for values in itertools.product(*(v for _, v in axes)):
        tree = copy_parameters(template)
        combination: dict[str, Any] = {}
        for (path, _), value in zip(axes, values):
            node = tree
            for key in path[:-1]:
                node = dict.__getitem__(node, key)
            dict.__setitem__(node, path[-1], _tree_value(value))
            combination[".".join(path)] = copy_parameters(value)
        # references (if any are left) see this combination's values
        yield combination, (resolve_references(tree) if _has_references(tree) else tree)


def _without_ranges(node: Mapping[str, Any]) -> Any:
    """``node`` rebuilt (mappings only, of the same kind) with every range replaced by ``None``."""
    out: Any = ParameterSet({}) if isinstance(node, ParameterSet) else {}
    for key, value in (dict.items(node) if isinstance(node, dict) else node.items()):
        if isinstance(value, ParameterRange):
            value = None
        elif isinstance(value, Mapping):
            value = _without_ranges(value)
        dict.__setitem__(out, key, value)
    return out


def expand_sweeps(params: Mapping[str, Any]) -> list[tuple[dict[str, Any], ParameterSet]]:
    """Every combination of the sweep values in ``params``, each as its own parameter set.

    Parameters
    ----------
    params : ParameterSet or dict
        A parameter tree whose ``ParameterRange`` values (at any depth) are sweep axes.

    Returns
    -------
    list of (dict, ParameterSet)
        One entry per combination, in a deterministic order (axes sorted by dotted path,
        the first varying slowest; values in the order given): ``{dotted path: value}``
        of that combination, and a new ParameterSet with each range replaced by its value
        (a dict value becomes a ParameterSet). Without ranges: ``[({}, params)]`` (as a
        ParameterSet; a dict is converted).

    Raises
    ------
    cldata.errors.ParameterError
        A range without values, or references that do not resolve.

    Examples
    --------
    >>> expand_sweeps({"a": 1})
    [({}, {'a': 1})]
    >>> [c for c, _ in expand_sweeps({"w": ParameterRange([1, 2]), "n": ParameterRange(["x", "y"])})]
    [{'n': 'x', 'w': 1}, {'n': 'x', 'w': 2}, {'n': 'y', 'w': 1}, {'n': 'y', 'w': 2}]
    """
    return list(iter_sweeps(params))
