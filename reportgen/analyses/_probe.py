"""Grad-CAM probes shared by the analyses that draw Grad-CAMs, and the model-randomisation check.

References:
    Adebayo et al. 2018, "Sanity Checks for Saliency Maps", https://arxiv.org/abs/1810.03292
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reportgen.analyses.base import AnalysisContext, Msg


def probe_for(ctx: AnalysisContext, layer: str | None):
    """The (activations, logits) probe of ``layer``, built once per experiment and layer."""
    from reportgen.explain import build_probe

    return ctx.shared(f"probe:{layer}", lambda: build_probe(ctx.model, layer))


def _random_probe(ctx: AnalysisContext, probe):
    """The probe of the same layer in the copy of the model with re-initialised weights (one copy
    per experiment, shared with every method's randomisation check), built once per layer."""
    from reportgen.analyses._attribution import random_model
    from reportgen.explain import build_probe

    layer = probe.layer_path[-1]
    return ctx.shared(f"random_probe:{layer}", lambda: build_probe(random_model(ctx), layer))


def add_sanity_check(ctx: AnalysisContext, probe, x: np.ndarray, targets: np.ndarray,
                     maps: np.ndarray, metrics: dict[str, Any], notes: list[Msg]) -> None:
    """The model-randomisation check of Grad-CAM ``maps`` (of inputs ``x`` for ``targets``):
    their mean Spearman rank correlation with the maps of the re-initialised model goes into
    ``metrics["randomization_rank_correlation"]``, its one-line report into ``notes``."""
    from reportgen.explain import gradcam, rank_correlation

    random_maps = gradcam(_random_probe(ctx, probe), x, targets)
    rho = float(np.mean([rank_correlation(a, b) for a, b in zip(maps, random_maps)]))
    metrics["randomization_rank_correlation"] = rho
    notes.append(Msg("Sanity check (Adebayo et al., 2018): with all weights re-initialised, "
                     "Grad-CAM maps have a mean Spearman rank correlation of {rho} with the "
                     "trained model's maps; a value near 1 would mean the maps do not depend "
                     "on what the model learned.", {"rho": f"{rho:.2f}"}))
