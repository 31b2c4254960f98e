"""Writing one CL recording (or a window of it) as an NWB file: :func:`write_nwb`.

The model: the NWB file holds the recording as :mod:`cldata.format.nwb.layout` describes —
samples as an ``ElectricalSeries``, spikes as ``units``, stims as a ``TimeIntervals``, data
streams and analysis results in processing modules, attributes as metadata. pynwb builds and
writes every object; the samples take one of two forms:

- ``link=True``: pynwb writes the ``ElectricalSeries`` over a one-row placeholder, then the
  placeholder is swapped (h5py; :mod:`cldata.format.nwb.samples`) for an HDF5 **virtual dataset** of the same name and attributes
  whose one source is the CL file's ``/samples`` — the window's rows, named by a path relative to
  the NWB file's folder, so the two files move together. Nothing is copied. Why not
  ``H5DataIO(link_data=True)``: an external link points at the CL dataset itself, which has no
  ``conversion`` or ``unit`` attributes (NWB keeps them on ``data``), so pynwb would read a
  conversion of 1.0. The spikes' waveforms stay in the CL file too (75 float32 a spike would
  make a linked file several % of the recording): the units carry ``waveform_mean`` and
  ``waveform_sd``, and :func:`~cldata.format.nwb.read_nwb` reads each spike's waveform
  through the link. If the CL file moves, HDF5 reads the virtual dataset as zeros: cldata's
  reader checks the source first and raises :class:`~cldata.errors.BrokenLinkError`.
- ``link=False``: the samples are copied a chunk at a time, shuffled and gzip-compressed in a
  pool of threads and written as compressed chunks (:mod:`cldata.format.nwb.samples`); the
  spikes' waveforms a block of rows at a time (hdmf's ``GenericDataChunkIterator``): a
  self-contained file for DANDI, in bounded memory. ``split=`` writes it as the members of an
  HDF5 family (``rec.00000.nwb``, ...), for file systems with a size limit.
- ``neo=True``: the samples go to the ``ecephys`` processing module instead of
  ``/acquisition`` and the stims are also an ``AnnotationSeries``: neo's ``NWBIO`` (0.14), which
  refuses the samples' conversion factor (0.195e-6, not a power of ten) and with it the whole
  file, then reads the units, the stims (Events) and the window (an Epoch).

The file is written under a temporary name beside ``out`` and renamed into place when complete.

Examples
--------
>>> with cldata.RecordingView("rec.h5") as rec:                      # doctest: +SKIP
...     write_nwb(rec.between(0, 2 * pq.s), "rec.nwb", link=True)
PosixPath('rec.nwb')
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from cldata.core.blocks import frame_blocks
from cldata.core.fsutil import fsync_dir, fsync_file, replaced_on_success, temporary_beside
from cldata.core.sizes import parse_size
from cldata.errors import OutputExistsError, ParameterError
from cldata.format.codec import encode
from cldata.format.layout import WAVEFORM_LENGTH
from cldata.format.nwb import layout
from cldata.format.nwb.samples import copy_samples, link_samples
from cldata.format.nwb.streams import StreamShape, bytes_column, row_iterator, stream_object


def _session_start(attributes: Mapping[str, Any]) -> datetime:
    """``created_utc`` as an aware datetime (the epoch when the file does not say or cannot be read)."""
    text = str(attributes.get("created_utc", "") or "")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return datetime(1970, 1, 1, tzinfo=UTC)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _plain(value: Any) -> Any:
    """Attribute values as plain, encodable values (AttributesView and numpy scalars included)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _electrodes(nwbfile: Any, channel_count: int) -> None:
    """The device, the electrode group and one electrode row per channel with its MEA place."""
    model = nwbfile.create_device_model(name=layout.DEVICE_MODEL, manufacturer=layout.MANUFACTURER,
                                        description=layout.DEVICE_DESCRIPTION)
    device = nwbfile.create_device(name=layout.DEVICE, description=layout.DEVICE_DESCRIPTION, model=model)
    group = nwbfile.create_electrode_group(name=layout.ELECTRODE_GROUP, description="the CL1's 8 x 8 MEA",
                                           location=layout.ELECTRODE_LOCATION, device=device)
    for name, text in (("channel", "the CL channel number"),
                       ("mea_row", "row on the 8 x 8 MEA (channel % 8)"),
                       ("mea_column", "column on the 8 x 8 MEA (channel // 8)"),
                       ("is_ground", "a ground channel (0, 7, 56, 63)"),
                       ("is_reference", "the reference channel (4)")):
        nwbfile.add_electrode_column(name=name, description=text)
    for ch in range(channel_count):
        row, col = layout.mea_position(ch)
        nwbfile.add_electrode(location=layout.ELECTRODE_LOCATION, group=group,
                              rel_x=col * layout.MEA_PITCH_UM, rel_y=row * layout.MEA_PITCH_UM,
                              channel=ch, mea_row=row, mea_column=col,
                              is_ground=ch in layout.GROUND_CHANNELS, is_reference=ch == layout.REFERENCE_CHANNEL)


def _samples(nwbfile: Any, view: Any, a: int, b: int, link: bool, neo: bool) -> None:
    """The ElectricalSeries of the window's samples (over a placeholder), in /acquisition or, for neo,
    in the ``ecephys`` processing module."""
    # why here: pynwb is the nwb extra, loaded when a file is written
    from pynwb.ecephys import ElectricalSeries

    n_ch = view.channel_count
    # a placeholder, replaced once pynwb has written the file (cldata.format.nwb.samples): by a virtual
    # dataset over the CL file (link) or by chunks compressed in parallel (copy)
    data = np.zeros((1, n_ch), np.int16 if link else view.samples.dtype)
    region = nwbfile.create_electrode_table_region(region=list(range(n_ch)), description="every channel")
    series = ElectricalSeries(
        name=layout.SAMPLES, data=data, electrodes=region, starting_time=a / view.frames_per_second,
        rate=float(view.frames_per_second), conversion=view.uV_per_sample_unit * layout.VOLTS_PER_UV,
        description="raw samples of the CL1's MEA, int16 sample units (x conversion = volts)")
    if neo:
        nwbfile.create_processing_module(
            name=layout.NEO_SAMPLES_MODULE, description="the raw samples (kept here, not in acquisition, so that "
            "neo's NWBIO, which refuses their conversion factor, reads the rest of the file)").add(series)
    else:
        nwbfile.add_acquisition(series)


def _units(nwbfile: Any, view: Any, a: int, b: int, per_spike: bool) -> None:
    """One unit per channel that has spikes in the window: times in s, waveforms in µV.

    ``per_spike``: every spike's waveform (``waveforms``); else each unit's ``waveform_mean`` and
    ``waveform_sd`` only (a linked file: the spikes' waveforms stay in the CL file, 300 bytes a
    spike, more than 1% of a recording; cldata's reader reads them there).

    Memory: the spikes' times, channels and row numbers (17 bytes a spike); waveforms are read
    a block of rows at a time, as HDF5 writes them (per spike) or as the means are summed.
    """
    # why here: pynwb and hdmf are the nwb extra, loaded when a file is written
    from hdmf.backends.hdf5 import H5DataIO
    from hdmf.common import DynamicTableRegion, ElementIdentifiers, VectorData, VectorIndex
    from pynwb.misc import Units

    rows = view.spike_rows()
    if not len(rows):
        return
    table = view.event_tables["spikes"].table
    frames = _read_rows(table, rows, "timestamp").astype(np.int64)
    channels = _read_rows(table, rows, "channel").astype(np.int64)
    repeat = _repeats(channels, frames)
    order = np.lexsort((frames, repeat, channels))  # the spikes unit by unit, each in time order
    keys = np.stack([channels[order], repeat[order]], axis=1)
    starts = np.r_[0, np.flatnonzero(np.any(np.diff(keys, axis=0) != 0, axis=1)) + 1]
    ends = np.r_[starts[1:], len(order)]
    unit_channel, unit_repeat = keys[starts, 0], keys[starts, 1]
    n_units, fps = len(starts), view.frames_per_second
    width = _waveform_width(view, table)
    waves = _waveform_blocks(view, table, rows[order], width)

    def column(name: str, description: str, data: Any) -> VectorData:
        return VectorData(name=name, description=description, data=data)

    spike_times = column("spike_times", "the spikes' times, s from the recording start", frames[order] / fps)
    obs = column("obs_intervals", "the exported window, s", np.tile([[a / fps, b / fps]], (n_units, 1)))
    electrodes = DynamicTableRegion(name="electrodes", description="the unit's electrode",
                                    data=unit_channel.tolist(), table=nwbfile.electrodes)
    columns = [spike_times, VectorIndex(name="spike_times_index", data=ends, target=spike_times),
               obs, VectorIndex(name="obs_intervals_index", data=np.arange(1, n_units + 1), target=obs),
               electrodes, VectorIndex(name="electrodes_index", data=np.arange(1, n_units + 1), target=electrodes),
               column(layout.UNIT_CHANNEL, "the CL channel of the unit", unit_channel),
               column(layout.UNIT_REPEAT, "0: the channel's spikes; k > 0: its k-th repeated detection at a frame "
                      "that already has a spike on the channel (kept, not merged)", unit_repeat)]
    if per_spike:
        data = column("waveforms", "each spike's waveform, µV",
                      H5DataIO(row_iterator(len(order), (width,), np.float32, waves), compression="gzip",
                               compression_opts=layout.GZIP_LEVEL))
        per = VectorIndex(name="waveforms_index", data=np.arange(1, len(order) + 1), target=data)  # 1 electrode
        # (indexes first: hdmf sets a column of iterated data aside as it meets it, and an index met
        # after its target would not find it)
        columns += [VectorIndex(name="waveforms_index_index", data=ends, target=per), per, data]
    else:
        mean, sd = _mean_and_sd(waves, starts, ends, width)
        columns += [column("waveform_mean", "the unit's mean waveform, µV", mean),
                    column("waveform_sd", "the standard deviation of the unit's waveforms, µV", sd)]
    nwbfile.units = Units(name="units", description="spikes detected by the CL1, one unit per channel",
                          id=ElementIdentifiers(name="id", data=np.arange(n_units)), columns=columns,
                          waveform_rate=float(fps), waveform_unit=layout.WAVEFORM_UNIT, resolution=1.0 / fps)


def _read_rows(table: Any, rows: np.ndarray, field: str) -> np.ndarray:
    """``field`` of the table's ``rows`` (ascending), a contiguous range read as one."""
    if len(rows) and rows[-1] - rows[0] == len(rows) - 1:
        return table.read(int(rows[0]), int(rows[-1]) + 1, field=field)
    return table.read_coordinates(rows, field=field)


def _waveform_width(view: Any, table: Any) -> int:
    """The samples a stored waveform has (the CL's 75 when the file has none cldata can read)."""
    if not view.spike_waveforms:
        return WAVEFORM_LENGTH
    shape = table.coldtypes["samples"].shape
    return int(shape[0]) if shape else 1


def _waveform_blocks(view: Any, table: Any, rows: np.ndarray, width: int) -> Callable[[], Iterator[np.ndarray]]:
    """The waveforms of spike-table ``rows`` in that order, float32 µV ``(k, width)``, a block of rows at a
    time; each call starts again (for hdmf's row iterator, or to sum the units' means)."""
    readable = bool(view.spike_waveforms)

    def block(i: int, j: int) -> np.ndarray:
        if not readable:  # (no waveforms cldata can read: NaN, as read_spikes gives them)
            return np.full((j - i, width), np.nan, np.float32)
        unique, back = np.unique(rows[i:j], return_inverse=True)
        got = np.asarray(table.read_coordinates(unique, field="samples"), np.float32)
        return got.reshape(len(unique), width)[back]

    return lambda: (block(i, min(i + _WAVEFORM_BLOCK, len(rows))) for i in range(0, len(rows), _WAVEFORM_BLOCK))


def _mean_and_sd(blocks: Callable[[], Iterator[np.ndarray]], starts: np.ndarray, ends: np.ndarray,
                 width: int) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's mean and sd waveform (units = row ranges ``[starts[u], ends[u])``), summed block by block."""
    unit = np.repeat(np.arange(len(starts)), ends - starts)
    total = np.zeros((len(starts), width), np.float64)
    squares = np.zeros((len(starts), width), np.float64)
    at = 0
    for block in blocks():
        mine = unit[at:at + len(block)]
        block = block.astype(np.float64)
        np.add.at(total, mine, block)
        np.add.at(squares, mine, block * block)
        at += len(block)
    n = (ends - starts)[:, np.newaxis]
    mean = total / n
    return mean.astype(np.float32), np.sqrt(np.maximum(squares / n - mean * mean, 0)).astype(np.float32)


#: spikes whose waveforms are read (and written) at a time: 64 Ki spikes, 20 MB of float32
_WAVEFORM_BLOCK = 1 << 16


def _repeats(channels: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """For each spike, how many earlier spikes (in table order) share its channel and frame: the unit it
    goes to, so that each unit's spike times ascend strictly."""
    order = np.lexsort((frames, channels))  # (stable: ties keep the table's order)
    c, f = channels[order], frames[order]
    starts = np.r_[0, np.flatnonzero((np.diff(c) != 0) | (np.diff(f) != 0)) + 1]
    rank = np.arange(len(frames)) - np.repeat(starts, np.diff(np.r_[starts, len(frames)]))
    out = np.empty(len(frames), np.int64)
    out[order] = rank
    return out


def _stims(nwbfile: Any, view: Any, neo: bool) -> None:
    """One row per frame at which stims were delivered, the channels in a ragged column (and, for neo,
    an AnnotationSeries of the same frames)."""
    # why here: pynwb is the nwb extra, loaded when a file is written
    from pynwb.epoch import TimeIntervals
    from pynwb.misc import AnnotationSeries

    stims = view.read_stims()
    if not len(stims):
        return
    fps = view.frames_per_second
    table = TimeIntervals(name=layout.STIMS, description="stimulations delivered by the CL1, one row per frame")
    table.add_column(name=layout.STIM_FRAME, description="the frame of the stimulation (exact)")
    table.add_column(name=layout.STIM_CHANNELS, description="the channels stimulated at that frame", index=True)
    frames, first = np.unique(stims["timestamp"], return_index=True)
    groups = np.split(stims["channel"], first[1:])
    for frame, channels in zip(frames, groups):
        table.add_row(start_time=frame / fps, stop_time=(frame + 1) / fps, frame=int(frame),
                      channels=[int(c) for c in channels])
    nwbfile.add_time_intervals(table)
    if neo:  # neo's NWBIO (0.14) reads events from AnnotationSeries only
        with warnings.catch_warnings():  # (pynwb 4 deprecates the type; neo reads nothing else)
            warnings.filterwarnings("ignore", message="AnnotationSeries is deprecated", category=UserWarning)
            nwbfile.add_stimulus(AnnotationSeries(
                name=layout.STIMS, timestamps=frames / fps, data=[",".join(str(int(c)) for c in g) for g in groups],
                description="the stimulations of intervals/stimulations, for neo: one entry per frame, "
                "labelled with the channels stimulated"))


def _window_epoch(nwbfile: Any, view: Any, a: int, b: int) -> None:
    """The exported window as the one row of the epochs table."""
    fps = view.frames_per_second
    nwbfile.add_epoch(start_time=a / fps, stop_time=b / fps, tags=[layout.WINDOW_TAG])


def _streams(nwbfile: Any, view: Any) -> None:
    """Every data stream in the processing module, and the index of all of them.

    Each stream is read a block of entries at a time (by frame windows, ``core.blocks``): once to
    classify it, then again as its object is written; only its frames (8 bytes an entry) are held.
    """
    # why here: hdmf is the nwb extra, loaded when a file is written
    from hdmf.common import DynamicTable, VectorData

    module = nwbfile.create_processing_module(name=layout.STREAMS_MODULE, description="the CL data streams")
    rows: dict[str, list[Any]] = {k: [] for k in layout.INDEX_COLUMNS}
    blobs = []
    for name, stream in view.data_streams.items():
        ts = np.asarray(stream.timestamps, np.int64)
        windows = list(frame_blocks(ts, _STREAM_BLOCK))

        def blocks(stream: Any = stream, windows: list[tuple[int, int | None]] = windows) -> Any:
            return (stream.read(a, b)[1] for a, b in windows)

        shape = StreamShape()
        for entries in blocks():
            shape.add(entries)
        kind = shape.kind
        obj = ""
        if kind != layout.STREAM_EMPTY:
            obj = name if name != layout.STREAM_INDEX and "/" not in name else f"stream_{len(rows['stream'])}"
            module.add(stream_object(obj, ts, blocks, shape, view.frames_per_second))
        rows["stream"].append(name)
        rows["kind"].append(kind)
        rows["entries"].append(shape.entries)
        rows["object"].append(obj)
        blobs.append(encode(_plain(dict(stream.attributes))))
    columns = [VectorData(name="stream", description="the stream's name", data=rows["stream"]),
               VectorData(name="kind", description="how it is kept: timeseries, table, msgpack or empty",
                          data=rows["kind"]),
               VectorData(name="entries", description="its number of entries", data=np.asarray(rows["entries"], np.int64)),
               VectorData(name="object", description="its object in this module ('' when empty)", data=rows["object"])]
    columns += bytes_column("attributes", "the stream's attributes, msgpack bytes (cldata's codec)", blobs)
    if rows["stream"]:
        module.add(DynamicTable(name=layout.STREAM_INDEX, description="every CL data stream, empty ones included",
                                columns=columns))


#: stream entries read at a time while a stream is written
_STREAM_BLOCK = 1 << 14


def _results(nwbfile: Any, results: Sequence[Mapping[str, Any]]) -> None:
    """The analysis results given, one row each (name, unit, the whole record as msgpack)."""
    # why here: hdmf is the nwb extra, loaded when a file is written
    from hdmf.common import DynamicTable, VectorData

    if not results:
        return
    records = [_plain(dict(r)) for r in results]
    module = nwbfile.create_processing_module(name=layout.RESULTS_MODULE, description="cldata analysis results")
    columns = [VectorData(name="result", description="the result's name", data=[str(r.get("name", "")) for r in records]),
               VectorData(name="unit", description="the unit of its value", data=[str(r.get("unit", "")) for r in records])]
    columns += bytes_column("record", "the whole result record (value, unit, parameters), msgpack bytes",
                            [encode(r) for r in records])
    module.add(DynamicTable(name=layout.RESULTS_TABLE, description="analysis results of the recording", columns=columns))


def _nwbfile(view: Any, identifier: str | None, parameters: Mapping[str, Any] | None) -> Any:
    """The NWBFile with its metadata, the subject and the scratch attributes."""
    # why here: pynwb is the nwb extra, loaded when a file is written
    from pynwb import NWBFile
    from pynwb.file import Subject

    attributes = _plain(dict(view.attributes))
    application = attributes.get("application") if isinstance(attributes.get("application"), dict) else {}
    ident = identifier or str(application.get("recording_id") or view.path.stem)
    nwbfile = NWBFile(
        session_description=str(application.get("session_description") or f"CL1 recording {view.path.name}"),
        identifier=ident, session_start_time=_session_start(attributes), session_id=ident,
        experiment_description=str(application.get("experiment_description")
                                   or "cultured neurons on a Cortical Labs CL1 multi-electrode array"),
        institution=str(application.get("institution") or "unknown"), lab=str(application.get("lab") or "unknown"),
        experimenter=[str(application["experimenter"])] if application.get("experimenter") else None,
        # sex "U" (unknown) and age "P0D/" (at least 0 days: unknown) are what a CL file can say; no species
        subject=Subject(subject_id=str(application.get("culture") or ident), sex="U", age="P0D/",
                        description="an in-vitro neuronal culture (CL files record no species)"))
    nwbfile.add_scratch(np.frombuffer(encode(attributes), np.uint8), name=layout.SCRATCH_ATTRIBUTES,
                        description="the CL file's root attributes, msgpack bytes (cldata's codec)")
    nwbfile.add_scratch(np.frombuffer(encode(_plain(dict(parameters or {}))), np.uint8),
                        name=layout.SCRATCH_PARAMETERS, description="the recording's parameters, msgpack bytes")
    return nwbfile


def write_nwb(view: Any, out: str | os.PathLike[str], *, link: bool = True, results: Sequence[Mapping[str, Any]] = (),
              overwrite: bool = False, identifier: str | None = None,
              parameters: Mapping[str, Any] | None = None, neo: bool = False,
              split: int | str | None = None) -> Path:
    """Write a recording view (its window) as an NWB file; return the file's path.

    Parameters
    ----------
    view
        A :class:`~cldata.format.reader.RecordingView`, windowed or not (``rec.between(a, b)``):
        the window is what is written, its ``starting_time`` the window's start.
    out
        The ``.nwb`` file to write.
    link
        ``True``: the samples are a virtual dataset over the CL file's ``/samples`` (nothing
        copied; keep the CL file at the same place relative to ``out``). ``False``: the samples
        copied, chunked and gzip-compressed (self-contained, for DANDI).
    results
        Analysis results as plain records (``name``, ``value``, ``unit``, ``parameters``...).
    overwrite
        Replace an existing ``out`` (or, split, its members; members beyond the new ones are removed).
    identifier
        The NWB identifier (default: the recording's ``recording_id`` attribute, else its file stem).
    parameters
        The recording's parameters, kept in the file's scratch space.
    neo
        Lay the file out for neo's ``NWBIO`` (0.14), which refuses the samples' conversion factor
        (0.195e-6 is not a power of ten) and with it the whole file: the samples go to the
        ``ecephys`` processing module, where neo does not look, and the stims are also an
        ``AnnotationSeries`` (neo's Events). neo then reads the units, the stims and the window's
        epoch, not the samples. pynwb and cldata read both layouts.
    split
        Write a self-contained file as members of at most this size (bytes, or text such as
        ``"1GB"``, ``"500 MiB"``): ``rec.00000.nwb``, ``rec.00001.nwb``... (HDF5's *family*
        driver), for file systems with a size limit. Needs ``link=False``.

    Returns
    -------
    Path
        ``out`` (split: its first member, ``rec.00000.nwb``).

    Raises
    ------
    cldata.errors.OutputExistsError
        If ``out`` (or a member of it) exists and ``overwrite`` is false.
    cldata.errors.ParameterError
        If ``link`` is asked of a recording whose samples are not int16, or ``split`` of a linked
        file or with a size that is not one (or below 1 MiB).

    Examples
    --------
    >>> with cldata.RecordingView("rec.h5") as rec:                  # doctest: +SKIP
    ...     write_nwb(rec, "rec.nwb")                                 # linked: a few hundred kB
    ...     write_nwb(rec, "rec_full.nwb", link=False)                # self-contained
    ...     write_nwb(rec, "rec_neo.nwb", neo=True)                   # neo's NWBIO reads it too
    ...     write_nwb(rec, "rec_parts.nwb", link=False, split="1GB")  # rec_parts.00000.nwb, ...
    """
    # why here: pynwb (and h5py, its dependency) are the nwb extra, loaded when a file is written
    import h5py
    from pynwb import NWBHDF5IO

    out = Path(out)
    member_bytes = check_split(split, link)
    if member_bytes and out.suffix.lower() != ".nwb":
        raise ParameterError(f"{out}: a split file's name ends in .nwb (its members are {out.name}.00000.nwb, ... "
                             "only when named so can readers find them): name it e.g. "
                             f"{out.with_name(out.name + '.nwb').name}")
    taken = [out, *layout.family_members(out)] if member_bytes else [out]
    existing = [p for p in taken if p.exists()]
    if existing and not overwrite:
        raise OutputExistsError(f"{existing[0]} exists; pass overwrite=True to replace it, or choose another name")
    a, b = view.clipped_window
    has_samples = view.samples is not None
    if has_samples:
        b = min(b, int(view.samples.nrows))
        a = min(a, b)
    if link and has_samples and view.samples.dtype != np.int16:
        raise ParameterError(f"{view.path}'s samples are {view.samples.dtype}, not int16: write it with link=False")
    nwbfile = _nwbfile(view, identifier, parameters)
    _electrodes(nwbfile, view.channel_count)
    if has_samples:
        _samples(nwbfile, view, a, b, link, neo)
    _units(nwbfile, view, *view.clipped_window, per_spike=not (link and has_samples))
    _stims(nwbfile, view, neo)
    wa, wb = view.clipped_window
    if wb > wa:
        _window_epoch(nwbfile, view, wa, wb)
    _streams(nwbfile, view)
    _results(nwbfile, results)
    data_path = f"{layout.NEO_SAMPLES_PATH if neo else layout.SAMPLES_PATH}/data"

    def fill(f: Any) -> None:  # the samples, once pynwb has written the rest
        if has_samples and link:
            link_samples(f, data_path, view, a, b, out.parent)
        elif has_samples:
            copy_samples(f, data_path, view, a, b)

    if member_bytes:
        first = _write_family(nwbfile, out, member_bytes, fill)
        out.unlink(missing_ok=True)  # (overwrite: an unsplit file of the same name would shadow the members)
        return first
    with replaced_on_success(out, suffix=".nwb") as tmp:  # (pynwb wants the .nwb suffix)
        with NWBHDF5IO(str(tmp), "w") as io:
            io.write(nwbfile)
        with h5py.File(tmp, "r+") as f:
            fill(f)
    for member in layout.family_members(out):  # (overwrite: an earlier split file of the same name)
        member.unlink()
    return out


def check_split(split: int | str | None, link: bool) -> int | None:
    """``split`` as a member size in bytes (``None``: one file).

    Raises
    ------
    cldata.errors.ParameterError
        If ``split`` is given with ``link=True``, is not a size, or is below 1 MiB.

    Examples
    --------
    >>> check_split("1GB", link=False)
    1000000000
    """
    if split is None:
        return None
    if link:
        raise ParameterError("split applies to self-contained files (link=False): a linked file holds no samples")
    size = parse_size(split, what="split")
    if size < layout.MIN_SPLIT_BYTES:
        raise ParameterError(f"split={split!r} is below 1 MiB: give a member size such as '1GB' or '500MB'")
    return size


def _write_family(nwbfile: Any, out: Path, member_bytes: int, fill: Any) -> Path:
    """Write ``nwbfile`` as the members of ``out``'s family: in a folder beside it, then each renamed into place."""
    # why here: pynwb and h5py are the nwb extra, loaded when a file is written
    import h5py
    from pynwb import NWBHDF5IO

    folder = temporary_beside(out)
    folder.mkdir()
    try:
        staged = folder / out.name
        pattern = layout.family_pattern(staged)
        with h5py.File(pattern, "w", driver="family", memb_size=member_bytes) as f:
            with NWBHDF5IO(file=f, mode="w") as io:
                io.write(nwbfile)
        with h5py.File(pattern, "r+", driver="family", memb_size=member_bytes) as f:  # (pynwb closed it)
            fill(f)
        members = layout.family_members(staged)
        for member in members:
            fsync_file(member)
        stale = layout.family_members(out)[len(members):]  # of an earlier, longer family
        for i, member in enumerate(members):
            os.replace(member, layout.family_member(out, i))
        for old in stale:
            old.unlink()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    fsync_dir(out.parent)
    return layout.family_member(out, 0)
