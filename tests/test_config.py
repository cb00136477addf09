"""Manifest validation: every broken manifest exits with code 2 and names the field, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from reportgen.cli import app
from reportgen.config import load_manifest
from tests.conftest import BASE_MANIFEST

runner = CliRunner()


def _replace(old: str, new: str) -> str:
    assert old in BASE_MANIFEST, old
    return BASE_MANIFEST.replace(old, new)


FER_CSV_MISSING = BASE_MANIFEST + """
[[datasets]]
name = "fer"
kind = "fer2013_csv"
path = "data/fer2013.csv"
"""

FILE_MODEL_MISSING = BASE_MANIFEST + """
[[models]]
name = "old"
kind = "file"
path = "models/missing_model.h5"
"""

IMAGENET_MISSING = BASE_MANIFEST + """
[[models]]
name = "vgg"
kind = "application"
architecture = "VGG16"
input_shape = [64, 64, 3]
"""

# (case id, manifest text, substrings the error must contain)
BROKEN = [
    ("invalid-toml", BASE_MANIFEST.replace("seed = 7", "seed = = 7"), ["invalid TOML", "line 6"]),
    ("empty-file", "", ["empty"]),
    ("unknown-table", BASE_MANIFEST + "\n[reprot]\nx = 1\n", ["reprot: unknown key"]),
    ("unknown-train-key", _replace("train = { epochs = 2 }", "train = { epoch = 2 }"),
     ["experiments[0].train.epoch: unknown key"]),
    ("epochs-wrong-type", _replace("epochs = 2", 'epochs = "ten"'),
     ["experiments[0].train.epochs", "valid integer", "'ten'"]),
    ("learning-rate-negative", _replace("epochs = 2", "epochs = 2, learning_rate = -0.1"),
     ["experiments[0].train.learning_rate", "greater than 0", "-0.1"]),
    ("unknown-dataset", _replace('dataset = "digits"', 'dataset = "fer"'),
     ["experiments[0].dataset", "unknown dataset 'fer'", "['digits']"]),
    ("unknown-model", _replace('model = "cnn"', 'model = "vgg"'),
     ["experiments[0].model", "unknown model 'vgg'"]),
    ("unknown-dataset-kind", _replace('kind = "digits"', 'kind = "mnist"'),
     ["datasets[0].kind", "'mnist'", "digits"]),
    ("missing-title", _replace('title = { "zh-TW" = "測試報告", en = "Test report" }\n', ""),
     ["report.title: required key is missing"]),
    ("bad-language", _replace('seed = 7', 'seed = 7\nlanguages = ["fr"]'),
     ["report.languages[0]", "'fr'"]),
    ("duplicate-experiment", BASE_MANIFEST + '\n[[experiments]]\nname = "exp"\ndataset = "digits"\n'
     'model = "cnn"\ntrain = { epochs = 1 }\n', ["experiments[1].name: duplicate name 'exp'"]),
    ("unknown-analysis", _replace("train = { epochs = 2 }",
                                  'train = { epochs = 2 }\nanalyses = ["gradcamm"]'),
     ["experiments[0].analyses[0].method: unknown analysis 'gradcamm'", "confusion_matrix"]),
    ("analysis-bad-option", _replace("train = { epochs = 2 }",
                                     'train = { epochs = 2 }\nanalyses = [{ method = "accuracy", top = 3 }]'),
     ["experiments[0].analyses[0].top"]),
    ("one-class", _replace('kind = "digits"', 'kind = "digits"\nclasses = ["zero"]'),
     ["datasets[0].classes", "at least 2 classes"]),
    ("input-shape-channels", _replace("input_shape = [16, 16, 1]", "input_shape = [16, 16, 2]"),
     ["models[0].input_shape", "[16, 16, 2]"]),
    ("missing-train", _replace("train = { epochs = 2 }\n", ""),
     ["experiments[0].train: required because model 'cnn'"]),
    ("split-too-large", _replace('kind = "digits"', 'kind = "digits"\nsplit = { val = 0.5, test = 0.45 }'),
     ["datasets[0].split", "below 0.9"]),
    ("bad-name", _replace('name = "exp"', 'name = "my exp"'), ["experiments[0].name", "pattern"]),
    ("fer-csv-missing", FER_CSV_MISSING, ["datasets[1].path", "fer2013.csv"]),
    ("file-model-missing", FILE_MODEL_MISSING, ["models[1].path", "missing_model.h5"]),
    ("imagenet-weights-missing", IMAGENET_MISSING,
     ["models[1]", "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"]),
]


@pytest.mark.parametrize("text, expected", [(t, e) for _, t, e in BROKEN], ids=[c for c, _, _ in BROKEN])
def test_broken_manifest_exits_2_and_names_the_field(text, expected, write_manifest, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty-keras-home"))
    path = write_manifest(text)
    result = runner.invoke(app, ["validate", str(path)])
    output = result.output
    assert result.exit_code == 2, output
    assert "Traceback" not in output
    for fragment in expected:
        assert fragment in output, f"{fragment!r} not in:\n{output}"


def test_at_least_fifteen_broken_manifests():
    assert len(BROKEN) >= 15


def test_all_errors_are_reported_at_once(write_manifest):
    text = _replace("epochs = 2", 'epochs = "ten", batch_size = 0').replace('model = "cnn"\ntrain',
                                                                            'model = "nope"\ntrain')
    result = runner.invoke(app, ["validate", str(write_manifest(text))])
    assert result.exit_code == 2
    for fragment in ("experiments[0].train.epochs", "experiments[0].train.batch_size"):
        assert fragment in result.output


def test_missing_manifest_file(tmp_path):
    result = runner.invoke(app, ["validate", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    assert "manifest file not found" in result.output


def test_build_rejects_unknown_only_name(write_manifest):
    result = runner.invoke(app, ["build", str(write_manifest(BASE_MANIFEST)), "--only", "ghost", "-q"])
    assert result.exit_code == 2
    assert "unknown experiment 'ghost'" in result.output


def test_only_a_grid_name_selects_all_its_variants():
    from reportgen.plan import selected_experiments

    manifest = load_manifest(Path(__file__).resolve().parent.parent / "experiments.toml")
    variants = [e.name for e in manifest.experiments if e.grid_of == "digits_ablation"]
    assert len(variants) == 4
    assert selected_experiments(manifest, ["digits_ablation", "chain_3to9"]) == [*variants, "chain_3to9"]
    assert selected_experiments(manifest, [variants[1], "digits_ablation"]) == [variants[1], variants[0],
                                                                              *variants[2:]]
    assert selected_experiments(manifest, None) is None


def test_valid_manifest_passes_and_defaults_apply(write_manifest):
    path = write_manifest(BASE_MANIFEST)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    manifest = load_manifest(path)
    assert manifest.report.languages == ["zh-TW", "en"]
    assert manifest.report.formats == ["html", "pdf"]
    assert [a.method for a in manifest.experiments[0].analysis_specs()] == [
        "accuracy", "classification_report", "confusion_matrix", "training_curves"]


def test_default_manifest_is_valid():
    root = Path(__file__).resolve().parent.parent
    result = runner.invoke(app, ["validate", str(root / "experiments.toml")])
    assert result.exit_code == 0, result.output


FER_MODEL_ON_DIGITS = BASE_MANIFEST + """
[[models]]
name = "fer"
kind = "file"
path = "pkg:fer/data/emotion_model.hdf5"

[[experiments]]
name = "fer_on_digits"
dataset = "digits"
model = "fer"
"""


def test_validate_checks_class_count_of_model_files(write_manifest):
    """The fer model outputs 7 emotions; digits has 10 classes."""
    result = runner.invoke(app, ["validate", str(write_manifest(FER_MODEL_ON_DIGITS))])
    assert result.exit_code == 2, result.output
    assert "experiments[1] (fer_on_digits)" in result.output
    assert "7" in result.output and "10" in result.output
