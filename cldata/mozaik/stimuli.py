"""Stimuli the mozaik way, from a cldata catalog: what a recording or result was a response to.

In mozaik every segment is one sheet's response to one stimulus, a parametrised object whose
``name`` is its class (``FullfieldDriftingSinusoidalGrating``) and whose other parameters say
how it was shown. In a CL recording the "stimulus" is the stimulation design: the recording's
``stimulation`` parameters (what ``st_<name>`` reaches in queries). So here:

- the stimulus of a recording is the dict of its ``stimulation`` parameters (``{}`` when it
  has none), flattened to dotted keys;
- its type is the value of ``name`` in it (``st_name``), ``None`` when absent;
- the stimulus of an analysis result is its own ``stimulation`` parameter when it has one,
  else the stimulus of the recording(s) it came from when they agree (mozaik's
  ``stimulus_id``), else ``None``.

These functions read only the catalog (no file is opened).

Examples
--------
>>> stimulus_of({"stimulation": {"name": "PulseTrain", "amplitude_uA": 1.5}})
{'amplitude_uA': 1.5, 'name': 'PulseTrain'}
>>> stimulus_type({"name": "PulseTrain"})
'PulseTrain'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cldata.core.canonical import canonical, flatten
from cldata.query.selection import Selectable

__all__ = ["stimulus_of", "stimulus_type", "recording_stimuli", "result_stimuli", "same_values", "stimulus_key"]


def stimulus_of(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The stimulus in a parameter dict: its ``stimulation`` parameters, flattened and sorted."""
    stim = parameters.get("stimulation")
    if not isinstance(stim, Mapping):
        return {}
    return dict(sorted(flatten(stim).items()))


def stimulus_type(stimulus: Mapping[str, Any] | None) -> Any:
    """The type of a stimulus (mozaik's ``name``): its ``name`` value, ``None`` if it has none."""
    return None if stimulus is None else stimulus.get("name")


def stimulus_key(stimulus: Mapping[str, Any] | None) -> Any:
    """A hashable, order-free form of a stimulus (what ``str(stimulus)`` is in mozaik)."""
    return None if stimulus is None else canonical(dict(stimulus))


def recording_stimuli(dsv: Selectable) -> list[dict[str, Any]]:
    """The stimulus of every recording of the view, in the view's order."""
    return [stimulus_of(entry.parameters) for _, entry in dsv.selection.recording_entries(dsv.catalog)]


def result_stimuli(dsv: Selectable) -> list[dict[str, Any] | None]:
    """The stimulus of every analysis result of the view (``None``: none known), in the view's order."""
    cat = dsv.catalog
    out: list[dict[str, Any] | None] = []
    for entry in dsv.selection.result_entries(cat).values():
        if isinstance(entry.parameters.get("stimulation"), Mapping):
            out.append(stimulus_of(entry.parameters))
            continue
        found = [stimulus_of(cat.recordings[cat.recording_rows[s]].parameters)  # type: ignore[union-attr]
                 for s in entry.sources if s in cat.recording_rows and cat.recordings[cat.recording_rows[s]]]
        keys = {stimulus_key(f) for f in found}
        out.append(found[0] if len(keys) == 1 and found[0] else None)
    return out


def same_values(dicts: list[Mapping[str, Any]], params: list[str] | None = None,
                except_params: list[str] | None = None) -> bool:
    """Whether the dicts agree on ``params`` (or on every key but ``except_params``; or on all keys).

    A key one dict lacks counts as ``None`` there (mozaik would raise; see docs/mozaik.md).
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
