"""Errors a user can act on. The CLI prints them as one paragraph and exits with code 2."""

from __future__ import annotations


class ReportgenError(Exception):
    """Base class: a message meant for the user, never a traceback (the CLI exits with code 2)."""


class ConfigError(ReportgenError):
    """The manifest is unreadable or invalid; ``problems`` holds one line per field."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        count = len(problems)
        head = f"{source}: {count} problem{'s' if count != 1 else ''} in the manifest:"
        super().__init__("\n".join([head, *(f"  - {p}" for p in problems)]))


class DataError(ReportgenError):
    """A dataset cannot be loaded (missing file, empty class, label outside the class list)."""


class ModelError(ReportgenError):
    """A model cannot be built or loaded (missing ImageNet weights, wrong file, shape mismatch)."""


class AnalysisError(ReportgenError):
    """An analysis cannot run on the given experiment."""


class RenderError(ReportgenError):
    """The report cannot be rendered (no CJK font, template error)."""
