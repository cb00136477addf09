"""Training throughput: reportgen's tf.data input pipeline vs a plain ``model.fit`` on NumPy.

Usage: python bench/train.py [ROUNDS] [--large-epochs N] [--large-images N] [--large-only | --small-only]
— prints one JSON object (run on an otherwise idle machine).

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

Large case (issue 13 item 6, a FER2013-sized run): 20,000 images 48×48×1 (the digits above
tiled; labels = digit mod 7, so 7 classes: the content does not matter for speed), reportgen's
default ``cnn`` model (conv 32/64, Flatten, dense 128, dropout 0.5, ~1.2 M parameters), batch
size 64, Adam. Three sides on one compiled model, each warmed up on a 1,280-image subset
(tracing, first allocations), then ``--large-epochs`` (default 1) rounds of one whole epoch per
side, back to back, the order rotating between rounds:

- ``fit``: plain ``model.fit(x, y, batch_size=64, shuffle=True)`` on preprocessed float32 arrays;
- ``pipeline``: what ``reportgen.run.train.train`` fits on: ``training_datasets`` (in memory)
  with train()'s own callbacks (epoch progress, finite-loss guard);
- ``streamed``: the same with the training images streamed from a folder of 20,000 PNGs.

No validation on any side (train() validates each epoch: the same work either way).
``large_pipeline_vs_fit`` (target ≥ 0.9) and ``large_streamed_vs_fit`` (target ≥ 0.8) are
images/s of the side ÷ images/s of plain fit, median of the paired per-round ratios. One round
takes 2.5 minutes on the idle 2-core VM (~550 images/s per side), 5 under other work.
"""

from __future__ import annotations

import argparse
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
LARGE_IMAGES = 20_000
LARGE_CLASSES = 7
LARGE_BATCH = 64
LARGE_WARMUP = 1_280
LARGE_VARIANTS = ("fit", "pipeline", "streamed")
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


def _device() -> str:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    cpu = platform.processor() or platform.machine()
    return gpus[0].name if gpus else f"CPU ({os.cpu_count()} cores, {cpu})"


def small_case(rounds: int) -> dict[str, Any]:
    """The digits case: pipeline, augmented and streamed vs plain fit, ``rounds`` paired rounds."""
    import keras

    from reportgen.config.schema import AugmentationSpec, CnnModel, ConvBlock, DigitsDataset, TrainSpec
    from reportgen.i18n import translate_msg
    from reportgen.run import models, train
    from reportgen.run.augment import augmentation_layers
    from reportgen.run.data import load_dataset
    from reportgen.run.input_pipeline import training_datasets

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

    return {
        **{k: round(v, 3) for k, v in headline.items()},
        "targets_met": {"pipeline_vs_fit>=0.9": headline["pipeline_vs_fit"] >= 0.9,
                        "augmentation_cost<=0.25": headline["augmentation_cost"] <= 0.25},
        "ratio_quartiles": {k: quartiles(v) for k, v in ratios.items()},
        "images_per_s": {k: summary(v) for k, v in rates.items()},
        "config": {"model": "small_cnn 48x48x1, conv 16/32/64, dense 64", "params": model.count_params(),
                   "dataset": translate_msg(data.description, "en"), "train_images": n, "batch_size": BATCH,
                   "rounds": rounds, "epochs_per_round_per_variant": 1, "warmup_epochs": 1,
                   "augmentation": AUGMENT, "seed": SEED},
        "load_average_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
    }


def _large_data(images: int = LARGE_IMAGES) -> Any:
    """LoadedData of ``images`` training images 48×48×1 in 7 classes: the 48×48 digits tiled."""
    from reportgen.config.schema import DigitsDataset
    from reportgen.run.data import ImageSet, load_dataset

    digits = load_dataset(DigitsDataset(kind="digits", name="digits"), (48, 48), 1, SEED, Path("."))
    source = np.concatenate([digits.train.x, digits.val.x, digits.test.x])
    labels = np.concatenate([digits.train.y, digits.val.y, digits.test.y]) % LARGE_CLASSES
    tiled = np.arange(images) % len(source)
    val = np.arange(LARGE_BATCH * 4)
    return replace(digits, classes=[f"class {c}" for c in range(LARGE_CLASSES)],
                   train=ImageSet(x=source[tiled], y=labels[tiled]),
                   val=ImageSet(x=source[val], y=labels[val]), test=ImageSet(x=source[val], y=labels[val]))


def _subset(data: Any, n: int) -> Any:
    """``data`` with only its first ``n`` training images (in memory or streamed)."""
    from reportgen.run.data import ImageSet

    train = data.train
    files = None if train.files is None else train.files[:n]
    return replace(data, train=ImageSet(x=train.x[:n], y=train.y[:n], files=files, resize=train.resize))


def large_case(rounds: int, images: int = LARGE_IMAGES) -> dict[str, Any]:
    """FER2013-sized training: reportgen's pipeline and streaming vs plain fit, whole epochs."""
    import keras

    from reportgen.config.models import CnnModel
    from reportgen.config.schema import TrainSpec
    from reportgen.run import models, train
    from reportgen.run.input_pipeline import training_datasets

    started = time.perf_counter()
    model_spec = CnnModel(kind="cnn", name="cnn")  # the README's default model
    preprocess = models.preprocess_function(model_spec)
    data = _large_data(images)
    n = len(data.train.y)
    folder = Path(tempfile.mkdtemp(prefix="bench-stream-large-"))
    atexit.register(shutil.rmtree, folder, True)
    streamed = _streamed_copy(data, folder)
    spec = TrainSpec(batch_size=LARGE_BATCH, early_stopping_patience=0)
    train.seed_everything(SEED)
    inputs = {  # built once, as train() does, outside the timed epochs
        (side, images): training_datasets(source if images == n else _subset(source, images),
                                          spec, preprocess, None, SEED)[0]
        for side, source in (("pipeline", data), ("streamed", streamed)) for images in (LARGE_WARMUP, n)}
    model = models.build_model(model_spec, LARGE_CLASSES, Path("."))
    model.compile(optimizer=keras.optimizers.Adam(spec.learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x_train = preprocess(data.train.x)

    cpu_ms: dict[str, list[float]] = {v: [] for v in LARGE_VARIANTS}

    def epoch(variant: str, images: int) -> float:
        """Images/s of one training epoch over the first ``images`` images fed by ``variant``
        (and its process CPU ms per image, every thread, into ``cpu_ms``)."""
        timer = _timer()
        cpu = time.process_time()
        if variant == "fit":
            model.fit(x_train[:images], data.train.y[:images], batch_size=LARGE_BATCH, epochs=1,
                      shuffle=True, verbose=0, callbacks=[timer])
        else:
            steps = -(-images // LARGE_BATCH)
            callbacks = [train._progress_callback(lambda line: None, 1, steps, 0),  # as train() fits
                         train._finite_loss_guard(1, steps), timer]
            model.fit(inputs[variant, images], epochs=1, shuffle=False, verbose=0, callbacks=callbacks)
        cpu_ms[variant].append(1000 * (time.process_time() - cpu) / images)
        return images / timer.seconds[0]

    for variant in LARGE_VARIANTS:  # warm-up: tracing, first allocations, first decodes
        epoch(variant, LARGE_WARMUP)
        cpu_ms[variant].clear()
    load_before = os.getloadavg()
    rates: dict[str, list[float]] = {v: [] for v in LARGE_VARIANTS}
    for r in range(rounds):
        shift = r % len(LARGE_VARIANTS)
        for variant in LARGE_VARIANTS[shift:] + LARGE_VARIANTS[:shift]:
            rates[variant].append(epoch(variant, n))
    load_after = os.getloadavg()
    ratios = {"large_pipeline_vs_fit": [p / f for f, p in zip(rates["fit"], rates["pipeline"])],
              "large_streamed_vs_fit": [s / f for f, s in zip(rates["fit"], rates["streamed"])]}
    headline = {k: round(statistics.median(v), 3) for k, v in ratios.items()}
    return {
        **headline,
        "large_targets_met": {"large_pipeline_vs_fit>=0.9": headline["large_pipeline_vs_fit"] >= 0.9,
                              "large_streamed_vs_fit>=0.8": headline["large_streamed_vs_fit"] >= 0.8},
        "large": {
            "ratios_per_round": {k: [round(v, 3) for v in vs] for k, vs in ratios.items()},
            "images_per_s_per_round": {k: [round(v, 1) for v in vs] for k, vs in rates.items()},
            # CPU time drifts far less than wall time with other work on the machine: a check
            # on the wall-clock ratios (fit's CPU ms per image ÷ the side's).
            "cpu_ms_per_image_per_round": {k: [round(v, 2) for v in vs] for k, vs in cpu_ms.items()},
            # Cores the process kept busy (CPU s ÷ wall s): a side that ran on fewer cores was
            # slowed by the machine's other work, not by its input.
            "cores_busy_per_round": {k: [round(c * r / 1000, 2) for c, r in zip(cpu_ms[k], rates[k])]
                                     for k in LARGE_VARIANTS},
            "cpu_ratio_vs_fit": {
                side: round(statistics.median(f / s for f, s in zip(cpu_ms["fit"], cpu_ms[side])), 3)
                for side in LARGE_VARIANTS[1:]},
            "config": {"model": "default cnn 48x48x1, conv 32/64, flatten, dense 128, dropout 0.5",
                       "params": model.count_params(), "train_images": n, "classes": LARGE_CLASSES,
                       "batch_size": LARGE_BATCH, "rounds": rounds, "epochs_per_round_per_side": 1,
                       "warmup_images_per_side": LARGE_WARMUP, "streamed_from": "PNG files",
                       "seed": SEED},
            "load_average_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
            "seconds": round(time.perf_counter() - started, 1),
        },
    }


def main() -> None:
    import keras
    import tensorflow as tf

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rounds", nargs="?", type=int, default=ROUNDS, help="rounds of the small case")
    parser.add_argument("--large-epochs", type=int, default=1,
                        help="timed epochs per side of the large case (one round each)")
    parser.add_argument("--large-images", type=int, default=LARGE_IMAGES,
                        help="training images of the large case (fewer: a quicker trial run)")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--large-only", action="store_true", help="run only the 20,000-image case")
    only.add_argument("--small-only", action="store_true", help="run only the digits case")
    args = parser.parse_args()
    result: dict[str, Any] = {}
    if not args.large_only:
        result.update(small_case(args.rounds))
    if not args.small_only:
        result.update(large_case(args.large_epochs, args.large_images))
    result.update({"device": _device(), "tensorflow": tf.__version__, "keras": keras.__version__})
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
