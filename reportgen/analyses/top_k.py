"""Top-k predictions of each image, with a Grad-CAM for each of the k classes."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from reportgen import figures
from reportgen.analyses._attribution import AttributionOptions
from reportgen.analyses._examples import face_of, image_name, one_per_class
from reportgen.analyses._figure_parts import grid_figures, parts_metrics
from reportgen.analyses._probe import probe_for
from reportgen.analyses._sanity import add_randomization_check
from reportgen.analyses.base import Analysis, AnalysisContext, AnalysisResult, Msg, Params
from reportgen.analyses.registry import register
from reportgen.figures import Panel


class TopKParams(Params):
    k: int = Field(3, ge=1, le=10)
    max_images: int = Field(8, ge=1, le=40)
    layer: str | None = None
    sanity_check: bool = True
    """Compare the rank-1 Grad-CAMs with those of the network with re-initialised weights."""


@register
class TopK(Analysis):
    """Rank 1…k classes with probabilities; each rank has its own class-specific heat map."""

    name = "top_k"
    title = Msg("Top-k predictions with Grad-CAM per class")
    Params = TopKParams

    def run(self, ctx: AnalysisContext, params: TopKParams) -> AnalysisResult:
        from reportgen.explain import gradcam

        k = min(params.k, len(ctx.classes))
        indices = one_per_class(ctx, params.max_images)
        probabilities = ctx.test_probabilities[indices]
        ranked = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
        x = ctx.preprocess(ctx.images[indices])
        # One batch: every image repeated k times, each copy explaining another class.
        probe = probe_for(ctx, params.layer)
        cams = gradcam(probe, np.repeat(x, k, axis=0), ranked.reshape(-1))
        cams = cams.reshape(len(indices), k, *cams.shape[1:])
        grid, records = [], []
        for n, i in enumerate(indices):
            first = f"{ctx.label('True class')}: {ctx.classes[ctx.y_true[i]]}" if ctx.labelled \
                else image_name(ctx, i)
            row = [Panel(ctx.images[i], title=first)]
            for r, c in enumerate(ranked[n]):
                row.append(Panel(ctx.images[i], cams[n, r], title=f"{r + 1}. {ctx.classes[c]} "
                                                                  f"{probabilities[n, c]:.2f}"))
            grid.append(row)
            top = [{"class": ctx.classes[c], "probability": float(probabilities[n, c])} for c in ranked[n]]
            records.append({"index": int(i), **face_of(ctx, i), "top": top})
        parts = figures.grid_parts(grid, ctx.figure_path("top_k"), column_titles=[ctx.label("Input")])
        metrics: dict = {"k": k, "images": records, "figure_rows": parts_metrics(parts)}
        notes = []
        face_mass = _face_mass(ctx, indices, cams[:, 0])
        if face_mass is not None:
            metrics["face_mass"] = face_mass
        if params.sanity_check:
            add_randomization_check(ctx, "gradcam", x, ranked[:, 0], cams[:, 0],
                                    AttributionOptions(layer=params.layer), metrics, notes)
        return AnalysisResult(
            metrics=metrics, notes=notes,
            figures=grid_figures(parts, Msg("The {k} most probable classes of each image ({experiment}) "
                                            "with their probabilities; each heat map is the Grad-CAM of "
                                            "that class.", {"k": k, "experiment": ctx.experiment})),
        )


def _face_mass(ctx: AnalysisContext, indices: np.ndarray, cams: np.ndarray) -> dict | None:
    """On MTCNN face crops: the share of each rank-1 Grad-CAM inside the detected face box
    (the crop adds a margin around it), and the share of the crop the box covers."""
    from reportgen.explain import region_mass

    data = ctx.data
    if data.labelled or data.face_index is None or (data.face_index[indices] < 0).any():
        return None
    height, width = cams.shape[1:]
    shares, areas = [], []
    for i, cam in zip(indices, cams):
        source = data.sources[int(data.source_index[i])]
        x0, y0, x1, y1 = source.face_box_in_crop(int(data.face_index[i]))
        mask = np.zeros((height, width), bool)
        rows = slice(int(round(y0 * height)), int(round(y1 * height)))
        mask[rows, int(round(x0 * width)):int(round(x1 * width))] = True
        shares.append(float(region_mass(cam, mask)[0]))
        areas.append(float(mask.mean()))
    return {"mean_share": float(np.mean(shares)), "mean_box_area": float(np.mean(areas)),
            "images": len(shares)}
