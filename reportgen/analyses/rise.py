"""RISE on one test image per class, with the model-randomisation check.

References:
    Petsiuk et al. 2018, "RISE: Randomized Input Sampling for Explanation of Black-box Models",
    https://arxiv.org/abs/1806.07421
    Adebayo et al. 2018, "Sanity Checks for Saliency Maps", https://arxiv.org/abs/1810.03292
"""

from __future__ import annotations

from pydantic import Field

from reportgen import figures
from reportgen.analyses._attribution import AttributionOptions, attribution
from reportgen.analyses._examples import caption, chosen_examples
from reportgen.analyses._figure_parts import grid_figures, parts_metrics
from reportgen.analyses._sanity import add_randomization_check
from reportgen.analyses.base import Analysis, AnalysisContext, AnalysisResult, Msg, Params
from reportgen.analyses.registry import register
from reportgen.figures import Panel


class RiseParams(Params):
    masks: int = Field(1000, ge=50, le=8000)
    """Random masks shared by all images (the paper uses 4000–8000 on 224 px ImageNet images)."""
    examples: int = Field(10, ge=1, le=30)
    sanity_check: bool = True
    """Compare with RISE of the same network with re-initialised weights."""


@register
class Rise(Analysis):
    """How the class probability follows each pixel over randomly masked copies of the input."""

    name = "rise"
    title = Msg("RISE")
    Params = RiseParams

    def run(self, ctx: AnalysisContext, params: RiseParams) -> AnalysisResult:
        options = AttributionOptions(rise_masks=params.masks)
        indices, targets, x = chosen_examples(ctx, params.examples)
        maps = attribution(ctx, self.name, x, targets, options)
        columns = [[Panel(ctx.images[i], title=caption(ctx, i, c)),
                    Panel(ctx.images[i], maps[k], "signed")]
                   for k, (i, c) in enumerate(zip(indices, targets))]
        parts = figures.example_grid_parts(columns, [ctx.label("Input"), "RISE"],
                                           ctx.figure_path(self.name))
        metrics: dict = {"masks": params.masks,
                         "examples": [{"index": int(i), "class": ctx.classes[c]}
                                      for i, c in zip(indices, targets)],
                         "figure_rows": parts_metrics(parts)}
        notes: list[Msg] = []
        if params.sanity_check:
            add_randomization_check(ctx, self.name, x, targets, maps, options, metrics, notes)
        return AnalysisResult(
            metrics=metrics, notes=notes,
            figures=grid_figures(parts, Msg(
                "RISE of the predicted class ({experiment}, images shown: {count}): the image is "
                "predicted under {masks} random smooth masks; red marks pixels whose presence goes "
                "with a higher class probability, blue with a lower one.",
                {"count": len(indices), "experiment": ctx.experiment, "masks": params.masks})),
        )
