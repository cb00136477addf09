"""Occlusion sensitivity: how much the class probability drops when a patch is hidden.

Reference:
    Zeiler & Fergus 2014, "Visualizing and Understanding Convolutional Networks",
    https://arxiv.org/abs/1311.2901
"""

from __future__ import annotations

from pydantic import Field

from reportgen import figures
from reportgen.analyses._attribution import fill_value, occlusion_patch
from reportgen.analyses._examples import caption, one_per_class, target_classes
from reportgen.analyses._figure_parts import grid_figures, parts_metrics
from reportgen.analyses.base import Analysis, AnalysisContext, AnalysisResult, Msg, Params
from reportgen.analyses.registry import register
from reportgen.figures import Panel


class OcclusionParams(Params):
    patch: int | None = Field(None, ge=1)
    """Patch side in pixels of the model input; default: 3 for inputs up to 48 px, else size/16."""
    stride: int | None = Field(None, ge=1)
    """Step between patch positions; default: the patch size."""
    fill: float = Field(0.0, ge=0, le=255)
    """Pixel value (0–255) that hides the patch."""
    examples: int = Field(6, ge=1, le=30)


@register
class Occlusion(Analysis):
    """Drop in the true-class probability (predicted class on unlabelled data) per patch."""

    name = "occlusion"
    title = Msg("Occlusion sensitivity")
    Params = OcclusionParams

    def run(self, ctx: AnalysisContext, params: OcclusionParams) -> AnalysisResult:
        from reportgen.explain import occlusion

        height, width = ctx.images.shape[1:3]
        patch = occlusion_patch(height, width, params.patch)
        stride = params.stride or patch
        indices = one_per_class(ctx, params.examples)
        targets = target_classes(ctx, indices, use_truth=True)
        fill = fill_value(ctx, params.fill)
        maps = occlusion(ctx.predict_fn(), ctx.preprocess(ctx.images[indices]), targets, patch=patch,
                         stride=stride, fill=fill)
        columns = [[Panel(ctx.images[i], title=caption(ctx, i, c)),
                    Panel(ctx.images[i], maps[k], "signed", title=f"max {maps[k].max():+.2f}")]
                   for k, (i, c) in enumerate(zip(indices, targets))]
        parts = figures.example_grid_parts(columns, [ctx.label("Input"), ctx.label("Probability drop")],
                                           ctx.figure_path("occlusion"))
        return AnalysisResult(
            metrics={"patch": patch, "stride": stride, "fill": params.fill,
                     "max_drop": [float(m.max()) for m in maps],
                     "examples": [{"index": int(i), "class": ctx.classes[c]}
                                  for i, c in zip(indices, targets)],
                     "figure_rows": parts_metrics(parts)},
            figures=grid_figures(parts, Msg("Occlusion sensitivity for {experiment}: a {patch}×{patch} patch "
                                      "(stride {stride}) is hidden at every position; red marks where "
                                      "hiding it lowers the class probability, blue where it raises it.",
                                      {"experiment": ctx.experiment, "patch": patch, "stride": stride})),
        )
