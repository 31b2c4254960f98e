"""A metric across recordings: the scalar values of stored results, beside the parameters that vary.

The model: a result's catalog entry keeps a summary of its scalar values — a
:class:`~cldata.SingleValue`'s ``value``, every number of a CL toolkit result
(``branching_ratio``, ``deviation_from_criticality_coefficient``, ``culture_mean_firing_rates``,
...). :func:`metric_frame` turns the results of a view into a table with one row per result:
the source recording and its parameters (culture, day, ...), the analysis and its parameters
(bin size, ...), and the metrics asked for, all from the catalog (no payload and no recording
file is read). :func:`plot_metric` draws one metric against a parameter, one line per group of
another (branching ratio by day, one line per culture). Needs pandas (and matplotlib to draw).

Examples
--------
>>> frame = store.filter(analysis="CLCriticality").metric_frame("branching_ratio")   # doctest: +SKIP
>>> frame.pivot_table(index="culture", columns="day", values="branching_ratio")     # doctest: +SKIP
>>> store.filter(analysis="CLCriticality").plot_metric("branching_ratio", x="day", hue="culture")  # doctest: +SKIP
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any

from cldata.core.display import flatten, no_pandas, pyplot
from cldata.errors import ParameterError, UnknownNameError
from cldata.store.display import entry_parameters

if TYPE_CHECKING:  # pragma: no cover
    from cldata.store.view import DataStoreView

__all__ = ["metric_frame", "plot_metric", "metric_names"]

#: the columns every metric frame starts with
FIXED_COLUMNS = ("result", "recording", "analysis", "identifier")


def _metrics_of(entry: Any) -> dict[str, Any]:
    """The scalar values a result entry's summary holds, by metric name."""
    summary = entry.summary or {}
    out = {k: v for k, v in summary.items()
           if isinstance(v, numbers.Real) and not isinstance(v, bool) and k not in ("n", "value")}
    if isinstance(summary.get("value"), numbers.Real):
        out[entry.identifier] = summary["value"]  # a SingleValue: its identifier names it
    return out


def metric_names(view: DataStoreView) -> list[str]:
    """Every metric some result of the view has (the names :func:`metric_frame` accepts).

    Examples
    --------
    >>> store.filter(analysis="CLFiringStats").metric_names()[:2]   # doctest: +SKIP
    ['culture_ISI_mean', 'culture_ISI_var']
    """
    names: set[str] = set()
    for entry in view.selection.result_entries(view.catalog).values():
        names.update(_metrics_of(entry))
    return sorted(names)


def _recording_columns(view: DataStoreView, sources: tuple[str, ...]) -> dict[str, Any]:
    """The parameters of a result's source recording (flattened), from the catalog."""
    if len(sources) != 1:
        return {}
    cat = view.full_datastore.catalog
    row = cat.recording_rows.get(sources[0])
    entry = cat.recordings[row] if row is not None else None
    if entry is None:
        return {}
    return flatten(entry_parameters(entry.summary, entry.parameters, nested=True))


def metric_frame(view: DataStoreView, *metrics: str) -> Any:
    """The view's results that have ``metrics``, one row each, with recording and analysis parameters.

    Columns: ``result`` (the result id), ``recording`` (its source recording; ids joined by
    ``", "`` for a result of several), ``analysis``, ``identifier``; then the source recording's
    parameters (flattened to dotted names: ``culture``, ``session.day``), then the result's
    parameters (an analysis parameter whose name a recording parameter already uses is prefixed
    ``result.``), then one column per metric (NaN where a result lacks it). Only the catalog is
    read. Needs pandas (``pip install 'cldata[pandas]'``).

    Parameters
    ----------
    view
        The results to tabulate (``store.filter(analysis="CLCriticality")``, a sweep's part, ...).
    *metrics
        Names of scalar values results keep (:func:`metric_names` lists them); results that have
        none of them are left out.

    Raises
    ------
    cldata.errors.ParameterError
        If no metric is named.
    cldata.errors.UnknownNameError
        If no result of the view has one of the metrics (the message lists those there are).

    Examples
    --------
    >>> frame = store.filter(analysis="CLCriticality").metric_frame("branching_ratio", "deviation_from_criticality_coefficient")  # doctest: +SKIP
    >>> frame.groupby(["culture", "day"])["branching_ratio"].mean()   # doctest: +SKIP
    """
    try:
        import pandas as pd  # why: an optional dependency, and slow to import
    except ImportError:
        raise no_pandas("metric_frame()") from None
    if not metrics:
        raise ParameterError("metric_frame() needs the name of at least one metric, e.g. "
                             "metric_frame('branching_ratio'); metric_names() lists them")
    rows = []
    known: set[str] = set()
    for entry in view.selection.result_entries(view.catalog).values():
        values = _metrics_of(entry)
        known.update(values)
        if not any(m in values for m in metrics):
            continue
        row: dict[str, Any] = {"result": entry.id, "recording": ", ".join(entry.sources),
                               "analysis": entry.parameters.get("analysis"), "identifier": entry.identifier}
        row.update({k: v for k, v in _recording_columns(view, tuple(entry.sources)).items() if k not in row})
        for k, v in flatten(entry.parameters).items():
            if k != "analysis":
                row[k if k not in row else f"result.{k}"] = v
        row.update({m: values.get(m, math.nan) for m in metrics})
        rows.append(row)
    missing = [m for m in metrics if m not in known]
    if missing:
        raise UnknownNameError(f"no result in this view has the metric {', '.join(map(repr, missing))}; "
                               f"the metrics here are: {', '.join(sorted(known)) or 'none (no result with numbers)'}")
    frame = pd.DataFrame(rows)
    # the metrics last, whatever order the parameters came in
    return frame[[c for c in frame.columns if c not in metrics] + list(metrics)]


def plot_metric(view: DataStoreView, metric: str, x: str, hue: str | None = None, ax: Any = None) -> Any:
    """Draw ``metric`` against the parameter ``x``, one line of group means per value of ``hue``.

    Every result is a point; the line joins the mean of each ``x`` value. ``x`` and ``hue`` are
    columns of :func:`metric_frame` (recording or analysis parameters). Numbers on ``x`` are
    placed by value, anything else in sorted order. Needs pandas and matplotlib.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    cldata.errors.UnknownNameError
        If ``metric`` is no result's, or ``x``/``hue`` is no column of the frame.

    Examples
    --------
    >>> ax = store.filter(analysis="CLCriticality").plot_metric("branching_ratio", x="day", hue="culture")  # doctest: +SKIP
    """
    frame = metric_frame(view, metric)
    for what, column in (("x", x), ("hue", hue)):
        if column is not None and column not in frame.columns:
            raise UnknownNameError(f"{what}={column!r} is not a parameter of these results; the columns are: "
                                   f"{', '.join(c for c in frame.columns if c != metric)}")
    plt = pyplot("plot_metric()")
    if ax is None:
        ax = plt.gca()
    numeric = all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in frame[x].dropna())
    order = sorted(frame[x].dropna().unique(), key=lambda v: (v if numeric else str(v)))
    position = {v: (v if numeric else i) for i, v in enumerate(order)}
    groups = [(None, frame)] if hue is None else sorted(frame.groupby(hue, dropna=False), key=lambda g: str(g[0]))
    for key, part in groups:
        part = part[part[x].notna()]
        xs = [position[v] for v in part[x]]
        line = ax.plot([position[v] for v in order if v in set(part[x])],
                       [part.loc[part[x] == v, metric].mean() for v in order if v in set(part[x])],
                       marker="o", label=None if hue is None else f"{hue} {key}")[0]
        ax.scatter(xs, part[metric], s=12, alpha=0.5, color=line.get_color())
    if not numeric:
        ax.set_xticks(range(len(order)), [str(v) for v in order])
    ax.set_xlabel(x)
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} by {x}" + (f" and {hue}" if hue else ""))
    if hue is not None:
        ax.legend(frameon=False)
    return ax
