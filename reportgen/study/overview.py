"""The overview of every experiment and the models × datasets matrix: accuracies with their
intervals, and the ★ only where the top experiment of a test set is significantly above every
other one on it (pairwise paired tests, Holm over the test set's pairs)."""

from __future__ import annotations

from typing import Any

from reportgen.report_types import AnalysisResult, Best, Msg, Table
from reportgen.significance import p_phrase
from reportgen.study.evidence import Evidence, Score, test_set_key
from reportgen.study.formats import accuracy_interval
from reportgen.study.ranking import standing, within_noise
from reportgen.study.section import ComparisonSection


def accuracy_cell(s: Score) -> str:
    """Compact: ``0.9806 (0.970–0.988)``, or the mean ± sd over seeds."""
    if s.per_seed:
        return f"{s.accuracy:.4f} ± {s.sd or 0.0:.4f}"
    return f"{s.accuracy:.4f}" + (f" ({accuracy_interval(*s.interval)})" if s.interval else "")


def test_sets(rows: list[dict[str, Any]], records: dict[str, dict[str, Any]], scores: dict[str, Score],
              evidence: Evidence) -> list[dict[str, Any]]:
    """The scored experiments grouped by test set (records without one: by dataset), each group
    of two or more with its :func:`reportgen.study.ranking.standing` over every pair."""
    groups: dict[str, list[str]] = {}
    for r in rows:
        name = r["experiment"]
        groups.setdefault(test_set_key(records[name]) or f"dataset {r['dataset']}", []).append(name)
    out = []
    for key, names in groups.items():
        result = standing(names, {n: scores[n].accuracy for n in names}, evidence, all_pairs=True)
        out.append({"key": key, "dataset": records[names[0]]["dataset"], "experiments": names,
                    "standing": result})
    return out


def _starred(groups: list[dict[str, Any]]) -> set[str]:
    """The experiments that get a ★: significantly the highest on their test set."""
    return {g["standing"]["top"] for g in groups if g["standing"] and g["standing"]["best"]}


def _listed(others: list[dict[str, Any]]) -> str:
    return ", ".join(f"{o['experiment']} ({p_phrase(o['p_holm'])})" for o in others)


def _test_set_notes(groups: list[dict[str, Any]]) -> list[Msg]:
    notes = []
    for group in groups:
        result = group["standing"]
        if result is None or result["best"]:
            continue
        close = within_noise(result)
        if close:
            notes.append(Msg("On {dataset}, the top experiments are within noise: {top} has the highest test "
                             "accuracy, but the Holm-adjusted p-values against {others} are not below 0.05.",
                             {"dataset": group["dataset"], "top": result["top"], "others": _listed(close)}))
        untested = [o["experiment"] for o in result["others"] if not o["paired"]]
        if untested:
            notes.append(Msg("On {dataset}, {others} could not be compared with {top} by a paired test "
                             "(predictions missing, or different test images): no experiment is marked "
                             "as the highest.",
                             {"dataset": group["dataset"], "top": result["top"],
                              "others": ", ".join(untested)}))
    return notes


def overview(rows: list[dict[str, Any]], scores: dict[str, Score],
             groups: list[dict[str, Any]]) -> ComparisonSection:
    starred = _starred(groups)
    table_rows = []
    for r in rows:
        accuracy = accuracy_cell(scores[r["experiment"]])
        table_rows.append([
            r["experiment"], r["dataset"], r["model"],
            Best(accuracy) if r["experiment"] in starred else accuracy,
            f"{r['macro_f1']:.4f}", f"{r['parameters']:,}" if r["parameters"] else "—",
            f"{r['train_seconds']:.1f}" if r["train_seconds"] is not None else "—",
            r["epochs_to_best_val_loss"] if r["epochs_to_best_val_loss"] is not None else "—"])
    table = Table(columns=[Msg("Experiment"), Msg("Dataset"), Msg("Model"), Msg("Accuracy (95 % CI)"),
                           Msg("Macro F1"), Msg("Parameters"), Msg("Training time (s)"),
                           Msg("Epochs to lowest validation loss")],
                  rows=table_rows, css_class="compare")
    notes = [Msg("★ marks the highest test accuracy on a test set only when it is significantly above "
                 "every other experiment on the same test images (paired tests, Holm's correction over "
                 "the test set's pairs).")]
    if any(scores[r["experiment"]].per_seed for r in rows):
        notes.append(Msg("With repeats, the accuracy is the mean ± sd over the seeds."))
    notes += _test_set_notes(groups)
    metrics = {"experiments": [{**r, "score": scores[r["experiment"]].to_json()} for r in rows],
               "test_sets": groups}
    return ComparisonSection("overview", Msg("All experiments"),
                             AnalysisResult(metrics=metrics, tables=[table], notes=notes))


def matrix(rows: list[dict[str, Any]], scores: dict[str, Score],
           groups: list[dict[str, Any]]) -> ComparisonSection | None:
    models = list(dict.fromkeys(r["model"] for r in rows))
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    if len(models) < 2 and len(datasets) < 2:
        return None
    starred = _starred(groups)
    cell: dict[tuple[str, str], str] = {}  # several experiments of one model on one dataset: the top one
    for r in rows:
        key = (r["model"], r["dataset"])
        if key not in cell or scores[r["experiment"]].accuracy > scores[cell[key]].accuracy:
            cell[key] = r["experiment"]
    table_rows = []
    for m in models:
        row: list[Any] = [m]
        for d in datasets:
            name = cell.get((m, d))
            if name is None:
                row.append("—")
            else:
                text = accuracy_cell(scores[name])
                row.append(Best(text) if name in starred else text)
        table_rows.append(row)
    table = Table(columns=[Msg("Model"), *datasets], rows=table_rows, css_class="compare",
                  caption=Msg("Test accuracy (95 % CI), models (rows) × datasets (columns); ★ as in the "
                              "overview: significantly the highest on its test set."))
    metrics = {"models": models, "datasets": datasets,
               "accuracy": {f"{m}|{d}": scores[n].accuracy for (m, d), n in cell.items()},
               "experiment": {f"{m}|{d}": n for (m, d), n in cell.items()}}
    return ComparisonSection("matrix", Msg("Models × datasets"),
                             AnalysisResult(metrics=metrics, tables=[table]))
