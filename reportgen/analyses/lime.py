"""LIME: which superpixels push each class up (green) or down (red).

Reference:
    Ribeiro et al. 2016, "Why Should I Trust You?", https://arxiv.org/abs/1602.04938
"""

from __future__ import annotations

import time

import numpy as np
from pydantic import Field

from reportgen import figures
from reportgen.analyses._examples import face_of, image_name, one_per_class
from reportgen.analyses._figure_parts import grid_figures, parts_metrics
from reportgen.analyses.base import Analysis, AnalysisContext, AnalysisResult, Msg, Params
from reportgen.analyses.registry import register
from reportgen.figures import Panel

COLUMNS = 4


class LimeParams(Params):
    examples: int = Field(2, ge=1, le=10)
    num_samples: int = Field(1000, ge=50, le=20000)
    """Perturbed copies per image (all predicted in large batches)."""
    num_features: int = Field(5, ge=1, le=30)
    """Superpixels marked per class."""
    max_classes: int = Field(10, ge=1, le=20)
    """Explain at most this many classes per image, most probable first."""


@register
class Lime(Analysis):
    """One LIME explanation per class for each chosen image."""

    name = "lime"
    title = Msg("LIME explanations per class")
    Params = LimeParams

    def run(self, ctx: AnalysisContext, params: LimeParams) -> AnalysisResult:
        from reportgen.explain.lime_explain import explain_lime

        predict = ctx.predict_fn()

        def predict_pixels(batch: np.ndarray) -> np.ndarray:
            return predict(ctx.preprocess(batch))

        grid, groups, records, seconds = [], [], [], []
        for i in one_per_class(ctx, params.examples):
            order = np.argsort(-ctx.test_probabilities[i], kind="stable")[: params.max_classes]
            start = time.perf_counter()
            result = explain_lime(ctx.images[i], predict_pixels, labels=[int(c) for c in order],
                                  num_samples=params.num_samples, num_features=params.num_features,
                                  seed=ctx.seed)
            seconds.append(time.perf_counter() - start)
            if face_of(ctx, i):
                first = image_name(ctx, i)
            elif ctx.labelled:  # what the row explains: e.g. one face per expression
                first = ctx.label("True: {cls}", cls=ctx.classes[ctx.y_true[i]])
            else:
                first = ctx.label("Input")
            row = [Panel(ctx.images[i], title=first, segments=result.segments)]
            row += [Panel(ctx.images[i], result.masks[int(c)], "mask",
                          title=f"{ctx.classes[c]} {ctx.test_probabilities[i, c]:.2f}") for c in order]
            # At most COLUMNS panels a row: 8 (input + 7 classes) in one row are unreadably small.
            grid += [row[k:k + COLUMNS] for k in range(0, len(row), COLUMNS)]
            groups.append(-(-len(row) // COLUMNS))  # an image's rows stay on one page when they fit
            records.append({"index": int(i), "segments": int(result.num_segments),
                            "classes": {ctx.classes[c]: {"top": [[int(s), float(w)] for s, w in
                                                                 result.weights[int(c)][:params.num_features]],
                                                         "r2": float(result.score[int(c)])}
                                        for c in order}})
        parts = figures.grid_parts(grid, ctx.figure_path("lime"), groups=groups)
        return AnalysisResult(
            metrics={"examples": records, "num_samples": params.num_samples,
                     "seconds_per_image": float(np.mean(seconds)), "figure_rows": parts_metrics(parts)},
            notes=[Msg("{samples} perturbed samples per image, about {segments} superpixels each; "
                       "{seconds} s per image.",
                       {"samples": params.num_samples,
                        "segments": int(np.mean([r["segments"] for r in records])),
                        "seconds": f"{np.mean(seconds):.2f}"})],
            figures=grid_figures(parts, Msg("LIME for {experiment}: for each image, the first panel shows "
                                            "the superpixels, then one explanation per class (probability "
                                            "in the title): green superpixels raise that class, red ones "
                                            "lower it.", {"experiment": ctx.experiment})),
        )
