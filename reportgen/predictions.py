"""An experiment's test-set predictions, ``experiments/<name>/predictions.npz``: what the paired
tests of the study and of ``--compare-to`` read (NumPy only).

Arrays: ``y_true`` (images,), ``y_pred`` (images,) and ``probabilities`` (images, classes) of the
representative run (the one the confusion matrix and the explanations show); with seeded
repeats also ``y_pred_runs`` (runs, images), row 0 the representative run, and ``seeds`` (runs,).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

PREDICTIONS_FILE = "predictions.npz"


@dataclass(frozen=True)
class RunPredictions:
    y_true: np.ndarray
    """True labels (images,), as indices of the experiment's classes."""
    y_pred_runs: np.ndarray
    """Predicted labels (runs, images); row 0 is the representative run."""
    seeds: tuple[int, ...]
    """The training seed of each row (empty when unknown: a single run)."""

    @property
    def runs(self) -> int:
        return int(self.y_pred_runs.shape[0])


def write_predictions(folder: Path, y_true: Any, y_pred: Any, probabilities: Any,
                      y_pred_runs: Any = None, seeds: Any = None) -> Path:
    """Write ``predictions.npz`` in ``folder`` (a temporary name, then a rename)."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {"y_true": y_true, "y_pred": y_pred, "probabilities": probabilities}
    if y_pred_runs is not None:
        arrays.update(y_pred_runs=np.asarray(y_pred_runs), seeds=np.asarray(seeds, dtype=np.int64))
    tmp = folder / "predictions.tmp.npz"
    np.savez_compressed(tmp, **arrays)
    return tmp.replace(folder / PREDICTIONS_FILE)


def read_predictions(path: Path) -> RunPredictions | None:
    """The predictions in ``path``; None when the file is missing or unreadable (a comparison
    then falls back to the intervals in metrics.json)."""
    try:
        with np.load(path) as data:
            y_true = np.asarray(data["y_true"], dtype=np.int64)
            if "y_pred_runs" in data:
                runs = np.asarray(data["y_pred_runs"], dtype=np.int64)
                seeds = tuple(int(s) for s in data["seeds"])
            else:
                runs, seeds = np.asarray(data["y_pred"], dtype=np.int64)[None], ()
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        return None
    if runs.ndim != 2 or runs.shape[1] != len(y_true):
        return None
    return RunPredictions(y_true, runs, seeds)


def label_count(classes: Any, *labels: np.ndarray) -> int:
    """How many classes the metrics count: the record's classes, or more when a label array holds
    a higher index (a record without its class list)."""
    return max(len(classes or ()), max((int(a.max(initial=0)) for a in labels), default=-1) + 1)
