"""Store views as pandas DataFrames: one row per recording, or per analysis result.

Needs pandas (``pip install 'cldata[pandas]'``); nothing else in cldata does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cldata.core.display import flatten, no_pandas
from cldata.store.display import shown_parameters

if TYPE_CHECKING:  # pragma: no cover
    from cldata.store.view import DataStoreView

__all__ = ["recordings_frame", "results_frame"]


def recordings_frame(view: DataStoreView) -> Any:
    """The view's recordings as a pandas DataFrame, one row each.

    Columns: ``id``; the parameters, nested ones flattened to dotted names
    (``session.day``; the attributes the CL writer keeps for itself, such as
    ``created_utc`` or ``file_format``, are left out);
    ``duration_s``, ``channels``, ``spikes``, ``stims`` and one ``entries.<stream>``
    column per visible data stream. Through a window (:meth:`~cldata.DataStoreView.between`) the duration and
    counts are those of the window. Needs pandas (``pip install 'cldata[pandas]'``).

    Examples
    --------
    >>> store.filter(culture="C7").recordings_frame()[["id", "culture", "duration_s"]]  # doctest: +SKIP
                         id culture  duration_s
    0  rec_88585b22ccfb1d4d      C7         2.0
    """
    try:
        import pandas as pd  # why: an optional dependency, and slow to import
    except ImportError:
        raise no_pandas("recordings_frame()") from None
    rows = []
    for rec in view.recordings:
        counts = rec.counts()
        row: dict[str, Any] = {"id": rec.id}
        row.update({k: v for k, v in flatten(shown_parameters(rec, nested=True)).items() if k not in row})
        row.update({"duration_s": counts["duration_s"], "channels": int(rec.summary.get("channel_count", 0)),
                    "spikes": counts["spikes"], "stims": counts["stims"]})
        row.update({f"entries.{n}": k for n, k in counts["streams"].items()})
        rows.append(row)
    fixed = ["id"]
    return pd.DataFrame(rows, columns=None if rows else fixed)

def results_frame(view: DataStoreView) -> Any:
    """The view's analysis results as a pandas DataFrame, one row each, payloads unread.

    Columns: ``id``, ``identifier``, ``kind`` (the result class), ``source`` (the
    recording id; ids joined by ``", "`` for a result of several), ``tags``, ``value``
    and ``units`` for results of one number (:class:`~cldata.SingleValue`; empty for
    the others), then the result's parameters flattened to dotted names. Needs pandas.

    Examples
    --------
    >>> store.results_frame()[["identifier", "kind", "value", "units"]]  # doctest: +SKIP
      identifier         kind  value units
    0       rate  SingleValue   5.07    Hz
    """
    try:
        import pandas as pd  # why: an optional dependency, and slow to import
    except ImportError:
        raise no_pandas("results_frame()") from None
    fixed = ["id", "identifier", "kind", "source", "tags", "value", "units"]
    rows = []
    for entry in view.selection.result_entries(view.catalog).values():
        summary = entry.summary or {}
        row: dict[str, Any] = {
            "id": entry.id, "identifier": entry.identifier, "kind": entry.kind,
            "source": ", ".join(entry.sources), "tags": ", ".join(entry.tags),
            "value": summary.get("value") if "value" in summary else None,
            "units": summary.get("units", "") if "value" in summary else "",
        }
        for k, v in flatten(entry.parameters).items():
            row[k if k not in fixed else f"parameters.{k}"] = v
        rows.append(row)
    return pd.DataFrame(rows, columns=None if rows else fixed)
