"""Tests for reportgen.explain.lime_explain (LIME) and reportgen.run.faces (MTCNN).

LIME runs on a hand-made Keras model whose class-1 probability depends only on a bright patch,
so where the explanation must point is known; faces run on scikit-image's real photos.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from reportgen.explain._baselines import explain_lime_reference
from reportgen.explain.lime_explain import default_segmentation, explain_lime, segmentation_params
from reportgen.run import faces as faces_module
from reportgen.run.faces import Face, crop_box, crop_face, detect_faces, detect_faces_batch, upscale_factor

SIDE = 32


# --------------------------------------------------------------------------- a model with a known answer


@pytest.fixture(scope="module")
def patch_model():
    """Class 1 iff a bright patch exists: 3×3 mean filter − 0.6 → ReLU → mean → Dense.

    On x/255 inputs the filter stays below 0.6 on noise in [0, 0.4] and reaches 0.4 inside a
    white patch, so the pooled activation (and the class-1 logit) comes only from the patch.
    """
    import keras

    inputs = keras.Input((SIDE, SIDE, 1))
    x = keras.layers.Conv2D(
        1, 3, padding="same", activation="relu",
        kernel_initializer=keras.initializers.Constant(1 / 9),
        bias_initializer=keras.initializers.Constant(-0.6),
    )(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(2, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.layers[-1].set_weights([np.array([[0.0, 500.0]], np.float32), np.array([0.0, -4.0], np.float32)])
    return model


@pytest.fixture(scope="module")
def predict_proba(patch_model):
    """Compiled batched forward on pixel-space input (what callers build with make_predict_fn)."""
    import tensorflow as tf

    forward = tf.function(lambda x: patch_model(x, training=False), reduce_retracing=True)
    return lambda x: forward(tf.constant(np.asarray(x, np.float32) / 255.0)).numpy()


def noise_image(seed: int, patch: bool = True) -> np.ndarray:
    """32×32×1 float pixels: noise in [0, 0.4]·255 plus a white 8×8 patch in the top-right quadrant."""
    image = np.random.default_rng(seed).uniform(0, 0.4 * 255, (SIDE, SIDE, 1))
    if patch:
        image[4:12, 20:28] = 255.0
    return image


def test_model_only_sees_the_patch(predict_proba):
    probs = predict_proba(np.stack([noise_image(0), noise_image(0, patch=False)]))
    assert probs[0, 1] > 0.95 and probs[1, 1] < 0.05


def test_lime_points_at_the_top_right_patch(predict_proba):
    image = noise_image(0)
    calls = []

    def counting(batch):
        calls.append(batch)
        return predict_proba(batch)

    result = explain_lime(image, counting, labels=[1], num_samples=1000, num_features=3, seed=0)
    # one call with every sample, in pixel space, gray channel restored, first = the original
    assert len(calls) == 1 and calls[0].shape == (1000, SIDE, SIDE, 1) and calls[0].dtype == np.float32
    assert np.allclose(calls[0][0], image, atol=1e-3) and calls[0].max() <= 255.0
    heat = result.heatmaps[1]
    positive = np.clip(heat, 0, None)
    assert positive[: SIDE // 2, SIDE // 2 :].sum() >= 0.7 * positive.sum()
    # the strongest superpixel is the patch, marked +1; at most num_features superpixels marked
    best_segment, best_weight = result.weights[1][0]
    assert best_weight > 0 and result.segments[8, 24] == best_segment
    assert result.masks[1][8, 24] == 1 and result.masks[1].dtype == np.int8
    assert set(np.unique(result.masks[1]).tolist()) <= {-1, 0, 1}
    assert len(np.unique(result.segments[result.masks[1] != 0])) <= 3
    # every superpixel has a weight, sorted by |weight|; the heatmap is the weight per pixel
    assert sorted(s for s, _ in result.weights[1]) == list(range(result.num_segments))
    magnitudes = [abs(w) for _, w in result.weights[1]]
    assert magnitudes == sorted(magnitudes, reverse=True)
    assert heat[8, 24] == pytest.approx(best_weight)
    assert result.score[1] > 0.8 and result.segments.shape == (SIDE, SIDE)


def test_lime_is_deterministic_per_seed(predict_proba):
    image = noise_image(1)
    first = explain_lime(image, predict_proba, labels=[0, 1], num_samples=300, seed=3)
    again = explain_lime(image, predict_proba, labels=[0, 1], num_samples=300, seed=3)
    other = explain_lime(image, predict_proba, labels=[0, 1], num_samples=300, seed=4)
    assert np.array_equal(first.segments, again.segments)
    assert first.weights == again.weights and first.score == again.score
    assert set(first.weights) == {0, 1}
    assert first.weights[1] != other.weights[1]


def test_batched_path_matches_reference(patch_model, predict_proba):
    image = noise_image(2)
    calls = []

    def model_predict(batch):
        calls.append(len(batch))
        return patch_model.predict(batch / 255.0, verbose=0)

    fast = explain_lime(image, predict_proba, labels=[1], num_samples=60, seed=5)
    plain = explain_lime_reference(image, model_predict, labels=[1], num_samples=60, seed=5)
    assert calls == [10] * 6  # lime's stock loop: one model.predict per 10 images
    assert np.array_equal(fast.segments, plain.segments)
    fast_w, plain_w = dict(fast.weights[1]), dict(plain.weights[1])
    assert fast_w.keys() == plain_w.keys()
    assert np.allclose([fast_w[k] for k in fast_w], [plain_w[k] for k in fast_w], atol=1e-5)
    assert fast.score[1] == pytest.approx(plain.score[1], abs=1e-5)


def test_lime_rejects_a_label_beyond_the_outputs(predict_proba):
    with pytest.raises(ValueError, match="outside the model's 2 outputs"):
        explain_lime(noise_image(0), predict_proba, labels=[5], num_samples=20)


def test_segmentation_fits_a_64px_face():
    from skimage.data import lfw_subset
    from skimage.segmentation import quickshift

    face = np.rint(lfw_subset()[0] * 255).astype(np.uint8)
    face = np.asarray(Image.fromarray(face).resize((64, 64), Image.Resampling.BILINEAR))
    rgb01 = np.repeat(face[..., None], 3, axis=-1) / 255.0
    segments = default_segmentation(64, 64, seed=0)(rgb01)
    assert 30 <= len(np.unique(segments)) <= 80
    # lime's own default (kernel_size=4, max_dist=200) leaves a handful of superpixels
    assert len(np.unique(quickshift(rgb01, kernel_size=4, max_dist=200, ratio=0.2))) < 10
    assert segmentation_params(224, 224)["kernel_size"] == pytest.approx(3.5)


# --------------------------------------------------------------------------- faces


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    from skimage.data import astronaut

    return astronaut()


def test_detect_the_astronaut_face(astronaut):
    faces = detect_faces(astronaut)
    assert len(faces) == 1
    face = faces[0]
    assert face.confidence > 0.9
    x, y, w, h = face.box
    assert all(isinstance(v, int) for v in face.box)
    # Eileen Collins' face: upper part, left of the centre of the 512×512 photo, ~80–110 px
    cx, cy = face.center
    assert 150 < cx < 300 and 60 < cy < 180 and 50 < w < 160 and 50 < h < 160
    for name in ("left_eye", "right_eye"):
        ex, ey = face.keypoints[name]
        assert x <= ex <= x + w and y <= ey <= y + h / 2  # eyes in the upper half of the box
    assert face.keypoints["left_eye"][0] < face.keypoints["right_eye"][0]


def test_no_face_in_coffee_or_noise():
    from skimage.data import coffee

    noise = np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    assert detect_faces(coffee()) == []
    assert detect_faces(noise) == []
    assert detect_faces(np.zeros((8, 8, 3), np.uint8)) == []  # below MTCNN's 12 px window


def test_crop_face_is_square_and_inside(astronaut):
    face = detect_faces(astronaut)[0]
    x, y, w, h = face.box
    crop = crop_face(astronaut, face, margin=0.2)
    side = round(max(w, h) * 1.4)
    assert crop.shape == (side, side, 3) and crop.dtype == np.uint8
    left, top, s, _ = crop_box(face, astronaut.shape, 0.2)
    assert left <= x and top <= y and left + s >= x + w and top + s >= y + h
    assert np.array_equal(crop, astronaut[top : top + s, left : left + s])
    # near the border the square is shifted inside the image, not cut
    corner = Face(box=(0, 0, 40, 50), confidence=1.0, keypoints={})
    assert crop_box(corner, (100, 80), 0.5) == (0, 0, 80, 80)
    assert crop_face(np.zeros((100, 80), np.uint8), corner, 0.5).shape == (80, 80)


def test_batch_detection_equals_one_call_per_image(astronaut):
    from skimage.data import coffee

    images = [astronaut, coffee(), np.ascontiguousarray(astronaut[:, ::-1]), astronaut[40:440, 60:500]]
    calls = []
    batched = detect_faces_batch(images, on_batch=calls.append)
    assert sorted(calls) == [1, 1, 2]  # the two 512×512 photos share one MTCNN call
    single = [detect_faces(image) for image in images]
    assert [len(f) for f in batched] == [len(f) for f in single] == [1, 0, 1, 1]
    for got, want in zip(batched, single):
        for a, b in zip(got, want):
            assert a.box == b.box and a.keypoints == b.keypoints
            assert a.confidence == pytest.approx(b.confidence, abs=1e-5)
    flipped, shifted = batched[2][0].box, batched[3][0].box
    x, y, w, h = batched[0][0].box
    # each in its own coordinates (MTCNN moves a few pixels with a flip or a shift)
    assert abs(flipped[0] - (512 - x - w)) <= 10 and abs(flipped[1] - y) <= 10
    assert abs(shifted[0] - (x - 60)) <= 10 and abs(shifted[1] - (y - 40)) <= 10  # own coordinates


def test_small_images_are_enlarged_for_detection(astronaut, monkeypatch):
    x, y, w, h = detect_faces(astronaut)[0].box
    face = Image.fromarray(astronaut[y : y + h, x : x + w])
    tiny = np.asarray(face.resize((20, 20), Image.Resampling.BICUBIC))
    assert upscale_factor(20, 20) == 3 and upscale_factor(25, 25) == 2 and upscale_factor(48, 300) == 1
    faces = detect_faces(tiny)
    assert len(faces) == 1
    fx, fy, fw, fh = faces[0].box  # mapped back to the 20×20 pixels: the face fills the image
    assert fx + fw <= 20 and fy + fh <= 20 and fw >= 15 and fh >= 15
    monkeypatch.setattr(faces_module, "UPSCALE_BELOW", 1)
    assert detect_faces(tiny) == []  # MTCNN on the 20×20 pixels alone misses it
