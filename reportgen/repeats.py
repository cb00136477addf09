"""Seeded repeats (``repeats = N``): runs 1..N−1 of an experiment, each trained with its own seed
(``report.seed + r``) on the same split as run 0, or loaded from its own cache, then predicted on
the same test images and scored; and the ``record["repeats"]`` summary of all runs.

Run 0 (the report seed) is the representative run: the pipeline trains, evaluates and analyses it
exactly as a build without repeats, and only its scores join the summary from here.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reportgen.analyses.base import PREDICT_BATCHES
from reportgen.plan import ExperimentPlan
from reportgen.progress import Progress

SCORES = ("accuracy", "macro_f1", "weighted_f1", "best_val_accuracy")
"""The scores of each run that the summary averages (mean and sample standard deviation)."""


@dataclass
class Repeats:
    """What runs 1..N−1 produced, in seed order."""

    runs: list[dict[str, Any]] = field(default_factory=list)
    """Each run's scores (see :func:`run_scores`)."""
    histories: list[dict[str, list[float]]] = field(default_factory=list)
    y_pred: list[np.ndarray] = field(default_factory=list)
    """Predicted test labels of each run (the representative run's test images, in order)."""


def run_scores(seed: int, y_true: np.ndarray, y_pred: np.ndarray, classes: list[str],
               history: dict[str, list[float]] | None, train_seconds: float | None,
               reused: bool) -> dict[str, Any]:
    """One run's entry of ``record["repeats"]["runs"]``; the F1 averages are scikit-learn's, as
    in the evaluation (classes without test images count with F1 0)."""
    from sklearn.metrics import f1_score

    labels = list(range(len(classes)))
    history = history or {}
    val_accuracy = history.get("val_accuracy") or []
    return {
        "seed": int(seed),
        "accuracy": float(np.mean(y_true == y_pred)) if len(y_true) else 0.0,
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(y_true, y_pred, labels=labels, average="weighted",
                                      zero_division=0)),
        "best_val_accuracy": float(max(val_accuracy)) if val_accuracy else None,
        "epochs": len(history.get("loss") or []),
        "train_seconds": float(train_seconds) if train_seconds is not None else None,
        "reused": bool(reused),
    }


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """``record["repeats"]``: the seeds, each run's scores, and their mean and standard deviation
    (ddof = 1) per score; a score some run lacks (no validation split) has None."""
    def stats(key: str, how: Callable[[np.ndarray], float]) -> float | None:
        values = [run[key] for run in runs]
        return None if any(v is None for v in values) else float(how(np.asarray(values, dtype=float)))

    seeds = [run["seed"] for run in runs]
    return {"seeds": seeds, "representative_seed": seeds[0], "runs": runs,
            "mean": {key: stats(key, np.mean) for key in SCORES},
            "sd": {key: stats(key, lambda v: np.std(v, ddof=1)) for key in SCORES}}


def predicted_labels(model: Any, preprocess: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                     batch_size: int = 256) -> np.ndarray:
    """The model's class for each image of ``x``, a few compiled batches at a time (no float
    copy of the whole test set)."""
    from reportgen.explain import make_predict_fn

    predict = make_predict_fn(model, batch_size)
    step = PREDICT_BATCHES * batch_size
    parts = [predict(preprocess(x[start:start + step])).argmax(axis=1)
             for start in range(0, len(x), step)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def run_repeats(plan: ExperimentPlan, data: Any, classes: list[str], preprocess: Any,
                normalization: Any, out_dir: Path, force: bool, progress: Progress,
                fresh_model: Callable[[int], Any], trust_code: bool) -> Repeats:
    """Train (or load from its cache; ``force`` retrains) each repeat 1..N−1, predict the test
    images and score them. ``fresh_model(seed)`` builds the untrained model as run 0's was
    built; ``preprocess`` already holds run 0's normalisation (the same training images give
    the same statistics, kept as ``normalization`` in each repeat's cache)."""
    from reportgen.run import devices, train
    from reportgen.run.augment import augmentation_layers

    spec = plan.spec.train
    seeds = plan.seeds
    done = Repeats()
    for run in range(1, len(seeds)):
        seed, folder = seeds[run], plan.repeat_model_dir(out_dir, run)
        label = f"repeat {run + 1}/{len(seeds)} (seed {seed})"
        cached = None if force else train.load_cached(folder, trust_code)
        if cached is not None:
            model, history, meta = cached
            seconds = meta.get("train_seconds")
            progress.say(f"{label}: cached model reused ({folder.name})")
        else:
            progress.say(f"{label}: training for up to {spec.total_epochs} epochs")
            start = time.perf_counter()
            train.seed_everything(seed)
            with devices.strategy_scope():
                model = fresh_model(seed)
            augment = augmentation_layers(spec.augmentation, seed) if spec.augmentation else None
            with devices.strategy_scope():
                history, stages = train.train(model, data, spec, preprocess, augment, seed,
                                              progress.stage(label))
            seconds = time.perf_counter() - start
            train.save_cache(folder, model, history, {
                "experiment": plan.name, "seed": seed, "repeat": run, "train_seconds": seconds,
                "classes": classes, "stages": stages, "normalization": normalization})
        reused = cached is not None
        y_pred = predicted_labels(model, preprocess, data.test.x)
        # Released before the next run: N models of a large backbone need not fit at once.
        del model, cached
        gc.collect()
        done.runs.append(run_scores(seed, data.test.y, y_pred, classes, history, seconds, reused))
        done.histories.append(history)
        done.y_pred.append(y_pred)
    return done
