"""cldata: a parametrised datastore for closed-loop neural recordings (Cortical Labs CL1).

The public names live here::

    import cldata
    rec = cldata.RecordingView("recording.h5")        # read a CL recording
    with cldata.RecordingWriter("new.h5") as w: ...   # write one, crash-safely
    cldata.recover("crashed.h5")                      # restore what a dead writer flushed

Importing cldata makes PyTables load pickled node attributes through cldata's allow-list
(see :mod:`cldata.restricted_pickle`): no file opened in this process can run code that
way.
"""

from cldata import errors
from cldata.format import (
    DataStreamCollection,
    DataStreamView,
    DataStreamWriter,
    RecordingView,
    RecordingWriter,
    RecoveryReport,
    decode,
    encode,
    recover,
)

__version__ = "0.1.0"

__all__ = [
    "errors",
    "encode",
    "decode",
    "RecordingView",
    "DataStreamView",
    "DataStreamCollection",
    "RecordingWriter",
    "DataStreamWriter",
    "recover",
    "RecoveryReport",
    "__version__",
]
