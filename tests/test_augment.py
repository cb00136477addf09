"""Augmentation layers: which layers a spec gives, and RandomAffine's geometry checked against
NumPy (a quarter turn is np.rot90, a whole-pixel shift is a shift with the edge repeated)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reportgen.config.schema import AugmentationSpec
from reportgen.run.augment import augmentation_layers, random_affine

IMAGES = np.random.default_rng(0).integers(0, 256, (3, 9, 9, 2)).astype(np.float32)


def _transform(params) -> np.ndarray:
    layer = random_affine(rotation=0.1, seed=1)
    return np.asarray(layer.transform(IMAGES, np.asarray(params, np.float32)))


def test_none_when_disabled():
    assert augmentation_layers(AugmentationSpec(), seed=1) is None
    assert augmentation_layers(None, seed=1) is None


def test_layers_for_a_spec():
    rotate = augmentation_layers(AugmentationSpec(rotation=0.2), seed=3)
    assert [layer.name for layer in rotate.layers] == ["affine"]
    every = augmentation_layers(
        AugmentationSpec(horizontal_flip=True, rotation=0.1, translation=0.1, zoom=0.1, contrast=0.3), seed=3)
    assert [layer.name for layer in every.layers] == ["flip", "affine", "contrast"]
    affine = every.get_layer("affine")
    assert (affine.rotation, affine.translation, affine.zoom) == (0.1, 0.1, 0.1)
    assert every.get_layer("contrast").value_range == (0, 255)
    z = np.asarray(every(IMAGES, training=True))
    assert z.shape == IMAGES.shape and 0 <= z.min() and z.max() <= 255
    np.testing.assert_array_equal(np.asarray(every(IMAGES, training=False)), IMAGES)


def test_quarter_turn_is_rot90_counter_clockwise():
    out = _transform([[math.pi / 2, 0, 0, 1], [-math.pi / 2, 0, 0, 1], [0, 0, 0, 1]])
    np.testing.assert_allclose(out[0], np.rot90(IMAGES[0], 1), atol=1e-3)
    np.testing.assert_allclose(out[1], np.rot90(IMAGES[1], -1), atol=1e-3)
    np.testing.assert_allclose(out[2], IMAGES[2], atol=1e-4)


def test_whole_pixel_shift_repeats_the_edge():
    out = _transform([[0, 2 / 9, 0, 1], [0, 0, -1 / 9, 1], [0, 0, 0, 1]])
    # Output x reads input x + 2: the picture moves 2 pixels left, the right edge repeats.
    np.testing.assert_allclose(out[0][:, :7], IMAGES[0][:, 2:], atol=1e-4)
    np.testing.assert_allclose(out[0][:, 7:], np.repeat(IMAGES[0][:, 8:9], 2, axis=1), atol=1e-4)
    np.testing.assert_allclose(out[1][1:], IMAGES[1][:8], atol=1e-4)
    np.testing.assert_allclose(out[1][0], IMAGES[1][0], atol=1e-4)


def test_zoom_scales_about_the_centre():
    # Scale 0.5: output pixel p reads input c + (p − c)/2, so the centre pixel stays and the
    # pixel two steps right of it shows the input one step right.
    out = _transform([[0, 0, 0, 0.5], [0, 0, 0, 1], [0, 0, 0, 1]])
    np.testing.assert_allclose(out[0][4, 4], IMAGES[0][4, 4], atol=1e-4)
    np.testing.assert_allclose(out[0][4, 6], IMAGES[0][4, 5], atol=1e-4)
    np.testing.assert_allclose(out[0][4, 5], (IMAGES[0][4, 4] + IMAGES[0][4, 5]) / 2, atol=1e-3)


def test_random_draws_per_image_within_bounds_and_seeded():
    layer = random_affine(rotation=0.05, translation=0.1, zoom=0.2, seed=5)
    params = np.asarray(layer.sample(2000))
    angle, shift_x, shift_y, scale = params.T
    assert np.abs(angle).max() <= 0.05 * 2 * math.pi and np.abs(angle).max() > 0.9 * 0.05 * 2 * math.pi
    assert np.abs(shift_x).max() <= 0.1 and np.abs(shift_y).max() <= 0.1
    assert scale.min() >= 0.8 and scale.max() <= 1.2
    assert abs(np.corrcoef(shift_x, shift_y)[0, 1]) < 0.1  # independent draws
    again = random_affine(rotation=0.05, translation=0.1, zoom=0.2, seed=5)
    np.testing.assert_array_equal(np.asarray(again.sample(2000)), params)
    assert not np.array_equal(np.asarray(layer.sample(2000)), params)  # the stream moves on


@pytest.mark.parametrize("channels", [1, 3])
def test_in_a_tf_data_map(channels):
    import tensorflow as tf

    layer = augmentation_layers(AugmentationSpec(rotation=0.25, contrast=0.5), seed=7)
    x = np.random.default_rng(2).integers(0, 256, (4, 12, 12, channels)).astype(np.uint8)
    ds = tf.data.Dataset.from_tensor_slices(x).batch(2)
    ds = ds.map(lambda b: layer(tf.cast(b, tf.float32), training=True))
    out = np.concatenate([np.asarray(b) for b in ds])
    assert out.shape == x.shape and out.dtype == np.float32
    assert not np.allclose(out, x)
