"""One Figure per part of a grid that :func:`reportgen.figures.grid_parts` split across pages,
its caption saying how small pictures were enlarged (:mod:`reportgen.figures_pixels`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reportgen.analyses.base import Figure, Msg
from reportgen.figures import GridPart
from reportgen.figures_pixels import Enlargement, merged


@dataclass
class ContinuedFigure(Figure):
    """A later part of a split figure: the report shows it under the number of the first
    part, captioned "(continued)" (templates/partials/_analysis.html). ``part``, ``parts`` and
    ``continued`` are fields of :class:`Figure`; this only sets their defaults for a later part."""

    part: int | None = 2
    parts: int | None = 2
    continued: bool = True


def pixels_sentence(enlarged: Sequence[Enlargement]) -> Msg | None:
    """What a reader should know of pictures drawn enlarged: their pixels are squares, not a
    blur, and by how much; ``None`` when nothing is enlarged."""
    clauses = [Msg("the {size} images are enlarged about {factor}×",
                   {"size": e.size_text, "factor": e.factor_text()}) for e in enlarged]
    if not clauses:
        return None
    listed = clauses[0]
    for clause in clauses[1:]:
        listed = Msg("{first}; {second}", {"first": listed, "second": clause})
    return Msg("Pixels are drawn as squares (nearest neighbour, no smoothing): {enlargements}.",
               {"enlargements": listed})


def with_pixels(caption: Msg, parts: Sequence[GridPart]) -> Msg:
    """``caption`` followed by the :func:`pixels_sentence` of the figure drawn as ``parts``."""
    sentence = pixels_sentence(merged(part.enlarged for part in parts))
    if sentence is None:
        return caption
    return Msg("{caption} {pixels}", {"caption": caption, "pixels": sentence})


def grid_figures(parts: Sequence[GridPart], caption: Msg, *, wide: bool = True) -> list[Figure]:
    """The first part with ``caption`` (and the :func:`pixels_sentence` of the whole figure);
    each later part a :class:`ContinuedFigure`."""
    first, *rest = parts
    caption = with_pixels(caption, parts)
    return [Figure(first.path, caption, wide)] + [
        ContinuedFigure(part.path, caption, wide, part=k, parts=len(parts))
        for k, part in enumerate(rest, start=2)]


def parts_metrics(parts: Sequence[GridPart]) -> list[int]:
    """Rows drawn in each part (metrics.json ``figure_rows``), so a reader can check none is lost."""
    return [len(part.rows) for part in parts]
