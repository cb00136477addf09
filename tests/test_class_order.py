"""Class order by name: a model file's ``classes`` is its output order, whatever the folder order.

A small Keras model is trained on real images (scikit-learn digits 0–6 standing for FER2013's
seven emotions, in FER2013's label order), saved, and evaluated by ``reportgen build`` on class
folders in another order / a subset / other spellings. Every accuracy must equal a by-hand
name mapping computed with numpy and ``model.predict`` on the same PNG files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from reportgen.config.schema import FER2013_CLASSES
from reportgen.run.classes import CLASS_ALIASES, ClassMismatch, match_classes
from reportgen.run.transfer import shared_classes
from tests.conftest import run_reportgen

SIDE = 16


def _digit_images() -> tuple[np.ndarray, np.ndarray]:
    """Digits 0..6 as uint8 16×16 gray images (nearest upscaling of the 8×8 originals)."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    keep = digits.target < 7
    small = np.clip(digits.images[keep] * 16, 0, 255).astype(np.uint8)
    x = np.stack([np.asarray(Image.fromarray(im).resize((SIDE, SIDE), Image.NEAREST)) for im in small])
    return x, digits.target[keep].astype(np.int64)


@pytest.fixture(scope="module")
def fer_order_model(tmp_path_factory):
    """(model path, test images, their FER2013 labels, predictions of the saved model)."""
    import keras

    x, y = _digit_images()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    x, y = x[order], y[order]
    train, test = slice(0, 700), slice(700, None)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((SIDE, SIDE, 1)),
        keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dense(7, activation="softmax"),
    ])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x[train, ..., None] / 255.0, y[train], epochs=8, batch_size=32, verbose=0)
    path = tmp_path_factory.mktemp("model") / "fer_order.keras"
    model.save(path)
    predicted = keras.saving.load_model(path).predict(x[test, ..., None] / 255.0, verbose=0).argmax(1)
    return path, x[test], y[test], predicted


def _write_folders(root: Path, images: np.ndarray, labels: np.ndarray, names: dict[int, str]) -> None:
    """One sub-folder per class, named ``names[fer_label]``; labels without a name are skipped."""
    from PIL import Image

    for i, (image, label) in enumerate(zip(images, labels)):
        if int(label) not in names:
            continue
        folder = root / names[int(label)]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{i:04d}.png")


def _manifest(tmp_path: Path, model_path: Path, extra_dataset: str = "") -> Path:
    text = f"""
[report]
title = {{ "zh-TW" = "類別順序", en = "Class order" }}
formats = ["html"]

[[datasets]]
name = "faces"
kind = "image_folder"
train_dir = "data/train"
test_dir = "data/test"
{extra_dataset}

[[models]]
name = "fer_order"
kind = "file"
path = "{model_path}"
classes = {json.dumps(FER2013_CLASSES)}

[[experiments]]
name = "evaluate"
dataset = "faces"
model = "fer_order"
analyses = ["accuracy"]
"""
    path = tmp_path / "experiments.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _build(tmp_path: Path, images, labels, names, model_path, extra_dataset: str = "") -> dict:
    _write_folders(tmp_path / "data" / "test", images, labels, names)
    _write_folders(tmp_path / "data" / "train", images[:60], labels[:60], names)
    manifest = _manifest(tmp_path, model_path, extra_dataset)
    done = run_reportgen("build", manifest, "--out", tmp_path / "out", "-q")
    assert done.returncode == 0, done.stderr
    return json.loads((tmp_path / "out" / "metrics.json").read_text())["experiments"]["evaluate"]


def _html(tmp_path: Path) -> str:
    return (tmp_path / "out" / "report.html").read_text(encoding="utf-8")


def test_alphabetical_folders_are_matched_to_fer_order_by_name(tmp_path, fer_order_model):
    model_path, images, labels, predicted = fer_order_model
    entry = _build(tmp_path, images, labels, dict(enumerate(FER2013_CLASSES)), model_path)
    by_hand = float(np.mean(predicted == labels))
    assert entry["accuracy"] == pytest.approx(by_hand, abs=1e-12)
    assert by_hand > 0.8  # a trained model, so a wrong mapping would show
    # What folder position would have scored (the bug): alphabetical index as model index.
    alphabetical = sorted(FER2013_CLASSES)
    positional = np.array([FER2013_CLASSES.index(alphabetical[k]) for k in range(7)])
    assert float(np.mean(positional[predicted] == labels)) < by_hand - 0.3
    match = entry["class_match"]
    assert match["kind"] == "reordered" and match["data_classes"] == alphabetical
    assert match["model_classes"] == FER2013_CLASSES == entry["classes"]
    assert match["left_out"] == {"train": 0, "val": 0, "test": 0}
    predictions = np.load(tmp_path / "out" / "experiments" / "evaluate" / "predictions.npz")
    assert np.array_equal(np.sort(predictions["y_true"]), np.sort(labels))
    html = _html(tmp_path)
    assert "dataset order angry, disgust, fear, happy, neutral, sad, surprise" in html
    assert f"evaluated as loaded on {len(labels)} test images" in html


def test_a_subset_with_an_unknown_class_is_evaluated_on_the_shared_classes(tmp_path, fer_order_model):
    """Folders: five of FER's classes plus ``contempt`` (FER's 'neutral' images relabelled),
    no ``disgust`` folder at all."""
    model_path, images, labels, predicted = fer_order_model
    names = {0: "angry", 2: "fear", 3: "happy", 4: "sad", 5: "surprise", 6: "contempt"}
    entry = _build(tmp_path, images, labels, names, model_path)
    shared = np.isin(labels, [0, 2, 3, 4, 5])
    assert entry["accuracy"] == pytest.approx(float(np.mean(predicted[shared] == labels[shared])), abs=1e-12)
    assert entry["data"]["test"] == int(shared.sum())
    match = entry["class_match"]
    assert match["kind"] == "subset"
    assert match["data_only"] == ["contempt"] and match["model_only"] == ["disgust", "neutral"]
    assert match["left_out"]["test"] == int(np.sum(labels == 6))
    assert entry["per_class"]["neutral"]["support"] == 0
    html = _html(tmp_path)
    left_out = int(np.sum(labels == 6))
    assert f"{left_out} test images of classes the model does not know were left out: contempt" in html
    assert "disgust, neutral (predictions into them count as errors)" in html


def test_other_spellings_are_matched_through_the_alias_table(tmp_path, fer_order_model):
    model_path, images, labels, predicted = fer_order_model
    names = dict(enumerate(["Anger", "disgusted", "fearful", "happiness", "sadness", "surprised", "neutral"]))
    entry = _build(tmp_path, images, labels, names, model_path)
    assert entry["accuracy"] == pytest.approx(float(np.mean(predicted == labels)), abs=1e-12)
    match = entry["class_match"]
    assert match["kind"] == "aliased"
    assert ["Anger", "angry"] in match["aliases"] and ["sadness", "sad"] in match["aliases"]
    assert "Anger → angry" in _html(tmp_path)


def test_unresolvable_mismatch_fails_validate_and_build_naming_both_sides(tmp_path, fer_order_model):
    model_path, images, labels, _ = fer_order_model
    names = {k: f"digit_{k}" for k in range(7)}
    _write_folders(tmp_path / "data" / "test", images, labels, names)
    _write_folders(tmp_path / "data" / "train", images[:60], labels[:60], names)
    manifest = _manifest(tmp_path, model_path)
    for command in ("validate", "build"):
        done = run_reportgen(command, manifest, *(["-q"] if command == "build" else []))
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        assert "experiments[0] (evaluate)" in done.stderr
        assert str([f"digit_{k}" for k in range(7)]) in done.stderr
        assert str(FER2013_CLASSES) in done.stderr
        assert "class_aliases" in done.stderr  # says how to resolve it
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------ pure matching
def test_match_rules_and_their_order():
    ck = ["anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise"]
    match = match_classes(ck, FER2013_CLASSES)
    assert match.mapping == (0, -1, 1, 2, 3, 4, 5)
    assert match.aliases == (("anger", "angry"), ("sadness", "sad"))
    assert match.model_names_as_data() == ["anger", "disgust", "fear", "happy", "sadness", "surprise",
                                           "neutral"]
    # An exact name claims its output before an alias spelling can.
    assert match_classes(["anger", "angry"], FER2013_CLASSES).mapping == (-1, 0)
    assert match_classes(FER2013_CLASSES, FER2013_CLASSES).kind == "identical"
    custom = match_classes(["mad", "glad"], FER2013_CLASSES, {"mad": "angry", "glad": "happy"})
    assert custom.mapping == (0, 3) and custom.kind == "subset"
    # Every alias group's spellings meet each other.
    for group, spellings in CLASS_ALIASES.items():
        for spelling in spellings:
            assert match_classes([spelling.upper(), "x"], [group, "y"]).mapping[0] == 0


@pytest.mark.parametrize("data, aliases, fragment", [
    (["0", "1"], None, "no dataset class matches a model output by name"),
    (["a", "b"], {"z": "angry"}, "class_aliases names ['z']"),
    (["a", "b"], {"a": "nope"}, "class_aliases maps to ['nope']"),
    (["a", "b"], {"a": "angry", "b": "angry"}, "maps several dataset classes to ['angry']"),
])
def test_unresolvable_matches_name_what_is_wrong(data, aliases, fragment):
    with pytest.raises(ClassMismatch) as info:
        match_classes(data, FER2013_CLASSES, aliases)
    assert fragment in str(info.value)


def test_chains_share_classes_through_the_same_aliases():
    ck = ["anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise"]
    assert shared_classes(FER2013_CLASSES, ck) == ["anger", "disgust", "fear", "happy", "sadness", "surprise"]
    assert shared_classes(["3", "4"], ["4", "5"]) == ["4"]
    assert shared_classes(["a", "b"], ["c", "d"]) == []
