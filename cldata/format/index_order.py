"""Whether a data stream's index rows are known to be in timestamp order, without reading them.

The model: the CL format promises data-stream index rows in strictly increasing timestamp
order, and the CL simulator does not always keep that promise (docs/READER-TOLERANCE.md).
A reader that bisects the index on disk — answering its first lookups from a few small
reads instead of loading the whole table — gives wrong answers where the promise is broken,
and no reading of *part* of an index can tell that the rest is in order. So the writer says
it: when cldata's writer closes a recording (and when :func:`cldata.normalize` writes a tidy
copy) it reads each stream's index back, checks that its timestamps strictly increase, and
records the number of rows it checked in the index table's attribute
``cldata_rows_in_time_order``.

The reader trusts the mark only when it names the table's current row count (rows appended
later, by any tool, void it; a table rebuilt by another tool, or a CL file, has no mark),
and it still checks every row it reads, loading the whole index at the first row it sees
out of order. Files without the mark are read as before: the whole index on first use.

Examples
--------
>>> with tables.open_file("rec.h5", "a") as f:                       # doctest: +SKIP
...     mark_time_order(f.root.data_stream.ball.index)
True
>>> with tables.open_file("rec.h5") as f:                            # doctest: +SKIP
...     time_order_marked(f.root.data_stream.ball.index)
True
"""

from __future__ import annotations

import numpy as np
import tables

__all__ = ["TIME_ORDER_ATTR", "rows_in_time_order", "mark_time_order", "time_order_marked"]

TIME_ORDER_ATTR = "cldata_rows_in_time_order"
_CHECK_ROWS = 1 << 16  # rows read at a time when checking (1.5 MiB)


def rows_in_time_order(table: tables.Table) -> bool:
    """Whether the ``timestamp`` column of ``table`` strictly increases (read in blocks).

    Examples
    --------
    >>> rows_in_time_order(f.root.data_stream.ball.index)            # doctest: +SKIP
    True
    """
    n = int(table.nrows)
    last = None
    for a in range(0, n, _CHECK_ROWS):
        ts = table.read(a, min(n, a + _CHECK_ROWS))["timestamp"]
        if ts.size > 1 and not bool((ts[1:] > ts[:-1]).all()):
            return False
        if ts.size and last is not None and not ts[0] > last:
            return False
        if ts.size:
            last = ts[-1]
    return True


def mark_time_order(table: tables.Table) -> bool:
    """Check the rows of a data-stream index and, if they are in order, mark the table so.

    A table found out of order loses any mark it had. Returns whether it is in order.

    Examples
    --------
    >>> mark_time_order(f.root.data_stream.ball.index)               # doctest: +SKIP
    True
    """
    ordered = rows_in_time_order(table)
    if ordered:
        table._v_attrs[TIME_ORDER_ATTR] = np.int64(table.nrows)
    elif TIME_ORDER_ATTR in table._v_attrs._v_attrnamesuser:
        del table._v_attrs[TIME_ORDER_ATTR]
    return ordered


def time_order_marked(table: tables.Table) -> bool:
    """Whether ``table`` carries a time-order mark naming its current row count.

    Reads one attribute (a plain integer: PyTables pickles nothing for it; a pickled value
    there is not a mark, and the PyTables guard installed by :mod:`cldata.format.attributes`
    keeps it from running).

    Examples
    --------
    >>> time_order_marked(f.root.data_stream.ball.index)             # doctest: +SKIP
    True
    """
    attrs = table._v_attrs
    if TIME_ORDER_ATTR not in attrs._v_attrnamesuser:
        return False
    value = getattr(attrs, TIME_ORDER_ATTR, None)
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    return (isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
            and int(value) == int(table.nrows))
