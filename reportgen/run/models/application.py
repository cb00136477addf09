"""``kind = "application"``: any ``keras.applications`` network by its Keras name.

As a backbone (nested model named ``backbone``) under a new head, or with ``include_top`` as
the ImageNet 1000-class classifier itself.  ImageNet weights come from the Keras cache or
``weights_file``; nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from reportgen.errors import ModelError
from reportgen.run.models.base import check_outputs, register_kind, relative_to, root_cause
from reportgen.run.models.cnn import classification_head
from reportgen.run.models.imagenet import (
    class_index_problems,
    imagenet_class_names,
    imagenet_weights_file,
    keras_cache_dir,
    missing_weights_message,
)
from reportgen.run.models.weights_header import weights_mismatch

if TYPE_CHECKING:  # pragma: no cover
    import keras

    from reportgen.config.models import ApplicationModel


def constructor(architecture: str) -> Callable[..., Any]:
    import keras

    return getattr(keras.applications, architecture)


def _pretrained(spec: ApplicationModel) -> bool:
    return spec.weights_file is not None or spec.weights == "imagenet"


def _described(spec: ApplicationModel) -> str:
    options = ", ".join(f"{k}={v!r}" for k, v in spec.options.items())
    return f"{spec.architecture}({options})" if options else spec.architecture


def imagenet_weights_path(spec: ApplicationModel) -> Path:
    """Where the Keras cache holds ``spec``'s ImageNet weights."""
    name, _ = imagenet_weights_file(spec.architecture, tuple(spec.input_shape), spec.include_top,
                                    spec.options)
    return keras_cache_dir() / name


# --------------------------------------------------------------------------------------------
# Offline weights
# --------------------------------------------------------------------------------------------
_GET_FILE_LOCK = threading.Lock()


class _Asked(Exception):
    """Raised from the patched get_file to stop a dry run once Keras names its weight file."""

    def __init__(self, fname: str, origin: str):
        super().__init__(fname)
        self.fname, self.origin = fname, origin


@contextlib.contextmanager
def _offline_weights(architecture: str, resolve: Callable[[str, str], str]):
    """Make keras.applications take its ImageNet weights from ``resolve(fname, origin)``.

    Keras applications call ``file_utils.get_file(fname, origin, cache_subdir="models", …)``
    and would download on a miss or a hash mismatch.  Swapping ``get_file`` for the build lets
    Keras construct the exact ImageNet variant of the model (EfficientNet adds an extra
    Rescaling layer only when ``weights == "imagenet"``) while the file comes from us and no
    network is ever touched.  Yields the list of (fname, origin) Keras asked for.
    """
    from keras.src.utils import file_utils

    constructor(architecture)  # imports its module (ResNet50V2 calls resnet.py's ResNet)
    # The patch only works while the application modules look get_file up through the
    # file_utils module at call time; refuse (rather than risk a download) otherwise.
    for name, module in list(sys.modules.items()):
        if name.startswith("keras.src.applications.") and (
                getattr(module, "file_utils", file_utils) is not file_utils or hasattr(module, "get_file")):
            raise ModelError(f"this Keras version ({name}) loads ImageNet weights in an "
                             "unexpected way; reportgen cannot load them offline")
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


def _construct(spec: ApplicationModel, weights: str | None) -> keras.Model:
    # Keep Keras' default model name: EfficientNet / ConvNeXt derive the weight file from it.
    return constructor(spec.architecture)(include_top=spec.include_top, weights=weights,
                                          input_shape=tuple(spec.input_shape), **spec.options)


def requested_weights(spec: ApplicationModel) -> tuple[str, str]:
    """``(file name, URL)`` Keras itself asks for: a dry run of the constructor with ImageNet
    weights that stops at the download.  For option combinations the static rules of
    imagenet.py do not cover; raises what the constructor raises for bad settings."""

    def stop(fname: str, origin: str) -> str:
        raise _Asked(fname, origin)

    try:
        with _offline_weights(spec.architecture, stop):
            _construct(spec, "imagenet")
    except _Asked as asked:
        return asked.fname, asked.origin
    raise ModelError(f"architecture: keras.applications.{spec.architecture} did not ask for "
                     "ImageNet weights; this Keras version is not supported")


# --------------------------------------------------------------------------------------------
# Checks (what validate runs)
# --------------------------------------------------------------------------------------------
def option_problems(spec: ApplicationModel) -> list[str]:
    """Options the constructor does not take (imports Keras; only called when there are any)."""
    params = inspect.signature(constructor(spec.architecture)).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return []
    unknown = [k for k in spec.options if k not in params]
    if not unknown:
        return []
    from reportgen.config.models import RESERVED_OPTIONS

    takes = [p for p in params if p not in RESERVED_OPTIONS]
    return [f"options: keras.applications.{spec.architecture} takes no option "
            f"{', '.join(map(repr, unknown))}; it takes {', '.join(takes)}"]


def _weights_problems(spec: ApplicationModel, base_dir: Path) -> list[str]:
    if spec.weights_file is not None:
        path = relative_to(base_dir, spec.weights_file)
        if not path.is_file():
            return [f"weights_file: file not found: {path}"]
        try:
            reference = _construct(spec, None)
        except Exception as exc:  # noqa: BLE001 - reported below as the settings problem
            return [f"architecture: keras.applications.{_described(spec)} cannot be built with "
                    f"input_shape {list(spec.input_shape)}: {root_cause(exc)}"]
        mismatch = weights_mismatch(path, reference, _described(spec))
        return [f"weights_file: {mismatch}"] if mismatch else []
    if spec.weights != "imagenet":
        return []
    try:
        name, url = imagenet_weights_file(spec.architecture, tuple(spec.input_shape), spec.include_top,
                                          spec.options)
    except ModelError:
        try:
            name, url = requested_weights(spec)
        except Exception as exc:  # noqa: BLE001 - Keras refuses these settings
            return [f"options: keras.applications.{_described(spec)} with ImageNet weights: "
                    f"{root_cause(exc)}"]
    path = keras_cache_dir() / name
    return [] if path.is_file() else [missing_weights_message(spec.architecture, name, path, url)]


def check_application(spec: ApplicationModel, base_dir: Path) -> list[str]:
    """Options exist, the class index (include_top) and weights are there, a weights_file fits
    the architecture, and Keras accepts the settings (input size for include_top, alpha for
    ImageNet MobileNet…).  Without options, include_top or weights_file: no TensorFlow."""
    problems = option_problems(spec) if spec.options else []
    if problems:
        return problems
    if spec.include_top:
        problems += class_index_problems(spec.class_index_file, base_dir)
    problems += _weights_problems(spec, base_dir)
    # Keras already refused the settings while naming the weight file: said once is enough.
    if not (spec.options or spec.include_top) or any(p.startswith(("architecture:", "options:"))
                                                     for p in problems):
        return problems
    try:  # the constructor's own checks, without loading weights
        if _pretrained(spec):
            requested_weights(spec)
        else:
            _construct(spec, None)
    except Exception as exc:  # noqa: BLE001
        problems.append(f"architecture: keras.applications.{_described(spec)} refuses "
                        f"input_shape {list(spec.input_shape)}"
                        f"{' with include_top' if spec.include_top else ''}: {root_cause(exc)}")
    return problems


# --------------------------------------------------------------------------------------------
# Builder
# --------------------------------------------------------------------------------------------
def _backbone(spec: ApplicationModel, base_dir: Path) -> keras.Model:
    if not _pretrained(spec):
        return _construct(spec, None)
    if spec.weights_file is not None:
        weights_path = relative_to(base_dir, spec.weights_file)
        if not weights_path.is_file():
            raise ModelError(f"weights_file: file not found: {weights_path}")

        def resolve(fname: str, origin: str) -> str:
            return str(weights_path)

    else:
        cache = keras_cache_dir()

        def resolve(fname: str, origin: str) -> str:
            path = cache / fname
            if not path.is_file():
                raise ModelError(missing_weights_message(spec.architecture, fname, path, origin))
            return str(path)

    with _offline_weights(spec.architecture, resolve) as calls:
        network = _construct(spec, "imagenet")
    if not calls:
        raise ModelError(f"keras.applications.{spec.architecture} did not ask for its ImageNet "
                         "weights; this Keras version is not supported")
    if spec.weights_file is not None:
        # Keras 3 loads a .weights.h5 of another network with only warnings, leaving layers
        # freshly initialised; the header comparison (validate's check) makes that an error.
        mismatch = weights_mismatch(relative_to(base_dir, spec.weights_file), network, _described(spec))
        if mismatch:
            raise ModelError(f"weights_file: {mismatch}")
    return network


def build_application(spec: ApplicationModel, num_classes: int, base_dir: Path) -> keras.Model:
    """Input → backbone (frozen unless trainable_backbone) → GlobalAveragePooling2D → head;
    with ``include_top`` the ImageNet classifier as Keras builds it.

    With pretrained weights the backbone is called with ``training=False`` so its
    BatchNormalization layers keep their ImageNet statistics even when fine-tuned
    (trainable_backbone); a backbone trained from scratch (weights = "none") runs normally.
    No preprocess_input inside the model: see preprocess_function.
    """
    import keras
    from keras import layers

    if spec.options:
        problems = option_problems(spec)
        if problems:
            raise ModelError(f"model {spec.name!r}: " + "; ".join(problems))
    try:
        network = _backbone(spec, base_dir)
    except ModelError as exc:
        raise ModelError(f"model {spec.name!r}: {exc}") from None
    except Exception as exc:  # wrong/corrupt weight file, h5py errors, shape problems
        source = spec.weights_file if spec.weights_file is not None else "the Keras cache"
        message = f"cannot build {_described(spec)} with weights from {source}: {root_cause(exc)}"
        if spec.weights_file is not None:  # say whose weights they are (validate says the same)
            message = next(iter(_weights_problems(spec, base_dir)), message)
        raise ModelError(f"model {spec.name!r}: {message}") from exc

    if spec.include_top:
        try:
            check_outputs(network, num_classes, f"keras.applications.{spec.architecture}", "include_top")
        except ModelError as exc:
            raise ModelError(f"model {spec.name!r}: {exc}") from None
        return network
    pretrained = _pretrained(spec)
    network.name = "backbone"  # a plain attribute in Keras 3; Grad-CAM layer paths show it
    network.trainable = spec.trainable_backbone
    inputs = keras.Input(shape=tuple(spec.input_shape), name="input")
    x = network(inputs, training=False) if pretrained else network(inputs)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.Model(inputs, classification_head(x, spec, num_classes), name=spec.name)


def application_preprocess(spec: ApplicationModel) -> Callable[[np.ndarray], np.ndarray]:
    """The architecture's own ``preprocess_input``, found from its constructor's module
    (caffe-style BGR mean subtraction for VGG/ResNet, [-1, 1] for MobileNet/Inception/Xception,
    identity for EfficientNet/ConvNeXt, which rescale inside the model), applied to a float32
    copy since Keras modifies float arrays in place; gray input is repeated to RGB first."""
    module = importlib.import_module(constructor(spec.architecture).__module__)
    keras_preprocess = module.preprocess_input

    def preprocess(x: np.ndarray) -> np.ndarray:
        x = np.array(x, dtype=np.float32, copy=True)
        if x.shape[-1] == 1:
            x = np.repeat(x, 3, axis=-1)
        return np.asarray(keras_preprocess(x), dtype=np.float32)

    preprocess.__name__ = f"{module.__name__.rsplit('.', 1)[-1]}_preprocess_input"
    return preprocess


def application_classes(spec: ApplicationModel, base_dir: Path) -> list[str] | None:
    return imagenet_class_names(spec.class_index_file, base_dir) if spec.include_top else None


register_kind("application", build_application, check=check_application,
              preprocess=application_preprocess, classes=application_classes,
              files=lambda spec, base_dir: [relative_to(base_dir, spec.weights_file)]
              if spec.weights_file is not None else [])
