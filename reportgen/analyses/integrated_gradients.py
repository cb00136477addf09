"""Integrated Gradients on one test image per class, with the completeness check and the
model-randomisation check.

References:
    Sundararajan et al. 2017, "Axiomatic Attribution for Deep Networks",
    https://arxiv.org/abs/1703.01365
    Sturmfels et al. 2020, "Visualizing the Impact of Feature Attribution Baselines",
    https://distill.pub/2020/attribution-baselines/
    Adebayo et al. 2018, "Sanity Checks for Saliency Maps", https://arxiv.org/abs/1810.03292
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from reportgen import figures
from reportgen.analyses._attribution import AttributionOptions
from reportgen.analyses._examples import caption, chosen_examples
from reportgen.analyses._figure_parts import grid_figures, parts_metrics
from reportgen.analyses._sanity import add_randomization_check
from reportgen.analyses.base import Analysis, AnalysisContext, AnalysisResult, Msg, Params
from reportgen.analyses.registry import register
from reportgen.figures import Panel

BASELINE_NAMES = {"black": Msg("a black image"), "blurred": Msg("a blurred copy of the image"),
                  "noise": Msg("uniform noise")}


class IntegratedGradientsParams(Params):
    steps: int = Field(32, ge=4, le=512)
    """Gradient evaluations along the path from the baseline to the image."""
    baseline: Literal["black", "blurred", "noise"] = "black"
    """Where the path starts: a black image, a blurred copy or uniform noise."""
    examples: int = Field(10, ge=1, le=30)
    sanity_check: bool = True
    """Compare with Integrated Gradients of the same network with re-initialised weights."""


def completeness_gaps(ctx: AnalysisContext, x: np.ndarray, targets: np.ndarray,
                      attributions: np.ndarray, options: AttributionOptions) -> np.ndarray:
    """|Σ attributions − (f(x) − f(baseline))| / |f(x) − f(baseline)| per image, f the target
    logit (Sundararajan et al.'s completeness axiom; the gap is the quadrature error). Images
    whose score does not change along the path (|Δf| < 1e-6) are left out."""
    from reportgen.explain import ig_baseline, logits_model, make_predict_fn

    scores = ctx.shared("logits_predict_fn", lambda: make_predict_fn(
        ctx.shared("logits_model", lambda: logits_model(ctx.model)), ctx.batch_size))
    base = ig_baseline(x, options.ig_baseline, ctx.preprocess, ctx.seed)
    rows = np.arange(len(x))
    change = (scores(x)[rows, targets] - scores(base)[rows, targets]).astype(np.float64)
    total = attributions.reshape(len(x), -1).sum(axis=1, dtype=np.float64)
    moved = np.abs(change) >= 1e-6
    return np.abs(total - change)[moved] / np.abs(change[moved])


@register
class IntegratedGradients(Analysis):
    """Gradients averaged along a straight path from a baseline to the image, times the change."""

    name = "integrated_gradients"
    title = Msg("Integrated Gradients")
    Params = IntegratedGradientsParams

    def run(self, ctx: AnalysisContext, params: IntegratedGradientsParams) -> AnalysisResult:
        from reportgen.explain import integrated_gradients

        options = AttributionOptions(ig_steps=params.steps, ig_baseline=params.baseline)
        indices, targets, x = chosen_examples(ctx, params.examples)
        # The call attribution(ctx, "integrated_gradients", …) makes, kept whole: the figure
        # needs the maps and the completeness check the attributions.
        attributions, maps = integrated_gradients(ctx.model, x, targets, baseline=options.ig_baseline,
                                                  steps=options.ig_steps, seed=ctx.seed,
                                                  preprocess=ctx.preprocess)
        columns = [[Panel(ctx.images[i], title=caption(ctx, i, c)),
                    Panel(ctx.images[i], maps[k], "signed")]
                   for k, (i, c) in enumerate(zip(indices, targets))]
        parts = figures.example_grid_parts(columns, [ctx.label("Input"), "Integrated Gradients"],
                                           ctx.figure_path(self.name))
        metrics: dict = {"steps": params.steps, "baseline": params.baseline,
                         "examples": [{"index": int(i), "class": ctx.classes[c]}
                                      for i, c in zip(indices, targets)],
                         "figure_rows": parts_metrics(parts)}
        notes: list[Msg] = []
        gaps = completeness_gaps(ctx, x, targets, attributions, options)
        if len(gaps):
            metrics["completeness_gap"] = float(gaps.mean())
            notes.append(Msg("Completeness: the attributions of an image add up to the change of "
                             "its class score (logit) from the baseline to the image, up to a mean "
                             "relative gap of {gap} with {steps} steps; more steps shrink it.",
                             {"gap": f"{gaps.mean():.1%}", "steps": params.steps}))
        if params.sanity_check:
            add_randomization_check(ctx, self.name, x, targets, maps, options, metrics, notes)
        return AnalysisResult(
            metrics=metrics, notes=notes,
            figures=grid_figures(parts, Msg(
                "Integrated Gradients of the predicted class ({experiment}, images shown: {count}): "
                "gradients averaged over {steps} steps on the straight path from {baseline} to the "
                "image, times the change of each pixel; red marks pixels that raise the class "
                "score (logit), blue pixels that lower it.",
                {"count": len(indices), "experiment": ctx.experiment, "steps": params.steps,
                 "baseline": BASELINE_NAMES[params.baseline]})),
        )
