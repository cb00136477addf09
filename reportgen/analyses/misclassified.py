"""Misclassified examples from the most-confused class pairs, each with Grad-CAM."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from reportgen import figures
from reportgen.analyses._figure_parts import grid_figures, parts_metrics
from reportgen.analyses._probe import probe_for
from reportgen.analyses.base import Analysis, AnalysisContext, AnalysisResult, Msg, Params
from reportgen.analyses.registry import register
from reportgen.figures import Panel


class MisclassifiedParams(Params):
    pairs: int = Field(3, ge=1, le=10)
    """How many of the most-confused (true, predicted) pairs."""
    per_pair: int = Field(3, ge=1, le=8)
    """Examples per pair, most confident mistakes first."""
    layer: str | None = None


@register
class Misclassified(Analysis):
    """Where the model looked when it confused one class for another."""

    name = "misclassified"
    title = Msg("Misclassified examples with Grad-CAM")
    Params = MisclassifiedParams
    needs_labels = True

    def run(self, ctx: AnalysisContext, params: MisclassifiedParams) -> AnalysisResult:
        from reportgen.explain import gradcam

        names = ctx.classes
        rows, examples = [], []
        for pair in ctx.evaluation["most_confused"][: params.pairs]:
            t, p = names.index(pair["true"]), names.index(pair["predicted"])
            wrong = np.flatnonzero((ctx.y_true == t) & (ctx.y_pred == p))
            wrong = wrong[np.argsort(-ctx.test_probabilities[wrong, p], kind="stable")][: params.per_pair]
            rows.append(wrong)
            examples += [{"index": int(i), "true": names[t], "predicted": names[p],
                          "probability": float(ctx.test_probabilities[i, p])} for i in wrong]
        if not examples:
            return AnalysisResult(notes=[Msg("No misclassified test images.")])
        flat = np.concatenate(rows)
        cam = gradcam(probe_for(ctx, params.layer), ctx.preprocess(ctx.images[flat]), ctx.y_pred[flat])
        grid, k = [], 0
        for wrong in rows:
            row = []
            for i in wrong:
                title = (f"{names[ctx.y_true[i]]} → {names[ctx.y_pred[i]]} "
                         f"({ctx.test_probabilities[i, ctx.y_pred[i]]:.2f})")
                row += [Panel(ctx.images[i], title=title), Panel(ctx.images[i], cam[k], title="Grad-CAM")]
                k += 1
            grid.append(row)
        parts = figures.grid_parts(grid, ctx.figure_path("misclassified"))
        return AnalysisResult(
            metrics={"examples": examples, "figure_rows": parts_metrics(parts)},
            figures=grid_figures(parts, Msg("Misclassified test images of {experiment} from the "
                                            "most-confused pairs, one pair per row: each image is titled "
                                            "true class → predicted class (probability), followed by the "
                                            "Grad-CAM of the predicted class.",
                                            {"experiment": ctx.experiment})),
        )
