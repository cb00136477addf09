"""Written commentary derived from the numbers, in every report language.

Sentences are msgids of the translation catalogs (English source, ``{placeholders}``); this
module only decides which sentences apply and fills them with numbers taken from the
metrics.json entries, formatted exactly as the report's tables show them. Nothing here reads
a model or an image: the same metrics.json always gives the same commentary, and
tests/test_default_report.py checks every number quoted against metrics.json.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reportgen.analyses._sentences import (
    best_worst_sentence,
    degenerate_warnings,
    f4,
    training_warnings,
)
from reportgen.i18n import plural_msg
from reportgen.report_types import Msg, points
from reportgen.run.evaluate import best_and_worst_classes, best_epoch, most_confused_pairs

IMBALANCE_RATIO = 1.5
"""Largest / smallest test support at which the class balance is worth a sentence."""
MAX_CONFUSED_PAIRS = 3
"""At most this many most-confused pairs (from the evaluation's ``most_confused``) get a sentence."""


def _ranking(entry: dict[str, Any], key: str, compute: Any) -> Any:
    """``entry[key]`` as stored by :func:`reportgen.run.evaluate.evaluate`; computed by the same
    helper when absent (a metrics.json written before the key existed)."""
    return entry[key] if key in entry else compute()


def _classes(entry: dict[str, Any]) -> list[Msg]:
    per_class = entry.get("per_class") or {}
    ranking = _ranking(entry, "best_worst", lambda: best_and_worst_classes(per_class))
    return [] if ranking is None else [best_worst_sentence(ranking, supports=True)]


def _confusions(entry: dict[str, Any]) -> list[Msg]:
    matrix = entry.get("confusion_matrix")
    classes = entry.get("classes") or []
    if not matrix:
        return []
    cm = np.array(matrix)
    if int(cm.sum() - np.trace(cm)) == 0:
        return [Msg("No test image was misclassified.")]
    pairs = _ranking(entry, "most_confused", lambda: most_confused_pairs(cm, classes))
    support = dict(zip(classes, cm.sum(axis=1).tolist()))
    return [plural_msg("{true} was taken for {predicted} {count} time ({share} of its {support} test "
                       "images).",
                       "{true} was taken for {predicted} {count} times ({share} of its {support} test "
                       "images).", {"true": p["true"], "predicted": p["predicted"], "count": p["count"],
                             "share": f"{p['count'] / support[p['true']]:.1%}",
                             "support": int(support[p["true"]])})
            for p in pairs[:MAX_CONFUSED_PAIRS]]


def _imbalance(entry: dict[str, Any]) -> list[Msg]:
    per_class = entry.get("per_class") or {}
    if len(per_class) < 2:
        return []
    supports = {name: int(v["support"]) for name, v in per_class.items()}
    rare = min(supports, key=lambda n: (supports[n], n))
    common = max(supports, key=lambda n: (supports[n], n))
    if supports[rare] == 0 or supports[common] / supports[rare] < IMBALANCE_RATIO:
        return []
    return [Msg("The test classes are imbalanced: {rare} has {rare_support} images against "
                "{common_support} for {common}; the recall of {rare} is {rare_recall} (macro "
                "average {macro_recall}).",
                {"rare": rare, "rare_support": supports[rare], "common": common,
                 "common_support": supports[common], "rare_recall": f4(per_class[rare]["recall"]),
                 "macro_recall": f4(entry["macro_avg"]["recall"])})]


def _training(entry: dict[str, Any]) -> list[Msg]:
    history = entry.get("history") or {}
    loss, val_loss = history.get("loss") or [], history.get("val_loss") or []
    if len(loss) < 2 or len(val_loss) != len(loss):
        return []
    out = []
    best = best_epoch(val_loss) - 1  # 0-based
    last = len(loss) - 1
    if best < last and val_loss[last] > val_loss[best] and loss[last] < loss[best]:
        out.append(Msg("Validation loss is lowest at epoch {best_epoch} ({best_val_loss}) and rises "
                       "to {last_val_loss} by epoch {last_epoch} while the training loss keeps "
                       "falling ({best_loss} → {last_loss}): the model starts to over-fit after "
                       "epoch {best_epoch}.",
                       {"best_epoch": best + 1, "best_val_loss": f4(val_loss[best]),
                        "last_val_loss": f4(val_loss[last]), "last_epoch": last + 1,
                        "best_loss": f4(loss[best]), "last_loss": f4(loss[last])}))
    elif best == last:
        out.append(Msg("Validation loss was still falling at the last epoch ({last_epoch}: "
                       "{last_val_loss}); more epochs may help.",
                       {"last_epoch": last + 1, "last_val_loss": f4(val_loss[last])}))
    train = entry.get("train") or {}
    max_epochs = train.get("max_epochs")
    if train.get("early_stopping") and max_epochs and len(loss) < max_epochs:
        out.append(Msg("Early stopping ended training after {epochs_run} of at most {max_epochs} "
                       "epochs.", {"epochs_run": len(loss), "max_epochs": max_epochs}))
    return out


def _explanations(entry: dict[str, Any]) -> list[Msg]:
    """What the explanation panels show, where it can be measured."""
    top_k = ((entry.get("analyses") or {}).get("top_k") or {}).get("metrics") or {}
    face = top_k.get("face_mass")
    if not face:
        return []
    return [Msg("On the {images} face crops, {share} of the rank-1 Grad-CAM mass lies inside the "
                "face box MTCNN detected, which covers {area} of each crop: the model looks at the "
                "face, not the margin around it.",
                {"images": face["images"], "share": f"{face['mean_share']:.0%}",
                 "area": f"{face['mean_box_area']:.0%}"})
            if face["mean_share"] > face["mean_box_area"] else
            Msg("On the {images} face crops, only {share} of the rank-1 Grad-CAM mass lies inside "
                "the face box MTCNN detected, which covers {area} of each crop: the model also "
                "uses the margin around the face.",
                {"images": face["images"], "share": f"{face['mean_share']:.0%}",
                 "area": f"{face['mean_box_area']:.0%}"})]


def for_experiment(entry: dict[str, Any]) -> list[Msg]:
    """Commentary of one experiment (its metrics.json entry): metrics sentences when it is
    scored, explanation sentences when they can be measured."""
    if entry.get("status") != "ok":
        return []
    if entry.get("accuracy") is None:
        return _explanations(entry)
    # Warnings first: a diverged or stuck run, then a model that only guesses.
    return (training_warnings(entry) + degenerate_warnings(entry) + _classes(entry)
            + _confusions(entry) + _imbalance(entry) + _training(entry) + _explanations(entry))


def for_grid(section: dict[str, Any]) -> list[Msg]:
    """One sentence per variant against the first, and the best variant."""
    variants = section.get("variants") or []
    if len(variants) < 2:
        return []
    reference = variants[0]
    out = [Msg("{variant}: test accuracy {accuracy}, {delta} points against {reference}.",
               {"variant": v["variant"], "accuracy": f4(v["accuracy"]), "reference": reference["variant"],
                "delta": points((v["accuracy"] - reference["accuracy"]) * 100)}) for v in variants[1:]]
    best = max(variants, key=lambda v: (v["accuracy"], v["variant"]))
    out.append(Msg("The best variant is {variant} (test accuracy {accuracy}).",
                   {"variant": best["variant"], "accuracy": f4(best["accuracy"])}))
    return out


def for_chain(section: dict[str, Any]) -> list[Msg]:
    steps = section.get("steps") or []
    return [Msg("Step {step}, {experiment} on {dataset}: test accuracy {accuracy}, {delta} points "
                "against the previous step.",
                {"step": s["step"], "experiment": s["experiment"], "dataset": s["dataset"],
                 "accuracy": f4(s["accuracy"]), "delta": points((s["accuracy"] - p["accuracy"]) * 100)})
            for p, s in zip(steps, steps[1:]) if s["step"] == p["step"] + 1]


def for_comparison(key: str, section: dict[str, Any]) -> list[Msg]:
    if key.startswith("grid-"):
        return for_grid(section)
    if key.startswith("chain-"):
        return for_chain(section)
    return []
