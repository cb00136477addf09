"""Training with Keras, or reuse of a cached trained model.

Cache layout: ``<output_dir>/cache/<experiment>-<key>/{model.keras, history.json, meta.json}``,
written to a temporary folder and renamed, so an interrupted run never leaves half a model.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reportgen.config.schema import StageSpec, TrainSpec
from reportgen.errors import DataError, ModelError
from reportgen.run.data import LoadedData
from reportgen.run.input_pipeline import stream_decode_failure, training_datasets
from reportgen.run.models import non_finite_weights

ProgressFn = Callable[[str], None]


def seed_everything(seed: int) -> None:
    """Python, NumPy and TF seeds plus deterministic ops: the same run twice gives the same model
    on the CPU."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def _optimizer(spec: TrainSpec, learning_rate: Any):
    import keras

    return {
        "adam": keras.optimizers.Adam,
        "adamw": keras.optimizers.AdamW,
        "sgd": lambda learning_rate: keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9),
        "rmsprop": keras.optimizers.RMSprop,
    }[spec.optimizer](learning_rate=learning_rate)


def _learning_rate(rate: float, schedule: str, epochs: int, steps_per_epoch: int) -> Any:
    """A constant rate or a Keras schedule over the stage's optimizer steps."""
    import keras

    if schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(rate, decay_steps=max(1, epochs * steps_per_epoch))
    if schedule == "exponential":
        return keras.optimizers.schedules.ExponentialDecay(rate, decay_steps=5 * steps_per_epoch,
                                                           decay_rate=0.5, staircase=True)
    return rate


def class_weights(y: Any, num_classes: int) -> dict[int, float]:
    """Inverse class frequency, scaled so the average weight over training images is 1
    (``n / (k · count_c)`` over the k classes present: scikit-learn's "balanced"); absent
    classes get 0."""
    import numpy as np
    from sklearn.utils.class_weight import compute_class_weight

    y = np.asarray(y, dtype=int)
    present = np.unique(y)
    balanced = compute_class_weight("balanced", classes=present, y=y) if len(present) else []
    weights = dict.fromkeys(range(num_classes), 0.0)
    weights.update({int(c): float(w) for c, w in zip(present, balanced, strict=True)})
    return weights


def stage_plan(spec: TrainSpec) -> list[StageSpec | None]:
    """The stages to run; None is the single stage of a spec without ``stages``."""
    return list(spec.stages) if spec.stages else [None]


def _progress_callback(progress: ProgressFn, epochs: int, steps: int, val_steps: int):
    """Epoch lines through ``progress``, and per-batch progress (batches done, running loss) of
    each epoch and its validation pass through the build's :mod:`reportgen.progress` tasks."""
    import keras

    from reportgen.progress import task

    class EpochProgress(keras.callbacks.Callback):
        # Batch ends may then run on Keras' callback thread (no sync of the training loop per
        # batch); Task.update is locked and never moves back.
        async_safe = True

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()
            self._epoch = f"training · epoch {epoch + 1}/{epochs}"
            self._batches = task(self._epoch, total=self.params.get("steps") or steps,
                                 unit="batches", summary=False)
            self._validation = None

        def on_train_batch_end(self, batch, logs=None):
            loss = (logs or {}).get("loss")
            self._batches.update(batch + 1, None if loss is None else f"loss {float(loss):.4f}")

        def on_test_begin(self, logs=None):
            # The training task stays open: Keras flushes its pending batch callbacks only at
            # the epoch's end.
            self._validation = task(f"{self._epoch} · validation", total=val_steps,
                                    unit="batches", summary=False)

        def on_test_batch_end(self, batch, logs=None):
            if self._validation is not None:
                self._validation.update(batch + 1)

        def on_test_end(self, logs=None):
            if self._validation is not None:
                self._validation.close()

        def on_epoch_end(self, epoch, logs=None):
            self._batches.close()
            logs = logs or {}
            progress(f"epoch {epoch + 1}/{epochs}: loss {logs.get('loss', float('nan')):.4f}, "
                     f"acc {logs.get('accuracy', float('nan')):.4f}, "
                     f"val_loss {logs.get('val_loss', float('nan')):.4f}, "
                     f"val_acc {logs.get('val_accuracy', float('nan')):.4f} "
                     f"({time.perf_counter() - self._start:.1f} s)")

    return EpochProgress()


def _finite_loss_guard(epochs: int, steps: int):
    """Stops training at the first NaN or infinite loss (the running training loss after a
    batch, or the validation loss after an epoch), like ``keras.callbacks.TerminateOnNaN``, and
    remembers where: :func:`train` then raises a :class:`ModelError` saying so."""
    import keras

    class FiniteLossGuard(keras.callbacks.Callback):
        # Batch ends may run on Keras' callback threads, in any order: the earliest (epoch,
        # batch) is kept, under a lock. Epoch ends run after the pending batch ends.
        async_safe = True

        def __init__(self):
            super().__init__()
            self.found: dict[str, Any] | None = None
            self._epoch = 0
            self._lock = threading.Lock()

        def _stop(self, what: str, value: Any, batch: int | None) -> None:
            at = (self._epoch + 1, math.inf if batch is None else batch)
            with self._lock:
                if self.found is None or at < (self.found["epoch"], self.found["order"]):
                    self.found = {"what": what, "value": float(value), "epoch": at[0], "order": at[1],
                                  "epochs": epochs, "batch": batch, "steps": steps}
            self.model.stop_training = True

        def on_epoch_begin(self, epoch, logs=None):
            self._epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                self._stop("training loss", loss, batch + 1)

        def on_epoch_end(self, epoch, logs=None):
            for key, what in (("loss", "training loss"), ("val_loss", "validation loss")):
                value = (logs or {}).get(key)
                if value is not None and not math.isfinite(float(value)):
                    self._stop(what, value, None)
                    break

    return FiniteLossGuard()


def _diverged(found: dict[str, Any], stage: str, multi: bool, spec: TrainSpec, rate: float,
              schedule: str) -> ModelError:
    value = "NaN" if math.isnan(found["value"]) else ("+inf" if found["value"] > 0 else "-inf")
    where = f"epoch {found['epoch']}" + (f", batch {found['batch']} of {found['steps']}"
                                         if found["batch"] is not None else " (validation)")
    return ModelError(
        f"Training stopped: the {found['what']} became {value} at {where}"
        + (f" of {stage}" if multi else "")
        + f" (learning rate {rate:g}{'' if schedule == 'constant' else f', {schedule} schedule'}, "
        f"optimizer {spec.optimizer}). The weights are no longer numbers, so this experiment has no "
        "model to evaluate and is reported as failed. Usual causes: a learning rate too high for "
        "this model (try 10 times lower), inputs without normalization, or a model whose weights "
        "were already broken.")


def load_cached(cache_dir: Path,
                trust_code: bool = False) -> tuple[Any, dict[str, list[float]], dict[str, Any]] | None:
    """(model, history, meta) of a finished training run, or None when there is none."""
    import keras

    model_path = cache_dir / "model.keras"
    if not model_path.exists():
        return None
    # A model whose file needed trust_code (Lambda layers) needs it again from the cache.
    model = keras.saving.load_model(model_path, compile=False, safe_mode=not trust_code)
    history = json.loads((cache_dir / "history.json").read_text())
    meta = json.loads((cache_dir / "meta.json").read_text())
    return model, history, meta


def train(model: Any, data: LoadedData, spec: TrainSpec, preprocess, augment: Any, seed: int,
          progress: ProgressFn) -> tuple[dict[str, list[float]], list[dict[str, Any]]]:
    """Compile and fit ``model`` (built after :func:`seed_everything`), stage by stage.

    Returns the history (Keras' keys, epochs of all stages in order, plus ``stage``: the stage
    index of each epoch) and one record per stage (name, trainable, epochs run, parameters).
    Early stopping restores the best weights of each stage before the next one starts.
    """
    import keras

    from reportgen.run.transfer import set_trainable

    train_ds, val_ds = training_datasets(data, spec, preprocess, augment, seed)
    steps = max(1, -(-len(data.train.y) // spec.batch_size))
    num_classes = int(model.outputs[0].shape[-1])
    weights = class_weights(data.train.y, num_classes) if spec.class_weights else None
    history: dict[str, list[float]] = {}
    records = []
    stages = stage_plan(spec)
    broken = non_finite_weights(model)
    if broken:
        raise ModelError(f"Training not started: {len(broken)} of the model's weight arrays hold NaN "
                         f"or infinite values before training (first: {broken[0]}). Such a model "
                         "cannot learn (every loss is NaN), so this experiment is reported as "
                         "failed; check the model file or the weights it was built from.")
    for index, stage in enumerate(stages):
        name = (stage.name if stage and stage.name else f"stage {index + 1}")
        epochs = stage.epochs if stage else spec.epochs
        rate = stage.learning_rate if stage and stage.learning_rate else spec.learning_rate
        schedule = stage.schedule if stage else "constant"
        counts = set_trainable(model, stage.trainable) if stage else {}
        if stage:
            progress(f"{name}: trainable = {stage.trainable} ({counts['trainable_params']:,} "
                     f"trainable parameters), {epochs} epochs at lr {rate:g} ({schedule})")
        # A new optimizer per stage: its slots belong to the weights that were trainable.
        model.compile(optimizer=_optimizer(spec, _learning_rate(rate, schedule, epochs, steps)),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        guard = _finite_loss_guard(epochs, steps)
        callbacks = [_progress_callback(progress, epochs, steps, -(-len(data.val.y) // spec.batch_size)),
                     guard]
        if spec.early_stopping:
            callbacks.append(keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=spec.early_stopping_patience, restore_best_weights=True))
        # shuffle=False: the tf.data pipeline already shuffles (seeded) each epoch.
        try:
            fit = model.fit(train_ds, validation_data=val_ds, epochs=epochs, callbacks=callbacks,
                            shuffle=False, verbose=0, class_weight=weights)
        except Exception as exc:
            problem = stream_decode_failure(exc)
            if problem is None:
                raise
            raise DataError(f"Training stopped in {name}: {problem}") from None
        if guard.found is not None:
            raise _diverged(guard.found, name, len(stages) > 1, spec, rate, schedule)
        run = len(fit.history.get("loss", []))
        for key, values in fit.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)
        history.setdefault("stage", []).extend([float(index)] * run)
        records.append({"name": name, "trainable": stage.trainable if stage else "model",
                        "epochs": epochs, "epochs_run": run, "learning_rate": rate,
                        "schedule": schedule, **counts})
    return history, records


def save_cache(cache_dir: Path, model: Any, history: dict, meta: dict) -> None:
    """Write model + history to a temporary folder, then rename it into place."""
    tmp = cache_dir.with_name(f".{cache_dir.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save(tmp / "model.keras")
    (tmp / "history.json").write_text(json.dumps(history))
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
    if cache_dir.exists():
        shutil.rmtree(cache_dir)
    tmp.rename(cache_dir)

