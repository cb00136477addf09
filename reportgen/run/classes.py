"""Which class names an experiment scores, and how a dataset's labels meet a model's outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def experiment_classes(dataset: Any, model: Any, base_dir: Path) -> list[str]:
    """An experiment's class names: its dataset's, or for unlabelled images (``kind =
    "images"``, no classes of their own) the names the model gives its outputs."""
    from reportgen.run.data import dataset_classes

    return dataset_classes(dataset, base_dir) or list(getattr(model, "classes", None) or [])
