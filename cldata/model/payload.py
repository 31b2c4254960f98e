"""Analysis payloads as plain data: neo objects and quantities in a codec-friendly form.

The HDF5 backend stores payloads with the entry codec (msgpack with numpy and quantities,
no pickle). neo objects are not msgpack values, so :func:`to_plain_payload` turns them
into tagged dicts of arrays and quantities, and :func:`from_plain_payload` rebuilds them.
The tag is the key ``"__cldata__"``; only the neo types listed here are rebuilt, so a
payload can never name an arbitrary class.

Examples
--------
>>> import neo, quantities as pq, numpy as np
>>> sig = neo.AnalogSignal(np.zeros((10, 2)), units="uV", sampling_rate=1 * pq.kHz)
>>> back = from_plain_payload(to_plain_payload({"lfp": sig}))["lfp"]
>>> back.shape, back.sampling_rate
((10, 2), array(1.) * kHz)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import neo
import numpy as np
import quantities as pq

from cldata.errors import DecodeError, UnsupportedValueError

__all__ = ["to_plain_payload", "from_plain_payload", "TAG"]

TAG = "__cldata__"


def _annotations(obj: Any) -> dict[str, Any]:
    return {str(k): to_plain_payload(v) for k, v in (obj.annotations or {}).items()}


def _array_annotations(obj: Any) -> dict[str, Any]:
    return {str(k): np.asarray(v) for k, v in (getattr(obj, "array_annotations", None) or {}).items()}


def _tagged(tag: str, value: Any, **fields: Any) -> dict[str, Any]:
    # every neo object keeps its name and annotations beside its own fields
    return {TAG: tag, **fields, "name": value.name, "annotations": _annotations(value),
            "array_annotations": _array_annotations(value)}


def to_plain_payload(value: Any) -> Any:
    """Turn neo objects (anywhere inside dicts and lists) into tagged plain dicts.

    Raises
    ------
    cldata.errors.UnsupportedValueError
        For a neo object of a type cldata does not store (Block, Segment, Group, ...).
    """
    if isinstance(value, neo.AnalogSignal):
        return _tagged("neo.AnalogSignal", value, signal=pq.Quantity(value.magnitude, value.units),
                       sampling_rate=value.sampling_rate, t_start=value.t_start)
    if isinstance(value, neo.IrregularlySampledSignal):
        return _tagged("neo.IrregularlySampledSignal", value, times=value.times,
                       signal=pq.Quantity(value.magnitude, value.units))
    if isinstance(value, neo.SpikeTrain):
        return _tagged("neo.SpikeTrain", value, times=pq.Quantity(value.magnitude, value.units),
                       t_start=value.t_start, t_stop=value.t_stop, waveforms=value.waveforms,
                       sampling_rate=value.sampling_rate, left_sweep=value.left_sweep)
    if isinstance(value, neo.Event):
        return _tagged("neo.Event", value, times=value.times, labels=[str(x) for x in value.labels])
    if isinstance(value, neo.Epoch):
        return _tagged("neo.Epoch", value, times=value.times, durations=value.durations,
                       labels=[str(x) for x in value.labels])
    if isinstance(value, neo.core.baseneo.BaseNeo):
        raise UnsupportedValueError(
            f"cannot store a neo.{type(value).__name__} as a payload; store its signals, "
            "spike trains or events (a list of them is fine)"
        )
    if isinstance(value, Mapping):
        return {k: to_plain_payload(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain_payload(v) for v in value]
    return value


def _q(value: Any, what: str) -> pq.Quantity:
    if not isinstance(value, pq.Quantity):
        raise DecodeError(f"stored {what} has no units")
    return value


_BUILDERS = {
    "neo.AnalogSignal": lambda d: neo.AnalogSignal(
        _q(d["signal"], "signal"), sampling_rate=_q(d["sampling_rate"], "sampling_rate"),
        t_start=_q(d["t_start"], "t_start"), name=d.get("name"),
        array_annotations=d.get("array_annotations") or None, **(d.get("annotations") or {}),
    ),
    "neo.IrregularlySampledSignal": lambda d: neo.IrregularlySampledSignal(
        _q(d["times"], "times"), _q(d["signal"], "signal"), name=d.get("name"),
        array_annotations=d.get("array_annotations") or None, **(d.get("annotations") or {}),
    ),
    "neo.SpikeTrain": lambda d: neo.SpikeTrain(
        _q(d["times"], "times"), t_stop=_q(d["t_stop"], "t_stop"), t_start=_q(d["t_start"], "t_start"),
        waveforms=d.get("waveforms"), sampling_rate=d.get("sampling_rate"), left_sweep=d.get("left_sweep"),
        name=d.get("name"), array_annotations=d.get("array_annotations") or None, **(d.get("annotations") or {}),
    ),
    "neo.Event": lambda d: neo.Event(
        _q(d["times"], "times"), labels=np.array(d.get("labels") or [], dtype="U"), name=d.get("name"),
        array_annotations=d.get("array_annotations") or None, **(d.get("annotations") or {}),
    ),
    "neo.Epoch": lambda d: neo.Epoch(
        _q(d["times"], "times"), durations=_q(d["durations"], "durations"),
        labels=np.array(d.get("labels") or [], dtype="U"), name=d.get("name"),
        array_annotations=d.get("array_annotations") or None, **(d.get("annotations") or {}),
    ),
}


def from_plain_payload(value: Any) -> Any:
    """Inverse of :func:`to_plain_payload`.

    Raises
    ------
    cldata.errors.DecodeError
        For a tagged dict naming a type that is not on the list, or malformed fields.
    """
    if isinstance(value, dict):
        tag = value.get(TAG)
        if tag is not None:
            builder = _BUILDERS.get(tag)
            if builder is None:
                raise DecodeError(f"payload names type {tag!r}, which cldata does not rebuild")
            fields = {k: from_plain_payload(v) for k, v in value.items() if k != TAG}
            try:
                return builder(fields)
            except DecodeError:
                raise
            except Exception as exc:
                raise DecodeError(f"malformed stored {tag}: {exc}") from None
        return {k: from_plain_payload(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_plain_payload(v) for v in value]
    return value
