"""``kind = "file"``: a trained model file (``.keras``, legacy ``.h5``/``.hdf5``), also
``pkg:PACKAGE/RESOURCE`` for a file inside an installed Python package."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from reportgen.errors import ModelError, TrustCodeRequired
from reportgen.package_paths import PackagePathError, is_package_path, package_resource
from reportgen.run.models.base import (
    check_outputs,
    listed_classes,
    named_preprocess,
    register_kind,
    root_cause,
)

if TYPE_CHECKING:  # pragma: no cover
    import keras

    from reportgen.config.models import FileModel

MODEL_FILE_SUFFIXES = (".keras", ".h5", ".hdf5")

# Root causes that mean "written by TF-Keras 2 (tf.keras, TF <= 2.15), which Keras 3 reads
# differently": arguments Keras 3 layers dropped (DepthwiseConv2D's groups, …).
_TF_KERAS2_SIGNS = ("Unrecognized keyword arguments",)
# Keras' safe-mode refusal of a Lambda layer's stored code ("… passing `safe_mode=False` …").
_UNSAFE_SIGN = "safe_mode=False"
TF_KERAS2_HINT = (
    "This looks like a TF-Keras 2 (tf.keras, TensorFlow <= 2.15) model file that Keras 3 cannot "
    "read: load it once with TensorFlow 2.15 or the tf_keras package and re-save it as .keras "
    "(model.save(\"model.keras\")), or save its weights (model.save_weights(\"w.h5\")) and use "
    "kind = \"application\" with weights_file if it is a keras.applications network."
)


def resolve_model_path(spec: FileModel, base_dir: Path) -> Path:
    """The absolute file a ``file`` model refers to; it may not exist (callers check).

    ``pkg:PACKAGE/RESOURCE`` is the file inside the installed package (ModelError if the
    package is not installed); any other value is a path, relative to ``base_dir`` (the
    manifest's folder) unless absolute; ``~`` is expanded.
    """
    value = spec.path.strip()
    if is_package_path(value):
        try:
            return package_resource(value)
        except PackagePathError as exc:
            raise ModelError(f"path: {exc}") from None
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = Path(base_dir) / path
    return path.absolute()


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


def check_file(spec: FileModel, base_dir: Path) -> list[str]:
    """The file exists and has a suffix Keras loads (whether it loads is checked by validate's
    class-count check, which builds file models)."""
    return _file_problems(spec, base_dir)[1]


def load_error(path: Path, exc: BaseException) -> str:
    """``cannot load PATH: <root cause>`` plus a one-line hint for a TF-Keras 2 file."""
    cause = root_cause(exc)
    message = f"cannot load {path}: {cause}"
    if any(sign in cause for sign in _TF_KERAS2_SIGNS) or _written_by_keras2(path):
        message += f". {TF_KERAS2_HINT}"
    return message


def _written_by_keras2(path: Path) -> bool:
    """A legacy HDF5 file whose ``keras_version`` attribute says 2.x (tf.keras wrote it)."""
    if path.suffix.lower() not in (".h5", ".hdf5"):
        return False
    try:
        import h5py

        with h5py.File(path, "r") as f:
            version = f.attrs.get("keras_version", b"")
    except Exception:  # noqa: BLE001 - not an HDF5 file: no hint, the cause says it
        return False
    version = version.decode() if isinstance(version, bytes) else str(version)
    return version.startswith("2.")


def build_file(spec: FileModel, num_classes: int, base_dir: Path) -> keras.Model:
    """Load a trained model (``.keras``, legacy ``.h5``/``.hdf5``) without compiling it.

    Keras 3's ``keras.saving.load_model`` reads legacy HDF5 files itself (no tf_keras needed;
    the fer package's Keras-2 emotion_model.hdf5 loads as is).  Files load in Keras' safe mode
    (a Lambda layer's stored code is refused) unless the model's ``trust_code`` is set.
    """
    import keras

    path, problems = _file_problems(spec, base_dir)
    if problems:
        raise ModelError(f"model {spec.name!r}: " + "; ".join(problems))
    try:
        model = keras.saving.load_model(str(path), compile=False, safe_mode=not spec.trust_code)
    except Exception as exc:
        if _UNSAFE_SIGN in root_cause(exc) and not spec.trust_code:
            raise TrustCodeRequired(spec.name, str(path)) from None
        raise ModelError(f"model {spec.name!r}: path: {load_error(path, exc)}") from exc
    try:
        check_outputs(model, num_classes, str(path), "path")
    except ModelError as exc:
        raise ModelError(f"model {spec.name!r}: {exc}") from None
    return model


register_kind(
    "file", build_file, check=check_file,
    preprocess=named_preprocess, classes=listed_classes,
    files=lambda spec, base_dir: [resolve_model_path(spec, base_dir)],
)
