"""tf.data input pipelines for training: shuffling, augmentation, preprocessing, batching.

Preprocess functions are NumPy functions (the same ones analyses use), so wherever the pixels
are known before training (validation images; training images without augmentation) they are
preprocessed once, up front, in NumPy: exactly ``preprocess(x)``, and no Python runs in the
training loop — the same work as a plain ``model.fit`` on preprocessed arrays. Only augmented
training batches (new pixels every epoch) call ``preprocess`` per batch through
``tf.numpy_function``, after the augmentation layers.

A streamed training split (image folders larger than memory) holds file paths: each batch of
paths is decoded with Pillow (``tf.numpy_function``, several batches in parallel, prefetched)
and then augmented and preprocessed like any batch.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from reportgen.config.schema import TrainSpec
from reportgen.run.data import ImageSet, LoadedData

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

    channels = int(preprocess(data.val.x[:1]).shape[-1])  # may differ (gray → RGB backbones)

    def per_batch(x):
        # One NumPy call per batch; stateful=False lets tf.data run it in parallel.
        out = tf.numpy_function(preprocess, [x], tf.float32, stateful=False)
        out.set_shape(x.shape[:-1] + [channels])  # static shape: Keras needs the channels
        return out

    def decoded(paths):
        # Pillow, as for images held in memory: a streamed image has exactly the same pixels.
        out = tf.numpy_function(data.train.decode_paths, [paths], tf.uint8, stateful=False)
        out.set_shape([None, *shape])
        return out

    def batches(images: ImageSet, shuffle: bool, augmented: bool):
        x = images.x
        precompute = (not augmented and not images.streamed
                      and x.size * 4 * channels // max(1, x.shape[-1]) <= PRECOMPUTE_LIMIT_BYTES)
        if images.streamed:
            pixels = tf.constant([os.fsencode(p) for p in images.files])
        else:
            pixels = tf.convert_to_tensor(preprocess(x) if precompute else x)
        labels = tf.convert_to_tensor(images.y)
        # Shuffle indices and gather whole batches: no per-image elements, and no shuffle
        # buffer holding a second copy of the images. Same permutation as shuffling the images,
        # and the same batches whether the images are streamed or held in memory.
        order = tf.data.Dataset.range(len(images))
        if shuffle:
            order = order.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
        ds = order.batch(spec.batch_size).map(lambda i: (tf.gather(pixels, i), tf.gather(labels, i)),
                                              num_parallel_calls=tf.data.AUTOTUNE)
        if images.streamed:
            ds = ds.map(lambda p, y: (decoded(p), y), num_parallel_calls=tf.data.AUTOTUNE)
        if augmented:
            # Keras random layers are stateful: with op determinism tf.data runs this map
            # serially, so keep the (stateless) preprocessing in a map of its own.
            ds = ds.map(lambda x, y: (augment(tf.cast(x, tf.float32), training=True), y),
                        num_parallel_calls=tf.data.AUTOTUNE)
        if augmented or not precompute:
            ds = ds.map(lambda x, y: (per_batch(x), y), num_parallel_calls=tf.data.AUTOTUNE)
        return ds.prefetch(tf.data.AUTOTUNE)

    shape = data.train.image_shape
    train = batches(data.train, shuffle=True, augmented=augment is not None)
    val = batches(data.val, shuffle=False, augmented=False)
    return train, val


_DECODE_FAILURE = re.compile(r"Image file .*? could not be decoded \(.*?\); fix or remove it\.", re.S)


def stream_decode_failure(exc: BaseException) -> str | None:
    """The message of a streamed image that failed to decode, out of TensorFlow's wrapping of
    the error raised inside ``tf.numpy_function``; None for any other error."""
    found = _DECODE_FAILURE.search(str(exc))
    return found.group(0) if found else None
