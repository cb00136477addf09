"""Choosing and labelling image files: ``include`` / ``exclude`` globs on file names, and
labels from a file-name pattern or from a list file (``name label`` lines).

Problems are raised as :class:`LabelProblem` whose text starts with the manifest field
(``labels.pattern: …``): loaders turn it into a DataError, checks into a validation line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import numpy as np

from reportgen.run.data.base import resolve_path


class LabelProblem(ValueError):
    """A ``field: message`` problem with the files or labels of a dataset."""


def select_files(spec: Any, files: Sequence[Path]) -> list[Path]:
    """``files`` whose name matches an ``include`` pattern (when given) and no ``exclude`` one."""
    include = list(getattr(spec, "include", None) or [])
    exclude = list(getattr(spec, "exclude", None) or [])
    if not include and not exclude:
        return list(files)
    return [f for f in files
            if (not include or any(fnmatchcase(f.name, p) for p in include))
            and not any(fnmatchcase(f.name, p) for p in exclude)]


def _examples(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def pattern_values(files: Sequence[Path], pattern: str, field: str = "labels.pattern") -> list[str]:
    """The first group of ``pattern`` searched in each file name."""
    regex = re.compile(pattern)
    values, unmatched = [], []
    for f in files:
        found = regex.search(f.name)
        if found is None or found.group(1) is None:
            unmatched.append(f.name)
        else:
            values.append(found.group(1))
    if unmatched:
        raise LabelProblem(
            f"{field}: {len(unmatched)} of {len(files)} file names do not match {pattern!r}, "
            f"e.g. {_examples(unmatched)}; fix the pattern or leave such files out with exclude")
    return values


def class_labels(values: Sequence[str], files: Sequence[Path], mapping: dict[str, str] | None,
                 classes: list[str] | None, field: str) -> tuple[list[str], np.ndarray]:
    """(class list, int64 label of each file) from the label text of each file."""
    if mapping is not None:
        unknown = sorted({v for v in values if v not in mapping})
        if unknown:
            example = next(f.name for f, v in zip(files, values) if v == unknown[0])
            raise LabelProblem(
                f"{field.rsplit('.', 1)[0]}.map: label {unknown[0]!r} (file {example!r}) is not in map; "
                f"map has {sorted(mapping)}" + (f"; also unknown: {unknown[1:]}" if unknown[1:] else ""))
        names = [mapping[v] for v in values]
        default = list(dict.fromkeys(mapping.values()))
    else:
        names = list(values)
        default = sorted(set(names))
    order = list(classes) if classes is not None else default
    index = {c: i for i, c in enumerate(order)}
    outside = sorted(set(names) - set(index))
    if outside:
        example = next(f.name for f, n in zip(files, names) if n == outside[0])
        raise LabelProblem(f"classes: label {outside[0]!r} (file {example!r}) is not one of {order}")
    y = np.asarray([index[n] for n in names], dtype=np.int64)
    empty = [c for i, c in enumerate(order) if not (y == i).any()]
    if empty and files:
        raise LabelProblem(f"{field}: no image file of class {empty} ({len(files)} files labelled)")
    return order, y


def read_list_file(path: Path, field: str = "labels.file") -> dict[str, str]:
    """``name label`` lines (blank lines and ``#`` comments ignored) → {name: label}."""
    if not path.is_file():
        raise LabelProblem(f"{field}: file not found: {path}")
    out: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelProblem(f"{field}: cannot read {path}: {exc}") from None
    for number, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        if len(parts) != 2:
            raise LabelProblem(f"{field}: {path}, line {number}: expected 'name label' "
                               f"(e.g. 'train_00001.jpg 5'), found {line.strip()!r}")
        out[parts[0]] = parts[1]
    if not out:
        raise LabelProblem(f"{field}: {path} holds no 'name label' lines")
    return out


def labelled_folder(spec: Any, root: Path, base_dir: Path,
                    classes: list[str] | None) -> tuple[list[str], list[Path], np.ndarray]:
    """(classes, files, labels) of a flat folder labelled by ``spec.labels``."""
    from reportgen.run.data.folders import image_files

    labels = spec.labels
    if labels.pattern is not None:
        files = select_files(spec, image_files(root))
        if not files:
            raise LabelProblem(f"include: no image file left in {root}" if getattr(spec, "include", None)
                               else f"no image files in {root}")
        values = pattern_values(files, labels.pattern)
        order, y = class_labels(values, files, labels.map, classes, "labels.pattern")
        return order, files, y
    # The folder's image files, each looked up in the list (by path relative to the folder, or
    # by file name): one list may cover several folders (train_dir and test_dir).
    listed = read_list_file(resolve_path(base_dir, labels.file))
    files = select_files(spec, image_files(root))
    found = [listed.get(f.relative_to(root).as_posix(), listed.get(f.name)) for f in files]
    unlisted = [f.name for f, v in zip(files, found) if v is None]
    if unlisted:
        raise LabelProblem(f"labels.file: {len(unlisted)} image files in {root} are not listed in "
                           f"{labels.file}, e.g. {_examples(unlisted)}; list them or leave them out "
                           "with exclude")
    if not files:
        raise LabelProblem(f"labels.file: no image files in {root}")
    order, y = class_labels([str(v) for v in found], files, None, classes, "labels.file")
    return order, files, y
