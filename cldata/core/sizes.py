"""Sizes in bytes written as people write them: ``"1GB"``, ``"500 MiB"``, ``"1.5e9"``, ``2**30``.

The model: a number and an optional unit. Decimal units count in thousands (``kB``, ``MB``,
``GB``, ``TB``: 1 GB = 10**9 bytes, as disks and file-system limits are quoted), binary ones in
1024s (``KiB``, ``MiB``, ``GiB``, ``TiB``). Case is ignored (``1gb`` = ``1GB``) and ``B`` may be
left out (``1G``); a bare number is bytes.

Examples
--------
>>> parse_size("1GB"), parse_size("512 MiB"), parse_size(4096)
(1000000000, 536870912, 4096)
"""

from __future__ import annotations

import math
import re

from cldata.errors import ParameterError

__all__ = ["parse_size"]

_UNITS = {"": 1, "b": 1,
          "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9, "t": 10**12, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_SIZE = re.compile(r"^\s*(?P<number>[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*(?P<unit>[A-Za-z]*)\s*$")


def parse_size(size: int | str, *, what: str = "size") -> int:
    """``size`` in bytes (a whole number of them).

    Parameters
    ----------
    size
        A number of bytes, or text: a number and a unit (``"1GB"``, ``"1.5 GiB"``, ``"750MB"``).
    what
        The name of the setting, for the error message (a CLI passes its flag, ``"--split"``).

    Raises
    ------
    cldata.errors.ParameterError
        If ``size`` is not a positive size or its unit is not one of B, kB, MB, GB, TB, KiB,
        MiB, GiB, TiB.

    Examples
    --------
    >>> parse_size("2 kB"), parse_size("1.5KiB")
    (2000, 1536)
    """
    if isinstance(size, bool):
        raise ParameterError(f"{what}={size!r} is not a size: give bytes or text such as '1GB'")
    if isinstance(size, int):
        number, unit = float(size), ""
    else:
        match = _SIZE.match(str(size))
        if not match:
            raise ParameterError(f"{what}={size!r} is not a size: give a number and a unit, such as '1GB' or '500MiB'")
        number, unit = float(match["number"]), match["unit"].lower()
    if unit not in _UNITS:
        raise ParameterError(f"{what}={size!r}: unknown unit {match['unit']!r}; use B, kB, MB, GB, TB (powers of 1000) "
                             "or KiB, MiB, GiB, TiB (powers of 1024)")
    total = number * _UNITS[unit]
    if not math.isfinite(total) or total < 1:
        raise ParameterError(f"{what}={size!r} is not a positive size")
    return int(total)
