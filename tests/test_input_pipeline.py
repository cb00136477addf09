"""The tf.data training pipelines: exact preprocessing, seeded reshuffling, augmentation only
where it belongs. Small synthetic data; no timing."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from reportgen.config.schema import ApplicationModel, AugmentationSpec, CnnModel, FileModel, TrainSpec
from reportgen.run import input_pipeline, models
from reportgen.run.augment import augmentation_layers
from reportgen.run.data import ImageSet, LoadedData
from reportgen.run.input_pipeline import training_datasets

N_TRAIN, N_VAL = 70, 23  # not multiples of the batch size: the last batch is short
SPEC = TrainSpec(batch_size=16)


def _data(channels: int = 1) -> LoadedData:
    """Random uint8 images; labels are the image indices, so a batch's labels give its order."""
    rng = np.random.default_rng(0)

    def part(n: int) -> ImageSet:
        return ImageSet(x=rng.integers(0, 256, (n, 16, 16, channels), dtype=np.uint8), y=np.arange(n))

    return LoadedData(classes=[], train=part(N_TRAIN), val=part(N_VAL), test=part(4), skipped=[],
                      description="synthetic")


def _epoch(dataset) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = zip(*((x.numpy(), y.numpy()) for x, y in dataset))
    return np.concatenate(xs), np.concatenate(ys)


def _rescale() -> Callable[[np.ndarray], np.ndarray]:
    return models.preprocess_function(CnnModel(kind="cnn", name="c"))


PREPROCESS = {
    "rescale": _rescale,
    "symmetric": lambda: models.preprocess_function(FileModel(kind="file", name="f", path="m.keras",
                                                              preprocess="symmetric")),
    "none": lambda: models.preprocess_function(FileModel(kind="file", name="f", path="m.keras",
                                                         preprocess="none")),
    "normalized": lambda: models.normalized(_rescale(), {"mean": [0.4], "std": [0.3]}),
    "vgg16": lambda: models.preprocess_function(ApplicationModel(kind="application", name="a",
                                                                 architecture="VGG16", weights="none")),
}


@pytest.mark.parametrize("precompute", [True, False], ids=["up-front", "per-batch"])
@pytest.mark.parametrize("name", sorted(PREPROCESS))
def test_batches_are_exactly_preprocess_of_the_pixels(name, precompute, monkeypatch):
    if not precompute:  # the path of image sets too large to preprocess up front
        monkeypatch.setattr(input_pipeline, "PRECOMPUTE_LIMIT_BYTES", 0)
    data, preprocess = _data(), PREPROCESS[name]()
    train, val = training_datasets(data, SPEC, preprocess, None, seed=3)
    x, y = _epoch(val)
    np.testing.assert_array_equal(y, data.val.y)  # validation keeps its order
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x, preprocess(data.val.x))
    x, y = _epoch(train)
    assert sorted(y) == list(range(N_TRAIN))
    np.testing.assert_array_equal(x, preprocess(data.train.x[y]))
    assert train.element_spec[0].shape[1:] == x.shape[1:]  # static shape for Keras


def test_training_order_is_a_seeded_reshuffle():
    data, preprocess = _data(), _rescale()
    first = training_datasets(data, SPEC, preprocess, None, seed=3)[0]
    again = training_datasets(data, SPEC, preprocess, None, seed=3)[0]
    other = training_datasets(data, SPEC, preprocess, None, seed=4)[0]
    epoch1, epoch2 = _epoch(first)[1], _epoch(first)[1]
    np.testing.assert_array_equal(_epoch(again)[1], epoch1)  # same seed ⇒ same order
    np.testing.assert_array_equal(_epoch(again)[1], epoch2)  # … every epoch
    assert not np.array_equal(epoch1, epoch2)  # reshuffled each epoch
    assert not np.array_equal(_epoch(other)[1], epoch1)
    assert not np.array_equal(epoch1, np.arange(N_TRAIN))


def test_augmentation_changes_training_images_only():
    data, preprocess = _data(), _rescale()
    augment = augmentation_layers(
        AugmentationSpec(horizontal_flip=True, rotation=0.1, translation=0.1, contrast=0.2), seed=3)
    train, val = training_datasets(data, SPEC, preprocess, augment, seed=3)
    x, y = _epoch(val)
    np.testing.assert_array_equal(y, data.val.y)
    np.testing.assert_array_equal(x, preprocess(data.val.x))
    for _ in range(2):
        x, y = _epoch(train)
        assert sorted(y) == list(range(N_TRAIN))
        plain = preprocess(data.train.x[y])
        changed = np.abs(x - plain).reshape(N_TRAIN, -1).max(axis=1) > 1e-3
        assert changed.mean() > 0.9
        assert x.dtype == np.float32 and x.min() >= -1e-6 and x.max() <= 1 + 1e-6
    # The shuffle does not depend on augmentation: same seed, same order as without it.
    plain_train = training_datasets(data, SPEC, preprocess, None, seed=3)[0]
    fresh = training_datasets(data, SPEC, preprocess, augment, seed=3)[0]
    np.testing.assert_array_equal(_epoch(fresh)[1], _epoch(plain_train)[1])
