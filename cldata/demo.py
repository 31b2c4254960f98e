"""``cldata demo``: the whole job on simulated data, end to end.

1. Simulate CL recordings with cldata's own :class:`~cldata.RecordingWriter` (spikes with
   network bursts, stimulations with evoked responses, raw samples, a pong-like
   ``ball_position`` stream and a ``score`` stream) and add them to a store;
2. run the ready analyses of ``param/`` (``demo_rates.param``: firing rates, ISI
   statistics, network bursts, spiking against the ball position; ``demo_psth.param``: a
   2 x 3 sweep of PSTHs) with the batch runner;
3. print a summary table, and write a figure (raster, firing rates, PSTHs) to
   ``summary.png`` (needs matplotlib: ``pip install 'cldata[demo]'``).

The store lives in ``<dir>/store``; running the demo again reuses it, computes nothing
new, and says so.

Examples
--------
>>> run_demo(Path("cldata-demo"))          # doctest: +SKIP
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["run_demo", "DEMO_PARAMETER_FILES"]

DEMO_PARAMETER_FILES = ("demo_rates.param", "demo_psth.param")


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
    path = Path(__file__).resolve().parents[1] / "param" / name
    if not path.is_file():
        raise FileNotFoundError(f"cannot find the parameter file {name} (neither installed nor in {path.parent})")
    yield path


def _simulate_into(store: Any, n: int, duration_s: float) -> None:
    from cldata.simulate import simulate_recording

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


def summary_table(store: Any) -> str:
    """One line per recording: parameters, spikes, rates, bursts and the PSTH peak."""
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
    return "\n".join(lines)


def write_figure(store: Any, path: Path) -> Path | None:
    """Raster of the first recording, firing rate per channel, and PSTHs; ``None`` without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    recs = store.recordings
    if not recs:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), gridspec_kw={"width_ratios": [2.2, 1.2, 1.2]})
    first = recs[0].view()
    spikes = first.read_spikes(0, min(first.duration_frames, 2 * first.frames_per_second), waveforms=False)
    stims = first.read_stims(0, min(first.duration_frames, 2 * first.frames_per_second))
    fps = first.frames_per_second
    axes[0].scatter(spikes["timestamp"] / fps, spikes["channel"], s=2, c="k", marker="|")
    for t in stims["timestamp"] / fps:
        axes[0].axvline(t, color="tab:red", lw=0.6, alpha=0.6)
    axes[0].set(title=f"{recs[0].id}: spikes (first 2 s), stims in red", xlabel="time (s)", ylabel="channel")
    for rec in recs:
        found = [r for r in store.filter(identifier="firing_rate").analysis_results if rec.id in r.sources]
        if found:
            axes[1].plot(found[0].channels, np.asarray(found[0].values), ".", label=f"{rec.parameters['culture']} s{rec.parameters['session']}")
    axes[1].set(title="firing rate per channel", xlabel="channel", ylabel="rate (Hz)")
    axes[1].legend(fontsize=7)
    for r in store.filter(identifier="psth", bin_ms=2, post_ms=100).analysis_results:
        axes[2].plot(np.asarray(r.times), np.asarray(r.values), lw=1)
    axes[2].set(title="PSTH around stims (2 ms bins)", xlabel="time from stim (ms)", ylabel="rate (Hz)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run_demo(root: Path, *, recordings: int = 4, duration_s: float = 3.0, executor: str = "processes",
             workers: int = 2, figure: bool = True, progress: bool = True) -> int:
    """Run the demo in ``root`` (see module doc); return an exit status (0: all went well)."""
    import cldata
    from cldata.batch.paramfile import load_parameters
    from cldata.batch.runner import run_batch

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
        if figure:
            out = write_figure(store, root / "summary.png")
            if out is None:
                print("no figure: matplotlib is not installed (pip install 'cldata[demo]')")
            else:
                print(f"figure: {out}")
    return status


def reset_demo(root: Path) -> None:
    """Remove a demo directory made by :func:`run_demo` (its store and figure)."""
    root = Path(root)
    if (root / "store" / "cldata-store.json").exists():
        shutil.rmtree(root / "store")
    (root / "summary.png").unlink(missing_ok=True)
