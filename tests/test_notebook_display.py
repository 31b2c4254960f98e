"""What a notebook shows: plain reprs, HTML tables, DataFrames, plots, and quiet progress bars.

Each object a user looks at (stores and views, recording handles, RecordingView, data
streams, results, envelopes, spike activity) has a repr a person reads — counts with
agreeing nouns, windows in seconds, no ``np.int64(...)`` — and a ``_repr_html_`` table;
results show their value; stores give DataFrames; results, envelopes and spike activity
plot themselves on matplotlib Axes (Agg backend here); progress bars never print when
standard error is not a terminal, nor with ``progress=False`` / ``--quiet``.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import matplotlib
import neo
import numpy as np
import pytest
import quantities as pq

import cldata
from cldata.core.display import plural, progress_bar, progress_scope, short, window_text
from cldata.errors import UnsupportedValueError
from cldata.model.results import Data, PerChannelValue, SignalList, SingleValue, SpikeTrainList, TimeSeries
from conftest import write_small_recording

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

NOISE = ("np.int64", "np.float64", "np.str_", "array(", "window=(")


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    """A store of two recordings (0.5 s each, written by cldata) and three results of the first."""
    first, second = tmp_path / "a.h5", tmp_path / "b.h5"
    write_small_recording(first, seed=1)
    write_small_recording(second, seed=2, n_ball=50)
    root = tmp_path / "store"
    with cldata.open(root, mode="w") as store:
        rid = store.add_recording(first, {"culture": "C1", "session": {"day": 2, "slot": "<b>am</b>"}})
        store.add_recording(second, {"culture": "C2", "session": {"day": 3, "slot": "pm"}})
        store.add_analysis_result(SingleValue("mean_rate", 5.07 * pq.Hz, sources=[rid],
                                              parameters={"window_s": np.float64(1.0)}, tags=["final"]))
        store.add_analysis_result(PerChannelValue("firing_rate", np.arange(4.0) * pq.Hz, sources=[rid]))
        store.add_analysis_result(TimeSeries("psth", times=np.arange(3) * pq.ms, values=[0, 2, 1] * pq.Hz,
                                             sources=[rid]))
    return root


@pytest.fixture
def store(store_dir: Path):
    with cldata.open(store_dir) as s:
        yield s


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# -- plain reprs -----------------------------------------------------------------------------


def test_display_helpers_agree_in_number_and_speak_seconds():
    assert [plural(n, "recording") for n in (0, 1, 2)] == ["0 recordings", "1 recording", "2 recordings"]
    assert plural(1, "entry", "entries") == "1 entry" and plural(1200, "entry", "entries") == "1,200 entries"
    assert window_text(None) == "whole recording"
    assert window_text((0, 1 * pq.s)) == "0–1 s"
    assert window_text((250 * pq.ms, None)) == "0.25 s–end"
    assert window_text((12_500, 25_000), 25_000) == "0.5–1 s"
    assert window_text((10, 20)) == "frames 10–20"  # frames and no frame rate to turn them into seconds
    assert short(np.int64(64)) == "64" and short(np.float64(0.5)) == "0.5" and short(2 * pq.ms) == "2 ms"
    assert short({"n": np.int64(3), "xs": [np.float32(0.5)]}) == "{'n': 3, 'xs': [0.5]}"


def test_store_and_view_reprs_count_in_words_and_show_windows_in_seconds(store):
    assert repr(store) == "<DataStore: 2 recordings, 3 analysis results>"
    one = store.filter(culture="C1").filter_results(identifier="mean_rate")
    assert repr(one) == "<DataStoreView: 1 recording, 1 analysis result>"
    windowed = store.between(0, 0.25 * pq.s)
    assert repr(windowed) == "<DataStoreView: 2 recordings, 3 analysis results, window 0–0.25 s>"
    for text in (repr(store), repr(windowed), store.describe(), windowed.describe()):
        assert not any(noise in text for noise in NOISE), text


def test_a_windowed_recording_shows_its_window_not_the_full_duration(store):
    whole = store.recordings[0]
    assert repr(whole).endswith(": 0.5 s, 64 channels, 32 spikes, 3 stims, streams ['ball_position', 'score']>")
    part = store.between(0.1 * pq.s, 0.3 * pq.s).recordings[0]
    assert ": 0.1–0.3 s of 0.5 s, 64 channels" in repr(part)
    counts = part.counts()
    with cldata.RecordingView(whole.path) as rec:
        expected = len(rec.read_spikes(0.1 * pq.s, 0.3 * pq.s, waveforms=False))
        assert counts["spikes"] == expected
        assert counts["duration_s"] == pytest.approx(0.2)
        assert counts["streams"]["ball_position"] == len(rec.data_streams["ball_position"].between(0.1 * pq.s, 0.3 * pq.s))
    table = store.between(0.1 * pq.s, 0.3 * pq.s)._repr_html_()
    assert ">window</th>" in table and "0.1–0.3 s of 0.5 s" in table and ">0.5 s<" not in table
    assert ">duration</th>" in store._repr_html_() and ">0.5 s<" in store._repr_html_()


def test_recording_view_and_streams_reprs(small_recording):
    path, written = small_recording
    with cldata.RecordingView(path) as rec:
        assert repr(rec) == (f"<RecordingView {str(path)!r}: 0.5 s, 64 channels, 32 spikes, 3 stims, "
                             "streams ['ball_position', 'score']>")
        part = rec.between(0, 0.25 * pq.s)
        n = int((written["spike_ts"] < 6250).sum())
        assert f": 0–0.25 s of 0.5 s, 64 channels, {plural(n, 'spike')}, " in repr(part)
        score = part.data_streams["score"]
        assert repr(score) == "<DataStreamView 'score': 4 entries, window 0–0.25 s>"
        assert repr(rec.data_streams["score"].between(1, 2)) == "<DataStreamView 'score': 1 entry, window 4e-05–8e-05 s>"
        assert "ball_position: 200 entries" in repr(rec.data_streams)
        assert "np.int64" not in repr(rec.attributes) and "channel_count=64" in repr(rec.attributes)
        html_stream = rec.data_streams["ball_position"]._repr_html_()
        assert "… and 190 more" in html_stream and ">time (s)</th>" in html_stream
        assert "&#x27;hit&#x27;: True" in html_stream  # values shown, escaped
    assert repr(rec) == f"<RecordingView {str(path)!r} (closed)>"


def test_every_object_a_notebook_shows_has_an_escaped_html_table(store):
    rec = store.recordings[0]
    objects = [store, store.between(0, 0.1 * pq.s), rec, rec.view(), rec.view().data_streams,
               rec.view().data_streams["score"], *store.analysis_results, rec.overview(width=50),
               rec.spike_activity(width=10)]
    for obj in objects:
        table = obj._repr_html_()
        assert table.startswith("<div class='cldata'>") and "<table>" in table, type(obj)
        assert "<b>am</b>" not in table  # a parameter's markup is shown, not obeyed
    assert "&lt;b&gt;am&lt;/b&gt;" in rec._repr_html_()


# -- results ------------------------------------------------------------------------------


def test_results_show_their_value_without_reading_the_payload(store):
    mean, per_channel, psth = store.analysis_results
    assert repr(mean) == f"<SingleValue mean_rate = 5.07 Hz, window_s=1, from {mean.sources[0]}, tags ['final']>"
    assert repr(per_channel).startswith("<PerChannelValue firing_rate: 4 channels, Hz, from ")
    assert repr(psth).startswith("<TimeSeries psth: 3 points, from ")
    assert not (mean.loaded or per_channel.loaded or psth.loaded)  # the catalog's summary said it
    assert repr(SingleValue("n", 3)) == "<SingleValue n = 3>"
    assert repr(Data("bursts", {"sizes": [np.int64(40)]})) == "<Data bursts = {'sizes': [40]}>"


def test_result_fields_are_attributes_that_tab_completion_finds(store):
    mean, per_channel, psth = store.analysis_results
    assert "value" in dir(mean) and {"values", "channels"} <= set(dir(per_channel))
    assert {"times", "values"} <= set(dir(psth))
    assert isinstance(type(mean).value, property) and type(mean).value.__doc__
    assert float(mean.value) == pytest.approx(5.07) and mean.loaded
    assert list(per_channel.channels) == [0, 1, 2, 3]
    with pytest.raises(AttributeError):
        mean.values  # noqa: B018 - a SingleValue has one value

    class Interval(Data):  # a user's kind (not registered: the test leaves no trace in the registry)
        fields = ("value", "low", "high")

        def __init__(self, identifier, value, low, high, **kw):
            super(Data, self).__init__(identifier, value=value, low=low, high=high, **kw)

    interval = Interval("ci", 1.0, 0.5, 1.5)
    assert {"low", "high"} <= set(dir(interval)) and interval.high == 1.5


# -- DataFrames ---------------------------------------------------------------------------


def test_recordings_frame_flattens_parameters_and_counts_within_the_window(store):
    frame = store.recordings_frame()
    assert list(frame["id"]) == store.recording_ids
    assert list(frame["culture"]) == ["C1", "C2"] and list(frame["session.day"]) == [2, 3]
    assert list(frame["experiment"]) == ["pong", "pong"]  # written into the file by the experimenter
    assert "created_utc" not in frame and "file_format.version" not in frame  # the CL writer's own
    assert list(frame["duration_s"]) == [0.5, 0.5] and list(frame["spikes"]) == [32, 32]
    assert list(frame["entries.ball_position"]) == [200, 50] and list(frame["channels"]) == [64, 64]
    part = store.between(0, 0.25 * pq.s).recordings_frame()
    assert list(part["duration_s"]) == [0.25, 0.25]
    assert list(part["spikes"]) == [rec.counts()["spikes"] for rec in store.between(0, 0.25 * pq.s).recordings]
    assert list(part["entries.score"]) == [4, 4]
    assert list(store.filter(culture="nobody").recordings_frame().columns) == ["id"]


def test_results_frame_has_identity_parameters_source_and_scalar_values(store):
    frame = store.results_frame()
    assert list(frame["identifier"]) == ["mean_rate", "firing_rate", "psth"]
    assert list(frame["kind"]) == ["SingleValue", "PerChannelValue", "TimeSeries"]
    assert set(frame["source"]) == {store.recording_ids[0]}
    assert frame["value"][0] == pytest.approx(5.07) and frame["units"][0] == "Hz"
    assert frame["value"][1:].isna().all()
    assert frame["window_s"][0] == 1.0 and frame["tags"][0] == "final"
    assert list(store.filter_results(identifier="nothing").results_frame().columns) == [
        "id", "identifier", "kind", "source", "tags", "value", "units"]


def test_frames_without_pandas_name_the_extra(store, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError
    for method in (store.recordings_frame, store.results_frame):
        with pytest.raises(ImportError, match=r"cldata\[pandas\]"):
            method()


# -- plots --------------------------------------------------------------------------------


def test_result_kinds_plot_with_units_on_their_axes(store):
    mean, per_channel, psth = store.analysis_results
    fig, axs = plt.subplots(1, 4)
    assert mean.plot(axs[0]) is axs[0]
    assert axs[0].get_ylabel() == "mean_rate (Hz)"
    assert [p.get_height() for p in axs[0].patches] == pytest.approx([5.07])
    per_channel.plot(axs[1])
    assert (axs[1].get_xlabel(), axs[1].get_ylabel()) == ("channel", "firing_rate (Hz)")
    assert [p.get_height() for p in axs[1].patches] == pytest.approx([0, 1, 2, 3])
    psth.plot(axs[2])
    assert (axs[2].get_xlabel(), axs[2].get_ylabel()) == ("time (ms)", "psth (Hz)")
    line = axs[2].get_lines()[0]
    assert list(line.get_xdata()) == [0, 1, 2] and list(line.get_ydata()) == [0, 2, 1]
    psth.plot(axs[3], style="bar")
    assert [p.get_height() for p in axs[3].patches] == [0, 2, 1]
    ax = plt.figure().gca()
    assert PerChannelValue("ratio", np.ones(2) * pq.dimensionless).plot() is ax  # the current Axes
    assert ax.get_ylabel() == "ratio"  # dimensionless: no units shown


def test_signal_and_spike_train_lists_plot(tmp_path):
    sig = neo.AnalogSignal(np.arange(6.0).reshape(3, 2), units="uV", sampling_rate=1 * pq.kHz, name="lfp")
    ax = SignalList("lfp", [sig]).plot(plt.figure().gca())
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("time (s)", "lfp (uV)") and len(ax.get_lines()) == 2
    trains = [neo.SpikeTrain([1, 2] * pq.ms, t_stop=5 * pq.ms), neo.SpikeTrain([3] * pq.ms, t_stop=5 * pq.ms)]
    ax = SpikeTrainList("units", trains).plot(plt.figure().gca())
    assert ax.get_xlabel() == "time (ms)" and len(ax.collections) == 2
    with pytest.raises(UnsupportedValueError, match="no plot of their own"):
        Data("table", {"a": 1}).plot()


def test_envelope_and_spike_activity_plot_what_they_hold(store):
    rec = store.recordings[0]
    env = rec.overview(channels=[0, 5], width=40)
    ax = env.plot(plt.figure().gca())
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("time (s)", "voltage (µV)")
    bands = ax.collections
    assert len(bands) == 2 and [t.get_text() for t in ax.get_legend().get_texts()] == ["channel 0", "channel 5"]
    ys = np.concatenate([p.vertices[:, 1] for p in bands[0].get_paths()])
    assert ys.min() == pytest.approx(env.minimum[:, 0].min()) and ys.max() == pytest.approx(env.maximum[:, 0].max())
    raw = rec.overview(channels=[1], start=0, stop=20, width=100)  # 20 frames: the samples themselves
    ax = raw.plot(plt.figure().gca())
    assert list(ax.get_lines()[0].get_ydata()) == pytest.approx(list(raw.minimum[:, 0]))

    act = rec.spike_activity(width=10)
    ax = act.plot(plt.figure().gca())
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("time (s)", "spike rate, all channels (Hz)")
    (stairs,) = ax.patches
    assert stairs.get_data().values == pytest.approx(act.rates.magnitude.sum(axis=1))
    assert stairs.get_data().edges == pytest.approx(act.edges / act.frames_per_second)
    ax = act.plot(plt.figure().gca(), style="heatmap")
    assert ax.get_ylabel() == "channel" and ax.collections[0].get_array().sum() == 32
    assert "32 spikes in " in repr(act) and "0–0.5 s" in repr(act) and "0–0.5 s" in repr(env)


def test_plots_without_matplotlib_name_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"cldata\[plot\]"):
        SingleValue("x", 1.0).plot()


# -- progress bars ------------------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bars_only_for_a_terminal_and_only_when_wanted(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal
    assert type(progress_bar(total=3)).__name__ == "_NoBar"
    monkeypatch.setattr(sys, "stderr", _Terminal())
    bar = progress_bar(total=3)
    assert type(bar).__name__ == "tqdm"
    bar.close()
    assert type(progress_bar(total=3, enabled=False)).__name__ == "_NoBar"
    with progress_scope(False):
        assert type(progress_bar(total=3)).__name__ == "_NoBar"
        with progress_scope(True):  # an inner scope cannot turn bars back on
            assert type(progress_bar(total=3)).__name__ == "_NoBar"
    assert list(progress_bar([1, 2], enabled=False)) == [1, 2]


def test_library_calls_print_nothing_with_progress_false(tmp_path, monkeypatch):
    path = tmp_path / "a.h5"
    write_small_recording(path)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with cldata.open(tmp_path / "store", mode="w") as store:
        store.add_recording(path, progress=False)
    with cldata.open(tmp_path / "store") as store:
        store.export(tmp_path / "out.h5", progress=False)
    from cldata.app.check import check_path

    assert check_path(tmp_path / "store", repair=True, progress=False).healthy
    assert terminal.getvalue() == ""


def test_commands_print_no_progress_when_stderr_is_not_a_terminal(tmp_path):
    files = []
    for i in range(2):
        files.append(tmp_path / f"r{i}.h5")
        write_small_recording(files[-1], seed=i)
    store = tmp_path / "store"

    def run(*args: str) -> subprocess.CompletedProcess:
        out = subprocess.run([sys.executable, "-m", "cldata.app.cli", *args], capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr
        return out

    assert run("import", str(store), *map(str, files), "--create").stderr == ""  # a pipe: no bar
    assert run("import", str(store), str(files[0]), "--replace", "--quiet").stderr == ""
    assert run("export", str(store), str(tmp_path / "x.h5"), "--quiet").stderr == ""
    assert run("check", str(store), "--repair", "--quiet").stderr == ""


def test_a_batch_run_prints_no_progress_off_a_terminal(capsys):
    """`cldata run`'s bar printed into pipes and logs, counting 'units' (a neuron, to this audience)."""
    from cldata.batch.runner import _progress

    bar = _progress(12, True)
    bar.update(12)
    bar.close()
    assert capsys.readouterr().err == ""
