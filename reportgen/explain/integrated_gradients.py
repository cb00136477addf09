"""Integrated Gradients: every path step of every image in one stream of compiled batches.

References:
    Sundararajan et al. 2017, "Axiomatic Attribution for Deep Networks",
    https://arxiv.org/abs/1703.01365
    Sturmfels et al. 2020, "Visualizing the Impact of Feature Attribution Baselines",
    https://distill.pub/2020/attribution-baselines/ (blurred and noise baselines)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from reportgen.errors import AnalysisError
from reportgen.explain.batching import (
    _chunk_size,
    _chunks,
    _classes,
    _compile,
    _images,
    _model_functions,
    _padded,
    _spec,
)
from reportgen.explain.probe import Probe, _input_shape, logits_model
from reportgen.explain.saliency_maps import _input_gradient_function

if TYPE_CHECKING:  # pragma: no cover
    import keras

__all__ = ["ig_baseline", "integrated_gradients", "path_alphas"]

BASELINES = ("black", "blurred", "noise")


def path_alphas(steps: int) -> np.ndarray:
    """Midpoint-rule nodes ``(k + ½) / steps`` of the path integral, k = 0 … steps − 1.

    Every node gets the same weight ``1 / steps``; no gradient is taken at the baseline itself
    (where ReLU networks are often flat) and the error falls as ``1 / steps²`` on smooth paths.
    """
    if steps < 1:
        raise AnalysisError(f"steps must be at least 1, got {steps}")
    return ((np.arange(steps) + 0.5) / steps).astype(np.float32)


def ig_baseline(x: np.ndarray, baseline: str | np.ndarray = "black",
                preprocess: Callable[[np.ndarray], np.ndarray] | None = None, seed: int = 0,
                blur_sigma: float | None = None) -> np.ndarray:
    """The baseline of each image, in model-input units, float32 ``(N, H, W, C)``.

    Args:
        x: Preprocessed inputs ``(N, H, W, C)``.
        baseline: ``"black"``: ``preprocess`` applied to an all-zero pixel image (a black
            picture as the model sees it, e.g. −1 for ``x / 127.5 − 1``); ``"blurred"``: each
            input through a Gaussian blur of σ = ``blur_sigma`` pixels (edges: nearest);
            ``"noise"``: uniform noise between each image's own min and max input value
            (``numpy.random.default_rng(seed)``); or an array ``(H, W, C)`` / ``(N, H, W, C)``
            already in model-input units (no ``preprocess`` needed).
        preprocess: Pixels 0…255 (float32, ``(N, H, W, C)``) → model inputs; needed by "black".
        seed: Seed of the "noise" baseline.
        blur_sigma: σ of "blurred" in pixels; default a tenth of the shorter image side.

    Raises:
        AnalysisError: Unknown kind, "black" without ``preprocess``, or a mis-shaped array.
    """
    x = np.asarray(x, dtype=np.float32)
    if not isinstance(baseline, str):
        b = np.asarray(baseline, dtype=np.float32)
        if b.shape == x.shape[1:]:
            b = np.broadcast_to(b, x.shape)
        if b.shape != x.shape:
            raise AnalysisError(f"baseline has shape {b.shape}; expected {x.shape[1:]} or {x.shape}")
        return np.ascontiguousarray(b)
    if baseline == "black":
        if preprocess is None:
            raise AnalysisError("baseline 'black' needs preprocess (pixels 0…255 → model inputs) to "
                                "know what a black image is in model-input units; or pass the "
                                "baseline as an array")
        black = np.asarray(preprocess(np.zeros((1, *x.shape[1:]), np.float32)), np.float32)
        return np.ascontiguousarray(np.broadcast_to(black.reshape(1, *x.shape[1:]), x.shape))
    if baseline == "blurred":
        from scipy.ndimage import gaussian_filter

        sigma = min(x.shape[1:3]) / 10.0 if blur_sigma is None else float(blur_sigma)
        return gaussian_filter(x, sigma=(0.0, sigma, sigma, 0.0), mode="nearest").astype(np.float32)
    if baseline == "noise":
        low = x.min(axis=(1, 2, 3), keepdims=True)
        high = x.max(axis=(1, 2, 3), keepdims=True)
        u = np.random.default_rng(seed).random(x.shape, dtype=np.float32)
        return (low + u * (high - low)).astype(np.float32)
    raise AnalysisError(f"unknown baseline {baseline!r}; choose from {', '.join(BASELINES)} or "
                        "pass an array")


def _probe_gradient_function(probe: Probe) -> Callable:
    """Compiled ``∂ score_c / ∂ x`` through a probe's pre-softmax scores output."""
    if "input_gradients" not in probe.functions:
        import tensorflow as tf

        model = probe.model

        def probe_gradient_batch(x, c):
            with tf.GradientTape() as tape:
                tape.watch(x)
                score = tf.gather(model(x, training=False)[1], c, axis=1, batch_dims=1)
            return tape.gradient(score, x)

        probe.functions["input_gradients"] = _compile(
            probe_gradient_batch, [_spec((None, *probe.input_shape)), _spec((None,), "int32")])
    return probe.functions["input_gradients"]


def _cached_logits_model(model: Any) -> Any:
    """:func:`logits_model` of ``model``, built once per model so its gradient is traced once.

    Kept in the model's weak-keyed cache: the logits model shares the layers but holds no
    reference to ``model`` itself, so both are dropped with the model.
    """
    functions = _model_functions(model)
    if "logits_model" not in functions:
        functions["logits_model"] = logits_model(model)
    return functions["logits_model"]


def _gradient_source(model_or_probe: Any) -> tuple[Callable, tuple[int, int, int], int]:
    """``(compiled gradient fn(x, c), input shape, class count)`` of the pre-softmax score."""
    if isinstance(model_or_probe, Probe):
        return (_probe_gradient_function(model_or_probe), model_or_probe.input_shape,
                int(model_or_probe.model.outputs[1].shape[-1]))
    logits = _cached_logits_model(model_or_probe)
    return _input_gradient_function(logits), _input_shape(logits), int(logits.outputs[0].shape[-1])


def integrated_gradients(model_or_probe: keras.Model | Probe, x: np.ndarray, targets: np.ndarray,
                         baseline: str | np.ndarray = "black", steps: int = 32, seed: int = 0,
                         preprocess: Callable[[np.ndarray], np.ndarray] | None = None,
                         blur_sigma: float | None = None,
                         batch_size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Integrated Gradients (Sundararajan et al. 2017) of the pre-softmax class score.

    ``f`` is the target class's logit (the score before the softmax, as for saliency and
    Grad-CAM: see :func:`~reportgen.explain.probe.logits_model`), and
    ``IG_i = (x_i − b_i) · ∫₀¹ ∂f(b + α(x − b)) / ∂x_i dα`` with the midpoint rule of
    :func:`path_alphas`.  Completeness: each image's attributions sum to ``f(x) − f(b)`` up to
    the quadrature error.  The ``steps`` interpolated inputs of all images form one stream cut
    into fixed-size compiled batches (steps of one image may share a batch with the next).

    Args:
        model_or_probe: The classifier (its softmax is stripped) or a probe from
            :func:`~reportgen.explain.probe.build_probe` (its scores output is used).
        x: Preprocessed inputs ``(N, H, W, C)``.
        targets: Class per image ``(N,)`` (or one int).
        baseline: ``"black"``, ``"blurred"``, ``"noise"`` or an array in model-input units;
            see :func:`ig_baseline`.
        steps: Gradient evaluations per image.
        seed: Seed of the "noise" baseline.
        preprocess: Pixels 0…255 → model inputs; needed by the "black" baseline.
        blur_sigma: σ in pixels of the "blurred" baseline.
        batch_size: Interpolated inputs per compiled call.

    Returns:
        ``(attributions, maps)``: signed float32 attributions ``(N, H, W, C)`` in logit units
        (not normalised), and signed float32 maps ``(N, H, W)`` in [−1, 1]: the attributions
        summed over channels, each map divided by its largest absolute value.
    """
    fn, shape, classes = _gradient_source(model_or_probe)
    x = _images(x, shape)
    c = _classes(targets, len(x), classes)
    alphas = path_alphas(steps)
    if not len(x):
        return np.zeros((0, *shape), np.float32), np.zeros((0, *shape[:2]), np.float32)
    base = ig_baseline(x, baseline, preprocess, seed, blur_sigma)
    delta = x - base
    owner = np.repeat(np.arange(len(x)), steps)  # image of each path point, steps contiguous
    alpha = np.tile(alphas, len(x))[:, None, None, None]
    size = _chunk_size(len(owner), batch_size)
    total = np.zeros_like(x, dtype=np.float64)  # Σ_k gradients, summed in float64
    for part in _chunks(len(owner), size):
        index = owner[part]
        points = base[index] + alpha[part] * delta[index]
        grads = np.asarray(fn(_padded(points, size), _padded(c[index], size)))[: len(index)]
        starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
        total[index[starts]] += np.add.reduceat(grads.astype(np.float64), starts, axis=0)
    attributions = (delta * total / steps).astype(np.float32)
    summed = attributions.sum(axis=-1)
    peak = np.abs(summed).max(axis=(1, 2), keepdims=True)
    maps = np.divide(summed, peak, out=np.zeros_like(summed), where=peak > 0)
    return attributions, maps.astype(np.float32)
