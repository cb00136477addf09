"""Where training runs: one GPU, several GPUs (MirroredStrategy), or the CPU, unchanged.

TensorFlow places work on the first GPU by itself; these helpers add what it does not do alone:
a MirroredStrategy scope when several GPUs are visible, and the mixed-precision policy, which
only pays off on GPUs (on the CPU float16 is emulated and slower, so it is ignored there).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


def gpus() -> list[Any]:
    import tensorflow as tf

    return tf.config.list_physical_devices("GPU")


def device_name() -> str:
    """What computes: ``CPU``, or the first GPU's name (× count, with MirroredStrategy)."""
    import tensorflow as tf

    found = gpus()
    if not found:
        return "CPU"
    names = [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in found]
    return f"GPU: {names[0]}" + (f" ×{len(found)} (MirroredStrategy)" if len(found) > 1 else "")


def strategy_scope() -> contextlib.AbstractContextManager:
    """``MirroredStrategy().scope()`` with two or more GPUs (build and compile inside it)."""
    if len(gpus()) > 1:
        import tensorflow as tf

        return tf.distribute.MirroredStrategy().scope()
    return contextlib.nullcontext()


@contextlib.contextmanager
def precision(mixed: bool) -> Iterator[str]:
    """Set Keras' global dtype policy for one experiment and restore it afterwards; yields the
    policy in force (``mixed_float16`` only when asked for and a GPU is present)."""
    import keras

    previous = keras.mixed_precision.global_policy().name
    policy = "mixed_float16" if mixed and gpus() else "float32"
    keras.mixed_precision.set_global_policy(policy)
    try:
        yield policy
    finally:
        keras.mixed_precision.set_global_policy(previous)
