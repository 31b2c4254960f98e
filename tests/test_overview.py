"""Overviews (cldata.overview): min/max pyramids and spike counts, checked against brute force.

Every envelope is compared with the min/max of the samples over the bins it says it
covers (its ``edges``), and every count with the spike table, on real recordings written
with :class:`cldata.RecordingWriter`: random int16 noise with spikes of a known shape
written into the samples and the spike table, over frame counts that are a multiple of
nothing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import quantities as pq
import tables
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cldata
from cldata.overview import (
    FORMAT_VERSION,
    Envelope,
    Overview,
    OverviewError,
    SpikeActivity,
    StaleOverviewError,
    build_overview,
    ensure_overview,
)

FPS = 25_000
UV = 0.195
SHAPE = np.array([-20, -60, -140, -90, -30, 10, 35, 20, 8], dtype=np.int16)  # a spike, in sample units
CONFIGS = {"default": {}, "fine": {"base": 16, "factor": 4, "chunk_frames": 5000}, "odd": {"base": 10, "factor": 3, "chunk_frames": 777}}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_recording(path: Path, *, frames: int, channels: int, n_spikes: int, seed: int, samples: bool = True,
                    extra_frames: int = 0) -> dict:
    """A recording of noise with ``n_spikes`` spikes of ``SHAPE``; returns the samples and spikes written."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-400, 400, (frames, channels)).astype(np.int16)
    span = frames + extra_frames
    ts = np.sort(rng.integers(0, max(1, span - len(SHAPE)), n_spikes)).astype(np.int64)
    ch = rng.integers(0, channels, n_spikes).astype(np.uint8)
    waveforms = np.zeros((n_spikes, 75), dtype=np.float32)
    for i, (t, c) in enumerate(zip(ts, ch)):
        if samples and t + len(SHAPE) <= frames:
            x[t:t + len(SHAPE), c] = SHAPE + rng.integers(-5, 5)
        waveforms[i, 25:25 + len(SHAPE)] = SHAPE * UV
    with cldata.RecordingWriter(path, channel_count=channels, attributes={"kind": "overview-test"}) as w:
        w.append_spikes(ts, ch, waveforms)
        if samples:
            for a in range(0, frames, 30_000):  # in pieces, as a live recording arrives
                w.append_samples(x[a:a + 30_000])
        w.close(end_timestamp=span)
    return {"samples": x if samples else None, "ts": ts, "ch": ch, "frames": frames, "span": span}


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> dict:
    """A 150,001-frame, 12-channel recording, and its overview in each configuration."""
    d = tmp_path_factory.mktemp("overview")
    path = d / "rec.h5"
    data = write_recording(path, frames=150_001, channels=12, n_spikes=3000, seed=3)
    digest = sha256(path)
    view = cldata.RecordingView(path)
    data.update(path=path, view=view, overviews={})
    for name, options in CONFIGS.items():
        data["overviews"][name] = Overview(build_overview(view, d / f"{name}.h5", **options), view)
    assert sha256(path) == digest  # building only reads the recording
    yield data
    for ov in data["overviews"].values():
        ov.close()
    view.close()


def brute_envelope(x: np.ndarray, env: Envelope, uv: float = UV) -> tuple[np.ndarray, np.ndarray]:
    lo = np.array([x[a:b][:, env.channels].min(axis=0) for a, b in zip(env.edges[:-1], env.edges[1:])])
    hi = np.array([x[a:b][:, env.channels].max(axis=0) for a, b in zip(env.edges[:-1], env.edges[1:])])
    shape = (len(env), env.channels.size)
    return (lo.reshape(shape).astype(np.float32) * np.float32(uv), hi.reshape(shape).astype(np.float32) * np.float32(uv))


def brute_counts(ts: np.ndarray, ch: np.ndarray, act: SpikeActivity) -> np.ndarray:
    out = np.zeros((len(act), act.channels.size), dtype=np.int64)
    for i, (a, b) in enumerate(zip(act.edges[:-1], act.edges[1:])):
        sel = (ts >= a) & (ts < b)
        for j, c in enumerate(act.channels):
            out[i, j] = np.count_nonzero(sel & (ch == c))
    return out


def check_bins(result: Envelope | SpikeActivity, start: int, stop: int, width: int, per: int) -> None:
    """The bins tile [start, stop), aligned to multiples of ``per`` from the recording start."""
    e = result.edges
    assert e[0] == result.start == start and e[-1] == result.stop == stop
    assert np.all(np.diff(e) > 0) and np.all(np.diff(e) <= per)
    assert np.all(e[1:-1] % per == 0)
    n = stop - start
    assert len(result) >= min(width, n)
    assert len(result) <= 2 * width + 2
    np.testing.assert_allclose(result.times.rescale(pq.s).magnitude, e[:-1] / FPS)


def expected_window(start, stop, extent, window=(None, None)):
    a = 0 if start is None else start
    b = extent if stop is None else stop
    if window[0] is not None:
        a = max(a, window[0])
    if window[1] is not None:
        b = min(b, window[1])
    a = min(max(a, 0), extent)
    return a, min(max(b, a), extent)


# -- envelopes --------------------------------------------------------------------------------


window = st.tuples(st.integers(-1000, 152_000), st.integers(0, 40_000)).map(lambda t: (t[0], t[0] + t[1]))
widths = st.sampled_from([1, 2, 3, 7, 50, 333, 2000]) | st.integers(1, 5000)
channel_lists = st.none() | st.lists(st.integers(0, 11), min_size=1, max_size=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=st.sampled_from(sorted(CONFIGS)), win=window | st.tuples(st.none(), st.none()), width=widths,
       channels=channel_lists)
def test_envelope_matches_brute_force(recording, config, win, width, channels):
    ov = recording["overviews"][config]
    x = recording["samples"]
    env = ov.envelope(channels=channels, start=win[0], stop=win[1], width=width)
    a, b = expected_window(win[0], win[1], x.shape[0])
    assert (env.start, env.stop) == (a, b)
    assert list(env.channels) == (list(range(12)) if channels is None else channels)
    assert env.minimum.dtype == np.float32 and env.minimum.shape == env.maximum.shape == (len(env), env.channels.size)
    if a == b:
        assert len(env) == 0
        return
    check_bins(env, a, b, width, env.frames_per_point)
    lo, hi = brute_envelope(x, env)
    np.testing.assert_array_equal(env.minimum, lo)
    np.testing.assert_array_equal(env.maximum, hi)
    if b - a <= 2 * width:
        assert env.level == -1 and env.frames_per_point == 1
    else:
        assert env.frames_per_point <= (b - a) // width


@settings(max_examples=300, deadline=None)
@given(rows=st.integers(1, 200), channels=st.integers(1, 5), group=st.integers(1, 17), first=st.integers(0, 10**6),
       op=st.sampled_from(["minimum", "maximum", "add"]), dtype=st.sampled_from(["int16", "uint16", "int64"]),
       seed=st.integers(0, 2**32 - 1))
def test_the_query_kernel_reduces_runs_of_blocks_as_reduceat_does(rows, channels, group, first, op, dtype, seed):
    # _reduce_runs replaced reduceat in every envelope and count: any alignment of the first
    # block (first), any run length (group), short last runs, the dtypes' extremes
    from cldata.overview.kernels import reduce_runs as _reduce_runs

    info = np.iinfo(dtype)
    x = np.random.default_rng(seed).integers(info.min, info.max, (rows, channels), dtype=dtype, endpoint=True)
    if op == "add":
        x //= 1 << 8  # no overflow in a run of 17 (the overview sums counts as int64)
    ufunc = getattr(np, op)
    got = _reduce_runs(ufunc, x, (-first) % group, group)
    offset = (-first) % group  # where a run starts: after `offset` rows, then every `group`
    starts = np.concatenate([[0] if offset else [], np.arange(offset, rows, group)]).astype(np.intp)
    want = ufunc.reduceat(x, starts, axis=0, dtype=x.dtype)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_whole_recording_uses_a_coarse_level(recording, config):
    ov = recording["overviews"][config]
    env = ov.envelope(width=100)
    assert env.level > 0
    blocks = {lv["level"]: lv["block_frames"] for lv in ov.levels}
    assert env.frames_per_point % blocks[env.level] == 0
    assert env.frames_per_point // blocks[env.level] < ov.factor
    assert (env.start, env.stop) == (0, 150_001)
    lo, hi = brute_envelope(recording["samples"], env)
    np.testing.assert_array_equal(env.minimum, lo)
    np.testing.assert_array_equal(env.maximum, hi)
    # the coarsest level that still gives at least `width` points
    finer = [lv for lv in ov.levels if lv["block_frames"] <= 150_001 // 100]
    assert env.level == finer[-1]["level"]


@pytest.mark.parametrize("config", sorted(CONFIGS))
@pytest.mark.parametrize("start,stop", [(0, 150_001), (0, 64), (150_000, 150_001), (149_990, 150_001),
                                         (149_000, 10**9), (-500, 3000), (77, 150_000), (150_001, 150_001)])
@pytest.mark.parametrize("width", [1, 4, 37, 2000])
def test_edges_and_the_last_partial_block(recording, config, start, stop, width):
    x = recording["samples"]
    env = recording["overviews"][config].envelope(start=start, stop=stop, width=width)
    a, b = expected_window(start, stop, x.shape[0])
    assert (env.start, env.stop) == (a, b)
    if a < b:
        check_bins(env, a, b, width, env.frames_per_point)
        lo, hi = brute_envelope(x, env)
        np.testing.assert_array_equal(env.minimum, lo)
        np.testing.assert_array_equal(env.maximum, hi)
    if b == x.shape[0] and a < b:
        # the last bin ends with the samples, and holds the last (short) block
        assert env.edges[-1] == 150_001
        np.testing.assert_array_equal(env.maximum[-1], x[env.edges[-2]:].max(axis=0) * np.float32(UV))


def test_full_resolution_returns_the_samples_in_microvolts(recording):
    ov = recording["overviews"]["default"]
    env = ov.envelope(channels=[4, 0], start=1000, stop=1900, width=500)
    assert env.level == -1 and env.frames_per_point == 1 and len(env) == 900
    expected = recording["samples"][1000:1900][:, [4, 0]].astype(np.float32) * np.float32(UV)
    np.testing.assert_array_equal(env.minimum, expected)
    np.testing.assert_array_equal(env.maximum, expected)
    np.testing.assert_array_equal(env.edges, np.arange(1000, 1901))
    np.testing.assert_allclose(env.times.magnitude, np.arange(1000, 1900) / FPS)
    assert env.times.units == pq.s
    np.testing.assert_allclose(env.centres.magnitude, (np.arange(1000, 1900) + 0.5) / FPS)
    # the same through the recording view, scaled
    np.testing.assert_array_equal(env.minimum, recording["view"].read_samples(1000, 1900, [4, 0], scaled=True))


def test_spike_shape_is_seen_at_every_scale(recording):
    """The deepest trough of each channel (a spike's) survives any zoom level."""
    x = recording["samples"]
    for width in (5, 50, 500, 5000):
        env = recording["overviews"]["default"].envelope(width=width)
        np.testing.assert_array_equal(env.minimum.min(axis=0), x.min(axis=0) * np.float32(UV))
        np.testing.assert_array_equal(env.maximum.max(axis=0), x.max(axis=0) * np.float32(UV))
        assert env.minimum.min() <= SHAPE.min() * UV * 0.9


@pytest.mark.parametrize("piece_bytes", [1 << 10, 1 << 22])
def test_binning_the_samples_themselves_in_pieces(recording, monkeypatch, piece_bytes):
    """Windows finer than level 0 but longer than 2 x width: the samples are binned, a piece at a time."""
    import cldata.overview.reader as overview

    monkeypatch.setattr(overview, "_PIECE_BYTES", piece_bytes)
    ov = recording["overviews"]["default"]
    for start, stop, width in [(13, 20_000, 1000), (0, 150_001, 5000), (777, 5000, 100), (149_000, 150_001, 300)]:
        env = ov.envelope(start=start, stop=stop, width=width)
        assert env.level == -1 and 1 < env.frames_per_point < 64
        check_bins(env, start, stop, width, env.frames_per_point)
        lo, hi = brute_envelope(recording["samples"], env)
        np.testing.assert_array_equal(env.minimum, lo)
        np.testing.assert_array_equal(env.maximum, hi)


def test_times_as_quantities(recording):
    ov = recording["overviews"]["default"]
    env = ov.envelope(start=1 * pq.s, stop=5000 * pq.ms, width=100)
    assert (env.start, env.stop) == (25_000, 125_000)
    same = ov.envelope(start=25_000, stop=125_000, width=100)
    np.testing.assert_array_equal(env.minimum, same.minimum)
    act = ov.spike_counts(start=0.5 * pq.s, stop=2 * pq.s, width=10)
    assert (act.start, act.stop) == (12_500, 50_000)


def test_empty_windows(recording):
    ov = recording["overviews"]["default"]
    for start, stop in [(500, 500), (200_000, 300_000), (None, 0)]:
        env = ov.envelope(start=start, stop=stop, channels=[1, 2])
        assert len(env) == 0 and env.minimum.shape == (0, 2) and env.edges.size == 1 and env.times.size == 0
        act = ov.spike_counts(start=start, stop=stop, channels=[1, 2])
        assert act.counts.shape == (0, 2)


def test_bad_arguments(recording):
    ov = recording["overviews"]["default"]
    with pytest.raises(ValueError):
        ov.envelope(width=0)
    with pytest.raises(ValueError):
        ov.envelope(channels=[12])
    with pytest.raises(ValueError):
        ov.envelope(channels=[-1])
    with pytest.raises(ValueError):
        ov.spike_counts(start=100, stop=50)
    with pytest.raises(TypeError):
        ov.envelope(start=1.5)  # a bare float is ambiguous (frames or seconds?)
    with pytest.raises(ValueError):
        build_overview(recording["view"], recording["path"].parent / "x.h5", base=1)


# -- spike counts ---------------------------------------------------------------------------


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=st.sampled_from(sorted(CONFIGS)), win=window | st.tuples(st.none(), st.none()), width=widths,
       channels=channel_lists)
def test_spike_counts_match_the_spike_table(recording, config, win, width, channels):
    ov = recording["overviews"][config]
    act = ov.spike_counts(channels=channels, start=win[0], stop=win[1], width=width)
    a, b = expected_window(win[0], win[1], recording["span"])
    assert (act.start, act.stop) == (a, b)
    if a == b:
        assert len(act) == 0
        return
    check_bins(act, a, b, width, act.frames_per_bin)
    np.testing.assert_array_equal(act.counts, brute_counts(recording["ts"], recording["ch"], act))
    assert act.frames_per_bin == max(1, (b - a) // width) or act.level >= 0


def test_long_windows_use_stored_counts_and_short_ones_the_table(recording):
    ov = recording["overviews"]["default"]
    assert ov.spike_counts(width=100).level >= 0
    short = ov.spike_counts(start=1000, stop=3000, width=1000)
    assert short.level == -1 and short.frames_per_bin == 2
    total = ov.spike_counts(width=7).counts.sum(axis=0)
    np.testing.assert_array_equal(total, np.bincount(recording["ch"], minlength=12))
    rates = ov.spike_counts(width=7).rates
    assert rates.units == pq.Hz and rates.shape == (len(ov.spike_counts(width=7)), 12)


# -- views, staleness, recordings without samples ---------------------------------------------


def test_the_views_window_restricts_every_request(recording):
    view = recording["view"].between(10_000, 2 * pq.s)
    ov = Overview(recording["overviews"]["default"].path, view)
    try:
        env = ov.envelope(width=300)
        assert (env.start, env.stop) == (10_000, 50_000)
        lo, hi = brute_envelope(recording["samples"], env)
        np.testing.assert_array_equal(env.minimum, lo)
        env = ov.envelope(start=0, stop=20_000, width=10)
        assert (env.start, env.stop) == (10_000, 20_000)
        env = ov.envelope(start=60_000, width=10)
        assert len(env) == 0
        act = ov.spike_counts(width=40)
        assert (act.start, act.stop) == (10_000, 50_000)
        np.testing.assert_array_equal(act.counts, brute_counts(recording["ts"], recording["ch"], act))
    finally:
        ov.close()


def test_recording_without_samples(tmp_path):
    path = tmp_path / "spikes_only.h5"
    data = write_recording(path, frames=0, channels=8, n_spikes=800, seed=5, samples=False, extra_frames=123_457)
    with cldata.RecordingView(path) as view:
        assert view.samples is None
        digest = sha256(path)
        ov = Overview(build_overview(view, tmp_path / "ov.h5", spike_bin=pq.ms), view)
        assert sha256(path) == digest
        assert ov.levels == [] and ov.spike_levels
        env = ov.envelope(width=100)
        assert len(env) == 0 and env.minimum.shape == (0, 8)
        for start, stop, width in [(None, None, 100), (5, 123_000, 33), (1000, 1500, 2000), (None, None, 1)]:
            act = ov.spike_counts(start=start, stop=stop, width=width)
            assert act.stop == (123_457 if stop is None else stop)
            np.testing.assert_array_equal(act.counts, brute_counts(data["ts"], data["ch"], act))
        with tables.open_file(str(tmp_path / "ov.h5")) as h5:
            assert "samples" not in h5.root and "spikes" in h5.root
        ov.close()


def test_spikes_beyond_the_samples_are_counted(tmp_path):
    path = tmp_path / "longer.h5"
    data = write_recording(path, frames=30_011, channels=4, n_spikes=400, seed=8, extra_frames=20_000)
    with cldata.RecordingView(path) as view:
        ov = Overview(build_overview(view, tmp_path / "ov.h5"), view)
        act = ov.spike_counts(width=50)
        assert act.stop == 50_011
        np.testing.assert_array_equal(act.counts, brute_counts(data["ts"], data["ch"], act))
        env = ov.envelope(width=50)
        assert env.stop == 30_011
        ov.close()


def test_a_stale_or_foreign_overview_is_refused(recording, tmp_path):
    other = tmp_path / "other.h5"
    write_recording(other, frames=20_000, channels=12, n_spikes=10, seed=1)
    with cldata.RecordingView(other) as view:
        ov = Overview(recording["overviews"]["default"].path, view)
        with pytest.raises(StaleOverviewError, match="n_frames"):
            ov.envelope()
        ov.close()
        # ensure_overview rebuilds it in its own place
        target = tmp_path / "ov.h5"
        shutil.copy(recording["overviews"]["default"].path, target)
        ov = ensure_overview(view, target)
        assert ov.envelope(width=10).stop == 20_000
        ov.close()
        ov = ensure_overview(view, tmp_path / "missing" / "ov.h5")
        assert ov.path.is_file()
        ov.close()


def test_not_an_overview(recording, tmp_path):
    with pytest.raises(OverviewError, match="no overview file"):
        Overview(tmp_path / "nope.h5", recording["view"]).envelope()
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(OverviewError):
        Overview(tmp_path / "junk.h5", recording["view"]).envelope()
    with pytest.raises(OverviewError, match="not a cldata overview"):
        Overview(recording["path"], recording["view"]).envelope()  # a recording, not an overview


def test_file_attributes(recording):
    with tables.open_file(str(recording["overviews"]["default"].path)) as h5:
        a = h5.root._v_attrs
        assert a.format == "cldata-overview" and int(a.version) == FORMAT_VERSION
        assert int(a.frames_per_second) == FPS and int(a.channel_count) == 12
        assert float(a.uV_per_sample_unit) == pytest.approx(UV)
        assert int(a.n_frames) == 150_001 and int(a.base) == 64 and int(a.factor) == 8
        l0 = h5.get_node("/samples/L0")
        assert l0.min.shape == l0.max.shape == (-(-150_001 // 64), 12) and l0.min.dtype == np.int16
        assert h5.get_node("/spikes/L0/counts").dtype == np.uint16
        top = h5.get_node(f"/samples/L{int(a.sample_levels) - 1}")
        assert top.min.shape[0] == 1


def test_storage_is_small(recording):
    size = recording["overviews"]["default"].path.stat().st_size
    assert size < 0.1 * recording["path"].stat().st_size


# -- building safely ---------------------------------------------------------------------------


def test_a_failed_build_leaves_no_file(recording, tmp_path, monkeypatch):
    import cldata.overview.threaded_pass as overview
    from cldata.overview.kernels import BlockMinMax

    target = tmp_path / "ov.h5"
    calls = {"n": 0}
    real = BlockMinMax.__call__

    def failing(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full (simulated)")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(overview, "_BUILD_PIECE_BYTES", 1 << 16)  # many pieces: fail half-way through
    monkeypatch.setattr(BlockMinMax, "__call__", failing)
    with pytest.raises(OSError, match="disk full"):
        build_overview(recording["view"], target, chunk_frames=2000)
    assert list(tmp_path.iterdir()) == []
    # an existing overview stays as it was when a rebuild fails
    monkeypatch.setattr(BlockMinMax, "__call__", real)
    build_overview(recording["view"], target)
    before = sha256(target)
    calls["n"] = 0
    monkeypatch.setattr(BlockMinMax, "__call__", failing)
    with pytest.raises(OSError):
        build_overview(recording["view"], target)
    assert sha256(target) == before and sorted(p.name for p in tmp_path.iterdir()) == ["ov.h5"]


@pytest.mark.parametrize("what", ["spikes", "samples"])
def test_a_failed_read_of_the_recording_leaves_no_file(recording, tmp_path, monkeypatch, what):
    from cldata.overview.spike_source import SpikeCursor

    def broken(self, *args, **kwargs):
        raise cldata.errors.CorruptRecordingError(f"cannot read {what} (simulated)")

    if what == "spikes":
        monkeypatch.setattr(SpikeCursor, "take", broken)
    else:
        monkeypatch.setattr(tables.EArray, "read", broken)
    with pytest.raises(cldata.errors.CorruptRecordingError, match=what):
        build_overview(recording["view"], tmp_path / "ov.h5")
    assert list(tmp_path.iterdir()) == []


def test_the_cl_fixture(cl_fixture, tmp_path):
    """The official simulator's recording: read-only, unchanged, and its overview exact."""
    digest = sha256(cl_fixture)
    mode = os.stat(cl_fixture).st_mode
    with cldata.RecordingView(cl_fixture) as view:
        ov = Overview(build_overview(view, tmp_path / "ov.h5"), view)
        act = ov.spike_counts(width=20)
        spikes = view.read_spikes(waveforms=False)
        np.testing.assert_array_equal(act.counts.sum(axis=0), np.bincount(spikes["channel"], minlength=view.channel_count))
        if view.samples is not None and view.samples.nrows:
            x = view.read_samples()
            env = ov.envelope(width=30)
            lo, hi = brute_envelope(x, env, view.uV_per_sample_unit)
            np.testing.assert_array_equal(env.minimum, lo)
            np.testing.assert_array_equal(env.maximum, hi)
        ov.close()
    assert sha256(cl_fixture) == digest and os.stat(cl_fixture).st_mode == mode


def test_an_unsorted_spike_table(tmp_path):
    """Not something CL writes, but readable: counts stay exact."""
    path = tmp_path / "unsorted.h5"
    data = write_recording(path, frames=40_003, channels=6, n_spikes=500, seed=11)
    order = np.random.default_rng(2).permutation(500)
    with tables.open_file(str(path), mode="a") as h5:  # shuffle the rows behind the writer's back
        rows = h5.root.spikes.read()[order]
        h5.root.spikes.modify_rows(0, 500, rows=rows)
    with cldata.RecordingView(path) as view:
        ov = Overview(build_overview(view, tmp_path / "ov.h5", base=16, factor=4, chunk_frames=3000), view)
        for start, stop, width in [(None, None, 50), (333, 20_000, 7), (100, 900, 1000)]:
            act = ov.spike_counts(start=start, stop=stop, width=width)
            np.testing.assert_array_equal(act.counts, brute_counts(data["ts"], data["ch"], act))
        ov.close()


def test_counts_wider_than_uint16_fall_back_to_uint32(tmp_path):
    """More than 65,535 spikes of one channel in one stored block (repeated timestamps)."""
    path = tmp_path / "dense.h5"
    ts = np.repeat(np.arange(0, 2000, dtype=np.int64), 40)  # 40 spikes per frame on channel 0
    with cldata.RecordingWriter(path, channel_count=2) as w:
        w.append_spikes(ts, np.zeros(ts.size, dtype=np.uint8), np.zeros((ts.size, 75), dtype=np.float32))
        w.append_samples(np.zeros((2000, 2), dtype=np.int16))
    with cldata.RecordingView(path) as view:
        ov = Overview(build_overview(view, tmp_path / "ov.h5", base=16, factor=16), view)
        assert ov.spike_counts(width=1).counts[:, 0].sum() == 80_000
        with tables.open_file(str(tmp_path / "ov.h5")) as h5:
            assert all(g.counts.dtype == np.uint32 for g in h5.root.spikes._v_groups.values())
        ov.close()


def test_the_store_builds_overviews_on_add_and_answers_through_views(tmp_path, monkeypatch):
    import quantities as pq

    import cldata
    from cldata.format.simulate import simulate_recording

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    simulate_recording(tmp_path / "a.h5", duration_s=1.0, seed=5)
    simulate_recording(tmp_path / "b.h5", duration_s=1.0, seed=6)
    with cldata.open(tmp_path / "store", mode="a") as store:
        a = store.add_recording(tmp_path / "a.h5")
        b = store.add_recording(tmp_path / "b.h5", overview=False)
    assert (tmp_path / "store" / "overviews" / f"{a}.h5").is_file()
    assert not (tmp_path / "store" / "overviews" / f"{b}.h5").exists()
    with cldata.open(tmp_path / "store") as store:
        window = store.between(0.25 * pq.s, 0.5 * pq.s)
        env = window.recording(a).overview(channels=[5], width=100)
        raw = window.recording(a).view().read_samples(channels=[5], scaled=True)
        assert env.start == 6250 and env.stop == 12500
        np.testing.assert_allclose(env.minimum.min(), raw.min(), rtol=1e-6)
        np.testing.assert_allclose(env.maximum.max(), raw.max(), rtol=1e-6)
        # on demand, for a read-only store: built in the user's cache, never in the store
        assert window.recording(b).spike_activity(width=10).counts.sum() == len(window.recording(b).view().read_spikes())
        assert not (tmp_path / "store" / "overviews" / f"{b}.h5").exists()
        assert list((tmp_path / "cache").rglob(f"{b}.h5"))
    with cldata.open(tmp_path / "store", mode="a") as store:
        store.remove_recording(a)
    assert not (tmp_path / "store" / "overviews" / f"{a}.h5").exists()  # removed with the recording
