"""The manifest schema: pydantic models, unknown keys rejected everywhere.

Each field's docstring below is the reference text that README's manifest section mirrors.
Dataset tables are in ``config/datasets.py``, model tables in ``config/models.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from reportgen.config.common import NAME_PATTERN, LocalizedText, LocalPath, SplitSpec, Strict, name_field
from reportgen.config.datasets import (
    FER2013_CLASSES,
    DatasetBase,
    DatasetSpec,
    DigitsDataset,
    Fer2013CsvDataset,
    ImageFolderDataset,
    ImagesDataset,
    NpzDataset,
)
from reportgen.config.models import (
    ApplicationModel,
    CnnModel,
    ConvBlock,
    FileModel,
    ModelBase,
    ModelSpec,
    PythonModel,
)

__all__ = [
    "FER2013_CLASSES", "NAME_PATTERN", "ApplicationModel", "CnnModel", "ConvBlock", "DatasetBase",
    "DatasetSpec", "DigitsDataset", "Fer2013CsvDataset", "FileModel", "ImageFolderDataset",
    "ImagesDataset", "LocalizedText", "ModelBase", "ModelSpec", "NpzDataset", "PythonModel", "SplitSpec",
    "Strict",
]

Language = Literal["zh-TW", "en"]
Format = Literal["html", "pdf"]


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
    answer_file: LocalPath | None = None
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
    output_dir: LocalPath = Path("out")
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
    trainable: Literal["head", "all"] | int = "head"
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
    """Standardise inputs with the training set's per-channel mean and standard deviation: a
    step after the model's preprocessing, not a layer of the model; the statistics are kept in
    the cached model's meta.json, so explanations see the inputs training saw."""
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
MAX_REPEATS = 20


class ExperimentSpec(Strict):
    """``[[experiments]]``: one dataset × one model, trained or evaluated, then analysed."""

    name: str = name_field()
    title: LocalizedText | None = None
    dataset: str
    """Name of a ``[[datasets]]`` entry."""
    model: str
    """Name of a ``[[models]]`` entry."""
    train: TrainSpec | None = None
    """Training settings; required unless the model is a ``file`` model (evaluated as is)."""
    analyses: list[str | AnalysisSpec] = Field(default_factory=lambda: list(DEFAULT_ANALYSES))
    """Analyses to run, by name or as ``{ method = "…", option = … }``. Default: the metric
    analyses, or ``["top_k"]`` on unlabelled ``images`` data."""
    repeats: int = Field(1, ge=1, le=MAX_REPEATS)
    """Train this many times with seeds ``report.seed``, ``report.seed + 1``, …: the record holds
    each run's scores with their mean and standard deviation, the training curves show the mean
    over the seeds with a band; the confusion matrix and explanations are the first run's (the
    report seed). The data split always uses the report seed, so every run is tested on the same
    images. Needs ``train``; a grid's variants inherit it."""
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


def grid_labels(experiments: list[ExperimentSpec]) -> list[str]:
    """The manifest path of each grid-expanded experiment, counting one gridded entry once."""
    labels, source, previous = [], -1, object()
    for exp in experiments:
        group = exp.grid_of
        if group is None or group != previous:
            source += 1
        previous = group
        labels.append(f"experiments[{source}]" if group is None
                      else f"experiments[{source}] (grid variant {exp.name!r})")
    return labels


class Manifest(Strict):
    """The whole manifest file."""

    report: ReportSpec
    datasets: list[DatasetSpec] = Field(min_length=1)
    models: list[ModelSpec] = Field(min_length=1)
    experiments: list[ExperimentSpec] = Field(min_length=1)

    _labels: dict[str, list[str]] = PrivateAttr(default_factory=dict)
    """How the manifest file names each entry, per table (set by ``load_manifest``); needed
    when a manifest holds only the entries that validated (their positions differ)."""

    def field_of(self, table: str, index: int) -> str:
        """Entry ``index`` of ``table`` as the manifest file names it: ``datasets[2]``, or
        ``experiments[2] (grid variant 'abl-lr_0.1')`` for a variant of a gridded experiment."""
        labels = self._labels.get(table)
        if labels is not None:
            return labels[index]
        if table != "experiments":
            return f"{table}[{index}]"
        return grid_labels(self.experiments)[index]

    @model_validator(mode="before")
    @classmethod
    def _default_analyses(cls, raw: Any) -> Any:
        """Experiments on unlabelled images default to the analyses that need no labels."""
        if not isinstance(raw, dict):
            return raw
        datasets = raw.get("datasets")
        kinds = {d.get("name"): d.get("kind") for d in datasets
                 if isinstance(d, dict) and isinstance(d.get("name"), str)} \
            if isinstance(datasets, list) else {}
        experiments = raw.get("experiments")
        if isinstance(experiments, list):
            raw = {**raw, "experiments": [
                {**e, "analyses": list(DEFAULT_INSPECTION_ANALYSES)}
                if isinstance(e, dict) and "analyses" not in e
                and isinstance(e.get("dataset"), str)
                and kinds.get(e["dataset"]) in UNLABELLED_KINDS else e
                for e in experiments]}
        return raw

    def dataset(self, name: str) -> DatasetBase:
        return next(d for d in self.datasets if d.name == name)

    def model(self, name: str) -> ModelBase:
        return next(m for m in self.models if m.name == name)
