"""Data streams whose index rows are out of timestamp order or repeat earlier rows (issue 11).

The official CL simulator writes such indexes when an application appends quickly: its
writer is lapped by its ring buffer and writes a block of earlier rows again after the last
one. Each pattern below is built with PyTables from a recording cldata writes, and every read
path is compared with a brute-force answer computed from the raw rows:

- the whole stream in file order (``len``, ``keys``, ``values``, ``items``, iteration): every
  row as it is in the file, repeats included — what the CL reader gives;
- lookups by time (``stream[ts]``, ``*_for_range``, ``stream[a:b]``, ``read``, ``timestamps``,
  ``between``, ``to_columns``, follow's replay, the store's views and analyses): each entry
  whose timestamp is in the range, in timestamp order, exact repeats once; timestamps whose
  rows hold different bytes raise ``AmbiguousEntryError`` naming the rows.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import tables

import cldata
from cldata.errors import AmbiguousEntryError, UntidyIndexWarning

N = 40  # entries written by cldata


def write_base(path: Path) -> Path:
    with cldata.RecordingWriter(path, channel_count=4, durable=False, attributes={"culture_line": "L1"}) as w:
        ball = w.create_data_stream("ball", {"units": "px"})
        ball.extend([5 + 3 * i for i in range(N)], [{"x": float(i), "y": 200.0 - i, "hit": i % 7 == 0} for i in range(N)])
        w.create_data_stream("tidy").extend([1, 2, 3], ["a", "b", "c"])
        w.append_spikes(np.arange(10, 130, 3), np.arange(40) % 4, np.zeros((40, 75), np.float32))
        w.append_samples(np.zeros((200, 4), np.int16))
    return path


def _rows(f: tables.File) -> np.ndarray:
    return f.root.data_stream.ball.index.read()


def _write_rows(f: tables.File, rows: np.ndarray, extra_bytes: bytes = b"") -> None:
    group = f.root.data_stream.ball
    if extra_bytes:
        group.data.append(np.frombuffer(extra_bytes, dtype=np.uint8))
    group.index.remove()
    f.create_table(group, "index", obj=rows)


def lapped(f: tables.File) -> None:
    """The simulator's pattern: rows 0..9 written again after the last row."""
    rows = _rows(f)
    _write_rows(f, np.concatenate([rows, rows[:10]]))


def interleaved(f: tables.File) -> None:
    """Unique timestamps, rows swapped in pairs."""
    rows = _rows(f)
    order = np.arange(rows.size).reshape(-1, 2)[:, ::-1].ravel()
    _write_rows(f, rows[order])


def ambiguous(f: tables.File) -> None:
    """A row at the timestamp of row 3 pointing at row 5's bytes (different), at the end."""
    rows = _rows(f)
    extra = rows[3:4].copy()
    extra["start_index"], extra["end_index"] = rows["start_index"][5], rows["end_index"][5]
    _write_rows(f, np.concatenate([rows, extra]))


def shared_bytes(f: tables.File) -> None:
    """A row with a timestamp of its own pointing at bytes another row uses (an entry of its own), placed early."""
    rows = _rows(f)
    extra = rows[:1].copy()
    extra["timestamp"] = 1000
    _write_rows(f, np.concatenate([rows[:3], extra, rows[3:]]))


def copied_repeat(f: tables.File) -> None:
    """Row 2's bytes written again at the end of the data, and a row at row 2's timestamp pointing there."""
    rows = _rows(f)
    start, end = int(rows["start_index"][2]), int(rows["end_index"][2])
    data = f.root.data_stream.ball.data
    copy = data[start:end].tobytes()
    extra = rows[2:3].copy()
    extra["start_index"], extra["end_index"] = data.nrows, data.nrows + len(copy)
    _write_rows(f, np.concatenate([rows, extra]), copy)


PATTERNS = {"lapped": lapped, "interleaved": interleaved, "ambiguous": ambiguous, "shared bytes": shared_bytes,
            "copied repeat": copied_repeat}


def untidy_recording(tmp_path: Path, pattern: str) -> Path:
    path = write_base(tmp_path / f"{pattern.replace(' ', '_')}.h5")
    with tables.open_file(str(path), "a") as f:
        PATTERNS[pattern](f)
    return path


def raw_rows(path: Path) -> list[tuple[int, bytes]]:
    """The brute force: every index row of ``ball`` with its bytes, in file order."""
    with tables.open_file(str(path)) as f:
        rows = f.root.data_stream.ball.index.read()
        data = f.root.data_stream.ball.data.read().tobytes()
    return [(int(r["timestamp"]), data[int(r["start_index"]):int(r["end_index"])]) for r in rows]


def entries(rows: list[tuple[int, bytes]]) -> tuple[dict[int, bytes], set[int]]:
    """By time: the first row of each timestamp, and the timestamps whose rows disagree."""
    first: dict[int, bytes] = {}
    clash: set[int] = set()
    for t, b in rows:
        if t in first and first[t] != b:
            clash.add(t)
        first.setdefault(t, b)
    return dict(sorted(first.items())), clash


def decode(b: bytes):
    return cldata.decode(b)


@pytest.fixture(autouse=True)
def _fresh_warning_registry(monkeypatch):
    # each test counts its own warnings: forget which streams were already warned about
    from cldata.format import stream_store as streams

    monkeypatch.setattr(streams, "_WARNED", set())


@pytest.mark.parametrize("pattern", list(PATTERNS))
def test_iteration_of_a_whole_stream_is_every_row_in_file_order(pattern, tmp_path):
    path = untidy_recording(tmp_path, pattern)
    rows = raw_rows(path)
    with pytest.warns(UntidyIndexWarning), cldata.RecordingView(path) as rec:
        ball = rec.data_streams["ball"]
        assert len(ball) == len(rows)
        assert list(ball.keys()) == [t for t, _ in rows]
        assert list(ball.values()) == [decode(b) for _, b in rows]
        assert list(ball.items()) == [(t, decode(b)) for t, b in rows]
        assert list(ball) == list(ball.items())


@pytest.mark.parametrize("pattern", list(PATTERNS))
def test_lookups_by_time_equal_a_brute_force_filter_of_the_rows(pattern, tmp_path):
    path = untidy_recording(tmp_path, pattern)
    by_time, clash = entries(raw_rows(path))
    with warnings.catch_warnings(), cldata.RecordingView(path) as rec:
        warnings.simplefilter("ignore", UntidyIndexWarning)  # (tested on its own below)
        ball = rec.data_streams["ball"]
        assert ball.timestamps.tolist() == list(by_time)
        for t, b in by_time.items():
            if t in clash:
                with pytest.raises(AmbiguousEntryError, match=f"timestamp {t}") as info:
                    ball[t]
                assert "rows" in str(info.value)
            else:
                assert ball[t] == decode(b)
        with pytest.raises(KeyError):
            ball[4]
        for a, b in [(0, 20), (11, 60), (50, 10_000), (None, 30), (100, None), (1000, 1001), (7, 7)]:
            want = [(t, decode(v)) for t, v in by_time.items()
                    if (a is None or t >= a) and (b is None or t < b)]
            if any(t in clash for t, _ in want):
                with pytest.raises(AmbiguousEntryError):
                    list(ball.items_for_range(a, b))
                with pytest.raises(AmbiguousEntryError):
                    ball.read(a, b)
                continue
            assert list(ball.items_for_range(a, b)) == want
            assert list(ball.keys_for_range(a, b)) == [t for t, _ in want]
            assert list(ball.values_for_range(a, b)) == [v for _, v in want]
            assert list(ball[a:b]) == [v for _, v in want]
            ts, values = ball.read(a, b)
            assert ts.tolist() == [t for t, _ in want] and values == [v for _, v in want]
            window = ball.between(a, b)
            assert len(window) == len(want) and list(window.items()) == want
            assert window.timestamps.tolist() == [t for t, _ in want]
            if want:
                columns = window.to_columns()
                assert columns["timestamp"].tolist() == [t for t, _ in want]
                assert columns["x"].tolist() == [v["x"] for _, v in want]


@pytest.mark.parametrize("pattern", list(PATTERNS))
def test_one_warning_per_stream_and_file_naming_rows(pattern, tmp_path):
    path = untidy_recording(tmp_path, pattern)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):  # opened twice, read in several ways: told once
            with cldata.RecordingView(path) as rec:
                list(rec.data_streams["ball"].items())
                rec.data_streams["ball"].timestamps  # noqa: B018
                list(rec.data_streams["tidy"].items())
    untidy = [w for w in caught if issubclass(w.category, UntidyIndexWarning)]
    assert len(untidy) == 1, [str(w.message) for w in untidy]
    text = str(untidy[0].message)
    assert "'ball'" in text and str(path) in text and "rows" in text and "file order" in text
    if pattern == "lapped":
        assert f"rows {N}-{N + 9}" in text and "10 repeat an earlier row exactly" in text
    if pattern == "ambiguous":
        assert "timestamp 14: rows 3, 40" in text


def test_a_tidy_stream_gives_no_warning_and_keeps_its_arrays(tmp_path):
    path = write_base(tmp_path / "tidy.h5")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UntidyIndexWarning)
        with cldata.RecordingView(path) as rec:
            ball = rec.data_streams["ball"]
            assert ball.untidy is None and len(ball) == N
            store = ball._store
            assert store.arrays(entries=True) is store.arrays(entries=False)  # one set of arrays: no extra cost


def test_the_simulators_lapped_pattern_with_66_rows_reads_like_the_issue_says(tmp_path):
    """The issue's case: rows ending at a late timestamp, then 66 rows starting again at 5 and pointing at the
    same bytes as rows 0-65."""
    path = tmp_path / "sim.h5"
    with cldata.RecordingWriter(path, channel_count=4, durable=False) as w:
        w.create_data_stream("ball").extend([5 + 9 * i for i in range(200)], [{"i": i} for i in range(200)])
    with tables.open_file(str(path), "a") as f:
        rows = f.root.data_stream.ball.index.read()
        f.root.data_stream.ball.index.append(rows[:66])
    with pytest.warns(UntidyIndexWarning, match="rows 200-265"), cldata.RecordingView(path) as rec:
        ball = rec.data_streams["ball"]
        assert len(ball) == 266 and list(ball.keys())[200] == 5
        assert ball.timestamps.size == 200 and ball[5] == {"i": 0}
        assert [v["i"] for v in ball.values_for_range(0, 50)] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("pattern", ["lapped", "interleaved", "copied repeat"])
def test_follow_replays_each_entry_once_in_time_order(pattern, tmp_path):
    from cldata.live import StreamEntry

    path = untidy_recording(tmp_path, pattern)
    by_time, _ = entries(raw_rows(path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntidyIndexWarning)
        got = [(e.timestamp, e.value) for e in cldata.follow(path, "ball") if isinstance(e, StreamEntry)]
    assert got == [(t, decode(b)) for t, b in by_time.items()]


@pytest.mark.parametrize("link", [False, True])
@pytest.mark.parametrize("pattern", list(PATTERNS))
def test_the_store_takes_untidy_recordings(pattern, link, tmp_path):
    path = untidy_recording(tmp_path, pattern)
    by_time, clash = entries(raw_rows(path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntidyIndexWarning)
        with cldata.open(tmp_path / "store", mode="a") as store:
            rid = store.add_recording(path, {"culture": "C7"}, link=link)
            handle = store.recording(rid)
            assert handle.parameters["culture"] == "C7" and handle.stream_names == ["ball", "tidy"]
            assert store.streams("ball").recording_ids == [rid]
            part = store.filter(culture="C7").between(11, 60)
            view = part.recordings[0].view()
            want = [(t, decode(b)) for t, b in by_time.items() if 11 <= t < 60]
            if any(t in clash for t, _ in want):
                with pytest.raises(AmbiguousEntryError):
                    list(view.data_streams["ball"].items())
            else:
                assert list(view.data_streams["ball"].items()) == want
            assert handle.parameters["culture_line"] == "L1"  # the file's application attributes, as when tidy
            handle.overview(width=10)
            handle.spike_activity(width=10)
            handle.segment(lazy=False)


@pytest.mark.parametrize("pattern", [p for p in PATTERNS if p != "ambiguous"])
def test_an_analysis_of_an_untidy_stream_equals_that_of_its_tidy_copy(pattern, tmp_path):
    from cldata.analysis import StreamSpikeSummary

    path = untidy_recording(tmp_path, pattern)
    tidy = tmp_path / "tidy.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntidyIndexWarning)
        cldata.normalize(path, tidy)
        values = {}
        for name, source in (("untidy", path), ("tidy", tidy)):
            with cldata.open(tmp_path / name, mode="a") as store:
                store.add_recording(source)
                StreamSpikeSummary(stream="ball", key="x", window_ms=1.0, n_bins=4).perform_analysis(store)
                values[name] = {r.identifier: {f: getattr(r, f) for f in r.fields} for r in store.analysis_results}
    assert values["untidy"].keys() == values["tidy"].keys() and values["untidy"]

    def same(a, b, where):
        if isinstance(a, dict):
            assert a.keys() == b.keys(), where
            for k in a:
                same(a[k], b[k], f"{where}.{k}")
        elif isinstance(a, (list, tuple)):
            assert len(a) == len(b), where
            for i, (x, y) in enumerate(zip(a, b)):
                same(x, y, f"{where}[{i}]")
        else:
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=where)

    same(values["untidy"], values["tidy"], "results")


# --- check and normalize ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", list(PATTERNS))
def test_check_reports_an_untidy_index_once_with_its_rows(pattern, tmp_path):
    from cldata.app.check import check_path

    path = untidy_recording(tmp_path, pattern)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UntidyIndexWarning)  # check reports instead of warning
        report = check_path(path)
    text = str(report)
    assert text.count("data stream 'ball'") == 1 and "index rows" in text and "rows " in text
    if pattern == "ambiguous":
        assert not report.healthy and "timestamp 14: rows 3, 40" in text and "AmbiguousEntryError" in text
    else:
        assert report.healthy and "cldata normalize" in text


@pytest.mark.parametrize("pattern", [p for p in PATTERNS if p != "ambiguous"])
def test_normalize_writes_a_tidy_verified_copy_and_leaves_the_original(pattern, tmp_path):
    path = untidy_recording(tmp_path, pattern)
    before = path.read_bytes()
    by_time, _ = entries(raw_rows(path))
    out = tmp_path / "tidy.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("error", UntidyIndexWarning)
        report = cldata.normalize(path, out)
        assert report.streams["ball"][1] == len(by_time) and "ball" in str(report)
        with cldata.RecordingView(out) as tidy, cldata.RecordingView(path) as original:
            ball = tidy.data_streams["ball"]
            assert ball.untidy is None and len(ball) == len(by_time)  # no warning: the copy is tidy
            assert list(ball.items()) == [(t, decode(b)) for t, b in by_time.items()]
            assert raw_rows(out) == list(by_time.items())  # bytes as they were, end to end
            assert list(tidy.data_streams["tidy"].items()) == [(1, "a"), (2, "b"), (3, "c")]
            assert dict(ball.attributes) == dict(original.data_streams["ball"].attributes)
            assert tidy.attributes.to_dict() == original.attributes.to_dict()
            np.testing.assert_array_equal(tidy.read_samples(), original.read_samples())
            assert tidy.read_spikes().tobytes() == original.read_spikes().tobytes()
    assert path.read_bytes() == before  # the original is never changed


def test_normalize_refuses_ambiguous_streams_and_in_place_and_existing_outputs(tmp_path):
    path = untidy_recording(tmp_path, "ambiguous")
    with pytest.raises(AmbiguousEntryError, match="rows 3, 40"):
        cldata.normalize(path, tmp_path / "out.h5")
    assert not (tmp_path / "out.h5").exists() and not list(tmp_path.glob(".out.h5.tmp-*"))
    lapped_path = untidy_recording(tmp_path, "lapped")
    with pytest.raises(ValueError, match="copy"):
        cldata.normalize(lapped_path, lapped_path)
    (tmp_path / "taken.h5").write_bytes(b"x")
    with pytest.raises(FileExistsError, match="overwrite"):
        cldata.normalize(lapped_path, tmp_path / "taken.h5")
    assert "ball" in str(cldata.normalize(lapped_path, tmp_path / "taken.h5", overwrite=True))


def test_normalize_on_the_command_line(tmp_path):
    import subprocess
    import sys

    path = untidy_recording(tmp_path, "lapped")
    out = subprocess.run([sys.executable, "-m", "cldata.app.cli", "normalize", str(path), str(tmp_path / "t.h5")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "50 rows -> 40 entries" in out.stdout, out.stderr
    again = subprocess.run([sys.executable, "-m", "cldata.app.cli", "normalize", str(path), str(path)],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "in place" in again.stderr and "Traceback" not in again.stderr
