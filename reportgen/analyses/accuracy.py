"""Accuracy on the test set."""

from __future__ import annotations

from pydantic import BaseModel

from reportgen.analyses._sentences import degenerate_warnings
from reportgen.analyses.base import Analysis, AnalysisContext, AnalysisResult, Msg
from reportgen.analyses.registry import register
from reportgen.run.data.coverage import SPLITS, shortage_msgs


@register
class Accuracy(Analysis):
    """Share of test images whose top-1 prediction is the true class."""

    name = "accuracy"
    title = Msg("Accuracy")
    needs_labels = True

    def run(self, ctx: AnalysisContext, params: BaseModel) -> AnalysisResult:
        ev = ctx.evaluation
        return AnalysisResult(
            metrics={"accuracy": ev["accuracy"], "correct": ev["correct"], "total": ev["total"],
                     "degenerate": ev["degenerate"]},
            notes=[Msg("Test accuracy: {accuracy} ({correct} of {total} test images correct).",
                       {"accuracy": f"{ev['accuracy']:.2%}", "correct": ev["correct"],
                        "total": ev["total"]}),
                   # A model that learned nothing is flagged where its accuracy is read.
                   *degenerate_warnings({**ev, "classes": ctx.classes}),
                   # A class the split left without test (or validation) images is named, with
                   # its images per split (validate warns about it too).
                   *(shortage_msgs(ctx.classes, {s: getattr(ctx.data, s).y for s in SPLITS})
                     if ctx.train is not None else [])],
        )
