"""Deletion and insertion curves: how fast the class probability falls or rises along a map.

Deletion removes the pixels a map ranks highest first; a faithful map makes the probability
of the class fall fast (low area under the curve).  Insertion starts from a picture without
the evidence and adds the top-ranked pixels first; a faithful map makes it rise fast (high
area).  The copies of all images at all steps are predicted as one stream in big batches.

References:
    Petsiuk et al. 2018, "RISE: Randomized Input Sampling for Explanation of Black-box Models",
    §4.1, https://arxiv.org/abs/1806.07421 (reference code: github.com/eclique/RISE)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from reportgen.errors import AnalysisError
from reportgen.explain.batching import CHUNK_BYTES, _chunks, _classes

__all__ = ["FaithfulnessCurves", "blurred", "deletion_insertion", "random_maps"]


@dataclass(frozen=True, eq=False)
class FaithfulnessCurves:
    """Deletion and insertion curves of ``N`` images over ``S`` steps.

    Attributes:
        deletion: ``(N, S + 1)`` probability of the target class (0..1) after removing the
            first ``fractions[k]`` of the pixels in map order; column 0 is the image itself.
        insertion: ``(N, S + 1)`` the same after inserting them into the insertion baseline;
            column 0 is the baseline, the last column the image itself.
        fractions: ``(S + 1,)`` share of the pixels removed / inserted at each step, 0 → 1.
    """

    deletion: np.ndarray
    insertion: np.ndarray
    fractions: np.ndarray

    @property
    def deletion_auc(self) -> np.ndarray:
        """``(N,)`` area under each deletion curve (trapezoids over ``fractions``); probability
        units, 0..1: the mean probability while the pixels go.  Lower is more faithful."""
        return np.trapezoid(self.deletion, self.fractions, axis=1)

    @property
    def insertion_auc(self) -> np.ndarray:
        """``(N,)`` area under each insertion curve, 0..1.  Higher is more faithful."""
        return np.trapezoid(self.insertion, self.fractions, axis=1)


def random_maps(count: int, height: int, width: int, seed: int) -> np.ndarray:
    """Uniform random maps, float32 ``(count, height, width)`` in [0, 1): the random-attribution
    baseline (a pixel order that knows nothing about the model).  Same ``seed``, same maps."""
    if count < 0 or height < 1 or width < 1:
        raise AnalysisError(f"random_maps needs count ≥ 0 and a size of at least 1 × 1, got "
                            f"count={count}, {height} × {width}")
    return np.random.default_rng(seed).random((count, height, width)).astype(np.float32)


def blurred(x: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """Each image through a Gaussian blur over height and width (not across images or channels).

    The insertion baseline of the paper: the picture without its detail.  Edges repeat the
    nearest pixel (``mode="nearest"``), so borders are not darkened.

    Args:
        x: Preprocessed inputs ``(N, H, W, C)`` (model-input units; the blur is linear, so it
            commutes with an affine preprocessing).
        sigma: Standard deviation in pixels; default ``max(H, W) / 8`` (8 px at 64 × 64, 28 px
            at 224 × 224).  Petsiuk et al. used an 11 × 11 kernel of σ = 5 px at 224 × 224, a
            much milder blur (``max(H, W) / 45``); a stronger one leaves less of the class in the
            starting picture, so the insertion curve starts nearer the class prior.

    Returns:
        float32 ``(N, H, W, C)``.
    """
    from scipy.ndimage import gaussian_filter

    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 4:
        raise AnalysisError(f"x has shape {x.shape}; expected (N, height, width, channels)")
    sigma = max(x.shape[1:3]) / 8.0 if sigma is None else float(sigma)
    if not sigma >= 0.0:
        raise AnalysisError(f"blur sigma must be ≥ 0 pixels, got {sigma}")
    return gaussian_filter(x, sigma=(0.0, sigma, sigma, 0.0), mode="nearest").astype(np.float32)


def _baseline(value: np.ndarray, shape: tuple[int, ...], name: str) -> np.ndarray:
    """``value`` as a read-only ``(N, H, W, C)`` view (no copy of a shared baseline)."""
    value = np.asarray(value, dtype=np.float32)
    try:
        return np.broadcast_to(value, shape)
    except ValueError:
        h, w, c = shape[1:]
        raise AnalysisError(f"{name} has shape {value.shape}; expected (N, {h}, {w}, {c}), "
                            f"(1, {h}, {w}, {c}) or ({h}, {w}, {c}) for x of shape {shape}") from None


def _ranks(maps: np.ndarray) -> np.ndarray:
    """``(N, H·W)`` position of every pixel in its image's order: map value descending, ties by
    pixel index (a stable sort of the negated values)."""
    flat = maps.reshape(len(maps), -1)
    order = np.argsort(-flat, axis=1, kind="stable")
    ranks = np.empty(flat.shape, np.int64)
    np.put_along_axis(ranks, order, np.arange(flat.shape[1])[None, :], axis=1)
    return ranks


def _pixel_counts(pixels: int, steps: int) -> np.ndarray:
    """``(steps + 1,)`` pixels removed / inserted at step k: ``round(k · pixels / steps)``
    (halves to even), 0 at k = 0 and all of them at k = steps."""
    return np.rint(np.arange(steps + 1) * pixels / steps).astype(np.int64)


def deletion_insertion(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray, maps: np.ndarray,
                       targets: np.ndarray, *, steps: int = 20, deletion_baseline: np.ndarray,
                       insertion_baseline: np.ndarray, batch_size: int = 256) -> FaithfulnessCurves:
    """Deletion and insertion curves of attribution maps (Petsiuk et al. 2018, §4.1).

    Pixels are ranked once per image by map value, highest first (ties: lower pixel index
    first).  At step k = 0..``steps`` the first ``round(k · H · W / steps)`` pixels (all channels
    together) are taken from the other picture: deletion shows ``x`` with them set to
    ``deletion_baseline``; insertion shows ``insertion_baseline`` with them set to ``x``.  The
    score is the target's probability.  The ``2 · N · (steps + 1)`` copies form one stream, built
    chunk by chunk with numpy (rank < threshold masks, ``np.where``) under
    :data:`~reportgen.explain.batching.CHUNK_BYTES` and predicted in big batches.

    Args:
        predict: Batched softmax probabilities ``(rows, classes)`` on preprocessed inputs,
            e.g. :func:`~reportgen.explain.batching.make_predict_fn`.
        x: Preprocessed inputs ``(N, H, W, C)``, float32 model-input units.
        maps: ``(N, H, W)`` attributions, higher = more evidence for the target (signed allowed,
            any scale: only their order counts).
        targets: Class per image ``(N,)`` (or one int).
        steps: Number of steps ``S`` (≥ 1); each removes / inserts about ``H · W / S`` pixels.
        deletion_baseline: What removed pixels become, model-input units, ``(N, H, W, C)`` or
            broadcastable (``(H, W, C)``, ``(1, H, W, C)``); the paper: black, i.e. the
            preprocessed value of a 0 pixel.
        insertion_baseline: The picture pixels are inserted into, same shapes; the paper: a
            blurred copy of ``x`` (:func:`blurred`).
        batch_size: Most copies per ``predict`` call (fewer when copies of large images would
            exceed ``CHUNK_BYTES``).

    Returns:
        :class:`FaithfulnessCurves`; ``deletion_auc`` / ``insertion_auc`` per image.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 4:
        raise AnalysisError(f"x has shape {x.shape}; expected (N, height, width, channels)")
    count, height, width, _ = x.shape
    maps = np.asarray(maps, dtype=np.float64)
    if maps.shape != (count, height, width):
        raise AnalysisError(f"maps has shape {maps.shape}; expected ({count}, {height}, {width}), "
                            "one map per image of x")
    if not np.isfinite(maps).all():
        raise AnalysisError("maps contain NaN or infinite values; their pixel order is undefined")
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 1:
        raise AnalysisError(f"steps must be an integer ≥ 1, got {steps!r}")
    if batch_size < 1:
        raise AnalysisError(f"batch_size must be at least 1, got {batch_size}")
    c = _classes(targets, count, None)
    removed = _baseline(deletion_baseline, x.shape, "deletion_baseline")
    empty = _baseline(insertion_baseline, x.shape, "insertion_baseline")
    counts = _pixel_counts(height * width, steps)
    fractions = counts / (height * width)
    if not count:
        none = np.zeros((0, steps + 1))
        return FaithfulnessCurves(none, none.copy(), fractions)

    ranks = _ranks(maps).reshape(count, height, width)
    per_kind = count * (steps + 1)  # rows: deletion (image-major, then step), then insertion
    size = max(1, min(batch_size, CHUNK_BYTES // max(x[0].nbytes, 1)))
    scores = np.zeros(2 * per_kind)
    for part in _chunks(2 * per_kind, size):
        inserting, rest = np.divmod(np.arange(part.start, part.stop), per_kind)
        image, step = np.divmod(rest, steps + 1)
        chosen = ranks[image] < counts[step][:, None, None]  # (rows, H, W)
        other = np.empty((len(image), *x.shape[1:]), np.float32)  # the baseline of each row
        into = inserting == 1
        other[into], other[~into] = empty[image[into]], removed[image[~into]]
        # Deletion shows the baseline on the chosen pixels; insertion shows it on the others.
        use_other = (chosen != into[:, None, None])[..., None]
        shown = np.where(use_other, other, x[image])
        probabilities = np.asarray(predict(shown))
        if probabilities.ndim != 2 or len(probabilities) != len(shown):
            raise AnalysisError(f"predict returned shape {probabilities.shape} for {len(shown)} "
                                "inputs; expected (inputs, classes)")
        c = _classes(c, count, probabilities.shape[1])  # the class count is known now
        scores[part] = probabilities[np.arange(len(shown)), c[image]]
    deletion, insertion = scores.reshape(2, count, steps + 1)
    return FaithfulnessCurves(deletion, insertion, fractions)
