"""Sentences about the explanations that an analysis note and the Discussion share.

Each reads only the analysis' metrics (as metrics.json stores them), so
:mod:`reportgen.study.commentary` writes the same sentences from metrics.json and
tests/test_default_report.py can re-derive every number they quote.
"""

from __future__ import annotations

from typing import Any

from reportgen.i18n import plural_msg
from reportgen.report_types import Msg
from reportgen.significance import p_phrase

RANDOMIZATION_LIMIT = 0.5
"""Mean Spearman ρ with the re-initialised model's maps at or above which a method fails the
randomisation check: its maps then follow the image more than what the model learned."""


def _score(value: float) -> str:
    return f"{value:.3f}"


def _names(labels: list[str]) -> Msg:
    """Method names as one translated list ("A, B, C"; "A、B、C" in Chinese)."""
    names = Msg(labels[0])
    for label in labels[1:]:
        names = Msg("{list}, {item}", {"list": names, "item": Msg(label)})
    return names


def faithfulness_sentences(metrics: dict[str, Any]) -> list[Msg]:
    """Which method is most faithful (only when its lead is significant), which are no better
    than a random attribution, and which fail the randomisation check."""
    methods, ranking, alpha = metrics["methods"], metrics["ranking"], metrics["alpha"]
    random = metrics["random"]["score"]
    top = methods[ranking[0]]
    sentences: list[Msg] = []
    beats_random = top["p_vs_random"] < alpha and top["score"] > random
    if len(ranking) == 1:
        sentences.append(Msg("{method}: insertion − deletion AUC {score} against {random} for a random "
                             "attribution ({p}).",
                             {"method": Msg(top["label"]), "score": _score(top["score"]),
                              "random": _score(random), "p": p_phrase(top["p_vs_random"])}))
    else:
        second = methods[ranking[1]]
        params = {"method": Msg(top["label"]), "score": _score(top["score"]), "second": Msg(second["label"]),
                  "second_score": _score(second["score"]), "p": p_phrase(metrics["runner_up_p"]),
                  "random": _score(random)}
        if metrics["runner_up_p"] < alpha and beats_random:
            sentences.append(Msg("For this model {method} is the most faithful explanation: insertion − "
                                 "deletion AUC {score}, against {second_score} for {second} (Wilcoxon "
                                 "signed-rank test over the images, {p}) and {random} for a random "
                                 "attribution.", params))
        else:
            sentences.append(Msg("No method is significantly more faithful than the others on these "
                                 "images: {method} has the highest insertion − deletion AUC ({score}) "
                                 "but is not significantly above {second} ({second_score}; Wilcoxon "
                                 "signed-rank test over the images, {p}); a random attribution scores "
                                 "{random}.", params))
    weak = [methods[n]["label"] for n in ranking
            if methods[n]["p_vs_random"] >= alpha or methods[n]["score"] <= random]
    if weak:
        sentences.append(Msg("Not distinguishable from a random attribution on these images "
                             "(Wilcoxon p ≥ {alpha} or a lower score): {methods}.",
                             {"alpha": alpha, "methods": _names(weak)}))
    measured = {n: methods[n]["randomization_rank_correlation"] for n in ranking
                if methods[n]["randomization_rank_correlation"] is not None}
    if measured:
        failed = [methods[n]["label"] for n in ranking if n in measured
                  and measured[n] >= RANDOMIZATION_LIMIT]
        if failed:
            sentences.append(Msg("Fails the randomisation check (mean rank correlation ≥ {limit} with "
                                 "the maps of the same network with re-initialised weights, so the "
                                 "maps depend more on the image than on what the model learned): "
                                 "{methods}.", {"limit": RANDOMIZATION_LIMIT, "methods": _names(failed)}))
        else:
            worst = max(measured, key=lambda n: measured[n])
            sentences.append(Msg("Every method passes the randomisation check: the largest mean rank "
                                 "correlation with the maps of the re-initialised network is {rho} "
                                 "({method}).",
                                 {"rho": f"{measured[worst]:.2f}", "method": Msg(methods[worst]["label"])}))
    return sentences


REGION_NAMES = {"left_eye": Msg("left eye"), "right_eye": Msg("right eye"), "nose": Msg("nose"),
                "mouth": Msg("mouth"), "forehead": Msg("forehead"), "rest": Msg("rest of the image"),
                "eyes": Msg("eyes")}
"""Region key → its name (left / right as seen in the image)."""

TEMPLATE_ERROR = "0.20"
"""Mean distance of the canonical face's five points from MTCNN's on tight crops of real faces,
in eye distances (measured in reportgen.explain.face_regions' module doc)."""

MAX_PAIR_SENTENCES = 3


def _parts(shares: dict[str, float]) -> list[tuple[str, float]]:
    """The shares with both eyes as one part ("eyes"), largest first (ties in region order)."""
    parts = {"eyes": shares["left_eye"] + shares["right_eye"],
             **{r: v for r, v in shares.items() if r not in ("left_eye", "right_eye")}}
    return sorted(parts.items(), key=lambda item: -item[1])


def _share(value: float) -> str:
    return f"{value:.0%}"


def region_sentences(metrics: dict[str, Any]) -> list[Msg]:
    """One sentence per class (its two largest parts of the first method's mass, with the area
    they cover) and one per most frequent confusion."""
    if not metrics.get("methods"):
        return []
    method = next(iter(metrics["methods"].values()))
    area = dict(_parts(metrics["area"]))
    sentences = []
    for cls, entry in method["classes"].items():
        (first, a), (second, b) = _parts(entry["shares"])[:2]
        sentences.append(plural_msg(
            "{cls}: {share} of the {method} mass on the {region} (which covers {area} of the crop), "
            "{second_share} on the {second} ({count} image).",
            "{cls}: {share} of the {method} mass on the {region} (which covers {area} of the crop), "
            "{second_share} on the {second} ({count} images).",
            {"cls": cls, "share": _share(a), "method": Msg(method["label"]), "region": REGION_NAMES[first],
             "area": _share(area[first]), "second_share": _share(b), "second": REGION_NAMES[second],
             "count": entry["images"]}))
    for pair in method["pairs"][:MAX_PAIR_SENTENCES]:
        (first, a), (second, b) = _parts(pair["shares"])[:2]
        sentences.append(plural_msg(
            "When {true} was taken for {predicted} ({count} image), {share} of the {method} mass for "
            "{predicted} lay on the {region}, {second_share} on the {second}.",
            "When {true} was taken for {predicted} ({count} images), {share} of the {method} mass for "
            "{predicted} lay on the {region}, {second_share} on the {second}.",
            {"true": pair["true"], "predicted": pair["predicted"], "count": pair["images"],
             "share": _share(a), "method": Msg(method["label"]), "region": REGION_NAMES[first],
             "second_share": _share(b), "second": REGION_NAMES[second]}))
    return sentences
