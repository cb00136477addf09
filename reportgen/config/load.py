"""Manifest loading: TOML → pydantic → cross-reference checks, every problem reported at once."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from reportgen.config.chains import cycles
from reportgen.config.grid import expand_grids
from reportgen.config.schema import UNLABELLED_KINDS, ExperimentSpec, FileModel, Manifest
from reportgen.errors import ConfigError


def field_path(loc: tuple[Any, ...]) -> str:
    """``('experiments', 1, 'train', 'epochs')`` → ``experiments[1].train.epochs``.

    Pydantic adds the discriminator value (``'digits'``) and union-member names
    (``'str'``, ``'AnalysisSpec'``, ``'function-after[...]'``) to locations; they are
    not manifest keys, so they are dropped.
    """
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _is_internal_loc(part):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _is_internal_loc(part: str) -> bool:
    return part in {"digits", "fer2013_csv", "image_folder", "npz", "images", "cnn", "application", "file",
                    "str", "AnalysisSpec"} or "[" in part or part.startswith("function-")


def _format_error(err: dict[str, Any]) -> str:
    where = field_path(err["loc"])
    msg = err["msg"]
    if err["type"] == "missing":
        return f"{where}: required key is missing"
    if err["type"] == "extra_forbidden":
        return f"{where}: unknown key (check the spelling; see README 'Manifest reference')"
    if err["type"] == "union_tag_invalid":
        expected = err.get("ctx", {}).get("expected_tags", "")
        return f"{where}.kind: expected one of {expected}, got {err['input'].get('kind')!r}" \
            if isinstance(err.get("input"), dict) else f"{where}: {msg}"
    if err["type"] == "union_tag_not_found":
        return f"{where}.kind: required key is missing (it selects the kind of entry)"
    given = err.get("input")
    if isinstance(given, (dict, list)) and len(repr(given)) > 60:
        given_text = type(given).__name__
    else:
        given_text = repr(given)
    msg = msg.removeprefix("Value error, ")
    return f"{where}: {msg}; got {given_text}"


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file; decoding errors name the file, line and column."""
    if not path.exists():
        raise ConfigError(str(path), [f"manifest file not found: {path}"])
    if path.is_dir():
        raise ConfigError(str(path), [f"expected a manifest file, got a directory: {path}"])
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path),
                          [f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})"]) from None
    if not text.strip():
        raise ConfigError(str(path), ["the file is empty; start from the README's example manifest"])
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib puts "(at line L, column C)" in its message.
        raise ConfigError(str(path), [f"invalid TOML: {exc}"]) from None


def _cross_reference_problems(manifest: Manifest) -> list[str]:
    """Problems pydantic cannot see: duplicate names, dangling references, unlabelled data.

    Checks that need the disk, the models or the analysis registry are in ``reportgen.checks``.
    """
    problems: list[str] = []
    for table in ("datasets", "models", "experiments"):
        seen: dict[str, int] = {}
        for i, entry in enumerate(getattr(manifest, table)):
            if entry.name in seen:
                problems.append(f"{table}[{i}].name: duplicate name {entry.name!r} "
                                f"(already used by {table}[{seen[entry.name]}])")
            seen.setdefault(entry.name, i)
    dataset_names = [d.name for d in manifest.datasets]
    model_names = [m.name for m in manifest.models]
    for i, exp in enumerate(manifest.experiments):
        where = f"experiments[{i}]"
        if exp.dataset not in dataset_names:
            problems.append(f"{where}.dataset: unknown dataset {exp.dataset!r}; "
                            f"expected one of {dataset_names}")
        if exp.model not in model_names:
            problems.append(f"{where}.model: unknown model {exp.model!r}; expected one of {model_names}")
        elif exp.train is None and not manifest.model(exp.model).evaluable_as_loaded:
            problems.append(f"{where}.train: required because model {exp.model!r} is built from "
                            f"scratch (only trained models — kind = \"file\", or an application with "
                            f"include_top and its weights — can be evaluated without training)")
        labelled = (exp.dataset not in dataset_names
                    or manifest.dataset(exp.dataset).kind not in UNLABELLED_KINDS)
        if not labelled and exp.model in model_names:
            problems += _inspection_problems(manifest, i, exp)
    return problems + _chain_problems(manifest) + _question_problems(manifest)


def _question_problems(manifest: Manifest) -> list[str]:
    """Every ``answers`` reference names an experiment, one of its analyses, or the comparison."""
    analyses = {e.name: [a.method for a in e.analysis_specs()] for e in manifest.experiments}
    problems, seen = [], {}
    for i, question in enumerate(manifest.report.questions):
        where = f"report.questions[{i}]"
        if question.number in seen:
            problems.append(f"{where}.number: duplicate question number {question.number!r} "
                            f"(already used by report.questions[{seen[question.number]}])")
        seen.setdefault(question.number, i)
        if question.answer and question.answer_file is not None:
            problems.append(f"{where}: give answer or answer_file, not both")
        for j, ref in enumerate(question.answers):
            experiment, _, analysis = ref.partition(".")
            if ref == "comparison":
                continue
            if experiment not in analyses:
                problems.append(f"{where}.answers[{j}]: unknown experiment {experiment!r}; expected "
                                f"an experiment name, <experiment>.<analysis> or \"comparison\" "
                                f"(experiments: {list(analyses)})")
            elif analysis and analysis not in analyses[experiment]:
                problems.append(f"{where}.answers[{j}]: experiment {experiment!r} has no analysis "
                                f"{analysis!r}; its analyses are {analyses[experiment]}")
    return problems


def _chain_problems(manifest: Manifest) -> list[str]:
    """``init_from`` must name another experiment with the same model, and chains must end."""
    names = [e.name for e in manifest.experiments]
    parent_of = {e.name: e.init_from for e in manifest.experiments if e.init_from}
    cycle_of = cycles(names, parent_of)
    problems = []
    for i, exp in enumerate(manifest.experiments):
        if not exp.init_from:
            continue
        where = f"experiments[{i}].init_from"
        if exp.init_from not in names:
            problems.append(f"{where}: unknown experiment {exp.init_from!r}; expected one of {names}")
            continue
        if exp.train is None:
            problems.append(f"experiments[{i}].train: required with init_from (the parent's model "
                            "is fine-tuned on this experiment's data)")
        parent = next(e for e in manifest.experiments if e.name == exp.init_from)
        if parent.model != exp.model:
            problems.append(f"experiments[{i}].model: a transfer chain keeps its architecture; "
                            f"parent {parent.name!r} uses model {parent.model!r}, this uses {exp.model!r}")
        if exp.name in cycle_of:
            cycle = " → ".join(cycle_of[exp.name])
            problems.append(f"{where}: the chain never ends, it is a cycle: {cycle}")
    return problems


def _inspection_problems(manifest: Manifest, i: int, exp: ExperimentSpec) -> list[str]:
    """An experiment on unlabelled images inspects a trained model: no training, named outputs."""
    where, model = f"experiments[{i}]", manifest.model(exp.model)
    problems = []
    if exp.train is not None:
        problems.append(f"{where}.train: dataset {exp.dataset!r} has no labels (kind = \"images\"), "
                        "so it cannot be trained on; remove train to inspect the model")
    if not model.evaluable_as_loaded:
        problems.append(f"{where}.model: dataset {exp.dataset!r} has no labels, so the model must "
                        f"be a trained model (kind = \"file\", or an application with include_top and "
                        f"its weights); {exp.model!r} is kind = \"{model.kind}\"")
    elif isinstance(model, FileModel) and model.classes is None:
        index = next(j for j, m in enumerate(manifest.models) if m.name == model.name)
        problems.append(f"models[{index}].classes: required because experiment {exp.name!r} runs "
                        f"{model.name!r} on unlabelled images, so its outputs need names")
    return problems


def _origin_names(raw: dict[str, Any], expanded: dict[str, Any]) -> Callable[[str], str]:
    """Rewrite ``experiments[j]`` of the expanded list as the manifest's own entry and variant."""
    original = raw.get("experiments") if isinstance(raw.get("experiments"), list) else []
    index_of = {id(e): i for i, e in enumerate(original)}
    labels = []
    position = 0
    for entry in expanded.get("experiments") or []:
        if id(entry) in index_of:
            labels.append(f"experiments[{index_of[id(entry)]}]")
            continue
        # A variant: find its gridded source by name.
        source = next((i for i, e in enumerate(original) if isinstance(e, dict)
                       and "grid" in e and e.get("name") == entry.get("grid_of")), position)
        labels.append(f"experiments[{source}] (grid variant {entry.get('name')!r})")
        position = source

    def rewrite(problem: str) -> str:
        return re.sub(r"experiments\[(\d+)\]",
                      lambda m: labels[int(m.group(1))] if int(m.group(1)) < len(labels) else m.group(0),
                      problem)

    return rewrite


def load_manifest(path: str | Path) -> Manifest:
    """Load and validate a manifest; raise ``ConfigError`` listing every problem."""
    path = Path(path)
    raw = read_toml(path)
    expanded, problems = expand_grids(raw)
    if problems:
        raise ConfigError(str(path), problems)
    origin = _origin_names(raw, expanded)
    try:
        manifest = Manifest.model_validate(expanded)
    except ValidationError as exc:
        raise ConfigError(str(path), [origin(_format_error(e)) for e in exc.errors()]) from None
    problems = [origin(p) for p in _cross_reference_problems(manifest)]
    if problems:
        raise ConfigError(str(path), problems)
    return manifest
