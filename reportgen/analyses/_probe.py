"""The Grad-CAM probe shared by the analyses that draw Grad-CAMs (gradcam, top_k, misclassified,
and the CAM methods' layer names).

References:
    Selvaraju et al. 2017, "Grad-CAM", https://arxiv.org/abs/1610.02391
"""

from __future__ import annotations

from reportgen.analyses._attribution import probe
from reportgen.analyses.base import AnalysisContext


def probe_for(ctx: AnalysisContext, layer: str | None):
    """The (activations, logits) probe of ``layer``, built once per experiment and layer — the
    same probe :func:`reportgen.analyses._attribution.attribution` uses."""
    return probe(ctx, layer, randomized=False)
