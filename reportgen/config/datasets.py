"""``[[datasets]]`` tables: one pydantic model per dataset kind."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import Field, field_validator, model_validator

from reportgen.config.common import NAME_PATTERN, SplitSpec, Strict

FER2013_CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


class DatasetBase(Strict):
    name: str = Field(pattern=NAME_PATTERN)
    """Name that experiments use to refer to this dataset."""
    classes: list[str] | None = None
    """Class names in label order. Defaults depend on the kind (folder names, FER2013's 7, …)."""
    max_samples: int | None = Field(None, gt=0)
    """Use at most this many samples (stratified), for quick runs."""

    @field_validator("classes")
    @classmethod
    def _classes_valid(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            if len(value) < 2:
                raise ValueError(f"needs at least 2 classes, got {value}")
            if len(set(value)) != len(value):
                raise ValueError(f"class names must be unique, got {value}")
        return value


class DigitsDataset(DatasetBase):
    """scikit-learn's embedded 8×8 handwritten digits (1,797 real images, 10 classes)."""

    kind: Literal["digits"]
    split: SplitSpec = SplitSpec()
    digits: list[int] | None = None
    """Keep only these digits (e.g. ``[0, 1, 2, 3, 4]``), in this class order; default all 10."""

    @field_validator("digits")
    @classmethod
    def _digit_subset(cls, value: list[int] | None) -> list[int] | None:
        if value is not None:
            if len(value) < 2 or len(set(value)) != len(value) or not all(0 <= d <= 9 for d in value):
                raise ValueError(f"expected at least 2 different digits from 0 to 9, got {value}")
        return value


class Fer2013CsvDataset(DatasetBase):
    """The FER2013 CSV layout: ``emotion,pixels,Usage`` with 48×48 gray pixels."""

    kind: Literal["fer2013_csv"]
    path: Path
    """The CSV file (fer2013.csv)."""
    train_usage: str = "Training"
    val_usage: str = "PublicTest"
    test_usage: str = "PrivateTest"


class ImageFolderDataset(DatasetBase):
    """One sub-folder per class (CK+, JAFFE, RAF-DB style).

    Either ``path`` (one folder, split by ``split`` ratios) or ``train_dir`` + ``test_dir``
    (+ optional ``val_dir``; without it validation is carved from train).
    """

    kind: Literal["image_folder"]
    path: Path | None = None
    train_dir: Path | None = None
    val_dir: Path | None = None
    test_dir: Path | None = None
    split: SplitSpec = SplitSpec()
    stream: bool | Literal["auto"] = "auto"
    """Training images: ``true`` decodes them from disk batch by batch in every epoch (a
    dataset larger than memory), ``false`` holds them in memory, ``"auto"`` streams when the
    decoded training split would take more than a quarter of the memory available. Validation
    and test images are always held in memory (the analyses use them). The trained model is the
    same either way."""

    @field_validator("stream", mode="before")
    @classmethod
    def _stream_choice(cls, value: Any) -> Any:
        if value is True or value is False or value == "auto":
            return value
        raise ValueError('expected true, false or "auto"')

    @model_validator(mode="after")
    def _one_layout(self) -> ImageFolderDataset:
        split_dirs = self.train_dir is not None or self.test_dir is not None
        if self.path is None and not split_dirs:
            raise ValueError("give either path (one folder) or train_dir and test_dir")
        if self.path is not None and (split_dirs or self.val_dir is not None):
            raise ValueError("give either path or train_dir/val_dir/test_dir, not both")
        if self.path is None and (self.train_dir is None or self.test_dir is None):
            raise ValueError("train_dir and test_dir must both be given")
        return self


class NpzDataset(DatasetBase):
    """A NumPy ``.npz`` with ``x_train``, ``y_train``, ``x_test``, ``y_test`` (and optionally
    ``x_val``, ``y_val``; otherwise validation is carved from train)."""

    kind: Literal["npz"]
    path: Path
    split: SplitSpec = SplitSpec()


SampleImage = Literal["astronaut", "camera", "coffee", "chelsea", "cat", "rocket"]


class ImagesDataset(DatasetBase):
    """Unlabelled images to inspect with a trained model (no training, no accuracy): a folder
    of image files, and/or scikit-image's sample photos by name (``astronaut`` is a face).

    With ``face_crop = true`` every face MTCNN finds becomes one image (the model sees face
    crops, as expression models expect); the whole photos still feed the face panel.
    """

    kind: Literal["images"]
    path: Path | None = None
    """Folder of image files (searched recursively)."""
    samples: list[SampleImage] = Field(default_factory=list)
    """scikit-image sample photos, e.g. ``["astronaut"]``."""
    face_crop: bool = False
    face_margin: float = Field(0.2, ge=0, le=1)
    """Extra border around each detected face box, as a fraction of the box size."""
    min_face_confidence: float = Field(0.9, ge=0, le=1)

    @model_validator(mode="after")
    def _has_images(self) -> ImagesDataset:
        if self.path is None and not self.samples:
            raise ValueError("give path (a folder of images) and/or samples (scikit-image photos)")
        return self


DatasetSpec = Annotated[
    Union[DigitsDataset, Fer2013CsvDataset, ImageFolderDataset, NpzDataset, ImagesDataset],
    Field(discriminator="kind"),
]
