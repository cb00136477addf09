"""Training: the same seed gives the same model on the CPU; the cache round-trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reportgen.config.schema import CnnModel, ConvBlock, DigitsDataset, TrainSpec
from reportgen.run import models, train
from reportgen.run.data import load_dataset

DATASET = DigitsDataset(kind="digits", name="digits", max_samples=300)
MODEL = CnnModel(kind="cnn", name="cnn", input_shape=(12, 12, 1), conv_blocks=[ConvBlock(filters=4)],
                 dense=[16])
SPEC = TrainSpec(epochs=2, batch_size=32)


def _train(seed: int):
    data = load_dataset(DATASET, (12, 12), 1, seed, Path("."))
    train.seed_everything(seed)
    model = models.build_model(MODEL, 10, Path("."))
    history, _ = train.train(model, data, SPEC, models.preprocess_function(MODEL), None, seed,
                             lambda m: None)
    return model, history


def test_same_seed_same_model_and_cache_round_trip(tmp_path):
    model_a, history_a = _train(5)
    model_b, history_b = _train(5)
    assert history_a == history_b
    for wa, wb in zip(model_a.get_weights(), model_b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    model_c, history_c = _train(6)
    assert history_c != history_a

    train.save_cache(tmp_path / "entry", model_a, history_a, {"train_seconds": 1.5})
    loaded, history, meta = train.load_cached(tmp_path / "entry")
    assert history == history_a and meta["train_seconds"] == 1.5
    x = np.random.default_rng(0).integers(0, 255, (4, 12, 12, 1)).astype("float32") / 255
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model_a.predict(x, verbose=0), rtol=1e-6)
    assert not list(tmp_path.glob(".entry.tmp-*"))
    assert train.load_cached(tmp_path / "missing") is None
