"""Building blocks shared by every manifest table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field, model_validator

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
NAME_MAX_LENGTH = 100
"""Experiment, dataset and model names become folder and file names (``experiments/<name>/``,
``cache/<name>-<key>/``): letters, digits, ``_ . -`` and at most this many characters, well
inside the 255 bytes a file name may have."""


def name_field() -> Any:
    """The ``name`` of a ``[[datasets]]``, ``[[models]]`` or ``[[experiments]]`` entry."""
    return Field(pattern=NAME_PATTERN, max_length=NAME_MAX_LENGTH)


class Strict(BaseModel):
    """Base for every manifest table: unknown keys are errors, values are immutable, and
    values are never converted: ``"0.001"`` is not a number, ``true`` is not ``1``, ``2.0`` is not
    an integer, ``"yes"`` is not a boolean (pydantic's strict mode). An integer is accepted
    where a float is meant."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, strict=True)


LocalPath = Annotated[Path, pydantic.Strict(False)]
"""A path written as a TOML string (strict mode alone would accept only ``Path`` objects)."""
Shape = Annotated[tuple[int, int, int], pydantic.Strict(False)]
"""``[height, width, channels]``: a TOML array becomes a tuple; its items stay strict integers."""


class LocalizedText(Strict):
    """A text in both report languages: ``{ zh-TW = "…", en = "…" }``."""

    zh_TW: str = Field(alias="zh-TW", min_length=1)
    en: str = Field(min_length=1)

    def get(self, language: str) -> str:
        return self.zh_TW if language == "zh-TW" else self.en


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
