"""Following a recording while it is written, or replaying a finished one the same way.

A writer's crash-safety journal is the live channel: :func:`follow` tails it (or replays
a finished file in one-second windows) and yields what each ``flush()`` brought, as
per-entry :class:`StreamEntry` events and vectorised :class:`Spikes`, :class:`Stims` and
:class:`Samples`, or as whole :class:`Batch` objects; :func:`follow_dataframes` gives one
stream as pandas DataFrames. This layer reads one CL file and its journal (``cldata.format``)
and knows no store. ``docs/LIVE.md`` is the guide.

Modules: :mod:`~cldata.live.events` (what is yielded), :mod:`~cldata.live.follower`
(:func:`follow`), :mod:`~cldata.live.tail` (a live journal), :mod:`~cldata.live.replay`
(a finished file), :mod:`~cldata.live.selection` (which streams and events),
:mod:`~cldata.live.dataframes` (the pandas adapter).
"""

from cldata.live.dataframes import follow_dataframes
from cldata.live.events import AttributesUpdated, Batch, Samples, Spikes, Stims, StreamEntry
from cldata.live.follower import SelectedRecording, follow

__all__ = ["follow", "follow_dataframes", "StreamEntry", "AttributesUpdated", "Spikes", "Stims", "Samples", "Batch", "SelectedRecording"]
