"""Tag queries: analysis results carrying some tags (recordings are unaffected, as in mozaik).

Every tag asked for must be carried by at least one result of the *store*: a tag no result
has raises :class:`~cldata.errors.UnknownTagError`, listing the store's tags with a "did you
mean" (a typo would otherwise select nothing, silently). A tag the store has but the queried
view lacks selects nothing, without an error; so does any tag in a store without results.

Examples
--------
>>> store.tagged("final")                    # results tagged "final"          # doctest: +SKIP
>>> tag_based_query(store, ["a", "b"], any=True)   # tagged "a" or "b"        # doctest: +SKIP
>>> store.tagged("fianl")                                                      # doctest: +SKIP
Traceback (most recent call last):
cldata.errors.UnknownTagError: no analysis result in the store is tagged 'fianl' (did you mean 'final'?); ...
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from cldata.errors import ParameterError, UnknownTagError
from cldata.model.catalog import Catalog
from cldata.model.engines.rowset import intersect_all
from cldata.query.names import raise_unknown
from cldata.query.selection import Selectable, Selection

__all__ = ["tag_based_query", "select_tagged"]

V = TypeVar("V", bound=Selectable)


def tag_based_query(dsv: V, tags: str | Iterable[str], any: bool = False) -> V:  # noqa: A002
    """Results carrying all of ``tags`` (with ``any=True``: at least one of them).

    Parameters
    ----------
    dsv
        The view to narrow (its recordings stay as they are).
    tags
        One tag or several.
    any
        Keep results carrying at least one of ``tags`` rather than all of them.

    Raises
    ------
    cldata.errors.UnknownTagError
        For a tag no result of the store carries (with the store's tags and a "did you
        mean"); a :class:`~cldata.errors.ParameterError`.
    cldata.errors.ParameterError
        If no tag is given or a tag is not a non-empty string.

    Examples
    --------
    >>> tag_based_query(store, ["final", "draft"], any=True).analysis_results   # doctest: +SKIP
    """
    return dsv.with_selection(select_tagged(dsv.catalog, dsv.selection, tags, any=any))


def select_tagged(catalog: Catalog, selection: Selection, tags: str | Iterable[str],
                  any: bool = False) -> Selection:  # noqa: A002
    """The results of ``selection`` carrying the tags (see :func:`tag_based_query`; a pure function).

    Examples
    --------
    >>> from cldata.model.catalog import Catalog
    >>> select_tagged(Catalog(), Selection.everything(), "final").results
    ()
    """
    tag_list = [tags] if isinstance(tags, str) else list(tags)
    if not tag_list or not all(isinstance(t, str) and t for t in tag_list):
        raise ParameterError(f"tags are non-empty strings, not {tags!r}")
    cat = catalog
    if cat.n_results:  # the tag index holds every tag of the store: a set lookup per tag
        for t in tag_list:
            if t not in cat.tags:
                raise_unknown(UnknownTagError, "no analysis result in the store is tagged", t, cat.tags,
                              "the store's tags")
    sets: list = [cat.tags.get(t, set()) for t in tag_list]
    within = selection.within_results
    if any:
        union: Any = set()
        for rows in sets:
            union = union | rows
        sets = [union]
    if within is not None:
        sets.append(within)
    # the smallest set first, and only it copied: the index's sets stay untouched
    return selection.derive(cat, results=intersect_all(sets))
