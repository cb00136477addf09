"""Deletion / insertion curves: batched stream = one copy at a time, faithful maps beat random.

The reference builds every (image, step) copy with plain Python loops (a sorted pixel list, a
mask filled pixel by pixel) and predicts it alone; the batched version must agree with it to
1e-6, including steps that do not divide H·W, tied map values, broadcast baselines and chunks
cut at any size.  On the quadrant ``region_model`` of test_explain_core (class 1 iff the blob
is there) a map of the blob and Grad-CAM must delete and insert better than random maps.
"""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

keras = pytest.importorskip("keras")
layers = keras.layers

import reportgen.explain.faithfulness as faithfulness  # noqa: E402
from reportgen.errors import AnalysisError  # noqa: E402
from reportgen.explain import (  # noqa: E402
    FaithfulnessCurves,
    blurred,
    build_probe,
    deletion_insertion,
    gradcam,
    make_predict_fn,
    random_maps,
)
from tests.test_explain_core import SIZE, region_images, region_model  # noqa: E402, F401

HEIGHT, WIDTH, CHANNELS = 7, 5, 3  # 35 pixels: steps 6 and 8 leave uneven steps, 35 one pixel each


@pytest.fixture(scope="module")
def colour_cnn():
    """A random conv → flatten → softmax model on non-square 3-channel inputs: every pixel and
    channel moves every class probability, and a transposed mask changes the answer."""
    keras.utils.set_random_seed(21)
    inputs = keras.Input((HEIGHT, WIDTH, CHANNELS))
    h = layers.Flatten()(layers.Conv2D(4, 3, activation="tanh")(inputs))
    model = keras.Model(inputs, layers.Dense(4, activation="softmax")(h))
    x = np.random.default_rng(1).uniform(-1, 1, (3, HEIGHT, WIDTH, CHANNELS)).astype(np.float32)
    return model, x


def _reference(predict, x, maps, targets, steps, deletion_baseline, insertion_baseline):
    """Curves one copy at a time: a sorted pixel list, masks filled pixel by pixel."""
    count, height, width, _ = x.shape
    removed = np.broadcast_to(deletion_baseline, x.shape)
    empty = np.broadcast_to(insertion_baseline, x.shape)
    deletion, insertion = np.zeros((count, steps + 1)), np.zeros((count, steps + 1))
    for n in range(count):
        values = maps[n].ravel().tolist()
        order = sorted(range(height * width), key=lambda i: (-values[i], i))
        for k in range(steps + 1):
            mask = np.zeros((height, width), bool)
            for i in order[:round(k * height * width / steps)]:
                mask[i // width, i % width] = True
            deleted, inserted = x[n].copy(), empty[n].copy()
            deleted[mask] = removed[n][mask]
            inserted[mask] = x[n][mask]
            deletion[n, k] = predict(deleted[None])[0, targets[n]]
            insertion[n, k] = predict(inserted[None])[0, targets[n]]
    return deletion, insertion


def _trapezoids(curves, fractions):
    return ((curves[:, 1:] + curves[:, :-1]) / 2 * np.diff(fractions)).sum(axis=1)


# --------------------------------------------------------------------------------------------
# Batched = one copy at a time
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("steps", [6, 8, 35])
@pytest.mark.parametrize("baselines", ["broadcast", "per_image"])
def test_curves_equal_a_copy_at_a_time_reference(colour_cnn, steps, baselines):
    model, x = colour_cnn
    predict = make_predict_fn(model)
    rng = np.random.default_rng(steps)
    # Signed maps with many ties (4 values over 35 pixels): the tie order must be pixel order.
    maps = rng.integers(0, 4, (len(x), HEIGHT, WIDTH)).astype(np.float32) - 1.5
    targets = np.array([0, 2, 3])
    if baselines == "broadcast":
        removed = rng.uniform(-1, 1, (HEIGHT, WIDTH, CHANNELS)).astype(np.float32)
        empty = rng.uniform(-1, 1, (1, HEIGHT, WIDTH, CHANNELS)).astype(np.float32)
    else:
        removed, empty = np.full_like(x, -1.0), blurred(x, sigma=1.5)

    curves = deletion_insertion(predict, x, maps, targets, steps=steps, deletion_baseline=removed,
                                insertion_baseline=empty, batch_size=16)
    deletion, insertion = _reference(predict, x, maps, targets, steps, removed, empty)
    assert isinstance(curves, FaithfulnessCurves)
    assert curves.deletion.shape == curves.insertion.shape == (len(x), steps + 1)
    np.testing.assert_allclose(curves.deletion, deletion, atol=1e-6)
    np.testing.assert_allclose(curves.insertion, insertion, atol=1e-6)
    counts = [round(k * HEIGHT * WIDTH / steps) for k in range(steps + 1)]
    np.testing.assert_allclose(curves.fractions, np.array(counts) / (HEIGHT * WIDTH))
    assert curves.fractions[0] == 0.0 and curves.fractions[-1] == 1.0
    np.testing.assert_allclose(curves.deletion_auc, _trapezoids(deletion, curves.fractions), atol=1e-6)
    np.testing.assert_allclose(curves.insertion_auc, _trapezoids(insertion, curves.fractions), atol=1e-6)

    # Ends: deletion starts at the image and ends at its baseline; insertion the reverse.
    rows = np.arange(len(x))
    p_x = predict(x)[rows, targets]
    np.testing.assert_allclose(curves.deletion[:, 0], p_x, atol=1e-6)
    np.testing.assert_allclose(curves.insertion[:, -1], p_x, atol=1e-6)
    p_removed = predict(np.broadcast_to(removed, x.shape).copy())[rows, targets]
    p_empty = predict(np.broadcast_to(empty, x.shape).copy())[rows, targets]
    np.testing.assert_allclose(curves.deletion[:, -1], p_removed, atol=1e-6)
    np.testing.assert_allclose(curves.insertion[:, 0], p_empty, atol=1e-6)
    # The maps' order matters: the reversed order gives other curves.
    flipped = deletion_insertion(predict, x, -maps, targets, steps=steps, deletion_baseline=removed,
                                 insertion_baseline=empty)
    assert np.abs(flipped.deletion[:, 1:-1] - curves.deletion[:, 1:-1]).max() > 1e-3


def test_chunking_does_not_change_the_curves(colour_cnn, monkeypatch):
    model, x = colour_cnn
    predict = make_predict_fn(model)
    maps = random_maps(len(x), HEIGHT, WIDTH, seed=4)
    targets = np.array([1, 1, 0])
    args = dict(steps=7, deletion_baseline=np.zeros(x.shape[1:], np.float32),
                insertion_baseline=blurred(x))
    whole = deletion_insertion(predict, x, maps, targets, **args)

    sizes = []

    def counting(batch):
        sizes.append(len(batch))
        return predict(batch)

    for batch_size in (1, 5, 13):
        sizes.clear()
        cut = deletion_insertion(counting, x, maps, targets, batch_size=batch_size, **args)
        np.testing.assert_allclose(cut.deletion, whole.deletion, atol=1e-6)
        np.testing.assert_allclose(cut.insertion, whole.insertion, atol=1e-6)
        assert max(sizes) == batch_size and sum(sizes) == 2 * len(x) * 8
    # A memory cap of three copies wins over the batch size.
    monkeypatch.setattr(faithfulness, "CHUNK_BYTES", 3 * x[0].nbytes)
    sizes.clear()
    capped = deletion_insertion(counting, x, maps, targets, batch_size=256, **args)
    assert max(sizes) == 3 and sum(sizes) == 2 * len(x) * 8
    np.testing.assert_allclose(capped.deletion, whole.deletion, atol=1e-6)
    np.testing.assert_allclose(capped.insertion, whole.insertion, atol=1e-6)


# --------------------------------------------------------------------------------------------
# Faithful maps beat random ones
# --------------------------------------------------------------------------------------------
def test_blob_map_and_gradcam_delete_and_insert_better_than_random(region_model, region_images):  # noqa: F811
    x, target = region_images, np.ones(len(region_images), np.int32)
    predict = make_predict_fn(region_model)
    args = dict(steps=16, deletion_baseline=np.zeros(x.shape[1:], np.float32),
                insertion_baseline=blurred(x))
    blob = (x[..., 0] == 1.0).astype(np.float32)  # the evidence itself
    cam = gradcam(build_probe(region_model), x, target)
    chance = deletion_insertion(predict, x, random_maps(len(x), SIZE, SIZE, seed=0), target, **args)
    for maps in (blob, cam):
        curves = deletion_insertion(predict, x, maps, target, **args)
        assert curves.deletion_auc.mean() < chance.deletion_auc.mean() - 0.05
        assert curves.insertion_auc.mean() > chance.insertion_auc.mean() + 0.1
    # Reversed, the blob map is the least faithful order of all: worse than random.
    worst = deletion_insertion(predict, x, -blob, target, **args)
    assert worst.deletion_auc.mean() > chance.deletion_auc.mean()
    assert worst.insertion_auc.mean() < chance.insertion_auc.mean()


def test_random_maps_and_blur():
    maps = random_maps(3, 4, 6, seed=7)
    assert maps.shape == (3, 4, 6) and maps.dtype == np.float32
    assert np.array_equal(maps, random_maps(3, 4, 6, seed=7))
    assert not np.array_equal(maps, random_maps(3, 4, 6, seed=8))
    assert 0.0 <= maps.min() and maps.max() < 1.0

    from scipy.ndimage import gaussian_filter

    x = np.random.default_rng(2).uniform(-1, 1, (2, 16, 8, 2)).astype(np.float32)
    smooth = blurred(x)  # σ = max(16, 8) / 8 = 2 px, each image and channel on its own
    for n in range(2):
        for c in range(2):
            expected = gaussian_filter(x[n, :, :, c].astype(np.float64), 2.0, mode="nearest")
            np.testing.assert_allclose(smooth[n, :, :, c], expected, atol=1e-5)
    assert np.array_equal(blurred(x, sigma=0), x)


# --------------------------------------------------------------------------------------------
# Bad inputs
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("change, message", [
    (dict(x=np.zeros((HEIGHT, WIDTH, CHANNELS))), "expected (N, height, width, channels)"),
    (dict(maps=np.zeros((3, WIDTH, HEIGHT))), "one map per image"),
    (dict(maps=np.zeros((2, HEIGHT, WIDTH))), "one map per image"),
    (dict(maps=np.full((3, HEIGHT, WIDTH), np.nan)), "NaN"),
    (dict(targets=np.array([0, 1])), "class_index has 2 entries for 3 images"),
    (dict(targets=np.array([0, 1, 4])), "0..3"),
    (dict(deletion_baseline=np.zeros((HEIGHT, WIDTH))), "deletion_baseline has shape"),
    (dict(insertion_baseline=np.zeros((2, HEIGHT, WIDTH, CHANNELS))), "insertion_baseline has shape"),
    (dict(steps=0), "steps must be an integer"),
    (dict(steps=2.5), "steps must be an integer"),
    (dict(batch_size=0), "batch_size must be at least 1"),
])
def test_bad_shapes_raise_analysis_errors(colour_cnn, change, message):
    model, x = colour_cnn
    args = dict(x=x, maps=np.zeros((3, HEIGHT, WIDTH)), targets=np.array([0, 1, 2]),
                deletion_baseline=np.zeros(x.shape[1:]), insertion_baseline=np.zeros(x.shape[1:]),
                steps=5, batch_size=8)
    args.update(change)
    with pytest.raises(AnalysisError, match=re.escape(message)):
        deletion_insertion(make_predict_fn(model), **args)


def test_bad_predict_output_and_blur_input_raise():
    x = np.zeros((2, 4, 4, 1), np.float32)
    with pytest.raises(AnalysisError, match="predict returned shape"):
        deletion_insertion(lambda b: np.zeros(len(b)), x, np.zeros((2, 4, 4)), 0, steps=2,
                           deletion_baseline=x[0], insertion_baseline=x[0])
    with pytest.raises(AnalysisError, match="expected"):
        blurred(np.zeros((4, 4, 1)))
    with pytest.raises(AnalysisError, match="sigma"):
        blurred(x, sigma=-1)
