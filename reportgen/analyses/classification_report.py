"""Per-class precision, recall, F1 and support, with macro and weighted averages."""

from __future__ import annotations

from pydantic import BaseModel

from reportgen.analyses._sentences import best_worst_sentence
from reportgen.analyses.base import Analysis, AnalysisContext, AnalysisResult, Msg, Table
from reportgen.analyses.registry import register

COLUMNS = [Msg("Class"), Msg("Precision"), Msg("Recall"), Msg("F1-score"), Msg("Support")]


def _cells(entry: dict, interval: list[float] | None = None, with_interval: bool = False) -> list:
    cells = [f"{entry['precision']:.4f}", f"{entry['recall']:.4f}", f"{entry['f1']:.4f}"]
    if with_interval:
        cells.append(interval_text(interval))
    return [*cells, entry["support"]]


def interval_text(interval: list[float] | None) -> str:
    """An F1 interval as the table writes it, compactly: ``0.95–0.99``."""
    return "" if interval is None else f"{interval[0]:.2f}–{interval[1]:.2f}"


@register
class ClassificationReport(Analysis):
    """The table of ``sklearn.metrics.classification_report``, to four decimals."""

    name = "classification_report"
    title = Msg("Per-class precision, recall and F1")
    needs_labels = True

    def run(self, ctx: AnalysisContext, params: BaseModel) -> AnalysisResult:
        ev = ctx.evaluation
        # An evaluation made before intervals existed (none) keeps the table without the column.
        iv = ev.get("intervals")
        per_class_iv = iv["per_class_f1"] if iv else {}
        rows = [[name, *_cells(ev["per_class"][name], per_class_iv.get(name), bool(iv))]
                for name in ctx.classes]
        rows.append([Msg("Macro average"), *_cells(ev["macro_avg"], iv and iv["macro_f1"], bool(iv))])
        rows.append([Msg("Weighted average"),
                     *_cells(ev["weighted_avg"], iv and iv["weighted_f1"], bool(iv))])
        columns = COLUMNS
        if iv:
            columns = [*COLUMNS[:4],
                       Msg("F1 {confidence} CI", {"confidence": f"{iv['confidence']:.0%}"}),
                       COLUMNS[4]]
        # One ranking and one degenerate check for the whole report (run/evaluate.py): the
        # Discussion names the same classes.
        notes = []
        if ev["best_worst"] is not None:
            notes.append(best_worst_sentence(ev["best_worst"], supports=False))
        return AnalysisResult(
            metrics={"per_class": ev["per_class"], "macro_avg": ev["macro_avg"],
                     "weighted_avg": ev["weighted_avg"], "best_worst": ev["best_worst"],
                     "degenerate": ev["degenerate"],
                     "f1_intervals": ({key: iv[key] for key in ("confidence", "macro_f1", "weighted_f1",
                                                                 "per_class_f1", "f1_method",
                                                                 "resamples", "seed")}
                                      if iv else None)},
            tables=[Table(columns=columns, rows=rows, css_class="metrics")],
            notes=notes,
        )
