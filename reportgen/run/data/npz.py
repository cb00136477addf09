"""``kind = \"npz\"``: a NumPy archive with x_train, y_train, x_test, y_test (x_val, y_val)."""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from reportgen.errors import DataError
from reportgen.report_types import Msg
from reportgen.run.data.base import (
    RawData,
    RawPart,
    register_check,
    register_classes,
    register_loader,
    resolve_path,
    shape_msg,
)

NPZ_REQUIRED = ("x_train", "y_train", "x_test", "y_test")


def _npz_keys(path: Path) -> list[str]:
    """The archive's keys; raises DataError-ready messages as ValueError."""
    if not path.exists():
        raise FileNotFoundError(f"file not found: {path}")
    if not path.is_file():
        raise FileNotFoundError(f"not a file: {path}")
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValueError(f"{path} is not a NumPy .npz archive ({exc})") from None
    return [n[:-4] if n.endswith(".npy") else n for n in names]


def _npz_key_problems(path: Path, keys: Sequence[str]) -> list[str]:
    problems = []
    missing = [k for k in NPZ_REQUIRED if k not in keys]
    if missing:
        problems.append(f"{path} lacks the arrays {missing}; expected x_train, y_train, x_test, y_test "
                        f"(optionally x_val, y_val), found {sorted(keys)}")
    if ("x_val" in keys) != ("y_val" in keys):
        problems.append(f"{path} has only one of x_val and y_val; give both or neither")
    return problems


def _npz_labels(spec: Any, path: Path, key: str, y: np.ndarray, n: int | None) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    elif y.ndim == 2 and y.shape[1] > 1:
        if not (np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all()):
            raise DataError(f"Dataset '{spec.name}': {path} array {key} has shape {y.shape}; expected "
                            "(N,) class indices or (N, K) one-hot rows.")
        y = y.argmax(axis=1)
    if y.ndim != 1:
        raise DataError(f"Dataset '{spec.name}': {path} array {key} has shape {y.shape}; "
                        "expected (N,) class indices.")
    if y.dtype.kind == "f":
        if not np.isfinite(y).all() or not (y == np.round(y)).all():
            raise DataError(f"Dataset '{spec.name}': {path} array {key} holds non-integer labels; "
                            "expected integer class indices.")
    elif y.dtype.kind not in "iub":
        raise DataError(f"Dataset '{spec.name}': {path} array {key} has dtype {y.dtype}; "
                        "expected integer class indices.")
    y = y.astype(np.int64)
    if n is not None and len(y) != n:
        x_key = "x_" + key[2:]
        raise DataError(
            f"Dataset '{spec.name}': {path} has {n} images in {x_key} but {len(y)} labels in {key}."
        )
    return y


def _npz_load_labels(spec: Any, path: Path) -> dict[str, np.ndarray]:
    try:
        keys = _npz_keys(path)
    except (FileNotFoundError, ValueError) as exc:
        raise DataError(f"Dataset '{spec.name}': {exc}.") from None
    problems = _npz_key_problems(path, keys)
    if problems:
        raise DataError(f"Dataset '{spec.name}': " + "; ".join(problems) + ".")
    with np.load(path, allow_pickle=False) as archive:
        return {
            k: _npz_labels(spec, path, k, archive[k], None)
            for k in ("y_train", "y_val", "y_test") if k in keys
        }


def _npz_class_names(spec: Any, path: Path, labels: dict[str, np.ndarray]) -> list[str]:
    if spec.classes is not None:
        classes = list(spec.classes)
    else:
        lowest = min((int(y.min()) for y in labels.values() if y.size), default=0)
        if lowest < 0:
            raise DataError(f"Dataset '{spec.name}': {path} has negative label {lowest}; "
                            "expected class indices 0..K-1.")
        top = max((int(y.max()) for y in labels.values() if y.size), default=0)
        classes = [str(i) for i in range(top + 1)]
    for key, y in labels.items():
        bad = y[(y < 0) | (y >= len(classes))]
        if bad.size:
            raise DataError(
                f"Dataset '{spec.name}': {path} array {key} has labels {sorted(set(bad.tolist()))[:10]} "
                f"outside the class list; expected 0..{len(classes) - 1} for classes {classes}."
            )
    return classes


@register_classes("npz")
def _npz_classes(spec: Any, base_dir: Path) -> list[str]:
    if spec.classes is not None:
        return list(spec.classes)
    path = resolve_path(base_dir, spec.path)
    return _npz_class_names(spec, path, _npz_load_labels(spec, path))


@register_check("npz")
def _npz_check(spec: Any, base_dir: Path) -> list[str]:
    path = resolve_path(base_dir, spec.path)
    try:
        keys = _npz_keys(path)
    except (FileNotFoundError, ValueError) as exc:
        return [f"path: {exc}"]
    return [f"path: {p}" for p in _npz_key_problems(path, keys)]


@register_loader("npz")
def _npz_load(spec: Any, base_dir: Path) -> RawData:
    path = resolve_path(base_dir, spec.path)
    labels = _npz_load_labels(spec, path)
    classes = _npz_class_names(spec, path, labels)
    names = [n for n in ("train", "val", "test") if f"y_{n}" in labels]
    with np.load(path, allow_pickle=False) as archive:
        xs = {n: np.asarray(archive[f"x_{n}"]) for n in names}
    for n, x in xs.items():
        if x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[-1] not in (1, 2, 3, 4)):
            raise DataError(f"Dataset '{spec.name}': {path} array x_{n} has shape {x.shape}; "
                            "expected (N, H, W) or (N, H, W, C) with C = 1 or 3.")
        if len(x) != len(labels[f"y_{n}"]):
            raise DataError(f"Dataset '{spec.name}': {path} has {len(x)} images in x_{n} "
                            f"but {len(labels[f'y_{n}'])} labels in y_{n}.")
        if x.dtype.kind not in "uif":
            raise DataError(f"Dataset '{spec.name}': {path} array x_{n} has dtype {x.dtype}; "
                            "expected uint8 or float pixels.")
    floats = [x for x in xs.values() if x.dtype.kind == "f" and x.size]
    scale = 1.0
    if floats:
        if not all(np.isfinite(x).all() for x in floats):
            raise DataError(f"Dataset '{spec.name}': {path} has NaN or infinite pixel values.")
        top = max(float(x.max()) for x in floats)
        scale = 255.0 if top <= 1.0 else 1.0
    for n, x in list(xs.items()):
        if x.dtype == np.uint8:
            continue
        if x.size:
            lo, hi = float(x.min()), float(x.max())
            limit = 1.0 if (x.dtype.kind == "f" and scale == 255.0) else 255.0
            if lo < 0 or hi > limit:
                raise DataError(f"Dataset '{spec.name}': {path} array x_{n} has pixel values {lo:g}..{hi:g}; "
                                "expected 0..255 (uint8 or float) or 0..1 (float).")
        factor = scale if x.dtype.kind == "f" else 1.0
        xs[n] = np.clip(np.rint(x.astype(np.float32) * factor), 0, 255).astype(np.uint8)
    ref = xs["train"]
    channels = ref.shape[3] if ref.ndim == 4 else 1
    total = sum(len(y) for y in labels.values())
    return RawData(
        classes=classes,
        description=Msg("NumPy archive {file}: {images:,} images, {shape}",
                        {"file": path.name, "images": total,
                         "shape": shape_msg(ref.shape[1], ref.shape[2], channels)}),
        train=RawPart(y=labels["y_train"], x=xs["train"]),
        val=RawPart(y=labels["y_val"], x=xs["val"]) if "val" in xs else None,
        test=RawPart(y=labels["y_test"], x=xs["test"]),
        split=spec.split,
    )
