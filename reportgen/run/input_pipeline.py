"""tf.data input pipelines for training: shuffling, augmentation, preprocessing, batching.

Preprocess functions are NumPy functions (the same ones analyses use), so wherever the pixels
are known before training (validation images; training images without augmentation) they are
preprocessed once, up front, in NumPy: exactly ``preprocess(x)``, and no Python runs in the
training loop — the same work as a plain ``model.fit`` on preprocessed arrays. Only augmented
training batches (new pixels every epoch) call ``preprocess`` per batch through
``tf.numpy_function``, after the augmentation layers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from reportgen.config.schema import TrainSpec
from reportgen.run.data import LoadedData

PRECOMPUTE_LIMIT_BYTES = 1 << 30
"""Largest float32 copy of the training images made up front; a larger set (e.g. thousands of
224×224×3 images) keeps uint8 pixels and is preprocessed per batch instead, to bound memory."""


def training_datasets(data: LoadedData, spec: TrainSpec, preprocess: Callable[[np.ndarray], np.ndarray],
                      augment: Any, seed: int):
    """(train, val) tf.data pipelines of (float32 images, labels) batches.

    train: reshuffled every epoch (seeded: the same seed gives the same order), augmented when
    ``augment`` is given, then preprocessed; val: in order, preprocessed, never augmented.
    """
    import tensorflow as tf

    channels = int(preprocess(data.train.x[:1]).shape[-1])  # may differ (gray → RGB backbones)

    def per_batch(x):
        # One NumPy call per batch; stateful=False lets tf.data run it in parallel.
        out = tf.numpy_function(preprocess, [x], tf.float32, stateful=False)
        out.set_shape(x.shape[:-1] + [channels])  # static shape: Keras needs the channels
        return out

    def batches(x: np.ndarray, y: np.ndarray, shuffle: bool, augmented: bool):
        precompute = not augmented and x.size * 4 * channels // max(1, x.shape[-1]) <= PRECOMPUTE_LIMIT_BYTES
        images = tf.convert_to_tensor(preprocess(x) if precompute else x)
        labels = tf.convert_to_tensor(y)
        # Shuffle indices and gather whole batches: no per-image elements, and no shuffle
        # buffer holding a second copy of the images. Same permutation as shuffling the images.
        order = tf.data.Dataset.range(len(y))
        if shuffle:
            order = order.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
        ds = order.batch(spec.batch_size).map(lambda i: (tf.gather(images, i), tf.gather(labels, i)),
                                              num_parallel_calls=tf.data.AUTOTUNE)
        if augmented:
            # Keras random layers are stateful: with op determinism tf.data runs this map
            # serially, so keep the (stateless) preprocessing in a map of its own.
            ds = ds.map(lambda x, y: (augment(tf.cast(x, tf.float32), training=True), y),
                        num_parallel_calls=tf.data.AUTOTUNE)
        if augmented or not precompute:
            ds = ds.map(lambda x, y: (per_batch(x), y), num_parallel_calls=tf.data.AUTOTUNE)
        return ds.prefetch(tf.data.AUTOTUNE)

    train = batches(data.train.x, data.train.y, shuffle=True, augmented=augment is not None)
    val = batches(data.val.x, data.val.y, shuffle=False, augmented=False)
    return train, val
