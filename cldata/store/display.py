"""How store views and their recordings show themselves: in words, and as tables in a notebook.

A view says what it holds (``<DataStoreView: 1 recording, 3 analysis results, window 0–2 s>``);
:func:`describe` lists its recordings and counts its results by kind and identifier; in a
notebook it is a table of recordings (through a window, the window and the counts within
it). A recording's parameters are shown without the attributes the CL writer keeps for
itself (``created_utc``, ``file_format``...).

Examples
--------
>>> print(describe(store.filter(culture="C7")))                    # doctest: +SKIP
<DataStoreView: 1 recording, 0 analysis results>
  rec_88585b22ccfb1d4d  2 s  streams ['score']  culture='C7'
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cldata.core.display import html_table, plural, seconds, short, window_text
from cldata.errors import CldataError
from cldata.format.layout import SYSTEM_ROOT_ATTRIBUTES

if TYPE_CHECKING:  # pragma: no cover
    from cldata.core.window import TimeWindow
    from cldata.store.recording import RecordingHandle
    from cldata.store.view import DataStoreView

__all__ = ["shown_parameters", "extent_text", "window_description", "describe", "view_repr", "view_html"]


def shown_parameters(rec: RecordingHandle, nested: bool = False) -> dict[str, Any]:
    """The parameters of a recording worth showing: the user's and the application's (and the file's
    own, such as a culture the experimenter wrote into it), not the attributes the CL writer keeps
    for itself. ``nested``: nested parameters too (flatten them to show them)."""
    return entry_parameters(rec.summary, rec.parameters, nested)


def entry_parameters(summary: Mapping[str, Any], parameters: Mapping[str, Any], nested: bool = False) -> dict[str, Any]:
    """:func:`shown_parameters` of a recording's catalog summary and parameters (no handle needed)."""
    hidden = set(summary.get("root_keys", ())) & set(SYSTEM_ROOT_ATTRIBUTES)
    return {k: v for k, v in parameters.items() if k not in hidden and (nested or not isinstance(v, Mapping))}


def extent_text(rec: RecordingHandle) -> str:
    """``"2 s"``, or ``"0–1 s of 2 s"`` through a window."""
    total = float(rec.summary.get("duration_s", 0))
    if rec.time_window.is_everything:
        return seconds(total)
    fps = rec.frames_per_second
    a, b = rec.window
    # a neo recording starts at its t_start on its own axis (frame 0 is 0 s of that axis)
    first = round(float(rec.summary.get("t_start_s", 0)) * fps) if rec.summary.get("layout") == "neo" else 0
    end = first + round(total * fps)
    a = first if a is None else min(max(a, first), end)
    b = end if b is None else min(max(b, a), end)
    return f"{window_text((a, b), fps)} of {seconds(total)}"


def window_description(window: TimeWindow, frames_per_second: float | None) -> str:
    """A view's window in words: each intersected window as given, joined by ``∩``."""
    return " ∩ ".join(window_text(pair, frames_per_second) for pair in window.bounds)


def _frames_per_second(view: DataStoreView) -> float | None:
    """The frame rate of the view's recordings when they share one (to show windows in s)."""
    rates = {e.summary.get("frames_per_second") for _, e in view.selection.recording_entries(view.catalog)}
    return rates.pop() if len(rates) == 1 else None


def _result_groups(view: DataStoreView) -> dict[str, int]:
    groups: dict[str, int] = {}
    for entry in view.selection.result_entries(view.catalog).values():
        key = f"{entry.kind} {entry.identifier!r}"
        groups[key] = groups.get(key, 0) + 1
    return groups


def view_repr(view: DataStoreView, name: str) -> str:
    """``<name: 2 recordings, 3 analysis results, streams [...], window ...>``."""
    window, streams = view.window, view.stream_selection
    w = "" if window.is_everything else f", window {window_description(window, _frames_per_second(view))}"
    s = "" if streams is None else f", streams {streams!r}"
    n_results = len(view.selection.live_result_rows(view.catalog))
    return (f"<{name}: {plural(len(view.recording_ids), 'recording')}, "
            f"{plural(n_results, 'analysis result')}{s}{w}>")


def describe(view: DataStoreView) -> str:
    """A plain-text summary of the view (what ``print_content`` prints)."""
    lines = [repr(view)]
    recs = view.recordings
    for rec in recs[:50]:
        params = shown_parameters(rec)
        shown = ", ".join(f"{k}={short(v)}" for k, v in list(params.items())[:6])
        lines.append(f"  {rec.id}  {extent_text(rec)}  streams {rec.stream_names}  {shown}")
    if len(recs) > 50:
        lines.append(f"  ... and {plural(len(recs) - 50, 'more recording')}")
    for key, n in _result_groups(view).items():
        lines.append(f"  {n} x {key}")
    return "\n".join(lines)


def view_html(view: DataStoreView, title: str) -> str:
    """The view as an HTML table of its recordings, its results counted by kind below."""
    recs = view.recordings
    rows = []
    for rec in recs[:100]:
        try:
            counts = rec.counts()
            spikes, streams = counts["spikes"], ", ".join(f"{n} ({k})" for n, k in counts["streams"].items())
        except (CldataError, OSError) as exc:  # a broken link: the row says so, the table still shows
            spikes, streams = "?", f"cannot be read: {exc}"
        params = shown_parameters(rec)
        rows.append([rec.id, extent_text(rec), spikes, streams,
                     ", ".join(f"{k}={short(v)}" for k, v in list(params.items())[:8])])
    results = "".join(f"<li>{n} &times; {html.escape(k)}</li>" for k, n in _result_groups(view).items())
    header = ["recording", "duration" if view.window.is_everything else "window", "spikes", "streams (entries)",
              "parameters"]
    return html_table(title, header if recs else [], rows, more=max(0, len(recs) - 100),
                      footer=f"<ul>{results}</ul>" if results else "")
