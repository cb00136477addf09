"""Manifest → one ExperimentPlan per experiment, each with the cache key of its trained model."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from graphlib import CycleError
from pathlib import Path
from typing import Any

from reportgen import __version__
from reportgen.config.chains import lineage, parents_first
from reportgen.config.schema import ExperimentSpec, FileModel, Manifest
from reportgen.errors import ConfigError
from reportgen.run.data.memo import data_paths, fingerprint
from reportgen.run.models import model_paths
from reportgen.versions import keras_version, tensorflow_version

# Bump when training code changes in a way that makes old cached models wrong.
CACHE_VERSION = 2
"""Bumped when the same key would train different weights (2: one affine resampling for
rotation, translation and zoom)."""


@dataclass(frozen=True)
class ExperimentPlan:
    index: int
    spec: ExperimentSpec
    dataset: Any
    model: Any
    seed: int
    cache_key: str | None  # None: nothing to train (a file model evaluated as loaded)
    inputs_key: str = ""
    """Hash of every input of the experiment (data, model, training, seed, versions): its
    trained model's cache key when it trains; the evaluation's inputs otherwise."""
    parents: tuple[str, ...] = ()
    """Experiments that must finish first (``init_from``)."""
    parent_key: str | None = None
    """Cache key of the ``init_from`` experiment (None: it is a model file evaluated as is)."""
    parent_dataset: Any = None
    """Dataset spec of the ``init_from`` experiment (its class names)."""
    repeat_keys: tuple[str, ...] = ()
    """Cache keys of the seeded repeats 1..N−1 (``repeats = N``); run 0's is ``cache_key``."""
    data_files: tuple[str, ...] = ()
    """Fingerprints of the dataset's files when the plan was made (see ``tested_images``)."""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def trains(self) -> bool:
        return self.spec.train is not None

    @property
    def seeds(self) -> tuple[int, ...]:
        """The training seed of each run: ``seed + r`` for run r (the data split always uses
        ``seed``, so every run is tested on the same images)."""
        return tuple(self.seed + r for r in range(1 + len(self.repeat_keys)))

    def trained_model_dir(self, out_dir: Path) -> Path | None:
        """Where the trained model is cached (None: nothing to train)."""
        return trained_model_dir(out_dir, self.name, self.cache_key) if self.cache_key else None

    def repeat_model_dir(self, out_dir: Path, run: int) -> Path:
        """Where run ``run`` (1..N−1) of the seeded repeats is cached."""
        return trained_model_dir(out_dir, self.name, self.repeat_keys[run - 1])


def trained_model_dir(out_dir: Path, name: str, key: str) -> Path:
    """The cache folder of experiment ``name``'s model trained under cache key ``key``."""
    return out_dir / "cache" / f"{name}-{key}"


def cache_key(spec: ExperimentSpec, dataset: Any, model: Any, seed: int, base_dir: Path,
              parent_key: str | None = None) -> str:
    """Hash of everything that determines the trained weights (a chain's parent key included,
    so retraining a parent retrains its descendants); for an experiment that does not train,
    of everything its evaluation reads. Versions come from package metadata: no TensorFlow
    import (see reportgen.versions)."""
    return run_keys(_key_payload(spec, dataset, model, seed, base_dir, parent_key), 1)[0]


def data_fingerprints(dataset: Any, base_dir: Path) -> list[str]:
    """Every file and folder the dataset table names (label lists and vote files included)."""
    return [fingerprint(path) for path in data_paths(dataset, base_dir)]


def _key_payload(spec: ExperimentSpec, dataset: Any, model: Any, seed: int, base_dir: Path,
                 parent_key: str | None, data_files: list[str] | None = None) -> dict[str, Any]:
    payload = {
        "cache_version": CACHE_VERSION,
        # How images reach training (streamed or in memory) does not change the weights.
        "dataset": dataset.model_dump(mode="json", exclude={"stream"}),
        "data_files": data_fingerprints(dataset, base_dir) if data_files is None else data_files,
        "model": model.model_dump(mode="json"),
        # The files a model is made from: a model file, a python builder, a weight file.
        "model_files": [fingerprint(path) for path in model_paths(model, base_dir)],
        "train": spec.train.model_dump(mode="json") if spec.train else None,
        "init_from": parent_key,
        "seed": seed,
        "versions": {"tensorflow": tensorflow_version(), "keras": keras_version(),
                     "reportgen": __version__.split("+")[0]},
    }
    if isinstance(model, FileModel) and not spec.init_from:
        # A model file trains on labels in its own output order (matched by class name), not
        # the dataset's; only these keys change, so other cached models stay valid.
        payload["labels"] = "model output order"
    return payload


def _digest(payload: dict[str, Any]) -> str:
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def run_keys(payload: dict[str, Any], runs: int) -> list[str]:
    """The cache key of each seeded run: run 0 trains with the report seed and its key is the
    key of a build without repeats (caches stay valid); run r adds its training seed."""
    return [_digest(payload)] + [_digest({**payload, "training_seed": payload["seed"] + r})
                                 for r in range(1, runs)]


def tested_images(dataset: Any, data_files: list[str], seed: int, true_names: list[str]) -> dict[str, Any]:
    """``{"key", "images"}``: equal keys ⇔ the same test images in the same order (the dataset
    table without its name, the data files, the split seed and the true class names in test
    order), so paired tests compare experiments only on the same images."""
    payload = {"dataset": dataset.model_dump(mode="json", exclude={"name", "stream"}),
               "data_files": data_files, "seed": seed, "labels": true_names}
    return {"key": _digest(payload), "images": len(true_names)}


def _with_ancestors(manifest: Manifest, only: list[str]) -> set[str]:
    parent_of = {e.name: e.init_from for e in manifest.experiments}
    return {name for start in only for name in lineage(start, parent_of)}


def _parents_first(experiments: list[ExperimentSpec]) -> list[ExperimentSpec]:
    """Manifest order, except that a chain's child comes after its parent (the plan is a DAG;
    validation has already refused cycles)."""
    by_name = {spec.name: spec for spec in experiments}
    problem = ValueError(f"unresolvable init_from among {[s.name for s in experiments]}")
    if any(s.init_from and s.init_from not in by_name for s in experiments):  # pragma: no cover
        raise problem  # load_manifest refuses unknown parents
    try:
        order = parents_first(by_name, {spec.name: spec.init_from for spec in experiments})
    except CycleError:  # pragma: no cover - load_manifest refuses cycles
        raise problem from None
    return [by_name[name] for name in order]


def selected_experiments(manifest: Manifest, only: list[str] | None) -> list[str] | None:
    """``--only`` names as experiment names: a grid's name stands for all its variants. Raises
    ConfigError (exit 2) for a name that is neither."""
    if not only:
        return only
    names = [e.name for e in manifest.experiments]
    grids = {}
    for e in manifest.experiments:
        if e.grid_of:
            grids.setdefault(e.grid_of, []).append(e.name)
    unknown = [n for n in only if n not in names and n not in grids]
    if unknown:
        choices = names + [f"{g} (grid: all its variants)" for g in grids]
        raise ConfigError("--only", [f"unknown experiment {n!r}; expected one of {choices}" for n in unknown])
    return list(dict.fromkeys(v for n in only for v in grids.get(n, [n])))


def make_plan(manifest: Manifest, base_dir: Path, only: list[str] | None = None) -> list[ExperimentPlan]:
    """Plans with parents before children; ``only`` keeps the named experiments and the
    experiments they start from (those reuse their cache when nothing changed)."""
    keep = _with_ancestors(manifest, only) if only else None
    index = {e.name: i for i, e in enumerate(manifest.experiments)}
    plans: dict[str, ExperimentPlan] = {}
    for spec in _parents_first(manifest.experiments):
        if keep is not None and spec.name not in keep:
            continue
        dataset, model = manifest.dataset(spec.dataset), manifest.model(spec.model)
        parent = plans.get(spec.init_from) if spec.init_from else None
        parent_key = (parent.cache_key or parent.name) if parent else None
        seed = manifest.report.seed
        files = data_fingerprints(dataset, base_dir)
        # Repeats of a chain's child all start from the parent's representative (run 0) model.
        keys = run_keys(_key_payload(spec, dataset, model, seed, base_dir, parent_key, files),
                        spec.repeats if spec.train else 1)
        key = keys[0]
        plans[spec.name] = ExperimentPlan(
            index[spec.name], spec, dataset, model, manifest.report.seed,
            key if spec.train else None, inputs_key=key,
            parents=(spec.init_from,) if spec.init_from else (),
            parent_key=parent.cache_key if parent else None,
            parent_dataset=parent.dataset if parent else None, repeat_keys=tuple(keys[1:]),
            data_files=tuple(files))
    return list(plans.values())
