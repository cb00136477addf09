"""Input gradients, vanilla gradient saliency and SmoothGrad, compiled and batched.

References:
    Simonyan et al. 2014, "Deep Inside Convolutional Networks", https://arxiv.org/abs/1312.6034
    Smilkov et al. 2017, "SmoothGrad", https://arxiv.org/abs/1706.03825
"""

from __future__ import annotations

import weakref
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
    _run_batched,
    _spec,
)
from reportgen.explain.probe import _input_shape

if TYPE_CHECKING:  # pragma: no cover
    import keras

__all__ = ["input_gradients", "saliency"]


def _input_gradient_function(logits_model: Any) -> Callable:
    functions = _model_functions(logits_model)
    if "input_gradients" not in functions:
        import tensorflow as tf

        shape = _input_shape(logits_model)
        # A weak reference: the cache must not keep the model alive.
        model_ref = weakref.ref(logits_model)

        def input_gradient_batch(x, c):
            model = model_ref()
            with tf.GradientTape() as tape:
                tape.watch(x)
                score = tf.gather(model(x, training=False), c, axis=1, batch_dims=1)
            return tape.gradient(score, x)

        functions["input_gradients"] = _compile(input_gradient_batch,
                                                [_spec((None, *shape)), _spec((None,), "int32")])
    return functions["input_gradients"]


def input_gradients(logits_model: keras.Model, x: np.ndarray, class_index: np.ndarray,
                    batch_size: int = 64) -> np.ndarray:
    """Signed ``∂ logit_c / ∂ x`` (Simonyan et al. 2014), float32 ``(N, H, W, C)``.

    Args:
        logits_model: From :func:`~reportgen.explain.probe.logits_model` (pre-softmax scores).
        x: Preprocessed inputs ``(N, H, W, C)``.
        class_index: Class per image ``(N,)`` (or one int).
        batch_size: Images per compiled call.
    """
    shape = _input_shape(logits_model)
    x = _images(x, shape)
    c = _classes(class_index, len(x), logits_model.outputs[0].shape[-1])
    if not len(x):
        return np.zeros((0, *shape), np.float32)
    fn = _input_gradient_function(logits_model)
    return _run_batched(fn, _chunk_size(len(x), batch_size), x, c).astype(np.float32)


def saliency(logits_model: keras.Model, x: np.ndarray, class_index: np.ndarray, samples: int = 0,
             noise_level: float = 0.15, seed: int = 0, batch_size: int = 64) -> np.ndarray:
    """Vanilla gradient saliency (Simonyan et al. 2014) or SmoothGrad (Smilkov et al. 2017).

    SmoothGrad averages the signed gradient over ``samples`` copies of each image with
    Gaussian noise of σ = ``noise_level`` × (max − min of that image).  The noisy copies of
    all images form one stream cut into batches (copies of one image may share a batch with
    copies of the next); the noise comes from ``numpy.random.default_rng(seed)`` in stream
    order, so the result does not depend on ``batch_size``.

    Args:
        logits_model: From :func:`~reportgen.explain.probe.logits_model`.
        x: Preprocessed inputs ``(N, H, W, C)``.
        class_index: Class per image ``(N,)`` (or one int).
        samples: Noisy copies per image; 0 is the vanilla gradient.
        noise_level: σ as a share of each image's value range.
        seed: Seed of the noise.
        batch_size: Copies per compiled call.

    Returns:
        float32 ``(N, H, W)``: max over channels of |mean gradient|, divided by each map's max.
    """
    shape = _input_shape(logits_model)
    x = _images(x, shape)
    c = _classes(class_index, len(x), logits_model.outputs[0].shape[-1])
    if samples < 0:
        raise AnalysisError(f"samples must be 0 (vanilla gradient) or more, got {samples}")
    if not len(x):
        return np.zeros((0, *shape[:2]), np.float32)
    fn = _input_gradient_function(logits_model)
    copies = max(samples, 1)
    owner = np.repeat(np.arange(len(x)), copies)  # image of each copy, copies contiguous
    sigma = (noise_level * (x.max(axis=(1, 2, 3)) - x.min(axis=(1, 2, 3)))).astype(np.float32)
    rng = np.random.default_rng(seed)
    size = _chunk_size(len(owner), batch_size)
    total = np.zeros_like(x)
    for part in _chunks(len(owner), size):
        index = owner[part]
        batch = x[index]
        if samples:
            noise = rng.standard_normal(batch.shape, dtype=np.float32)
            batch = batch + noise * sigma[index, None, None, None]
        grads = np.asarray(fn(_padded(batch, size), _padded(c[index], size)))[: len(index)]
        # Sum each image's run of copies in this batch with one reduceat.
        starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
        total[index[starts]] += np.add.reduceat(grads, starts, axis=0)
    magnitude = np.abs(total / copies).max(axis=-1)
    peak = magnitude.max(axis=(1, 2), keepdims=True)
    return np.divide(magnitude, peak, out=np.zeros_like(magnitude), where=peak > 0).astype(np.float32)

