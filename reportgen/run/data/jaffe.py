"""``kind = \"jaffe\"``: JAFFE, one flat folder of 256×256 TIFFs named ``KA.AN1.39.tiff``
(subject . expression code + index . serial); codes AN DI FE HA NE SA SU → angry, disgust,
fear, happy, neutral, sad, surprise. Split by ``split`` (stratified, seeded)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reportgen.config.datasets import JAFFE_CODES
from reportgen.errors import DataError
from reportgen.report_types import Msg
from reportgen.run.data.base import (
    RawData,
    RawPart,
    register_check,
    register_classes,
    register_loader,
    resolve_path,
)
from reportgen.run.data.folders import image_files
from reportgen.run.data.select import LabelProblem, class_labels, pattern_values, select_files

JAFFE_PATTERN = r"^[A-Za-z]+\.([A-Z]{2})\d*\."
"""The expression code of a JAFFE file name (``KA.AN1.39.tiff`` → ``AN``)."""


def _scan(spec: Any, base_dir: Path) -> tuple[list[str], list[str], list[Path], Any]:
    root = resolve_path(base_dir, spec.path)
    if not root.is_dir():
        return [_missing(root)], [], [], None
    files = select_files(spec, image_files(root))
    if not files:
        return [f"path: no image files in {root}"], [], [], None
    try:
        values = pattern_values(files, JAFFE_PATTERN, field="path")
        classes, y = class_labels(values, files, JAFFE_CODES, spec.classes, "path")
    except LabelProblem as exc:
        hint = " (JAFFE names look like KA.AN1.39.tiff)"
        return [str(exc).replace("path.map", "path") + hint], [], [], None
    return [], classes, files, y


def _missing(root: Path) -> str:
    return f"path: folder not found: {root}" if not root.exists() else f"path: not a folder: {root}"


@register_classes("jaffe")
def _classes(spec: Any, base_dir: Path) -> list[str]:
    return list(spec.classes or dict.fromkeys(JAFFE_CODES.values()))


@register_check("jaffe")
def _check(spec: Any, base_dir: Path) -> list[str]:
    return _scan(spec, base_dir)[0]


@register_loader("jaffe")
def _load(spec: Any, base_dir: Path) -> RawData:
    problems, classes, files, y = _scan(spec, base_dir)
    if problems:
        raise DataError(f"Dataset '{spec.name}': " + "; ".join(problems) + ".")
    root = resolve_path(base_dir, spec.path)
    return RawData(classes=classes,
                   description=Msg("JAFFE {root}: {images:,} images in {classes} classes",
                                   {"root": str(root), "images": len(files), "classes": len(classes)}),
                   pool=RawPart(y=y, files=files, root=root), split=spec.split)
