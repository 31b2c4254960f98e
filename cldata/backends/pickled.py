"""The ``pickle`` backend: mozaik-style pickled catalog and payloads, loaded safely.

Catalog segments are pickled lists of records and payloads pickled dicts of neo objects,
quantities and arrays, as mozaik pickles its datastore. Loading goes through a restricted
unpickler (:mod:`cldata.restricted_pickle`) that only builds builtin containers and
scalars, numpy arrays, quantities and the neo data objects; a pickle naming anything else
raises :class:`~cldata.errors.UnsafeContentError` and runs nothing.

Examples
--------
>>> store = cldata.open("mozaik-like-store", backend="pickle", mode="a")  # doctest: +SKIP
"""

from __future__ import annotations

import copyreg
import pickle
from pathlib import Path
from typing import Any, ClassVar

import neo
import numpy as np
import quantities as pq
from neo.core import analogsignal, dataobject, epoch, event, irregularlysampledsignal, spiketrain
from quantities import dimensionality, quantity, unitquantity

from cldata.backends.base import SegmentedBackend
from cldata.errors import StoreFormatError, UnsafeContentError
from cldata.restricted_pickle import ATTRIBUTE_ALLOWLIST, AllowList, NDArrayType, check_tiny_shape, safe_loads

__all__ = ["PickleBackend", "PICKLE_ALLOWLIST"]


def _object_reconstructor(cls: Any, base: Any, state: Any) -> Any:
    # copyreg rebuilds plain objects as base.__new__(cls, state): for object, dict and list
    # that is harmless; for other bases (an ndarray...) the state could allocate any size
    if base not in (object, dict, list):
        raise UnsafeContentError(f"the pickle rebuilds {getattr(cls, '__name__', cls)!r} on base "
                                 f"{getattr(base, '__name__', base)!r}; only plain objects, dicts and lists are allowed")
    return copyreg._reconstructor(cls, base, state)


def _bounded_quantity(subtype: Any, baseclass: Any, baseshape: Any, basetype: Any) -> Any:
    # as numpy's _reconstruct: the real data arrive afterwards, the shape here only allocates
    check_tiny_shape(baseshape)
    if subtype is not pq.Quantity or baseclass not in (np.ndarray, NDArrayType):
        raise UnsafeContentError("the pickle reconstructs a quantity of an unexpected class; refused")
    return quantity._reconstruct_quantity(pq.Quantity, np.ndarray, baseshape, basetype)


def _existing_unit(name: Any, *rest: Any) -> Any:
    # a pickled unit is looked up, never created: creating one would register a unit name
    # for the whole process
    unit = getattr(pq.units, name, None) if isinstance(name, str) and name.isidentifier() else None
    if not isinstance(unit, unitquantity.UnitQuantity):
        try:
            unit = pq.unit_registry[name] if isinstance(name, str) and name.isidentifier() else None
        except LookupError:
            unit = None
    if not isinstance(unit, unitquantity.UnitQuantity):
        raise UnsafeContentError(f"the pickle names the unit {name!r:.40}, which quantities does not define")
    return unit


def _pickle_entries() -> dict[tuple[str, str], Any]:
    entries: dict[tuple[str, str], Any] = {
        ("copyreg", "_reconstructor"): _object_reconstructor,
        ("copy_reg", "_reconstructor"): _object_reconstructor,
        ("quantities.quantity", "Quantity"): pq.Quantity,
        ("quantities.quantity", "_reconstruct_quantity"): _bounded_quantity,
        ("quantities.dimensionality", "Dimensionality"): dimensionality.Dimensionality,
        ("neo.core.dataobject", "ArrayDict"): dataobject.ArrayDict,
        ("neo.core.dataobject", "_normalize_array_annotations"): dataobject._normalize_array_annotations,
        ("neo.core.analogsignal", "AnalogSignal"): neo.AnalogSignal,
        ("neo.core.analogsignal", "_new_AnalogSignalArray"): analogsignal._new_AnalogSignalArray,
        ("neo.core.irregularlysampledsignal", "IrregularlySampledSignal"): neo.IrregularlySampledSignal,
        ("neo.core.irregularlysampledsignal", "_new_IrregularlySampledSignal"):
            irregularlysampledsignal._new_IrregularlySampledSignal,
        ("neo.core.spiketrain", "SpikeTrain"): neo.SpikeTrain,
        ("neo.core.spiketrain", "_new_spiketrain"): spiketrain._new_spiketrain,
        ("neo.core.event", "Event"): neo.Event,
        ("neo.core.event", "_new_event"): event._new_event,
        ("neo.core.epoch", "Epoch"): neo.Epoch,
        ("neo.core.epoch", "_new_epoch"): epoch._new_epoch,
    }
    for name in dir(unitquantity):
        obj = getattr(unitquantity, name)
        if isinstance(obj, type) and issubclass(obj, unitquantity.UnitQuantity):
            entries[("quantities.unitquantity", name)] = _existing_unit
    return entries


PICKLE_ALLOWLIST: AllowList = ATTRIBUTE_ALLOWLIST.extended(_pickle_entries())
"""What the pickle backend loads: the attribute allow-list plus quantities and neo data objects."""


class PickleBackend(SegmentedBackend):
    """Pickled catalog segments and payloads behind a restricted unpickler (see module doc)."""

    name: ClassVar[str] = "pickle"
    segment_suffix: ClassVar[str] = ".pickle"
    payload_suffix: ClassVar[str] = ".pickles"

    def write_segment(self, path: Path, records: list[dict[str, Any]]) -> None:
        with open(path, "xb") as f:  # a new file: O_EXCL refuses anything planted at its name, links included
            pickle.dump(records, f, protocol=pickle.HIGHEST_PROTOCOL)

    def read_segment(self, path: Path) -> list[dict[str, Any]]:
        try:
            value = safe_loads(path.read_bytes(), PICKLE_ALLOWLIST, source=str(path))
        except UnsafeContentError:
            raise
        except Exception as exc:
            raise StoreFormatError(f"catalog segment {path} is damaged: {exc}") from None
        if not isinstance(value, list):
            raise StoreFormatError(f"catalog segment {path} is not a list of records")
        return value

    def encode_payload(self, payload: dict[str, Any]) -> bytes:
        return pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)

    def decode_payload(self, data: bytes) -> dict[str, Any]:
        try:
            value = safe_loads(data, PICKLE_ALLOWLIST, source="a stored payload")
        except UnsafeContentError:
            raise
        except Exception as exc:
            raise StoreFormatError(f"a stored payload is damaged: {exc}") from None
        if not isinstance(value, dict):
            raise StoreFormatError("a stored payload is not a dict of fields")
        return value
