"""Explanation methods on Keras image classifiers: probes, gradients, perturbations, statistics.

Inputs are preprocessed float32 model inputs ``(N, H, W, C)``.  Every gradient is computed
inside a ``tf.function`` on large batches (see :mod:`reportgen.explain.gradients`).  LIME lives
in ``lime_explain``; face detection is data loading (``reportgen.run.faces``).
"""

from reportgen.explain.gradients import (
    feature_maps,
    filter_visualization,
    filter_visualization_one_at_a_time,
    gradcam,
    gradcam_eager_per_image,
    input_gradients,
    make_predict_fn,
    occlusion,
    occlusion_positions,
    saliency,
)
from reportgen.explain.probe import Probe, build_probe, find_target_layer, logits_model, randomized_copy
from reportgen.explain.stats import rank_correlation, region_mass

__all__ = [
    "Probe",
    "build_probe",
    "feature_maps",
    "filter_visualization",
    "filter_visualization_one_at_a_time",
    "find_target_layer",
    "gradcam",
    "gradcam_eager_per_image",
    "input_gradients",
    "logits_model",
    "make_predict_fn",
    "occlusion",
    "occlusion_positions",
    "randomized_copy",
    "rank_correlation",
    "region_mass",
    "saliency",
]
