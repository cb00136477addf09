"""The common interface of every analysis: a Params model and ``run(ctx) → AnalysisResult``.

Analyses compute numbers and figures; they never produce HTML. Text they return is a
:class:`Msg` (an English msgid plus parameters) translated at render time. ``Msg``, ``Figure``,
``Table`` and ``AnalysisResult`` live in :mod:`reportgen.report_types` (which the renderer imports
too) and are re-exported here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from reportgen.report_types import AnalysisResult, Figure, Msg, Table

if TYPE_CHECKING:
    from reportgen.run.data import LoadedData

__all__ = ["PREDICT_BATCHES", "Analysis", "AnalysisContext", "AnalysisResult", "Figure", "Msg", "NoParams",
           "Params", "Table"]


class Params(BaseModel):
    """Base of every analysis' parameters (the manifest's ``{ method = …, key = value }`` keys):
    an unknown key is an error, values are not coerced (``k = "3"`` is refused), and they are
    immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class NoParams(Params):
    """The parameters of an analysis that takes none."""


PREDICT_BATCHES = 4
"""Batches of the test set preprocessed and predicted per progress step."""


@dataclass
class AnalysisContext:
    """Everything an analysis may read about one trained/evaluated experiment."""

    experiment: str
    classes: list[str]
    model: Any  # keras.Model
    data: LoadedData
    preprocess: Any  # Callable[[np.ndarray], np.ndarray]
    history: dict[str, list[float]] | None
    figure_dir: Path
    seed: int
    languages: list[str]
    train: Any = None  # TrainSpec of the experiment, None for a model evaluated as loaded
    stages: list[dict[str, Any]] = field(default_factory=list)  # one record per training stage
    repeat_histories: list[dict[str, list[float]]] = field(default_factory=list)
    """Training histories of the seeded repeats 1..N−1 (seeds ``seed + 1`` …), in seed order;
    ``history`` is the representative run's (run 0, ``seed``). Empty without repeats. An
    analysis that reads it sets ``reads_repeats``."""
    batch_size: int = 256
    _shared: dict[str, Any] = field(default_factory=dict, repr=False)

    def shared(self, key: str, factory: Any) -> Any:
        """Compute ``factory()`` once per experiment (compiled functions, probes) for all analyses."""
        if key not in self._shared:
            self._shared[key] = factory()
        return self._shared[key]

    @property
    def labelled(self) -> bool:
        return self.data.labelled

    @property
    def images(self) -> np.ndarray:
        """The images analyses explain: the test set (pixel values 0..255, uint8)."""
        return self.data.test.x

    def predict_fn(self):
        """Compiled, batched softmax forward on preprocessed inputs (see explain.batching)."""
        from reportgen.explain import make_predict_fn

        return self.shared("predict_fn", lambda: make_predict_fn(self.model, self.batch_size))

    @cached_property
    def test_probabilities(self) -> np.ndarray:
        """Softmax outputs on the whole test set, computed once and shared by all analyses.

        Preprocessed and predicted a few batches at a time, so the build reports progress
        ("predicting: 2,048/7,178 images") and never holds a float copy of the whole test set.
        """
        from reportgen.progress import task

        x = self.data.test.x
        predict = self.predict_fn()
        step = PREDICT_BATCHES * self.batch_size
        if len(x) <= step:
            return predict(self.preprocess(x))
        parts = []
        with task(f"predicting {self.experiment}", total=len(x), unit="images") as progress:
            for start in range(0, len(x), step):
                parts.append(predict(self.preprocess(x[start:start + step])))
                progress.advance(len(parts[-1]))
        return np.concatenate(parts)

    @property
    def y_true(self) -> np.ndarray:
        return self.data.test.y

    @cached_property
    def y_pred(self) -> np.ndarray:
        return self.test_probabilities.argmax(axis=1)

    @cached_property
    def evaluation(self) -> dict[str, Any]:
        """Accuracy, per-class metrics and confusion matrix (see :mod:`reportgen.run.evaluate`)."""
        from reportgen.run.evaluate import evaluate

        return evaluate(self.y_true, self.y_pred, self.classes)

    def label(self, msgid: str, **params: Any) -> str:
        """A figure label in every report language, e.g. ``預測類別 / Predicted class``."""
        from reportgen.i18n import joined

        return joined(msgid, self.languages, params)

    def figure_path(self, name: str) -> Path:
        self.figure_dir.mkdir(parents=True, exist_ok=True)
        return self.figure_dir / f"{name}.png"


class Analysis(ABC):
    """One analysis method. Subclasses set ``name`` and ``title`` and implement ``run``."""

    name: ClassVar[str]
    title: ClassVar[Msg]
    Params: ClassVar[type[Params]] = NoParams
    needs_labels: ClassVar[bool] = False
    """True when the analysis compares predictions with true labels (not for ``images`` data)."""
    reads_repeats: ClassVar[bool] = False
    """True when the analysis reads the seeded repeats (``ctx.repeat_histories``): its cached
    result is then keyed by every run's weights, else by the representative run's alone."""

    @abstractmethod
    def run(self, ctx: AnalysisContext, params: Params) -> AnalysisResult:
        """Compute the analysis for one experiment."""
