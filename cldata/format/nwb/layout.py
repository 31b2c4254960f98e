"""How one CL recording is laid out in an NWB file: the names cldata's writer and reader share.

The model
---------
A CL recording (one ``.h5`` file: samples, spikes, stims, data streams, root attributes) maps
onto one NWB file, one object per part, each named here:

==============================  ===============================================================
CL part                          NWB object
==============================  ===============================================================
``/samples`` (int16, frames ×    ``/acquisition/samples``: an ``ElectricalSeries`` (``rate`` =
channels)                        ``frames_per_second``, ``starting_time`` = the window's start in
                                 seconds, ``data`` int16 sample units with ``conversion`` =
                                 ``uV_per_sample_unit * 1e-6`` and ``unit`` = ``"volts"``) over
                                 every row of the electrodes table.
                                 ``link=True``: ``data`` is an HDF5 *virtual dataset* whose one
                                 source is the CL file's ``/samples`` (rows of the window), named
                                 by a path relative to the NWB file's folder: nothing is copied,
                                 and the dataset carries the ``conversion``/``unit`` attributes a
                                 plain external link cannot. ``link=False``: the samples copied,
                                 chunked, shuffled and gzip-compressed. ``neo=True``: the series is
                                 ``/processing/ecephys/samples`` instead, where neo's NWBIO
                                 (0.14), which refuses its conversion factor, does not look.
channels                         the electrodes table: one row per channel (``channel``), its MEA
                                 place (``mea_row = ch % 8``, ``mea_column = ch // 8``: CL's
                                 ``layout[r][c] = 8*c + r``), ``rel_x``/``rel_y`` in µm
                                 (``MEA_PITCH_UM`` apart), boolean ``is_ground`` (0, 7, 56, 63) and
                                 ``is_reference`` (4); one ``Device`` ``"CL1"`` (its ``DeviceModel``
                                 ``"CL1 MEA"`` by Cortical Labs) and one
                                 ``ElectrodeGroup`` ``"mea"``.
``/spikes``                      the ``units`` table: one unit per channel that has spikes
                                 (``channel`` column, ``electrodes`` → its electrode),
                                 ``spike_times`` in s from the recording start, ``waveforms`` in µV
                                 (``waveform_rate`` = frames per second, ``waveform_unit`` =
                                 ``"microvolts"``; a linked file has each unit's ``waveform_mean``
                                 and ``waveform_sd`` instead, the spikes' own waveforms staying in
                                 the CL file, where cldata's reader finds them), ``obs_intervals`` = the exported window,
                                 ``resolution`` one frame. A spike repeated at the same frame on
                                 the same channel goes to another unit of that channel
                                 (``repeat`` = 1, 2...): spike times ascend strictly in each.
``/stims``                       ``/intervals/stimulations``: a ``TimeIntervals``, one row per
                                 frame at which stims were delivered (``start_time``; ``stop_time``
                                 one frame later; ``frame``; ``channels``, a ragged int column).
                                 ``neo=True``: also ``/stimulus/stimulations``, an
                                 ``AnnotationSeries`` (one entry per frame, the channels as its
                                 label), which neo's NWBIO reads as an ``Event``.
the window                       the ``epochs`` table: one row, the exported window (tags
                                 ``"cldata window"``; neo reads it as an ``Epoch``).
data streams                     the processing module ``"data_streams"``: per stream one object
                                 named after it, by what its entries are (``STREAM_KINDS``):
                                 numbers or arrays of one shape and dtype → a ``TimeSeries``
                                 (``timestamps`` in s); dicts of scalars with the same keys → a
                                 ``DynamicTable`` (``timestamp`` in s, one column per key);
                                 anything else → a ``DynamicTable`` (``timestamp``, ``value``: the
                                 entry's msgpack bytes, a ragged uint8 column). Never dropped.
                                 ``"stream_index"`` lists every stream (empty ones too, with no
                                 table of their own): ``stream``, ``kind``, ``entries``, ``object``
                                 and ``attributes`` (the stream's attributes, msgpack bytes).
root attributes, parameters      NWB metadata: ``session_start_time`` from ``created_utc``,
                                 ``identifier`` (the recording id), ``session_description``,
                                 ``experiment_description``; every root attribute and the
                                 parameters as msgpack bytes in ``/scratch/cldata_attributes``
                                 and ``/scratch/cldata_parameters`` (a ``ScratchData``), whose
                                 presence marks a file cldata wrote.
analysis results                 the processing module ``"analysis_results"``: a ``DynamicTable``
                                 ``"results"`` with one row per record (``result`` (its name), ``unit`` text;
                                 ``record``: the whole record, msgpack bytes).
==============================  ===============================================================

Frames come back exactly: times are seconds (``frame / frames_per_second``, float64, exact for
frames below 2**53) and the reader rounds them back; stims and data-stream tables keep the frame
as well. Entries stored as msgpack bytes are cldata's codec (:mod:`cldata.format.codec`): no
pickle, nothing run on reading. Text columns never hold JSON of dicts (nwbinspector flags them):
structured values are msgpack bytes.

Examples
--------
>>> from cldata.format.nwb import layout
>>> layout.SAMPLES, layout.mea_position(12)
('samples', (4, 1))
"""

from __future__ import annotations

import re
from pathlib import Path

#: the ElectricalSeries of the raw samples, in /acquisition
SAMPLES = "samples"
SAMPLES_PATH = f"/acquisition/{SAMPLES}"
SAMPLES_DATA_PATH = f"{SAMPLES_PATH}/data"
#: where a file written for neo (``neo=True``) keeps them: neo's NWBIO (0.14) reads every
#: series of /acquisition and refuses a conversion factor that is not a power of ten
#: (0.195e-6), so it would read nothing of the file; it does not look in processing modules
NEO_SAMPLES_MODULE = "ecephys"
NEO_SAMPLES_PATH = f"/processing/{NEO_SAMPLES_MODULE}/{SAMPLES}"
#: the places a reader looks for the samples, in this order
SAMPLES_PATHS = (SAMPLES_PATH, NEO_SAMPLES_PATH)
#: the CL file's samples node a linked NWB file's virtual dataset reads
CL_SAMPLES_NODE = "/samples"
#: µV to volts (the ElectricalSeries' unit)
VOLTS_PER_UV = 1e-6
SAMPLES_UNIT = "volts"
#: the rows of a chunk of copied samples (link=False) and gzip's level
SAMPLE_CHUNK_FRAMES = 8192
GZIP_LEVEL = 4

DEVICE = "CL1"
DEVICE_DESCRIPTION = "Cortical Labs CL1: a multi-electrode array (8 x 8) with cultured neurons"
MANUFACTURER = "Cortical Labs"
#: the DeviceModel the device links to (pynwb 4 keeps the manufacturer there)
DEVICE_MODEL = "CL1 MEA"
ELECTRODE_GROUP = "mea"
ELECTRODE_LOCATION = "in vitro culture on the MEA"
MEA_SIDE = 8
#: the distance between neighbouring electrodes, µm (rel_x / rel_y)
MEA_PITCH_UM = 200.0
GROUND_CHANNELS = (0, 7, 56, 63)
REFERENCE_CHANNEL = 4

#: spikes: one unit per channel that has spikes
UNIT_CHANNEL = "channel"
#: repeated detections (same channel and frame) go to a unit of their own, so spike times ascend
UNIT_REPEAT = "repeat"
WAVEFORM_UNIT = "microvolts"

STIMS = "stimulations"
STIMS_PATH = f"/intervals/{STIMS}"
STIM_FRAME = "frame"
STIM_CHANNELS = "channels"
#: with neo=True the stims are also an AnnotationSeries in /stimulus (what neo reads as an Event):
#: one entry per frame, labelled with its channels ("3" or "3,17")
NEO_STIMS_PATH = f"/stimulus/{STIMS}"
#: the exported window, the one row of the epochs table (tags: this word)
WINDOW_TAG = "cldata window"

STREAMS_MODULE = "data_streams"
STREAM_INDEX = "stream_index"
#: how a stream's entries are kept (the index's ``kind`` column)
STREAM_TIMESERIES = "timeseries"
STREAM_TABLE = "table"
STREAM_MSGPACK = "msgpack"
STREAM_EMPTY = "empty"
STREAM_KINDS = (STREAM_TIMESERIES, STREAM_TABLE, STREAM_MSGPACK, STREAM_EMPTY)
#: the time columns of a stream table (seconds and the exact frame)
STREAM_TIME = "timestamp"
STREAM_FRAME = "frame"
#: the column of a msgpack stream
STREAM_VALUE = "value"
#: the index table's columns
INDEX_COLUMNS = ("stream", "kind", "entries", "object", "attributes")

RESULTS_MODULE = "analysis_results"
RESULTS_TABLE = "results"

SCRATCH_ATTRIBUTES = "cldata_attributes"
SCRATCH_PARAMETERS = "cldata_parameters"
MARKER_PATH = f"/scratch/{SCRATCH_ATTRIBUTES}"


def mea_position(channel: int) -> tuple[int, int]:
    """The ``(row, column)`` of a channel on CL's MEA: ``layout[r][c] = 8*c + r``.

    >>> mea_position(0), mea_position(8), mea_position(63)
    ((0, 0), (0, 1), (7, 7))
    """
    return channel % MEA_SIDE, channel // MEA_SIDE


#: a file split into members (``split=``, HDF5's *family* driver): ``rec.nwb`` is written as
#: ``rec.00000.nwb``, ``rec.00001.nwb``, ... each at most the split size; together one HDF5 file
FAMILY_DIGITS = 5
#: the smallest member size a split file takes (smaller would mean thousands of files)
MIN_SPLIT_BYTES = 2**20
_MEMBER = re.compile(rf"^(?P<stem>.+)\.(?P<index>\d{{{FAMILY_DIGITS}}})(?P<suffix>\.nwb)$")


def family_member(out: Path, index: int) -> Path:
    """The name of member ``index`` of the family written for ``out``.

    Examples
    --------
    >>> family_member(Path("out/rec.nwb"), 1).as_posix()
    'out/rec.00001.nwb'
    """
    return out.with_name(f"{out.stem}.{index:0{FAMILY_DIGITS}d}{out.suffix}")


def family_pattern(out: Path) -> Path:
    """The name h5py's family driver takes for the members of ``out`` (``rec.%05d.nwb``).

    Examples
    --------
    >>> family_pattern(Path("rec.nwb")).name
    'rec.%05d.nwb'
    """
    return out.with_name(f"{out.stem}.%0{FAMILY_DIGITS}d{out.suffix}")


def family_members(out: Path) -> list[Path]:
    """The members of ``out``'s family that exist, in order (none: ``[]``).

    Examples
    --------
    >>> family_members(Path("no/such/rec.nwb"))
    []
    """
    members = []
    while family_member(out, len(members)).exists():
        members.append(family_member(out, len(members)))
    return members


def family_of(path: Path) -> Path | None:
    """The ``out`` name of the family ``path`` names (a member, or ``out`` itself), else ``None``.

    Examples
    --------
    >>> family_of(Path("no/such/rec.00003.nwb")).as_posix()
    'no/such/rec.nwb'
    """
    match = _MEMBER.match(path.name)
    if match:
        out = path.with_name(match["stem"] + match["suffix"])
        return out if family_member(out, 0).exists() or not path.exists() else None
    if not path.exists() and family_member(path, 0).exists():
        return path
    return None


def is_nwb_name(path: Path) -> bool:
    """Whether ``path`` names an NWB file that is there: a ``.nwb`` file, or a split one by its name or a member.

    Examples
    --------
    >>> is_nwb_name(Path("no/such/rec.nwb"))
    False
    """
    if path.suffix.lower() != ".nwb":
        return False
    return path.is_file() or family_of(path) is not None
