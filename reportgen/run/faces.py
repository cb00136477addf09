"""Face detection with MTCNN (Zhang et al., 2016, https://arxiv.org/abs/1604.02878).

Uses the ``mtcnn`` package (1.0.0), which ships its P/R/O-Net weights (``mtcnn/assets/weights
/*.lz4``, read with joblib + lz4) and runs them as eager Keras models under
``tf.device("CPU:0")``; it needs TensorFlow's default eager mode and nothing else configured.
Importing it imports TensorFlow (~5 s), so it is imported on first use, and the detector
(~0.2 s to build) is kept for the process. A 512×512 photo takes ~0.3 s on one CPU core.

What ``MTCNN().detect_faces(rgb)`` returns for one image: a list of
``{"box": [x, y, w, h], "confidence": float, "keypoints": {"left_eye": [x, y], "right_eye",
"nose", "mouth_left", "mouth_right"}}`` with numpy scalars; ``left_*``/``right_*`` are as
seen in the image (``left_eye`` has the smaller x, i.e. the person's right eye).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

MIN_DETECTABLE_SIDE = 12
"""MTCNN's smallest window; smaller images cannot contain a detectable face."""

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
    rgb = as_rgb_uint8(image_rgb)
    height, width = rgb.shape[:2]
    if min(height, width) < MIN_DETECTABLE_SIDE:
        return []
    found = _detector().detect_faces(rgb, min_face_size=int(min_face_size))
    faces = []
    for item in found:
        confidence = float(item["confidence"])
        if confidence < min_confidence:
            continue
        x, y, w, h = (float(v) for v in item["box"])
        x0, y0 = int(round(min(max(x, 0), width))), int(round(min(max(y, 0), height)))
        x1, y1 = int(round(min(max(x + w, 0), width))), int(round(min(max(y + h, 0), height)))
        if x1 <= x0 or y1 <= y0:
            continue
        keypoints = {
            str(name): (int(round(float(p[0]))), int(round(float(p[1]))))
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
