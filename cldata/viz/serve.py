"""Which view a path gets, and serving it in the browser (``cldata view PATH``).

A path is one of three things to look at:

- a **store** (a directory with ``cldata-store.json``, or a store export file): the store view
  (:func:`cldata.viz.store_app.store_viewer`), from which each recording opens;
- a **recording being written** (a CL file with its writer's journal beside it, or only the
  journal while the writer starts): the live view (:func:`cldata.viz.live_app.live_viewer`),
  which becomes the recording view when the writer finishes;
- a **finished recording** (a CL file): the recording view
  (:func:`cldata.viz.recording_app.recording_viewer`).

:func:`viewer_for` returns a function making that view (one per browser session: each
browser tab gets its own widgets and plots); :func:`make_server` serves it with Panel's Bokeh
server at ``/`` of a port; :func:`serve` also prints the address and runs until Ctrl-C.

Examples
--------
>>> kind, make = viewer_for("cldata-demo/store")                  # doctest: +SKIP
>>> kind
'store'
>>> serve("cldata-demo/store", port=5006)                         # doctest: +SKIP
cldata view: the store cldata-demo/store at http://localhost:5006/ (Ctrl-C stops)
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cldata.errors import (
    CldataError,
    NotARecordingError,
    ParameterError,
    RecordingInProgressError,
    UnfinishedRecordingError,
)
from cldata.format.journal import journal_path
from cldata.format.reader import RecordingView
from cldata.store.layout import MARKER
from cldata.store.opening import open_store
from cldata.viz.deps import bokeh_settings, panel

__all__ = ["viewer_for", "make_server", "serve", "DEFAULT_PORT"]

#: Bokeh's own default port.
DEFAULT_PORT = 5006


def _is_export(path: Path) -> bool:
    try:
        open_store(path).close()
        return True
    except (CldataError, OSError):
        return False


def viewer_for(path: str | os.PathLike[str]) -> tuple[str, Callable[[], Any]]:
    """``(kind, make)``: what ``path`` is (``"store"``, ``"live"``, ``"recording"``) and a function
    making its view.

    Raises
    ------
    FileNotFoundError
        If nothing is at ``path`` (nor a writer's journal for it).
    cldata.errors.NotARecordingError
        If ``path`` is neither a store, a store export nor a CL recording.
    cldata.errors.UnfinishedRecordingError
        If the recording's writer died without closing it (``cldata.recover`` it first).
    """
    path = Path(path)
    if path.is_dir():
        if not (path / MARKER).exists():
            raise NotARecordingError(f"{path} is a directory but not a cldata store (it has no {MARKER}): "
                                     "give a store directory, a store export or a CL recording file")
        return "store", lambda: _store_view(path)
    if not path.exists():
        if journal_path(path).exists():  # a writer has started and not yet made the file
            return "live", lambda: _live_view(path)
        raise FileNotFoundError(f"no such file or directory: {path} (expected a store directory, "
                                "a store export or a CL recording file)")
    try:
        RecordingView(path).close()
    except RecordingInProgressError:
        return "live", lambda: _live_view(path)
    except UnfinishedRecordingError:
        raise
    except NotARecordingError:
        if _is_export(path):
            return "store", lambda: _store_view(path)
        raise
    return "recording", lambda: _recording_view(path)


def _store_view(path: Path) -> Any:
    # why: each view module loads holoviews and panel (seconds); only the one asked for is imported
    from cldata.viz.store_app import store_viewer

    return store_viewer(open_store(path))


def _live_view(path: Path) -> Any:
    # why: each view module loads holoviews and panel (seconds); only the one asked for is imported
    from cldata.viz.live_app import live_viewer

    return live_viewer(path, channels=16)  # (the first 16 channels, as the recording view shows)


def _recording_view(path: Path) -> Any:
    # why: each view module loads holoviews and panel (seconds); only the one asked for is imported
    from cldata.viz.recording_app import recording_viewer

    return recording_viewer(path)


def make_server(make: Callable[[], Any], *, port: int = DEFAULT_PORT, address: str = "localhost",
                title: str = "cldata") -> Any:
    """A Bokeh server (not started) serving ``make()`` at ``/`` of ``port`` (0: any free port).

    Examples
    --------
    >>> server = make_server(lambda: recording_viewer("rec.h5"), port=0)  # doctest: +SKIP
    >>> server.start(); server.port                               # doctest: +SKIP
    """
    pn = panel()
    if not 0 <= int(port) <= 65535:
        raise ParameterError(f"port must be 0..65535 (0: any free port), not {port}")
    port = int(port) or _free_port(address)
    # every script and stylesheet from this server, also those of parts added after the page loaded
    # (the live view's, the store view's click-through): a viewer works without the internet
    bokeh_settings().resources.set_value("server")
    # the pages may open their websocket only from this server's own addresses
    origins = sorted({f"{host}:{port}" for host in (address, "localhost", "127.0.0.1")})
    return pn.serve({"/": make}, port=port, address=address, show=False, start=False,
                    websocket_origin=origins, title=title, verbose=False)


def _free_port(address: str) -> int:
    # a port the system hands out now (named in the allowed websocket origins, unlike Bokeh's port 0)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((address if address != "localhost" else "127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(path: str | os.PathLike[str], *, port: int = DEFAULT_PORT, address: str = "localhost",
          show: bool = False) -> None:
    """Serve the view of ``path`` (a store, a recording, a recording being written) until Ctrl-C.

    Prints the address; ``show`` also opens it in the default browser.
    """
    kind, make = viewer_for(path)
    if kind != "live":  # a view that cannot be made says why here, not in the browser's first session
        make()
    server = make_server(make, port=port, address=address, title=f"cldata: {Path(path).name}")
    server.start()
    url = f"http://{address}:{server.port}/"
    words = {"store": "the store", "live": "the recording being written", "recording": "the recording"}[kind]
    print(f"cldata view: {words} {path} at {url} (Ctrl-C stops)", flush=True)
    if show:
        server.show("/")
    try:
        server.io_loop.start()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
