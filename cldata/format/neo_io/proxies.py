"""The lazy objects of a CL segment: neo's proxies, with cldata's defaults.

A lazy segment holds neo proxy objects whose ``load()`` reads from the file only then
(``load(time_slice=(t0, t1))`` only that slice). Two of cldata's differ from neo's in
behaviour only, and are made through neo's own constructors:

- :class:`SpikeTrainProxy` loads waveforms by default when the segment was asked for them
  (neo's proxy loads none unless told at each ``load()``);
- :class:`StimEventProxy` keeps the stims' ``channel`` array annotation in time-sliced
  loads (neo drops array annotations there; the channel comes back from the labels).

Examples
--------
>>> seg = cldata.RecordingView("rec.h5").segment(lazy=True)   # doctest: +SKIP
>>> seg.spiketrains[0].load().waveforms.shape                 # doctest: +SKIP
(12, 1, 75)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from neo.core import Event, SpikeTrain
from neo.io import proxyobjects

__all__ = ["SpikeTrainProxy", "StimEventProxy", "annotate_stim_channels"]


class SpikeTrainProxy(proxyobjects.SpikeTrainProxy):
    """neo's SpikeTrainProxy whose ``load()`` reads waveforms by default if ``load_waveforms``.

    Parameters
    ----------
    rawio, spike_channel_index, block_index, seg_index
        As neo's :class:`neo.io.proxyobjects.SpikeTrainProxy`.
    load_waveforms
        What ``load()`` does when not told (``load_waveforms=None``).

    Examples
    --------
    >>> proxy = SpikeTrainProxy(rawio=raw, spike_channel_index=3, load_waveforms=True)  # doctest: +SKIP
    >>> proxy.load().waveforms is not None                                             # doctest: +SKIP
    True
    """

    def __init__(self, rawio: Any = None, spike_channel_index: int | None = None, block_index: int = 0,
                 seg_index: int = 0, load_waveforms: bool = False):
        super().__init__(rawio=rawio, spike_channel_index=spike_channel_index, block_index=block_index,
                         seg_index=seg_index)
        self.default_load_waveforms = bool(load_waveforms)

    def load(self, time_slice: Any = None, strict_slicing: bool = True, magnitude_mode: str = "rescaled",
             load_waveforms: bool | None = None) -> SpikeTrain:
        """Load the SpikeTrain (``load_waveforms=None`` uses the segment's ``waveforms`` choice)."""
        if load_waveforms is None:
            load_waveforms = self.default_load_waveforms
        return super().load(time_slice, strict_slicing, magnitude_mode, load_waveforms)


def annotate_stim_channels(event: Event) -> Event:
    """Give a stims Event its ``channel`` array annotation (from its labels) if it lacks it."""
    if "channel" not in event.array_annotations:
        event.array_annotate(channel=np.asarray(event.labels).astype(np.int64))
    return event


class StimEventProxy(proxyobjects.EventProxy):
    """neo's EventProxy for the stims, whose loads always carry the ``channel`` array annotation.

    Examples
    --------
    >>> StimEventProxy(rawio=raw, event_channel_index=0).load().array_annotations["channel"]  # doctest: +SKIP
    array([8, 9, 10])
    """

    def load(self, time_slice: Any = None, strict_slicing: bool = True) -> Event:
        """Load the stims Event, with its ``channel`` array annotation."""
        return annotate_stim_channels(super().load(time_slice, strict_slicing))
