"""Grad-CAM and Grad-CAM++ on one test image per class, with the model-randomisation check.

References:
    Selvaraju et al. 2017, "Grad-CAM", https://arxiv.org/abs/1610.02391
    Chattopadhay et al. 2018, "Grad-CAM++", https://arxiv.org/abs/1710.11063
    Adebayo et al. 2018, "Sanity Checks for Saliency Maps", https://arxiv.org/abs/1810.03292
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from reportgen import figures
from reportgen.analyses._examples import caption, chosen_examples
from reportgen.analyses._figure_parts import grid_figures, parts_metrics
from reportgen.analyses.base import Analysis, AnalysisContext, AnalysisResult, Msg
from reportgen.analyses.registry import register
from reportgen.figures import Panel


class GradcamParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    layer: str | None = None
    """Target layer name; default: the last convolutional layer with a spatial map."""
    examples: int = Field(10, ge=1, le=30)
    sanity_check: bool = True
    """Compare with Grad-CAM of the same network with re-initialised weights."""


def probe_for(ctx: AnalysisContext, layer: str | None):
    """The (activations, logits) probe of ``layer``, built once per experiment and layer."""
    from reportgen.explain import build_probe

    return ctx.shared(f"probe:{layer}", lambda: build_probe(ctx.model, layer))


def sanity_correlation(ctx: AnalysisContext, probe, x: np.ndarray, targets: np.ndarray,
                       maps: np.ndarray) -> float:
    """Mean Spearman correlation between Grad-CAM of the trained and a re-initialised model."""
    from reportgen.explain import build_probe, gradcam, randomized_copy, rank_correlation

    random_model = randomized_copy(ctx.model, ctx.seed)
    random_probe = build_probe(random_model, probe.layer_path[-1])
    random_maps = gradcam(random_probe, x, targets)
    return float(np.mean([rank_correlation(a, b) for a, b in zip(maps, random_maps)]))


def sanity_note(rho: float) -> Msg:
    """The one-line report of the model-randomisation check."""
    return Msg("Sanity check (Adebayo et al., 2018): with all weights re-initialised, "
               "Grad-CAM maps have a mean Spearman rank correlation of {rho} with the "
               "trained model's maps; a value near 1 would mean the maps do not depend "
               "on what the model learned.", {"rho": f"{rho:.2f}"})


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
            rho = sanity_correlation(ctx, probe, x, targets, cam)
            metrics["randomization_rank_correlation"] = rho
            notes.append(sanity_note(rho))
        return AnalysisResult(
            metrics=metrics, notes=notes,
            figures=grid_figures(parts, Msg("Grad-CAM and Grad-CAM++ of the predicted class ({experiment}, "
                                      "images shown: {count}); red marks the regions that raise the "
                                      "class score.",
                                      {"count": len(indices), "experiment": ctx.experiment})),
        )
