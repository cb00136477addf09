"""Score-CAM, Guided Backprop and Guided Grad-CAM on tiny hand-built models.

Each expected answer comes from an independent computation: a numpy guided backward pass
through a nested MLP, and a Score-CAM written the slow way (one eager forward pass per channel).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

keras = pytest.importorskip("keras")
layers = keras.layers

from reportgen.explain import (  # noqa: E402
    build_probe,
    input_gradients,
    logits_model,
    randomized_copy,
    rank_correlation,
    region_mass,
)
from reportgen.explain.guided_maps import guided_backprop, guided_coverage, guided_gradcam  # noqa: E402
from reportgen.explain.scorecam_maps import scorecam  # noqa: E402
from tests.test_explain_core import TOP_RIGHT, region_images, region_model  # noqa: E402, F401


def _nested_relu_mlp():
    """Input → backbone(ReLU on the input, Dense relu, Dense → ReLU(), Dense → Activation relu)
    → Dense softmax: the three covered ReLU forms inside a nested model, plus one tanh."""
    keras.utils.set_random_seed(7)
    backbone = keras.Sequential([
        keras.Input((4, 4, 2)), layers.Flatten(), layers.Activation("relu", name="input_relu"),
        layers.Dense(16, activation="relu", name="dense_relu"),
        layers.Dense(12, name="d2"), layers.ReLU(name="relu_layer"),
        layers.Dense(10, name="d3"), layers.Activation("relu", name="act_relu"),
        layers.Dense(8, activation="tanh", name="d4"),
    ], name="backbone")
    inputs = keras.Input((4, 4, 2))
    outputs = layers.Dense(3, activation="softmax", name="predictions")(backbone(inputs))
    return keras.Model(inputs, outputs, name="nested_mlp")


def _guided_reference(model, x, c):
    """Guided backprop by hand in numpy: forward, then backward with both ReLU masks."""
    backbone = model.get_layer("backbone")
    (w1, b1), (w2, b2), (w3, b3), (w4, b4) = (backbone.get_layer(n).get_weights()
                                              for n in ("dense_relu", "d2", "d3", "d4"))
    w5, _ = model.get_layer("predictions").get_weights()
    flat = x.reshape(len(x), -1).astype(np.float64)
    pre = [flat]
    a = np.maximum(flat, 0)
    for w, b in ((w1, b1), (w2, b2), (w3, b3)):
        z = a @ w + b
        pre.append(z)
        a = np.maximum(z, 0)
    t = np.tanh(a @ w4 + b4)
    g = w5[:, c].T * (1 - t**2)  # d logit_c / d (d4 pre-activation)
    g = g @ w4.T
    for z, w in ((pre[3], w3), (pre[2], w2), (pre[1], w1)):
        g = np.where((z > 0) & (g > 0), g, 0.0) @ w.T
    g = np.where((pre[0] > 0) & (g > 0), g, 0.0)
    return g.reshape(x.shape)


def _state(model):
    return ([w.copy() for w in model.get_weights()],
            [(layer.name, layer.__dict__.get("activation"), "call" in layer.__dict__)
             for layer in model.get_layer("backbone").layers])


def test_guided_backprop_matches_a_numpy_backward_pass_and_leaves_the_model_alone():
    model = _nested_relu_mlp()
    x = np.random.default_rng(0).uniform(-1, 1, (6, 4, 4, 2)).astype(np.float32)
    c = np.array([0, 1, 2, 0, 1, 2], np.int32)
    before_weights, before_layers = _state(model)
    before = np.asarray(model(x))

    guided = guided_backprop(model, x, c, batch_size=4)  # 2 chunks, the last padded
    np.testing.assert_allclose(guided, _guided_reference(model, x, c), rtol=1e-4, atol=1e-6)
    plain = input_gradients(logits_model(model), x, c)
    # The leading ReLU on the input: guided gradients are ≥ 0 and vanish where x ≤ 0, while the
    # plain gradient there is nonzero and takes both signs.
    assert guided.min() >= 0.0 and not guided[x <= 0].any()
    assert plain.min() < 0.0 and not np.allclose(guided, plain, atol=1e-3)
    assert guided_coverage(model).guided == ("backbone/input_relu", "backbone/dense_relu",
                                             "backbone/relu_layer", "backbone/act_relu")
    assert guided_coverage(model).left_as_is == ("backbone/d4",)

    after_weights, after_layers = _state(model)
    assert after_layers == before_layers
    assert all(np.array_equal(a, b) for a, b in zip(before_weights, after_weights))
    np.testing.assert_array_equal(np.asarray(model(x)), before)
    np.testing.assert_allclose(input_gradients(logits_model(model), x, c), plain, atol=1e-6)


class _Tripwire(layers.Layer):
    """Identity until armed; then fails, as a layer might while the guided graph is traced."""

    armed = False

    def call(self, inputs):
        if _Tripwire.armed:
            raise RuntimeError("tripwire")
        return inputs


def test_relus_are_restored_when_tracing_fails():
    inputs = keras.Input((2, 2, 1))
    h = layers.Dense(4, activation="relu", name="dense_relu")(layers.Flatten()(inputs))
    h = _Tripwire()(layers.ReLU(name="relu_layer")(h))
    model = keras.Model(inputs, layers.Dense(2, activation="softmax")(h))
    relu = model.get_layer("dense_relu").activation
    x = np.ones((2, 2, 2, 1), np.float32)
    _Tripwire.armed = True
    try:
        with pytest.raises(Exception, match="tripwire"):
            guided_backprop(model, x, 0)
    finally:
        _Tripwire.armed = False
    assert model.get_layer("dense_relu").activation is relu
    assert "call" not in model.get_layer("relu_layer").__dict__
    assert guided_backprop(model, x, 0).shape == x.shape  # traces again, now cleanly


@pytest.mark.parametrize("method", ["scorecam", "guided_gradcam"])
def test_maps_put_their_mass_on_the_top_right_blob(method, region_model, region_images):  # noqa: F811
    fn = scorecam if method == "scorecam" else guided_gradcam
    probe, target = build_probe(region_model), np.ones(len(region_images), np.int32)
    maps = fn(probe, region_images, target)
    assert maps.shape == region_images.shape[:3] and maps.min() >= 0.0
    assert np.allclose(maps.max(axis=(1, 2)), 1.0)
    assert region_mass(maps, TOP_RIGHT).min() >= 0.7
    assert region_mass(maps.transpose(0, 2, 1), TOP_RIGHT).max() < 0.7

    # Model randomisation (Adebayo et al. 2018): the maps of a re-initialised copy (seed 0
    # gives nonzero maps for both methods) must not rank pixels the same way.
    random_maps = fn(build_probe(randomized_copy(region_model, seed=0)), region_images, target)
    assert random_maps.max(axis=(1, 2)).min() > 0.0
    agreement = [rank_correlation(a, b) for a, b in zip(maps, random_maps)]
    assert np.mean(agreement) < 0.5, agreement


def _scorecam_one_channel_per_call(model, layer, x, c, baseline):
    """Score-CAM written the slow way: an eager forward pass per image and channel."""
    import tensorflow as tf

    height, width = x.shape[1:3]
    acts = np.asarray(keras.Model(model.inputs[0], model.get_layer(layer).output)(x))
    maps = []
    for image, a, target in zip(x, acts, c):
        zero = float(model(np.zeros_like(image)[None])[0, target]) if baseline else 0.0
        weights = []
        for k in range(a.shape[-1]):
            up = np.asarray(tf.image.resize(a[None, :, :, k:k + 1], (height, width)))[0, :, :, 0]
            span = up.max() - up.min()
            mask = (up - up.min()) / span if span > 0 else np.zeros_like(up)
            weights.append(float(model((image * mask[..., None])[None])[0, target]) - zero)
        cam = np.maximum((a * np.array(weights)).sum(-1), 0)
        cam = np.asarray(tf.image.resize(cam[None, :, :, None], (height, width)))[0, :, :, 0]
        maps.append(cam / cam.max() if cam.max() > 0 else cam)
    return np.stack(maps)


@pytest.mark.parametrize("baseline", [False, True])
def test_batched_scorecam_equals_one_channel_per_call(baseline):
    keras.utils.set_random_seed(2)
    inputs = keras.Input((10, 10, 2))
    h = layers.Conv2D(5, 3, activation="relu")(inputs)
    h = layers.Conv2D(4, 3, padding="same", activation="relu", name="target")(h)
    model = keras.Model(inputs, layers.Dense(3, activation="softmax")(layers.GlobalAveragePooling2D()(h)))
    x = np.random.default_rng(1).uniform(0, 1, (5, 10, 10, 2)).astype(np.float32)
    c = np.array([0, 1, 2, 1, 0], np.int32)
    # 20 (image, channel) pairs in batches of 8: chunks cross image boundaries, the last padded.
    maps = scorecam(build_probe(model, "target"), x, c, baseline=baseline, batch_size=8)
    expected = _scorecam_one_channel_per_call(model, "target", x, c, baseline)
    assert maps.max() > 0
    np.testing.assert_allclose(maps, expected, atol=1e-5)
