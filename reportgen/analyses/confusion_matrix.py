"""Confusion matrix as counts and row-normalised shares."""

from __future__ import annotations

import numpy as np

from reportgen import figures
from reportgen.analyses.base import Analysis, AnalysisContext, AnalysisResult, Figure, Msg, NoParams
from reportgen.analyses.registry import register
from reportgen.i18n import plural_msg


@register
class ConfusionMatrix(Analysis):
    """Rows are true classes, columns predicted classes; the normalised panel divides by row sums."""

    name = "confusion_matrix"
    title = Msg("Confusion matrix")
    needs_labels = True

    def run(self, ctx: AnalysisContext, params: NoParams) -> AnalysisResult:
        ev = ctx.evaluation
        counts = np.asarray(ev["confusion_matrix"])
        path = figures.confusion_matrices(
            counts, ctx.classes, ctx.figure_path("confusion_matrix"),
            titles=(ctx.label("Counts"), ctx.label("Row-normalised (recall per class)")),
            xlabel=ctx.label("Predicted class"), ylabel=ctx.label("True class"))
        notes = [plural_msg("Most confused: {true} predicted as {predicted} ({count} image).",
                            "Most confused: {true} predicted as {predicted} ({count} images).", pair)
                 for pair in ev["most_confused"]]
        return AnalysisResult(
            metrics={"confusion_matrix": ev["confusion_matrix"], "most_confused": ev["most_confused"]},
            figures=[Figure(path, Msg("Confusion matrix of {experiment} on the test set: counts "
                                      "(left) and row-normalised (right).",
                                      {"experiment": ctx.experiment}), wide=True)],
            notes=notes,
        )
