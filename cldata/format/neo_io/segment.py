"""``CLIO`` and :func:`read_segment`: a CL recording as one neo Segment, eager or lazy.

:class:`CLIO` is neo's IO over :class:`~cldata.format.neo_io.rawio.CLRawIO` (neo's
``BaseFromRaw``): ``read_block`` / ``read_segment`` give neo objects. Its
:meth:`CLIO.read_segment` assembles the segment as neo's does (the segment's annotations,
then a signal per signal sub-stream, a train per spike channel, an event per event
channel), from neo's public classes, but with cldata's objects where neo's cost more: its
proxies (:mod:`~cldata.format.neo_io.proxies`) in a lazy segment, and in an eager one the
signals loaded a block at a time and, for a whole segment, every train built at once after
one read of all waveforms (:mod:`~cldata.format.neo_io.fast_paths`). It accepts
``load_waveforms`` with ``lazy=True`` (neo refuses it): the trains' ``load()`` default.

Examples
--------
>>> seg = read_segment(cldata.RecordingView("rec.h5"), lazy=False)   # doctest: +SKIP
>>> len(seg.spiketrains), seg.events[0].name                         # doctest: +SKIP
(64, 'stims')
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from typing import Any

from neo.core import Segment
from neo.io.basefromrawio import BaseFromRaw
from neo.io.proxyobjects import check_annotations

from cldata.format.neo_io.fast_paths import ScaledSignalProxy, build_spike_trains
from cldata.format.neo_io.proxies import SpikeTrainProxy, StimEventProxy
from cldata.format.neo_io.rawio import CLRawIO
from cldata.format.reader import RecordingView

__all__ = ["CLIO", "read_segment"]


class CLIO(CLRawIO, BaseFromRaw):
    """neo IO for CL recordings: ``read_block`` / ``read_segment`` give neo objects, lazily if asked.

    Parameters are those of :class:`~cldata.format.neo_io.rawio.CLRawIO`.
    ``read_segment(lazy=True, load_waveforms=...)`` is accepted here (neo refuses it): it
    sets whether the spike trains' ``load()`` reads waveforms by default.

    Examples
    --------
    >>> io = CLIO(filename="sim_small_recording.h5")              # doctest: +SKIP
    >>> seg = io.read_segment(lazy=False, load_waveforms=True)    # doctest: +SKIP
    >>> seg.spiketrains[42].waveforms.shape                       # doctest: +SKIP
    (2, 1, 75)
    >>> seg.events[0].labels                                      # doctest: +SKIP
    array(['8', '9', '10'], dtype='<U3')
    """

    name = "CLIO"
    description = CLRawIO.description
    extensions = CLRawIO.extensions
    _prefered_signal_group_mode = "group-by-same-units"

    def __init__(
        self,
        filename: str | os.PathLike[str] | None = None,
        *,
        view: RecordingView | None = None,
        window: tuple[Any, Any] | None = None,
        signals: bool = True,
    ):
        CLRawIO.__init__(self, filename, view=view, window=window, signals=signals)
        BaseFromRaw.__init__(self, self.filename)

    def read_segment(
        self,
        block_index: int = 0,
        seg_index: int = 0,
        lazy: bool = False,
        signal_group_mode: str | None = None,
        load_waveforms: bool = False,
        time_slice: Any = None,
        strict_slicing: bool = True,
    ) -> Segment:
        """Read the recording's segment (see :meth:`neo.io.basefromrawio.BaseFromRaw.read_segment`).

        Examples
        --------
        >>> seg = CLIO(filename="rec.h5").read_segment(lazy=True)   # doctest: +SKIP
        >>> seg.spiketrains[0].load().waveforms is None             # doctest: +SKIP
        True
        """
        if lazy and time_slice is not None:
            raise ValueError("For lazy=True you must specify a time_slice when LazyObject.load(time_slice=...)")
        where = {"block_index": block_index, "seg_index": seg_index}
        loaded = {"time_slice": time_slice, "strict_slicing": strict_slicing}
        annotations = dict(self.raw_annotations["blocks"][block_index]["segments"][seg_index])
        for key in ("signals", "spikes", "events"):
            annotations.pop(key)
        seg = Segment(index=seg_index, **check_annotations(annotations))
        for stream_index, inner_stream_channels, name in self.get_sub_signal_streams(
                signal_group_mode or self._prefered_signal_group_mode):
            signal = ScaledSignalProxy(rawio=self, stream_index=stream_index,
                                       inner_stream_channels=inner_stream_channels, **where)
            signal.name = name
            seg.analogsignals.append(signal if lazy else signal.load(**loaded))
        whole = not lazy and time_slice is None
        with self.all_waveforms_read() if whole and load_waveforms else nullcontext():
            if whole:
                trains = build_spike_trains(self, block_index, seg_index, load_waveforms)
            else:
                trains = [SpikeTrainProxy(rawio=self, spike_channel_index=c, load_waveforms=load_waveforms, **where)
                          for c in range(len(self.header["spike_channels"]))]
                if not lazy:
                    trains = [t.load(load_waveforms=load_waveforms, **loaded) for t in trains]
            seg.spiketrains.extend(trains)
        for c, kind in enumerate(self.header["event_channels"]["type"]):
            if kind == b"event":  # a CL recording has no epochs
                event = StimEventProxy(rawio=self, event_channel_index=c, **where)
                seg.events.append(event if lazy else event.load(**loaded))
        seg.check_relationships()
        return seg


def read_segment(view: RecordingView, lazy: bool = True, *, waveforms: bool = True, signals: bool = True) -> Segment:
    """The recording of ``view`` as a :class:`neo.Segment`, limited to the view's window.

    Parameters
    ----------
    view
        An open :class:`~cldata.RecordingView`; the segment reads through it, so keep it open
        while loading lazy objects.
    lazy
        Give neo proxy objects, which read the file only when ``.load()``-ed (``.load(
        time_slice=(t0, t1))`` reads only that slice). Building the lazy segment reads the
        spikes' timestamp and channel columns once (for the per-channel counts) and nothing else.
    waveforms
        Whether spike trains carry their waveforms (for a lazy segment: the default of
        ``load()``). The trains' waveforms are parts of one array holding all of the window's
        (no two trains share any), so one train kept alive keeps that whole array; copy its
        ``waveforms`` to keep only its own.
    signals
        Whether to include the AnalogSignal of the samples.

    Returns
    -------
    neo.Segment
        64 spike trains (one per channel), the AnalogSignal of the samples in µV (if the file
        has samples and ``signals``), and the ``"stims"`` Event.

    Examples
    --------
    >>> rec = cldata.RecordingView("sim_small_recording.h5", window=(2500, 5000))  # doctest: +SKIP
    >>> seg = read_segment(rec, lazy=False)                                        # doctest: +SKIP
    >>> seg.t_start, seg.analogsignals[0].shape                                     # doctest: +SKIP
    (array(0.1) * s, (2500, 64))
    """
    return CLIO(view=view, signals=signals).read_segment(lazy=lazy, load_waveforms=waveforms)
