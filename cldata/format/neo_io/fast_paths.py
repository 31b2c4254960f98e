"""The neo segment's fast paths: where cldata builds neo objects itself instead of neo's own way.

Each replaces one of neo's steps that costs far more than the data it moves, and each is
pinned by a test comparing it with neo's own result (what it costs: code that restates what
neo does, which a change in neo could make differ; the tests would say so):

- :func:`build_spike_trains` replaces ``SpikeTrainProxy(...).load()`` for each channel of an
  eager, whole segment. A proxy and its load redo the same unit arithmetic for every
  channel, and quantities parses a unit string (with ``ast``) at nearly every step, ~0.3 ms
  per train, more than a train's data costs; the trains built directly take the same
  values, units, sweep and annotations (``test_the_eager_segment_is_the_one_neo_builds``
  in ``tests/test_neo_segment_fast_paths.py`` compares every attribute with neo's
  ``BaseFromRaw.read_segment``).
- :class:`ScaledSignalProxy` replaces ``AnalogSignalProxy.load()``'s memory: neo's load
  reads the whole raw range, then rescales it into a second array, holding both (one
  minute of 64 channels: 192 MB of int16 besides the 384 MB result); this one has the
  RawIO rescale a block at a time into the result, with neo's own arithmetic. It relies on
  neo's load asking the RawIO for the raw chunk and then for its rescaling (the hook is
  :meth:`CLRawIO.rescaling_in_blocks <cldata.format.neo_io.rawio.CLRawIO.rescaling_in_blocks>`);
  ``tests/test_samples_scaled_in_blocks.py`` compares its loads bit for bit with neo's
  ``AnalogSignalProxy.load`` (lazy and eager, windows, channels, time slices).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import quantities as pq
from neo.core import AnalogSignal, SpikeTrain
from neo.io.proxyobjects import AnalogSignalProxy, check_annotations, ensure_signal_units

from cldata.format.neo_io.rawio import CLRawIO

__all__ = ["build_spike_trains", "ScaledSignalProxy"]


def build_spike_trains(rawio: CLRawIO, block_index: int, seg_index: int, load_waveforms: bool) -> list[SpikeTrain]:
    """Every channel's SpikeTrain over the whole segment: what neo's ``SpikeTrainProxy.load()`` gives, faster.

    Examples
    --------
    >>> trains = build_spike_trains(CLRawIO(filename="rec.h5"), 0, 0, load_waveforms=True)  # doctest: +SKIP
    """
    # Exactly what neo's SpikeTrainProxy(...).load(load_waveforms=...) gives for each
    # channel over the whole segment, built directly: a proxy and its load redo the same
    # unit arithmetic for every channel, and quantities parses a unit string (with ast)
    # at nearly every step, ~0.3 ms per train, more than a train's data costs.
    # test_neo_segment_fast_paths checks the trains equal loaded proxies in every attribute.
    t_start = rawio.segment_t_start(block_index, seg_index) * pq.s
    t_stop = rawio.segment_t_stop(block_index, seg_index) * pq.s
    annotations_of = rawio.raw_annotations["blocks"][block_index]["segments"][seg_index]["spikes"]
    units: dict[tuple[str, float, float], tuple[Any, Any, Any]] = {}
    trains = []
    for c, h in enumerate(rawio.header["spike_channels"]):
        key = (str(h["wf_units"]), float(h["wf_sampling_rate"]), float(h["wf_left_sweep"]))
        if key not in units:
            rate = h["wf_sampling_rate"] * pq.Hz
            units[key] = (rate, (h["wf_left_sweep"] / rate).rescale("s"), ensure_signal_units(h["wf_units"]))
        rate, left_sweep, wf_units = units[key]
        annotations = dict(annotations_of[c])
        array_annotations = {k: np.asarray(v) for k, v in annotations.pop("__array_annotations__").items()}
        annotations = check_annotations(annotations)
        annotations.setdefault("file_origin", str(rawio.source_name()))
        times = rawio.rescale_spike_timestamp(
            rawio.get_spike_timestamps(block_index, seg_index, c, None, None), dtype="float64"
        )
        waveforms = None
        if load_waveforms:
            raw = rawio.get_spike_raw_waveforms(block_index, seg_index, c, None, None)
            waveforms = pq.Quantity(rawio.rescale_waveforms_to_float(raw, dtype="float32", spike_channel_index=c),
                                    units=wf_units, dtype="float32")
        train = SpikeTrain(
            times,
            t_stop,
            units=pq.s,  # a unit, not a string: quantities parses strings (with ast) each time
            dtype="float64",
            t_start=t_start,
            # each train its own, as each proxy gives its own
            sampling_rate=rate.copy(),
            waveforms=waveforms,
            left_sweep=left_sweep.copy(),
            **annotations,
        )
        train.array_annotate(**{k: v for k, v in array_annotations.items() if v.ndim == 1})
        trains.append(train)
    return trains


class ScaledSignalProxy(AnalogSignalProxy):
    """neo's AnalogSignalProxy whose rescaled load converts a block at a time into its result.

    Examples
    --------
    >>> proxy = ScaledSignalProxy(rawio=raw, stream_index=0, inner_stream_channels=None)  # doctest: +SKIP
    >>> proxy.load(time_slice=(0 * pq.s, 1 * pq.s)).shape                                # doctest: +SKIP
    (25000, 64)
    """

    def load(self, time_slice: Any = None, strict_slicing: bool = True, channel_indexes: Any = None,
             magnitude_mode: str = "rescaled") -> AnalogSignal:
        """Load the AnalogSignal (rescaled: converted a block at a time into the result)."""
        rawio = self._rawio
        if magnitude_mode != "rescaled" or not isinstance(rawio, CLRawIO):
            return super().load(time_slice, strict_slicing, channel_indexes, magnitude_mode)
        # the dtype neo's load chooses for the rescaled signal
        with rawio.rescaling_in_blocks("float64" if self.dtype == "float64" else "float32"):
            return super().load(time_slice, strict_slicing, channel_indexes, magnitude_mode)
