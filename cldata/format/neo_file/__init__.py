"""neo-native recordings: one neo segment per HDF5 file, stored losslessly, read back lazily.

A CL recording has its CL file; any other neo data (a simulation's segment, a NIX file, a
recording from another rig) is stored by :func:`write_neo_recording` in a layout designed for a
neo segment (docs/NEO-LAYOUT.md): every analog and irregularly sampled signal, spike train
(with waveforms), event and epoch, in its own dtype and units, with names, annotations and
array annotations, and the segment's (and block's) own attributes, as plain HDF5 arrays and
msgpack bytes — no pickles, nothing read back can run code. :class:`NeoRecordingView` opens such
a file read-only with the API of a CL :class:`~cldata.format.reader.RecordingView`: time
windows (``between``), ``segment(lazy=True)`` of neo proxies, ``read_spikes()`` for spike
analyses. :func:`neo_segments` turns a segment, a block or any file ``neo.io`` reads into
segments to store.

The package, one idea a module: :mod:`~cldata.format.neo_file.layout` (the names),
:mod:`~cldata.format.neo_file.values` (plain values, checked lossless),
:mod:`~cldata.format.neo_file.write` (the writer), :mod:`~cldata.format.neo_file.objects`
(objects read back, windowed), :mod:`~cldata.format.neo_file.proxies` (the lazy objects),
:mod:`~cldata.format.neo_file.view` (the view) and :mod:`~cldata.format.neo_file.sources`
(segments from neo objects and files).

Examples
--------
>>> from cldata.format.neo_file import write_neo_recording, NeoRecordingView, neo_segments
>>> for i, seg in enumerate(neo_segments("data.nix")):                        # doctest: +SKIP
...     write_neo_recording(seg, f"seg{i}.h5")
>>> with NeoRecordingView("seg0.h5", window=(1 * pq.s, 2 * pq.s)) as view:   # doctest: +SKIP
...     seg = view.segment(lazy=True)
"""

from cldata.format.neo_file.sources import neo_segments
from cldata.format.neo_file.view import NeoRecordingView, is_neo_recording
from cldata.format.neo_file.write import write_neo_recording

__all__ = ["write_neo_recording", "is_neo_recording", "NeoRecordingView", "neo_segments"]
