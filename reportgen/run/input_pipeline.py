"""tf.data input pipelines for training: shuffling, augmentation, preprocessing, batching."""

from __future__ import annotations

from reportgen.config.schema import TrainSpec
from reportgen.run.data import LoadedData


def training_datasets(data: LoadedData, spec: TrainSpec, preprocess, augment, seed: int):
    """tf.data pipelines: shuffled, augmented (training only), preprocessed, batched, prefetched."""
    import tensorflow as tf

    def prepare(x, y, training: bool):
        x = tf.cast(x, tf.float32)
        if training and augment is not None:
            x = augment(x, training=True)
        # Preprocess functions work on NumPy arrays (the same ones analyses use); one call
        # per batch keeps the bridge cheap.
        shape = x.shape
        x = tf.numpy_function(preprocess, [x], tf.float32, stateful=False)
        x.set_shape(shape[:-1] + [None])
        return x, y

    train = (tf.data.Dataset.from_tensor_slices((data.train.x, data.train.y))
             .shuffle(len(data.train.y), seed=seed, reshuffle_each_iteration=True)
             .batch(spec.batch_size)
             .map(lambda x, y: prepare(x, y, True), num_parallel_calls=tf.data.AUTOTUNE)
             .prefetch(tf.data.AUTOTUNE))
    val = (tf.data.Dataset.from_tensor_slices((data.val.x, data.val.y))
           .batch(spec.batch_size)
           .map(lambda x, y: prepare(x, y, False), num_parallel_calls=tf.data.AUTOTUNE)
           .cache()
           .prefetch(tf.data.AUTOTUNE))
    return train, val
