"""Test-set evaluation shared by the metric analyses, the commentary and metrics.json
(scikit-learn does the maths).

The rankings the report names in words (best / worst class, most-confused pairs) and the
degenerate-model check are computed here once, stored in the evaluation dict, and read from
there by the analyses and the Discussion, so every part of the report names the same classes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import classification_report, confusion_matrix

CONCENTRATION = 0.9
"""A model is flagged when at least this share of its test predictions fall in one class while
that class is less than this share of the test labels."""
MOST_CONFUSED = 3


def evaluate(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """Accuracy, per-class precision/recall/F1/support, macro and weighted averages, confusion
    matrix, best / worst class, most-confused pairs and the degenerate-model check.

    The numbers are exactly ``sklearn.metrics.classification_report(output_dict=True)``.
    """
    labels = list(range(len(classes)))
    report = classification_report(y_true, y_pred, labels=labels, target_names=classes,
                                    output_dict=True, zero_division=0)
    counts = confusion_matrix(y_true, y_pred, labels=labels)

    def row(entry: dict[str, float]) -> dict[str, float]:
        return {"precision": float(entry["precision"]), "recall": float(entry["recall"]),
                "f1": float(entry["f1-score"]), "support": int(entry["support"])}

    per_class = {name: row(report[name]) for name in classes}
    return {
        "accuracy": float(np.mean(y_true == y_pred)) if len(y_true) else 0.0,
        "correct": int(np.sum(y_true == y_pred)),
        "total": int(len(y_true)),
        "per_class": per_class,
        "macro_avg": row(report["macro avg"]),
        "weighted_avg": row(report["weighted avg"]),
        "confusion_matrix": counts.astype(int).tolist(),
        "most_confused": most_confused_pairs(counts, classes),
        "best_worst": best_and_worst_classes(per_class),
        "degenerate": degenerate(counts, classes),
    }


def best_epoch(val_loss: Any) -> int | None:
    """The epoch (1-based) with the lowest validation loss, the first of equal ones; None
    without validation losses."""
    return int(np.argmin(val_loss)) + 1 if len(val_loss) else None


def best_and_worst_classes(per_class: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """Best and worst class by F1, by one ranking: F1 (higher first), then test support (more
    images first), then class order; the best is the first, the worst the last. Classes without
    test images are not ranked (their F1 measures nothing). None with fewer than two ranked
    classes; ``all_equal`` when every ranked class has the same F1."""
    ranked = sorted(((name, v) for name, v in per_class.items() if int(v["support"]) > 0),
                    key=lambda item: (-float(item[1]["f1"]), -int(item[1]["support"])))
    if len(ranked) < 2:  # sorted() is stable: class order breaks the remaining ties
        return None
    (best, b), (worst, w) = ranked[0], ranked[-1]
    return {"best": best, "best_f1": float(b["f1"]), "best_support": int(b["support"]),
            "worst": worst, "worst_f1": float(w["f1"]), "worst_support": int(w["support"]),
            "all_equal": float(b["f1"]) == float(w["f1"])}


def most_confused_pairs(counts: Any, classes: list[str], top: int = MOST_CONFUSED) -> list[dict[str, Any]]:
    """The largest off-diagonal cells of the confusion matrix (rows true, columns predicted):
    (true class, predicted class, count), largest count first; equal counts in class order of
    the true class, then of the predicted class."""
    off = np.array(counts, dtype=np.int64)
    np.fill_diagonal(off, 0)
    n = len(classes)
    # argsort is stable: on -count, equal counts keep row-major (true, predicted) order.
    order = np.argsort(-off, axis=None, kind="stable")
    pairs = []
    for flat in order[:top]:
        i, j = divmod(int(flat), n)
        if off[i, j] == 0:
            break
        pairs.append({"true": classes[i], "predicted": classes[j], "count": int(off[i, j])})
    return pairs


def degenerate(counts: Any, classes: list[str]) -> dict[str, Any]:
    """Whether the model does no more than guess, from the confusion matrix alone.

    Flagged (``flagged: True``) for either reason in ``reasons``:
    ``"one_class"`` — at least :data:`CONCENTRATION` (90 %) of the test predictions are one
    class while that class is less than 90 % of the test labels; ``"majority_rate"`` — the
    accuracy is at or below the majority-class rate (the accuracy of always answering the most
    frequent test class), when the test labels hold at least two classes. Ties between classes
    go to the first in class order.
    """
    cm = np.array(counts, dtype=np.int64).reshape(len(classes), len(classes))
    total = int(cm.sum())
    result: dict[str, Any] = {"flagged": False, "reasons": [], "threshold": CONCENTRATION}
    if total == 0:
        return result
    labels, predicted = cm.sum(axis=1), cm.sum(axis=0)
    top, majority = int(np.argmax(predicted)), int(np.argmax(labels))
    accuracy = float(np.trace(cm) / total)
    result.update({
        "top_predicted": classes[top], "top_predicted_share": float(predicted[top] / total),
        "top_predicted_label_share": float(labels[top] / total),
        "majority_class": classes[majority], "majority_rate": float(labels[majority] / total),
        "accuracy": accuracy,
    })
    if result["top_predicted_share"] >= CONCENTRATION and result["top_predicted_label_share"] < CONCENTRATION:
        result["reasons"].append("one_class")
    if int((labels > 0).sum()) >= 2 and np.trace(cm) <= labels[majority]:  # exact, in counts
        result["reasons"].append("majority_rate")
    result["flagged"] = bool(result["reasons"])
    return result
