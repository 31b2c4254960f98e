"""Following a recording while it is written (see :mod:`~cldata.live.follower`)."""

from cldata.live.follower import Batch, Samples, Spikes, Stims, StreamEntry, follow, follow_dataframes

__all__ = ["follow", "follow_dataframes", "StreamEntry", "Spikes", "Stims", "Samples", "Batch"]
