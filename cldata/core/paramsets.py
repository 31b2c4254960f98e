"""Parameters as plain values: the one place a ``ParameterSet`` becomes a dict.

Parameters reach cldata in three forms: keyword arguments, plain dicts, and
``parameters.ParameterSet`` objects (what mozaik users and cldata's parameter files build, with
nested ParameterSets inside). Everything past the entry points (canonical form, the catalog,
queries, analyses, the batch runner) works on plain nested dicts; :func:`plain_parameters` is
the single conversion, so a ParameterSet means the same thing wherever it is given.

The ``parameters`` package imports scipy (half a second, and scipy registers pickle reducers);
a ParameterSet can only exist once its caller imported that package, so cldata never imports it
just to ask (:func:`is_parameter_set` looks in ``sys.modules``).

Examples
--------
>>> plain_parameters({"a": 1, "nested": {"b": 2}})
{'a': 1, 'nested': {'b': 2}}
>>> plain_parameters(None)
{}
>>> from parameters import ParameterSet
>>> plain_parameters(ParameterSet({"a": 1, "nested": ParameterSet({"b": 2})}))
{'a': 1, 'nested': {'b': 2}}
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from cldata.errors import ParameterError

__all__ = ["is_parameter_set", "plain_parameters", "plain_value"]


def is_parameter_set(value: Any) -> bool:
    """True for a ``parameters.ParameterSet`` (without importing the ``parameters`` package).

    Examples
    --------
    >>> is_parameter_set({"a": 1})
    False
    """
    module = sys.modules.get("parameters")
    return module is not None and isinstance(value, module.ParameterSet)


def plain_value(value: Any) -> Any:
    """``value`` with every ParameterSet or other mapping inside it turned into a plain dict.

    Lists and tuples are walked (their type is kept); everything else is returned as it is.

    Examples
    --------
    >>> plain_value([{"a": 1}, (2, 3)])
    [{'a': 1}, (2, 3)]
    """
    if is_parameter_set(value):
        value = value.as_dict()
    if isinstance(value, Mapping):
        return {k: plain_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_value(v) for v in value]
    if type(value) is tuple:
        return tuple(plain_value(v) for v in value)
    return value


def plain_parameters(value: Any, what: str = "parameters") -> dict[str, Any]:
    """A dict, a ParameterSet or ``None`` as a new plain nested dict.

    Parameters
    ----------
    value
        The parameters as given by a caller.
    what
        What they are, in the caller's words, for the error message ("the store parameters").

    Raises
    ------
    cldata.errors.ParameterError
        If ``value`` is neither a mapping, a ParameterSet nor ``None``.

    Examples
    --------
    >>> plain_parameters([1, 2], what="the analysis parameters")
    Traceback (most recent call last):
    ...
    cldata.errors.ParameterError: the analysis parameters must be a dict or a ParameterSet, not list
    """
    if value is None:
        return {}
    if is_parameter_set(value) or isinstance(value, Mapping):
        return plain_value(value)
    raise ParameterError(f"{what} must be a dict or a ParameterSet, not {type(value).__name__}")
