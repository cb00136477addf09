"""Building blocks shared by every manifest table."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

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
