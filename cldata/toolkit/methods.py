"""The drop-in toolkit methods of ``cl.RecordingView`` on cldata's recordings.

The model: Cortical Labs' ``RecordingView`` keeps an analysis window (set by
``analysis_timestamp_limit``) and offers ``analyse_*`` methods and two plots. cldata gives every
recording the same methods, with the same signatures and defaults, through this mixin:
:class:`cldata.RecordingView` and a store's recording handles
(:class:`cldata.RecordingHandle`) inherit it. The host says where the spikes come from with one
hook, ``_toolkit_snapshot()`` (a :class:`~cldata.toolkit.preprocess.SpikeData` of the whole
spike table, read once per file, whose window is the host's own: the view's ``between`` window,
or the whole recording), and ``_toolkit_stims()`` for the raster plot. Each method then applies
the window set by ``analysis_timestamp_limit`` (frames of the recording; ``None`` = the host's
default end) and calls the pure function of the same name in :mod:`cldata.toolkit`, the one the
store's parametrised analyses call too.

The analysis modules import scipy and networkx: they are imported on first use, not with
``import cldata``.

Examples
--------
>>> rec = cldata.RecordingView("recording.h5")                      # doctest: +SKIP
>>> rec.analysis_timestamp_limit(25_000, 125_000)                   # doctest: +SKIP
>>> rec.analyse_firing_stats(bin_size_sec=0.5).culture_mean_firing_rates  # doctest: +SKIP
1.53125
>>> rec.between(1 * pq.s, 5 * pq.s).analyse_firing_stats(0.5)       # the same window  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cldata.toolkit.preprocess import SpikeData, checked_window, with_window

__all__ = ["ToolkitMethods"]


class ToolkitMethods:
    """``analysis_timestamp_limit``, the ``analyse_*`` methods and the plots of ``cl.RecordingView``.

    A host class defines ``_toolkit_snapshot() -> SpikeData`` (the whole spike table, window =
    the host's default) and ``_toolkit_stims() -> (timestamps, channels)``; the analysis
    window set here is kept in ``_toolkit_limit`` (a slot of the host, or its ``__dict__``).

    Examples
    --------
    >>> rec = cldata.RecordingView("recording.h5")               # doctest: +SKIP
    >>> rec.analyse_network_bursts(0.01, 1.0, 0.5).bursts[0]      # doctest: +SKIP
    Burst(start_frame=1200, end_frame=1500)
    """

    __slots__ = ()

    # -- the host's hooks -------------------------------------------------------------------------

    def _toolkit_snapshot(self) -> SpikeData:  # pragma: no cover - every host defines it
        raise NotImplementedError(f"{type(self).__name__} does not say where its spikes are")

    def _toolkit_stims(self) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - every host defines it
        raise NotImplementedError(f"{type(self).__name__} does not say where its stims are")

    # -- the window ---------------------------------------------------------------------------

    def analysis_timestamp_limit(self, minimum_timestamp: int | None = None,
                                 maximum_timestamp: int | None = None) -> None:
        """Limit every later ``analyse_*`` call to spikes with timestamps in ``[minimum, maximum)``.

        Timestamps are frames from the start of the recording; ``None`` resets that end to its
        default (0 and ``duration_frames``; for a view made with ``between`` its window's ends).
        Inside the window the analyses use frames relative to its start. A windowed view
        (``rec.between(start, stop)``, also in seconds) is the same thing without state.

        Checks, in the official order: ``minimum < 0``, ``maximum > duration_frames``, then
        ``minimum > maximum`` raise :class:`ValueError`; ``minimum == maximum`` (a zero-length
        window) is accepted.

        Official quirk kept (spec §14.1): when ``minimum`` is valid but ``maximum`` is past the
        end, the new ``minimum`` has already been taken when the error is raised; after
        ``minimum > maximum`` both ends keep their previous values. (The official code may
        also keep results cached from before the failed call; cldata computes every result
        from the current window, so none is stale.)

        Examples
        --------
        >>> rec.analysis_timestamp_limit(25_000, 50_000)   # doctest: +SKIP
        >>> rec.analysis_timestamp_limit()                 # the whole recording again  # doctest: +SKIP
        """
        whole = self._toolkit_snapshot()
        previous = getattr(self, "_toolkit_limit", (None, None))
        lo_given = None if minimum_timestamp is None else int(minimum_timestamp)
        hi_given = None if maximum_timestamp is None else int(maximum_timestamp)
        lo = whole.lo if lo_given is None else lo_given
        hi = whole.hi if hi_given is None else hi_given
        if lo < 0:
            raise ValueError(f"minimum_timestamp {lo} is negative: timestamps count frames from the "
                             "recording's start")
        if hi > whole.duration_frames:
            self._toolkit_limit = (lo_given, previous[1])  # official quirk: the new minimum sticks
            raise ValueError(f"maximum_timestamp {hi} is beyond the recording's {whole.duration_frames} frames")
        checked_window(whole.duration_frames, lo, hi)
        self._toolkit_limit = (lo_given, hi_given)

    def analysis_data(self) -> SpikeData:
        """The spikes and window the next ``analyse_*`` call uses (read once per file).

        Hand it to the functions of :mod:`cldata.toolkit` to call them directly.

        Examples
        --------
        >>> data = rec.analysis_data()                     # doctest: +SKIP
        >>> data.lo, data.hi                               # doctest: +SKIP
        (0, 250000)
        """
        whole = self._toolkit_snapshot()
        lo, hi = getattr(self, "_toolkit_limit", (None, None))
        if lo is None and hi is None:
            return whole
        return with_window(whole, whole.lo if lo is None else lo, whole.hi if hi is None else hi)

    # -- the analyses -------------------------------------------------------------------------

    def analyse_firing_stats(self, bin_size_sec: float = 1.0) -> Any:
        """Spike counts and rates per channel and bin, and inter-spike intervals (spec §5).

        Returns an :class:`~cldata.toolkit.firing.AnalysisResultFiringStats`. Official quirks
        kept (§14.4): ``channel_mean_firing_rates`` and ``channel_var_firing_rates`` are of counts
        per bin (rates only for 1 s bins), ``culture_var_firing_rates`` is a mean of variances,
        and the culture ISI statistics are over the per-channel ISI means. A zero-length window
        raises :class:`ValueError`.

        Examples
        --------
        >>> rec.analyse_firing_stats(bin_size_sec=0.5).firing_counts.shape   # doctest: +SKIP
        (64, 20)
        """
        # why here: scipy and networkx (~0.3 s): loaded on the first call, not by `import cldata`
        from cldata.toolkit.firing import analyse_firing_stats

        return analyse_firing_stats(self.analysis_data(), bin_size_sec)

    def analyse_network_bursts(self, bin_size_sec: float, onset_freq_hz: float, offset_freq_hz: float,
                               min_active_channels: int | None = None) -> Any:
        """Network bursts by population-rate thresholds with hysteresis (spec §6).

        Returns an :class:`~cldata.toolkit.network_bursts.AnalysisResultNetworkBursts`. Official
        quirks kept (§14.2): the bins cover the whole recording even when a window is set (the
        window's spikes fill the first bins) and an open burst closes at ``duration_frames``;
        the thresholds scale with ``min_active_channels``, the rate trace with the channel count.

        Examples
        --------
        >>> len(rec.analyse_network_bursts(0.01, onset_freq_hz=2.0, offset_freq_hz=1.0).bursts)  # doctest: +SKIP
        12
        """
        # why here: scipy and networkx (~0.3 s): loaded on the first call, not by `import cldata`
        from cldata.toolkit.network_bursts import analyse_network_bursts

        return analyse_network_bursts(
            self.analysis_data(), bin_size_sec, onset_freq_hz, offset_freq_hz, min_active_channels)

    def analyse_criticality(self, bin_size_sec: float, percentile_threshold: float,
                            max_lags_branching_ratio: int = 40, duration_thresholds: tuple[int, int] = (2, 5),
                            min_spike_count_threshold: int = 10, n_bootstraps: int = 100,
                            random_seed: int = 42) -> Any:
        """Avalanches, power-law exponents, DCC, shape collapse and branching ratio (spec §7).

        Returns an :class:`~cldata.toolkit.criticality.AnalysisResultCriticality`. Official
        quirks kept: the spike at the spike table's last timestamp is never counted, and that
        timestamp is the whole table's even with a window (§14.3); the power-law fits'
        normalisation, ``xmin`` search and bounds (§14.5); branching-ratio lags stop at
        ``max_lags_branching_ratio − 1`` and ``b`` keeps its sign (§14.6); β is searched in
        ``[0, 1]`` (§14.7). Where the official code fails on a bug (no spikes, no bins) this
        raises :class:`ValueError`.

        Examples
        --------
        >>> rec.analyse_criticality(0.004, 0.5).branching_ratio   # doctest: +SKIP
        1.019
        """
        # why here: scipy and networkx (~0.3 s): loaded on the first call, not by `import cldata`
        from cldata.toolkit.criticality import analyse_criticality

        return analyse_criticality(
            self.analysis_data(), bin_size_sec, percentile_threshold, max_lags_branching_ratio,
            tuple(duration_thresholds), min_spike_count_threshold, n_bootstraps, random_seed)

    def analyse_information_entropy(self, bin_size_sec: float, fillna: float | None = 0.0,
                                    log_base: float | None = None) -> Any:
        """Shannon entropy of the population's spike-count distribution per bin (spec §8).

        Returns an :class:`~cldata.toolkit.entropy.AnalysisResultInformationEntropy`. Official
        quirk kept (§14.14): the bin width is rounded to frames (the other methods truncate).

        Examples
        --------
        >>> rec.analyse_information_entropy(0.1, log_base=2).information_entropy_per_time_bin.shape  # doctest: +SKIP
        (100,)
        """
        # why here: scipy and networkx (~0.3 s): loaded on the first call, not by `import cldata`
        from cldata.toolkit.entropy import analyse_information_entropy

        return analyse_information_entropy(
            self.analysis_data(), bin_size_sec, fillna, log_base)

    def analyse_lempel_ziv_complexity(self, bin_size_sec: float, min_bin_count: int = 2, normalise: bool = True,
                                      use_binary: bool = True) -> Any:
        """Lempel–Ziv complexity of each channel's binned spike train (spec §9).

        Returns an :class:`~cldata.toolkit.lempel_ziv.AnalysisResultComplexityLempelZiv`.
        Official quirks kept (§14.8, §14.14): in binary mode a silent channel gets a non-zero
        score, the trailing phrase is not counted, and the bin width is rounded.

        Examples
        --------
        >>> rec.analyse_lempel_ziv_complexity(0.01).lzc_scores_per_channel.shape   # doctest: +SKIP
        (64, 1)
        """
        # why here: scipy and networkx (~0.3 s): loaded on the first call, not by `import cldata`
        from cldata.toolkit.lempel_ziv import analyse_lempel_ziv_complexity

        return analyse_lempel_ziv_complexity(
            self.analysis_data(), bin_size_sec, min_bin_count, normalise, use_binary)

    def analyse_dct_features(self, k: int) -> Any:
        """Spatial DCT of the spike counts on the 8×8 MEA layout (spec §10).

        Returns an :class:`~cldata.toolkit.dct.AnalysisResultDctFeatures`. Official quirks kept
        (§14.9): row 0 of the basis is scaled by 1/√2 (not orthonormal: ``dct00`` is half the
        spike count), and for ``k ≥ 11`` feature keys collide (the later one wins).

        Examples
        --------
        >>> rec.analyse_dct_features(k=2).dct_features["dct00_firing"]   # doctest: +SKIP
        362.0
        """
        # why here: scipy and networkx (~0.3 s): loaded on the first call, not by `import cldata`
        from cldata.toolkit.dct import analyse_dct_features

        return analyse_dct_features(self.analysis_data(), k)

    def analyse_spike_triggered_histogram(self, bin_size_sec: float, start_sec: float, end_sec: float,
                                          num_channels: int, min_firing_rate_threshold_hz: float = 0.1) -> Any:
        """Cross-correlation histograms between the most active channels (spec §11).

        Returns an :class:`~cldata.toolkit.spike_triggered.AnalysisResultSpikeTriggeredHistogram`.
        Official quirks kept (§14.10): rates divide by the whole recording's duration, and the
        float ``arange`` bin edges put zero-lag coincidences in the bin left of 0. Official bug
        fixed: its ``save()`` raises ``TypeError``; cldata writes the pair keys as ``"a,b"``
        and ``from_file()`` reads them back.

        Examples
        --------
        >>> sth = rec.analyse_spike_triggered_histogram(0.01, 0.05, 0.05, num_channels=3)  # doctest: +SKIP
        >>> sorted(sth.histograms)[:2]                                                  # doctest: +SKIP
        [(8, 9), (8, 10)]
        """
        # why here: scipy and networkx (~0.3 s): loaded on the first call, not by `import cldata`
        from cldata.toolkit.spike_triggered import analyse_spike_triggered_histogram

        return analyse_spike_triggered_histogram(
            self.analysis_data(), bin_size_sec, start_sec, end_sec, num_channels, min_firing_rate_threshold_hz)

    def analyse_functional_connectivity(self, bin_size_sec: float, correlation_threshold: float = 0.6) -> Any:
        """Correlation graph of the channels, Louvain communities and graph summaries (spec §12).

        Returns an :class:`~cldata.toolkit.connectivity.AnalysisResultsFunctionalConnectivity`.
        Official quirks kept (§14.11): Louvain draws from numpy's global random state (seed it
        with ``numpy.random.seed`` for a repeatable partition) and is skipped silently when a
        node's weighted degree is negative; betweenness takes the correlation as path length.

        Examples
        --------
        >>> rec.analyse_functional_connectivity(0.1, 0.3).modularity_index   # doctest: +SKIP
        0.21
        """
        # why here: scipy and networkx (~0.3 s): loaded on the first call, not by `import cldata`
        from cldata.toolkit.connectivity import analyse_functional_connectivity

        return analyse_functional_connectivity(
            self.analysis_data(), bin_size_sec, correlation_threshold)

    # -- the plots ----------------------------------------------------------------------------

    def plot_spikes_and_stims(self, figsize: tuple[float, float] = (12, 8), title: str | None = None,
                              save_path: str | None = None, limit_to_time_range_secs: tuple[float, float] | None = None,
                              limit_to_channels: list[int] | None = None) -> None:
        """Raster of spikes (black) and stims (red) per channel over the analysis window (spec §13).

        Saves the figure to ``save_path`` (tight bounding box) or shows it, then closes it.
        Needs matplotlib (``pip install "cldata[plot]"``).

        Examples
        --------
        >>> rec.plot_spikes_and_stims(save_path="raster.png", limit_to_channels=[8, 9])   # doctest: +SKIP
        """
        data = self.analysis_data()
        stim_ts, stim_ch = self._toolkit_stims()
        # why here: matplotlib, an optional extra: loaded when drawing
        from cldata.toolkit.plots.raster import plot_spikes_and_stims

        plot_spikes_and_stims(
            data, stim_ts, stim_ch, figsize=figsize, title=title, save_path=save_path,
            limit_to_time_range_secs=limit_to_time_range_secs, limit_to_channels=limit_to_channels)

    @staticmethod
    def plot_spike(spike: Any, figsize: tuple[float, float] = (6, 2), title: str | None = None,
                   save_path: str | None = None, ax: Any = None) -> Any:
        """One spike's 75-sample waveform in µV, the spike's sample marked (spec §13).

        ``spike`` is a row of the spikes table (``rec.spikes[0]``, ``rec.read_spikes()[0]``), a
        ``(timestamp, channel, samples)`` tuple or an object with those attributes. Returns the
        Axes. With ``ax`` and no ``save_path`` it just draws (the official code writes a stray
        ``None.png``). Needs matplotlib.

        Examples
        --------
        >>> ax = cldata.RecordingView.plot_spike(rec.spikes[0], save_path="spike.png")   # doctest: +SKIP
        """
        # why here: matplotlib, an optional extra: loaded when drawing
        from cldata.toolkit.plots.raster import plot_spike

        return plot_spike(spike, figsize=figsize, title=title,
                                                       save_path=save_path, ax=ax)
