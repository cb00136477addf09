"""Explanation methods on Keras image classifiers: probes, gradients, perturbations, statistics.

Inputs are preprocessed float32 model inputs ``(N, H, W, C)``.  Every gradient is computed
inside a ``tf.function`` on large batches (see :mod:`reportgen.explain.batching`).  One module
per method family: ``gradcam_maps``, ``saliency_maps``, ``occlusion_maps``, ``filters``,
``scorecam_maps``, ``guided_maps`` (Guided Backprop, Guided Grad-CAM), ``integrated_gradients``,
``rise_maps``; ``randomization`` for the sanity check; ``faithfulness`` for the deletion /
insertion curves that score any of the maps; ``face_regions`` for the share of a map's mass in
each facial region (eyes, nose, mouth, forehead, rest) from five landmarks or a template.
LIME lives in ``lime_explain``; the benchmark baselines in ``_baselines`` (not exported); face
detection is data loading (``reportgen.run.faces``, landmarks in ``reportgen.run.landmarks``).
"""

from reportgen.explain.batching import make_predict_fn
from reportgen.explain.face_regions import (
    REGIONS,
    canonical_landmarks,
    landmarks_or_template,
    region_masks,
    region_shares,
)
from reportgen.explain.faithfulness import FaithfulnessCurves, blurred, deletion_insertion, random_maps
from reportgen.explain.filters import feature_maps, filter_visualization
from reportgen.explain.gradcam_maps import gradcam
from reportgen.explain.guided_maps import guided_backprop, guided_coverage, guided_gradcam
from reportgen.explain.integrated_gradients import ig_baseline, integrated_gradients
from reportgen.explain.occlusion_maps import occlusion, occlusion_positions
from reportgen.explain.probe import Probe, build_probe, find_target_layer, logits_model
from reportgen.explain.randomization import randomized_copy
from reportgen.explain.rise_maps import rise, rise_masks
from reportgen.explain.saliency_maps import input_gradients, saliency
from reportgen.explain.scorecam_maps import scorecam
from reportgen.explain.stats import rank_correlation, region_mass

__all__ = [
    "REGIONS",
    "FaithfulnessCurves",
    "Probe",
    "blurred",
    "build_probe",
    "canonical_landmarks",
    "deletion_insertion",
    "feature_maps",
    "filter_visualization",
    "find_target_layer",
    "gradcam",
    "guided_backprop",
    "guided_coverage",
    "guided_gradcam",
    "ig_baseline",
    "input_gradients",
    "integrated_gradients",
    "landmarks_or_template",
    "logits_model",
    "make_predict_fn",
    "occlusion",
    "occlusion_positions",
    "random_maps",
    "randomized_copy",
    "rank_correlation",
    "region_mass",
    "region_masks",
    "region_shares",
    "rise",
    "rise_masks",
    "saliency",
    "scorecam",
]
