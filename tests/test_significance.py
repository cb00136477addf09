"""reportgen.significance and the intervals evaluate() records, against independent references:
statsmodels' Wilson interval, McNemar test and Holm adjustment, SciPy's binomial test and
bootstrap, scikit-learn's F1, and a coverage simulation from a known confusion model."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest, bootstrap
from sklearn.metrics import f1_score
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from reportgen import significance
from reportgen.run.evaluate import evaluate
from reportgen.significance import (
    BOOTSTRAP_SEED,
    bootstrap_f1,
    holm,
    mcnemar_exact,
    paired_comparison,
    wilson_interval,
)


def _labels(n: int, k: int, accuracy: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """True labels and predictions that are right with probability ``accuracy`` (else a
    uniformly drawn class)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    return y, np.where(rng.random(n) < accuracy, y, rng.integers(0, k, n))


def _macro_f1(y_true: np.ndarray, y_pred: np.ndarray, k: int, axis: int = -1) -> np.ndarray:
    """Macro-F1 over the last axis from per-class one-hot sums (precision and recall, then their
    harmonic mean; 0 where undefined), written apart from significance.f1_from_counts."""
    out = []
    for c in range(k):
        tp = np.sum((y_true == c) & (y_pred == c), axis=axis)
        predicted, actual = np.sum(y_pred == c, axis=axis), np.sum(y_true == c, axis=axis)
        precision = np.where(predicted > 0, tp / np.maximum(predicted, 1), 0.0)
        recall = np.where(actual > 0, tp / np.maximum(actual, 1), 0.0)
        total = precision + recall
        out.append(np.where(total > 0, 2 * precision * recall / np.where(total > 0, total, 1), 0.0))
    return np.stack(out, axis=-1)


@pytest.mark.parametrize(("correct", "total"), [(354, 360), (0, 20), (20, 20), (7, 13), (1, 1)])
def test_wilson_interval_is_statsmodels_wilson(correct, total):
    low, high = proportion_confint(correct, total, alpha=0.05, method="wilson")
    assert wilson_interval(correct, total) == pytest.approx((low, high), abs=1e-12)


@pytest.mark.parametrize(("a_only", "b_only", "both", "neither"), [(9, 2, 50, 5), (0, 6, 10, 1),
                                                                    (13, 13, 4, 0), (1, 0, 3, 3)])
def test_mcnemar_exact_is_the_binomial_test_on_the_discordant_images(a_only, b_only, both, neither):
    correct_a = np.array([1] * a_only + [0] * b_only + [1] * both + [0] * neither, dtype=bool)
    correct_b = np.array([0] * a_only + [1] * b_only + [1] * both + [0] * neither, dtype=bool)
    order = np.random.default_rng(a_only).permutation(len(correct_a))
    result = mcnemar_exact(correct_a[order], correct_b[order])
    assert (result["a_only"], result["b_only"]) == (a_only, b_only)
    assert result["p"] == pytest.approx(binomtest(a_only, a_only + b_only, 0.5).pvalue, abs=1e-12)
    table = [[both, a_only], [b_only, neither]]
    assert result["p"] == pytest.approx(mcnemar(table, exact=True).pvalue, abs=1e-12)


def test_holm_is_statsmodels_holm():
    p = [0.01, 0.04, 0.03, 0.2, 0.04, 0.001]
    assert holm(p) == pytest.approx(list(multipletests(p, method="holm")[1]), abs=1e-12)
    assert holm([]) == []


def test_bootstrap_f1_is_reproducible_and_independent_of_the_chunk_size(monkeypatch):
    y, pred = _labels(300, 4, 0.8, seed=1)
    first = bootstrap_f1(y, pred, 4)
    assert bootstrap_f1(y, pred, 4) == first
    monkeypatch.setattr(significance, "CHUNK_CELLS", 7 * 300 + 11)  # 7 resamples per chunk
    assert bootstrap_f1(y, pred, 4) == first
    assert bootstrap_f1(y, pred, 4, seed=BOOTSTRAP_SEED + 1) != first


def test_bootstrap_f1_is_close_to_scipy_percentile_bootstrap():
    y, pred = _labels(400, 3, 0.75, seed=2)
    ours = bootstrap_f1(y, pred, 3)
    ci = bootstrap((y, pred), lambda t, p, axis: _macro_f1(t, p, 3, axis).mean(axis=-1),
                   paired=True, vectorized=True, n_resamples=2000, method="percentile",
                   random_state=np.random.default_rng(5)).confidence_interval
    # Two independent sets of 2000 resamples: the percentiles agree to Monte-Carlo error.
    assert ours["macro_f1"] == pytest.approx((ci.low, ci.high), abs=0.012)
    point = f1_score(y, pred, average="macro")
    assert ours["macro_f1"][0] < point < ours["macro_f1"][1]


def test_bootstrap_f1_interval_covers_the_true_macro_f1_at_about_the_nominal_rate():
    # A known confusion model: P(true = i) and P(predicted = j | true = i).
    prior = np.array([0.5, 0.3, 0.2])
    confusion = np.array([[0.85, 0.10, 0.05], [0.15, 0.75, 0.10], [0.10, 0.20, 0.70]])
    joint = prior[:, None] * confusion
    true_f1 = np.mean(2 * np.diag(joint) / (joint.sum(axis=1) + joint.sum(axis=0)))
    rng = np.random.default_rng(11)
    covered, trials, n = 0, 200, 250
    for trial in range(trials):
        y = rng.choice(3, size=n, p=prior)
        pred = np.minimum((rng.random(n)[:, None] > np.cumsum(confusion[y], axis=1)).sum(axis=1), 2)
        low, high = bootstrap_f1(y, pred, 3, resamples=1000, seed=trial)["macro_f1"]
        covered += low <= true_f1 <= high
    assert 0.90 <= covered / trials <= 0.985


def test_paired_comparison_gives_the_mcnemar_p_of_constructed_predictions():
    # 200 images of 3 classes; A right on 150 of them, B right on 130; 30 images only A got
    # right, 10 only B.
    y = np.arange(200) % 3
    wrong = (y + 1) % 3
    a_right = np.zeros(200, bool)
    b_right = np.zeros(200, bool)
    a_right[:30] = True                  # A only
    b_right[30:40] = True                # B only
    a_right[40:160] = b_right[40:160] = True
    a, b = np.where(a_right, y, wrong), np.where(b_right, y, wrong)
    result = paired_comparison(y, a, b, 3)
    assert result["runs"] == 1 and result["test"] == "mcnemar_exact"
    assert result["accuracy"]["p"] == pytest.approx(binomtest(30, 40, 0.5).pvalue, abs=1e-12)
    assert result["accuracy"]["a"] == pytest.approx(0.75) and result["accuracy"]["b"] == pytest.approx(0.65)
    assert result["accuracy"]["delta_points"] == pytest.approx(10.0)
    low, high = result["accuracy"]["ci_points"]
    assert 0 < low < 10 < high
    assert result["macro_f1"]["delta_points"] == pytest.approx(
        (f1_score(y, a, average="macro") - f1_score(y, b, average="macro")) * 100)
    assert result["per_run"][0]["mcnemar"] == {"a_only": 30, "b_only": 10, "p": result["accuracy"]["p"]}


def test_evaluate_intervals_equal_independent_computations():
    y, pred = _labels(40, 3, 0.7, seed=3)
    classes = ["cat", "dog", "owl"]
    intervals = evaluate(y, pred, classes)["intervals"]
    correct = int(np.sum(y == pred))
    assert intervals["accuracy"] == pytest.approx(
        list(proportion_confint(correct, 40, alpha=0.05, method="wilson")), abs=1e-12)
    # The same resamples (one seeded draw of 2000 × 40 indices), every statistic recomputed
    # with the one-hot formula.
    index = np.random.default_rng(BOOTSTRAP_SEED).integers(0, 40, size=(2000, 40), dtype=np.int64)
    per_class = _macro_f1(y[index], pred[index], 3)                  # (2000, 3)
    support = np.stack([np.sum(y[index] == c, axis=1) for c in range(3)], axis=1)
    weighted = (per_class * support).sum(axis=1) / 40
    assert _macro_f1(y, pred, 3).mean() == pytest.approx(f1_score(y, pred, average="macro"))

    def percentile(values: np.ndarray) -> list[float]:
        return list(np.percentile(values, [2.5, 97.5], axis=0))

    assert intervals["macro_f1"] == pytest.approx(percentile(per_class.mean(axis=1)), abs=1e-12)
    assert intervals["weighted_f1"] == pytest.approx(percentile(weighted), abs=1e-12)
    lows, highs = percentile(per_class)
    for c, name in enumerate(classes):
        assert intervals["per_class_f1"][name] == pytest.approx([lows[c], highs[c]], abs=1e-12)
    assert {k: intervals[k] for k in ("confidence", "accuracy_method", "f1_method", "resamples",
                                      "seed")} == {
        "confidence": 0.95, "accuracy_method": "wilson",
        "f1_method": "percentile bootstrap over test images", "resamples": 2000,
        "seed": BOOTSTRAP_SEED}


@pytest.mark.parametrize("a, b", [([0.98, 0.97, 0.99], [0.96, 0.965, 0.95]),
                                  ([0.5, 0.7], [0.6, 0.55]),
                                  ([0.91, 0.93, 0.90, 0.95, 0.92], [0.92, 0.90, 0.91, 0.93, 0.94])])
def test_seeds_ttest_is_scipy_ttest_rel(a, b):
    from scipy.stats import ttest_rel

    assert significance.seeds_ttest(a, b) == pytest.approx(ttest_rel(a, b).pvalue, rel=1e-9)


def test_seeds_ttest_with_equal_differences_and_one_seed():
    assert significance.seeds_ttest([0.9, 0.8], [0.85, 0.75]) == 0.0  # same +5 points every seed
    assert significance.seeds_ttest([0.9, 0.8], [0.9, 0.8]) == 1.0
    assert significance.seeds_ttest([0.9], [0.8]) is None
