"""What every model kind shares: the kind registry, dispatch, preprocessing and statistics.

A kind (``cnn``, ``application``, ``file``, ``python``) is one module that calls
``register_kind`` with its builder and, optionally, a cheap check, a preprocessing function and
the names of its outputs.  Nothing here imports TensorFlow or Keras at module level.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from reportgen.errors import ModelError

if TYPE_CHECKING:  # pragma: no cover
    import keras

Builder = Callable[[Any, int, Path], "keras.Model"]
Check = Callable[[Any, Path], list[str]]
Preprocess = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Kind:
    build: Builder
    check: Check | None = None
    preprocess: Callable[[Any], Preprocess] | None = None
    classes: Callable[[Any, Path], list[str] | None] | None = None
    files: Callable[[Any, Path], list[Path]] | None = None


_KINDS: dict[str, Kind] = {}


def register_kind(name: str, build: Builder, *, check: Check | None = None,
                  preprocess: Callable[[Any], Preprocess] | None = None,
                  classes: Callable[[Any, Path], list[str] | None] | None = None,
                  files: Callable[[Any, Path], list[Path]] | None = None) -> None:
    """Register model kind ``name``: ``build(spec, num_classes, base_dir) -> keras.Model``,
    ``check(spec, base_dir) -> problems`` (cheap; what ``validate`` runs), ``preprocess(spec)
    -> function`` (default x/255), ``classes(spec, base_dir) -> output names | None`` and
    ``files(spec, base_dir) -> the files the model is made from`` (part of cache keys)."""
    _KINDS[name] = Kind(build, check, preprocess, classes, files)


def _kind(spec: Any) -> Kind:
    kind = _KINDS.get(spec.kind)
    if kind is None:
        raise ModelError(f"model {spec.name!r}: kind: unknown model kind {spec.kind!r} "
                         f"(known: {', '.join(sorted(_KINDS))})")
    return kind


def build_model(spec: Any, num_classes: int, base_dir: Path) -> keras.Model:
    """The Keras model for ``spec`` with ``num_classes`` softmax outputs (ModelError if not)."""
    kind = _kind(spec)
    if num_classes < 1:
        raise ModelError(f"model {spec.name!r}: needs at least one class, got {num_classes}")
    return kind.build(spec, num_classes, Path(base_dir))


def check_model(spec: Any, base_dir: Path) -> list[str]:
    """Problems with a model spec that ``build`` would hit, one line each starting with the
    field name; [] if fine.  Cheap for the plain cases (files exist, pooling fits, the cached
    ImageNet weights are there); it imports Keras only when the spec needs it (constructor
    options, include_top, a weights_file header, a python builder)."""
    try:
        kind = _kind(spec)
    except ModelError:
        return [f"kind: unknown model kind {spec.kind!r}"]
    return kind.check(spec, Path(base_dir)) if kind.check else []


def model_paths(spec: Any, base_dir: Path) -> list[Path]:
    """The files a model is made from (a model file, a builder, a weight file): when one
    changes, what was trained from it is stale."""
    kind = _kind(spec)
    return kind.files(spec, Path(base_dir)) if kind.files else []


def model_classes(spec: Any, base_dir: Path) -> list[str] | None:
    """Names of a model's outputs in output order, when the model itself defines them: a file
    or python model's ``classes``, the 1000 ImageNet names of an ``include_top`` application;
    None for a model that gets a new head (its classes are the dataset's)."""
    kind = _kind(spec)
    return kind.classes(spec, Path(base_dir)) if kind.classes else None


# --------------------------------------------------------------------------------------------
# Preprocessing
# --------------------------------------------------------------------------------------------
def rescale(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float32) / np.float32(255.0)


def symmetric(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float32) / np.float32(127.5) - np.float32(1.0)


def unchanged(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


NAMED_PREPROCESS = {"rescale": rescale, "symmetric": symmetric, "none": unchanged}


def named_preprocess(spec: Any) -> Preprocess:
    """The ``preprocess`` key of a trained or user-built model (file, python)."""
    return NAMED_PREPROCESS[spec.preprocess]


def listed_classes(spec: Any, base_dir: Path) -> list[str] | None:
    """The ``classes`` key of a trained or user-built model: its outputs' names, if given."""
    return list(spec.classes) if spec.classes else None


def preprocess_function(spec: Any) -> Preprocess:
    """A function mapping pixel arrays (0..255, ``(N, H, W, C)``) to float32 model input:
    cnn x/255; file / python ``spec.preprocess`` (rescale x/255, symmetric x/127.5−1, none);
    application the architecture's own ``preprocess_input``."""
    kind = _kind(spec)
    return kind.preprocess(spec) if kind.preprocess else rescale


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


def normalized(preprocess: Preprocess, stats: dict[str, list[float]]) -> Preprocess:
    """``preprocess`` followed by standardisation with the training set's statistics (kept in
    the cache's meta.json, so explanations see exactly what training saw)."""
    mean = np.asarray(stats["mean"], dtype=np.float32)
    std = np.asarray(stats["std"], dtype=np.float32)

    def standardized(x: np.ndarray) -> np.ndarray:
        return ((preprocess(x) - mean) / std).astype(np.float32)

    standardized.__name__ = f"{getattr(preprocess, '__name__', 'preprocess')}_normalized"
    return standardized


# --------------------------------------------------------------------------------------------
# Model facts
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


def check_outputs(model: keras.Model, num_classes: int, source: str, field: str) -> None:
    """One ``(batch, num_classes)`` output and one fixed-size image input, or ModelError naming
    ``source`` (the file / function the model came from) and the manifest ``field``."""
    output_shape = model.output_shape
    if not (isinstance(output_shape, tuple) and len(output_shape) == 2):
        raise ModelError(f"{field}: {source} must give a model with one output of shape "
                         f"(batch, classes), got {output_shape}")
    if output_shape[1] != num_classes:
        raise ModelError(
            f"{field}: {source} outputs {output_shape[1]} classes but the dataset has "
            f"{num_classes}; give the dataset a classes list of {output_shape[1]} names in the "
            "model's output order"
        )
    model_input_shape(model)  # fails early on multi-input or unknown-size models


def count_params(model: keras.Model) -> dict[str, int]:
    """``{"total": …, "trainable": …}`` parameter counts (shared variables counted once)."""

    def size(variables) -> int:
        unique = {id(v): v for v in variables}.values()
        return int(sum(int(np.prod(v.shape)) for v in unique))

    return {"total": size(model.weights), "trainable": size(model.trainable_weights)}


def non_finite_weights(model: keras.Model) -> list[str]:
    """Names of the model's weight arrays that hold NaN or infinite values."""
    return [getattr(w, "path", None) or getattr(w, "name", "?") for w in model.weights
            if not np.isfinite(np.asarray(w)).all()]


# --------------------------------------------------------------------------------------------
# Small shared helpers
# --------------------------------------------------------------------------------------------
def relative_to(base_dir: Path, value: Path | str) -> Path:
    """``value`` as an absolute path, relative to ``base_dir`` (the manifest's folder)."""
    path = Path(value).expanduser()
    return (path if path.is_absolute() else Path(base_dir) / path).absolute()


def root_cause(exc: BaseException) -> str:
    """The line of an exception that says what went wrong.

    Keras wraps deserialisation failures as "Error when deserializing class 'X' using
    config={…huge…}.\\n\\nException encountered: <the real reason>"; the first line alone
    would drop the reason, so the text after "Exception encountered:" wins when present.
    """
    text = str(exc).strip() or type(exc).__name__
    marker = "Exception encountered:"
    if marker in text:
        cause = text.rsplit(marker, 1)[1].strip().splitlines()
        if cause:
            first = text.splitlines()[0]
            head = first.split(" using config=")[0] if " using config=" in first else first
            return f"{head.rstrip('.')}: {cause[0].strip()}"
    return text.splitlines()[0]
