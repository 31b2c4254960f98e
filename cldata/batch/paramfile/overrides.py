"""Values from the command line: ``--set key=value`` overrides and the values they carry.

:func:`parse_value` reads one value with the same safe parser as the files (a literal gives
that value; other text is a string, so bare words need no quotes); :func:`parse_override`
reads ``"dotted.key=value"``; :func:`apply_overrides` applies a list of them to a
parameter set, before its references are resolved.

Examples
--------
>>> parse_value("[1, 2]"), parse_value("5"), parse_value("dask")
([1, 2], 5, 'dask')
>>> parse_override("executor.kind=dask")
('executor.kind', 'dask')
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from parameters import ParameterReference, ParameterSet

from cldata.batch.paramfile.builder import Builder
from cldata.batch.paramfile.nodes import MAX_FILE_BYTES, Budget, Where, check_key, error
from cldata.batch.paramfile.references import copy_parameters
from cldata.batch.paramfile.text_format import TextParser
from cldata.errors import ParameterError

__all__ = ["parse_value", "parse_override", "apply_overrides"]

# an override value that looks like a literal or a call must parse; other text is a string
_LOOKS_LITERAL = re.compile(r"""\s*(?:[\[{('"]|[A-Za-z_][\w.]*\s*\()""")


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
        raise error(source, "empty value (write '' for an empty string)")
    if len(text) > MAX_FILE_BYTES:
        raise error(source, "value too long")
    budget = Budget(source)
    try:
        node = TextParser(stripped, source, budget, value_text=True).parse()
        if node is None:  # a bare comment: "#x"
            return stripped
        return Builder(budget, None).build(node, constructors)
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
        raise error(source, "an override is written key=value (e.g. executor.kind=serial)")
    for part in key.split("."):
        check_key(part, Where(source))
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
    >>> from cldata.batch.paramfile import parse_parameters
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
                raise error(source, f"no parameter {here!r} (an override may add a key to an existing "
                                     "parameter set, not create parameter sets on the way)")
            child = dict.__getitem__(node, part)
            seen = set()
            while isinstance(child, ParameterReference):
                target = child.reference_path
                if target in seen or child.operations:
                    raise error(source, f"{here!r} is a reference ({child!r}) that cannot be followed; "
                                         "override it as a whole")
                seen.add(target)
                child = _follow(params, target, source)
            if child is not dict.__getitem__(node, part):
                child = copy_parameters(child)
                dict.__setitem__(node, part, child)
            if not isinstance(child, dict):
                raise error(source, f"{here!r} is not a parameter set (it is {type(child).__name__})")
            node = child
        dict.__setitem__(node, parts[-1], value)
    return params


def _follow(params: Mapping[str, Any], path: str, source: str) -> Any:
    node: Any = params
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise error(source, f"the reference to {path!r} points at nothing")
        node = dict.__getitem__(node, part)
    return node
