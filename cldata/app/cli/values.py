"""Values typed on the command line: ``KEY=VALUE`` assignments and time bounds.

One implementation, shared with the viewer's query box: :mod:`cldata.batch.query_syntax`.
Values are parsed as safe literals by the parameter-file parser (``session=2`` is a
number, ``culture=C7`` a string); a time bound is frames (``25000``), a time (``1s``,
``100ms``) or ``none``. What cannot mean anything is a
:class:`~cldata.errors.ParameterError`, which the command line shows with status 2.

Examples
--------
>>> time_value("25000"), time_value("none")
(25000, None)
"""

from __future__ import annotations

from cldata.batch.query_syntax import parse_assignments, time_value

__all__ = ["parse_assignments", "time_value"]
