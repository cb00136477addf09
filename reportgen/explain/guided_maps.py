"""Guided Backprop and Guided Grad-CAM, compiled and batched.

Guided Backprop takes ``∂ score_c / ∂ x`` through a network whose ReLUs pass back only
positive gradients at positive inputs.  The user's model is never rebuilt: while the compiled
function is *traced* (once per model), its plain ReLUs are swapped for a guided ReLU with a
``tf.custom_gradient`` and put back in a ``finally`` (also when tracing fails), so the graph
holds the guided ReLUs and the model keeps its own.  The variables stay shared, so the maps
follow later weight changes.

Covered ReLU forms, at any depth of nested models: ``activation="relu"`` on a layer (Dense,
Conv2D, …), ``layers.Activation("relu")`` and a plain ``layers.ReLU()`` (no ``max_value``,
``negative_slope`` or ``threshold``).  Other nonlinearities (ReLU6, LeakyReLU, ELU, tanh, …)
are left as they are; :func:`guided_coverage` lists both, and each trace logs the counts.

References:
    Springenberg et al. 2015, "Striving for Simplicity: The All Convolutional Net",
    https://arxiv.org/abs/1412.6806
    Selvaraju et al. 2017, "Grad-CAM", https://arxiv.org/abs/1610.02391
"""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from reportgen.explain.batching import (
    _chunk_size,
    _classes,
    _compile,
    _images,
    _model_functions,
    _run_batched,
    _spec,
)
from reportgen.explain.gradcam_maps import gradcam
from reportgen.explain.probe import Probe, _input_shape, _is_container, _walk, logits_model

if TYPE_CHECKING:  # pragma: no cover
    import keras

__all__ = ["GuidedCoverage", "guided_backprop", "guided_coverage", "guided_gradcam"]

_LOG = logging.getLogger(__name__)
_MISSING = object()
# Output activations that the pre-softmax scores skip, and the identity: neither is "left as is".
_NOT_NONLINEAR = {"linear", "softmax"}


@dataclass(frozen=True)
class GuidedCoverage:
    """Which nonlinearities Guided Backprop guides (layer paths like ``backbone/conv1_relu``)."""

    guided: tuple[str, ...]
    left_as_is: tuple[str, ...]


def _activation_name(layer: Any) -> str | None:
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", None) if callable(activation) else None


def _is_plain_relu_layer(layer: Any) -> bool:
    from keras import layers

    return (isinstance(layer, layers.ReLU) and layer.max_value is None
            and not layer.negative_slope and not layer.threshold)


def _classify(model: Any) -> tuple[list[tuple[str, Any, str]], list[str]]:
    """``([(path, layer, how)], [paths left as is])``; ``how`` is "activation" or "call"."""
    from keras import layers

    guided, left = [], []
    seen: set[int] = set()
    for path, layer in _walk(model):
        if _is_container(layer) or id(layer) in seen:
            continue
        seen.add(id(layer))  # a layer shared by a probe and its nested model counts once
        name = "/".join(path)
        if _is_plain_relu_layer(layer):
            guided.append((name, layer, "call"))
        elif isinstance(layer, (layers.ReLU, layers.LeakyReLU, layers.PReLU, layers.ELU)):
            left.append(name)
        elif _activation_name(layer) == "relu":
            guided.append((name, layer, "activation"))
        elif _activation_name(layer) not in (None, *_NOT_NONLINEAR):
            left.append(name)
    return guided, left


def guided_coverage(model: keras.Model) -> GuidedCoverage:
    """The ReLUs Guided Backprop replaces and the nonlinearities it leaves as they are."""
    guided, left = _classify(model)
    return GuidedCoverage(tuple(name for name, _, _ in guided), tuple(left))


def _guided_relu():
    import tensorflow as tf

    @tf.custom_gradient
    def guided_relu(x):
        def grad(upstream):
            # Springenberg et al.: forward mask (x > 0) and backward mask (gradient > 0).
            keep = tf.logical_and(x > 0.0, upstream > 0.0)
            return tf.where(keep, upstream, tf.zeros_like(upstream))

        return tf.nn.relu(x), grad

    guided_relu.__name__ = "guided_relu"
    return guided_relu


@contextlib.contextmanager
def _guided_relus(model: Any) -> Iterator[GuidedCoverage]:
    """Swap the model's plain ReLUs for guided ones, restoring them on exit (even on error).

    ``object.__setattr__`` bypasses Keras' attribute tracking: nothing is recorded in the
    layer's state, and the instance attribute is removed again afterwards.
    """
    guided, left = _classify(model)
    relu = _guided_relu()
    saved = []
    try:
        for _, layer, how in guided:
            attribute = "activation" if how == "activation" else "call"
            saved.append((layer, attribute, layer.__dict__.get(attribute, _MISSING)))
            replacement = relu if how == "activation" else (lambda inputs, *_a, **_k: relu(inputs))
            object.__setattr__(layer, attribute, replacement)
        yield GuidedCoverage(tuple(name for name, _, _ in guided), tuple(left))
    finally:
        for layer, attribute, original in reversed(saved):
            if original is _MISSING:
                object.__delattr__(layer, attribute)
            else:
                object.__setattr__(layer, attribute, original)


def _guided_function(scores_model: Any, output: int | None) -> Callable:
    """Compiled ``(x, c) -> guided ∂ score_c / ∂ x``; ``output`` picks the scores of a probe."""
    functions = _model_functions(scores_model)
    key = ("guided_backprop", output)
    if key not in functions:
        import tensorflow as tf

        shape = _input_shape(scores_model)
        model_ref = weakref.ref(scores_model)  # the cache must not keep the model alive

        def guided_batch(x, c):
            model = model_ref()
            with _guided_relus(model) as coverage:  # runs while tracing only
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    scores = model(x, training=False)
                    scores = scores if output is None else scores[output]
                    score = tf.gather(scores, c, axis=1, batch_dims=1)
                grads = tape.gradient(score, x)
            _LOG.info("guided backprop of %s: %d ReLU(s) guided, %d other nonlinearities left "
                      "as is%s", model.name, len(coverage.guided), len(coverage.left_as_is),
                      f" ({', '.join(coverage.left_as_is)})" if coverage.left_as_is else "")
            return grads

        functions[key] = _compile(guided_batch, [_spec((None, *shape)), _spec((None,), "int32")])
    return functions[key]


def _logits_model(model: Any) -> Any:
    """The model's pre-softmax scores, built once per model."""
    functions = _model_functions(model)
    if "logits_model" not in functions:
        functions["logits_model"] = logits_model(model)
    return functions["logits_model"]


def guided_backprop(model: keras.Model, x: np.ndarray, targets: np.ndarray,
                    batch_size: int = 64) -> np.ndarray:
    """Guided Backprop (Springenberg et al. 2015): signed float32 ``(N, H, W, C)`` gradients.

    The gradient of the pre-softmax score of ``targets`` with respect to the input, where
    every covered ReLU (see the module docstring and :func:`guided_coverage`) passes back only
    positive gradients at positive inputs.  Values are signed and not normalised: layers
    before the first ReLU (e.g. a convolution) may turn them negative.

    Args:
        model: The classifier (nested backbones allowed); it is not modified.
        x: Preprocessed inputs ``(N, H, W, C)``.
        targets: Class per image ``(N,)`` (or one int).
        batch_size: Images per compiled call.
    """
    scores_model = _logits_model(model)
    shape = _input_shape(scores_model)
    x = _images(x, shape)
    c = _classes(targets, len(x), scores_model.outputs[0].shape[-1])
    if not len(x):
        return np.zeros((0, *shape), np.float32)
    fn = _guided_function(scores_model, None)
    return _run_batched(fn, _chunk_size(len(x), batch_size), x, c).astype(np.float32)


def guided_gradcam(probe: Probe, x: np.ndarray, targets: np.ndarray,
                   batch_size: int = 64) -> np.ndarray:
    """Guided Grad-CAM (Selvaraju et al. 2017): Guided Backprop × upsampled Grad-CAM.

    Both factors come from the probe's model (its pre-softmax scores, the same layers and
    variables as the classifier).  Each pixel keeps the largest positive product over the
    input channels: the evidence *for* the class.

    Returns:
        float32 ``(N, H, W)`` in [0, 1], each map divided by its max (all zero without
        positive evidence).
    """
    x = _images(x, probe.input_shape)
    c = _classes(targets, len(x), probe.model.outputs[1].shape[-1])
    if not len(x):
        return np.zeros((0, *probe.input_shape[:2]), np.float32)
    fn = _guided_function(probe.model, 1)
    guided = _run_batched(fn, _chunk_size(len(x), batch_size), x, c)
    cams = gradcam(probe, x, c, batch_size=batch_size)
    maps = np.clip(guided * cams[..., None], 0.0, None).max(axis=-1)
    peak = maps.max(axis=(1, 2), keepdims=True)
    return np.divide(maps, peak, out=np.zeros_like(maps), where=peak > 0).astype(np.float32)
