"""Training throughput: reportgen's tf.data input pipeline vs a plain ``model.fit`` on NumPy.

Usage: python bench/train.py [ROUNDS]   — prints one JSON object (run on an otherwise idle machine).

Workload: the ``small_cnn`` style of experiments.toml (3 conv blocks 16/32/64, dense 64) at
48×48×1 on scikit-learn's digits upscaled by reportgen's ``load_dataset``, batch size 32, Adam.
Three ways of training the same model from the same initial weights, same seed, same epochs,
all with the same validation set evaluated after each epoch (as ``train()`` does):

- ``fit``: plain ``model.fit(x, y, batch_size, shuffle=True)`` on float32 NumPy arrays already
  preprocessed (x/255) — the baseline, the fastest a Keras user would write it.
- ``pipeline``: reportgen's ``train()`` (``training_datasets``), augmentation off.
- ``augmented``: the same with ``AugmentationSpec(horizontal_flip, rotation 0.05,
  translation 0.1, zoom 0.1, contrast 0.1)``.
- ``streamed``: the pipeline, augmentation off, with the training images streamed from PNG
  files (an image folder with ``stream = true``): decoded with Pillow batch by batch, every epoch.

Each fit runs 1 warm-up epoch (tracing, first allocations; discarded) plus EPOCHS timed ones.
Images/s counts training images over the training phase of an epoch (epoch start →
validation start, from a Keras callback). The rounds interleave the three variants so that
load from other processes hits all of them alike. Headline ratios use each variant's best
epoch (other processes can only slow an epoch down); ``ratios_per_round`` (median epochs) and
best/median/min images/s show the spread.
``pipeline_vs_fit`` = pipeline ÷ fit (target ≥ 0.9); ``augmentation_cost`` =
1 − augmented ÷ pipeline (target ≤ 0.25 on the CPU); ``streamed_vs_pipeline`` = streamed ÷
pipeline (no target: what decoding from disk costs).
"""

from __future__ import annotations

import atexit
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


SEED = 42
BATCH = 32
EPOCHS = 4  # timed epochs per fit, after one warm-up epoch
AUGMENT = {"horizontal_flip": True, "rotation": 0.05, "translation": 0.1, "zoom": 0.1, "contrast": 0.1}


def _timer():
    """Keras callback recording each epoch's training phase (begin → validation start)."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.train_s: list[float] = []
            self.epoch_s: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()
            self._train_end: float | None = None

        def on_test_begin(self, logs=None):  # fit's per-epoch validation starts here
            self._train_end = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            end = time.perf_counter()
            self.train_s.append((self._train_end or end) - self._start)
            self.epoch_s.append(end - self._start)

    return EpochTimer()


def _rates(n: int, timer: Any) -> tuple[list[float], list[float]]:
    """Images/s of each timed epoch: (training phase only, including validation)."""
    return [n / s for s in timer.train_s[1:]], [n / s for s in timer.epoch_s[1:]]


def _streamed_copy(data: Any, folder: Path) -> Any:
    """``data`` with its training images written as PNG files and streamed from them."""
    from dataclasses import replace

    from PIL import Image

    from reportgen.run.data import ImageSet

    files = []
    for i, image in enumerate(data.train.x):
        files.append(folder / f"{i:05d}.png")
        Image.fromarray(image[..., 0]).save(files[-1])
    train = ImageSet(x=data.train.x[:0], y=data.train.y, files=files)
    assert np.array_equal(train.pixels(slice(None)), data.train.x)  # the same pixels
    return replace(data, train=train)


def main() -> None:
    import keras
    import tensorflow as tf

    from reportgen.config.schema import AugmentationSpec, CnnModel, ConvBlock, DigitsDataset, TrainSpec
    from reportgen.run import models, train
    from reportgen.run.data import load_dataset

    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    model_spec = CnnModel(kind="cnn", name="small_cnn", input_shape=(48, 48, 1),
                          conv_blocks=[ConvBlock(filters=16), ConvBlock(filters=32), ConvBlock(filters=64)],
                          dense=[64], dropout=0.3)
    data = load_dataset(DigitsDataset(kind="digits", name="digits"), (48, 48), 1, SEED, Path("."))
    preprocess = models.preprocess_function(model_spec)
    n = len(data.train.y)
    x_train, x_val = preprocess(data.train.x), preprocess(data.val.x)
    # early stopping off: every variant runs exactly 1 + EPOCHS epochs.
    spec = TrainSpec(batch_size=BATCH, epochs=1 + EPOCHS, early_stopping_patience=0)
    train.seed_everything(SEED)
    model = models.build_model(model_spec, len(data.classes), Path("."))
    initial = model.get_weights()

    folder = Path(tempfile.mkdtemp(prefix="bench-stream-"))
    atexit.register(shutil.rmtree, folder, True)
    streamed = _streamed_copy(data, folder)

    def run(variant: str) -> tuple[list[float], list[float]]:
        train.seed_everything(SEED)
        model.set_weights(initial)  # same start for every variant and round
        timer = _timer()
        if variant == "fit":
            model.compile(optimizer=keras.optimizers.Adam(spec.learning_rate),
                          loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            model.fit(x_train, data.train.y, batch_size=BATCH, epochs=spec.epochs, shuffle=True,
                      validation_data=(x_val, data.val.y), verbose=0, callbacks=[timer])
        else:
            augment = (models.augmentation_layers(AugmentationSpec(**AUGMENT), SEED)
                       if variant == "augmented" else None)
            fit = model.fit

            def timed_fit(*args, callbacks=(), **kwargs):  # train() owns the callbacks list
                return fit(*args, callbacks=[*callbacks, timer], **kwargs)

            model.fit = timed_fit
            try:
                train.train(model, streamed if variant == "streamed" else data, spec, preprocess,
                            augment, SEED, lambda message: None)
            finally:
                del model.fit
        return _rates(n, timer)

    load_before = os.getloadavg()
    runs: dict[str, list[tuple[list[float], list[float]]]] = {
        "fit": [], "pipeline": [], "augmented": [], "streamed": []}
    for _ in range(rounds):
        for variant in runs:  # interleaved: background load affects all variants alike
            runs[variant].append(run(variant))
    load_after = os.getloadavg()

    epochs = {k: [r for fit in v for r in fit[0]] for k, v in runs.items()}
    # Headline: the best epoch of each variant. Other processes only ever slow an epoch down,
    # so the fastest one is the estimate least disturbed by them (timeit's reasoning).
    best = {k: max(v) for k, v in epochs.items()}
    per_round = {k: [statistics.median(fit[0]) for fit in v] for k, v in runs.items()}
    ratios = {  # per round, from median epochs: the spread
        "pipeline_vs_fit": [p / f for f, p in zip(per_round["fit"], per_round["pipeline"])],
        "augmentation_cost": [1 - a / p for p, a in zip(per_round["pipeline"], per_round["augmented"])],
        "streamed_vs_pipeline": [s / p for p, s in zip(per_round["pipeline"], per_round["streamed"])],
    }

    def summary(values: list[float]) -> dict[str, float]:
        return {"best": round(max(values), 3), "median": round(statistics.median(values), 3),
                "min": round(min(values), 3)}

    pipeline_vs_fit = best["pipeline"] / best["fit"]
    augmentation_cost = 1 - best["augmented"] / best["pipeline"]

    gpus = tf.config.list_physical_devices("GPU")
    result = {
        "pipeline_vs_fit": round(pipeline_vs_fit, 3),
        "augmentation_cost": round(augmentation_cost, 3),
        "streamed_vs_pipeline": round(best["streamed"] / best["pipeline"], 3),
        "targets_met": {"pipeline_vs_fit>=0.9": pipeline_vs_fit >= 0.9,
                        "augmentation_cost<=0.25": augmentation_cost <= 0.25},
        "ratios_per_round": {k: [round(r, 3) for r in v] for k, v in ratios.items()},
        "images_per_s": {k: summary(v) for k, v in epochs.items()},
        "images_per_s_with_validation": {k: summary([r for fit in v for r in fit[1]])
                                         for k, v in runs.items()},
        "config": {"model": "small_cnn 48x48x1, conv 16/32/64, dense 64", "params": model.count_params(),
                   "dataset": data.description, "train_images": n, "val_images": len(data.val.y),
                   "batch_size": BATCH, "timed_epochs": EPOCHS, "warmup_epochs": 1, "rounds": rounds,
                   "augmentation": AUGMENT, "seed": SEED},
        "device": gpus[0].name if gpus else f"CPU ({os.cpu_count()} cores, {platform.processor() or platform.machine()})",
        "load_average_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
