"""Writing outputs safely (temp file + rename) and assembling metrics.json."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reportgen import __version__

if TYPE_CHECKING:
    from reportgen.config.schema import Manifest
    from reportgen.outcomes import ExperimentOutcome


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    """Write next to ``path`` then rename over it: readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_json_atomic(path: Path, document: Any) -> Path:
    return write_bytes_atomic(path, json.dumps(document, indent=2, ensure_ascii=False).encode())


def _round(value: Any) -> Any:
    """Timings to milliseconds; nested dicts too."""
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    return value


def experiment_entry(outcome: ExperimentOutcome) -> dict[str, Any]:
    plan = outcome.plan
    entry: dict[str, Any] = {
        "status": outcome.status,
        "error": outcome.error,
        "dataset": plan.dataset.name,
        "model": plan.model.name,
        "trained": plan.trains,
        "classes": outcome.classes,
        "class_match": getattr(outcome, "class_match", None) or None,
    }
    ev = outcome.evaluation
    entry.update({key: ev.get(key) for key in ("accuracy", "per_class", "macro_avg", "weighted_avg",
                                               "confusion_matrix", "most_confused", "best_worst",
                                               "degenerate")})
    entry.update({
        "data": outcome.data_summary,
        "model_info": outcome.model_summary,
        "history": outcome.history,
        "cache": outcome.cache,
        "stages": outcome.stages,
        "init_from": outcome.transfer or None,
        "grid": {"of": plan.spec.grid_of, "labels": plan.spec.grid_labels} if plan.spec.grid_of else None,
        "train": {"early_stopping": plan.spec.train.early_stopping,
                  "max_epochs": plan.spec.train.total_epochs} if plan.spec.train else None,
        "commentary": [m.to_json() for m in getattr(outcome, "commentary", [])],
        "analyses": {a.name: {"status": "ok" if a.error is None else "failed", "error": a.error,
                              "metrics": a.result.metrics if a.result else {}}
                     for a in outcome.analyses},
        "timings": _round(outcome.timings),
    })
    return entry


def metrics_document(manifest: Manifest, manifest_path: Path, outcomes: list[ExperimentOutcome],
                     env: dict[str, Any], render_timings: dict[str, float],
                     total_seconds: float, comparisons: list | None = None) -> dict[str, Any]:
    """The machine-readable twin of the report, read by tests, later runs and nightly CI."""
    return {
        "reportgen": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "manifest": str(manifest_path),
        "title": {"zh-TW": manifest.report.title.zh_TW, "en": manifest.report.title.en},
        "environment": env,
        "experiments": {o.plan.name: experiment_entry(o) for o in outcomes},
        "comparison": {c.key: c.result.metrics for c in comparisons or []},
        "timings": _round({"render": render_timings, "total": total_seconds}),
    }
