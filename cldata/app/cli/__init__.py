"""The ``cldata`` command line: one entry point, one sub-command per job.

Examples
--------
::

    cldata demo                                  # simulated recordings, analyses, summary and figure
    cldata simulate sample.h5 --seconds 2        # one simulated recording to try things on
    cldata run param/demo_rates.param --set executor.kind=serial
    cldata run param/demo_psth.param --scheduler tcp://10.0.0.9:8786 --max-units 500000
    cldata info lab-store                        # a store (or a recording, or an export)
    cldata import lab-store rec1.h5 rec2.h5 --param culture=C7 --create   # --create: a new store
    cldata query lab-store --filter culture=C7,C8 --filter "session=[1, 2]" --tag final --values
    cldata export lab-store shared.h5 --filter culture=C7
    cldata nwb lab-store nwb/ --no-link --filter culture=C7   # one NWB file per recording (nwb extra)
    cldata check lab-store --repair

Errors
------
Every error is one line on stderr, ``cldata COMMAND: what was wrong`` and, where a flag
fixes it, that flag (``--create``, ``--overwrite``, ``--replace``); ``cldata --debug
COMMAND ...`` shows the traceback instead. The exit status is 2 when what was typed cannot
mean anything (an unknown option, a malformed or unknown value, flags that do not go
together) and 1 when the command was understood but could not be done (a missing file, a
damaged store, a path that already exists); ``cldata check`` also returns 3 when its time
budget ran out. An error the command line did not foresee says "internal error" and asks
for ``--debug``: no traceback reaches the terminal without it.

Nothing is created by mistake: the reading commands (``info``, ``query``, ``export``,
``check``) never create a store, ``import`` and ``run`` make a missing store only with
``--create``, and a command that fails removes what it created.

Where things are: :mod:`~cldata.app.cli.parser` declares every sub-command and its options;
each command is a function in :mod:`~cldata.app.cli.run_commands` (``demo``, ``simulate``,
``run``), :mod:`~cldata.app.cli.store_commands` (``info``, ``import``, ``check``,
``upgrade``, ``normalize``) or :mod:`~cldata.app.cli.query_commands` (``query``,
``export``) or :mod:`~cldata.app.cli.nwb_commands` (``nwb``); what a path is lives in :mod:`~cldata.app.cli.paths`, typed values in
:mod:`~cldata.app.cli.values`, and the one-line errors in :mod:`~cldata.app.cli.errors`.
A new sub-command is a function in one of those modules and its entry in the parser.
"""

from __future__ import annotations

import sys
import warnings

from cldata.app.cli.errors import cli_words, error_line, warning_line
from cldata.app.cli.parser import build_parser

__all__ = ["main", "build_parser", "cli_words"]


def main(argv: list[str] | None = None) -> int:
    """Run the ``cldata`` command; return its exit status.

    Every error becomes one line on stderr (see the module doc); ``--debug`` raises it
    instead, with its traceback.

    Examples
    --------
    >>> main(["info", "no-such-file.h5"])      # doctest: +SKIP
    cldata info: no such file or directory: no-such-file.h5 (expected a CL recording file (.h5), ...)
    1
    """
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:  # said by the command's parser, so that the message names the command
            args.commands[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as done:  # --help, --version, or a usage error already printed
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 2)
    try:
        with warnings.catch_warnings():  # (restores how warnings are shown when the command ends)
            if not args.debug:
                warnings.showwarning = warning_line(args.command)
            return args.func(args)
    except BrokenPipeError:  # output piped into `head` and the like
        return 0
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"cldata {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        line, status = error_line(exc)
        print(f"cldata {args.command}: {line}", file=sys.stderr)
        return status
