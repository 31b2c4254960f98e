"""How the command line speaks of errors: one line on stderr, in its own words, with an exit status.

The library's messages speak Python (``overwrite=True``); :func:`cli_words` turns them
into the command line's flags (``--overwrite``). :func:`error_line` turns any exception
into the one line the user sees and the exit status (2: what was typed cannot mean
anything; 1: the command could not be done); an error nobody foresaw says "internal
error" and asks for ``--debug``. :func:`warning_line` shows a warning the same way.

Examples
--------
>>> error_line(CliError("--budget is a number of seconds >= 0", 2))
('--budget is a number of seconds >= 0', 2)
"""

from __future__ import annotations

import re
import sys
from typing import Any

from cldata.errors import CldataError, ParameterError

__all__ = ["CliError", "cli_words", "error_line", "warning_line"]


class CliError(Exception):
    """An error the command line found itself, already in its words.

    ``status`` is the exit status: 2 for what was typed (a value that cannot mean anything,
    flags that do not go together), 1 for what the command could not do.
    """

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


#: Library words -> command-line words, for the messages of errors raised below the CLI
#: (the library speaks Python: ``overwrite=True``; the command line has flags).
_CLI_WORDS: list[tuple[str, str]] = [
    (r"pass overwrite=True \(--overwrite\)", "pass --overwrite"),
    (r"overwrite=True", "--overwrite"),
    (r"open the store with replace=True", "pass --replace"),
    (r"replace=True", "--replace"),
    (r"create=True", "--create"),
    (r"wipe_store=True", "--wipe-store"),
    (r"\(readers can open it with mode='r'\)", "(info, query, export and check can still read it)"),
    (r"open it with backend='([^']*)' \(or None\)", r"pass --backend \1 (or no --backend)"),
    (r"`cldata check --repair (\S+)`", r"`cldata check \1 --repair`"),
]


def cli_words(message: str) -> str:
    """``message`` in the command line's words, on one line.

    Examples
    --------
    >>> cli_words("out.h5 exists; pass overwrite=True to replace it")
    'out.h5 exists; pass --overwrite to replace it'
    """
    for pattern, replacement in _CLI_WORDS:
        message = re.sub(pattern, replacement, message)
    return re.sub(r"\s*\n\s*", " ", message.strip())


def error_line(exc: BaseException) -> tuple[str, int]:
    """The one line an error becomes, and the exit status."""

    if isinstance(exc, CliError):
        return cli_words(str(exc)), exc.status
    if isinstance(exc, CldataError):
        return cli_words(str(exc)), 2 if isinstance(exc, ParameterError) else 1
    if isinstance(exc, OSError):
        if exc.strerror and exc.filename is not None:  # raised by the OS: "[Errno 2] ..." made readable
            text = f"{exc.strerror[:1].lower()}{exc.strerror[1:]}: {exc.filename}"
            if exc.filename2 is not None:
                text += f" -> {exc.filename2}"
            return text, 1
        return cli_words(str(exc) or type(exc).__name__), 1
    if isinstance(exc, ImportError):  # an optional dependency that is not installed
        return cli_words(str(exc)), 1
    return (f"internal error ({type(exc).__name__}: {cli_words(str(exc))[:300]}); this is a bug in cldata: "
            "rerun with --debug to see the traceback, and report it"), 1


def warning_line(command: str) -> Any:
    """Show a warning as one line in the command line's words (``--debug``: as Python does)."""
    def show(message: Any, category: type, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
        print(f"cldata {command}: warning: {cli_words(str(message))}", file=sys.stderr if file is None else file)

    return show
