"""``cldata view PATH``: a store, a recording or a recording being written, in the browser.

The path decides the view (:func:`cldata.viz.serve.viewer_for`); the command serves it with
Panel's Bokeh server at ``/`` of ``--port`` on ``--address``, prints the address and runs
until Ctrl-C. The viewer's packages are the ``view`` extra: without them the command says
``pip install 'cldata[view]'``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cldata.app.cli.errors import CliError
from cldata.app.cli.paths import directory_hint
from cldata.errors import NotARecordingError
from cldata.viz.serve import serve

__all__ = ["view_command"]


def view_command(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise CliError(f"--port is a TCP port, 0..65535 (0: any free port), not {args.port}", 2)
    path = Path(args.path)
    try:
        serve(path, port=args.port, address=args.address, show=args.show)
    except NotARecordingError as exc:
        if path.is_dir():
            raise CliError(f"{path} is a directory{directory_hint(path)}, not a cldata store (it has no "
                           "cldata-store.json): expected a store directory, a store export or a CL recording "
                           "file") from None
        raise CliError(f"{exc}") from None
    except OSError as exc:
        if exc.errno == 98 or "in use" in str(exc).lower():
            raise CliError(f"port {args.port} is in use: give another with --port N (0: any free port)") from None
        raise
    return 0
