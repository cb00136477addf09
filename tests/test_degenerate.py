"""Degenerate models (one class for everything, or no better than the majority class) are
flagged in the evaluation, the accuracy notes and the Discussion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix

from reportgen.analyses import _sentences, registry
from reportgen.analyses.base import AnalysisContext, NoParams
from reportgen.i18n import translate_msg
from reportgen.run.evaluate import CONCENTRATION, degenerate, evaluate
from reportgen.study import commentary

CLASSES = ["angry", "happy", "sad", "neutral"]


def _english(msgs):
    return [translate_msg(m, "en") for m in msgs]


def _labels(counts):
    return np.repeat(np.arange(len(counts)), counts)


def _independent(y_true, y_pred, k):
    """The two rules recomputed from the predictions, without run.evaluate."""
    predicted = np.bincount(y_pred, minlength=k) / len(y_pred)
    labels = np.bincount(y_true, minlength=k) / len(y_true)
    top = int(np.argmax(predicted))
    one_class = bool(predicted[top] >= 0.9 and labels[top] < 0.9)
    majority = bool(np.count_nonzero(labels) >= 2
                and np.sum(y_true == y_pred) <= np.bincount(y_true).max())
    return one_class, majority


def test_constant_predictions_are_flagged_for_both_reasons():
    y_true = _labels([30, 50, 15, 5])
    y_pred = np.full(len(y_true), 2)  # always "sad", 15 % of the labels
    ev = evaluate(y_true, y_pred, CLASSES)
    check = ev["degenerate"]
    assert check["flagged"] and check["reasons"] == ["one_class", "majority_rate"]
    assert _independent(y_true, y_pred, 4) == (True, True)
    assert check["top_predicted"] == "sad" and check["top_predicted_share"] == 1.0
    assert check["top_predicted_label_share"] == pytest.approx(0.15)
    assert check["majority_class"] == "happy" and check["majority_rate"] == pytest.approx(0.5)
    assert check["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred)) == pytest.approx(0.15)
    warnings = _english(_sentences.degenerate_warnings({**ev, "classes": CLASSES}))
    assert warnings == [
        "Warning: 100.0% of the test predictions are sad, which is only 15.0% of the test labels: "
        "the model predicts almost a single class.",
        "Warning: the test accuracy 0.1500 is not above the majority-class rate 0.5000 (always "
        "answering happy): the model does no better than guessing the most frequent class."]


@pytest.mark.parametrize("share, expected", [(0.90, True), (0.89, False)])
def test_concentration_threshold_is_inclusive_at_90_percent(share, expected):
    y_true = np.tile(np.arange(4), 25)  # balanced, 100 images
    rng = np.random.default_rng(0)
    y_pred = y_true.copy()
    on_one = int(share * 100)
    # on_one predictions are "angry" (25 of them correct); the rest right
    wrong = rng.permutation(np.flatnonzero(y_true != 0))[: on_one - 25]
    y_pred[wrong] = 0
    assert np.mean(y_pred == 0) == pytest.approx(share)
    check = degenerate(confusion_matrix(y_true, y_pred, labels=range(4)), CLASSES)
    assert ("one_class" in check["reasons"]) is expected is _independent(y_true, y_pred, 4)[0]
    assert CONCENTRATION == 0.9


def test_a_class_that_is_most_labels_may_be_most_predictions():
    y_true = _labels([95, 3, 1, 1])
    y_pred = y_true.copy()
    y_pred[95:97] = 0  # 97 % "angry" predictions, 95 % of labels: accuracy 0.98 > 0.95
    check = evaluate(y_true, y_pred, CLASSES)["degenerate"]
    assert not check["flagged"] and _independent(y_true, y_pred, 4) == (False, False)


def test_accuracy_equal_to_majority_rate_is_flagged_but_not_on_a_one_class_test_set():
    y_true = _labels([50, 50, 0, 0])
    y_pred = np.where(np.arange(100) % 2 == 0, 0, 1)  # a coin flip: accuracy 0.5
    check = evaluate(y_true, y_pred, CLASSES)["degenerate"]
    assert check["reasons"] == ["majority_rate"] and check["accuracy"] == check["majority_rate"] == 0.5
    good = y_true.copy()
    good[:10] = 1
    assert not evaluate(y_true, good, CLASSES)["degenerate"]["flagged"]
    one_class = evaluate(np.zeros(20, int), np.array([0] * 15 + [1] * 5), CLASSES)["degenerate"]
    assert not one_class["flagged"]  # nothing to beat: every label is angry
    assert degenerate(np.zeros((4, 4), int), CLASSES)["flagged"] is False  # no test images


def _constant_model(classes: int, answer: int):
    """A real (tiny) Keras CNN whose last layer ignores its input and always favours ``answer``."""
    from reportgen.config.schema import CnnModel, ConvBlock
    from reportgen.run import models

    spec = CnnModel(kind="cnn", name="cnn", input_shape=(12, 12, 1), conv_blocks=[ConvBlock(filters=4)],
                    dense=[8])
    model = models.build_model(spec, classes, Path("."))
    last = model.layers[-1]
    kernel, bias = last.get_weights()
    bias = np.full_like(bias, -5.0)
    bias[answer] = 5.0
    last.set_weights([np.zeros_like(kernel), bias])
    return model, models.preprocess_function(spec)


def test_a_real_model_that_predicts_a_constant_is_flagged_in_notes_and_discussion(tmp_path):
    from reportgen.config.schema import DigitsDataset
    from reportgen.run.data import load_dataset

    data = load_dataset(DigitsDataset(kind="digits", name="digits", max_samples=300), (12, 12), 1, 0,
                        Path("."))
    model, preprocess = _constant_model(10, answer=3)
    classes = [str(i) for i in range(10)]
    ctx = AnalysisContext(experiment="constant", classes=classes, model=model, data=data,
                          preprocess=preprocess, history=None, figure_dir=tmp_path, seed=0,
                          languages=["zh-TW", "en"])
    assert set(ctx.y_pred.tolist()) == {3}
    ev = ctx.evaluation
    assert ev["degenerate"]["flagged"] and ev["degenerate"]["reasons"] == ["one_class", "majority_rate"]
    assert _independent(ctx.y_true, ctx.y_pred, 10) == (True, True)
    assert ev["degenerate"]["majority_rate"] == pytest.approx(np.bincount(ctx.y_true).max() / len(ctx.y_true))

    result = registry.get("accuracy")().run(ctx, NoParams())
    assert result.metrics["degenerate"] == ev["degenerate"]
    notes = _english(result.notes)[1:]  # after the accuracy sentence
    assert notes[0].startswith("Warning: 100.0% of the test predictions are 3, which is only ")
    assert notes[1].startswith("Warning: the test accuracy ")
    # the Discussion opens with the same warnings, from the metrics.json entry
    entry = {"status": "ok", "classes": classes, **{k: ev[k] for k in (
        "accuracy", "per_class", "macro_avg", "weighted_avg", "confusion_matrix", "most_confused")}}
    for with_key in (False, True):  # metrics.json with or without the stored check
        discussion = _english(commentary.for_experiment(
            {**entry, "degenerate": ev["degenerate"]} if with_key else entry))
        assert discussion[:2] == notes[:2]
    assert not any("Warning" in s for s in _english(_sentences.degenerate_warnings(
        {**entry, "confusion_matrix": np.diag(np.bincount(ctx.y_true)).tolist()})))
