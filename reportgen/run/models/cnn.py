"""``kind = "cnn"``: a small functional CNN assembled from ``conv_blocks`` and ``dense``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from reportgen.errors import ModelError
from reportgen.run.models.base import register_kind

if TYPE_CHECKING:  # pragma: no cover
    import keras

    from reportgen.config.models import CnnModel


def check_cnn(spec: CnnModel, base_dir: Path | None = None) -> list[str]:
    """Pooling must leave at least a 1×1 feature map."""
    height, width = spec.input_shape[0], spec.input_shape[1]
    problems = []
    for index, block in enumerate(spec.conv_blocks):
        if block.pool:
            if height < 2 or width < 2:
                problems.append(
                    f"conv_blocks[{index}]: pooling would shrink the {height}x{width} feature "
                    "map below 1 pixel; set pool = false or use fewer blocks"
                )
                break
            height, width = height // 2, width // 2
    return problems


def build_cnn(spec: CnnModel, num_classes: int, base_dir: Path) -> keras.Model:
    """Input → conv blocks → Flatten (``head = "flatten"``) or GlobalAveragePooling2D
    (``head = "gap"``) → dense layers → predictions.

    Layer names: block{b}_conv{c} (+ block{b}_bn{c}, block{b}_relu{c} with batch_norm),
    block{b}_pool, block{b}_dropout, flatten | global_pool, dense{i}, head_dropout,
    predictions.  The last Conv2D is the Grad-CAM target.

    Flatten is the default because it learns where global pooling does not: on 48×48 faces the
    README's default CNN averages a 12×12×64 map into 64 numbers that no longer say where an
    eye or a mouth corner is, and stays at the majority class (measured on CK+ and on
    scikit-image's LFW faces, see tests/test_default_cnn.py).
    """
    import keras
    from keras import layers

    problems = check_cnn(spec)
    if problems:
        raise ModelError(f"model {spec.name!r}: " + "; ".join(problems))

    inputs = keras.Input(shape=tuple(spec.input_shape), name="input")
    x = inputs
    for b, block in enumerate(spec.conv_blocks, start=1):
        for c in range(1, block.convs + 1):
            if block.batch_norm:
                x = layers.Conv2D(block.filters, block.kernel_size, padding="same", use_bias=False,
                                  name=f"block{b}_conv{c}")(x)
                x = layers.BatchNormalization(name=f"block{b}_bn{c}")(x)
                x = layers.Activation("relu", name=f"block{b}_relu{c}")(x)
            else:
                x = layers.Conv2D(block.filters, block.kernel_size, padding="same", activation="relu",
                                  name=f"block{b}_conv{c}")(x)
        if block.pool:
            x = layers.MaxPooling2D(2, name=f"block{b}_pool")(x)
        if block.dropout > 0:
            x = layers.Dropout(block.dropout, name=f"block{b}_dropout")(x)

    if spec.head == "flatten":
        x = layers.Flatten(name="flatten")(x)
    else:
        x = layers.GlobalAveragePooling2D(name="global_pool")(x)
    return keras.Model(inputs, classification_head(x, spec, num_classes), name=spec.name)


def classification_head(x: Any, spec: Any, num_classes: int) -> Any:
    """Dense layers of ``spec.dense``, dropout, then the softmax layer named ``predictions``."""
    from keras import layers

    for i, units in enumerate(spec.dense, start=1):
        x = layers.Dense(units, activation="relu", name=f"dense{i}")(x)
    if spec.dropout > 0:
        x = layers.Dropout(spec.dropout, name="head_dropout")(x)
    # float32 outputs keep the softmax stable under a mixed_float16 policy (no-op otherwise).
    return layers.Dense(num_classes, activation="softmax", name="predictions", dtype="float32")(x)


register_kind("cnn", build_cnn, check=check_cnn)
