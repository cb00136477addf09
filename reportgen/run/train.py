"""Training with Keras, or reuse of a cached trained model.

Cache layout: ``<output_dir>/cache/<experiment>-<key>/{model.keras, history.json, meta.json}``,
written to a temporary folder and renamed, so an interrupted run never leaves half a model.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable

from reportgen.config.schema import TrainSpec
from reportgen.run.data import LoadedData
from reportgen.run.input_pipeline import training_datasets

ProgressFn = Callable[[str], None]


def seed_everything(seed: int) -> None:
    """Python, NumPy and TF seeds plus deterministic ops: the same run twice gives the same model
    on the CPU."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def _optimizer(spec: TrainSpec):
    import keras

    return {
        "adam": keras.optimizers.Adam,
        "adamw": keras.optimizers.AdamW,
        "sgd": lambda learning_rate: keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9),
        "rmsprop": keras.optimizers.RMSprop,
    }[spec.optimizer](learning_rate=spec.learning_rate)


def _progress_callback(progress: ProgressFn, epochs: int):
    import keras

    class EpochProgress(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            progress(f"epoch {epoch + 1}/{epochs}: loss {logs.get('loss', float('nan')):.4f}, "
                     f"acc {logs.get('accuracy', float('nan')):.4f}, "
                     f"val_loss {logs.get('val_loss', float('nan')):.4f}, "
                     f"val_acc {logs.get('val_accuracy', float('nan')):.4f} "
                     f"({time.perf_counter() - self._start:.1f} s)")

    return EpochProgress()


def load_cached(cache_dir: Path) -> tuple[Any, dict[str, list[float]], dict[str, Any]] | None:
    """(model, history, meta) of a finished training run, or None when there is none."""
    import keras

    model_path = cache_dir / "model.keras"
    if not model_path.exists():
        return None
    model = keras.saving.load_model(model_path, compile=False)
    history = json.loads((cache_dir / "history.json").read_text())
    meta = json.loads((cache_dir / "meta.json").read_text())
    return model, history, meta


def train(model: Any, data: LoadedData, spec: TrainSpec, preprocess, augment: Any, seed: int,
          progress: ProgressFn) -> dict[str, list[float]]:
    """Compile and fit ``model`` (built after :func:`seed_everything`); returns the history."""
    import keras

    model.compile(optimizer=_optimizer(spec), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    train_ds, val_ds = training_datasets(data, spec, preprocess, augment, seed)
    callbacks = [_progress_callback(progress, spec.epochs)]
    if spec.early_stopping:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=spec.early_stopping_patience, restore_best_weights=True))
    # shuffle=False: the tf.data pipeline already shuffles (seeded) each epoch.
    fit = model.fit(train_ds, validation_data=val_ds, epochs=spec.epochs, callbacks=callbacks,
                    shuffle=False, verbose=0)
    return {k: [float(v) for v in values] for k, values in fit.history.items()}


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

