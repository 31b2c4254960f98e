"""A window of a long data stream, thinned to at most ``limit`` entries (DataStreamView.read_thinned):
what a viewer plots. It must be the entries ``read()`` gives, evenly picked, and decode no others."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cldata
from cldata.format.stream_store import StreamStore

N = 3000


@pytest.fixture(scope="module")
def rec_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("thin") / "rec.h5"
    with cldata.RecordingWriter(path, channel_count=8) as w:
        w.append_samples(np.zeros((10, 8), np.int16))
        s = w.create_data_stream("pos")
        s.extend(np.arange(N, dtype=np.int64) * 7 + 3, [{"x": float(i), "i": i} for i in range(N)])
    return path


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=st.none() | st.integers(-50, 7 * N + 50), length=st.integers(0, 7 * N + 100), limit=st.integers(1, 4000))
def test_thinned_windows_are_evenly_picked_entries_of_the_window(rec_path, a, length, limit):
    stop = None if a is None else a + length
    with cldata.RecordingView(rec_path) as rec:
        stream = rec.data_streams["pos"]
        ts, values = stream.read(a, stop)
        got_ts, got_values, thinned = stream.read_thinned(a, stop, limit=limit)
    assert thinned == (len(ts) > limit)
    keep = np.linspace(0, len(ts) - 1, limit).astype(np.int64) if thinned else np.arange(len(ts))
    assert np.array_equal(got_ts, ts[keep]) and got_values == [values[k] for k in keep]
    if len(got_ts) and limit > 1:  # the first and the last entry of the window are always there
        assert got_ts[0] == ts[0] and got_ts[-1] == ts[-1]


def test_only_the_kept_entries_are_decoded(rec_path, monkeypatch):
    decoded = []
    real = StreamStore.decode_span_of

    def counting(self, ts, starts, ends, i, k, direct=False):
        decoded.append(k - i)
        return real(self, ts, starts, ends, i, k, direct)

    monkeypatch.setattr(StreamStore, "decode_span_of", counting)
    with cldata.RecordingView(rec_path) as rec:
        _, values, thinned = rec.data_streams["pos"].read_thinned(limit=10)
    assert thinned and len(values) == 10 and sum(decoded) == 10


@pytest.mark.parametrize("limit", [0, -3, 2.5, True])
def test_a_limit_that_is_no_count_is_refused(rec_path, limit):
    with cldata.RecordingView(rec_path) as rec, pytest.raises(ValueError, match="limit"):
        rec.data_streams["pos"].read_thinned(limit=limit)
