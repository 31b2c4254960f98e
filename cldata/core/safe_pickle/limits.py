"""How much one pickle may make the loader build: :class:`PickleLimits`, and the shared small checks.

Every load has a budget (:mod:`cldata.core.safe_pickle.budget`) whose limits are a
:class:`PickleLimits`: a fixed allowance plus an allowance per byte of the pickle, so that a
legitimate pickle of any size loads while a small one cannot stand for a huge value. This
module also holds the two checks every part of the loader shares: :func:`describe` (a value
named in an error message without ever repr-ing a value from the pickle) and
:func:`is_shape`.

Examples
--------
>>> PickleLimits(max_depth=10).max_depth
10
>>> describe("a" * 100)
"'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'..."
"""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["PickleLimits", "DEFAULT_LIMITS", "describe", "is_shape"]


@dataclasses.dataclass(frozen=True)
class PickleLimits:
    """How much one pickle may make the loader build.

    A pickle of ``N`` bytes may make the loader

    - allocate at most ``max_bytes + 4 * N`` bytes: arrays (item size included: a dtype of
      2 GB items is refused before anything is allocated, and zero-size items count one byte
      each), strings and bytes, counted where a constructor builds them, in the arguments of
      every call and in the loaded value, with shared references counted each time;
    - build at most ``max_objects + 2 * N`` values, counted the same way (every element of a
      container, in arguments and in the loaded value, each time it is referenced);
    - nest containers at most ``max_depth`` levels deep; a container that contains itself is
      refused;
    - make the unpickler hash dict keys and set members in at most ``max_objects + 2 * N``
      steps (a tuple key costs its size, shared references counted each time), store at memo
      indices in order (65,536 ahead at most), and claim no more bytes than it holds.

    The terms in ``N`` make room for a legitimate pickle of any size (it describes each of
    its values at least once, in at least one byte); the fixed parts bound what a small
    pickle may stand for. Exceeding a limit raises :class:`~cldata.errors.ContentLimitError`.

    Parameters
    ----------
    max_bytes
        Fixed byte allowance (default 256 MiB).
    max_objects
        Fixed value allowance (default 1,000,000).
    max_depth
        Deepest nesting of containers (default 100).

    Examples
    --------
    A list of two references to a list of two references ..., 40 levels deep, is a few
    hundred bytes of pickle but a tree of 2**41 values:

    >>> import pickle
    >>> from cldata.core.safe_pickle import safe_loads
    >>> value = [0]
    >>> for _ in range(40):
    ...     value = [value, value]
    >>> safe_loads(pickle.dumps(value))
    Traceback (most recent call last):
    ...
    cldata.errors.ContentLimitError: the pickle would build more than 1,000,... values ...
    >>> safe_loads(pickle.dumps(list(range(10))), limits=PickleLimits(max_objects=5))
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    """

    max_bytes: int = 256 << 20
    max_objects: int = 1_000_000
    max_depth: int = 100

    #: bytes and values allowed per byte of the pickle, on top of the fixed allowances
    BYTES_PER_BYTE = 4
    OBJECTS_PER_BYTE = 2

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_objects", "max_depth"):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise ValueError(f"PickleLimits.{name} must be a non-negative int, not {value!r}")


DEFAULT_LIMITS = PickleLimits()
"""The limits every restricted load uses unless given others (see :class:`PickleLimits`)."""



def describe(value: Any) -> str:
    """``value`` named for an error message: short, and never a repr of a container from the pickle.

    A shared-reference tree would take as long to repr as to expand.
    """
    if isinstance(value, (bool, int, float, type(None))):
        text = repr(value)
        return text if len(text) <= 40 else text[:37] + "..."
    if isinstance(value, str):
        return repr(value[:40]) + ("..." if len(value) > 40 else "")
    if isinstance(value, tuple) and len(value) <= 8 and all(type(v) is int for v in value):
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."
    size = f" of length {len(value)}" if isinstance(value, (list, tuple, dict, set, frozenset, bytes)) else ""
    return f"a {type(value).__name__}{size}"



def is_shape(shape: Any) -> bool:
    """Whether ``shape`` is a plain tuple of at most 32 non-negative ints (an array's shape)."""
    return type(shape) is tuple and len(shape) <= 32 and all(type(n) is int and n >= 0 for n in shape)
