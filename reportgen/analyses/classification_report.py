"""Per-class precision, recall, F1 and support, with macro and weighted averages."""

from __future__ import annotations

from pydantic import BaseModel

from reportgen.analyses._sentences import best_worst_sentence
from reportgen.analyses.base import Analysis, AnalysisContext, AnalysisResult, Msg, Table
from reportgen.analyses.registry import register

COLUMNS = [Msg("Class"), Msg("Precision"), Msg("Recall"), Msg("F1-score"), Msg("Support")]


def _cells(entry: dict) -> list:
    return [f"{entry['precision']:.4f}", f"{entry['recall']:.4f}", f"{entry['f1']:.4f}",
            entry["support"]]


@register
class ClassificationReport(Analysis):
    """The table of ``sklearn.metrics.classification_report``, to four decimals."""

    name = "classification_report"
    title = Msg("Per-class precision, recall and F1")
    needs_labels = True

    def run(self, ctx: AnalysisContext, params: BaseModel) -> AnalysisResult:
        ev = ctx.evaluation
        rows = [[name, *_cells(ev["per_class"][name])] for name in ctx.classes]
        rows.append([Msg("Macro average"), *_cells(ev["macro_avg"])])
        rows.append([Msg("Weighted average"), *_cells(ev["weighted_avg"])])
        # One ranking and one degenerate check for the whole report (run/evaluate.py): the
        # Discussion names the same classes.
        notes = []
        if ev["best_worst"] is not None:
            notes.append(best_worst_sentence(ev["best_worst"], supports=False))
        return AnalysisResult(
            metrics={"per_class": ev["per_class"], "macro_avg": ev["macro_avg"],
                     "weighted_avg": ev["weighted_avg"], "best_worst": ev["best_worst"],
                     "degenerate": ev["degenerate"]},
            tables=[Table(columns=COLUMNS, rows=rows, css_class="metrics")],
            notes=notes,
        )
