"""The setup table of an experiment (dataset, classes, class matching, model, training), as rows of
(label, value) where text stays a :class:`Msg` until the report is rendered in each language."""

from __future__ import annotations

from typing import Any

from reportgen.i18n import plural_msg
from reportgen.outcomes import ExperimentOutcome
from reportgen.report_types import Msg

AUGMENTATION = {
    "horizontal_flip": Msg("horizontal flip"),
    "rotation": Msg("rotation up to {value} of a turn"),
    "translation": Msg("shift up to {value} of the size"),
    "zoom": Msg("zoom up to {value}"),
    "contrast": Msg("contrast up to {value}"),
}
"""How each augmentation setting reads in the setup table (AugmentationSpec's fields)."""
SCHEDULES = {"constant": Msg("constant"), "cosine": Msg("cosine decay"),
             "exponential": Msg("exponential decay")}


def _pieces(pieces: list[Msg], separator: str) -> Msg:
    """Msgs as one text, each translated on its own (the list is not a catalog text)."""
    slots = separator.join(f"{{p{i}}}" for i in range(len(pieces)))
    return Msg(slots, {f"p{i}": piece for i, piece in enumerate(pieces)})


def _augmentation(aug: Any) -> Msg | None:
    """The augmentation settings in use, each as its own sentence piece, or None when off."""
    used = [(key, value) for key, value in aug.model_dump().items() if value] if aug else []
    if not used:
        return None
    return _pieces([Msg(AUGMENTATION[key].msgid, {"value": f"{value:g}"} if value is not True else {})
                    for key, value in used], "; ")


def _trainable(value: str | int) -> Msg:
    if value == "head":
        return Msg("the new head only")
    if value == "all":
        return Msg("every layer")
    return plural_msg("the head and the top {count} backbone layer",
                      "the head and the top {count} backbone layers", {"count": int(value)})


def _stage_rows(outcome: ExperimentOutcome) -> list[tuple[Msg, Any]]:
    train = outcome.plan.spec.train
    stages = outcome.stages or [{"name": s.name, "trainable": s.trainable, "epochs": s.epochs,
                                 "learning_rate": s.learning_rate or train.learning_rate,
                                 "schedule": s.schedule} for s in train.stages]
    rows = []
    # The run's records follow the manifest's stages one to one; a stage the manifest names
    # shows that name.
    for number, (s, spec) in enumerate(zip(stages, train.stages, strict=True), start=1):
        label = (Msg("Fine-tuning stage {number}: {name}", {"number": number, "name": spec.name})
                 if spec.name else Msg("Fine-tuning stage {number}", {"number": number}))
        rows.append((label, Msg("trains {trainable}; {run}/{epochs} epochs, learning rate "
                                "{learning_rate} ({schedule})",
                                {"trainable": _trainable(s["trainable"]),
                                 "run": s.get("epochs_run", s["epochs"]), "epochs": s["epochs"],
                                 "learning_rate": f"{s['learning_rate']:g}",
                                 "schedule": SCHEDULES.get(s["schedule"], s["schedule"])})))
    return rows


def _train_rows(outcome: ExperimentOutcome) -> list[tuple[Msg, Any]]:
    train = outcome.plan.spec.train
    if train is None:
        return [(Msg("Training"), Msg("none (model evaluated as loaded)"))]
    rows = [
        (Msg("Optimizer"), Msg("{optimizer}, learning rate {learning_rate}",
                               {"optimizer": train.optimizer, "learning_rate": f"{train.learning_rate:g}"})),
        (Msg("Batch size"), train.batch_size),
        (Msg("Epochs (max)"), train.total_epochs),
        (Msg("Early stopping patience"), train.early_stopping_patience if train.early_stopping
         else Msg("off")),
        (Msg("Augmentation"), _augmentation(train.augmentation) or Msg("off")),
        (Msg("Normalization"), Msg("on (training-set mean and standard deviation)")
         if train.normalization else Msg("off")),
        (Msg("Class weights"), Msg("on (inverse class frequency)") if train.class_weights else Msg("off")),
    ]
    if train.stages:
        rows += _stage_rows(outcome)
    if outcome.transfer:
        t = outcome.transfer
        rows.append((Msg("Starts from"), Msg("{parent} (new head; {shared} of {count} classes shared "
                                             "by name)",
                                             {"parent": t["parent"], "shared": len(t["shared_classes"]),
                                              "count": len(outcome.classes)})
                     if t["head_replaced"] else Msg("{parent} (same classes, same head)",
                                                    {"parent": t["parent"]})))
    if outcome.history:
        rows.append((Msg("Epochs run"), len(outcome.history.get("loss", []))))
    repeats = outcome.evaluation.get("repeats")
    if repeats:
        seeds = repeats["seeds"]
        rows.append((Msg("Repeats"), Msg("{count} seeds ({seeds}); confusion matrix and explanations "
                                         "from seed {seed}",
                                         {"count": len(seeds), "seeds": ", ".join(map(str, seeds)),
                                          "seed": repeats["representative_seed"]})))
    if outcome.cache:
        seconds = f"{outcome.cache.get('train_seconds') or 0:.1f}"
        rows.append((Msg("Trained model"),
                     Msg("reused from cache (trained in {seconds} s)", {"seconds": seconds})
                     if outcome.cache.get("hit")
                     else Msg("trained in this build ({seconds} s)", {"seconds": seconds})))
    return rows


def _class_rows(outcome: ExperimentOutcome) -> list[tuple[Msg, Any]]:
    """How dataset labels reached the model's outputs: by name (with what was reordered,
    aliased or left out), or by position for a model file that names no outputs."""
    match = getattr(outcome, "class_match", None)
    plan = outcome.plan
    if not match:
        by_position = (plan.model.kind == "file" and not plan.spec.init_from
                       and outcome.data_summary.get("labelled", True))
        return [(Msg("Class matching"), Msg("by position: the model file names no classes, so its "
                                            "outputs are taken in the dataset's class order"))] \
            if by_position else []
    if match["kind"] == "identical":
        return [(Msg("Class matching"), Msg("by name: the dataset's classes are the model's outputs, "
                                            "in the same order"))]
    rows: list[tuple[Msg, Any]] = [(Msg("Class matching"), Msg(
        "classes matched by name: dataset order {data} → model order {model}",
        {"data": ", ".join(match["data_classes"]), "model": ", ".join(match["model_classes"])}))]
    if match["aliases"]:
        rows.append((Msg("Matched by alias"), ", ".join(f"{d} → {m}" for d, m in match["aliases"])))
    left_out = match.get("left_out", {})
    if match["data_only"]:
        rows.append((Msg("Left out"), plural_msg(
            "{count} test image of classes the model does not know was left out: {classes}",
            "{count} test images of classes the model does not know were left out: {classes}",
            {"count": left_out.get("test", 0), "classes": ", ".join(match["data_only"])})))
        if left_out.get("train", 0) + left_out.get("val", 0):
            rows.append((Msg("Left out"), plural_msg(
                "{count} training and validation image of those classes was left out too",
                "{count} training and validation images of those classes were left out too",
                {"count": left_out.get("train", 0) + left_out.get("val", 0)})))
    if match["model_only"]:
        rows.append((Msg("Model classes absent from the data"), Msg(
            "{classes} (predictions into them count as errors)",
            {"classes": ", ".join(match["model_only"])})))
    return rows


def _reuse_row(outcome: ExperimentOutcome) -> list[tuple[Msg, Any]]:
    """Which analyses this build computed and which it took from the result cache."""
    reused = [a.title for a in outcome.analyses if a.reused_from is not None]
    computed = [a.title for a in outcome.analyses if a.reused_from is None]
    if not outcome.analyses:
        return []
    if not computed:
        value = plural_msg("the {count} analysis was reused from the result cache (nothing changed)",
                           "all {count} analyses were reused from the result cache (nothing changed)",
                           {"count": len(reused)})
    elif not reused:
        value = plural_msg("the {count} analysis was computed in this build",
                           "all {count} analyses were computed in this build", {"count": len(computed)})
    else:
        value = Msg("reused from the result cache: {reused}; computed in this build: {computed}",
                    {"reused": _pieces(reused, ", "), "computed": _pieces(computed, ", ")})
    return [(Msg("Analysis results"), value)]


def setup_rows(outcome: ExperimentOutcome) -> list[tuple[Msg, Any]]:
    plan, data, model = outcome.plan, outcome.data_summary, outcome.model_summary
    rows: list[tuple[Msg, Any]] = [
        (Msg("Dataset"), Msg("{name} — {description}", {"name": plan.dataset.name,
                                                          "description": data.get("description") or ""})),
        (Msg("Classes"), ", ".join(outcome.classes)),
    ]
    if data.get("labelled", True) and plan.spec.train is None:
        rows.append((Msg("Images"), plural_msg("evaluated as loaded on {count} test image",
                                               "evaluated as loaded on {count} test images",
                                        {"count": data.get("test", 0)})))
    elif data.get("labelled", True):
        rows.append((Msg("Images (train / validation / test)"),
                     f"{data.get('train', 0)} / {data.get('val', 0)} / {data.get('test', 0)}"))
    else:
        rows.append((Msg("Images inspected (no labels)"), data.get("test", 0)))
    if data.get("skipped"):
        rows.append((Msg("Unreadable files skipped"), data["skipped"]))
    rows += _class_rows(outcome)
    if model:
        shape = "×".join(str(v) for v in model["input_shape"])
        rows += [
            (Msg("Model"), Msg("{name} ({kind}), input {shape}",
                                {"name": model["name"], "kind": model["kind"], "shape": shape})),
            (Msg("Parameters (trainable / total)"), f"{model['trainable']:,} / {model['total']:,}"),
        ]
    return rows + _train_rows(outcome) + _reuse_row(outcome)
