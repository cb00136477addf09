"""``kind = \"fer2013_folder\"``: FER2013's image-folder release.

``path/train/<class>/Training_*.jpg`` and ``path/test/<class>/PublicTest_*.jpg`` /
``PrivateTest_*.jpg``: 48×48 gray JPEGs, classes = the (alphabetical) folder names, which is
NOT the CSV's label order. Each split is chosen by file-name prefix like the CSV's Usage
column, wherever the file is (train/ or test/); without validation files (no ``val_usage``
prefix found) validation is carved from the training images with ``split.val``. Without
``train/`` the dataset is evaluate-only (test split only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from reportgen.errors import DataError
from reportgen.i18n import plural_msg
from reportgen.report_types import Msg
from reportgen.run.data.base import (
    RawData,
    RawPart,
    register_check,
    register_classes,
    register_loader,
    register_splits,
    resolve_path,
    with_notes,
)
from reportgen.run.data.folders import class_subfolders
from reportgen.run.data.image_folder import scan_class_folders

FOLDERS = ("train", "test")


def _roots(spec: Any, base_dir: Path) -> dict[str, Path]:
    root = resolve_path(base_dir, spec.path)
    return {name: root / name for name in FOLDERS if (root / name).is_dir()}


Scanned = dict[str, tuple[Path, list[Path], np.ndarray]]


def _scan(spec: Any, base_dir: Path) -> tuple[list[str], list[str], Scanned]:
    """(problems, classes, {folder: (root, files, labels)})."""
    root = resolve_path(base_dir, spec.path)
    if not root.is_dir():
        return [_missing(root)], [], {}
    roots = _roots(spec, base_dir)
    if "test" not in roots:
        return [f"path: {root} has no test/ folder; expected train/ and test/ with one sub-folder "
                "per class (FER2013's image-folder release)"], [], {}
    classes = list(spec.classes) if spec.classes is not None else None
    problems: list[str] = []
    scanned = {}
    for name, folder in roots.items():
        source = "classes" if spec.classes is not None else "the classes of train/"
        found_problems, found, files = scan_class_folders(spec, folder, classes, source)
        problems += [f"path: {p}" for p in found_problems]
        if found_problems:
            continue
        classes = classes or found
        index = {c: i for i, c in enumerate(found)}
        paths = [p for c in found for p in files[c]]
        scanned[name] = (folder, paths, np.asarray([index[c] for c in found for _ in files[c]], np.int64))
    return problems, classes or [], scanned


def _missing(root: Path) -> str:
    return f"path: folder not found: {root}" if not root.exists() else f"path: not a folder: {root}"


@register_classes("fer2013_folder")
def _classes(spec: Any, base_dir: Path) -> list[str]:
    if spec.classes is not None:
        return list(spec.classes)
    roots = _roots(spec, base_dir)
    folder = roots.get("train", roots.get("test"))
    found = class_subfolders(folder) if folder is not None else []
    if not found:
        raise DataError(f"Dataset '{spec.name}': no class sub-folders in {resolve_path(base_dir, spec.path)}"
                        "/train or /test (path).")
    return found


@register_splits("fer2013_folder")
def _splits(spec: Any, base_dir: Path) -> set[str]:
    return {"train", "val", "test"} if "train" in _roots(spec, base_dir) else {"test"}


@register_check("fer2013_folder")
def _check(spec: Any, base_dir: Path) -> list[str]:
    return _scan(spec, base_dir)[0]


@register_loader("fer2013_folder")
def _load(spec: Any, base_dir: Path) -> RawData:
    problems, classes, scanned = _scan(spec, base_dir)
    if problems:
        raise DataError(f"Dataset '{spec.name}': " + "; ".join(problems) + ".")
    usages = {"train": spec.train_usage, "val": spec.val_usage, "test": spec.test_usage}
    picked: dict[str, list[tuple[Path, int]]] = {k: [] for k in usages}
    ignored = 0
    for name in FOLDERS:  # train/ first: files keep their folder and class order
        if name not in scanned:
            continue
        _, files, y = scanned[name]
        for path, label in zip(files, y.tolist()):
            split = next((k for k, u in usages.items() if u and path.name.startswith(u)), None)
            if split is None:
                ignored += 1
            else:
                picked[split].append((path, label))
    root = resolve_path(base_dir, spec.path)

    def part(split: str) -> RawPart | None:
        if not picked[split]:
            return None
        where = scanned["train" if split == "train" else "test"][0]
        return RawPart(y=np.asarray([lab for _, lab in picked[split]], dtype=np.int64),
                       files=[p for p, _ in picked[split]], root=where)

    for split, field in (("test", "test_usage"), ("train", "train_usage")):
        if split == "train" and "train" not in scanned:
            continue
        if not picked[split]:
            raise DataError(f"Dataset '{spec.name}': no file name in {root} starts with "
                            f"{usages[split]!r} ({field}); FER2013's files are named "
                            "Training_*.jpg, PublicTest_*.jpg and PrivateTest_*.jpg.")
    counts = " / ".join(f"{len(picked[k]):,} {usages[k]}" for k in usages if picked[k])
    notes: list[Msg | str] = []
    if not picked["val"] and "train" in scanned:
        if usages["val"]:
            notes.append(Msg("no {prefix}_* files: validation carved from {train_usage} with split.val",
                             {"prefix": usages["val"], "train_usage": usages["train"]}))
        else:
            notes.append(Msg("no val_usage: validation carved from {train_usage} with split.val",
                             {"train_usage": usages["train"]}))
    if "train" not in scanned:
        notes.append(Msg("no train/ folder: evaluate-only"))
    if ignored:
        notes.append(plural_msg("{count:,} file with another prefix ignored",
                                "{count:,} files with another prefix ignored", {"count": ignored}))
    description = with_notes(Msg("FER2013 image folders {root}: {counts} images in {classes} classes",
                                 {"root": str(root), "counts": counts, "classes": len(classes)}), notes)
    return RawData(classes=classes, description=description, train=part("train"), val=part("val"),
                   test=part("test"), split=spec.split)
