"""Test-set evaluation shared by the metric analyses, the commentary and metrics.json
(scikit-learn does the maths).

The rankings the report names in words (best / worst class, most-confused pairs), the
degenerate-model check and the training (divergence) check are computed here once, stored in the
evaluation dict, and read from there by the analyses and the Discussion, so every part of the
report names the same classes and says the same thing.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from reportgen.significance import BOOTSTRAP_SEED, CONFIDENCE, RESAMPLES, bootstrap_f1, wilson_interval

CONCENTRATION = 0.9
"""A model is flagged when at least this share of its test predictions fall in one class while
that class is less than this share of the test labels."""
MOST_CONFUSED = 3
EXPLODING_FACTOR = 10.0
"""A run is flagged as exploding when an epoch's training loss exceeds this many times
ln(number of classes), the cross-entropy of a uniform guess."""
STUCK_SHARE = 0.5
"""A run whose training loss never fell below its first epoch's is flagged as stuck only while
its last training loss is still at least this share of ln(number of classes)."""


def evaluate(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """Accuracy, per-class precision/recall/F1/support, macro and weighted averages, confusion
    matrix, best / worst class, most-confused pairs, the degenerate-model check and the 95 %
    intervals of accuracy and F1 (:func:`intervals`).

    The numbers are exactly ``sklearn.metrics.classification_report(output_dict=True)``.
    """
    # Imported here: the study reads this module's checks, and a rebuild that reuses every
    # result should not pay scikit-learn's ~1 s import.
    from sklearn.metrics import classification_report, confusion_matrix

    labels = list(range(len(classes)))
    report = classification_report(y_true, y_pred, labels=labels, target_names=classes,
                                    output_dict=True, zero_division=0)
    counts = confusion_matrix(y_true, y_pred, labels=labels)

    def row(entry: dict[str, float]) -> dict[str, float]:
        return {"precision": float(entry["precision"]), "recall": float(entry["recall"]),
                "f1": float(entry["f1-score"]), "support": int(entry["support"])}

    per_class = {name: row(report[name]) for name in classes}
    correct, total = int(np.sum(y_true == y_pred)), int(len(y_true))
    return {
        "accuracy": correct / total if total else 0.0,
        "correct": correct,
        "total": total,
        "per_class": per_class,
        "macro_avg": row(report["macro avg"]),
        "weighted_avg": row(report["weighted avg"]),
        "confusion_matrix": counts.astype(int).tolist(),
        "most_confused": most_confused_pairs(counts, classes),
        "best_worst": best_and_worst_classes(per_class),
        "degenerate": degenerate(counts, classes),
        "intervals": intervals(y_true, y_pred, classes),
    }


def intervals(y_true: Any, y_pred: Any, classes: list[str]) -> dict[str, Any]:
    """How sure the test metrics are (the ``intervals`` of a record): the Wilson interval of
    accuracy and percentile-bootstrap intervals over test images of macro-, weighted- and each
    class's F1, drawn from a fixed seed (the same predictions always give the same interval)."""
    y_true = np.asarray(y_true, dtype=np.int64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.int64).ravel()
    f1 = bootstrap_f1(y_true, y_pred, len(classes))
    return {
        "confidence": CONFIDENCE,
        "accuracy": list(wilson_interval(int(np.sum(y_true == y_pred)), len(y_true))),
        "accuracy_method": "wilson",
        "macro_f1": list(f1["macro_f1"]),
        "weighted_f1": list(f1["weighted_f1"]),
        "per_class_f1": {name: list(f1["per_class_f1"][i]) for i, name in enumerate(classes)},
        "f1_method": "percentile bootstrap over test images",
        "resamples": RESAMPLES,
        "seed": BOOTSTRAP_SEED,
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


def training_check(history: dict[str, list[float]] | None, num_classes: int,
                   val_labels: Any = ()) -> dict[str, Any]:
    """Whether training diverged or learned nothing, from the Keras history and the class counts.

    ``guess_loss`` is ln(``num_classes``), the loss of a uniform guess. Flagged (``flagged:
    True``) for any of the reasons in ``reasons``, in this order:

    ``"exploding"`` — some epoch's training loss is above :data:`EXPLODING_FACTOR` (10) ×
    ``guess_loss`` (``max_loss`` at ``max_loss_epoch``, 1-based);
    ``"at_chance"`` — the last epoch's validation accuracy is at or below chance: the validation
    images it got right (``round(val_accuracy × validation images)``, exact in counts as in
    :func:`degenerate`) are no more than those of always answering the most frequent validation
    class (the majority rate, never below 1/``num_classes``); needs a validation split holding at
    least two classes;
    ``"stuck"`` — at least two epochs, the training loss never went below its first epoch's
    (``min(loss[1:]) >= loss[0]``), and the last training loss is still at least
    :data:`STUCK_SHARE` (0.5) × ``guess_loss`` (a model that starts good is not stuck).

    Non-finite losses never reach here from a build (training stops at the first one, see
    :mod:`reportgen.run.train`); any that do are left out of the comparisons. A model evaluated
    as loaded (no history) gets ``applicable: False``.
    """
    loss = [float(v) for v in (history or {}).get("loss") or []]
    result: dict[str, Any] = {"flagged": False, "reasons": [], "applicable": bool(loss)}
    if not loss or num_classes < 2:
        result["applicable"] = False
        return result
    guess = math.log(num_classes)
    finite = [(e, v) for e, v in enumerate(loss) if math.isfinite(v)]
    result.update({"epochs": len(loss), "num_classes": int(num_classes), "guess_loss": guess,
                   "exploding_factor": EXPLODING_FACTOR, "first_loss": loss[0],
                   "last_loss": loss[-1]})
    if finite:
        epoch, worst = max(finite, key=lambda item: item[1])
        result.update({"max_loss": worst, "max_loss_epoch": epoch + 1})
        if worst > EXPLODING_FACTOR * guess:
            result["reasons"].append("exploding")

    counts = np.bincount(np.asarray(val_labels, dtype=np.int64).ravel(), minlength=num_classes) \
        if len(val_labels) else np.zeros(num_classes, dtype=np.int64)
    val_accuracy = [float(v) for v in (history or {}).get("val_accuracy") or []]
    total = int(counts.sum())
    if val_accuracy and total and math.isfinite(val_accuracy[-1]):
        majority = int(np.argmax(counts))
        correct = round(val_accuracy[-1] * total)
        result.update({"val_accuracy": val_accuracy[-1], "val_images": total,
                       "val_correct": int(correct), "majority_index": majority,
                       "majority_rate": float(counts[majority] / total)})
        if int((counts > 0).sum()) >= 2 and correct <= counts[majority]:
            result["reasons"].append("at_chance")

    later = [v for v in loss[1:] if math.isfinite(v)]
    if later and math.isfinite(loss[0]):
        result["lowest_later_loss"] = min(later)
        if min(later) >= loss[0] and math.isfinite(loss[-1]) and loss[-1] >= STUCK_SHARE * guess:
            result["reasons"].append("stuck")
    result["flagged"] = bool(result["reasons"])
    return result


def require_finite_predictions(probabilities: Any, model: Any, model_name: str,
                               trained: bool) -> None:
    """Raise :class:`reportgen.errors.ModelError` when any test prediction is NaN or infinite:
    such a model has no accuracy to report (argmax of NaN is class 0, which looks like a score)."""
    from reportgen.errors import ModelError
    from reportgen.run.models import non_finite_weights

    probs = np.asarray(probabilities)
    bad = ~np.isfinite(probs).reshape(len(probs), -1).all(axis=1) if len(probs) else np.zeros(0, bool)
    if not bad.any():
        return
    weights = non_finite_weights(model)
    cause = (f"{len(weights)} of its weight arrays hold NaN or infinite values (first: {weights[0]})"
             if weights else "its weights are finite, so a layer overflows on these inputs")
    when = "after training" if trained else "as loaded, without training"
    raise ModelError(f"model {model_name!r} predicts NaN or infinite probabilities for {int(bad.sum())} "
                     f"of {len(probs)} test images ({when}): {cause}. A model whose outputs are not "
                     "numbers has no accuracy to report, so this experiment stops here; check the "
                     "model file (re-save it from a run whose loss stayed finite).")
