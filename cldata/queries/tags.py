"""Tag queries: analysis results carrying some tags (recordings are unaffected, as in mozaik).

Examples
--------
>>> store.tagged("final")                    # results tagged "final"          # doctest: +SKIP
>>> tag_based_query(store, ["a", "b"], any=True)   # tagged "a" or "b"
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from cldata.errors import ParameterError

if TYPE_CHECKING:  # pragma: no cover
    from cldata.view import DataStoreView

__all__ = ["tag_based_query"]


def tag_based_query(dsv: DataStoreView, tags: str | Iterable[str], any: bool = False) -> DataStoreView:  # noqa: A002
    """Results carrying all of ``tags`` (with ``any=True``: at least one of them).

    Raises
    ------
    cldata.errors.ParameterError
        If no tag is given or a tag is not a non-empty string.
    """
    tag_list = [tags] if isinstance(tags, str) else list(tags)
    if not tag_list or not all(isinstance(t, str) and t for t in tag_list):
        raise ParameterError(f"tags are non-empty strings, not {tags!r}")
    cat = dsv.full_datastore.catalog
    sets: list = [cat.tags.get(t, set()) for t in tag_list]
    within = dsv._row_sets()
    if any:
        sets = [set().union(*sets)]
    if within is not None:
        sets.append(within[1])
    # the smallest set first, and only it copied: the index's sets stay untouched
    sets.sort(key=len)
    matched = set(sets[0])
    for rows in sets[1:]:
        matched &= rows
    return dsv._derive(results=matched)
