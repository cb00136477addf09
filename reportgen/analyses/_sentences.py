"""Sentences an analysis note and the Discussion share, so both say the same thing.

Each reads the evaluation's own ranking or check (:mod:`reportgen.run.evaluate`), computed once
per experiment; :mod:`reportgen.study.commentary` uses these for the Discussion.
"""

from __future__ import annotations

from typing import Any

from reportgen.report_types import Msg
from reportgen.run.evaluate import degenerate


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
