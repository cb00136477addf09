"""Does a weight file fit an architecture?  Read from the HDF5 header (names and shapes, no
weight values), compared with the architecture built with ``weights=None``.

Two layouts exist: the legacy one that Keras' own ImageNet files and ``save_weights("x.h5")``
of Keras 2 use (``layer_names`` at the root or under ``model_weights``, one group per layer,
loaded by layer order), and Keras 3's ``.weights.h5`` (``layers/<path>/vars/<i>``, loaded by
structure).  Keras' loader itself only fails deep inside with a shape error; this says which
network the file belongs to instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

# keras.applications no-top backbones with default options: (weight tensors, parameters) ->
# architecture, so a wrong file can be named.  Weight shapes do not depend on the input size.
# Generated with Keras 3.15 (include_top=False, weights=None, default options); the
# weights_file tests check two of them.
FINGERPRINTS: dict[tuple[int, int], str] = {
    (342, 87566464): "ConvNeXtBase",
    (342, 196230336): "ConvNeXtLarge",
    (342, 49454688): "ConvNeXtSmall",
    (180, 27820128): "ConvNeXtTiny",
    (342, 348147968): "ConvNeXtXLarge",
    (604, 7037504): "DenseNet121",
    (844, 12642880): "DenseNet169",
    (1004, 18321984): "DenseNet201",
    (312, 4049571): "EfficientNetB0",
    (440, 6575239): "EfficientNetB1",
    (440, 7768569): "EfficientNetB2",
    (497, 10783535): "EfficientNetB3",
    (611, 17673823): "EfficientNetB4",
    (739, 28513527): "EfficientNetB5",
    (853, 40960143): "EfficientNetB6",
    (1038, 64097687): "EfficientNetB7",
    (359, 5919312): "EfficientNetV2B0",
    (441, 6931124): "EfficientNetV2B1",
    (460, 8769374): "EfficientNetV2B2",
    (536, 12930622): "EfficientNetV2B3",
    (1329, 117746848): "EfficientNetV2L",
    (961, 53150388): "EfficientNetV2M",
    (670, 20331360): "EfficientNetV2S",
    (896, 54336736): "InceptionResNetV2",
    (376, 21802784): "InceptionV3",
    (135, 3228864): "MobileNet",
    (260, 2257984): "MobileNetV2",
    (262, 2996352): "MobileNetV3Large",
    (206, 939120): "MobileNetV3Small",
    (1535, 84887922): "NASNetLarge",
    (1124, 4269716): "NASNetMobile",
    (624, 42658176): "ResNet101",
    (542, 42626560): "ResNet101V2",
    (930, 58370944): "ResNet152",
    (814, 58331648): "ResNet152V2",
    (318, 23587712): "ResNet50",
    (270, 23564800): "ResNet50V2",
    (26, 14714688): "VGG16",
    (32, 20024384): "VGG19",
    (234, 20861480): "Xception",
}


def _decode(value: Any) -> str:
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


def read_weight_shapes(path: Path) -> tuple[str, list[list[tuple[int, ...]]], str | None]:
    """``(layout, shapes, saved model name)``: for the legacy layout one list of weight shapes
    per layer that has weights, in file order; for Keras 3's a single list of every variable's
    shape.  Raises OSError / KeyError for a file that is neither."""
    import h5py

    with h5py.File(path, "r") as f:
        model_name = None
        if "model_config" in f.attrs:
            try:
                model_name = json.loads(_decode(f.attrs["model_config"]))["config"]["name"]
            except (ValueError, KeyError, TypeError):
                model_name = None
        group = f["model_weights"] if "model_weights" in f else f
        if "layer_names" in group.attrs:
            per_layer = []
            for name in group.attrs["layer_names"]:
                layer = group[_decode(name)]
                weights = [tuple(layer[_decode(w)].shape) for w in layer.attrs.get("weight_names", [])]
                if weights:
                    per_layer.append(weights)
            return "legacy", per_layer, model_name
        shapes: list[tuple[int, ...]] = []

        def visit(_: str, obj: Any) -> None:
            if isinstance(obj, h5py.Dataset):
                shapes.append(tuple(obj.shape))

        group.visititems(visit)
        if not shapes:
            raise KeyError("no weights in the file")
        return "keras3", [shapes], model_name


def _count(shapes: list[tuple[int, ...]]) -> tuple[int, int]:
    return len(shapes), int(sum(int(np.prod(s)) for s in shapes))


def weights_mismatch(path: Path, model: Any, architecture: str) -> str | None:
    """None when ``path``'s weights fit ``model`` (``architecture`` built without weights);
    otherwise one sentence naming the file, what it holds and what the architecture needs."""
    try:
        layout, file_shapes, saved_name = read_weight_shapes(path)
    except (OSError, KeyError, ValueError) as exc:
        return f"{path} is not a Keras weight file (HDF5 with layer weights): {exc}"
    layers = [layer for layer in model.layers if layer.weights]
    model_per_layer = [[tuple(w.shape) for w in layer.weights] for layer in layers]
    if layout == "legacy":
        fits = file_shapes == model_per_layer
    else:
        fits = sorted(file_shapes[0]) == sorted(s for shapes in model_per_layer for s in shapes)
    if fits:
        return None
    flat = [s for shapes in file_shapes for s in shapes]
    tensors, params = _count(flat)
    want_tensors, want_params = _count([s for shapes in model_per_layer for s in shapes])
    guess = FINGERPRINTS.get((tensors, params))
    if saved_name:
        holder = f"a saved model named {saved_name!r}"
    elif guess:
        holder = f"keras.applications.{guess} weights"
    else:
        holder = "weights of another network"
    detail = ""
    if layout == "legacy" and len(file_shapes) == len(model_per_layer):
        for i, (got, want) in enumerate(zip(file_shapes, model_per_layer)):
            if got != want:
                detail = (f"; the first difference is weighted layer {i} ({layers[i].name}): "
                          f"file {got}, {architecture} {want}")
                break
    return (f"{path} holds {holder} ({tensors} weight tensors, {params:,} parameters), not "
            f"{architecture}'s ({want_tensors} tensors, {want_params:,} parameters){detail}")
