"""Small images drawn sharp: a picture smaller than its drawn cell is enlarged with nearest
neighbour, each of its pixels a flat square with straight edges; a larger one is shrunk with
antialiasing; the figure records how much each size was enlarged so its caption can say so.

The enlargement is only known once the figure is laid out and its dpi chosen, so the
interpolation is set then, not when drawing. An enlarged picture is not left to Agg's resampling:
where a PNG pixel's centre falls on (or within rounding of) an edge between two source pixels,
Agg picks one side in most rows and the other at the end of a row, so squares get ragged edges.
Instead the PNG's box and the picture are snapped to whole pixels and the picture is repeated to
exactly that many pixels here, which Agg then copies one to one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from math import ceil, floor
from typing import Any

SAID_FROM = 1.05
"""Enlargements below this are the natural size: drawn with nearest neighbour, not worth a sentence."""
_EPS = 1e-6  # of a pixel: float noise, not a real fraction


@dataclass(frozen=True)
class Enlargement:
    """Images of ``size`` (height, width) source pixels drawn with nearest neighbour, each
    source pixel a square of ``low``…``high`` PNG pixels (equal unless cells differ)."""

    size: tuple[int, int]
    low: float
    high: float

    def factor_text(self) -> str:
        """The factor as a caption says it ("about …×"): "7", "1.3"; "6–8" when cells differ by
        more than a tenth (within that, e.g. a pixel's rounding between cells, the middle)."""
        def said(f: float) -> str:
            return f"{f:.1f}" if f < 2 else f"{round(f)}"

        if self.high <= 1.1 * self.low:
            return said((self.low + self.high) / 2)
        return f"{said(self.low)}–{said(self.high)}"

    @property
    def size_text(self) -> str:
        return f"{self.size[0]}×{self.size[1]}"


def whole_pixels(box: Any, dpi: float) -> Any:
    """``box`` (inches) grown to the nearest whole pixels at ``dpi`` on every side, so that the
    figure's pixel grid is the saved PNG's."""
    from matplotlib.transforms import Bbox

    return Bbox([[floor(box.x0 * dpi + _EPS) / dpi, floor(box.y0 * dpi + _EPS) / dpi],
                 [ceil(box.x1 * dpi - _EPS) / dpi, ceil(box.y1 * dpi - _EPS) / dpi]])


def _snap(ax: Any, box: Any, dpi: float) -> tuple[int, int]:
    """Shrink ``ax`` to the whole PNG pixels it covers (the PNG is ``box`` at ``dpi``, box from
    :func:`whole_pixels`); return its new (height, width) in pixels."""
    width_in, height_in = ax.figure.get_size_inches()
    pos = ax.get_position()
    x0, x1 = ((x * width_in - box.x0) * dpi for x in (pos.x0, pos.x1))  # PNG pixels from its left
    y0, y1 = ((y * height_in - box.y0) * dpi for y in (pos.y0, pos.y1))  # …and from its bottom
    left, right, bottom, top = ceil(x0 - _EPS), floor(x1 + _EPS), ceil(y0 - _EPS), floor(y1 + _EPS)
    ax.set_aspect("auto")  # the box keeps the picture's shape to within a pixel; no re-fitting
    ax.set_position([(left / dpi + box.x0) / width_in, (bottom / dpi + box.y0) / height_in,
                     (right - left) / dpi / width_in, (top - bottom) / dpi / height_in])
    return top - bottom, right - left


def _repeated(data: Any, height: int, width: int) -> Any:
    """``data`` (H, W[, C]) enlarged to ``height`` × ``width`` by nearest neighbour: each output
    pixel takes the source pixel under its centre, so every source pixel is a block of equal
    rows and equal columns (sides differing by at most one pixel)."""
    import numpy as np

    rows = ((np.arange(height) + 0.5) * data.shape[0] / height).astype(int)
    columns = ((np.arange(width) + 0.5) * data.shape[1] / width).astype(int)
    return data[rows][:, columns]


def sharpen(images: Sequence[Any], fig: Any, box: Any, dpi: float,
            overlays: Sequence[Any] = ()) -> tuple[Enlargement, ...]:
    """Set each AxesImage of ``images`` (pictures and maps, not smooth heat overlays) to nearest
    neighbour, snapped to whole pixels, when the PNG (``box`` at ``dpi``) enlarges it, to
    antialiasing when it shrinks it; return the enlargements by source size, in drawing order.
    ``overlays`` (LIME masks, superpixel borders, signed maps drawn over a picture) are set the
    same way, so their squares match the picture's, but are not counted for the caption."""
    fig_width_in = fig.get_size_inches()[0]
    factors: dict[tuple[int, int], list[float]] = {}
    counted = {id(image) for image in images}
    for image in [*images, *overlays]:
        image.axes.apply_aspect()  # an equal-aspect picture shrinks its axes box to the picture
        height, width = image.get_array().shape[:2]
        # imshow sets the limits to the picture, so the axes box is the drawn picture.
        factor = image.axes.get_position().width * fig_width_in * dpi / width
        if factor < 1.0:
            image.set_interpolation("auto")  # shrunk: antialiased (matplotlib's hanning)
            continue
        drawn_height, drawn_width = _snap(image.axes, box, dpi)
        image.set_data(_repeated(image.get_array(), drawn_height, drawn_width))  # same extent
        image.set_interpolation("nearest")  # now one to one
        factor = drawn_width / width
        if factor >= SAID_FROM and id(image) in counted:
            factors.setdefault((height, width), []).append(factor)
    return tuple(Enlargement(size, min(f), max(f)) for size, f in factors.items())


def merged(parts: Iterable[Sequence[Enlargement]]) -> tuple[Enlargement, ...]:
    """The enlargements of a figure drawn in several parts, one per source size."""
    by_size: dict[tuple[int, int], Enlargement] = {}
    for enlargements in parts:
        for e in enlargements:
            known = by_size.get(e.size, e)
            by_size[e.size] = Enlargement(e.size, min(known.low, e.low), max(known.high, e.high))
    return tuple(by_size.values())
