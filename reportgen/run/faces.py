"""Face detection with MTCNN (Zhang et al., 2016, https://arxiv.org/abs/1604.02878).

Uses the ``mtcnn`` package (1.0.0), which ships its P/R/O-Net weights (``mtcnn/assets/weights
/*.lz4``, read with joblib + lz4) and runs them as eager Keras models under
``tf.device("CPU:0")``; it needs TensorFlow's default eager mode and nothing else configured.
Importing it imports TensorFlow (~5 s), so it is imported on first use, and the detector
(~0.2 s to build) is kept for the process. A 512×512 photo takes ~0.3 s on one CPU core.

:func:`detect_faces_batch` runs many images per call (MTCNN 1.0.0 takes a list and stacks it):
images of one shape go together, which is 2–3× faster per image than one call each
(256×256: ~0.2 s against ~0.5 s per image on this VM). Images whose shorter side is under
``UPSCALE_BELOW`` pixels are enlarged (bicubic, by a whole factor) before detection and the
boxes mapped back: MTCNN's 12-pixel P-Net window misses a face that fills a 20×20 image and
finds it at 2×; on scikit-image's 25×25 LFW faces 2× raises the faces found from 94 to 96 of
100 (no false face in its 100 non-faces either way).

What ``MTCNN().detect_faces(rgb)`` returns for one image: a list of
``{"box": [x, y, w, h], "confidence": float, "keypoints": {"left_eye": [x, y], "right_eye",
"nose", "mouth_left", "mouth_right"}}`` with numpy scalars; ``left_*``/``right_*`` are as
seen in the image (``left_eye`` has the smaller x, i.e. the person's right eye).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

MIN_DETECTABLE_SIDE = 12
"""MTCNN's smallest window; smaller images cannot contain a detectable face."""

UPSCALE_BELOW = 48
"""Images with a shorter side under this many pixels are enlarged before detection (see above)."""

BATCH_PIXELS = 1 << 23
"""Pixels per detector call (at most 32 images): bounds the float32 batch MTCNN stacks (~100 MB)."""

_DETECTOR: Any = None
_DETECTOR_LOCK = threading.Lock()


@dataclass(frozen=True)
class Face:
    """One detected face in the coordinates of the image it was found in."""

    box: tuple[int, int, int, int]
    """(x, y, width, height) in pixels, inside the image."""
    confidence: float
    keypoints: dict[str, tuple[int, int]]
    """(x, y) of ``left_eye``, ``right_eye``, ``nose``, ``mouth_left``, ``mouth_right`` (image
    left/right); not clipped, so a landmark of a face cut by the border may lie outside."""

    @property
    def center(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return (x + w / 2.0, y + h / 2.0)


def _detector() -> Any:
    """The process-wide MTCNN detector, built on first use."""
    global _DETECTOR
    if _DETECTOR is None:
        with _DETECTOR_LOCK:
            if _DETECTOR is None:
                try:
                    from mtcnn import MTCNN
                except ImportError as exc:
                    raise ImportError(
                        "face detection needs the mtcnn package and its weight loaders: "
                        f"pip install mtcnn==1.0.0 lz4 joblib ({exc})"
                    ) from exc
                _DETECTOR = MTCNN()
    return _DETECTOR


def as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W), (H, W, 1|3|4) → uint8 (H, W, 3) (gray repeated, alpha dropped)."""
    x = np.asarray(image)
    if x.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {x.dtype}")
    if x.ndim == 2:
        x = x[..., None]
    if x.ndim != 3 or x.shape[-1] not in (1, 3, 4):
        raise ValueError(f"expected one image shaped (H, W, 3) (or gray / RGBA), got {x.shape}")
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    elif x.shape[-1] == 4:
        x = x[..., :3]
    return np.ascontiguousarray(x)


def detect_faces(
    image_rgb: np.ndarray, min_confidence: float = 0.9, min_face_size: int = 20
) -> list[Face]:
    """Faces in one uint8 RGB image (H, W, 3), most confident first.

    Gray (H, W) / (H, W, 1) images are repeated to RGB and RGBA loses its alpha. Boxes are
    clipped to the image; faces below ``min_confidence`` or with an empty box are dropped.
    ``min_face_size`` is MTCNN's smallest face side in pixels (its pyramid starts there).
    """
    return detect_faces_batch([image_rgb], min_confidence, min_face_size)[0]


def upscale_factor(height: int, width: int) -> int:
    """The whole factor an image is enlarged by before detection (1 = as is)."""
    return max(1, math.ceil(UPSCALE_BELOW / max(1, min(height, width))))


def detect_faces_batch(
    images: Sequence[np.ndarray], min_confidence: float = 0.9, min_face_size: int = 20,
    on_batch: Callable[[int], None] | None = None,
) -> list[list[Face]]:
    """:func:`detect_faces` for many images: one list of faces per image, in their order.

    Images of the same shape go to MTCNN together (up to ``BATCH_PIXELS`` pixels per call);
    the boxes are exactly those of one call per image (MTCNN pads only images of different
    shapes, which are never mixed here). ``on_batch(n)`` is called after each call with its
    number of images (for progress).
    """
    rgbs = [as_rgb_uint8(image) for image in images]
    results: list[list[Face]] = [[] for _ in rgbs]
    groups: dict[tuple[int, int], list[int]] = {}
    for i, rgb in enumerate(rgbs):
        groups.setdefault(rgb.shape[:2], []).append(i)
    for (height, width), members in groups.items():
        if min(height, width) < MIN_DETECTABLE_SIDE:
            if on_batch is not None:
                on_batch(len(members))
            continue
        scale = upscale_factor(height, width)
        per_call = max(1, min(32, BATCH_PIXELS // (height * width * scale * scale)))
        for start in range(0, len(members), per_call):
            chunk = members[start : start + per_call]
            batch = enlarge(np.stack([rgbs[i] for i in chunk]), scale)
            found = _detector().detect_faces(list(batch), min_face_size=int(min_face_size))
            for i, items in zip(chunk, found):
                results[i] = _faces_from(items, height, width, scale, min_confidence)
            if on_batch is not None:
                on_batch(len(chunk))
    return results


def enlarge(batch: np.ndarray, scale: int) -> np.ndarray:
    """uint8 (n, H, W, 3) → (n, H·scale, W·scale, 3), bicubic (TensorFlow is loaded by MTCNN anyway)."""
    if scale == 1:
        return batch
    import tensorflow as tf

    size = (batch.shape[1] * scale, batch.shape[2] * scale)
    big = tf.image.resize(tf.convert_to_tensor(batch, tf.float32), size, method="bicubic")
    return np.asarray(tf.cast(tf.clip_by_value(tf.round(big), 0, 255), tf.uint8))


def _faces_from(items: list[dict], height: int, width: int, scale: int, min_confidence: float) -> list[Face]:
    """MTCNN's dicts for one image (found at ``scale``×) → Faces in the image's own pixels."""
    faces = []
    for item in items:
        confidence = float(item["confidence"])
        if confidence < min_confidence:
            continue
        x, y, w, h = (float(v) / scale for v in item["box"])
        x0, y0 = int(round(min(max(x, 0), width))), int(round(min(max(y, 0), height)))
        x1, y1 = int(round(min(max(x + w, 0), width))), int(round(min(max(y + h, 0), height)))
        if x1 <= x0 or y1 <= y0:
            continue
        keypoints = {
            str(name): (int(round(float(p[0]) / scale)), int(round(float(p[1]) / scale)))
            for name, p in item.get("keypoints", {}).items()
        }
        faces.append(Face(box=(x0, y0, x1 - x0, y1 - y0), confidence=confidence, keypoints=keypoints))
    faces.sort(key=lambda f: f.confidence, reverse=True)
    return faces


def crop_box(face: Face, image_shape: tuple[int, ...], margin: float = 0.2) -> tuple[int, int, int, int]:
    """(x, y, side, side) of the square crop :func:`crop_face` takes.

    The square is centred on the face box, its side is the box's longer side plus ``margin``
    of it on each side, and it is shifted (not cut) to stay inside the image; only when it is
    larger than the image's shorter side does it shrink to that side.
    """
    if margin < 0:
        raise ValueError(f"margin must be ≥ 0, got {margin}")
    height, width = int(image_shape[0]), int(image_shape[1])
    x, y, w, h = face.box
    side = int(round(max(w, h) * (1.0 + 2.0 * margin)))
    side = max(1, min(side, height, width))
    cx, cy = x + w / 2.0, y + h / 2.0
    left = int(round(cx - side / 2.0))
    top = int(round(cy - side / 2.0))
    left = min(max(left, 0), width - side)
    top = min(max(top, 0), height - side)
    return (left, top, side, side)


def crop_face(image: np.ndarray, face: Face, margin: float = 0.2) -> np.ndarray:
    """Square crop of ``image`` around ``face`` (see :func:`crop_box`), same dtype and channels."""
    left, top, side, _ = crop_box(face, np.shape(image), margin)
    return np.ascontiguousarray(np.asarray(image)[top : top + side, left : left + side])
