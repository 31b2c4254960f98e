"""The names of the neo-segment layout (docs/NEO-LAYOUT.md), shared by the writer and the reader.

Examples
--------
>>> KINDS["spiketrains"].arrays
('times', 'waveforms')
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LAYOUT", "LAYOUT_VERSION", "LAYOUT_ATTR", "VERSION_ATTR", "SEGMENT_NODE", "META", "KINDS", "Kind", "COMMON_META", "SEGMENT_META",
           "member_name"]

LAYOUT_ATTR = "cldata_layout"
VERSION_ATTR = "cldata_layout_version"
LAYOUT = "neo-segment"
LAYOUT_VERSION = 1
SEGMENT_NODE = "segment"  # uint8 msgpack: the segment's (and block's) own attributes
META = "meta"  # in each object's group: uint8 msgpack of its attributes


@dataclass(frozen=True)
class Kind:
    """One list of a neo segment stored as a group of numbered member groups."""

    group: str  # the group under the root, also the Segment attribute holding the list
    arrays: tuple[str, ...]  # the arrays a member group may hold (labels: msgpack bytes)
    quantities: tuple[str, ...] = ()  # the meta keys holding a quantity (units, rates, times)


KINDS = {
    "analogsignals": Kind("analogsignals", ("values",), ("units", "sampling_rate", "t_start")),
    "irregularlysampledsignals": Kind("irregularlysampledsignals", ("times", "values"), ("units", "time_units")),
    "spiketrains": Kind("spiketrains", ("times", "waveforms"), ("units", "t_start", "t_stop")),
    "events": Kind("events", ("times", "labels"), ("units",)),
    "epochs": Kind("epochs", ("times", "durations", "labels"), ("units", "duration_units")),
}
#: The meta keys every object has (besides its kind's quantities).
COMMON_META = ("name", "description", "file_origin", "annotations", "array_annotations")
#: The keys of the segment's record.
SEGMENT_META = ("name", "description", "file_origin", "rec_datetime", "index", "annotations", "block")


def member_name(index: int) -> str:
    """The group name of the ``index``-th object of a list (``o000000``: sorts in list order)."""
    return f"o{index:06d}"
