"""Which class names an experiment scores, and how a dataset's labels meet a model's outputs.

A model's ``classes`` is its output order. Labelled data is matched to those outputs by class
*name*, never by folder position: the same names in another order are reordered, a partial
overlap is evaluated on the shared classes (with notes), and spellings of one emotion
(``anger`` / ``angry``) are matched through :data:`CLASS_ALIASES` or the dataset's own
``class_aliases`` table, always reported. :func:`match_classes` is pure; :func:`remap_data`
applies a match to loaded data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

CLASS_ALIASES: dict[str, tuple[str, ...]] = {
    "angry": ("anger", "angry"),
    "contempt": ("contempt", "contemptuous"),
    "disgust": ("disgust", "disgusted"),
    "fear": ("fear", "fearful", "afraid"),
    "happy": ("happy", "happiness"),
    "neutral": ("neutral", "neutrality"),
    "sad": ("sad", "sadness"),
    "surprise": ("surprise", "surprised"),
}
"""Spellings of one class across the course datasets (FER2013 ``angry``, CK+ / RAF-DB /
FERPlus ``anger``, ``happiness``, ``sadness``; ``surprised``, ``fearful``, ``disgusted`` in
other releases). Names are compared after case folding and dropping spaces, ``-`` and ``_``."""


def _key(name: str) -> str:
    """Case, spaces, hyphens and underscores do not make a different class."""
    return re.sub(r"[\s_\-]+", "", name).casefold()


_CANONICAL = {_key(spelling): group for group, spellings in CLASS_ALIASES.items() for spelling in spellings}


@dataclass(frozen=True)
class ClassMatch:
    """How each dataset label reaches a model output."""

    data_classes: tuple[str, ...]
    """The dataset's class names in label order (e.g. alphabetical folder order)."""
    model_classes: tuple[str, ...]
    """The model's output names in output order: the experiment's classes."""
    mapping: tuple[int, ...]
    """For each data label, the model output index, or -1 (its images are left out)."""
    aliases: tuple[tuple[str, str], ...] = ()
    """(data name, model name) pairs matched by spelling, alias table or ``class_aliases``."""

    @property
    def kind(self) -> str:
        if self.data_only or self.model_only:
            return "subset"
        if self.aliases:
            return "aliased"
        return "identical" if self.data_classes == self.model_classes else "reordered"

    @property
    def data_only(self) -> list[str]:
        """Dataset classes the model has no output for (their images are dropped)."""
        return [c for c, j in zip(self.data_classes, self.mapping) if j < 0]

    @property
    def model_only(self) -> list[str]:
        """Model outputs no dataset class reaches (they stay; predictions into them are errors)."""
        used = set(self.mapping)
        return [c for j, c in enumerate(self.model_classes) if j not in used]

    @property
    def shared(self) -> list[str]:
        """Model names that some dataset class reaches, in model order."""
        used = set(self.mapping)
        return [c for j, c in enumerate(self.model_classes) if j in used]

    def model_names_as_data(self) -> list[str]:
        """The model's output names with each matched one replaced by its dataset spelling."""
        names = list(self.model_classes)
        for i, j in enumerate(self.mapping):
            if j >= 0:
                names[j] = self.data_classes[i]
        return names

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "data_classes": list(self.data_classes),
                "model_classes": list(self.model_classes), "mapping": list(self.mapping),
                "aliases": [list(p) for p in self.aliases], "data_only": self.data_only,
                "model_only": self.model_only}


class ClassMismatch(ValueError):
    """No dataset class can be matched to a model output, or ``class_aliases`` names unknown classes."""


def match_classes(data_classes: list[str], model_classes: list[str],
                  aliases: dict[str, str] | None = None) -> ClassMatch:
    """Match dataset labels to model outputs by name.

    Order of preference for each dataset class: an explicit ``aliases`` entry (dataset name →
    model name), the same name, the same name up to case / ``_`` / ``-`` / spaces, then the same
    :data:`CLASS_ALIASES` group. A model output is used by at most one dataset class. Raises
    :class:`ClassMismatch` when an alias names an unknown class or nothing matches.
    """
    data, model = list(data_classes), list(model_classes)
    aliases = dict(aliases or {})
    problems = []
    unknown_data = [k for k in aliases if k not in data]
    unknown_model = [v for v in aliases.values() if v not in model]
    if unknown_data:
        problems.append(f"class_aliases names {unknown_data} but the dataset's classes are {data}")
    if unknown_model:
        problems.append(f"class_aliases maps to {unknown_model} but the model's classes are {model}")
    taken_twice = sorted({v for v in aliases.values() if list(aliases.values()).count(v) > 1})
    if taken_twice:
        problems.append(f"class_aliases maps several dataset classes to {taken_twice}")
    if problems:
        raise ClassMismatch("; ".join(problems))

    mapping = [-1] * len(data)
    taken: set[int] = set()
    rules = (
        lambda d, m: aliases.get(d) == m,
        lambda d, m: d == m,
        lambda d, m: _key(d) == _key(m),
        lambda d, m: _CANONICAL.get(_key(d), _key(d)) == _CANONICAL.get(_key(m), _key(m)),
    )
    for rule in rules:  # earlier rules claim outputs first, so an exact name beats an alias
        for i, d in enumerate(data):
            if mapping[i] >= 0 or (d in aliases and rule is not rules[0]):
                continue
            j = next((j for j, m in enumerate(model) if j not in taken and rule(d, m)), -1)
            if j >= 0:
                mapping[i] = j
                taken.add(j)
    if not taken:
        raise ClassMismatch(f"no dataset class matches a model output by name: the dataset's "
                            f"classes are {data}, the model's are {model}")
    pairs = tuple((d, model[j]) for d, j in zip(data, mapping) if j >= 0 and d != model[j])
    return ClassMatch(tuple(data), tuple(model), tuple(mapping), pairs)


def dataset_aliases(dataset: Any) -> dict[str, str]:
    """The dataset table's ``class_aliases`` (dataset name → model name), if the schema has it."""
    return dict(getattr(dataset, "class_aliases", None) or {})


def model_output_classes(model: Any, base_dir: Path) -> list[str] | None:
    """Names of a model's outputs in order, or None when its outputs are unnamed or the model
    gets a new head (cnn, application backbone): those keep the dataset's classes."""
    from reportgen.run.models import model_classes

    names = model_classes(model, base_dir)
    return list(names) if names else None


def uses_model_order(spec: Any, model: Any) -> bool:
    """Whether an experiment scores the model's own named outputs (when it has them: see
    :func:`model_output_classes`). A chain (``init_from``) re-heads its parent for the
    dataset's classes instead."""
    del model  # models that get a new head name no outputs, so they keep the dataset's classes
    return not getattr(spec, "init_from", None)


def class_match(dataset: Any, model: Any, base_dir: Path) -> ClassMatch | None:
    """How ``dataset``'s labels reach ``model``'s named outputs; None for unlabelled data or a
    model with unnamed outputs (matched by position, checked by count).

    Raises ClassMismatch (see :func:`match_classes`) or DataError (classes not knowable).
    """
    from reportgen.run.data import dataset_classes

    data = dataset_classes(dataset, base_dir)
    names = model_output_classes(model, base_dir) if data else None
    if not names:
        return None
    return match_classes(data, names, dataset_aliases(dataset))


def experiment_match(spec: Any, dataset: Any, model: Any, base_dir: Path) -> ClassMatch | None:
    """The class match of an experiment that scores the model's own outputs, else None."""
    return class_match(dataset, model, base_dir) if uses_model_order(spec, model) else None


def experiment_classes(dataset: Any, model: Any, base_dir: Path, spec: Any = None) -> list[str]:
    """An experiment's class names: the model's output names when it scores them (see
    :func:`uses_model_order`; without ``spec``, when the model is evaluated as loaded), else
    its dataset's, or for unlabelled images (no classes of their own) the model's output names."""
    match = class_match(dataset, model, base_dir) if spec is None else experiment_match(
        spec, dataset, model, base_dir)
    return matched_classes(match, dataset, model, base_dir)


def parent_names_in_child_spelling(parent_classes: list[str], classes: list[str],
                                   aliases: dict[str, str]) -> list[str]:
    """A chain parent's class names, each one that matches a child class (same rules as
    evaluation) written as the child spells it, so re-heading carries output weights over by
    name. Nothing in common: the parent's names unchanged (a wholly new head). A
    ``class_aliases`` entry naming an unknown class raises ClassMismatch."""
    try:
        return match_classes(classes, parent_classes, aliases).model_names_as_data()
    except ClassMismatch as exc:
        if "class_aliases" in str(exc):
            raise
        return list(parent_classes)


def matched_classes(match: ClassMatch | None, dataset: Any, model: Any, base_dir: Path) -> list[str]:
    """:func:`experiment_classes` once the experiment's match is known (no second match, no
    second scan of the dataset's folders)."""
    from reportgen.run.data import dataset_classes

    if match is not None:
        return list(match.model_classes)
    return dataset_classes(dataset, base_dir) or list(model_output_classes(model, base_dir) or [])


def _take(split: Any, keep: np.ndarray, y: np.ndarray) -> Any:
    """``split`` restricted to ``keep`` with labels ``y`` (ImageSet.take when it exists)."""
    idx = np.flatnonzero(keep)
    if hasattr(split, "take"):
        return replace(split.take(idx), y=y)
    files = getattr(split, "files", None)
    streamed = files is not None
    return replace(split, x=split.x if streamed else np.ascontiguousarray(split.x[idx]), y=y,
                   files=[files[i] for i in idx] if streamed else None)


def remap_labels(y: np.ndarray, match: ClassMatch) -> tuple[np.ndarray, np.ndarray]:
    """(keep mask, model-index labels of the kept images) for dataset labels ``y``."""
    lookup = np.asarray(match.mapping, dtype=np.int64)
    mapped = lookup[np.asarray(y, dtype=np.int64)]
    keep = mapped >= 0
    return keep, mapped[keep]


def remap_data(data: Any, match: ClassMatch) -> tuple[Any, dict[str, int]]:
    """``data`` with labels as model output indices and images of unmatched classes left out.

    Returns the new LoadedData and how many images each split lost.
    """
    splits, dropped = {}, {}
    for name in ("train", "val", "test"):
        split = getattr(data, name)
        keep, y = remap_labels(split.y, match)
        dropped[name] = int((~keep).sum())
        splits[name] = split if keep.all() and np.array_equal(y, split.y) else _take(split, keep, y)
    return replace(data, classes=list(match.model_classes), **splits), dropped
