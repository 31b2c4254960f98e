"""A neo segment's arrays are the file's, as plain PyTables reads them: for any time-ordered spike
table (channels beyond ``channel_count`` included), any window and any read chunk size, every
train of the eager segment and every lazily loaded train holds exactly its channel's rows of the
window, in file order: times in s from the ``timestamp`` column, waveforms from ``samples``."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import tables
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cldata
from cldata.errors import UntidyRecordingWarning
from cldata.format.layout import SPIKE_DTYPE
from cldata.format.neo_io import spike_table as neo_io

FPS = 25_000


def _write(path, ts: np.ndarray, ch: np.ndarray, channel_count: int) -> np.ndarray:
    # a time-ordered spike table as CL writes it, channels as given (the writer refuses those
    # beyond channel_count, so the table is written with PyTables)
    rows = np.zeros(len(ts), dtype=SPIKE_DTYPE)
    rows["timestamp"], rows["channel"] = ts, ch
    rows["samples"] = np.random.default_rng(len(ts)).normal(0, 30, (len(ts), 75)).astype(np.float32)
    rows["samples"][:, 0] = np.arange(len(ts))  # each row's own number: a row out of place shows
    with tables.open_file(str(path), "w") as f:
        f.root._v_attrs["frames_per_second"] = np.int64(FPS)
        f.root._v_attrs["channel_count"] = np.int64(channel_count)
        f.create_table("/", "spikes", obj=rows, chunkshape=(max(1, len(ts) // 7),) if len(ts) else None)
    return rows


def _pytables(path, start: int, stop: int, channel_count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each channel's times in s and waveforms (n, 1, 75): its rows in [start, stop), read with plain PyTables."""
    with tables.open_file(str(path)) as f:
        table = f.root.spikes
        ts, ch, wf = table.col("timestamp"), table.col("channel"), table.col("samples")
    out = []
    for c in range(channel_count):
        mine = (ch == c) & (ts >= start) & (ts < stop)
        out.append((ts[mine] / FPS, wf[mine][:, None, :]))
    return out


def _check(trains, expected) -> None:
    assert len(trains) == len(expected)
    for c, (train, (times, wf)) in enumerate(zip(trains, expected, strict=True)):
        assert train.annotations["channel"] == c
        assert train.magnitude.dtype == np.float64 and train.magnitude.tobytes() == times.tobytes()
        assert train.waveforms.dtype == np.float32 and train.waveforms.shape == wf.shape
        assert train.waveforms.magnitude.tobytes() == wf.tobytes()


@st.composite
def recordings(draw):
    n = draw(st.integers(0, 400))
    channel_count = draw(st.sampled_from([1, 5, 64]))
    beyond = draw(st.booleans())  # some spikes on channels >= channel_count
    ts = np.sort(np.array(draw(st.lists(st.integers(0, 5_000), min_size=n, max_size=n)), dtype=np.int64))
    top = channel_count + 3 if beyond else channel_count
    ch = np.array(draw(st.lists(st.integers(0, min(top, 256) - 1), min_size=n, max_size=n)), dtype=np.uint8)
    start = draw(st.none() | st.integers(0, 5_100))
    stop = draw(st.none() | st.integers(0 if start is None else start, 5_100))
    chunk_rows = draw(st.integers(1, 500))
    return ts, ch, channel_count, (start, stop), chunk_rows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(recordings())
def test_segment_arrays_are_the_pytables_rows(tmp_path_factory, monkeypatch, drawn):
    ts, ch, channel_count, window, chunk_rows = drawn
    monkeypatch.setattr(neo_io, "_CHUNK_BYTES", SPIKE_DTYPE.itemsize * chunk_rows)
    path = tmp_path_factory.mktemp("seg") / "rec.h5"
    _write(path, ts, ch, channel_count)
    end = int(ts[-1]) + 1 if ts.size else 0
    start = 0 if window[0] is None else min(window[0], end)
    stop = end if window[1] is None else min(max(window[1], start), end)
    expected = _pytables(path, start, stop, channel_count)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntidyRecordingWarning)
        with cldata.RecordingView(path, window=window if window != (None, None) else None) as view:
            _check(view.segment(lazy=False).spiketrains, expected)
            lazy = view.segment(lazy=True)
            # channels in a shuffled order: the first by row selections, the rest from the block
            order = np.random.default_rng(len(ts)).permutation(channel_count)
            loaded = {int(c): lazy.spiketrains[c].load() for c in order}
            _check([loaded[c] for c in range(channel_count)], expected)


@pytest.mark.parametrize("window", [None, (1_000, 4_000)])
def test_the_eager_block_is_one_array_split_by_channel(tmp_path, window):
    # the trains' waveforms are consecutive parts of one array, in channel order, holding
    # exactly the window's spikes of channels 0..channel_count-1
    rng = np.random.default_rng(2)
    ts = np.sort(rng.integers(0, 5_000, 3_000))
    ch = rng.integers(0, 66, 3_000).astype(np.uint8)
    path = tmp_path / "rec.h5"
    _write(path, ts, ch, 64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntidyRecordingWarning)
        with cldata.RecordingView(path, window=window) as view:
            trains = view.segment(lazy=False).spiketrains
    bases = {id(t.waveforms.magnitude.base if t.waveforms.magnitude.base is not None else t.waveforms.magnitude)
             for t in trains if len(t)}
    assert len(bases) == 1
    start, stop = window or (0, 5_000)
    kept = (ch < 64) & (ts >= start) & (ts < stop)
    assert sum(len(t) for t in trains) == int(kept.sum())
