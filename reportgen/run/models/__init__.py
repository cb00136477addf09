"""Build, load and check the models named in a manifest's ``[[models]]`` tables.

One module per kind (``spec.kind``), each registering itself with ``base.register_kind``:

``cnn``          a small CNN assembled from ``conv_blocks`` and ``dense`` (cnn.py)
``application``  any ``keras.applications`` network, as a backbone under a new head or with
                 its ImageNet classifier (application.py; offline files in imagenet.py)
``file``         a trained model file, also ``pkg:PACKAGE/RESOURCE`` (file.py)
``python``       the user's own builder function (python.py)

Adding a kind is one module plus its tests, and one import line here.  Importing this package
does not import TensorFlow or Keras: ``check_model`` and ``resolve_model_path`` (used by
``reportgen validate``) stay cheap for the plain cases.
"""

from __future__ import annotations

from reportgen.package_paths import PKG_PREFIX
from reportgen.run.models import application, cnn, file, python  # noqa: F401 - register kinds
from reportgen.run.models.application import imagenet_weights_path
from reportgen.run.models.base import (
    build_model,
    check_model,
    count_params,
    model_classes,
    model_input_shape,
    model_paths,
    non_finite_weights,
    normalization_stats,
    normalized,
    preprocess_function,
    register_kind,
)
from reportgen.run.models.file import MODEL_FILE_SUFFIXES, resolve_model_path
from reportgen.run.models.imagenet import imagenet_class_names, imagenet_weights_file, keras_cache_dir
from reportgen.run.models.python import builder_path

__all__ = [
    "MODEL_FILE_SUFFIXES",
    "PKG_PREFIX",
    "build_model",
    "builder_path",
    "check_model",
    "count_params",
    "non_finite_weights",
    "imagenet_class_names",
    "imagenet_weights_file",
    "imagenet_weights_path",
    "keras_cache_dir",
    "model_classes",
    "model_input_shape",
    "model_paths",
    "normalization_stats",
    "normalized",
    "preprocess_function",
    "register_kind",
    "resolve_model_path",
]
