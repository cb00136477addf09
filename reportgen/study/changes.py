"""``--compare-to PREVIOUS/metrics.json``: what changed since the last run, and regressions.

For every experiment scored in both runs: accuracy and macro-F1 before and now, the difference
in percentage points, its 95 % interval and whether it stands out from noise. The evidence, per
experiment, is the best one at hand:

- ``paired``: both runs' predictions on the same test images (equal ``test_set`` keys and true
  labels): McNemar's exact test for accuracy, a paired bootstrap for macro-F1, paired by seed
  across repeats when both runs have the same seeds (:func:`reportgen.significance.paired_comparison`);
  p-values Holm-adjusted over the experiments compared this way;
- ``interval``: only the numbers of the previous run (no predictions.npz beside its metrics.json,
  or another test set): a change counts as significant when the previous value lies outside this
  run's 95 % interval (Wilson for accuracy, bootstrap for macro-F1).

``--fail-on-drop P``: a regression is a drop of more than P points that is significant;
``--fail-on-drop-any P``: any drop of more than P points. Either makes the build exit with
code 3, after writing the report.

Both runs' environments (reportgen.environment) are compared too: what changed in between is
said in the section and in each regression line (reportgen.study.environment_changes).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reportgen.errors import ConfigError
from reportgen.i18n import plural_msg
from reportgen.predictions import PREDICTIONS_FILE, RunPredictions, label_count, read_predictions
from reportgen.report_types import AnalysisResult, Msg, Table, points
from reportgen.significance import (
    ALPHA,
    CONFIDENCE,
    bootstrap_f1,
    holm,
    p_phrase,
    p_value,
    paired_comparison,
    wilson_interval,
)
from reportgen.study.compare import ComparisonSection
from reportgen.study.environment_changes import changed_in_between, environment_changes, environment_note
from reportgen.study.formats import points_interval

METRICS = (("accuracy", "Accuracy"), ("macro_f1", "Macro F1"))
PAIRED, INTERVAL = "paired", "interval"
"""The two kinds of evidence a change is judged on."""
NO_PREVIOUS_PREDICTIONS = "previous predictions missing"
NO_CURRENT_PREDICTIONS = "current predictions missing"
OTHER_TEST_SET = "different test sets"
UNKNOWN_TEST_SET = "test set not recorded"
"""Why a comparison fell back to intervals (``evidence.reason`` in metrics.json)."""
_REASON_MSGS = {NO_PREVIOUS_PREDICTIONS: Msg("interval: previous predictions not found"),
                NO_CURRENT_PREDICTIONS: Msg("interval: this run's predictions not at hand"),
                OTHER_TEST_SET: Msg("interval: different test sets"),
                UNKNOWN_TEST_SET: Msg("interval: test set not recorded")}


@dataclass(frozen=True)
class Gate:
    """What ``--compare-to`` / ``--fail-on-drop`` / ``--fail-on-drop-any`` ask of a build: the
    previous run (read by :func:`open_gate` when the build starts) and the drop rule."""

    previous: dict[str, dict[str, Any]]
    source: str
    fail_on_drop: float | None = None
    fail_on_drop_any: float | None = None
    environment: dict[str, Any] | None = None
    """The previous run's ``environment``; None when its metrics.json has none."""

    @property
    def threshold(self) -> float | None:
        return self.fail_on_drop if self.fail_on_drop is not None else self.fail_on_drop_any


def open_gate(path: Path, fail_on_drop: float | None = None,
              fail_on_drop_any: float | None = None) -> Gate:
    """The gate of ``--compare-to path``: the previous run's experiments (:func:`load_previous`)
    and environment, read once."""
    document = _read_document(path)
    environment = document.get("environment")
    return Gate(_previous_experiments(document, path), str(path), fail_on_drop, fail_on_drop_any,
                environment if isinstance(environment, dict) else None)


def load_previous(path: Path) -> dict[str, dict[str, Any]]:
    """experiment → {accuracy, macro_f1, classes, intervals, test_set, repeats, predictions} of
    a previous metrics.json (ConfigError if unusable). ``predictions`` (a RunPredictions or
    None) is read now from ``<folder of metrics.json>/experiments/<name>/predictions.npz``: a
    build replacing that folder must not find it gone when it compares."""
    return _previous_experiments(_read_document(path), path)


def _read_document(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("--compare-to", [f"file not found: {path}"]) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError("--compare-to", [f"{path} is not a readable metrics.json: {exc}"]) from None
    return document if isinstance(document, dict) else {}


def _previous_experiments(document: dict[str, Any], path: Path) -> dict[str, dict[str, Any]]:
    experiments = document.get("experiments")
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
                         "macro_f1": float(f1) if f1 is not None else float("nan"),
                         "classes": _table(entry, "classes", list),
                         "intervals": _table(entry, "intervals", dict),
                         "test_set": _table(entry, "test_set", dict),
                         "repeats": _table(entry, "repeats", dict),
                         "predictions": _previous_predictions(Path(path), name)}
    if problems:
        raise ConfigError("--compare-to", [f"{path} is not the metrics.json of a reportgen build: {p}"
                                           for p in problems])
    return out


def _table(entry: dict[str, Any], key: str, kind: type) -> Any:
    """``entry[key]`` when it has the expected JSON type; None otherwise (an older build's
    metrics.json lacks the newer keys, and the comparison then uses what it has)."""
    value = entry.get(key)
    return value if isinstance(value, kind) else None


def _previous_predictions(metrics_path: Path, name: str) -> RunPredictions | None:
    if Path(name).name != name:  # only an experiment's own folder, never a path out of it
        return None
    # A missing, truncated or empty file reads as None: the comparison falls back to intervals.
    return read_predictions(metrics_path.parent / "experiments" / name / PREDICTIONS_FILE)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def changes(previous: dict[str, dict[str, Any]], current: dict[str, dict[str, Any]],
            fail_on_drop: float | None, source: str,
            current_predictions: dict[str, RunPredictions] | None = None,
            fail_on_drop_any: float | None = None, environment_before: dict[str, Any] | None = None,
            environment_now: dict[str, Any] | None = None) -> tuple[ComparisonSection, list[str]]:
    """The "changes since last run" section and the regressions (one line each).

    ``previous``: :func:`load_previous`; ``current``: experiment → record; ``current_predictions``:
    experiment → this run's predictions. ``fail_on_drop``: a significant drop of more than that
    many points is a regression; ``fail_on_drop_any``: any drop of more than that many points
    (at most one of the two). ``environment_before`` / ``environment_now``: both runs'
    ``environment``; what changed in between is named (nothing is said without the previous one)."""
    if fail_on_drop is not None and fail_on_drop_any is not None:
        raise ValueError("fail_on_drop and fail_on_drop_any exclude each other")
    compared = [_compare(name, entry, previous[name], (current_predictions or {}).get(name))
                for name, entry in current.items()
                if entry.get("accuracy") is not None and name in previous]
    _adjust(compared)
    threshold = fail_on_drop if fail_on_drop is not None else fail_on_drop_any
    changed = environment_changes(environment_before, environment_now)
    in_between = changed_in_between(changed)
    regressions: list[str] = []
    for record in compared:
        for key, _ in METRICS:
            change = record[key]
            if threshold is None or not change["delta_points"] < -threshold:
                continue
            if fail_on_drop is not None and not change["significant"]:
                continue
            regressions.append(f"{record['experiment']}: {key} dropped {-change['delta_points']:.1f} "
                               f"points ({change['previous']:.4f} → {change['now']:.4f}; "
                               f"{_evidence_text(record, key)})" + (f"; {in_between}" if in_between else ""))
        record["regression"] = any(r.startswith(f"{record['experiment']}:") for r in regressions)
    rule = "significant" if fail_on_drop is not None else "any" if fail_on_drop_any is not None else None
    metrics = {"source": source, "fail_on_drop": fail_on_drop, "fail_on_drop_any": fail_on_drop_any,
               "rule": rule, "alpha": ALPHA, "confidence": CONFIDENCE, "experiments": compared,
               "regressions": regressions, "environment_changes": changed}
    notes = _notes(compared, source, rule, threshold, len(regressions))
    if (note := environment_note(changed)) is not None:
        notes.append(note)
    section = ComparisonSection("changes", Msg("Changes since the last run"),
                                AnalysisResult(metrics=metrics, tables=[_table_of(compared)],
                                               notes=notes))
    return section, regressions


def _compare(name: str, entry: dict[str, Any], before: dict[str, Any],
             now_predictions: RunPredictions | None) -> dict[str, Any]:
    """One experiment's record of the section: both values, Δ and its interval in points, the
    p-value (paired evidence only) and the evidence used."""
    reason = _fallback_reason(entry, before, now_predictions)
    if reason is None:
        return {"experiment": name, **_paired(entry, before, now_predictions)}
    now = {"accuracy": entry["accuracy"], "macro_f1": entry["macro_avg"]["f1"]}
    record: dict[str, Any] = {"experiment": name,
                              "evidence": {"kind": INTERVAL, "reason": reason,
                                           "test": "previous value outside this run's interval"}}
    for key, _ in METRICS:
        interval = _current_interval(entry, now_predictions, key)
        previous_value = before[key]
        out = {"previous": previous_value, "now": now[key],
               "delta_points": (now[key] - previous_value) * 100, "p": None, "interval": interval}
        if interval is None or not math.isfinite(previous_value):
            out.update(ci_points=None, significant=False)
        else:
            # This run's interval less the previous value (taken as exact): excludes 0 exactly
            # when the previous value lies outside this run's interval.
            out.update(ci_points=[(interval[0] - previous_value) * 100,
                                  (interval[1] - previous_value) * 100],
                       significant=not interval[0] <= previous_value <= interval[1])
        record[key] = out
    return record


def _fallback_reason(entry: dict[str, Any], before: dict[str, Any],
                     now_predictions: RunPredictions | None) -> str | None:
    """Why the two runs cannot be paired image by image; None when they can."""
    before_predictions = before.get("predictions")
    if before_predictions is None:
        return NO_PREVIOUS_PREDICTIONS
    if now_predictions is None:
        return NO_CURRENT_PREDICTIONS
    key_now = (entry.get("test_set") or {}).get("key")
    key_before = (before.get("test_set") or {}).get("key")
    if key_now is None or key_before is None:
        return UNKNOWN_TEST_SET
    same_classes = before.get("classes") is None or entry.get("classes") is None \
        or list(before["classes"]) == list(entry["classes"])
    if key_now != key_before or not same_classes \
            or not np.array_equal(now_predictions.y_true, before_predictions.y_true):
        return OTHER_TEST_SET
    return None


def _paired(entry: dict[str, Any], before: dict[str, Any], now: RunPredictions) -> dict[str, Any]:
    """Paired tests of this run (A) against the previous one (B) on the same test images: all
    repeats paired by seed when both runs have the same seeds, else the representative runs."""
    then: RunPredictions = before["predictions"]
    runs_now, runs_then = now.y_pred_runs[:1], then.y_pred_runs[:1]
    if now.runs > 1 and then.runs > 1 and sorted(now.seeds) == sorted(then.seeds) \
            and len(set(now.seeds)) == now.runs:
        row_of = {seed: row for row, seed in enumerate(then.seeds)}
        runs_now = now.y_pred_runs
        runs_then = then.y_pred_runs[[row_of[seed] for seed in now.seeds]]
    labels = label_count(entry.get("classes"), now.y_true, runs_now, runs_then)
    result = paired_comparison(now.y_true, runs_now, runs_then, labels)
    record: dict[str, Any] = {"evidence": {"kind": PAIRED, "reason": None, "test": result["test"],
                                           "runs": result["runs"], "images": result["images"]}}
    for key, _ in METRICS:
        summary = result[key]
        record[key] = {"previous": summary["b"], "now": summary["a"],
                       "delta_points": summary["delta_points"], "ci_points": summary["ci_points"],
                       "p": summary["p"],
                       **{k: summary[k] for k in ("p_images", "p_seeds") if k in summary}}
    record["per_run"] = result["per_run"]
    return record


def _current_interval(entry: dict[str, Any], predictions: RunPredictions | None,
                      key: str) -> list[float] | None:
    """This run's 95 % interval of ``key``: the record's; else computed from its predictions;
    else (accuracy only) the Wilson interval of the record's accuracy and test-set size."""
    recorded = (entry.get("intervals") or {}).get(key)
    if recorded is not None:
        return [float(recorded[0]), float(recorded[1])]
    if predictions is not None:
        y_true, y_pred = predictions.y_true, predictions.y_pred_runs[0]
        if key == "accuracy":
            return list(wilson_interval(int(np.sum(y_true == y_pred)), len(y_true)))
        labels = label_count(entry.get("classes"), y_true, y_pred)
        return list(bootstrap_f1(y_true, y_pred, labels)["macro_f1"])
    if key == "accuracy" and entry.get("per_class"):
        total = sum(int(v["support"]) for v in entry["per_class"].values())
        return list(wilson_interval(round(entry["accuracy"] * total), total))
    return None


def _adjust(compared: list[dict[str, Any]]) -> None:
    """Holm-adjust each metric's paired p-values over the experiments compared in this gate and
    mark what is significant (interval evidence was marked by :func:`_compare`)."""
    for key, _ in METRICS:
        tested = [r for r in compared if r[key]["p"] is not None]
        for record, adjusted in zip(tested, holm([r[key]["p"] for r in tested])):
            record[key]["p_holm"] = adjusted
            record[key]["significant"] = adjusted < ALPHA


def _evidence_text(record: dict[str, Any], key: str) -> str:
    """The evidence behind a change, for the regression line: ``McNemar p = 0.003``."""
    change, evidence = record[key], record["evidence"]
    if evidence["kind"] == INTERVAL:
        if change["interval"] is None:
            return f"no interval of this run to judge it by ({evidence['reason']})"
        low, high = change["interval"]
        side = "outside" if change["significant"] else "inside"
        method = "Wilson" if key == "accuracy" else "bootstrap"
        return (f"previous value {side} this run's {CONFIDENCE:.0%} {method} interval "
                f"{low:.4f}–{high:.4f}; {evidence['reason']}")
    if evidence["runs"] > 1:
        test = f"paired over {evidence['runs']} seeds and the test images,"
    else:
        test = "McNemar" if key == "accuracy" else "paired bootstrap"
    text = f"{test} {p_phrase(change['p'])}"
    if change["p_holm"] != change["p"]:
        text += f", Holm-adjusted {p_phrase(change['p_holm'])}"
    return text


def _evidence_msg(record: dict[str, Any]) -> Msg:
    evidence = record["evidence"]
    if evidence["kind"] == INTERVAL:
        return _REASON_MSGS[evidence["reason"]]
    if evidence["runs"] > 1:
        return plural_msg("paired over {count} seed", "paired over {count} seeds",
                          {"count": evidence["runs"]})
    return Msg("paired on the same test images")


def _delta_cell(change: dict[str, Any]) -> str:
    """Δ with its interval, in points: ``-2.4 [-3.9, -0.9]``."""
    if change["ci_points"] is None:
        return points(change["delta_points"])
    return f"{points(change['delta_points'])} {points_interval(*change['ci_points'])}"


def _p_cell(change: dict[str, Any]) -> str:
    p = change.get("p_holm")
    return "—" if p is None else p_value(p)


def _table_of(compared: list[dict[str, Any]]) -> Table:
    rows = []
    for record in compared:
        row: list[Any] = [record["experiment"]]
        for key, _ in METRICS:
            change = record[key]
            row += [f"{change['previous']:.4f} → {change['now']:.4f}", _delta_cell(change),
                    _p_cell(change)]
        row += [_evidence_msg(record), Msg("regression") if record["regression"] else ""]
        rows.append(row)
    confidence = f"{CONFIDENCE:.0%}"
    delta = Msg("Δ (points) [{confidence} CI]", {"confidence": confidence})
    return Table(columns=[Msg("Experiment"), Msg("Accuracy"), delta, Msg("p (Holm)"),
                          Msg("Macro F1"), delta, Msg("p (Holm)"), Msg("Evidence"), Msg("Status")],
                 rows=rows, css_class="compare")


def _notes(compared: list[dict[str, Any]], source: str, rule: str | None,
           threshold: float | None, regressions: int) -> list[Msg]:
    notes = [plural_msg("Compared with {source}: {count} experiment in both runs.",
                        "Compared with {source}: {count} experiments in both runs.",
                        {"source": source, "count": len(compared)})]
    paired = sum(r["evidence"]["kind"] == PAIRED for r in compared)
    if paired:
        notes.append(plural_msg(
            "Paired on the same test images: accuracy by McNemar's exact test, macro-F1 by a "
            "paired bootstrap (across seeds too when both runs have the same seeds); p-values "
            "Holm-adjusted over the {count} experiment compared this way, significant below "
            "{alpha}.",
            "Paired on the same test images: accuracy by McNemar's exact test, macro-F1 by a "
            "paired bootstrap (across seeds too when both runs have the same seeds); p-values "
            "Holm-adjusted over the {count} experiments compared this way, significant below "
            "{alpha}.",
            {"count": paired, "alpha": f"{ALPHA:g}"}))
    if paired < len(compared):
        notes.append(Msg("Without both runs' predictions on the same test images, a change counts "
                         "as significant when the previous value lies outside this run's "
                         "{confidence} interval (Wilson for accuracy, bootstrap for macro-F1); the "
                         "interval shown is that interval less the previous value.",
                         {"confidence": f"{CONFIDENCE:.0%}"}))
    if rule == "significant":
        notes.append(plural_msg("{count} regression: a significant drop of more than {threshold} "
                                "points.",
                                "{count} regressions: significant drops of more than {threshold} "
                                "points.",
                                {"count": regressions, "threshold": f"{threshold:g}"}))
    elif rule == "any":
        notes.append(plural_msg("{count} regression: a drop of more than {threshold} points.",
                                "{count} regressions: drops of more than {threshold} points.",
                                {"count": regressions, "threshold": f"{threshold:g}"}))
    return notes
