"""One table and bar chart per ablation grid: every variant against the grid's baseline variant
(its first), with the interval of each accuracy, the paired test of each difference and Holm's
correction over the grid's comparisons."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reportgen import figures
from reportgen.i18n import joined, plural_msg
from reportgen.report_types import AnalysisResult, Figure, Msg, Table, points
from reportgen.significance import p_value
from reportgen.study.evidence import Evidence, Score, decision, holm_adjusted
from reportgen.study.formats import accuracy_interval, points_interval, seeded_accuracy
from reportgen.study.ranking import standing
from reportgen.study.section import ComparisonSection

Record = dict[str, Any]

DECISIONS = {"improves": Msg("improves"), "hurts": Msg("hurts"),
             "no difference": Msg("no significant difference"), "not paired": Msg("not tested")}
"""The table's decision cell for :func:`reportgen.study.evidence.decision`."""


def _accuracy_cell(s: Score) -> str:
    return seeded_accuracy(s.accuracy, s.sd or 0.0, s.per_seed) if s.per_seed else f"{s.accuracy:.4f}"


def _variant_row(name: str, labels: list[str], s: Score, comparison: dict[str, Any] | None,
                 baseline: bool, holm_column: bool) -> list[Any]:
    ci = accuracy_interval(*s.interval) if s.interval else "—"
    if baseline:
        tail: list[Any] = ["—", "—", Msg("baseline")]
    elif comparison is None:
        tail = ["—", "—", DECISIONS["not paired"]]
    else:
        a = comparison["accuracy"]
        p = p_value(a["p"]) + (f" ({p_value(a['p_holm'])})" if holm_column else "")
        tail = [f"{points(a['delta_points'])} {points_interval(*a['ci_points'])}", p,
                DECISIONS[decision(comparison)]]
    return [name, *labels, _accuracy_cell(s), ci, *tail]


def _chart(grid: str, variants: list[dict[str, Any]], figure_dir: Path,
           languages: list[str]) -> Figure | None:
    plotted = [v for v in variants if v["best_val_accuracy"] is not None]
    if not plotted:
        return None
    test = joined("Test accuracy", languages)
    seeded = all(v["score"]["per_seed"] for v in plotted)
    # The error bar says how far one number can be trusted: the spread over the seeds with
    # repeats, else the representative run's 95 % Wilson interval.
    spans = [(min(v["score"]["per_seed"]), max(v["score"]["per_seed"])) if seeded
             else tuple(v["score"]["interval"] or (v["score"]["accuracy"],) * 2) for v in plotted]
    path = figures.bar_chart(
        [v["variant"].removeprefix(f"{grid}-") for v in plotted],
        {joined("Best validation accuracy", languages): [v["best_val_accuracy"] for v in plotted],
         test: [v["score"]["accuracy"] for v in plotted]},
        figure_dir / f"grid_{grid}.png", ylabel=joined("Accuracy", languages), errors={test: spans})
    caption = (Msg("Validation and test accuracy of every variant of the grid {grid}, means over "
                   "{count} seeds; the error bars span the lowest to the highest seed's test accuracy.",
                   {"grid": grid, "count": len(plotted[0]["score"]["per_seed"])}) if seeded else
               Msg("Validation and test accuracy of every variant of the grid {grid}; the error bars "
                   "are the 95 % Wilson intervals of the test accuracy.", {"grid": grid}))
    return Figure(path, caption, wide=True)


def grid_section(grid: str, members: list[Record], scores: dict[str, Score],
                 best_val: dict[str, float | None], evidence: Evidence, figure_dir: Path,
                 languages: list[str]) -> ComparisonSection:
    keys = list(members[0]["grid"]["labels"])
    baseline = members[0]["name"]
    scored = [m["name"] for m in members if m["name"] in scores]
    against = {n: evidence.compare(n, baseline) for n in scored if n != baseline and baseline in scores}
    tested = [c for c in against.values() if c is not None]
    holm_adjusted(tested)
    holm_column = len(tested) > 1
    rows, variants = [], []
    for member in members:
        name = member["name"]
        labels = [member["grid"]["labels"][k] for k in keys]
        short = name.removeprefix(f"{grid}-")
        if name not in scores:
            rows.append([short, *labels, Msg("failed"), "—", "—", "—", "—"])
            continue
        comparison = against.get(name)
        rows.append(_variant_row(short, labels, scores[name], comparison, name == baseline, holm_column))
        variants.append({"variant": name, "labels": dict(member["grid"]["labels"]),
                         "best_val_accuracy": best_val[name], "accuracy": member["accuracy"],
                         "score": scores[name].to_json(),
                         "vs_baseline": comparison,
                         "decision": None if name == baseline else decision(comparison)})
    columns = [Msg("Variant of {grid}", {"grid": grid}), *keys, Msg("Test accuracy"), Msg("95 % CI"),
               Msg("Δ vs baseline (points) [95 % CI]"),
               Msg("p (Holm-adjusted p)") if holm_column else Msg("p"), Msg("Decision")]
    caption = Msg("{baseline}, the first variant, is the grid's baseline variant: Δ, p and the decision "
                  "compare each variant with it on the same test images.",
                  {"baseline": baseline.removeprefix(f"{grid}-")})
    table = Table(columns=columns, rows=rows, css_class="compare", caption=caption)
    top = standing(scored, {n: scores[n].accuracy for n in scored}, evidence, all_pairs=False)
    metrics = {"grid": grid, "keys": keys, "baseline": baseline, "variants": variants,
               "holm": {"comparisons": len(tested), "applied": holm_column},
               "standing": top}
    result = AnalysisResult(metrics=metrics, tables=[table], notes=_notes(scores, scored))
    chart = _chart(grid, variants, figure_dir, languages)
    if chart:
        result.figures.append(chart)
    return ComparisonSection(f"grid-{grid}", Msg("Ablation grid: {grid}", {"grid": grid}), result)


def _notes(scores: dict[str, Score], scored: list[str]) -> list[Msg]:
    """How the accuracy column reads, with repeats."""
    seeded = [scores[n] for n in scored if scores[n].per_seed]
    if not seeded:
        return []
    return [plural_msg("Test accuracy: mean ± sd over {count} seed, then each seed's accuracy; the "
                       "95 % CI is the representative run's (seed {seed}).",
                       "Test accuracy: mean ± sd over {count} seeds, then each seed's accuracy; the "
                       "95 % CI is the representative run's (seed {seed}).",
                       {"count": len(seeded[0].seeds), "seed": seeded[0].seeds[0]})]


def grid_sections(records: list[Record], scores: dict[str, Score], best_val: dict[str, float | None],
                  evidence: Evidence, figure_dir: Path, languages: list[str]) -> list[ComparisonSection]:
    groups: dict[str, list[Record]] = {}
    for record in records:
        if record["grid"]:
            groups.setdefault(record["grid"]["of"], []).append(record)
    return [grid_section(grid, members, scores, best_val, evidence, figure_dir, languages)
            for grid, members in groups.items()]
