"""``--compare-to PREVIOUS/metrics.json``: what changed since the last run, and regressions.

For every experiment scored in both runs: accuracy and macro-F1 before and now, and the
difference in percentage points. ``--fail-on-drop P`` makes any drop of more than P points a
regression (the build then exits with code 3, after writing the report).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reportgen.errors import ConfigError
from reportgen.i18n import plural_msg
from reportgen.report_types import AnalysisResult, Msg, Table, points
from reportgen.study.compare import ComparisonSection

METRICS = (("accuracy", "Accuracy"), ("macro_f1", "Macro F1"))


def load_previous(path: Path) -> dict[str, dict[str, float]]:
    """experiment → {accuracy, macro_f1} of a previous metrics.json (ConfigError if unusable)."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("--compare-to", [f"file not found: {path}"]) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError("--compare-to", [f"{path} is not a readable metrics.json: {exc}"]) from None
    experiments = document.get("experiments") if isinstance(document, dict) else None
    if not isinstance(experiments, dict):
        raise ConfigError("--compare-to", [f"{path} has no \"experiments\" table; expected the "
                                           "metrics.json of a reportgen build"])
    out, problems = {}, []
    for name, entry in experiments.items():
        if not isinstance(entry, dict) or entry.get("accuracy") is None:
            continue  # a failed experiment, or not scored (unlabelled data)
        accuracy = entry["accuracy"]
        macro = entry.get("macro_avg")
        f1 = macro.get("f1") if isinstance(macro, dict) else None
        if not _is_number(accuracy):
            problems.append(f"experiments.{name}.accuracy: expected a number, got {accuracy!r}")
        if macro is not None and not isinstance(macro, dict):
            problems.append(f"experiments.{name}.macro_avg: expected a table, got {macro!r}")
        elif f1 is not None and not _is_number(f1):
            problems.append(f"experiments.{name}.macro_avg.f1: expected a number, got {f1!r}")
        if not problems:
            out[name] = {"accuracy": float(accuracy),
                         "macro_f1": float(f1) if f1 is not None else float("nan")}
    if problems:
        raise ConfigError("--compare-to", [f"{path} is not the metrics.json of a reportgen build: {p}"
                                           for p in problems])
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def changes(previous: dict[str, dict[str, float]], current: dict[str, dict[str, Any]],
            fail_on_drop: float | None, source: str) -> tuple[ComparisonSection, list[str]]:
    """The "changes since last run" section and the regressions (one line each)."""
    rows, records, regressions = [], [], []
    for name, entry in current.items():
        if entry.get("accuracy") is None or name not in previous:
            continue
        now = {"accuracy": entry["accuracy"], "macro_f1": entry["macro_avg"]["f1"]}
        record: dict[str, Any] = {"experiment": name}
        row: list[Any] = [name]
        for key, _ in METRICS:
            delta = (now[key] - previous[name][key]) * 100
            record[key] = {"previous": previous[name][key], "now": now[key], "delta_points": delta}
            row += [f"{previous[name][key]:.4f} → {now[key]:.4f}", points(delta)]
            if fail_on_drop is not None and delta < -fail_on_drop:
                regressions.append(f"{name}: {key} dropped {-delta:.1f} points "
                                   f"({previous[name][key]:.4f} → {now[key]:.4f})")
        record["regression"] = any(r.startswith(f"{name}:") for r in regressions)
        row.append(Msg("regression") if record["regression"] else "")
        rows.append(row)
        records.append(record)
    table = Table(columns=[Msg("Experiment"), Msg("Accuracy"), Msg("Δ (points)"), Msg("Macro F1"),
                           Msg("Δ (points)"), Msg("Status")], rows=rows, css_class="compare")
    notes = [plural_msg("Compared with {source}: {count} experiment in both runs.",
                        "Compared with {source}: {count} experiments in both runs.",
                        {"source": source, "count": len(records)})]
    if fail_on_drop is not None:
        notes.append(plural_msg("{count} regression: a drop of more than {threshold} points.",
                                "{count} regressions: drops of more than {threshold} points.",
                                {"count": len(regressions), "threshold": f"{fail_on_drop:g}"}))
    metrics = {"source": source, "fail_on_drop": fail_on_drop, "experiments": records,
               "regressions": regressions}
    return (ComparisonSection("changes", Msg("Changes since the last run"),
                              AnalysisResult(metrics=metrics, tables=[table], notes=notes)),
            regressions)
