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
    """A translatable text: ``msgid`` is the English source with ``{name}`` placeholders.

    With ``plural`` (the English plural form) the catalog's plural forms apply, chosen by
    ``params["count"]``. A parameter may itself be a Msg (translated in the same language)."""

    msgid: str
    params: dict[str, Any] = field(default_factory=dict)
    plural: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"msgid": self.msgid, "params": jsonable(self.params)}
        if self.plural is not None:
            out["plural"] = self.plural
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Msg:
        return cls(data["msgid"], {k: from_jsonable(v) for k, v in (data.get("params") or {}).items()},
                   data.get("plural"))


@dataclass(frozen=True)
class Best:
    """A table cell marked as the best of its group (the template draws it bold, with a ★)."""

    value: str

    def to_json(self) -> dict[str, Any]:
        return {"best": self.value}


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


def jsonable(value: Any) -> Any:
    """``value`` with every Msg, Best, Figure, Table, AnalysisResult and Path in it turned into
    JSON types (the form records and metrics.json hold); :func:`from_jsonable` reverses Msg/Best."""
    if isinstance(value, Msg | Best):
        return value.to_json()
    if isinstance(value, Figure):
        return {"path": str(value.path), "caption": value.caption.to_json(), "wide": value.wide,
                "part": value.part, "parts": value.parts, "continued": value.continued}
    if isinstance(value, Table):
        return {"columns": jsonable(value.columns), "rows": jsonable(value.rows),
                "caption": jsonable(value.caption), "css_class": value.css_class}
    if isinstance(value, AnalysisResult):
        return {"metrics": jsonable(value.metrics), "figures": jsonable(value.figures),
                "tables": jsonable(value.tables), "notes": jsonable(value.notes)}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def from_jsonable(value: Any) -> Any:
    """A JSON value back with its Msg and Best cells as those types (the rest as is)."""
    if isinstance(value, dict):
        if "msgid" in value:
            return Msg.from_json(value)
        if set(value) == {"best"}:
            return Best(value["best"])
        return {k: from_jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_jsonable(v) for v in value]
    return value
