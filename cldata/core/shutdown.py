"""Closing what is still open when the interpreter exits, before PyTables does.

PyTables closes files left open at exit and warns about each one. Recording views and
stores that a notebook or script never closed are closed here first, quietly: this
module's exit hook is registered after PyTables' (cldata imports PyTables first), so it
runs before it.

Examples
--------
>>> from cldata.core.shutdown import close_at_exit
>>> close_at_exit(view)     # doctest: +SKIP
"""

from __future__ import annotations

import atexit
import weakref
from typing import Any

import tables  # noqa: F401 - imported first so that its exit hook runs after ours

__all__ = ["close_at_exit"]

_open: weakref.WeakSet[Any] = weakref.WeakSet()


def close_at_exit(obj: Any) -> None:
    """Close ``obj`` at interpreter exit if it is still alive.

    ``obj`` has ``close()``, or ``close_at_exit()`` when closing at exit must differ (a
    store discards uncommitted changes then: the program did not get to commit them, and
    may have died of an exception half-way through making them).
    """
    _open.add(obj)


@atexit.register
def _close_all() -> None:
    for obj in list(_open):
        try:
            getattr(obj, "close_at_exit", obj.close)()
        except Exception:
            pass
