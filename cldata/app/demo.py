"""``cldata demo``: the whole job on simulated data, end to end.

1. Simulate CL recordings with cldata's own :class:`~cldata.RecordingWriter` (spikes with
   network bursts, stimulations with evoked responses, raw samples, a pong-like
   ``ball_position`` stream and a ``score`` stream) and add them to a store;
2. run the ready analyses of ``param/`` (``demo_rates.param``: firing rates, ISI
   statistics, network bursts, spiking against the ball position; ``demo_psth.param``: a
   2 x 3 sweep of PSTHs; ``cl_toolkit.param``: Cortical Labs' analysis toolkit, criticality
   over three bin widths) with the batch runner;
3. print a summary table with a legend of its columns, a table of a metric across recordings
   (the branching ratio by culture, session and bin width, from ``metric_frame``), and write a figure (a raster of
   one recording with its stimulations, every channel's firing rate as a box per recording,
   the PSTHs, each labelled with culture and session, and the CL toolkit's branching ratio of
   every recording against its bin width) to ``summary.png`` (needs
   matplotlib: ``pip install 'cldata[demo]'``). The README shows it (docs/demo-summary.png).

The store lives in ``<dir>/store``; running the demo again reuses it, computes nothing
new, and says so.

Examples
--------
>>> run_demo(Path("cldata-demo"))          # doctest: +SKIP
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

import numpy as np

import cldata
from cldata.batch.runner import run_batch
from cldata.format.simulate import simulate_recording

__all__ = ["run_demo", "DEMO_PARAMETER_FILES", "COLUMN_LEGEND"]

DEMO_PARAMETER_FILES = ("demo_rates.param", "demo_psth.param", "cl_toolkit.param")


@contextmanager
def parameter_file(name: str) -> Iterator[Path]:
    """A file of ``param/``: installed as the package ``cldata.param``, or beside the source tree
    when cldata runs from a checkout (``python -m pytest`` in the repository)."""
    try:
        resource = files("cldata.param").joinpath(name)
    except ModuleNotFoundError:
        resource = None
    if resource is not None and resource.is_file():
        with as_file(resource) as path:
            yield Path(path)
        return
    path = Path(__file__).resolve().parents[2] / "param" / name
    if not path.is_file():
        raise FileNotFoundError(f"cannot find the parameter file {name} (neither installed nor in {path.parent})")
    yield path


def _simulate_into(store: Any, n: int, duration_s: float) -> None:
    with tempfile.TemporaryDirectory(prefix="cldata-demo-") as tmp:
        for i in range(n):
            path = Path(tmp) / f"sim_{i:02d}.h5"
            simulate_recording(path, duration_s=duration_s, seed=i, mean_rate_hz=3.0 + i % 3,
                               attributes={"experiment": "pong", "rig": "simulator"})
            store.add_recording(path, {
                "culture": f"C{i % 2 + 1}",
                "session": i // 2 + 1,
                "stimulation": {"frequency": 4, "amplitude_uA": 1.0 + 0.5 * (i % 2), "channels": [8, 15]},
            })
        store.commit()


def _fmt(q: Any, unit: str = "", digits: int = 2) -> str:
    if q is None:
        return "-"
    x = float(np.asarray(q.magnitude if hasattr(q, "magnitude") else q))
    return "nan" if math.isnan(x) else f"{x:.{digits}f}{unit}"


#: What each column of :func:`summary_table` means, printed under the table.
COLUMN_LEGEND = (
    ("recording", "the recording's id in the store"),
    ("culture, session", "the parameters the recording was added with"),
    ("spikes", "spikes in the recording (all channels)"),
    ("rate Hz", "mean firing rate of the active channels (FiringRate: mean_firing_rate)"),
    ("CV ISI", "coefficient of variation of inter-spike intervals, mean over channels (1: Poisson-like)"),
    ("bursts/s", "network bursts per second, many channels firing together (NetworkBursts)"),
    ("PSTH peak", "time after a stimulation at which spiking peaks (StimulusTriggeredHistogram, 2 ms bins)"),
    ("points", "entries of the data stream `score`: points the culture scored in the simulated pong game"),
)


def _label(rec: Any) -> str:
    return f"culture {rec.parameters['culture']}, session {rec.parameters['session']}"


def summary_table(store: Any) -> str:
    """One line per recording: parameters, spikes, rates, bursts and the PSTH peak; then what each column means."""
    wanted = ["mean_firing_rate", "cv_isi", "burst_rate", "psth"]
    by_source: dict[tuple[str, str], list[Any]] = {}
    for r in store.filter_results(identifier=wanted).analysis_results:
        for source in r.sources:
            by_source.setdefault((source, r.identifier), []).append(r)

    def first(rid: str, identifier: str, **params: Any) -> Any:
        for r in by_source.get((rid, identifier), []):
            if all(r.parameters.get(k) == v for k, v in params.items()):
                return r
        return None

    header = (f"{'recording':22} {'culture':7} {'session':>7} {'spikes':>7} {'rate Hz':>8} {'CV ISI':>7} "
              f"{'bursts/s':>8} {'PSTH peak':>10} {'points':>6}")
    lines = [header, "-" * len(header)]
    for rec in store.recordings:
        rate, cv, bursts = (first(rec.id, i) for i in ("mean_firing_rate", "cv_isi", "burst_rate"))
        psth = first(rec.id, "psth", bin_ms=2, post_ms=100)
        cv_mean = None
        if cv is not None and np.isfinite(np.asarray(cv.values)).any():
            cv_mean = np.nanmean(np.asarray(cv.values))
        peak = None
        if psth is not None and np.isfinite(np.asarray(psth.values)).any():
            peak = psth.times[int(np.nanargmax(np.asarray(psth.values)))]
        lines.append(
            f"{rec.id:22} {rec.parameters['culture']:7} {rec.parameters['session']:>7} {rec.summary['spikes']:>7} "
            f"{_fmt(rate and rate.value):>8} {_fmt(cv_mean):>7} {_fmt(bursts and bursts.value):>8} "
            f"{_fmt(peak, ' ms', 0):>10} {rec.summary.get('streams', {}).get('score', 0):>6}"
        )
    width = max(len(name) for name, _ in COLUMN_LEGEND)
    lines += ["", *(f"  {name:{width}}  {meaning}" for name, meaning in COLUMN_LEGEND)]
    return "\n".join(lines)


def toolkit_table(store: Any) -> str:
    """The CL toolkit across recordings: the branching ratio by culture and session, per bin width.

    Built from ``store.filter(analysis="CLCriticality").metric_frame("branching_ratio")`` (the
    catalog alone); needs pandas, else says so.
    """
    try:
        import pandas as pd  # (here: an optional dependency, and slow to import)
    except ImportError:
        return "(the CL toolkit table needs pandas: pip install 'cldata[demo]')"
    view = store.filter(analysis="CLCriticality")
    if not len(view.analysis_results):
        return "(no CLCriticality results in the store)"
    frame = view.metric_frame("branching_ratio")
    table = frame.pivot_table(index=["culture", "session"], columns="bin_size_sec", values="branching_ratio")
    table.columns = [f"{w * 1000:g} ms bins" for w in table.columns]
    with pd.option_context("display.float_format", "{:.3f}".format, "display.width", 120):
        text = table.to_string()
    return ("Branching ratio (CL toolkit, CLCriticality) by culture and session, per bin width:\n" + text +
            '\n  from store.filter(analysis="CLCriticality").metric_frame("branching_ratio") — one row per '
            "result, recording and analysis parameters as columns")


def write_figure(store: Any, path: Path) -> Path | None:
    """Write :func:`build_figure` to ``path`` (PNG); ``None`` without matplotlib or recordings."""
    try:
        import matplotlib  # (here: an optional dependency, and over a second to import)

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig = build_figure(store)
    if fig is None:
        return None
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def build_figure(store: Any) -> Any:
    """The demo's figure: a raster of one recording, firing rates per channel as boxes, and PSTHs.

    Every panel names cultures and sessions in words, so that the figure reads without the
    code. Returns a matplotlib Figure, or ``None`` for a store without recordings.
    """
    import matplotlib.pyplot as plt  # (here: an optional dependency, and slow to import)
    from matplotlib.lines import Line2D  # (with pyplot)

    recs = store.recordings
    if not recs:
        return None
    cultures = sorted({str(r.parameters["culture"]) for r in recs})
    colour = {c: f"C{i}" for i, c in enumerate(cultures)}
    style = {s: ls for s, ls in zip(sorted({r.parameters["session"] for r in recs}), ["-", "--", ":", "-."] * 8)}
    with plt.rc_context({"font.size": 12, "axes.titlesize": 13, "legend.fontsize": 10}):
        fig, axes = plt.subplots(1, 4, figsize=(22, 5.4), gridspec_kw={"width_ratios": [1.6, 1.2, 1.3, 1.1]})
        fig.suptitle(f"cldata demo: {len(recs)} simulated CL1 recordings ({len(cultures)} cultures, "
                     f"{len(style)} sessions each), analysed from param/demo_rates.param, demo_psth.param "
                     "and cl_toolkit.param", fontsize=14)

        # 1. raster of the first recording, stimulations marked
        first = recs[0].view()
        fps = first.frames_per_second
        stop = min(first.duration_frames, 2 * fps)
        spikes = first.read_spikes(0, stop, waveforms=False)
        stims = first.read_stims(0, stop)
        ax = axes[0]
        ax.scatter(spikes["timestamp"] / fps, spikes["channel"], s=14, c="k", marker="|", linewidths=0.8)
        for t in stims["timestamp"] / fps:
            ax.axvline(t, color="tab:red", lw=1, alpha=0.7)
        ax.set(title=f"Spikes of {_label(recs[0])} (first {stop / fps:g} s)", xlabel="time (s)",
               ylabel="channel")
        ax.set_ylim(-1, first.channel_count * 1.15)  # room for the legend above the channels
        ax.legend(handles=[Line2D([], [], color="k", marker="|", ls="", markersize=10, label="spike"),
                           Line2D([], [], color="tab:red", lw=1.5, label="stimulation")],
                  loc="upper center", ncol=2, framealpha=0.95)

        # 2. firing rate of every channel: one box per recording, the channels as dots beside it
        ax = axes[1]
        rates = {r.sources[0]: np.asarray(r.values) for r in store.filter(identifier="firing_rate").analysis_results}
        rng = np.random.default_rng(0)
        shown = [rec for rec in recs if rec.id in rates]
        for i, rec in enumerate(shown):
            values = rates[rec.id][np.isfinite(rates[rec.id])]
            c = colour[str(rec.parameters["culture"])]
            ax.boxplot(values, positions=[i], widths=0.55, showfliers=False, patch_artist=True,
                       boxprops={"facecolor": c, "alpha": 0.35, "edgecolor": c},
                       medianprops={"color": c, "lw": 2}, whiskerprops={"color": c}, capprops={"color": c})
            ax.scatter(i + rng.uniform(-0.18, 0.18, values.size), values, s=9, color=c, alpha=0.6, lw=0)
        ax.set_xticks(range(len(shown)), [f"{r.parameters['culture']}\nsession {r.parameters['session']}"
                                          for r in shown])
        ax.set(title="Firing rate of each channel", ylabel="rate (Hz), one dot per channel")
        ax.legend(handles=[Line2D([], [], color=colour[c], marker="s", ls="", markersize=10, alpha=0.6,
                                  label=f"culture {c}") for c in cultures], loc="upper right")

        # 3. PSTH per recording
        ax = axes[2]
        label_of = {rec.id: rec for rec in recs}
        for r in store.filter(identifier="psth", bin_ms=2, post_ms=100).analysis_results:
            rec = label_of.get(r.sources[0])
            if rec is None:
                continue
            ax.plot(np.asarray(r.times), np.asarray(r.values), lw=1.6, color=colour[str(rec.parameters["culture"])],
                    ls=style[rec.parameters["session"]], label=_label(rec))
        ax.axvline(0, color="tab:red", lw=1, alpha=0.7)
        ax.set(title="Spiking around a stimulation (PSTH, 2 ms bins)", xlabel="time from stimulation (ms)",
               ylabel="rate (Hz), mean over channels")
        ax.set_ylim(0, ax.get_ylim()[1] * 1.3)  # room for the legend above the curves
        ax.legend(loc="upper center", ncol=2, fontsize=9, framealpha=0.95)

        # 4. a metric across recordings: the CL toolkit's branching ratio against its bin width
        _branching_panel(store, axes[3], colour)
        fig.tight_layout()
    return fig


def _branching_panel(store: Any, ax: Any, colour: dict[str, str]) -> None:
    """The branching ratio of every recording against the criticality bin width, a line per culture."""
    view = store.filter(analysis="CLCriticality")
    try:
        view.plot_metric("branching_ratio", x="bin_size_sec", hue="culture", ax=ax)
    except (ImportError, cldata.errors.CldataError) as exc:  # no pandas, or no toolkit results
        ax.text(0.5, 0.5, f"no branching ratios:\n{exc}", ha="center", va="center", wrap=True, transform=ax.transAxes)
        ax.set_axis_off()
        return
    for line in ax.get_lines():
        culture = line.get_label().removeprefix("culture ")
        if culture in colour:
            line.set_color(colour[culture])
    ax.axhline(1.0, color="grey", lw=1, ls=":")
    ax.set(title="Branching ratio (CL toolkit), per recording", xlabel="bin width (s)",
           ylabel="branching ratio (1: critical)")
    ax.legend(loc="best", framealpha=0.95)


def run_demo(root: Path, *, recordings: int = 4, duration_s: float = 3.0, executor: str = "processes",
             workers: int = 2, figure: bool = True, progress: bool = True) -> int:
    """Run the demo in ``root`` (see module doc); return an exit status (0: all went well)."""
    # (here: the parameter-file parsers take 0.6 s to import; the CLI imports this module for `cldata --help`)
    from cldata.batch.paramfile import load_parameters

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    store_dir = root / "store"
    with cldata.open(store_dir, mode="a") as store:
        if store.recording_ids:
            print(f"cldata demo: reusing the store in {store_dir} ({len(store.recording_ids)} recordings)")
        else:
            print(f"cldata demo: simulating {recordings} recordings of {duration_s:g} s into {store_dir}")
            _simulate_into(store, recordings, duration_s)
    status = 0
    overrides = [f"defaults.store.root_directory={store_dir.resolve()}", f"defaults.executor.kind={executor}",
                 f"defaults.executor.workers={workers}"]
    for name in DEMO_PARAMETER_FILES:
        with parameter_file(name) as param_file:
            params = load_parameters(param_file, overrides)
        report = run_batch(params, progress=progress)
        print(f"{name}: {report}")
        status = status or (0 if report.ok else 1)
    with cldata.open(store_dir) as store:
        print()
        print(summary_table(store))
        print()
        print(toolkit_table(store))
        print()
        if figure:
            out = write_figure(store, root / "summary.png")
            if out is None:
                print("no figure: matplotlib is not installed (pip install 'cldata[demo]')")
            else:
                print(f"figure: {out}")
        # (the next step of a first hour: the same store, in a browser)
        print(f"look at it in a browser: cldata view {store_dir} (the view extra: pip install 'cldata[view]')")
    return status
