"""A tidy copy of a recording whose data-stream indexes are out of order: ``cldata.normalize``.

The CL simulator can write a data stream's index rows out of timestamp order, with blocks of
earlier rows repeated (see :mod:`cldata.format.streams`). cldata reads such files as they are;
:func:`normalize` writes a copy in which every untidy stream holds each entry once, in
timestamp order, with its bytes laid out end to end — what cldata's own writer makes. The
original is never modified: the copy is written beside ``out`` under a temporary name,
verified (every entry's bytes compared with the original's), and renamed into place.

Everything else (root and stream attributes, spikes, stims, samples, other nodes, tidy
streams) is copied as it is. A stream with two rows at the same timestamp and different
bytes cannot be tidied without choosing one of them: :func:`normalize` refuses it with
:class:`~cldata.errors.AmbiguousEntryError` naming the rows.

Examples
--------
>>> report = cldata.normalize("sim.h5", "sim-tidy.h5")     # doctest: +SKIP
>>> print(report)                                          # doctest: +SKIP
sim.h5 -> sim-tidy.h5: stream 'ball': 6,666 rows -> 6,600 entries in timestamp order
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tables

from cldata.core.fsutil import replaced_on_success
from cldata.errors import AmbiguousEntryError, UntidyIndexWarning
from cldata.format.attributes import read_attributes
from cldata.format.index_order import mark_time_order
from cldata.format.layout import DATA_STREAM, INDEX_DTYPE, STREAM_DATA, STREAM_INDEX, IndexRow
from cldata.format.reader import RecordingView
from cldata.format.streams import stream_problem

__all__ = ["normalize", "NormalizeReport"]

_DATA_CHUNK = (32768,)  # as the CL writer (and cldata's)


@dataclass
class NormalizeReport:
    """What :func:`normalize` did: per stream tidied, ``(index rows before, entries after)``."""

    source: Path
    out: Path
    streams: dict[str, tuple[int, int]] = field(default_factory=dict)

    def __str__(self) -> str:
        if not self.streams:
            return f"{self.source} -> {self.out}: every data stream was in order; copied as it is"
        parts = [f"stream {name!r}: {rows:,} rows -> {n:,} entries in timestamp order"
                 for name, (rows, n) in self.streams.items()]
        return f"{self.source} -> {self.out}: " + "; ".join(parts)


def normalize(path: str | os.PathLike[str], out: str | os.PathLike[str], *, overwrite: bool = False) -> NormalizeReport:
    """Write a copy of the recording at ``path`` to ``out`` with every data stream's index in order.

    Parameters
    ----------
    path
        A CL recording (never modified).
    out
        The tidy copy to write.
    overwrite
        Replace ``out`` if it exists.

    Returns
    -------
    NormalizeReport
        Which streams were tidied, and their rows before and entries after.

    Raises
    ------
    FileExistsError
        If ``out`` exists and ``overwrite`` is false.
    ValueError
        If ``out`` is ``path`` itself (a recording is never changed in place).
    cldata.errors.AmbiguousEntryError
        If a stream has two rows at one timestamp with different bytes (which to keep is
        not cldata's choice); nothing is written.
    cldata.errors.CldataError
        If the recording cannot be read.

    Examples
    --------
    >>> normalize("sim.h5", "sim-tidy.h5").streams           # doctest: +SKIP
    {'ball': (6666, 6600)}
    """
    path, out = Path(path), Path(out)
    if out.exists() and out.resolve() == path.resolve():
        raise ValueError(f"normalize writes a copy; {out} is the recording itself (choose another path)")
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass overwrite=True (--overwrite) to replace it")
    report = NormalizeReport(path, out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntidyIndexWarning)  # (tidying them is the point)
        with RecordingView(path) as rec:
            untidy = {name: stream for name, stream in rec.data_streams.items() if stream.untidy is not None}
            for name, stream in untidy.items():
                if stream.untidy.ambiguous:
                    t, rows = next(iter(stream.untidy.ambiguous.items()))
                    raise AmbiguousEntryError(
                        f"cannot tidy data stream {name!r} of {path}: {len(stream.untidy.ambiguous)} timestamps have "
                        f"rows with different bytes (timestamp {t}: rows {', '.join(map(str, rows))}); which entry to "
                        "keep is not cldata's choice. Nothing was written"
                    )
            with replaced_on_success(out) as tmp:
                with tables.open_file(str(tmp), "w") as dst:
                    _copy(rec, dst, untidy, report)
                _verify(rec, tmp, untidy)
    return report


def _copy(rec: RecordingView, dst: tables.File, untidy: dict, report: NormalizeReport) -> None:
    src_root = rec.file.root
    for name, value in read_attributes(src_root, str(rec.path)).items():
        dst.root._v_attrs[name] = value
    for child in src_root._v_children.values():
        if child._v_name != DATA_STREAM:
            child._f_copy(newparent=dst.root, recursive=True, propindexes=True)
            continue
        group = dst.create_group("/", DATA_STREAM)
        for name, src_group in child._v_children.items():
            if name not in untidy:
                copied = src_group._f_copy(newparent=group, recursive=True, propindexes=True)
                if isinstance(copied, tables.Group) and stream_problem(copied) is None:
                    mark_time_order(copied._f_get_child(STREAM_INDEX))  # (a CL file's: checked, then marked)
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", tables.NaturalNameWarning)
                new = dst.create_group(group, name)
            for key, value in read_attributes(src_group, str(rec.path)).items():
                new._v_attrs[key] = value
            store = untidy[name].store
            ts, starts, ends = store.arrays()  # the entries: in time order, each once
            data = dst.create_earray(new, STREAM_DATA, tables.UInt8Atom(), shape=(0,), chunkshape=_DATA_CHUNK)
            rows = np.empty(ts.size, dtype=INDEX_DTYPE)
            rows["timestamp"] = ts
            position = 0
            for i in range(ts.size):  # (bounded reads: one entry at a time through the stream's cache)
                entry = store.read_bytes(int(starts[i]), int(ends[i]))
                data.append(np.frombuffer(entry, dtype=np.uint8))
                rows["start_index"][i], position = position, position + len(entry)
                rows["end_index"][i] = position
            index = dst.create_table(new, STREAM_INDEX, IndexRow, expectedrows=max(1, ts.size))
            index.append(rows)
            index.cols.timestamp.create_index(optlevel=0, kind="ultralight")
            mark_time_order(index)  # (checked as it is marked; the reader may bisect it on disk)
            report.streams[name] = (untidy[name].untidy.rows, int(ts.size))


def _verify(rec: RecordingView, tmp: Path, untidy: dict) -> None:
    """Every tidied stream of the copy holds exactly the original's entries, bytes for bytes, in order."""
    with RecordingView(tmp) as copy:
        for name, stream in untidy.items():
            theirs, mine = stream.store, copy.data_streams[name].store
            ts, starts, ends = theirs.arrays()
            new_ts, new_starts, new_ends = mine.arrays()
            if copy.data_streams[name].untidy is not None or not np.array_equal(ts, new_ts) or any(
                    theirs.read_bytes(int(a), int(b)) != mine.read_bytes(int(c), int(d))
                    for a, b, c, d in zip(starts, ends, new_starts, new_ends)):
                raise RuntimeError(f"the tidy copy of stream {name!r} does not read back as the original")  # a bug
