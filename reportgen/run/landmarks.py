"""Five MTCNN landmarks on small face crops (the 48×48 / 64×64 images an expression model sees).

MTCNN misses a face that fills a tiny image (its P-Net pyramid starts at a 12-pixel window and
the crop has no background around the face), so every crop is enlarged (bicubic, by a whole
factor) until its shorter side is at least :data:`DETECT_SIDE` pixels — 64×64 → 192×192 (3×),
48×48 → 192×192 (4×) — and detected there with :func:`reportgen.run.faces.detect_faces_batch`
(batched MTCNN calls, crops of one shape together). Of the faces found, the most confident one
whose box contains the crop centre is kept and its keypoints are mapped back to the crop.

Coordinates are pixel-index coordinates of the crop: ``(x, y)`` = (column, row), the centre of
pixel ``[i, j]`` is ``(j, i)``. Enlarging by ``s`` with half-pixel centres puts enlarged pixel
``p`` at crop coordinate ``(p + 0.5) / s - 0.5``. ``left_*`` / ``right_*`` are as seen in the
image (MTCNN's convention: ``left_eye`` has the smaller x).

A crop with no such face gets None; the caller then uses the canonical template
(:func:`reportgen.explain.face_regions.canonical_landmarks`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from reportgen.run.faces import as_rgb_uint8, detect_faces_batch, enlarge

DETECT_SIDE = 160
"""Crops are enlarged until their shorter side is at least this many pixels before detection."""

CHUNK_PIXELS = 1 << 24
"""Enlarged pixels per detection chunk (bounds the float32 enlargement, ~200 MB)."""

KEYPOINTS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


def detect_scale(height: int, width: int) -> int:
    """The whole factor a crop is enlarged by so its shorter side is ≥ :data:`DETECT_SIDE`."""
    return max(1, math.ceil(DETECT_SIDE / max(1, min(height, width))))


def crop_landmarks(images: Sequence[np.ndarray] | np.ndarray, min_confidence: float = 0.9
                   ) -> list[dict[str, tuple[float, float]] | None]:
    """Landmarks of the face filling each crop: uint8 (N, H, W[, C]) → one dict or None per crop.

    Each dict maps the five :data:`KEYPOINTS` to ``(x, y)`` floats in the crop's pixel
    coordinates (see the module doc); None when MTCNN finds no face with confidence ≥
    ``min_confidence`` whose box contains the crop centre. Gray crops are repeated to RGB.
    """
    rgbs = [as_rgb_uint8(np.asarray(image)) for image in images]
    results: list[dict[str, tuple[float, float]] | None] = [None] * len(rgbs)
    groups: dict[tuple[int, int], list[int]] = {}
    for i, rgb in enumerate(rgbs):
        groups.setdefault(rgb.shape[:2], []).append(i)
    for (height, width), members in groups.items():
        scale = detect_scale(height, width)
        per_chunk = max(1, CHUNK_PIXELS // (height * width * scale * scale))
        for start in range(0, len(members), per_chunk):
            chunk = members[start : start + per_chunk]
            big = enlarge(np.stack([rgbs[i] for i in chunk]), scale)
            found = detect_faces_batch(list(big), min_confidence)
            for i, faces in zip(chunk, found):
                results[i] = _central_face(faces, height, width, scale)
    return results


def _central_face(faces, height: int, width: int, scale: int) -> dict[str, tuple[float, float]] | None:
    """The most confident face (faces come sorted) whose box holds the crop centre, in crop pixels."""
    cx, cy = (width * scale) / 2.0, (height * scale) / 2.0
    for face in faces:
        x, y, w, h = face.box
        if x <= cx <= x + w and y <= cy <= y + h and all(k in face.keypoints for k in KEYPOINTS):
            points = {k: face.keypoints[k] for k in KEYPOINTS}
            return {k: ((px + 0.5) / scale - 0.5, (py + 0.5) / scale - 0.5) for k, (px, py) in points.items()}
    return None
