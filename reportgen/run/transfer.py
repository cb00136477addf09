"""Transfer learning: backbone vs head, staged trainable flags, and re-heading a trained model.

The *backbone* is every layer before the first layer whose output is no longer a spatial map
(Flatten / GlobalAveragePooling2D); the *head* is that layer and everything after it. A Keras
application nested in the classifier counts as one backbone layer whose own layers are
unfrozen from the end for ``trainable = N``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Union

import numpy as np

from reportgen.errors import ModelError
from reportgen.run.models import count_params

if TYPE_CHECKING:
    import keras

Trainable = Union[str, int]


def _top_layers(model: Any) -> list[Any]:
    import keras

    return [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


def _is_spatial(layer: Any) -> bool:
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):
        return False
    return len(shape) == 4


def backbone_and_head(model: keras.Model) -> tuple[list[Any], list[Any]]:
    """(backbone layers, head layers) at the top level of ``model``."""
    layers = _top_layers(model)
    for i, layer in enumerate(layers):
        if not _is_spatial(layer):
            return layers[:i], layers[i:]
    raise ModelError(f"model {model.name!r} has no layer that leaves the spatial maps "
                     "(Flatten or global pooling), so its head cannot be told from its backbone")


def _flatten(layers: list[Any]) -> list[Any]:
    """Leaf layers in order, looking inside nested models."""
    out = []
    for layer in layers:
        inner = getattr(layer, "layers", None)
        out += _flatten(_top_layers(layer)) if inner else [layer]
    return out


def set_trainable(model: keras.Model, trainable: Trainable) -> dict[str, int]:
    """Apply a stage's ``trainable`` (``head``, ``all`` or the last N weighted backbone layers).

    Keras 3 runs a BatchNormalization layer with ``trainable = False`` in inference mode, so
    frozen BN layers keep their statistics. Returns the trainable / frozen parameter counts.
    """
    backbone, head = backbone_and_head(model)
    model.trainable = True
    for layer in head:
        layer.trainable = True
    leaves = _flatten(backbone)
    if trainable == "all":
        unfrozen = set(map(id, leaves))
    elif trainable == "head":
        unfrozen = set()
    else:
        weighted = [layer for layer in leaves if layer.weights]
        unfrozen = set(map(id, weighted[-int(trainable):]))
    for layer in backbone:
        layer.trainable = True  # containers on; their leaves decide below
    for layer in leaves:
        layer.trainable = id(layer) in unfrozen
    counts = count_params(model)
    return {"trainable_params": counts["trainable"], "frozen_params": counts["total"] - counts["trainable"]}


def rehead(model: keras.Model, old_classes: list[str], new_classes: list[str], seed: int) -> keras.Model:
    """The same network with an output layer for ``new_classes``.

    Equal class lists keep the model as it is. Otherwise the final Dense layer is replaced by
    a new one (seeded Glorot init) whose units for class names shared with ``old_classes``
    start from the old units' weights — e.g. FER's 7 classes → CK+'s 7, where ``contempt``
    replaces ``neutral`` and the six shared emotions keep what they learned.
    """
    import keras

    if list(old_classes) == list(new_classes):
        return model
    last = model.layers[-1]
    if not isinstance(last, keras.layers.Dense):
        raise ModelError(f"init_from: the class set changes ({len(old_classes)} → {len(new_classes)} "
                         f"classes) but the last layer of {model.name!r} is {type(last).__name__}, "
                         "not Dense, so there is no output layer to replace")
    features = last.input
    new_dense = keras.layers.Dense(len(new_classes), activation=last.activation, name="predictions",
                                   kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
                                   dtype="float32")
    reheaded = keras.Model(model.inputs, new_dense(features), name=model.name)
    kernel, bias = (np.array(w) for w in new_dense.get_weights())
    old_kernel, old_bias = last.get_weights()
    for j, name in enumerate(new_classes):
        if name in old_classes:
            i = old_classes.index(name)
            kernel[:, j], bias[j] = old_kernel[:, i], old_bias[i]
    new_dense.set_weights([kernel, bias])
    return reheaded


def shared_classes(old_classes: list[str], new_classes: list[str]) -> list[str]:
    return [c for c in new_classes if c in old_classes]
