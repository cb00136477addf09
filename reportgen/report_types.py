"""The text types analyses, comparisons and the renderer share: :class:`Msg`, :class:`Figure`,
:class:`Table` and :class:`AnalysisResult`.

Plain dataclasses with no numpy/TensorFlow imports, below both :mod:`reportgen.analyses` (which
re-exports them from ``analyses.base``) and :mod:`reportgen.render` (which must not import analyses).
Text is a :class:`Msg` (an English msgid plus parameters) translated at render time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Msg:
    """A translatable text: ``msgid`` is the English source with ``{name}`` placeholders."""

    msgid: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"msgid": self.msgid, "params": self.params}


@dataclass
class Figure:
    """A PNG written by :mod:`reportgen.figures`, with its caption.

    ``continued`` marks a later part of a figure split across pages (part ``part`` of ``parts``):
    the report shows it under the number of the first part, captioned "(continued)"
    (templates/partials/_analysis.html; see ``analyses._figure_parts``)."""

    path: Path
    caption: Msg
    wide: bool = False
    part: int | None = None
    parts: int | None = None
    continued: bool = False


@dataclass
class Table:
    """A table: column headers are Msgs (translated), cells are plain values."""

    columns: list[Msg]
    rows: list[list[Any]]
    caption: Msg | None = None
    css_class: str = ""


@dataclass
class AnalysisResult:
    """What one analysis of one experiment produced."""

    metrics: dict[str, Any] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[Msg] = field(default_factory=list)


def points(delta: float) -> str:
    """A difference in percentage points as every table and sentence writes it: ``+1.4``."""
    return f"{delta:+.1f}"
