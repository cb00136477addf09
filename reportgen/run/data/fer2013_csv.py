"""``kind = \"fer2013_csv\"``: the FER2013 CSV (``emotion,pixels,Usage``, 48×48 gray)."""

from __future__ import annotations

import csv
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reportgen.config.datasets import FER2013_CLASSES
from reportgen.errors import DataError
from reportgen.progress import track
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

FER2013_COLUMNS = ("emotion", "pixels", "Usage")
FER2013_SIDE = 48


def csv_header_problem(path: Path, columns: Sequence[str], what: str) -> str | None:
    """None if the CSV file ``path`` starts with a header holding every one of ``columns``."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh), None)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return f"cannot read {path}: {exc}"
    found = [c.strip() for c in header] if header else []
    missing = [c for c in columns if c not in found]
    if missing:
        shown = ",".join(found) if found else "an empty file"
        return (f"expected the {what} header {','.join(columns)} in {path}, found {shown!r} "
                f"(missing {missing})")
    return None


def _fer_header_problem(path: Path) -> str | None:
    return csv_header_problem(path, FER2013_COLUMNS, "FER2013 CSV")


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


@dataclass(eq=False)
class CsvPixels:
    """FER2013 pixel rows, parsed only when read (evaluate-only loads parse the test rows only)."""

    dataset: str
    path: Path
    texts: list[str]
    lines: np.ndarray

    def __len__(self) -> int:
        return len(self.texts)

    def take(self, idx: np.ndarray) -> CsvPixels:
        return CsvPixels(self.dataset, self.path, [self.texts[i] for i in idx], self.lines[idx])

    def read(self) -> np.ndarray:
        n_pixels = FER2013_SIDE * FER2013_SIDE
        out = np.empty((len(self.texts), n_pixels), dtype=np.uint8)
        rows = track(self.texts, f"reading {self.dataset} pixels", total=len(self.texts), unit="rows")
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            for i, text in enumerate(rows):
                try:
                    values = np.fromstring(text, dtype=np.int32, sep=" ")
                except (ValueError, DeprecationWarning):
                    raise self._fail(i, f"pixels must be {n_pixels} space-separated integers 0..255; "
                                        "found a non-numeric value") from None
                if values.size != n_pixels:
                    raise self._fail(i, f"expected {n_pixels} pixel values ({FER2013_SIDE}×{FER2013_SIDE} "
                                        f"gray), found {values.size}")
                if values.size and (values.min() < 0 or values.max() > 255):
                    raise self._fail(i, "pixel values must be within 0..255, "
                                        f"found {int(values.min())}..{int(values.max())}")
                out[i] = values
        return out.reshape(-1, FER2013_SIDE, FER2013_SIDE)

    def _fail(self, i: int, what: str) -> DataError:
        return DataError(f"Dataset '{self.dataset}': {self.path}, line {int(self.lines[i])}: {what}.")


@dataclass(eq=False)
class FerRows:
    labels: np.ndarray
    """int64 emotion of each row (-1 when not checked)."""
    usages: list[str]
    pixels: CsvPixels


def read_fer_rows(spec: Any, path: Path, classes: list[str] | None,
                  usages: list[str] | None) -> FerRows:
    """Every data row of a FER2013 CSV: emotion (checked against ``classes`` when given), Usage
    (checked against ``usages`` when given) and the pixel text (parsed later)."""
    labels: list[int] = []
    found_usages: list[str] = []
    texts: list[str] = []
    lines: list[int] = []
    n_classes = len(classes) if classes is not None else None

    def fail(line: int, what: str) -> DataError:
        return DataError(f"Dataset '{spec.name}': {path}, line {line}: {what}.")

    with open(path, newline="", encoding="utf-8-sig") as fh:
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
                label = -1
                if n_classes is not None:
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
                if usages is not None and usage not in usages:
                    raise fail(line, f"Usage {usage!r} is none of the configured train/val/test usages "
                                     f"{usages} (train_usage, val_usage, test_usage)")
                labels.append(label)
                found_usages.append(usage)
                texts.append(row[i_pixels])
                lines.append(line)
        except csv.Error as exc:
            raise fail(reader.line_num, f"malformed CSV ({exc})") from None
    return FerRows(np.asarray(labels, dtype=np.int64), found_usages,
                   CsvPixels(spec.name, path, texts, np.asarray(lines, dtype=np.int64)))


def usage_parts(spec: Any, path: Path, usage_of_row: list[str], usages: list[str]) -> list[np.ndarray]:
    """Row indices of the train, val and test usages; an error naming the field of an empty one."""
    usage_part = {u: i for i, u in reversed(list(enumerate(usages)))}
    part = np.asarray([usage_part.get(u, -1) for u in usage_of_row], dtype=np.int64)
    for i, (usage, field_name) in enumerate(zip(usages, ("train_usage", "val_usage", "test_usage"))):
        if not (part == i).any():
            found = sorted(set(usage_of_row))
            raise DataError(
                f"Dataset '{spec.name}': {path} has no rows with Usage {usage!r} ({field_name}); "
                f"rows found for {found if found else 'no usage at all'}."
            )
    return [np.flatnonzero(part == i) for i in range(3)]


def usage_counts(counts: Sequence[int], usages: Sequence[str]) -> dict[str, Any]:
    """The description parameters ``train``/``val``/``test`` (image counts) and ``train_usage`` …
    (the Usage value each part comes from)."""
    out: dict[str, Any] = {}
    for part, count, usage in zip(("train", "val", "test"), counts, usages):
        out[part], out[f"{part}_usage"] = int(count), usage
    return out


@register_loader("fer2013_csv")
def _fer_load(spec: Any, base_dir: Path) -> RawData:
    path = resolve_path(base_dir, spec.path)
    if not path.is_file():
        raise DataError(f"Dataset '{spec.name}': FER2013 CSV file not found: {path}.")
    problem = _fer_header_problem(path)
    if problem:
        raise DataError(f"Dataset '{spec.name}': {problem}.")
    classes = _fer_classes(spec, base_dir)
    usages = [spec.train_usage, spec.val_usage, spec.test_usage]
    rows = read_fer_rows(spec, path, classes, usages)
    sel = usage_parts(spec, path, rows.usages, usages)
    y = rows.labels
    counts = [len(s) for s in sel]
    return RawData(
        classes=classes,
        description=Msg("FER2013 CSV {file}: {images:,} images, {shape} ({train:,} {train_usage} / "
                        "{val:,} {val_usage} / {test:,} {test_usage})",
                        {"file": path.name, "images": len(y),
                         "shape": shape_msg(FER2013_SIDE, FER2013_SIDE, 1), **usage_counts(counts, usages)}),
        train=RawPart(y=y[sel[0]], lazy=rows.pixels.take(sel[0])),
        val=RawPart(y=y[sel[1]], lazy=rows.pixels.take(sel[1])),
        test=RawPart(y=y[sel[2]], lazy=rows.pixels.take(sel[2])),
    )
