"""What a follower yields: stream entries, and spikes, stims, samples and batches as arrays.

A live recording arrives one ``flush()`` at a time, so everything here is "what one batch
brought". A data-stream entry is one Python value anyway (decoded one by one), so it comes
as a small :class:`StreamEntry` each; spikes come by the thousand per second across 64
channels with a 75-sample waveform each, so they come vectorised, one :class:`Spikes` per
batch (numpy arrays are what analyses want; per-spike objects would cost more than reading
them), and so do :class:`Stims` and raw :class:`Samples`. A :class:`Batch` holds all of one
batch at once, for consumers that want arrays of entries too (``follow(..., batch=True)``).

For a finished recording, replayed from its file, a "batch" is a one-second window.

Examples
--------
>>> import numpy as np
>>> b = Batch(0, {"score": (np.array([10, 20]), [1, 2])})
>>> b.entry_count, [e.value for e in b.events()]
(2, [1, 2])
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from cldata.format.samples import samples_to_uV

__all__ = ["StreamEntry", "AttributesUpdated", "Spikes", "Stims", "Samples", "Batch", "Event"]


class StreamEntry(NamedTuple):
    """One data-stream entry: the stream's name, its timestamp (frames) and its decoded value."""

    stream: str
    timestamp: int
    value: Any


class AttributesUpdated(NamedTuple):
    """A data stream's ``application`` attributes changed: its name and the WHOLE attributes after it.

    Live, one comes for every ``set_attribute`` / ``update_attributes`` of the writer, in
    order with the stream's entries (an update made between two appends arrives between
    their entries). A finished recording keeps no history of updates: its replay gives one
    per selected stream that has attributes, with its final attributes, after every window.

    Examples
    --------
    >>> AttributesUpdated("score", {"points": 3}).attributes["points"]
    3
    """

    stream: str
    attributes: dict[str, Any]


class Spikes(NamedTuple):
    """The spikes of one flushed batch, vectorised.

    Attributes
    ----------
    timestamps : numpy.ndarray
        int64 frames, non-decreasing.
    channels : numpy.ndarray
        uint8 channel numbers.
    waveforms : numpy.ndarray
        float32 ``(n, 75)`` waveforms in µV (25 samples before the spike, 50 from it).
    """

    timestamps: np.ndarray
    channels: np.ndarray
    waveforms: np.ndarray

    def __len__(self) -> int:  # type: ignore[override]
        return int(self.timestamps.size)


class Stims(NamedTuple):
    """The stimulations of one flushed batch: int64 ``timestamps`` and uint8 ``channels``."""

    timestamps: np.ndarray
    channels: np.ndarray

    def __len__(self) -> int:  # type: ignore[override]
        return int(self.timestamps.size)


class Samples(NamedTuple):
    """The raw samples of one flushed batch (or one replayed window), vectorised.

    Attributes
    ----------
    timestamp : int
        The frame of the first row: row ``i`` is frame ``timestamp + i`` (frames since the
        recording started, like every timestamp; the file's ``/samples`` row number).
    samples : numpy.ndarray
        int16 ``(frames, channels)`` in sample units, exactly as the writer appended them.
    uV_per_sample_unit : float
        The recording's scale from sample units to µV (CL: 0.195).

    Examples
    --------
    >>> import numpy as np
    >>> s = Samples(25000, np.array([[10, -20], [12, 0]], np.int16), 0.5)
    >>> len(s), s.stop, s.scaled().tolist()
    (2, 25002, [[5.0, -10.0], [6.0, 0.0]])
    """

    timestamp: int
    samples: np.ndarray
    uV_per_sample_unit: float

    def __len__(self) -> int:  # type: ignore[override]
        return int(self.samples.shape[0])

    @property
    def stop(self) -> int:
        """One past the last frame (the next batch's ``timestamp``)."""
        return self.timestamp + len(self)

    def scaled(self) -> np.ndarray:
        """The samples in µV as float32, as ``RecordingView.read_samples(scaled=True)`` gives them."""
        return samples_to_uV(self.samples, self.uV_per_sample_unit)


@dataclass(frozen=True)
class Batch:
    """What one journal ``batch`` record (one ``flush()``) holds for the selection.

    Attributes
    ----------
    number : int
        The batch's position among the recording's batches (0-based; batches holding nothing
        selected are skipped, so numbers can jump). For a finished recording, the number of
        the one-second window it replays.
    streams : dict
        Stream name → ``(timestamps, values)``: an int64 array and the list of decoded values,
        in timestamp order; streams in the order the writer created them (for a finished
        recording, in the file's order).
    spikes : Spikes or None
        The batch's spikes, if spikes were asked for and there are any.
    stims : Stims or None
        The batch's stims, likewise.
    live : bool
        Whether the batch was read from a live journal (else from a finished file).
    samples : Samples or None
        The batch's raw samples, if samples were asked for and the batch has any (last, so
        that ``Batch(number, streams, spikes, stims, live)`` keeps its meaning).
    attributes : dict
        Stream name → its whole ``application`` attributes after an update. Live, an
        attribute update is a journal record of its own between two ``batch`` records, so it
        comes as a batch holding only ``attributes`` (numbered like the batch that follows
        it); a replay gives the selected streams' final attributes (those not empty) in one
        last batch.
    """

    number: int
    streams: dict[str, tuple[np.ndarray, list[Any]]] = field(default_factory=dict)
    spikes: Spikes | None = None
    stims: Stims | None = None
    live: bool = True
    samples: Samples | None = None
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def entry_count(self) -> int:
        """How many data-stream entries the batch holds."""
        return sum(len(values) for _, values in self.streams.values())

    def __bool__(self) -> bool:
        return bool(self.streams) or bool(self.attributes) \
            or any(x is not None for x in (self.spikes, self.stims, self.samples))

    def events(self) -> Iterator[Event]:
        """The batch as events: every stream's entries, then spikes, stims, samples, then attribute updates."""
        for name, (ts, values) in self.streams.items():
            for t, v in zip(ts.tolist(), values):
                yield StreamEntry(name, t, v)
        if self.spikes is not None:
            yield self.spikes
        if self.stims is not None:
            yield self.stims
        if self.samples is not None:
            yield self.samples
        for name, attributes in self.attributes.items():
            yield AttributesUpdated(name, attributes)


#: One event of :func:`cldata.follow`: an entry, one batch's spikes, stims or samples, or an
#: attribute update.
Event = StreamEntry | AttributesUpdated | Spikes | Stims | Samples
