"""Analysis results: typed objects with an identifier, parameters, sources, tags and a payload.

A result is identified by its ``identifier`` (what was computed, e.g. ``"firing_rate"``),
its ``parameters`` (how: window, bin size, ...) and its ``sources`` (the recording ids it
was computed from). Adding a second result with the same identity to a store raises
:class:`~cldata.errors.DuplicateResultError` unless the store was opened with
``replace=True``. ``tags`` are free labels (``"final"``, ``"reviewed"``) to query by.

Kinds shipped here, each with units through :mod:`quantities`:

- :class:`SingleValue` — one number (``value``), e.g. a mean firing rate;
- :class:`PerChannelValue` — one number per channel (``values``, ``channels``);
- :class:`TimeSeries` — ``values`` sampled at ``times``, e.g. a PSTH or a rate over time;
- :class:`SignalList` — a list of neo signals (AnalogSignal / IrregularlySampledSignal);
- :class:`SpikeTrainList` — a list of neo SpikeTrains;
- :class:`Data` — any value the codec can store (dicts of numbers and arrays, tables).

In a store, results are loaded lazily: the catalog holds identity and metadata, and the
payload is read the first time a data attribute is used. Each data field is a real
attribute (a property: ``dir()`` and tab completion list ``value``, ``values``, ...). A
result's repr shows what it holds (a SingleValue's value, from the catalog without
reading the payload); a notebook shows a table; every kind but :class:`Data` draws itself
with ``.plot(ax=None)`` (matplotlib, the ``plot`` extra), axes labelled with units.

Examples
--------
>>> import quantities as pq
>>> r = SingleValue("mean_rate", 4.2 * pq.Hz, parameters={"window_s": 1.0}, sources=["rec-1"])
>>> r.value, r.tags
(array(4.2) * Hz, ())
>>> r
<SingleValue mean_rate = 4.2 Hz, window_s=1, from rec-1>
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

import neo
import numpy as np
import quantities as pq

from cldata.core.canonical import canonical, digest_canonical, plain
from cldata.core.display import axes, flatten, html_fields, plural, short
from cldata.errors import DecodeError, StoreFormatError, UnsupportedValueError

__all__ = [
    "AnalysisResult",
    "SingleValue",
    "PerChannelValue",
    "TimeSeries",
    "SignalList",
    "SpikeTrainList",
    "Data",
    "register_result_kind",
    "result_kinds",
]

_KINDS: dict[str, type[AnalysisResult]] = {}


def register_result_kind(cls: type[AnalysisResult]) -> type[AnalysisResult]:
    """Class decorator: make a result kind known to stores (by its class name).

    Examples
    --------
    >>> @register_result_kind
    ... class Matrix(Data):
    ...     '''A correlation matrix.'''
    """
    name = cls.__name__
    if name in _KINDS and _KINDS[name] is not cls:
        raise ValueError(f"a result kind named {name!r} is already registered ({_KINDS[name]})")
    _KINDS[name] = cls
    return cls


def result_kinds() -> dict[str, type[AnalysisResult]]:
    """The registered result kinds, by name."""
    return dict(_KINDS)


def result_id_for(key: tuple) -> str:
    """The store id of a result with identity ``key`` (see :attr:`AnalysisResult.key`)."""
    return "res_" + digest_canonical(key)


class AnalysisResult:
    """Base class of analysis results.

    Subclasses declare their data fields in ``fields`` and may check them in
    :meth:`_validate`. The payload stored is the dict of those fields.

    Parameters
    ----------
    identifier
        What was computed (``"firing_rate"``); non-empty string.
    parameters
        How it was computed: a nested dict of plain values and quantities.
    sources
        The recording ids it was computed from.
    tags
        Labels to query by.
    """

    fields: ClassVar[tuple[str, ...]] = ()
    # what the store's catalog knows of the payload (value and units of a SingleValue, sizes),
    # set by the views that hand out stored results: shown by repr without reading the payload
    _summary_hint: dict[str, Any] | None = None

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        # each data field is a real attribute (a property reading the possibly lazy payload),
        # so that dir() and tab completion find ``value``/``values``; a name the base class
        # uses for itself (identifier, parameters, ...) stays the base class's
        for name in cls.__dict__.get("fields", ()):
            if name.isidentifier() and name not in _RESERVED and not hasattr(cls, name):
                setattr(cls, name, _field_property(name))

    def __init__(
        self,
        identifier: str,
        *,
        parameters: Mapping[str, Any] | None = None,
        sources: Sequence[str] | str = (),
        tags: Iterable[str] = (),
        **data: Any,
    ):
        if not isinstance(identifier, str) or not identifier:
            raise UnsupportedValueError(f"a result identifier is a non-empty str, not {identifier!r}")
        self.identifier = identifier
        self.parameters = plain(dict(parameters or {}))
        # computed once (refusing unusable values now, not at commit): parameters are fixed
        # when a result is made
        self._canonical_parameters = canonical(self.parameters)
        if isinstance(sources, str):
            sources = (sources,)
        self.sources: tuple[str, ...] = tuple(str(s) for s in sources)
        tag_list = [tags] if isinstance(tags, str) else list(tags)
        if not all(isinstance(t, str) and t for t in tag_list):
            raise UnsupportedValueError(f"tags are non-empty strings, not {tag_list!r}")
        self.tags: tuple[str, ...] = tuple(sorted(set(tag_list)))
        unknown = set(data) - set(self.fields)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field(s) {sorted(unknown)}; its fields are {list(self.fields)}")
        self._data: dict[str, Any] | None = None
        self._loader: Callable[[], dict[str, Any]] | None = None
        self.id: str | None = None  # set by the store
        if data or not self.fields:
            self._data = self._validate(dict(data))

    # -- identity ----------------------------------------------------------------------------

    @property
    def key(self) -> tuple:
        """The identity of the result: identifier, canonical parameters and sources."""
        if self._canonical_parameters is None:  # (a result read from a store computes it when asked)
            self._canonical_parameters = canonical(self.parameters)
        return (self.identifier, self._canonical_parameters, tuple(sorted(self.sources)))

    @property
    def result_id(self) -> str:
        """A stable id derived from the identity (the id it gets in a store)."""
        return result_id_for(self.key)

    # -- payload -------------------------------------------------------------------------------

    def _validate(self, data: dict[str, Any]) -> dict[str, Any]:
        missing = [f for f in self.fields if f not in data]
        if missing:
            raise TypeError(f"{type(self).__name__} needs the field(s) {missing}")
        return data

    def payload(self) -> dict[str, Any]:
        """The data fields as a dict (loading them from the store if needed)."""
        if self._data is None:
            if self._loader is None:
                raise DecodeError(f"result {self.identifier!r} has no data")
            loaded = self._loader()
            try:
                self._data = self._validate(dict(loaded))
            except (TypeError, ValueError, UnsupportedValueError) as exc:
                raise StoreFormatError(
                    f"the stored payload of {type(self).__name__} {self.identifier!r} ({self.id}) is not one: {exc}"
                ) from None
            self._loader = None
        return self._data

    @property
    def loaded(self) -> bool:
        """Whether the payload is in memory."""
        return self._data is not None

    def __getattr__(self, name: str) -> Any:
        # data fields are properties (see __init_subclass__); a field named like an attribute
        # of the base class, or a property that failed, ends here
        if name in type(self).fields and name not in ("_data", "_loader"):
            return self.payload()[name]
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")

    @classmethod
    def _from_store(
        cls,
        result_id: str,
        identifier: str,
        parameters: dict[str, Any],
        sources: Sequence[str],
        tags: Sequence[str],
        loader: Callable[[], dict[str, Any]],
    ) -> AnalysisResult:
        # the store checked all of this when the result was added: a result read back is made
        # without checking it again (a query may make thousands)
        obj = cls.__new__(cls)
        obj.identifier = identifier
        obj.parameters = parameters
        obj._canonical_parameters = None
        obj.sources = tuple(sources)
        obj.tags = tuple(tags)
        obj._data = None
        obj._loader = loader
        obj.id = result_id
        return obj

    def summary(self) -> dict[str, Any]:
        """Small metadata kept in the catalog (shown without loading the payload)."""
        return {}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AnalysisResult):
            return NotImplemented
        return type(self) is type(other) and self.key == other.key and set(self.tags) == set(other.tags)

    __hash__ = None  # type: ignore[assignment]

    # -- presentation ----------------------------------------------------------------------

    def _known_summary(self) -> dict[str, Any]:
        """The summary, from the payload when it is in memory, else from the store's catalog."""
        if self._data is not None:
            try:
                return self.summary()
            except Exception:  # a summary is for show: never let it break a repr
                return {}
        return dict(self._summary_hint or {})

    def _value_text(self) -> str:
        """What the result holds, briefly (`` = 5.07 Hz``, ``: 64 channels``); '' if unknown."""
        n = self._known_summary().get("n")
        return f": {plural(n, 'item')}" if n is not None else ""

    def __repr__(self) -> str:
        src = ", ".join(self.sources[:3]) + ("..." if len(self.sources) > 3 else "")
        params = "".join(f", {k}={short(v, 40)}" for k, v in flatten(self.parameters).items())
        tags = f", tags {list(self.tags)}" if self.tags else ""
        where = f", from {src}" if src else ""
        return f"<{type(self).__name__} {self.identifier}{self._value_text()}{params}{where}{tags}>"

    def _repr_html_(self) -> str:
        fields: dict[str, Any] = {"kind": type(self).__name__, "identifier": self.identifier}
        try:
            fields.update({name: short(value, 200) for name, value in self.payload().items()})
        except Exception as exc:  # a payload that cannot be read: the table says so
            fields["payload"] = f"cannot be read: {exc}"
        fields.update({f"parameter {k}": short(v) for k, v in flatten(self.parameters).items()})
        fields["sources"] = ", ".join(self.sources)
        if self.tags:
            fields["tags"] = ", ".join(self.tags)
        if self.id:
            fields["id"] = self.id
        return html_fields(f"{type(self).__name__} {self.identifier}", fields)

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Draw the result with matplotlib on ``ax`` (default: the current Axes); return the Axes.

        Each shipped kind draws itself (see its own ``plot``), axes labelled with units.
        Needs matplotlib (``pip install 'cldata[plot]'``).
        """
        raise UnsupportedValueError(
            f"{type(self).__name__} results have no plot of their own: draw {self.identifier!r} from its fields "
            f"({', '.join(self.fields)}) with matplotlib"
        )


_RESERVED = frozenset({"identifier", "parameters", "sources", "tags", "id", "key", "result_id", "payload", "loaded",
                       "summary", "fields", "plot"})


def _field_property(name: str) -> property:
    def get(self: AnalysisResult) -> Any:
        return self.payload()[name]

    get.__name__ = name
    return property(get, doc=f"The ``{name}`` of the result (read from the store on first use).")


def _label(what: str, value: Any) -> str:
    """An axis label with the units of ``value``: ``"firing_rate (Hz)"``."""
    units = units_text(value)
    return what if units in ("", "dimensionless") else f"{what} ({units})"


def _magnitude(value: Any) -> np.ndarray:
    return np.asarray(value.magnitude if isinstance(value, pq.Quantity) else value, dtype=float)


_UNIT_TEXT: dict[tuple, str] = {}


def units_text(value: Any) -> str:
    """The units of a quantity as text ("" for plain numbers), cached: quantities formats slowly."""
    if not isinstance(value, pq.Quantity):
        return ""
    key = tuple((u.name, p) for u, p in value._dimensionality.items())
    text = _UNIT_TEXT.get(key)
    if text is None:
        text = _UNIT_TEXT[key] = value.dimensionality.string
    return text


def _quantity(value: Any, what: str) -> pq.Quantity | np.ndarray | float:
    if isinstance(value, pq.Quantity):
        return value
    if isinstance(value, (int, float, np.number, np.ndarray, list, tuple)):
        return np.asarray(value)
    raise UnsupportedValueError(f"{what} must be a number, array or quantity, not {type(value).__name__}")


@register_result_kind
class SingleValue(AnalysisResult):
    """One value (a number or a quantity), e.g. a recording's mean firing rate.

    Examples
    --------
    >>> SingleValue("mean_rate", 4.2 * pq.Hz, sources=["rec-1"]).value
    array(4.2) * Hz
    """

    fields = ("value",)

    def __init__(self, identifier: str, value: Any = None, **kw: Any):
        super().__init__(identifier, **kw, **({} if value is None and "_lazy" in kw else {"value": value}))

    def _validate(self, data: dict[str, Any]) -> dict[str, Any]:
        data = super()._validate(data)
        v = _quantity(data["value"], "value")
        if (v.ndim if isinstance(v, np.ndarray) else np.ndim(v)) != 0:
            raise UnsupportedValueError(f"SingleValue holds one value, not an array of shape {np.shape(v)}")
        data["value"] = v
        return data

    def summary(self) -> dict[str, Any]:
        v = self.payload()["value"]
        return {"value": float(np.asarray(v, dtype=float)) if np.isrealobj(v) else None, "units": units_text(v)}

    def _value_text(self) -> str:
        if self._data is not None:
            return f" = {short(self._data['value'])}"
        s = self._known_summary()
        if s.get("value") is None:
            return ""
        units = s.get("units", "")
        return f" = {s['value']:.6g}" + ("" if units in ("", "dimensionless") else f" {units}")

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """One bar, labelled with the identifier and the units; returns the Axes.

        Examples
        --------
        >>> ax = SingleValue("mean_rate", 4.2 * pq.Hz).plot()     # doctest: +SKIP
        >>> ax.get_ylabel()                                        # doctest: +SKIP
        'mean_rate (Hz)'
        """
        ax = axes(ax, "SingleValue.plot()")
        value = self.value
        ax.bar([self.identifier], [float(_magnitude(value))], **kwargs)
        ax.set_ylabel(_label(self.identifier, value))
        return ax


@register_result_kind
class PerChannelValue(AnalysisResult):
    """One value per channel, e.g. firing rate per electrode.

    Examples
    --------
    >>> r = PerChannelValue("rate", np.arange(4) * pq.Hz, sources=["rec-1"])
    >>> r.value_for(2)
    array(2.) * Hz
    """

    fields = ("values", "channels")

    def __init__(self, identifier: str, values: Any, channels: Any = None, **kw: Any):
        n = len(values)
        super().__init__(identifier, values=values, channels=np.arange(n) if channels is None else channels, **kw)

    def _validate(self, data: dict[str, Any]) -> dict[str, Any]:
        data = super()._validate(data)
        values = _quantity(data["values"], "values")
        channels = np.asarray(data["channels"])
        if np.ndim(values) < 1 or channels.ndim != 1 or len(values) != channels.size:
            raise UnsupportedValueError(
                f"PerChannelValue needs one value per channel: {np.shape(values)} values for {channels.size} channels"
            )
        if channels.size and channels.dtype.kind not in "iu":
            raise UnsupportedValueError("channels are integers")
        data["values"], data["channels"] = values, channels.astype(np.int64)
        return data

    def value_for(self, channel: int) -> Any:
        """The value of one channel."""
        channels = self.payload()["channels"]
        hit = np.flatnonzero(channels == channel)
        if not hit.size:
            raise KeyError(f"no value for channel {channel}")
        return self.payload()["values"][int(hit[0])]

    def summary(self) -> dict[str, Any]:
        v = self.payload()["values"]
        return {"n": int(len(v)), "units": units_text(v)}

    def _value_text(self) -> str:
        s = self._known_summary()
        if s.get("n") is None:
            return ""
        units = s.get("units", "")
        return f": {plural(s['n'], 'channel')}" + ("" if units in ("", "dimensionless") else f", {units}")

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """A bar per channel (x: channel number, y: the value with its units); returns the Axes.

        Examples
        --------
        >>> ax = PerChannelValue("rate", np.arange(4) * pq.Hz).plot()   # doctest: +SKIP
        >>> ax.get_xlabel(), ax.get_ylabel()                             # doctest: +SKIP
        ('channel', 'rate (Hz)')
        """
        ax = axes(ax, "PerChannelValue.plot()")
        values = self.values
        ax.bar(self.channels, _magnitude(values), **kwargs)
        ax.set_xlabel("channel")
        ax.set_ylabel(_label(self.identifier, values))
        return ax


@register_result_kind
class TimeSeries(AnalysisResult):
    """Values at times (``times`` and ``values`` of equal length), e.g. a PSTH or a rate curve.

    Examples
    --------
    >>> TimeSeries("psth", times=np.arange(3) * pq.ms, values=[0, 2, 1] * pq.Hz).values
    array([0., 2., 1.]) * Hz
    """

    fields = ("times", "values")

    def __init__(self, identifier: str, times: Any, values: Any, **kw: Any):
        super().__init__(identifier, times=times, values=values, **kw)

    def _validate(self, data: dict[str, Any]) -> dict[str, Any]:
        data = super()._validate(data)
        times, values = _quantity(data["times"], "times"), _quantity(data["values"], "values")
        if np.ndim(times) != 1 or np.shape(values)[:1] != np.shape(times):
            raise UnsupportedValueError(
                f"TimeSeries needs one value per time: {np.shape(times)} times, {np.shape(values)} values"
            )
        data["times"], data["values"] = times, values
        return data

    def summary(self) -> dict[str, Any]:
        return {"n": int(len(self.payload()["times"]))}

    def _value_text(self) -> str:
        n = self._known_summary().get("n")
        return f": {plural(n, 'point')}" if n is not None else ""

    def plot(self, ax: Any = None, style: str = "line", **kwargs: Any) -> Any:
        """``values`` against ``times``: a line, or with ``style="bar"`` bars (a histogram's
        counts at its bin centres, such as ``isi_histogram``); returns the Axes.

        Examples
        --------
        >>> ts = TimeSeries("psth", times=np.arange(3) * pq.ms, values=[0, 2, 1] * pq.Hz)
        >>> ax = ts.plot()                                  # doctest: +SKIP
        >>> ax.get_xlabel(), ax.get_ylabel()                # doctest: +SKIP
        ('time (ms)', 'psth (Hz)')
        """
        if style not in ("line", "bar"):
            raise ValueError(f"style is 'line' or 'bar', not {style!r}")
        ax = axes(ax, "TimeSeries.plot()")
        times, values = self.times, self.values
        x, y = _magnitude(times), _magnitude(values)
        if style == "bar":
            width = float(np.min(np.diff(x))) if x.size > 1 else 1.0
            ax.bar(x, y, width=width, **kwargs)
        else:
            ax.plot(x, y, **kwargs)
        ax.set_xlabel(_label("time", times))
        ax.set_ylabel(_label(self.identifier, values))
        return ax


@register_result_kind
class SignalList(AnalysisResult):
    """A list of neo signals (``AnalogSignal`` or ``IrregularlySampledSignal``)."""

    fields = ("signals",)

    def __init__(self, identifier: str, signals: Sequence[Any], **kw: Any):
        super().__init__(identifier, signals=list(signals), **kw)

    def _validate(self, data: dict[str, Any]) -> dict[str, Any]:
        data = super()._validate(data)
        signals = list(data["signals"])
        bad = [type(s).__name__ for s in signals if not isinstance(s, (neo.AnalogSignal, neo.IrregularlySampledSignal))]
        if bad:
            raise UnsupportedValueError(f"SignalList holds neo AnalogSignal/IrregularlySampledSignal, not {bad}")
        data["signals"] = signals
        return data

    def summary(self) -> dict[str, Any]:
        return {"n": len(self.payload()["signals"])}

    def _value_text(self) -> str:
        n = self._known_summary().get("n")
        return f": {plural(n, 'signal')}" if n is not None else ""

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Each signal against its times (one line per channel), labelled with units; returns the Axes."""
        ax = axes(ax, "SignalList.plot()")
        signals = self.signals
        for i, sig in enumerate(signals):
            ax.plot(_magnitude(sig.times), _magnitude(sig), label=sig.name or f"signal {i}", **kwargs)
        if signals:
            ax.set_xlabel(_label("time", signals[0].times))
            ax.set_ylabel(_label(self.identifier, signals[0]))
        return ax


@register_result_kind
class SpikeTrainList(AnalysisResult):
    """A list of neo SpikeTrains (e.g. sorted units, or bursts as trains)."""

    fields = ("spiketrains",)

    def __init__(self, identifier: str, spiketrains: Sequence[Any], **kw: Any):
        super().__init__(identifier, spiketrains=list(spiketrains), **kw)

    def _validate(self, data: dict[str, Any]) -> dict[str, Any]:
        data = super()._validate(data)
        trains = list(data["spiketrains"])
        bad = [type(s).__name__ for s in trains if not isinstance(s, neo.SpikeTrain)]
        if bad:
            raise UnsupportedValueError(f"SpikeTrainList holds neo SpikeTrains, not {bad}")
        data["spiketrains"] = trains
        return data

    def summary(self) -> dict[str, Any]:
        return {"n": len(self.payload()["spiketrains"])}

    def _value_text(self) -> str:
        n = self._known_summary().get("n")
        return f": {plural(n, 'spike train')}" if n is not None else ""

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """A raster: one row of ticks per spike train, times with their units; returns the Axes."""
        ax = axes(ax, "SpikeTrainList.plot()")
        trains = self.spiketrains
        units = trains[0].units if trains else pq.s
        ax.eventplot([_magnitude(t.rescale(units)) for t in trains], **kwargs)
        ax.set_xlabel(_label("time", pq.Quantity(0, units)))
        ax.set_ylabel("spike train")
        return ax


@register_result_kind
class Data(AnalysisResult):
    """Any value the codec stores: numbers, strings, arrays, quantities, dicts and lists of them.

    Examples
    --------
    >>> Data("bursts", value={"starts_s": [0.1, 0.9], "sizes": [40, 52]}).value["sizes"]
    [40, 52]
    """

    fields = ("value",)

    def __init__(self, identifier: str, value: Any, **kw: Any):
        super().__init__(identifier, value=value, **kw)

    def _value_text(self) -> str:
        return f" = {short(self._data['value'], 40)}" if self._data is not None else ""
