"""``kind = \"image_folder\"``: one sub-folder per class (CK+, JAFFE, RAF-DB style)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from reportgen.errors import DataError
from reportgen.run.data.base import RawData, RawPart, register_check, register_classes, register_loader, resolve_path
from reportgen.run.data.folders import IMAGE_EXTENSIONS, class_subfolders, image_files


def _scan_folder(
    root: Path, expected: list[str] | None, expected_from: str
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
    files = {c: image_files(root / c) for c in classes}
    exts = " ".join(IMAGE_EXTENSIONS)
    problems = [f"class folder {root / c} has no image files ({exts})" for c in classes if not files[c]]
    return problems, classes, files


def _folder_layout(spec: Any, base_dir: Path) -> list[tuple[str, Path]]:
    if spec.path is not None:
        return [("path", resolve_path(base_dir, spec.path))]
    fields = [("train_dir", spec.train_dir), ("val_dir", spec.val_dir), ("test_dir", spec.test_dir)]
    return [(name, resolve_path(base_dir, value)) for name, value in fields if value is not None]


def _scan_layout(
    spec: Any, base_dir: Path
) -> tuple[list[str], list[str], dict[str, tuple[Path, dict[str, list[Path]]]]]:
    """(problems as "field: message", classes, {field: (root, files per class)})."""
    problems: list[str] = []
    scanned: dict[str, tuple[Path, dict[str, list[Path]]]] = {}
    classes: list[str] = list(spec.classes) if spec.classes is not None else []
    for field_name, root in _folder_layout(spec, base_dir):
        if spec.classes is not None:
            expected, source = list(spec.classes), "classes"
        elif field_name in ("path", "train_dir"):
            expected, source = None, ""
        else:
            if "train_dir" not in scanned:  # train_dir itself is broken: nothing to compare against
                expected, source = None, ""
            else:
                expected, source = classes, "the classes of train_dir"
        found_problems, found_classes, files = _scan_folder(root, expected, source)
        problems += [f"{field_name}: {p}" for p in found_problems]
        if not found_problems:
            scanned[field_name] = (root, files)
            if not classes:
                classes = found_classes
    return problems, classes, scanned


@register_classes("image_folder")
def _folder_classes(spec: Any, base_dir: Path) -> list[str]:
    if spec.classes is not None:
        return list(spec.classes)
    field_name, root = _folder_layout(spec, base_dir)[0]
    if not root.is_dir():
        raise DataError(f"Dataset '{spec.name}': {field_name} folder not found: {root}.")
    found = class_subfolders(root)
    if not found:
        raise DataError(f"Dataset '{spec.name}': no class sub-folders in {root} ({field_name}); "
                        "expected one sub-folder per class.")
    return found


@register_check("image_folder")
def _folder_check(spec: Any, base_dir: Path) -> list[str]:
    return _scan_layout(spec, base_dir)[0]


@register_loader("image_folder")
def _folder_load(spec: Any, base_dir: Path) -> RawData:
    problems, classes, scanned = _scan_layout(spec, base_dir)
    if problems:
        raise DataError(f"Dataset '{spec.name}': " + "; ".join(problems) + ".")
    index = {c: i for i, c in enumerate(classes)}

    def part(field_name: str) -> RawPart:
        root, files = scanned[field_name]
        paths = [p for c in classes for p in files[c]]
        y = np.asarray([index[c] for c in classes for _ in files[c]], dtype=np.int64)
        return RawPart(y=y, files=paths, root=root)

    parts = {name: part(name) for name in scanned}
    total = sum(len(p) for p in parts.values())
    where = ", ".join(str(root) for root, _ in scanned.values())
    description = f"image folder {where}: {total:,} image files in {len(classes)} classes"
    if "path" in parts:
        return RawData(classes=classes, description=description, pool=parts["path"], split=spec.split)
    return RawData(
        classes=classes,
        description=description,
        train=parts["train_dir"],
        val=parts.get("val_dir"),
        test=parts["test_dir"],
        split=spec.split,
    )
