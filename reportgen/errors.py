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
        where = "" if source.startswith("--") else " in the manifest"  # an option's own problems
        head = f"{source}: {count} problem{'s' if count != 1 else ''}{where}:"
        super().__init__("\n".join([head, *(f"  - {p}" for p in problems)]))


class DataError(ReportgenError):
    """A dataset cannot be loaded (missing file, empty class, label outside the class list)."""


class ModelError(ReportgenError):
    """A model cannot be built or loaded (missing ImageNet weights, wrong file, shape mismatch)."""


class TrustCodeRequired(ModelError):
    """A model file holds Python code (a Keras ``Lambda`` layer) and its ``trust_code`` is off."""

    def __init__(self, model: str, path: str, field: str | None = None):
        self.model, self.path = model, path
        key = field or f"trust_code in the [[models]] entry {model!r}"
        super().__init__(
            f"model {model!r}: path: {path} holds Python code (a Lambda layer), which Keras does "
            f"not run unless told to. If you trust this file, set {key} = true; warning: loading "
            "it then runs the code stored in the file, as running a Python program would.")

    def at(self, field: str) -> TrustCodeRequired:
        """The same refusal naming the key by its manifest path (``models[1].trust_code``)."""
        return TrustCodeRequired(self.model, self.path, field)


class AnalysisError(ReportgenError):
    """An analysis cannot run on the given experiment."""


class RenderError(ReportgenError):
    """The report cannot be rendered (no CJK font, template error)."""
