"""Probes: sub-models that expose a hidden layer's activations next to the pre-softmax scores.

Grad-CAM needs ``∂ score_c / ∂ A`` for a hidden layer ``A``; saliency needs ``∂ score_c / ∂ x``.
Both want the score *before* the softmax (gradients of a saturated softmax vanish and mix in
the other classes).  This module derives those sub-models for the model shapes reportgen
builds or loads:

* a Functional or Sequential model whose target layer sits at the top level (our CNNs, the
  residual fer model);
* a transfer model whose backbone is a *nested* model (``Input → backbone → avg_pool → head``
  or ``Sequential([base, GlobalAveragePooling2D(), Dense])``).  ``Model(model.inputs,
  inner_layer.output)`` fails there with the classic "Graph disconnected" error, because the
  inner layer's tensor belongs to the backbone's own graph.  We build
  ``Model(base.inputs, [target.output, base.output])`` and replay the outer chain of layers
  after it, then check the replay against ``model(x)``.

References:
    Selvaraju et al. 2017, "Grad-CAM", https://arxiv.org/abs/1610.02391
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from reportgen.errors import AnalysisError

if TYPE_CHECKING:  # pragma: no cover
    import keras

__all__ = ["Probe", "build_probe", "find_target_layer", "logits_model"]

# Largest |difference| in probabilities accepted between a rebuilt model and the original.
# Both run the same float32 ops, so real differences are ~1e-7; a wrong replay is off by far more.
_VERIFY_ATOL = 1e-4


@dataclass(eq=False)
class Probe:
    """A model mapping inputs to ``[activations (N, h, w, k), scores (N, classes)]``.

    Attributes:
        model: The Keras model; ``scores`` are pre-softmax logits when the original model ends
            in a softmax, otherwise the original outputs.
        layer_path: Layer names from the top-level model down to the target layer, e.g.
            ``["block2_conv1"]`` or ``["backbone", "conv5_block3_out"]``.
        input_shape: ``(height, width, channels)`` of the input.
    """

    model: keras.Model
    layer_path: list[str]
    input_shape: tuple[int, int, int]
    # Compiled tf.functions keyed by method (filled by reportgen.explain.gradcam_maps).
    functions: dict[Any, Any] = field(default_factory=dict, repr=False)


# --------------------------------------------------------------------------------------------
# Finding the target layer
# --------------------------------------------------------------------------------------------
def _layer_classes():
    from keras import layers

    conv = (layers.Conv2D, layers.SeparableConv2D, layers.DepthwiseConv2D, layers.Conv2DTranspose)
    # Layers that keep the map and may follow the last convolution of a block; Grad-CAM on the
    # block's output (after BN, the residual Add and the ReLU) is the usual target, e.g.
    # ResNet50's conv5_block3_out rather than conv5_block3_3_conv.
    elementwise = (layers.BatchNormalization, layers.Activation, layers.ReLU, layers.LeakyReLU,
                   layers.PReLU, layers.ELU, layers.Add)
    return conv, elementwise


def _is_container(layer: Any) -> bool:
    import keras

    return isinstance(layer, keras.Model) and hasattr(layer, "layers")


def _output_shape(layer: Any) -> tuple | None:
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError, RuntimeError):
        return None
    return tuple(shape) if not isinstance(shape, list) else None


def _is_spatial(shape: tuple | None) -> bool:
    """4-D output with a map larger than 1×1 (unknown sizes count as spatial)."""
    if shape is None or len(shape) != 4:
        return False
    h, w = shape[1], shape[2]
    return h is None or w is None or h * w > 1


def _walk(model: Any, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every layer as ``(path, layer)`` in model order, nested models expanded in place."""
    found = []
    for layer in model.layers:
        if _is_container(layer):
            found.append((prefix + (layer.name,), layer))
            found += _walk(layer, prefix + (layer.name,))
        else:
            found.append((prefix + (layer.name,), layer))
    return found


def _consumes(layer: Any, producer: Any) -> bool:
    """Whether ``layer``'s first call takes ``producer``'s output as an input."""
    nodes = getattr(layer, "_inbound_nodes", None)
    if not nodes:
        return False
    history = [getattr(t, "_keras_history", None) for t in nodes[0].input_tensors]
    return any(h is not None and h[0] is producer for h in history)


def _candidates(model: Any, limit: int = 8) -> str:
    spatial = ["/".join(path) for path, layer in _walk(model)
               if not _is_container(layer) and _is_spatial(_output_shape(layer))]
    if not spatial:
        return "the model has no layer with a 4-D spatial output"
    shown = spatial[-limit:]
    more = f" (and {len(spatial) - len(shown)} earlier ones)" if len(spatial) > len(shown) else ""
    return "layers with a spatial output include: " + ", ".join(shown) + more


def find_target_layer(model: keras.Model, name: str | None = None) -> list[str]:
    """The path of layer names from ``model`` down to the Grad-CAM target layer.

    Rule when ``name`` is None: take the last convolution (Conv2D, SeparableConv2D,
    DepthwiseConv2D, Conv2DTranspose) whose output is 4-D with a map larger than 1×1,
    searching nested models in place; then follow it forward through the layers directly fed
    by it that keep the same map (BatchNormalization, activations, the residual Add), so a
    block's output (``conv5_block3_out``, ``out_relu``, ``block2_relu2``) is preferred to the
    raw convolution.  Pooling and dropout end the walk.  A model without convolutions falls
    back to the last layer with a 4-D spatial output.

    Args:
        model: A Functional or Sequential Keras model, possibly with nested models.
        name: A layer name to look up at the top level first, then in nested models.

    Returns:
        Layer names, e.g. ``["block2_conv1"]`` or ``["backbone", "conv5_block3_out"]``.

    Raises:
        AnalysisError: The name is unknown, or the model has no spatial layer.
    """
    walked = _walk(model)
    if name is not None:
        # Top level first, then nested models in model order.
        matches = sorted((p for p, _ in walked if p[-1] == name), key=len)
        if not matches:
            raise AnalysisError(f"model {model.name!r} has no layer named {name!r}; "
                                f"{_candidates(model)}")
        return list(matches[0])

    conv, elementwise = _layer_classes()
    flat = [(p, layer) for p, layer in walked if not _is_container(layer)]
    convs = [i for i, (_, layer) in enumerate(flat)
             if isinstance(layer, conv) and _is_spatial(_output_shape(layer))]
    if not convs:
        spatial = [i for i, (_, layer) in enumerate(flat) if _is_spatial(_output_shape(layer))]
        if not spatial:
            raise AnalysisError(f"model {model.name!r} has no layer with a 4-D spatial output "
                                "(height × width > 1) to explain")
        return list(flat[spatial[-1]][0])
    index = convs[-1]
    path, current = flat[index]
    shape = _output_shape(current)
    for next_path, layer in flat[index + 1:]:
        same_model = next_path[:-1] == path[:-1]
        if not (same_model and isinstance(layer, elementwise) and _output_shape(layer) == shape
                and _consumes(layer, current)):
            break
        path, current = next_path, layer
    return list(path)


# --------------------------------------------------------------------------------------------
# Scores before the softmax
# --------------------------------------------------------------------------------------------
def _is_softmax(activation: Any) -> bool:
    return getattr(activation, "__name__", "") == "softmax"


def _output_layer(model: Any) -> tuple[Any, Any]:
    """``(layer, its input tensor)`` of the layer producing the model's single output."""
    outputs = model.outputs
    if len(outputs) != 1:
        raise AnalysisError(f"model {model.name!r} has {len(outputs)} outputs; explanations need "
                            "one output of class scores")
    history = outputs[0]._keras_history
    layer, node = history[0], history[0]._inbound_nodes[history[1]]
    inputs = node.input_tensors
    return layer, (inputs[0] if len(inputs) == 1 else None)


def _scores(layer: Any, pre: Any, out: Any) -> Any:
    """Pre-softmax scores given the output layer, its input tensor ``pre`` and its output."""
    from keras import layers, ops

    if isinstance(layer, layers.Dense) and _is_softmax(layer.activation):
        # Same maths as the layer, without its activation; the variables stay shared.
        logits = ops.matmul(pre, layer.kernel)
        return ops.add(logits, layer.bias) if layer.use_bias else logits
    if isinstance(layer, layers.Softmax) or (
        isinstance(layer, layers.Activation) and _is_softmax(layer.activation)
    ):
        return pre
    return out


def _single_input(model: Any) -> Any:
    inputs = model.inputs
    if len(inputs) != 1:
        raise AnalysisError(f"model {model.name!r} has {len(inputs)} inputs; expected one image input")
    # A bare tensor (not a one-item list) so calling the model with an array raises no warning.
    return inputs[0]


def _input_shape(model: Any) -> tuple[int, int, int]:
    shape = tuple(_single_input(model).shape)
    if len(shape) != 4 or any(d is None for d in shape[1:]):
        raise AnalysisError(f"model {model.name!r} has input shape {shape}; expected "
                            "(batch, height, width, channels) with fixed sizes")
    return int(shape[1]), int(shape[2]), int(shape[3])


def _own_output(model: Any, layer: Any) -> Any:
    """``layer``'s output tensor in ``model``'s own graph.

    ``layer.output`` is the output of the layer's *first* call, which is wrong for a nested
    model (its own internal output) and for a layer that was called elsewhere first (a probe
    replay adds calls to the head layers).  Keras keeps the graph's node keys in ``_nodes``
    (a Sequential model keeps its graph in ``_functional``); without them, fall back.
    """
    graph = getattr(model, "_functional", None) or model
    nodes = getattr(graph, "_nodes", None)
    try:
        from keras.src.ops.function import make_node_key
    except ImportError:  # pragma: no cover - private helper moved
        make_node_key = None
    if nodes is not None and make_node_key is not None:
        for index, node in enumerate(getattr(layer, "_inbound_nodes", [])):
            if make_node_key(layer, index) in nodes and len(node.output_tensors) == 1:
                return node.output_tensors[0]
    return layer.output


def _inner_layer_output(model: Any, path: list[str]) -> tuple[Any, Any, Any]:
    """``(input, target activation, model output)`` tensors, replaying nested models if needed.

    For a target inside a nested model, ``Model(base.inputs, [target.output, base.output])``
    stands in for the nested model and the outer layers are called again, in order, on its
    output (a chain replay; callers verify it).  Deeper nesting recurses the same way.
    """
    import keras

    if len(path) == 1:
        return _single_input(model), _own_output(model, model.get_layer(path[0])), model.outputs[0]
    nested = model.get_layer(path[0])
    if not _is_container(nested):
        raise AnalysisError(f"layer {path[0]!r} of model {model.name!r} is not a nested model")
    inner_input, inner_act, inner_out = _inner_layer_output(nested, path[1:])
    inner = keras.Model(inner_input, [inner_act, inner_out], name=f"{nested.name}_probe")

    shape = tuple(_single_input(model).shape)[1:]
    x = keras.Input(shape=shape, name="probe_input")
    h, act = x, None
    try:
        for layer in model.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            if layer is nested:
                act, h = inner(h)
            else:
                h = layer(h)
    except Exception as exc:  # a non-chain outer graph: shapes or arity do not fit
        raise AnalysisError(
            f"cannot rebuild model {model.name!r} around nested model {nested.name!r} as a chain "
            f"of layers ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        ) from exc
    return x, act, h


def _replayed_output_layer(model: Any, replayed_out: Any) -> tuple[Any, Any]:
    """``(output layer, its input)`` in the replayed graph (the last call made by the replay)."""
    history = replayed_out._keras_history
    node = history[0]._inbound_nodes[history[1]]
    inputs = node.input_tensors
    return history[0], (inputs[0] if len(inputs) == 1 else None)


@contextlib.contextmanager
def quiet_input_structure():
    """Silence Keras' warning when a model built with ``inputs=[x]`` is called on a bare array.

    Legacy HDF5 models (fer) keep their inputs as a one-item list; the call works the same.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The structure of `inputs` doesn't match")
        yield


def _verify(model: Any, rebuilt: Any, what: str, seed: int = 0) -> None:
    """Raise AnalysisError unless softmax(rebuilt scores) reproduces ``model(x)``."""
    from keras import ops

    shape = _input_shape(model)
    x = np.random.default_rng(seed).uniform(0.0, 1.0, (2, *shape)).astype(np.float32)
    with quiet_input_structure():
        expected = np.asarray(model(x, training=False))
        scores = rebuilt(x, training=False)
    scores = np.asarray(scores[-1] if isinstance(scores, (list, tuple)) else scores)

    def same(a: np.ndarray) -> bool:
        return a.shape == expected.shape and np.allclose(a, expected, atol=_VERIFY_ATOL)

    if same(scores):  # the model has no softmax to strip
        return
    scores = np.asarray(ops.softmax(scores, axis=-1))
    if not same(scores):
        diff = (float(np.max(np.abs(scores - expected))) if scores.shape == expected.shape
                else f"shape {scores.shape} vs {expected.shape}")
        raise AnalysisError(
            f"cannot build the {what} of model {model.name!r}: the rebuilt graph does not "
            f"reproduce the model's outputs (max difference {diff}); the layers around a nested "
            "model must form a simple chain"
        )


def build_probe(model: keras.Model, layer: str | None = None) -> Probe:
    """A probe returning the activations of ``layer`` and the pre-softmax class scores.

    Args:
        model: The classifier (Functional or Sequential; nested backbones allowed).
        layer: Target layer name (top level or inside a nested model); default: the layer
            chosen by :func:`find_target_layer`.

    Returns:
        The :class:`Probe`; its model is checked against ``model`` on two random inputs.

    Raises:
        AnalysisError: Unknown layer, a multi-output model, or a graph that cannot be rebuilt.
    """
    import keras

    path = find_target_layer(model, layer)
    input_shape = _input_shape(model)
    inputs, act, out = _inner_layer_output(model, path)
    if len(path) == 1:
        last, pre = _output_layer(model)
    else:
        last, pre = _replayed_output_layer(model, out)
    shape = tuple(act.shape)
    if len(shape) != 4:
        raise AnalysisError(f"layer {'/'.join(path)!r} of model {model.name!r} has output shape "
                            f"{shape}; Grad-CAM needs a 4-D (batch, height, width, channels) map; "
                            f"{_candidates(model)}")
    probe_model = keras.Model(inputs, [act, _scores(last, pre, out)], name=f"{model.name}_probe")
    _verify(model, probe_model, f"Grad-CAM probe of layer {'/'.join(path)!r}")
    return Probe(model=probe_model, layer_path=path, input_shape=input_shape)


def logits_model(model: keras.Model) -> keras.Model:
    """``inputs → pre-softmax scores``: the model without its final softmax.

    A final ``Dense(activation="softmax")`` becomes ``x @ kernel + bias`` (same variables); a
    final softmax ``Activation``/``Softmax`` layer is skipped; any other output is kept as is.
    """
    import keras

    last, pre = _output_layer(model)
    scores = _scores(last, pre, model.outputs[0])
    rebuilt = keras.Model(_single_input(model), scores, name=f"{model.name}_logits")
    _verify(model, rebuilt, "pre-softmax scores")
    return rebuilt
