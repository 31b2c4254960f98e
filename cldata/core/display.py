"""How cldata's objects show themselves: in a terminal, in a notebook, and while they work.

Three habits of the scientific Python ecosystem, shared by every object that a user looks
at (stores and views, recordings, data streams, results, envelopes, spike activity):

- a plain ``repr`` a person reads: numbers as Python prints them (``64``, not
  ``np.int64(64)``), counts with their noun in agreement (``1 recording``, ``2
  recordings``), times and windows in seconds;
- ``_repr_html_``, the table a Jupyter notebook draws instead of the repr, made by
  :func:`html_table` so that every object's table looks alike and escapes what it shows;
- progress bars (tqdm) for work that may last: :func:`progress_bar` appears only after a
  second, only when standard error is a terminal (a notebook's tqdm output is not
  wanted in logs and pipes), and never when the caller passed ``progress=False``
  (``--quiet`` on the command line).

Examples
--------
>>> plural(1, "recording"), plural(2, "recording"), plural(3, "analysis", "analyses")
('1 recording', '2 recordings', '3 analyses')
>>> import quantities as pq
>>> window_text((0, 1.5 * pq.s)), window_text((None, 2 * pq.s))
('0–1.5 s', '0–2 s')
>>> short(np.int64(64)), short(0.25 * pq.s), short({"day": np.float64(2.0)})
('64', '0.25 s', "{'day': 2.0}")
"""

from __future__ import annotations

import contextvars
import html
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import quantities as pq

from cldata.core.canonical import flatten as dotted

__all__ = ["plural", "seconds", "window_text", "short", "html_table", "progress_bar", "progress_scope", "flatten"]

# whether bars may be shown in this context: progress_scope(False) silences the bars of
# everything called inside it (check_path(progress=False) -> the overview rebuilds it runs)
_PROGRESS = contextvars.ContextVar("cldata_progress", default=True)


def plural(n: int, word: str, many: str | None = None) -> str:
    """``n`` and its noun, singular for exactly one (``"1 spike"``, ``"0 spikes"``).

    Examples
    --------
    >>> plural(1, "entry", "entries"), plural(12, "entry", "entries")
    ('1 entry', '12 entries')
    """
    n = int(n)
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def seconds(value: float) -> str:
    """A time in seconds as people write it (``"2 s"``, ``"0.125 s"``, ``"1.2e+04 s"``)."""
    return f"{float(value):.6g} s"


def _in_seconds(value: Any, frames_per_second: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, pq.Quantity):
        return float(value.rescale(pq.s).magnitude)
    return int(value) / frames_per_second if frames_per_second else None


def window_text(window: Any, frames_per_second: float | None = None) -> str:
    """A time window as text in seconds: ``"0–1 s"``, ``"1 s–end"``; ``None``: ``"whole recording"``.

    ``window`` is ``(start, stop)`` in frames or time quantities (``None``: open), or a
    view's symbolic intersection of windows. Frames become seconds when the frame rate is
    known; without it they stay frames (a store-wide window given in frames).

    Examples
    --------
    >>> window_text((25000, 50000), 25000), window_text((25000, None), 25000), window_text((10, 20))
    ('1–2 s', '1 s–end', 'frames 10–20')
    """
    if window is None or tuple(window) == (None, None):
        return "whole recording"
    a, b = window
    if not frames_per_second and any(v is not None and not isinstance(v, pq.Quantity) and v != 0 for v in (a, b)):
        return f"frames {'start' if a is None else _short(a)}–{'end' if b is None else _short(b)}"
    sa, sb = (0.0 if v is not None and not isinstance(v, pq.Quantity) and v == 0 else _in_seconds(v, frames_per_second)
              for v in (a, b))
    start = "0" if sa is None else f"{sa:.6g}"
    return f"{start} s–end" if sb is None else f"{start}–{sb:.6g} s"


def short(value: Any, limit: int = 60) -> str:
    """A parameter value as a person writes it: numpy scalars as Python numbers, quantities
    as ``"0.25 s"``, arrays shortened; cut to ``limit`` characters."""
    text = _short(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short(value: Any) -> str:
    if isinstance(value, pq.Quantity):
        mag = np.asarray(value.magnitude)
        units = value.dimensionality.string
        body = f"{mag.item():.6g}" if mag.ndim == 0 else np.array2string(mag, threshold=6, precision=4)
        return body if units == "dimensionless" else f"{body} {units}"
    if isinstance(value, np.generic):
        return repr(value.item())
    if isinstance(value, np.ndarray):
        return np.array2string(value, threshold=6, precision=4)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k!r}: {_short(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_short(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value)


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested parameters as one level of dotted names (``{"session": {"day": 2}}`` ->
    ``{"session.day": 2}``), numpy scalars as Python values (for tables and DataFrames)."""
    return {name: value.item() if isinstance(value, np.generic) else value
            for name, value in dotted(params, prefix).items()}


def html_table(title: str, header: Sequence[str], rows: Iterable[Sequence[Any]], *, more: int = 0,
               footer: str = "") -> str:
    """An HTML table for a notebook: a bold title, a header row, escaped cells.

    ``more`` says how many rows were left out (shown as a last line); ``footer`` is HTML
    put after the table as it is (the caller escapes it).

    Examples
    --------
    >>> ">id</th>" in html_table("A store", ["id"], [["rec_1"]])
    True
    """
    cells = "".join(f"<th style='text-align:left'>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td style='text-align:left'>{html.escape(str(c))}</td>" for c in row) + "</tr>"
        for row in rows
    )
    if more:
        body += f"<tr><td colspan='{len(header)}'>… and {more:,} more</td></tr>"
    table = f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>" if header else ""
    return f"<div class='cldata'><b>{html.escape(title)}</b>{table}{footer}</div>"


def html_fields(title: str, fields: Mapping[str, Any]) -> str:
    """A two-column table of named values (for one object: a recording, a result)."""
    return html_table(title, ["", ""], ([k, v] for k, v in fields.items()))


class _NoBar:
    """What :func:`progress_bar` gives when no bar is shown: the same calls, doing nothing."""

    def __init__(self, iterable: Iterable[Any] | None = None):
        self._iterable = iterable

    def __iter__(self) -> Any:
        return iter(self._iterable if self._iterable is not None else ())

    def update(self, n: float = 1) -> None:
        pass

    def reset(self, total: float | None = None) -> None:
        pass

    def set_postfix_str(self, s: str = "") -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


@contextmanager
def progress_scope(enabled: bool) -> Iterator[None]:
    """No progress bar inside the block when ``enabled`` is false (calls made in it included).

    Examples
    --------
    >>> with progress_scope(False):
    ...     type(progress_bar(total=10)).__name__
    '_NoBar'
    """
    token = _PROGRESS.set(_PROGRESS.get() and bool(enabled))
    try:
        yield
    finally:
        _PROGRESS.reset(token)


def progress_bar(iterable: Iterable[Any] | None = None, *, total: float | None = None, desc: str = "",
                 unit: str = "it", enabled: bool = True, **options: Any) -> Any:
    """A tqdm bar on standard error, shown only when the work lasts over a second.

    Nothing is printed when ``enabled`` is false, inside ``progress_scope(False)``, or when
    standard error is not a terminal (a pipe, a log file, CI): the bar is for a person watching. Use it as tqdm is used (as an
    iterable, or with ``update(n)``, or as a context manager).

    Examples
    --------
    >>> with progress_bar(total=3, desc="import", enabled=False) as bar:
    ...     bar.update(3)
    """
    stream = sys.stderr
    try:
        terminal = stream.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stderr
        terminal = False
    if not enabled or not _PROGRESS.get() or not terminal:
        return _NoBar(iterable)
    from tqdm import tqdm  # start-up time: tqdm is imported only when a bar is really shown

    return tqdm(iterable, total=total, desc=desc, unit=unit, file=stream, delay=1.0, leave=False,
                dynamic_ncols=True, **options)


def no_pandas(what: str) -> ImportError:
    """The error of a DataFrame method when pandas is not installed (it is an optional extra)."""
    return ImportError(f"{what} needs pandas, an optional extra of cldata: pip install 'cldata[pandas]'")


def pyplot(what: str) -> Any:
    """matplotlib's pyplot, imported on first use (an optional extra: ``cldata[plot]``)."""
    try:
        import matplotlib.pyplot as plt  # an optional extra, and slow to import: only when drawing
    except ImportError:
        raise ImportError(f"{what} needs matplotlib, an optional extra of cldata: pip install 'cldata[plot]'") from None
    return plt


def axes(ax: Any, what: str) -> Any:
    """``ax``, or the current Axes of pyplot when ``ax`` is ``None``."""
    if ax is not None:
        return ax
    return pyplot(what).gca()
