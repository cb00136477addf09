"""RISE: random smooth masks, masked copies predicted in big batches, maps from the scores.

References:
    Petsiuk et al. 2018, "RISE: Randomized Input Sampling for Explanation of Black-box Models",
    https://arxiv.org/abs/1806.07421 (reference code: github.com/eclique/RISE)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from reportgen.errors import AnalysisError
from reportgen.explain.batching import CHUNK_BYTES, _classes, make_predict_fn

if TYPE_CHECKING:  # pragma: no cover
    import keras

__all__ = ["rise", "rise_masks"]



def _bilinear_matrix(size: int, cells: int) -> np.ndarray:
    """``(size, cells)`` weights of a bilinear upsampling of ``cells`` values to ``size``.

    Half-pixel centres, edges clamped: the same sampling as ``tf.image.resize(bilinear)``.
    """
    source = np.clip((np.arange(size) + 0.5) * cells / size - 0.5, 0.0, cells - 1.0)
    left = np.floor(source).astype(np.int64)
    right = np.minimum(left + 1, cells - 1)
    frac = source - left
    weights = np.zeros((size, cells))
    np.add.at(weights, (np.arange(size), left), 1.0 - frac)
    np.add.at(weights, (np.arange(size), right), frac)
    return weights


class _MaskSource:
    """The random grids and shifts of RISE's masks, upsampled on demand in chunks.

    Grids and shifts come from two streams spawned from ``seed``, so the first k masks do not
    depend on how many are drawn.
    """

    def __init__(self, count: int, height: int, width: int, cells: int, p: float, seed: int):
        if count < 1 or cells < 1 or not 0.0 < p <= 1.0:
            raise AnalysisError(f"RISE needs masks ≥ 1, cells ≥ 1 and 0 < p ≤ 1; got masks={count}, "
                                f"cells={cells}, p={p}")
        grid_seed, shift_seed = np.random.SeedSequence(seed).spawn(2)
        self.grids = (np.random.default_rng(grid_seed).random((count, cells, cells)) < p).astype(np.float64)
        # Paper: cells of ⌈H/s⌉ × ⌈W/s⌉ pixels, the grid upsampled to (s + 1) cells and cropped
        # to H × W at a random offset within one cell.
        cell_h, cell_w = -(-height // cells), -(-width // cells)
        shifts = np.random.default_rng(shift_seed).integers(0, (cell_h, cell_w), size=(count, 2))
        rows = _bilinear_matrix((cells + 1) * cell_h, cells)
        cols = _bilinear_matrix((cells + 1) * cell_w, cells)
        self.rows = rows[shifts[:, :1] + np.arange(height)]  # (count, H, cells)
        self.cols = cols[shifts[:, 1:] + np.arange(width)]  # (count, W, cells)

    def __call__(self, part: slice) -> np.ndarray:
        grids, rows, cols = self.grids[part], self.rows[part], self.cols[part]
        return np.einsum("khs,kst,kwt->khw", rows, grids, cols, optimize=True).astype(np.float32)


def rise_masks(count: int, height: int, width: int, cells: int = 7, p: float = 0.5,
               seed: int = 0) -> np.ndarray:
    """RISE's soft masks, float32 ``(count, H, W)`` in [0, 1] (Petsiuk et al. 2018, §3.2).

    Each mask: a ``cells`` × ``cells`` grid of Bernoulli(``p``) ones, bilinearly upsampled to
    ``(cells + 1)`` cells of ``⌈H / cells⌉`` × ``⌈W / cells⌉`` pixels, cropped to H × W at a
    random offset of less than one cell.  The same masks as :func:`rise` draws for ``seed``.
    """
    return _MaskSource(count, height, width, cells, p, seed)(slice(None))


def rise(predict_fn_or_model: Callable[[np.ndarray], np.ndarray] | keras.Model, x: np.ndarray,
         targets: np.ndarray, masks: int = 2000, cells: int = 7, p: float = 0.5, seed: int = 0,
         fill: float = 0.0, batch_size: int = 256, raw: bool = False) -> np.ndarray:
    """RISE saliency (Petsiuk et al. 2018) from ``masks`` random masks shared by all images.

    Each masked copy is ``M ⊙ x + (1 − M) · fill``.  The paper's saliency of pixel λ is
    ``S(λ) = Σ_i p_c(masked_i) M_i(λ) / (masks · p)``, about ``E[p_c | λ kept]``; it sits near
    the mean masked score everywhere.  The default map removes that level:
    ``S(λ) − p̄_c · Σ_i M_i(λ) / (masks · p)`` (the covariance of the score with ``M(λ)``
    over ``p``), positive where keeping pixel λ raises the class score, negative where it
    lowers it, ~0 where the prediction does not depend on it; then each map is divided by its
    largest absolute value.  The masked copies of all images are predicted in big batches.

    Args:
        predict_fn_or_model: Batched probabilities (e.g.
            :func:`~reportgen.explain.batching.make_predict_fn`) or the classifier itself
            (compiled with ``make_predict_fn(model, batch_size)``).
        x: Preprocessed inputs ``(N, H, W, C)``.
        targets: Class per image ``(N,)`` (or one int).
        masks: Number of masks (the paper uses 4000–8000 on ImageNet; fewer for small inputs).
        cells: Grid side ``s``.
        p: Probability of keeping a grid cell.
        seed: Seed of the masks (see :func:`rise_masks`).
        fill: Value (model-input units) shown where a mask hides the image.
        batch_size: Masked copies per compiled call when a model is given.
        raw: Return the paper's ``S`` itself (non-negative, in probability units).

    Returns:
        float32 ``(N, H, W)``: signed maps in [−1, 1], or ``S`` with ``raw=True``.
    """
    predict = predict_fn_or_model
    if not _is_callable_predict(predict):
        predict = make_predict_fn(predict_fn_or_model, batch_size)
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 4:
        raise AnalysisError(f"x has shape {x.shape}; expected (N, height, width, channels)")
    count, height, width, _ = x.shape
    c = _classes(targets, count, None)
    source = _MaskSource(masks, height, width, cells, p, seed)
    if not count:
        return np.zeros((0, height, width), np.float32)
    chunk = max(1, min(masks, CHUNK_BYTES // max(x.nbytes, 1)))
    weighted = np.zeros((count, height * width))  # Σ_i p_c,i M_i(λ)
    coverage = np.zeros(height * width)  # Σ_i M_i(λ)
    score_sum = np.zeros(count)  # Σ_i p_c,i
    rows = np.arange(count)
    for start in range(0, masks, chunk):
        m = source(slice(start, min(start + chunk, masks)))
        # All images × these masks, image-major: row n·k + j is image n under mask j.
        keep = m[None, :, :, :, None]
        masked = (x[:, None] * keep + np.float32(fill) * (1.0 - keep)).reshape(-1, *x.shape[1:])
        scores = np.asarray(predict(masked)).reshape(count, len(m), -1)
        c = _classes(c, count, scores.shape[-1])  # the class count is known now
        target = scores[rows, :, c].astype(np.float64)  # (N, k)
        flat = m.reshape(len(m), -1).astype(np.float64)
        weighted += target @ flat
        coverage += flat.sum(axis=0)
        score_sum += target.sum(axis=1)
    saliency = weighted / (masks * p)
    if raw:
        return saliency.reshape(count, height, width).astype(np.float32)
    centred = saliency - (score_sum / masks)[:, None] * coverage[None] / (masks * p)
    peak = np.abs(centred).max(axis=1, keepdims=True)
    maps = np.divide(centred, peak, out=np.zeros_like(centred), where=peak > 0)
    return maps.reshape(count, height, width).astype(np.float32)


def _is_callable_predict(candidate: Any) -> bool:
    """A predict function rather than a Keras model (models are callable too)."""
    try:
        import keras
    except ImportError:  # pragma: no cover - explain needs keras anyway
        return callable(candidate)
    return callable(candidate) and not isinstance(candidate, keras.Model)
