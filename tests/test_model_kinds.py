"""Model kinds beyond the basics: every keras.applications name with options, ImageNet file
names as Keras asks for them, weight-file headers, include_top class names, python builders,
honest load errors for TF-Keras 2 files."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from reportgen.config.models import APPLICATIONS, ApplicationModel, FileModel, PythonModel
from reportgen.errors import ModelError
from reportgen.run import models
from reportgen.run.models.application import requested_weights
from reportgen.run.models.file import TF_KERAS2_HINT

keras = pytest.importorskip("keras")


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    home = tmp_path / "keras_home"
    (home / "models").mkdir(parents=True)
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


def app(architecture: str, **kwargs) -> ApplicationModel:
    return ApplicationModel(name="a", kind="application", architecture=architecture, **kwargs)


# --------------------------------------------------------------------------- the name list
def test_static_architecture_list_is_what_keras_exports():
    exported = sorted(n for n in dir(keras.applications) if n[0].isupper()
                      and callable(getattr(keras.applications, n)))
    assert sorted(APPLICATIONS) == exported


@pytest.mark.parametrize("name, suggestion", [("MobilNet", "MobileNet"), ("resnet50", "ResNet50"),
                                              ("EfficientNetV2b0", "EfficientNetV2B0")])
def test_unknown_architecture_suggests_close_names(name, suggestion):
    with pytest.raises(ValidationError) as info:
        app(name)
    message = str(info.value)
    assert f"unknown keras.applications architecture {name!r}" in message
    assert "did you mean" in message and suggestion in message.split("did you mean")[1].split("?")[0]


def test_reserved_options_are_refused():
    with pytest.raises(ValidationError, match="include_top cannot be given in options"):
        app("MobileNet", options={"include_top": True})


# --------------------------------------------------------------------------------- options
def test_options_reach_the_constructor(keras_home):
    spec = app("MobileNet", input_shape=(32, 32, 3), weights="none", options={"alpha": 0.25}, dropout=0.0)
    assert models.check_model(spec, Path(".")) == []
    model = models.build_model(spec, 3, Path("."))
    reference = keras.applications.MobileNet(alpha=0.25, include_top=False, weights=None,
                                             input_shape=(32, 32, 3))
    assert model.get_layer("backbone").count_params() == reference.count_params()
    full = keras.applications.MobileNet(include_top=False, weights=None, input_shape=(32, 32, 3))
    assert reference.count_params() < full.count_params() / 4


def test_unknown_option_names_the_field_and_what_is_accepted(keras_home):
    spec = app("MobileNet", input_shape=(32, 32, 3), weights="none", options={"alphaa": 0.5})
    problems = models.check_model(spec, Path("."))
    assert len(problems) == 1 and problems[0].startswith("options: keras.applications.MobileNet takes "
                                                         "no option 'alphaa'; it takes ")
    assert "alpha" in problems[0] and "depth_multiplier" in problems[0]
    with pytest.raises(ModelError, match="takes no option 'alphaa'"):
        models.build_model(spec, 3, Path("."))


def test_option_keras_refuses_with_imagenet_is_a_validate_problem(keras_home):
    # Keras has no ImageNet MobileNet for alpha 0.3; validate says so before any build.
    spec = app("MobileNet", input_shape=(128, 128, 3), options={"alpha": 0.3})
    problems = models.check_model(spec, Path("."))
    assert len(problems) == 1 and problems[0].startswith("options: keras.applications.MobileNet(alpha=0.3)")
    assert "alpha can be one of" in problems[0]


# ------------------------------------------------------------------- ImageNet weight names
FAST_NAMES = [
    ("MobileNet", (128, 128, 3), False, {"alpha": 0.5}),
    ("MobileNet", (100, 100, 3), True, {}),
    ("MobileNetV2", (96, 96, 3), False, {"alpha": 0.35}),
    ("MobileNetV3Small", (32, 32, 3), False, {"minimalistic": True}),
    ("MobileNetV3Large", (32, 32, 3), True, {"alpha": 0.75}),
    ("NASNetMobile", (32, 32, 3), False, {}),
    ("EfficientNetV2B0", (32, 32, 3), False, {}),
    ("DenseNet121", (32, 32, 3), False, {}),
    ("ResNet50V2", (32, 32, 3), False, {}),
    ("Xception", (71, 71, 3), False, {}),
]


_ASKED: dict[tuple, tuple[str, str]] = {}
"""What Keras asked for, by (architecture, shape, include_top, options): a case both weight-name
tests check constructs its network once (2–10 s each)."""


def _names_agree(architecture, shape, include_top, options):
    spec = app(architecture, input_shape=shape, include_top=include_top, options=options)
    ours = models.imagenet_weights_file(architecture, shape, include_top, options)
    key = (architecture, tuple(shape), include_top, tuple(sorted(options.items())))
    if key not in _ASKED:
        _ASKED[key] = requested_weights(spec)
    assert _ASKED[key] == ours


@pytest.mark.filterwarnings("ignore:`input_shape` is undefined or non-square")
@pytest.mark.parametrize("architecture, shape, include_top, options", FAST_NAMES)
def test_weight_file_rules_match_what_keras_asks_for(keras_home, architecture, shape, include_top, options):
    if include_top and architecture.startswith("MobileNetV3"):
        shape = (224, 224, 3)
    if include_top and architecture == "MobileNet":
        shape = (224, 224, 3)
    _names_agree(architecture, shape, include_top, options)


LARGE_SIBLINGS = {"EfficientNetB4", "EfficientNetB5", "EfficientNetB6", "EfficientNetB7",
                  "EfficientNetV2M", "EfficientNetV2L", "ConvNeXtXLarge", "ResNet152V2", "DenseNet201",
                  "NASNetLarge"}
"""The largest variants take 4–10 s each to construct (about 65 s together); their file names
follow the same rule as their smaller siblings checked here (measured once: all 40 agree)."""


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:`input_shape` is undefined or non-square")
@pytest.mark.parametrize("architecture", [a for a in APPLICATIONS if a not in LARGE_SIBLINGS])
def test_every_architecture_weight_file_name(keras_home, architecture):
    """No-top names for every architecture family and size but the largest, at the smallest
    input each accepts."""
    size = {"Xception": 71, "InceptionV3": 75, "InceptionResNetV2": 75}.get(architecture, 32)
    _names_agree(architecture, (size, size, 3), False, {})


def test_missing_weights_of_a_new_architecture_name_file_and_url(keras_home):
    spec = app("ConvNeXtTiny", input_shape=(32, 32, 3))
    problems = models.check_model(spec, Path("."))
    expected = keras_home.absolute() / "models" / "convnext_tiny_notop.h5"
    assert len(problems) == 1 and f"expected {expected} " in problems[0]
    assert "https://storage.googleapis.com/tensorflow/keras-applications/convnext/convnext_tiny_notop.h5" \
        in problems[0]


@pytest.mark.parametrize("architecture", ["Xception", "ConvNeXtTiny", "MobileNet", "DenseNet121",
                                          "InceptionV3", "NASNetMobile"])
def test_preprocess_is_the_architectures_own(architecture):
    module = {"ConvNeXtTiny": "convnext", "DenseNet121": "densenet", "InceptionV3": "inception_v3",
              "NASNetMobile": "nasnet"}.get(architecture, architecture.lower())
    x = np.random.default_rng(0).integers(0, 256, (2, 4, 4, 3)).astype(np.uint8)
    ours = models.preprocess_function(app(architecture))(x)
    theirs = importlib.import_module(f"keras.applications.{module}").preprocess_input(x.astype(np.float32))
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


# ---------------------------------------------------------------- weights_file header check
@pytest.fixture(scope="module")
def small_weights(tmp_path_factory):
    """MobileNet (alpha 0.25) and MobileNetV2 at 32×32, saved by Keras 3's save_weights."""
    folder = tmp_path_factory.mktemp("weights")
    v1 = keras.applications.MobileNet(alpha=0.25, include_top=False, weights=None, input_shape=(32, 32, 3))
    v2 = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(32, 32, 3))
    v1.save_weights(folder / "mobilenet_025.weights.h5")
    v2.save_weights(folder / "mobilenet_v2.weights.h5")
    return folder, v1, v2


def test_matching_weights_file_passes_and_loads(small_weights, keras_home):
    folder, v1, _ = small_weights
    spec = app("MobileNet", input_shape=(32, 32, 3), options={"alpha": 0.25},
               weights_file=Path("mobilenet_025.weights.h5"))
    assert models.check_model(spec, folder) == []
    backbone = models.build_model(spec, 2, folder).get_layer("backbone")
    for a, b in zip(v1.get_weights(), backbone.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_weights_file_of_another_architecture_is_refused(small_weights, keras_home):
    folder, _, _ = small_weights
    spec = app("MobileNet", input_shape=(32, 32, 3), options={"alpha": 0.25},
               weights_file=Path("mobilenet_v2.weights.h5"))
    problems = models.check_model(spec, folder)
    path = (folder / "mobilenet_v2.weights.h5").absolute()
    assert len(problems) == 1 and problems[0].startswith(f"weights_file: {path} holds ")
    # The file's network is recognised from its weight count; the manifest's is named as given.
    assert "keras.applications.MobileNetV2 weights (260 weight tensors" in problems[0]
    assert "not MobileNet(alpha=0.25)'s" in problems[0]
    with pytest.raises(ModelError) as info:
        models.build_model(spec, 2, folder)
    assert problems[0] in str(info.value)

    other = app("MobileNetV2", input_shape=(32, 32, 3), weights_file=Path("mobilenet_025.weights.h5"))
    problems = models.check_model(other, folder)
    assert len(problems) == 1 and "mobilenet_025.weights.h5 holds weights of another network" in problems[0]
    assert "not MobileNetV2's (260 tensors, 2,257,984 parameters)" in problems[0]


def test_not_a_weight_file(tmp_path, keras_home):
    (tmp_path / "w.h5").write_bytes(b"plain text")
    spec = app("MobileNet", input_shape=(32, 32, 3), options={"alpha": 0.25}, weights_file=Path("w.h5"))
    problems = models.check_model(spec, tmp_path)
    assert len(problems) == 1 and "is not a Keras weight file" in problems[0]


# ----------------------------------------------------------------------------- include_top
def _class_index(path: Path) -> list[str]:
    names = [f"class_{i}" for i in range(1000)]
    names[235], names[292], names[191] = "German_shepherd", "tiger", "Airedale"
    path.write_text(json.dumps({str(i): [f"n{i:08d}", n] for i, n in enumerate(names)}), encoding="utf-8")
    return names


def test_include_top_keeps_the_imagenet_classifier_and_names_its_classes(tmp_path, keras_home):
    reference = keras.applications.MobileNet(alpha=0.25, include_top=True, weights=None,
                                             input_shape=(128, 128, 3))
    reference.save_weights(tmp_path / "top.weights.h5")
    spec = app("MobileNet", input_shape=(128, 128, 3), options={"alpha": 0.25}, include_top=True,
               weights_file=Path("top.weights.h5"))
    index = keras_home / "models" / "imagenet_class_index.json"
    problems = models.check_model(spec, tmp_path)
    assert len(problems) == 1 and problems[0].startswith(
        f"class_index_file: ImageNet class index not found: expected {index.absolute()} ")
    assert models.imagenet.CLASS_INDEX_URL in problems[0]
    assert models.imagenet.CLASS_INDEX_URL.endswith("download.tensorflow.org/data/imagenet_class_index.json")
    with pytest.raises(ModelError, match="imagenet_class_index.json"):
        models.model_classes(spec, tmp_path)

    names = _class_index(index)
    assert models.check_model(spec, tmp_path) == []
    assert models.model_classes(spec, tmp_path) == names
    assert models.model_classes(app("MobileNet"), tmp_path) is None
    model = models.build_model(spec, 1000, tmp_path)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 128, 128, 3)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x, verbose=0), reference.predict(x, verbose=0), rtol=1e-5)
    with pytest.raises(ModelError, match="outputs 1000 classes but the dataset has 3"):
        models.build_model(spec, 3, tmp_path)

    given = app("MobileNet", include_top=True, class_index_file=Path("idx.json"))
    assert models.model_classes(given.model_copy(update={"class_index_file": index}), tmp_path)[235] \
        == "German_shepherd"
    assert f"class_index_file: file not found: {tmp_path / 'idx.json'}" in models.check_model(given, tmp_path)


def test_include_top_with_imagenet_weights_needs_the_default_size(keras_home):
    _class_index(keras_home / "models" / "imagenet_class_index.json")
    spec = app("VGG16", input_shape=(64, 64, 3), include_top=True)
    problems = models.check_model(spec, Path("."))
    assert any(p.startswith("architecture: keras.applications.VGG16 refuses input_shape [64, 64, 3] "
                            "with include_top:") and "224" in p for p in problems)


# -------------------------------------------------------------------- honest load errors
def test_tf_keras2_file_keeps_the_root_cause_and_gets_a_hint(tmp_path):
    import h5py

    model = keras.applications.MobileNet(alpha=0.25, include_top=False, weights=None, input_shape=(32, 32, 3))
    path = tmp_path / "tfkeras2.h5"
    model.save(path)
    with h5py.File(path, "r+") as f:  # what tf.keras 2 writes for DepthwiseConv2D
        config = json.loads(f.attrs["model_config"])
        for layer in config["config"]["layers"]:
            if layer["class_name"] == "DepthwiseConv2D":
                layer["config"]["groups"] = 1
        f.attrs["model_config"] = json.dumps(config)
    spec = FileModel(name="old", kind="file", path=str(path))
    with pytest.raises(ModelError) as info:
        models.build_model(spec, 2, tmp_path)
    message = str(info.value)
    assert message.startswith(f"model 'old': path: cannot load {path}: ")
    assert "DepthwiseConv2D" in message and "Unrecognized keyword arguments" in message
    assert "'groups': 1" in message
    assert "config={" not in message  # not the whole layer config
    assert TF_KERAS2_HINT in message


# ----------------------------------------------------------------------------- python kind
DEXPRESSION = '''
import keras
from keras import layers


def _featex(x, name):
    """DeXpression's FeatEx: two parallel paths (1x1 then 3x3 conv; 3x3 max-pool then 1x1
    conv), concatenated."""
    a = layers.Conv2D(16, 1, activation="relu", name=f"{name}_a1")(x)
    a = layers.Conv2D(24, 3, padding="same", activation="relu", name=f"{name}_a3")(a)
    b = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_bpool")(x)
    b = layers.Conv2D(24, 1, activation="relu", name=f"{name}_b1")(b)
    x = layers.Concatenate(name=f"{name}_concat")([a, b])
    return layers.MaxPooling2D(2, name=f"{name}_pool")(x)


def build_dexpression(num_classes, input_shape=(32, 32, 1), branches=3):
    inputs = keras.Input(input_shape)
    x = layers.Conv2D(16, 3, padding="same", activation="relu", name="stem")(inputs)
    for i in range(branches):
        x = _featex(x, f"featex{i + 1}")
    x = layers.Flatten()(x)
    return keras.Model(inputs, layers.Dense(num_classes, activation="softmax", name="predictions")(x))


def not_a_model():
    return 42
'''


def test_python_builder_trains_on_digits(tmp_path):
    from skimage.transform import resize
    from sklearn.datasets import load_digits

    (tmp_path / "my_models.py").write_text(DEXPRESSION, encoding="utf-8")
    spec = PythonModel(name="dex", kind="python", builder="my_models.py:build_dexpression",
                       args={"input_shape": [32, 32, 1]})
    assert models.check_model(spec, tmp_path) == []
    keras.utils.set_random_seed(0)  # before building: the initial weights are part of the run
    model = models.build_model(spec, 10, tmp_path)
    assert sum(isinstance(layer, keras.layers.Concatenate) for layer in model.layers) == 3
    digits = load_digits()
    x = np.stack([resize(im, (32, 32), order=1) for im in digits.images])[..., None] * (255 / 16)
    x = models.preprocess_function(spec)(x)
    y = digits.target
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    model.fit(x[:1400], y[:1400], epochs=2, batch_size=32, verbose=0)
    accuracy = float((model.predict(x[1400:], verbose=0).argmax(1) == y[1400:]).mean())
    assert accuracy > 0.5, accuracy  # chance is 0.1


@pytest.mark.parametrize("builder, args, fragment", [
    ("nowhere.py:build", {}, "builder: file not found: {base}/nowhere.py"),
    ("my_models.py:build_vgg", {}, "builder: {base}/my_models.py defines no function 'build_vgg' "
                                   "(functions there: _featex, build_dexpression, not_a_model)"),
    ("my_models.py:build_dexpression", {"depth": 3}, "args: my_models.py:build_dexpression cannot be "
                                                     "called with ['depth', 'num_classes']"),
    ("my_models.py:build_dexpression", {"num_classes": 3}, "args: num_classes is set by reportgen"),
])
def test_python_builder_problems_name_the_field(tmp_path, builder, args, fragment):
    (tmp_path / "my_models.py").write_text(DEXPRESSION, encoding="utf-8")
    spec = PythonModel(name="p", kind="python", builder=builder, args=args)
    expected = fragment.format(base=tmp_path.absolute())
    problems = models.check_model(spec, tmp_path)
    assert len(problems) == 1 and problems[0].startswith(expected), problems
    with pytest.raises(ModelError, match="builder|args"):
        models.build_model(spec, 3, tmp_path)


def test_python_builder_that_returns_no_model_or_fails(tmp_path):
    broken = "\ndef broken(num_classes):\n    raise RuntimeError('boom')\n"
    (tmp_path / "my_models.py").write_text(DEXPRESSION + broken, encoding="utf-8")
    spec = PythonModel(name="p", kind="python", builder="my_models.py:not_a_model")
    with pytest.raises(ModelError, match="returned int, not a keras.Model"):
        models.build_model(spec, 3, tmp_path)
    with pytest.raises(ModelError, match="builder: my_models.py:broken raised RuntimeError: boom"):
        models.build_model(spec.model_copy(update={"builder": "my_models.py:broken"}), 3, tmp_path)
    with pytest.raises(ValidationError, match="builder"):
        PythonModel(name="p", kind="python", builder="my_models:build")


def test_which_models_are_evaluable_as_loaded():
    assert FileModel(name="f", kind="file", path="m.keras").evaluable_as_loaded
    assert app("VGG16", include_top=True).evaluable_as_loaded
    assert not app("VGG16", include_top=True, weights="none").evaluable_as_loaded
    assert not app("VGG16").evaluable_as_loaded
    assert not PythonModel(name="p", kind="python", builder="m.py:f").evaluable_as_loaded
