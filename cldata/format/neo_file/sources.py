"""Segments to store, from a neo Segment, a neo Block, or any file neo.io reads.

:func:`neo_segments` is the one entry: a :class:`neo.Segment` is itself, a :class:`neo.Block`
its segments, and a path is read by the neo IO its extension names (the candidates
``neo.io.get_io`` would try, in its order): lazily (``read_block(lazy=True)``) where the IO
supports it, so the segments hold proxies that :func:`write_neo_recording` loads one object
at a time; eagerly otherwise. NIX files are opened read-only (``neo.io.get_io`` would open them
read-write, creating a missing one).

Examples
--------
>>> [len(s.analogsignals) for s in neo_segments("data.nix")]     # doctest: +SKIP
[2, 2]
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import neo
from neo.io import list_candidate_ios

from cldata.errors import NotARecordingError

__all__ = ["neo_segments"]


def _open(cls: type, path: Path, io_kwargs: dict[str, Any]) -> Any:
    if cls.__name__ == "NixIO" and "mode" not in io_kwargs:
        return cls(str(path), mode="ro")
    return cls(str(path), **io_kwargs)


def _read(cls: type, path: Path, io_kwargs: dict[str, Any]) -> list[neo.Segment]:
    io = _open(cls, path, io_kwargs)
    lazy = bool(getattr(io, "support_lazy", False))
    try:
        blocks = io.read(lazy=lazy)  # every block (or the one segment) of the file
    finally:
        if not lazy and hasattr(io, "close"):
            io.close()  # eager objects need no open file (a lazy IO's proxies do)
    return [seg for block in blocks for seg in block.segments]


def neo_segments(source: Any, **io_kwargs: Any) -> list[neo.Segment]:
    """The segments of ``source``: a Segment, a Block, or a file any ``neo.io`` IO reads.

    Parameters
    ----------
    source
        A :class:`neo.Segment` (gives ``[source]``), a :class:`neo.Block` (its segments) or a
        path (the segments of every block of the file).
    **io_kwargs
        Passed to the IO's constructor, for IOs that need them (``RawBinarySignalIO``'s
        ``sampling_rate``, ``dtype``, ``nb_channel``, ...).

    Raises
    ------
    FileNotFoundError
        If there is no such path.
    cldata.errors.NotARecordingError
        If no neo IO knows the file's extension, or none can read it; the message names the
        file and what neo said.

    Examples
    --------
    >>> neo_segments(neo.Segment(name="s"))[0].name
    's'
    """
    if isinstance(source, neo.Segment):
        return [source]
    if isinstance(source, neo.Block):
        return list(source.segments)
    if not isinstance(source, (str, os.PathLike)):
        raise NotARecordingError(f"cannot read neo segments from a {type(source).__name__}: give a neo.Segment, "
                                 "a neo.Block or the path of a file neo.io reads")
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"no such file or directory: {path}")
    try:
        candidates = list_candidate_ios(str(path))
    except ValueError as exc:  # neo: "<ext> is not a supported format of any IO."
        candidates, said = [], str(exc)
    else:
        said = ""
    if not candidates:
        raise NotARecordingError(f"{path}: no neo IO reads files named like this (extension "
                                 f"{path.suffix or 'none'!r}: {said or 'no candidate IO'}); see neo.io.iolist for the formats neo knows")
    said = []
    for cls in candidates:
        try:
            return _read(cls, path, io_kwargs)
        except Exception as exc:  # noqa: BLE001 - each IO fails in its own way; all are reported
            said.append(f"{cls.__name__}: {type(exc).__name__}: {exc}")
    raise NotARecordingError(f"{path} could not be read by neo: " + "; ".join(said))
