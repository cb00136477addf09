"""How sure a number is, and whether two numbers differ by more than noise.

Pure NumPy / SciPy, no model and no image: intervals of one run's test metrics and paired tests
of two runs (or two sets of seeded runs) on the same test images.

- accuracy: Wilson score interval (closed form; the normal quantile from the standard library);
- macro-, weighted- and per-class F1: percentile bootstrap over test images (:data:`RESAMPLES`
  resamples drawn from :data:`BOOTSTRAP_SEED`, so the same predictions always give the same
  interval), vectorised: one ``bincount`` per chunk of resamples;
- two runs on the same images: McNemar's exact test on the discordant images (the binomial
  distribution function ``scipy.special.bdtr``), a paired bootstrap (the same resampled images
  for both) for the difference of accuracy and of macro-F1 and their intervals;
- seeded repeats (R runs each, paired by seed): the mean difference over seeds, its interval over
  test images (one resample of images applied to every seed), the paired t-test across seeds
  (Student's t distribution ``scipy.special.stdtr``), and one p-value that is the larger of the
  across-seeds and the across-images p-values (an intersection-union test: a difference is
  called an effect only when it stands out from both sources of noise);
- many comparisons at once: Holm's step-down adjustment.

Only ``scipy.special`` is imported (0.25 s), not ``scipy.stats`` (1–2.5 s): a rebuild that reuses
every result still runs the study. tests/test_significance.py checks each formula against
``scipy.stats`` and statsmodels.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from statistics import NormalDist
from typing import Any

import numpy as np

CONFIDENCE = 0.95
ALPHA = 0.05
"""A (Holm-adjusted) p-value below this is called significant."""
RESAMPLES = 2000
BOOTSTRAP_SEED = 20_240_601
"""Every bootstrap draws its resamples from this seed: an interval is a function of the
predictions only."""
CHUNK_CELLS = 4_000_000
"""Resampled (resample, image) cells held in memory at once (about 32 MB of indices)."""


def wilson_interval(correct: int, total: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of ``correct / total``; (0, 1) for an empty test set."""
    if total <= 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    share, n = correct / total, float(total)
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _resamples(n: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Chunks of bootstrap index rows (each row: ``n`` image indices drawn with replacement),
    ``resamples`` rows in all; the same seed gives the same rows whatever the chunk size."""
    rng = np.random.default_rng(seed)
    per_chunk = max(1, CHUNK_CELLS // max(n, 1))
    done = 0
    while done < resamples:
        rows = min(per_chunk, resamples - done)
        yield rng.integers(0, n, size=(rows, n), dtype=np.int64)
        done += rows


_WEIGHTS: dict[tuple[int, int, int], list[np.ndarray]] = {}
"""The last resample weights drawn, kept while every pair of a study reuses them."""


def _weights(n: int, resamples: int, seed: int) -> list[np.ndarray]:
    """The resamples as weights: chunks of (rows, n) float32 counts, how often each image is
    drawn in each resample row of :func:`_resamples`. A confusion matrix of a resample is then
    a matrix product, and every run and every pair compared on these images shares one draw."""
    key = (n, resamples, seed)
    if key not in _WEIGHTS:
        chunks = []
        for index in _resamples(n, resamples, seed):
            rows = index.shape[0]
            flat = (index + (np.arange(rows) * n)[:, None]).ravel()
            chunks.append(np.bincount(flat, minlength=rows * n).reshape(rows, n).astype(np.float32))
        _WEIGHTS.clear()  # one test set at a time: memory stays bounded
        _WEIGHTS[key] = chunks
    return _WEIGHTS[key]


def _cells(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """One-hot confusion cells (images, k·k) of a run, float32 (so weights @ cells counts)."""
    cells = np.zeros((len(y_true), k * k), dtype=np.float32)
    cells[np.arange(len(y_true)), y_true * k + y_pred] = 1.0
    return cells


def _counts(weights: np.ndarray, cells: np.ndarray, k: int) -> np.ndarray:
    """Confusion counts (rows, k, k) of each resample row (rows true, columns predicted); exact
    in float32 below 2**24 images."""
    return (weights @ cells).reshape(-1, k, k)


def f1_from_counts(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class F1 (…, k), macro-F1 (…) and support-weighted F1 (…) from confusion counts
    (…, k, k), as scikit-learn's ``classification_report(zero_division=0)`` computes them over
    every class (a class with no image and no prediction has F1 0)."""
    tp = np.diagonal(counts, axis1=-2, axis2=-1).astype(float)
    support = counts.sum(axis=-1).astype(float)
    predicted = counts.sum(axis=-2).astype(float)
    denominator = support + predicted
    f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    total = support.sum(axis=-1)
    weighted = np.divide((f1 * support).sum(axis=-1), total, out=np.zeros_like(total), where=total > 0)
    return f1, f1.mean(axis=-1), weighted


def _percentiles(samples: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail], axis=0)
    return low, high


def bootstrap_f1(y_true: Any, y_pred: Any, num_classes: int, resamples: int = RESAMPLES,
                 seed: int = BOOTSTRAP_SEED, confidence: float = CONFIDENCE) -> dict[str, Any]:
    """Percentile bootstrap intervals over test images of macro-F1, weighted-F1 and each class's
    F1: ``{"macro_f1": (low, high), "weighted_f1": (low, high), "per_class_f1": [(low, high),
    …]}`` (class order of the labels ``0 … num_classes − 1``)."""
    y_true = np.asarray(y_true, dtype=np.int64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.int64).ravel()
    if len(y_true) == 0:
        return {"macro_f1": (0.0, 1.0), "weighted_f1": (0.0, 1.0),
                "per_class_f1": [(0.0, 1.0)] * num_classes}
    per_class, macro, weighted = [], [], []
    cells = _cells(y_true, y_pred, num_classes)
    for chunk in _weights(len(y_true), resamples, seed):
        f1, m, w = f1_from_counts(_counts(chunk, cells, num_classes))
        per_class.append(f1)
        macro.append(m)
        weighted.append(w)
    per_low, per_high = _percentiles(np.concatenate(per_class), confidence)
    macro_low, macro_high = _percentiles(np.concatenate(macro), confidence)
    weighted_low, weighted_high = _percentiles(np.concatenate(weighted), confidence)
    return {"macro_f1": (float(macro_low), float(macro_high)),
            "weighted_f1": (float(weighted_low), float(weighted_high)),
            "per_class_f1": [(float(lo), float(hi)) for lo, hi in zip(per_low, per_high)]}


def mcnemar_exact(correct_a: Any, correct_b: Any) -> dict[str, Any]:
    """McNemar's exact test of two classifiers on the same images: ``a_only`` images only A got
    right, ``b_only`` only B, and the two-sided p-value of ``a_only`` under Binomial(a_only +
    b_only, ½) (1.0 when no image is discordant)."""
    a = np.asarray(correct_a, dtype=bool).ravel()
    b = np.asarray(correct_b, dtype=bool).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired predictions of different lengths: {a.shape} vs {b.shape}")
    a_only, b_only = int(np.sum(a & ~b)), int(np.sum(~a & b))
    if a_only + b_only == 0:
        return {"a_only": 0, "b_only": 0, "p": 1.0}
    from scipy.special import bdtr

    # Two-sided under Binomial(n, ½): twice the lower tail of the smaller count (symmetric).
    p = 2 * bdtr(min(a_only, b_only), a_only + b_only, 0.5)
    return {"a_only": a_only, "b_only": b_only, "p": float(min(1.0, p))}


def _bootstrap_p(samples: np.ndarray) -> float:
    """Two-sided bootstrap p-value of "the difference is 0": twice the smaller share of
    resampled differences on either side of 0 (at most 1)."""
    return float(min(1.0, 2 * min(np.mean(samples <= 0), np.mean(samples >= 0))))


def seeds_ttest(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Two-sided p-value of the paired t-test across seeds (``a[i]`` and ``b[i]`` share seed
    ``i``); None for fewer than two seeds. Equal differences on every seed: 0 when they are not
    0, else 1 (the t statistic is then infinite or undefined)."""
    a_values, b_values = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a_values) < 2:
        return None
    differences = a_values - b_values
    if np.allclose(differences, differences[0], rtol=0, atol=1e-12):
        return 0.0 if abs(differences[0]) > 1e-12 else 1.0
    from scipy.special import stdtr

    n = len(differences)
    t = differences.mean() / (differences.std(ddof=1) / math.sqrt(n))
    return float(min(1.0, 2 * stdtr(n - 1, -abs(t))))


def paired_comparison(y_true: Any, runs_a: Any, runs_b: Any, num_classes: int,
                      resamples: int = RESAMPLES, seed: int = BOOTSTRAP_SEED,
                      confidence: float = CONFIDENCE) -> dict[str, Any]:
    """A against B on the same test images.

    ``runs_a`` / ``runs_b``: predicted labels, shape (images,) for one run or (runs, images) for
    seeded repeats paired by row (row ``i`` of A and of B trained with the same seed). Returns,
    for ``"accuracy"`` and ``"macro_f1"``: ``a`` and ``b`` (means over runs), ``delta_points``
    (A − B in percentage points), ``ci_points`` (percentile interval over test images of that
    difference, the same resampled images for every run) and ``p``, the p-value that decides:

    - one run: accuracy by McNemar's exact test, macro-F1 by the paired bootstrap;
    - repeats: the larger of the bootstrap p-value over images and the paired t-test across seeds
      (``p_images`` and ``p_seeds`` are given too).

    ``per_run``: each run's accuracies, macro-F1s and McNemar test. ``runs``: the number of
    pairs; ``test``: which rule gave the accuracy p-value."""
    y = np.asarray(y_true, dtype=np.int64).ravel()
    a = np.atleast_2d(np.asarray(runs_a, dtype=np.int64))
    b = np.atleast_2d(np.asarray(runs_b, dtype=np.int64))
    if a.shape != b.shape or a.shape[1] != len(y):
        raise ValueError(f"paired predictions must have one shape (runs, {len(y)}); got {a.shape} "
                         f"and {b.shape}")
    runs = a.shape[0]
    correct_a, correct_b = a == y, b == y
    accuracy_a, accuracy_b = correct_a.mean(axis=1), correct_b.mean(axis=1)
    k = num_classes
    cells_a = [_cells(y, row, k) for row in a]
    cells_b = [_cells(y, row, k) for row in b]
    macro_a = np.array([f1_from_counts(c.sum(axis=0).reshape(k, k))[1] for c in cells_a])
    macro_b = np.array([f1_from_counts(c.sum(axis=0).reshape(k, k))[1] for c in cells_b])

    accuracy_samples, macro_samples = [], []
    # Per image, the accuracy difference summed over runs (an integer, so the product with the
    # integer weights is exact in float32 and a tie is exactly 0): one product per resample chunk.
    difference = (correct_a.astype(np.float32) - correct_b.astype(np.float32)).sum(axis=0)
    for chunk in _weights(len(y), resamples, seed):
        accuracy_samples.append((chunk @ difference).astype(np.float64) / (runs * len(y)))
        macro = np.zeros(chunk.shape[0])
        for r in range(runs):
            macro += (f1_from_counts(_counts(chunk, cells_a[r], k))[1]
                      - f1_from_counts(_counts(chunk, cells_b[r], k))[1])
        macro_samples.append(macro / runs)
    tests = [mcnemar_exact(correct_a[r], correct_b[r]) for r in range(runs)]

    def summary(values_a: np.ndarray, values_b: np.ndarray, samples: list[np.ndarray],
                single_p: float) -> dict[str, Any]:
        drawn = np.concatenate(samples)
        low, high = _percentiles(drawn, confidence)
        out = {"a": float(values_a.mean()), "b": float(values_b.mean()),
               "delta_points": float((values_a.mean() - values_b.mean()) * 100),
               "ci_points": [float(low * 100), float(high * 100)]}
        if runs == 1:
            out["p"] = single_p
        else:
            p_images, p_seeds = _bootstrap_p(drawn), seeds_ttest(values_a, values_b)
            out.update({"p_images": p_images, "p_seeds": p_seeds, "p": max(p_images, p_seeds)})
        return out

    macro_single = _bootstrap_p(np.concatenate(macro_samples))
    return {
        "runs": runs,
        "images": int(len(y)),
        "test": "mcnemar_exact" if runs == 1 else "max(bootstrap over images, paired t across seeds)",
        "accuracy": summary(accuracy_a, accuracy_b, accuracy_samples, tests[0]["p"]),
        "macro_f1": summary(macro_a, macro_b, macro_samples, macro_single),
        "per_run": [{"accuracy_a": float(accuracy_a[r]), "accuracy_b": float(accuracy_b[r]),
                     "macro_f1_a": float(macro_a[r]), "macro_f1_b": float(macro_b[r]),
                     "mcnemar": tests[r]} for r in range(runs)],
        "confidence": confidence,
        "resamples": resamples,
    }


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (same order as given): the i-th smallest p is
    multiplied by (m − i), made monotone, capped at 1."""
    p = np.asarray(pvalues, dtype=float)
    m = len(p)
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    out = np.empty(m)
    out[order] = adjusted
    return [float(v) for v in out]


def significant(p: float | None, alpha: float = ALPHA) -> bool:
    return p is not None and p < alpha


def p_value(p: float) -> str:
    """A p-value as a table cell: ``0.004``, ``< 0.001``. Three decimals, except that a p below
    :data:`ALPHA` never prints as ``0.050`` (four decimals then), so a cell never contradicts its
    decision."""
    if p < 0.001:
        return "< 0.001"
    text = f"{p:.3f}"
    if p < ALPHA and float(text) >= ALPHA:
        text = f"{p:.4f}"
    return text


def p_phrase(p: float) -> str:
    """A p-value in a sentence: ``p = 0.004``, ``p < 0.001``."""
    text = p_value(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"
