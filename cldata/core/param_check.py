"""Checking parameters against declared required and optional ones (queries and analyses).

Examples
--------
>>> check_parameters("Demo", {"bin_ms": (int, float)}, {"smooth": (bool, False)}, {"bin_ms": 5})
{'bin_ms': 5, 'smooth': False}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cldata.errors import ParameterError

__all__ = ["check_parameters", "type_name"]


def type_name(t: Any) -> str:
    """A readable name for a type or a tuple of types."""
    if isinstance(t, tuple):
        return " or ".join(type_name(x) for x in t)
    return getattr(t, "__name__", str(t))


def check_parameters(owner: str, required: Mapping[str, Any], optional: Mapping[str, tuple[Any, Any]],
                     given: Mapping[str, Any]) -> dict[str, Any]:
    """``given`` completed with defaults, or a :class:`ParameterError` naming every problem.

    ``required`` maps names to a type (or tuple of types, ``None`` for any); ``optional``
    maps names to ``(type, default)``. A ``bool`` is not accepted where a number is
    declared, though Python would.
    """
    problems = []
    missing = sorted(set(required) - set(given))
    if missing:
        problems.append(f"missing {missing}")
    unexpected = sorted(set(given) - set(required) - set(optional))
    if unexpected:
        problems.append(f"unexpected {unexpected} (known: {sorted(set(required) | set(optional))})")
    for name, value in given.items():
        expected = required[name] if name in required else optional.get(name, (None,))[0]
        if expected is None:
            continue
        types = expected if isinstance(expected, tuple) else (expected,)
        ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
        if not ok:
            problems.append(f"{name!r} should be {type_name(expected)}, not {type(value).__name__} ({value!r:.40})")
    if problems:
        raise ParameterError(f"{owner}: " + "; ".join(problems))
    out = dict(given)
    for name, (_, default) in optional.items():
        out.setdefault(name, default)
    return out
