"""A neo view of CL recordings: ``CLRawIO`` (neo.rawio), ``CLIO`` (neo.io) and :func:`read_segment`.

A recording reads as one :class:`neo.Segment`:

- one :class:`~neo.core.SpikeTrain` per channel ``0 .. channel_count-1`` (also for channels
  without spikes, so every recording gives the same list), times in s since the recording
  started, waveforms in µV shaped ``(n_spikes, 1, 75)``, ``left_sweep`` 25 frames, and the
  annotations ``channel`` and ``channel_name``;
- one :class:`~neo.core.AnalogSignal` of ``/samples`` in µV (omitted when the file has none),
  its values neo's rescaling of the raw samples, done a block at a time into the result (so
  loading it needs the result's memory plus a few MB, not the raw samples as well);
- one :class:`~neo.core.Event` named ``"stims"``: stim times, labels the channel numbers as
  strings, and the array annotation ``channel``.

Untidy files (docs/READER-TOLERANCE.md): spikes on channels outside ``0 .. channel_count-1``
(negative ones included) have no SpikeTrain and are left out, said once per opened file with
an :class:`~cldata.errors.UntidyRecordingWarning` (``read_spikes()`` returns them, as the CL
reader's rows do); a spike table without readable waveforms gives NaN waveforms of 75
samples; a table out of time order is read by scanning.

The segment covers the window of the :class:`~cldata.format.reader.RecordingView` it comes
from, ``[start, stop)`` in frames, clipped to the recording. Loaded lazily, it holds neo proxy
objects whose ``load(time_slice=(t0, t1))`` reads only that slice from the file; time slices
are half-open, ``t0 <= t < t1``, as windows are everywhere in cldata.

The package, one idea a module: :mod:`~cldata.format.neo_io.rawio` (``CLRawIO``: the file as
neo's raw chunks), :mod:`~cldata.format.neo_io.spike_table` (the spike table read in
chunks and grouped by channel), :mod:`~cldata.format.neo_io.proxies` (the lazy objects),
:mod:`~cldata.format.neo_io.fast_paths` (where cldata builds neo objects itself, what each
replaces and costs) and :mod:`~cldata.format.neo_io.segment` (``CLIO`` and
:func:`read_segment`: the segment assembled from them).

Examples
--------
>>> import cldata, quantities as pq
>>> rec = cldata.RecordingView("sim_small_recording.h5")                  # doctest: +SKIP
>>> seg = rec.segment(lazy=True)                                          # doctest: +SKIP
>>> len(seg.spiketrains), seg.analogsignals[0].shape                      # doctest: +SKIP
(64, (12500, 64))
>>> seg.spiketrains[42].load(time_slice=(0 * pq.s, 0.1 * pq.s)).times    # doctest: +SKIP
array([0.02356]) * s
>>> from cldata.format.neo_io import CLIO
>>> block = CLIO(filename="sim_small_recording.h5").read_block()          # doctest: +SKIP

"""

from cldata.format.neo_io.rawio import CLRawIO
from cldata.format.neo_io.segment import CLIO, read_segment

__all__ = ["CLRawIO", "CLIO", "read_segment"]
