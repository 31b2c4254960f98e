"""Quantities that mean the same in every process: units by the names quantities defines.

A :class:`quantities.Quantity` carries its units as objects. Units that quantities defines
(``pq.ms``, ``pq.uV``) can be named and found again in any process; units made at run time
(``pq.UnitQuantity("furlong", ...)``) exist only in the process that made them, so a value
stored by unit name could not be read anywhere else. :func:`portable` keeps the first kind
as it is and turns the second into base SI units. Parameters (:mod:`cldata.core.canonical`)
and stored data streams (:mod:`cldata.format.codec`) both store quantities this way.

Examples
--------
>>> import quantities as pq
>>> portable(1.5 * pq.ms)
array(1.5) * ms
>>> portable(2 * pq.UnitQuantity("furlong", 201.168 * pq.m))   # doctest: +SKIP
array(402.336) * m
"""

from __future__ import annotations

import quantities as pq

__all__ = ["portable"]


def portable(q: pq.Quantity) -> pq.Quantity:
    """``q`` itself if all its units are ones quantities defines, else ``q`` in base SI units.

    Units made at run time (``pq.UnitQuantity("furlong", ...)``) exist only in the process
    that made them; stored by name, they could not be read anywhere else.

    Examples
    --------
    >>> import quantities as pq
    >>> q = 3 * pq.s
    >>> portable(q) is q
    True
    """
    # by name: a unit that crossed a process boundary by pickle is an equal copy, not the
    # same object, and quantities refuses a second unit under a name it defines
    if all(isinstance(getattr(pq.units, unit.name, None), pq.UnitQuantity) for unit in q.dimensionality):
        return q
    return q.simplified
