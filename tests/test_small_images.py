"""Small images are drawn sharp and the caption says so (issue 17, item 4): a picture or map
smaller than its cell is enlarged with nearest neighbour, so each of its pixels is a flat square
in the PNG; a picture larger than its cell is shrunk with antialiasing and not mentioned.

Squares and sizes are measured on the saved PNGs' pixels, not taken from reportgen's bookkeeping.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from reportgen import figures
from reportgen.analyses._figure_parts import grid_figures, with_pixels
from reportgen.analyses.base import Msg
from reportgen.figures import Panel
from reportgen.i18n import catalog, translate_msg

RED, BLUE = (200, 30, 30), (30, 30, 200)


def checkerboard(n: int) -> np.ndarray:
    """An n×n board of one-pixel squares, RED and BLUE (uint8 RGB)."""
    board = np.indices((n, n)).sum(axis=0) % 2
    return np.where(board[..., None] == 1, np.array(RED), np.array(BLUE)).astype(np.uint8)


def pixels(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB")).astype(int)


def _runs(ink: np.ndarray) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate([[0], ink.astype(int), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def panel_boxes(png: np.ndarray) -> list[tuple[int, int, int, int]]:
    """(top, bottom, left, right) of each picture of an untitled one-row grid: the bands of
    non-white columns, each cut to its non-white rows."""
    ink = (png < 250).any(axis=-1)
    boxes = []
    for left, right in _runs(ink.any(axis=0)):
        [(top, bottom)] = _runs(ink[:, left:right].any(axis=1))
        boxes.append((top, bottom, left, right))
    return boxes


def square_edges(region: np.ndarray) -> tuple[list[int], list[int]]:
    """Where the colour changes along x and along y, asserting the change is at the same place in
    every row (resp. column): straight, sharp edges."""
    along_x = {tuple(np.flatnonzero((np.diff(row, axis=0) != 0).any(-1))) for row in region}
    along_y = {tuple(np.flatnonzero((np.diff(column, axis=0) != 0).any(-1)))
               for column in region.transpose(1, 0, 2)}
    assert len(along_x) == 1 and len(along_y) == 1, "edges are not straight lines"
    return list(along_x.pop()), list(along_y.pop())


@pytest.mark.parametrize("kind", ["mask", "signed"])
@pytest.mark.parametrize("n, cell_inches", [(8, 1.1), (32, 1.1), (32, 1.55)])
def test_an_overlay_keeps_the_squares_of_its_picture_and_is_not_captioned(tmp_path, kind, n, cell_inches):
    """A LIME mask or a signed map over a picture with the same squares: every source pixel is
    still one flat colour with straight edges (the overlay is snapped with its picture: left to
    Agg, its edges fall a pixel off the picture's), and the caption counts the picture once,
    not the overlay as a second image."""
    board = (np.indices((n, n)).sum(axis=0) % 2).astype(np.float32) * 2 - 1  # ±1 squares
    picture = np.where(board > 0, 40, 215).astype(np.uint8)[..., None]
    [part] = figures.grid_parts([[Panel(picture, board, kind)]], tmp_path / "overlay.png",
                                cell_inches=cell_inches)
    png = pixels(part.path)
    [(top, bottom, left, right)] = panel_boxes(png)
    region = png[top:bottom, left:right]
    assert len({tuple(c) for c in region.reshape(-1, 3)}) == 2  # two blends, no third colour
    xs, ys = square_edges(region)
    assert len(xs) == len(ys) == n - 1
    assert [e.size for e in part.enlarged] == [(n, n)]


@pytest.mark.parametrize("n, cell_inches", [(8, 1.1), (32, 1.55), (64, 0.75)],
                         ids=["8x8-filters-cell", "32x32-default-cell", "64x64-about-2x"])
def test_a_small_checkerboard_is_drawn_as_flat_squares(tmp_path, n, cell_inches):
    """As a picture and as a map. Left to matplotlib, a map enlarged about 2× is smoothed (its
    default interpolation) and Agg's nearest neighbour gives squares ragged edges (some rows of
    the last column take the neighbouring square's colour, e.g. 8×8 in the filters' 1.1 in cells)."""
    board = checkerboard(n)
    map_values = (board[..., 0] == RED[0]).astype(np.float32)  # 1 on red squares, 0 on blue
    [part] = figures.grid_parts([[Panel(board), Panel(None, map_values, "map")]], tmp_path / "board.png",
                                cell_inches=cell_inches)
    png = pixels(part.path)
    boxes = panel_boxes(png)
    assert len(boxes) == 2
    for top, bottom, left, right in boxes:
        region = png[top:bottom, left:right]
        assert len({tuple(c) for c in region.reshape(-1, 3)}) == 2  # two flat colours, no blend
        xs, ys = square_edges(region)
        assert len(xs) == len(ys) == n - 1  # n squares per row and per column
        sides = np.diff([0, *(np.array(xs) + 1), right - left])
        assert sides.max() - sides.min() <= 1  # equal squares, up to the pixel grid's rounding
    assert boxes[0][0] == boxes[1][0] and boxes[0][3] - boxes[0][2] == boxes[1][3] - boxes[1][2]
    drawn = (boxes[0][3] - boxes[0][2]) / n  # PNG pixels per source pixel, measured
    [enlarged] = part.enlarged
    assert enlarged.size == (n, n)
    assert enlarged.low == pytest.approx(drawn, abs=1.5 / n)
    assert enlarged.high == pytest.approx(enlarged.low)


def test_a_photo_larger_than_its_cell_is_antialiased_and_not_mentioned(tmp_path):
    from skimage import data

    photo = data.astronaut()[:300, 100:400]
    fine = checkerboard(300)  # one-pixel squares: antialiasing shrinks them to a blend
    row = [Panel(photo), Panel(fine), Panel(photo), Panel(fine)]
    parts = figures.grid_parts([row], tmp_path / "photos.png")
    png = pixels(parts[0].path)
    boxes = panel_boxes(png)
    assert len(boxes) == 4 and all(right - left < 300 for _, _, left, right in boxes)  # shrunk
    top, bottom, left, right = boxes[1]
    colours = png[top + 2:bottom - 2, left + 2:right - 2].reshape(-1, 3)
    picked = (colours == RED).all(axis=1) | (colours == BLUE).all(axis=1)
    assert picked.mean() < 0.01  # nearest neighbour would pick red or blue for every pixel
    purple = np.abs(colours - (np.array(RED) + BLUE) / 2).max(axis=1) < 40
    assert purple.mean() > 0.5  # antialiasing averages them
    assert [p.enlarged for p in parts] == [()]
    assert translate_msg(grid_figures(parts, Msg("Two photos."))[0].caption, "en") == "Two photos."


def test_the_caption_says_the_size_and_the_measured_enlargement(tmp_path):
    size = 32
    rows = [[Panel(checkerboard(size)), Panel(None, np.ones((size, size)), "map")] for _ in range(12)]
    parts = figures.grid_parts(rows, tmp_path / "digits.png")
    assert len(parts) > 1  # the sentence is said once for the whole figure, on its first part
    shown = grid_figures(parts, Msg("Digits."))
    _, _, left, right = _first_box(parts[0].path)
    factor = round((right - left) / size)
    assert translate_msg(shown[0].caption, "en") == (
        f"Digits. Pixels are drawn as squares (nearest neighbour, no smoothing): the {size}×{size} "
        f"images are enlarged about {factor}×.")
    assert all(figure.caption == shown[0].caption for figure in shown)  # continued parts: alt text


def _first_box(path):
    """The first picture of an untitled grid of several rows: its first bands of ink columns and rows."""
    ink = (pixels(path) < 250).any(axis=-1)
    left, right = _runs(ink.any(axis=0))[0]
    top, bottom = _runs(ink[:, left:right].any(axis=1))[0]
    return top, bottom, left, right


def test_pictures_of_two_sizes_are_both_said(tmp_path):
    """The feature-maps figure: the input image and the layer's much smaller maps."""
    part = figures.image_grid([[Panel(checkerboard(32)), Panel(None, np.eye(4), "map")]],
                              tmp_path / "maps.png", cell_inches=1.1)
    (_, _, l1, r1), (_, _, l2, r2) = panel_boxes(pixels(part.path))
    caption = translate_msg(with_pixels(Msg("Maps."), [part]), "en")
    assert caption == (
        "Maps. Pixels are drawn as squares (nearest neighbour, no smoothing): the 32×32 images are "
        f"enlarged about {round((r1 - l1) / 32)}×; the 4×4 images are enlarged about "
        f"{round((r2 - l2) / 4)}×.")


NEW_MSGIDS = {
    "{caption} {pixels}": "{caption}{pixels}",
    "Pixels are drawn as squares (nearest neighbour, no smoothing): {enlargements}.": "像素以方塊呈現",
    "the {size} images are enlarged about {factor}×": "放大約 {factor} 倍",
}


@pytest.mark.parametrize("msgid", sorted(NEW_MSGIDS))
def test_the_sentence_is_in_traditional_chinese(msgid):
    assert NEW_MSGIDS[msgid] in catalog("zh-TW")[msgid]


def test_the_chinese_caption_reads_as_one_text(tmp_path):
    part = figures.image_grid([[Panel(checkerboard(8))]], tmp_path / "one.png")
    text = translate_msg(with_pixels(Msg("Input"), [part]), "zh-TW")
    assert text.startswith("輸入像素以方塊呈現") and text.endswith("倍。") and "about" not in text
