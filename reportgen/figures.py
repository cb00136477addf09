"""Drawing: arrays and numbers → PNG files. Analyses compute; this module only draws.

Every function takes already-translated label strings, so figures carry the report's
languages (Chinese drawn with the CJK font from :mod:`reportgen.fonts`).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from reportgen.figures_pixels import Enlargement, sharpen, whole_pixels

PRINT_DPI = 160  # a figure's pixels per inch on paper: at least 150, with room for rounding
PRINT_SCALE = 1.25  # a figure prints at 1.25x its matplotlib size (type ~10 pt at 8 pt in matplotlib)


@lru_cache(maxsize=1)
def _pyplot():
    """Import matplotlib headless, with the CJK font as fallback behind DejaVu Sans."""
    import logging

    import matplotlib

    matplotlib.use("Agg")
    # WenQuanYi Zen Hei has only a "medium" weight; matplotlib logs each substitution.
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    from matplotlib import font_manager
    from matplotlib import pyplot as plt

    from reportgen.fonts import find_cjk_font

    cjk = find_cjk_font()
    font_manager.fontManager.addfont(str(cjk.path))
    family = font_manager.FontProperties(fname=str(cjk.path)).get_name()
    plt.rcParams.update({
        # Per-glyph fallback: Latin from DejaVu Sans, Chinese from the CJK font.
        "font.family": ["DejaVu Sans", family],
        "axes.unicode_minus": False,
        "figure.dpi": 100,  # only for measuring; _save picks each figure's own dpi
        "savefig.bbox": "tight",
        "axes.spines.top": False,
        "axes.spines.right": False,
    })
    return plt


def _print_box(fig) -> tuple[Any, float]:
    """What the PNG holds: the figure's tight box (padded, in inches), and the dpi the printed
    width needs, no more: a figure wider than the page body is shrunk to it, so it needs fewer
    pixels per figure inch than a narrow one printed at full size."""
    box = fig.get_tightbbox(fig.canvas.get_renderer()).padded(_pyplot().rcParams["savefig.pad_inches"])
    return box, PRINT_DPI * printed_width_in(box.width) / box.width


def _save(fig, path: Path, box_dpi: tuple[Any, float] | None = None) -> Path:
    """``fig`` as an opaque PNG, written atomically: the (box, dpi) ``box_dpi`` or, by default,
    the tight box at the dpi of :func:`_print_box`."""
    plt = _pyplot()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    box, dpi = box_dpi or ("tight", _print_box(fig)[1])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", facecolor="white", dpi=dpi, bbox_inches=box)
    plt.close(fig)
    # Opaque RGB: an alpha channel would become a second (soft-mask) image in the PDF. The
    # PNG's pHYs records the pixels per inch of its natural printed size (see print_ppi).
    from PIL import Image

    Image.open(buffer).convert("RGB").save(tmp, format="PNG", dpi=(dpi / PRINT_SCALE,) * 2)
    tmp.replace(path)
    return path


def confusion_matrices(counts: np.ndarray, classes: Sequence[str], path: Path, *,
                       titles: tuple[str, str], xlabel: str, ylabel: str) -> Path:
    """Two panels: raw counts and row-normalised shares, class names on both axes."""
    plt = _pyplot()
    k = len(classes)
    rows = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, rows, out=np.zeros_like(counts, dtype=float), where=rows > 0)
    size = max(3.6, 0.42 * k + 1.6)
    fig, axes = plt.subplots(1, 2, figsize=(2 * size + 0.8, size))
    for ax, data, title, fmt in ((axes[0], counts, titles[0], "d"), (axes[1], shares, titles[1], ".2f")):
        image = ax.imshow(data, cmap="Blues", vmin=0, vmax=data.max() if data.max() > 0 else 1)
        ax.set_title(title, fontsize=10)
        ax.set_xticks(range(k), classes, rotation=45 if max(map(len, classes)) > 2 else 0,
                      ha="right" if max(map(len, classes)) > 2 else "center", fontsize=8)
        ax.set_yticks(range(k), classes, fontsize=8)
        ax.set_xlabel(xlabel, fontsize=9)
        ax.set_ylabel(ylabel, fontsize=9)
        threshold = data.max() / 2 if data.max() > 0 else 0.5
        font = 7 if k <= 10 else 5
        for i in range(k):
            for j in range(k):
                value = data[i, j]
                ax.text(j, i, format(value, fmt), ha="center", va="center", fontsize=font,
                        color="white" if value > threshold else "black")
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return _save(fig, path)


def training_curves(history: dict[str, list[float]], path: Path, *, titles: tuple[str, str],
                    xlabel: str, train_label: str, val_label: str, best_label: str,
                    best_epoch: int | None, stage_starts: Sequence[tuple[int, str]] = ()) -> Path:
    """Accuracy and loss per epoch, train vs validation, the best validation-loss epoch marked;
    ``stage_starts`` (first epoch, name) of fine-tuning stages after the first are shaded lines."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9.6, 3.6))
    for ax, key, title in ((axes[0], "accuracy", titles[0]), (axes[1], "loss", titles[1])):
        train = history.get(key, [])
        val = history.get(f"val_{key}", [])
        epochs = np.arange(1, len(train) + 1)
        ax.plot(epochs, train, marker="o", markersize=3, label=train_label)
        if val:
            ax.plot(np.arange(1, len(val) + 1), val, marker="s", markersize=3, label=val_label)
        epoch_axis(ax, title, xlabel, best_epoch, best_label, stage_starts, len(epochs), legend_size=8)
    fig.tight_layout()
    return _save(fig, path)


def epoch_axis(ax: Any, title: str, xlabel: str, best_epoch: int | None, best_label: str,
               stage_starts: Sequence[tuple[int, str]], epochs: int, legend_size: int) -> None:
    """What every per-epoch panel shares: the best epoch's dashed line, a dotted line and name
    where each later training stage starts, title, axis label, grid, legend, one tick per epoch
    up to 20 epochs."""
    if best_epoch is not None:
        ax.axvline(best_epoch, color="gray", linestyle="--", linewidth=1, label=best_label)
    for first_epoch, name in stage_starts:
        ax.axvline(first_epoch - 0.5, color="tab:purple", linestyle=":", linewidth=1.2)
        ax.text(first_epoch - 0.4, 0.02, name, transform=ax.get_xaxis_transform(), fontsize=7,
                color="tab:purple", rotation=90, va="bottom")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=legend_size)
    if 0 < epochs <= 20:
        ax.set_xticks(np.arange(1, epochs + 1))


def bar_chart(labels: Sequence[str], series: dict[str, Sequence[float]], path: Path, *,
              ylabel: str, errors: dict[str, Sequence[tuple[float, float]]] | None = None) -> Path:
    """Grouped bars: one group per label, one bar per series, each value written on its bar;
    ``errors`` (per series, a (low, high) per bar) are drawn as error bars."""
    plt = _pyplot()
    count = len(series)
    width = 0.8 / max(count, 1)
    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(max(4.8, 1.2 * len(labels) + 1.5), 3.4))
    low = min(min(v) for v in series.values())
    for k, (name, values) in enumerate(series.items()):
        where = x + (k - (count - 1) / 2) * width
        bars = ax.bar(where, values, width, label=name)
        ax.bar_label(bars, labels=[f"{v:.3f}" for v in values], fontsize=7, padding=2,
                     label_type="center" if errors and name in errors else "edge")
        if errors and name in errors:
            spans = np.asarray(errors[name], dtype=float)
            yerr = np.abs(np.stack([np.asarray(values) - spans[:, 0], spans[:, 1] - np.asarray(values)]))
            ax.errorbar(where, values, yerr=yerr, fmt="none", ecolor="black", elinewidth=0.8, capsize=3)
            low = min(low, float(spans[:, 0].min()))
    ax.set_xticks(x, labels, fontsize=8, rotation=15 if max(map(len, labels)) > 12 else 0)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.set_ylim(max(0.0, low - 0.1), 1.0 if low > 0.5 else None)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncol=len(series), loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    fig.tight_layout()
    return _save(fig, path)


@dataclass
class Panel:
    """One cell of an image grid: a picture, optionally with an overlay drawn on top.

    ``overlay_kind``: ``heat`` (0..1 map, jet over the image), ``signed`` (diverging map
    centred on 0, e.g. occlusion drops), ``mask`` (LIME: +1 green, −1 red, with the
    superpixel borders of ``segments``), ``map`` (the map alone, no picture).
    """

    image: np.ndarray | None
    overlay: np.ndarray | None = None
    overlay_kind: str = "heat"
    title: str = ""
    segments: np.ndarray | None = None


def _display(image: np.ndarray) -> tuple[np.ndarray, str | None]:
    """uint8/float pixels (H,W[,C]) → an array imshow draws as the dataset shows it."""
    img = np.asarray(image, dtype=np.float32)
    if img.max() > 1.0:
        img = img / 255.0
    img = np.clip(img, 0, 1)
    if img.ndim == 3 and img.shape[-1] == 1:
        return img[..., 0], "gray"
    return img, None


def _draw_panel(ax, panel: Panel) -> tuple[list[Any], list[Any]]:
    """Draw ``panel`` on ``ax``; return its pictures and maps, and its pixel overlays (AxesImages),
    whose interpolation :func:`reportgen.figures_pixels.sharpen` sets once the figure's size is
    known. Heat overlays stay bilinear: a Grad-CAM map is a coarse map upsampled smooth on purpose."""
    ax.set_axis_off()
    pixels, overlays = [], []
    if panel.image is not None and panel.overlay_kind != "map":
        img, cmap = _display(panel.image)
        pixels.append(ax.imshow(img, cmap=cmap, vmin=0, vmax=1, interpolation="nearest"))
    if panel.overlay is not None:
        data = np.asarray(panel.overlay, dtype=np.float32)
        if panel.overlay_kind == "map":
            pixels.append(ax.imshow(data, cmap="inferno", vmin=0, vmax=max(float(data.max()), 1e-8),
                                    interpolation="nearest"))
        elif panel.overlay_kind == "heat":
            ax.imshow(data, cmap="jet", alpha=0.45, vmin=0, vmax=1, interpolation="bilinear")
        elif panel.overlay_kind == "signed":
            bound = max(float(np.abs(data).max()), 1e-8)
            overlays.append(ax.imshow(data, cmap="RdBu_r", alpha=0.6, vmin=-bound, vmax=bound,
                                      interpolation="nearest"))
        elif panel.overlay_kind == "mask":
            rgba = np.zeros((*data.shape, 4), dtype=np.float32)
            rgba[data > 0] = (0.1, 0.8, 0.1, 0.5)
            rgba[data < 0] = (0.9, 0.1, 0.1, 0.5)
            overlays.append(ax.imshow(rgba, interpolation="nearest"))
    if panel.segments is not None:
        from skimage.segmentation import find_boundaries

        edges = find_boundaries(panel.segments, mode="inner").astype(np.float32)
        overlays.append(ax.imshow(np.ma.masked_where(edges == 0, edges), cmap="autumn", alpha=0.7,
                                  interpolation="nearest"))
    if panel.title:
        ax.set_title(panel.title, fontsize=7)
    return pixels, overlays


# Print geometry (templates/style.css): A4 minus the @page margins, and the largest height a
# figure's image may take there, leaving room for its heading and caption on the same page.
PAGE_BODY_MM = (210.0 - 2 * 16.0, 297.0 - 2 * 20.0)
FIGURE_MAX_HEIGHT_MM = 200.0  # = the print max-height of figure images in style.css
NARROW_SHARE = 0.7  # figures that are not ``wide`` take at most 70% of the body width
_CSS_PX_PER_INCH = 96.0  # an image without a recorded resolution is laid out at 96 px per inch


def _fitted_width_mm(natural_mm: float, wide: bool = True) -> float:
    """The width a figure of natural width ``natural_mm`` prints at: shrunk to the page body
    (to 70% of it unless ``wide``) when wider."""
    return min(natural_mm, PAGE_BODY_MM[0] * (1.0 if wide else NARROW_SHARE))


def printed_width_in(figure_width_in: float) -> float:
    """Inches a figure ``figure_width_in`` wide (matplotlib) takes on paper when ``wide``: its
    natural size (PRINT_SCALE) or, if that is wider, the page body."""
    return _fitted_width_mm(figure_width_in * PRINT_SCALE * 25.4) / 25.4


def print_ppi(info: dict) -> float:
    """Pixels per inch of a PNG's natural printed size: its pHYs (written by _save), else the
    96 px/in of CSS (PNGs drawn before figures recorded it). ``info``: a Pillow image's info."""
    dpi = info.get("dpi")
    return float(dpi[0]) if dpi and dpi[0] > 0 else _CSS_PX_PER_INCH


def printed_size_mm(pixels: tuple[int, int], wide: bool = True,
                    ppi: float = _CSS_PX_PER_INCH) -> tuple[float, float]:
    """(width, height) in mm a PNG of ``pixels`` (width, height) takes on the printed page:
    its natural size at ``ppi`` (:func:`print_ppi`), shrunk to the body width (70% of it
    unless ``wide``)."""
    width_px, height_px = pixels
    width = _fitted_width_mm(width_px / ppi * 25.4, wide)
    return width, height_px * width / width_px


@dataclass
class GridPart:
    """One image of a grid split across pages: its file, which rows of the grid it holds, and
    the sizes of its pictures drawn enlarged with nearest neighbour (for the caption)."""

    path: Path
    rows: range
    enlarged: tuple[Enlargement, ...] = ()


def _draw_grid(rows: list[list[Panel]], path: Path, column_titles: Sequence[str],
               row_titles: Sequence[str], cell_inches: float, n_cols: int) -> tuple[Enlargement, ...]:
    plt = _pyplot()
    n_rows = len(rows)
    pixels, overlays = [], []
    fig, axes = plt.subplots(n_rows, n_cols, squeeze=False,
                             figsize=(cell_inches * n_cols + (0.5 if row_titles else 0),
                                      cell_inches * n_rows + (0.35 if column_titles else 0)))
    for i, row in enumerate(rows):
        for j in range(n_cols):
            ax = axes[i][j]
            if j < len(row):
                drawn, over = _draw_panel(ax, row[j])
                pixels += drawn
                overlays += over
            else:
                ax.set_axis_off()
    for j, title in enumerate(column_titles[:n_cols]):
        axes[0][j].set_title((axes[0][j].get_title() + "\n" if axes[0][j].get_title() else "") + title,
                             fontsize=8, fontweight="bold")
    for i, title in enumerate(row_titles[:n_rows]):
        axes[i][0].text(-0.08, 0.5, title, transform=axes[i][0].transAxes, rotation=90,
                        ha="right", va="center", fontsize=7)
    fig.tight_layout(pad=0.3, h_pad=0.6, w_pad=0.3)
    box, dpi = _print_box(fig)
    box = whole_pixels(box, dpi)
    enlarged = sharpen(pixels, fig, box, dpi, overlays)
    _save(fig, path, (box, dpi))
    return enlarged


def _rows_per_part(n_cols: int, cell_inches: float, extra_width: float, header: float,
                   wide: bool) -> int:
    """How many grid rows fit under FIGURE_MAX_HEIGHT_MM at the width the figure is printed."""
    width_in = cell_inches * n_cols + extra_width
    width_mm = _fitted_width_mm(width_in * PRINT_SCALE * 25.4, wide)
    mm_per_inch = width_mm / width_in  # figure inches → printed mm
    return max(1, int((FIGURE_MAX_HEIGHT_MM / mm_per_inch - header) // cell_inches))


def _chunks(sizes: Sequence[int], limit: int) -> list[range]:
    """Consecutive row ranges of at most ``limit`` rows; a group of rows (``sizes``) is kept in
    one part when it fits. Without groups (all size 1) the parts get near-equal row counts."""
    total = sum(sizes)
    if all(s == 1 for s in sizes):
        parts = -(-total // limit)
        bounds = [round(k * total / parts) for k in range(parts + 1)]
        return [range(a, b) for a, b in zip(bounds, bounds[1:])]
    chunks, start, end = [], 0, 0
    for size in sizes:
        if end > start and end - start + size > limit:
            chunks.append(range(start, end))
            start = end
        end += size
        while end - start > limit:  # a group taller than a page is cut between its rows
            chunks.append(range(start, start + limit))
            start += limit
    if end > start:
        chunks.append(range(start, end))
    return chunks


def image_grid(rows: list[list[Panel]], path: Path, *, column_titles: Sequence[str] = (),
               row_titles: Sequence[str] = (), cell_inches: float = 1.55) -> GridPart:
    """A grid of image panels (rows × columns; empty trailing cells are left blank) as one image,
    for grids whose height is bounded (square filter grids, example strips); the print
    stylesheet shrinks it to the page if it were taller. Grids that grow with a parameter
    (one row per image) use :func:`grid_parts`. Returns it as the one part of its grid."""
    n_cols = max(len(r) for r in rows)
    return GridPart(path, range(len(rows)),
                    _draw_grid(rows, path, column_titles, row_titles, cell_inches, n_cols))


def grid_parts(rows: list[list[Panel]], path: Path, *, column_titles: Sequence[str] = (),
               row_titles: Sequence[str] = (), cell_inches: float = 1.55, wide: bool = True,
               groups: Sequence[int] = ()) -> list[GridPart]:
    """A grid of image panels drawn as as many images as it takes for none to be taller than
    a printed page allows (FIGURE_MAX_HEIGHT_MM at the width it is printed, ``wide`` or not):
    no row is ever cut off by a page end. The first part is ``path``, later ones
    ``<stem>.part2.png``…; column titles are repeated on every part. ``groups``: sizes of
    runs of rows to keep in one part when they fit (e.g. the rows of one image)."""
    from PIL import Image

    n_cols = max(len(r) for r in rows)
    header = 0.35 if column_titles else 0.0
    limit = _rows_per_part(n_cols, cell_inches, 0.5 if row_titles else 0.0, header, wide)
    sizes = list(groups) if groups and sum(groups) == len(rows) else [1] * len(rows)
    pending, parts = _chunks(sizes, limit), []
    while pending:
        span = pending.pop(0)
        part = path if not parts else path.with_name(f"{path.stem}.part{len(parts) + 1}{path.suffix}")
        enlarged = _draw_grid(rows[span.start:span.stop], part, column_titles,
                              list(row_titles)[span.start:span.stop], cell_inches, n_cols)
        with Image.open(part) as image:
            too_tall = printed_size_mm(image.size, wide, print_ppi(image.info))[1] > FIGURE_MAX_HEIGHT_MM
        if too_tall and len(span) > 1:  # the estimate missed (long titles): halve and redraw
            half = span.start + len(span) // 2
            pending[:0] = [range(span.start, half), range(half, span.stop)]
            continue
        parts.append(GridPart(part, span, enlarged))
    for stale in path.parent.glob(f"{path.stem}.part*{path.suffix}"):  # parts of an earlier build
        if stale not in {p.path for p in parts}:
            stale.unlink()
    return parts


def face_boxes(image: np.ndarray, faces: Sequence, labels: Sequence[str], path: Path, *,
               numbers: Sequence[int] = ()) -> Path:
    """A photo with each detected face's box, landmarks, its number (``numbers``, by default
    1, 2, 3… in the order of ``faces``; the crops' figures are titled with the same) and a
    label (e.g. the predicted class)."""
    plt = _pyplot()
    from matplotlib.patches import Rectangle

    height, width = image.shape[:2]
    # A portrait photo is drawn narrower so that, printed, it is not taller than a page allows.
    inches = min(4.2, 0.95 * FIGURE_MAX_HEIGHT_MM / 25.4 * width / height / PRINT_SCALE)
    fig, ax = plt.subplots(figsize=(inches, inches * height / width))
    img, cmap = _display(image)
    ax.imshow(img, cmap=cmap)
    ax.set_axis_off()
    for face, label, number in zip(faces, labels, numbers or range(1, len(faces) + 1)):
        x, y, w, h = face.box
        ax.add_patch(Rectangle((x, y), w, h, fill=False, edgecolor="lime", linewidth=1.6))
        for px, py in face.keypoints.values():
            ax.plot(px, py, "o", markersize=2.5, color="yellow")
        escaped = label.replace("$", r"\$")  # a "$" in a class name would start mathtext
        text = rf"$\bf{{{number}}}$  {escaped}".rstrip()  # the number in bold
        ax.text(x, max(y - 4, 0), text, color="black", fontsize=7, va="bottom",
                bbox={"facecolor": "lime", "alpha": 0.85, "pad": 1.5, "edgecolor": "none"})
    fig.tight_layout(pad=0.2)
    return _save(fig, path)


EXAMPLES_PER_STRIP = 8
"""Examples side by side in one strip of :func:`example_grid_parts` (more get too small to read)."""


def example_grid_parts(per_example: list[list[Panel]], kinds: Sequence[str], path: Path) -> list[GridPart]:
    """Panels of several kinds (input, map A, map B…) for each example, in page-sized parts.

    One or two examples: one row per example, so the figure is not a tall narrow column. More:
    strips of at most EXAMPLES_PER_STRIP examples (one column per example, one row per kind)
    stacked, each strip kept in one part (:func:`grid_parts`)."""
    if len(per_example) < 3:
        return grid_parts(per_example, path, column_titles=kinds, cell_inches=2.0)
    rows: list[list[Panel]] = []
    for start in range(0, len(per_example), EXAMPLES_PER_STRIP):
        rows += [list(row) for row in zip(*per_example[start:start + EXAMPLES_PER_STRIP])]
    strips = len(rows) // len(kinds)
    return grid_parts(rows, path, row_titles=list(kinds) * strips, groups=[len(kinds)] * strips)
