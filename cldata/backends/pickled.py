"""The ``pickle`` backend: mozaik-style pickled catalog and payloads, loaded safely.

Catalog segments are pickled lists of records and payloads pickled dicts of neo objects,
quantities and arrays, as mozaik pickles its datastore. Loading goes through a restricted
unpickler (:mod:`cldata.core.safe_pickle`) that only builds builtin containers and
scalars, numpy arrays, quantities and the neo data objects; a pickle naming anything else
raises :class:`~cldata.errors.UnsafeContentError` and runs nothing, and one that would
build more than its limits allow (an allocation bomb) raises
:class:`~cldata.errors.ContentLimitError`, a subclass.

The entries here extend the attribute allow-list under the same rules: classes are values a
pickle may pass but not call (the neo helpers get the neo class as an argument), a
quantity starts private (its state is checked once, as an array's), Dimensionality is a
sealed private class (pickled with ``NEWOBJ``), units are looked up and never changed, and
the neo helpers take arrays where arrays belong and numeric dtypes only.

Examples
--------
>>> store = cldata.open("mozaik-like-store", backend="pickle", mode="a")  # doctest: +SKIP
"""

from __future__ import annotations

import copyreg
import inspect
import pickle
from pathlib import Path
from typing import Any, ClassVar

import neo
import numpy as np
import quantities as pq
from neo.core import analogsignal, dataobject, epoch, event, irregularlysampledsignal, spiketrain
from quantities import dimensionality, quantity, unitquantity

from cldata.backends.segmented import SegmentedBackend
from cldata.core.safe_pickle import (
    ATTRIBUTE_ALLOWLIST,
    AllowList,
    PickleLimits,
    PrivateValue,
    SealedType,
    Wrapped,
    check_tiny_shape,
    current_budget,
    entry,
    register_leaf_type,
    safe_loads,
    value_only,
)
from cldata.errors import ParameterError, StoreFormatError, UnsafeContentError

__all__ = ["PickleBackend", "PICKLE_ALLOWLIST"]

# units are global objects (looked up, never built from the file), not data to walk
register_leaf_type(unitquantity.UnitQuantity)


def _object_reconstructor(cls: Any, base: Any, state: Any) -> Any:
    # copyreg rebuilds plain objects as base.__new__(cls, state): for dict and list
    # subclasses that is harmless; for other bases (an ndarray...) the state could allocate any size
    if base not in (dict, list) or not isinstance(cls, type) or not issubclass(cls, base) \
            or cls not in (dict, list, dataobject.ArrayDict):
        raise current_budget().refuse(
            f"rebuilds {getattr(cls, '__name__', type(cls).__name__)!r:.40} on base "
            f"{getattr(base, '__name__', type(base).__name__)!r:.40}; only neo's ArrayDict, dicts and lists are allowed")
    return copyreg._reconstructor(cls, base, state)


class _PickledQuantity(PrivateValue, pq.Quantity):
    """What quantities' ``_reconstruct_quantity`` gives a pickle: its state may be set once, checked."""

    def __setstate__(self, state: Any) -> None:
        budget = current_budget()
        if type(state) is not tuple or len(state) not in (5, 6):
            raise budget.refuse("sets a quantity's state to something else than an array state and units")
        units = budget.walk(state[-1])
        if not isinstance(units, dimensionality.Dimensionality):
            raise budget.refuse("sets a quantity's units to something else than a Dimensionality")
        np.ndarray.__setstate__(self, budget.array_state(self, state[:-1]))
        self._dimensionality = units

    def publish(self) -> pq.Quantity:
        return self.view(pq.Quantity)


def _bounded_quantity(subtype: Any, baseclass: Any, baseshape: Any, basetype: Any) -> Any:
    # as numpy's _reconstruct: the real data arrive with BUILD, the shape here only allocates
    budget = current_budget()
    check_tiny_shape(baseshape)
    if subtype is not pq.Quantity or baseclass is not np.ndarray:
        raise budget.refuse("reconstructs a quantity of an unexpected class")
    d = budget.fresh(basetype)
    if d.hasobject:
        raise budget.refuse("reconstructs a quantity of Python objects")
    budget.charge(nbytes=max(d.itemsize, 1))
    return budget.new_private(np.zeros(baseshape, d).view(_PickledQuantity), state_set=False)


class _PickledDimensionality(PrivateValue, dimensionality.Dimensionality, metaclass=SealedType):
    """Dimensionality as a pickle gets it (pickled as ``NEWOBJ`` then its items): built empty,
    its class attributes sealed; the loaded value holds a plain Dimensionality of units."""

    public_type = dimensionality.Dimensionality

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs:
            raise current_budget().refuse("builds a Dimensionality with arguments")
        return super().__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args or kwargs:
            raise current_budget().refuse("builds a Dimensionality with arguments")

    def __setstate__(self, state: Any) -> None:
        if state:
            raise current_budget().refuse("sets the state of a Dimensionality")

    def publish(self) -> dimensionality.Dimensionality:
        for unit, power in self.items():
            if not isinstance(unit, unitquantity.UnitQuantity) or not isinstance(power, (int, float, np.integer, np.floating)):
                raise current_budget().refuse("builds a Dimensionality that is not units with powers")
        return dimensionality.Dimensionality(dict(self))


def _existing_unit(name: Any, *rest: Any) -> Any:
    # a pickled unit is looked up, never created: creating one would register a unit name
    # for the whole process. The pickle BUILDs it next (its format order): ignored, the unit is
    # shared by the whole process
    unit = getattr(pq.units, name, None) if isinstance(name, str) and name.isidentifier() else None
    if not isinstance(unit, unitquantity.UnitQuantity):
        try:
            unit = pq.unit_registry[name] if isinstance(name, str) and name.isidentifier() else None
        except LookupError:
            unit = None
    if not isinstance(unit, unitquantity.UnitQuantity):
        raise UnsafeContentError(f"the pickle names the unit {name if isinstance(name, str) else type(name).__name__!r:.40}, "
                                 "which quantities does not define")
    return Wrapped(unit, ignore_state=True)


def _neo_constructor(func: Any, cls: type, arrays: tuple[str, ...]) -> Any:
    # neo's pickle helpers call the class with these arguments: only with arrays where arrays
    # belong (a list of strings would become an array padded to its longest string), a numeric
    # dtype (a cast to a wide string dtype multiplies the size), and plain annotations
    signature = inspect.signature(func)

    def build(*args: Any) -> Any:
        budget = current_budget()
        try:
            bound = signature.bind(*args).arguments
        except TypeError as exc:
            raise budget.refuse(f"calls {func.__name__} with unexpected arguments ({exc})") from None
        if bound.get("cls") is not cls:
            raise budget.refuse(f"calls {func.__name__} for a class other than {cls.__name__}")
        for name in arrays:
            if bound.get(name) is not None and not isinstance(bound[name], np.ndarray):
                raise budget.refuse(f"calls {func.__name__} with {name} that is not an array")
        dtype = bound.get("dtype")
        if dtype is not None and (not isinstance(dtype, np.dtype) or dtype.kind not in "biuf"):
            raise budget.refuse(f"calls {func.__name__} with a dtype that is not numeric")
        annotations, array_annotations = bound.get("annotations"), bound.get("array_annotations")
        if annotations is not None and not isinstance(annotations, dict):
            raise budget.refuse(f"calls {func.__name__} with annotations that are not a dict")
        if array_annotations is not None and (not isinstance(array_annotations, dict) or not all(
                isinstance(v, np.ndarray) for v in array_annotations.values())):
            raise budget.refuse(f"calls {func.__name__} with array annotations that are not arrays")
        return func(*args)

    return build


def _pickle_entries() -> dict[tuple[str, str], Any]:
    neo_helpers = [
        ("neo.core.analogsignal", "_new_AnalogSignalArray", analogsignal._new_AnalogSignalArray, neo.AnalogSignal,
         ("signal",)),
        ("neo.core.irregularlysampledsignal", "_new_IrregularlySampledSignal",
         irregularlysampledsignal._new_IrregularlySampledSignal, neo.IrregularlySampledSignal, ("times", "signal")),
        ("neo.core.spiketrain", "_new_spiketrain", spiketrain._new_spiketrain, neo.SpikeTrain, ("signal", "waveforms")),
        ("neo.core.event", "_new_event", event._new_event, neo.Event, ("times", "labels")),
        ("neo.core.epoch", "_new_epoch", epoch._new_epoch, neo.Epoch, ("times", "durations", "labels")),
    ]
    entries: dict[tuple[str, str], Any] = {
        ("copyreg", "_reconstructor"): entry("copyreg._reconstructor", copyreg._reconstructor, _object_reconstructor),
        ("copy_reg", "_reconstructor"): entry("copyreg._reconstructor", copyreg._reconstructor, _object_reconstructor),
        ("quantities.quantity", "Quantity"): value_only("quantities.Quantity", pq.Quantity),
        ("quantities.quantity", "_reconstruct_quantity"): entry(
            "quantities.quantity._reconstruct_quantity", quantity._reconstruct_quantity, _bounded_quantity),
        ("quantities.dimensionality", "Dimensionality"): _PickledDimensionality,
        ("neo.core.dataobject", "ArrayDict"): value_only("neo.core.dataobject.ArrayDict", dataobject.ArrayDict),
        ("neo.core.dataobject", "_normalize_array_annotations"): value_only(
            "neo.core.dataobject._normalize_array_annotations", dataobject._normalize_array_annotations),
    }
    for module, name, func, cls, arrays in neo_helpers:
        entries[(module, cls.__name__)] = value_only(f"{module}.{cls.__name__}", cls)
        entries[(module, name)] = entry(f"{module}.{name}", func, _neo_constructor(func, cls, arrays))
    for name in dir(unitquantity):
        obj = getattr(unitquantity, name)
        if isinstance(obj, type) and issubclass(obj, unitquantity.UnitQuantity):
            entries[("quantities.unitquantity", name)] = entry(f"quantities.unitquantity.{name}", obj, _existing_unit,
                                                              wrap_arrays=False)
    return entries


PICKLE_ALLOWLIST: AllowList = ATTRIBUTE_ALLOWLIST.extended(_pickle_entries())
"""What the pickle backend loads: the attribute allow-list plus quantities and neo data objects."""


class PickleBackend(SegmentedBackend):
    """Pickled catalog segments and payloads behind a restricted unpickler (see module doc).

    Parameters
    ----------
    pickle_limits
        How much one segment or payload may build when loaded (a
        :class:`~cldata.core.safe_pickle.PickleLimits`; the defaults unless given). Only code
        can raise them: a parameter file cannot build a ``PickleLimits``.

    Examples
    --------
    >>> from cldata.core.safe_pickle import PickleLimits
    >>> store = cldata.open("big-store", backend="pickle",                  # doctest: +SKIP
    ...                     pickle_limits=PickleLimits(max_bytes=1 << 30))
    """

    name: ClassVar[str] = "pickle"
    segment_suffix: ClassVar[str] = ".pickle"
    payload_suffix: ClassVar[str] = ".pickles"

    def __init__(self, root: Path, *, writable: bool, pickle_limits: PickleLimits | None = None, **options: Any):
        if pickle_limits is not None and not isinstance(pickle_limits, PickleLimits):
            raise ParameterError("the pickle backend's pickle_limits option must be a "
                                 f"cldata.core.safe_pickle.PickleLimits, not {type(pickle_limits).__name__}")
        super().__init__(root, writable=writable, **options)
        self.pickle_limits = pickle_limits

    def write_segment(self, path: Path, records: list[dict[str, Any]]) -> None:
        with open(path, "xb") as f:  # a new file: O_EXCL refuses anything planted at its name, links included
            pickle.dump(records, f, protocol=pickle.HIGHEST_PROTOCOL)

    def read_segment(self, path: Path) -> list[dict[str, Any]]:
        try:
            value = safe_loads(path.read_bytes(), PICKLE_ALLOWLIST, source=str(path), limits=self.pickle_limits)
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
            value = safe_loads(data, PICKLE_ALLOWLIST, source="a stored payload", limits=self.pickle_limits)
        except UnsafeContentError:
            raise
        except Exception as exc:
            raise StoreFormatError(f"a stored payload is damaged: {exc}") from None
        if not isinstance(value, dict):
            raise StoreFormatError("a stored payload is not a dict of fields")
        return value
