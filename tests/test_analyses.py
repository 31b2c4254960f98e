"""The shipped analyses on real recordings with known content, on simulated ones, and through a store."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import quantities as pq

import cldata
from cldata.analysis import (
    ANALYSES,
    FiringRate,
    ISIHistogram,
    NetworkBursts,
    StimulusTriggeredHistogram,
    StreamSpikeSummary,
    get_analysis,
)
from cldata.analysis.bursts import active_runs
from cldata.analysis.psth import event_pairs
from cldata.analysis.streams import StreamSummaryWarning, numeric_values
from cldata.errors import ParameterError
from cldata.format.simulate import simulate_recording

FPS = 25_000
END = FPS  # the known recording lasts exactly 1 s

# -- the known recording ------------------------------------------------------------------------
#
# channel 3   fires every 10 ms exactly (frames 0, 250, ...): 100 Hz, CV 0
# channel 5   fires twice (0.65 s, 0.9 s): ISI statistics NaN (fewer than min_spikes=3)
# channels 1, 2 fire 5 ms after each of four stims (channel 8) at 0.202, 0.402, 0.602, 0.802 s
# one more stim (channel 9) at 0.996 s: its trial would run past the end of the recording
# channel 0   fires at four times; the stream "flag" is 1 exactly then, 0 otherwise
# channels 10..41 (half the array) burst every 2 ms in 0.3032..0.3292 s and 0.7046..0.7126 s

STIMS = np.array([5050, 10050, 15050, 20050])
LATE_STIM = 24900
CH0 = np.array([2510, 8760, 13760, 21260])
BURSTS = [(7580, 14), (17615, 5)]  # start frame, number of 2-ms steps
BURST_CHANNELS = np.arange(10, 42)


def known_spikes() -> tuple[np.ndarray, np.ndarray]:
    parts = [
        (np.arange(0, END, 250), 3),
        (np.array([16250, 22500]), 5),
        (STIMS + 125, 1),
        (STIMS + 125, 2),
        (CH0, 0),
    ]
    ts = [np.asarray(t, dtype=np.int64) for t, _ in parts]
    ch = [np.full(len(t), c) for t, c in parts]
    for start, steps in BURSTS:
        t = start + 50 * np.arange(steps)
        ts.append(np.repeat(t, BURST_CHANNELS.size))
        ch.append(np.tile(BURST_CHANNELS, steps))
    ts, ch = np.concatenate(ts), np.concatenate(ch)
    order = np.lexsort((ch, ts))
    return ts[order], ch[order]


def write_known(path: Path) -> dict:
    ts, ch = known_spikes()
    flag_ts = np.unique(np.concatenate([np.arange(100, END, 250), CH0, CH0 + 1]))
    flag = [1 if t in set(CH0.tolist()) else 0 for t in flag_ts.tolist()]
    game_ts = np.arange(0, END, 250)
    game = []
    for i, t in enumerate(game_ts.tolist()):
        if i % 10 == 3:
            game.append({"x": "n/a", "label": "pause"})  # not a number: skipped
        elif i % 10 == 7:
            game.append({"label": "no x"})  # no key: skipped
        else:
            game.append({"x": 1.0 if t < END // 2 else 3.0, "label": "play"})
    with cldata.RecordingWriter(path, attributes={"culture": "known"}) as w:
        w.create_data_stream("flag", {"kind": "indicator"}).extend(flag_ts, flag)
        w.create_data_stream("game", {"units": {"x": "mm"}}).extend(game_ts, game)
        w.create_data_stream("empty", {})
        w.append_stims(np.append(STIMS, LATE_STIM), np.array([8, 8, 8, 8, 9]))
        w.append_spikes(ts, ch, np.zeros((ts.size, 75), dtype=np.float32))
        w.close(end_timestamp=END)
    return {"spike_ts": ts, "spike_ch": ch, "game": game}


def write_quiet(path: Path) -> None:
    """Only the regular train of channel 3: no stims, no streams."""
    ts = np.arange(0, END, 250)
    with cldata.RecordingWriter(path) as w:
        w.append_spikes(ts, np.full(ts.size, 3), np.zeros((ts.size, 75), dtype=np.float32))
        w.close(end_timestamp=END)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A writable store holding the known, the quiet and a simulated recording."""
    tmp = tmp_path_factory.mktemp("analyses")
    write_known(tmp / "known.h5")
    write_quiet(tmp / "quiet.h5")
    sim = simulate_recording(tmp / "sim.h5", duration_s=6.0, seed=11, samples=False)
    store = cldata.open(tmp / "store", mode="a")
    ids = {
        "known": store.add_recording(tmp / "known.h5", {"name": "known"}),
        "quiet": store.add_recording(tmp / "quiet.h5", {"name": "quiet"}),
        "sim": store.add_recording(tmp / "sim.h5", {"name": "sim"}),
    }
    store.commit()
    yield store, ids, sim
    store.close()


def rec(lab, name, view=None):
    store, ids, _ = lab
    return (view if view is not None else store).recording(ids[name])


def by_id(results) -> dict:
    return {r.identifier: r for r in results}


def assert_same_value(a, b, where=""):
    """Equal payload values: quantities with their units, arrays with NaN equal to NaN."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), where
        for k in a:
            assert_same_value(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, pq.Quantity):
        assert isinstance(b, pq.Quantity), where
        assert a.dimensionality == b.dimensionality, where
        np.testing.assert_array_equal(a.magnitude, b.magnitude, err_msg=where)
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, np.asarray(b), err_msg=where)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, where


# -- the interface -----------------------------------------------------------------------------


def test_registered_and_defaults_work():
    for name in ("FiringRate", "ISIHistogram", "StimulusTriggeredHistogram", "NetworkBursts", "StreamSpikeSummary"):
        assert get_analysis(name) is ANALYSES[name]
    assert FiringRate().parameters == {"min_spikes": 3, "active_threshold_hz": 0.1}
    assert StimulusTriggeredHistogram({}).parameters["bin_ms"] == 2.0
    assert NetworkBursts().parameters["min_channels_fraction"] == 0.25
    assert StreamSpikeSummary(stream="flag").parameters == {
        "stream": "flag", "key": None, "window_ms": 50.0, "n_bins": 10, "channels": None}


@pytest.mark.parametrize("cls, params, named", [
    (FiringRate, {"min_spikes": "3"}, "min_spikes"),
    (FiringRate, {"min_spikes": 1}, "min_spikes"),
    (FiringRate, {"active_threshold_hz": True}, "active_threshold_hz"),
    (FiringRate, {"min_spike": 3}, "min_spike"),
    (ISIHistogram, {"bin_ms": -1}, "bin_ms"),
    (StimulusTriggeredHistogram, {"bin_ms": "2"}, "bin_ms"),
    (StimulusTriggeredHistogram, {"bin_ms": 0}, "bin_ms"),
    (StimulusTriggeredHistogram, {"channels": 3}, "channels"),
    (StimulusTriggeredHistogram, {"channels": [1.5]}, "channels"),
    (StimulusTriggeredHistogram, {"response_ms": 200}, "response_ms"),
    (StimulusTriggeredHistogram, {"stim_channels": "8"}, "stim_channels"),
    (NetworkBursts, {"min_channels_fraction": 1.5}, "min_channels_fraction"),
    (NetworkBursts, {"merge_ms": None}, "merge_ms"),
    (StreamSpikeSummary, {}, "stream"),
    (StreamSpikeSummary, {"stream": 3}, "stream"),
    (StreamSpikeSummary, {"stream": "flag", "key": 1}, "key"),
    (StreamSpikeSummary, {"stream": "flag", "window_ms": 0}, "window_ms"),
    (StreamSpikeSummary, {"stream": "flag", "n_bins": 0}, "n_bins"),
])
def test_bad_parameters_raise_naming_them(cls, params, named):
    with pytest.raises(ParameterError, match=named):
        cls(params)


def test_channels_outside_the_recording_raise(lab):
    with pytest.raises(ParameterError, match=r"channel\(s\) \[64, 99\]"):
        StimulusTriggeredHistogram(channels=[1, 99, 64]).compute(rec(lab, "known"))


def test_results_carry_parameters_analysis_name_and_source(lab):
    _, ids, _ = lab
    a = StimulusTriggeredHistogram(channels=[1, 2], bin_ms=1)
    for r in a.compute(rec(lab, "known")):
        assert r.sources == (ids["known"],)
        assert r.parameters == {**a.parameters, "analysis": "StimulusTriggeredHistogram"}


# -- FiringRate and ISIHistogram ---------------------------------------------------------------


def test_firing_rate_of_known_trains(lab):
    res = by_id(FiringRate().compute(rec(lab, "known")))
    rate = res["firing_rate"]
    assert isinstance(rate, cldata.PerChannelValue) and rate.values.units == pq.Hz
    np.testing.assert_array_equal(rate.channels, np.arange(64))
    assert float(rate.value_for(3)) == pytest.approx(100.0)
    assert float(rate.value_for(5)) == pytest.approx(2.0)
    assert float(rate.value_for(1)) == pytest.approx(4.0)
    assert float(rate.value_for(63)) == 0.0
    ts, ch = known_spikes()
    np.testing.assert_allclose(rate.values.magnitude, np.bincount(ch, minlength=64))  # 1 s window

    cv = res["cv_isi"]
    assert cv.values.dimensionality == pq.dimensionless.dimensionality
    assert float(cv.value_for(3)) == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(float(cv.value_for(5)))  # two spikes < min_spikes
    assert math.isnan(float(cv.value_for(63)))  # silent
    # channel 0: ISIs 250, 200, 300 ms -> CV = std/mean with ddof=0
    isi = np.diff(CH0) / FPS
    assert float(cv.value_for(0)) == pytest.approx(isi.std() / isi.mean())
    assert float(res["mean_isi"].value_for(3)) == pytest.approx(10.0)
    assert res["mean_isi"].values.units == pq.ms

    active = np.bincount(ch, minlength=64) >= 0.1
    assert res["mean_firing_rate"].value.units == pq.Hz
    assert float(res["mean_firing_rate"].value) == pytest.approx(np.bincount(ch, minlength=64)[active].mean())
    assert float(res["active_channels"].value) == active.sum()


def test_min_spikes_and_threshold(lab):
    res = by_id(FiringRate(min_spikes=2, active_threshold_hz=50).compute(rec(lab, "known")))
    assert float(res["cv_isi"].value_for(5)) == pytest.approx(0.0)  # one ISI: std 0
    assert float(res["active_channels"].value) == 1
    assert float(res["mean_firing_rate"].value) == pytest.approx(100.0)
    none_active = by_id(FiringRate(active_threshold_hz=1000.0).compute(rec(lab, "known")))
    assert math.isnan(float(none_active["mean_firing_rate"].value))
    assert float(none_active["active_channels"].value) == 0


def test_firing_rate_is_windowed(lab):
    store, ids, _ = lab
    half = by_id(FiringRate().compute(rec(lab, "quiet", store.between(0, 0.5 * pq.s))))
    full = by_id(FiringRate().compute(rec(lab, "quiet")))
    # half the spikes of a regular train in half the time: the same rate
    assert float(full["firing_rate"].value_for(3)) == pytest.approx(100.0)
    assert float(half["firing_rate"].value_for(3)) == pytest.approx(100.0)
    assert float(half["firing_rate"].value_for(3)) * 0.5 == pytest.approx(50)  # 50 spikes in the window
    # channel 5 fires only after 0.5 s: not active in the first half
    known_half = by_id(FiringRate().compute(rec(lab, "known", store.between(0, 0.5 * pq.s))))
    assert float(known_half["firing_rate"].value_for(5)) == 0.0
    late = by_id(FiringRate().compute(rec(lab, "known", store.between(0.6 * pq.s, 0.95 * pq.s))))
    assert float(late["firing_rate"].value_for(5)) == pytest.approx(2 / 0.35)
    # a window reaching past the end of the recording is cut there
    tail = by_id(FiringRate().compute(rec(lab, "quiet", store.between(0.9 * pq.s, 5 * pq.s))))
    assert float(tail["firing_rate"].value_for(3)) == pytest.approx(100.0)
    # an empty window: rates undefined
    empty = by_id(FiringRate().compute(rec(lab, "quiet", store.between(2 * pq.s, 3 * pq.s))))
    assert np.isnan(empty["firing_rate"].values.magnitude).all()
    assert math.isnan(float(empty["mean_firing_rate"].value))


def test_isi_histogram(lab):
    (hist,) = ISIHistogram(bin_ms=1, max_ms=20).compute(rec(lab, "quiet"))
    assert isinstance(hist, cldata.TimeSeries) and hist.times.units == pq.ms
    np.testing.assert_allclose(hist.times.magnitude, np.arange(20) + 0.5)
    assert hist.values[10] == 99 and hist.values.sum() == 99  # 100 spikes, 99 ISIs of 10 ms
    (chosen,) = ISIHistogram(channels=[5], max_ms=300).compute(rec(lab, "known"))
    assert chosen.values.sum() == 1 and chosen.values[250] == 1  # 0.65 s -> 0.9 s
    (none,) = ISIHistogram(channels=[63]).compute(rec(lab, "known"))
    assert none.values.sum() == 0


# -- StimulusTriggeredHistogram ------------------------------------------------------------------


def test_psth_peaks_five_ms_after_stims(lab):
    res = by_id(StimulusTriggeredHistogram().compute(rec(lab, "known")))
    psth, info = res["psth"], res["psth_info"].value
    assert psth.times.units == pq.ms and psth.values.units == pq.Hz
    np.testing.assert_allclose(psth.times.magnitude, np.arange(-19, 100, 2))
    assert float(psth.times[np.argmax(psth.values)]) == pytest.approx(5.0)
    # 8 spikes (channels 1 and 2) in the 2-ms bin, over 4 stims and 64 channels
    assert float(psth.values.max()) == pytest.approx(8 / (4 * 64 * 0.002))
    assert info["n_stims"] == 4 and info["n_stims_partial"] == 1
    assert info["stim_channels"] == [8] and info["n_channels"] == 64
    assert info["window_s"] == [0.0, 1.0]
    evoked = res["evoked_response"]
    assert evoked.values.dimensionality == pq.dimensionless.dimensionality
    assert float(evoked.value_for(1)) == 1.0 and float(evoked.value_for(2)) == 1.0
    assert float(evoked.value_for(3)) == 2.0  # the 100 Hz train: at +8 and +18 ms
    assert float(evoked.value_for(60)) == 0.0


def test_psth_channels_bins_and_stim_channels(lab):
    res = by_id(StimulusTriggeredHistogram(channels=[1], bin_ms=1, pre_ms=10, post_ms=10, response_ms=10).compute(rec(lab, "known")))
    psth = res["psth"]
    assert psth.times.size == 20
    peak = np.flatnonzero(psth.values.magnitude)
    assert peak.tolist() == [15]  # [5, 6) ms
    assert float(psth.values[15]) == pytest.approx(1 / 0.001)  # one spike per stim and channel: 1000 Hz
    np.testing.assert_array_equal(res["evoked_response"].channels, [1])
    assert res["psth_info"].value["n_spikes"] == 4

    only_late = by_id(StimulusTriggeredHistogram(stim_channels=[9]).compute(rec(lab, "known")))
    assert only_late["psth_info"].value == {
        "n_stims": 0, "n_stims_partial": 1, "n_channels": 64, "n_spikes": 0, "stim_channels": [],
        "window_s": [0.0, 1.0]}
    assert np.isnan(only_late["psth"].values.magnitude).all()


def test_psth_counts_a_pulse_on_several_channels_once(tmp_path):
    ts = np.array([2625, 2625, 7625])
    with cldata.RecordingWriter(tmp_path / "multi.h5") as w:
        w.append_stims(np.array([2500, 2500, 2500, 7500]), np.array([8, 9, 10, 8]))
        w.append_spikes(ts, np.array([1, 2, 1]), np.zeros((3, 75), dtype=np.float32))
        w.close(end_timestamp=END)
    store = cldata.open(tmp_path / "s", mode="a")
    store.add_recording(tmp_path / "multi.h5")
    res = by_id(StimulusTriggeredHistogram(channels=[1, 2]).compute(store.recordings[0]))
    assert res["psth_info"].value["n_stims"] == 2 and res["psth_info"].value["stim_channels"] == [8, 9, 10]
    assert res["evoked_response"].values.magnitude.tolist() == [1.0, 0.5]
    store.close()


def test_psth_without_stims_still_gives_results(lab):
    res = by_id(StimulusTriggeredHistogram().compute(rec(lab, "quiet")))
    assert set(res) == {"psth", "evoked_response", "psth_info"}
    assert res["psth_info"].value["n_stims"] == 0
    assert res["psth"].times.size == 60 and np.isnan(res["psth"].values.magnitude).all()
    assert np.isnan(res["evoked_response"].values.magnitude).all()


def test_psth_is_windowed(lab):
    store, _, _ = lab
    res = by_id(StimulusTriggeredHistogram().compute(rec(lab, "known", store.between(0.3 * pq.s, 0.75 * pq.s))))
    info = res["psth_info"].value
    # stims at 0.402 and 0.602 s have their whole trial inside; 0.202 is outside the window
    assert info["n_stims"] == 2 and info["n_stims_partial"] == 0
    assert info["window_s"] == [0.3, 0.75]
    assert float(res["evoked_response"].value_for(1)) == 1.0
    # 0.602 s: its trial ends at 0.702 s, past the window: left out
    cut = by_id(StimulusTriggeredHistogram().compute(rec(lab, "known", store.between(0.3 * pq.s, 0.7 * pq.s))))
    assert cut["psth_info"].value["n_stims"] == 1 and cut["psth_info"].value["n_stims_partial"] == 1


def test_event_pairs_chunks():
    lo, hi = np.array([0, 0, 3, 5]), np.array([2, 3, 5, 5])
    whole = [np.concatenate(p) for p in zip(*event_pairs(lo, hi))]
    chunked = [np.concatenate(p) for p in zip(*event_pairs(lo, hi, max_pairs=2))]
    for a, b in zip(whole, chunked):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(whole[0], [0, 0, 1, 1, 1, 2, 2])
    np.testing.assert_array_equal(whole[1], [0, 1, 0, 1, 2, 3, 4])


# -- NetworkBursts -----------------------------------------------------------------------------


def test_bursts_found_within_one_bin(lab):
    res = by_id(NetworkBursts().compute(rec(lab, "known")))
    bursts = res["network_bursts"].value
    assert bursts["n_bursts"] == 2 and bursts["threshold_channels"] == 16
    assert bursts["start"].units == pq.s and bursts["duration"].units == pq.ms
    for (start, steps), t0, t1 in zip(BURSTS, bursts["start"].magnitude, bursts["stop"].magnitude):
        first, last = start / FPS, (start + 50 * (steps - 1)) / FPS
        assert 0 <= first - t0 < 0.010
        assert 0 < t1 - last <= 0.010
    np.testing.assert_allclose(bursts["start"].magnitude, [0.30, 0.70])
    np.testing.assert_allclose(bursts["stop"].magnitude, [0.33, 0.72])
    assert bursts["n_channels"].tolist() == [33, 33]  # half the array, and the 100 Hz channel

    ts, ch = known_spikes()
    in_bursts = np.zeros(ts.size, bool)
    for t0, t1 in zip(bursts["start"].magnitude, bursts["stop"].magnitude):
        in_bursts |= (ts >= round(t0 * FPS)) & (ts < round(t1 * FPS))
    assert bursts["n_spikes"].sum() == in_bursts.sum()
    assert float(res["burst_fraction"].value) == pytest.approx(in_bursts.mean())
    assert res["burst_rate"].value.units == pq.Hz and float(res["burst_rate"].value) == pytest.approx(2.0)


def test_burst_merging_and_minimum_duration(lab):
    merged = NetworkBursts(merge_ms=500).compute(rec(lab, "known"))[0].value
    assert merged["n_bursts"] == 1
    np.testing.assert_allclose([merged["start"][0], merged["stop"][0]], [0.30, 0.72])
    long_only = NetworkBursts(min_duration_ms=25).compute(rec(lab, "known"))[0].value
    np.testing.assert_allclose(long_only["start"].magnitude, [0.30])
    strict = NetworkBursts(min_channels_fraction=0.6).compute(rec(lab, "known"))
    assert strict[0].value["n_bursts"] == 0 and float(strict[2].value) == 0.0


def test_bursts_are_windowed(lab):
    store, _, _ = lab
    view = store.between(0.5 * pq.s, 1 * pq.s)
    res = by_id(NetworkBursts().compute(rec(lab, "known", view)))
    np.testing.assert_allclose(res["network_bursts"].value["start"].magnitude, [0.70])  # from the recording start
    assert float(res["burst_rate"].value) == pytest.approx(2.0)  # one burst in 0.5 s
    quiet = by_id(NetworkBursts().compute(rec(lab, "quiet")))
    assert quiet["network_bursts"].value["n_bursts"] == 0 and float(quiet["burst_fraction"].value) == 0


def test_active_runs():
    active = np.array([1, 1, 0, 0, 1, 0, 1, 1, 1], dtype=bool)
    assert [x.tolist() for x in active_runs(active)] == [[0, 4, 6], [2, 5, 9]]
    assert [x.tolist() for x in active_runs(active, 2)] == [[0, 4], [2, 9]]
    assert [x.tolist() for x in active_runs(active, 3)] == [[0], [9]]
    assert [x.tolist() for x in active_runs(np.zeros(4, bool))] == [[], []]


# -- StreamSpikeSummary --------------------------------------------------------------------------


def test_stream_value_at_spikes(lab):
    res = by_id(StreamSpikeSummary(stream="flag", channels=[0]).compute(rec(lab, "known")))
    assert float(res["stream_mean_at_spikes"].value) == 1.0
    summary = res["stream_spike_summary"].value
    assert summary["status"] == "ok" and summary["n_spikes"] == 4 and summary["n_spikes_aligned"] == 4
    assert float(summary["std_at_spikes"]) == 0.0
    # the flag holds 1 for one frame per spike, out of the time covered by entries
    overall = float(res["stream_mean_overall"].value)
    assert 0 < overall < 0.001
    curve = res["rate_by_stream_value"]
    assert curve.times.magnitude.tolist() == [0.0, 1.0] and curve.values.units == pq.Hz
    assert float(curve.values[0]) == 0.0
    assert float(curve.values[1]) == pytest.approx(4 / (4 / FPS))  # 4 spikes in 4 frames
    assert summary["bin_spikes"].tolist() == [0, 4]


def test_stream_staleness_window(lab):
    # flag entries come every 10 ms at frame 100 (+250k); channel 3 spikes 6 ms later
    tight = StreamSpikeSummary(stream="flag", channels=[3], window_ms=5).compute(rec(lab, "known"))
    assert tight[3].value["n_spikes_aligned"] == 0 and math.isnan(float(tight[0].value))
    loose = StreamSpikeSummary(stream="flag", channels=[3], window_ms=10).compute(rec(lab, "known"))
    assert loose[3].value["n_spikes_aligned"] == 99  # all but the spike at frame 0 (before any entry)
    unlimited = StreamSpikeSummary(stream="flag", channels=[3], window_ms=None).compute(rec(lab, "known"))
    assert unlimited[3].value["n_spikes_aligned"] == 99
    assert float(loose[0].value) == 0.0


def test_stream_dict_key_units_and_skipped_entries(lab):
    res = by_id(StreamSpikeSummary(stream="game", key="x", n_bins=4).compute(rec(lab, "known")))
    summary = res["stream_spike_summary"].value
    assert summary["n_entries"] == 100 and summary["n_entries_skipped"] == 20
    assert summary["units"] == "mm"
    assert res["stream_mean_overall"].value.units == pq.mm
    # x is 1 mm in the first half, 3 mm in the second: held equally long (the skipped entries
    # do not end a value's hold, but window_ms=50 limits it; skipped slots are evenly spread)
    assert float(res["stream_mean_overall"].value) == pytest.approx(2.0)
    curve = res["rate_by_stream_value"]
    assert curve.times.units == pq.mm and curve.times.magnitude.tolist() == [1.0, 3.0]


def test_stream_is_windowed(lab):
    store, _, _ = lab
    view = store.between(0.5 * pq.s, 1 * pq.s)
    res = by_id(StreamSpikeSummary(stream="game", key="x").compute(rec(lab, "known", view)))
    assert float(res["stream_mean_overall"].value) == pytest.approx(3.0)
    assert res["stream_spike_summary"].value["n_entries"] == 50
    assert res["stream_spike_summary"].value["window_s"] == [0.5, 1.0]


def test_stream_edge_cases(lab):
    store, _, _ = lab
    with pytest.warns(StreamSummaryWarning, match="no data stream 'nope'"):
        missing = by_id(StreamSpikeSummary(stream="nope").compute(rec(lab, "known")))
    assert missing["stream_spike_summary"].value["status"] == "missing_stream"
    assert math.isnan(float(missing["stream_mean_at_spikes"].value))
    assert missing["rate_by_stream_value"].times.size == 0
    # present but hidden by the view's stream selection: an error, not a "missing" result
    with pytest.raises(ParameterError, match="hidden by the view's stream selection"):
        StreamSpikeSummary(stream="game").compute(rec(lab, "known", store.streams("flag")))
    shown = StreamSpikeSummary(stream="flag", channels=[0]).compute(rec(lab, "known", store.streams("flag")))
    assert shown[3].value["status"] == "ok"
    with pytest.warns(StreamSummaryWarning, match="'label' fields"):
        words = StreamSpikeSummary(stream="game", key="label").compute(rec(lab, "known"))
    assert words[3].value["status"] == "no_numeric_values" and words[3].value["n_entries_skipped"] == 100
    with pytest.warns(StreamSummaryWarning):
        dicts = StreamSpikeSummary(stream="game").compute(rec(lab, "known"))  # entries are dicts, no key
    assert dicts[3].value["status"] == "no_numeric_values"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        empty = StreamSpikeSummary(stream="empty").compute(rec(lab, "known"))
    assert empty[3].value["status"] == "no_entries" and math.isnan(float(empty[1].value))


def test_numeric_values_policy():
    usable, numbers = numeric_values([1, np.int16(2), 2.5, True, None, "3", [1], float("inf"), np.array(4.0),
                                      np.array([1.0]), {"x": 1}])
    assert usable.tolist() == [True, True, True, True, False, False, False, False, True, False, False]
    assert numbers[usable].tolist() == [1.0, 2.0, 2.5, 1.0, 4.0]


# -- simulated recordings ------------------------------------------------------------------------


def test_simulated_recording(lab):
    store, ids, sim = lab
    r = rec(lab, "sim")
    duration = r.view().duration_seconds
    rates = by_id(FiringRate().compute(r))
    assert float(rates["firing_rate"].values.sum()) * duration == pytest.approx(sim["spikes"])
    cv = rates["cv_isi"].values.magnitude
    assert np.nanmedian(cv) == pytest.approx(1.0, abs=0.35)  # Poisson-like trains
    psth = by_id(StimulusTriggeredHistogram(bin_ms=1).compute(r))
    peak = float(psth["psth"].times[np.argmax(psth["psth"].values)])
    assert 5 <= peak < 15  # the simulator evokes spikes 5-15 ms after a stim
    assert psth["psth_info"].value["n_stims"] + psth["psth_info"].value["n_stims_partial"] == sim["stims"]
    bursts = by_id(NetworkBursts(bin_ms=20, min_channels_fraction=0.2).compute(r))
    value = bursts["network_bursts"].value
    assert value["n_bursts"] >= 1 and (value["n_channels"] >= 13).all()
    assert 0 < float(bursts["burst_fraction"].value) < 1
    ball = by_id(StreamSpikeSummary(stream="ball_position", key="x").compute(r))
    assert float(ball["stream_mean_overall"].value) == pytest.approx(320, rel=0.1)
    assert ball["stream_spike_summary"].value["n_spikes_aligned"] == ball["stream_spike_summary"].value["n_spikes"]
    assert ball["rate_by_stream_value"].times.size == 10


# -- through a store -------------------------------------------------------------------------------

ALL = [
    FiringRate(),
    ISIHistogram(channels=[3, 5]),
    StimulusTriggeredHistogram(channels=[1, 2, 3]),
    NetworkBursts(),
    StreamSpikeSummary(stream="flag", channels=[0]),
]


def test_perform_analysis_stores_results_once(tmp_path):
    write_known(tmp_path / "known.h5")
    write_quiet(tmp_path / "quiet.h5")
    store = cldata.open(tmp_path / "s", mode="a")
    rids = [store.add_recording(tmp_path / "known.h5"), store.add_recording(tmp_path / "quiet.h5")]
    store.commit()
    expected = {}
    for analysis in ALL:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StreamSummaryWarning)  # quiet.h5 has no streams
            ids = analysis.perform_analysis(store)
            per_recording = [analysis.compute(r) for r in store.recordings]
        assert len(ids) == sum(len(x) for x in per_recording) > 0
        for results in per_recording:
            for r in results:
                expected[r.result_id] = r
        assert analysis.perform_analysis(store) == []  # is_done: nothing added the second time
        for rid in rids:
            assert analysis.is_done(store, rid)
    found = store.filter(analysis="FiringRate").analysis_results
    assert len(found) == 2 * 5 and {r.identifier for r in found} == {
        "firing_rate", "mean_isi", "cv_isi", "mean_firing_rate", "active_channels"}
    # a list-valued parameter is filtered with a tuple (a list would mean "any of")
    assert len(store.filter(analysis="StimulusTriggeredHistogram", channels=(1, 2, 3)).analysis_results) == 6
    assert len(store.filter(analysis="StreamSpikeSummary", stream="flag").analysis_results) == 8
    store.close()

    reopened = cldata.open(tmp_path / "s")
    stored = reopened.analysis_results
    assert {r.id for r in stored} == set(expected)
    for r in stored:
        want = expected[r.id]
        assert r == want and type(r) is type(want)
        assert_same_value(r.payload(), want.payload(), f"{r.identifier}")
    psth = reopened.filter(identifier="psth", ads_unique=False).filter_results(
        analysis="StimulusTriggeredHistogram").analysis_results
    assert len(psth) == 2
    reopened.close()


def test_runs_with_other_parameters_are_stored_beside(tmp_path):
    write_quiet(tmp_path / "quiet.h5")
    store = cldata.open(tmp_path / "s", mode="a")
    store.add_recording(tmp_path / "quiet.h5")
    store.commit()
    assert len(FiringRate().perform_analysis(store)) == 5
    assert len(FiringRate(min_spikes=5).perform_analysis(store)) == 5
    assert len(store.filter(analysis="FiringRate", min_spikes=5).analysis_results) == 5
    assert len(store.filter(identifier="firing_rate").analysis_results) == 2
    # a windowed run is stored beside the whole-recording one, and knows its window
    half = store.between(0, 0.5 * pq.s)
    ids = FiringRate().perform_analysis(half)
    assert len(ids) == 5 and FiringRate().perform_analysis(half) == []
    (rate,) = store.filter(identifier="firing_rate", min_spikes=3, window=(0, FPS // 2)).analysis_results
    assert float(rate.value_for(3)) == pytest.approx(100.0)
    store.close()
