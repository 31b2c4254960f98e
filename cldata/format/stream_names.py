"""Which data streams a selection names: exact names, glob patterns, or a list of either.

A recording's data streams are chosen everywhere by the same rule, whether a store view
selects them (``store.streams("ball*")``) or a live follower does (``follow(path,
streams=["ball*", "score"])``): a selection is ``None`` (every stream), one non-empty string,
or a list of them; a string holding ``*``, ``?`` or ``[`` is a glob pattern (``fnmatch``),
any other string is an exact name. A name or pattern that matches nothing selects nothing
here; whether that is an error is the caller's business (a store says which names it knows).

Examples
--------
>>> sorted(matching_stream_names(["ball_position", "ball_speed", "score"], "ball*"))
['ball_position', 'ball_speed']
>>> sorted(matching_stream_names(["a", "b"], ["b", "c"]))
['b']
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

from cldata.errors import ParameterError

__all__ = ["matching_stream_names", "is_stream_pattern"]


def matching_stream_names(all_names: Iterable[str], names: str | Iterable[str] | None) -> set[str]:
    """The names in ``all_names`` matching ``names`` (exact, glob, or a list of either).

    Raises
    ------
    cldata.errors.ParameterError
        If ``names`` is not ``None``, a non-empty string, or a list of them (even when
        ``all_names`` is empty: a malformed selection is refused at once).

    Examples
    --------
    >>> matching_stream_names(["score"], None)
    {'score'}
    """
    all_names = set(all_names)
    if names is None:
        return all_names
    patterns = [names] if isinstance(names, str) else list(names)
    if not all(isinstance(p, str) and p for p in patterns):
        raise ParameterError(f"stream names are non-empty strings or glob patterns, not {names!r}")
    out: set[str] = set()
    for p in patterns:
        if is_stream_pattern(p):
            out.update(fnmatch.filter(all_names, p))
        elif p in all_names:
            out.add(p)
    return out


def is_stream_pattern(name: str) -> bool:
    """Whether ``name`` is a glob pattern (holds ``*``, ``?`` or ``[``) rather than a name.

    Examples
    --------
    >>> is_stream_pattern("ball*"), is_stream_pattern("score")
    (True, False)
    """
    return any(ch in name for ch in "*?[")
