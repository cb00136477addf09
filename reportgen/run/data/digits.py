"""``kind = \"digits\"``: scikit-learn's 1,797 real 8×8 handwritten digits."""

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
    shape_msg,
)


def _digit_labels(spec: Any) -> list[int]:
    return list(spec.digits) if spec.digits is not None else list(range(10))


@register_classes("digits")
def _digits_classes(spec: Any, base_dir: Path) -> list[str]:
    labels = _digit_labels(spec)
    classes = list(spec.classes or [str(d) for d in labels])
    if len(classes) != len(labels):
        raise DataError(
            f"Dataset '{spec.name}': the digits dataset has {len(labels)} classes here "
            f"({labels}), but classes lists {len(classes)} names: {classes}."
        )
    return classes


@register_check("digits")
def _digits_check(spec: Any, base_dir: Path) -> list[str]:
    labels = _digit_labels(spec)
    if spec.classes is not None and len(spec.classes) != len(labels):
        return [f"classes: the digits dataset has {len(labels)} classes here ({labels}), "
                f"got {len(spec.classes)} names"]
    return []


@register_loader("digits")
def _digits_load(spec: Any, base_dir: Path) -> RawData:
    from sklearn.datasets import load_digits

    classes = _digits_classes(spec, base_dir)
    labels = _digit_labels(spec)
    digits = load_digits()
    keep = np.isin(digits.target, labels)
    x = np.clip(np.rint(digits.images[keep] * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    # Class index = position of the digit in `digits` (the manifest's order).
    index_of = np.full(10, -1, dtype=np.int64)
    index_of[labels] = np.arange(len(labels))
    y = index_of[digits.target[keep]]
    h, w = x.shape[1:3]
    counts = {"images": len(y), "shape": shape_msg(h, w, 1)}
    if spec.digits is None:
        description = Msg("scikit-learn digits: {images:,} images, {shape}", counts)
    else:
        description = Msg("scikit-learn digits (digits {digits}): {images:,} images, {shape}",
                          {**counts, "digits": ", ".join(map(str, labels))})
    return RawData(
        classes=classes,
        description=description,
        pool=RawPart(y=y, x=x),
        split=spec.split,
    )
