"""Seeded repeats (``repeats = N``, issue 14): each run's scores are its predictions' scores, run 0
is exactly a build without repeats, the seeds train different weights, a rebuild reuses every
run, a change of N trains only the new run and redraws only what reads the repeats, and the
training curves' band is the mean and standard deviation of the runs' histories."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import f1_score

from reportgen.analyses import registry
from reportgen.analyses.training_curves import seed_band
from reportgen.config import load_manifest
from reportgen.plan import make_plan
from tests.conftest import TINY_STUDENT, frameworks_loaded_by_build, run_cli, tiny_digits_cnn

SEED = 5
HEADER = """\
[report]
title = { "zh-TW" = "重複訓練測試", en = "Repeats test" }
""" + TINY_STUDENT + f"""\
seed = {SEED}
formats = ["html"]
""" + tiny_digits_cnn(300)

SMALL = """
[[experiments]]
name = "small"
dataset = "digits"
model = "cnn"
train = { epochs = 3, batch_size = 32 }
"""
REPEATED = SMALL.replace('model = "cnn"\n', 'model = "cnn"\nrepeats = 2\n')
GRID = """
[[experiments]]
name = "abl"
dataset = "digits"
model = "cnn"
repeats = 2
train = { epochs = 2, batch_size = 32 }
grid = { learning_rate = [0.003, 0.001] }
"""
WITH_REPEATS = HEADER + REPEATED + GRID
WITHOUT_REPEATS = HEADER + SMALL
REPEATED_NAMES = ["small", "abl-learning_rate_0.003", "abl-learning_rate_0.001"]


def _build(root: Path, text: str) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    manifest = root / "experiments.toml"
    manifest.write_text(text, encoding="utf-8")
    result = run_cli("build", manifest, "-q")
    assert result.returncode == 0, result.stderr
    metrics = json.loads((root / "out" / "metrics.json").read_text())
    return {"root": root, "manifest": manifest, "out": root / "out", "metrics": metrics}


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    base = tmp_path_factory.mktemp("repeats")
    return {"with": _build(base / "with", WITH_REPEATS), "without": _build(base / "without", WITHOUT_REPEATS)}


def _predictions(out: Path, name: str) -> dict[str, np.ndarray]:
    with np.load(out / "experiments" / name / "predictions.npz") as data:
        return {key: data[key] for key in data.files}


def _plan(build: dict, name: str):
    plans = make_plan(load_manifest(build["manifest"]), build["root"])
    return next(p for p in plans if p.name == name)


@pytest.mark.slow
def test_each_run_scores_its_own_predictions(builds):
    built = builds["with"]
    for name in REPEATED_NAMES:
        record = built["metrics"]["experiments"][name]
        repeats = record["repeats"]
        predictions = _predictions(built["out"], name)
        runs, y_true = predictions["y_pred_runs"], predictions["y_true"]
        assert repeats["seeds"] == [SEED, SEED + 1] and repeats["representative_seed"] == SEED
        assert predictions["seeds"].tolist() == repeats["seeds"] and runs.shape == (2, len(y_true))
        np.testing.assert_array_equal(runs[0], predictions["y_pred"])
        labels = list(range(len(record["classes"])))
        for row, run in zip(runs, repeats["runs"]):
            assert run["accuracy"] == pytest.approx(float(np.mean(row == y_true)), abs=1e-12)
            assert run["macro_f1"] == pytest.approx(
                f1_score(y_true, row, labels=labels, average="macro", zero_division=0), abs=1e-12)
            assert run["weighted_f1"] == pytest.approx(
                f1_score(y_true, row, labels=labels, average="weighted", zero_division=0), abs=1e-12)
            assert run["epochs"] >= 1 and run["reused"] is False and run["train_seconds"] > 0
        # Run 0 is the record's own evaluation.
        assert repeats["runs"][0]["accuracy"] == record["accuracy"]
        assert repeats["runs"][0]["macro_f1"] == pytest.approx(record["macro_avg"]["f1"], abs=1e-12)
        assert repeats["runs"][0]["best_val_accuracy"] == max(record["history"]["val_accuracy"])
        for key in ("accuracy", "macro_f1", "weighted_f1", "best_val_accuracy"):
            values = np.array([run[key] for run in repeats["runs"]])
            assert repeats["mean"][key] == pytest.approx(np.mean(values), abs=1e-12)
            assert repeats["sd"][key] == pytest.approx(np.std(values, ddof=1), abs=1e-12)
        assert record["test_set"]["images"] == len(y_true)
    # Every experiment tests the same digits split: one test set.
    assert len({built["metrics"]["experiments"][n]["test_set"]["key"] for n in REPEATED_NAMES}) == 1
    setup = dict((row[0]["msgid"], row[1]) for row in built["metrics"]["experiments"]["small"]["setup"])
    assert setup["Repeats"]["params"] == {"count": 2, "seeds": f"{SEED}, {SEED + 1}", "seed": SEED}
    assert "confusion matrix and explanations from seed" in (built["out"] / "report.html").read_text()


@pytest.mark.slow
def test_run_0_is_the_build_without_repeats(builds):
    repeated = builds["with"]["metrics"]["experiments"]["small"]
    single = builds["without"]["metrics"]["experiments"]["small"]
    assert single["repeats"] is None
    assert repeated["cache"]["key"] == single["cache"]["key"]  # existing caches stay valid
    assert repeated["accuracy"] == single["accuracy"]
    assert repeated["confusion_matrix"] == single["confusion_matrix"]
    assert repeated["history"] == single["history"]
    assert repeated["test_set"] == single["test_set"]
    with_runs = _predictions(builds["with"]["out"], "small")
    alone = _predictions(builds["without"]["out"], "small")
    np.testing.assert_array_equal(with_runs["y_pred"], alone["y_pred"])
    np.testing.assert_array_equal(with_runs["y_true"], alone["y_true"])
    np.testing.assert_allclose(with_runs["probabilities"], alone["probabilities"], rtol=0, atol=1e-6)
    assert "y_pred_runs" not in alone


@pytest.mark.slow
def test_the_seeds_train_different_weights(builds):
    import keras

    plan = _plan(builds["with"], "small")
    out = builds["with"]["out"]
    first = keras.saving.load_model(plan.trained_model_dir(out) / "model.keras", compile=False)
    second = keras.saving.load_model(plan.repeat_model_dir(out, 1) / "model.keras", compile=False)
    assert json.loads((plan.repeat_model_dir(out, 1) / "meta.json").read_text())["seed"] == SEED + 1
    pairs = list(zip(first.get_weights(), second.get_weights(), strict=True))
    assert all(a.shape == b.shape for a, b in pairs)
    assert not any(np.array_equal(a, b) for a, b in pairs if a.size > 1)


@pytest.mark.slow
def test_training_curves_band_is_the_mean_of_the_histories(builds):
    built = builds["with"]
    record = built["metrics"]["experiments"]["small"]
    plan = _plan(built, "small")
    histories = [record["history"],
                 json.loads((plan.repeat_model_dir(built["out"], 1) / "history.json").read_text())]
    repeats = record["analyses"]["training_curves"]["metrics"]["repeats"]
    assert repeats["seeds"] == [SEED, SEED + 1] and repeats["band"] == "sd"
    for key in ("accuracy", "val_accuracy", "loss", "val_loss"):
        values = np.array([h[key] for h in histories])  # equal lengths: 3 epochs, no early stop
        band = repeats["curves"][key]
        np.testing.assert_allclose(band["mean"], values.mean(axis=0), rtol=0, atol=1e-12)
        np.testing.assert_allclose(band["sd"], values.std(axis=0, ddof=1), rtol=0, atol=1e-12)
        np.testing.assert_allclose(band["low"], values.mean(axis=0) - values.std(axis=0, ddof=1),
                                   rtol=0, atol=1e-12)
    caption = record["analyses"]["training_curves"]["figures"][0]["caption"]
    assert "± 1 standard deviation" in caption["msgid"] and caption["params"]["count"] == 2


def test_band_over_runs_of_different_lengths():
    """Early stopping ends runs at different epochs: each epoch averages the runs still going."""
    histories = [{"loss": [3.0, 2.0, 1.0]}, {"loss": [5.0, 4.0]}, {"loss": [4.0]}]
    band = seed_band(histories, "loss")
    assert band["runs"] == [3, 2, 1]
    assert band["mean"] == pytest.approx([4.0, 3.0, 1.0])
    assert band["sd"][:2] == pytest.approx([1.0, np.std([2.0, 4.0], ddof=1)])
    assert band["sd"][2] is None and band["low"][2] is None and band["high"][2] is None
    assert seed_band([{"loss": [1.0]}, {}], "val_loss") is None


class _Calls:
    """Counts training runs and computed analyses."""

    def __init__(self, monkeypatch) -> None:
        import reportgen.run.train as train_module

        self.trained, self.analyses = 0, []
        original = train_module.train

        def counted_train(*args, **kwargs):
            self.trained += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(train_module, "train", counted_train)
        for name, cls in registry.available().items():
            def counted(this, ctx, params, _original=cls.run, _name=name):
                self.analyses.append(_name)
                return _original(this, ctx, params)

            monkeypatch.setattr(cls, "run", counted)


def _copy(build: dict, tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "project"
    shutil.copytree(build["root"], root, symlinks=True)
    return root / "experiments.toml", root / "out"


@pytest.mark.slow
def test_a_rebuild_reuses_every_run(builds, tmp_path, monkeypatch):
    manifest, out = _copy(builds["with"], tmp_path)
    calls = _Calls(monkeypatch)
    result = run_cli("build", manifest)
    assert result.returncode == 0, result.stderr
    assert calls.trained == 0 and calls.analyses == []
    metrics = json.loads((out / "metrics.json").read_text())
    before = builds["with"]["metrics"]["experiments"]
    for name in REPEATED_NAMES:
        assert metrics["experiments"][name]["reused"] is True
        assert metrics["experiments"][name]["repeats"] == before[name]["repeats"]
    assert _predictions(out, "small")["y_pred_runs"].shape[0] == 2


@pytest.mark.slow
def test_a_warm_rebuild_imports_no_tensorflow(builds, tmp_path):
    """In a fresh process, as a user runs it: every run's weights are hashed, none is loaded."""
    manifest, out = _copy(builds["with"], tmp_path)
    assert frameworks_loaded_by_build(manifest) == []
    assert json.loads((out / "metrics.json").read_text())["experiments"]["small"]["reused"] is True


@pytest.mark.slow
def test_more_repeats_train_only_the_new_run(builds, tmp_path, monkeypatch):
    manifest, out = _copy(builds["with"], tmp_path)
    manifest.write_text(HEADER + REPEATED.replace("repeats = 2", "repeats = 3") + GRID, encoding="utf-8")
    calls = _Calls(monkeypatch)
    result = run_cli("build", manifest)
    assert result.returncode == 0, result.stderr
    assert "repeat 3/3 (seed 7): training for up to 3 epochs" in result.stderr
    assert "repeat 2/3 (seed 6): cached model reused" in result.stderr
    assert calls.trained == 1 and calls.analyses == ["training_curves"]
    record = json.loads((out / "metrics.json").read_text())["experiments"]["small"]
    before = builds["with"]["metrics"]["experiments"]["small"]["repeats"]["runs"]
    assert [r["reused"] for r in record["repeats"]["runs"]] == [True, True, False]
    assert [r["accuracy"] for r in record["repeats"]["runs"][:2]] == [r["accuracy"] for r in before]


@pytest.mark.slow
def test_force_retrains_every_run(builds, tmp_path, monkeypatch):
    manifest, out = _copy(builds["with"], tmp_path)
    manifest.write_text(HEADER + REPEATED, encoding="utf-8")
    calls = _Calls(monkeypatch)
    assert run_cli("build", manifest, "-q", "--force").returncode == 0
    assert calls.trained == 2


def test_repeats_need_training(write_manifest):
    text = HEADER + """
[[models]]
name = "saved"
kind = "file"
path = "saved.keras"

[[experiments]]
name = "as_loaded"
dataset = "digits"
model = "saved"
repeats = 3
"""
    result = run_cli("validate", write_manifest(text))
    output = result.stderr + result.stdout
    assert result.returncode == 2
    assert "experiments[0].repeats: 3 seeded runs need train" in output
    assert "a model evaluated as loaded gives the same predictions every time" in output


@pytest.mark.parametrize("value, fragment", [("0", "greater than or equal to 1"),
                                             ("21", "less than or equal to 20"),
                                             ('"2"', "valid integer"), ("2.0", "valid integer")])
def test_repeats_is_strict(write_manifest, value, fragment):
    result = run_cli("validate", write_manifest(HEADER + SMALL.replace(
        'model = "cnn"\n', f'model = "cnn"\nrepeats = {value}\n')))
    assert result.returncode == 2
    assert "experiments[0].repeats" in result.stderr + result.stdout
    assert fragment in result.stderr + result.stdout


def test_grid_variants_inherit_repeats(write_manifest):
    path = write_manifest(HEADER + GRID)
    manifest = load_manifest(path)
    assert [(e.name, e.repeats) for e in manifest.experiments] == [
        ("abl-learning_rate_0.003", 2), ("abl-learning_rate_0.001", 2)]
    plans = make_plan(manifest, path.parent)
    for plan in plans:
        assert plan.seeds == (SEED, SEED + 1) and len(set(plan.repeat_keys) | {plan.cache_key}) == 2
