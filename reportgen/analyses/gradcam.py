"""Grad-CAM and Grad-CAM++ on one test image per class, with the model-randomisation check.

References:
    Selvaraju et al. 2017, "Grad-CAM", https://arxiv.org/abs/1610.02391
    Chattopadhay et al. 2018, "Grad-CAM++", https://arxiv.org/abs/1710.11063
    Adebayo et al. 2018, "Sanity Checks for Saliency Maps", https://arxiv.org/abs/1810.03292
"""

from __future__ import annotations

from pydantic import Field

from reportgen import figures
from reportgen.analyses._attribution import AttributionOptions
from reportgen.analyses._examples import caption, chosen_examples
from reportgen.analyses._figure_parts import grid_figures, parts_metrics
from reportgen.analyses._probe import probe_for
from reportgen.analyses._sanity import add_randomization_check
from reportgen.analyses.base import Analysis, AnalysisContext, AnalysisResult, Msg, Params
from reportgen.analyses.registry import register
from reportgen.figures import Panel


class GradcamParams(Params):
    layer: str | None = None
    """Target layer name; default: the last convolutional layer with a spatial map."""
    examples: int = Field(10, ge=1, le=30)
    sanity_check: bool = True
    """Compare with Grad-CAM of the same network with re-initialised weights."""


@register
class Gradcam(Analysis):
    """Class-activation heat maps of the predicted class over the input."""

    name = "gradcam"
    title = Msg("Grad-CAM and Grad-CAM++")
    Params = GradcamParams

    def run(self, ctx: AnalysisContext, params: GradcamParams) -> AnalysisResult:
        from reportgen.explain import gradcam

        indices, targets, x = chosen_examples(ctx, params.examples)
        probe = probe_for(ctx, params.layer)
        cam = gradcam(probe, x, targets)
        cam_pp = gradcam(probe, x, targets, plus=True)
        columns = [[Panel(ctx.images[i], title=caption(ctx, i, c)), Panel(ctx.images[i], cam[k]),
                    Panel(ctx.images[i], cam_pp[k])] for k, (i, c) in enumerate(zip(indices, targets))]
        parts = figures.example_grid_parts(columns, [ctx.label("Input"), "Grad-CAM", "Grad-CAM++"],
                                           ctx.figure_path("gradcam"))
        layer = "/".join(probe.layer_path)
        metrics: dict = {"layer": layer, "examples": [{"index": int(i), "class": ctx.classes[c]}
                                                      for i, c in zip(indices, targets)],
                         "figure_rows": parts_metrics(parts)}
        notes = [Msg("Target layer: {layer}.", {"layer": layer})]
        if params.sanity_check:
            add_randomization_check(ctx, "gradcam", x, targets, cam, AttributionOptions(layer=params.layer),
                                    metrics, notes)
        return AnalysisResult(
            metrics=metrics, notes=notes,
            figures=grid_figures(parts, Msg("Grad-CAM and Grad-CAM++ of the predicted class ({experiment}, "
                                      "images shown: {count}); red marks the regions that raise the "
                                      "class score.",
                                      {"count": len(indices), "experiment": ctx.experiment})),
        )
