"""``to_xarray()``: a recording's samples as a lazy xarray.DataArray (time × channel, µV, dask chunks).

What it protects: the values are exactly ``read_samples(scaled=True)`` of the window, whatever the
window and channels; a window's array lines up with the whole recording's on the recording's time
axis; nothing is read until computed; the array computes in dask threads and in another process
(the file opened again there); store handles give their window; the operations of the HoloViz
large-timeseries example work unchanged; what cannot be shown is refused with a reason.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import quantities as pq
from hypothesis import given, settings
from hypothesis import strategies as st

import cldata
from cldata.errors import ParameterError, RecordingFileError, UnsupportedValueError

pytest.importorskip("xarray", reason="xarray is in the view extra: pip install '.[view]'")
pytest.importorskip("dask", reason="dask is in the view extra: pip install '.[view]'")

from cldata.format.xarray_view import LazySamples  # noqa: E402  (after the skips: it needs xarray)

FPS = 25_000
SECONDS = 2.0
CHANNELS = 8


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    path = tmp_path_factory.mktemp("xr") / "rec.h5"
    cldata.simulate(path, seconds=SECONDS, channels=CHANNELS, seed=3)
    return path


@pytest.fixture(scope="module")
def rec(recording):
    with cldata.RecordingView(recording) as view:
        yield view


def test_the_whole_recording_is_time_by_channel_in_uV_with_times_from_the_recording_start(rec):
    da = rec.to_xarray()
    assert da.dims == ("time", "channel") and da.dtype == np.float32
    assert da.shape == (int(rec.samples.nrows), CHANNELS)
    assert da.attrs["units"] == "uV" and da.attrs["sampling_rate"] == FPS
    assert da.attrs["source"] == str(rec.path) and da.attrs["window_frames"] == (0, int(rec.samples.nrows))
    assert da.attrs["start_timestamp"] == rec.start_timestamp
    assert da.time.dtype == np.float64 and da.time.attrs["units"] == "s"
    np.testing.assert_array_equal(da.time.values, np.arange(da.shape[0]) / FPS)
    np.testing.assert_array_equal(da.frame.values, np.arange(da.shape[0], dtype=np.int64))
    np.testing.assert_array_equal(da.channel.values, np.arange(CHANNELS))
    # the MEA layout: channels run down the columns of 8 rows
    np.testing.assert_array_equal(da.mea_row.values, np.arange(CHANNELS) % 8)
    np.testing.assert_array_equal(da.mea_column.values, np.arange(CHANNELS) // 8)
    np.testing.assert_array_equal(da.values, rec.read_samples(scaled=True))


@settings(max_examples=25)
@given(a=st.integers(0, int(SECONDS * FPS) + 100), length=st.integers(0, 20_000),
       channels=st.one_of(st.none(), st.lists(st.integers(0, CHANNELS - 1), min_size=1, max_size=5)),
       chunk_seconds=st.sampled_from([0.013, 0.1, 1.0]))
def test_a_window_round_trips_against_read_samples_scaled(rec, a, length, channels, chunk_seconds):
    window = rec.between(a, a + length)
    da = window.to_xarray(chunk_seconds=chunk_seconds)
    want = window.read_samples(scaled=True)
    assert da.shape == want.shape
    np.testing.assert_array_equal(da.values, want)
    if channels is not None:
        picked = da.isel(channel=channels)
        np.testing.assert_array_equal(picked.values, rec.read_samples(a, a + length, channels=channels, scaled=True))
        np.testing.assert_array_equal(picked.channel.values, channels)
    if da.sizes["time"]:
        assert int(da.frame[0]) == a and float(da.time[0]) == a / FPS


def test_a_window_given_in_seconds_lines_up_with_the_whole_recordings_sel(rec):
    whole = rec.to_xarray()
    window = rec.between(0.5 * pq.s, 1.25 * pq.s).to_xarray(chunk_seconds=0.1)
    assert window.attrs["window_frames"] == (12_500, 31_250)
    same = whole.sel(time=slice(float(window.time[0]), float(window.time[-1])))
    xr = pytest.importorskip("xarray")
    xr.testing.assert_identical(same.compute().drop_attrs(), window.compute().drop_attrs())
    # and they align: arithmetic between them keeps exactly the window's frames
    assert int((whole - window).sizes["time"]) == window.sizes["time"]
    assert float(abs(whole - window).max()) == 0.0


def test_nothing_is_read_until_computed(rec):
    lazy = LazySamples(rec)
    da = lazy.dataarray(chunk_seconds=0.25)
    selected = da.sel(time=slice(0.2, 0.9)).isel(channel=[1, 2]).coarsen(time=64, boundary="trim").max()
    assert lazy.reads == 0
    got = selected.compute(scheduler="sync")
    # only the chunks of the selection were read (0.2–0.9 s touches the chunks of 0–0.25, …, 0.75–1 s)
    assert 0 < lazy.reads <= 4
    want = rec.read_samples(5000, 22_501, channels=[1, 2], scaled=True)
    n = want.shape[0] // 64 * 64
    np.testing.assert_array_equal(got.values, want[:n].reshape(-1, 64, 2).max(axis=1))


def test_the_threaded_scheduler_reads_many_chunks_at_once_correctly(rec):
    da = rec.to_xarray(chunk_seconds=0.01)  # 200 chunks, read by 8 threads under the HDF5 lock
    got = da.data.compute(scheduler="threads", num_workers=8)
    np.testing.assert_array_equal(got, rec.read_samples(scaled=True))


def test_a_pickled_array_computes_in_another_process_that_opens_the_file_again(rec, tmp_path):
    da = rec.between(0.3 * pq.s, 0.7 * pq.s).to_xarray(chunk_seconds=0.1)
    blob = tmp_path / "da.pickle"
    blob.write_bytes(pickle.dumps(da))
    out = tmp_path / "values.npy"
    code = textwrap.dedent(f"""
        import pickle, numpy as np
        da = pickle.loads(open({str(blob)!r}, "rb").read())
        np.save({str(out)!r}, da.coarsen(time=10, boundary="trim").mean().compute(scheduler="threads").values)
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    want = rec.read_samples(0.3 * pq.s, 0.7 * pq.s, scaled=True)
    n = want.shape[0] // 10 * 10
    np.testing.assert_allclose(np.load(out), want[:n].reshape(-1, 10, CHANNELS).mean(axis=1), rtol=1e-6)


def test_a_pickled_array_computes_after_the_view_is_closed(recording):
    view = cldata.RecordingView(recording)
    da = view.to_xarray()
    copy = pickle.loads(pickle.dumps(da))
    want = view.read_samples(100, 200, scaled=True)
    view.close()
    np.testing.assert_array_equal(copy[100:200].values, want)
    np.testing.assert_array_equal(da[100:200].values, want)  # the original opens the file again too


def test_the_holoviz_example_operations_work_unchanged(rec):
    da = rec.to_xarray()
    # what the HoloViz large multi-channel timeseries example does with its xarray data
    window = da.sel(time=slice(0.5, 1.0))
    assert float(window.time[0]) == 0.5 and float(window.time[-1]) == 1.0
    peaks = da.coarsen(time=64, boundary="trim").max()
    troughs = da.coarsen(time=64, boundary="trim").min()
    assert peaks.sizes["time"] == da.sizes["time"] // 64
    some = da.isel(channel=[0, 3, 5]).sel(time=slice(0.1, 0.2)).compute()
    raw = rec.read_samples(scaled=True)
    np.testing.assert_array_equal(some.values, raw[2500:5001, [0, 3, 5]])
    n = raw.shape[0] // 64 * 64
    np.testing.assert_array_equal(peaks.compute().values, raw[:n].reshape(-1, 64, CHANNELS).max(axis=1))
    np.testing.assert_array_equal(troughs.values, raw[:n].reshape(-1, 64, CHANNELS).min(axis=1))
    assert float(da.sel(time=1.0, channel=2)) == raw[25_000, 2]
    # the frame coordinate follows selections (its coarsened value is the mean of the bin)
    assert int(window.frame[0]) == 12_500
    np.testing.assert_array_equal(peaks.frame.values[:2], [31.5, 95.5])


def test_an_empty_window_gives_an_empty_array(rec):
    da = rec.between(10 * FPS, 11 * FPS).to_xarray()
    assert da.shape == (0, CHANNELS) and da.compute().values.shape == (0, CHANNELS)


def test_a_store_handle_gives_its_window_with_its_recording_id(recording, tmp_path):
    with cldata.open(tmp_path / "s", mode="a") as store:
        rid = store.add_recording(recording, {"culture": "C1"})
    store = cldata.open(tmp_path / "s")
    try:
        handle = store.between(0.5 * pq.s, 1 * pq.s).recordings[0]
        da = handle.to_xarray(chunk_seconds=0.2)
        assert da.attrs["recording_id"] == rid and da.attrs["window_frames"] == (12_500, 25_000)
        with cldata.RecordingView(recording) as rec:
            np.testing.assert_array_equal(da.values, rec.read_samples(12_500, 25_000, scaled=True))
        whole = store.recordings[0].to_xarray()
        assert whole.sizes["time"] == int(SECONDS * FPS)
        assert float(abs(whole.sel(time=da.time) - da).max()) == 0.0
    finally:
        store.close()


def test_a_recording_of_a_store_export_reads_from_its_group_also_when_pickled(recording, tmp_path):
    with cldata.open(tmp_path / "s", mode="a") as store:
        store.add_recording(recording)
        store.between(0.5 * pq.s, 1 * pq.s).export(tmp_path / "export.h5", progress=False)
    with cldata.RecordingView(recording) as rec:
        want = rec.read_samples(12_500, 25_000, scaled=True)
    exported = cldata.open(tmp_path / "export.h5")
    try:
        da = exported.recordings[0].to_xarray(chunk_seconds=0.1)
        assert da.attrs["source"].endswith(":/recordings/" + exported.recordings[0].id)
        np.testing.assert_array_equal(da.values, want)
        # a copy opens the export again, at the recording's group
        np.testing.assert_array_equal(pickle.loads(pickle.dumps(da)).values, want)
    finally:
        exported.close()


def test_a_neo_recording_in_a_store_is_refused_with_the_way_to_its_signals(tmp_path):
    neo = pytest.importorskip("neo")
    seg = neo.Segment()
    seg.analogsignals.append(neo.AnalogSignal(np.zeros((100, 2), dtype=np.float32), units="uV",
                                              sampling_rate=1000 * pq.Hz))
    block = neo.Block()
    block.segments.append(seg)
    with cldata.open(tmp_path / "s", mode="a") as store:
        store.add_recording(block)
    store = cldata.open(tmp_path / "s")
    try:
        with pytest.raises(UnsupportedValueError, match="neo recording.*segment"):
            store.recordings[0].to_xarray()
    finally:
        store.close()


def test_a_recording_without_samples_is_refused_saying_so(tmp_path):
    path = cldata.simulate(tmp_path / "nosamples.h5", seconds=0.5, samples=False)
    with cldata.RecordingView(path) as rec, pytest.raises(RecordingFileError, match="has no samples"):
        rec.to_xarray()


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), "1s"])
def test_a_chunk_length_that_is_no_positive_number_is_refused(rec, bad):
    with pytest.raises(ParameterError, match="chunk_seconds"):
        rec.to_xarray(chunk_seconds=bad)


def test_without_xarray_the_error_says_which_extra_to_install(recording):
    code = textwrap.dedent(f"""
        import sys
        sys.modules["xarray"] = None  # as if xarray were not installed
        import cldata
        try:
            cldata.RecordingView({str(recording)!r}).to_xarray()
        except ImportError as exc:
            print(exc)
    """)
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=120)
    assert "to_xarray() needs xarray and dask: pip install 'cldata[xarray]'" in done.stdout


# -- the time index: frame times without an array ---------------------------------------------------

def _pandas_twin(da):
    """The same array with its times in an ordinary pandas index (what the index must behave like)."""
    return da.drop_indexes("time").drop_vars("time").assign_coords(time=np.asarray(da.time.values))


@settings(max_examples=40, deadline=None)
@given(a=st.floats(-0.5, 2.5, allow_nan=False), b=st.floats(-0.5, 2.5, allow_nan=False),
       on_frames=st.booleans())
def test_time_slices_select_what_a_pandas_index_selects(rec, a, b, on_frames):
    da = rec.to_xarray()
    if on_frames:  # bounds exactly on frame times, where both ends count
        a, b = round(a * 25_000) / 25_000, round(b * 25_000) / 25_000
    twin = _pandas_twin(da)
    got = da.sel(time=slice(a, b))
    want = twin.sel(time=slice(a, b))
    np.testing.assert_array_equal(got.time.values, want.time.values)
    np.testing.assert_array_equal(got.frame.values, want.frame.values)


def test_time_labels_are_frame_times_exactly_or_a_key_error(rec):
    da = rec.to_xarray()
    assert int(da.sel(time=1.0).frame) == 25_000
    assert da.sel(time=[0.5, 1.0, 0.00004]).frame.values.tolist() == [12_500, 25_000, 1]
    with pytest.raises(KeyError, match="not the time of a frame"):
        da.sel(time=1.00001)
    with pytest.raises(KeyError):
        da.sel(time=5.0)
    assert int(da.sel(time=1.00001, method="nearest").frame) == 25_000


def test_an_hour_of_frame_times_costs_no_array():
    from cldata.format.xarray_time_index import FrameTimeIndex

    index = FrameTimeIndex.of_frames(0, 90_000_000, 25_000.0)  # an hour: 720 MB as a pandas index
    xr = pytest.importorskip("xarray")
    coords = xr.Coordinates.from_xindex(index)
    picked = index.sel({"time": slice(1800.0, 1800.001)}).dim_indexers["time"]
    assert picked == slice(45_000_000, 45_000_026)
    assert float(coords["time"][45_000_000]) == 1800.0
    assert index.isel({"time": picked}).transform.size == 26


def test_windows_align_inner_and_outer(rec):
    xr = pytest.importorskip("xarray")
    a = rec.between(0, 30_000).to_xarray()
    b = rec.between(20_000, 50_000).to_xarray()
    inner = a + b
    assert (int(inner.frame[0]), int(inner.frame[-1])) == (20_000, 29_999)
    outer_a, outer_b = xr.align(a, b, join="outer")
    assert outer_a.sizes["time"] == 50_000 and bool(outer_a.isel(time=-1).isnull().all())
