"""``[experiments.grid]``: one experiment expanded over training options into named variants.

    [experiments.grid]
    augmentation = { plain = "none", augmented = { horizontal_flip = true, rotation = 0.05 } }
    normalization = [false, true]

Each key is a ``[experiments.train]`` option; its value is a list of values or a table of
``label = value`` (``"none"`` removes the option). The experiment becomes one variant per
combination, named ``<name>-<label>-<label>…`` (list labels: ``<key>_on``/``<key>_off`` for
booleans, ``<key>_<value>`` otherwise), each remembering its grid and labels for the
comparison chapter; every other key of the entry (``repeats`` included) is the variants' too.
Expansion happens on the raw TOML, before validation, so every variant is validated like a
hand-written experiment.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from reportgen.config.schema import TrainSpec

INTERNAL_KEYS = ("grid_of", "grid_labels")
MAX_VARIANTS = 64


def _label(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return f"{key}_{'on' if value else 'off'}"
    return re.sub(r"[^A-Za-z0-9_.]+", "_", f"{key}_{value}")


def _options(where: str, key: str, values: Any) -> tuple[list[tuple[str, Any]], list[str]]:
    """(label, value) pairs of one grid key, or problems."""
    if key not in TrainSpec.model_fields or key == "stages":
        allowed = sorted(k for k in TrainSpec.model_fields if k != "stages")
        return [], [f"{where}.{key}: not a training option; grid keys are [experiments.train] "
                    f"options: {', '.join(allowed)}"]
    if isinstance(values, dict):
        pairs = list(values.items())
        bad = [label for label, _ in pairs if not re.fullmatch(r"[A-Za-z0-9_.]+", label)]
        if bad:
            return [], [f"{where}.{key}: labels may use letters, digits, '_' and '.', got {bad}"]
    elif isinstance(values, list):
        pairs = [(_label(key, v), v) for v in values]
    else:
        return [], [f"{where}.{key}: expected a list of values or a table of label = value, "
                    f"got {values!r}"]
    if len(pairs) < 2:
        return [], [f"{where}.{key}: a grid axis needs at least 2 values, got {len(pairs)}"]
    if len({label for label, _ in pairs}) != len(pairs):
        return [], [f"{where}.{key}: duplicate labels {[label for label, _ in pairs]}"]
    return pairs, []


def _variants(i: int, experiment: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    where = f"experiments[{i}].grid"
    grid = experiment["grid"]
    if not isinstance(grid, dict) or not grid:
        return [], [f"{where}: expected a table of training options, e.g. "
                    "[experiments.grid] learning_rate = [0.001, 0.0003]"]
    axes, problems = [], []
    for key, values in grid.items():
        pairs, found = _options(where, key, values)
        axes.append((key, pairs))
        problems += found
    if problems:
        return [], problems
    count = 1
    for _, pairs in axes:
        count *= len(pairs)
    if count > MAX_VARIANTS:
        return [], [f"{where}: {count} variants; at most {MAX_VARIANTS} (split the grid)"]
    base = {k: v for k, v in experiment.items() if k != "grid"}
    train = base.get("train")
    if not isinstance(train, dict):
        return [], [f"experiments[{i}].train: required with a grid (the grid varies training options)"]
    variants = []
    for combo in itertools.product(*(pairs for _, pairs in axes)):
        variant_train = dict(train)
        labels = {}
        for (key, _), (label, value) in zip(axes, combo):
            labels[key] = label
            if value == "none":
                variant_train.pop(key, None)
            else:
                variant_train[key] = value
        name = "-".join([str(base.get("name", "")), *labels.values()])
        variants.append({**base, "name": name, "train": variant_train,
                         "grid_of": base.get("name"), "grid_labels": labels})
    return variants, []


def expand_grids(raw: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The raw manifest with every gridded experiment replaced by its variants, and problems."""
    experiments = raw.get("experiments")
    if not isinstance(experiments, list):
        return raw, []
    out, problems = [], []
    for i, experiment in enumerate(experiments):
        if not isinstance(experiment, dict):
            out.append(experiment)
            continue
        for key in INTERNAL_KEYS:
            if key in experiment:
                problems.append(f"experiments[{i}].{key}: set by grid expansion; remove it")
        if "grid" not in experiment:
            out.append(experiment)
            continue
        variants, found = _variants(i, experiment)
        problems += found
        # A broken grid: the entry itself is still validated (its other problems show too).
        out += variants or [{k: v for k, v in experiment.items() if k != "grid"}]
    return {**raw, "experiments": out}, problems
