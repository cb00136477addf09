"""Training throughput: reportgen's tf.data input pipeline vs a plain ``model.fit`` on NumPy.

Usage: python bench/train.py [ROUNDS]   — prints one JSON object (run on an otherwise idle machine).

Workload: the ``small_cnn`` style of experiments.toml (3 conv blocks 16/32/64, dense 64) at
48×48×1 on scikit-learn's digits upscaled by reportgen's ``load_dataset``, batch size 32, Adam.
One compiled model is fed one training epoch at a time by each of four inputs:

- ``fit``: plain ``model.fit(x, y, batch_size, shuffle=True)`` on float32 NumPy arrays already
  preprocessed (x/255) — the baseline, the fastest a Keras user would write it.
- ``pipeline``: the training dataset reportgen's ``train()`` fits on (``training_datasets``),
  augmentation off.
- ``augmented``: the same with ``AugmentationSpec(horizontal_flip, rotation 0.05,
  translation 0.1, zoom 0.1, contrast 0.1)``.
- ``streamed``: the pipeline, augmentation off, with the training images streamed from PNG
  files (an image folder with ``stream = true``): decoded with Pillow batch by batch, every epoch.

Why epoch by epoch: on this 2-core VM the machine's speed drifts by up to 2× over tens of
seconds (whole runs of several epochs at half speed), which swamped a 10 % comparison when each
variant ran its own multi-epoch fit. Here every round runs one epoch of each variant back to
back (the order rotates between rounds), each round gives paired ratios, and the headline is
the median of those ratios over all rounds. One warm-up epoch per variant (tracing, first
allocations) is discarded. Images/s counts training images over an epoch (Keras callback,
epoch begin → end; no validation).

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
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


SEED = 42
BATCH = 32
ROUNDS = 15
VARIANTS = ("fit", "pipeline", "augmented", "streamed")
AUGMENT = {"horizontal_flip": True, "rotation": 0.05, "translation": 0.1, "zoom": 0.1, "contrast": 0.1}


def _timer():
    """Keras callback recording the seconds of each epoch."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.seconds: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)

    return EpochTimer()


def _streamed_copy(data: Any, folder: Path) -> Any:
    """``data`` with its training images written as PNG files and streamed from them."""
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
    from reportgen.i18n import translate_msg
    from reportgen.run import models, train
    from reportgen.run.augment import augmentation_layers
    from reportgen.run.data import load_dataset
    from reportgen.run.input_pipeline import training_datasets

    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else ROUNDS
    model_spec = CnnModel(kind="cnn", name="small_cnn", input_shape=(48, 48, 1),
                          conv_blocks=[ConvBlock(filters=16), ConvBlock(filters=32), ConvBlock(filters=64)],
                          dense=[64], dropout=0.3)
    data = load_dataset(DigitsDataset(kind="digits", name="digits"), (48, 48), 1, SEED, Path("."))
    preprocess = models.preprocess_function(model_spec)
    n = len(data.train.y)
    folder = Path(tempfile.mkdtemp(prefix="bench-stream-"))
    atexit.register(shutil.rmtree, folder, True)
    streamed = _streamed_copy(data, folder)

    spec = TrainSpec(batch_size=BATCH)
    train.seed_everything(SEED)
    augment = augmentation_layers(AugmentationSpec(**AUGMENT), SEED)
    inputs = {
        "pipeline": training_datasets(data, spec, preprocess, None, SEED)[0],
        "augmented": training_datasets(data, spec, preprocess, augment, SEED)[0],
        "streamed": training_datasets(streamed, spec, preprocess, None, SEED)[0],
    }
    x_train = preprocess(data.train.x)
    model = models.build_model(model_spec, len(data.classes), Path("."))
    model.compile(optimizer=keras.optimizers.Adam(spec.learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    def epoch(variant: str) -> float:
        """Images/s of one training epoch fed by ``variant``."""
        timer = _timer()
        if variant == "fit":
            model.fit(x_train, data.train.y, batch_size=BATCH, epochs=1, shuffle=True, verbose=0,
                      callbacks=[timer])
        else:  # as train() calls it: the pipeline already shuffles
            model.fit(inputs[variant], epochs=1, shuffle=False, verbose=0, callbacks=[timer])
        return n / timer.seconds[0]

    for variant in VARIANTS:  # warm-up: tracing and first allocations
        epoch(variant)
    load_before = os.getloadavg()
    rates: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for r in range(rounds):
        for variant in VARIANTS[r % len(VARIANTS):] + VARIANTS[:r % len(VARIANTS)]:
            rates[variant].append(epoch(variant))
    load_after = os.getloadavg()

    ratios = {  # paired within each round: the machine's drift cancels out
        "pipeline_vs_fit": [p / f for f, p in zip(rates["fit"], rates["pipeline"])],
        "augmentation_cost": [1 - a / p for p, a in zip(rates["pipeline"], rates["augmented"])],
        "streamed_vs_pipeline": [s / p for p, s in zip(rates["pipeline"], rates["streamed"])],
    }
    headline = {k: statistics.median(v) for k, v in ratios.items()}

    def summary(values: list[float]) -> dict[str, float]:
        return {"best": round(max(values), 1), "median": round(statistics.median(values), 1),
                "min": round(min(values), 1)}

    def quartiles(values: list[float]) -> list[float]:
        q1, _, q3 = statistics.quantiles(values, n=4)
        return [round(q1, 3), round(q3, 3)]

    gpus = tf.config.list_physical_devices("GPU")
    result = {
        **{k: round(v, 3) for k, v in headline.items()},
        "targets_met": {"pipeline_vs_fit>=0.9": headline["pipeline_vs_fit"] >= 0.9,
                        "augmentation_cost<=0.25": headline["augmentation_cost"] <= 0.25},
        "ratio_quartiles": {k: quartiles(v) for k, v in ratios.items()},
        "images_per_s": {k: summary(v) for k, v in rates.items()},
        "config": {"model": "small_cnn 48x48x1, conv 16/32/64, dense 64", "params": model.count_params(),
                   "dataset": translate_msg(data.description, "en"), "train_images": n, "batch_size": BATCH,
                   "rounds": rounds, "epochs_per_round_per_variant": 1, "warmup_epochs": 1,
                   "augmentation": AUGMENT, "seed": SEED},
        "device": gpus[0].name if gpus else (f"CPU ({os.cpu_count()} cores, "
                                             f"{platform.processor() or platform.machine()})"),
        "load_average_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
