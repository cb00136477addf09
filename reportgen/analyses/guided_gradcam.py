"""Guided Backprop and Guided Grad-CAM on one test image per class, with the list of the ReLUs
that are guided and the model-randomisation check.

References:
    Springenberg et al. 2015, "Striving for Simplicity: The All Convolutional Net",
    https://arxiv.org/abs/1412.6806
    Selvaraju et al. 2017, "Grad-CAM", https://arxiv.org/abs/1610.02391
    Adebayo et al. 2018, "Sanity Checks for Saliency Maps", https://arxiv.org/abs/1810.03292
"""

from __future__ import annotations

import numpy as np
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
from reportgen.i18n import plural_msg


class GuidedGradcamParams(Params):
    layer: str | None = None
    """Grad-CAM target layer; default: the last convolutional layer with a spatial map."""
    examples: int = Field(10, ge=1, le=30)
    sanity_check: bool = True
    """Compare with Guided Grad-CAM of the same network with re-initialised weights."""


def guided_backprop_maps(ctx: AnalysisContext, x: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """``(N, H, W)`` in [0, 1]: |Guided Backprop| at its largest over the channels, each map
    divided by its max (the usual way to show the signed per-channel gradients as one map)."""
    from reportgen.explain import guided_backprop

    magnitude = np.abs(guided_backprop(ctx.model, x, targets)).max(axis=-1)
    peak = magnitude.max(axis=(1, 2), keepdims=True)
    return np.divide(magnitude, peak, out=np.zeros_like(magnitude), where=peak > 0)


@register
class GuidedGradcam(Analysis):
    """Guided Backprop (fine detail, not class-specific) times Grad-CAM (where the class is)."""

    name = "guided_gradcam"
    title = Msg("Guided Backprop and Guided Grad-CAM")
    Params = GuidedGradcamParams

    def run(self, ctx: AnalysisContext, params: GuidedGradcamParams) -> AnalysisResult:
        from reportgen.explain import guided_coverage

        options = AttributionOptions(layer=params.layer)
        indices, targets, x = chosen_examples(ctx, params.examples)
        maps = attribution(ctx, "guided_gradcam", x, targets, options)
        guided = guided_backprop_maps(ctx, x, targets)
        columns = [[Panel(ctx.images[i], title=caption(ctx, i, c)), Panel(None, guided[k], "map"),
                    Panel(None, maps[k], "map")] for k, (i, c) in enumerate(zip(indices, targets))]
        parts = figures.example_grid_parts(columns, [ctx.label("Input"), "Guided Backprop",
                                                     "Guided Grad-CAM"], ctx.figure_path(self.name))
        layer = "/".join(probe_for(ctx, params.layer).layer_path)  # the probe attribution() used
        coverage = guided_coverage(ctx.model)
        metrics: dict = {"layer": layer, "examples": [{"index": int(i), "class": ctx.classes[c]}
                                                      for i, c in zip(indices, targets)],
                         "figure_rows": parts_metrics(parts),
                         "guided_relus": list(coverage.guided),
                         "not_guided": list(coverage.left_as_is)}
        notes = [Msg("Target layer: {layer}.", {"layer": layer})]
        if coverage.left_as_is:
            notes.append(plural_msg(
                "Guided Backprop guides {count} ReLU of the model; these other nonlinearities "
                "pass their ordinary gradient back, so the maps are only partly guided: {layers}.",
                "Guided Backprop guides {count} ReLUs of the model; these other nonlinearities "
                "pass their ordinary gradient back, so the maps are only partly guided: {layers}.",
                {"count": len(coverage.guided), "layers": ", ".join(coverage.left_as_is)}))
        if params.sanity_check:
            add_randomization_check(ctx, self.name, x, targets, maps, options, metrics, notes)
        return AnalysisResult(
            metrics=metrics, notes=notes,
            figures=grid_figures(parts, Msg(
                "Guided Backprop and Guided Grad-CAM of the predicted class ({experiment}, images "
                "shown: {count}; Grad-CAM target layer {layer}). Guided Backprop: the largest "
                "gradient magnitude over the colour channels, with negative gradients stopped at "
                "every ReLU; Guided Grad-CAM: that gradient times Grad-CAM, keeping the evidence "
                "for the class. Brighter pixels weigh more.",
                {"count": len(indices), "experiment": ctx.experiment, "layer": layer})),
        )
