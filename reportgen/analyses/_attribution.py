"""The attribution methods by name, each run the same way on the trained or a re-initialised model.

The method analyses (saliency, gradcam, integrated_gradients, scorecam, guided_gradcam, rise,
occlusion) draw their own figures; the analyses that *compare* methods — faithfulness
(deletion / insertion) and facial-region shares — need every method as one call:
``maps = attribution(ctx, "scorecam", x, targets)``, ``(N, H, W)`` at the input size, higher
meaning more evidence for the target class. ``randomized=True`` runs the method on the copy
of the model with re-initialised weights (the sanity check of Adebayo et al. 2018), built once
per experiment and shared by every method.

References:
    Adebayo et al. 2018, "Sanity Checks for Saliency Maps", https://arxiv.org/abs/1810.03292
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

from reportgen.analyses.base import AnalysisContext, Msg

__all__ = ["METHODS", "AttributionOptions", "MethodName", "attribution", "fill_value", "method_label",
           "probe", "random_model", "randomization_correlation"]


@dataclass(frozen=True)
class AttributionOptions:
    """The cost knobs shared by every method; defaults suit 48–64 px faces on a CPU."""

    layer: str | None = None
    """Target layer of the CAM methods (default: the last convolution, see explain.probe)."""
    ig_steps: int = 32
    ig_baseline: str = "black"
    rise_masks: int = 1000
    occlusion_patch: int | None = None
    """Default: 3 px up to 48 px inputs, else size / 16 (as the occlusion analysis)."""


def random_model(ctx: AnalysisContext) -> Any:
    """The model with re-initialised weights, built once per experiment (seeded: reproducible)."""
    from reportgen.explain import randomized_copy

    return ctx.shared("random_model", lambda: randomized_copy(ctx.model, ctx.seed))


def _model(ctx: AnalysisContext, randomized: bool) -> Any:
    return random_model(ctx) if randomized else ctx.model


def probe(ctx: AnalysisContext, layer: str | None, randomized: bool = False):
    """The (activations, logits) probe of ``layer`` (default: the last convolution) in the trained
    model or, with ``randomized``, the same layer in the re-initialised copy; built once each."""
    from reportgen.explain import build_probe, find_target_layer

    if not randomized:
        return ctx.shared(f"probe:{layer}", lambda: build_probe(ctx.model, layer))
    # The same layer as the trained model's probe, found once on the trained model.
    name = layer or ctx.shared(f"target_layer:{layer}", lambda: find_target_layer(ctx.model))[-1]
    return ctx.shared(f"random_probe:{name}", lambda: build_probe(random_model(ctx), name))


def _logits(ctx: AnalysisContext, randomized: bool):
    from reportgen.explain import logits_model

    key = "random_logits_model" if randomized else "logits_model"
    return ctx.shared(key, lambda: logits_model(_model(ctx, randomized)))


def _predict(ctx: AnalysisContext, randomized: bool):
    from reportgen.explain import make_predict_fn

    if not randomized:
        return ctx.predict_fn()
    return ctx.shared("random_predict_fn", lambda: make_predict_fn(random_model(ctx), ctx.batch_size))


def fill_value(ctx: AnalysisContext, pixel: float = 0.0) -> float:
    """The model-input value of a pixel value (0–255): what "hidden" means to this model."""
    channels = ctx.images.shape[-1]
    return float(ctx.preprocess(np.full((1, 1, 1, channels), pixel, np.float32)).reshape(-1)[0])


def _saliency(ctx, x, targets, options, randomized):
    from reportgen.explain import saliency

    return saliency(_logits(ctx, randomized), x, targets)


def _gradcam(ctx, x, targets, options, randomized):
    from reportgen.explain import gradcam

    return gradcam(probe(ctx, options.layer, randomized), x, targets)


def _integrated_gradients(ctx, x, targets, options, randomized):
    from reportgen.explain import integrated_gradients

    return integrated_gradients(_model(ctx, randomized), x, targets, baseline=options.ig_baseline,
                                steps=options.ig_steps, seed=ctx.seed, preprocess=ctx.preprocess)[1]


def _scorecam(ctx, x, targets, options, randomized):
    from reportgen.explain import scorecam

    return scorecam(probe(ctx, options.layer, randomized), x, targets)


def _guided_gradcam(ctx, x, targets, options, randomized):
    from reportgen.explain import guided_gradcam

    return guided_gradcam(probe(ctx, options.layer, randomized), x, targets)


def _rise(ctx, x, targets, options, randomized):
    from reportgen.explain import rise

    return rise(_predict(ctx, randomized), x, targets, masks=options.rise_masks, seed=ctx.seed,
                fill=fill_value(ctx))


def occlusion_patch(height: int, width: int, patch: int | None = None) -> int:
    """The occlusion patch side: ``patch`` when given, else 3 px for inputs up to 48 px, else
    size / 16 (a patch must hide a part of a face, not a whole eye and brow at once)."""
    return patch or (3 if max(height, width) <= 48 else max(3, round(max(height, width) / 16)))


def _occlusion(ctx, x, targets, options, randomized):
    from reportgen.explain import occlusion

    patch = occlusion_patch(*x.shape[1:3], options.occlusion_patch)
    return occlusion(_predict(ctx, randomized), x, targets, patch=patch, stride=patch,
                     fill=fill_value(ctx))


MethodName = Literal["saliency", "gradcam", "integrated_gradients", "scorecam", "guided_gradcam",
                     "rise", "occlusion"]
"""A method name as the manifest's ``methods = [...]`` options accept it (the keys of METHODS)."""

Method = Callable[[AnalysisContext, np.ndarray, np.ndarray, AttributionOptions, bool], np.ndarray]

METHODS: dict[str, tuple[Msg, Method]] = {
    "saliency": (Msg("Saliency"), _saliency),
    "gradcam": (Msg("Grad-CAM"), _gradcam),
    "integrated_gradients": (Msg("Integrated Gradients"), _integrated_gradients),
    "scorecam": (Msg("Score-CAM"), _scorecam),
    "guided_gradcam": (Msg("Guided Grad-CAM"), _guided_gradcam),
    "rise": (Msg("RISE"), _rise),
    "occlusion": (Msg("Occlusion"), _occlusion),
}
"""Method name (as in the manifest) → (its name in the report, translated where it is a common
word; the function). Every function returns ``(N, H, W)`` maps at the input size."""


assert set(get_args(MethodName)) == set(METHODS), "MethodName must list every method"


def method_label(name: str) -> str:
    """The method's name in the report as its English msgid (metrics.json stores this)."""
    return METHODS[name][0].msgid


def attribution(ctx: AnalysisContext, method: str, x: np.ndarray, targets: np.ndarray,
                options: AttributionOptions = AttributionOptions(), randomized: bool = False
                ) -> np.ndarray:
    """``(N, H, W)`` float32 maps of ``method`` for preprocessed inputs ``x`` and ``targets``."""
    return np.asarray(METHODS[method][1](ctx, x, targets, options, randomized), np.float32)


def randomization_correlation(ctx: AnalysisContext, method: str, x: np.ndarray, targets: np.ndarray,
                              maps: np.ndarray, options: AttributionOptions = AttributionOptions()
                              ) -> float:
    """Mean Spearman rank correlation between ``maps`` and the same method's maps on the
    re-initialised model (Adebayo et al. 2018): near 1 means the maps ignore what was learned."""
    from reportgen.explain import rank_correlation

    random_maps = attribution(ctx, method, x, targets, options, randomized=True)
    return float(np.mean([rank_correlation(a, b) for a, b in zip(maps, random_maps)]))
