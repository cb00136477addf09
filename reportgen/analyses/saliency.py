"""Saliency maps: vanilla gradient and SmoothGrad.

References:
    Simonyan et al. 2014, "Deep Inside Convolutional Networks", https://arxiv.org/abs/1312.6034
    Smilkov et al. 2017, "SmoothGrad: removing noise by adding noise", https://arxiv.org/abs/1706.03825
"""

from __future__ import annotations

from pydantic import Field

from reportgen import figures
from reportgen.analyses._examples import caption, chosen_examples
from reportgen.analyses._figure_parts import grid_figures, parts_metrics
from reportgen.analyses.base import Analysis, AnalysisContext, AnalysisResult, Msg, Params
from reportgen.analyses.registry import register
from reportgen.figures import Panel


class SaliencyParams(Params):
    examples: int = Field(10, ge=1, le=30)
    """How many test images (one per class on labelled data)."""
    smoothgrad_samples: int = Field(25, ge=1, le=200)
    noise_level: float = Field(0.15, gt=0, le=1)
    """SmoothGrad noise σ as a share of each image's value range."""


@register
class Saliency(Analysis):
    """|∂ score / ∂ input| for the predicted class, plain and averaged over noisy copies."""

    name = "saliency"
    title = Msg("Saliency maps")
    Params = SaliencyParams

    def run(self, ctx: AnalysisContext, params: SaliencyParams) -> AnalysisResult:
        from reportgen.explain import logits_model, saliency

        indices, targets, x = chosen_examples(ctx, params.examples)
        scores = ctx.shared("logits_model", lambda: logits_model(ctx.model))
        vanilla = saliency(scores, x, targets)
        smooth = saliency(scores, x, targets, samples=params.smoothgrad_samples,
                          noise_level=params.noise_level, seed=ctx.seed)
        columns = [[Panel(ctx.images[i], title=caption(ctx, i, c)),
                    Panel(None, vanilla[k], "map"), Panel(None, smooth[k], "map")]
                   for k, (i, c) in enumerate(zip(indices, targets))]
        parts = figures.example_grid_parts(
            columns, [ctx.label("Input"), ctx.label("Vanilla gradient"), ctx.label("SmoothGrad")],
            ctx.figure_path("saliency"))
        return AnalysisResult(
            metrics={"examples": [{"index": int(i), "class": ctx.classes[c]}
                                  for i, c in zip(indices, targets)],
                     "smoothgrad_samples": params.smoothgrad_samples, "noise_level": params.noise_level,
                     "figure_rows": parts_metrics(parts)},
            figures=grid_figures(parts, Msg("Saliency of the predicted class ({experiment}, images shown: "
                                      "{count}): the input, its vanilla gradient and SmoothGrad with "
                                      "{samples} noisy copies. Brighter pixels change the class score "
                                      "most.",
                                      {"count": len(indices), "experiment": ctx.experiment,
                                       "samples": params.smoothgrad_samples})),
        )
