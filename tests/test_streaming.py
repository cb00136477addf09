"""Image folders streamed from disk (``stream``): the same split, the same pixels, the same
batches and the same trained model as when the training images are held in memory; unreadable
files are named. Real images: scikit-learn's digits written as PNG files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reportgen.config.load import load_manifest
from reportgen.config.schema import CnnModel, ConvBlock, ImageFolderDataset, TrainSpec
from reportgen.errors import ConfigError, DataError
from reportgen.i18n import translate_msg
from reportgen.plan import make_plan
from reportgen.run import data as data_mod
from reportgen.run import models, train
from reportgen.run.data import load_dataset
from reportgen.run.input_pipeline import training_datasets
from tests.conftest import BASE_MANIFEST

SIZE = (12, 12)
MODEL = CnnModel(kind="cnn", name="cnn", input_shape=(12, 12, 1), conv_blocks=[ConvBlock(filters=4)],
                 dense=[16])
SPEC = TrainSpec(epochs=2, batch_size=16, normalization=True)


def _en(description) -> str:
    """A dataset description in English."""
    return translate_msg(description, "en")


def _write_digits(root: Path, digits=(0, 1, 2), per_class: int = 40, offset: int = 0) -> None:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    for d in digits:
        folder = root / str(d)
        folder.mkdir(parents=True, exist_ok=True)
        picked = np.flatnonzero(bunch.target == d)[offset:offset + per_class]
        for i in picked:
            pixels = np.clip(bunch.images[i] * 16, 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{i:04d}.png")


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("stream")
    _write_digits(root / "pool")
    (root / "pool" / "1" / "notes.png").write_text("not an image")  # skipped by both paths
    _write_digits(root / "train", per_class=30)
    _write_digits(root / "test", per_class=10, offset=30)
    return root


def _spec(stream, **layout) -> ImageFolderDataset:
    return ImageFolderDataset(kind="image_folder", name="digits_png", stream=stream, **layout)


LAYOUTS = {"one folder": {"path": "pool"},
           "train and test folders": {"train_dir": "train", "test_dir": "test"}}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_streamed_split_has_the_same_images_as_in_memory(folders, layout):
    memory = load_dataset(_spec(False, **LAYOUTS[layout]), SIZE, 1, 7, folders)
    streamed = load_dataset(_spec(True, **LAYOUTS[layout]), SIZE, 1, 7, folders)
    assert streamed.train.streamed and not memory.train.streamed
    assert streamed.train.x.shape == (0, 12, 12, 1) and len(streamed.train) == len(memory.train) > 50
    np.testing.assert_array_equal(streamed.train.y, memory.train.y)
    np.testing.assert_array_equal(streamed.train.pixels(slice(None)), memory.train.x)
    np.testing.assert_array_equal(np.concatenate(list(streamed.train.chunks(7))), memory.train.x)
    for part in ("val", "test"):  # always in memory: the analyses use them
        a, b = getattr(streamed, part), getattr(memory, part)
        assert not a.streamed
        np.testing.assert_array_equal(a.x, b.x)
        np.testing.assert_array_equal(a.y, b.y)
    assert streamed.skipped == memory.skipped
    assert "training images streamed from disk" in _en(streamed.description)


def test_streamed_batches_and_model_equal_in_memory(folders):
    """Same seed: identical batches every epoch and an identical trained model."""
    runs = {}
    for stream in (False, True):
        data = load_dataset(_spec(stream, path="pool"), SIZE, 1, 3, folders)
        chunks = data.train.chunks(10)
        preprocess = models.preprocess_function(MODEL)
        stats = models.normalization_stats(preprocess(c) for c in chunks)
        preprocess = models.normalized(preprocess, stats)
        train.seed_everything(3)  # the shuffle order depends on the global seed too
        train_ds, _ = training_datasets(data, SPEC, preprocess, None, seed=3)
        epochs = [[(x.numpy(), y.numpy()) for x, y in train_ds] for _ in range(2)]
        train.seed_everything(3)
        model = models.build_model(MODEL, len(data.classes), folders)
        history, _ = train.train(model, data, SPEC, preprocess, None, 3, lambda m: None)
        runs[stream] = (stats, epochs, history, model.get_weights())
    (stats_a, epochs_a, history_a, weights_a), (stats_b, epochs_b, history_b, weights_b) = runs.values()
    np.testing.assert_allclose(stats_b["mean"], stats_a["mean"], rtol=1e-12)
    np.testing.assert_allclose(stats_b["std"], stats_a["std"], rtol=1e-12)
    assert not np.array_equal(epochs_a[0][0][1], epochs_a[1][0][1])  # reshuffled per epoch
    for epoch_a, epoch_b in zip(epochs_a, epochs_b):
        assert len(epoch_a) == len(epoch_b)
        for (xa, ya), (xb, yb) in zip(epoch_a, epoch_b):
            np.testing.assert_array_equal(ya, yb)
            np.testing.assert_allclose(xb, xa, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(history_b["loss"], history_a["loss"], rtol=1e-5)
    for wa, wb in zip(weights_a, weights_b):
        np.testing.assert_allclose(wb, wa, rtol=1e-4, atol=1e-6)


def test_normalization_stats_in_chunks_equal_the_whole_set():
    x = np.random.default_rng(0).normal(3.0, 2.0, (53, 5, 4, 3))
    whole = models.normalization_stats([x])
    chunked = models.normalization_stats(x[i:i + 8] for i in range(0, len(x), 8))
    np.testing.assert_allclose(whole["mean"], x.mean(axis=(0, 1, 2)), rtol=1e-12)
    np.testing.assert_allclose(whole["std"], x.std(axis=(0, 1, 2)), rtol=1e-12)
    np.testing.assert_allclose(chunked["mean"], whole["mean"], rtol=1e-12)
    np.testing.assert_allclose(chunked["std"], whole["std"], rtol=1e-12)


def test_auto_streams_only_what_would_not_fit(folders, monkeypatch):
    monkeypatch.setattr(data_mod.load, "available_memory_bytes", lambda: 10_000)  # < 4 × ~12 KB of pixels
    assert load_dataset(_spec("auto", path="pool"), SIZE, 1, 7, folders).train.streamed
    monkeypatch.setattr(data_mod.load, "available_memory_bytes", lambda: 24 << 30)
    data_mod.clear_memo()  # the same dataset is otherwise served from the build's memo
    assert not load_dataset(_spec("auto", path="pool"), SIZE, 1, 7, folders).train.streamed


def test_a_file_that_fails_while_training_is_named(tmp_path):
    _write_digits(tmp_path / "train", per_class=20)
    _write_digits(tmp_path / "test", per_class=5, offset=20)
    good = tmp_path / "train" / "2" / "0002.png"
    if not good.exists():
        good = sorted((tmp_path / "train" / "2").iterdir())[0]
    broken = tmp_path / "train" / "2" / "truncated.png"
    broken.write_bytes(good.read_bytes()[:60])  # a valid header, no pixels
    data = load_dataset(_spec(True, train_dir="train", val_dir="test", test_dir="test"), SIZE, 1, 1,
                        tmp_path)
    assert str(broken) in [str(f) for f in data.train.files]  # its header reads fine
    train.seed_everything(1)
    model = models.build_model(MODEL, 3, tmp_path)
    with pytest.raises(DataError, match=r"truncated\.png could not be decoded.*fix or remove it"):
        train.train(model, data, TrainSpec(epochs=1, batch_size=8), models.preprocess_function(MODEL),
                    None, 1, lambda m: None)


def test_stream_is_validated_and_left_out_of_the_cache_key(write_manifest):
    keys = {}
    for value in ("true", "false", '"auto"'):
        path = write_manifest(BASE_MANIFEST.replace(
            'kind = "digits"', f'kind = "image_folder"\npath = "faces"\nstream = {value}'))
        (plan,) = make_plan(load_manifest(path), path.parent)
        keys[value] = plan.cache_key
    assert len(set(keys.values())) == 1
    bad = write_manifest(path.read_text().replace('stream = "auto"', 'stream = "sometimes"'))
    with pytest.raises(ConfigError, match=r"datasets\[0\]\.stream: expected true, false or \"auto\""):
        load_manifest(bad)


def test_a_truncated_file_fails_even_after_weasyprint_is_imported(tmp_path):
    """WeasyPrint turns on Pillow's LOAD_TRUNCATED_IMAGES process-wide; decoding a dataset must
    not then accept a truncated file with gray padding."""
    import weasyprint  # noqa: F401 - the import is the point
    from PIL import ImageFile

    from reportgen.run.data import decode_files

    _write_digits(tmp_path / "d", per_class=1)
    good = sorted((tmp_path / "d").rglob("*.png"))[0]
    broken = tmp_path / "truncated.png"
    broken.write_bytes(good.read_bytes()[:60])
    ImageFile.LOAD_TRUNCATED_IMAGES = True  # as WeasyPrint leaves it
    with pytest.raises(DataError, match=r"truncated\.png could not be decoded"):
        decode_files([broken], (*SIZE, 1))
