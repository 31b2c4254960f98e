"""The DCT basis plot (spec §10): the k×k products of the cosine basis the features project on.

The model: feature ``F[i][j]`` of :func:`~cldata.toolkit.dct.analyse_dct_features` is the
spike-count grid weighted by the 8×8 image ``V[i]ᵀ ⊗ V[j]`` (rows = height, columns = width).
The plot shows those ``k×k`` images — the basis, not the features — on one symmetric colour
scale ``±max|value|`` with one colour bar, each titled "DCT basis (i,j)".

Examples
--------
>>> fig = plot_dct_basis(result, save_path="dct.png")   # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from cldata.toolkit.plots.common import finish, pyplot

if TYPE_CHECKING:  # (typing only: the result's method imports this module)
    from cldata.toolkit.dct import AnalysisResultDctFeatures

__all__ = ["basis_images", "plot_dct_basis"]


def basis_images(height: np.ndarray, width: np.ndarray) -> np.ndarray:
    """``images[i, j] = outer(height[i], width[j])``: the (k, k, 8, 8) basis products.

    Examples
    --------
    >>> basis_images(np.ones((1, 8)), np.ones((1, 8))).shape
    (1, 1, 8, 8)
    """
    height = np.asarray(height, dtype=np.float64)
    width = np.asarray(width, dtype=np.float64)
    return np.einsum("ir,jc->ijrc", height, width)


def plot_dct_basis(result: AnalysisResultDctFeatures, *, figsize: tuple[float, float] = (9, 8),
                   title: str | None = None, save_path: str | os.PathLike[str] | None = None,
                   cmap: str = "RdBu") -> Any:
    """The k×k basis images on a common symmetric colour scale; saved or shown; returns the Figure.

    Raises
    ------
    ValueError
        ``k`` is 0: there is no basis to draw.

    Examples
    --------
    >>> fig = plot_dct_basis(result, cmap="viridis", save_path="dct.png")   # doctest: +SKIP
    """
    k = int(result.k)
    if k < 1:
        raise ValueError(f"the DCT result has k = {k}: no basis to draw (analyse with k >= 1)")
    images = basis_images(result.dct_height_coefficients, result.dct_width_coefficients)
    limit = float(np.abs(images).max())
    fig, grid = pyplot("AnalysisResultDctFeatures.plot").subplots(k, k, figsize=figsize, squeeze=False)
    image = None
    for i in range(k):
        for j in range(k):
            ax = grid[i, j]
            image = ax.imshow(images[i, j], cmap=cmap, vmin=-limit, vmax=limit)
            ax.set_title(f"DCT basis ({i},{j})", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.colorbar(image, ax=grid.ravel().tolist(), label="DCT Coefficient Values")
    fig.suptitle(title if title is not None else f"Discrete Cosine Transform (DCT) with k={k}")
    finish(fig, own=True, save_path=save_path)
    return fig
