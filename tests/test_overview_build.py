"""Building overviews (cldata.overview): every stored level against a brute-force pyramid.

``test_overview.py`` checks the answers (envelopes, counts); these check what the build
stores, level by level, over the shapes that stress its pipeline: recordings shorter
than one block, a single channel, lengths that are a multiple of nothing, pieces of
samples that do not line up with the writer's steps or the HDF5 chunks, any number of
worker threads; and the per-block kernel and the chunk writer on their own (the chunk
writer's direct path must store the same bytes as HDF5's own filters).
"""

from __future__ import annotations

import threading
import zlib

import numpy as np
import pytest
import tables

import cldata
from cldata.overview import build_overview, cascade, layout
from cldata.overview import threaded_pass as overview
from cldata.overview.chunk_encoder import ChunkWriter
from cldata.overview.kernels import BlockMinMax
from cldata.overview.layout import COUNT_FILTERS


def write(path, x: np.ndarray, ts: np.ndarray, ch: np.ndarray, span: int) -> None:
    with cldata.RecordingWriter(path, channel_count=x.shape[1]) as w:
        if ts.size:
            w.append_spikes(ts, ch, np.zeros((ts.size, 75), dtype=np.float32))
        for a in range(0, x.shape[0], 7_777):  # in pieces, as a live recording arrives
            w.append_samples(x[a:a + 7_777])
        w.close(end_timestamp=span)


def make(tmp_path, frames: int, channels: int, n_spikes: int = 50, seed: int = 0, extra: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.integers(-2000, 2000, (frames, channels)).astype(np.int16)
    if frames:  # extremes somewhere inside, so that a block that loses them shows
        x[rng.integers(0, frames), rng.integers(0, channels)] = np.iinfo(np.int16).min
        x[rng.integers(0, frames), rng.integers(0, channels)] = np.iinfo(np.int16).max
    span = frames + extra
    ts = np.sort(rng.integers(0, max(1, span), n_spikes)).astype(np.int64)
    ch = rng.integers(0, channels, n_spikes).astype(np.uint8)
    path = tmp_path / "rec.h5"
    write(path, x, ts, ch, span)
    return path, x, ts, ch, span


def expected_levels(x: np.ndarray, base: int, factor: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Min and max over blocks of ``base * factor**l`` frames, up to a level of one block."""
    levels, block, n = [], base, x.shape[0]
    while n:
        starts = np.arange(0, n, block)
        levels.append((np.minimum.reduceat(x, starts, axis=0), np.maximum.reduceat(x, starts, axis=0)))
        if starts.size == 1:
            break
        block *= factor
    return levels


def check_file(ov_path, x, ts, ch, span, base, factor, first_spike_level) -> None:
    with tables.open_file(str(ov_path)) as h5:
        a = h5.root._v_attrs
        want = expected_levels(x, base, factor)
        assert int(a.sample_levels) == len(want)
        for lv, (lo, hi) in enumerate(want):
            g = h5.get_node(f"/samples/L{lv}")
            assert g.min.dtype == np.int16 and int(g._v_attrs.n_blocks) == lo.shape[0]
            np.testing.assert_array_equal(g.min.read(), lo, err_msg=f"level {lv} min")
            np.testing.assert_array_equal(g.max.read(), hi, err_msg=f"level {lv} max")
        assert int(a.spike_frames) == span
        block = base * factor**first_spike_level
        for i in range(int(a.spike_levels)):
            counts = np.zeros((-(-span // block), x.shape[1]), dtype=np.int64)
            np.add.at(counts, (ts // block, ch.astype(np.int64)), 1)
            got = h5.get_node(f"/spikes/L{first_spike_level + i}/counts").read()
            np.testing.assert_array_equal(got, counts, err_msg=f"spike level {first_spike_level + i}")
            block *= factor
        assert block // factor >= span or span == 0  # the last level has a single block


# -- whole builds ----------------------------------------------------------------------------


@pytest.mark.parametrize("frames,channels", [
    (1, 3),         # a single frame
    (10, 2),        # shorter than one block
    (64, 1),        # exactly one block, one channel
    (65, 1),        # one block and one frame
    (4_097, 5),     # just over a recording chunk
    (70_001, 1),    # one channel, a multiple of nothing
    (123_457, 7),   # a multiple of nothing
])
@pytest.mark.parametrize("threads", [1, 3])
def test_every_level_matches_brute_force(tmp_path, frames, channels, threads):
    path, x, ts, ch, span = make(tmp_path, frames, channels, seed=frames, extra=frames // 3)
    with cldata.RecordingView(path) as view:
        build_overview(view, tmp_path / "ov.h5", threads=threads)
    check_file(tmp_path / "ov.h5", x, ts, ch, span, 64, 8, 0)


@pytest.mark.parametrize("piece_bytes", [1, 700, 1 << 12, 1 << 16])
@pytest.mark.parametrize("options", [{}, {"base": 10, "factor": 3, "chunk_frames": 777},
                                     {"base": 16, "factor": 4, "chunk_frames": 5000},
                                     {"base": 7, "factor": 2, "chunk_frames": 1}])
def test_pieces_steps_and_chunks_that_do_not_line_up(tmp_path, monkeypatch, piece_bytes, options):
    """Pieces of samples (down to one block) across the writer's steps and the arrays' chunks."""
    monkeypatch.setattr(overview, "_BUILD_PIECE_BYTES", piece_bytes)
    monkeypatch.setattr(layout, "_ARRAY_CHUNK_BYTES", 1 << 9)  # many HDF5 chunks per level
    monkeypatch.setattr(cascade, "_DEFER_BYTES", piece_bytes * 3)  # chunks stored in bursts, and at the end
    path, x, ts, ch, span = make(tmp_path, 50_003, 3, n_spikes=400, seed=piece_bytes, extra=999)
    with cldata.RecordingView(path) as view:
        build_overview(view, tmp_path / "ov.h5", threads=2, **options)
    base, factor = options.get("base", 64), options.get("factor", 8)
    first = 0
    while base * factor**first < 50:  # spike_bin 2 ms = 50 frames
        first += 1
    check_file(tmp_path / "ov.h5", x, ts, ch, span, base, factor, first)


def test_without_direct_chunk_writes_the_file_is_the_same(tmp_path, monkeypatch):
    """PyTables before 3.10 has no ``write_chunk``: appends through HDF5's filters store the same bytes."""
    if not hasattr(tables.Leaf, "write_chunk"):
        pytest.skip("this PyTables has no direct chunk writes")
    monkeypatch.setattr(layout, "_ARRAY_CHUNK_BYTES", 1 << 12)
    path, x, ts, ch, span = make(tmp_path, 200_003, 4, n_spikes=3000, seed=1, extra=5)
    written = []
    real = tables.Leaf.write_chunk
    monkeypatch.setattr(tables.Leaf, "write_chunk", lambda self, *a, **k: written.append(a) or real(self, *a, **k))
    with cldata.RecordingView(path) as view:
        build_overview(view, tmp_path / "direct.h5")
        assert written  # the counts took the direct path
        with monkeypatch.context() as m:
            m.delattr(tables.Leaf, "write_chunk")
            build_overview(view, tmp_path / "appended.h5")
    check_file(tmp_path / "appended.h5", x, ts, ch, span, 64, 8, 0)
    with tables.open_file(str(tmp_path / "direct.h5")) as d, tables.open_file(str(tmp_path / "appended.h5")) as p:
        for node in p.walk_nodes("/", "Leaf"):
            other = d.get_node(node._v_pathname)
            assert (other.shape, other.dtype, other.chunkshape, other.filters) == \
                (node.shape, node.dtype, node.chunkshape, node.filters)
            np.testing.assert_array_equal(other.read(), node.read())
            if node.filters.complevel:  # the spike counts: stored chunks byte for byte
                for row in range(0, node.nrows, node.chunkshape[0]):
                    assert other.read_chunk((row, 0)) == node.read_chunk((row, 0))


def test_a_failing_worker_stops_the_build(tmp_path, monkeypatch):
    path, *_ = make(tmp_path, 30_000, 2)
    monkeypatch.setattr(overview, "_BUILD_PIECE_BYTES", 1 << 10)
    calls = {"n": 0}
    lock = threading.Lock()
    real = BlockMinMax.__call__

    def failing(self, n_blocks):
        with lock:
            calls["n"] += 1
            if calls["n"] == 20:
                raise MemoryError("simulated")
        return real(self, n_blocks)

    monkeypatch.setattr(BlockMinMax, "__call__", failing)
    with cldata.RecordingView(path) as view:
        with pytest.raises(MemoryError, match="simulated"):
            build_overview(view, tmp_path / "out" / "ov.h5", threads=3, chunk_frames=1000)
    assert list((tmp_path / "out").iterdir()) == []
    assert not [t for t in threading.enumerate() if t.name.startswith("cldata-overview")]  # the workers are gone


# -- the pieces --------------------------------------------------------------------------------


@pytest.mark.parametrize("base", [2, 3, 5, 10, 16, 48, 64, 100])
@pytest.mark.parametrize("channels", [1, 3, 64])
def test_block_kernel(base, channels):
    rng = np.random.default_rng(base * channels)
    buf = np.empty((base * 40 + 3, channels), dtype=np.int16)
    kernel = BlockMinMax(buf, base)
    for n_blocks in (40, 1, 17, 40):  # plans made once per length, reused on new contents
        buf[:] = rng.integers(-32768, 32768, buf.shape)
        lo, hi = kernel(n_blocks)
        blocks = buf[: n_blocks * base].reshape(n_blocks, base, channels)
        np.testing.assert_array_equal(lo, blocks.min(axis=1))
        np.testing.assert_array_equal(hi, blocks.max(axis=1))


@pytest.mark.parametrize("direct", [True, False])
@pytest.mark.parametrize("n_rows", [0, 1, 99, 100, 101, 1234])
@pytest.mark.parametrize("defer_bytes", [0, 3000, 1 << 30])
def test_chunk_writer(tmp_path, monkeypatch, direct, n_rows, defer_bytes):
    if not direct:
        monkeypatch.delattr(tables.Leaf, "write_chunk")
    rng = np.random.default_rng(n_rows)
    data = np.zeros((n_rows, 5), dtype=np.uint32)
    np.add.at(data, (rng.integers(0, max(1, n_rows), 3 * n_rows), rng.integers(0, 5, 3 * n_rows)), 1)
    data[: min(3, n_rows), 0] = 0xFFFF
    with tables.open_file(str(tmp_path / "w.h5"), "w", chunk_cache_size=0) as h5:
        arrays = [h5.create_earray("/", name, tables.UInt16Atom(), shape=(0, 5), chunkshape=(100, 5),
                                   filters=filters)
                  for name, filters in (("plain", None), ("packed", COUNT_FILTERS))]
        crcs = [h5.create_earray("/", f"{a.name}_crc", tables.UInt32Atom(), shape=(0,)) for a in arrays]
        writers = [ChunkWriter(a, n_rows, threading.Lock(), defer_bytes, c) for a, c in zip(arrays, crcs)]
        assert writers[1].direct == direct and not writers[0].direct
        a = 0
        for size in [1, 0, 98, 1, 1, 250, 3] + [500] * 3:  # pieces across chunk boundaries
            for w in writers:
                w.add(data[a:a + size])
            a = min(n_rows, a + size)
        for w in writers:
            w.flush()
        for arr, crc in zip(arrays, crcs):
            assert arr.nrows == n_rows
            np.testing.assert_array_equal(arr.read(), data.astype(np.uint16))
            # one CRC-32 per chunk, of its rows as stored
            want = [zlib.crc32(np.ascontiguousarray(data[r:r + 100].astype(np.uint16))) for r in range(0, n_rows, 100)]
            assert crc.read().tolist() == want
