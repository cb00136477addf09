"""``kind = \"image_folder\"``: one sub-folder per class (CK+48 style), or flat folders labelled
by ``labels`` (a file-name pattern or a list file); ``include`` / ``exclude`` pick files."""

from __future__ import annotations

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
    register_splits,
    resolve_path,
)
from reportgen.run.data.folders import IMAGE_EXTENSIONS, class_subfolders, image_files
from reportgen.run.data.select import LabelProblem, labelled_folder, select_files

Scanned = tuple[Path, list[Path], np.ndarray]
"""(folder, image files, int64 labels)"""


def scan_class_folders(
    spec: Any, root: Path, expected: list[str] | None, expected_from: str
) -> tuple[list[str], list[str], dict[str, list[Path]]]:
    """(problems, classes, files per class) for one folder with a sub-folder per class."""
    if not root.exists():
        return [f"folder not found: {root}"], [], {}
    if not root.is_dir():
        return [f"not a folder: {root}"], [], {}
    found = class_subfolders(root)
    if not found:
        return [f"no class sub-folders in {root}; expected one sub-folder per class"], [], {}
    if expected is not None:
        missing = [c for c in expected if c not in found]
        extra = [c for c in found if c not in expected]
        if missing or extra:
            detail = "; ".join(
                part for part in (
                    f"missing {missing}" if missing else "",
                    f"extra {extra}" if extra else "",
                ) if part
            )
            return [f"class sub-folders of {root} do not match {expected_from} {expected}: {detail}"], [], {}
    classes = list(expected) if expected is not None else found
    files = {c: select_files(spec, image_files(root / c)) for c in classes}
    if getattr(spec, "include", None) or getattr(spec, "exclude", None):
        problems = [f"class folder {root / c} has no image files left by include/exclude"
                    for c in classes if not files[c]]
    else:
        exts = " ".join(IMAGE_EXTENSIONS)
        problems = [f"class folder {root / c} has no image files ({exts})" for c in classes if not files[c]]
    return problems, classes, files


def _folder_layout(spec: Any, base_dir: Path) -> list[tuple[str, Path]]:
    if spec.path is not None:
        return [("path", resolve_path(base_dir, spec.path))]
    fields = [("train_dir", spec.train_dir), ("val_dir", spec.val_dir), ("test_dir", spec.test_dir)]
    return [(name, resolve_path(base_dir, value)) for name, value in fields if value is not None]


def _scan_one(spec: Any, field_name: str, root: Path, base_dir: Path, classes: list[str] | None,
              source: str) -> tuple[list[str], list[str], Scanned | None]:
    if spec.labels is None:
        problems, found, files = scan_class_folders(spec, root, classes, source)
        if problems:
            return problems, [], None
        index = {c: i for i, c in enumerate(found)}
        paths = [p for c in found for p in files[c]]
        y = np.asarray([index[c] for c in found for _ in files[c]], dtype=np.int64)
        return [], found, (root, paths, y)
    if not root.is_dir():
        return [f"folder not found: {root}" if not root.exists() else f"not a folder: {root}"], [], None
    try:
        found, paths, y = labelled_folder(spec, root, base_dir, classes)
    except LabelProblem as exc:
        return [str(exc)], [], None
    return [], found, (root, paths, y)


def scan_layout(spec: Any, base_dir: Path) -> tuple[list[str], list[str], dict[str, Scanned]]:
    """(problems as "field: message", classes, {field: (root, files, labels)})."""
    problems: list[str] = []
    scanned: dict[str, Scanned] = {}
    classes: list[str] | None = list(spec.classes) if spec.classes is not None else None
    first = _folder_layout(spec, base_dir)[0][0]
    for field_name, root in _folder_layout(spec, base_dir):
        source = "classes" if spec.classes is not None else f"the classes of {first}"
        if spec.classes is None and first not in scanned:  # nothing to compare against yet
            expected = None
        else:
            expected = classes
        found_problems, found_classes, part = _scan_one(spec, field_name, root, base_dir, expected, source)
        # A labels problem already names its field; a folder problem is the layout field's.
        problems += [p if spec.labels is not None and p.split(":")[0] in _LABEL_FIELDS
                     else f"{field_name}: {p}" for p in found_problems]
        if part is not None:
            scanned[field_name] = part
            if classes is None:
                classes = found_classes
    return problems, classes or [], scanned


_LABEL_FIELDS = {"labels.pattern", "labels.map", "labels.file", "classes", "include"}


@register_classes("image_folder")
def _folder_classes(spec: Any, base_dir: Path) -> list[str]:
    if spec.classes is not None:
        return list(spec.classes)
    field_name, root = _folder_layout(spec, base_dir)[0]
    if spec.labels is not None and spec.labels.map is not None:
        return list(dict.fromkeys(spec.labels.map.values()))
    if not root.is_dir():
        raise DataError(f"Dataset '{spec.name}': {field_name} folder not found: {root}.")
    if spec.labels is not None:
        problems, classes, _ = scan_layout(spec, base_dir)
        if problems:
            raise DataError(f"Dataset '{spec.name}': " + "; ".join(problems) + ".")
        return classes
    found = class_subfolders(root)
    if not found:
        raise DataError(f"Dataset '{spec.name}': no class sub-folders in {root} ({field_name}); "
                        "expected one sub-folder per class.")
    return found


@register_check("image_folder")
def _folder_check(spec: Any, base_dir: Path) -> list[str]:
    return scan_layout(spec, base_dir)[0]


@register_splits("image_folder")
def _folder_splits(spec: Any, base_dir: Path) -> set[str]:
    return {"test"} if spec.path is None and spec.train_dir is None else {"train", "val", "test"}


@register_loader("image_folder")
def _folder_load(spec: Any, base_dir: Path) -> RawData:
    problems, classes, scanned = scan_layout(spec, base_dir)
    if problems:
        raise DataError(f"Dataset '{spec.name}': " + "; ".join(problems) + ".")
    parts = {name: RawPart(y=y, files=paths, root=root) for name, (root, paths, y) in scanned.items()}
    total = sum(len(p) for p in parts.values())
    where = ", ".join(str(root) for root, _, _ in scanned.values())
    description = Msg("image folder {where}: {files:,} image files in {classes} classes",
                      {"where": where, "files": total, "classes": len(classes)})
    if "path" in parts:
        return RawData(classes=classes, description=description, pool=parts["path"], split=spec.split)
    return RawData(
        classes=classes,
        description=description,
        train=parts.get("train_dir"),
        val=parts.get("val_dir"),
        test=parts["test_dir"],
        split=spec.split,
    )
