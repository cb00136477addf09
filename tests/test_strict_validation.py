"""Strict validation (issue 12): no silent type coercion, every check stage reports at once,
bounded names, a BOM is fine, shape errors and CLI misuse exit 2 naming the field, no traceback,
and a model file with code in it loads only with ``trust_code = true``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reportgen.cli import app
from reportgen.config import load_manifest
from reportgen.errors import ConfigError
from reportgen.study.changes import load_previous
from tests.conftest import BASE_MANIFEST, run_reportgen

runner = CliRunner()


def _replace(old: str, new: str) -> str:
    assert old in BASE_MANIFEST, old
    return BASE_MANIFEST.replace(old, new)


NO_DATASETS = _replace('[[datasets]]\nname = "digits"\nkind = "digits"\n', "")
EXPERIMENTS_TABLE = _replace("[[experiments]]", "[experiments]")

# (case id, manifest text, substrings the error must contain)
REJECTED = [
    ("learning-rate-string", _replace("epochs = 2", 'epochs = 2, learning_rate = "0.001"'),
     ["experiments[0].train.learning_rate", "valid number", "'0.001'", "without quotes"]),
    ("epochs-bool", _replace("epochs = 2", "epochs = true"),
     ["experiments[0].train.epochs", "valid integer", "got true"]),
    ("epochs-float", _replace("epochs = 2", "epochs = 2.0"),
     ["experiments[0].train.epochs", "valid integer", "2.0"]),
    ("normalization-string", _replace("epochs = 2", 'epochs = 2, normalization = "yes"'),
     ["experiments[0].train.normalization", "valid boolean", "'yes'"]),
    ("seed-string", _replace("seed = 7", 'seed = "7"'), ["report.seed", "'7'"]),
    ("seed-date", _replace("seed = 7", "seed = 1979-05-27"), ["report.seed", "1979-05-27"]),
    ("input-shape-float-item", _replace("input_shape = [16, 16, 1]", "input_shape = [16, 16.0, 1]"),
     ["models[0].input_shape[1]", "valid integer"]),
    ("input-shape-number", _replace("input_shape = [16, 16, 1]", "input_shape = 16"),
     ["models[0].input_shape", "an array", "got 16"]),
    ("trainable-bool", _replace("epochs = 2", "epochs = 2, stages = [{ epochs = 1, trainable = true }]"),
     ["experiments[0].train.stages[0].trainable", "'head' or 'all' or a valid integer", "got true"]),
    ("path-number", BASE_MANIFEST + '\n[[datasets]]\nname = "n"\nkind = "npz"\npath = 5\n',
     ["datasets[1].path", "a path"]),
    ("experiments-as-table", EXPERIMENTS_TABLE,
     ["experiments: expected an array of tables", "[[experiments]]"]),
    ("datasets-number", NO_DATASETS.replace("[report]", "datasets = 5\n[report]"),
     ["datasets: Input should be an array; got 5"]),
    ("questions-as-table", _replace("seed = 7", 'seed = 7\n[report.questions]\nnumber = "1"'),
     ["report.questions: expected an array of tables", "[[report.questions]]"]),
    ("stages-as-table", _replace("epochs = 2", "epochs = 2, stages = { epochs = 1 }"),
     ["experiments[0].train.stages", "stages = [{"]),
    ("title-string", _replace('title = { "zh-TW" = "測試報告", en = "Test report" }', 'title = "x"'),
     ["report.title: Input should be a table"]),
    ("train-array", _replace("train = { epochs = 2 }", "[[experiments.train]]\nepochs = 2"),
     ["experiments[0].train: Input should be a table"]),
    ("name-too-long", _replace('name = "exp"', f'name = "{"e" * 5000}"'),
     ["experiments[0].name", "at most 100 characters", "(5000 characters)"]),
    ("name-101", _replace('name = "digits"', f'name = "{"d" * 101}"'), ["datasets[0].name", "at most 100"]),
    ("name-with-slash", _replace('name = "cnn"', 'name = "a/b"'), ["models[0].name", "pattern"]),
    ("grid-broken-and-schema", _replace("train = { epochs = 2 }",
                                        'train = { epochs = "x" }\ngrid = { nope = [1, 2] }'),
     ["experiments[0].grid.nope: not a training option", "experiments[0].train.epochs"]),
]


@pytest.mark.parametrize("text, expected", [(t, e) for _, t, e in REJECTED], ids=[c for c, _, _ in REJECTED])
def test_rejected_with_exit_2_naming_the_field(text, expected, write_manifest):
    result = runner.invoke(app, ["validate", str(write_manifest(text))])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    for fragment in expected:
        assert fragment in result.output, f"{fragment!r} not in:\n{result.output}"


def test_ints_where_floats_are_meant_a_bom_and_100_character_names_are_fine(tmp_path):
    name = "n" * 100
    text = _replace("epochs = 2", "epochs = 2, learning_rate = 1").replace('name = "exp"', f'name = "{name}"')
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    manifest = load_manifest(path)
    rate = manifest.experiments[0].train.learning_rate
    assert rate == 1.0 and isinstance(rate, float)
    assert manifest.experiments[0].name == name
    assert manifest.models[0].input_shape == (16, 16, 1)


EVERY_STAGE = """\
[report]
title = { "zh-TW" = "t", en = "t" }
seed = "7"

[[datasets]]
name = "bad"
kind = "npz"
path = 5

[[datasets]]
name = "fer"
kind = "fer2013_csv"
path = "missing.csv"

[[datasets]]
name = "digits"
kind = "digits"

[[models]]
name = "cnn"
kind = "cnn"
input_shape = [16, 16, 1]

[[models]]
name = "old"
kind = "file"
path = "missing.h5"

[[experiments]]
name = "a"
dataset = "digits"
model = "cnn"
train = { epochs = true }
analyses = [{ method = "accuracy", top = 3 }]

[[experiments]]
name = "b"
dataset = "bad"
model = "cnn"
train = { epochs = 1 }
analyses = ["gradcamm"]

[[experiments]]
name = "c"
dataset = "fer"
model = "ghost"
train = { epochs = 1 }

[[experiments]]
name = "d"
dataset = "digits"
model = "cnn"
train = { epochs = 1 }
analyses = ["nope"]
"""

EVERY_STAGE_PROBLEMS = [
    "report.seed: Input should be a valid integer",                # schema
    "datasets[0].path: Input should be a path",                    # schema
    "experiments[0].train.epochs: Input should be a valid integer",  # schema
    "experiments[2].model: unknown model 'ghost'",                 # references
    "experiments[0].analyses[0].top",                              # analysis options (entry invalid)
    "experiments[1].analyses[0].method: unknown analysis 'gradcamm'",  # dataset 'bad' invalid
    "experiments[3].analyses[0].method: unknown analysis 'nope'",
    "datasets[1].path: file not found",                            # files of a valid dataset
    "models[1].path: file not found",                              # files of a valid model
]


def test_every_stage_reports_together(write_manifest):
    result = runner.invoke(app, ["validate", str(write_manifest(EVERY_STAGE))])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("  - ")]
    for fragment in EVERY_STAGE_PROBLEMS:
        assert sum(fragment in line for line in lines) == 1, f"{fragment!r} not once in:\n{result.output}"
    assert len(lines) == len(EVERY_STAGE_PROBLEMS), result.output
    # An experiment on a dataset that did not validate is not "unknown dataset 'bad'".
    assert "unknown dataset" not in result.output


def test_later_stages_keep_the_file_positions_of_entries(write_manifest):
    """With datasets[0] invalid, the missing file of the third dataset is still datasets[2]."""
    text = _replace('[[datasets]]\nname = "digits"\nkind = "digits"\n',
                    '[[datasets]]\nname = "digits"\nkind = "digits"\nmax_samples = "9"\n'
                    '[[datasets]]\nname = "ok"\nkind = "digits"\n'
                    '[[datasets]]\nname = "fer"\nkind = "fer2013_csv"\npath = "gone.csv"\n')
    result = runner.invoke(app, ["validate", str(write_manifest(text))])
    assert result.exit_code == 2
    assert "datasets[0].max_samples" in result.output
    assert "datasets[2].path: file not found" in result.output, result.output


@pytest.mark.parametrize("entry, fragment", [
    ({"accuracy": "0.9"}, "experiments.exp.accuracy: expected a number, got '0.9'"),
    ({"accuracy": True}, "experiments.exp.accuracy: expected a number, got True"),
    ({"accuracy": 0.9, "macro_avg": [1]}, "experiments.exp.macro_avg: expected a table"),
    ({"accuracy": 0.9, "macro_avg": {"f1": "x"}}, "experiments.exp.macro_avg.f1: expected a number"),
])
def test_compare_to_with_wrong_types_is_a_config_error(entry, fragment, tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"experiments": {"exp": entry}}), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_previous(path)
    assert fragment in str(info.value)


def test_compare_to_reads_a_good_metrics_file(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"experiments": {"a": {"accuracy": 1, "macro_avg": {"f1": 0.5}},
                                                "b": {"accuracy": None}, "c": {"accuracy": 0.25}}}))
    previous = load_previous(path)
    assert {k: previous["a"][k] for k in ("accuracy", "macro_f1")} == {"accuracy": 1.0, "macro_f1": 0.5}
    assert previous["a"]["predictions"] is None  # no experiments/a/predictions.npz beside it
    assert set(previous) == {"a", "c"} and previous["c"]["macro_f1"] != previous["c"]["macro_f1"]  # NaN


def test_build_misuse_exits_2_naming_the_option(write_manifest, tmp_path):
    manifest = write_manifest(BASE_MANIFEST)
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    bad_metrics = tmp_path / "metrics.json"
    bad_metrics.write_text(json.dumps({"experiments": {"exp": {"accuracy": "high"}}}))
    cases = [
        (["--out", str(a_file)], ["--out", f"{a_file} is a file, not a folder"]),
        (["--out", str(a_file / "sub")], ["--out", f"{a_file} is a file"]),
        (["--out", "/proc/reportgen-out"], ["--out", "nothing can be written in /proc"]),
        (["--out", str(tmp_path / "out"), "--compare-to", str(bad_metrics)],
         ["--compare-to", "experiments.exp.accuracy: expected a number"]),
    ]
    for args, fragments in cases:
        result = runner.invoke(app, ["build", str(manifest), "-q", *args])
        assert result.exit_code == 2, (args, result.output)
        assert isinstance(result.exception, SystemExit)  # no other exception escaped
        for fragment in fragments:
            assert fragment in result.output, (fragment, result.output)
    assert not (tmp_path / "out").exists()  # refused before any work
    datasets_number = NO_DATASETS.replace("[report]", "datasets = 5\n[report]")
    for text, field in ((EXPERIMENTS_TABLE, "experiments"), (datasets_number, "datasets")):
        result = runner.invoke(app, ["build", str(write_manifest(text)), "-q"])
        assert result.exit_code == 2 and f"  - {field}: " in result.output, result.output


def test_a_real_process_prints_no_traceback(write_manifest, tmp_path):
    """The issue's crashes, as a user meets them: a table for [[experiments]] (build)."""
    done = run_reportgen("build", write_manifest(EXPERIMENTS_TABLE), "-q", "--out", tmp_path / "o")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "experiments: expected an array of tables" in done.stderr
    assert not (tmp_path / "o").exists()


def _lambda_model(path: Path) -> None:
    import keras

    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Lambda(lambda t: t * 2.0)(keras.layers.Flatten()(inputs))
    keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x)).save(path)


def test_a_lambda_layer_loads_only_with_trust_code(write_manifest, tmp_path):
    _lambda_model(tmp_path / "lam.keras")
    text = BASE_MANIFEST + ('\n[[models]]\nname = "lam"\nkind = "file"\npath = "lam.keras"\n'
                            '\n[[experiments]]\nname = "lamexp"\ndataset = "digits"\nmodel = "lam"\n')
    refused = runner.invoke(app, ["validate", str(write_manifest(text))])
    assert refused.exit_code == 2, refused.output
    assert "models[1].trust_code = true" in refused.output
    assert "runs the code stored in the file" in refused.output and "safe_mode" not in refused.output
    trusted = text.replace('path = "lam.keras"\n', 'path = "lam.keras"\ntrust_code = true\n')
    result = runner.invoke(app, ["validate", str(write_manifest(trusted))])
    assert result.exit_code == 0, result.output
