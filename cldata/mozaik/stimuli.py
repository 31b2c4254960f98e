"""Stimuli the mozaik way: one stimulus per recording and per analysis result, as flat dicts.

In mozaik every segment is one sheet's response to one stimulus, a parametrised object whose
``name`` is its class and whose other parameters say how it was shown; an analysis data
structure names one stimulus (``stimulus_id``) or none. cldata's stimulus model
(:mod:`cldata.query.stimuli`) says what a CL recording's stimulus is: its ``stimulation``
parameters with ``st_<name>`` parameters folded in, typed by ``type`` or ``name``. This
module gives it the shape mozaik's queries compare:

- a stimulus as a **flat** dict (dotted paths for nested stimulation parameters), so that a
  partition over ``"pulse.amplitude"`` works as over ``"amplitude"``;
- an analysis result's **one** stimulus: its own, or the one its source recordings share;
  ``None`` when it has none or its sources' differ (mozaik's ``stimulus_id=None``).

These functions read only the catalog (no file is opened).

Examples
--------
>>> flat_stimulus({"stimulation": {"name": "PulseTrain", "pulse": {"amplitude_uA": 1.5}}})
{'name': 'PulseTrain', 'pulse.amplitude_uA': 1.5}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cldata.core.canonical import canonical, flatten
from cldata.query import stimuli as cldata_stimuli
from cldata.query.selection import Selectable

__all__ = ["flat_stimulus", "recording_stimuli", "result_stimulus", "result_stimuli", "same_values",
           "stimulus_type", "TYPE_KEYS"]

#: the keys of a stimulus that name its type (mozaik's ``name``): left out by ``equal_stimulus``
TYPE_KEYS = cldata_stimuli.TYPE_KEYS
stimulus_type = cldata_stimuli.stimulus_type


def flat_stimulus(source: Any) -> dict[str, Any]:
    """The stimulus of a recording (entry, handle or parameter dict), flattened to dotted keys."""
    return dict(sorted(flatten(cldata_stimuli.recording_stimulus(source)).items()))


def recording_stimuli(dsv: Selectable) -> list[dict[str, Any]]:
    """The flat stimulus of every recording of the view, in the view's order."""
    return [flat_stimulus(entry) for _, entry in dsv.selection.recording_entries(dsv.catalog)]


def result_stimulus(dsv: Selectable, entry: Any) -> dict[str, Any] | None:
    """A result's one stimulus, flat: its own, or its sources' when they share one; else ``None``."""
    found = cldata_stimuli.result_stimuli(dsv.catalog, entry)
    keys = {cldata_stimuli.stimulus_key(s) for s in found}
    return dict(sorted(flatten(found[0]).items())) if len(keys) == 1 else None


def result_stimuli(dsv: Selectable) -> list[dict[str, Any] | None]:
    """The stimulus of every analysis result of the view (``None``: none), in the view's order."""
    return [result_stimulus(dsv, e) for e in dsv.selection.result_entries(dsv.catalog).values()]


def same_values(dicts: list[Mapping[str, Any]], params: list[str] | None = None,
                except_params: list[str] | None = None) -> bool:
    """Whether the dicts agree on ``params`` (or on every key but ``except_params``; or on all keys).

    A key one dict lacks counts as ``None`` there (mozaik raises for objects with different
    parameters; see docs/mozaik.md). Values compare as cldata compares parameters.

    Examples
    --------
    >>> same_values([{"a": 1, "b": 2}, {"a": 1.0, "b": 3}], except_params=["b"])
    True
    """
    if not dicts:
        return True
    if params is None:
        keys: set[str] = set()
        for d in dicts:
            keys.update(d)
        names = sorted(keys - set(except_params or ()))
    else:
        names = list(params)
    first = [canonical(dicts[0].get(k)) for k in names]
    return all([canonical(d.get(k)) for k in names] == first for d in dicts[1:])
