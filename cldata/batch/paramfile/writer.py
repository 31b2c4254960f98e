"""Writing parameter sets: to text (:func:`format_parameters`) and files (:func:`dump_parameters`).

A parameter set is written so that :func:`~.reading.load_parameters` reads it back equal:
in the ``parameters`` text format (tuples kept, ``float('inf')`` for the floats that have
no literal), or as JSON / YAML data with sweeps and references in their ``$`` spellings.
A value or key with no file form is refused, naming its dotted path.

Examples
--------
>>> literal((1, float("inf")), "k")
"(1, float('inf'))"
"""

from __future__ import annotations

import json
import math
import numbers
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from parameters import ParameterRange, ParameterReference

from cldata.batch.paramfile.builder import file_format
from cldata.batch.paramfile.nodes import SPECIAL, Where, check_key
from cldata.core.fsutil import atomic_write_bytes
from cldata.errors import ParameterError

__all__ = ["format_parameters", "dump_parameters", "literal"]


def _number(value: Any) -> Any:
    """Python int / float for numbers of other types (numpy scalars, fractions)."""
    if isinstance(value, numbers.Integral):
        return int(value)
    return float(value)


def _dump_key(key: Any, path: str, tree: bool) -> str:
    if not isinstance(key, str):
        raise ParameterError(f"cannot write parameter {path}: key {key!r} is not a string")
    if tree:
        check_key(key, Where(f"cannot write parameter {path}"))
    return key


def _check_dump_dict(value: Mapping[str, Any], path: str) -> None:
    if any(k in SPECIAL for k in value):
        raise ParameterError(f"cannot write parameter {path or '(top)'}: the keys {', '.join(SPECIAL)} are "
                             "reserved for references, sweeps and includes")


def _float_text(value: float) -> str:
    if math.isnan(value):
        return "float('nan')"
    if math.isinf(value):
        return "float('inf')" if value > 0 else "float('-inf')"
    return repr(value)


def literal(value: Any, path: str, tree_keys: bool = False) -> str:
    """``value`` as a literal of the ``parameters`` format (plain data only)."""
    if isinstance(value, np.generic):  # numpy scalars as the Python values they stand for
        value = value.item()
    if value is None or isinstance(value, (bool, str)):
        return repr(value)
    if isinstance(value, numbers.Number) and not isinstance(value, complex):
        value = _number(value)
        return _float_text(value) if isinstance(value, float) else repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(literal(v, f"{path}[{i}]") for i, v in enumerate(value)) + "]"
    if isinstance(value, tuple):
        items = [literal(v, f"{path}[{i}]") for i, v in enumerate(value)]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(value, Mapping):
        _check_dump_dict(value, path)
        return "{" + ", ".join(f"{_dump_key(k, f'{path}.{k}', tree_keys)!r}: {literal(v, f'{path}.{k}', tree_keys)}"
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
            items = ", ".join(literal(v, f"{sub}[{i}]", True) for i, v in enumerate(value._values))
            out.append(head + f"ParameterRange([{items}]),")
        elif isinstance(value, ParameterReference):
            out.append(head + _ref_text(value, sub) + ",")
        else:
            out.append(head + literal(value, sub) + ",")


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
    return literal(value, path)  # raises the same errors as the text format


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
    >>> from cldata.batch.paramfile import parse_parameters
    >>> p = parse_parameters("{'a': {'b': ParameterRange([1, 2])}, 'c': (1, 'x')}")
    >>> dump_parameters(p, tmp / "run.param")                           # doctest: +SKIP
    >>> load_parameters(tmp / "run.param") == p                         # doctest: +SKIP
    True
    """
    path = Path(path)
    text = format_parameters(params, file_format(path))
    atomic_write_bytes(path, text.encode("utf-8"))
    return path
