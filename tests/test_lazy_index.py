"""First answers without reading the whole index (issue 13): lookups bisect the index on disk.

A data stream's first range query or ``stream[ts]`` after opening reads a few blocks of the
index instead of all of it — but only on an index that cldata's writer checked and marked in
time order (``cldata.format.index_order``): bisecting an untidy index gives wrong answers
(issue 11). These tests protect that the answers are the same either way:

- on random indexes (in order, shuffled, lapped, with repeats and with clashing rows), every
  lookup of a reader that bisects (its thresholds lowered so that tiny files take that path,
  in blocks of one to a few rows) equals the brute-force answer computed from the raw rows;
- the mark is set only on an index in order, and voided by rows added later;
- a mark that lies (a file changed in place after cldata wrote it) is caught as soon as a row
  out of order is read: the whole index loads, warns and answers from then on;
- iteration reads rows in blocks and never loads the index (memory stays a block).
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import tables
from hypothesis import given, settings
from hypothesis import strategies as st

import cldata
from cldata.errors import AmbiguousEntryError, CorruptRecordingError, UntidyIndexWarning
from cldata.format import stream_store as streams
from cldata.format.codec import encode
from cldata.format.index_order import TIME_ORDER_ATTR, mark_time_order, time_order_marked
from cldata.format.layout import INDEX_DTYPE, IndexRow


@pytest.fixture(autouse=True)
def _fresh_warning_registry(monkeypatch):
    monkeypatch.setattr(streams, "_WARNED", set())


def lowered():
    """Tiny indexes take the on-disk path, in blocks as small as their chunks (and iteration
    reads three rows at a time)."""
    return mock.patch.multiple(streams, _LAZY_MIN_ROWS=0, _MIN_BLOCK_ROWS=1, _SCAN_ROWS=3)


@pytest.fixture
def bisect_small():
    with lowered():
        yield


def write_stream(path: Path, rows: list[tuple[int, int]], chunk: int, mark: str = "writer") -> Path:
    """A recording whose stream ``s`` has ``rows`` in file order: ``(timestamp, key)``, where rows
    with the same key share their bytes (the value ``key``). ``mark``: ``"writer"`` (what cldata's
    writer does: checked, marked only if in order), ``"lying"`` (marked whatever the order) or ``"none"``."""
    offsets: dict[int, tuple[int, int]] = {}
    data = bytearray()
    index = np.zeros(len(rows), dtype=INDEX_DTYPE)
    for r, (t, key) in enumerate(rows):
        if key not in offsets:
            b = encode({"key": key})
            offsets[key] = (len(data), len(data) + len(b))
            data += b
        index[r] = (t, *offsets[key])
    with tables.open_file(str(path), "w") as f:
        for k, v in {"channel_count": np.int64(4), "frames_per_second": np.int64(25_000),
                     "sampling_frequency": np.int64(25_000), "start_timestamp": np.int64(0),
                     "duration_frames": np.int64(10_000)}.items():
            f.root._v_attrs[k] = v
        from cldata.format.layout import SpikeRow, StimRow

        f.create_table("/", "spikes", SpikeRow)
        f.create_table("/", "stims", StimRow)
        g = f.create_group("/data_stream", "s", createparents=True)
        g._v_attrs["name"], g._v_attrs["application"] = "s", {}
        table = f.create_table(g, "index", IndexRow, chunkshape=(chunk,))
        if len(index):
            table.append(index)
        f.create_earray(g, "data", tables.UInt8Atom(), shape=(0,), obj=np.frombuffer(bytes(data), np.uint8))
        if mark == "writer":
            mark_time_order(table)
        elif mark == "lying":
            table._v_attrs[TIME_ORDER_ATTR] = np.int64(table.nrows)
    return path


def brute_force(rows: list[tuple[int, int]]) -> tuple[dict[int, int], set[int]]:
    """By time: the key of the first row of each timestamp, and the timestamps whose rows disagree."""
    first: dict[int, int] = {}
    clash: set[int] = set()
    for t, key in rows:
        if t in first and first[t] != key:
            clash.add(t)
        first.setdefault(t, key)
    return dict(sorted(first.items())), clash


def outcome(fn):
    """What a lookup gives: its value, or the kind of error it raises."""
    try:
        return fn()
    except (KeyError, AmbiguousEntryError) as exc:
        return type(exc).__name__


@st.composite
def indexes(draw):
    n = draw(st.integers(0, 40))
    ts = np.cumsum(draw(st.lists(st.integers(1, 4), min_size=n, max_size=n))).tolist()
    rows = [(t, i) for i, t in enumerate(ts)]
    kind = draw(st.sampled_from(["in order", "in order", "shuffled", "lapped", "repeats", "clash"]))
    if kind == "shuffled" and rows:
        rows = draw(st.permutations(rows))
    elif kind == "lapped" and rows:  # the simulator's: a block of earlier rows again after the last
        a = draw(st.integers(0, len(rows) - 1))
        rows = rows + rows[a : draw(st.integers(a + 1, len(rows)))]
    elif kind in ("repeats", "clash") and rows:
        for _ in range(draw(st.integers(1, 3))):
            t, key = rows[draw(st.integers(0, len(rows) - 1))]
            at = draw(st.integers(0, len(rows)))
            rows.insert(at, (t, key if kind == "repeats" else 1000 + at))
    top = (ts[-1] if ts else 0) + 3
    queries = draw(st.lists(st.tuples(st.one_of(st.none(), st.integers(-1, top)),
                                      st.one_of(st.none(), st.integers(-1, top))), min_size=1, max_size=6))
    return rows, draw(st.integers(1, 5)), queries


@settings(max_examples=150)
@given(case=indexes())
def test_lookups_that_bisect_on_disk_equal_a_brute_force_filter_of_the_rows(case, tmp_path_factory):
    rows, chunk, queries = case
    path = write_stream(tmp_path_factory.mktemp("lazy") / "r.h5", rows, chunk)
    by_time, clash = brute_force(rows)
    keys = sorted({t for t, _ in rows} | {-1, 0, max(by_time, default=0) + 1})
    with lowered(), warnings.catch_warnings(), cldata.RecordingView(path) as rec:
        warnings.simplefilter("ignore", UntidyIndexWarning)
        s = rec.data_streams["s"]
        for a, b in queries:
            want = [(t, {"key": k}) for t, k in by_time.items() if (a is None or t >= a) and (b is None or t < b)]
            if a is not None and b is not None and b < a:
                with pytest.raises(ValueError):
                    s.items_for_range(a, b)
                continue
            if any(t in clash for t, _ in want):
                with pytest.raises(AmbiguousEntryError):
                    list(s.items_for_range(a, b))
                continue
            assert list(s.items_for_range(a, b)) == want
            assert list(s.keys_for_range(a, b)) == [t for t, _ in want]
            ts, values = s.read(a, b)
            assert ts.tolist() == [t for t, _ in want] and values == [v for _, v in want]
            window = s.between(a, b)
            assert window.timestamps.tolist() == [t for t, _ in want]
            if (a, b) == (None, None):  # the whole stream: its rows in file order
                want = [(t, {"key": k}) for t, k in rows]
            assert len(window) == len(want) and list(window.items()) == want
        for t in keys:
            expected = "AmbiguousEntryError" if t in clash else (
                {"key": by_time[t]} if t in by_time else "KeyError")
            assert outcome(lambda t=t: s[t]) == expected
            assert outcome(lambda t=t: t in s) == ("AmbiguousEntryError" if t in clash else t in by_time)
        # the whole stream: every row in file order, whatever was read before
        assert len(s) == len(rows)
        assert list(s.items()) == [(t, {"key": k}) for t, k in rows]
        assert s.timestamps.tolist() == list(by_time)


@settings(max_examples=60)
@given(case=indexes())
def test_a_reader_that_bisects_answers_as_one_that_loads_the_index(case, tmp_path_factory):
    """The same lookups, one reader with the index loaded at once (the thresholds as shipped, on a
    tiny file), one bisecting on disk: the same answers, values and errors, in any order of calls."""
    rows, chunk, queries = case
    path = write_stream(tmp_path_factory.mktemp("lazy") / "r.h5", rows, chunk)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntidyIndexWarning)
        answers = []
        for low in (False, True):
            got = []
            with (lowered() if low else contextlib.nullcontext()), cldata.RecordingView(path) as rec:
                s = rec.data_streams["s"]
                for a, b in queries:
                    if a is not None and b is not None and b < a:
                        continue
                    got.append(outcome(lambda a=a, b=b, s=s: list(s.items_for_range(a, b))))
                    got.append(outcome(lambda a=a, b=b, s=s: len(s.between(a, b))))
                    got.append(outcome(lambda a=a, s=s: s[a] if a is not None else None))
                got.append(list(s.items()))
                if not low:  # (as shipped, a tiny index loads whole at the first lookup)
                    assert s._store._lazy is None
            answers.append(got)
        assert answers[0] == answers[1]


def test_the_first_lookups_read_a_few_blocks_not_the_index(tmp_path, monkeypatch):
    rows = [(5 + 3 * i, i) for i in range(40_000)]
    path = write_stream(tmp_path / "r.h5", rows, chunk=512)
    reads = []
    original = tables.Table.read
    monkeypatch.setattr(tables.Table, "read", lambda self, *a, **k: reads.append(a[:2]) or original(self, *a, **k))
    with cldata.RecordingView(path) as rec:
        s = rec.data_streams["s"]
        reads.clear()
        assert s[5 + 3 * 20_000] == {"key": 20_000}
        assert [v["key"] for v in s.values_for_range(5 + 3 * 30_000, 5 + 3 * 30_003)] == [30_000, 30_001, 30_002]
        assert len(s.between(5 + 3 * 100, 5 + 3 * 200)) == 100
        assert s._store._raw is None and len(reads) <= 12
        assert all(b - a <= 512 for a, b in reads)  # blocks of one chunk, never the whole table
        # many lookups: the whole index loads once it has paid for itself, and answers the same
        for k in range(0, 40_000, 97):
            assert s[5 + 3 * k] == {"key": k}
        assert s._store._raw is not None and s._store._lazy is None


def test_iterating_a_stream_reads_its_index_in_blocks_and_never_loads_it(tmp_path):
    rows = [(5 + 3 * i, i) for i in range(50_000)]
    for mark in ("writer", "none"):  # (the CL tools' files have no mark: iteration needs none)
        path = write_stream(tmp_path / f"{mark}.h5", rows, chunk=2048, mark=mark)
        with cldata.RecordingView(path) as rec:
            s = rec.data_streams["s"]
            assert len(s) == 50_000 and s._store._raw is None
            n = 0
            for (t, v), (want_t, want_k) in zip(s.items(), rows):
                assert t == want_t and v == {"key": want_k}
                n += 1
            assert n == 50_000 and [v["key"] for v in s.values()][-1] == 49_999
            assert s._store._raw is None


def test_iterating_an_untidy_stream_says_so_once_and_gives_every_row_in_file_order(tmp_path, bisect_small):
    rows = [(5 + 3 * i, i) for i in range(30)]
    rows += rows[4:9]  # the simulator's lapped block, after the last row
    path = write_stream(tmp_path / "r.h5", rows, chunk=4, mark="none")
    with pytest.warns(UntidyIndexWarning, match="rows 30-34") as caught, cldata.RecordingView(path) as rec:
        s = rec.data_streams["s"]
        assert list(s.items()) == [(t, {"key": k}) for t, k in rows]
        assert list(s.items()) == [(t, {"key": k}) for t, k in rows]
        assert s.timestamps.tolist() == [5 + 3 * i for i in range(30)]
    assert len([w for w in caught if issubclass(w.category, UntidyIndexWarning)]) == 1


def test_cldata_writer_marks_each_stream_index_in_time_order(tmp_path):
    path = tmp_path / "w.h5"
    with cldata.RecordingWriter(path, channel_count=4, durable=False) as w:
        w.create_data_stream("ball").extend(list(range(5, 305, 3)), [{"i": i} for i in range(100)])
        w.create_data_stream("empty")
    with tables.open_file(str(path)) as f:
        assert time_order_marked(f.root.data_stream.ball.index)
        assert int(f.root.data_stream.ball.index._v_attrs[TIME_ORDER_ATTR]) == 100
        assert time_order_marked(f.root.data_stream.empty.index)
    with tables.open_file(str(path), "a") as f:  # rows added by another tool void the mark
        index = f.root.data_stream.ball.index
        index.append(index.read(0, 3))
        assert not time_order_marked(index)
        assert not mark_time_order(index) and TIME_ORDER_ATTR not in index._v_attrs._v_attrnamesuser


def test_normalize_marks_the_tidy_copy(tmp_path):
    rows = [(5 + 3 * i, i) for i in range(30)]
    src = write_stream(tmp_path / "src.h5", rows + rows[:5], chunk=8, mark="none")
    out = tmp_path / "tidy.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntidyIndexWarning)
        cldata.normalize(src, out)
    with tables.open_file(str(out)) as f:
        assert time_order_marked(f.root.data_stream.s.index)


def test_a_mark_that_lies_is_caught_at_the_first_row_out_of_order(tmp_path, bisect_small):
    """A file changed in place after cldata marked it: the first block read shows the disorder."""
    rows = [(5 + 3 * i, i) for i in range(40)]
    rows[1], rows[2] = rows[2], rows[1]
    path = write_stream(tmp_path / "r.h5", rows, chunk=4, mark="lying")
    with pytest.warns(UntidyIndexWarning), cldata.RecordingView(path) as rec:
        s = rec.data_streams["s"]
        assert s[8] == {"key": 1} and s[11] == {"key": 2}
        assert s._store._raw is not None and s._store.untidy is not None
        assert s.timestamps.tolist() == [5 + 3 * i for i in range(40)]


def test_positions_found_before_a_lying_mark_showed_are_found_again(tmp_path, bisect_small):
    rows = [(5 + 3 * i, i) for i in range(400)]
    rows.insert(200, (5 + 3 * 2, 2))  # a repeat of row 2, far from the first lookups
    path = write_stream(tmp_path / "r.h5", rows, chunk=4, mark="lying")
    late_ts = [5 + 3 * i for i in range(350, 400)]
    with warnings.catch_warnings(), cldata.RecordingView(path) as rec:
        warnings.simplefilter("ignore", UntidyIndexWarning)
        s = rec.data_streams["s"]
        late = s.between(late_ts[0], None)
        assert len(late) == 50 and list(late.keys()) == late_ts  # found on disk: rows 351..400
        pending = s.items_for_range(late_ts[0], None)
        assert s._store._raw is None
        assert s.timestamps.size == 400  # loads the whole index: out of order, the repeat dropped
        assert s._store.untidy is not None
        assert len(late) == 50 and list(late.keys()) == late_ts  # found again: entries 350..399
        assert s[late_ts[1]] == {"key": 351}
        with pytest.raises(CorruptRecordingError, match="Ask for it again"):
            list(pending)
        assert [t for t, _ in s.items_for_range(late_ts[0], None)] == late_ts


def test_rows_outside_the_data_found_on_disk_raise_as_when_loaded(tmp_path, bisect_small):
    rows = [(5 + 3 * i, i) for i in range(40)]
    path = write_stream(tmp_path / "r.h5", rows, chunk=4)
    with tables.open_file(str(path), "a") as f:
        f.root.data_stream.s.index.modify_column(20, 21, column=np.array([10**9], np.uint64), colname="end_index")
    with cldata.RecordingView(path) as rec:
        s = rec.data_streams["s"]
        with pytest.warns(cldata.errors.UntidyRecordingWarning, match="point at bytes outside"):
            assert s[5 + 3 * 19] == {"key": 19}
            with pytest.raises(CorruptRecordingError, match="timestamp 65 points at bytes"):
                s[5 + 3 * 20]
        assert s[5 + 3 * 21] == {"key": 21}
        with pytest.raises(CorruptRecordingError, match="outside"):
            list(s.values())


@pytest.mark.parametrize("shape", ["bursts", "one huge gap", "quadratic"])
def test_lookups_on_disk_find_every_timestamp_whatever_their_spacing(shape, tmp_path, bisect_small):
    """Interpolating the timestamps of the blocks read guesses badly on irregular streams; halving every
    second step still finds every entry (and every gap between them)."""
    rng = np.random.default_rng(3)
    n = 3000
    gaps = {"bursts": np.where(rng.random(n) < 0.02, rng.integers(10**6, 10**9, n), 1),
            "one huge gap": np.where(np.arange(n) == 2500, 10**15, 2),
            "quadratic": np.arange(n) ** 2 + 1}[shape]
    ts = np.cumsum(gaps).tolist()
    path = write_stream(tmp_path / "r.h5", [(t, i) for i, t in enumerate(ts)], chunk=7)
    with cldata.RecordingView(path) as rec:
        s = rec.data_streams["s"]
        for i in rng.choice(n, 150, replace=False).tolist():
            assert s[ts[i]] == {"key": i}
            assert s.between(ts[i] + 1, None).timestamps[:1].tolist() == ts[i + 1 : i + 2]
            assert len(s.between(None, ts[i])) == i
        assert s._store._raw is None or s._store.untidy is None
