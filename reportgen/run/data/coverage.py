"""Whether every class is in every split: counts per class and split, and what they mean.

A class without a training image is never learned (its output is trained only as "not this"),
so training on such a split is an error; a class without a test (or validation) image is left
out of what the test accuracy (or validation accuracy and early stopping) measures, which is
worth a visible warning. ``validate`` checks the split it would choose (``split_labels``), a
build checks the split it loaded, and the accuracy analysis repeats the warnings in the report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from reportgen.report_types import Msg

SPLITS = ("train", "val", "test")
SPLIT_WORDS = {"train": "train", "val": "validation", "test": "test"}


def class_counts(classes: Sequence[str], labels: Mapping[str, np.ndarray]) -> dict[str, dict[str, int]]:
    """{class: {split: images}} for the splits in ``labels`` (int class indices per split)."""
    splits = [s for s in SPLITS if s in labels]
    per_split = {s: np.bincount(np.asarray(labels[s], dtype=np.int64), minlength=len(classes))
                 for s in splits}
    return {c: {s: int(per_split[s][i]) for s in splits} for i, c in enumerate(classes)}


def counts_text(counts: Mapping[str, int]) -> str:
    """``1 train / 0 validation / 0 test`` (the splits present, in order)."""
    return " / ".join(f"{counts[s]} {SPLIT_WORDS[s]}" for s in SPLITS if s in counts)


def untrained(counts: Mapping[str, Mapping[str, int]]) -> list[str]:
    """Classes with no training image (when there is a training split)."""
    return [c for c, n in counts.items() if "train" in n and n["train"] == 0]


def unmeasured(counts: Mapping[str, Mapping[str, int]], split: str) -> list[str]:
    """Classes with no image in ``split`` (when there is such a split)."""
    return [c for c, n in counts.items() if split in n and n[split] == 0]


def untrained_problem(counts: Mapping[str, Mapping[str, int]]) -> str | None:
    """One sentence naming every class without a training image and its counts, or None."""
    missing = untrained(counts)
    if not missing:
        return None
    detail = "; ".join(f"{c!r}: {counts_text(counts[c])}" for c in missing)
    word = "class has" if len(missing) == 1 else "classes have"
    return (f"{len(missing)} {word} no training image ({detail}), so the model never learns "
            f"{'it' if len(missing) == 1 else 'them'}; add images (or raise max_samples), or "
            "remove the class")


def shortage_notes(dataset: str, counts: Mapping[str, Mapping[str, int]], trains: bool) -> list[str]:
    """English warnings for ``validate``: each class without a test image, and (when training)
    without a validation image, with its images per split."""
    notes = []
    for name, n in counts.items():
        lacking = [s for s in (("val", "test") if trains else ("test",)) if n.get(s, 1) == 0]
        if not lacking or (trains and n.get("train", 1) == 0):  # no training image is an error
            continue
        words = " and no ".join(SPLIT_WORDS[s] for s in lacking)
        effects = []
        if "val" in lacking:
            effects.append("validation accuracy and early stopping do not see it")
        if "test" in lacking:
            effects.append("the test accuracy does not measure it")
        shown = counts_text(n) if trains else f"{n.get('test', 0)} test"
        notes.append(f"warning: dataset {dataset!r}: class {name!r} has no {words} image "
                     f"({shown}): {' and '.join(effects)}")
    return notes


def shortage_msgs(classes: Sequence[str], labels: Mapping[str, np.ndarray]) -> list[Msg]:
    """The report's warnings (accuracy notes) of a trained experiment: classes without a test
    image, then classes without a validation image, each with its images per split."""
    counts = class_counts(classes, labels)
    out = []
    for name in unmeasured(counts, "test"):
        out.append(Msg("Warning: class {name} has no test image ({train} train / {val} validation / "
                       "{test} test), so the test accuracy does not measure it.",
                       {"name": name, **_split_params(counts[name])}))
    for name in unmeasured(counts, "val"):
        if counts[name].get("test", 0) == 0:
            continue  # already warned about, with the same counts
        out.append(Msg("Warning: class {name} has no validation image ({train} train / {val} "
                       "validation / {test} test), so validation accuracy and early stopping do "
                       "not see it.", {"name": name, **_split_params(counts[name])}))
    return out


def _split_params(counts: Mapping[str, int]) -> dict[str, int]:
    return {s: counts.get(s, 0) for s in SPLITS}
