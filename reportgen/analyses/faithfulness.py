"""Which explanation to trust: deletion / insertion AUC and the randomisation check per method.

Every chosen method explains the same test images (the predicted class). Deletion removes the
pixels in the order of the map, most important first, and follows the class probability down;
insertion starts from a blurred copy and puts the pixels back in that order. A faithful map
makes the deletion curve fall fast (low AUC) and the insertion curve rise fast (high AUC). A
random ordering of the pixels is the baseline every method must beat; the differences are
tested per image (Wilcoxon signed-rank), so "most faithful" is said only when it is not noise.

References:
    Petsiuk et al. 2018, "RISE", https://arxiv.org/abs/1806.07421 (deletion and insertion)
    Adebayo et al. 2018, "Sanity Checks for Saliency Maps", https://arxiv.org/abs/1810.03292
"""

from __future__ import annotations

import time

import numpy as np
from pydantic import Field

from reportgen import figures_explain
from reportgen.analyses._attribution import (
    METHODS,
    AttributionOptions,
    MethodName,
    attribution,
    fill_value,
    method_label,
    randomization_correlation,
)
from reportgen.analyses._examples import spread_examples
from reportgen.analyses._explain_sentences import RANDOMIZATION_LIMIT, faithfulness_sentences
from reportgen.analyses.base import Analysis, AnalysisContext, AnalysisResult, Figure, Msg, Params, Table
from reportgen.analyses.registry import register
from reportgen.report_types import Best
from reportgen.significance import p_value

ALPHA = 0.05
"""Level of the per-image Wilcoxon tests (best vs runner-up, each method vs random)."""


class FaithfulnessParams(Params):
    methods: list[MethodName] = Field(default_factory=lambda: list(METHODS), min_length=1)
    """The methods compared (default: all)."""
    images: int = Field(8, ge=2, le=200)
    """Test images explained by every method (spread over the classes)."""
    steps: int = Field(20, ge=4, le=200)
    """Points of each deletion / insertion curve (a share of the pixels per step)."""
    layer: str | None = None
    """Target layer of the CAM methods; default: the last convolution."""
    ig_steps: int = Field(32, ge=4, le=512)
    rise_masks: int = Field(1000, ge=50, le=8000)
    randomization: bool = True
    """Also run each method on the model with re-initialised weights (Adebayo et al. 2018)."""


def _paired_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p of per-image scores ``a`` vs ``b`` (1.0 when equal)."""
    from scipy.stats import wilcoxon

    if np.allclose(a, b):
        return 1.0
    return float(wilcoxon(a, b, zero_method="zsplit").pvalue)


@register
class Faithfulness(Analysis):
    """Deletion / insertion AUC, a random baseline and the randomisation check, per method."""

    name = "faithfulness"
    title = Msg("Faithfulness of the explanations")
    Params = FaithfulnessParams

    def run(self, ctx: AnalysisContext, params: FaithfulnessParams) -> AnalysisResult:
        from reportgen.explain import blurred, deletion_insertion, random_maps

        indices = spread_examples(ctx, params.images)
        targets = ctx.y_pred[indices]
        x = ctx.preprocess(ctx.images[indices])
        options = AttributionOptions(layer=params.layer, ig_steps=params.ig_steps,
                                     rise_masks=params.rise_masks)
        black = np.full_like(x, fill_value(ctx))
        soft = blurred(x)

        def curves(maps):
            return deletion_insertion(ctx.predict_fn(), x, maps, targets, steps=params.steps,
                                      deletion_baseline=black, insertion_baseline=soft)

        random = curves(random_maps(len(x), *x.shape[1:3], seed=ctx.seed))
        random_score = random.insertion_auc - random.deletion_auc
        methods: dict[str, dict] = {}
        per_image: dict[str, np.ndarray] = {}
        mean_curves: dict[str, tuple] = {}
        for name in dict.fromkeys(params.methods):
            start = time.perf_counter()
            maps = attribution(ctx, name, x, targets, options)
            seconds = (time.perf_counter() - start) / len(x)
            found = curves(maps)
            score = found.insertion_auc - found.deletion_auc
            per_image[name] = score
            mean_curves[name] = (found.deletion.mean(axis=0), found.insertion.mean(axis=0))
            methods[name] = {
                "label": method_label(name),
                "deletion_auc": float(found.deletion_auc.mean()),
                "insertion_auc": float(found.insertion_auc.mean()),
                "score": float(score.mean()),
                "p_vs_random": _paired_p(score, random_score),
                "seconds_per_image": round(seconds, 4),
                "randomization_rank_correlation": (
                    randomization_correlation(ctx, name, x, targets, maps, options)
                    if params.randomization else None),
            }
        order = sorted(methods, key=lambda n: -methods[n]["score"])
        metrics = {
            "images": len(x), "steps": params.steps, "target": "predicted class",
            "indices": [int(i) for i in indices], "methods": methods,
            "random": {"deletion_auc": float(random.deletion_auc.mean()),
                       "insertion_auc": float(random.insertion_auc.mean()),
                       "score": float(random_score.mean())},
            "ranking": order, "alpha": ALPHA, "randomization_limit": RANDOMIZATION_LIMIT,
            "runner_up_p": _paired_p(per_image[order[0]], per_image[order[1]]) if len(order) > 1 else None,
        }
        figure = self._figure(ctx, random, mean_curves, methods)
        return AnalysisResult(metrics=metrics, tables=[self._table(metrics)], figures=[figure],
                              notes=faithfulness_sentences(metrics))

    @staticmethod
    def _table(metrics: dict) -> Table:
        methods = metrics["methods"]
        best_del = min(m["deletion_auc"] for m in methods.values())
        best_ins = max(m["insertion_auc"] for m in methods.values())
        best_score = max(m["score"] for m in methods.values())

        def cell(value: float, best: float) -> str | Best:
            return Best(f"{value:.3f}") if value == best else f"{value:.3f}"

        rows = [[Msg(m["label"]), cell(m["deletion_auc"], best_del), cell(m["insertion_auc"], best_ins),
                 cell(m["score"], best_score), p_value(m["p_vs_random"]),
                 "—" if m["randomization_rank_correlation"] is None
                 else f"{m['randomization_rank_correlation']:.2f}",
                 f"{m['seconds_per_image']:.3f}"]
                for m in (methods[n] for n in metrics["ranking"])]
        r = metrics["random"]
        rows.append([Msg("Random attribution"), f"{r['deletion_auc']:.3f}", f"{r['insertion_auc']:.3f}",
                     f"{r['score']:.3f}", "—", "—", "—"])
        return Table(columns=[Msg("Method"), Msg("Deletion AUC ↓"), Msg("Insertion AUC ↑"),
                              Msg("Insertion − deletion ↑"), Msg("p vs random"),
                              Msg("Randomisation ρ"), Msg("Seconds per image")],
                     rows=rows,
                     caption=Msg("Faithfulness on {images} test images ({steps} steps per curve; the "
                                 "class explained is the predicted one). ★ marks the best value of "
                                 "each column; p: Wilcoxon signed-rank test of insertion − deletion "
                                 "per image against the random attribution; ρ: Spearman rank "
                                 "correlation with the maps of the re-initialised model; seconds "
                                 "per image: the method's time in this build over the images, "
                                 "one-time compilation included.",
                                 {"images": metrics["images"], "steps": metrics["steps"]}))

    @staticmethod
    def _figure(ctx: AnalysisContext, random, mean_curves: dict, methods: dict) -> Figure:
        random_label = ctx.label("Random attribution")
        deletion = {ctx.label(methods[n]["label"]): d for n, (d, _) in mean_curves.items()}
        insertion = {ctx.label(methods[n]["label"]): i for n, (_, i) in mean_curves.items()}
        deletion[random_label] = random.deletion.mean(axis=0)
        insertion[random_label] = random.insertion.mean(axis=0)
        path = figures_explain.faithfulness_curves(
            random.fractions, deletion, insertion, ctx.figure_path("faithfulness"),
            titles=(ctx.label("Deletion"), ctx.label("Insertion")),
            xlabel=ctx.label("Share of pixels removed / inserted"),
            ylabel=ctx.label("Probability of the class"), random_label=random_label)
        return Figure(path, Msg("Deletion and insertion curves of {experiment}, mean over the "
                                "explained images: the probability of the explained class as the "
                                "pixels are removed from the image (deletion) or put back into a "
                                "blurred copy (insertion) in the order each method ranks them.",
                                {"experiment": ctx.experiment}))
