"""Feature maps and filter visualisation (gradient ascent on the input, all filters in one batch).

References:
    Erhan et al. 2009, "Visualizing Higher-Layer Features of a Deep Network".
    Olah et al. 2017, "Feature Visualization", https://distill.pub/2017/feature-visualization/
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from reportgen.errors import AnalysisError
from reportgen.explain.batching import _compile, _images, _model_functions, _spec
from reportgen.explain.probe import _inner_layer_output, _input_shape, find_target_layer

if TYPE_CHECKING:  # pragma: no cover
    import keras

__all__ = ["feature_maps", "filter_visualization"]


def _activation_model(model: Any, layer: str) -> tuple[Any, list[str]]:
    """``inputs → activations of layer`` (nested layers allowed), cached per model."""
    import keras

    path = find_target_layer(model, layer)
    functions = _model_functions(model)
    key = ("activations", tuple(path))
    if key not in functions:
        inputs, activations, _ = _inner_layer_output(model, path)
        functions[key] = keras.Model(inputs, activations, name=f"{model.name}_{path[-1]}_activations")
    return functions[key], path


def feature_maps(model: keras.Model, layer: str, x: np.ndarray) -> np.ndarray:
    """The activations ``(h, w, k)`` of ``layer`` for one preprocessed input ``(1, H, W, C)``."""
    shape = _input_shape(model)
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 3:
        x = x[None]
    x = _images(x, shape)
    if len(x) != 1:
        raise AnalysisError(f"feature_maps takes one image, got {len(x)}")
    activation_model, path = _activation_model(model, layer)
    maps = np.asarray(activation_model(x, training=False))
    if maps.ndim != 4:
        raise AnalysisError(f"layer {'/'.join(path)!r} has output shape {maps.shape}; feature maps "
                            "need a 4-D (batch, height, width, channels) output")
    return maps[0]


def _blur(tf: Any, x: Any) -> Any:
    """3×3 binomial blur per channel, edges reflected (no dark border)."""
    kernel = tf.constant([1.0, 2.0, 1.0])
    kernel = kernel[:, None] * kernel[None, :] / 16.0
    channels = tf.shape(x)[-1]
    kernel = tf.tile(kernel[:, :, None, None], tf.stack([1, 1, channels, 1]))
    padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="REFLECT")
    return tf.nn.depthwise_conv2d(padded, kernel, strides=[1, 1, 1, 1], padding="VALID")


def _ascent_step(tf: Any, model: Any, z: Any, selected: Any, shift: Any, step_size: Any,
                 middle: Any, half: Any, decay: float) -> Any:
    """One gradient-ascent step on ``z`` for every image of the batch (see filter_visualization)."""
    with tf.GradientTape() as tape:
        tape.watch(z)
        # x = middle + half·tanh(z) stays inside the range without clipping; hard clipping made
        # flat saturated areas whose max-pool ties were broken differently in a batch of 7 and
        # a batch of 1, and the runs diverged.
        x = middle + half * tf.tanh(z)
        # Jitter (Olah et al. 2017): the same small shift for every image this step.
        moved = tf.roll(x, shift=shift, axis=[1, 2])
        activations = model(moved, training=False)
        # Σ_i mean(act[i, ..., filters[i]]): each image only sees its own filter.
        loss = tf.reduce_sum(tf.reduce_mean(activations * selected, axis=(1, 2)))
    grads = tape.gradient(loss, z)
    # Normalised step: every filter moves at the same pace whatever its scale.
    rms = tf.sqrt(tf.reduce_mean(tf.square(grads), axis=(1, 2, 3), keepdims=True))
    return (z + step_size * grads / (rms + 1e-8)) * (1.0 - decay)  # L2 decay to the middle


def _ascent_function(activation_model: Any, shape: tuple[int, int, int], blur_every: int,
                     decay: float) -> Callable:
    functions = _model_functions(activation_model)
    key = ("ascent", shape, blur_every, decay)
    if key not in functions:
        import tensorflow as tf

        model_ref = weakref.ref(activation_model)
        channels = int(activation_model.outputs[0].shape[-1])

        def ascend(z, filters, shifts, step_size, value_range):
            model = model_ref()
            middle = (value_range[0] + value_range[1]) / 2.0
            half = (value_range[1] - value_range[0]) / 2.0
            selected = tf.one_hot(filters, channels)[:, None, None, :]
            for i in tf.range(tf.shape(shifts)[0]):
                z = _ascent_step(tf, model, z, selected, shifts[i], step_size, middle, half, decay)
                if (i + 1) % blur_every == 0:  # damp high frequencies now and then
                    z = _blur(tf, z)
            return middle + half * tf.tanh(z)

        functions[key] = _compile(ascend, [
            _spec((None, *shape)), _spec((None,), "int32"), _spec((None, 2), "int32"),
            _spec((), "float32"), _spec((2,), "float32"),
        ])
    return functions[key]


def _ascent_setup(model: Any, layer: str, filters: list[int], size: tuple[int, int, int] | None,
                  steps: int, seed: int, value_range: tuple[float, float]):
    """Activation model, start images, jitter shifts and validated filter indices."""
    import keras

    activation_model, path = _activation_model(model, layer)
    shape = tuple(size) if size is not None else _input_shape(model)
    if size is not None and shape != _input_shape(model):
        try:
            resized = keras.Input(shape=shape)
            activation_model = keras.Model(resized, activation_model(resized))
        except Exception as exc:
            raise AnalysisError(f"cannot run layer {'/'.join(path)!r} on inputs of size {shape}: "
                                f"{type(exc).__name__}") from exc
    out_shape = tuple(activation_model.outputs[0].shape)
    if len(out_shape) != 4:
        raise AnalysisError(f"layer {'/'.join(path)!r} has output shape {out_shape}; filter "
                            "visualisation needs a 4-D (batch, height, width, channels) output")
    filters = np.asarray(list(filters), dtype=np.int32)
    if len(filters) and (filters.min() < 0 or filters.max() >= out_shape[-1]):
        raise AnalysisError(f"layer {'/'.join(path)!r} has {out_shape[-1]} filters; got indices "
                            f"{filters.min()}..{filters.max()}")
    if steps < 0:
        raise AnalysisError(f"steps must be 0 or more, got {steps}")
    low, high = float(value_range[0]), float(value_range[1])
    if not high > low:
        raise AnalysisError(f"value_range must be (low, high) with low < high, got {value_range}")
    rng = np.random.default_rng(seed)
    # Faint noise around the middle of the range (Olah et al. 2017), in the tanh parameter:
    # x = middle + half·tanh(z) ≈ middle + 1 % of the range × noise.
    start = 0.02 * rng.standard_normal((len(filters), *shape))
    jitter = max(1, round(min(shape[:2]) / 32))
    shifts = rng.integers(-jitter, jitter + 1, size=(steps, 2)).astype(np.int32)
    return activation_model, shape, filters, start.astype(np.float32), shifts, (low, high)


def _to_display(images: np.ndarray) -> np.ndarray:
    """Each image rescaled to [0, 1] by its own min and max (a flat image becomes 0)."""
    low = images.min(axis=(1, 2, 3), keepdims=True)
    span = images.max(axis=(1, 2, 3), keepdims=True) - low
    return np.divide(images - low, span, out=np.zeros_like(images), where=span > 0).astype(np.float32)


def filter_visualization(model: keras.Model, layer: str, filters: list[int],
                         size: tuple[int, int, int] | None = None, steps: int = 64,
                         learning_rate: float = 0.05, seed: int = 0,
                         value_range: tuple[float, float] = (0.0, 1.0), blur_every: int = 4,
                         decay: float = 0.01) -> np.ndarray:
    """Inputs that maximise the mean activation of each filter, all filters in one batch.

    Gradient ascent on the input (Erhan et al. 2009) with the regularisers of Olah et al. 2017
    that keep the patterns readable: the image is parametrised as
    ``x = middle + half·tanh(z)`` so it stays inside ``value_range`` without clipping; ``z``
    starts as faint noise (x near the middle of the range), takes gradient steps normalised
    to unit RMS per image, decays towards 0 (L2), and is blurred (3×3) every ``blur_every``
    steps; the input is jittered by a random shift of about 1/32 of its side each step.
    Filter ``i`` gets image ``i`` of one batch and the loss is
    ``Σ_i mean(act[i, ..., filters[i]])``; the whole loop of ``steps`` runs inside one
    ``tf.function``.  That leaves no per-step Python or per-filter cost to save: on CPU the
    step is compute-bound (convolution and max-pool backprop), so the time grows about linearly
    with the number of filters (fer, 16 filters ≈ 11× one; see ``bench/explain.py``).

    Args:
        model: The classifier.
        layer: Layer name (top level or inside a nested model).
        filters: Filter (channel) indices, one image each.
        size: Input size ``(H, W, C)``; default: the model's.
        steps: Gradient-ascent steps.
        learning_rate: Step length in ``z`` per step (the gradient is normalised to unit
            RMS; ``tanh`` saturates around |z| ≈ 2, so 64 steps of 0.05 can span the range).
        seed: Seed of the start noise and the jitter.
        value_range: The valid range of preprocessed inputs, e.g. ``(0, 1)`` for x/255 and
            ``(-1, 1)`` for x/127.5 − 1.
        blur_every: Blur once every this many steps.
        decay: L2 decay of ``z`` per step (a share: ``z ← z·(1 − decay)``).

    Returns:
        float32 ``(N, H, W, C)``, each image rescaled to [0, 1] for display.
    """
    activation_model, shape, filters, start, shifts, (low, high) = _ascent_setup(
        model, layer, filters, size, steps, seed, value_range)
    if not len(filters):
        return np.zeros((0, *shape), np.float32)
    ascend = _ascent_function(activation_model, shape, max(1, int(blur_every)), float(decay))
    images = ascend(start, filters, shifts, np.float32(learning_rate), np.array([low, high], np.float32))
    return _to_display(np.asarray(images))
