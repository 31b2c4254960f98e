"""The CL analysis toolkit as parametrised analyses: each ``analyse_*`` method is an :class:`Analysis`.

The model: Cortical Labs' ``RecordingView.analyse_<name>(...)`` methods (cldata's drop-in
versions: :mod:`cldata.toolkit.methods`) analyse one recording and store nothing. Each one is
also an analysis here, so parameter files name it, ``ParameterRange`` sweeps it, ``cldata run``
runs it over a store on any executor, and its results are stored with their parameters and
recording and skipped when done. One implementation serves both forms: ``compute(recording)``
takes the recording's spike snapshot (``recording.analysis_data()``, the spike table read once
per open file and shared by every analysis of the recording) and calls the very function the
drop-in method calls, ``cldata.toolkit.<module>.analyse_<name>(data, **parameters)``. The result —
the toolkit object itself — is stored as a :class:`~cldata.model.results.toolkit.CLToolkitResult`
(``.result`` is the object; its scalar fields are in the catalog's summary).

======================================  =====================================  =========================
analysis                                drop-in method                         result identifier
======================================  =====================================  =========================
:class:`CLFiringStats`                  ``analyse_firing_stats``               ``firing_stats``
:class:`CLNetworkBursts`                ``analyse_network_bursts``             ``network_bursts``
:class:`CLCriticality`                  ``analyse_criticality``                ``criticality``
:class:`CLInformationEntropy`           ``analyse_information_entropy``        ``information_entropy``
:class:`CLLempelZivComplexity`          ``analyse_lempel_ziv_complexity``      ``lempel_ziv_complexity``
:class:`CLDctFeatures`                  ``analyse_dct_features``               ``dct_features``
:class:`CLSpikeTriggeredHistogram`      ``analyse_spike_triggered_histogram``  ``spike_triggered_histogram``
:class:`CLFunctionalConnectivity`       ``analyse_functional_connectivity``    ``functional_connectivity``
======================================  =====================================  =========================

The names are the official methods' in CamelCase with ``CL`` in front: cldata's own
:class:`~cldata.analysis.bursts.NetworkBursts` computes something else, and the prefix says whose
definition (and quirks) a result follows. Parameters are the official ones — same names, same
defaults, required where the official method has no default — checked when the analysis is made
(:class:`~cldata.errors.ParameterError` naming each bad one). There is no timestamp-limit
parameter: the analysis window is the view's (``store.between(...)``), and results of a window
carry it (``window``, in frames) as every analysis' do. Problems of the data (a zero-length
window, a recording off the MEA layout, no spikes for criticality) raise the toolkit's own
``ValueError``, as the drop-in methods do; the batch runner reports them per unit.

:class:`CLFunctionalConnectivity` adds ``louvain_seed`` (default 0): the official Louvain step is
unseeded (numpy's global random state), so a stored partition would not be reproducible; the
analysis seeds numpy's global state with it for the call and restores the previous state after
(``None`` leaves the state alone, as the official method does). Seeding global state is not
thread-safe: do not run this analysis in threads that draw from numpy's global generator.

Examples
--------
>>> CLCriticality(bin_size_sec=0.004, percentile_threshold=0.5).perform_analysis(store)   # doctest: +SKIP
>>> r = store.filter(analysis="CLCriticality").analysis_results[0]                        # doctest: +SKIP
>>> r.summary_hint["branching_ratio"], r.result.avalanche_durations[:3]                   # doctest: +SKIP
(0.97, array([1, 3, 1]))
"""

from __future__ import annotations

import importlib
import math
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from cldata.analysis.base import Analysis
from cldata.analysis.common import NUMBER, check_values
from cldata.errors import ParameterError
from cldata.format.spike_snapshot import view_window
from cldata.model.results.toolkit import CLToolkitResult

if TYPE_CHECKING:  # pragma: no cover
    from cldata.model.results import AnalysisResult
    from cldata.store.view import RecordingHandle
    from cldata.toolkit.preprocess import SpikeData
    from cldata.toolkit.results import ToolkitResult

__all__ = ["ToolkitAnalysis", "CLFiringStats", "CLNetworkBursts", "CLCriticality", "CLInformationEntropy",
           "CLLempelZivComplexity", "CLDctFeatures", "CLSpikeTriggeredHistogram", "CLFunctionalConnectivity",
           "CL_TOOLKIT_ANALYSES"]

_OPTIONAL_NUMBER = (int, float, type(None))


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _positive(p: dict[str, Any], name: str) -> tuple[bool, str]:
    """``(failed, message)``: is ``p[name]`` a finite number > 0?"""
    return (not (_finite(p[name]) and p[name] > 0), f"{name!r} should be a finite number > 0, not {p[name]!r}")


def _finite_problem(p: dict[str, Any], name: str) -> tuple[bool, str]:
    return (not _finite(p[name]), f"{name!r} should be a finite number, not {p[name]!r}")


def _at_least(p: dict[str, Any], name: str, low: int) -> tuple[bool, str]:
    return (not p[name] >= low, f"{name!r} should be >= {low}, not {p[name]!r}")


def _unit_interval(p: dict[str, Any], name: str) -> tuple[bool, str]:
    return (not (_finite(p[name]) and 0 <= p[name] <= 1), f"{name!r} should lie in [0, 1], not {p[name]!r}")


class ToolkitAnalysis(Analysis):
    """One method of the CL toolkit as an analysis (see the module doc); subclasses name it.

    A subclass sets ``toolkit_module`` and ``toolkit_function`` (the function of
    :mod:`cldata.toolkit` its drop-in method calls), ``result_identifier``, the parameters, and
    checks their values in :meth:`problems`.
    """

    toolkit_module: ClassVar[str] = ""
    toolkit_function: ClassVar[str] = ""
    result_identifier: ClassVar[str] = ""

    def __init__(self, parameters: Any = None, **kw: Any):
        super().__init__(parameters, **kw)
        check_values(self.name, self.problems(self.parameters))

    def problems(self, p: dict[str, Any]) -> list[tuple[bool, str]]:
        """``(failed, message)`` for each value check of the parameters (types are checked already)."""
        return []

    def toolkit_arguments(self) -> dict[str, Any]:
        """The keyword arguments of the toolkit function: the parameters, as the official method takes them."""
        return dict(self.parameters)

    def analyse(self, data: SpikeData) -> ToolkitResult:
        """The toolkit result for a spike snapshot: the drop-in method's own function, called alike."""
        # why a dynamic import: the toolkit modules load scipy and networkx; naming an analysis (a
        # parameter file, `import cldata.analysis`) must not pay for them, only computing one
        module = importlib.import_module(f"cldata.toolkit.{self.toolkit_module}")
        return getattr(module, self.toolkit_function)(data, **self.toolkit_arguments())

    def compute(self, recording: RecordingHandle) -> list[AnalysisResult]:
        data = recording.analysis_data()
        lo, hi = view_window(recording.view())
        if (data.lo, data.hi) != (0 if lo is None else lo, data.duration_frames if hi is None else hi):
            # a limit set on the handle would give results labelled with the view's window
            raise ParameterError(
                f"{self.name}: recording {recording.id} has an analysis_timestamp_limit set; analyse a window "
                "with store.between(start, stop) instead, so that the results carry it")
        return [self.result(CLToolkitResult, self.result_identifier, self.analyse(data), recording=recording)]


class CLFiringStats(ToolkitAnalysis):
    """Spike counts and rates per channel and bin, and inter-spike intervals: ``analyse_firing_stats``.

    Parameters
    ----------
    bin_size_sec : float, default 1.0
        Bin width in seconds (> 0; truncated to whole frames).

    Results
    -------
    ``firing_stats`` : CLToolkitResult
        An ``AnalysisResultFiringStats``; summary: ``bin_size_sec``, ``culture_mean_firing_rates``,
        ``culture_var_firing_rates``, ``culture_max_firing_rates``, ``culture_ISI_mean``,
        ``culture_ISI_var``.

    Examples
    --------
    >>> CLFiringStats(bin_size_sec=0.5).perform_analysis(store)   # doctest: +SKIP
    """

    toolkit_module, toolkit_function, result_identifier = "firing", "analyse_firing_stats", "firing_stats"
    optional_parameters = {"bin_size_sec": (NUMBER, 1.0)}

    def problems(self, p: dict[str, Any]) -> list[tuple[bool, str]]:
        return [_positive(p, "bin_size_sec")]


class CLNetworkBursts(ToolkitAnalysis):
    """Network bursts by population-rate thresholds with hysteresis: ``analyse_network_bursts``.

    Parameters
    ----------
    bin_size_sec : float
        Bin width in seconds (> 0).
    onset_freq_hz, offset_freq_hz : float
        Per-channel rates that start and end a burst (finite).
    min_active_channels : int or None, default None
        The channel count the thresholds scale with (``None``: all channels; else >= 1).

    Results
    -------
    ``network_bursts`` : CLToolkitResult
        An ``AnalysisResultNetworkBursts``; summary: ``onset_freq_hz``, ``offset_freq_hz``,
        ``network_burst_count``, ``total_network_burst_duration_sec``, ``bin_size_sec``.

    Examples
    --------
    >>> CLNetworkBursts(bin_size_sec=0.01, onset_freq_hz=2.0, offset_freq_hz=1.0).perform_analysis(store)  # doctest: +SKIP
    """

    toolkit_module, toolkit_function, result_identifier = "network_bursts", "analyse_network_bursts", "network_bursts"
    required_parameters = {"bin_size_sec": NUMBER, "onset_freq_hz": NUMBER, "offset_freq_hz": NUMBER}
    optional_parameters = {"min_active_channels": ((int, type(None)), None)}

    def problems(self, p: dict[str, Any]) -> list[tuple[bool, str]]:
        m = p["min_active_channels"]
        return [_positive(p, "bin_size_sec"), _finite_problem(p, "onset_freq_hz"), _finite_problem(p, "offset_freq_hz"),
                (m is not None and m < 1, f"'min_active_channels' should be None or >= 1, not {m!r}")]


class CLCriticality(ToolkitAnalysis):
    """Avalanches, power-law exponents, DCC, shape collapse and branching ratio: ``analyse_criticality``.

    Parameters
    ----------
    bin_size_sec : float
        Bin width in seconds (> 0).
    percentile_threshold : float
        Quantile of the network activity above which a bin is active, in [0, 1].
    max_lags_branching_ratio : int, default 40
        Lags of the multistep regression (>= 1).
    duration_thresholds : [int, int], default [2, 5]
        Shortest and longest avalanche duration (bins) of the shape collapse (``0 <= first <= second``).
    min_spike_count_threshold : int, default 10
        Upper end of the power-law ``xmin`` search (>= 1).
    n_bootstraps : int, default 100
        Bootstrap samples of the β uncertainty (>= 1).
    random_seed : int, default 42
        Seed of the bootstrap (the official method seeds its own generator).

    Results
    -------
    ``criticality`` : CLToolkitResult
        An ``AnalysisResultCriticality``; summary: every scalar field, e.g. ``branching_ratio``,
        ``deviation_from_criticality_coefficient``, ``tau_exponent_spike_counts``,
        ``alpha_exponent_durations``, ``beta_exponent``, ``activity_threshold``.

    Examples
    --------
    >>> CLCriticality(bin_size_sec=0.004, percentile_threshold=0.5).perform_analysis(store)  # doctest: +SKIP
    """

    toolkit_module, toolkit_function, result_identifier = "criticality", "analyse_criticality", "criticality"
    required_parameters = {"bin_size_sec": NUMBER, "percentile_threshold": NUMBER}
    optional_parameters = {
        "max_lags_branching_ratio": (int, 40),
        "duration_thresholds": ((list, tuple), [2, 5]),
        "min_spike_count_threshold": (int, 10),
        "n_bootstraps": (int, 100),
        "random_seed": (int, 42),
    }

    def problems(self, p: dict[str, Any]) -> list[tuple[bool, str]]:
        d = p["duration_thresholds"]
        pair = (len(d) == 2 and all(isinstance(x, int) and not isinstance(x, bool) for x in d) and 0 <= d[0] <= d[1])
        return [_positive(p, "bin_size_sec"), _unit_interval(p, "percentile_threshold"),
                _at_least(p, "max_lags_branching_ratio", 1), _at_least(p, "min_spike_count_threshold", 1),
                _at_least(p, "n_bootstraps", 1),
                (not pair, f"'duration_thresholds' should be two ints [shortest, longest] with 0 <= shortest <= "
                           f"longest, not {d!r}")]

    def toolkit_arguments(self) -> dict[str, Any]:
        return {**self.parameters, "duration_thresholds": tuple(self.parameters["duration_thresholds"])}


class CLInformationEntropy(ToolkitAnalysis):
    """Shannon entropy of the fraction of active channels per bin: ``analyse_information_entropy``.

    Parameters
    ----------
    bin_size_sec : float
        Bin width in seconds (> 0; rounded to whole frames, as officially).
    fillna : float or None, default 0.0
        Replaces NaN entropies (``None``: keep them).
    log_base : float or None, default None
        Base of the logarithm (``None``: natural log, nats; else > 0 and not 1).

    Results
    -------
    ``information_entropy`` : CLToolkitResult
        An ``AnalysisResultInformationEntropy``; summary: ``bin_size_sec``.

    Examples
    --------
    >>> CLInformationEntropy(bin_size_sec=0.01, log_base=2).perform_analysis(store)  # doctest: +SKIP
    """

    toolkit_module, toolkit_function = "entropy", "analyse_information_entropy"
    result_identifier = "information_entropy"
    required_parameters = {"bin_size_sec": NUMBER}
    optional_parameters = {"fillna": (_OPTIONAL_NUMBER, 0.0), "log_base": (_OPTIONAL_NUMBER, None)}

    def problems(self, p: dict[str, Any]) -> list[tuple[bool, str]]:
        base = p["log_base"]
        return [_positive(p, "bin_size_sec"),
                (base is not None and not (_finite(base) and base > 0 and base != 1),
                 f"'log_base' should be None or a number > 0 other than 1, not {base!r}")]


class CLLempelZivComplexity(ToolkitAnalysis):
    """Lempel–Ziv complexity of each channel's binned spike train: ``analyse_lempel_ziv_complexity``.

    Parameters
    ----------
    bin_size_sec : float
        Bin width in seconds (> 0; rounded to whole frames, as officially).
    min_bin_count : int, default 2
        Channels are scored 0.0 when the window has fewer bins.
    normalise : bool, default True
        Divide the phrase count by ``n / log_k(n)``.
    use_binary : bool, default True
        Symbols are "spiked or not" (else the counts).

    Results
    -------
    ``lempel_ziv_complexity`` : CLToolkitResult
        An ``AnalysisResultComplexityLempelZiv``; summary: ``bin_size_sec``.

    Examples
    --------
    >>> CLLempelZivComplexity(bin_size_sec=0.01).perform_analysis(store)  # doctest: +SKIP
    """

    toolkit_module, toolkit_function = "lempel_ziv", "analyse_lempel_ziv_complexity"
    result_identifier = "lempel_ziv_complexity"
    required_parameters = {"bin_size_sec": NUMBER}
    optional_parameters = {"min_bin_count": (int, 2), "normalise": (bool, True), "use_binary": (bool, True)}

    def problems(self, p: dict[str, Any]) -> list[tuple[bool, str]]:
        return [_positive(p, "bin_size_sec")]


class CLDctFeatures(ToolkitAnalysis):
    """Spatial DCT of the spike counts on the 8×8 MEA layout: ``analyse_dct_features``.

    Parameters
    ----------
    k : int
        Basis functions per axis (>= 1; k x k features).

    Results
    -------
    ``dct_features`` : CLToolkitResult
        An ``AnalysisResultDctFeatures``; summary: ``k``.

    Examples
    --------
    >>> CLDctFeatures(k=3).perform_analysis(store)  # doctest: +SKIP
    """

    toolkit_module, toolkit_function, result_identifier = "dct", "analyse_dct_features", "dct_features"
    required_parameters = {"k": int}

    def problems(self, p: dict[str, Any]) -> list[tuple[bool, str]]:
        return [_at_least(p, "k", 1)]


class CLSpikeTriggeredHistogram(ToolkitAnalysis):
    """Cross-correlation histograms between the most active channels: ``analyse_spike_triggered_histogram``.

    Parameters
    ----------
    bin_size_sec : float
        Bin width in seconds (> 0).
    start_sec, end_sec : float
        The histogram spans lags from ``-start_sec`` to ``end_sec`` around a base spike
        (finite, ``start_sec + end_sec > 0``).
    num_channels : int
        How many of the most active channels to pair (>= 0).
    min_firing_rate_threshold_hz : float, default 0.1
        Channels firing slower are left out (finite).

    Results
    -------
    ``spike_triggered_histogram`` : CLToolkitResult
        An ``AnalysisResultSpikeTriggeredHistogram``; summary: ``bin_size_sec``, ``start_sec``,
        ``end_sec``, ``num_eligible_channels``, ``min_firing_rate_threshold_hz``.

    Unlike the drop-in method it prints nothing (the official method prints the selected
    channels, which the histogram keys name).

    Examples
    --------
    >>> CLSpikeTriggeredHistogram(bin_size_sec=0.01, start_sec=0.05, end_sec=0.05, num_channels=3)  # doctest: +SKIP
    """

    toolkit_module, toolkit_function = "spike_triggered", "analyse_spike_triggered_histogram"
    result_identifier = "spike_triggered_histogram"
    required_parameters = {"bin_size_sec": NUMBER, "start_sec": NUMBER, "end_sec": NUMBER, "num_channels": int}
    optional_parameters = {"min_firing_rate_threshold_hz": (NUMBER, 0.1)}

    def toolkit_arguments(self) -> dict[str, Any]:
        # the official method prints the channels it selected; in a batch that is one stray line per
        # unit on the runner's output, and the result's histogram keys name them anyway
        return {**self.parameters, "verbose": False}

    def problems(self, p: dict[str, Any]) -> list[tuple[bool, str]]:
        lags = [_finite_problem(p, "start_sec"), _finite_problem(p, "end_sec")]
        if not any(failed for failed, _ in lags):
            lags.append((not p["start_sec"] + p["end_sec"] > 0,
                         f"the lags from -'start_sec' to 'end_sec' should make a range, not [{-p['start_sec']}, "
                         f"{p['end_sec']}]"))
        return [_positive(p, "bin_size_sec"), *lags, _at_least(p, "num_channels", 0),
                _finite_problem(p, "min_firing_rate_threshold_hz")]


class CLFunctionalConnectivity(ToolkitAnalysis):
    """Correlation graph, Louvain communities and graph summaries: ``analyse_functional_connectivity``.

    Parameters
    ----------
    bin_size_sec : float
        Bin width in seconds (> 0).
    correlation_threshold : float, default 0.6
        Correlations weaker than this (in absolute value) are no edge; in [0, 1].
    louvain_seed : int or None, default 0
        Not an official parameter: numpy's global random state is seeded with it for the call
        (and restored after), so the Louvain partition — unseeded officially — is reproducible.
        ``None`` leaves the global state alone (the official behaviour).

    Results
    -------
    ``functional_connectivity`` : CLToolkitResult
        An ``AnalysisResultsFunctionalConnectivity``; summary: ``bin_size_sec``,
        ``correlation_threshold``, ``total_edge_weights``, ``average_edge_weights``,
        ``clustering_coefficient``, ``modularity_index``, ``max_betweenness_centrality``.

    Examples
    --------
    >>> CLFunctionalConnectivity(bin_size_sec=0.1, correlation_threshold=0.3).perform_analysis(store)  # doctest: +SKIP
    """

    toolkit_module, toolkit_function = "connectivity", "analyse_functional_connectivity"
    result_identifier = "functional_connectivity"
    required_parameters = {"bin_size_sec": NUMBER}
    optional_parameters = {"correlation_threshold": (NUMBER, 0.6), "louvain_seed": ((int, type(None)), 0)}

    def problems(self, p: dict[str, Any]) -> list[tuple[bool, str]]:
        seed = p["louvain_seed"]
        return [_positive(p, "bin_size_sec"), _unit_interval(p, "correlation_threshold"),
                (seed is not None and not 0 <= seed < 2**32, f"'louvain_seed' should be None or in [0, 2**32), "
                                                             f"not {seed!r}")]

    def toolkit_arguments(self) -> dict[str, Any]:
        return {k: v for k, v in self.parameters.items() if k != "louvain_seed"}

    def analyse(self, data: SpikeData) -> ToolkitResult:
        seed = self.parameters["louvain_seed"]
        if seed is None:
            return super().analyse(data)
        state = np.random.get_state()  # the caller's global state, given back whatever happens
        np.random.seed(seed)
        try:
            return super().analyse(data)
        finally:
            np.random.set_state(state)


#: the analyses of this module by name (what the registry of shipped analyses lists)
CL_TOOLKIT_ANALYSES: tuple[type[ToolkitAnalysis], ...] = (
    CLFiringStats, CLNetworkBursts, CLCriticality, CLInformationEntropy, CLLempelZivComplexity, CLDctFeatures,
    CLSpikeTriggeredHistogram, CLFunctionalConnectivity,
)
