"""``kind = \"rafdb\"``: RAF-DB basic.

``EmoLabel/list_patition_label.txt`` holds lines ``train_00001.jpg 5`` / ``test_0001.jpg 1``
with labels 1–7 in RAF-DB's order (surprise, fear, disgust, happiness, sadness, anger,
neutral); the images are in ``Image/aligned/`` with an ``_aligned`` suffix
(``train_00001_aligned.jpg``) or in ``Image/original/`` under the listed names. Train and
test come from the name prefix; validation is carved from train with ``split.val``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from reportgen.config.datasets import RAFDB_CLASSES
from reportgen.errors import DataError
from reportgen.report_types import Msg
from reportgen.run.data.base import (
    RawData,
    RawPart,
    fixed_classes,
    fixed_classes_problem,
    register_check,
    register_classes,
    register_loader,
    resolve_path,
)
from reportgen.run.data.select import LabelProblem, read_list_file, select_files

LABELS_FILE = Path("EmoLabel") / "list_patition_label.txt"


def _locations(spec: Any, base_dir: Path) -> tuple[Path, Path, str, str]:
    """(label file, image folder, field naming the label file, field naming the folder)."""
    if spec.path is not None:
        root = resolve_path(base_dir, spec.path)
        images = root / "Image" / ("aligned" if spec.aligned else "original")
        return root / LABELS_FILE, images, "path", "path"
    return (resolve_path(base_dir, spec.labels_file), resolve_path(base_dir, spec.images_dir),
            "labels_file", "images_dir")


def image_name(listed: str, aligned: bool) -> str:
    """``train_00001.jpg`` → ``train_00001_aligned.jpg`` for the aligned faces."""
    if not aligned:
        return listed
    stem, dot, ext = listed.rpartition(".")
    return f"{stem}_aligned.{ext}" if dot else f"{listed}_aligned"


def _scan(spec: Any, base_dir: Path) -> tuple[list[str], dict[str, tuple[list[Path], np.ndarray]]]:
    """(problems, {"train"/"test": (files, labels 0..6)})."""
    labels_file, images, label_field, image_field = _locations(spec, base_dir)
    try:
        listed = read_list_file(labels_file, label_field)
    except LabelProblem as exc:
        return [str(exc)], {}
    if not images.is_dir():
        return [f"{image_field}: image folder not found: {images}"], {}
    parts: dict[str, tuple[list[Path], list[int]]] = {"train": ([], []), "test": ([], [])}
    for name, label in listed.items():
        split = "train" if name.startswith("train") else "test" if name.startswith("test") else None
        if split is None:
            return [f"{label_field}: {labels_file}: {name!r} starts with neither train nor test"], {}
        if label not in {str(i) for i in range(1, len(RAFDB_CLASSES) + 1)}:
            return [f"{label_field}: {labels_file}: label {label!r} of {name!r} is not 1–"
                    f"{len(RAFDB_CLASSES)} (RAF-DB basic's 7 emotions)"], {}
        parts[split][0].append(images / image_name(name, spec.aligned))
        parts[split][1].append(int(label) - 1)
    problems = []
    out = {}
    for split, (files, y) in parts.items():
        chosen = set(select_files(spec, files))
        keep = [i for i, f in enumerate(files) if f in chosen]
        files, y = [files[i] for i in keep], [y[i] for i in keep]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            problems.append(f"{image_field}: {len(missing):,} listed {split} images are not in {images}, "
                            f"e.g. {', '.join(missing[:3])} (aligned = {str(spec.aligned).lower()})")
        if files:
            out[split] = (files, np.asarray(y, dtype=np.int64))
    if "test" not in out and not problems:
        problems.append(f"{label_field}: {labels_file} lists no test_* image")
    return problems, out


@register_classes("rafdb")
def _classes(spec: Any, base_dir: Path) -> list[str]:
    return fixed_classes(spec, RAFDB_CLASSES, "RAF-DB basic")


@register_check("rafdb")
def _check(spec: Any, base_dir: Path) -> list[str]:
    problem = fixed_classes_problem(spec, RAFDB_CLASSES, "RAF-DB basic")
    problems = [problem] if problem else []
    return problems + _scan(spec, base_dir)[0]


@register_loader("rafdb")
def _load(spec: Any, base_dir: Path) -> RawData:
    problems, parts = _scan(spec, base_dir)
    classes = _classes(spec, base_dir)
    if problems:
        raise DataError(f"Dataset '{spec.name}': " + "; ".join(problems) + ".")
    _, images, _, _ = _locations(spec, base_dir)
    sizes = {k: len(parts[k][0]) for k in ("train", "test") if k in parts}
    counts = (Msg("{train:,} train / {test:,} test", sizes) if "train" in sizes
              else Msg("{test:,} test", sizes))
    params = {"folder": str(images), "counts": counts, "classes": len(classes)}
    if spec.aligned:
        description = Msg("RAF-DB basic {folder} (aligned faces): {counts} images in {classes} classes",
                          params)
    else:
        description = Msg("RAF-DB basic {folder} (original photos): {counts} images in {classes} classes",
                          params)
    return RawData(
        classes=classes,
        description=description,
        train=(RawPart(y=parts["train"][1], files=parts["train"][0], root=images)
               if "train" in parts else None),
        test=RawPart(y=parts["test"][1], files=parts["test"][0], root=images),
        split=spec.split,
    )
