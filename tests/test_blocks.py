"""Frame windows of about n events that never split a frame (cldata.core.blocks.frame_blocks)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cldata.core.blocks import frame_blocks


@given(frames=st.lists(st.integers(-5, 60), max_size=80).map(sorted), size=st.integers(1, 20))
def test_the_windows_cover_every_event_once_and_keep_each_frame_whole(frames, size):
    frames = np.array(frames, np.int64)
    windows = list(frame_blocks(frames, size))
    taken = []
    for start, stop in windows:
        inside = frames[(frames >= start) & ((frames < stop) if stop is not None else True)]
        assert len(inside) and inside[0] == start  # a window starts at an event
        # about size events: more only when the last frame of the window has that many
        assert len(inside) <= size or len(np.unique(inside[size - 1:])) == 1
        taken.extend(inside.tolist())
    assert taken == frames.tolist()
    assert all(stop is not None for _, stop in windows[:-1]) and (not windows or windows[-1][1] is None)


def test_a_size_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        list(frame_blocks(np.array([1]), 0))
