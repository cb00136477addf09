"""Checks that catch data giving silent nonsense, and outputs that would become inputs.

Called by :func:`reportgen.checks.check_manifest` (so by ``validate`` and ``build`` alike):

* **One class.** Training on a dataset of a single class, or scoring a model on it when the
  model names no other output, measures nothing (accuracy is 1.0 by construction): an error
  naming the dataset and its class. A model that names its outputs (a model file with
  ``classes``, an ImageNet classifier) may be *evaluated as loaded* on one-class data: the
  accuracy is then the share of its images the model gives that class, which means something;
  a note says so.
* **Every class in every split.** The split a build would choose (same seed, same labels) is
  computed for datasets whose labels come from file listings (no image is opened): a class
  without a training image is an error for an experiment that trains on it; a class without a
  test image (or, when training, a validation image) is a warning printed by ``validate`` and
  ``build``, repeated in the report's accuracy notes. Datasets whose labels are inside large
  files (CSV, npz) are checked when loaded by the build instead.
* **Outputs never become inputs.** The output folder (``--out`` of ``build``, else
  ``[report].output_dir``) may not be a dataset folder, lie inside one, or hold one: the next
  build would read the report's figures as images (or publish over the data).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from reportgen.check_memo import CheckMemo
from reportgen.config.schema import UNLABELLED_KINDS, Manifest
from reportgen.errors import DataError, ModelError

SPLIT_CHECK_KINDS = frozenset({"image_folder", "fer2013_folder", "jaffe", "rafdb", "digits"})
"""Kinds whose split ``validate`` computes: their labels come without reading image data."""


def data_checks(manifest: Manifest, base_dir: Path, where: list[str], out: Path | None = None,
                skip: set[str] = frozenset(), memo: CheckMemo | None = None) -> tuple[list[str], list[str]]:
    """(problems, notes) of the output location, one-class data and split coverage.

    ``where`` names each experiment (checks.experiment_fields); ``out`` is ``build --out``
    (None: the manifest's ``[report].output_dir``); datasets and models in ``skip`` failed
    their own checks and are not looked at again; ``memo`` remembers each dataset's class counts
    per split for the next build (:mod:`reportgen.check_memo`)."""
    problems = output_problems(manifest, base_dir, out)
    found, notes = one_class_problems(manifest, base_dir, where, skip)
    problems += found
    found, more = split_problems(manifest, base_dir, where, skip, memo or CheckMemo())
    return problems + found, notes + more


def _index(manifest: Manifest, name: str) -> int:
    return next(i for i, d in enumerate(manifest.datasets) if d.name == name)


def _users(manifest: Manifest, name: str, where: list[str], training: bool) -> list[tuple[str, Any]]:
    """(label, experiment) of the experiments that use dataset ``name`` (and train, or not)."""
    return [(f"{where[i]} ({e.name})", e) for i, e in enumerate(manifest.experiments)
            if e.dataset == name and (e.train is not None) == training]


def _labels(users: list[tuple[str, Any]]) -> str:
    return ", ".join(label for label, _ in users)


def one_class_problems(manifest: Manifest, base_dir: Path, where: list[str],
                       skip: set[str] = frozenset()) -> tuple[list[str], list[str]]:
    """Problems start with ``datasets[i]`` when the dataset is trained on, with the experiment
    when a model scores it on its one class only; notes for the evaluations that may stay."""
    from reportgen.run.classes import ClassMismatch, experiment_match, matched_classes
    from reportgen.run.data import dataset_classes

    problems: list[str] = []
    notes: list[str] = []
    for ds in manifest.datasets:
        if ds.name in skip or ds.kind in UNLABELLED_KINDS:
            continue
        try:
            classes = dataset_classes(ds, base_dir)
        except (DataError, OSError):
            continue  # the dataset's own check names the problem
        if len(classes) != 1:
            continue
        field = manifest.field_of("datasets", _index(manifest, ds.name))
        head = f"{field} ({ds.name}): a single class, {classes[0]!r}"
        trainers = _users(manifest, ds.name, where, training=True)
        if trainers:
            problems.append(f"{head}, yet {_labels(trainers)} "
                            f"train{'s' if len(trainers) == 1 else ''} on it: a classifier of one "
                            "class measures nothing (its accuracy is 1.0 by construction); give "
                            "the dataset at least two classes")
        for label, exp in _users(manifest, ds.name, where, training=False):
            model = manifest.model(exp.model)
            if model.name in skip:
                continue
            try:
                scored = matched_classes(experiment_match(exp, ds, model, base_dir), ds, model, base_dir)
            except (ClassMismatch, DataError, ModelError, OSError):
                continue  # class_problems reports it
            if len(scored) < 2:
                problems.append(f"{label}: dataset {ds.name!r} has a single class, {classes[0]!r}, and "
                                f"model {model.name!r} names no other output, so the score measures "
                                "nothing; give the dataset at least two classes, or name the model's "
                                "outputs (models[].classes)")
            else:
                notes.append(f"{label}: dataset {ds.name!r} holds only class {classes[0]!r}: its "
                             f"accuracy is the share of these images model {model.name!r} gives "
                             f"{classes[0]!r} (its other {len(scored) - 1} outputs count as errors)")
    return problems, notes


def _split_counts(ds: Any, base_dir: Path, seed: int,
                  memo: CheckMemo) -> dict[str, dict[str, int]] | None:
    """{class: {split: images}} of the split a build would choose (None: no labels to count);
    raises DataError / OSError / ValueError for a dataset that does not load."""
    from reportgen.run.data.coverage import class_counts
    from reportgen.run.data.load import split_labels
    from reportgen.run.data.memo import data_paths, fingerprint

    key = memo.key("split counts", {"dataset": ds.model_dump(mode="json"), "seed": seed,
                                    "files": [fingerprint(p) for p in data_paths(ds, base_dir)]})
    remembered = memo.get(key)
    if remembered is not None:
        return remembered["counts"]
    found = split_labels(ds, base_dir, seed)
    counts = class_counts(*found) if found is not None else None
    memo.put(key, {"counts": counts})
    return counts


def split_problems(manifest: Manifest, base_dir: Path, where: list[str],
                   skip: set[str] = frozenset(),
                   memo: CheckMemo | None = None) -> tuple[list[str], list[str]]:
    """A class without a training image (error, per training experiment) and without a test or
    validation image (warning), on the split the build would choose."""
    from reportgen.run.data.coverage import shortage_notes, untrained_problem

    memo = memo or CheckMemo()
    problems: list[str] = []
    notes: list[str] = []
    for ds in manifest.datasets:
        trainers = _users(manifest, ds.name, where, training=True)
        scorers = _users(manifest, ds.name, where, training=False)
        if (ds.name in skip or ds.kind not in SPLIT_CHECK_KINDS or ds.kind in UNLABELLED_KINDS
                or not (trainers or scorers)):
            continue
        try:
            counts = _split_counts(ds, base_dir, manifest.report.seed, memo)
        except (DataError, OSError, ValueError):
            continue  # an unloadable dataset is named by its own check
        if counts is None or len(counts) < 2:
            continue  # no labels; or one class: one_class_problems says what matters
        problem = untrained_problem(counts) if trainers else None
        field = f"{manifest.field_of('datasets', _index(manifest, ds.name))} ({ds.name})"
        if problem:
            problems.append(f"{field}: {problem} (split with report.seed {manifest.report.seed}; "
                            f"trained on by {_labels(trainers)})")
        notes += shortage_notes(ds.name, counts, trains=bool(trainers))
    return problems, notes


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def dataset_locations(manifest: Manifest, base_dir: Path) -> list[tuple[str, str, Path]]:
    """(field, dataset name, resolved path) of every file or folder a dataset table names."""
    from reportgen.run.data.base import resolve_path
    from reportgen.run.data.memo import PATH_FIELDS

    found = []
    for i, ds in enumerate(manifest.datasets):
        fields: list[tuple[str, Any]] = [(key, getattr(ds, key, None)) for key in PATH_FIELDS]
        fields.append(("labels.file", getattr(getattr(ds, "labels", None), "file", None)))
        found += [(f"{manifest.field_of('datasets', i)}.{key}", ds.name, resolve_path(base_dir, value))
                  for key, value in fields if value is not None]
    return found


def output_problems(manifest: Manifest, base_dir: Path, out: Path | None = None) -> list[str]:
    """The output folder may not be, lie inside or hold a dataset's file or folder."""
    field = "--out" if out is not None else "report.output_dir"
    target = Path(out) if out is not None else Path(base_dir) / manifest.report.output_dir
    shown = Path(os.path.abspath(target))
    real = _real(target)
    problems = []
    for where, name, path in dataset_locations(manifest, base_dir):
        data = _real(path)
        if data == real:
            problems.append(f"{field}: the output folder {shown} is {where} {path} (dataset {name!r}) "
                            "itself: a build writes its report there and the next build would read "
                            "it as data; choose an output folder outside every dataset")
        elif data in real.parents:
            problems.append(f"{field}: the output folder {shown} is inside {where} {path} (dataset "
                            f"{name!r}): the next build would read the report's figures as images "
                            "of that dataset; choose an output folder outside every dataset folder")
        elif real in data.parents:
            problems.append(f"{field}: {where} {path} (dataset {name!r}) is inside the output "
                            f"folder {shown}: a build writes and replaces files there; move the data "
                            "out of it, or choose another output folder")
    return problems
