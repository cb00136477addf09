"""Numbers computed from explanation maps: mass inside a region, rank agreement of two maps.

References:
    Adebayo et al. 2018, "Sanity Checks for Saliency Maps", https://arxiv.org/abs/1810.03292
    (Spearman rank correlation between maps of the trained and a randomised model).
"""

from __future__ import annotations

import numpy as np

from reportgen.errors import AnalysisError

__all__ = ["rank_correlation", "region_mass"]


def region_mass(maps: np.ndarray, region_mask: np.ndarray) -> np.ndarray:
    """Share of each map's positive mass that lies inside ``region_mask``.

    Args:
        maps: ``(N, H, W)`` (a single ``(H, W)`` map is accepted); negative values count as 0.
        region_mask: Boolean ``(H, W)``.

    Returns:
        float ``(N,)`` in [0, 1]; 0 for a map with no positive mass.
    """
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim == 2:
        maps = maps[None]
    mask = np.asarray(region_mask, dtype=bool)
    if maps.ndim != 3 or maps.shape[1:] != mask.shape:
        raise AnalysisError(f"maps {maps.shape} and region mask {mask.shape} do not match")
    positive = np.clip(maps, 0.0, None)
    total = positive.sum(axis=(1, 2))
    inside = (positive * mask).sum(axis=(1, 2))
    return np.divide(inside, total, out=np.zeros_like(total), where=total > 0)


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two maps (flattened, ties get their mean rank).

    Returns 0.0 when either map is constant (e.g. an all-zero Grad-CAM of a randomised
    model): no ranking, so no agreement; unlike ``nan`` this keeps means over maps defined.
    """
    from scipy.stats import spearmanr

    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        raise AnalysisError(f"cannot correlate maps of {a.size} and {b.size} values")
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(spearmanr(a, b).statistic)
