"""Neurons, the CL way: a recording's channels, with their positions and annotations (mozaik's neuron data).

mozaik keeps per-neuron positions and annotations for each sheet
(``get_neuron_positions()``, ``get_neuron_annotations()``). A CL1 recording's "neurons"
are its channels, the electrodes of an 8×8 multi-electrode array in the common layout of
:data:`cldata.toolkit.preprocess.MEA_LAYOUT` (``layout[row][column] = 8*column + row``:
channel 0 top-left, channels run down the columns). Positions are in **grid units**,
``(column, row)`` — ``x`` to the right, ``y`` down — since the CL file gives no electrode
pitch; annotations say whether a channel is one of the four ground channels or the
reference channel, and its row and column.

A recording of another kind (a neo segment) gives its own: the recording's view is asked
for ``neuron_positions()`` / ``neuron_annotations()`` when it has them, and a catalog
summary may hold ``"neurons"``: ``{channel: {"position": [x, y], ...annotations}}``
(channels as strings or ints); only a recording with neither gets the MEA layout.

Examples
--------
>>> mea_positions(3)
{0: (0, 0), 1: (0, 1), 2: (0, 2)}
>>> mea_annotations(2)[0]
{'ground': True, 'reference': False, 'row': 0, 'column': 0}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cldata.errors import ParameterError
from cldata.toolkit.preprocess import GROUND_CHANNELS, MEA_LAYOUT, REFERENCE_CHANNEL

__all__ = ["MEA_CHANNELS", "mea_position", "mea_positions", "mea_annotations", "summary_positions",
           "summary_annotations"]

#: channels of the common MEA layout
MEA_CHANNELS: int = int(MEA_LAYOUT.size)


def mea_position(channel: int) -> tuple[int, int]:
    """``(column, row)`` of a channel in the MEA layout (grid units).

    Raises
    ------
    cldata.errors.ParameterError
        For a channel outside the layout (0–63).
    """
    if not isinstance(channel, int) or not 0 <= channel < MEA_CHANNELS:
        raise ParameterError(f"channel {channel!r} is not in the {MEA_CHANNELS}-channel MEA layout (0–{MEA_CHANNELS - 1})")
    column, row = divmod(channel, MEA_LAYOUT.shape[0])
    return column, row


def _channels(channel_count: int) -> range:
    return range(min(int(channel_count), MEA_CHANNELS))


def mea_positions(channel_count: int = MEA_CHANNELS) -> dict[int, tuple[int, int]]:
    """``channel -> (column, row)`` for the first ``channel_count`` channels of the MEA layout."""
    return {ch: mea_position(ch) for ch in _channels(channel_count)}


def mea_annotations(channel_count: int = MEA_CHANNELS) -> dict[int, dict[str, Any]]:
    """``channel -> {"ground", "reference", "row", "column"}`` for the MEA layout's channels."""
    out = {}
    for ch in _channels(channel_count):
        column, row = mea_position(ch)
        out[ch] = {"ground": ch in GROUND_CHANNELS, "reference": ch == REFERENCE_CHANNEL, "row": row, "column": column}
    return out


def _neurons(summary: Mapping[str, Any]) -> dict[int, Mapping[str, Any]] | None:
    neurons = summary.get("neurons")
    if not isinstance(neurons, Mapping):
        return None
    out = {}
    for key, value in neurons.items():
        try:
            channel = int(key)
        except (TypeError, ValueError):
            continue  # a key that is no channel number: not a neuron
        out[channel] = value if isinstance(value, Mapping) else {}
    return out


def summary_positions(summary: Mapping[str, Any]) -> dict[int, tuple[float, ...]] | None:
    """Positions from a catalog summary's ``"neurons"`` (``None``: it has none)."""
    neurons = _neurons(summary)
    if neurons is None:
        return None
    return {ch: tuple(n["position"]) for ch, n in sorted(neurons.items()) if n.get("position") is not None}


def summary_annotations(summary: Mapping[str, Any]) -> dict[int, dict[str, Any]] | None:
    """Annotations from a catalog summary's ``"neurons"`` (``None``: it has none)."""
    neurons = _neurons(summary)
    if neurons is None:
        return None
    return {ch: {k: v for k, v in n.items() if k != "position"} for ch, n in sorted(neurons.items())}
