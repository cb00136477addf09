"""The comparison chapter: numbers across experiments, from their records (and, for the paired
tests, their test-set predictions) only.

Sections (each an :class:`AnalysisResult`, rendered like an analysis):
- overview: accuracy with its interval, macro-F1, parameters, training time and epochs to the
  best validation loss of every experiment; ★ only on a test set's significantly highest one
  (:mod:`reportgen.study.overview`);
- models × datasets: the accuracy matrix, ★ by the same rule;
- one table per transfer chain (``init_from``): a step's change against the previous step only on
  the same test set (:mod:`reportgen.study.chain_tables`);
- one table and bar chart per ablation grid: every variant against the baseline variant, with
  paired tests and Holm's correction (:mod:`reportgen.study.grids`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reportgen.predictions import RunPredictions
from reportgen.run.evaluate import best_epoch
from reportgen.study.chain_tables import chain_sections
from reportgen.study.evidence import Evidence, score
from reportgen.study.grids import grid_sections
from reportgen.study.overview import matrix, overview, test_sets
from reportgen.study.section import ComparisonSection

__all__ = ["ComparisonSection", "build_comparisons", "experiment_numbers"]

Record = dict[str, Any]
"""An experiment's record (reportgen.records.experiment_record)."""


def _scored(records: list[Record]) -> list[Record]:
    return [r for r in records if r["status"] == "ok" and r.get("accuracy") is not None]


def _best_val_accuracy(record: Record) -> float | None:
    """The best validation accuracy: with repeats the mean over seeds (as the test accuracy)."""
    mean = ((record.get("repeats") or {}).get("mean") or {}).get("best_val_accuracy")
    if mean is not None:
        return float(mean)
    values = (record.get("history") or {}).get("val_accuracy") or []
    return float(max(values)) if values else None


def experiment_numbers(record: Record) -> dict[str, Any]:
    """The per-experiment figures every comparison table reads (also written to metrics.json)."""
    return {"experiment": record["name"], "dataset": record["dataset"],
            "model": record["model"], "accuracy": record["accuracy"],
            "macro_f1": record["macro_avg"]["f1"],
            "parameters": (record.get("model_info") or {}).get("total"),
            "train_seconds": (record.get("cache") or {}).get("train_seconds") if record["trained"] else None,
            "epochs_to_best_val_loss": best_epoch((record.get("history") or {}).get("val_loss") or []),
            "best_val_accuracy": _best_val_accuracy(record)}


def build_comparisons(records: list[Record], figure_dir: Path, languages: list[str],
                      predictions: dict[str, RunPredictions] | None = None) -> list[ComparisonSection]:
    """Every comparison section the records support (an empty list for no scored experiment)."""
    scored = _scored(records)
    if not scored:
        return []
    by_name = {r["name"]: r for r in records}
    evidence = Evidence(by_name, predictions)
    scores = {r["name"]: score(r) for r in scored}
    rows = [experiment_numbers(r) for r in scored]
    groups = test_sets(rows, by_name, scores, evidence)
    sections = [overview(rows, scores, groups)]
    if (table := matrix(rows, scores, groups)) is not None:
        sections.append(table)
    sections += chain_sections(by_name, scores, evidence)
    sections += grid_sections(records, scores, {r["experiment"]: r["best_val_accuracy"] for r in rows},
                              evidence, figure_dir, languages)
    return sections
