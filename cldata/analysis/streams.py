"""Numeric data streams aligned to spikes: :class:`StreamSpikeSummary`.

A closed-loop application writes what it does into data streams (a ball position, a
score, a stimulation parameter). This analysis asks how spiking relates to one numeric
quantity of a stream: each spike gets the stream value *in effect* when it happened —
the most recent entry at or before the spike, found for all spikes at once with
``np.searchsorted`` on the stream's timestamps — and the value distribution at spikes is
compared with the distribution over time, and the firing rate is given as a function of
the value.

How values are taken and what is skipped
----------------------------------------
- ``key=None``: each entry must itself be a number; ``key="x"``: each entry is a dict
  and its ``"x"`` field is used.
- A *usable* value is a real, finite number: ``int``, ``float``, ``bool`` (as 0/1),
  numpy integer/float/bool scalars and 0-d arrays. Entries without a usable value
  (strings, lists, ``None``, NaN, a dict without the key, a non-dict when a key is given)
  are skipped: they are not alignment points, so a spike after one still takes the last
  usable value before it. How many were skipped is reported in the summary.
- A value holds from its entry until the next usable entry, but for at most
  ``window_ms``: a spike more than ``window_ms`` after the last usable value is not
  aligned (the stream had gone quiet), and that stretch of time does not count in the
  time-weighted statistics either. ``window_ms=None`` lets values hold until the next entry.
- Only entries inside the analysed window are seen (reads honour the view's window), so
  spikes in the window before its first usable entry are not aligned.

What a recording without usable data gives
------------------------------------------
Every recording gives the same four results, so a batch run stores something for each
recording (and does not recompute it on the next run), and the summary says why numbers
are missing: ``status`` is ``"ok"``, ``"missing_stream"`` (the recording has no such
stream, or the view's stream selection hides it), ``"no_entries"`` (none in the window)
or ``"no_numeric_values"`` (entries, but none usable: often a wrong ``key``). In every
case but ``ok`` the means are NaN and the rate curve is empty. A stream the recording has but
the view's stream selection hides raises :class:`~cldata.errors.ParameterError` instead
of giving results: stored, they would later pass for the whole recording's. ``missing_stream``
and ``no_numeric_values`` also raise a :class:`StreamSummaryWarning`, so a notebook user
sees a likely typo at once.

Units: if the stream's application attributes have ``"units"`` — a unit string, or a
dict of unit strings by key — that :mod:`quantities` understands, values carry that unit;
otherwise they are dimensionless (the unit string is kept in the summary).

Examples
--------
>>> StreamSpikeSummary(stream="ball_position", key="x").perform_analysis(store)   # doctest: +SKIP
>>> curve = store.filter(identifier="rate_by_stream_value", key="x").analysis_results[0]   # doctest: +SKIP
>>> curve.times, curve.values                                                     # doctest: +SKIP
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import quantities as pq

from cldata.analysis.base import Analysis
from cldata.analysis.common import (
    CHANNELS,
    channel_list_problem,
    check_values,
    selected_spike_frames,
)
from cldata.errors import ParameterError
from cldata.model.results import Data, SingleValue, TimeSeries

if TYPE_CHECKING:  # pragma: no cover
    from cldata.model.results import AnalysisResult
    from cldata.store.view import RecordingHandle

__all__ = ["StreamSpikeSummary", "StreamSummaryWarning", "numeric_values"]

_SCALARS = (int, float, np.integer, np.floating, np.bool_)  # bool is an int


class StreamSummaryWarning(UserWarning):
    """A stream asked for is missing, or holds no usable numeric value."""


def _usable(x: Any) -> bool:
    if isinstance(x, _SCALARS):
        return True
    return isinstance(x, np.ndarray) and x.ndim == 0 and x.dtype.kind in "biuf"


def numeric_values(values: Sequence[Any], key: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(usable, numbers)``: which entries have a usable value (see module doc), and the values.

    ``numbers`` is float64, NaN where the entry is not usable.

    Examples
    --------
    >>> numeric_values([1, "a", 2.5, None, True, float("nan")])
    (array([ True, False,  True, False,  True, False]), array([1. , nan, 2.5, nan, 1. , nan]))
    >>> numeric_values([{"x": 3}, {"y": 1}, 7], key="x")[0]
    array([ True, False, False])
    """
    if key is not None:
        values = [v.get(key) if isinstance(v, dict) else None for v in values]
    n = len(values)
    usable = np.fromiter((_usable(x) for x in values), dtype=bool, count=n)
    numbers = np.full(n, np.nan)
    if usable.any():
        numbers[usable] = np.array([float(x) for x, ok in zip(values, usable) if ok], dtype=float)
    usable &= np.isfinite(numbers)
    numbers[~usable] = np.nan
    return usable, numbers


def _stream_units(attributes: Mapping[str, Any], key: str | None) -> tuple[pq.Quantity, str | None]:
    application = attributes.get("application") or {}
    units = application.get("units") if isinstance(application, Mapping) else None
    if isinstance(units, Mapping):
        units = units.get(key) if key is not None else None
    if not isinstance(units, str) or not units:
        return pq.dimensionless, None
    try:
        unit = pq.Quantity(1.0, units)
    except Exception:  # quantities raises LookupError, ValueError, ... for unknown units
        return pq.dimensionless, units
    return unit.units, units


def _weighted_stats(values: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    total = float(weights.sum())
    if values.size == 0 or total <= 0:
        return math.nan, math.nan
    mean = float(np.dot(values, weights) / total)
    return mean, float(np.sqrt(np.dot((values - mean) ** 2, weights) / total))


class StreamSpikeSummary(Analysis):
    """How spiking relates to a numeric data-stream value (see the module doc for the rules).

    Parameters
    ----------
    stream : str (required)
        The data stream's name.
    key : str or None, default None
        The dict field holding the value; ``None`` when each entry is a number itself.
    window_ms : float or None, default 50
        How long a value holds after its entry at most (``None``: until the next entry).
    n_bins : int, default 10
        Bins of the rate curve: each distinct value is its own bin when there are at most
        ``n_bins`` of them (e.g. a 0/1 flag), otherwise quantile bins of the entries'
        values (fewer if quantiles coincide).
    channels : list of int or None, default None
        The channels whose spikes are used (``None``: all).

    Results
    -------
    ``stream_mean_at_spikes`` : SingleValue (stream units)
        Mean value at the aligned spikes (spike-triggered average).
    ``stream_mean_overall`` : SingleValue (stream units)
        Time-weighted mean value over the window (each value weighted by how long it held).
        Equal to the mean at spikes when firing does not depend on the value.
    ``rate_by_stream_value`` : TimeSeries
        ``times``: the bin centres *as stream values* (stream units; a tuning curve in
        TimeSeries form); ``values``: firing rate (Hz per channel) while the value was in
        the bin: aligned spikes / (time the value held there × channels). NaN for a bin
        that never held.
    ``stream_spike_summary`` : Data
        ``status``, ``n_entries``, ``n_entries_used``, ``n_entries_skipped``, ``n_spikes``,
        ``n_spikes_aligned``, ``mean_at_spikes``, ``std_at_spikes``, ``mean_overall``,
        ``std_overall`` (stream units), ``bin_edges`` (stream units), ``bin_time`` (s),
        ``bin_spikes``, ``units`` (the attribute string, or None), ``window_s``.
    """

    required_parameters = {"stream": str}
    optional_parameters = {
        "key": ((str, type(None)), None),
        "window_ms": ((int, float, type(None)), 50.0),
        "n_bins": (int, 10),
        "channels": (CHANNELS, None),
    }

    def __init__(self, parameters: Any = None, **kw: Any):
        super().__init__(parameters, **kw)
        p = self.parameters
        check_values(self.name, [
            (not p["stream"], "'stream' should name a data stream, not ''"),
            (p["window_ms"] is not None and not p["window_ms"] > 0,
             f"'window_ms' should be > 0 or None, not {p['window_ms']}"),
            (p["n_bins"] < 1, f"'n_bins' should be at least 1, not {p['n_bins']}"),
            channel_list_problem(p["channels"]),
        ])

    def compute(self, recording: RecordingHandle) -> list[AnalysisResult]:
        p = self.parameters
        view = recording.view()
        fps = view.frames_per_second
        start, stop = view.clipped_window
        chosen, ts, _ = selected_spike_frames(self.name, view, p["channels"])

        stream = recording.data_streams.get(p["stream"])
        if stream is None and p["stream"] in view.data_streams:
            # present but hidden by the view's stream selection: storing "missing" for it would
            # later pass for the result of the whole recording (is_done ignores selections)
            raise ParameterError(
                f"{self.name}: data stream {p['stream']!r} of recording {recording.id} is hidden by the "
                f"view's stream selection (visible: {recording.stream_names}); select it, or analyse another stream"
            )
        unit, unit_name = (pq.dimensionless, None) if stream is None else _stream_units(stream.attributes, p["key"])
        n_entries = 0
        entry_ts, numbers = np.empty(0, dtype=np.int64), np.empty(0)
        if stream is None:
            status = "missing_stream"
            shown = ", ".join(recording.stream_names) or "none"
            warnings.warn(f"{self.name}: recording {recording.id} has no data stream {p['stream']!r} "
                          f"(it has: {shown})", StreamSummaryWarning, stacklevel=2)
        elif not len(stream):  # (and read() of an empty range fails in DataStreamView: a reader bug)
            status = "no_entries"
        else:
            entry_ts, raw = stream.read()
            n_entries = int(entry_ts.size)
            usable, numbers = numeric_values(raw, p["key"])
            entry_ts, numbers = entry_ts[usable], numbers[usable]
            status = "ok" if entry_ts.size else "no_numeric_values"
            if status == "no_numeric_values":
                what = "entries" if p["key"] is None else f"entries' {p['key']!r} fields"
                warnings.warn(f"{self.name}: none of the {n_entries} {what} of stream {p['stream']!r} in recording "
                              f"{recording.id} is a finite number", StreamSummaryWarning, stacklevel=2)

        # how long each value holds: to the next usable entry, at most window_ms, within the window
        hold_end = np.append(entry_ts[1:], stop).astype(np.float64)
        if p["window_ms"] is not None:
            hold_end = np.minimum(hold_end, entry_ts + float(p["window_ms"]) * fps / 1000.0)
        hold = np.clip(np.minimum(hold_end, stop) - entry_ts, 0, None) / fps  # seconds

        # the entry in effect at each spike
        entry = np.searchsorted(entry_ts, ts, side="right") - 1
        aligned = entry >= 0
        if aligned.any():
            age = ts[aligned] - entry_ts[entry[aligned]]
            ok = np.ones(age.size, dtype=bool) if p["window_ms"] is None else age < float(p["window_ms"]) * fps / 1000.0
            aligned[aligned] = ok
        at_spikes = numbers[entry[aligned]]

        mean_spk, std_spk = _weighted_stats(at_spikes, np.ones(at_spikes.size))
        mean_all, std_all = _weighted_stats(numbers, hold)
        edges, centres, bin_of_entry = self._bins(numbers, p["n_bins"])
        nb = centres.size
        bin_time = np.bincount(bin_of_entry, weights=hold, minlength=nb) if nb else np.empty(0)
        bin_spikes = np.bincount(bin_of_entry[entry[aligned]], minlength=nb) if nb else np.empty(0, dtype=np.int64)
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = bin_spikes / (bin_time * chosen.size)
        rate[~(bin_time > 0)] = np.nan

        summary = {
            "status": status,
            "n_entries": n_entries,
            "n_entries_used": int(entry_ts.size),
            "n_entries_skipped": n_entries - int(entry_ts.size),
            "n_spikes": int(ts.size),
            "n_spikes_aligned": int(aligned.sum()),
            "mean_at_spikes": mean_spk * unit,
            "std_at_spikes": std_spk * unit,
            "mean_overall": mean_all * unit,
            "std_overall": std_all * unit,
            "bin_edges": edges * unit,
            "bin_time": bin_time * pq.s,
            "bin_spikes": bin_spikes.astype(np.int64),
            "units": unit_name,
            "window_s": [start / fps, stop / fps],
        }
        return [
            self.result(SingleValue, "stream_mean_at_spikes", mean_spk * unit, recording=recording),
            self.result(SingleValue, "stream_mean_overall", mean_all * unit, recording=recording),
            self.result(TimeSeries, "rate_by_stream_value", centres * unit, rate * pq.Hz, recording=recording),
            self.result(Data, "stream_spike_summary", summary, recording=recording),
        ]

    @staticmethod
    def _bins(numbers: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(edges, centres, bin of each entry)`` for the rate curve (see ``n_bins``).

        Distinct values as bins get edges halfway between neighbouring values.
        """
        if numbers.size == 0:
            return np.empty(0), np.empty(0), np.empty(0, dtype=np.int64)
        distinct = np.unique(numbers)
        if distinct.size <= n_bins:
            middles = (distinct[1:] + distinct[:-1]) / 2
            edges = np.concatenate(([distinct[0]], middles, [distinct[-1]]))
            return edges, distinct, np.searchsorted(distinct, numbers)
        edges = np.unique(np.quantile(numbers, np.linspace(0.0, 1.0, n_bins + 1)))
        index = np.clip(np.searchsorted(edges, numbers, side="right") - 1, 0, edges.size - 2)
        return edges, (edges[1:] + edges[:-1]) / 2, index
