"""One Figure per part of a grid that :func:`reportgen.figures.grid_parts` split across pages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reportgen.analyses.base import Figure, Msg
from reportgen.figures import GridPart


@dataclass
class ContinuedFigure(Figure):
    """A later part of a split figure: the report shows it under the number of the first
    part, captioned "(continued)" (templates/partials/_analysis.html). ``part``, ``parts`` and
    ``continued`` are fields of :class:`Figure`; this only sets their defaults for a later part."""

    part: int | None = 2
    parts: int | None = 2
    continued: bool = True


def grid_figures(parts: Sequence[GridPart], caption: Msg, *, wide: bool = True) -> list[Figure]:
    """The first part with ``caption``; each later part a :class:`ContinuedFigure`."""
    first, *rest = parts
    return [Figure(first.path, caption, wide)] + [
        ContinuedFigure(part.path, caption, wide, part=k, parts=len(parts))
        for k, part in enumerate(rest, start=2)]


def parts_metrics(parts: Sequence[GridPart]) -> list[int]:
    """Rows drawn in each part (metrics.json ``figure_rows``), so a reader can check none is lost."""
    return [len(part.rows) for part in parts]
