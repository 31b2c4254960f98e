"""The CL recording file format: codec, reader, writer, journal and neo view (DESIGN.md §1).

This package is the foundation: it knows one CL recording file and nothing of stores.
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
