"""What the benchmark scripts share: figures, their table, timing helpers, options and output.

Each script in ``benchmarks/`` measures some figures, each next to a baseline measured in
the same run and the target of a performance issue, and prints them as one table::

    metric                       | cldata   | baseline                 | ratio | target     | met?
    -----------------------------+----------+--------------------------+-------+------------+-----
    extend() 10,000/call + close | 1.52 M/s | 3.1 M/s (msgpack.Packer) | 0.49x | >= 1.5 M/s | yes
    stream[ts], warm             | 14.2 µs  | 95.3 µs (PyTables rows)  | 6.71x | <= 20 µs   | yes

The scripts run as ``python benchmarks/bench_x.py``, so this directory is on ``sys.path``
and they import this module as ``_report``. It is not part of the ``cldata`` package.

Units
-----
A figure's unit says how its values are printed and which way is better:

``"/s"``, ``"entries/s"`` (any unit ending in ``/s``)
    A rate, higher is better: ``1.52 M/s``, ``690 k/s``, ``12.5 /s``.
``"s"``
    A duration, lower is better: ``1.2 s``, ``4.2 ms``, ``37.1 µs`` (``-1.3 ms`` when negative).
``"MB"``, ``"%"``
    A size, a proportion; lower is better: ``120 MB``, ``12.50 %``.
``"entries"``, ``"opens"``
    A count, lower is better (``1,234`` and ``0``); a count has no ratio.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

COUNT_UNITS = ("entries", "opens")  # counts: no ratio to a baseline
MET = {None: "", True: "yes", False: "NO"}
HEADER = ("metric", "cldata", "baseline", "ratio", "target", "met?")


# -- figures and the table -------------------------------------------------------------------


def fmt(value: float | None, unit: str) -> str:
    """Format a value of a figure for the table.

    Parameters
    ----------
    value : float or None
        The value, in ``unit`` (seconds for ``"s"``); None for a missing one.
    unit : str
        One of the units listed in the module's docstring.

    Returns
    -------
    str
        A rate as ``1.52 M/s`` / ``690 k/s`` / ``12.5 /s``, a duration as ``1.2 s`` /
        ``4.2 ms`` / ``37.1 µs``, a size as ``120 MB``, a proportion as ``12.50 %``, a
        count as ``1,234`` (``"entries"``) or ``3`` (``"opens"``), and ``-`` for None.
    """
    if value is None:
        return "-"
    if unit.endswith("/s"):
        for scale, prefix in ((1e6, "M"), (1e3, "k")):
            if value >= scale:
                return f"{value / scale:.3g} {prefix}/s"
        return f"{value:.3g} /s"
    if unit == "MB":
        return f"{value:.3g} MB"
    if unit == "%":
        return f"{value:.2f} %"
    if unit == "entries":
        return f"{value:,.0f}"
    if unit == "opens":
        return f"{value:g}"
    if unit != "s":
        raise ValueError(f"unknown unit {unit!r}")
    sign, value = ("-", -value) if value < 0 else ("", value)
    for scale, name in ((1.0, "s"), (1e-3, "ms")):
        if value >= scale:
            return f"{sign}{value / scale:.3g} {name}"
    return f"{sign}{value * 1e6:.3g} µs"


def fmt_range(value: float | None, spread: tuple[float, float] | None, unit: str) -> str:
    """A median with its min–max range, as the tables and the README print figures.

    Examples
    --------
    >>> fmt_range(0.0021, (0.0019, 0.0035), "s")
    '2.1 ms (1.9–3.5 ms)'
    >>> fmt_range(0.0021, None, "s")
    '2.1 ms'
    """
    if spread is None or value is None:
        return fmt(value, unit)
    low, high = fmt(spread[0], unit), fmt(spread[1], unit)
    if low.split(" ")[-1] == high.split(" ")[-1] and " " in low:
        low = low.rsplit(" ", 1)[0]
    return f"{fmt(value, unit)} ({low}–{high})"


@dataclass
class Figure:
    """One measured figure, its baseline and its target.

    Parameters
    ----------
    key : str
        A short identifier, used in the JSON output and the list of missed targets.
    metric : str
        What was measured, as the table's first column says it.
    unit : str
        The unit of ``cldata``, ``baseline`` and ``target`` (see the module's docstring);
        rates (``.../s``) are better higher, everything else lower.
    cldata : float
        The figure measured with cldata.
    baseline : float or None, optional
        The same figure measured with the baseline, in the same run.
    baseline_name : str, optional
        What the baseline is, printed next to its figure.
    target : float or None, optional
        The target ``cldata`` must reach (at least it for a rate, at most it otherwise).

    Notes
    -----
    Scripts with targets of another kind subclass it: they add fields (which then appear
    in :meth:`as_dict`) and override :attr:`met` and :meth:`target_text`.
    """

    key: str
    metric: str
    unit: str
    cldata: float
    baseline: float | None = None
    baseline_name: str = ""
    target: float | None = None
    cldata_range: tuple[float, float] | None = None
    baseline_range: tuple[float, float] | None = None

    @classmethod
    def from_samples(
        cls,
        key: str,
        metric: str,
        unit: str,
        samples: Sequence[float],
        baseline_samples: Sequence[float] | None = None,
        baseline_name: str = "",
        target: float | None = None,
    ) -> Figure:
        """A figure from repeated measurements: their median, with their min–max range.

        Parameters
        ----------
        key, metric, unit, baseline_name, target
            As for the class.
        samples : sequence of float
            cldata's measurements (durations, rates or sizes), one per repetition.
        baseline_samples : sequence of float or None, optional
            The baseline's, measured in the same run (interleaved with cldata's, see
            :func:`interleaved_times`).

        Examples
        --------
        >>> f = Figure.from_samples("x", "x", "s", [0.002, 0.001, 0.003], [0.004, 0.005, 0.006], "base")
        >>> f.cldata, f.cldata_range, f.ratio
        (0.002, (0.001, 0.003), 2.5)
        """
        base = baseline_samples or None
        return cls(key, metric, unit, statistics.median(samples),
                   statistics.median(base) if base else None, baseline_name, target,
                   (min(samples), max(samples)), (min(base), max(base)) if base else None)

    @property
    def higher_is_better(self) -> bool:
        """bool : Whether the unit is a rate (ends with ``/s``)."""
        return self.unit.endswith("/s")

    @property
    def ratio(self) -> float | None:
        """float or None : How many times better (faster, smaller) cldata is than the baseline.

        None without a baseline, for counts, for a zero baseline and for a negative
        duration (a difference of clocks); infinite when cldata is zero and the baseline
        is not (a lower-is-better figure).
        """
        if not self.baseline or self.unit in COUNT_UNITS:
            return None
        if self.higher_is_better:
            return self.cldata / self.baseline
        if self.cldata < 0:
            return None
        if self.cldata == 0:
            return math.inf if self.baseline > 0 else None
        return self.baseline / self.cldata

    @property
    def met(self) -> bool | None:
        """bool or None : Whether ``cldata`` reaches the target; None without a target."""
        if self.target is None:
            return None
        return self.cldata >= self.target if self.higher_is_better else self.cldata <= self.target

    def target_text(self) -> str:
        """The target as the table prints it.

        Returns
        -------
        str
            ``>= 1.5 M/s`` or ``<= 20 ms`` (say), or ``-`` without a target.
        """
        if self.target is None:
            return "-"
        op = ">=" if self.higher_is_better else "<="
        return f"{op} {fmt(self.target, self.unit)}"

    def as_dict(self) -> dict[str, Any]:
        """The figure for the JSON output.

        Returns
        -------
        dict
            The dataclass fields, then ``ratio`` and ``met``.
        """
        return {**asdict(self), "ratio": self.ratio, "met": self.met}


def print_table(figures: Sequence[Figure], ratio_format: str = ".2f") -> None:
    """Print the figures as a table on standard output.

    Parameters
    ----------
    figures : sequence of Figure
        One row each, in this order.
    ratio_format : str, optional
        The format specification of the ratio column (``".2f"``: ``1.52x``).
    """
    rows = [HEADER]
    for f in figures:
        rows.append(
            (
                f.metric,
                fmt_range(f.cldata, f.cldata_range, f.unit),
                f"{fmt_range(f.baseline, f.baseline_range, f.unit)} ({f.baseline_name})"
                if f.baseline is not None else "-",
                "-" if f.ratio is None else f"{f.ratio:{ratio_format}}x",
                f.target_text(),
                MET[f.met],
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    for n, r in enumerate(rows):
        print(" | ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())
        if n == 0:
            print("-+-".join("-" * w for w in widths))


def print_report(
    title: str,
    figures: Sequence[Figure],
    elapsed: float,
    notes: Iterable[str] = (),
    ratio_format: str = ".2f",
) -> None:
    """Print a benchmark's result: its title, the table, notes and the targets missed.

    Parameters
    ----------
    title : str
        The line above the table (the version, the mode, the sizes).
    figures : sequence of Figure
        The table's rows.
    elapsed : float
        The run's wall time in seconds, printed last.
    notes : iterable of str, optional
        Lines printed between the table and the targets missed.
    ratio_format : str, optional
        See :func:`print_table`.
    """
    print(f"\n{title}\n")
    print_table(figures, ratio_format)
    print()
    for line in notes:
        print(line)
    missed = [f.key for f in figures if f.met is False]
    print(f"targets missed: {', '.join(missed) if missed else 'none'}   ({elapsed:.0f} s)")


def write_json(
    path: Path,
    args: argparse.Namespace,
    elapsed: float,
    figures: Sequence[Figure],
    info: dict[str, Any] | None = None,
) -> None:
    """Write the run's configuration and figures to a JSON file.

    Parameters
    ----------
    path : Path
        The file (overwritten).
    args : argparse.Namespace
        The options, written as ``config`` (paths as strings).
    elapsed : float
        The run's wall time in seconds, written as ``elapsed_s``.
    figures : sequence of Figure
        Written as ``figures``, each as :meth:`Figure.as_dict` returns it.
    info : dict or None, optional
        Further facts of the run, written as ``info`` when given. Values JSON cannot
        hold (numpy scalars, say) are written as strings.
    """
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    doc: dict[str, Any] = {"config": config, "elapsed_s": elapsed}
    if info is not None:
        doc["info"] = info
    doc["figures"] = [f.as_dict() for f in figures]
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")


# -- timing helpers ----------------------------------------------------------------------------


def median_time(fn: Callable[[], Any], repeats: int, warm: bool = False) -> float:
    """Median wall time of repeated calls.

    Parameters
    ----------
    fn : callable
        Called without arguments.
    repeats : int
        The number of timed calls.
    warm : bool, optional
        Call ``fn`` once, untimed, before the timed calls.

    Returns
    -------
    float
        The median of the ``repeats`` wall times, in seconds.
    """
    if warm:
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def interleaved_times(fns: Sequence[Callable[[], Any]], repeats: int, warm: bool = True) -> list[list[float]]:
    """Wall times of several callables measured in turns (``a b a b ...``), so that a change in the
    machine's load falls on all of them alike.

    Parameters
    ----------
    fns : sequence of callable
        Called without arguments (cldata's, then its baselines).
    repeats : int
        Timed calls of each.
    warm : bool, optional
        Call each once, untimed, first.

    Returns
    -------
    list of list of float
        The times of each callable, in seconds, in the order of ``fns``.

    Examples
    --------
    >>> a, b = interleaved_times([lambda: None, lambda: sum(range(100))], 3)
    >>> len(a), len(b)
    (3, 3)
    """
    if warm:
        for fn in fns:
            fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, out in zip(fns, times):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return times


def median_latency(fn: Callable[[Any], Any], args: Sequence[Any]) -> float:
    """Median wall time of ``fn(arg)`` over ``args``, after one untimed (warming) call.

    Parameters
    ----------
    fn : callable
        Called with one argument.
    args : sequence
        The arguments, one timed call each; the warming call uses the first.

    Returns
    -------
    float
        The median wall time, in seconds.
    """
    fn(args[0])
    times = []
    for arg in args:
        t0 = time.perf_counter()
        fn(arg)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    """One timed call.

    Parameters
    ----------
    fn : callable
        Called without arguments.

    Returns
    -------
    seconds : float
        The call's wall time.
    result
        What ``fn`` returned.
    """
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def say(text: str) -> None:
    """Print progress on standard error (standard output is for the table).

    Parameters
    ----------
    text : str
        The line to print.
    """
    print(text, file=sys.stderr, flush=True)


# -- options and the working directory -----------------------------------------------------------


def make_parser(doc: str, quick_help: str) -> argparse.ArgumentParser:
    """An argument parser described by a script's docstring, with its ``--quick`` option.

    Parameters
    ----------
    doc : str
        The script's docstring: its first paragraph describes the script; ``--help``
        prints no more of it.
    quick_help : str
        The help of ``--quick``: what the quick run measures and how long it takes.

    Returns
    -------
    argparse.ArgumentParser
        The parser; the script adds its own options, then :func:`add_output_options`.
    """
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help=quick_help)
    return p


def add_output_options(
    p: argparse.ArgumentParser,
    dir_help: str = "write the files here and keep them (default: a temporary directory)",
) -> None:
    """Add ``--dir`` (where the files go) and ``--json`` (where the figures also go).

    Parameters
    ----------
    p : argparse.ArgumentParser
        The parser.
    dir_help : str, optional
        The help of ``--dir``.
    """
    p.add_argument("--dir", type=Path, help=dir_help)
    p.add_argument("--json", type=Path, help="also write the figures to this JSON file")


def run_in_workdir(
    run: Callable[[argparse.Namespace, Path], T], args: argparse.Namespace, prefix: str
) -> tuple[T, float]:
    """Run a benchmark in ``args.dir`` (created if missing) or in a temporary directory.

    Parameters
    ----------
    run : callable
        ``run(args, workdir)``, the benchmark.
    args : argparse.Namespace
        The options; ``args.dir`` is the working directory, or None for a temporary one
        (named ``prefix...``, deleted afterwards).
    prefix : str
        The prefix of the temporary directory's name.

    Returns
    -------
    result
        What ``run`` returned.
    elapsed : float
        The wall time in seconds, the temporary directory's creation and deletion included.
    """
    t0 = time.perf_counter()
    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
        result = run(args, args.dir)
    else:
        with tempfile.TemporaryDirectory(prefix=prefix, ignore_cleanup_errors=True) as tmp:
            result = run(args, Path(tmp))
    return result, time.perf_counter() - t0
