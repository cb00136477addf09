"""Integrated Gradients and RISE: completeness, location, sanity check, batched = one at a time.

Tiny hand-built models (the quadrant ``region_model`` of test_explain_core and a random tanh
CNN with a hand-made logits twin), so every expected answer comes from an independent
computation: the logit difference for completeness, a per-image per-step compiled gradient for
IG, ``tf.image.resize`` for RISE's masks and a one-mask-at-a-time loop for its saliency.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

keras = pytest.importorskip("keras")
layers = keras.layers

from reportgen.errors import AnalysisError  # noqa: E402
from reportgen.explain import (  # noqa: E402
    build_probe,
    make_predict_fn,
    randomized_copy,
    rank_correlation,
    region_mass,
)
from reportgen.explain.integrated_gradients import (  # noqa: E402
    ig_baseline,
    integrated_gradients,
    path_alphas,
)
from reportgen.explain.rise_maps import rise, rise_masks  # noqa: E402
from tests.test_explain_core import TOP_RIGHT, region_images, region_model  # noqa: E402, F401


def _pixels_to_inputs(pixels):
    return np.asarray(pixels, np.float32) / 127.5 - 1.0


@pytest.fixture(scope="module")
def tanh_cnn():
    """A random smooth conv → flatten → softmax model and its hand-made logits twin."""
    keras.utils.set_random_seed(13)
    inputs = keras.Input((8, 8, 2))
    h = layers.Flatten()(layers.Conv2D(4, 3, activation="tanh", name="conv")(inputs))
    head = layers.Dense(3, activation="softmax", name="predictions")
    model = keras.Model(inputs, head(h))
    linear = layers.Dense(3, name="linear")
    logits = keras.Model(inputs, linear(h))
    linear.set_weights(head.get_weights())
    x = np.random.default_rng(0).uniform(-1, 1, (3, 8, 8, 2)).astype(np.float32)
    return model, logits, x


# --------------------------------------------------------------------------------------------
# Integrated Gradients
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("baseline", ["black", "blurred", "noise", "array"])
def test_ig_attributions_sum_to_the_logit_difference(tanh_cnn, baseline):
    model, logits, x = tanh_cnn
    target = np.array([0, 2, 1])
    if baseline == "array":
        baseline = np.full((8, 8, 2), 0.3, np.float32)
    base = ig_baseline(x, baseline, _pixels_to_inputs, seed=4)
    attributions, maps = integrated_gradients(model, x, target, baseline=baseline, steps=128,
                                              seed=4, preprocess=_pixels_to_inputs)
    rows = np.arange(len(x))
    gap = np.asarray(logits(x))[rows, target] - np.asarray(logits(base))[rows, target]
    assert np.abs(gap).min() > 0.05  # the check is not vacuous
    np.testing.assert_allclose(attributions.sum(axis=(1, 2, 3)), gap, rtol=0.01)
    # Two midpoints are far off the integral: the quadrature is really being tested.
    coarse, _ = integrated_gradients(model, x, target, baseline=baseline, steps=1, seed=4,
                                     preprocess=_pixels_to_inputs)
    assert np.abs(coarse.sum(axis=(1, 2, 3)) - gap).max() > 0.01 * np.abs(gap).max()
    assert maps.shape == (3, 8, 8) and np.allclose(np.abs(maps).max(axis=(1, 2)), 1.0)
    np.testing.assert_allclose(maps * np.abs(attributions.sum(-1)).max(axis=(1, 2))[:, None, None],
                               attributions.sum(-1), atol=1e-6)


def test_ig_baselines_in_model_input_units(tanh_cnn):
    x = tanh_cnn[2]
    np.testing.assert_array_equal(ig_baseline(x, "black", _pixels_to_inputs), np.full_like(x, -1.0))
    noise = ig_baseline(x, "noise", seed=1)
    assert (noise >= x.min(axis=(1, 2, 3))[:, None, None, None]).all()
    np.testing.assert_array_equal(noise, ig_baseline(x, "noise", seed=1))
    assert not np.array_equal(noise, ig_baseline(x, "noise", seed=2))
    blurred = ig_baseline(x, "blurred", blur_sigma=100.0)  # ~ each channel's mean everywhere
    assert np.ptp(blurred, axis=(1, 2)).max() < 0.1 * np.ptp(x, axis=(1, 2)).min()
    with pytest.raises(AnalysisError, match="needs preprocess"):
        ig_baseline(x, "black")
    with pytest.raises(AnalysisError, match="unknown baseline"):
        ig_baseline(x, "white")
    np.testing.assert_allclose(path_alphas(4), [0.125, 0.375, 0.625, 0.875])


def test_batched_ig_equals_one_image_one_step_at_a_time(tanh_cnn):
    """Reference: the hand-made logits twin, one compiled gradient call per image and step."""
    import tensorflow as tf

    model, logits, x = tanh_cnn
    target, steps = np.array([1, 0, 2]), 7
    base = np.random.default_rng(8).uniform(-1, 1, x.shape).astype(np.float32)

    @tf.function
    def gradient(point, c):
        with tf.GradientTape() as tape:
            tape.watch(point)
            score = logits(point, training=False)[0, c]
        return tape.gradient(score, point)

    expected = np.zeros_like(x, dtype=np.float64)
    for n in range(len(x)):
        for k in range(steps):
            point = base[n:n + 1] + (k + 0.5) / steps * (x[n:n + 1] - base[n:n + 1])
            expected[n] += np.asarray(gradient(tf.constant(point), tf.constant(target[n])))[0]
    expected *= (x - base) / steps
    # batch_size 4: chunks of 4 path points straddle images.
    batched, _ = integrated_gradients(model, x, target, baseline=base, steps=steps, batch_size=4)
    np.testing.assert_allclose(batched, expected, rtol=1e-4, atol=1e-6)
    via_probe, _ = integrated_gradients(build_probe(model), x, target, baseline=base, steps=steps)
    np.testing.assert_allclose(via_probe, expected, rtol=1e-4, atol=1e-6)


# --------------------------------------------------------------------------------------------
# RISE
# --------------------------------------------------------------------------------------------
def test_rise_masks_are_the_papers_upsampled_shifted_grids():
    import tensorflow as tf

    count, height, width, cells, p, seed = 6, 20, 13, 4, 0.5, 3
    masks = rise_masks(count, height, width, cells, p, seed)
    # The documented streams: grids from the first spawned seed, shifts from the second.
    grid_seed, shift_seed = np.random.SeedSequence(seed).spawn(2)
    grids = (np.random.default_rng(grid_seed).random((count, cells, cells)) < p).astype(np.float32)
    cell_h, cell_w = 5, 4  # ⌈20/4⌉, ⌈13/4⌉
    shifts = np.random.default_rng(shift_seed).integers(0, (cell_h, cell_w), size=(count, 2))
    up = tf.image.resize(grids[..., None], ((cells + 1) * cell_h, (cells + 1) * cell_w),
                         method="bilinear").numpy()[..., 0]
    expected = np.stack([u[r:r + height, c:c + width] for u, (r, c) in zip(up, shifts)])
    np.testing.assert_allclose(masks, expected, atol=1e-6)
    assert masks.min() >= 0.0 and masks.max() <= 1.0 and 0.2 < masks.mean() < 0.8
    np.testing.assert_array_equal(rise_masks(3, height, width, cells, p, seed), masks[:3])


def test_raw_rise_equals_one_mask_at_a_time(tanh_cnn):
    model, _, x = tanh_cnn
    target, count, fill = np.array([2, 0, 1]), 40, 0.25
    predict = make_predict_fn(model)
    masks = rise_masks(count, 8, 8, cells=3, p=0.4, seed=5)
    expected = np.zeros((3, 8, 8))
    for m in masks:
        for n in range(3):
            masked = x[n] * m[..., None] + fill * (1 - m[..., None])
            expected[n] += predict(masked[None])[0, target[n]] * m
    expected /= count * 0.4
    got = rise(predict, x, target, masks=count, cells=3, p=0.4, seed=5, fill=fill, raw=True)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    centred = rise(model, x, target, masks=count, cells=3, p=0.4, seed=5, fill=fill)
    mean_score = np.array([np.mean([predict((x[n] * m[..., None] + fill * (1 - m[..., None]))[None])
                                    [0, target[n]] for m in masks]) for n in range(3)])
    shifted = expected - mean_score[:, None, None] * masks.sum(0) / (count * 0.4)
    np.testing.assert_allclose(centred, shifted / np.abs(shifted).max(axis=(1, 2), keepdims=True),
                               atol=1e-5)


def test_rise_is_reproducible_with_its_seed(region_model, region_images):  # noqa: F811
    x, target = region_images[:2], np.ones(2, np.int32)
    first = rise(region_model, x, target, masks=200, seed=7)
    np.testing.assert_array_equal(first, rise(region_model, x, target, masks=200, seed=7))
    assert not np.allclose(first, rise(region_model, x, target, masks=200, seed=8))


# --------------------------------------------------------------------------------------------
# Both methods on the quadrant model: location and the randomisation sanity check
# --------------------------------------------------------------------------------------------
def _maps(method, model, x, target):
    if method == "ig":
        return integrated_gradients(model, x, target, preprocess=lambda p: p / 255.0)[1]
    return rise(model, x, target, masks=1000, seed=0)


@pytest.mark.parametrize("method", ["ig", "rise"])
def test_maps_find_the_blob_and_change_with_random_weights(method, region_model, region_images):  # noqa: F811
    x, target = region_images, np.ones(len(region_images), np.int32)
    maps = _maps(method, region_model, x, target)
    assert maps.shape == (len(x), 16, 16) and np.isfinite(maps).all()
    share = region_mass(maps, TOP_RIGHT)
    assert share.min() >= 0.7, share
    assert region_mass(maps.transpose(0, 2, 1), TOP_RIGHT).max() < 0.7
    random_maps = _maps(method, randomized_copy(region_model, seed=0), x, target)
    rho = [rank_correlation(a, b) for a, b in zip(maps, random_maps)]
    assert np.mean(rho) < 0.5, rho
