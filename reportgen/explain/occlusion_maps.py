"""Occlusion sensitivity: occluded copies built by broadcasting, predicted in big batches.

References:
    Zeiler & Fergus 2014, "Visualizing and Understanding Convolutional Networks",
    https://arxiv.org/abs/1311.2901
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from reportgen.errors import AnalysisError
from reportgen.explain.batching import CHUNK_BYTES, _chunks, _classes

__all__ = ["occlusion", "occlusion_positions"]



def _starts(size: int, patch: int, stride: int) -> list[int]:
    """Window starts along one axis; the last window always ends on the last row/column."""
    patch = min(patch, size)
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] != size - patch:
        starts.append(size - patch)
    return starts


def occlusion_positions(height: int, width: int, patch: int, stride: int | None = None) -> np.ndarray:
    """Top-left corners ``(P, 2)`` of the occlusion windows, row-major.

    Windows are ``patch`` × ``patch`` (clipped to the image), ``stride`` apart (default: the
    patch size), plus one more at the bottom/right edge when ``(size − patch) % stride != 0``
    so that every pixel is covered.
    """
    if patch < 1 or (stride is not None and stride < 1):
        raise AnalysisError(f"patch and stride must be at least 1, got {patch} and {stride}")
    stride = stride or patch
    rows, cols = _starts(height, patch, stride), _starts(width, patch, stride)
    grid_rows, grid_cols = np.meshgrid(rows, cols, indexing="ij")
    return np.stack([grid_rows.ravel(), grid_cols.ravel()], axis=1).astype(np.int64)


def occlusion(predict_fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, class_index: np.ndarray,
              patch: int = 3, stride: int | None = None, fill: float = 0.0, batch_size: int = 512,
              return_positions: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Occlusion sensitivity (Zeiler & Fergus 2014).

    For every window position the image is copied with the window set to ``fill``; the map
    value of a pixel is the mean, over the windows covering it, of ``p_c(x) − p_c(x occluded)``
    (positive: hiding it lowers the class probability; negative: raises it).  The occluded
    copies of all images are built with numpy broadcasting, chunk by chunk, and predicted in
    big batches.

    Args:
        predict_fn: Batched probabilities, e.g. :func:`~reportgen.explain.batching.make_predict_fn`.
        x: Preprocessed inputs ``(N, H, W, C)``.
        class_index: Class per image ``(N,)`` (or one int).
        patch: Window side in pixels.
        stride: Step between windows (default: ``patch``).
        fill: Value (in model-input units) written into the window.
        batch_size: Occluded copies per ``predict_fn`` call (fewer for very large images).
        return_positions: Also return the window corners (their count is ``len(positions)``).

    Returns:
        float32 ``(N, H, W)``, or ``(maps, positions (P, 2))`` with ``return_positions``.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 4:
        raise AnalysisError(f"x has shape {x.shape}; expected (N, height, width, channels)")
    count, height, width, _ = x.shape
    c = _classes(class_index, count, None)
    positions = occlusion_positions(height, width, patch, stride)
    side_h, side_w = min(patch, height), min(patch, width)
    # masks[p, i, j]: pixel (i, j) lies in window p, built by broadcasting rows × columns.
    rows = np.arange(height)[None, :] - positions[:, :1]
    cols = np.arange(width)[None, :] - positions[:, 1:]
    masks = ((rows >= 0) & (rows < side_h))[:, :, None] & ((cols >= 0) & (cols < side_w))[:, None, :]

    if not count:
        empty = np.zeros((0, height, width), np.float32)
        return (empty, positions) if return_positions else empty
    probabilities = np.asarray(predict_fn(x))
    c = _classes(c, count, probabilities.shape[-1])  # now the class count is known
    base = probabilities[np.arange(count), c]
    owner = np.repeat(np.arange(count), len(positions))
    where = np.tile(np.arange(len(positions)), count)
    size = max(1, min(batch_size, CHUNK_BYTES // max(x[0].nbytes, 1)))
    drops = np.zeros(len(owner), dtype=np.float64)
    for part in _chunks(len(owner), size):
        occluded = np.where(masks[where[part], :, :, None], np.float32(fill), x[owner[part]])
        probabilities = np.asarray(predict_fn(occluded))
        drops[part] = base[owner[part]] - probabilities[np.arange(len(occluded)), c[owner[part]]]
    flat = masks.reshape(len(positions), -1).astype(np.float64)
    covered = flat.sum(axis=0)  # every pixel is covered at least once (see _starts)
    maps = drops.reshape(count, len(positions)) @ flat / covered
    maps = maps.reshape(count, height, width).astype(np.float32)
    return (maps, positions) if return_positions else maps

