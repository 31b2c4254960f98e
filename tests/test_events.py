"""Windowed reads of spike and stim tables, sorted or not, cached or probed on disk."""

from __future__ import annotations

import numpy as np
import pytest
import tables

import cldata
from cldata.format import events
from cldata.format.layout import SPIKE_DTYPE


def _spike_file(path, timestamps):
    with tables.open_file(str(path), "w") as f:
        f.root._v_attrs["frames_per_second"] = np.int64(25_000)
        f.root._v_attrs["channel_count"] = np.int64(64)
        rows = np.zeros(len(timestamps), dtype=SPIKE_DTYPE)
        rows["timestamp"] = timestamps
        rows["channel"] = np.arange(len(timestamps)) % 64
        rows["samples"] = np.asarray(timestamps)[:, None]
        f.create_table("/", "spikes", obj=rows)
    return path


@pytest.mark.parametrize("cache_rows", [4_000_000, 7])  # cached column, and probing on disk in chunks
@pytest.mark.parametrize("shuffle", [False, True])
def test_windows_match_a_brute_force_filter(tmp_path, monkeypatch, cache_rows, shuffle):
    monkeypatch.setattr(events, "_CACHE_ROWS", cache_rows)
    rng = np.random.default_rng(1)
    ts = np.sort(rng.integers(0, 1000, 200))
    if shuffle:
        rng.shuffle(ts)
    path = _spike_file(tmp_path / "s.h5", ts)
    with cldata.RecordingView(path) as rec:
        for a, b in [(None, None), (0, 10), (100, 500), (999, None), (None, 3), (500, 500), (2000, 3000)]:
            got = rec.read_spikes(a, b)
            mask = np.ones(ts.size, bool)
            if a is not None:
                mask &= ts >= a
            if b is not None:
                mask &= ts < b
            assert sorted(got["timestamp"].tolist()) == sorted(ts[mask].tolist())
            np.testing.assert_array_equal(got["samples"][:, 0], got["timestamp"])
            no_wf = rec.read_spikes(a, b, waveforms=False)
            assert no_wf.dtype.names == ("timestamp", "channel")
            np.testing.assert_array_equal(no_wf["timestamp"], got["timestamp"])
        only = rec.read_spikes(channels=[0, 1])
        assert set(only["channel"].tolist()) <= {0, 1} and len(only) == np.count_nonzero(np.arange(ts.size) % 64 < 2)


def test_waveforms_of_another_length_are_read_as_stored_with_a_warning(tmp_path):
    """Issue 11 (tolerant reading): refused before; the CL reader returns such rows as they are."""
    path = tmp_path / "w.h5"
    with tables.open_file(str(path), "w") as f:
        f.root._v_attrs["frames_per_second"] = np.int64(25_000)
        f.root._v_attrs["channel_count"] = np.int64(64)
        table = f.create_table("/", "spikes", {"timestamp": tables.Int64Col(), "channel": tables.UInt8Col(),
                                              "samples": tables.Float32Col(shape=(50,))})
        row = np.zeros(1, table.dtype)
        row["timestamp"], row["channel"], row["samples"] = 3, 1, np.arange(50)
        table.append(row)
    with pytest.warns(cldata.errors.UntidyRecordingWarning, match="waveforms of 50 float32 samples, not 75"):
        with cldata.RecordingView(path) as rec:
            np.testing.assert_array_equal(rec.read_spikes()["samples"], [np.arange(50)])
    with pytest.raises(cldata.errors.CorruptRecordingError, match="75"), tables.open_file(str(path)) as f:
        events.EventTable(f.root.spikes, str(path), ("timestamp", "channel", "samples"))
