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

from reportgen.analyses._explain_sentences import faithfulness_sentences, region_sentences
from reportgen.analyses._sentences import (
    best_worst_sentence,
    degenerate_warnings,
    f4,
    training_warnings,
)
from reportgen.i18n import plural_msg
from reportgen.report_types import Msg, points
from reportgen.run.evaluate import best_and_worst_classes, best_epoch, most_confused_pairs
from reportgen.significance import p_phrase
from reportgen.study.evidence import decision
from reportgen.study.formats import magnitude

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


def _analysis_metrics(entry: dict[str, Any], name: str) -> dict[str, Any]:
    return ((entry.get("analyses") or {}).get(name) or {}).get("metrics") or {}


def _explanations(entry: dict[str, Any]) -> list[Msg]:
    """What the explanation panels show, where it can be measured: the face share of Grad-CAM,
    the faithfulness of each method and the face regions it uses
    (:mod:`reportgen.analyses._explain_sentences`)."""
    faithfulness = _analysis_metrics(entry, "faithfulness")
    measured = faithfulness_sentences(faithfulness) if faithfulness.get("methods") else []
    measured += region_sentences(_analysis_metrics(entry, "face_regions"))
    face = _analysis_metrics(entry, "top_k").get("face_mass")
    if not face:
        return measured
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
                 "area": f"{face['mean_box_area']:.0%}"})] + measured


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


def _evidence(comparison: dict[str, Any], holm_applied: bool) -> Msg:
    """The parenthesis of a verdict: interval, p and the test that gave it (and Holm's p)."""
    a = comparison["accuracy"]
    numbers = {"low": points(a["ci_points"][0]), "high": points(a["ci_points"][1]), "p": p_phrase(a["p"])}
    if comparison["runs"] > 1:
        evidence = Msg("mean of {seeds} seeds, 95 % CI [{low}, {high}], {p} (larger of the bootstrap "
                       "over images and the paired t-test across seeds)",
                       {"seeds": comparison["runs"], **numbers})
    else:
        evidence = Msg("95 % CI [{low}, {high}], McNemar {p}", numbers)
    if holm_applied:
        return Msg("{evidence}; Holm-adjusted {p_holm}",
                   {"evidence": evidence, "p_holm": p_phrase(a["p_holm"])})
    return evidence


def verdict(variant: str, baseline: str, comparison: dict[str, Any], holm_applied: bool) -> Msg:
    """``variant`` against ``baseline`` as the paired test decides: improves, hurts, or no
    significant difference."""
    delta = comparison["accuracy"]["delta_points"]
    params = {"variant": variant, "baseline": baseline, "evidence": _evidence(comparison, holm_applied)}
    kind = decision(comparison)
    if kind == "improves":
        return Msg("{variant} improves test accuracy over {baseline} by {delta} points ({evidence}).",
                   {**params, "delta": magnitude(delta)})
    if kind == "hurts":
        return Msg("{variant} hurts test accuracy: {delta} points below {baseline} ({evidence}).",
                   {**params, "delta": magnitude(delta)})
    return Msg("No significant difference between {variant} and {baseline} ({delta} points, {evidence}).",
               {**params, "delta": points(delta)})


def _untested(variant: str, baseline: str, delta: float) -> Msg:
    return Msg("{variant} and {baseline} differ by {delta} points of test accuracy, untested: no paired "
               "predictions on the same test images, so this is not called a gain or a loss.",
               {"variant": variant, "baseline": baseline, "delta": points(delta)})


def _holm_sentence(count: int, baseline: str) -> Msg:
    return plural_msg("The p-values against {baseline} use Holm's correction for {count} comparison.",
                      "The p-values against {baseline} use Holm's correction for {count} comparisons.",
                      {"count": count, "baseline": baseline})


def _best(standing: dict[str, Any]) -> Msg:
    others = standing["others"]
    if standing["best"]:
        return plural_msg(
            "{variant} is the best variant: its test accuracy {accuracy} is significantly above every "
            "other variant's (largest Holm-adjusted {p}, Holm's correction for {count} comparison).",
            "{variant} is the best variant: its test accuracy {accuracy} is significantly above every "
            "other variant's (largest Holm-adjusted {p}, Holm's correction for {count} comparisons).",
            {"variant": standing["top"], "accuracy": f4(standing["accuracy"]),
             "p": p_phrase(max(o["p_holm"] for o in others)), "count": standing["comparisons"]})
    close = ", ".join(f"{o['experiment']} ({p_phrase(o['p_holm'])})" if o["paired"] else o["experiment"]
                      for o in others if o["decision"] != "improves")
    return Msg("No variant is significantly better than the others: {variant} has the highest test "
               "accuracy ({accuracy}) but is not significantly above {others}.",
               {"variant": standing["top"], "accuracy": f4(standing["accuracy"]), "others": close})


def for_grid(section: dict[str, Any]) -> list[Msg]:
    """Each variant against the grid's baseline variant, as its paired test decides, and the
    best variant only when it is significantly above every other one."""
    variants = section.get("variants") or []
    baseline = section.get("baseline")
    by_name = {v["variant"]: v for v in variants}
    if len(variants) < 2 or baseline not in by_name:
        return []
    holm = section["holm"]
    out = [_holm_sentence(holm["comparisons"], baseline)] if holm["applied"] else []
    for v in variants:
        if v["variant"] == baseline:
            continue
        if v["vs_baseline"] is None:
            out.append(_untested(v["variant"], baseline,
                                 (v["score"]["accuracy"] - by_name[baseline]["score"]["accuracy"]) * 100))
        else:
            out.append(verdict(v["variant"], baseline, v["vs_baseline"], holm["applied"]))
    if section.get("standing"):
        out.append(_best(section["standing"]))
    return out


def for_chain(section: dict[str, Any]) -> list[Msg]:
    """Each step against the previous one only on the same test set; across datasets, the
    accuracy alone and why it is not compared."""
    steps = section.get("steps") or []
    holm = section.get("holm") or {"applied": False}
    out = [plural_msg("The p-values of the chain's steps use Holm's correction for {count} comparison.",
                      "The p-values of the chain's steps use Holm's correction for {count} comparisons.",
                      {"count": holm["comparisons"]})] if holm["applied"] else []
    for p, s in zip(steps, steps[1:]):
        if s["step"] != p["step"] + 1 or s["comparable"] is None:
            continue
        if not s["comparable"]:
            out.append(Msg("Step {step}, {experiment} on {dataset}: test accuracy {accuracy}, on other test "
                           "images than step {previous_step} ({previous_dataset}), so the two are not "
                           "compared.",
                           {"step": s["step"], "experiment": s["experiment"], "dataset": s["dataset"],
                            "accuracy": f4(s["accuracy"]), "previous_step": p["step"],
                            "previous_dataset": p["dataset"]}))
        elif s["vs_previous"] is None:
            out.append(_untested(s["experiment"], p["experiment"], s["delta_points"]))
        else:
            out.append(verdict(s["experiment"], p["experiment"], s["vs_previous"], holm["applied"]))
    return out


def for_comparison(key: str, section: dict[str, Any]) -> list[Msg]:
    if key.startswith("grid-"):
        return for_grid(section)
    if key.startswith("chain-"):
        return for_chain(section)
    return []
