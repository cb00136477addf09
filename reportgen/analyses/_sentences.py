"""Sentences an analysis note and the Discussion share, so both say the same thing.

Each reads the evaluation's own ranking or check (:mod:`reportgen.run.evaluate`), computed once
per experiment; :mod:`reportgen.study.commentary` uses these for the Discussion.
"""

from __future__ import annotations

from typing import Any

from reportgen.report_types import Msg
from reportgen.run.evaluate import degenerate, training_check


def f4(value: float) -> str:
    """A score as every table and sentence writes it: four decimals."""
    return f"{value:.4f}"


def best_worst_sentence(ranking: dict[str, Any], supports: bool) -> Msg:
    """The best / worst class sentence of the Discussion (``supports``) or of the per-class
    table's note, from :func:`reportgen.run.evaluate.best_and_worst_classes`."""
    if ranking["all_equal"]:
        return Msg("Every class has the same F1 ({f1}).", {"f1": f4(ranking["best_f1"])})
    params = {"best": ranking["best"], "best_f1": f4(ranking["best_f1"]),
              "worst": ranking["worst"], "worst_f1": f4(ranking["worst_f1"])}
    if not supports:
        return Msg("Highest F1: {best} ({best_f1}); lowest F1: {worst} ({worst_f1}).", params)
    return Msg("Best recognised class: {best} (F1 {best_f1}, {best_support} test images); "
               "worst: {worst} (F1 {worst_f1}, {worst_support} test images).",
               {**params, "best_support": ranking["best_support"],
                "worst_support": ranking["worst_support"]})


def degenerate_warnings(entry: dict[str, Any]) -> list[Msg]:
    """The warning of a degenerate model (see :func:`reportgen.run.evaluate.degenerate`): one
    sentence per reason, shared by the accuracy notes and the Discussion."""
    matrix, classes = entry.get("confusion_matrix"), entry.get("classes") or []
    check = entry["degenerate"] if "degenerate" in entry else (
        degenerate(matrix, classes) if matrix and classes else None)
    if not check or not check["flagged"]:
        return []
    out = []
    if "one_class" in check["reasons"]:
        out.append(Msg("Warning: {share} of the test predictions are {predicted}, which is only "
                       "{label_share} of the test labels: the model predicts almost a single class.",
                       {"share": f"{check['top_predicted_share']:.1%}",
                        "predicted": check["top_predicted"],
                        "label_share": f"{check['top_predicted_label_share']:.1%}"}))
    if "majority_rate" in check["reasons"]:
        out.append(Msg("Warning: the test accuracy {accuracy} is not above the majority-class rate "
                       "{majority_rate} (always answering {majority}): the model does no better "
                       "than guessing the most frequent class.",
                       {"accuracy": f4(check["accuracy"]), "majority_rate": f4(check["majority_rate"]),
                        "majority": check["majority_class"]}))
    return out


def loss_value(value: float) -> str:
    """A loss in a sentence: four decimals, or three significant digits once it is huge
    (an exploding run's 11759726.0 reads 1.18e+07)."""
    return f4(value) if abs(value) < 1e4 else f"{value:.3g}"


def training_warnings(entry: dict[str, Any]) -> list[Msg]:
    """The warning of a diverging or stuck run (see :func:`reportgen.run.evaluate.training_check`):
    one sentence per reason, shared by the training_curves notes and the start of the
    Discussion. ``entry`` holds ``training_check`` (as the evaluation stores it), or else a
    ``history`` it is computed from (without validation counts: no at-chance reason then), and
    ``classes``."""
    classes = entry.get("classes") or []
    check = entry.get("training_check")
    if check is None and entry.get("history") and classes:
        check = training_check(entry["history"], len(classes))
    if not check or not check.get("flagged"):
        return []
    out = []
    if "exploding" in check["reasons"]:
        out.append(Msg("Warning: the training loss reached {loss} at epoch {epoch}, more than {factor} "
                       "times {guess} (ln {classes}, the loss of guessing uniformly): training "
                       "diverged; a lower learning rate may help.",
                       {"loss": loss_value(check["max_loss"]), "epoch": check["max_loss_epoch"],
                        "factor": f"{check['exploding_factor']:g}", "guess": f4(check["guess_loss"]),
                        "classes": check["num_classes"]}))
    if "at_chance" in check["reasons"]:
        index = check["majority_index"]
        out.append(Msg("Warning: after the last epoch the validation accuracy {accuracy} is not above "
                       "chance, {majority_rate} (always answering {majority}, the most frequent "
                       "validation class): training did not learn to tell the classes apart.",
                       {"accuracy": f4(check["val_accuracy"]), "majority_rate": f4(check["majority_rate"]),
                        "majority": classes[index] if index < len(classes) else str(index)}))
    if "stuck" in check["reasons"]:
        out.append(Msg("Warning: the training loss never fell below its first-epoch value {first} "
                       "(lowest later {lowest}, last {last}): training is stuck.",
                       {"first": loss_value(check["first_loss"]),
                        "lowest": loss_value(check["lowest_later_loss"]),
                        "last": loss_value(check["last_loss"])}))
    return out
