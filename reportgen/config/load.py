"""Manifest loading: TOML → pydantic → cross-reference checks, every problem collected; the entries
that pass are kept for the later stages (``reportgen.checks.load_checked``)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from reportgen.config.chains import cycles
from reportgen.config.grid import expand_grids
from reportgen.config.messages import format_errors
from reportgen.config.schema import (
    DEFAULT_ANALYSES,
    UNLABELLED_KINDS,
    DatasetSpec,
    ExperimentSpec,
    FileModel,
    Manifest,
    ModelSpec,
    ReportSpec,
)
from reportgen.errors import ConfigError


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file; decoding errors name the file, line and column."""
    if not path.exists():
        raise ConfigError(str(path), [f"manifest file not found: {path}"])
    if path.is_dir():
        raise ConfigError(str(path), [f"expected a manifest file, got a directory: {path}"])
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM (Windows editors) is fine
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path),
                          [f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})"]) from None
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read the manifest: {exc.strerror or exc}"]) from None
    if not text.strip():
        raise ConfigError(str(path), ["the file is empty; start from the README's example manifest"])
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib puts "(at line L, column C)" in its message.
        raise ConfigError(str(path), [f"invalid TOML: {exc}"]) from None


def _names(raw: dict[str, Any], table: str) -> list[str] | None:
    """The names the TOML gives the entries of ``table``, valid entries or not; None when
    ``table`` is not an array of named tables (its own problem is reported; no reference into
    it is)."""
    entries = raw.get(table)
    if not isinstance(entries, list) or not all(isinstance(e, dict) and isinstance(e.get("name"), str)
                                                for e in entries):
        return None
    return [e["name"] for e in entries]


def _is_known(name: str, names: list[str] | None) -> bool:
    return names is None or name in names


class _Found:
    """Cross-reference problems, and the experiments (by position) that later checks skip."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.skip: set[int] = set()

    def add(self, problem: str | None, experiment: int | None = None) -> None:
        if problem is not None:
            self.problems.append(problem)
        if experiment is not None:
            self.skip.add(experiment)


def _cross_reference_problems(manifest: Manifest, known: dict[str, list[str] | None]) -> _Found:
    """Problems pydantic cannot see: duplicate names, dangling references, unlabelled data.

    ``manifest`` holds the entries that validated; ``known`` every name the TOML gives (a
    reference to an entry that exists but did not validate is not reported again: that entry's
    own problems are). Checks that need the disk, the models or the analysis registry are in
    ``reportgen.checks``.
    """
    found = _Found()
    for table in ("datasets", "models", "experiments"):
        seen: dict[str, int] = {}
        for i, entry in enumerate(getattr(manifest, table)):
            if entry.name in seen:
                found.add(f"{manifest.field_of(table, i)}.name: duplicate name {entry.name!r} "
                          f"(already used by {manifest.field_of(table, seen[entry.name])})",
                          i if table == "experiments" else None)
            seen.setdefault(entry.name, i)
    dataset_names = [d.name for d in manifest.datasets]
    model_names = [m.name for m in manifest.models]
    for i, exp in enumerate(manifest.experiments):
        where = manifest.field_of("experiments", i)
        if exp.dataset not in dataset_names:
            found.add(None if _is_known(exp.dataset, known["datasets"]) else
                      f"{where}.dataset: unknown dataset {exp.dataset!r}; "
                      f"expected one of {known['datasets']}", i)
        if exp.model not in model_names:
            found.add(None if _is_known(exp.model, known["models"]) else
                      f"{where}.model: unknown model {exp.model!r}; expected one of {known['models']}", i)
        elif exp.train is None and not manifest.model(exp.model).evaluable_as_loaded:
            found.add(f"{where}.train: required because model {exp.model!r} is built from "
                      f"scratch (only trained models — kind = \"file\", or an application with "
                      f"include_top and its weights — can be evaluated without training)", i)
        if exp.repeats > 1 and exp.train is None:
            found.add(f"{where}.repeats: {exp.repeats} seeded runs need train; without it the model "
                      "is evaluated as loaded, and a model evaluated as loaded gives the same "
                      "predictions every time (remove repeats, or add train)")
        if exp.dataset in dataset_names and exp.model in model_names \
                and manifest.dataset(exp.dataset).kind in UNLABELLED_KINDS:
            for problem in _inspection_problems(manifest, i, exp):
                found.add(problem, i)
    _chain_problems(manifest, known, found)
    found.problems += _question_problems(manifest, known)
    return found


def _question_problems(manifest: Manifest, known: dict[str, list[str] | None]) -> list[str]:
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
                if not _is_known(experiment, known["experiments"]):
                    problems.append(f"{where}.answers[{j}]: unknown experiment {experiment!r}; "
                                    f"expected an experiment name, <experiment>.<analysis> or "
                                    f"\"comparison\" (experiments: {known['experiments']})")
            elif analysis and analysis not in analyses[experiment]:
                problems.append(f"{where}.answers[{j}]: experiment {experiment!r} has no analysis "
                                f"{analysis!r}; its analyses are {analyses[experiment]}")
    return problems


def _chain_problems(manifest: Manifest, known: dict[str, list[str] | None], found: _Found) -> None:
    """``init_from`` must name another experiment with the same model, and chains must end; an
    experiment whose parent is skipped is skipped too (its chain cannot be checked)."""
    names = [e.name for e in manifest.experiments]
    parent_of = {e.name: e.init_from for e in manifest.experiments if e.init_from}
    cycle_of = cycles(names, parent_of)
    for i, exp in enumerate(manifest.experiments):
        if not exp.init_from:
            continue
        where = f"{manifest.field_of('experiments', i)}.init_from"
        if exp.init_from not in names:
            found.add(None if _is_known(exp.init_from, known["experiments"]) else
                      f"{where}: unknown experiment {exp.init_from!r}; expected one of "
                      f"{known['experiments']}", i)
            continue
        if exp.train is None:
            found.add(f"{manifest.field_of('experiments', i)}.train: required with init_from (the "
                      "parent's model is fine-tuned on this experiment's data)", i)
        parent = next(e for e in manifest.experiments if e.name == exp.init_from)
        if parent.model != exp.model:
            found.add(f"{manifest.field_of('experiments', i)}.model: a transfer chain keeps its "
                      f"architecture; parent {parent.name!r} uses model {parent.model!r}, this uses "
                      f"{exp.model!r}", i)
        if exp.name in cycle_of:
            found.add(f"{where}: the chain never ends, it is a cycle: {' → '.join(cycle_of[exp.name])}", i)
    changed = True
    while changed:
        skipped = {manifest.experiments[i].name for i in found.skip}
        more = {i for i, e in enumerate(manifest.experiments)
                if e.init_from and (e.init_from in skipped or e.init_from not in names)}
        changed = not more <= found.skip
        found.skip |= more


def _inspection_problems(manifest: Manifest, i: int, exp: ExperimentSpec) -> list[str]:
    """An experiment on unlabelled images inspects a trained model: no training, named outputs."""
    where, model = manifest.field_of("experiments", i), manifest.model(exp.model)
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
        problems.append(f"{manifest.field_of('models', index)}.classes: required because experiment "
                        f"{exp.name!r} runs {model.name!r} on unlabelled images, so its outputs need names")
    return problems


def _origin_labels(raw: dict[str, Any], expanded: dict[str, Any]) -> list[str]:
    """The manifest's own name of each entry of the expanded experiment list: ``experiments[i]``,
    or ``experiments[i] (grid variant 'name')`` for a variant of a gridded entry."""
    original = raw.get("experiments") if isinstance(raw.get("experiments"), list) else []
    entries = expanded.get("experiments") if isinstance(expanded.get("experiments"), list) else []
    index_of = {id(e): i for i, e in enumerate(original)}
    labels = []
    position = 0
    for entry in entries:
        if id(entry) in index_of:
            labels.append(f"experiments[{index_of[id(entry)]}]")
            continue
        # A variant: find its gridded source by name (a broken grid's entry has no variants).
        variant = "grid_of" in entry
        source = next((i for i, e in enumerate(original) if isinstance(e, dict) and "grid" in e
                       and e.get("name") == entry.get("grid_of" if variant else "name")), position)
        labels.append(f"experiments[{source}] (grid variant {entry.get('name')!r})" if variant
                      else f"experiments[{source}]")
        position = source
    return labels


def _rewriter(labels: list[str]) -> Callable[[str], str]:
    """Rewrite ``experiments[j]`` of the expanded list (pydantic's locations) as ``labels[j]``."""

    def rewrite(problem: str) -> str:
        return re.sub(r"experiments\[(\d+)\]",
                      lambda m: labels[int(m.group(1))] if int(m.group(1)) < len(labels) else m.group(0),
                      problem)

    return rewrite


@dataclass(frozen=True)
class ParsedManifest:
    """A manifest checked for its schema and cross references, every problem collected.

    ``manifest`` is the whole manifest when it validated (None otherwise); ``entries`` holds
    every entry that validated on its own, ``checkable`` those of them whose references resolve
    and hold: the checks of the later stages (files, models, classes) run on ``checkable``, so
    one run reports every stage's problems. ``analysed`` adds to ``entries`` the experiments that
    did not validate but whose ``analyses`` did (their analysis options are checked too). All
    keep each entry's manifest name (:meth:`Manifest.label`).
    """

    manifest: Manifest | None
    entries: Manifest
    checkable: Manifest
    analysed: Manifest
    problems: list[str]


_ADAPTERS = {"datasets": TypeAdapter(DatasetSpec), "models": TypeAdapter(ModelSpec),
             "experiments": TypeAdapter(ExperimentSpec)}
_ANALYSES = TypeAdapter(ExperimentSpec.model_fields["analyses"].annotation)


def _valid(adapter: TypeAdapter[Any], value: Any) -> Any:
    try:
        return adapter.validate_python(value)
    except ValidationError:
        return None


def _analyses_only(raw: Any) -> ExperimentSpec | None:
    """An experiment that did not validate, holding only its analyses (when they validate)."""
    if not isinstance(raw, dict):
        return None
    analyses = _valid(_ANALYSES, raw.get("analyses", DEFAULT_ANALYSES))
    dataset = raw.get("dataset") if isinstance(raw.get("dataset"), str) else ""
    return None if analyses is None else ExperimentSpec.model_construct(
        name=str(raw.get("name", "")), dataset=dataset, model="", analyses=analyses)


def _entries(prepared: dict[str, Any], experiment_labels: list[str]) -> tuple[Manifest, Manifest]:
    """(the entries that validate on their own, those plus the analyses-only experiments)."""
    tables, labels, analysed, analysed_labels = {}, {}, [], []
    for table, adapter in _ADAPTERS.items():
        raw = prepared.get(table) if isinstance(prepared.get(table), list) else []
        names = experiment_labels if table == "experiments" else [f"{table}[{i}]" for i in range(len(raw))]
        pairs = [(names[i], _valid(adapter, entry)) for i, entry in enumerate(raw)]
        tables[table] = [entry for _, entry in pairs if entry is not None]
        labels[table] = [name for name, entry in pairs if entry is not None]
        if table == "experiments":
            for (name, entry), source in zip(pairs, raw):
                entry = entry or _analyses_only(source)
                if entry is not None:
                    analysed.append(entry)
                    analysed_labels.append(name)
    report = _valid(TypeAdapter(ReportSpec), prepared.get("report"))
    manifest = Manifest.model_construct(report=report or ReportSpec.model_construct(questions=[]), **tables)
    manifest._labels = labels
    return manifest, _subset(manifest, set(), experiments=(analysed, analysed_labels))


def _subset(manifest: Manifest, skip: set[int],
            experiments: tuple[list[ExperimentSpec], list[str]] | None = None) -> Manifest:
    """``manifest`` without the experiments at the positions in ``skip`` (or with
    ``experiments``: these experiments and their labels instead)."""
    if not skip and experiments is None:
        return manifest
    if experiments is None:
        keep = [i for i in range(len(manifest.experiments)) if i not in skip]
        experiments = ([manifest.experiments[i] for i in keep],
                       [manifest.field_of("experiments", i) for i in keep])
    subset = manifest.model_copy(update={"experiments": experiments[0]})
    subset._labels = {**manifest._labels, "experiments": experiments[1]}
    return subset


def parse_manifest(path: str | Path) -> ParsedManifest:
    """Read a manifest and collect every problem of its schema and cross references.

    Raises ``ConfigError`` only when the file cannot be read as TOML (nothing to check then).
    """
    path = Path(path)
    raw = read_toml(path)
    expanded, problems = expand_grids(raw)
    labels = _origin_labels(raw, expanded)
    origin = _rewriter(labels)
    known = {table: _names(expanded, table) for table in ("datasets", "models", "experiments")}
    try:
        whole = Manifest.model_validate(expanded)
    except ValidationError as exc:
        whole = None
        problems += [origin(line) for line in format_errors(exc.errors())]
        entries, analysed = _entries(Manifest._default_analyses(expanded), labels)
    else:
        whole._labels = {"datasets": [f"datasets[{i}]" for i in range(len(whole.datasets))],
                         "models": [f"models[{i}]" for i in range(len(whole.models))],
                         "experiments": labels}
        entries = analysed = whole
    found = _cross_reference_problems(entries, known)
    return ParsedManifest(whole, entries, _subset(entries, found.skip), analysed,
                          problems + found.problems)


def load_manifest(path: str | Path) -> Manifest:
    """Load and validate a manifest; raise ``ConfigError`` listing every problem of its schema
    and cross references (``reportgen.checks.load_checked`` adds the later stages' problems)."""
    parsed = parse_manifest(path)
    if parsed.problems or parsed.manifest is None:
        raise ConfigError(str(path), parsed.problems)
    return parsed.manifest
