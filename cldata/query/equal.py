"""Precondition helpers: do the entries of a view agree? (mozaik's ``equal_*`` functions.)

Analyses use them to check their input before running, e.g. that every result to be
averaged was computed with the same parameters.

Examples
--------
>>> if not equal_results(view, except_params=["seed"]):        # doctest: +SKIP
...     raise ValueError("results computed with different settings")
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cldata.core.canonical import canonical, flatten
from cldata.model.entries import RecordingEntry, ResultEntry
from cldata.query.selection import Selectable

__all__ = ["equal_results", "equal_result_kinds", "equal_recording_parameters", "equal_stimulation"]


def _all_equal(dicts: Iterable[Mapping[str, Any]], names: Iterable[str] | None, except_params: Iterable[str]) -> bool:
    skip = set(except_params)
    seen = None
    for d in dicts:
        flat = flatten(d)
        keys = (set(flat) if names is None else set(names)) - skip
        key = {k: canonical(flat[k]) if k in flat else None for k in sorted(keys)}
        if seen is None:
            seen = key
        elif key != seen:
            return False
    return True


def _results(dsv: Selectable) -> list[ResultEntry]:
    return list(dsv.selection.result_entries(dsv.catalog).values())


def _recordings(dsv: Selectable) -> list[RecordingEntry]:
    return [e for _, e in dsv.selection.recording_entries(dsv.catalog)]


def equal_results(dsv: Selectable, names: Iterable[str] | None = None, except_params: Iterable[str] = ()) -> bool:
    """Whether all results of the view have the same identifier and parameters.

    ``names`` restricts the comparison to some parameters; ``except_params`` leaves some
    out. An empty view is trivially equal.
    """
    results = _results(dsv)
    if len({e.identifier for e in results}) > 1:  # type: ignore[union-attr]
        return False
    return _all_equal((e.parameters for e in results), names, except_params)


def equal_result_kinds(dsv: Selectable) -> bool:
    """Whether all results of the view are of the same kind (class)."""
    return len({e.kind for e in _results(dsv)}) <= 1  # type: ignore[union-attr]


def equal_recording_parameters(dsv: Selectable, names: Iterable[str] | None = None,
                               except_params: Iterable[str] = ()) -> bool:
    """Whether all recordings of the view have the same values of ``names``.

    Without ``names``, every parameter that did not come from the file's own root
    attributes (the user's and the application's) is compared.
    """
    recs = _recordings(dsv)
    if names is None:
        dicts = [{k: v for k, v in e.parameters.items() if k not in set(e.summary.get("root_keys", ()))}  # type: ignore[union-attr]
                 for e in recs]
        return _all_equal(dicts, None, except_params)
    return _all_equal((e.parameters for e in recs), list(names), except_params)


def equal_stimulation(dsv: Selectable, except_params: Iterable[str] = ()) -> bool:
    """Whether all recordings of the view share their stimulation parameters (except some)."""
    stims = [dict(e.parameters.get("stimulation") or {}) for e in _recordings(dsv)]  # type: ignore[union-attr]
    return _all_equal(stims, None, except_params)
