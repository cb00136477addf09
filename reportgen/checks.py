"""Every check that needs files, models or the analysis registry, shared by ``validate`` and ``build``.

``config`` only reads the TOML text; this module looks at the disk and the code: data files
and class lists, model files and their output count, class matching by name between data and
model outputs, the analysis registry, and whether a transfer chain's parent can be re-headed.
Both ``reportgen validate`` and ``build`` (before anything is trained) call
:func:`check_manifest`, so nothing passes validation and then fails for a reason validation
could have seen. All problems of all stages are reported together.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from reportgen.answers import image_problems
from reportgen.check_memo import CHECKS_DIR, CheckMemo
from reportgen.config.load import parse_manifest
from reportgen.config.schema import UNLABELLED_KINDS, FileModel, Manifest
from reportgen.errors import ConfigError, DataError, ModelError, TrustCodeRequired


def experiment_fields(manifest: Manifest) -> list[str]:
    """The manifest path of each (grid-expanded) experiment: ``experiments[2]`` or
    ``experiments[2] (grid variant 'abl-lr_0.1')``, as load_manifest names them."""
    return [manifest.field_of("experiments", i) for i in range(len(manifest.experiments))]


def analysis_problems(manifest: Manifest) -> list[str]:
    """Unknown analysis methods, bad options, and label-needing analyses on unlabelled data."""
    from reportgen.analyses.registry import analysis_problems as problems_of

    where = experiment_fields(manifest)
    kinds = {d.name: d.kind for d in manifest.datasets}
    problems = []
    for i, exp in enumerate(manifest.experiments):
        labelled = kinds.get(exp.dataset) not in UNLABELLED_KINDS
        for j, spec in enumerate(exp.analysis_specs()):
            problems += [f"{where[i]}.analyses[{j}]{p}" for p in problems_of(spec, labelled)]
    return problems


def file_problems(manifest: Manifest, base_dir: Path) -> tuple[list[str], set[str]]:
    """Data files, model files, ImageNet weights and answer files; also the names of datasets
    and models whose own check failed (class checks skip those)."""
    from reportgen.run.data import check_dataset
    from reportgen.run.models import check_model

    problems: list[str] = []
    broken: set[str] = set()
    for i, ds in enumerate(manifest.datasets):
        found = [f"{manifest.field_of('datasets', i)}.{p}" for p in check_dataset(ds, base_dir)]
        problems += found
        broken |= {ds.name} if found else set()
    for i, model in enumerate(manifest.models):
        found = [f"{manifest.field_of('models', i)}.{p}" for p in check_model(model, base_dir)]
        problems += found
        broken |= {model.name} if found else set()
    for i, question in enumerate(manifest.report.questions):
        if question.answer_file is not None and not (base_dir / question.answer_file).is_file():
            problems.append(f"report.questions[{i}].answer_file: file not found: "
                            f"{base_dir / question.answer_file}")
            continue
        field = "answer_file" if question.answer_file is not None else "answer"
        text = ((base_dir / question.answer_file).read_text(encoding="utf-8")
                if question.answer_file is not None else question.answer)
        problems += [f"report.questions[{i}].{field}: {p}" for p in image_problems(text, base_dir)]
    return problems, broken


def split_problems(manifest: Manifest, base_dir: Path, skip: set[str] = frozenset()) -> list[str]:
    """An experiment that trains needs a training split: evaluate-only data (a test folder alone)
    serves only models evaluated as loaded."""
    from reportgen.run.data import dataset_splits

    where = experiment_fields(manifest)
    problems = []
    for i, exp in enumerate(manifest.experiments):
        dataset = manifest.dataset(exp.dataset)
        if exp.train is None or dataset.name in skip or dataset.kind in UNLABELLED_KINDS:
            continue
        if "train" not in dataset_splits(dataset, base_dir):
            problems.append(f"{where[i]}.train: dataset {dataset.name!r} "
                            f"({_table_label(manifest, 'datasets', dataset.name)}) has only a "
                            "test split (evaluate-only data), so it cannot be trained on; remove train "
                            "to evaluate the model as loaded, or give the dataset a training split")
    return problems


def _table_index(manifest: Manifest, table: str, name: str) -> int:
    return next(i for i, entry in enumerate(getattr(manifest, table)) if entry.name == name)


def _table_label(manifest: Manifest, table: str, name: str) -> str:
    """``datasets[2]``: the manifest's name of the entry called ``name``."""
    return manifest.field_of(table, _table_index(manifest, table, name))


class _Models:
    """File models loaded once per check run (several experiments may share one); a model file
    that loaded with a given output count is remembered (:mod:`reportgen.check_memo`), so the
    next build need not import TensorFlow to check it again."""

    def __init__(self, base_dir: Path, memo: CheckMemo | None = None) -> None:
        self.base_dir, self.memo, self._loaded = base_dir, memo or CheckMemo(), {}

    def build(self, spec: Any, num_classes: int) -> Any:
        from reportgen.run.models import build_model

        key = (spec.name, num_classes)
        if key not in self._loaded:
            self._loaded[key] = build_model(spec, num_classes, self.base_dir)
        return self._loaded[key]

    def check_loads(self, spec: Any, num_classes: int) -> None:
        """Raise as :meth:`build` does, unless this model file loaded with ``num_classes`` before."""
        from reportgen.run.data.memo import fingerprint
        from reportgen.run.models import model_paths

        key = self.memo.key("model loads", {
            "model": spec.model_dump(mode="json"), "classes": num_classes,
            "files": [fingerprint(p) for p in model_paths(spec, self.base_dir)]})
        if self.memo.get(key):
            return
        self.build(spec, num_classes)
        self.memo.put(key, True)


def class_problems(manifest: Manifest, base_dir: Path, skip: set[str] = frozenset(),
                   models: _Models | None = None, complete: bool = True) -> tuple[list[str], list[str]]:
    """(problems, notes) of class matching, file-model output counts and chain re-heading.

    Problems: a dataset whose classes match none of its model's named outputs (both lists
    named), ``class_aliases`` naming unknown classes, a model file whose output count differs
    from the classes it is scored on, a chain parent that cannot be re-headed. Notes: the
    matches that reorder, alias or drop classes (shown in the report too). ``complete=False``:
    ``manifest`` lacks experiments that did not validate, so unused aliases are not reported.
    """
    from reportgen.run.classes import ClassMismatch, experiment_match, matched_classes

    models = models or _Models(base_dir)
    where = experiment_fields(manifest)
    problems: list[str] = []
    notes: list[str] = []
    alias_users = {d.name: False for d in manifest.datasets}
    for i, exp in enumerate(manifest.experiments):
        dataset, model = manifest.dataset(exp.dataset), manifest.model(exp.model)
        if dataset.name in skip or model.name in skip:
            alias_users[dataset.name] = True  # unknowable now; the file problem is reported
            continue
        here = f"{where[i]} ({exp.name})"
        try:
            if exp.init_from:
                alias_users[dataset.name] = True
                problems += _chain_problems(manifest, exp, here, models)
                continue
            match = experiment_match(exp, dataset, model, base_dir)
            alias_users[dataset.name] |= match is not None
            if match is not None and match.kind != "identical":
                notes.append(f"{here}: {match_note(match)}")
            if model.evaluable_as_loaded:
                classes = matched_classes(match, dataset, model, base_dir)
                named = match is not None or dataset.kind in UNLABELLED_KINDS
                _check_output_count(manifest, model, classes, named, models)
        except ClassMismatch as exc:
            alias_users[dataset.name] = True
            if "class_aliases" in str(exc):
                problems.append(f"{_table_label(manifest, 'datasets', dataset.name)}.class_aliases "
                                f"(used by {here} with model "
                                f"{model.name!r}): {exc}")
            else:
                problems.append(f"{here}: dataset {dataset.name!r} and model {model.name!r}: {exc}"
                                + _alias_hint(manifest, dataset.name))
        except (DataError, ModelError) as exc:
            problems.append(f"{here}: {exc}")
    for name, used in alias_users.items():
        ds = manifest.dataset(name)
        if getattr(ds, "class_aliases", None) and not used and complete:
            problems.append(f"{_table_label(manifest, 'datasets', name)}.class_aliases: no "
                            f"experiment scores {name!r} with a model that names its outputs (a "
                            "model file or python builder with classes, an ImageNet classifier, or an "
                            "init_from chain), so the aliases match "
                            "nothing; remove them")
    return problems, notes


def _alias_hint(manifest: Manifest, dataset: str) -> str:
    return (f" (when these are the same classes under other names, map them with "
            f"{_table_label(manifest, 'datasets', dataset)}.class_aliases = "
            "{ dataset_name = \"model_name\" })")


def _dataset_classes(dataset: Any, base_dir: Path) -> list[str]:
    from reportgen.run.data import dataset_classes

    return dataset_classes(dataset, base_dir)


def _check_output_count(manifest: Manifest, model: FileModel, classes: list[str] | tuple[str, ...],
                        named: bool, models: _Models) -> None:
    """A model file outputs one probability per class it is scored on."""
    try:
        models.check_loads(model, len(classes))
    except TrustCodeRequired as exc:
        raise exc.at(f"{_table_label(manifest, 'models', model.name)}.trust_code") from None
    except ModelError as exc:
        if not named:
            raise
        raise ModelError(f"{_table_label(manifest, 'models', model.name)}.classes lists {len(classes)} "
                         f"names but the model file does not output {len(classes)} classes ({exc})") from None


def _chain_problems(manifest: Manifest, exp: Any, here: str, models: _Models) -> list[str]:
    """The child's data classes meet the parent's classes through the same alias rules; a
    model file parent must be re-headable when the class sets differ (build does the same)."""
    from reportgen.run.classes import (
        ClassMismatch,
        dataset_aliases,
        experiment_classes,
        parent_names_in_child_spelling,
    )
    from reportgen.run.transfer import parent_transfer_problems

    base_dir = models.base_dir
    parent = next(e for e in manifest.experiments if e.name == exp.init_from)
    dataset, model = manifest.dataset(exp.dataset), manifest.model(exp.model)
    parent_classes = experiment_classes(manifest.dataset(parent.dataset), model, base_dir, parent)
    classes = _dataset_classes(dataset, base_dir)
    try:
        renamed = parent_names_in_child_spelling(parent_classes, classes, dataset_aliases(dataset))
    except ClassMismatch as exc:
        return [f"{here}: dataset {dataset.name!r} and parent {parent.name!r}: {exc}"]
    if renamed == classes:
        return []
    # Built models (cnn, application backbones) always end in reportgen's Dense head; a model
    # file, a python builder or an ImageNet classifier is loaded to see whether it can be cut.
    return [f"{here}.init_from: {p}" for p in parent_transfer_problems(model, renamed, classes, base_dir)]


def match_note(match: Any) -> str:
    """One English line describing a class match (validate prints it; the report translates)."""
    text = (f"classes matched by name: dataset order {', '.join(match.data_classes)} → model "
            f"order {', '.join(match.model_classes)}")
    if match.aliases:
        text += "; by alias: " + ", ".join(f"{d} → {m}" for d, m in match.aliases)
    if match.data_only:
        text += f"; dataset classes the model does not know (left out): {', '.join(match.data_only)}"
    if match.model_only:
        text += (f"; model classes absent from the data (predictions into them count as "
                 f"errors): {', '.join(match.model_only)}")
    return text


def output_problems(out: Path) -> list[str]:
    """Why ``out`` cannot be the output folder (empty when it can): it is a file, a file stands
    where one of its parents would be created, or nothing can be written there (tried, not
    guessed: a temporary file or folder is created and removed)."""
    out = existing = Path(out).expanduser().absolute()
    try:
        if out.exists() and not out.is_dir():
            return [f"{out} is a file, not a folder; name a folder (it is created if missing)"]
        while not existing.exists():
            existing = existing.parent
        if not existing.is_dir():
            return [f"{out} cannot be created: {existing} is a file, not a folder"]
        if existing == out:
            with tempfile.TemporaryFile(dir=out):
                pass
        else:
            os.rmdir(tempfile.mkdtemp(dir=existing))
    except OSError as exc:
        return [f"{out}: nothing can be written in {existing} ({exc.strerror or exc})"]
    return []


def check_manifest(manifest: Manifest, base_dir: Path, out: Path | None = None, *,
                   analysed: Manifest | None = None, memo: CheckMemo | None = None) -> list[str]:
    """Run every check; raise ConfigError listing all problems at once, else return notes.

    ``out``: ``build --out`` (None: the manifest's output_dir), checked against the data.

    ``analysed``: ``manifest`` is only the checkable part of a manifest with schema or
    reference problems (:class:`reportgen.config.load.ParsedManifest`); the analysis options are
    checked on ``analysed`` (every experiment whose analyses validated), and checks that need
    the whole manifest are left out. New checks run on ``manifest`` and name entries with
    ``manifest.field_of(table, i)`` (positions in a partial manifest are not the file's).

    ``memo``: what earlier checks found (:mod:`reportgen.check_memo`); what this run finds is
    added to it (written by its owner's ``flush``).
    """
    from reportgen.data_checks import data_checks

    memo = memo or CheckMemo()
    models = _Models(base_dir, memo)

    problems = analysis_problems(analysed or manifest)
    found, broken = file_problems(manifest, base_dir)
    problems += found + split_problems(manifest, base_dir, skip=broken)
    class_found, notes = class_problems(manifest, base_dir, skip=broken, models=models,
                                        complete=analysed is None)
    problems += class_found
    data_found, data_notes = data_checks(manifest, base_dir, experiment_fields(manifest), out, broken,
                                         memo)
    problems, notes = problems + data_found, notes + data_notes
    if problems:
        raise ConfigError("manifest files", problems)
    return notes


def load_checked(path: Path, out: Path | None = None,
                 memo: CheckMemo | None = None) -> tuple[Manifest, list[str]]:
    """Load a manifest and run every check on it: ``validate``, and ``build`` before any work.

    Every stage reports together, in one ConfigError: schema, cross references, then the files,
    models, classes and analysis options of the entries those left usable (a dataset that did
    not validate is not looked for on the disk; the datasets that did are). Returns the
    manifest and the notes of the class matches. ``out``: ``build --out`` (see check_manifest).
    ``memo``: what earlier checks found, in the output folder's cache (located here when it
    names no folder); ``build`` passes one that remembers and flushes it once every input is
    accepted, ``validate`` only reads.
    """
    parsed = parse_manifest(path)
    analysed = parsed.analysed if parsed.problems else None
    base_dir = Path(path).resolve().parent
    memo = memo or CheckMemo()
    memo.locate((out or base_dir / parsed.checkable.report.output_dir) / "cache" / CHECKS_DIR)
    try:
        notes = check_manifest(parsed.checkable, base_dir, out, analysed=analysed,
                               memo=memo)
    except ConfigError as exc:
        problems, notes = exc.problems, []
    else:
        problems = []
    problems = parsed.problems + problems
    if problems or parsed.manifest is None:
        raise ConfigError(str(path), problems)
    return parsed.manifest, notes
