"""The demo speaks its audience's words and its figure reads without the code."""

from __future__ import annotations

import pytest

import cldata
from cldata.app.demo import COLUMN_LEGEND, build_figure, run_demo, summary_table, toolkit_table


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    assert run_demo(root, recordings=2, duration_s=1.0, executor="serial", workers=1, figure=False,
                    progress=False) == 0
    return root / "store"


def test_the_run_reports_analyses_not_units(demo_store, capsys):
    run_demo(demo_store.parent, recordings=2, duration_s=1.0, executor="serial", workers=1, figure=False,
             progress=False)
    out = capsys.readouterr().out
    # to neuroscientists a "unit" is a neuron: the runner counts analyses (analysis x parameters x recording)
    assert "computed 0 analyses" in out and " units" not in out


def test_every_column_of_the_summary_has_a_legend(demo_store):
    with cldata.open(demo_store) as store:
        table = summary_table(store)
    header = table.splitlines()[0]
    legend = dict(COLUMN_LEGEND)
    for column in ("recording", "spikes", "rate Hz", "CV ISI", "bursts/s", "PSTH peak", "points"):
        assert column in header and column in legend
        assert f"  {column} " in table.split("\n\n", 1)[1]
    assert "culture, session" in legend and "score" in legend["points"]  # points: entries of the score stream


def test_the_figure_has_a_title_legends_naming_culture_and_session_and_boxes(demo_store):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with cldata.open(demo_store) as store:
        fig = build_figure(store)
    try:
        assert "simulated CL1 recordings" in fig._suptitle.get_text()
        raster, rates, psth, branching = fig.axes
        for ax in (raster, rates, psth, branching):
            assert ax.get_title() and ax.get_ylabel() and ax.get_legend() is not None
            assert min(t.get_fontsize() for t in ax.get_xticklabels() + ax.get_yticklabels()) >= 10
        assert "culture C1, session 1" in raster.get_title()
        assert {t.get_text() for t in rates.get_legend().get_texts()} == {"culture C1", "culture C2"}
        assert [t.get_text() for t in rates.get_xticklabels()] == ["C1\nsession 1", "C2\nsession 1"]
        assert len(rates.patches) == 2  # one box per recording, not 128 dots alone
        assert {t.get_text() for t in psth.get_legend().get_texts()} == {"culture C1, session 1",
                                                                          "culture C2, session 1"}
        # the CL toolkit across recordings: the branching ratio against the criticality bin width
        assert "Branching ratio" in branching.get_title() and branching.get_xlabel() == "bin width (s)"
        assert {t.get_text() for t in branching.get_legend().get_texts()} >= {"culture C1", "culture C2"}
        assert all(len(line.get_xdata()) == 3 for line in branching.get_lines()[:2])   # three bin widths
    finally:
        plt.close(fig)


def test_the_toolkit_table_shows_a_metric_across_recordings(demo_store):
    pytest.importorskip("pandas")
    with cldata.open(demo_store) as store:
        table = toolkit_table(store)
        assert len(store.filter(analysis="CLCriticality").analysis_results) == 6   # 2 recordings x 3 bin widths
    assert table.startswith("Branching ratio (CL toolkit, CLCriticality) by culture and session")
    assert "2 ms bins" in table and "4 ms bins" in table and "8 ms bins" in table
    assert "C1" in table and "C2" in table and 'metric_frame("branching_ratio")' in table
