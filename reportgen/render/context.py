"""Outcomes → the view model the templates read. Text stays as msgids until the template."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from reportgen.analyses.base import Msg

if TYPE_CHECKING:
    from reportgen.config.schema import Manifest
    from reportgen.pipeline import ExperimentOutcome


def _train_rows(outcome: ExperimentOutcome) -> list[tuple[Msg, Any]]:
    train = outcome.plan.spec.train
    if train is None:
        return [(Msg("Training"), Msg("none (model evaluated as loaded)"))]
    aug = train.augmentation
    augmentation = ", ".join(f"{k}={v}" for k, v in aug.model_dump().items() if v) if aug else ""
    rows = [
        (Msg("Optimizer"), f"{train.optimizer}, lr={train.learning_rate:g}"),
        (Msg("Batch size"), train.batch_size),
        (Msg("Epochs (max)"), train.epochs),
        (Msg("Early stopping patience"), train.early_stopping_patience if train.early_stopping
         else Msg("off")),
        (Msg("Augmentation"), augmentation or Msg("off")),
    ]
    if outcome.history:
        rows.append((Msg("Epochs run"), len(outcome.history.get("loss", []))))
    if outcome.cache:
        seconds = f"{outcome.cache.get('train_seconds') or 0:.1f}"
        rows.append((Msg("Trained model"),
                     Msg("reused from cache (trained in {seconds} s)", {"seconds": seconds})
                     if outcome.cache.get("hit")
                     else Msg("trained in this build ({seconds} s)", {"seconds": seconds})))
    return rows


def _setup_rows(outcome: ExperimentOutcome) -> list[tuple[Msg, Any]]:
    plan, data, model = outcome.plan, outcome.data_summary, outcome.model_summary
    rows: list[tuple[Msg, Any]] = [
        (Msg("Dataset"), f"{plan.dataset.name} — {data.get('description', '')}"),
        (Msg("Classes"), ", ".join(outcome.classes)),
    ]
    if data.get("labelled", True):
        rows.append((Msg("Images (train / validation / test)"),
                     f"{data.get('train', 0)} / {data.get('val', 0)} / {data.get('test', 0)}"))
    else:
        rows.append((Msg("Images inspected (no labels)"), data.get("test", 0)))
    if data.get("skipped"):
        rows.append((Msg("Unreadable files skipped"), data["skipped"]))
    if model:
        shape = "×".join(str(v) for v in model["input_shape"])
        rows += [
            (Msg("Model"), f"{model['name']} ({model['kind']}), input {shape}"),
            (Msg("Parameters (trainable / total)"), f"{model['trainable']:,} / {model['total']:,}"),
        ]
    return rows + _train_rows(outcome)


def _analysis_views(outcome: ExperimentOutcome, number: str) -> list[dict[str, Any]]:
    return [{"number": f"{number}.{i}", "name": a.name, "title": a.title, "result": a.result,
             "error": a.error, "anchor": f"{outcome.plan.name}-{a.name}"}
            for i, a in enumerate(outcome.analyses, start=2)]


def _summary_rows(outcomes: list[ExperimentOutcome]) -> list[list[Any]]:
    rows = []
    for o in outcomes:
        if o.status != "ok":
            rows.append([o.plan.name, o.plan.dataset.name, o.plan.model.name, Msg("failed"), "", ""])
            continue
        ev = o.evaluation
        if not ev:  # an inspection of unlabelled images has no accuracy
            rows.append([o.plan.name, o.plan.dataset.name, o.plan.model.name, "—", "—", "—"])
            continue
        rows.append([o.plan.name, o.plan.dataset.name, o.plan.model.name, f"{ev['accuracy']:.4f}",
                     f"{ev['macro_avg']['f1']:.4f}",
                     f"{o.cache.get('train_seconds') or 0:.1f}" if o.plan.trains else "—"])
    return rows


def report_view(manifest: Manifest, outcomes: list[ExperimentOutcome], env: dict[str, Any]) -> dict[str, Any]:
    report = manifest.report
    experiments = []
    for number, outcome in enumerate(outcomes, start=1):
        experiments.append({
            "number": str(number),
            "name": outcome.plan.name,
            "title": outcome.plan.spec.title,
            "status": outcome.status,
            "error": outcome.error,
            "setup": _setup_rows(outcome) if outcome.status == "ok" else [],
            "skipped_files": outcome.data_summary.get("skipped_files", []),
            "analyses": _analysis_views(outcome, str(number)) if outcome.status == "ok" else [],
            "anchor": outcome.plan.name,
        })
    return {
        "report": report,
        "languages": list(report.languages),
        "date": date.today().isoformat(),
        "experiments": experiments,
        "summary_columns": [Msg("Experiment"), Msg("Dataset"), Msg("Model"), Msg("Accuracy"),
                            Msg("Macro F1"), Msg("Training time (s)")],
        "summary_rows": _summary_rows(outcomes),
        "summary_number": str(len(outcomes) + 1),
        "environment": env,
    }
