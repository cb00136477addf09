"""LIME superpixel explanations with the ``lime`` package, fed in large batches.

LIME (Ribeiro et al., 2016, https://arxiv.org/abs/1602.04938) splits the image into
superpixels, switches random subsets of them off, asks the model for every perturbed image
and fits a weighted linear model (Ridge) from "superpixel kept" bits to the class probability.
A superpixel's coefficient is its weight: positive ones support the class, negative ones
speak against it.

Two things differ from calling ``lime`` with its defaults:

* **Segmentation sized to the image.** lime's default quickshift (``kernel_size=4,
  max_dist=200``) was tuned for ~300 px photos; on a 64×64 face it gives 2–5 superpixels,
  which explains nothing. :func:`default_segmentation` uses ``kernel_size = max(1, s / 64)``,
  ``max_dist = 10 · kernel_size``, ``ratio = 0.2`` with ``s = √(H·W)``, which gives roughly
  40–80 superpixels from 64 px up (measured on LFW faces and the astronaut face at 64–224 px).
  quickshift cannot go below ``kernel_size = 1``, so smaller images get fewer: ≈ 30 at 48 px,
  ≈ 15 at 32 px (a superpixel is then ~60 pixels, still a useful size).
* **Batched model calls.** lime's stock ``data_labels`` builds the perturbed images one by
  one and calls the classifier every ``batch_size`` (default 10) images; with a Keras
  ``model.predict`` call costing ~70 ms that is ~7 s per 1,000 samples of pure overhead.
  :func:`explain_lime` uses a subclass whose ``data_labels`` draws exactly the same random
  bits, builds each batch with one vectorised ``np.where`` and calls ``predict_proba`` once
  per ``batch_size`` (default 1,000, i.e. all samples at once; capped so a batch of float64
  images stays under ~256 MB). :func:`reportgen.explain._baselines.explain_lime_reference` is the plain stock
  path, kept for the benchmark and for the test that both agree.

Units: lime works on an RGB float image in 0..1 (the scale quickshift's colour conversion
expects; a float image in 0..255 gives thousands of one-pixel segments). Gray images are
repeated to three channels for lime and cut back to one channel before ``predict_proba``,
which always receives pixel-space batches ``(N, H, W, C)`` float32 in 0..255.

Randomness: the perturbation bits come from lime's ``random_state`` (``LimeImageExplainer(
random_state=seed)``); quickshift breaks density ties with its own generator, seeded with
``seed`` too (scikit-image ≥ 0.21 calls that argument ``rng``; lime's wrapper only knows the
old name ``random_seed`` and silently drops unknown names, so both are passed). Ridge's
default solver uses no randomness. The same image, model and seed give identical segments
and weights.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

PredictProba = Callable[[np.ndarray], np.ndarray]
"""Pixel-space batch (N, H, W, C) float32 in 0..255 → probabilities (N, K)."""

BATCH_BYTES_LIMIT = 256 * 2**20
"""Largest batch of perturbed float64 images built at once by the batched path."""
ALL_SEGMENTS = 100_000
"""Passed to lime as num_features so that every superpixel gets a weight."""


@dataclass(eq=False)
class LimeResult:
    """One LIME explanation; every dict is keyed by class index."""

    segments: np.ndarray
    """int64 (H, W): superpixel id per pixel, ids 0..num_segments-1."""
    weights: dict[int, list[tuple[int, float]]]
    """(segment id, weight) for every superpixel, sorted by decreasing |weight|."""
    masks: dict[int, np.ndarray]
    """int8 (H, W): +1 on the top ``num_features`` superpixels (by |weight|) with positive
    weight, −1 on those with negative weight, 0 elsewhere."""
    heatmaps: dict[int, np.ndarray]
    """float64 (H, W): each pixel holds its superpixel's weight."""
    score: dict[int, float]
    """R² of lime's weighted linear fit on the perturbed samples (how local-linear it is)."""
    num_segments: int
    intercept: dict[int, float]
    """The linear fit's intercept (the predicted probability with every superpixel hidden)."""


# --------------------------------------------------------------------------- segmentation


def segmentation_params(height: int, width: int) -> dict[str, float]:
    """quickshift parameters for an image of this size (the rule in the module docstring)."""
    kernel_size = max(1.0, float(np.sqrt(height * width)) / 64.0)
    return {"kernel_size": kernel_size, "max_dist": 10.0 * kernel_size, "ratio": 0.2}


def default_segmentation(height: int, width: int, seed: int = 0) -> Any:
    """lime ``SegmentationAlgorithm('quickshift', …)`` sized for (height, width), seeded.

    It is called on the RGB image scaled to 0..1 (float) or uint8.
    """
    from lime.wrappers.scikit_image import SegmentationAlgorithm

    seed = int(seed) % (2**32)
    return SegmentationAlgorithm(
        "quickshift", **segmentation_params(height, width), random_seed=seed, rng=seed
    )


def _sequential(segmentation: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """Wrap a segmentation so its ids are 0..n-1 (lime indexes its bit vectors by segment id)."""

    def segment(image: np.ndarray) -> np.ndarray:
        segments = np.asarray(segmentation(image))
        if segments.shape != image.shape[:2]:
            raise ValueError(
                f"segmentation returned shape {segments.shape}, expected {image.shape[:2]}"
            )
        _, inverse = np.unique(segments, return_inverse=True)
        return inverse.reshape(segments.shape).astype(np.int64)

    return segment


# --------------------------------------------------------------------------- lime plumbing


def _explainers() -> tuple[type, type]:
    """(recording explainer, batched explainer) classes, built on first use (lime is slow to import)."""
    global _EXPLAINER_CLASSES
    if _EXPLAINER_CLASSES is not None:
        return _EXPLAINER_CLASSES
    from lime.lime_base import LimeBase
    from lime.lime_image import LimeImageExplainer

    class RecordingBase(LimeBase):
        """lime keeps only the last label's R² (``ImageExplanation.score``); keep each one."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.scores: dict[int, float] = {}

        def explain_instance_with_data(  # type: ignore[no-untyped-def]
            self, data, labels, distances, label, *args, **kwargs
        ):
            out = super().explain_instance_with_data(data, labels, distances, label, *args, **kwargs)
            self.scores[int(label)] = float(out[2])
            return out

    class RecordingExplainer(LimeImageExplainer):
        """Stock lime (one-by-one perturbations, classifier every ``batch_size`` images)."""

        def __init__(self, random_state: int) -> None:
            super().__init__(random_state=random_state)
            self.base = RecordingBase(self.base.kernel_fn, self.base.verbose, random_state=self.random_state)

    class BatchedExplainer(RecordingExplainer):
        """Same random bits and images as stock lime, built vectorised, classified in big batches."""

        def data_labels(  # type: ignore[no-untyped-def]
            self, image, fudged_image, segments, classifier_fn, num_samples, batch_size=10
        ):
            n_features = np.unique(segments).shape[0]
            data = self.random_state.randint(0, 2, num_samples * n_features).reshape(
                (num_samples, n_features)
            )
            data[0, :] = 1
            per_image = max(1, image.nbytes)
            step = max(1, min(int(batch_size), BATCH_BYTES_LIMIT // per_image))
            labels = []
            for start in range(0, num_samples, step):
                keep = data[start : start + step][:, segments].astype(bool)  # (n, H, W)
                batch = np.where(keep[..., None], image[None], fudged_image[None])
                labels.append(np.asarray(classifier_fn(batch)))
            return data, np.concatenate(labels, axis=0)

    _EXPLAINER_CLASSES = (RecordingExplainer, BatchedExplainer)
    return _EXPLAINER_CLASSES


_EXPLAINER_CLASSES: tuple[type, type] | None = None


def _to_lime_image(image: np.ndarray) -> tuple[np.ndarray, int]:
    """Pixel image (H, W), (H, W, 1) or (H, W, 3), 0..255 → (RGB float64 in 0..1, channels)."""
    x = np.asarray(image)
    if x.ndim == 2:
        x = x[..., None]
    if x.ndim != 3 or x.shape[-1] not in (1, 3):
        raise ValueError(f"expected one image shaped (H, W, 1) or (H, W, 3), got {np.shape(image)}")
    if x.dtype.kind not in "uif":
        raise ValueError(f"expected numeric pixels, got dtype {x.dtype}")
    x = x.astype(np.float64)
    if not np.isfinite(x).all() or x.min() < 0 or x.max() > 255:
        raise ValueError(
            f"expected pixel values in 0..255, got {np.nanmin(x):g}..{np.nanmax(x):g}"
        )
    channels = x.shape[-1]
    if channels == 1:
        x = np.repeat(x, 3, axis=-1)
    return x / 255.0, channels


def _hide_value(image01: np.ndarray, hide_color: str | float | None) -> np.ndarray | None:
    """lime's ``hide_color`` in its 0..1 units (None = lime's per-superpixel mean colour)."""
    if hide_color is None:
        return None
    if isinstance(hide_color, str):
        if hide_color != "mean":
            raise ValueError(f"hide_color must be 'mean', a pixel value 0..255 or None, got {hide_color!r}")
        return image01.reshape(-1, 3).mean(axis=0)
    value = float(hide_color)
    if not 0 <= value <= 255:
        raise ValueError(f"hide_color must be within 0..255, got {value:g}")
    return np.full(3, value / 255.0)


def _classifier(predict_proba: PredictProba, channels: int, labels: Sequence[int]) -> PredictProba:
    """lime batch (N, H, W, 3) in 0..1 → ``predict_proba`` on pixel batches with the model's channels."""
    top = max(labels)

    def classify(batch: np.ndarray) -> np.ndarray:
        x = np.asarray(batch, dtype=np.float64)
        if channels == 1:
            x = x[..., :1]
        x = (x * 255.0).astype(np.float32)
        probs = np.asarray(predict_proba(x), dtype=np.float64)
        if probs.ndim != 2 or probs.shape[0] != x.shape[0]:
            raise ValueError(
                f"predict_proba returned shape {probs.shape} for {x.shape[0]} images; "
                "expected (N, number of classes)"
            )
        if probs.shape[1] <= top:
            raise ValueError(
                f"label {top} is outside the model's {probs.shape[1]} outputs "
                f"(labels must be 0..{probs.shape[1] - 1})"
            )
        return probs

    return classify


def _check_labels(labels: Sequence[int]) -> list[int]:
    out = [int(v) for v in labels]
    if not out:
        raise ValueError("labels must name at least one class index")
    if min(out) < 0:
        raise ValueError(f"labels must be class indices ≥ 0, got {out}")
    return out


def _explain(
    explainer_class: type,
    image: np.ndarray,
    predict_proba: PredictProba,
    labels: Sequence[int],
    num_samples: int,
    num_features: int,
    seed: int,
    batch_size: int,
    segmentation: Callable[[np.ndarray], np.ndarray] | None,
    hide_color: str | float | None,
) -> LimeResult:
    labels = _check_labels(labels)
    if num_samples < 2:
        raise ValueError(f"num_samples must be at least 2, got {num_samples}")
    if num_features < 1:
        raise ValueError(f"num_features must be at least 1, got {num_features}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    seed = int(seed) % (2**32)
    image01, channels = _to_lime_image(image)
    height, width = image01.shape[:2]
    if segmentation is None:
        segmentation = default_segmentation(height, width, seed)
    explainer = explainer_class(random_state=seed)
    explanation = explainer.explain_instance(
        image01,
        _classifier(predict_proba, channels, labels),
        labels=labels,
        hide_color=_hide_value(image01, hide_color),
        top_labels=None,
        num_features=ALL_SEGMENTS,
        num_samples=int(num_samples),
        batch_size=int(batch_size),
        segmentation_fn=_sequential(segmentation),
        random_seed=seed,
    )
    segments = np.asarray(explanation.segments, dtype=np.int64)
    n_segments = int(segments.max()) + 1
    weights: dict[int, list[tuple[int, float]]] = {}
    masks: dict[int, np.ndarray] = {}
    heatmaps: dict[int, np.ndarray] = {}
    for label in labels:
        pairs = [(int(s), float(w)) for s, w in explanation.local_exp[label]]
        pairs.sort(key=lambda p: (-abs(p[1]), p[0]))
        per_segment = np.zeros(n_segments, dtype=np.float64)
        for s, w in pairs:
            per_segment[s] = w
        sign = np.zeros(n_segments, dtype=np.int8)
        for s, w in pairs[:num_features]:
            sign[s] = 1 if w > 0 else (-1 if w < 0 else 0)
        weights[label] = pairs
        heatmaps[label] = per_segment[segments]
        masks[label] = sign[segments]
    return LimeResult(
        segments=segments,
        weights=weights,
        masks=masks,
        heatmaps=heatmaps,
        score={label: explainer.base.scores[label] for label in labels},
        num_segments=n_segments,
        intercept={label: float(np.ravel(explanation.intercept[label])[0]) for label in labels},
    )


# --------------------------------------------------------------------------- public API


def explain_lime(
    image: np.ndarray,
    predict_proba: PredictProba,
    labels: Sequence[int],
    num_samples: int = 1000,
    num_features: int = 5,
    seed: int = 0,
    batch_size: int = 1000,
    segmentation: Callable[[np.ndarray], np.ndarray] | None = None,
    hide_color: str | float | None = "mean",
) -> LimeResult:
    """Explain ``labels`` for one image with LIME, calling ``predict_proba`` in large batches.

    Args:
        image: One image in pixel space, (H, W, C) with C = 1 or 3 (or (H, W) gray), uint8 or
            float in 0..255, at the model's input size.
        predict_proba: Pixel-space batch (N, H, W, C) float32 → probabilities (N, K); the caller
            composes preprocessing and a compiled forward pass into it. It is called
            ``ceil(num_samples / batch_size)`` times.
        labels: Class indices to explain.
        num_samples: Perturbed images (the first one is the unperturbed image).
        num_features: How many superpixels (largest |weight|) the masks mark.
        seed: Seeds lime's sampling and quickshift's tie-breaking.
        batch_size: Images per ``predict_proba`` call (capped at ~256 MB of float64 images).
        segmentation: Callable RGB image (H, W, 3) in 0..1 → (H, W) int labels; default
            :func:`default_segmentation` for the image size.
        hide_color: What a switched-off superpixel becomes: ``"mean"`` (default) the image's
            mean colour, a pixel value 0..255, or None for lime's own choice (each superpixel
            filled with its own mean colour). The mean is the default because it removes a
            superpixel's content without adding anything the model reacts to: 0 turns into
            black blobs (−1 after x/127.5 − 1) whose new hard edges the model responds to,
            and lime's per-superpixel mean barely changes small flat superpixels, so their
            weights shrink towards 0.

    Returns:
        LimeResult with segments, per-label weights, masks, heatmaps and fit R².
    """
    _, batched = _explainers()
    return _explain(batched, image, predict_proba, labels, num_samples, num_features, seed,
                    batch_size, segmentation, hide_color)
