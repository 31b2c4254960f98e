"""NWB files from CL recordings, store recordings and store views; NWB files into a store.

The model: one CL recording is one NWB file, written by the format layer's
:func:`cldata.format.nwb.writer.write_nwb` (what goes where in NWB:
:mod:`cldata.format.nwb.layout`). This module decides *which* recording, window, streams,
identity and results go into that file:

- a **CL file** or a :class:`~cldata.RecordingView` (windowed or not) is written as it is
  (its window and all its streams; no results: a file knows no store);
- a **store recording** (:class:`~cldata.RecordingHandle`) is written through its view: the
  view's window and stream selection, identifier = the recording's id, its stored
  parameters as the session's parameters, and the analysis results whose source is that
  recording as plain records (:func:`result_records`: kind, identifier, the numbers the
  catalog keeps with their units, parameters — read from the catalog, no payload unpickled);
- a **store view** (:func:`view_to_nwb`, ``view.to_nwb(directory)``) is one file per
  recording, ``<recording id>.nwb``.

``link=True`` (the default) keeps the samples in the CL file: the NWB file's
``ElectricalSeries`` is an HDF5 virtual dataset over the CL file's ``/samples``, by a path
relative to the NWB file's folder. A linked file of a store recording therefore points
into the store (``recordings/<id>.h5``, or wherever a linked recording lives); move the
two together, or write ``link=False`` (self-contained, compressed: what DANDI takes).

Going back, :func:`cl_file_from_nwb` writes a CL file from an NWB file cldata wrote
(read with :func:`cldata.format.nwb.reader.read_nwb`): ``store.add_recording("x.nwb")``
goes through it, the way neo files go through :mod:`cldata.store.neo_ingest`.

pynwb is an optional dependency (``pip install 'cldata[nwb]'``): it is imported when an
NWB file is written or read, never by ``import cldata``.

Examples
--------
>>> cldata.to_nwb("rec.h5", "rec.nwb")                                     # doctest: +SKIP
PosixPath('rec.nwb')
>>> store.filter(culture="C7").between(0, 10 * pq.s).to_nwb("nwb/", link=False)  # doctest: +SKIP
[PosixPath('nwb/rec_88585b22ccfb1d4d.nwb')]
"""

from __future__ import annotations

import gc
import numbers
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import tables

from cldata.core.blocks import frame_blocks
from cldata.errors import NotARecordingError, OutputExistsError, UnsupportedValueError
from cldata.format.attributes import to_plain
from cldata.format.reader import RecordingView
from cldata.format.streams import DataStreamCollection
from cldata.format.writer import RecordingWriter
from cldata.store.recording import RecordingHandle

if TYPE_CHECKING:  # pragma: no cover
    from cldata.store.view import DataStoreView

__all__ = ["to_nwb", "view_to_nwb", "result_records", "is_nwb_source", "cl_file_from_nwb", "NWB_SUFFIX"]

#: The suffix of the files :func:`view_to_nwb` writes.
NWB_SUFFIX = ".nwb"

_NO_PYNWB = "writing or reading NWB needs pynwb and hdmf: pip install 'cldata[nwb]'"
#: root attributes the CL writer sets itself (a converted file gets its own)
_WRITER_KEYS = {"channel_count", "sampling_frequency", "frames_per_second", "uV_per_sample_unit", "start_timestamp",
                "created_utc", "created_localtime", "application", "file_format", "duration_frames",
                "end_timestamp", "duration_seconds", "ended_utc", "ended_localtime"}
_FRAMES = 1 << 16  # sample frames copied per block when converting back
_EVENTS = 1 << 16  # spikes or stream entries (about) copied per block when converting back


def _nwb_module(name: str) -> Any:
    """``cldata.format.nwb.<name>``, or an ImportError saying how to install pynwb."""
    try:
        # why: pynwb/hdmf are an optional extra, imported only when NWB is written or read
        import importlib

        return importlib.import_module(f"cldata.format.nwb.{name}")
    except ImportError as exc:
        raise ImportError(f"{_NO_PYNWB} ({exc})") from None


def to_nwb(source: Any, out: str | os.PathLike[str], link: bool = True, overwrite: bool = False, *,
           neo: bool = False, split: int | str | None = None) -> Path:
    """Write one recording to the NWB file ``out`` (see the module doc for what goes in).

    Parameters
    ----------
    source
        A CL recording file, a :class:`~cldata.RecordingView` (windowed or not) or a store
        recording (:class:`~cldata.RecordingHandle`: its window, streams, id, parameters and results).
    out
        The NWB file to write (conventionally ``.nwb``).
    link
        Keep the samples in the CL file (a virtual dataset over its ``/samples``; nothing
        copied) rather than copying them, compressed, into ``out`` (``link=False``: self-contained).
    overwrite
        Replace ``out`` if it exists.
    neo
        Lay the file out so that neo's ``NWBIO`` (0.14) reads its units, stims (Events) and
        window (an Epoch): the samples go to the ``ecephys`` processing module, where neo,
        which refuses their conversion factor, does not look (see
        :func:`~cldata.format.nwb.writer.write_nwb`).
    split
        With ``link=False``: write members of at most this size (``"1GB"``): ``out``'s stem
        ``.00000.nwb``, ``.00001.nwb``... (HDF5's family driver).

    Returns
    -------
    Path
        ``out`` (split: its first member).

    Raises
    ------
    cldata.errors.OutputExistsError
        If ``out`` exists and ``overwrite`` is false.
    cldata.errors.ParameterError
        For ``split`` with ``link=True`` or a size that is not one.
    cldata.errors.UnsupportedValueError
        For a neo recording of a store, or a source that is no recording.
    ImportError
        Without pynwb (``pip install 'cldata[nwb]'``).

    Examples
    --------
    >>> cldata.to_nwb("rec.h5", "rec-shared.nwb", link=False)          # doctest: +SKIP
    PosixPath('rec-shared.nwb')
    >>> cldata.to_nwb(store.recordings[0], "first.nwb")                 # doctest: +SKIP
    PosixPath('first.nwb')
    """
    out = Path(out)
    if os.path.lexists(out) and not overwrite:
        raise OutputExistsError(f"{out} exists; pass overwrite=True to replace it")
    write_nwb = _nwb_module("writer").write_nwb
    options = {"link": link, "overwrite": overwrite, "neo": neo, "split": split}
    if isinstance(source, RecordingHandle):
        return _handle_to_nwb(source, out, write_nwb, **options)
    if isinstance(source, RecordingView):
        return write_nwb(source, out, **options)
    if isinstance(source, (str, os.PathLike)):
        with RecordingView(source) as view:
            return write_nwb(view, out, **options)
    raise UnsupportedValueError(f"to_nwb writes a CL file, a RecordingView or a store recording, not "
                                f"{type(source).__name__}; for a whole store view use view.to_nwb(directory)")


def _handle_to_nwb(handle: RecordingHandle, out: Path, write_nwb: Any, **options: Any) -> Path:
    if handle.is_neo:
        raise UnsupportedValueError(f"{handle.id} is a neo recording; to_nwb writes CL recordings (write a neo "
                                    "recording's segment() with neo.NWBIO)")
    shown = handle.view().between()  # a view of its own (the store's open view is left as it is)
    shown.data_streams = DataStreamCollection(handle.data_streams)  # the view's stream selection
    try:
        return write_nwb(shown, out, **options, identifier=handle.id,
                         parameters=to_plain(dict(handle.parameters)), results=result_records(handle))
    finally:
        # pynwb's objects keep the view (and its PyTables nodes) in reference cycles: collected now, while
        # the store's file is open, not later, when a node freed after its file closed fails in __del__
        del shown
        gc.collect()


def view_to_nwb(view: DataStoreView, directory: str | os.PathLike[str], link: bool = True,
                overwrite: bool = False, *, neo: bool = False, split: int | str | None = None) -> list[Path]:
    """One NWB file per recording of ``view``, ``<directory>/<recording id>.nwb``; their paths.

    Each file honours the view's window and stream selection and holds the results whose
    source is its recording (:func:`to_nwb`; ``neo`` and ``split`` as there: a split file's
    path is its first member, ``<id>.00000.nwb``). ``directory`` is made if missing. Nothing is
    written unless every file may be: an existing file without ``overwrite`` is refused first.

    Raises
    ------
    cldata.errors.OutputExistsError
        If a file exists and ``overwrite`` is false (nothing is written).
    cldata.errors.UnsupportedValueError
        If the view holds a neo recording (nothing is written).

    Examples
    --------
    >>> store.streams("score").between(0, 60 * pq.s).to_nwb("shared/", link=False)   # doctest: +SKIP
    [PosixPath('shared/rec_88585b22ccfb1d4d.nwb'), ...]
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise OutputExistsError(f"{directory} is a file; view.to_nwb writes one file per recording into a directory")
    handles = view.recordings
    neo_ids = [h.id for h in handles if h.is_neo]
    if neo_ids:
        raise UnsupportedValueError(f"{neo_ids[:3]} {'is a neo recording' if len(neo_ids) == 1 else 'are neo recordings'}"
                                    "; to_nwb writes CL recordings: leave them out (filter) or write their "
                                    "segment() with neo.NWBIO")
    targets = [(h, directory / f"{h.id}{NWB_SUFFIX}") for h in handles]
    if split is not None:
        _nwb_module("writer").check_split(split, link)  # (before anything is written)
    taken = [q for _, p in targets for q in [p, *(_nwb_module("layout").family_members(p) if split else [])]]
    existing = [str(p) for p in taken if os.path.lexists(p)]
    if existing and not overwrite:
        raise OutputExistsError(f"{existing[0]}{f' and {len(existing) - 1} more' if len(existing) > 1 else ''} "
                                f"{'exist' if len(existing) > 1 else 'exists'}; pass overwrite=True to replace "
                                f"{'them' if len(existing) > 1 else 'it'}")
    directory.mkdir(parents=True, exist_ok=True)
    return [to_nwb(h, path, link=link, overwrite=overwrite, neo=neo, split=split) for h, path in targets]


def _number(value: Any) -> Any:
    return float(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else None


def result_records(handle: RecordingHandle) -> list[dict[str, Any]]:
    """The analysis results whose source is ``handle``'s recording, as plain records.

    Each record: ``id``, ``kind`` (the result class), ``identifier``, ``parameters``,
    ``sources``, ``tags``, ``value`` and ``units`` (a :class:`~cldata.SingleValue`'s number;
    ``None`` and ``""`` for others) and ``values``: every scalar the catalog keeps for the
    result (a toolkit result's ``branching_ratio``, ...), by name. Everything comes from the
    catalog (the payloads are not read).

    Examples
    --------
    >>> result_records(store.recordings[0])[0]["identifier"]    # doctest: +SKIP
    'rate'
    """
    catalog = handle.store.catalog
    records = []
    for entry in catalog.result_entries(list(catalog.live_result_rows())).values():
        if handle.id not in entry.sources:
            continue
        summary = entry.summary or {}
        values = {k: float(v) for k, v in summary.items()
                  if _number(v) is not None and k not in ("n", "value")}
        records.append({
            "id": entry.id, "kind": entry.kind, "identifier": entry.identifier, "name": entry.identifier,
            "parameters": to_plain(dict(entry.parameters)), "sources": list(entry.sources), "tags": list(entry.tags),
            "value": _number(summary.get("value")), "units": str(summary.get("units", "")) if "value" in summary else "",
            "values": values,
        })
        records[-1]["unit"] = records[-1]["units"]
    return records


def is_nwb_source(source: Any) -> bool:
    """Whether ``source`` is an NWB file (``.nwb``) that cldata wrote (``add_recording`` converts those).

    False without pynwb: such a file then goes the way of any other (neo's NWBIO).
    """
    if not isinstance(source, (str, os.PathLike)):
        return False
    path = Path(source)
    if not _nwb_module("layout").is_nwb_name(path):  # (other files never import pynwb)
        return False
    try:
        return bool(_nwb_module("reader").is_cldata_nwb(path))
    except ImportError:
        return False


@contextmanager
def cl_file_from_nwb(path: str | os.PathLike[str]) -> Iterator[tuple[Path, dict[str, Any]]]:
    """A CL file holding the recording of the cldata NWB file ``path`` (a temporary file, removed on exit),
    and the parameters the file was written with that its CL file does not hold (a store's user parameters).

    Samples, spikes (with waveforms), stims, data streams (entries and attributes) and the
    recording's root attributes are copied, its creation stamps included: a whole recording
    comes back with the id it had (the same NWB file added twice is the same recording).

    Raises
    ------
    cldata.errors.NotARecordingError
        If ``path`` is not an NWB file written by cldata.
    cldata.errors.BrokenLinkError
        If it is linked and its CL file has moved.
    """
    read_nwb = _nwb_module("reader").read_nwb
    with tempfile.TemporaryDirectory(prefix="cldata-nwb-") as tmp:
        target = Path(tmp) / (Path(path).stem + ".h5")
        with read_nwb(path) as nwb:
            _write_cl(nwb, target)
            attributes = dict(nwb.attributes)
            application = attributes.get("application")
            held = set(attributes) | (set(application) if isinstance(application, Mapping) else set())
            extra = {k: v for k, v in dict(getattr(nwb, "parameters", None) or {}).items() if k not in held}
        yield target, extra


def _attribute(attributes: Mapping[str, Any], key: str, default: Any) -> Any:
    value = attributes.get(key, default)
    return default if value is None else value


def _write_cl(nwb: Any, target: Path) -> None:
    """Copy what the NWB view ``nwb`` reads into a new CL file ``target``."""
    attributes = dict(nwb.attributes)
    application = attributes.get("application")
    root = {k: v for k, v in attributes.items() if k not in _WRITER_KEYS}
    try:
        writer = RecordingWriter(
            target, application if isinstance(application, Mapping) else None,
            channel_count=int(_attribute(attributes, "channel_count", 64)),
            frames_per_second=int(_attribute(attributes, "frames_per_second", nwb.frames_per_second)),
            uV_per_sample_unit=float(_attribute(attributes, "uV_per_sample_unit", 0.195)),
            start_timestamp=int(_attribute(attributes, "start_timestamp", 0)),
            root_attributes=root, durable=False)
    except (TypeError, ValueError) as exc:
        raise NotARecordingError(f"{getattr(nwb, 'path', 'the NWB file')} has no usable CL recording attributes "
                                 f"({exc}); add_recording takes NWB files written by cldata.to_nwb") from None
    try:
        _copy_samples(nwb, writer)
        # spikes and stream entries a block at a time (by frame windows): an hour's worth is never held
        for start, stop in frame_blocks(nwb.read_spikes(waveforms=False)["timestamp"], _EVENTS):
            spikes = nwb.read_spikes(start, stop)
            writer.append_spikes(spikes["timestamp"], spikes["channel"], spikes["samples"])
        stims = nwb.read_stims()
        if len(stims):
            writer.append_stims(stims["timestamp"], stims["channel"])
        for name, stream in nwb.data_streams.items():
            out = writer.create_data_stream(name, dict(getattr(stream, "attributes", {}) or {}).get("application"))
            for start, stop in frame_blocks(np.asarray(stream.timestamps, np.int64), _EVENTS):
                timestamps, values = stream.read(start, stop)
                out.extend(np.asarray(timestamps, dtype=np.int64), list(values))
        end = attributes.get("end_timestamp")
        writer.close(int(end) if isinstance(end, numbers.Integral) else None)
        _restore_stamps(target, attributes)
    except BaseException:
        writer.close()
        target.unlink(missing_ok=True)
        raise


#: the root attributes the writer stamps with the time of writing: given back their original values, so
#: that the recording keeps its identity (the same NWB file added twice is the same recording)
_STAMPS = ("created_utc", "created_localtime", "ended_utc", "ended_localtime", "file_format")


def _restore_stamps(target: Path, attributes: Mapping[str, Any]) -> None:
    with tables.open_file(str(target), mode="a") as h5:
        for key in _STAMPS:
            if key in attributes and isinstance(attributes[key], (str, dict)):
                h5.root._v_attrs[key] = attributes[key]


def _copy_samples(nwb: Any, writer: RecordingWriter) -> None:
    """The samples, in blocks; a window's file (samples from frame ``first``) gets zero rows before it, as
    the CL layout has row = frame (what a store export of a window holds too)."""
    first, total = nwb.first_sample_frame, nwb.sample_frames
    if total:
        _zeros(writer, first)
    for start in range(first, first + total, _FRAMES):
        writer.append_samples(nwb.read_samples(start, min(start + _FRAMES, first + total)))


def _zeros(writer: RecordingWriter, frames: int) -> None:
    block = np.zeros((min(frames, _FRAMES), writer.channel_count), np.int16)
    for start in range(0, frames, _FRAMES):
        writer.append_samples(block[:min(_FRAMES, frames - start)])


