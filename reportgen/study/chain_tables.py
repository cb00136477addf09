"""One table per transfer chain (``init_from``): each step's accuracy, and its change against the
previous step only when both were tested on the same test set (then with the paired test); a
step on another dataset's test images is not comparable, so no gain or loss is printed."""

from __future__ import annotations

from typing import Any

from reportgen.config.chains import chains
from reportgen.report_types import AnalysisResult, Msg, Table, points
from reportgen.significance import p_value
from reportgen.study.evidence import Evidence, Score, decision, holm_adjusted
from reportgen.study.formats import accuracy_interval, points_interval
from reportgen.study.section import ComparisonSection

Record = dict[str, Any]


def _change(evidence: Evidence, name: str, previous: str, scores: dict[str, Score]) -> dict[str, Any]:
    """The step against the previous one: comparable (same test set) or not, and the paired test."""
    if not evidence.same_test_set(name, previous):
        return {"comparable": False, "delta_points": None, "comparison": None}
    comparison = evidence.compare(name, previous)
    delta = (comparison["accuracy"]["delta_points"] if comparison is not None
             else (scores[name].accuracy - scores[previous].accuracy) * 100)
    return {"comparable": True, "delta_points": delta, "comparison": comparison}


def _delta_cell(change: dict[str, Any] | None) -> Any:
    if change is None:
        return "—"
    if not change["comparable"]:
        return Msg("different test sets")
    comparison = change["comparison"]
    if comparison is None:
        return Msg("{delta} (not tested)", {"delta": points(change["delta_points"])})
    a = comparison["accuracy"]
    return f"{points(a['delta_points'])} {points_interval(*a['ci_points'])}, p {p_value(a['p_holm'])}"


def chain_section(chain: list[str], by_name: dict[str, Record], scores: dict[str, Score],
                  evidence: Evidence) -> ComparisonSection:
    rows, steps, previous = [], [], None
    for step, name in enumerate(chain, start=1):
        record = by_name[name]
        if name not in scores:
            rows.append([step, name, record["dataset"],
                         Msg("failed") if record["status"] != "ok" else "—", "—", "—"])
            previous = None
            continue
        change = None if previous is None else _change(evidence, name, previous, scores)
        s = scores[name]
        accuracy = f"{s.accuracy:.4f}" + (f" ({accuracy_interval(*s.interval)})" if s.interval else "")
        rows.append([step, name, record["dataset"], accuracy, f"{record['macro_avg']['f1']:.4f}",
                     change])
        steps.append({"step": step, "experiment": name, "dataset": record["dataset"],
                      "accuracy": record["accuracy"], "score": s.to_json(),
                      "macro_f1": record["macro_avg"]["f1"],
                      "comparable": None if change is None else change["comparable"],
                      "delta_points": None if change is None else change["delta_points"],
                      "vs_previous": None if change is None else change["comparison"],
                      "shared_classes": (record.get("init_from") or {}).get("shared_classes")})
        previous = name
    tested = [s["vs_previous"] for s in steps if s["vs_previous"] is not None]
    holm_adjusted(tested)
    for s in steps:
        s["decision"] = decision(s["vs_previous"]) if s["comparable"] else None
    for row in rows:  # the Δ cells last: they print the Holm-adjusted p
        row[-1] = row[-1] if isinstance(row[-1], str) else _delta_cell(row[-1])
    table = Table(columns=[Msg("Step"), Msg("Experiment"), Msg("Dataset"), Msg("Accuracy (95 % CI)"),
                           Msg("Macro F1"), Msg("Δ accuracy vs previous step (points) [95 % CI]")],
                  rows=rows, css_class="compare")
    title = Msg("Transfer chain: {chain}", {"chain": " → ".join(chain)})
    metrics = {"chain": chain, "steps": steps,
               "holm": {"comparisons": len(tested), "applied": len(tested) > 1}}
    return ComparisonSection(f"chain-{'-'.join(chain)}", title,
                             AnalysisResult(metrics=metrics, tables=[table]))


def chain_sections(by_name: dict[str, Record], scores: dict[str, Score],
                   evidence: Evidence) -> list[ComparisonSection]:
    return [chain_section(chain, by_name, scores, evidence)
            for chain in chains(by_name, {name: r["parent"] for name, r in by_name.items()})]
