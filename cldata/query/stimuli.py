"""Stimuli, the CL way: a recording's stimulus is its stimulation parameters (mozaik's stimulus model).

In mozaik every segment is a sheet's response to a stimulus object, and queries compare
stimuli by their parameters. In CL the "stimulus" is the stimulation design, which a
store keeps as the recording's parameters: a recording's **stimulus** is a plain dict,

- the nested ``stimulation`` dict of its parameters (what ``st_<name>`` queries reach), with
- every top-level ``st_<name>`` parameter folded in as ``<name>`` (the same value under
  both spellings is fine; two different values raise :class:`~cldata.errors.ParameterError`).

A recording without either has the empty stimulus ``{}`` (a spontaneous recording). Two
stimuli are equal when their flattened parameters are equal by value (``1 == 1.0``,
``1.5*pq.s == 1500*pq.ms``, as everywhere in cldata). A stimulus' **type** is its
``"type"`` key, else its ``"name"`` key (mozaik's stimulus class name), else ``None``.

An analysis result's stimuli are its own ``stimulation``/``st_`` parameters if it has any,
else those of its source recordings in the store (the fall-back of parameter queries); a
result with neither has no stimulus.

The view-level functions take a view (a store view or a
:class:`~cldata.query.selection.CatalogView`); store views offer them as methods too.

Examples
--------
>>> recording_stimulus({"culture": "C7", "stimulation": {"frequency": 4}, "st_amplitude": 1.5})
{'frequency': 4, 'amplitude': 1.5}
>>> stimulus_type({"type": "burst", "frequency": 4}), stimulus_type({})
('burst', None)
>>> equal_stimulus(store.filter(culture="C7"), except_params=["amplitude"])   # doctest: +SKIP
True
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from cldata.core.canonical import canonical, flatten
from cldata.errors import ParameterError
from cldata.model.catalog import Catalog
from cldata.model.entries import RecordingEntry, ResultEntry
from cldata.query.selection import Selectable

__all__ = [
    "recording_stimulus",
    "stimulus_type",
    "stimulus_key",
    "get_stimuli",
    "equal_stimulus",
    "equal_stimulus_type",
    "result_stimuli",
    "ads_with_equal_stimuli",
    "ads_with_equal_stimulus_type",
    "identify_unpresented_stimuli",
    "unpresented_stimulus_indexes",
]

#: the keys that name a stimulus' type, in order of preference
TYPE_KEYS = ("type", "name")


def _parameters_of(source: Any) -> Mapping[str, Any]:
    if isinstance(source, Mapping):
        return source
    params = getattr(source, "parameters", None)
    if isinstance(params, Mapping):
        return params
    raise ParameterError(f"a stimulus comes from a recording (entry, handle) or a parameter dict, not {source!r:.80}")


def _stimulus_or_none(params: Mapping[str, Any], what: str) -> dict[str, Any] | None:
    stim = params.get("stimulation")
    if stim is not None and not isinstance(stim, Mapping):
        raise ParameterError(f"{what}'s 'stimulation' parameter is a {type(stim).__name__} ({stim!r:.60}), not a dict "
                             "of stimulation parameters; rename it, or make it a dict")
    folded = {k[3:]: v for k, v in params.items() if isinstance(k, str) and k.startswith("st_") and len(k) > 3}
    if stim is None and not folded:
        return None
    out: dict[str, Any] = copy.deepcopy(dict(stim or {}))
    for name, value in folded.items():
        if name in out and canonical(out[name]) != canonical(value):
            raise ParameterError(f"{what} has stimulation parameter {name!r} twice with different values: "
                                 f"stimulation.{name}={out[name]!r:.40} and st_{name}={value!r:.40}; keep one")
        out.setdefault(name, copy.deepcopy(value))
    return out


def recording_stimulus(entry: RecordingEntry | Any) -> dict[str, Any]:
    """A recording's stimulus: its ``stimulation`` parameters with ``st_<name>`` parameters folded in.

    ``entry`` is a catalog entry, a :class:`~cldata.store.recording.RecordingHandle` or a
    parameter dict. The dict returned is a copy (changing it changes nothing stored).

    Raises
    ------
    cldata.errors.ParameterError
        If ``stimulation`` is not a dict, or a parameter is given under both spellings with
        different values.

    Examples
    --------
    >>> recording_stimulus({"stimulation": {"frequency": 4}, "st_pattern": "burst"})
    {'frequency': 4, 'pattern': 'burst'}
    """
    what = f"recording {getattr(entry, 'id', '')}".rstrip()
    return _stimulus_or_none(_parameters_of(entry), what) or {}


def stimulus_type(stimulus: Mapping[str, Any]) -> str | None:
    """The stimulus' type: its ``"type"`` key, else its ``"name"`` key (as a string), else ``None``.

    Examples
    --------
    >>> stimulus_type({"name": "FullfieldDriftingSinusoidalGrating"})
    'FullfieldDriftingSinusoidalGrating'
    """
    for key in TYPE_KEYS:
        value = stimulus.get(key)
        if value is not None:
            return value if isinstance(value, str) else str(value)
    return None


def _strip(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise ParameterError(f"stimulus parameter names are non-empty strings, not {name!r}")
    for prefix in ("st_", "stimulation."):
        if name.startswith(prefix):
            return name[len(prefix):].replace("__", ".")
    return name.replace("__", ".")


def stimulus_key(stimulus: Mapping[str, Any] | None, except_params: Iterable[str] = ()) -> Any:
    """The canonical, hashable form of a stimulus (leaving out ``except_params`` and everything
    under them): equal stimuli have equal keys. Keys may carry an ``st_`` prefix."""
    if stimulus is None:
        return None
    skip = [_strip(n) for n in except_params]
    flat = flatten({_strip(k): v for k, v in stimulus.items()})
    return tuple(sorted((p, canonical(v)) for p, v in flat.items()
                        if not any(p == s or p.startswith(s + ".") for s in skip)))


def _names(except_params: str | Iterable[str]) -> list[str]:
    return [except_params] if isinstance(except_params, str) else list(except_params)


def get_stimuli(dsv: Selectable) -> list[dict[str, Any]]:
    """The stimulus of every recording of the view, in the view's order (mozaik's ``get_stimuli``).

    Examples
    --------
    >>> get_stimuli(store)                                    # doctest: +SKIP
    [{'frequency': 4}, {'frequency': 8}, {}]
    """
    return [recording_stimulus(e) for _, e in dsv.selection.recording_entries(dsv.catalog)]


def _all_equal(keys: Iterable[Any]) -> bool:
    return len(set(keys)) <= 1


def equal_stimulus(dsv: Selectable, except_params: str | Iterable[str] = ()) -> bool:
    """Whether every recording of the view has the same stimulus, except the parameters named.

    mozaik's ``equal_stimulus`` (which also leaves the stimulus' ``name`` out: pass
    ``except_params=["type", "name"]`` for that). An empty view is trivially equal.
    """
    skip = _names(except_params)
    return _all_equal(stimulus_key(s, skip) for s in get_stimuli(dsv))


def equal_stimulus_type(dsv: Selectable) -> bool:
    """Whether every recording of the view has a stimulus of the same type (:func:`stimulus_type`)."""
    return _all_equal(stimulus_type(s) for s in get_stimuli(dsv))


def result_stimuli(catalog: Catalog, entry: ResultEntry) -> list[dict[str, Any]]:
    """A result's stimuli: its own stimulation parameters if it has any, else those of each of its
    source recordings in the store (``[]``: it has no stimulus)."""
    own = _stimulus_or_none(entry.parameters, f"analysis result {entry.id}")
    if own is not None:
        return [own]
    out = []
    for source in entry.sources:
        row = catalog.recording_rows.get(source)
        rec = catalog.recordings[row] if row is not None else None
        if rec is not None:
            out.append(recording_stimulus(rec))
    return out


def _results_stimuli(dsv: Selectable) -> list[list[dict[str, Any]]]:
    cat = dsv.catalog
    return [result_stimuli(cat, e) for e in dsv.selection.result_entries(cat).values()]


def ads_with_equal_stimuli(dsv: Selectable, except_params: str | Iterable[str] = ()) -> bool:
    """Whether the view's analysis results all come from the same stimulus, except the parameters named
    (mozaik's ``ads_with_equal_stimuli``).

    Every stimulus of every result counts (a result from two recordings with different
    stimuli makes it ``False``); a result without a stimulus counts as one of its own kind
    (``False`` beside results that have one). No results: ``True``.
    """
    skip = _names(except_params)
    keys = [stimulus_key(s, skip) for stims in _results_stimuli(dsv) for s in (stims or [None])]
    return _all_equal(keys)


def ads_with_equal_stimulus_type(dsv: Selectable, allow_none: bool = False) -> bool:
    """Whether the view's analysis results all come from stimuli of the same type
    (mozaik's ``ads_with_equal_stimulus_type``).

    A result without a stimulus makes it ``False``, unless ``allow_none`` (mozaik's
    ``allow_None``), which leaves such results out.
    """
    types = []
    for stims in _results_stimuli(dsv):
        if not stims:
            if not allow_none:
                return False
            continue
        types.extend(stimulus_type(s) for s in stims)
    return _all_equal(types)


def unpresented_stimulus_indexes(dsv: Selectable, stimuli: Iterable[Mapping[str, Any]]) -> list[int]:
    """The indexes in ``stimuli`` of those no recording of the view was given (what mozaik's newest
    ``identify_unpresented_stimuli`` returns)."""
    presented = {stimulus_key(s) for s in get_stimuli(dsv)}
    out = []
    for i, stim in enumerate(stimuli):
        if not isinstance(stim, Mapping):
            raise ParameterError(f"a stimulus is a dict of stimulation parameters, not {stim!r:.80}")
        if stimulus_key(stim) not in presented:
            out.append(i)
    return out


def identify_unpresented_stimuli(dsv: Selectable, stimuli: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Those of ``stimuli`` that no recording of the view was given, in their order.

    Keys may carry an ``st_`` prefix (``{"st_frequency": 4}`` is ``{"frequency": 4}``).

    Raises
    ------
    cldata.errors.ParameterError
        For a stimulus that is not a dict.

    Examples
    --------
    >>> identify_unpresented_stimuli(store, [{"frequency": 4}, {"frequency": 16}])   # doctest: +SKIP
    [{'frequency': 16}]
    """
    stimuli = list(stimuli)
    return [dict(stimuli[i]) for i in unpresented_stimulus_indexes(dsv, stimuli)]
