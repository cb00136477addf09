"""Records → the view model the templates read. Text stays as msgids until the template."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from reportgen.answers import render_answer
from reportgen.config.common import LocalizedText
from reportgen.environment import environment_rows
from reportgen.report_types import from_jsonable

if TYPE_CHECKING:
    from reportgen.config.schema import ReportSpec


def _analysis_views(record: dict[str, Any], number: str) -> list[dict[str, Any]]:
    return [{"number": f"{number}.{i}", "name": name, "title": from_jsonable(a["title"]),
             "result": from_jsonable({k: a[k] for k in ("notes", "tables", "figures")}),
             "error": a["error"], "anchor": f"{record['name']}-{name}", "shown_in": None}
            for i, (name, a) in enumerate(record["analyses"].items(), start=2)]


def _comparison_views(sections: list[dict[str, Any]], number: str) -> list[dict[str, Any]]:
    """Comparison sections in the shape the generic analysis partial reads."""
    return [{"number": f"{number}.{i}", "name": s["key"], "title": from_jsonable(s["title"]),
             "result": from_jsonable({k: s[k] for k in ("notes", "tables", "figures")}),
             "error": None, "anchor": f"compare-{s['key']}", "shown_in": None}
            for i, s in enumerate(sections, start=1)]


def _question_views(report: ReportSpec, experiments: list[dict[str, Any]],
                    comparisons: list[dict[str, Any]], base_dir: Path) -> list[dict[str, Any]]:
    """Each question with its own answer text and the material it references, in order."""
    by_name = {e["name"]: e for e in experiments}
    views = []
    for q in report.questions:
        text = q.answer
        if q.answer_file is not None:
            text = (base_dir / q.answer_file).read_text(encoding="utf-8")
        parts = []
        for ref in q.answers:
            if ref == "comparison":
                parts += [{"kind": "analysis", "analysis": c} for c in comparisons]
                continue
            name, _, method = ref.partition(".")
            exp = by_name.get(name)
            if exp is None or exp["status"] != "ok":
                parts.append({"kind": "missing", "experiment": name})
            elif method:
                parts += [{"kind": "analysis", "analysis": a} for a in exp["analyses"] if a["name"] == method]
            else:
                parts.append({"kind": "discussion", "experiment": exp})
        views.append({"number": q.number, "points": q.points, "prompt": q.prompt,
                      "answer": render_answer(text, base_dir) if text.strip() else None,
                      "collaborators": q.collaborators, "parts": parts,
                      "anchor": f"question-{q.number}"})
    return views


def _mark_shown(questions: list[dict[str, Any]]) -> None:
    """Material a question shows is drawn there once: its place in the chapters keeps its heading
    and number and points to the question (``shown_in``), so nothing is printed twice."""
    places = {"analysis": ("analysis", "shown_in"), "discussion": ("experiment", "discussion_shown_in")}
    for q in questions:
        for part in q["parts"]:
            if part["kind"] not in places:  # a failed experiment: nothing drawn
                continue
            item_key, key = places[part["kind"]]
            if part[item_key][key] is None:  # the first question citing it shows it
                part[item_key][key] = {"number": q["number"], "anchor": q["anchor"]}


def _experiment_view(record: dict[str, Any], number: int) -> dict[str, Any]:
    ok = record["status"] == "ok"
    analyses = _analysis_views(record, str(number)) if ok else []
    return {
        "number": str(number),
        "name": record["name"],
        "title": LocalizedText.model_validate(record["title"]) if record.get("title") else None,
        "status": record["status"],
        "error": record["error"],
        "setup": [tuple(from_jsonable(row)) for row in record.get("setup") or []],
        "skipped_files": (record.get("data") or {}).get("skipped_files", []),
        "analyses": analyses,
        "commentary": from_jsonable(record.get("commentary") or []),
        "commentary_number": f"{number}.{len(record['analyses']) + 2}",
        "anchor": record["name"],
        "discussion_shown_in": None,
    }


def report_view(report: ReportSpec, metrics: dict[str, Any], sections: list[dict[str, Any]],
                base_dir: Path) -> dict[str, Any]:
    """The view of one report: the header from the manifest's ``[report]``, the rest from
    ``metrics.json`` (the experiments' records) and the study's sections."""
    records = list(metrics["experiments"].values())
    experiments = [_experiment_view(r, n) for n, r in enumerate(records, start=1)]
    comparison_views = _comparison_views(sections, str(len(records) + 1))
    questions = _question_views(report, experiments, comparison_views, base_dir)
    _mark_shown(questions)
    return {
        "report": report,
        "languages": list(report.languages),
        "date": metrics["created"][:10],
        "generation": metrics.get("generation") or "",
        "experiments": experiments,
        "summary_number": str(len(records) + 1),
        "comparisons": comparison_views,
        "questions": questions,
        "environment": environment_rows(metrics.get("environment") or {}),
    }
