"""The shipped kinds of analysis results, each with units through :mod:`quantities`.

- :class:`SingleValue` — one number (``value``), e.g. a mean firing rate;
- :class:`PerChannelValue` — one number per channel (``values``, ``channels``);
- :class:`TimeSeries` — ``values`` sampled at ``times``, e.g. a PSTH or a rate over time;
- :class:`SignalList` — a list of neo signals (AnalogSignal / IrregularlySampledSignal);
- :class:`SpikeTrainList` — a list of neo SpikeTrains;
- :class:`Data` — any value the codec can store (dicts of numbers and arrays, tables).

Each checks its fields when made (``_validate``), keeps a small summary in the store's
catalog (``summary()``: a SingleValue's value and units, sizes) so that its repr needs no
payload, and every kind but :class:`Data` draws itself with ``.plot(ax=None)`` (matplotlib,
the ``plot`` extra), axes labelled with units. They are known to stores by name through
:mod:`cldata.model.results.registry`.

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

from collections.abc import Sequence
from typing import Any

import neo
import numpy as np
import quantities as pq

from cldata.core.display import axes, plural, short
from cldata.errors import UnsupportedValueError
from cldata.model.results.base import AnalysisResult

__all__ = ["SingleValue", "PerChannelValue", "TimeSeries", "SignalList", "SpikeTrainList", "Data", "units_text"]


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
