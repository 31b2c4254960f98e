"""Loading a pickle safely: scan its opcodes, unpickle with an allow-list, walk the result.

:class:`RestrictedUnpickler` is a :class:`pickle.Unpickler` that resolves globals only from
an :class:`~cldata.core.safe_pickle.allowlist.AllowList` and loads within a budget
(:class:`~cldata.core.safe_pickle.limits.PickleLimits`): it reads the pickle whole, scans it
(:class:`~cldata.core.safe_pickle.scan.Scan`) before the C unpickler runs any of it, makes
the budget the load under way while unpickling, and walks the loaded value
(:mod:`cldata.core.safe_pickle.walk`) into the value returned. :func:`safe_loads` is the
one-call form.

Examples
--------
>>> import pickle
>>> safe_loads(pickle.dumps({"culture": "C7", "session": 3}, 0))
{'culture': 'C7', 'session': 3}
"""

from __future__ import annotations

import io
import pickle
from typing import Any

from cldata.core.safe_pickle.allowlist import ATTRIBUTE_ALLOWLIST, AllowList
from cldata.core.safe_pickle.budget import Budget
from cldata.core.safe_pickle.limits import DEFAULT_LIMITS, PickleLimits
from cldata.core.safe_pickle.scan import Scan
from cldata.core.safe_pickle.standins import ACTIVE
from cldata.errors import ContentLimitError, UnsafeContentError

__all__ = ["RestrictedUnpickler", "safe_loads"]


class RestrictedUnpickler(pickle.Unpickler):
    """A :class:`pickle.Unpickler` whose globals come only from an :class:`AllowList`, within limits.

    Parameters
    ----------
    file
        A binary file-like object holding the pickle.
    allowlist
        What the pickle may name; :data:`ATTRIBUTE_ALLOWLIST` by default.
    source
        Where the bytes came from, used in error messages (a file and node path, say).
    limits
        How much the pickle may build (:data:`DEFAULT_LIMITS` by default; see :class:`PickleLimits`).
        They grow with the pickle's length: the unpickler reads ``file`` whole when it is made, and
        scans the opcodes before it loads them.

    Examples
    --------
    >>> import io, pickle
    >>> RestrictedUnpickler(io.BytesIO(pickle.dumps([1, 2.5, "x"]))).load()
    [1, 2.5, 'x']
    """

    def __init__(self, file: Any, allowlist: AllowList = ATTRIBUTE_ALLOWLIST, source: str = "",
                 limits: PickleLimits | None = None):
        # the opcodes are scanned before they are loaded (see Scan), so the pickle is read whole
        self._data = file.getvalue() if isinstance(file, io.BytesIO) and file.tell() == 0 else file.read()
        self._input = io.BytesIO(self._data)
        super().__init__(self._input, fix_imports=False, encoding="latin1")
        self._allowlist = allowlist
        self._source = source
        self._limits = limits if limits is not None else DEFAULT_LIMITS

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowlist[(module, name)]
        except KeyError:
            where = f" in {self._source}" if self._source else ""
            raise UnsafeContentError(
                f"the pickle{where} names {module}.{name}, which is not on cldata's allow-list "
                "of types that are safe to load; nothing was executed. If this file comes "
                "from a source you do not fully trust, do not load it with plain pickle."
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafeContentError("the pickle refers to a persistent object; refused")

    def load(self) -> Any:
        """Load the pickle, then check and count the value (see the module doc) and return it."""
        start = self._input.tell()
        budget = Budget(self._limits, len(self._data) - start, self._source)
        Scan(self._data, budget).run(start)
        token = ACTIVE.set(budget)
        try:
            return budget.walk(super().load())
        except MemoryError:
            # the C unpickler allocates the length a BINBYTES8/BINUNICODE8 opcode claims before it
            # reads the bytes: a few bytes can claim a terabyte (nothing is touched; malloc fails)
            raise ContentLimitError(
                f"the pickle{budget.where()} asks for more memory than this process can allocate; refused") from None
        finally:
            ACTIVE.reset(token)


def safe_loads(data: bytes, allowlist: AllowList = ATTRIBUTE_ALLOWLIST, source: str = "",  # noqa: D417
               limits: PickleLimits | None = None) -> Any:
    """Unpickle ``data``, building only objects from ``allowlist``, within ``limits``.

    Raises
    ------
    cldata.errors.UnsafeContentError
        If the pickle names anything outside the allow-list (nothing has run).
    cldata.errors.ContentLimitError
        If it would build more, or nest deeper, than ``limits`` allow (:data:`DEFAULT_LIMITS`
        unless given; see :class:`PickleLimits`), or build a container that contains itself.
    pickle.UnpicklingError
        If ``data`` is not a well-formed pickle.

    Examples
    --------
    >>> import numpy as np, pickle
    >>> safe_loads(pickle.dumps(np.arange(3)))
    array([0, 1, 2])
    """
    data = bytes(data)
    try:
        return RestrictedUnpickler(io.BytesIO(data), allowlist, source, limits).load()
    except UnsafeContentError as exc:
        text = str(exc)
        if source and source not in text:
            raise type(exc)(f"{text} (in {source})") from None
        raise
