"""Shared batching of the explanation methods: compiled functions with a free batch size.

Every gradient in :mod:`reportgen.explain` is taken inside a ``tf.function``: an eager
``tf.GradientTape`` through the pretrained fer model has crashed in oneDNN (segfault / double
free) on our machines.
Each compiled function has an input signature with a free batch size, so it is traced once;
inputs are cut into chunks of one size (the last one padded) so the kernels also see one
shape.  A ``model.predict`` call costs ~70 ms of overhead, so sampling methods use
:func:`make_predict_fn` instead.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from reportgen.errors import AnalysisError
from reportgen.explain.probe import _input_shape, quiet_input_structure

if TYPE_CHECKING:  # pragma: no cover
    import keras

CHUNK_BYTES = 64 * 2**20
"""Perturbed copies of the inputs (occluded, masked) held in memory at once stay under this many
bytes: occlusion, RISE and Score-CAM cut their work into chunks of this size."""

__all__ = ["make_predict_fn"]

# Compiled functions of plain Keras models (logits models, classifiers), dropped with the model.
_FUNCTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


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
# Compiled forward pass
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
