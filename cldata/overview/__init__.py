"""Multi-resolution overviews of a recording: min/max pyramids of samples, binned spike counts.

Drawing an hour of 64-channel samples (90 million frames per channel) on a screen 2,000
pixels wide needs only the minimum and maximum of each pixel's stretch of frames, the
envelope that large-timeseries viewers draw. :func:`build_overview` computes such
envelopes once per recording, at every scale, in one sequential pass over the samples,
and keeps them in a small HDF5 file beside the recording (the CL file itself is only
read). :class:`Overview` then answers "the envelope of channels ``c`` over frames
``[start, stop)`` at about ``width`` points" by reading a slice of one level, whatever the
window's length: milliseconds for an hour as for a second.

The pyramid
-----------
Level 0 holds, for each block of ``base`` frames (64: 2.56 ms at 25 kHz) and each
channel, the minimum and the maximum sample. Level ``l`` holds the same over blocks of
``base * factor**l`` frames, made by reducing ``factor`` blocks of level ``l - 1`` (min of
mins, max of maxes), up to a level of a single block. Blocks are aligned to the recording
start: block ``k`` of level ``l`` covers frames ``[k * B, (k + 1) * B)`` with
``B = base * factor**l``; the last block of a level may be shorter (it ends with the
samples). With ``base=64, factor=8`` the whole pyramid is ``4/128 * 8/7 ≈ 3.6 %`` of the
samples' size.

Spike activity is stored the same way: per block and channel, the number of spikes,
from the first level whose blocks last at least ``spike_bin`` (2 ms by default) upwards,
summed level to level. Windows too short for the stored levels are counted from the
spike table directly, reading only the window's rows.

Answers are exact
-----------------
An envelope point (a bin) covers ``frames_per_point`` frames, aligned to multiples of
``frames_per_point`` from the recording start, so that panning keeps the same bins (no
shimmer), and clipped to the window at both ends. Its minimum and maximum are exactly
those of the samples it covers: whole blocks come from the chosen level, and the pieces
of blocks at the window's edges from finer levels, down to the raw samples for the last
few frames. The same holds for spike counts.

Where each part lives
---------------------
:mod:`~cldata.overview.layout`
    the file's format: name, version, nodes, how its arrays are stored.
:mod:`~cldata.overview.builder`
    :func:`build_overview`: sizes the pyramids, writes the file, renames it into place.
:mod:`~cldata.overview.threaded_pass`
    the build's one pass over the recording, with worker threads (a speed trick: what it
    replaces and costs is in its first paragraph).
:mod:`~cldata.overview.kernels`
    the numpy reductions (a speed trick over ``reduceat`` and reshaped reductions).
:mod:`~cldata.overview.cascade`
    each level reduced into the next as blocks arrive.
:mod:`~cldata.overview.chunk_encoder`
    whole HDF5 chunks, the compressed ones encoded by hand (a speed trick over HDF5's filters).
:mod:`~cldata.overview.spike_source`
    the recording's spike table, read by column or in batches.
:mod:`~cldata.overview.reader`
    :class:`Overview` and :func:`ensure_overview`: checks the file, answers requests.
:mod:`~cldata.overview.levels`, :mod:`~cldata.overview.binning`
    checked reads of a stored level stack; exact bins from it.
:mod:`~cldata.overview.results`
    :class:`Envelope` and :class:`SpikeActivity`, what requests return.

Examples
--------
>>> import cldata, quantities as pq
>>> from cldata.overview import build_overview, Overview
>>> rec = cldata.RecordingView("one_hour.h5")                      # doctest: +SKIP
>>> ov = Overview(build_overview(rec, "one_hour.overview.h5"), rec)  # doctest: +SKIP
>>> env = ov.envelope(channels=[0, 5], width=2000)                 # doctest: +SKIP
>>> env.minimum.shape, env.level, env.frames_per_point             # doctest: +SKIP
((2747, 2), 3, 32768)
>>> ov.envelope(start=60 * pq.s, stop=70 * pq.s).frames_per_point  # doctest: +SKIP
64
>>> int(ov.spike_counts(width=500).counts.sum()) == len(rec.spikes)  # doctest: +SKIP
True
"""

from cldata.errors import OverviewError, StaleOverviewError
from cldata.overview.builder import build_overview
from cldata.overview.layout import FORMAT_NAME, FORMAT_VERSION, MAX_OVERVIEW_FRAMES, MAX_SPIKE_BLOCKS, OVERVIEW
from cldata.overview.reader import Overview, ensure_overview
from cldata.overview.results import Envelope, SpikeActivity

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "OVERVIEW",
    "MAX_OVERVIEW_FRAMES",
    "MAX_SPIKE_BLOCKS",
    "Envelope",
    "SpikeActivity",
    "Overview",
    "OverviewError",
    "StaleOverviewError",
    "build_overview",
    "ensure_overview",
]
