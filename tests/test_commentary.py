"""Commentary sentences: which apply, and that their numbers are the metrics' numbers."""

from __future__ import annotations

from reportgen.i18n import translate_msg
from reportgen.study import commentary


def _entry(**overrides):
    entry = {
        "status": "ok", "accuracy": 0.8, "classes": ["angry", "disgust", "happy"],
        "per_class": {"angry": {"precision": 0.7, "recall": 0.75, "f1": 0.72, "support": 40},
                      "disgust": {"precision": 0.5, "recall": 0.25, "f1": 0.3333, "support": 8},
                      "happy": {"precision": 0.95, "recall": 0.9, "f1": 0.925, "support": 60}},
        "macro_avg": {"precision": 0.72, "recall": 0.6333, "f1": 0.66},
        "confusion_matrix": [[30, 2, 8], [5, 2, 1], [6, 0, 54]],
        "history": {"loss": [1.0, 0.6, 0.4, 0.3], "val_loss": [0.9, 0.7, 0.75, 0.8]},
        "train": {"early_stopping": True, "max_epochs": 10},
    }
    entry.update(overrides)
    return entry


def _english(msgs):
    return [translate_msg(m, "en") for m in msgs]


def test_every_sentence_of_a_known_experiment():
    text = _english(commentary.for_experiment(_entry()))
    assert text == [
        "Best recognised class: happy (F1 0.9250, 60 test images); "
        "worst: disgust (F1 0.3333, 8 test images).",
        "angry was taken for happy 8 times (20.0% of its 40 test images).",
        "happy was taken for angry 6 times (10.0% of its 60 test images).",
        "disgust was taken for angry 5 times (62.5% of its 8 test images).",
        "The test classes are imbalanced: disgust has 8 images against 60 for happy; the recall of "
        "disgust is 0.2500 (macro average 0.6333).",
        "Validation loss is lowest at epoch 2 (0.7000) and rises to 0.8000 by epoch 4 while the "
        "training loss keeps falling (0.6000 → 0.3000): the model starts to over-fit after epoch 2.",
        "Early stopping ended training after 4 of at most 10 epochs.",
    ]
    chinese = [translate_msg(m, "zh-TW") for m in commentary.for_experiment(_entry())]
    assert "自第 2 個週期後開始過擬合" in chinese[5] and "disgust 只有 8 張影像" in chinese[4]


def test_sentences_that_do_not_apply_are_left_out():
    balanced = {name: {**v, "support": 40} for name, v in _entry()["per_class"].items()}
    entry = _entry(per_class=balanced, confusion_matrix=[[40, 0, 0], [0, 40, 0], [0, 0, 40]],
                   history={"loss": [1.0, 0.5], "val_loss": [0.9, 0.6]},
                   train={"early_stopping": True, "max_epochs": 2})
    text = _english(commentary.for_experiment(entry))
    assert text[1] == "No test image was misclassified."
    assert not any("imbalanced" in t or "over-fit" in t or "Early stopping" in t for t in text)
    assert text[-1] == ("Validation loss was still falling at the last epoch (2: 0.6000); "
                        "more epochs may help.")
    assert commentary.for_experiment({"status": "ok", "accuracy": None}) == []
    assert commentary.for_experiment(_entry(status="failed")) == []


def test_grid_and_chain_sentences():
    """Sentences from a section's metrics alone: a variant without a paired test is not called a
    gain, a significant one is (the paired tests themselves: tests/test_study_significance.py)."""
    compared = {"runs": 1, "seeds": [], "accuracy": {"delta_points": 2.12, "ci_points": [0.4, 3.9],
                                                     "p": 0.0042, "p_holm": 0.0084}}
    grid = {"baseline": "g-plain", "holm": {"comparisons": 2, "applied": True},
            "variants": [{"variant": "g-plain", "score": {"accuracy": 0.95}, "vs_baseline": None},
                         {"variant": "g-aug", "score": {"accuracy": 0.9712}, "vs_baseline": compared},
                         {"variant": "g-norm", "score": {"accuracy": 0.9531}, "vs_baseline": None}],
            "standing": {"top": "g-aug", "accuracy": 0.9712, "best": False, "comparisons": 1,
                         "others": [{"experiment": "g-plain", "paired": True, "p_holm": 0.0042,
                                     "decision": "improves"},
                                    {"experiment": "g-norm", "paired": False, "decision": "not paired"}]}}
    assert _english(commentary.for_comparison("grid-g", grid)) == [
        "The p-values against g-plain use Holm's correction for 2 comparisons.",
        "g-aug improves test accuracy over g-plain by 2.1 points (95 % CI [+0.4, +3.9], McNemar "
        "p = 0.004; Holm-adjusted p = 0.008).",
        "g-norm and g-plain differ by +0.3 points of test accuracy, untested: no paired predictions on "
        "the same test images, so this is not called a gain or a loss.",
        "No variant is significantly better than the others: g-aug has the highest test accuracy "
        "(0.9712) but is not significantly above g-norm.",
    ]
    chain = {"steps": [{"step": 1, "experiment": "a", "dataset": "fer", "accuracy": 0.6, "comparable": None},
                       {"step": 2, "experiment": "b", "dataset": "ck", "accuracy": 0.553, "comparable": False,
                        "delta_points": None, "vs_previous": None}]}
    assert _english(commentary.for_comparison("chain-a-b", chain)) == [
        "Step 2, b on ck: test accuracy 0.5530, on other test images than step 1 (fer), so the two are "
        "not compared."]
    assert commentary.for_comparison("overview", {}) == []


def _analysed(tmp_path, classes, y_true, y_pred):
    """The per-class and confusion-matrix analyses' notes, and the Discussion of the same
    predictions (the metrics.json entry as artifacts.experiment_entry writes it)."""
    from types import SimpleNamespace

    from reportgen.analyses import registry
    from reportgen.analyses.base import AnalysisContext, NoParams

    data = SimpleNamespace(test=SimpleNamespace(x=None, y=y_true), labelled=True)
    ctx = AnalysisContext(experiment="ties", classes=classes, model=None, data=data, preprocess=None,
                          history=None, figure_dir=tmp_path, seed=0, languages=["en"])
    ctx.__dict__["y_pred"] = y_pred  # predictions given, no model
    # through the registry, as a build finds them (importing one module would register it alone)
    report = _english(registry.get("classification_report")().run(ctx, NoParams()).notes)
    confusion = _english(registry.get("confusion_matrix")().run(ctx, NoParams()).notes)
    ev = ctx.evaluation
    entry = {"status": "ok", "classes": classes, **{k: ev[k] for k in (
        "accuracy", "per_class", "macro_avg", "weighted_avg", "confusion_matrix", "most_confused")}}
    return ev, report, confusion, entry


def test_tied_f1_and_tied_pairs_are_named_alike_everywhere(tmp_path):
    import numpy as np
    from sklearn.metrics import f1_score

    classes = ["happy", "angry", "sad"]  # not alphabetical: class order ≠ name order
    cm = np.array([[10, 0, 0], [0, 3, 0], [1, 1, 6]])
    y_true = np.repeat(np.arange(3), cm.sum(axis=1))
    y_pred = np.concatenate([np.repeat(np.arange(3), row) for row in cm])
    f1 = f1_score(y_true, y_pred, average=None)
    assert f1[1] == f1[2] < f1[0]  # angry (3 images) and sad (8 images) tie for the lowest F1
    ev, report, confusion, entry = _analysed(tmp_path, classes, y_true, y_pred)

    # the rule: rank by F1, then more test images first, then class order; worst is the last
    assert (ev["best_worst"]["best"], ev["best_worst"]["worst"]) == ("happy", "angry")
    assert report[-1] == f"Highest F1: happy ({f1[0]:.4f}); lowest F1: angry ({f1[1]:.4f})."
    for stored in (False, True):
        discussion = _english(commentary.for_experiment(
            {**entry, "best_worst": ev["best_worst"]} if stored else entry))
        assert discussion[0] == (f"Best recognised class: happy (F1 {f1[0]:.4f}, 10 test images); "
                                 f"worst: angry (F1 {f1[1]:.4f}, 3 test images).")
        # two pairs of one image each: class order of the predicted class (happy before angry)
        assert discussion[1:3] == ["sad was taken for happy 1 time (12.5% of its 8 test images).",
                                   "sad was taken for angry 1 time (12.5% of its 8 test images)."]
    assert confusion == ["Most confused: sad predicted as happy (1 image).",
                         "Most confused: sad predicted as angry (1 image)."]


def test_equal_f1_everywhere_is_said_once(tmp_path):
    import numpy as np

    y = np.array([0, 0, 1, 1, 2, 2])
    _, report, _, entry = _analysed(tmp_path, ["b", "a", "c"], y, y)
    assert report == ["Every class has the same F1 (1.0000)."]
    discussion = _english(commentary.for_experiment(entry))
    assert discussion[:2] == ["Every class has the same F1 (1.0000).", "No test image was misclassified."]


def test_classes_without_test_images_are_not_ranked():
    from reportgen.run.evaluate import best_and_worst_classes

    per_class = {"a": {"f1": 0.8, "support": 5}, "b": {"f1": 0.0, "support": 0},
                 "c": {"f1": 0.5, "support": 5}}
    ranking = best_and_worst_classes(per_class)
    assert (ranking["best"], ranking["worst"]) == ("a", "c")
    assert best_and_worst_classes({"a": {"f1": 0.8, "support": 5}, "b": {"f1": 0.0, "support": 0}}) is None


def test_best_epoch_is_the_first_lowest_validation_loss():
    from reportgen.run.evaluate import best_epoch

    assert best_epoch([0.5, 0.3, 0.3, 0.4]) == 2 and best_epoch([]) is None
