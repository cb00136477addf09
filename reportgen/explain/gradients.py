"""Gradient and perturbation explanations, compiled with ``tf.function`` and run on big batches.

Every gradient here is taken inside a ``tf.function``: an eager ``tf.GradientTape`` through
the pretrained fer model has crashed in oneDNN (segfault / double free) on our machines.
Each compiled function has an input signature with a free batch size, so it is traced once;
inputs are cut into chunks of one size (the last one padded) so the kernels also see one
shape.  A ``model.predict`` call costs ~70 ms of overhead, so sampling methods use
:func:`make_predict_fn` instead.

References:
    Selvaraju et al. 2017, "Grad-CAM", https://arxiv.org/abs/1610.02391
    Chattopadhay et al. 2018, "Grad-CAM++", https://arxiv.org/abs/1710.11063
    Simonyan et al. 2014, "Deep Inside Convolutional Networks", https://arxiv.org/abs/1312.6034
    Smilkov et al. 2017, "SmoothGrad", https://arxiv.org/abs/1706.03825
    Zeiler & Fergus 2014, "Visualizing and Understanding Convolutional Networks",
    https://arxiv.org/abs/1311.2901
    Erhan et al. 2009, "Visualizing Higher-Layer Features of a Deep Network".
    Olah et al. 2017, "Feature Visualization", https://distill.pub/2017/feature-visualization/
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from reportgen.errors import AnalysisError
from reportgen.explain.probe import (
    Probe,
    _inner_layer_output,
    _input_shape,
    build_probe,
    find_target_layer,
    quiet_input_structure,
)

if TYPE_CHECKING:  # pragma: no cover
    import keras

__all__ = [
    "feature_maps",
    "filter_visualization",
    "filter_visualization_one_at_a_time",
    "gradcam",
    "gradcam_eager_per_image",
    "input_gradients",
    "make_predict_fn",
    "occlusion",
    "occlusion_positions",
    "saliency",
]

# Compiled functions of plain Keras models (logits models, classifiers), dropped with the model.
_FUNCTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

# Occluded copies held in memory at once stay under this many bytes.
_OCCLUSION_CHUNK_BYTES = 64 * 2**20


# --------------------------------------------------------------------------------------------
# Batching helpers
# --------------------------------------------------------------------------------------------
def _chunk_size(count: int, batch_size: int) -> int:
    """One chunk size for ``count`` rows: the batch size, or the next power of two below it.

    Small requests (10 Grad-CAM examples) are not padded to a full batch of 64, yet the
    sizes a model ever sees stay few (powers of two).
    """
    if batch_size < 1:
        raise AnalysisError(f"batch_size must be at least 1, got {batch_size}")
    return max(1, min(batch_size, 1 << max(count - 1, 0).bit_length()))


def _chunks(count: int, size: int) -> Iterator[slice]:
    for start in range(0, count, size):
        yield slice(start, min(start + size, count))


def _padded(array: np.ndarray, size: int) -> np.ndarray:
    """``array`` with zero rows appended up to ``size`` rows."""
    missing = size - len(array)
    if missing <= 0:
        return array
    return np.concatenate([array, np.zeros((missing, *array.shape[1:]), array.dtype)])


def _run_batched(fn: Callable, size: int, *arrays: np.ndarray) -> np.ndarray:
    """``fn`` on fixed-size padded chunks of ``arrays`` (same length), outputs concatenated."""
    count = len(arrays[0])
    outputs = []
    for part in _chunks(count, size):
        result = fn(*(_padded(a[part], size) for a in arrays))
        outputs.append(np.asarray(result)[: part.stop - part.start])
    return np.concatenate(outputs)


def _model_functions(model: Any) -> dict:
    try:
        return _FUNCTIONS.setdefault(model, {})
    except TypeError:  # not weak-referenceable: no cache
        return {}


def _images(x: np.ndarray, shape: tuple[int, int, int], what: str = "x") -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 4 or tuple(x.shape[1:]) != tuple(shape):
        expected = ", ".join(map(str, shape))
        raise AnalysisError(f"{what} has shape {x.shape}; the model expects (N, {expected})")
    return x


def _classes(class_index: Any, count: int, classes: int | None) -> np.ndarray:
    c = np.asarray(class_index)
    if c.ndim == 0:
        c = np.full(count, c)
    c = c.astype(np.int32).reshape(-1)
    if len(c) != count:
        raise AnalysisError(f"class_index has {len(c)} entries for {count} images")
    if classes is not None and count and (c.min() < 0 or c.max() >= classes):
        raise AnalysisError(f"class_index must lie in 0..{classes - 1}, got {c.min()}..{c.max()}")
    return c


def _spec(shape: tuple, dtype: str = "float32"):
    import tensorflow as tf

    return tf.TensorSpec(shape=shape, dtype=dtype)


def _compile(fn: Callable, signature: list) -> Callable:
    """``tf.function`` with a free batch size: traced once per model, never again.

    Every model gets its own compiled function.  TensorFlow counts traces per code object and
    would warn "5 out of the last 5 calls … triggered tf.function retracing" from the fifth
    model on; a ``functools.partial`` is counted on its own, which silences a false alarm.
    """
    import tensorflow as tf

    return tf.function(functools.partial(fn), input_signature=signature)


# --------------------------------------------------------------------------------------------
# Grad-CAM / Grad-CAM++
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# Input gradients, saliency, SmoothGrad
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# Compiled forward pass and occlusion
# --------------------------------------------------------------------------------------------
def make_predict_fn(model: keras.Model, batch_size: int = 256) -> Callable[[np.ndarray], np.ndarray]:
    """A compiled, batched forward pass: the fast replacement of ``model.predict``.

    Args:
        model: The classifier (its outputs, softmax probabilities for our models, are returned
            as they are).
        batch_size: Largest chunk; inputs are cut into chunks of one size, the last padded.

    Returns:
        ``predict(x) -> np.ndarray (N, classes)`` on preprocessed float32 inputs.
    """
    shape = _input_shape(model)
    functions = _model_functions(model)
    if "forward" not in functions:
        model_ref = weakref.ref(model)

        def forward(x):
            with quiet_input_structure():  # runs once, while tracing
                return model_ref()(x, training=False)

        functions["forward"] = _compile(forward, [_spec((None, *shape))])
    forward = functions["forward"]
    classes = int(model.outputs[0].shape[-1])

    def predict(x: np.ndarray) -> np.ndarray:
        x = _images(x, shape)
        if not len(x):
            return np.zeros((0, classes), np.float32)
        return _run_batched(forward, _chunk_size(len(x), batch_size), x)

    return predict


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
        predict_fn: Batched probabilities, e.g. :func:`make_predict_fn`.
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
    size = max(1, min(batch_size, _OCCLUSION_CHUNK_BYTES // max(x[0].nbytes, 1)))
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


# --------------------------------------------------------------------------------------------
# Feature maps and filter visualisation
# --------------------------------------------------------------------------------------------
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
    ``tf.function``.

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
