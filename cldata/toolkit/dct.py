"""DCT features (spec §10): a spatial discrete cosine transform of spike counts on the MEA layout.

The model (Ahmed, Natarajan & Rao 1974): place each channel's spike count in the window
(spike-train frames, duplicates collapsed) on the common 8×8 layout, ``G[r][c] = s[8c + r]``,
and project it on the first ``k`` cosine basis vectors along both axes:
``F[i][j] = Σ_r Σ_c G[r][c] · V[i][r] · V[j][c]`` with
``V[i][j] = cos((π/8)·(j + 0.5)·i)``, row 0 scaled by ``1/√2`` and rows ≥ 1 by ``√(2/8)``.

Official quirks reproduced (spec §14.9): the basis is **not** the orthonormal DCT-II — row 0 is
``1/√2 ≈ 0.7071`` instead of ``√(1/8)``, so ``dct00 = Σ counts / 2``; ``k > 8`` simply continues
the cosines; the feature keys ``"dct{i}{j}_firing"`` collide for ``k >= 11`` (i=1, j=10 and
i=11, j=0 both give ``"dct110_firing"``) and the later one, in row-major order, wins.

Examples
--------
>>> r = analyse_dct_features(rec.analysis_data(), k=2)   # doctest: +SKIP
>>> sorted(r.dct_features)                            # doctest: +SKIP
['dct00_firing', 'dct01_firing', 'dct10_firing', 'dct11_firing']
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from cldata.toolkit.preprocess import MEA_LAYOUT, SpikeData, check_layout, spike_train
from cldata.toolkit.results import FloatArray, ToolkitResult, metadata_of

LAYOUT_SIDE = 8


@dataclass(eq=False)
class AnalysisResultDctFeatures(ToolkitResult):
    """Spatial DCT features of the spike counts on the MEA layout (spec §10).

    Examples
    --------
    >>> result.dct_features["dct00_firing"]   # doctest: +SKIP
    361.99999999999994
    """

    mea_layout: list[list[int]]
    k: int
    dct_height_coefficients: FloatArray
    dct_width_coefficients: FloatArray
    dct_features: dict[str, float]

    def plot(self, figsize: tuple[float, float] = (9, 8), title: str | None = None,
             save_path: str | None = None, cmap: str = "RdBu") -> Any:
        """The k×k images of the basis products ``V[i]ᵀ ⊗ V[j]`` (the basis, not the features).

        One symmetric colour scale ``±max|value|`` and one colour bar "DCT Coefficient
        Values"; panels "DCT basis (i,j)"; default title "Discrete Cosine Transform (DCT)
        with k={k}". Saves to ``save_path`` (tight) or shows the figure; returns the Figure.
        Needs matplotlib (``pip install "cldata[plot]"``).

        Examples
        --------
        >>> fig = result.plot(save_path="dct.png")   # doctest: +SKIP
        """
        # why here: the plots sit above the results they draw (a documented back edge of
        # tests/test_architecture.py) and import matplotlib, an optional extra, when drawing
        from cldata.toolkit.plots.dct import plot_dct_basis

        return plot_dct_basis(self, figsize=figsize, title=title, save_path=save_path, cmap=cmap)


def dct_basis(k: int, n: int = LAYOUT_SIDE) -> np.ndarray:
    """The official basis ``V`` (k×n): ``cos((π/n)(j+0.5)i)``, row 0 × 1/√2, rows ≥ 1 × √(2/n).

    Examples
    --------
    >>> dct_basis(2)[0, 0], dct_basis(2)[1, 0]
    (np.float64(0.7071067811865475), np.float64(0.4903926402016152))
    """
    i = np.arange(k, dtype=np.float64)[:, None]
    j = np.arange(n, dtype=np.float64)[None, :]
    basis = np.cos((math.pi / n) * (j + 0.5) * i)
    basis[:1] *= 1 / math.sqrt(2)
    basis[1:] *= math.sqrt(2 / n)
    return basis


def analyse_dct_features(data: SpikeData, k: int) -> AnalysisResultDctFeatures:
    """Spatial DCT coefficients of the per-channel spike counts on the 8×8 MEA layout.

    Parameters
    ----------
    data
        The recording's spikes and window.
    k
        Number of basis vectors per axis (``k×k`` features).

    Returns
    -------
    AnalysisResultDctFeatures
        The layout, ``k``, the basis (as both height and width coefficients, k×8) and
        ``dct_features``: ``"dct{i}{j}_firing" -> F[i][j]`` in row-major order.

    Raises
    ------
    ValueError
        If the recording does not follow the common MEA layout, has no spikes table, or does
        not have 64 channels (an assertion in the official code).

    Examples
    --------
    >>> analyse_dct_features(data, 3).dct_features["dct00_firing"]   # doctest: +SKIP
    361.99999999999994
    """
    check_layout(data)
    if data.channel_count != LAYOUT_SIDE * LAYOUT_SIDE:
        raise ValueError(f"DCT features need the 64 channels of the MEA layout; the recording has {data.channel_count}")
    train = spike_train(data)
    counts = np.array([train[c].size for c in range(data.channel_count)], dtype=np.float64)
    grid = counts[MEA_LAYOUT]
    basis = dct_basis(int(k))
    # F[i][j] = Σ_r Σ_c G[r][c] V[i][r] V[j][c]
    features = basis @ grid @ basis.T
    keyed: dict[str, float] = {}
    for i in range(basis.shape[0]):
        for j in range(basis.shape[0]):
            keyed[f"dct{i}{j}_firing"] = float(features[i, j])
    return AnalysisResultDctFeatures(metadata=metadata_of(data), mea_layout=MEA_LAYOUT.tolist(), k=int(k),
                                     dct_height_coefficients=basis, dct_width_coefficients=basis.copy(),
                                     dct_features=keyed)
