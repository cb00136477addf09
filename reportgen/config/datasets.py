"""``[[datasets]]`` tables: one pydantic model per dataset kind."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from reportgen.config.common import LocalPath, SplitSpec, Strict, name_field

FER2013_CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
FERPLUS_CLASSES = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"]
"""FERPlus's emotion columns in its own order and spelling (``unknown`` and ``NF`` are not classes)."""
RAFDB_CLASSES = ["surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral"]
"""RAF-DB basic's labels 1–7, in that order."""
JAFFE_CODES = {"AN": "angry", "DI": "disgust", "FE": "fear", "HA": "happy", "NE": "neutral",
               "SA": "sad", "SU": "surprise"}
"""JAFFE's expression codes (file ``KA.AN1.39.tiff`` → AN → angry)."""

ResizeMethod = Literal["bilinear", "bicubic", "area", "nearest", "lanczos"]


class DatasetBase(Strict):
    name: str = name_field()
    """Name that experiments use to refer to this dataset."""
    classes: list[str] | None = None
    """Class names in label order. Defaults depend on the kind (folder names, FER2013's 7, …)."""
    max_samples: int | None = Field(None, gt=0)
    """Use at most this many samples (stratified), for quick runs."""
    resize: ResizeMethod = "bilinear"
    """Pillow filter that resizes images to the model's input size ("area" is Pillow's BOX
    filter, i.e. OpenCV's INTER_AREA when shrinking). Bilinear, antialiased when shrinking."""
    face_crop: bool = False
    """Crop each image to the face MTCNN finds (labelled kinds: one crop per image)."""
    face_margin: float = Field(0.0, ge=0, le=1)
    """Extra border around the detected face box, as a fraction of the box size (0 = tight)."""
    no_face: Literal["keep", "skip"] = "keep"
    """An image in which no face is found: keep it whole, or leave it out (counted)."""
    min_face_confidence: float = Field(0.9, ge=0, le=1)
    center_crop: float | None = Field(None, gt=0, le=1)
    """Keep the central share of each side (0.7 keeps the middle 70 % of width and height)."""
    class_aliases: dict[str, str] = Field(default_factory=dict)
    """Dataset class name → model output name, for spellings the built-in alias table does
    not know (``{ ang = "angry" }``); checked by ``validate``."""

    @field_validator("classes")
    @classmethod
    def _classes_valid(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            if len(value) < 2:
                raise ValueError(f"needs at least 2 classes, got {value}")
            if len(set(value)) != len(value):
                raise ValueError(f"class names must be unique, got {value}")
        return value


class FileSelection(Strict):
    """Keys of every kind that reads image files."""

    include: list[str] = Field(default_factory=list)
    """Only files whose name matches one of these glob patterns (e.g. ``["PrivateTest_*"]``)."""
    exclude: list[str] = Field(default_factory=list)
    """Leave out files whose name matches one of these glob patterns."""


def _stream_choice(value: Any) -> Any:
    if value is True or value is False or value == "auto":
        return value
    raise ValueError('expected true, false or "auto"')


class LabelsSpec(Strict):
    """``labels``: class labels of a flat folder from each file's name or from a list file."""

    pattern: str | None = None
    """A regular expression searched in the file name; its first group is the label."""
    map: dict[str, str] | None = None
    """Label text → class name (e.g. ``{ AN = "angry" }``); the class order is the order of its values."""
    file: LocalPath | None = None
    """A text file with lines ``name label`` (name relative to the folder, label a class name)."""

    @model_validator(mode="after")
    def _one_source(self) -> LabelsSpec:
        if (self.pattern is None) == (self.file is None):
            raise ValueError("give either pattern (a regular expression on file names) or file "
                             "(lines 'name label')")
        if self.map is not None and self.pattern is None:
            raise ValueError("map translates what pattern captures; give it with pattern")
        if self.pattern is not None:
            try:
                compiled = re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern {self.pattern!r} is not a regular expression: {exc}") from None
            if compiled.groups < 1:
                raise ValueError(f"pattern {self.pattern!r} needs a group (…) around the label")
        return self


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
    path: LocalPath
    """The CSV file (fer2013.csv)."""
    train_usage: str = "Training"
    val_usage: str = "PublicTest"
    test_usage: str = "PrivateTest"


class StreamedFiles(FileSelection):
    split: SplitSpec = SplitSpec()
    stream: bool | Literal["auto"] = "auto"
    """Training images: ``true`` decodes them from disk batch by batch in every epoch (a
    dataset larger than memory), ``false`` holds them in memory, ``"auto"`` streams when the
    decoded training split would take more than a quarter of the memory available. Validation
    and test images are always held in memory (the analyses use them). The trained model is the
    same either way."""

    @field_validator("stream", mode="before")
    @classmethod
    def _stream(cls, value: Any) -> Any:
        return _stream_choice(value)


class ImageFolderDataset(DatasetBase, StreamedFiles):
    """One sub-folder per class (CK+, JAFFE, RAF-DB style), or flat folders with ``labels``.

    Either ``path`` (one folder, split by ``split`` ratios) or ``train_dir`` + ``test_dir``
    (+ optional ``val_dir``; without it validation is carved from train), or ``test_dir`` alone
    (evaluate-only data: a model evaluated as loaded).
    """

    kind: Literal["image_folder"]
    path: LocalPath | None = None
    train_dir: LocalPath | None = None
    val_dir: LocalPath | None = None
    test_dir: LocalPath | None = None
    labels: LabelsSpec | None = None
    """Labels from file names or a list file instead of class sub-folders."""

    @model_validator(mode="after")
    def _one_layout(self) -> ImageFolderDataset:
        split_dirs = self.train_dir is not None or self.test_dir is not None
        if self.path is None and not split_dirs:
            raise ValueError("give either path (one folder), train_dir and test_dir, or test_dir "
                             "alone (evaluate-only data)")
        if self.path is not None and (split_dirs or self.val_dir is not None):
            raise ValueError("give either path or train_dir/val_dir/test_dir, not both")
        if self.path is None and self.test_dir is None:
            raise ValueError("train_dir needs test_dir too (test_dir alone is evaluate-only data)")
        if self.val_dir is not None and self.train_dir is None:
            raise ValueError("val_dir needs train_dir (validation only serves training)")
        return self


class Fer2013FolderDataset(DatasetBase, StreamedFiles):
    """FER2013's image-folder release: ``path/train/<class>/Training_*.jpg`` and
    ``path/test/<class>/PublicTest_*.jpg`` / ``PrivateTest_*.jpg`` (48×48 gray JPEGs)."""

    kind: Literal["fer2013_folder"]
    path: LocalPath
    """The folder holding ``train/`` and ``test/`` (``test/`` alone: evaluate-only)."""
    train_usage: str = "Training"
    val_usage: str | None = "PublicTest"
    """File-name prefix of the validation images (searched in train/ and test/); when no file
    has it (or it is empty), validation is carved from the training images with ``split.val``."""
    test_usage: str = "PrivateTest"

    @field_validator("val_usage")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None


class FerPlusDataset(DatasetBase):
    """FERPlus: ``fer2013new.csv`` vote counts over the FER2013 CSV's pixels (majority label)."""

    kind: Literal["ferplus"]
    path: LocalPath
    """fer2013new.csv (``Usage,Image name,neutral,…,contempt,unknown,NF``)."""
    fer2013_path: LocalPath
    """fer2013.csv, whose rows the vote rows follow one for one (the pixels)."""
    train_usage: str = "Training"
    val_usage: str = "PublicTest"
    test_usage: str = "PrivateTest"


class RafDbDataset(DatasetBase, StreamedFiles):
    """RAF-DB basic: ``EmoLabel/list_patition_label.txt`` (``train_00001.jpg 5``, labels 1–7)
    and the images in ``Image/aligned/`` (``train_00001_aligned.jpg``) or ``Image/original/``."""

    kind: Literal["rafdb"]
    path: LocalPath | None = None
    """The RAF-DB basic folder (holding EmoLabel/ and Image/)."""
    labels_file: LocalPath | None = None
    """Instead of path: the label list file…"""
    images_dir: LocalPath | None = None
    """…and the folder of its images."""
    aligned: bool = True
    """The 100×100 aligned faces (``_aligned`` file-name suffix) or the original photos."""

    @model_validator(mode="after")
    def _one_layout(self) -> RafDbDataset:
        pair = (self.labels_file is not None, self.images_dir is not None)
        if self.path is None and pair != (True, True):
            raise ValueError("give path (the RAF-DB basic folder) or labels_file and images_dir")
        if self.path is not None and any(pair):
            raise ValueError("give either path or labels_file + images_dir, not both")
        return self


class JaffeDataset(DatasetBase, FileSelection):
    """JAFFE: one flat folder of 256×256 TIFFs named ``KA.AN1.39.tiff`` (expression code in the
    name); split by ``split``."""

    kind: Literal["jaffe"]
    path: LocalPath
    split: SplitSpec = SplitSpec()


class NpzDataset(DatasetBase):
    """A NumPy ``.npz`` with ``x_train``, ``y_train``, ``x_test``, ``y_test`` (and optionally
    ``x_val``, ``y_val``; otherwise validation is carved from train)."""

    kind: Literal["npz"]
    path: LocalPath
    split: SplitSpec = SplitSpec()


SampleImage = Literal["astronaut", "camera", "coffee", "chelsea", "cat", "rocket"]


class ImagesDataset(DatasetBase, FileSelection):
    """Unlabelled images to inspect with a trained model (no training, no accuracy): a folder
    of image files, and/or scikit-image's sample photos by name (``astronaut`` is a face).

    With ``face_crop = true`` every face MTCNN finds becomes one image (the model sees face
    crops, as expression models expect); the whole photos still feed the face panel. Its
    ``face_margin`` defaults to 0.2 (a margin around each face of a photo).
    """

    kind: Literal["images"]
    path: LocalPath | None = None
    """Folder of image files (searched recursively); ``include`` / ``exclude`` pick files by name."""
    samples: list[SampleImage] = Field(default_factory=list)
    """scikit-image sample photos, e.g. ``["astronaut"]``."""

    @model_validator(mode="before")
    @classmethod
    def _photo_margin(cls, data: Any) -> Any:
        # Photos: a face plus some surroundings (the labelled kinds default to tight crops).
        if isinstance(data, dict) and "face_margin" not in data:
            return {**data, "face_margin": 0.2}
        return data

    @model_validator(mode="after")
    def _has_images(self) -> ImagesDataset:
        if self.path is None and not self.samples:
            raise ValueError("give path (a folder of images) and/or samples (scikit-image photos)")
        return self


DatasetSpec = Annotated[
    DigitsDataset | Fer2013CsvDataset | Fer2013FolderDataset | FerPlusDataset | ImageFolderDataset
    | JaffeDataset | NpzDataset | RafDbDataset | ImagesDataset,
    Field(discriminator="kind"),
]
