"""The operation records a recording is made of, as the journal keeps them.

A recording is built by a sequence of records: ``open`` (the root attributes), ``stream``
(a new data stream and its attributes), ``attrs`` (attributes changed), ``batch`` (what one
flush appends: one value per part of :data:`cldata.format.parts.PARTS`) and ``close``
(the closing root attributes). The writer journals each record and then applies it to the
HDF5 file (:class:`cldata.format.hdf5_file.RecordingFile`); recovery and live followers read
them back. In the journal, attribute values are a pickle of allow-listed types (so that
tuples, sets and numpy scalars come back as themselves), loaded through the restricted
unpickler: reading a journal runs nothing from the file.

Examples
--------
>>> attrs_from_journal(attrs_to_journal({"n": (1, 2)}))
{'n': (1, 2)}
>>> journal_form({"op": "stream", "name": "score", "attrs": {}})["attrs"][:1]
b'\\x80'
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from typing import Any

from cldata.core.safe_pickle import safe_loads
from cldata.errors import InvalidDataError

__all__ = ["attrs_to_journal", "attrs_from_journal", "journal_form", "from_journal"]

# the records whose "attrs" are attribute values (pickled in the journal)
_WITH_ATTRIBUTES = ("stream", "attrs")


def attrs_to_journal(attrs: Mapping[str, Any]) -> bytes:
    """Attribute values as the journal keeps them: a pickle of allow-listed types only.

    Pickle (not msgpack) so that tuples, sets and numpy scalars come back as themselves;
    :func:`attrs_from_journal` loads it through the restricted unpickler.
    """
    return pickle.dumps(dict(attrs), protocol=2)


def attrs_from_journal(data: bytes) -> dict[str, Any]:
    """Inverse of :func:`attrs_to_journal` (restricted: runs nothing from the file)."""
    value = safe_loads(data, source="recording journal")
    if not isinstance(value, dict):
        raise InvalidDataError("journal attributes are not a dict")
    return value


def journal_form(record: dict[str, Any]) -> dict[str, Any]:
    """A ``stream``, ``attrs`` or ``batch`` record as the journal keeps it (attributes pickled)."""
    if record["op"] in _WITH_ATTRIBUTES:
        return {**record, "attrs": attrs_to_journal(record["attrs"])}
    return record


def from_journal(record: dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`journal_form`: the record as :class:`RecordingFile.apply` takes it."""
    if record["op"] in _WITH_ATTRIBUTES:
        return {**record, "attrs": attrs_from_journal(record["attrs"])}
    return record
