"""A metric across recordings: metric_frame / plot_metric on a store view, from the catalog alone."""

from __future__ import annotations

import math

import matplotlib
import pytest
import quantities as pq

import cldata
from cldata.errors import ParameterError, UnknownNameError

matplotlib.use("Agg")
pd = pytest.importorskip("pandas", reason="metric_frame needs pandas (the test extra has it)")


@pytest.fixture
def store(tmp_path):
    store = cldata.open(tmp_path / "s", mode="w")
    for culture in ("A", "B"):
        for day in (1, 2, 3):
            path = cldata.simulate(tmp_path / f"{culture}{day}.h5", seconds=0.2, seed=day)
            rid = store.add_recording(path, {"culture": culture, "session": {"day": day}}, overview=False)
            for bin_ms in (5, 10):
                value = {"A": 1.0, "B": 2.0}[culture] * day + bin_ms / 100
                store.add_analysis_result(cldata.SingleValue(
                    "rate", value * pq.Hz, parameters={"analysis": "Rate", "bin_ms": bin_ms, "culture": "x"},
                    sources=[rid]))
    store.add_analysis_result(cldata.SingleValue("other", 1.0))
    store.commit()
    yield store
    store.close()


def test_one_row_per_result_with_recording_and_analysis_parameters(store):
    frame = store.metric_frame("rate")
    assert len(frame) == 12
    assert list(frame.columns[:4]) == ["result", "recording", "analysis", "identifier"]
    assert frame.columns[-1] == "rate"
    assert {"culture", "session.day", "bin_ms", "result.culture"} <= set(frame.columns)
    assert set(frame["result.culture"]) == {"x"}                       # a clash is prefixed, nothing lost
    table = frame.pivot_table(index="culture", columns="session.day", values="rate", aggfunc="mean")
    assert table.loc["B", 3] == pytest.approx(6.075)
    assert store.filter(bin_ms=5).metric_frame("rate").shape[0] == 6     # a query narrows it
    assert "rate" in store.metric_names() and "other" in store.metric_names()


def test_bad_names_say_what_there_is(store):
    with pytest.raises(ParameterError, match="at least one metric"):
        store.metric_frame()
    with pytest.raises(UnknownNameError, match="the metrics here are: other, rate"):
        store.metric_frame("branching_ratio")
    with pytest.raises(UnknownNameError, match="x='day' is not a parameter"):
        store.plot_metric("rate", x="day")


def test_plot_metric_draws_a_line_of_means_per_group(store):
    ax = store.plot_metric("rate", x="session.day", hue="culture")
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["culture A", "culture B"]
    assert list(lines[1].get_ydata()) == pytest.approx([2.075, 4.075, 6.075])
    assert ax.get_xlabel() == "session.day" and ax.get_ylabel() == "rate"
    assert len(ax.collections) == 2 and math.isclose(ax.collections[0].get_offsets().shape[0], 6)
