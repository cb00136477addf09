"""Score-CAM on one test image per class, with the model-randomisation check.

References:
    Wang et al. 2020, "Score-CAM: Score-Weighted Visual Explanations for Convolutional Neural
    Networks", https://arxiv.org/abs/1910.01279
    Adebayo et al. 2018, "Sanity Checks for Saliency Maps", https://arxiv.org/abs/1810.03292
"""

from __future__ import annotations

from pydantic import Field

from reportgen import figures
from reportgen.analyses._attribution import AttributionOptions, attribution
from reportgen.analyses._examples import caption, chosen_examples
from reportgen.analyses._figure_parts import grid_figures, parts_metrics
from reportgen.analyses._probe import probe_for
from reportgen.analyses._sanity import add_randomization_check
from reportgen.analyses.base import Analysis, AnalysisContext, AnalysisResult, Msg, Params
from reportgen.analyses.registry import register
from reportgen.figures import Panel


class ScorecamParams(Params):
    layer: str | None = None
    """Target layer name; default: the last convolutional layer with a spatial map."""
    examples: int = Field(10, ge=1, le=30)
    sanity_check: bool = True
    """Compare with Score-CAM of the same network with re-initialised weights."""


@register
class Scorecam(Analysis):
    """Channels of the target layer used as masks, weighted by the class probability they keep."""

    name = "scorecam"
    title = Msg("Score-CAM")
    Params = ScorecamParams

    def run(self, ctx: AnalysisContext, params: ScorecamParams) -> AnalysisResult:
        options = AttributionOptions(layer=params.layer)
        indices, targets, x = chosen_examples(ctx, params.examples)
        maps = attribution(ctx, "scorecam", x, targets, options)
        columns = [[Panel(ctx.images[i], title=caption(ctx, i, c)), Panel(ctx.images[i], maps[k])]
                   for k, (i, c) in enumerate(zip(indices, targets))]
        parts = figures.example_grid_parts(columns, [ctx.label("Input"), "Score-CAM"],
                                           ctx.figure_path(self.name))
        layer = "/".join(probe_for(ctx, params.layer).layer_path)  # the probe attribution() used
        metrics: dict = {"layer": layer, "examples": [{"index": int(i), "class": ctx.classes[c]}
                                                      for i, c in zip(indices, targets)],
                         "figure_rows": parts_metrics(parts)}
        notes = [Msg("Target layer: {layer}.", {"layer": layer})]
        if params.sanity_check:
            add_randomization_check(ctx, self.name, x, targets, maps, options, metrics, notes)
        return AnalysisResult(
            metrics=metrics, notes=notes,
            figures=grid_figures(parts, Msg(
                "Score-CAM of the predicted class ({experiment}, images shown: {count}; target "
                "layer {layer}): each channel of the layer masks the input and is weighted by the "
                "class probability the masked input keeps; red marks the regions that keep the "
                "class probability high, blue the regions that do not.",
                {"count": len(indices), "experiment": ctx.experiment, "layer": layer})),
        )
