"""What a pickle holds instead of the real objects: stand-ins it cannot change or call freely.

A pickle never gets the objects on the allow-list themselves: it gets stand-ins
(:class:`StandIn`, made by :mod:`cldata.core.safe_pickle.allowlist`), which are not classes
(so the ``NEWOBJ`` opcodes, which call ``cls.__new__`` directly, cannot use them) and refuse
a ``BUILD``. An ndarray that an allowed constructor returns reaches the pickle
:class:`Wrapped`; private classes a pickle may get as classes are :class:`SealedType`; the
private values it may set the state of once (arrays) are :class:`PrivateValue`. The walk of
the loaded value (:mod:`cldata.core.safe_pickle.walk`) replaces every stand-in by the object
it stands for. Refusals name the load under way (:data:`ACTIVE`), through :func:`refusal`.

Examples
--------
>>> refusal("calls os.system")
UnsafeContentError('the pickle calls os.system; refused, nothing was executed')
"""

from __future__ import annotations

import contextvars
from typing import Any

from cldata.errors import UnsafeContentError

__all__ = ["ACTIVE", "PrivateValue", "SealedType", "StandIn", "Wrapped", "refusal"]

ACTIVE: contextvars.ContextVar[Any] = contextvars.ContextVar("cldata_pickle_budget", default=None)
"""The budget of the load under way in this context (see :func:`cldata.core.safe_pickle.current_budget`)."""


def refusal(message: str) -> UnsafeContentError:
    """The error that refuses what the pickle being loaded does (``message`` says what), naming its source."""
    budget = ACTIVE.get()
    where = budget.where() if budget is not None else ""
    return UnsafeContentError(f"the pickle{where} {message}; refused, nothing was executed")


class StandIn:
    """Base of what a pickle holds where it names an allowed object: ``value`` is that object.

    The walk of a loaded value replaces every stand-in by its ``value``.
    """

    __slots__ = ()
    value: Any


class Wrapped:
    """An ndarray (a neo signal, say) that an allowed constructor returned, as the pickle holds it:
    a BUILD on the array itself would give it any state numpy trusts, so the pickle gets this."""

    __slots__ = ("obj", "_ignore_state")

    def __init__(self, obj: Any, ignore_state: bool = False):
        self.obj = obj
        self._ignore_state = ignore_state

    def __setstate__(self, state: Any) -> None:
        if not self._ignore_state:
            raise refusal(f"sets the state of a {type(self.obj).__name__} built by a constructor")

    def __reduce__(self) -> Any:
        raise TypeError("a wrapped value cannot be pickled")


class PrivateValue:
    """Mixin of the private classes a pickle gets instead of public ones (an array whose state
    it may set once, checked): the loaded value holds :meth:`publish` of each instance."""

    __slots__ = ()

    def publish(self) -> Any:
        raise NotImplementedError


class SealedType(type):
    """Metaclass of private classes a pickle may get as classes (for ``NEWOBJ``): a ``BUILD``
    on a class sets class attributes, which these refuse; they stand for ``public_type``."""

    public_type: type

    def __setattr__(cls, name: str, value: Any) -> None:
        raise refusal(f"sets the attribute {name!r:.40} of a class")

    def __delattr__(cls, name: str) -> None:
        raise refusal(f"deletes the attribute {name!r:.40} of a class")
