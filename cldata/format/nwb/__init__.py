"""NWB files of CL recordings: :func:`write_nwb` writes one, :func:`read_nwb` reads it back.

The layout (which NWB object holds which part of a recording) is :mod:`.layout`; pynwb, hdmf
and h5py (the ``nwb`` extra) are imported when a file is written or read, not on import.
"""

from cldata.format.nwb.reader import NWBRecordingView, is_cldata_nwb, read_nwb
from cldata.format.nwb.writer import write_nwb

__all__ = ["write_nwb", "read_nwb", "is_cldata_nwb", "NWBRecordingView"]
