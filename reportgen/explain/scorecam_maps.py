"""Score-CAM heat maps: every channel's masked input predicted in large compiled batches.

References:
    Wang et al. 2020, "Score-CAM: Score-Weighted Visual Explanations for Convolutional Neural
    Networks", https://arxiv.org/abs/1910.01279
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from reportgen.explain.batching import (
    CHUNK_BYTES,
    _chunk_size,
    _chunks,
    _classes,
    _compile,
    _images,
    _padded,
    _run_batched,
    _spec,
)
from reportgen.explain.gradcam_maps import _finish_cam
from reportgen.explain.probe import Probe

__all__ = ["scorecam"]



def _functions(probe: Probe) -> tuple[Callable, Callable, Callable]:
    """Compiled ``(activations and masks, masked-input probabilities, CAM)`` of one probe."""
    if "scorecam" not in probe.functions:
        import tensorflow as tf

        model = probe.model
        height, width, channels = probe.input_shape
        k = int(model.outputs[0].shape[-1])

        def activations_and_masks(x):
            activations, _ = model(x, training=False)
            up = tf.image.resize(activations, (height, width), method="bilinear")
            low = tf.reduce_min(up, axis=(1, 2), keepdims=True)
            high = tf.reduce_max(up, axis=(1, 2), keepdims=True)
            masks = tf.math.divide_no_nan(up - low, high - low)  # a flat channel masks all
            return activations, tf.transpose(masks, (0, 3, 1, 2))  # (n, k, H, W)

        def masked_probabilities(x, masks, c):
            _, scores = model(x * masks[..., None], training=False)
            return tf.gather(tf.nn.softmax(scores, axis=-1), c, axis=1, batch_dims=1)

        def cam(activations, weights):
            return _finish_cam(tf, activations, weights, (height, width))

        h, w = model.outputs[0].shape[1:3]
        probe.functions["scorecam"] = (
            _compile(activations_and_masks, [_spec((None, height, width, channels))]),
            _compile(masked_probabilities, [_spec((None, height, width, channels)),
                                            _spec((None, height, width)), _spec((None,), "int32")]),
            _compile(cam, [_spec((None, h, w, k)), _spec((None, k))]),
        )
    return probe.functions["scorecam"]


def scorecam(probe: Probe, x: np.ndarray, targets: np.ndarray, baseline: bool = False,
             batch_size: int = 256) -> np.ndarray:
    """Score-CAM (Wang et al. 2020) heat maps.

    Each channel ``A_k`` of the probe's layer is upsampled bilinearly to the input size and
    scaled to [0, 1] (min to max); the input times that mask is scored by the softmax
    probability of the target class, and that score weights the channel:
    ``ReLU(Σ_k w_k A_k)``, upsampled and divided by its max as in Grad-CAM.  The masked
    inputs of all channels of all images form one stream predicted ``batch_size`` at a time.

    Args:
        probe: From :func:`~reportgen.explain.probe.build_probe`; the softmax is taken over
            its scores (the classifier's probabilities when it ends in a softmax).
        x: Preprocessed model inputs ``(N, H, W, C)``.
        targets: The class explained for each image ``(N,)`` (or one int for all).
        baseline: Weigh by the paper's increase in confidence, ``p_c(x ∘ mask) − p_c(0)``
            (the all-masked input), instead of ``p_c(x ∘ mask)`` as the authors' code does.
        batch_size: Masked inputs per compiled call.

    Returns:
        float32 ``(N, H, W)`` in [0, 1]; a map without positive evidence stays all zero.
    """
    x = _images(x, probe.input_shape)
    c = _classes(targets, len(x), probe.model.outputs[1].shape[-1])
    height, width, _ = probe.input_shape
    if not len(x):
        return np.zeros((0, height, width), np.float32)
    to_masks, probabilities, to_cam = _functions(probe)
    k = int(probe.model.outputs[0].shape[-1])
    group = max(1, CHUNK_BYTES // (k * height * width * 4))
    size = _chunk_size(min(len(x), group) * k, batch_size)
    maps = []
    for images in _chunks(len(x), group):
        activations, masks = (np.asarray(t) for t in to_masks(x[images]))
        owner = np.repeat(np.arange(len(activations)), k)  # (image, channel) pairs, row-major
        channel = np.tile(np.arange(k), len(activations))
        weights = np.zeros(len(owner), np.float32)
        for part in _chunks(len(owner), size):
            pick = owner[part] + images.start
            weights[part] = np.asarray(probabilities(
                _padded(x[pick], size), _padded(masks[owner[part], channel[part]], size),
                _padded(c[pick], size)))[: len(pick)]
        weights = weights.reshape(len(activations), k)
        if baseline:
            zeros = np.zeros_like(x[images])
            weights -= _run_batched(probabilities, _chunk_size(len(zeros), batch_size), zeros,
                                    np.zeros(zeros.shape[:3], np.float32), c[images])[:, None]
        maps.append(np.asarray(to_cam(activations, weights)))
    return np.concatenate(maps).astype(np.float32)
