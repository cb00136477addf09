"""Grad-CAM and Grad-CAM++ heat maps, compiled with ``tf.function`` and run on big batches.

References:
    Selvaraju et al. 2017, "Grad-CAM", https://arxiv.org/abs/1610.02391
    Chattopadhay et al. 2018, "Grad-CAM++", https://arxiv.org/abs/1710.11063
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from reportgen.explain.batching import _chunk_size, _classes, _compile, _images, _run_batched, _spec
from reportgen.explain.probe import Probe

__all__ = ["gradcam"]


def _cam_weights(tf: Any, activations: Any, grads: Any, plus: bool) -> Any:
    """Channel weights ``(N, k)``: Grad-CAM's mean gradient or Grad-CAM++'s weighted one."""
    if not plus:
        return tf.reduce_mean(grads, axis=(1, 2))
    # Grad-CAM++ with the exp-score trick: for Y = exp(S) the 2nd and 3rd derivatives of Y
    # are exp(S)·g² and exp(S)·g³ (piecewise-linear network), and exp(S) cancels in alpha.
    g2 = tf.square(grads)
    g3 = g2 * grads
    total = tf.reduce_sum(activations, axis=(1, 2), keepdims=True)
    denominator = 2.0 * g2 + total * g3
    safe = tf.where(denominator != 0.0, denominator, tf.ones_like(denominator))
    alpha = tf.where(grads != 0.0, g2 / safe, tf.zeros_like(g2))
    return tf.reduce_sum(alpha * tf.nn.relu(grads), axis=(1, 2))


def _finish_cam(tf: Any, activations: Any, weights: Any, size: tuple[int, int]) -> Any:
    """ReLU(Σ_k w_k A_k), bilinear upsampling to the input size, each map divided by its max."""
    cam = tf.nn.relu(tf.reduce_sum(activations * weights[:, None, None, :], axis=-1))
    cam = tf.image.resize(cam[..., None], size, method="bilinear")[..., 0]
    peak = tf.reduce_max(cam, axis=(1, 2), keepdims=True)
    return tf.math.divide_no_nan(cam, peak)  # an all-zero map stays zero


def _gradcam_function(probe: Probe, plus: bool) -> Callable:
    key = ("gradcam", plus)
    if key not in probe.functions:
        import tensorflow as tf

        model = probe.model
        height, width, channels = probe.input_shape

        def gradcam_batch(x, c):
            with tf.GradientTape() as tape:
                activations, scores = model(x, training=False)
                score = tf.gather(scores, c, axis=1, batch_dims=1)
            # Rows are independent (inference mode), so the gradient of the sum is per row.
            grads = tape.gradient(score, activations)
            weights = _cam_weights(tf, activations, grads, plus)
            return _finish_cam(tf, activations, weights, (height, width))

        probe.functions[key] = _compile(gradcam_batch, [_spec((None, height, width, channels)),
                                                        _spec((None,), "int32")])
    return probe.functions[key]


def gradcam(probe: Probe, x: np.ndarray, class_index: np.ndarray, plus: bool = False,
            batch_size: int = 64) -> np.ndarray:
    """Grad-CAM (Selvaraju et al. 2017) or Grad-CAM++ (Chattopadhay et al. 2018) heat maps.

    Grad-CAM weights each channel ``A_k`` of the probe's layer by the spatial mean of
    ``∂ score_c / ∂ A_k`` and keeps ``ReLU(Σ_k w_k A_k)``; Grad-CAM++ weights the positive
    gradients by the closed-form alphas.  Scores are pre-softmax logits (see
    :func:`~reportgen.explain.probe.build_probe`).

    Args:
        probe: From :func:`~reportgen.explain.probe.build_probe`.
        x: Preprocessed model inputs ``(N, H, W, C)``.
        class_index: The class explained for each image ``(N,)`` (or one int for all).
        plus: Grad-CAM++ instead of Grad-CAM.
        batch_size: Images per compiled call.

    Returns:
        float32 ``(N, H, W)`` in [0, 1], upsampled bilinearly; each map divided by its max
        (a map without positive evidence stays all zero).
    """
    x = _images(x, probe.input_shape)
    c = _classes(class_index, len(x), probe.model.outputs[1].shape[-1])
    if not len(x):
        return np.zeros((0, *probe.input_shape[:2]), np.float32)
    fn = _gradcam_function(probe, plus)
    return _run_batched(fn, _chunk_size(len(x), batch_size), x, c).astype(np.float32)

