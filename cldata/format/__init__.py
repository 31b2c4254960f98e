"""The CL recording file format: one CL recording file, read and written; it knows nothing of stores.

A CL recording is an HDF5 file (:mod:`cldata.format.layout`) made of parts — data streams,
spikes, stims, samples — listed once in :mod:`cldata.format.parts`. Writing goes through a
journal so that a crash loses nothing flushed (:mod:`~cldata.format.writer`,
:mod:`~cldata.format.journal`, :mod:`~cldata.format.recovery`); reading is strict about
safety and tolerant of untidy files (:mod:`~cldata.format.reader`,
:mod:`~cldata.format.streams`, :mod:`~cldata.format.events`); values are msgpack through
:mod:`~cldata.format.codec`; :mod:`~cldata.format.neo_io` shows a recording as neo objects.
"""

from cldata.format.codec import decode, encode
from cldata.format.normalize import NormalizeReport, normalize
from cldata.format.reader import RecordingView
from cldata.format.recovery import RecoveryReport, recover
from cldata.format.streams import DataStreamCollection, DataStreamView
from cldata.format.writer import DataStreamWriter, RecordingWriter

__all__ = [
    "encode",
    "decode",
    "RecordingView",
    "DataStreamView",
    "DataStreamCollection",
    "RecordingWriter",
    "DataStreamWriter",
    "recover",
    "RecoveryReport",
    "normalize",
    "NormalizeReport",
]
