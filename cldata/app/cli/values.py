"""Values typed on the command line: ``KEY=VALUE`` assignments and time bounds.

Values are parsed as safe literals by the parameter-file parser (``session=2`` is a
number, ``culture=C7`` a string); a time bound is frames (``25000``), a time (``1s``,
``100ms``) or ``none``. What cannot mean anything is a :class:`CliError` with status 2.

Examples
--------
>>> time_value("25000"), time_value("none")
(25000, None)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import quantities as pq

from cldata.app.cli.errors import CliError

__all__ = ["parse_assignments", "time_value"]


def parse_assignments(items: Sequence[str] | None, what: str, *, lists: bool = False) -> dict[str, Any]:
    """``["a.b=1", "c=C7"]`` -> ``{"a.b": 1, "c": "C7"}``, values parsed as safe literals.

    ``lists``: a value with commas that is not a literal means any of its parts
    (``culture=C1,C2`` -> ``["C1", "C2"]``), as ``--filter`` documents.
    """
    # (deferred: the parameter-file parsers take 0.6 s to import; `cldata --help` needs none)
    from cldata.batch.paramfile import parse_value

    out: dict[str, Any] = {}
    for item in items or ():
        key, eq, text = item.partition("=")
        if not eq or not key.strip():
            raise CliError(f"{what} {item!r} is not KEY=VALUE (e.g. {what} culture=C7)", 2)
        source = f"{what} {item!r}"
        if lists and "," in text and not text.strip().startswith(("[", "(", "{", "'", '"')):
            parts = [p.strip() for p in text.split(",")]
            if not all(parts):
                raise CliError(f"{source}: an empty value between commas (write {what} {key}=A,B for A or B)", 2)
            value: Any = [parse_value(p, source=source) for p in parts]
        else:
            value = parse_value(text, source=source)
            if lists and isinstance(value, tuple):
                value = list(value)  # 1,2 parses as a tuple: any of them, as a list means
        out[key.strip()] = value
    return out


_TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "min": 60.0}


def time_value(text: str) -> Any:
    """A ``--between`` bound: frames (``25000``), a time (``1s``, ``0.5 s``, ``100ms``), or
    ``none`` for an open end."""

    stripped = text.strip().lower()
    if stripped in ("none", "-", ""):
        return None
    if re.fullmatch(r"[+]?\d+", stripped):
        return int(stripped)
    match = re.fullmatch(r"([+]?\d+(?:\.\d*)?(?:e[+-]?\d+)?)\s*(s|ms|us|min)", stripped)
    if match:
        return float(match.group(1)) * _TIME_UNITS[match.group(2)] * pq.s
    raise CliError(f"--between {text!r}: a bound is a frame count (25000), a time (1s, 0.5s, 100ms, 2min) "
                   "or none (an open end), e.g. --between 0 1s", 2)
