"""Lempel–Ziv complexity (spec §9): LZ78 phrase counts of each channel's binned activity.

The model (Ziv & Lempel 1978; normalisation after Lempel & Ziv 1976 and Kaspar & Schuster
1987): bin the window with the **rounded** width ``max(1, int(round(bin_size_sec * fs)))``
frames (official quirk §14.14), giving ``n`` bins per channel. Each channel's sequence of
symbols — ``1``/``0`` for active/silent bins (``use_binary``) or the raw counts — is parsed
left to right into LZ78 phrases: the current phrase grows by one symbol while it is already
in the dictionary; the first time it is not, it is added and the current phrase restarts
empty. The score is the number of phrases ``c``, or with ``normalise``
``c * (log(n) / log(k)) / n`` with ``k`` the alphabet size.

Official quirks reproduced (spec §14.8): in binary mode the alphabet size is always 2, so a
silent channel's all-zero sequence still builds phrases and scores above 0; a trailing
incomplete phrase is not counted. In count mode ``k`` is the number of distinct counts of that
channel and ``k <= 1`` scores 0.0. ``n < min_bin_count`` scores 0.0.

The parse walks a trie of phrases, taking each run of zeros (silent bins) in one step per
phrase, and identical channel sequences are parsed once.

Examples
--------
>>> r = analyse_lempel_ziv_complexity(rec.analysis_data(), bin_size_sec=0.01)   # doctest: +SKIP
>>> r.lzc_scores_per_channel.shape                                          # doctest: +SKIP
(64, 1)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cldata.toolkit.preprocess import SpikeData, count_matrix, require_spike_table, rounding_width
from cldata.toolkit.results import FloatArray, ToolkitResult, metadata_of


@dataclass(eq=False)
class AnalysisResultComplexityLempelZiv(ToolkitResult):
    """Lempel–Ziv complexity per channel, shape (C, 1) (spec §9).

    Examples
    --------
    >>> result.lzc_scores_per_channel[1, 0]   # doctest: +SKIP
    0.5082549985177665
    """

    bin_size_sec: float
    lzc_scores_per_channel: FloatArray


def lz78_phrase_count(symbols: Sequence[int], alphabet: int) -> int:
    """LZ78 phrases of ``symbols`` (ints in ``0..alphabet-1``), a trailing incomplete phrase not counted.

    The phrases form a trie (node ``0`` is the empty phrase; phrase ``i`` is node ``i``).
    Binned spike trains are mostly runs of the symbol ``0`` (silent bins), so a run of zeros
    is walked in one step, not symbol by symbol: the nodes linked by ``0``-edges form chains
    (a chain starts at the root or at a node reached by another symbol and only ever grows at
    its end), and ``r`` zeros from the node at position ``i`` of its chain land at position
    ``i + r`` — or, past the chain's end, add one node there (a phrase ends) and restart at the
    root. The cost is one step per phrase and per non-zero symbol instead of one per symbol.

    Examples
    --------
    >>> lz78_phrase_count([0, 1, 0, 1, 1, 0, 1, 0], 2)   # phrases 0 | 1 | 01 | 10 | 10.. (open)
    4
    """
    sequence = np.asarray(symbols, dtype=np.int64).reshape(-1)
    n = int(sequence.size)
    where = np.flatnonzero(sequence)
    marks = where.tolist() + [n]          # positions of the non-zero symbols, then the end
    values = sequence[where].tolist()
    children: dict[int, int] = {}        # node * alphabet + symbol -> child, for symbols != 0
    chains: list[list[int]] = [[0]]      # the chains of 0-edges; the root's is the first
    chain_of = [0]                       # node -> its chain
    place = [0]                          # node -> its position in that chain
    node = position = phrases = k = 0
    while position < n:
        run = marks[k] - position
        if run:
            chain = chains[chain_of[node]]
            room = len(chain) - 1 - place[node]
            if run <= room:              # the zeros stay inside the trie: no phrase ends
                node = chain[place[node] + run]
                position += run
                continue
            phrases += 1                 # one zero past the chain's end: a new phrase
            chain.append(phrases)
            chain_of.append(chain_of[node])
            place.append(len(chain) - 1)
            node = 0
            position += room + 1
            continue
        key = node * alphabet + values[k]
        child = children.get(key)
        if child is None:
            phrases += 1
            children[key] = phrases
            chain_of.append(len(chains))
            place.append(0)
            chains.append([phrases])
            node = 0
        else:
            node = child
        position += 1
        k += 1
    return phrases


def lz_score(counts: np.ndarray, min_bin_count: int = 2, normalise: bool = True, use_binary: bool = True) -> float:
    """One channel's score from its counts per bin (spec §9 steps 1–4).

    Examples
    --------
    >>> lz_score(np.array([0, 0, 0, 0]), normalise=False)   # phrases 0 | 00 | (0 open)
    2.0
    """
    n = int(counts.size)
    if n < min_bin_count:
        return 0.0
    if use_binary:
        symbols, k = (counts > 0).astype(np.int64), 2
    else:
        values, symbols = np.unique(counts, return_inverse=True)
        k = int(values.size)
        if k <= 1:
            return 0.0
    c = lz78_phrase_count(symbols, k)
    if not normalise:
        return float(c)
    if n <= 1:
        return 0.0
    return c * (math.log(n) / math.log(k)) / n


def analyse_lempel_ziv_complexity(data: SpikeData, bin_size_sec: float, min_bin_count: int = 2,
                                  normalise: bool = True, use_binary: bool = True) -> AnalysisResultComplexityLempelZiv:
    """Lempel–Ziv (LZ78) complexity of each channel's binned spiking.

    Parameters
    ----------
    data
        The recording's spikes and window.
    bin_size_sec
        Bin width in seconds, rounded to whole frames (at least one).
    min_bin_count
        Channels are scored 0.0 when there are fewer bins than this.
    normalise
        Normalise the phrase count by ``log(n) / log(k) / n``.
    use_binary
        Symbols are active/silent (alphabet 2) rather than the raw counts.

    Returns
    -------
    AnalysisResultComplexityLempelZiv
        ``lzc_scores_per_channel`` (float64, (C, 1)); all 0.0 for a zero-length window.

    Raises
    ------
    ValueError
        Without a spikes table.

    Examples
    --------
    >>> analyse_lempel_ziv_complexity(data, 0.1, normalise=False).lzc_scores_per_channel[0, 0]  # doctest: +SKIP
    14.0
    """
    require_spike_table(data)
    counts, _ = count_matrix(data, rounding_width(bin_size_sec, data.fs))
    done: dict[bytes, float] = {}
    scores = np.zeros((counts.shape[0], 1), dtype=np.float64)
    for row, channel_counts in enumerate(counts):
        key = (channel_counts > 0).tobytes() if use_binary else channel_counts.tobytes()
        if key not in done:
            done[key] = lz_score(channel_counts, min_bin_count, normalise, use_binary)
        scores[row, 0] = done[key]
    return AnalysisResultComplexityLempelZiv(metadata=metadata_of(data), bin_size_sec=bin_size_sec,
                                             lzc_scores_per_channel=scores)
