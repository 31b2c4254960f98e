"""The result kind of the CL analysis toolkit: a toolkit result object, stored without pickle.

The model: a :class:`CLToolkitResult` wraps one result of :mod:`cldata.toolkit` (an
``AnalysisResult*`` dataclass such as ``AnalysisResultCriticality``) as a cldata analysis result,
so the parametrised analyses of :mod:`cldata.analysis.cl_toolkit` store what the drop-in
``rec.analyse_*`` methods return. Its payload is plain data that both backends keep exactly —
the toolkit class's name (``result_class``) and its fields (``result_fields``): numpy arrays as
arrays (dtype and shape kept), dicts with their int or tuple keys, :class:`Bursts` as
``{"start_frame", "end_frame"}`` objects, the metadata as a dict, numbers as Python numbers, and
long ragged lists (one array per avalanche, one ISI list per channel) packed as one array of
values and one of lengths (``packed_fields`` names them: see :func:`toolkit_payload`). No
object is pickled: reading it back looks the class name up in a fixed table of the toolkit's
result classes (:data:`TOOLKIT_RESULT_CLASSES`; a payload naming any other class is refused) and
rebuilds the object with the class's own field conversion
(:meth:`~cldata.toolkit.results.ToolkitResult.from_json_dict`), so the same class, fields, dtypes
and shapes come back. :attr:`CLToolkitResult.result` is that object.

The catalog keeps a summary — ``result_class`` and every scalar field of the result (int,
float or bool: a criticality's ``branching_ratio`` and ``deviation_from_criticality_coefficient``,
firing statistics' ``culture_mean_firing_rates``, ...) — so a query can show or tabulate them
across recordings without reading a payload.

Examples
--------
>>> stored = store.filter(analysis="CLCriticality").analysis_results[0]     # doctest: +SKIP
>>> stored.summary_hint["branching_ratio"]         # from the catalog, no payload read  # doctest: +SKIP
0.97
>>> stored.result.avalanche_durations               # the toolkit object, rebuilt  # doctest: +SKIP
array([1, 3, 1, ...])
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from cldata.errors import StoreFormatError, UnsupportedValueError
from cldata.model.results.base import AnalysisResult
from cldata.toolkit.results import ToolkitResult, plain_data

__all__ = ["CLToolkitResult", "TOOLKIT_RESULT_CLASSES", "toolkit_payload", "toolkit_scalars"]

#: every toolkit result class a stored payload may name: class name -> module (imported on first
#: use: some load scipy or networkx, which reading a store must not pay for until it needs them)
TOOLKIT_RESULT_CLASSES: dict[str, str] = {
    "AnalysisResultFiringStats": "cldata.toolkit.firing",
    "AnalysisResultNetworkBursts": "cldata.toolkit.network_bursts",
    "AnalysisResultCriticality": "cldata.toolkit.criticality.result",
    "AnalysisResultInformationEntropy": "cldata.toolkit.entropy",
    "AnalysisResultComplexityLempelZiv": "cldata.toolkit.lempel_ziv",
    "AnalysisResultDctFeatures": "cldata.toolkit.dct",
    "AnalysisResultSpikeTriggeredHistogram": "cldata.toolkit.spike_triggered",
    "AnalysisResultsFunctionalConnectivity": "cldata.toolkit.connectivity",
}


def toolkit_class(name: str) -> type[ToolkitResult]:
    """The toolkit result class called ``name`` (only those of :data:`TOOLKIT_RESULT_CLASSES`).

    Raises
    ------
    cldata.errors.UnsupportedValueError
        For any other name.

    Examples
    --------
    >>> toolkit_class("AnalysisResultDctFeatures").__name__
    'AnalysisResultDctFeatures'
    """
    module = TOOLKIT_RESULT_CLASSES.get(name) if isinstance(name, str) else None
    if module is None:
        raise UnsupportedValueError(f"{name!r} is not a result class of the CL toolkit "
                                    f"(known: {', '.join(sorted(TOOLKIT_RESULT_CLASSES))})")
    # why a dynamic import: the module comes from the fixed table above, never from file content,
    # and loading it only when such a result is read keeps scipy/networkx out of `import cldata`
    return getattr(importlib.import_module(module), name)


def _plain(value: Any) -> Any:
    """A field value as data both backends store exactly (arrays kept, copied; keys kept)."""
    return plain_data(value, for_json=False)


def _pack(value: Any) -> tuple[str, dict[str, np.ndarray]] | None:
    """A list of 1-D arrays of one dtype, or of lists of floats, as one array and the lengths (or None)."""
    if not isinstance(value, list) or not value:
        return None
    if all(isinstance(v, np.ndarray) and v.ndim == 1 for v in value) and len({v.dtype for v in value}) == 1:
        how, flat = "arrays", np.concatenate(value)
    elif (all(isinstance(v, list) for v in value) and any(value)
          and all(isinstance(x, float) for v in value for x in v)):
        how, flat = "float_lists", np.fromiter((x for v in value for x in v), dtype=np.float64)
    else:
        return None
    return how, {"values": flat, "lengths": np.fromiter((len(v) for v in value), dtype=np.int64, count=len(value))}


def _unpack(how: Any, packed: Any) -> list[Any]:
    """The list :func:`_pack` packed (``ValueError`` if the stored parts do not fit together)."""
    if how not in PACKINGS or not isinstance(packed, Mapping):
        raise ValueError(f"unknown packing {how!r}")
    values, lengths = np.asarray(packed.get("values")), np.asarray(packed.get("lengths"))
    if (values.ndim != 1 or lengths.ndim != 1 or lengths.dtype.kind not in "iu" or (lengths < 0).any()
            or int(lengths.sum()) != values.size):
        raise ValueError("packed lengths do not add up to the packed values")
    parts = np.split(values, np.cumsum(lengths)[:-1]) if lengths.size else []
    return parts if how == "arrays" else [part.tolist() for part in parts]


#: how a packed field was packed: a list of arrays, or a list of lists of floats
PACKINGS = ("arrays", "float_lists")


def toolkit_payload(result: ToolkitResult) -> dict[str, Any]:
    """A toolkit result as the plain payload of a :class:`CLToolkitResult` (see the module doc).

    ``result_fields`` holds every field by name; a long ragged list (a criticality's
    ``avalanche_spike_counts_per_bin``, firing statistics' ``channel_ISI``) is packed as one
    array of values plus one of lengths, named in ``packed_fields``: one array instead of thousands
    of small ones is what keeps storing a 10-minute recording's results fast.

    Examples
    --------
    >>> toolkit_payload(result)["result_fields"]["bin_size_sec"]      # doctest: +SKIP
    0.01
    """
    fields: dict[str, Any] = {}
    packed: dict[str, str] = {}
    for f in dataclasses.fields(result):
        value = _plain(getattr(result, f.name))
        pack = _pack(value)
        if pack is not None:
            packed[f.name], value = pack
        fields[f.name] = value
    return {"result_class": type(result).__name__, "result_fields": fields, "packed_fields": packed}


def toolkit_scalars(result: ToolkitResult) -> dict[str, Any]:
    """The int, float and bool fields of a toolkit result (metadata aside), as Python values.

    Examples
    --------
    >>> toolkit_scalars(criticality_result)["branching_ratio"]    # doctest: +SKIP
    0.97
    """
    out: dict[str, Any] = {}
    for f in dataclasses.fields(result):
        value = getattr(result, f.name)
        if isinstance(value, (bool, int, float, np.bool_, np.integer, np.floating)):
            out[f.name] = value.item() if isinstance(value, np.generic) else value
    return out


class CLToolkitResult(AnalysisResult):
    """A result of the CL analysis toolkit (see the module doc): ``.result`` is the toolkit object.

    Parameters
    ----------
    identifier
        What was computed (the toolkit method's name without ``analyse_``, e.g. ``"criticality"``).
    result
        The toolkit result (an ``AnalysisResult*`` object of :mod:`cldata.toolkit`).
    **kw
        ``parameters``, ``sources``, ``tags`` as every result takes them.

    Examples
    --------
    >>> r = CLToolkitResult("dct_features", rec.analyse_dct_features(2), sources=[rec.id])  # doctest: +SKIP
    >>> r.summary()["k"]                                                                    # doctest: +SKIP
    2
    >>> r.result.dct_features["dct00_firing"]                                              # doctest: +SKIP
    362.0
    """

    fields = ("result_class", "result_fields", "packed_fields")
    #: the toolkit object: the one given, or rebuilt from the payload on first use
    _result: ToolkitResult | None = None

    def __init__(self, identifier: str, result: ToolkitResult | None = None, **kw: Any):
        if set(kw) & set(self.fields):  # the payload as stored, given directly
            super().__init__(identifier, **kw)
            return
        if not isinstance(result, ToolkitResult) or type(result).__name__ not in TOOLKIT_RESULT_CLASSES:
            raise UnsupportedValueError(
                f"CLToolkitResult holds a result of the CL toolkit (an AnalysisResult* object of cldata.toolkit), "
                f"not {type(result).__name__}")
        super().__init__(identifier, **toolkit_payload(result), **kw)
        self._result = result

    def __getstate__(self) -> dict[str, Any]:
        # sent between processes (a batch worker to the runner) as its payload only, not twice
        state = dict(self.__dict__)
        state.pop("_result", None)
        return state

    def _validate(self, data: dict[str, Any]) -> dict[str, Any]:
        data = super()._validate(data)
        toolkit_class(data["result_class"])  # a known class, or refused
        packed = data["packed_fields"]
        if not isinstance(data["result_fields"], Mapping) or not isinstance(packed, Mapping):
            raise UnsupportedValueError("result_fields and packed_fields are dicts (the toolkit result's fields, "
                                        "and how the packed ones were packed)")
        unknown = {how for how in packed.values() if how not in PACKINGS}
        if unknown:
            raise UnsupportedValueError(f"unknown packing(s) {sorted(map(str, unknown))}; known: {list(PACKINGS)}")
        return data

    @property
    def result(self) -> ToolkitResult:
        """The toolkit result object (its class, fields, dtypes and shapes as computed).

        Raises
        ------
        cldata.errors.StoreFormatError
            If a stored payload does not make a result of its class.
        """
        if self._result is None:
            payload = self.payload()
            cls = toolkit_class(payload["result_class"])
            try:
                fields = dict(payload["result_fields"])
                for name, how in payload["packed_fields"].items():
                    fields[name] = _unpack(how, fields.get(name))
                self._result = cls.from_json_dict(fields)
            except (TypeError, ValueError) as exc:
                raise StoreFormatError(f"the stored {payload['result_class']} of result {self.identifier!r} "
                                       f"({self.id}) cannot be rebuilt: {exc}") from None
        return self._result

    def summary(self) -> dict[str, Any]:
        """``result_class`` and the result's scalar fields (kept in the catalog).

        Read from the payload, where they are Python numbers already, so a result sent from a
        batch worker is not rebuilt by the runner to be stored.
        """
        payload = self.payload()
        scalars = {name: value for name, value in payload["result_fields"].items()
                   if type(value) in (bool, int, float) and name not in payload["packed_fields"]}
        return {"result_class": payload["result_class"], **scalars}

    def _value_text(self) -> str:
        name = self._known_summary().get("result_class")
        return f": {name}" if name else ""

    def plot(self, *args: Any, **kwargs: Any) -> Any:
        """The toolkit result's own ``plot`` (same arguments), for the classes that have one.

        Raises
        ------
        cldata.errors.UnsupportedValueError
            For a result class without ``plot`` (the message names its ``plot_*`` methods, as
            criticality's, if it has some).

        Examples
        --------
        >>> store.filter(analysis="CLDctFeatures").analysis_results[0].plot(save_path="dct.png")  # doctest: +SKIP
        """
        draw = getattr(self.result, "plot", None)
        if draw is None:
            others = sorted(n for n in dir(self.result) if n.startswith("plot_"))
            hint = (f"its plots are methods of .result: {', '.join(others)}" if others
                    else f"draw {self.identifier!r} from the fields of .result with matplotlib")
            raise UnsupportedValueError(f"{self.payload()['result_class']} has no plot(); {hint}")
        return draw(*args, **kwargs)
