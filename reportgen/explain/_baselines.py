"""Benchmark baselines: the plain ways people write these explanations, kept for comparison.

Not exported from :mod:`reportgen.explain`: only ``bench/explain.py`` and the tests that check
reportgen's batched methods against them import this module.  Each baseline computes the same
explanation as its batched counterpart (same probe, score, seed and maths), the slow way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from reportgen.explain.batching import _classes, _images
from reportgen.explain.filters import _ascent_function, _ascent_setup, _to_display
from reportgen.explain.gradcam_maps import _finish_cam
from reportgen.explain.lime_explain import LimeResult, PredictProba, _explain, _explainers
from reportgen.explain.probe import Probe, build_probe

if TYPE_CHECKING:  # pragma: no cover
    import keras

__all__ = ["explain_lime_reference", "filter_visualization_one_at_a_time", "gradcam_eager_per_image"]


def gradcam_eager_per_image(model: keras.Model | Probe, x: np.ndarray, class_index: np.ndarray,
                            layer: str | None = None, eager: bool = True) -> np.ndarray:
    """Grad-CAM the way most tutorials write it: one eager ``tf.GradientTape`` per image.

    Benchmark baseline only (``bench/``), compared against :func:`gradcam`: same probe, same
    pre-softmax score, same maths, so both must give the same maps.  Eager tapes through the
    fer model have crashed in oneDNN; ``eager=False`` runs the same per-image loop with the
    step compiled (still one image per call) for machines where that happens.

    Args:
        model: The classifier, or a probe already built for it.
        x: Preprocessed inputs ``(N, H, W, C)``.
        class_index: Class per image ``(N,)``.
        layer: Target layer (as in :func:`~reportgen.explain.probe.build_probe`).
        eager: One eager tape per image (the tutorial); False compiles the per-image step.

    Returns:
        float32 ``(N, H, W)`` in [0, 1].
    """
    import tensorflow as tf

    probe = model if isinstance(model, Probe) else build_probe(model, layer)
    grad_model = probe.model
    height, width = probe.input_shape[:2]
    x = _images(x, probe.input_shape)
    c = _classes(class_index, len(x), grad_model.outputs[1].shape[-1])

    def one_image(image, target):
        with tf.GradientTape() as tape:
            activations, scores = grad_model(image, training=False)
            score = scores[:, target]
        grads = tape.gradient(score, activations)
        weights = tf.reduce_mean(grads, axis=(1, 2))
        return _finish_cam(tf, activations, weights, (height, width))

    step = one_image if eager else tf.function(one_image)
    maps = [np.asarray(step(tf.constant(x[i:i + 1]), tf.constant(c[i])))[0] for i in range(len(x))]
    return np.stack(maps).astype(np.float32) if maps else np.zeros((0, height, width), np.float32)


def filter_visualization_one_at_a_time(model: keras.Model, layer: str, filters: list[int],
                                       size: tuple[int, int, int] | None = None, steps: int = 64,
                                       learning_rate: float = 0.05, seed: int = 0,
                                       value_range: tuple[float, float] = (0.0, 1.0),
                                       blur_every: int = 4, decay: float = 0.01) -> np.ndarray:
    """:func:`filter_visualization` run one filter per optimisation (benchmark baseline).

    The naive loop: same compiled ascent, same start images and jitter (same seed), but one
    filter per call, so ``len(filters)`` runs of ``steps`` each.  The result matches the
    batched one up to float rounding, which oneDNN does differently for a batch of 1 and of
    N.  In deep layers with max pooling such a 1e-7 difference can flip a near-tie and the
    two ascents then go separate ways (fer ``conv2d_7``, filters 0 and 1, after ~20 of 64
    steps; earlier layers stay within 1e-6), so compare speed there, not pixels.
    """
    activation_model, shape, filters, start, shifts, (low, high) = _ascent_setup(
        model, layer, filters, size, steps, seed, value_range)
    if not len(filters):
        return np.zeros((0, *shape), np.float32)
    ascend = _ascent_function(activation_model, shape, max(1, int(blur_every)), float(decay))
    step_size = np.float32(learning_rate)
    bounds = np.array([low, high], np.float32)
    images = [np.asarray(ascend(start[i:i + 1], filters[i:i + 1], shifts, step_size, bounds))
              for i in range(len(filters))]
    return _to_display(np.concatenate(images))


def explain_lime_reference(
    image: np.ndarray,
    model_predict: PredictProba,
    labels: Sequence[int],
    num_samples: int = 1000,
    num_features: int = 5,
    seed: int = 0,
    batch_size: int = 10,
    segmentation: Callable[[np.ndarray], np.ndarray] | None = None,
    hide_color: str | float | None = "mean",
) -> LimeResult:
    """LIME the way it is usually written: stock ``LimeImageExplainer.explain_instance`` with
    its batch size of 10 and ``model_predict`` typically being
    ``lambda x: model.predict(preprocess(x), verbose=0)``.

    Only for benchmarks and tests: same segmentation, seed and result layout as
    :func:`explain_lime`, so both give the same explanation up to float rounding in the model.
    """
    recording, _ = _explainers()
    return _explain(recording, image, model_predict, labels, num_samples, num_features, seed,
                    batch_size, segmentation, hide_color)
