"""The comparison chapter: numbers across experiments, from their records only.

Sections (each an :class:`AnalysisResult`, rendered like an analysis):
- overview: accuracy, macro-F1, parameters, training time and epochs to the best validation
  loss of every experiment, the best accuracy of each dataset marked;
- models × datasets: the accuracy matrix (best model per dataset marked);
- one table per transfer chain (``init_from``): step, dataset, accuracy, macro-F1 and the
  change against the previous step in percentage points;
- one table and bar chart per ablation grid: validation and test accuracy of every variant.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reportgen import figures
from reportgen.config.chains import chains
from reportgen.i18n import joined
from reportgen.report_types import AnalysisResult, Best, Figure, Msg, Table, points
from reportgen.run.evaluate import best_epoch

Record = dict[str, Any]
"""An experiment's record (reportgen.records.experiment_record)."""


@dataclass
class ComparisonSection:
    key: str
    title: Msg
    result: AnalysisResult


def _scored(records: list[Record]) -> list[Record]:
    return [r for r in records if r["status"] == "ok" and r.get("accuracy") is not None]


def _best_val_accuracy(record: Record) -> float | None:
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


def _overview(rows: list[dict[str, Any]]) -> ComparisonSection:
    top = {}
    for r in rows:
        top[r["dataset"]] = max(top.get(r["dataset"], -1.0), r["accuracy"])
    table_rows = []
    for r in rows:
        accuracy = f"{r['accuracy']:.4f}"
        table_rows.append([
            r["experiment"], r["dataset"], r["model"],
            Best(accuracy) if r["accuracy"] == top[r["dataset"]] else accuracy,
            f"{r['macro_f1']:.4f}", f"{r['parameters']:,}" if r["parameters"] else "—",
            f"{r['train_seconds']:.1f}" if r["train_seconds"] is not None else "—",
            r["epochs_to_best_val_loss"] if r["epochs_to_best_val_loss"] is not None else "—"])
    table = Table(columns=[Msg("Experiment"), Msg("Dataset"), Msg("Model"), Msg("Accuracy"),
                           Msg("Macro F1"), Msg("Parameters"), Msg("Training time (s)"),
                           Msg("Epochs to lowest validation loss")],
                  rows=table_rows, css_class="compare")
    note = Msg("★ marks the highest test accuracy on each dataset.")
    return ComparisonSection("overview", Msg("All experiments"),
                             AnalysisResult(metrics={"experiments": rows}, tables=[table], notes=[note]))


def _matrix(rows: list[dict[str, Any]]) -> ComparisonSection | None:
    models = list(dict.fromkeys(r["model"] for r in rows))
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    if len(models) < 2 and len(datasets) < 2:
        return None
    cell: dict[tuple[str, str], float] = {}
    for r in rows:  # several experiments of one model on one dataset: the best one counts
        key = (r["model"], r["dataset"])
        cell[key] = max(cell.get(key, -1.0), r["accuracy"])
    top = {d: max(v for (m, dd), v in cell.items() if dd == d) for d in datasets}
    table_rows = []
    for m in models:
        row: list[Any] = [m]
        for d in datasets:
            if (m, d) not in cell:
                row.append("—")
            else:
                text = f"{cell[(m, d)]:.4f}"
                row.append(Best(text) if cell[(m, d)] == top[d] and len(models) > 1 else text)
        table_rows.append(row)
    table = Table(columns=[Msg("Model"), *datasets], rows=table_rows, css_class="compare",
                  caption=Msg("Test accuracy, models (rows) × datasets (columns)."))
    metrics = {"models": models, "datasets": datasets,
               "accuracy": {f"{m}|{d}": v for (m, d), v in cell.items()}}
    return ComparisonSection("matrix", Msg("Models × datasets"),
                             AnalysisResult(metrics=metrics, tables=[table]))


def _chains(by_name: dict[str, Record], numbers: dict[str, dict[str, Any]]) -> list[ComparisonSection]:
    sections = []
    for chain in chains(by_name, {name: r["parent"] for name, r in by_name.items()}):
        rows, records, previous = [], [], None
        for step, name in enumerate(chain, start=1):
            record = by_name[name]
            r = numbers.get(name)
            if r is None:
                rows.append([step, name, record["dataset"],
                             Msg("failed") if record["status"] != "ok"
                             else "—", "—", "—"])
                previous = None
                continue
            delta = None if previous is None else (r["accuracy"] - previous) * 100
            rows.append([step, name, r["dataset"], f"{r['accuracy']:.4f}", f"{r['macro_f1']:.4f}",
                         "—" if delta is None else points(delta)])
            records.append({"step": step, "experiment": name, "dataset": r["dataset"],
                            "accuracy": r["accuracy"], "macro_f1": r["macro_f1"],
                            "delta_points": delta,
                            "shared_classes": (record.get("init_from") or {}).get("shared_classes")})
            previous = r["accuracy"]
        table = Table(columns=[Msg("Step"), Msg("Experiment"), Msg("Dataset"), Msg("Accuracy"),
                               Msg("Macro F1"), Msg("Δ accuracy vs previous step (points)")],
                      rows=rows, css_class="compare")
        title = Msg("Transfer chain: {chain}", {"chain": " → ".join(chain)})
        sections.append(ComparisonSection(f"chain-{'-'.join(chain)}", title,
                                          AnalysisResult(metrics={"chain": chain, "steps": records},
                                                         tables=[table])))
    return sections


def _grids(by_name: dict[str, Record], numbers: dict[str, dict[str, Any]], figure_dir: Path,
           languages: list[str]) -> list[ComparisonSection]:
    groups: dict[str, list[Record]] = {}
    for o in by_name.values():
        if o["grid"]:
            groups.setdefault(o["grid"]["of"], []).append(o)
    sections = []
    for grid, members in groups.items():
        keys = list(members[0]["grid"]["labels"])
        rows, records = [], []
        reference = numbers.get(members[0]["name"])
        for o in members:
            labels = [o["grid"]["labels"][k] for k in keys]
            r = numbers.get(o["name"])
            if r is None:
                rows.append([o["name"].removeprefix(f"{grid}-"), *labels, Msg("failed"), "—", "—"])
                continue
            delta = None if reference is None else (r["accuracy"] - reference["accuracy"]) * 100
            val = r["best_val_accuracy"]
            rows.append([o["name"].removeprefix(f"{grid}-"), *labels,
                         f"{val:.4f}" if val is not None else "—",
                         f"{r['accuracy']:.4f}",
                         "—" if delta is None or o is members[0] else points(delta)])
            records.append({"variant": o["name"], "labels": dict(o["grid"]["labels"]),
                            "best_val_accuracy": val, "accuracy": r["accuracy"],
                            "delta_points_vs_first": None if o is members[0] else delta})
        table = Table(columns=[Msg("Variant of {grid}", {"grid": grid}), *keys,
                               Msg("Best validation accuracy"),
                               Msg("Test accuracy"), Msg("Δ vs first variant (points)")],
                      rows=rows, css_class="compare")
        result = AnalysisResult(metrics={"grid": grid, "keys": keys, "variants": records}, tables=[table])
        plotted = [r for r in records if r["best_val_accuracy"] is not None]
        if plotted:
            path = figures.bar_chart(
                [r["variant"].removeprefix(f"{grid}-") for r in plotted],
                {joined("Best validation accuracy", languages): [r["best_val_accuracy"] for r in plotted],
                 joined("Test accuracy", languages): [r["accuracy"] for r in plotted]},
                figure_dir / f"grid_{grid}.png", ylabel=joined("Accuracy", languages))
            result.figures.append(Figure(path, Msg("Validation and test accuracy of every variant of "
                                                   "the grid {grid}.", {"grid": grid}), wide=True))
        sections.append(ComparisonSection(f"grid-{grid}", Msg("Ablation grid: {grid}", {"grid": grid}),
                                          result))
    return sections


def build_comparisons(records: list[Record], figure_dir: Path,
                      languages: list[str]) -> list[ComparisonSection]:
    """Every comparison section the records support (an empty list for no scored experiment)."""
    scored = _scored(records)
    if not scored:
        return []
    by_name = {r["name"]: r for r in records}
    numbers = {r["name"]: experiment_numbers(r) for r in scored}
    rows = list(numbers.values())
    sections = [_overview(rows)]
    matrix = _matrix(rows)
    if matrix:
        sections.append(matrix)
    sections += _chains(by_name, numbers)
    sections += _grids(by_name, numbers, figure_dir, languages)
    return sections
