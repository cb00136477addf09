"""Which experiment of one test set is the best, and only when the tests say so.

The top experiment (highest accuracy, the mean over seeds with repeats) is called the best only
when it is significantly above every other one: each paired test of the top against another,
Holm-adjusted over the family of comparisons, below ALPHA with a positive difference. Otherwise
the ones the top is not significantly above are "within noise" of it.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

from reportgen.study.evidence import Evidence, decision, holm_adjusted


def standing(names: list[str], accuracy: dict[str, float], evidence: Evidence,
             all_pairs: bool) -> dict[str, Any] | None:
    """The top of ``names`` and how it stands against each other one (None for fewer than two).

    The Holm family is every pair of ``names`` (``all_pairs``: the overview's pairwise
    comparisons of a test set) or the top against each other one. Returns ``top``, ``best``
    (significantly above every other), ``comparisons`` (the family's size), ``pairs`` (each
    tested pair: a, b, accuracy Δ a − b, its interval, p, p_holm) and ``others`` (the top
    against each other one: experiment, paired, delta_points, ci_points, p, p_holm, decision)."""
    if len(names) < 2:
        return None
    top = max(names, key=lambda n: (accuracy[n], n))
    family = list(combinations(names, 2)) if all_pairs else [(top, n) for n in names if n != top]
    tested = [(a, b, c) for a, b in family if (c := evidence.compare(a, b)) is not None]
    holm_adjusted([c for _, _, c in tested])
    p_holm = {frozenset((a, b)): c["accuracy"]["p_holm"] for a, b, c in tested}
    others = []
    for name in names:
        if name == top:
            continue
        c = evidence.compare(top, name)
        entry: dict[str, Any] = {"experiment": name, "paired": c is not None}
        if c is not None:
            c["accuracy"]["p_holm"] = p_holm[frozenset((top, name))]
            entry.update({"delta_points": c["accuracy"]["delta_points"],
                          "ci_points": c["accuracy"]["ci_points"], "p": c["accuracy"]["p"],
                          "p_holm": c["accuracy"]["p_holm"], "runs": c["runs"]})
        entry["decision"] = decision(c)
        others.append(entry)
    return {"top": top, "accuracy": accuracy[top], "best": all(o["decision"] == "improves" for o in others),
            "comparisons": len(tested),
            "pairs": [{"a": a, "b": b, "delta_points": c["accuracy"]["delta_points"],
                       "ci_points": c["accuracy"]["ci_points"], "p": c["accuracy"]["p"],
                       "p_holm": c["accuracy"]["p_holm"]} for a, b, c in tested],
            "others": others}


def within_noise(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The experiments the top is not significantly above (paired, no significant difference)."""
    return [o for o in result["others"] if o["decision"] == "no difference"]
