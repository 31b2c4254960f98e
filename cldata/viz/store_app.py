"""The store view: a store's recordings and results as tables, narrowed by a query box, with click-through.

The model: the page shows one selection of the store, a :class:`~cldata.DataStoreView`. The
query box takes the text a user would type after ``cldata query STORE`` — bare ``KEY=VALUE``
filters (``culture=A session=2``) and the options ``--filter``, ``--streams``, ``--tag`` and
``--between`` — parsed and applied by the same code as the command line
(:mod:`cldata.batch.query_syntax`). Every change of the box redraws, from the catalog alone:

- a summary line (how many recordings and results match, and the window);
- the recordings table (:meth:`~cldata.DataStoreView.recordings_frame`: one row per recording,
  its parameters as columns, nested ones flattened to dotted names, with its duration and
  counts), sortable and filterable by column;
- the results table (:meth:`~cldata.DataStoreView.results_frame`: kind, identifier, analysis
  parameters, a single value and its units), with the scalar metrics the catalog keeps
  (:meth:`~cldata.DataStoreView.metric_frame`) as more columns.

A box that cannot mean anything leaves the tables as they were and says why under the box (the
error's message, in the words typed); it is never raised into the server's log. Clicking a
recording opens it in the same page (the recording view of :mod:`cldata.viz.recording_app`, or
what ``open_recording`` returns) with a button back to the store; clicking a result shows its
parameters, sources, tags, summary and fields below the tables.

Examples
--------
>>> import cldata, cldata.viz.store_app as sa                 # doctest: +SKIP
>>> sa.store_viewer(cldata.open("cldata-demo/store"))        # doctest: +SKIP
"""

from __future__ import annotations

import html
import numbers
import warnings
from collections.abc import Callable
from functools import partial
from typing import Any

from cldata.batch.query_syntax import apply_view_options, parse_query
from cldata.core.display import flatten, html_fields, plural, short
from cldata.errors import CldataError, CldataWarning
from cldata.store.display import window_description
from cldata.viz.deps import local_stylesheets, panel

__all__ = ["store_viewer", "StoreApp", "QUERY_HINT"]


pn = panel()

#: What the query box suggests while it is empty.
QUERY_HINT = "culture=A session=2   --tag good   --streams score   --between 0 1.5s"
#: Rows per page of each table.
PAGE_SIZE = 20


def _md(text: str) -> str:
    """``text`` shown as it is in a Markdown pane (no HTML, no emphasis from what was typed)."""
    return html.escape(text, quote=False).replace("*", "\\*").replace("_", "\\_")


def _cell(value: Any) -> Any:
    """A table cell: numbers, strings, booleans and empties as they are, anything else as short text."""
    if value is None or isinstance(value, (str, bool, numbers.Number)):
        return value
    return short(value, limit=120)


def _text(value: Any, limit: int = 120) -> str:
    """A value in a result's details: strings as they are, the rest as :func:`~cldata.core.display.short` writes it."""
    return value if isinstance(value, str) and len(value) <= limit else short(value, limit)


def _table_frame(frame: Any) -> Any:
    """``frame`` with every cell a Tabulator can show (lists, dicts and quantities as text)."""
    return frame.map(_cell) if len(frame.columns) else frame


class StoreApp:
    """The parts of the store view, kept so that tests (and a caller) can reach them.

    Attributes
    ----------
    store
        The store (or a view of one) the page selects from.
    view
        The selection shown (the store narrowed by the last query that meant something).
    query : panel.widgets.TextInput
        The query box.
    message : panel.pane.Alert
        Why the last query was refused (hidden while the query is fine).
    summary : panel.pane.Markdown
        How many recordings and results match.
    recordings, results : panel.widgets.Tabulator
        The tables.
    detail : panel.Column
        The result clicked last.
    store_page, recording_page : panel.Column
        The page's two parts, one shown at a time: the store, or the recording opened from it.
    main : panel.Column
        Both parts.
    layout : panel.viewable.Viewable
        The whole view.
    """

    def __init__(self, store: Any, *, open_recording: Callable[[Any], Any] | None = None):
        self.store = store
        self.view = store
        self.open_recording = open_recording
        self.query = pn.widgets.TextInput(label="Query (what you would type after: cldata query STORE)",
                                          placeholder=QUERY_HINT, sizing_mode="stretch_width")
        self.message = pn.pane.Alert("", alert_type="danger", visible=False, sizing_mode="stretch_width")
        self.summary = pn.pane.Markdown("", sizing_mode="stretch_width")
        table = dict(disabled=True, show_index=False, header_filters=True, pagination="local", page_size=PAGE_SIZE,
                     sizing_mode="stretch_width", selectable=1)
        self.recordings = pn.widgets.Tabulator(**table)
        self.results = pn.widgets.Tabulator(**table)
        self.detail = pn.Column(sizing_mode="stretch_width", name="result")
        self.back = pn.widgets.Button(label="← back to the store", color="primary")
        self.back.on_click(lambda _: self.show_store())
        self.store_page = pn.Column(
            self.query, self.message, self.summary,
            pn.pane.Markdown("### Recordings · click one to open it"), self.recordings,
            pn.pane.Markdown("### Analysis results · click one to see it"), self.results, self.detail,
            sizing_mode="stretch_width")
        # the store's tables stay in the page (hidden) while a recording is open: "back" shows them as
        # they were, and a table is never taken out of the page in the middle of its own click
        self.recording_page = pn.Column(sizing_mode="stretch_width", visible=False)
        self.main = pn.Column(self.store_page, self.recording_page, sizing_mode="stretch_width")
        self.layout = pn.Column(pn.pane.Markdown(f"## {_md(self._title())}"), self.main,
                                sizing_mode="stretch_width", name="store")
        self.layout.app = self  # (what made it: tests and callers reach its tables and pages)
        self.query.param.watch(lambda event: self.apply(event.new), "value")
        self.recordings.on_click(self._recording_clicked)
        self.results.on_click(self._result_clicked)
        self.apply("")

    def _title(self) -> str:
        root = getattr(getattr(self.store, "full_datastore", self.store), "root", None)
        return f"cldata store {root}" if root is not None else "cldata store"

    # -- the query ------------------------------------------------------------------------------

    def apply(self, text: str) -> bool:
        """Show the selection ``text`` asks for; on a query that cannot mean anything, say why and
        keep the tables. Returns whether the query was applied.

        Examples
        --------
        >>> app.apply("culture=A --tag final")                  # doctest: +SKIP
        True
        """
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", CldataWarning)
                view = apply_view_options(self.store, parse_query(text or "", chain_files=False))
                if isinstance(view, list):  # only a --chain partitions, and the box reads no chain file
                    raise CldataError("this query splits the store into parts; the store view shows one selection")
                frames = (_table_frame(view.recordings_frame()), _table_frame(self.results_frame(view)))
        except CldataError as exc:
            self._say(text, str(exc), "danger")
            return False
        self.view = view
        said = [str(w.message) for w in caught if issubclass(w.category, CldataWarning)]
        self._say(text, " ".join(said), "warning")
        self.recordings.value, self.results.value = frames
        self.detail.objects = []
        self.summary.object = self.summary_text()
        return True

    def _say(self, text: str, message: str, kind: str) -> None:
        """Show ``message`` about the query ``text`` under the box (hide the box's message if empty)."""
        self.message.alert_type = kind
        self.message.object = f"**{_md(text)}**: {_md(message)}" if message else ""
        self.message.visible = bool(message)

    def summary_text(self) -> str:
        """How many recordings and results the selection holds (and its window, if any)."""
        view = self.view
        n_rec = len(self.recordings.value) if self.recordings.value is not None else 0
        n_res = len(self.results.value) if self.results.value is not None else 0
        total = getattr(self.store, "full_datastore", self.store)
        text = (f"**{plural(n_rec, 'recording')}** and **{plural(n_res, 'analysis result')}** match "
                f"(the store holds {plural(len(total.recording_ids), 'recording')})")
        window = getattr(view, "window", None)
        if window is not None and not window.is_everything:
            text += f" · window {window_description(window, None)}"
        return text

    @staticmethod
    def results_frame(view: Any) -> Any:
        """The view's results, one row each: id, kind, identifier, sources, tags, a single value and
        its units, the analysis parameters, then each scalar metric the catalog keeps."""
        frame = view.results_frame()
        names = view.metric_names() if len(frame) else []
        single = set(frame.loc[frame["value"].notna(), "identifier"]) if len(frame) else set()
        names = [m for m in names if m not in single]  # a SingleValue's value is already in "value"
        if not names:
            return frame
        metrics = view.metric_frame(*names).set_index("result")[names]
        metrics.columns = [m if m not in frame.columns else f"metric.{m}" for m in names]
        return frame.join(metrics, on="id")

    # -- clicks -----------------------------------------------------------------------------------

    # A click is answered on the server's next tick, not inside the table's event: building the
    # recording view while Tabulator's click is being processed hangs the browser's page.
    def _recording_clicked(self, event: Any) -> None:
        pn.state.execute(partial(self.open, self.recordings.value["id"].iloc[event.row]), schedule=True)

    def _result_clicked(self, event: Any) -> None:
        pn.state.execute(partial(self.show_result, self.results.value["id"].iloc[event.row]), schedule=True)

    def open(self, recording_id: str) -> Any:
        """Open a recording of the selection in the page (with a button back to the store).

        The handle is the selection's own (its window and streams apply). ``open_recording(handle)``
        makes what is shown, if it was given; else the recording view. Returns what is shown.
        """
        handle = self.view.recording(recording_id)
        if self.open_recording is not None:
            shown = self.open_recording(handle)
        else:
            # why: the recording view builds HoloViews plots when imported; a store page that opens no recording needs none
            from cldata.viz.recording_app import recording_viewer

            shown = recording_viewer(handle)
        page = [self.back, pn.pane.Markdown(f"### {_md(recording_id)}")]
        self.store_page.visible, self.recording_page.visible = False, True
        with local_stylesheets():
            self.recording_page.objects = page + ([shown] if shown is not None else [])
        return shown

    def show_store(self) -> None:
        """Back to the store's tables, as they were."""
        self.store_page.visible, self.recording_page.visible = True, False
        for part in self.recording_page.objects:  # the recording view's open files close with it
            app = getattr(part, "app", None)
            if app is not None:
                app.close()
        self.recording_page.objects = []

    def show_result(self, result_id: str) -> None:
        """Show one result of the selection below the tables: its parameters, sources, tags,
        catalog summary and fields."""
        entries = self.view.selection.result_entries(self.view.catalog).values()
        entry = next(e for e in entries if e.id == result_id)
        result = self.view.full_datastore.result_object(entry)
        about: dict[str, Any] = {"kind": entry.kind, "identifier": entry.identifier,
                                 "sources": ", ".join(entry.sources) or "none", "tags": ", ".join(entry.tags) or "none"}
        about.update({f"parameter {k}": _text(v) for k, v in flatten(entry.parameters).items()})
        about.update({f"summary {k}": _text(v) for k, v in flatten(entry.summary or {}).items()})
        fields: dict[str, Any] = {}
        for name in type(result).fields:
            try:
                fields[name] = _text(getattr(result, name), 200)
            except CldataError as exc:  # a payload that cannot be read is said, not raised into the server
                fields[name] = f"(unreadable: {exc})"
        with local_stylesheets():
            self.detail.objects = [pn.pane.HTML(html_fields(f"{result_id}", about), sizing_mode="stretch_width"),
                                   pn.pane.HTML(html_fields("fields", fields), sizing_mode="stretch_width")]


def store_viewer(store: Any, *, open_recording: Callable[[Any], Any] | None = None) -> Any:
    """The store view of ``store``: a query box, its recordings and results as tables, click-through.

    Parameters
    ----------
    store
        A store (``cldata.open(path)``) or a view of one.
    open_recording : callable, optional
        Called with the :class:`~cldata.RecordingHandle` of a clicked recording; what it returns
        (a Panel object, or None) is shown in the page. Default: the recording view
        (:func:`cldata.viz.recording_app.recording_viewer`).

    Returns
    -------
    panel.viewable.Viewable
        The layout: show it in a notebook, or serve it (``cldata view STORE``).

    Examples
    --------
    >>> store_viewer(cldata.open("cldata-demo/store"))           # doctest: +SKIP
    """
    return StoreApp(store, open_recording=open_recording).layout
