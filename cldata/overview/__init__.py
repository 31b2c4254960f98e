"""Multi-resolution overviews of a recording (see :mod:`~cldata.overview.pyramid`)."""

from cldata.overview.pyramid import (
    FORMAT_NAME,
    FORMAT_VERSION,
    MAX_OVERVIEW_FRAMES,
    MAX_SPIKE_BLOCKS,
    OVERVIEW,
    Envelope,
    Overview,
    OverviewError,
    SpikeActivity,
    StaleOverviewError,
    build_overview,
    ensure_overview,
)

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
