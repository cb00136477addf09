"""NaN / divergence never pass as success (issue 12, item 3).

A NaN or infinite loss stops that experiment (failed, the reason in metrics.json and the HTML,
exit 1, the other experiments go on); a model that predicts NaN as loaded fails too; an
exploding, at-chance or stuck run is flagged by run.evaluate.training_check, in the
training_curves notes and at the start of the Discussion; every JSON file reportgen writes is
strict JSON (non-finite numbers become null, the reason under ``non_finite``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from reportgen.analyses import _sentences
from reportgen.artifacts import write_json_atomic
from reportgen.errors import ModelError
from reportgen.i18n import translate_msg
from reportgen.run.evaluate import (
    EXPLODING_FACTOR,
    STUCK_SHARE,
    require_finite_predictions,
    training_check,
)
from reportgen.strict_json import NON_FINITE_KEY, strict_document
from reportgen.study import commentary
from tests.conftest import TINY_STUDENT, run_reportgen, tiny_digits_cnn

LN10 = math.log(10)


def _refuse(constant: str):
    raise ValueError(f"not strict JSON: {constant}")


def strict_loads(text: str):
    return json.loads(text, parse_constant=_refuse)


def _english(msgs):
    return [translate_msg(m, "en") for m in msgs]


def _val(counts):
    """Validation labels with these counts per class."""
    return np.repeat(np.arange(len(counts)), counts)


BALANCED_VAL = _val([10] * 9 + [11])  # 101 images, majority rate 11/101


def _f32(correct, total=101):
    """A validation accuracy as Keras logs it (float32), e.g. 11/101 → 0.10891089…."""
    return float(np.float32(correct / total))


# --- the rule, on synthetic histories ------------------------------------------------------

def test_a_healthy_history_is_not_flagged():
    # the tiny digits CNN's own two epochs (2 epochs, lr 0.001)
    history = {"loss": [2.2738, 2.2408], "val_loss": [2.2546, 2.2211],
               "val_accuracy": [_f32(28), _f32(35)]}
    check = training_check(history, 10, BALANCED_VAL)
    assert check["applicable"] and not check["flagged"] and check["reasons"] == []
    assert check["guess_loss"] == pytest.approx(LN10)
    assert check["val_correct"] == 35 and check["majority_rate"] == pytest.approx(11 / 101)
    assert _sentences.training_warnings({"training_check": check, "classes": list("0123456789")}) == []


def test_the_learning_rate_9_9_history_explodes_and_ends_at_chance():
    history = {"loss": [11759726.0, 11.6987], "val_loss": [17.1, 7.5],
               "val_accuracy": [_f32(10), _f32(10)]}
    check = training_check(history, 10, BALANCED_VAL)
    assert check["flagged"] and check["reasons"] == ["exploding", "at_chance"]
    assert check["max_loss"] == 11759726.0 and check["max_loss_epoch"] == 1
    text = _english(_sentences.training_warnings({"training_check": check,
                                                  "classes": list("0123456789")}))
    assert text == [
        "Warning: the training loss reached 1.18e+07 at epoch 1, more than 10 times 2.3026 (ln 10, "
        "the loss of guessing uniformly): training diverged; a lower learning rate may help.",
        "Warning: after the last epoch the validation accuracy 0.0990 is not above chance, 0.1089 "
        "(always answering 9, the most frequent validation class): training did not learn to "
        "tell the classes apart."]


@pytest.mark.parametrize("scale, expected", [(1.0, False), (1.0001, True)])
def test_exploding_threshold_is_strictly_above_ten_times_ln_k(scale, expected):
    worst = EXPLODING_FACTOR * LN10 * scale
    history = {"loss": [2.0, worst, 1.0]}  # a spike in a later epoch counts too
    check = training_check(history, 10)
    assert ("exploding" in check["reasons"]) is expected
    assert check["max_loss_epoch"] == 2


def test_at_chance_is_exact_in_counts_despite_float32():
    # float32(10/100) is above the float64 majority rate 0.1: compared in images, it is at chance
    val = _val([10] * 10)
    assert _f32(10, 100) > 10 / 100
    at = training_check({"loss": [2.3, 2.0], "val_accuracy": [0.2, _f32(10, 100)]}, 10, val)
    above = training_check({"loss": [2.3, 2.0], "val_accuracy": [0.0, _f32(11, 100)]}, 10, val)
    assert at["reasons"] == ["at_chance"] and at["val_correct"] == 10
    assert above["reasons"] == [] and not above["flagged"]
    # the last epoch decides, not the best one
    late = training_check({"loss": [2.3, 2.0], "val_accuracy": [0.9, _f32(5, 100)]}, 10, val)
    assert late["reasons"] == ["at_chance"]


def test_at_chance_needs_validation_labels_of_two_classes():
    history = {"loss": [2.3, 2.0], "val_accuracy": [0.0, 0.0]}
    assert training_check(history, 10)["reasons"] == []  # no validation split
    assert training_check(history, 10, _val([0, 7]))["reasons"] == []  # one class only
    assert training_check(history, 10, _val([3, 7]))["reasons"] == ["at_chance"]


def test_stuck_is_a_loss_that_never_falls_while_still_high():
    stuck = training_check({"loss": [2.30, 2.31, 2.30]}, 10)
    assert stuck["reasons"] == ["stuck"] and stuck["lowest_later_loss"] == 2.30
    assert _english(_sentences.training_warnings({"training_check": stuck, "classes": ["a"] * 10})) == [
        "Warning: the training loss never fell below its first-epoch value 2.3000 (lowest later "
        "2.3000, last 2.3000): training is stuck."]
    # falling a little is learning; a model that starts good is not stuck
    assert training_check({"loss": [2.30, 2.29]}, 10)["reasons"] == []
    low = STUCK_SHARE * LN10 * 0.99
    assert training_check({"loss": [low, low * 1.01]}, 10)["reasons"] == []
    assert training_check({"loss": [2.30]}, 10)["reasons"] == []  # one epoch: nothing to compare


def test_no_history_is_not_applicable_and_nan_is_not_a_number_to_compare():
    assert training_check(None, 10) == {"flagged": False, "reasons": [], "applicable": False}
    assert training_check({"loss": []}, 10)["applicable"] is False
    check = training_check({"loss": [2.0, float("nan")], "val_accuracy": [0.5, float("nan")]},
                           10, BALANCED_VAL)
    assert check["reasons"] == [] and check["max_loss"] == 2.0


def test_discussion_opens_with_the_training_warnings():
    classes = [str(i) for i in range(10)]
    history = {"loss": [11759726.0, 11.6987], "val_loss": [17.1, 7.5],
               "val_accuracy": [_f32(10), _f32(10)]}
    check = training_check(history, 10, BALANCED_VAL)
    cm = np.zeros((10, 10), int)
    cm[:, 4] = 15
    entry = {"status": "ok", "accuracy": 0.1, "classes": classes, "history": history,
             "confusion_matrix": cm.tolist(), "training_check": check,
             "per_class": {c: {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 15}
                           for c in classes},
             "macro_avg": {"precision": 0.01, "recall": 0.1, "f1": 0.02}}
    discussion = _english(commentary.for_experiment(entry))
    notes = _english(_sentences.training_warnings({"training_check": check, "classes": classes}))
    assert len(notes) == 2 and discussion[:2] == notes
    assert discussion[2].startswith("Warning: 100.0% of the test predictions are 4")
    # a metrics.json written before the key existed: computed from the history (no val counts)
    older = {k: v for k, v in entry.items() if k != "training_check"}
    assert _english(commentary.for_experiment(older))[:1] == notes[:1]
    healthy = {**entry, "training_check": training_check({"loss": [2.0, 1.0]}, 10, BALANCED_VAL)}
    assert not any("training" in s for s in _english(commentary.for_experiment(healthy))[:1])


# --- NaN guards ----------------------------------------------------------------------------

def test_nan_predictions_fail_with_the_weights_named():
    weights = [np.ones(3), np.array([1.0, np.nan])]
    model = SimpleNamespace(weights=weights)
    probs = np.full((4, 3), 1 / 3)
    require_finite_predictions(probs, model, "m", trained=False)  # finite: passes
    probs[2, 1] = np.nan
    with pytest.raises(ModelError) as caught:
        require_finite_predictions(probs, model, "m", trained=False)
    message = str(caught.value)
    assert "'m' predicts NaN or infinite probabilities for 1 of 4 test images" in message
    assert "as loaded, without training" in message and "1 of its weight arrays" in message


def test_loss_guard_keeps_the_earliest_non_finite_batch():
    from reportgen.run import train

    guard = train._finite_loss_guard(epochs=2, steps=8)
    model = SimpleNamespace(stop_training=False)
    guard.set_model(model)
    guard.on_epoch_begin(0)
    guard.on_train_batch_end(1, {"loss": 2.3})
    assert guard.found is None and not model.stop_training
    guard.on_train_batch_end(4, {"loss": float("inf")})  # async batch ends may come out of order
    guard.on_train_batch_end(2, {"loss": float("nan")})
    guard.on_epoch_end(0, {"loss": float("nan"), "val_loss": float("nan")})
    assert model.stop_training
    assert (guard.found["epoch"], guard.found["batch"], guard.found["what"]) == (1, 3, "training loss")
    error = train._diverged(guard.found, "stage 1", False, SimpleNamespace(optimizer="adam"), 9.9,
                            "constant")
    assert str(error).startswith("Training stopped: the training loss became NaN at epoch 1, batch 3 "
                                 "of 8 (learning rate 9.9, optimizer adam). ")
    # a validation loss that is not a number stops training too
    guard = train._finite_loss_guard(epochs=3, steps=8)
    guard.set_model(SimpleNamespace(stop_training=False))
    guard.on_epoch_begin(1)
    guard.on_epoch_end(1, {"loss": 1.0, "val_loss": float("-inf")})
    assert (guard.found["epoch"], guard.found["batch"], guard.found["what"]) == (2, None, "validation loss")


# --- strict JSON ---------------------------------------------------------------------------

def test_non_finite_numbers_become_null_with_their_path(tmp_path):
    document = {"experiments": {"x": {"history": {"loss": [1.0, float("nan"), float("inf")]},
                                      "score": np.float64("-inf"), "n": 3}},
                "ok": 0.5}
    text = write_json_atomic(tmp_path / "m.json", document).read_text()
    assert "NaN" not in text and "Infinity" not in text
    loaded = strict_loads(text)
    assert loaded["experiments"]["x"]["history"]["loss"] == [1.0, None, None]
    assert loaded["experiments"]["x"]["score"] is None and loaded["ok"] == 0.5
    assert loaded[NON_FINITE_KEY] == ["experiments.x.history.loss[1]: nan",
                                      "experiments.x.history.loss[2]: inf",
                                      "experiments.x.score: -inf"]
    assert math.isnan(document["experiments"]["x"]["history"]["loss"][1])  # input unchanged
    # with plain json.dumps, the same document is not strict JSON
    with pytest.raises(ValueError, match="NaN"):
        strict_loads(json.dumps(document["experiments"]["x"]["history"]))


def test_finite_documents_are_unchanged_and_arrays_keep_reasons_per_object():
    finite = {"a": [1.0, 2], "b": {"c": None, "d": "nan"}}
    assert strict_document(finite) == finite and NON_FINITE_KEY not in strict_document(finite)
    sections = [{"key": "grid-a", "metrics": {"delta": float("nan")}}, {"key": "chain-b"}]
    assert strict_document(sections) == [
        {"key": "grid-a", "metrics": {"delta": None}, NON_FINITE_KEY: ["metrics.delta: nan"]},
        {"key": "chain-b"}]


# --- end to end ----------------------------------------------------------------------------

def _model_files(folder: Path) -> tuple[Path, Path]:
    """A Keras model file whose weights are NaN, and one whose huge finite weights make the loss
    overflow to NaN within the first epoch."""
    import keras

    def dense(path: Path, fill: float, layer: int | None) -> Path:
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Flatten(),
                                  keras.layers.Dense(10), keras.layers.Dense(10, activation="softmax")])
        for w in model.weights if layer is None else [model.layers[layer].kernel]:
            w.assign(np.full(w.shape, fill, dtype="float32"))
        model.save(path)
        return path

    return dense(folder / "nan.keras", np.nan, None), dense(folder / "huge.keras", 1e30, 1)


@pytest.fixture(scope="module")
def divergence_build(tmp_path_factory):
    folder = tmp_path_factory.mktemp("divergence")
    nan_path, huge_path = _model_files(folder)
    digits = json.dumps([str(i) for i in range(10)])
    manifest = folder / "experiments.toml"
    manifest.write_text(f"""\
[report]
title = {{ "zh-TW" = "發散測試", en = "Divergence test" }}
{TINY_STUDENT}seed = 7
formats = ["html"]
{tiny_digits_cnn()}
[[models]]
name = "nan_weights"
kind = "file"
path = "{nan_path.name}"
classes = {digits}

[[models]]
name = "huge_weights"
kind = "file"
path = "{huge_path.name}"
classes = {digits}

[[experiments]]
name = "healthy"
dataset = "digits"
model = "cnn"
train = {{ epochs = 2 }}

[[experiments]]
name = "lr99"
dataset = "digits"
model = "cnn"
train = {{ epochs = 2, learning_rate = 9.9 }}

[[experiments]]
name = "nan_trained"
dataset = "digits"
model = "nan_weights"
train = {{ epochs = 2 }}

[[experiments]]
name = "nan_as_loaded"
dataset = "digits"
model = "nan_weights"

[[experiments]]
name = "overflow"
dataset = "digits"
model = "huge_weights"
train = {{ epochs = 2 }}
""", encoding="utf-8")
    out = folder / "out"
    done = run_reportgen("build", manifest, "--out", out, "-q")
    return manifest, out, done


@pytest.mark.slow
def test_nan_fails_its_experiment_and_the_others_go_on(divergence_build):
    _, out, done = divergence_build
    assert done.returncode == 1, done.stderr
    metrics = strict_loads((out / "metrics.json").read_text(encoding="utf-8"))
    experiments = metrics["experiments"]
    status = {name: e["status"] for name, e in experiments.items()}
    assert status["healthy"] == "ok" and status["nan_trained"] == status["nan_as_loaded"] == "failed"
    assert status["overflow"] == "failed"
    reasons = {
        "nan_trained": "Training not started: 4 of the model's weight arrays hold NaN or infinite "
                       "values before training",
        "nan_as_loaded": "predicts NaN or infinite probabilities for 150 of 150 test images (as "
                         "loaded, without training)",
        "overflow": "Training stopped: the training loss became NaN at epoch 1, batch ",
    }
    html = (out / "report.html").read_text(encoding="utf-8")
    for name, reason in reasons.items():
        assert reason in experiments[name]["error"], experiments[name]["error"]
        assert experiments[name]["accuracy"] is None and experiments[name]["history"] is None
        assert reason.replace("'", "&#39;") in html, name
    assert "learning rate 0.001, optimizer adam" in experiments["overflow"]["error"]
    assert not experiments["healthy"]["training_check"]["flagged"]
    assert "nan_trained, nan_as_loaded, overflow" in done.stderr + done.stdout


@pytest.mark.slow
def test_learning_rate_9_9_is_flagged_or_failed(divergence_build):
    _, out, _ = divergence_build
    entry = strict_loads((out / "metrics.json").read_text(encoding="utf-8"))["experiments"]["lr99"]
    if entry["status"] == "failed":  # went NaN: stopped with the learning rate named
        assert "learning rate 9.9" in entry["error"]
        return
    check = entry["training_check"]
    assert check["flagged"] and "exploding" in check["reasons"], check
    first = _english_of(entry["commentary"])[0]
    assert first.startswith("Warning: the training loss reached ")
    notes = _english_of(entry["analyses"]["training_curves"]["notes"])
    assert notes[0] == first
    assert first in (out / "report.html").read_text(encoding="utf-8")


def _english_of(msgs_json):
    from reportgen.report_types import Msg

    return [translate_msg(Msg.from_json(m), "en") for m in msgs_json]


@pytest.mark.slow
def test_every_json_reportgen_wrote_is_strict(divergence_build):
    _, out, _ = divergence_build
    written = [p for p in out.rglob("*.json") if "cache" not in p.relative_to(out).parts]
    assert {"metrics.json", "record.json"} <= {p.name for p in written}
    for path in written:
        strict_loads(path.read_text(encoding="utf-8"))


@pytest.mark.slow
def test_a_flagged_run_alone_exits_0(divergence_build):
    """Documented exit codes: a flagged (diverging but finite) run is reported with its warning
    and exits 0; only failed experiments give 1. The cache of the first build is reused."""
    manifest, out, _ = divergence_build
    entry = strict_loads((out / "metrics.json").read_text(encoding="utf-8"))["experiments"]["lr99"]
    done = run_reportgen("build", manifest, "--out", out, "--only", "healthy", "--only", "lr99", "-q")
    assert done.returncode == (1 if entry["status"] == "failed" else 0), done.stderr
    again = strict_loads((out / "metrics.json").read_text(encoding="utf-8"))["experiments"]["lr99"]
    assert again["training_check"] == entry["training_check"]
