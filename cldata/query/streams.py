"""Stream queries: which data streams a view shows, by name or by their attributes.

``stream_query(dsv, names, **attributes)`` keeps the streams whose name matches
``names`` — an exact name, a glob pattern (``"ball*"``), or a list of either — and whose
attributes (the ``application`` values a CL stream carries) match every condition, with
the same rules as parameter queries (values, lists, predicates, dotted paths). The view
then shows only those streams, only the recordings that have at least one of them, and
only the results that come from those recordings (results without sources stay).

Every name (or pattern) must name a stream of at least one recording in the *store*, and
every attribute must be one some stream of the store has: otherwise the query raises
:class:`~cldata.errors.UnknownStreamError` / :class:`~cldata.errors.UnknownParameterError`
with the known ones and a "did you mean" (a typo would otherwise select nothing, silently).
A stream the store has but the queried view lacks selects nothing, without an error.

Examples
--------
>>> store.streams("score")                         # doctest: +SKIP
>>> store.streams(["ball*", "score"], units="px")  # doctest: +SKIP
>>> store.streams(final=True)                      # any stream whose attribute final is True  # doctest: +SKIP
>>> store.streams("scroe")                         # doctest: +SKIP
Traceback (most recent call last):
cldata.errors.UnknownStreamError: no recording in the store has a data stream 'scroe' (did you mean 'score'?); ...
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from typing import Any, TypeVar

from cldata.core.canonical import flatten
from cldata.errors import UnknownParameterError, UnknownStreamError
from cldata.format.stream_names import is_stream_pattern, matching_stream_names
from cldata.query.names import raise_unknown
from cldata.query.params import normalize_keys
from cldata.query.predicates import condition_rows
from cldata.query.selection import Selectable, Selection, StreamSelection

__all__ = ["stream_query", "select_streams", "matching_stream_names", "check_known_streams"]

V = TypeVar("V", bound=Selectable)


def check_known_streams(known: Iterable[str], names: str | Iterable[str] | None) -> None:
    """Raise :class:`~cldata.errors.UnknownStreamError` for a name or pattern matching none of
    ``known`` (the store's stream names). No known names (a store without recordings): no check.
    """
    known = known if isinstance(known, (set, frozenset, dict)) else set(known)
    if names is None or not known:
        return
    for p in [names] if isinstance(names, str) else names:
        if p in known or (is_stream_pattern(p) and fnmatch.filter(known, p)):
            continue
        raise_unknown(UnknownStreamError,
                      f"no recording in the store has a data stream {'matching' if is_stream_pattern(p) else 'named'}",
                      p, known, "the store's data streams")


def _check_known_attributes(cat: Any, paths: Iterable[str]) -> None:
    for path in paths:
        # the stream index answers "which rows have <stream>.<path>" from its postings
        if not cat.streams or any(cat.stream_index.present(f"{n}.{path}") for n in cat.streams):
            continue
        known = {p for entry in cat.recordings if entry is not None
                 for attrs in entry.streams.values() for p in flatten(attrs)}  # only to write the message
        raise_unknown(UnknownParameterError, "no data stream in the store has an attribute", path, known,
                      "the attributes of the store's data streams")


def select_streams(catalog: Any, selection: Selection, names: str | Iterable[str] | None = None,
                   attributes: dict[str, Any] | None = None) -> Selection:
    """The streams of ``selection`` matching ``names`` and ``attributes``, the recordings that have
    one, and the results from those recordings (see :func:`stream_query`; a pure function of a
    catalog and a selection).
    """
    cat = catalog
    within = selection.within_recordings
    current = selection.streams
    selected = matching_stream_names(cat.streams, names)
    check_known_streams(cat.streams, names)
    criteria = normalize_keys(attributes or {})
    _check_known_attributes(cat, criteria)
    rows: set[int] = set()
    per_recording: dict[int, set[str]] | None = {} if criteria else None
    for name in selected:
        candidates = cat.streams.get(name, set())
        if within is not None:
            candidates = candidates & within
        for path, cond in criteria.items():
            candidates = candidates & condition_rows(cat.stream_index, f"{name}.{path}", cond)
        if current is not None:
            candidates = {r for r in candidates if current.visible(r, name)}
        rows |= candidates
        if per_recording is not None:
            for r in candidates:
                per_recording.setdefault(r, set()).add(name)
    streams = StreamSelection(selected, per_recording).intersect(current)
    kept_ids = {cat.recordings[r].id for r in rows}  # type: ignore[union-attr]
    results = [r for r, e in selection.result_entries(cat).items() if not e.sources or kept_ids.intersection(e.sources)]
    return selection.derive(cat, recordings=rows, results=results, streams=streams)


def stream_query(dsv: V, names: str | Iterable[str] | None = None, **attributes: Any) -> V:
    """A view showing only the matching streams and the recordings that have one (see module doc).

    Parameters
    ----------
    dsv
        The view to narrow.
    names
        A stream name, a glob pattern (``"ball*"``), or a list of either; ``None``: every stream
        (then only ``attributes`` select).
    **attributes
        Conditions on the streams' attributes, as in :func:`~cldata.query.param_filter_query`.

    Raises
    ------
    cldata.errors.UnknownStreamError
        For a name or pattern that no recording of the store has (with the known names and
        a "did you mean"); a :class:`~cldata.errors.ParameterError`.
    cldata.errors.UnknownParameterError
        For an attribute that no data stream of the store has.
    cldata.errors.ParameterError
        For names that are not strings, or malformed attribute keys.

    Examples
    --------
    >>> stream_query(store, ["ball*", "score"], units="px")   # doctest: +SKIP
    """
    return dsv.with_selection(select_streams(dsv.catalog, dsv.selection, names, attributes))
