"""What a follower was asked for: which data streams, and which vectorised events besides.

A live recording's streams are not known in advance (a writer may create one at any
moment), so the stream selection is kept as the patterns it was given and asked about each
name as it appears (:class:`StreamSelector`, the rule of
:func:`cldata.format.stream_names.matching_stream_names`, memoised: a live recording asks
once per batch). :class:`Kinds` says whether spikes, stims and raw samples were asked for.

Examples
--------
>>> select = StreamSelector(["ball*", "score"])
>>> select("ball_position"), select("scores")
(True, False)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from cldata.format.stream_names import matching_stream_names

__all__ = ["StreamSelector", "Kinds"]


class StreamSelector:
    """Whether a stream name is selected by ``patterns`` (``None``: every stream).

    Raises
    ------
    cldata.errors.ParameterError
        At once, for patterns that are not a name, a glob pattern or a list of them.

    Examples
    --------
    >>> StreamSelector(None)("anything")
    True
    """

    def __init__(self, patterns: str | Iterable[str] | None):
        if patterns is not None and not isinstance(patterns, str):
            patterns = list(patterns)
        matching_stream_names((), patterns)  # raises ParameterError for a malformed selection
        self.patterns = patterns
        self._known: dict[str, bool] = {}

    def __call__(self, name: str) -> bool:
        hit = self._known.get(name)
        if hit is None:
            hit = self._known[name] = bool(matching_stream_names((name,), self.patterns))
        return hit


class Kinds(NamedTuple):
    """Which vectorised events were asked for besides the stream entries.

    Examples
    --------
    >>> Kinds(spikes=True, stims=False, samples=False).spikes
    True
    """

    spikes: bool
    stims: bool
    samples: bool
