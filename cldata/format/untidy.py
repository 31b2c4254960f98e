"""Saying what is off in a recording once: the reader's warn-once notes.

Strict when writing, tolerant when reading: a recording that is untidy (an attribute
missing or of another type, a part cldata cannot interpret...) opens, and each thing that
is off is said once per opened file, as an :class:`~cldata.errors.UntidyRecordingWarning`
naming the file, what is off and what cldata does about it (docs/READER-TOLERANCE.md lists
every case). :class:`UntidyNotes` is that hook: the reader, its event tables, data streams
and neo segments call it with a key and a message, and a key already said is not said again.

Examples
--------
>>> import warnings
>>> notes = UntidyNotes("rec.h5")
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     notes("channel_count", "has no channel_count; cldata takes 64 channels")
...     notes("channel_count", "has no channel_count; cldata takes 64 channels")
>>> [str(w.message) for w in caught]
['rec.h5: has no channel_count; cldata takes 64 channels']
"""

from __future__ import annotations

import sys
import warnings

import tables

from cldata.errors import UntidyRecordingWarning

__all__ = ["UntidyNotes", "describe_node"]


class UntidyNotes:
    """Says each thing that is off in one opened recording once, as an :class:`UntidyRecordingWarning`.

    Called as ``notes(key, message)``; a ``key`` already said is not said again. The warning
    points at the caller of the outermost cldata frame (the user's open or read; neo and
    contextlib frames may lie in between).
    """

    def __init__(self, source: str):
        self.source = source
        self.said: set[str] = set()

    def __call__(self, key: str, message: str) -> None:
        if key in self.said:
            return
        self.said.add(key)
        frame, level, outermost = sys._getframe(0), 1, 1
        while frame is not None:
            if frame.f_globals.get("__name__", "").split(".")[0] == "cldata":
                outermost = level
            frame, level = frame.f_back, level + 1
        warnings.warn(f"{self.source}: {message}", UntidyRecordingWarning, stacklevel=outermost + 1)


def describe_node(node: tables.Node) -> str:
    """A node's kind in words, for warnings ("an EArray of shape (10, 8) and dtype float32")."""
    kind = type(node).__name__
    article = "an" if kind[0] in "AEIOU" else "a"
    if isinstance(node, tables.Table):
        return f"a Table with columns {node.colnames}"
    if isinstance(node, tables.Leaf) and hasattr(node, "atom"):
        return f"{article} {kind} of shape {tuple(int(n) for n in node.shape)} and dtype {node.atom.dtype}"
    return f"{article} {kind}"
