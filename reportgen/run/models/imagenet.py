"""ImageNet files keras.applications would download, found offline: weight files, the Keras
cache folder, and ``imagenet_class_index.json`` for the 1000 class names.

Plain string rules (no TensorFlow), written from each module's ``BASE_WEIGHTS_PATH`` /
``WEIGHTS_PATH_NO_TOP`` and ``get_file`` call in ``keras/src/applications/*.py`` (Keras 3.15);
tests/test_model_kinds.py checks them against the file Keras itself asks for.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from reportgen.errors import ModelError

KERAS_APPS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"
CLASS_INDEX_FILE = "imagenet_class_index.json"
CLASS_INDEX_URL = "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json"

# "…_weights_tf_dim_ordering_tf_kernels[_notop].h5" in folder KERAS_APPS_URL + <folder>/
_TF_KERNELS = {
    "VGG16": ("vgg16", "vgg16"), "VGG19": ("vgg19", "vgg19"),
    "ResNet50": ("resnet", "resnet50"), "ResNet101": ("resnet", "resnet101"),
    "ResNet152": ("resnet", "resnet152"), "ResNet50V2": ("resnet", "resnet50v2"),
    "ResNet101V2": ("resnet", "resnet101v2"), "ResNet152V2": ("resnet", "resnet152v2"),
    "DenseNet121": ("densenet", "densenet121"), "DenseNet169": ("densenet", "densenet169"),
    "DenseNet201": ("densenet", "densenet201"),
    "InceptionV3": ("inception_v3", "inception_v3"),
    "InceptionResNetV2": ("inception_resnet_v2", "inception_resnet_v2"),
    "Xception": ("xception", "xception"),
}
# The file is "<model name>[_notop].h5": the constructor's default ``name`` (or options.name).
_BY_MODEL_NAME = {
    **{f"EfficientNetB{i}": ("https://storage.googleapis.com/keras-applications/", f"efficientnetb{i}")
       for i in range(8)},
    **{f"EfficientNetV2{v}": (KERAS_APPS_URL + "efficientnet_v2/", f"efficientnetv2-{v.lower()}")
       for v in ("B0", "B1", "B2", "B3", "S", "M", "L")},
    **{f"ConvNeXt{v}": (KERAS_APPS_URL + "convnext/", f"convnext_{v.lower()}")
       for v in ("Tiny", "Small", "Base", "Large", "XLarge")},
}
_NASNET = {"NASNetMobile": "mobile", "NASNetLarge": "large"}
_MOBILENET_ALPHA_TEXT = {0.25: "2_5", 0.5: "5_0", 0.75: "7_5", 1.0: "1_0"}


def keras_cache_dir() -> Path:
    """The folder ``keras.utils.get_file(..., cache_subdir="models")`` reads and writes.

    Mirrors Keras 3 (``keras/src/backend/config.py`` + ``keras/src/utils/file_utils.py``):
    ``$KERAS_HOME`` if that variable is set, else ``~/.keras`` (``/tmp/.keras`` when the home
    folder is not writable); if that folder exists but is not writable, get_file falls back to
    ``/tmp/.keras``.  Then ``models/``.  Unlike Keras, which reads ``KERAS_HOME`` once when it
    is imported, this reads the environment on every call (same result in a fresh process).
    """
    if "KERAS_HOME" in os.environ:
        base = os.environ["KERAS_HOME"]
    else:
        home = os.path.expanduser("~")
        base = os.path.join(home if os.access(home, os.W_OK) else "/tmp", ".keras")
    base = os.path.expanduser(base)
    # Keras creates its home folder on import, so a missing folder is not a reason to fall
    # back; an existing read-only (or empty-string) one is.
    if not base or (os.path.exists(base) and not os.access(base, os.W_OK)):
        base = os.path.join("/tmp", ".keras")
    return Path(base).absolute() / "models"


def _square_rows(input_shape: tuple[int, ...], allowed: tuple[int, ...]) -> int:
    """The weight resolution MobileNet v1/v2 pick: the input size if square and allowed, else
    224 (Keras warns and loads the 224 weights; it does NOT round to the nearest)."""
    rows, cols = input_shape[0], input_shape[1]
    return rows if rows == cols and rows in allowed else 224


def imagenet_weights_file(architecture: str, input_shape: tuple[int, ...], include_top: bool = False,
                          options: dict[str, Any] | None = None) -> tuple[str, str]:
    """``(file name, download URL)`` of the ImageNet weights keras.applications loads for
    ``architecture`` (no-top unless ``include_top``); ModelError when the name cannot be
    derived (the builder then asks Keras itself, see application.py)."""
    options = options or {}
    suffix = "" if include_top else "_notop"
    if architecture in _TF_KERNELS:
        folder, stem = _TF_KERNELS[architecture]
        name = f"{stem}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
        return name, f"{KERAS_APPS_URL}{folder}/{name}"
    if architecture in _BY_MODEL_NAME:
        base, stem = _BY_MODEL_NAME[architecture]
        name = f"{options.get('name', stem)}{suffix}.h5"
        return name, base + name
    if architecture in _NASNET:
        size = _NASNET[architecture]
        name = f"nasnet_{size}{'' if include_top else '_no_top'}.h5"
        url = f"{KERAS_APPS_URL}nasnet/NASNet-{size}{'' if include_top else '-no-top'}.h5"
        return name, url
    alpha = options.get("alpha", 1.0)
    if architecture == "MobileNet" and alpha in _MOBILENET_ALPHA_TEXT:
        rows = _square_rows(input_shape, (128, 160, 192, 224))
        name = f"mobilenet_{_MOBILENET_ALPHA_TEXT[alpha]}_{rows}_tf{'' if include_top else '_no_top'}.h5"
        return name, f"{KERAS_APPS_URL}mobilenet/{name}"
    if architecture == "MobileNetV2":
        rows = _square_rows(input_shape, (96, 128, 160, 192, 224))
        name = (f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}"
                f"{'' if include_top else '_no_top'}.h5")
        return name, f"{KERAS_APPS_URL}mobilenet_v2/{name}"
    if architecture in ("MobileNetV3Small", "MobileNetV3Large"):
        kind = "small" if architecture.endswith("Small") else "large"
        minimal = "_minimalistic" if options.get("minimalistic") else ""
        top = "" if include_top else "_no_top_v2"
        name = f"weights_mobilenet_v3_{kind}{minimal}_224_{alpha}_float{top}.h5"
        return name, f"{KERAS_APPS_URL}mobilenet_v3/{name}"
    raise ModelError(f"architecture: the ImageNet weight file name of {architecture} with options "
                     f"{options} cannot be derived offline")


def missing_file_message(field: str, what: str, path: Path, url: str, remedy: str) -> str:
    return (f"{field}: {what} not found: expected {path} (file {path.name}, which Keras would "
            f"download from {url}; reportgen never downloads). Put that file there (the folder "
            f"is $KERAS_HOME/models, default ~/.keras/models), {remedy}")


def missing_weights_message(architecture: str, name: str, path: Path, url: str) -> str:
    return missing_file_message(
        "weights", "ImageNet weights", path, url,
        f'or point the model at a copy with weights_file = "path/to/{name}" in its [[models]] '
        f'entry, or set weights = "none". (keras.applications.{architecture})')


def class_index_path(class_index_file: Path | None, base_dir: Path) -> Path:
    """``imagenet_class_index.json``: the given file (relative to the manifest) or the cache's."""
    if class_index_file is None:
        return keras_cache_dir() / CLASS_INDEX_FILE
    path = Path(class_index_file).expanduser()
    return (path if path.is_absolute() else Path(base_dir) / path).absolute()


def class_index_problems(class_index_file: Path | None, base_dir: Path) -> list[str]:
    path = class_index_path(class_index_file, base_dir)
    if path.is_file():
        return []
    if class_index_file is not None:
        return [f"class_index_file: file not found: {path}"]
    return [missing_file_message(
        "class_index_file", "ImageNet class index", path, CLASS_INDEX_URL,
        f'or give its path as class_index_file = "path/to/{CLASS_INDEX_FILE}".')]


def imagenet_class_names(class_index_file: Path | None, base_dir: Path) -> list[str]:
    """The 1000 ImageNet class names (``German_shepherd``, ``tiger``, …) in output order, from
    Keras' ``imagenet_class_index.json`` (``{"0": ["n01440764", "tench"], …}``)."""
    problems = class_index_problems(class_index_file, base_dir)
    if problems:
        raise ModelError(problems[0])
    path = class_index_path(class_index_file, base_dir)
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
        names = [index[str(i)][1] for i in range(len(index))]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ModelError(f"class_index_file: {path} is not an ImageNet class index "
                         f'({{"0": ["n01440764", "tench"], …}}): {exc}') from None
    return names
