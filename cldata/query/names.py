"""Known names: what a query may name, and the "did you mean" for what it may not.

A query naming a data stream, a tag or a parameter that no entry of the *whole store*
has would answer with an empty view, the same answer as a real but empty selection.
Queries therefore check each name against the catalog's indexes of known names (stream
names, tags, indexed parameter paths: lookups in sets, not scans) and raise a
:class:`~cldata.errors.UnknownNameError` subclass naming the unknown one, suggesting close
matches (:func:`difflib.get_close_matches`) and listing the known ones. The known names
are only gathered to write that message.

A store with no entry of the kind concerned (no recording for stream names, no result
for tags, nothing at all for parameters) accepts any name: there is nothing to check
against, and a generic query chain run on a fresh store rightly finds nothing.

Examples
--------
>>> close_matches("scroe", ["ball_position", "score"])
['score']
>>> print(unknown_name_message("no recording in the store has a data stream", "scroe", ["ball_position", "score"],
...                            "the store's data streams"))
no recording in the store has a data stream 'scroe' (did you mean 'score'?); the store's data streams: ball_position, score
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import NoReturn

__all__ = ["close_matches", "unknown_name_message", "raise_unknown"]

#: at most this many known names are listed in a message (a store may hold many)
SHOWN = 40


def close_matches(name: str, known: Iterable[str], n: int = 3) -> list[str]:
    """Up to ``n`` known names close to ``name``, best first (case differences count little)."""
    known = list(known)
    by_lower: dict[str, str] = {}
    for k in known:
        by_lower.setdefault(k.lower(), k)
    exact_case = difflib.get_close_matches(name, known, n=n)
    other_case = [by_lower[m] for m in difflib.get_close_matches(name.lower(), list(by_lower), n=n)]
    return list(dict.fromkeys(exact_case + other_case))[:n]


def unknown_name_message(what: str, name: str, known: Iterable[str], known_as: str) -> str:
    """``"<what> 'name' (did you mean ...?); <known_as>: a, b, c"``."""
    known = sorted(known)
    matches = close_matches(name, known)
    hint = f" (did you mean {' or '.join(repr(m) for m in matches)}?)" if matches else ""
    shown = ", ".join(known[:SHOWN]) + (f", ... ({len(known)} in all)" if len(known) > SHOWN else "")
    return f"{what} {name!r}{hint}; {known_as}: {shown or '(none)'}"


def raise_unknown(error: type[Exception], what: str, name: str, known: Iterable[str], known_as: str) -> NoReturn:
    """Raise ``error`` (an :class:`~cldata.errors.UnknownNameError` subclass) with the message above."""
    known = tuple(sorted(known))
    raise error(unknown_name_message(what, name, known, known_as), name=name,  # type: ignore[call-arg]
                suggestions=tuple(close_matches(name, known)), known=known)
