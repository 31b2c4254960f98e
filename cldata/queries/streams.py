"""Stream queries: which data streams a view shows, by name or by their attributes.

``stream_query(dsv, names, **attributes)`` keeps the streams whose name matches
``names`` — an exact name, a glob pattern (``"ball*"``), or a list of either — and whose
attributes (the ``application`` values a CL stream carries) match every condition, with
the same rules as parameter queries (values, lists, predicates, dotted paths). The view
then shows only those streams, only the recordings that have at least one of them, and
only the results that come from those recordings (results without sources stay).

Examples
--------
>>> store.streams("score")                         # doctest: +SKIP
>>> store.streams(["ball*", "score"], units="px")  # doctest: +SKIP
>>> store.streams(final=True)                      # any stream whose attribute final is True
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from cldata.errors import ParameterError
from cldata.queries.params import normalize_keys
from cldata.queries.predicates import condition_rows

if TYPE_CHECKING:  # pragma: no cover
    from cldata.view import DataStoreView

__all__ = ["stream_query", "matching_stream_names"]


def matching_stream_names(all_names: Iterable[str], names: str | Iterable[str] | None) -> set[str]:
    """The names in ``all_names`` matching ``names`` (exact, glob, or a list of either)."""
    all_names = set(all_names)
    if names is None:
        return all_names
    patterns = [names] if isinstance(names, str) else list(names)
    if not all(isinstance(p, str) and p for p in patterns):
        raise ParameterError(f"stream names are non-empty strings or glob patterns, not {names!r}")
    out: set[str] = set()
    for p in patterns:
        if any(ch in p for ch in "*?["):
            out.update(fnmatch.filter(all_names, p))
        elif p in all_names:
            out.add(p)
    return out


def stream_query(dsv: DataStoreView, names: str | Iterable[str] | None = None, **attributes: Any) -> DataStoreView:
    """A view showing only the matching streams and the recordings that have one (see module doc).

    Raises
    ------
    cldata.errors.ParameterError
        For names that are not strings, or malformed attribute keys.
    """
    from cldata.view import StreamSelection

    cat = dsv.full_datastore.catalog
    sets = dsv._row_sets()
    selected = matching_stream_names(cat.streams, names)
    criteria = normalize_keys(attributes)
    for path in criteria:
        if cat.streams and not any(cat.stream_index.present(f"{n}.{path}") for n in cat.streams):
            raise ParameterError(f"no data stream in the store has an attribute {path!r}")
    rows: set[int] = set()
    per_recording: dict[int, set[str]] | None = {} if criteria else None
    for name in selected:
        candidates = cat.streams.get(name, set())
        if sets is not None:
            candidates = candidates & sets[0]
        for path, cond in criteria.items():
            candidates = candidates & condition_rows(cat.stream_index, f"{name}.{path}", cond)
        if dsv._streams is not None:
            candidates = {r for r in candidates if dsv._streams.visible(r, name)}
        rows |= candidates
        if per_recording is not None:
            for r in candidates:
                per_recording.setdefault(r, set()).add(name)
    selection = StreamSelection(selected, per_recording).intersect(dsv._streams)
    kept_ids = {cat.recordings[r].id for r in rows}  # type: ignore[union-attr]
    results = [r for r in dsv._result_rows()
               if cat.results[r] is not None
               and (not cat.results[r].sources or kept_ids.intersection(cat.results[r].sources))]  # type: ignore[union-attr]
    return dsv._derive(recordings=rows, results=results, streams=selection)
