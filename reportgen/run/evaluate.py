"""Test-set evaluation shared by the metric analyses and metrics.json (scikit-learn does the maths)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import classification_report, confusion_matrix


def evaluate(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """Accuracy, per-class precision/recall/F1/support, macro and weighted averages, confusion matrix.

    The numbers are exactly ``sklearn.metrics.classification_report(output_dict=True)``.
    """
    labels = list(range(len(classes)))
    report = classification_report(y_true, y_pred, labels=labels, target_names=classes,
                                    output_dict=True, zero_division=0)
    counts = confusion_matrix(y_true, y_pred, labels=labels)

    def row(entry: dict[str, float]) -> dict[str, float]:
        return {"precision": float(entry["precision"]), "recall": float(entry["recall"]),
                "f1": float(entry["f1-score"]), "support": int(entry["support"])}

    return {
        "accuracy": float(np.mean(y_true == y_pred)) if len(y_true) else 0.0,
        "correct": int(np.sum(y_true == y_pred)),
        "total": int(len(y_true)),
        "per_class": {name: row(report[name]) for name in classes},
        "macro_avg": row(report["macro avg"]),
        "weighted_avg": row(report["weighted avg"]),
        "confusion_matrix": counts.astype(int).tolist(),
        "most_confused": most_confused_pairs(counts, classes),
    }


def most_confused_pairs(counts: np.ndarray, classes: list[str], top: int = 3) -> list[dict[str, Any]]:
    """The largest off-diagonal cells: (true class, predicted class, count), largest first."""
    off = counts.copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(off, axis=None, kind="stable")[::-1]
    pairs = []
    for flat in order[:top]:
        i, j = divmod(int(flat), len(classes))
        if off[i, j] == 0:
            break
        pairs.append({"true": classes[i], "predicted": classes[j], "count": int(off[i, j])})
    return pairs
