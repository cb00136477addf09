"""Face crops and centre crops for labelled data (reportgen.run.data.crops) on real faces.

JAFFE-like frames are synthesised: the astronaut's head (scikit-image's ``astronaut``, Eileen
Collins) in gray, pasted into a 256×256 gray canvas at known places, so where the crop must land
is known without trusting the detector on the same image.
"""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from reportgen.errors import ConfigError
from reportgen.i18n import translate_msg
from reportgen.run import faces as faces_module
from reportgen.run.data.crops import Cropper, center_crop, image_digest, make_cropper

ASTRONAUT_FACE = (182, 64, 83, 107)
"""(x, y, w, h) of the face in ``skimage.data.astronaut()`` (MTCNN's box, checked by eye)."""
PATCH = (150, 30, 150, 170)
"""(x, y, w, h) of the part of the photo pasted: the head with some hair, suit and flag."""
PLACES = [(0, 0), (106, 86), (60, 20), (20, 70)]
"""Top-left corners of the pasted patch in the 256×256 canvas."""


@pytest.fixture(scope="module")
def head() -> np.ndarray:
    from skimage.data import astronaut

    x, y, w, h = PATCH
    gray = np.asarray(Image.fromarray(astronaut()).convert("L"))  # JAFFE is gray
    return gray[y : y + h, x : x + w]


def frame(head: np.ndarray, place: tuple[int, int]) -> np.ndarray:
    """uint8 (256, 256, 3): gray canvas with the head at ``place``, gray repeated to RGB."""
    canvas = np.full((256, 256), 118, np.uint8)
    px, py = place
    canvas[py : py + head.shape[0], px : px + head.shape[1]] = head
    return np.repeat(canvas[..., None], 3, axis=-1)


def known_box(place: tuple[int, int]) -> tuple[int, int, int, int]:
    x, y, w, h = ASTRONAUT_FACE
    return (x - PATCH[0] + place[0], y - PATCH[1] + place[1], w, h)


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    inter = max(0.0, min(ax1, bx1) - max(a[0], b[0])) * max(0.0, min(ay1, by1) - max(a[1], b[1]))
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def spec(**fields) -> SimpleNamespace:
    return SimpleNamespace(name="jaffe_like", **fields)


def find_crop(image: np.ndarray, crop: np.ndarray) -> tuple[int, int, int, int]:
    """Where ``crop`` was cut from ``image``: (x, y, w, h), by exact pixel match."""
    h, w = crop.shape[:2]
    windows = np.lib.stride_tricks.sliding_window_view(image[..., 0], (h, w))
    ys, xs = np.nonzero((windows == crop[..., 0]).all(axis=(2, 3)))
    assert len(ys) >= 1, "the crop is not a window of the image"
    return (int(xs[0]), int(ys[0]), w, h)


class CountingDetector:
    """Wraps the real MTCNN and counts the images it is asked about."""

    def __init__(self) -> None:
        self.real = faces_module._detector()
        self.images = 0

    def detect_faces(self, images, **kwargs):
        self.images += len(images) if isinstance(images, list) else 1
        return self.real.detect_faces(images, **kwargs)


@pytest.fixture
def counting(monkeypatch) -> CountingDetector:
    detector = CountingDetector()
    monkeypatch.setattr(faces_module, "_detector", lambda: detector)
    return detector


def test_face_crop_lands_on_the_known_face(head, counting):
    frames = [frame(head, p) for p in PLACES]
    cropper = make_cropper(spec(face_crop=True), None)
    crops = cropper.crop_many(frames, [f"frame{k}.tiff" for k in range(len(frames))])
    assert counting.images == len(frames)  # one batched search, nothing detected twice
    for image, crop, place in zip(frames, crops, PLACES):
        assert crop is not None and crop.dtype == np.uint8 and crop.shape[2] == 3
        assert crop.shape[0] == crop.shape[1]  # square: the longer side of the box (margin 0)
        assert 90 <= crop.shape[0] <= 130  # tight: about the face's 107 px, not the frame
        where = find_crop(image, crop)
        assert iou(where, known_box(place)) > 0.5, (where, known_box(place))
    assert cropper.stats == {"faces": 4, "no_face_kept": 0, "no_face_skipped": 0}
    assert translate_msg(cropper.describe(), "en") == (
        "MTCNN face crops (most confident face, margin 0, confidence ≥ 0.9): a face in all 4 images")


def test_margin_widens_the_square_around_the_same_centre(head):
    image = frame(head, PLACES[2])
    tight = make_cropper(spec(face_crop=True), None)(image, "a")
    wide = make_cropper(spec(face_crop=True, face_margin=0.25), None)(image, "a")
    assert wide.shape[0] == pytest.approx(tight.shape[0] * 1.5, abs=2)
    tx, ty, tw, _ = find_crop(image, tight)
    wx, wy, ww, _ = find_crop(image, wide)
    assert abs((tx + tw / 2) - (wx + ww / 2)) <= 1 and abs((ty + tw / 2) - (wy + ww / 2)) <= 1


def test_image_without_a_face_is_kept_or_skipped_and_counted(head):
    from skimage.data import coffee

    flat = np.full((256, 256, 3), 118, np.uint8)
    cup = coffee()
    face = frame(head, PLACES[0])
    keep = make_cropper(spec(face_crop=True), None)
    out = keep.crop_many([flat, face, cup], ["flat.png", "face.png", "coffee.png"])
    assert np.array_equal(out[0], flat) and np.array_equal(out[2], cup)  # whole frame
    assert out[1].shape[0] < 256
    assert keep.stats == {"faces": 1, "no_face_kept": 2, "no_face_skipped": 0}
    assert keep.no_face_keys == ["flat.png", "coffee.png"]
    assert translate_msg(keep.describe(), "en").endswith(": 2 of 3 images had no face and were kept whole")

    skip = make_cropper(spec(face_crop=True, no_face="skip"), None)
    out = skip.crop_many([flat, face, cup], ["flat.png", "face.png", "coffee.png"])
    assert out[0] is None and out[2] is None and out[1] is not None
    assert skip.stats == {"faces": 1, "no_face_kept": 0, "no_face_skipped": 2}
    assert translate_msg(skip.describe(), "en").endswith(": 2 of 3 images had no face and were left out")


def test_min_face_confidence_above_every_face_means_no_face(head, tmp_path, counting):
    image = frame(head, PLACES[1])
    make_cropper(spec(face_crop=True), tmp_path)(image, "a")
    strict = make_cropper(spec(face_crop=True, min_face_confidence=1.0, no_face="skip"), tmp_path)
    assert strict(image, "a") is None  # MTCNN's confidence is below 1.0 …
    assert counting.images == 1  # … and the cached boxes answered for the other threshold too


def test_center_crop_is_exact_numpy_slicing():
    image = np.random.default_rng(0).integers(0, 256, (256, 200, 3), dtype=np.uint8)
    cropper = make_cropper(spec(center_crop=0.7), None)
    # 256·0.7 = 179.2 → 179 rows from (256−179)//2 = 38; 200·0.7 = 140 columns from 30
    assert np.array_equal(cropper(image, "x"), image[38:217, 30:170])
    assert np.array_equal(center_crop(image[:, :, 0], 1.0), image[:, :, 0])
    assert center_crop(image, 0.001).shape == (1, 1, 3)
    assert cropper.stats == {"faces": 0, "no_face_kept": 0, "no_face_skipped": 0}
    assert translate_msg(cropper.describe(), "en") == (
        "centre crop: the central 70% of each side of each image")


def test_center_crop_after_the_face_crop(head):
    image = frame(head, PLACES[3])
    face = make_cropper(spec(face_crop=True), None)(image, "a")
    both = make_cropper(spec(face_crop=True, center_crop=0.5), None)
    assert np.array_equal(both(image, "a"), center_crop(face, 0.5))
    assert translate_msg(both.describe(), "en").endswith(
        "; then centre crop: the central 50% of each side of each crop")


def test_face_boxes_cached_on_disk_by_content(head, tmp_path, monkeypatch, counting):
    cache = tmp_path / "cache"
    frames = [frame(head, p) for p in PLACES[:3]] + [np.full((256, 256, 3), 118, np.uint8)]
    keys = [f"f{k}" for k in range(len(frames))]
    first = make_cropper(spec(face_crop=True), cache).crop_many(frames, keys)
    assert counting.images == 4
    stored = list((cache / "faces").rglob("*.json"))
    assert len(stored) == 4 and not list((cache / "faces").rglob(".tmp-*"))  # the no-face one too

    def no_detector():
        raise AssertionError("the second pass must read the cached boxes")

    monkeypatch.setattr(faces_module, "_detector", no_detector)
    second = make_cropper(spec(face_crop=True), cache)
    again = second.crop_many(frames, ["other", "keys", "are", "fine"])
    assert all((a is None and b is None) or np.array_equal(a, b) for a, b in zip(first, again))
    assert second.finder.detected == 0 and second.finder.cache.disk_reads == 4
    assert second.stats == {"faces": 3, "no_face_kept": 1, "no_face_skipped": 0}

    # a file renamed or copied elsewhere decodes to the same pixels: still a hit
    Image.fromarray(frames[0]).save(tmp_path / "KA.AN1.39.tiff")
    copy = tmp_path / "elsewhere" / "renamed.tiff"
    copy.parent.mkdir()
    shutil.copy(tmp_path / "KA.AN1.39.tiff", copy)
    third = make_cropper(spec(face_crop=True), cache)
    decoded = np.asarray(Image.open(copy).convert("RGB"))
    assert np.array_equal(third(decoded, str(copy)), first[0])
    assert third.finder.detected == 0

    # other pixels are another key; a damaged cache file is searched again and rewritten
    assert image_digest(frames[0]) != image_digest(frames[1])
    damaged = (cache / "faces" / image_digest(frames[1])[:2] / f"{image_digest(frames[1])}.json")
    damaged.write_text("{not json")
    counting.images = 0
    monkeypatch.setattr(faces_module, "_detector", lambda: counting)
    fourth = make_cropper(spec(face_crop=True), cache)
    assert np.array_equal(fourth(frames[1], "f1"), first[1])
    assert counting.images == 1 and '"faces"' in damaged.read_text()


def test_no_cache_dir_keeps_boxes_in_memory_only(head, tmp_path, counting):
    cropper = make_cropper(spec(face_crop=True), None)
    image = frame(head, PLACES[0])
    cropper.prepare([image], ["a"])
    cropper(image, "a")
    assert counting.images == 1
    assert cropper.finder.cache.root is None


def test_make_cropper_reads_the_spec():
    assert make_cropper(spec(), None) is None
    assert make_cropper(spec(face_crop=False, center_crop=None), None) is None
    assert isinstance(make_cropper(spec(center_crop=1), None), Cropper)
    for bad in ({"center_crop": 0}, {"center_crop": 1.5}, {"center_crop": "70%"},
                {"face_crop": True, "no_face": "drop"}, {"face_crop": True, "face_margin": -0.1},
                {"face_crop": True, "min_face_confidence": 2}):
        with pytest.raises(ConfigError, match="jaffe_like"):
            make_cropper(spec(**bad), None)
