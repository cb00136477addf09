"""``kind = \"ferplus\"``: FERPlus labels (``fer2013new.csv`` vote counts) over FER2013's pixels.

``fer2013new.csv`` has one row per fer2013.csv row (same order): ``Usage,Image name,neutral,
happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF``, ten votes per image.
The label rule is FERPlus's own "majority" mode: votes of 1 are dropped as outliers, then an
emotion is kept only when it has more than half of the remaining votes. Rows without such a
winner, rows whose winner is ``unknown`` or ``NF`` (not a face), and rows without an image
name are left out and counted in the description. Training / PublicTest / PrivateTest come
from FERPlus's own Usage column.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from reportgen.config.datasets import FERPLUS_CLASSES
from reportgen.errors import DataError
from reportgen.report_types import Msg
from reportgen.run.data.base import (
    RawData,
    RawPart,
    fixed_classes,
    fixed_classes_problem,
    joined_notes,
    register_check,
    register_classes,
    register_loader,
    resolve_path,
    shape_msg,
)
from reportgen.run.data.fer2013_csv import (
    FER2013_SIDE,
    _fer_header_problem,
    csv_header_problem,
    read_fer_rows,
    usage_counts,
    usage_parts,
)

VOTE_COLUMNS = [*FERPLUS_CLASSES, "unknown", "NF"]
HEADER = ["Usage", "Image name", *VOTE_COLUMNS]


def _header_problem(path: Path) -> str | None:
    return csv_header_problem(path, HEADER, "FERPlus")


@register_classes("ferplus")
def _classes(spec: Any, base_dir: Path) -> list[str]:
    return fixed_classes(spec, FERPLUS_CLASSES, "FERPlus")


@register_check("ferplus")
def _check(spec: Any, base_dir: Path) -> list[str]:
    problem = fixed_classes_problem(spec, FERPLUS_CLASSES, "FERPlus")
    problems = [problem] if problem else []
    for field, check in (("path", _header_problem), ("fer2013_path", _fer_header_problem)):
        path = resolve_path(base_dir, getattr(spec, field))
        if not path.is_file():
            problems.append(f"{field}: file not found: {path}")
        elif (problem := check(path)) is not None:
            problems.append(f"{field}: {problem}")
    return problems


def majority_labels(votes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(winner column, kept) per row of (N, 10) vote counts, FERPlus's "majority" rule."""
    votes = np.where(votes <= 1, 0, votes)  # single votes are outliers (FERPlus's own rule)
    total = votes.sum(axis=1)
    winner = votes.argmax(axis=1)
    clear = votes[np.arange(len(votes)), winner] * 2 > total
    return winner, clear & (total > 0)


def _read_votes(spec: Any, path: Path) -> tuple[list[str], list[str], np.ndarray]:
    usages, names, votes = [], [], []
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = [c.strip() for c in next(reader)]
        cols = [header.index(c) for c in VOTE_COLUMNS]
        i_usage, i_name = header.index("Usage"), header.index("Image name")
        for row in reader:
            if not row or not any(c.strip() for c in row):
                continue
            try:
                votes.append([int(float(row[i])) for i in cols])
            except (ValueError, IndexError):
                raise DataError(f"Dataset '{spec.name}': {path}, line {reader.line_num}: expected vote "
                                f"counts in {','.join(VOTE_COLUMNS)}, found {row!r}.") from None
            usages.append(row[i_usage].strip())
            names.append(row[i_name].strip())
    return usages, names, np.asarray(votes, dtype=np.int64).reshape(-1, len(VOTE_COLUMNS))


@register_loader("ferplus")
def _load(spec: Any, base_dir: Path) -> RawData:
    problems = _check(spec, base_dir)
    if problems:
        raise DataError(f"Dataset '{spec.name}': " + "; ".join(problems) + ".")
    path, fer_path = resolve_path(base_dir, spec.path), resolve_path(base_dir, spec.fer2013_path)
    usages, names, votes = _read_votes(spec, path)
    pixels = read_fer_rows(spec, fer_path, None, None).pixels
    if len(pixels) != len(votes):
        raise DataError(f"Dataset '{spec.name}': {path} has {len(votes):,} rows but {fer_path} has "
                        f"{len(pixels):,} (fer2013_path); FERPlus's rows follow fer2013.csv one for one.")
    winner, clear = majority_labels(votes)
    named = np.asarray([bool(n) for n in names], dtype=bool)
    n_classes = len(FERPLUS_CLASSES)
    keep = named & clear & (winner < n_classes)
    dropped = [
        Msg("{count:,} without an image name", {"count": int((~named).sum())}),
        Msg("{count:,} without a majority", {"count": int((named & ~clear).sum())}),
        Msg("{count:,} voted unknown", {"count": int((named & clear & (winner == n_classes)).sum())}),
        Msg("{count:,} voted not a face (NF)",
            {"count": int((named & clear & (winner == n_classes + 1)).sum())}),
    ]
    rows = np.flatnonzero(keep)
    wanted = [spec.train_usage, spec.val_usage, spec.test_usage]
    kept_usages = [usages[i] for i in rows]
    sel = [rows[s] for s in usage_parts(spec, path, kept_usages, wanted)]
    y = winner.astype(np.int64)
    params = {"file": path.name, "fer_file": fer_path.name, "images": len(rows),
              "shape": shape_msg(FER2013_SIDE, FER2013_SIDE, 1),
              **usage_counts([len(s) for s in sel], wanted)}
    left_out: list[Msg | str] = [why for why in dropped if why.params["count"]]
    if left_out:
        description = Msg("FERPlus {file} over {fer_file}: {images:,} images, {shape} ({train:,} "
                          "{train_usage} / {val:,} {val_usage} / {test:,} {test_usage}; majority vote; "
                          "left out: {left_out})", {**params, "left_out": joined_notes(left_out)})
    else:
        description = Msg("FERPlus {file} over {fer_file}: {images:,} images, {shape} ({train:,} "
                          "{train_usage} / {val:,} {val_usage} / {test:,} {test_usage}; majority vote)",
                          params)
    return RawData(
        classes=_classes(spec, base_dir), description=description,
        train=RawPart(y=y[sel[0]], lazy=pixels.take(sel[0])),
        val=RawPart(y=y[sel[1]], lazy=pixels.take(sel[1])),
        test=RawPart(y=y[sel[2]], lazy=pixels.take(sel[2])),
    )
