"""The toolkit's shared preprocessing (spec §1–§3): window checks, spike train, count matrix,
bin widths, MEA layout check, and the results' JSON round trip."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from toolkit_reference import make_data, write_recording

import cldata
from cldata.format.spike_snapshot import spike_snapshot as spike_data
from cldata.toolkit.preprocess import (
    GROUND_CHANNELS,
    MEA_LAYOUT,
    check_layout,
    count_matrix,
    rounding_width,
    spike_train,
    truncating_width,
    with_window,
)
from cldata.toolkit.results import (
    AnalysisMetadata,
    Burst,
    Bursts,
    FloatArray,
    IntArray,
    ToolkitResult,
    metadata_of,
)


def test_layout_constants():
    assert MEA_LAYOUT[0, 0] == 0 and MEA_LAYOUT[1, 0] == 1 and MEA_LAYOUT[0, 1] == 8 and MEA_LAYOUT[7, 7] == 63
    assert [MEA_LAYOUT[r, c] for r, c in [(0, 0), (7, 0), (0, 7), (7, 7)]] == list(GROUND_CHANNELS)


def test_spike_data_reads_every_row_and_checks_windows(tmp_path):
    path = write_recording(tmp_path / "r.h5", [5, 10, 10, 400, 999], [1, 2, 2, 3, 1])
    with cldata.RecordingView(path) as view:
        dur = view.duration_frames
        data = spike_data(view)
        assert (data.lo, data.hi) == (0, dur)
        assert data.timestamps.tolist() == [5, 10, 10, 400, 999] and data.channels.tolist() == [1, 2, 2, 3, 1]
        assert data.timestamps.dtype == np.int64 and data.has_spike_table
        assert spike_data(view, 10, 10).hi == 10                     # zero-length window accepted
        for lo, hi in [(-1, None), (None, dur + 1), (50, 20)]:
            with pytest.raises(ValueError):
                spike_data(view, lo, hi)
        # a windowed view gives the default window
        assert (spike_data(view.between(10, 400)).lo, spike_data(view.between(10, 400)).hi) == (10, 400)
    with pytest.raises(ValueError):
        with_window(data, 5, 4)


def test_spike_train_relative_deduplicated_in_table_order():
    data = make_data([30, 10, 10, 20, 500, 40], [1, 1, 1, 2, 1, 9], lo=5, hi=100)
    train = spike_train(data)
    assert set(train) == set(range(64))
    assert train[1].tolist() == [25, 5] and train[2].tolist() == [15] and train[9].tolist() == [35]
    assert train[0].size == 0 and train[0].dtype == np.int64


def test_count_matrix_bins_and_exclusion():
    data = make_data([0, 9, 10, 10, 25, 29], [1, 1, 1, 1, 2, 3], lo=0, hi=30)
    k, rows = count_matrix(data, 10)
    assert k.dtype == np.int64 and k.shape == (64, 3) and rows.tolist() == list(range(64))
    assert k[1].tolist() == [2, 2, 0] and k[2].tolist() == [0, 0, 1] and k.sum() == 6
    k, rows = count_matrix(data, 10, exclude=(0, 4, 7, 56, 63), stop_at_last_spike=True)
    assert k.shape == (59, 3) and 4 not in rows and k.sum() == 5   # the last row's spike is not counted
    k, _ = count_matrix(make_data([], [], lo=3, hi=3), 10)
    assert k.shape == (64, 0)
    k, _ = count_matrix(make_data([1, 2], [0, 0], hi=25), 10)
    assert k.shape == (64, 3)                                       # ceil(25 / 10), last bin short
    with pytest.raises(ValueError):
        count_matrix(data, 0)


@given(st.lists(st.tuples(st.integers(0, 999), st.integers(0, 63)), max_size=60),
       st.integers(0, 1000), st.integers(0, 1000), st.integers(1, 300))
def test_count_matrix_counts_every_spike_in_the_window(spikes, a, b, width):
    lo, hi = min(a, b), max(a, b)
    ts = sorted(t for t, _ in spikes)
    ch = [c for _, c in sorted(spikes)]
    data = make_data(ts, ch, lo=lo, hi=hi)
    k, _ = count_matrix(data, width)
    assert k.shape == (64, math.ceil((hi - lo) / width))
    assert k.sum() == sum(lo <= t < hi for t in ts)
    train = spike_train(data)
    assert sum(v.size for v in train.values()) == len({(c, t) for t, c in zip(ts, ch) if lo <= t < hi})


def test_bin_widths():
    assert truncating_width(0.004, 25000) == 100 and truncating_width(0.00003, 25000) == 0
    assert rounding_width(0.00003, 25000) == 1 and rounding_width(0.0001, 25000) == 2
    assert rounding_width(0.00006, 25000) == 2   # round(1.5) = 2 (half to even)


def test_check_layout():
    check_layout(make_data([1], [5]))
    with pytest.raises(ValueError, match="common MEA layout"):
        check_layout(make_data([1], [0]))
    check_layout(make_data([1], [0], ground_nonzero=100))          # samples decide first
    with pytest.raises(ValueError, match="common MEA layout"):
        check_layout(make_data([1], [5], ground_nonzero=101, has_spike_table=False))
    with pytest.raises(ValueError, match="common MEA layout"):
        check_layout(make_data([], [], has_spike_table=False))


def test_ground_samples_read_only_when_needed(tmp_path):
    samples = np.zeros((200, 64), np.int16)
    samples[:30, 0] = 1
    path = write_recording(tmp_path / "g.h5", [5], [0], samples=samples)
    with cldata.RecordingView(path) as view:
        data = spike_data(view)
    assert data.ground_nonzero == 30
    with pytest.raises(ValueError):
        check_layout(data)                                          # 30 > 0.1 * 200, and a ground spike
    path = write_recording(tmp_path / "h.h5", [5], [3], samples=samples)
    with cldata.RecordingView(path) as view:
        data = spike_data(view)
    assert data.ground_nonzero is None
    check_layout(data)


@dataclass(eq=False)
class TinyResult(ToolkitResult):
    bin_size_sec: float
    counts: IntArray
    rates: FloatArray
    per_channel: dict[int, FloatArray]
    pair: tuple[float, float]
    lists: list[list[float]]
    bursts: Bursts
    nan_plain: float
    special: float
    special_inf: float
    special_floats = frozenset({"special", "special_inf"})


def test_json_round_trip(tmp_path):
    meta = metadata_of(make_data([], [], fs=25000.0, duration=250000))
    assert meta == AnalysisMetadata("x.h5", 64, 25000, 250000, 10.0)
    assert isinstance(meta.sampling_frequency, int)
    result = TinyResult(meta, 0.5, np.empty(0, np.int64), np.array([[1.0, np.nan]]), {3: np.array([1.5]), -2: np.array([])},
                        (1.0, 2.0), [[0.25], []], Bursts([Burst(1, 5)]), float("nan"), float("nan"), float("-inf"))
    path = tmp_path / "tiny.json"
    result.save(path)
    text = path.read_text()
    obj = json.loads(text)
    assert list(obj) == ["metadata", "bin_size_sec", "counts", "rates", "per_channel", "pair", "lists", "bursts",
                         "nan_plain", "special", "special_inf"]
    assert obj["special"] == "nan" and obj["special_inf"] == "inf" and "NaN" in text
    assert obj["bursts"] == [{"start_frame": 1, "end_frame": 5}] and obj["per_channel"]["3"] == [1.5]
    assert text.startswith('{\n    "metadata": {\n        "file_path": "x.h5"')
    back = TinyResult.from_file(path)
    assert back.metadata == meta
    assert back.counts.dtype == np.int64 and back.counts.shape == (0,)
    assert np.array_equal(back.rates, result.rates, equal_nan=True)
    assert set(back.per_channel) == {3, -2} and back.per_channel[-2].dtype == np.float64
    assert back.pair == (1.0, 2.0) and back.lists == [[0.25], []]
    assert [(b.start_frame, b.end_frame) for b in back.bursts] == [(1, 5)]
    assert math.isnan(back.nan_plain) and math.isnan(back.special) and back.special_inf == math.inf
    obj["surprise"] = 1
    path.write_text(json.dumps(obj))
    with pytest.raises(ValueError, match="unknown keys"):
        TinyResult.from_file(path)


def test_bursts_state_machine():
    b = Bursts()
    for frame, on in [(0, False), (10, True), (20, True), (30, False), (40, True)]:
        b.step(frame, on)
    assert b.is_bursting
    b.finalise(50)
    assert [(x.start_frame, x.end_frame) for x in b] == [(10, 30), (40, 50)] and len(b) == 2
    assert b[1].get_duration(10) == 1.0
