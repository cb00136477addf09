"""Records: what each experiment produced, as JSON, written next to its figures.

A record is the experiment's ``metrics.json`` entry (numbers, class match, history, timings)
plus everything the report shows of it: the setup table, each analysis' notes, tables and
figure paths (relative to the output folder), and the Discussion, with text as msgid + params.
``metrics.json`` is assembled from the records and the study; the renderer reads nothing else
(besides the manifest's ``[report]`` header), so ``reportgen render OUT_DIR`` can redraw a
report without TensorFlow.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reportgen import __version__
from reportgen.artifacts import write_json_atomic
from reportgen.outcomes import ExperimentOutcome
from reportgen.records.setup import setup_rows
from reportgen.report_types import jsonable

METRICS_FILE = "metrics.json"
RECORD_FILE = "record.json"
STUDY_RECORD = Path("comparison") / RECORD_FILE
"""The study's sections (comparison chapter), relative to the output folder."""


def _round(value: Any) -> Any:
    """Timings to milliseconds; nested dicts too."""
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    return value


def relative_paths(value: Any, out_dir: Path) -> Any:
    """Figure paths in a jsonable value made relative to ``out_dir`` (the output folder moves)."""
    if isinstance(value, dict):
        out = {k: relative_paths(v, out_dir) for k, v in value.items()}
        if "path" in out and "caption" in out and Path(out["path"]).is_absolute():
            out["path"] = Path(out["path"]).relative_to(out_dir).as_posix()
        return out
    if isinstance(value, list):
        return [relative_paths(v, out_dir) for v in value]
    return value


def experiment_record(outcome: ExperimentOutcome, out_dir: Path) -> dict[str, Any]:
    """The record of one experiment (see the module docstring); commentary comes later, from
    the study."""
    plan = outcome.plan
    ok = outcome.status == "ok"
    record: dict[str, Any] = {
        "name": plan.name,
        "title": plan.spec.title.model_dump(by_alias=True) if plan.spec.title else None,
        "status": outcome.status,
        "error": outcome.error,
        "dataset": plan.dataset.name,
        "model": plan.model.name,
        "trained": plan.trains,
        "parent": plan.spec.init_from,
        "classes": outcome.classes,
        "class_match": outcome.class_match or None,
    }
    ev = outcome.evaluation
    # intervals: run/evaluate.py's; repeats and test_set: the build's (reportgen.repeats, plan).
    record.update({key: ev.get(key) for key in ("accuracy", "per_class", "macro_avg", "weighted_avg",
                                                "confusion_matrix", "most_confused", "best_worst",
                                                "degenerate", "training_check", "intervals",
                                                "repeats", "test_set")})
    record.update({
        "data": outcome.data_summary,
        "model_info": outcome.model_summary,
        "history": outcome.history,
        "cache": outcome.cache,
        "stages": outcome.stages,
        "init_from": outcome.transfer or None,
        "grid": {"of": plan.spec.grid_of, "labels": plan.spec.grid_labels} if plan.spec.grid_of else None,
        "train": {"early_stopping": plan.spec.train.early_stopping,
                  "max_epochs": plan.spec.train.total_epochs} if plan.spec.train else None,
        "setup": [list(row) for row in setup_rows(outcome)] if ok else [],
        "commentary": [],
        "reused": outcome.reused,
        "analyses": {a.name: {"status": "ok" if a.error is None else "failed", "error": a.error,
                              "title": a.title, "reused": a.reused_from is not None,
                              "computed_seconds": a.seconds if a.reused_from is None else a.reused_from,
                              "metrics": a.result.metrics if a.result else {},
                              "notes": a.result.notes if a.result else [],
                              "tables": a.result.tables if a.result else [],
                              "figures": a.result.figures if a.result else []}
                     for a in outcome.analyses},
        "timings": _round(outcome.timings),
    })
    return relative_paths(jsonable(record), out_dir)


def record_path(out_dir: Path, name: str) -> Path:
    return out_dir / "experiments" / name / RECORD_FILE


def write_record(out_dir: Path, record: dict[str, Any]) -> Path:
    return write_json_atomic(record_path(out_dir, record["name"]), record)


def metrics_document(title: dict[str, str], manifest_path: Path, records: list[dict[str, Any]],
                     sections: list[dict[str, Any]], env: dict[str, Any],
                     total_seconds: float, generation: str) -> dict[str, Any]:
    """The machine-readable twin of the report, read by tests, later runs, nightly CI and
    ``reportgen render``: the experiments' records and each comparison section's numbers."""
    return {
        "reportgen": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "generation": generation,
        "manifest": str(manifest_path),
        "title": title,
        "environment": env,
        "experiments": {r["name"]: r for r in records},
        "comparison": {s["key"]: s["metrics"] for s in sections},
        "timings": _round({"total": total_seconds}),
    }


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
