"""What one layer's filters respond to (gradient ascent) and what they output on an image.

References:
    Erhan et al. 2009, "Visualizing Higher-Layer Features of a Deep Network".
    Olah et al. 2017, "Feature Visualization", https://distill.pub/2017/feature-visualization/
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field

from reportgen import figures
from reportgen.analyses._figure_parts import with_pixels
from reportgen.analyses.base import Analysis, AnalysisContext, AnalysisResult, Figure, Msg, Params
from reportgen.analyses.registry import register
from reportgen.figures import Panel


class FiltersParams(Params):
    layer: str | None = None
    """Layer to visualise; default: the Grad-CAM target layer (last convolution)."""
    filters: int = Field(16, ge=1, le=64)
    """How many filters (the first N of the layer)."""
    steps: int = Field(64, ge=1, le=1000)
    """Gradient-ascent steps."""
    image_index: int = Field(0, ge=0)
    """Test image whose feature maps are shown."""


def _square(panels: list[Panel]) -> list[list[Panel]]:
    columns = math.ceil(math.sqrt(len(panels)))
    return [panels[i:i + columns] for i in range(0, len(panels), columns)]


@register
class Filters(Analysis):
    """Filter visualisation by gradient ascent, plus the layer's feature maps for one input."""

    name = "filters"
    title = Msg("Filter visualisation and feature maps")
    Params = FiltersParams

    def run(self, ctx: AnalysisContext, params: FiltersParams) -> AnalysisResult:
        from reportgen.explain import feature_maps, filter_visualization, find_target_layer

        layer = params.layer or find_target_layer(ctx.model)[-1]
        maps = feature_maps(ctx.model, layer,
                            ctx.preprocess(ctx.images[params.image_index:params.image_index + 1]))
        count = min(params.filters, maps.shape[-1])
        # The ascent stays inside what preprocessing can produce from pixels 0…255.
        channels = ctx.images.shape[-1]
        low, high = (float(ctx.preprocess(np.full((1, 1, 1, channels), v, np.float32)).mean())
                     for v in (0.0, 255.0))
        patterns = filter_visualization(ctx.model, layer, list(range(count)), steps=params.steps,
                                        seed=ctx.seed, value_range=(min(low, high), max(low, high)))
        patterns_part = figures.image_grid(
            _square([Panel(p, title=f"#{i}") for i, p in enumerate(patterns)]),
            ctx.figure_path("filters"), cell_inches=1.1)
        feature_panels = [Panel(ctx.images[params.image_index], title=ctx.label("Input"))]
        feature_panels += [Panel(None, maps[..., i], "map", title=f"#{i}") for i in range(count)]
        maps_part = figures.image_grid(_square(feature_panels), ctx.figure_path("feature_maps"),
                                       cell_inches=1.1)
        return AnalysisResult(
            metrics={"layer": layer, "filters": count, "steps": params.steps,
                     "feature_map_shape": list(maps.shape),
                     "mean_activation": [float(np.mean(maps[..., i])) for i in range(count)]},
            figures=[
                Figure(patterns_part.path, with_pixels(Msg(
                    "Input patterns that maximise the mean activation of the first {count} filters of "
                    "layer {layer} ({steps} gradient-ascent steps, all filters optimised as one batch).",
                    {"count": count, "layer": layer, "steps": params.steps}), [patterns_part])),
                Figure(maps_part.path, with_pixels(Msg(
                    "Feature maps (filter outputs) of layer {layer} for one test image (top left); "
                    "brighter means stronger activation.", {"layer": layer}), [maps_part])),
            ],
        )
