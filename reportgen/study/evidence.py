"""What the records and predictions can say about two experiments: each one's accuracy with its
interval, and whether two differ by more than noise.

Two experiments are *paired* only when both have predictions, their records name the same test
set (``record["test_set"]["key"]``) and their true labels are equal: only then is a paired test
(McNemar exact, or :func:`reportgen.significance.paired_comparison` with seeded repeats, runs
paired by seed) meaningful. Everything else is compared by its numbers alone, never called a gain
or a loss.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np

from reportgen.predictions import RunPredictions, label_count
from reportgen.significance import holm, paired_comparison, significant, wilson_interval

Record = dict[str, Any]


@dataclass(frozen=True)
class Score:
    """An experiment's test accuracy as the comparison tables show it."""

    accuracy: float
    """The mean over seeds with repeats, else the run's accuracy: what rankings use."""
    interval: tuple[float, float] | None
    """Wilson 95 % interval of the representative run's accuracy."""
    seeds: tuple[int, ...] = ()
    per_seed: tuple[float, ...] = ()
    sd: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"accuracy": self.accuracy, "interval": list(self.interval) if self.interval else None,
                "seeds": list(self.seeds), "per_seed": list(self.per_seed), "sd": self.sd}


def score(record: Record) -> Score:
    """The accuracy of ``record``: mean ± sd over seeds with repeats, and the representative
    run's interval (the record's ``intervals``, else Wilson from its confusion matrix)."""
    interval = None
    stored = (record.get("intervals") or {}).get("accuracy")
    if stored:
        interval = (float(stored[0]), float(stored[1]))
    elif record.get("confusion_matrix"):
        cm = np.asarray(record["confusion_matrix"])
        interval = wilson_interval(int(np.trace(cm)), int(cm.sum()))
    repeats = record.get("repeats")
    if repeats and len(repeats.get("runs") or []) > 1:
        runs = repeats["runs"]
        return Score(float(repeats["mean"]["accuracy"]), interval,
                     tuple(int(r["seed"]) for r in runs), tuple(float(r["accuracy"]) for r in runs),
                     float(repeats["sd"]["accuracy"]))
    return Score(float(record["accuracy"]), interval)


def test_set_key(record: Record) -> str | None:
    return (record.get("test_set") or {}).get("key")


def _seed_rows(a: RunPredictions, b: RunPredictions) -> tuple[list[int], list[int], list[int]]:
    """Rows of A and of B trained with the same seed (A's order), and those seeds; row 0 of each
    (the representative runs, both trained with the report seed) when a side has no seeds."""
    if a.seeds and b.seeds:
        common = [s for s in a.seeds if s in b.seeds]
        if common:
            return [a.seeds.index(s) for s in common], [b.seeds.index(s) for s in common], common
    return [0], [0], []


def _flipped(result: dict[str, Any]) -> dict[str, Any]:
    """B against A from A against B: every difference and interval negated, p-values kept."""
    out = dict(result)
    for metric in ("accuracy", "macro_f1"):
        m = dict(result[metric])
        m["a"], m["b"] = m["b"], m["a"]
        m["delta_points"] = -m["delta_points"]
        m["ci_points"] = [-m["ci_points"][1], -m["ci_points"][0]]
        out[metric] = m
    if "mcnemar" in result:
        test = result["mcnemar"]
        out["mcnemar"] = {"a_only": test["b_only"], "b_only": test["a_only"], "p": test["p"]}
    return out


class Evidence:
    """Paired comparisons of a build's experiments, each computed once."""

    def __init__(self, records: dict[str, Record], predictions: dict[str, RunPredictions] | None):
        self.records = records
        self.predictions = predictions or {}
        self._done: dict[tuple[str, str], dict[str, Any] | None] = {}

    def same_test_set(self, a: str, b: str) -> bool:
        """Both records name one test set (records without ``test_set``: the same dataset)."""
        key_a, key_b = test_set_key(self.records[a]), test_set_key(self.records[b])
        if key_a is None or key_b is None:
            return self.records[a]["dataset"] == self.records[b]["dataset"]
        return key_a == key_b

    def paired(self, a: str, b: str) -> bool:
        pa, pb = self.predictions.get(a), self.predictions.get(b)
        key = test_set_key(self.records[a])
        return (pa is not None and pb is not None and key is not None
                and key == test_set_key(self.records[b]) and np.array_equal(pa.y_true, pb.y_true))

    def compare(self, a: str, b: str) -> dict[str, Any] | None:
        """A against B (differences A − B in points), or None when they are not paired:
        ``runs``, ``seeds`` (the pairing, empty for one run), ``test``, ``accuracy`` and
        ``macro_f1`` (:func:`reportgen.significance.paired_comparison`'s summaries) and, for one
        run, ``mcnemar`` (the discordant counts)."""
        if (b, a) in self._done:
            other = self._done[(b, a)]
            return None if other is None else _flipped(copy.deepcopy(other))
        if (a, b) not in self._done:
            self._done[(a, b)] = self._compute(a, b) if self.paired(a, b) else None
        return copy.deepcopy(self._done[(a, b)])  # callers add their own Holm-adjusted p

    def _compute(self, a: str, b: str) -> dict[str, Any]:
        pa, pb = self.predictions[a], self.predictions[b]
        rows_a, rows_b, seeds = _seed_rows(pa, pb)
        runs_a, runs_b = pa.y_pred_runs[rows_a], pb.y_pred_runs[rows_b]
        classes = label_count(self.records[a].get("classes"), pa.y_true, runs_a, runs_b)
        result = paired_comparison(pa.y_true, runs_a, runs_b, classes)
        out = {"runs": result["runs"], "seeds": seeds if result["runs"] > 1 else [],
               "test": result["test"], "accuracy": result["accuracy"], "macro_f1": result["macro_f1"]}
        if result["runs"] == 1:
            out["mcnemar"] = result["per_run"][0]["mcnemar"]
        return out


def holm_adjusted(comparisons: list[dict[str, Any]]) -> None:
    """Add ``p_holm`` to each comparison's accuracy and macro-F1 summaries: Holm's adjustment
    over these comparisons (one comparison: its own p)."""
    for metric in ("accuracy", "macro_f1"):
        adjusted = holm([c[metric]["p"] for c in comparisons])
        for c, p in zip(comparisons, adjusted):
            c[metric]["p_holm"] = p


def decision(comparison: dict[str, Any] | None) -> str:
    """``improves`` / ``hurts`` (A against B, significant after Holm), ``no difference``, or
    ``not paired`` (no paired test possible)."""
    if comparison is None:
        return "not paired"
    accuracy = comparison["accuracy"]
    if not significant(accuracy.get("p_holm", accuracy["p"])) or accuracy["delta_points"] == 0:
        return "no difference"
    return "improves" if accuracy["delta_points"] > 0 else "hurts"
