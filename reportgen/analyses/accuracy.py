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
        interval = (ev.get("intervals") or {}).get("accuracy")
        return AnalysisResult(
            metrics={"accuracy": ev["accuracy"], "correct": ev["correct"], "total": ev["total"],
                     "accuracy_interval": interval,
                     "confidence": ev["intervals"]["confidence"] if interval else None,
                     "accuracy_method": ev["intervals"]["accuracy_method"] if interval else None,
                     "degenerate": ev["degenerate"]},
            notes=[_accuracy_note(ev, interval),
                   # A model that learned nothing is flagged where its accuracy is read.
                   *degenerate_warnings({**ev, "classes": ctx.classes}),
                   # A class the split left without test (or validation) images is named, with
                   # its images per split (validate warns about it too).
                   *(shortage_msgs(ctx.classes, {s: getattr(ctx.data, s).y for s in SPLITS})
                     if ctx.train is not None else [])],
        )


def _accuracy_note(ev: dict, interval: list[float] | None) -> Msg:
    """The accuracy with its count of correct images and, when the evaluation has it, its
    Wilson interval (an evaluation made before intervals existed has none)."""
    params = {"accuracy": f"{ev['accuracy']:.2%}", "correct": ev["correct"], "total": ev["total"]}
    if interval is None:
        return Msg("Test accuracy: {accuracy} ({correct} of {total} test images correct).", params)
    return Msg("Test accuracy: {accuracy} ({correct} of {total} test images correct; {confidence} CI "
               "{low}–{high}, Wilson).",
               {**params, "confidence": f"{ev['intervals']['confidence']:.0%}",
                "low": f"{interval[0] * 100:.2f}", "high": f"{interval[1]:.2%}"})
