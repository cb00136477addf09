"""``kind = \"fer2013_csv\"``: the FER2013 CSV (``emotion,pixels,Usage``, 48×48 gray)."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from reportgen.config.datasets import FER2013_CLASSES
from reportgen.errors import DataError
from reportgen.run.data.base import RawData, RawPart, register_check, register_classes, register_loader, resolve_path, shape_text

FER2013_COLUMNS = ("emotion", "pixels", "Usage")
FER2013_SIDE = 48


def _fer_header_problem(path: Path) -> str | None:
    """None if ``path`` starts with a header holding emotion, pixels and Usage."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh), None)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return f"cannot read {path}: {exc}"
    found = [c.strip() for c in header] if header else []
    if not all(col in found for col in FER2013_COLUMNS):
        shown = ",".join(found) if found else "an empty file"
        return f"expected the CSV header {','.join(FER2013_COLUMNS)} in {path}, found {shown!r}"
    return None


@register_classes("fer2013_csv")
def _fer_classes(spec: Any, base_dir: Path) -> list[str]:
    return list(spec.classes or FER2013_CLASSES)


@register_check("fer2013_csv")
def _fer_check(spec: Any, base_dir: Path) -> list[str]:
    path = resolve_path(base_dir, spec.path)
    if not path.exists():
        return [f"path: file not found: {path}"]
    if not path.is_file():
        return [f"path: not a file: {path}"]
    problem = _fer_header_problem(path)
    return [f"path: {problem}"] if problem else []


@register_loader("fer2013_csv")
def _fer_load(spec: Any, base_dir: Path) -> RawData:
    path = resolve_path(base_dir, spec.path)
    if not path.is_file():
        raise DataError(f"Dataset '{spec.name}': FER2013 CSV file not found: {path}.")
    problem = _fer_header_problem(path)
    if problem:
        raise DataError(f"Dataset '{spec.name}': {problem}.")
    classes = _fer_classes(spec, base_dir)
    n_classes = len(classes)
    usages = [spec.train_usage, spec.val_usage, spec.test_usage]
    usage_part = {u: i for i, u in reversed(list(enumerate(usages)))}
    n_pixels = FER2013_SIDE * FER2013_SIDE
    labels: list[int] = []
    parts: list[int] = []
    pixels: list[np.ndarray] = []

    def fail(line: int, what: str) -> DataError:
        return DataError(f"Dataset '{spec.name}': {path}, line {line}: {what}.")

    with open(path, newline="", encoding="utf-8-sig") as fh, warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        reader = csv.reader(fh)
        header = [c.strip() for c in next(reader)]
        i_label, i_pixels, i_usage = (header.index(c) for c in FER2013_COLUMNS)
        width = max(i_label, i_pixels, i_usage) + 1
        try:
            for row in reader:
                line = reader.line_num
                if not row or not any(c.strip() for c in row):
                    continue
                if len(row) < width:
                    raise fail(line, f"expected {len(header)} columns ({','.join(header)}), found {len(row)}")
                try:
                    label = int(row[i_label])
                except ValueError:
                    raise fail(
                        line, f"emotion must be an integer class index, found {row[i_label]!r}"
                    ) from None
                if not 0 <= label < n_classes:
                    raise fail(line, f"emotion {label} is outside the allowed range 0..{n_classes - 1} "
                                     f"({n_classes} classes: {', '.join(classes)})")
                usage = row[i_usage].strip()
                if usage not in usage_part:
                    raise fail(line, f"Usage {usage!r} is none of the configured train/val/test usages "
                                     f"{usages} (train_usage, val_usage, test_usage)")
                try:
                    values = np.fromstring(row[i_pixels], dtype=np.int32, sep=" ")
                except (ValueError, DeprecationWarning):
                    raise fail(line, f"pixels must be {n_pixels} space-separated integers 0..255; "
                                     "found a non-numeric value") from None
                if values.size != n_pixels:
                    raise fail(line, f"expected {n_pixels} pixel values "
                                     f"({FER2013_SIDE}×{FER2013_SIDE} gray), "
                                     f"found {values.size}")
                if values.size and (values.min() < 0 or values.max() > 255):
                    raise fail(line, "pixel values must be within 0..255, "
                                     f"found {int(values.min())}..{int(values.max())}")
                labels.append(label)
                parts.append(usage_part[usage])
                pixels.append(values.astype(np.uint8))
        except csv.Error as exc:
            raise fail(reader.line_num, f"malformed CSV ({exc})") from None

    y = np.asarray(labels, dtype=np.int64)
    part = np.asarray(parts, dtype=np.int64)
    x = (np.stack(pixels) if pixels else np.zeros((0, n_pixels), np.uint8)).reshape(
        -1, FER2013_SIDE, FER2013_SIDE
    )
    counts = [int((part == i).sum()) for i in range(3)]
    for usage, field_name, count in zip(usages, ("train_usage", "val_usage", "test_usage"), counts):
        if count == 0:
            found = sorted({r for r in usage_part if (part == usage_part[r]).any()})
            raise DataError(
                f"Dataset '{spec.name}': {path} has no rows with Usage {usage!r} ({field_name}); "
                f"rows found for {found if found else 'no usage at all'}."
            )
    sel = [np.flatnonzero(part == i) for i in range(3)]
    return RawData(
        classes=classes,
        description=(
            f"FER2013 CSV {path.name}: {len(y):,} images, {shape_text(FER2013_SIDE, FER2013_SIDE, 1)} "
            f"({counts[0]:,} {usages[0]} / {counts[1]:,} {usages[1]} / {counts[2]:,} {usages[2]})"
        ),
        train=RawPart(y=y[sel[0]], x=x[sel[0]]),
        val=RawPart(y=y[sel[1]], x=x[sel[1]]),
        test=RawPart(y=y[sel[2]], x=x[sel[2]]),
    )
