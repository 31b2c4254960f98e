"""The CL fixture reads exactly as the official reader reads it, and cldata's files read back the same."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import quantities as pq
import tables

import cldata
from conftest import to_expected_json, write_small_recording


def describe(rec: cldata.RecordingView) -> dict:
    """The recording in the notation of the official reader's expected.json."""
    spikes = rec.spikes[:]
    stims = rec.stims[:]
    samples = rec.samples[:]
    return {
        "attributes": to_expected_json(rec.attributes.to_dict()),
        "spikes": {
            "n": len(spikes),
            "timestamps_sha1": hashlib.sha1(spikes["timestamp"].tobytes()).hexdigest(),
            "channels_sha1": hashlib.sha1(spikes["channel"].tobytes()).hexdigest(),
            "waveform_sum": float(spikes["samples"].astype(np.float64).sum()),
        },
        "stims": {"timestamps": stims["timestamp"].tolist(), "channels": stims["channel"].tolist()},
        "samples": {"dtype": str(samples.dtype), "shape": list(samples.shape), "sha1": hashlib.sha1(samples.tobytes()).hexdigest()},
        "data_streams": {
            name: {
                "attributes": to_expected_json(stream.attributes.to_dict()),
                "len": len(stream),
                "items": [[ts, to_expected_json(v)] for ts, v in stream.items()],
            }
            for name, stream in rec.data_streams.items()
        },
    }


def test_fixture_reads_exactly_as_the_official_reader(cl_fixture, cl_expected):
    with cldata.RecordingView(cl_fixture) as rec:
        got = describe(rec)
    assert got["attributes"] == cl_expected["attributes"]
    assert got["spikes"]["n"] == cl_expected["spikes"]["n"]
    assert got["spikes"]["timestamps_sha1"] == cl_expected["spikes"]["timestamps_sha1"]
    assert got["spikes"]["channels_sha1"] == cl_expected["spikes"]["channels_sha1"]
    assert got["spikes"]["waveform_sum"] == pytest.approx(cl_expected["spikes"]["waveform_sum"], rel=1e-12)
    assert got["stims"] == cl_expected["stims"]
    assert got["samples"] == cl_expected["samples"]
    assert got["data_streams"] == cl_expected["data_streams"]


def test_cl_stream_surface_on_the_fixture(cl_fixture, cl_expected):
    with cldata.RecordingView(cl_fixture) as rec:
        ball = rec.data_streams["ball_position"]
        expected = cl_expected["data_streams"]["ball_position"]["items"]
        assert rec.data_streams.ball_position.name == "ball_position"
        assert set(rec.data_streams.keys()) == {"ball_position", "score"}
        assert "score" in rec.data_streams and len(rec.data_streams) == 2
        assert ball.attributes.name == "ball_position"
        assert ball.attributes.application == {"units": "px", "arena": [640, 480]}
        assert len(ball) == 200 == len(ball.keys()) == len(ball.values()) == len(ball.items())
        assert list(ball.keys()) == [ts for ts, _ in expected]
        assert list(ball.values())[:3] == [v for _, v in expected[:3]]
        # stop is exclusive; None leaves a side open
        assert list(ball.keys_for_range(8, 14)) == [8, 11]
        assert list(ball.keys_for_range(None, 9)) == [5, 8]
        assert len(ball.keys_for_range(597, None)) == 2
        assert list(ball.items_for_range(5, 9)) == [(5, expected[0][1]), (8, expected[1][1])]
        assert list(ball.values_for_range(6, 8)) == []
        assert list(ball[5:11]) == [expected[0][1], expected[1][1]]
        assert ball[8] == expected[1][1]
        with pytest.raises(KeyError):
            ball[7]
        with pytest.raises(KeyError):
            ball[10**12]
        with pytest.raises(TypeError):
            ball["5"]
        np.testing.assert_array_equal(ball.timestamps, [ts for ts, _ in expected])


def test_recording_level_conveniences(cl_fixture):
    with cldata.RecordingView(cl_fixture) as rec:
        assert rec.duration_seconds == 0.5 and rec.duration_frames == 12_500
        assert rec.duration == 0.5 * pq.s
        assert rec.sampling_rate == 25_000 * pq.Hz
        np.testing.assert_array_equal(rec.channels, np.arange(64))
        assert rec.uV_per_sample_unit == 0.195
        assert "ball_position" in repr(rec)


def test_bulk_decoding_and_columns(cl_fixture, cl_expected):
    expected = cl_expected["data_streams"]["ball_position"]["items"]
    with cldata.RecordingView(cl_fixture) as rec:
        ball = rec.data_streams["ball_position"]
        ts, values = ball.read(0, 100)
        assert ts.tolist() == [t for t, _ in expected if t < 100]
        assert values == [v for t, v in expected if t < 100]
        cols = ball.to_columns()
        assert set(cols) == {"timestamp", "x", "y", "hit"}
        assert cols["x"].dtype == np.float64 and cols["hit"].dtype == np.bool_
        np.testing.assert_array_equal(cols["y"], [v["y"] for _, v in expected])
        df = ball.to_dataframe(0, 0.001 * pq.s)  # the first 25 frames
        assert df.index.name == "timestamp" and list(df.index) == [t for t, _ in expected if t < 25]
        with pytest.raises(cldata.errors.InvalidDataError, match="not a dict"):
            rec.data_streams["score"].to_columns()


def test_windowed_views_of_streams_and_events(cl_fixture):
    with cldata.RecordingView(cl_fixture) as rec:
        part = rec.between(100, 1000)
        ball = part.data_streams["ball_position"]
        assert ball.timestamps.min() >= 100 and ball.timestamps.max() < 1000
        assert len(ball) == len(rec.data_streams["ball_position"].keys_for_range(100, 1000))
        # a range asked of a windowed view stays inside the window
        assert list(ball.keys_for_range(0, 104)) == [101]
        with pytest.raises(KeyError):
            ball[5]
        spikes = part.read_spikes()
        assert np.all((spikes["timestamp"] >= 100) & (spikes["timestamp"] < 1000))
        all_spikes = rec.read_spikes(waveforms=False)
        assert len(spikes) == np.count_nonzero((all_spikes["timestamp"] >= 100) & (all_spikes["timestamp"] < 1000))
        assert part.read_stims().size == 0 and rec.read_stims(0, 3).size == 3
        assert part.read_samples().shape == (900, 64)
        np.testing.assert_array_equal(part.read_samples(channels=[3]), rec.samples[100:1000, [3]])
        np.testing.assert_allclose(rec.read_samples(0, 10, scaled=True), rec.samples[0:10] * 0.195, rtol=1e-6)
        secs = rec.between(0.004 * pq.s, 0.008 * pq.s)  # frames 100..200
        assert secs.window == (100, 200)


def test_cldata_files_read_back_identically_through_cldata_and_plain_pytables(small_recording):
    path, written = small_recording
    with cldata.RecordingView(path) as rec:
        ball = rec.data_streams["ball_position"]
        assert list(ball.items()) == written["ball"]
        score = list(rec.data_streams["score"].items())
        assert [t for t, _ in score] == [t for t, _ in written["score"]]
        np.testing.assert_array_equal(score[1][1], written["score"][1][1])
        assert score[1][1].dtype == np.uint64
        assert rec.data_streams["score"].attributes.application == {"score": 3, "player": "culture-7", "final": True}
        assert rec.attributes.application == {"experiment": "pong", "culture": "C7", "session": 3}
        assert rec.duration_frames == 12_500
        np.testing.assert_array_equal(rec.read_spikes()["samples"], written["waveforms"])
    # plain PyTables, the way the CL reader reads: row by row through msgpack_numpy
    import msgpack
    import msgpack_numpy

    with tables.open_file(str(path)) as f:
        assert f.root._v_attrs.frames_per_second == 25_000
        assert f.root._v_attrs.file_format == {"version": "SDK", "stim_and_spike_timestamps_relative_to_start": True}
        idx = f.root.data_stream.ball_position.index
        data = f.root.data_stream.ball_position.data
        back = [
            (int(r["timestamp"]), msgpack.unpackb(data[r["start_index"] : r["end_index"]], object_hook=msgpack_numpy.decode, raw=False))
            for r in idx
        ]
        assert back == written["ball"]
        assert f.root.spikes.colindexes["timestamp"] is not None
        np.testing.assert_array_equal(f.root.samples[:], written["samples"])
        np.testing.assert_array_equal(f.root.stims.col("channel"), written["stim_ch"])


def test_a_recording_without_samples(tmp_path):
    path = tmp_path / "nosamples.h5"
    write_small_recording(path, samples=False)
    with cldata.RecordingView(path) as rec:
        assert rec.samples is None
        assert rec.read_samples(0, 100).shape == (0, 64)
        assert rec.duration_frames == max(12_500 if False else 0, int(rec.read_spikes()["timestamp"].max()) + 1, 5 + 3 * 199 + 1)
